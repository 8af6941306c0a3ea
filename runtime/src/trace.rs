//! Traces: one serde event per thing that happens in an episode, written as JSON lines.
//!
//! Events carry no wall-clock time: `clock_ms` is the episode's *virtual* clock (latency and
//! backoff as reported by models and environments), so the same inputs give byte-identical
//! traces. A sink that wants wall time can record it beside the event, never inside it.
//! Secrets never appear: the IR holds only the *name* of an API-key variable.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::context::Compacted;
use crate::env::ToolFailure;
use crate::ir::{Hook, ProcessorKind};
use crate::message::Role;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// 0-based, consecutive within an episode.
    pub seq: u64,
    /// The step the event belongs to (0 before the first step).
    pub step: u32,
    /// The hook being processed when the event happened, if any.
    pub hook: Option<Hook>,
    pub clock_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    EpisodeStart {
        harness: String,
        harness_hash: String,
        task: u64,
        seed: u64,
        max_steps: u32,
        goal: String,
    },
    HookFired,
    /// A message entered the context.
    Message {
        role: Role,
        kind: crate::context::MsgKind,
        content: String,
        pinned: bool,
    },
    ContextCompacted(Compacted),
    ModelRequest {
        /// Why the model is asked: `act`, `plan` or `reprompt`.
        purpose: String,
        messages: usize,
        context_tokens: u64,
        seed: u64,
        /// FNV-1a 64 of the request's canonical JSON: equal requests, equal hashes (for
        /// response caches and for diffing traces without storing whole prompts).
        request_hash: String,
    },
    ModelResponse {
        text: String,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    ModelFailed {
        error: String,
    },
    CallParsed {
        /// The canonical call, when the reply is well-formed.
        call: Option<String>,
        error: Option<String>,
    },
    ToolCall {
        tool: String,
        call: String,
        /// 1 for the first attempt, then one more per re-issue.
        attempt: u32,
    },
    ToolResult {
        tool: String,
        observation: String,
        failure: Option<ToolFailure>,
        state_changed: bool,
        done: bool,
        attempt: u32,
        /// The result was synthesized by `block`, not produced by the environment.
        blocked: bool,
    },
    RuleFired {
        /// The rule's name, or `rule#INDEX` (its position among all rules).
        rule: String,
        action: String,
        processor: ProcessorKind,
        /// Whether the action took effect; when false, its `otherwise` (if any) runs next.
        took_effect: bool,
        /// The rendered message or other detail of the action.
        detail: Option<String>,
    },
    Reward {
        reward: f64,
        total: f64,
    },
    EpisodeEnd {
        success: bool,
        reason: String,
        steps: u32,
        prompt_tokens: u64,
        completion_tokens: u64,
        tokens: u64,
        total_reward: f64,
    },
}

pub trait TraceSink {
    fn emit(&mut self, event: &TraceEvent);
}

impl<S: TraceSink + ?Sized> TraceSink for &mut S {
    fn emit(&mut self, event: &TraceEvent) {
        (**self).emit(event)
    }
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl TraceSink for NullSink {
    fn emit(&mut self, _: &TraceEvent) {}
}

/// Keeps events in memory.
#[derive(Debug, Default, Clone)]
pub struct VecSink {
    pub events: Vec<TraceEvent>,
}

impl TraceSink for VecSink {
    fn emit(&mut self, event: &TraceEvent) {
        self.events.push(event.clone());
    }
}

impl VecSink {
    /// The events as JSON lines, exactly as [`JsonlSink`] would write them.
    pub fn to_jsonl(&self) -> String {
        events_to_jsonl(&self.events)
    }
}

/// Events as JSON lines, exactly as [`JsonlSink`] would write them.
pub fn events_to_jsonl(events: &[TraceEvent]) -> String {
    events.iter().map(|e| to_line(e) + "\n").collect()
}

/// Writes one JSON object per line. The first write error is kept (and later writes are
/// skipped) instead of aborting the episode; check [`JsonlSink::error`] afterwards.
pub struct JsonlSink<W: Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: Write> JsonlSink<W> {
    pub fn new(out: W) -> Self {
        JsonlSink { out, error: None }
    }
    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }
    pub fn into_inner(self) -> (W, Option<std::io::Error>) {
        (self.out, self.error)
    }
}

impl<W: Write> TraceSink for JsonlSink<W> {
    fn emit(&mut self, event: &TraceEvent) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = writeln!(self.out, "{}", to_line(event)) {
            self.error = Some(e);
        }
    }
}

fn to_line(e: &TraceEvent) -> String {
    // Plain data with finite floats; serde_json writes non-finite floats as null.
    serde_json::to_string(e).unwrap_or_default()
}

/// Parse JSON lines back into events (blank lines are skipped).
pub fn read_jsonl(text: &str) -> Result<Vec<TraceEvent>, serde_json::Error> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_jsonl() {
        let mut sink = VecSink::default();
        sink.emit(&TraceEvent {
            seq: 0,
            step: 1,
            hook: Some(Hook::AfterTool),
            clock_ms: 10,
            kind: EventKind::RuleFired {
                rule: "rule#0".into(),
                action: "retry".into(),
                processor: ProcessorKind::Split,
                took_effect: true,
                detail: None,
            },
        });
        sink.emit(&TraceEvent {
            seq: 1,
            step: 1,
            hook: None,
            clock_ms: 10,
            kind: EventKind::HookFired,
        });
        let text = sink.to_jsonl();
        assert!(text.starts_with(
            r#"{"seq":0,"step":1,"hook":"after_tool","clock_ms":10,"event":"rule_fired""#
        ));
        let back = read_jsonl(&text).expect("parse");
        assert_eq!(back, sink.events);
        let mut jsonl = JsonlSink::new(Vec::new());
        for e in &sink.events {
            jsonl.emit(e);
        }
        let (bytes, err) = jsonl.into_inner();
        assert!(err.is_none());
        assert_eq!(String::from_utf8(bytes).unwrap_or_default(), text);
    }
}
