//! Why a run stopped short, in two kinds the caller treats differently: the run's output
//! could not be written (the machine's fault: a full or read-only disk; the CLI's exit
//! status 2, like every other file it cannot write), or anything else (a bad
//! configuration, a corrupt checkpoint, a model that stays broken, an abort; status 1).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// A file of the output directory could not be created or written. The previous
    /// checkpoint is whole (writes are atomic), so `resume` works once the cause is gone.
    Output(String),
    /// Everything else.
    Failed(String),
}

impl RunError {
    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            RunError::Output(m) | RunError::Failed(m) => m,
        }
    }

    pub fn is_output(&self) -> bool {
        matches!(self, RunError::Output(_))
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RunError {}

/// A file of the run's output could not be created or written: what every writer of the
/// output directory returns, so `?` in a function returning [`RunError`] makes it
/// [`RunError::Output`] by itself, and a new write site cannot end up as `Failed` (exit
/// status 1) by forgetting to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputError(pub String);

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutputError {}

impl From<OutputError> for RunError {
    fn from(e: OutputError) -> Self {
        RunError::Output(e.0)
    }
}

/// For callers that only report the message (reports, the review page, the benchmark).
impl From<OutputError> for String {
    fn from(e: OutputError) -> Self {
        e.0
    }
}

/// The crate's plain `String` errors are of the `Failed` kind; output writes return
/// [`OutputError`], which becomes `Output`.
impl From<String> for RunError {
    fn from(m: String) -> Self {
        RunError::Failed(m)
    }
}

impl From<&str> for RunError {
    fn from(m: &str) -> Self {
        RunError::Failed(m.to_string())
    }
}

/// For callers that only report the message (the benchmark's arms).
impl From<RunError> for String {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Output(m) | RunError::Failed(m) => m,
        }
    }
}
