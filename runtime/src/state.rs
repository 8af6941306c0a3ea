//! The episode state that detectors read: everything observable about the run so far.
//!
//! The engine owns and updates it; rules (interpreted or compiled) only read it through
//! [`crate::hooks::HookCtx::state`]. Keeping it plain data is what lets detectors be pure
//! functions ([`crate::detect`]).

use serde::{Deserialize, Serialize};

use crate::call::ToolCall;
use crate::env::{FailureKind, Observation};
use crate::parse::ParseError;

/// One call the model issued that reached `before_tool` (executed or blocked). Re-issues by
/// `retry` or by a tool's `retries` are attempts of the same record, not new records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub step: u32,
    pub call: ToolCall,
    /// The canonical text, which is what `repeated_action` compares.
    pub text: String,
    /// The tool is declared with `verifies = true`.
    pub verifies: bool,
    pub blocked: bool,
    /// The failure of the last attempt, if it failed.
    pub failure: Option<FailureKind>,
    pub state_changed: bool,
    pub attempts: u32,
    /// The reward the environment gave for this call (0 when none).
    #[serde(default)]
    pub reward: f64,
}

/// What the model's latest reply amounted to in the current step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum ReplyStatus {
    /// No reply yet this step (or the step is a plan step, whose reply is not a call).
    #[default]
    None,
    /// A well-formed (possibly repaired) call, not yet executed.
    Call,
    /// The reply is not a well-formed call.
    Malformed(ParseError),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EpisodeState {
    pub task: u64,
    pub seed: u64,
    /// The current step, 1-based; 0 during `task_start`.
    pub step: u32,
    pub max_steps: u32,
    pub goal: String,
    /// The latest observation (reset, tool result, or a synthesized one).
    pub observation: Observation,
    /// The latest model reply, as the model wrote it.
    pub output: String,
    pub reply: ReplyStatus,
    /// The call between `after_model` and the end of `before_tool`.
    pub pending: Option<ToolCall>,
    /// Its canonical text.
    pub pending_text: Option<String>,
    pub calls: Vec<CallRecord>,
    /// Failure of the most recent tool result (`None` if it succeeded or none happened).
    pub last_failure: Option<FailureKind>,
    /// Tool results that failed in a row (blocked calls neither count nor reset it).
    pub consecutive_errors: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The context's size by the runtime's estimate, updated whenever it changes.
    pub context_tokens: u64,
    pub total_reward: f64,
    /// Virtual time in milliseconds: model and tool latency plus backoff. Nothing sleeps.
    pub clock_ms: u64,
    pub done: bool,
    pub success: bool,
}

impl EpisodeState {
    pub fn tokens_used(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// The call rules talk about: the pending one if any, else the last recorded one.
    pub fn current_call(&self) -> Option<&ToolCall> {
        self.pending
            .as_ref()
            .or_else(|| self.calls.last().map(|r| &r.call))
    }

    /// Canonical texts of all calls so far, the pending one last.
    pub fn call_texts(&self) -> impl Iterator<Item = &str> {
        self.calls
            .iter()
            .map(|r| r.text.as_str())
            .chain(self.pending_text.as_deref())
    }

    /// `{{history}}`: one call per line, `N. call -> result`.
    pub fn history_text(&self) -> String {
        let lines: Vec<String> = self
            .calls
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let outcome = match (r.blocked, r.failure) {
                    (true, _) => "blocked",
                    (false, Some(FailureKind::Error)) => "error",
                    (false, Some(FailureKind::Timeout)) => "timeout",
                    (false, None) => "ok",
                };
                format!("{}. {} -> {}", i + 1, r.text, outcome)
            })
            .collect();
        lines.join("\n")
    }
}
