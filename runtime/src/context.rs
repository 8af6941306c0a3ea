//! The context window: the messages sent to the model, their token estimate, and
//! compaction.
//!
//! # Token estimate
//!
//! A message costs `ceil(chars / 4) + 4` tokens ([`estimate_tokens`]): about four characters
//! per token for English text, plus a fixed overhead per message for role markers. It is an
//! estimate, deliberately simple and identical everywhere (engine, test models, simulated
//! models), so budgets behave the same in every run.
//!
//! # Compaction
//!
//! Only *candidates* are ever removed: messages that are not pinned and do not belong to
//! the last `keep_last` steps (every message is tagged with the step it entered in; the
//! messages of task start belong to step 0). With `keep_last = 0` even the current step's
//! messages may go. Pinned messages (the system prompt, the task goal — see
//! [`crate::engine`] for what `pin` marks) survive every strategy. Strategies, applied until
//! the context fits the target or no candidate is left:
//!
//! - `truncate_oldest`: remove candidates, oldest first.
//! - `summarize_oldest`: replace the oldest candidates with one summary message, put where
//!   the first of them was; the summary lists the first line of each replaced message (at
//!   most [`SUMMARY_PIECE_CHARS`] characters each), keeping the most recent text that fits
//!   the room the target leaves — between [`SUMMARY_MIN_CHARS`] and [`SUMMARY_MAX_CHARS`].
//!   It takes the fewest candidates that reach the target (or all of them), and does
//!   nothing if no summary would save tokens.
//! - `drop_observations`: remove observation candidates oldest first; if that is not
//!   enough, continue as `truncate_oldest`.
//! - `none`: never remove anything.
//!
//! The engine compacts to the budget before every model call when the context exceeds it,
//! and a `compact` action compacts to half the budget.

use serde::{Deserialize, Serialize};

use crate::ir::{Compaction, ContextIr};
use crate::message::{estimate_tokens, Message, Role};

/// How full the context is left after compacting to the budget: 3/4 of it.
pub const REFILL_SHARE: (u64, u64) = (3, 4);
pub const SUMMARY_PIECE_CHARS: usize = 60;
pub const SUMMARY_MAX_CHARS: usize = 480;
pub const SUMMARY_MIN_CHARS: usize = 40;
const SUMMARY_PREFIX: &str = "Summary of earlier messages: ";

/// What a message is, for compaction and for traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgKind {
    System,
    Goal,
    Observation,
    Assistant,
    Injected,
    Reprompt,
    Plan,
    Reflection,
    Summary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtxMessage {
    pub role: Role,
    pub kind: MsgKind,
    pub content: String,
    pub pinned: bool,
    /// Pinned only until a newer message pinned the same way arrives (the list of
    /// admissible actions: an old list is stale, so only the newest one is kept).
    #[serde(default)]
    pub pinned_until_superseded: bool,
    pub tokens: u64,
    /// The step in which the message entered the context.
    pub step: u32,
}

/// The outcome of one compaction, for the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    pub strategy: Compaction,
    pub removed: usize,
    pub before_tokens: u64,
    pub after_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    messages: Vec<CtxMessage>,
    pub budget: u64,
    pub strategy: Compaction,
    /// Steps whose messages compaction never touches.
    pub keep_last: u32,
    /// The current step, which new messages are tagged with.
    step: u32,
}

impl Context {
    pub fn new(ir: &ContextIr) -> Self {
        Self::within(ir, None)
    }

    /// A context whose budget is `ir`'s, or `limit` when that is smaller: the most prompt
    /// tokens the model's declared context window allows ([`crate::ir::ModelIr::prompt_limit`]).
    pub fn within(ir: &ContextIr, limit: Option<u64>) -> Self {
        Context {
            messages: Vec::new(),
            budget: limit.map_or(ir.budget_tokens, |l| l.min(ir.budget_tokens)),
            strategy: ir.compaction,
            keep_last: ir.keep_last,
            step: 0,
        }
    }

    /// Tag messages pushed from now on with `step`.
    pub fn set_step(&mut self, step: u32) {
        self.step = step;
    }

    pub fn push(&mut self, role: Role, kind: MsgKind, content: impl Into<String>, pinned: bool) {
        let content = content.into();
        self.messages.push(CtxMessage {
            role,
            kind,
            tokens: estimate_tokens(&content),
            content,
            pinned,
            pinned_until_superseded: false,
            step: self.step,
        });
    }

    /// Push a message pinned until the next one pushed this way: the pin of the previous
    /// such message is released (unless it was pinned for another reason too).
    pub fn push_superseding(
        &mut self,
        role: Role,
        kind: MsgKind,
        content: impl Into<String>,
        also_pinned: bool,
    ) {
        for m in &mut self.messages {
            if m.pinned_until_superseded {
                m.pinned_until_superseded = false;
                m.pinned = false;
            }
        }
        self.push(role, kind, content, true);
        if let Some(m) = self.messages.last_mut() {
            m.pinned_until_superseded = !also_pinned;
        }
    }

    pub fn messages(&self) -> &[CtxMessage] {
        &self.messages
    }

    pub fn tokens(&self) -> u64 {
        self.messages.iter().map(|m| m.tokens).sum()
    }

    pub fn to_messages(&self) -> Vec<Message> {
        self.messages
            .iter()
            .map(|m| Message {
                role: m.role,
                content: m.content.clone(),
            })
            .collect()
    }

    /// Replace the text of the latest assistant message (used by `repair`, so the history
    /// shows the repaired call rather than the malformed reply).
    pub fn rewrite_last_assistant(&mut self, content: impl Into<String>) -> bool {
        match self
            .messages
            .iter_mut()
            .rev()
            .find(|m| m.role == Role::Assistant)
        {
            Some(m) => {
                m.content = content.into();
                m.tokens = estimate_tokens(&m.content);
                true
            }
            None => false,
        }
    }

    /// Compact with the configured strategy when over budget — down to
    /// [`REFILL_SHARE`] of it, not just under it. Compacting rewrites the front of the
    /// prompt, so a model server has to read the whole prompt again (its prefix cache only
    /// covers what did not change); trimming to just under the budget would do that at
    /// every step from then on, leaving room makes the next few steps append-only again.
    pub fn fit_to_budget(&mut self) -> Option<Compacted> {
        if self.tokens() <= self.budget {
            return None;
        }
        self.compact(self.strategy, self.budget * REFILL_SHARE.0 / REFILL_SHARE.1)
    }

    /// Compact with `strategy` until at most `target` tokens (or no candidate is left).
    /// Returns `None` when nothing changed.
    pub fn compact(&mut self, strategy: Compaction, target: u64) -> Option<Compacted> {
        let before = self.tokens();
        if before <= target {
            return None;
        }
        let cands = self.candidates();
        let removed = match strategy {
            Compaction::None => 0,
            Compaction::TruncateOldest => self.remove_until(&cands, target),
            Compaction::DropObservations => {
                let obs: Vec<usize> = cands
                    .iter()
                    .copied()
                    .filter(|&i| self.messages[i].kind == MsgKind::Observation)
                    .collect();
                let n = self.remove_until(&obs, target);
                let rest = self.candidates();
                n + self.remove_until(&rest, target)
            }
            Compaction::SummarizeOldest => self.summarize(&cands, target),
        };
        (removed > 0).then(|| Compacted {
            strategy,
            removed,
            before_tokens: before,
            after_tokens: self.tokens(),
        })
    }

    /// Indices of unpinned messages older than the last `keep_last` steps, oldest first.
    fn candidates(&self) -> Vec<usize> {
        let keep_last = self.keep_last;
        let step = self.step;
        (0..self.messages.len())
            .filter(|&i| {
                let m = &self.messages[i];
                !m.pinned && m.step.saturating_add(keep_last) <= step
            })
            .collect()
    }

    /// Remove `cands` (ascending indices) oldest first until `target` is met.
    fn remove_until(&mut self, cands: &[usize], target: u64) -> usize {
        let mut total = self.tokens();
        let mut drop = Vec::new();
        for &i in cands {
            if total <= target {
                break;
            }
            total -= self.messages[i].tokens;
            drop.push(i);
        }
        self.remove_indices(&drop);
        drop.len()
    }

    /// `drop` must be ascending (candidate lists are).
    fn remove_indices(&mut self, drop: &[usize]) {
        let mut idx = 0;
        self.messages.retain(|_| {
            let keep = drop.binary_search(&idx).is_err();
            idx += 1;
            keep
        });
    }

    fn summarize(&mut self, cands: &[usize], target: u64) -> usize {
        let total = self.tokens();
        let mut best: Option<(usize, String, u64)> = None;
        let mut removed_tokens = 0;
        for k in 1..=cands.len() {
            removed_tokens += self.messages[cands[k - 1]].tokens;
            // The summary gets whatever room the target leaves (never less than
            // SUMMARY_MIN_CHARS, never more than SUMMARY_MAX_CHARS).
            let room = target.saturating_sub(total - removed_tokens);
            let room_chars = room
                .saturating_sub(estimate_tokens(SUMMARY_PREFIX))
                .saturating_mul(4);
            let limit = usize::try_from(room_chars)
                .unwrap_or(usize::MAX)
                .clamp(SUMMARY_MIN_CHARS, SUMMARY_MAX_CHARS);
            let summary = self.summary_of(&cands[..k], limit);
            let new_total = total - removed_tokens + estimate_tokens(&summary);
            if new_total < total {
                best = Some((k, summary, new_total));
                if new_total <= target {
                    break;
                }
            }
        }
        let Some((k, summary, _)) = best else {
            return 0;
        };
        let at = cands[0];
        // The summary stands where the oldest replaced message stood, and belongs to its
        // step, so it is compacted before anything newer.
        let step = self.messages[at].step;
        self.remove_indices(&cands[..k]);
        let tokens = estimate_tokens(&summary);
        self.messages.insert(
            at,
            CtxMessage {
                role: Role::User,
                kind: MsgKind::Summary,
                content: summary,
                pinned: false,
                pinned_until_superseded: false,
                tokens,
                step,
            },
        );
        k
    }

    fn summary_of(&self, idx: &[usize], max_chars: usize) -> String {
        let pieces: Vec<String> = idx
            .iter()
            .map(|&i| {
                let m = &self.messages[i];
                if m.kind == MsgKind::Summary {
                    return m.content.trim_start_matches(SUMMARY_PREFIX).to_string();
                }
                let line = m
                    .content
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let mut piece: String = line.trim().chars().take(SUMMARY_PIECE_CHARS).collect();
                if line.trim().chars().count() > SUMMARY_PIECE_CHARS {
                    piece.push('…');
                }
                let who = match m.kind {
                    MsgKind::Assistant | MsgKind::Plan => "you said",
                    MsgKind::Observation => "you saw",
                    _ => "note",
                };
                format!("{who}: {piece}")
            })
            .collect();
        let body = pieces.join("; ");
        let n = body.chars().count();
        let body = if n > max_chars {
            let tail: String = body.chars().skip(n - max_chars).collect();
            format!("…{tail}")
        } else {
            body
        };
        format!("{SUMMARY_PREFIX}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ModelIr, PinRef};

    /// A declared context window lowers the budget below `context.budget`, never raises it.
    #[test]
    fn a_declared_window_caps_the_budget() {
        let model = |window: Option<u64>, max_tokens: u32| ModelIr {
            context_window: window,
            max_tokens,
            ..ModelIr::default()
        };
        // 2048 less 5% (102) less a 256-token reply.
        assert_eq!(model(Some(2048), 256).prompt_limit(), Some(1690));
        assert_eq!(model(None, 256).prompt_limit(), None);
        assert_eq!(model(Some(100), 256).prompt_limit(), Some(1));
        let ir = ContextIr {
            budget_tokens: 2000,
            ..ContextIr::default()
        };
        let capped = Context::within(&ir, model(Some(2048), 256).prompt_limit());
        assert_eq!(capped.budget, 1690);
        let roomy = Context::within(&ir, model(Some(128_000), 256).prompt_limit());
        assert_eq!(roomy.budget, 2000);
        assert_eq!(Context::within(&ir, None).budget, 2000);
    }

    /// System and goal (pinned) at step 0, then an observation and a reply in steps 1..=10.
    fn ctx(strategy: Compaction, budget: u64, keep_last: u32) -> Context {
        let mut c = Context::new(&ContextIr {
            budget_tokens: budget,
            compaction: strategy,
            pin: vec![PinRef::TaskGoal],
            keep_last,
        });
        c.push(Role::System, MsgKind::System, "S".repeat(40), true);
        c.push(Role::User, MsgKind::Goal, "Goal: reach the garden", true);
        for i in 1..=10 {
            c.set_step(i);
            let obs = format!("observation {i} {}", "x".repeat(30));
            c.push(Role::User, MsgKind::Observation, obs, false);
            c.push(
                Role::Assistant,
                MsgKind::Assistant,
                format!("go(\"room {i}\")"),
                false,
            );
        }
        c
    }

    fn pins_kept(c: &Context) -> bool {
        c.messages().iter().filter(|m| m.pinned).count() == 2
            && c.messages()[0].kind == MsgKind::System
            && c.messages()[1].kind == MsgKind::Goal
    }

    #[test]
    fn estimate() {
        assert_eq!(estimate_tokens(""), 4);
        assert_eq!(estimate_tokens("abcd"), 5);
        assert_eq!(estimate_tokens("abcde"), 6);
        assert_eq!(estimate_tokens("éééé"), 5);
    }

    #[test]
    fn every_strategy_keeps_pins_and_recent_steps() {
        for s in [
            Compaction::TruncateOldest,
            Compaction::SummarizeOldest,
            Compaction::DropObservations,
        ] {
            let mut c = ctx(s, 60, 3);
            let n = c.messages().len();
            let tail: Vec<CtxMessage> = c.messages()[n - 6..].to_vec();
            let before = c.tokens();
            let done = c.fit_to_budget().expect("compacted");
            assert!(pins_kept(&c), "{s:?}");
            let n = c.messages().len();
            assert_eq!(&c.messages()[n - 6..], &tail[..], "{s:?}");
            assert_eq!(done.before_tokens, before);
            assert_eq!(done.after_tokens, c.tokens());
            assert!(c.tokens() < before, "{s:?}");
        }
    }

    #[test]
    fn truncate_stops_at_budget() {
        let mut c = ctx(Compaction::TruncateOldest, 150, 2);
        c.fit_to_budget().expect("compacted");
        assert!(c.tokens() <= 150);
        assert!(c.fit_to_budget().is_none(), "under budget: nothing happens");
    }

    #[test]
    fn impossible_budget_removes_all_candidates_only() {
        let mut c = ctx(Compaction::TruncateOldest, 0, 2);
        c.fit_to_budget();
        assert_eq!(c.messages().len(), 2 + 4);
        assert!(pins_kept(&c));
        let mut c = ctx(Compaction::TruncateOldest, 0, 0);
        c.fit_to_budget();
        assert_eq!(c.messages().len(), 2);
        assert!(pins_kept(&c));
    }

    #[test]
    fn drop_observations_prefers_observations() {
        let mut c = ctx(Compaction::DropObservations, 200, 2);
        c.fit_to_budget().expect("compacted");
        let replies = c
            .messages()
            .iter()
            .filter(|m| m.kind == MsgKind::Assistant)
            .count();
        assert_eq!(replies, 10);
        assert!(c.tokens() <= 200);
    }

    #[test]
    fn summary_replaces_oldest_in_place() {
        let mut c = ctx(Compaction::SummarizeOldest, 150, 2);
        c.fit_to_budget().expect("compacted");
        assert!(c.tokens() <= 150);
        let s = &c.messages()[2];
        assert_eq!(s.kind, MsgKind::Summary);
        assert!(s.content.starts_with(SUMMARY_PREFIX));
        assert!(s.content.contains("you saw: observation"), "{}", s.content);
        // Summarizing again folds the old summary into the new one.
        c.budget = 60;
        c.fit_to_budget().expect("compacted again");
        let summaries = c
            .messages()
            .iter()
            .filter(|m| m.kind == MsgKind::Summary)
            .count();
        assert_eq!(summaries, 1);
        assert!(pins_kept(&c));
    }

    #[test]
    fn none_never_removes() {
        let mut c = ctx(Compaction::None, 10, 0);
        assert!(c.fit_to_budget().is_none());
        assert_eq!(c.messages().len(), 22);
    }

    #[test]
    fn rewrite_assistant() {
        let mut c = ctx(Compaction::None, 10, 0);
        assert!(c.rewrite_last_assistant("finish()"));
        assert_eq!(c.messages()[21].content, "finish()");
        assert_eq!(c.messages()[21].tokens, estimate_tokens("finish()"));
    }
}
