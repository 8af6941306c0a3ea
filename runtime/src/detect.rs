//! Detectors: pure functions of the [`EpisodeState`] at the hook where a rule fires.
//!
//! Interpreted rules and generated code both call these, so a condition means the same in
//! both. Exact definitions:
//!
//! - `malformed_call`: the model's latest reply in this step is not a well-formed call and
//!   has not been repaired. False before the step's first reply and on a plan step.
//! - `repeated_action(window, count)`: take the calls issued so far (each call that reached
//!   `before_tool`, blocked or not, once — retries are not new calls) followed by the
//!   pending call, if any; the last of them occurs at least `count` times among the last
//!   `window` of them. False when there is no call; `count = 0` counts as 1.
//! - `tool_error` / `tool_timeout`: the most recent tool result failed with an error / a
//!   timeout. A blocked call produces no tool result; a success clears both.
//! - `call(tool)`: the current call — the pending one between `after_model` and the end of
//!   `before_tool`, else the last one issued — is to `tool`.
//! - `verified`: after the last call that changed the environment's state (or from the
//!   start, if none did), a tool declared `verifies = true` ran without failing.
//! - metrics: `step` (1-based; 0 at `task_start`), `context_tokens` (the estimate of the
//!   current context), `tokens_used` (prompt + completion tokens reported by the model so
//!   far), `consecutive_errors` (failed tool results in a row).
//! - `SUBJECT matches "re"`: the regex finds a match anywhere in the latest model reply
//!   (`output`), the latest observation text (`observation`) or the goal (`goal`).

use regex::Regex;

use crate::env::FailureKind;
use crate::ir::{Metric, Subject};
use crate::state::{EpisodeState, ReplyStatus};

pub fn malformed_call(s: &EpisodeState) -> bool {
    matches!(s.reply, ReplyStatus::Malformed(_))
}

pub fn repeated_action(s: &EpisodeState, window: u32, count: u32) -> bool {
    let texts: Vec<&str> = s.call_texts().collect();
    let Some(last) = texts.last() else {
        return false;
    };
    let start = texts.len().saturating_sub(window as usize);
    let seen = texts[start..].iter().filter(|t| *t == last).count();
    seen >= count.max(1) as usize
}

pub fn tool_error(s: &EpisodeState) -> bool {
    s.last_failure == Some(FailureKind::Error)
}

pub fn tool_timeout(s: &EpisodeState) -> bool {
    s.last_failure == Some(FailureKind::Timeout)
}

pub fn call(s: &EpisodeState, tool: &str) -> bool {
    s.current_call().is_some_and(|c| c.tool == tool)
}

pub fn verified(s: &EpisodeState) -> bool {
    let from = s
        .calls
        .iter()
        .rposition(|r| r.state_changed)
        .map_or(0, |i| i + 1);
    s.calls[from..]
        .iter()
        .any(|r| r.verifies && !r.blocked && r.failure.is_none())
}

pub fn metric(s: &EpisodeState, m: Metric) -> i64 {
    let v = match m {
        Metric::Step => u64::from(s.step),
        Metric::ContextTokens => s.context_tokens,
        Metric::TokensUsed => s.tokens_used(),
        Metric::ConsecutiveErrors => u64::from(s.consecutive_errors),
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub fn subject_text(s: &EpisodeState, subject: Subject) -> &str {
    match subject {
        Subject::Output => &s.output,
        Subject::Observation => &s.observation.text,
        Subject::Goal => &s.goal,
    }
}

pub fn matches(s: &EpisodeState, subject: Subject, re: &Regex) -> bool {
    re.is_match(subject_text(s, subject))
}

/// Compile a `matches` pattern with limits, so a hostile pattern cannot blow up memory.
/// `None` when the pattern is invalid: such a condition is false (the checker rejects it
/// in source, so this only concerns hand-written IR).
pub fn compile_pattern(pattern: &str) -> Option<Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::ToolCall;
    use crate::parse::ParseError;
    use crate::state::CallRecord;

    fn rec(text: &str, tool: &str) -> CallRecord {
        CallRecord {
            step: 1,
            call: ToolCall::new(tool),
            text: text.into(),
            verifies: false,
            blocked: false,
            failure: None,
            state_changed: false,
            attempts: 1,
            reward: 0.0,
        }
    }

    fn with_calls(texts: &[&str]) -> EpisodeState {
        EpisodeState {
            calls: texts.iter().map(|t| rec(t, "go")).collect(),
            ..EpisodeState::default()
        }
    }

    #[test]
    fn malformed() {
        let mut s = EpisodeState::default();
        assert!(!malformed_call(&s));
        s.reply = ReplyStatus::Malformed(ParseError::Empty);
        assert!(malformed_call(&s));
        s.reply = ReplyStatus::Call;
        assert!(!malformed_call(&s));
    }

    #[test]
    fn repeated() {
        let s = with_calls(&["a", "b", "a", "c", "a"]);
        assert!(repeated_action(&s, 5, 3));
        assert!(
            !repeated_action(&s, 4, 3),
            "only two a's among the last four"
        );
        assert!(repeated_action(&s, 4, 2));
        assert!(!repeated_action(&s, 0, 1));
        assert!(repeated_action(&s, 1, 0));
        assert!(!repeated_action(&EpisodeState::default(), 4, 1));
        // The pending call is the one being judged.
        let mut s = with_calls(&["a", "a", "b"]);
        assert!(!repeated_action(&s, 4, 3));
        s.pending = Some(ToolCall::new("a"));
        s.pending_text = Some("a".into());
        assert!(repeated_action(&s, 4, 3));
    }

    #[test]
    fn tool_failures() {
        let mut s = EpisodeState::default();
        assert!(!tool_error(&s) && !tool_timeout(&s));
        s.last_failure = Some(FailureKind::Error);
        assert!(tool_error(&s) && !tool_timeout(&s));
        s.last_failure = Some(FailureKind::Timeout);
        assert!(!tool_error(&s) && tool_timeout(&s));
    }

    #[test]
    fn call_prefers_pending() {
        let mut s = EpisodeState::default();
        assert!(!call(&s, "go"));
        s.calls.push(rec("go()", "go"));
        assert!(call(&s, "go"));
        s.pending = Some(ToolCall::new("finish"));
        assert!(call(&s, "finish") && !call(&s, "go"));
    }

    #[test]
    fn verified_resets_on_state_change() {
        let mut s = EpisodeState::default();
        assert!(!verified(&s));
        let mut check = rec("examine()", "examine");
        check.verifies = true;
        s.calls.push(check.clone());
        assert!(verified(&s));
        let mut change = rec("open()", "open");
        change.state_changed = true;
        s.calls.push(change);
        assert!(!verified(&s));
        let mut failed = check.clone();
        failed.failure = Some(FailureKind::Error);
        s.calls.push(failed);
        assert!(!verified(&s));
        let mut blocked = check.clone();
        blocked.blocked = true;
        s.calls.push(blocked);
        assert!(!verified(&s));
        s.calls.push(check);
        assert!(verified(&s));
    }

    #[test]
    fn metrics_and_matches() {
        let s = EpisodeState {
            step: 3,
            context_tokens: 900,
            prompt_tokens: 10,
            completion_tokens: 5,
            consecutive_errors: 2,
            output: "I give up".into(),
            goal: "find the mug".into(),
            ..EpisodeState::default()
        };
        assert_eq!(metric(&s, Metric::Step), 3);
        assert_eq!(metric(&s, Metric::ContextTokens), 900);
        assert_eq!(metric(&s, Metric::TokensUsed), 15);
        assert_eq!(metric(&s, Metric::ConsecutiveErrors), 2);
        let re = compile_pattern("(?i)give up").expect("regex");
        assert!(matches(&s, Subject::Output, &re));
        assert!(!matches(&s, Subject::Goal, &re));
        assert!(compile_pattern("(").is_none());
    }
}
