//! Candidate manifests and the failure catalog's classes.

use serde::{Deserialize, Serialize};

/// Why a failed episode failed: the failure catalog's classes (see `digest` for how an
/// episode is assigned one). Ordered, so maps keyed by it iterate deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    MalformedCall,
    Loop,
    ToolErrorIgnored,
    ToolTimeout,
    StepBudget,
    PrematureFinish,
    ContextOverflow,
    WrongAction,
    Unknown,
}
