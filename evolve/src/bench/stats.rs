//! The benchmark's statistics: means with Student t intervals over evolution seeds, what
//! the traces show about a model's replies, and the paired comparison of two harnesses on
//! the same tasks.

use std::collections::BTreeMap;

use harnessx_runtime::trace::{EventKind, TraceEvent};

use crate::gate::Outcome;
use crate::stats::sign_test;

/// Two-sided 95% Student t quantiles for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Mean and 95% t interval half-width (0 for a single value).
pub(super) fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T975.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

/// What the traces of one evaluation show about the model's replies.
#[derive(Default)]
pub(super) struct ReplyStats {
    pub replies: u64,
    /// Replies the parser did not read as a call (before any repair).
    pub malformed: u64,
    /// Tool calls that reached the environment (not blocked by a rule).
    pub tool_calls: u64,
    /// The calls the model's replies were read as, with counts.
    pub calls: BTreeMap<String, u64>,
    /// Time the model calls took (request to reply, as recorded in the trace's clock).
    pub model_ms: u64,
}

impl ReplyStats {
    pub fn add_trace(&mut self, events: &[TraceEvent]) {
        let mut asked = 0;
        for e in events {
            let clock = e.clock_ms;
            match &e.kind {
                EventKind::ModelRequest { .. } => asked = clock,
                EventKind::ModelResponse { .. } => {
                    self.replies += 1;
                    self.model_ms += clock.saturating_sub(asked);
                }
                EventKind::ModelFailed { .. } => self.model_ms += clock.saturating_sub(asked),
                EventKind::CallParsed { call, .. } => match call {
                    Some(c) => *self.calls.entry(c.clone()).or_default() += 1,
                    None => self.malformed += 1,
                },
                EventKind::ToolCall { .. } => self.tool_calls += 1,
                _ => {}
            }
        }
    }

    /// The model's most frequent call and its share of the replies read as calls.
    pub fn top_call(&self) -> Option<(&str, f64)> {
        let (c, n) = self
            .calls
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
        let total: u64 = self.calls.values().sum();
        Some((c.as_str(), *n as f64 / total.max(1) as f64))
    }
}

/// The paired comparison of evolved against seed on the same tasks: the difference in
/// success rate, tasks only the evolved harness solved, tasks only the seed solved, and
/// the exact two-sided sign test on those.
pub(super) fn paired(seed: &[Outcome], evolved: &[Outcome]) -> (f64, u64, u64, f64) {
    let n = seed.len().min(evolved.len()).max(1) as f64;
    let (mut wins, mut losses, mut diff) = (0, 0, 0.0);
    for (s, e) in seed.iter().zip(evolved) {
        diff += f64::from(u8::from(e.success)) - f64::from(u8::from(s.success));
        match (s.success, e.success) {
            (false, true) => wins += 1,
            (true, false) => losses += 1,
            _ => {}
        }
    }
    (diff / n, wins, losses, sign_test(wins, losses))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(task: u64, success: bool) -> Outcome {
        Outcome {
            task,
            seed: 0,
            success,
            tokens: 0,
            steps: 1,
            clock_ms: 0,
            model_error: None,
            context_overflow: false,
        }
    }

    #[test]
    fn reply_stats_read_calls_malformed_replies_and_model_time() {
        let ev = |clock_ms, kind| TraceEvent {
            seq: 0,
            step: 0,
            hook: None,
            clock_ms,
            kind,
        };
        let request = |clock| {
            ev(
                clock,
                EventKind::ModelRequest {
                    purpose: "act".into(),
                    messages: 1,
                    context_tokens: 10,
                    seed: 0,
                    request_hash: String::new(),
                },
            )
        };
        let response = |clock| {
            ev(
                clock,
                EventKind::ModelResponse {
                    text: String::new(),
                    prompt_tokens: 1,
                    completion_tokens: 1,
                },
            )
        };
        let parsed = |clock, call: Option<&str>| {
            ev(
                clock,
                EventKind::CallParsed {
                    call: call.map(str::to_string),
                    error: call.is_none().then(|| "prose".to_string()),
                },
            )
        };
        let trace = [
            request(100),
            response(1100),
            parsed(1100, Some("look()")),
            ev(
                1100,
                EventKind::ToolCall {
                    tool: "look".into(),
                    call: "look()".into(),
                    attempt: 1,
                },
            ),
            request(1200),
            response(1700),
            parsed(1700, None),
            request(1700),
            response(1800),
            parsed(1800, Some("finish()")),
        ];
        let mut st = ReplyStats::default();
        st.add_trace(&trace);
        assert_eq!((st.replies, st.malformed, st.tool_calls), (3, 1, 1));
        assert_eq!(st.model_ms, 1000 + 500 + 100);
        // A tie goes to the call that sorts first.
        assert_eq!(st.top_call(), Some(("finish()", 0.5)));
    }

    #[test]
    fn paired_counts_discordant_tasks() {
        let seed = [outcome(0, true), outcome(1, false), outcome(2, false)];
        let evolved = [outcome(0, true), outcome(1, true), outcome(2, true)];
        let (diff, wins, losses, p) = paired(&seed, &evolved);
        assert!((diff - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((wins, losses), (2, 0));
        assert!((p - 0.5).abs() < 1e-12);
        assert_eq!(paired(&seed, &seed).3, 1.0);
    }

    #[test]
    fn mean_ci_is_a_t_interval_over_values() {
        assert_eq!(mean_ci(&[]), (0.0, 0.0));
        assert_eq!(mean_ci(&[0.5]), (0.5, 0.0));
        let (m, h) = mean_ci(&[0.0, 1.0]);
        assert!((m - 0.5).abs() < 1e-12);
        assert!((h - 12.706 * 0.5).abs() < 1e-9, "{h}");
    }
}
