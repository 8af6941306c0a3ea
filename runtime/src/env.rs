//! The environment interface.

use serde::{Deserialize, Serialize};

use crate::call::{ToolCall, ToolSpec};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    pub text: String,
    pub goal: String,
    /// The actions that make sense now, each in call syntax (`go("desk 1")`), so the
    /// engine can parse and fuzzy-match against them. May be empty.
    pub admissible: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Error,
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFailure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub observation: Observation,
    pub reward: f64,
    pub done: bool,
    /// Meaningful when `done`: whether the task was solved.
    pub success: bool,
    pub error: Option<ToolFailure>,
    /// Whether the call changed the world (used by the `verified` detector).
    pub state_changed: bool,
    /// How long the call took; the engine turns latency above a tool's `timeout` into a
    /// timeout and advances its virtual clock by it.
    pub latency_ms: u64,
}

/// An environment an agent acts in. Implementations must be deterministic given the
/// `(task, seed)` of [`Env::reset`] and the sequence of calls.
pub trait Env {
    fn reset(&mut self, task: u64, seed: u64) -> Observation;
    fn step(&mut self, call: &ToolCall) -> StepOutcome;
    /// The tools the environment implements.
    fn tools(&self) -> Vec<ToolSpec>;
    /// The expert's next call, where the environment has an expert.
    fn expert(&self) -> Option<ToolCall>;
    /// Why the environment itself broke in this episode (a crashed or hung bridge), if it
    /// did: an infrastructure failure, which ends the episode unscored and gets it re-run.
    /// Built-in environments never break.
    fn infra_failure(&self) -> Option<String> {
        None
    }
}

impl<E: Env + ?Sized> Env for &mut E {
    fn reset(&mut self, task: u64, seed: u64) -> Observation {
        (**self).reset(task, seed)
    }
    fn step(&mut self, call: &ToolCall) -> StepOutcome {
        (**self).step(call)
    }
    fn tools(&self) -> Vec<ToolSpec> {
        (**self).tools()
    }
    fn expert(&self) -> Option<ToolCall> {
        (**self).expert()
    }
    fn infra_failure(&self) -> Option<String> {
        (**self).infra_failure()
    }
}
