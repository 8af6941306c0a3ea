//! What the simulated model reads in a request: everything here is derived from the
//! request's messages, tool list and decoding mode — the text a real model would see —
//! never from the environment's hidden state. (The expert action, the one piece of
//! hidden knowledge the simulation uses, is handled in [`super`].)
//!
//! Messages are grouped into *turns*: a turn is the run of non-assistant messages that
//! follows an assistant message. The **current turn** is what came after the model's last
//! reply (the new observation, injected hints, a reprompt, a reflection request); hints are
//! remembered for [`super::SimParams::hint_memory`] turns, so one injected message keeps
//! working for a few steps and stops working once it is old — or compacted away.
//!
//! Hints are recognised by keywords (lowercased substring matches), listed in
//! docs/SIM_MODEL.md and in the `*_WORDS` constants below.

use crate::call::{ToolCall, ToolSpec};
use crate::ir::TypeIr;
use crate::message::Role;
use crate::models::{request_tokens, ModelRequest};
use crate::parse::parse_call;
use crate::repair::extract_action;

/// "Stop repeating yourself": lowers the loop rate, but also pushes the model off its
/// intended action (see `hint_deviate`).
pub const LOOP_WORDS: &[&str] = &[
    "repeat",
    "same action",
    "something different",
    "something else",
    "stuck",
];
/// "Answer in the right format" — a reprompt, or the engine's own "Invalid action" note.
pub const FORMAT_WORDS: &[&str] = &[
    "reply with",
    "one action",
    "one tool call",
    "exactly one",
    "invalid action",
    "format",
];
/// Error reports in observations.
pub const ERROR_WORDS: &[&str] = &["error", "timed out", "failed", "unavailable", "rate limit"];
/// A request for a plan (the engine's default plan prompt says both).
pub const PLAN_WORDS: &[&str] = &["plan"];
pub const NO_CALL_WORDS: &[&str] = &["do not call", "don't call", "before acting"];
/// A request to reflect.
pub const REFLECT_WORDS: &[&str] = &["reflect"];
/// The prefix of the model's own plan replies; a plan in the context raises competence.
pub const PLAN_PREFIX: &str = "Plan:";
/// Tool names the model treats as a way to check its work before finishing.
/// The first one the harness declares, in this order, is used.
pub const VERIFY_TOOLS: &[&str] = &[
    "examine", "check", "verify", "inspect", "look", "status", "fetch", "get", "read",
];

/// A message is a "check before you finish" warning: it mentions finishing together with
/// checking, or the goal conditions.
fn is_finish_warning(t: &str) -> bool {
    (t.contains("finish") || t.contains("done"))
        && (t.contains("check")
            || t.contains("verify")
            || t.contains("before")
            || t.contains("not yet"))
        || t.contains("goal conditions")
}

fn any(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| t.contains(w))
}

/// The features of one request the policy depends on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Prompt tokens under the runtime's estimate.
    pub tokens: u64,
    /// Tokens of system messages (the prompt the harness writes once).
    pub system_tokens: u64,
    /// The goal line seen at the start of the episode still appears somewhere.
    pub goal_present: bool,
    /// The last message asks for a plan (and for no call).
    pub plan_requested: bool,
    /// One of the model's own plans is still in the context.
    pub plan_in_context: bool,
    /// The current turn asks for a reflection.
    pub reflect_now: bool,
    /// An anti-repetition hint within the remembered turns.
    pub loop_hint: bool,
    /// A format reminder in the current turn.
    pub format_hint: bool,
    /// A check-before-finishing warning within the remembered turns.
    pub finish_hint: bool,
    /// The current turn reports a tool failure.
    pub last_error: bool,
    /// The current turn holds a second failure-related message besides the report itself
    /// (e.g. a harness's "the call failed, try another way").
    pub error_hint: bool,
    /// The model's own earlier calls still in the context, oldest first (a malformed
    /// reply counts with the call buried in it, as the model knows what it meant).
    pub calls: Vec<ToolCall>,
    /// All message text, lowercased, for grounding checks.
    pub visible: String,
    /// The choices of the declared tools' `enum` parameters, lowercased: part of the
    /// schema the model is given, so seen.
    pub choices: Vec<String>,
    /// The expert's call, in the harness's canonical syntax, appears in the current turn.
    pub expert_listed: bool,
}

impl Reading {
    /// Read `req`. `goal` is the goal line the model saw at the start of the episode.
    pub fn of(
        req: &ModelRequest,
        goal: Option<&str>,
        expert_text: Option<&str>,
        hint_memory: usize,
    ) -> Reading {
        let mut r = Reading {
            tokens: request_tokens(req),
            ..Reading::default()
        };
        let lower: Vec<String> = req
            .messages
            .iter()
            .map(|m| m.content.to_lowercase())
            .collect();
        r.visible = lower.join("\n");
        r.choices = req
            .tools
            .iter()
            .flat_map(|t| &t.params)
            .filter_map(|p| match &p.ty {
                TypeIr::Enum(vs) => Some(vs.iter().map(|v| v.to_lowercase())),
                _ => None,
            })
            .flatten()
            .collect();
        r.system_tokens = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| crate::message::estimate_tokens(&m.content))
            .sum();
        r.goal_present = goal.is_some_and(|g| {
            let g = g.to_lowercase();
            lower.iter().any(|m| m.contains(&g))
        });
        // Turn index of each message counted from the end: 0 for the current turn.
        let mut turn = 0usize;
        let mut turns = vec![0usize; lower.len()];
        for (i, m) in req.messages.iter().enumerate().rev() {
            if m.role == Role::Assistant {
                turn += 1;
            }
            turns[i] = turn;
        }
        let mut errors_now = 0;
        for (i, (m, t)) in req.messages.iter().zip(&lower).enumerate() {
            if m.role == Role::Assistant {
                if m.content.trim_start().starts_with(PLAN_PREFIX) {
                    r.plan_in_context = true;
                } else if let Some(c) = own_call(&m.content, &req.tools) {
                    r.calls.push(c);
                }
                continue;
            }
            let age = turns[i];
            let remembered = age < hint_memory.max(1);
            if age == 0 {
                r.expert_listed |= expert_text.is_some_and(|e| m.content.contains(e));
                // The engine's "Invalid action (...)" note may quote the model's own
                // "Reflection:" back; that is not a request to reflect.
                r.reflect_now |= any(t, REFLECT_WORDS) && !t.contains("invalid action");
                r.format_hint |= any(t, FORMAT_WORDS);
                if any(t, ERROR_WORDS) {
                    errors_now += 1;
                }
            }
            if remembered {
                r.loop_hint |= any(t, LOOP_WORDS);
                r.finish_hint |= is_finish_warning(t);
            }
        }
        r.last_error = errors_now > 0;
        r.error_hint = errors_now > 1;
        r.plan_requested = req.messages.last().is_some_and(|m| {
            let t = m.content.to_lowercase();
            m.role != Role::Assistant && any(&t, PLAN_WORDS) && any(&t, NO_CALL_WORDS)
        });
        r
    }

    /// How many of its calls before the last one repeat the last one back to back (0 when
    /// the last two differ).
    pub fn repeat_run(&self) -> usize {
        let Some(last) = self.calls.last() else {
            return 0;
        };
        self.calls
            .iter()
            .rev()
            .skip(1)
            .take_while(|c| *c == last)
            .count()
    }

    /// The model's previous call, if one is still in the context.
    pub fn last_call(&self) -> Option<&ToolCall> {
        self.calls.last()
    }

    /// Every string argument of `call` is grounded in the context: the model has seen the
    /// names it would need to write this call. A choice of a declared `enum` parameter is
    /// always seen. A short argument (a name such as
    /// `"apple 1"` or `"T-1042"`) must appear verbatim; composed text — at least
    /// [`COMPOSED_WORDS`] words, such as a search query or a message — is written in the
    /// model's own words, so only the words in it that carry a digit (ids, numbers: what
    /// cannot be guessed) must appear.
    pub fn grounded(&self, call: &ToolCall) -> bool {
        call.args.iter().all(|a| match a.value.as_str() {
            Some(s) => self.grounded_text(s),
            None => true,
        })
    }

    fn grounded_text(&self, s: &str) -> bool {
        let s = s.to_lowercase();
        if self.visible.contains(&s) || self.choices.contains(&s) {
            return true;
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        words.len() >= COMPOSED_WORDS
            && words
                .iter()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
                .all(|w| self.visible.contains(w))
    }
}

/// An argument of this many words or more is composed text, not a name (see
/// [`Reading::grounded`]).
pub const COMPOSED_WORDS: usize = 4;

/// The call a reply of the model's own amounts to, as the model meant it.
fn own_call(text: &str, tools: &[ToolSpec]) -> Option<ToolCall> {
    parse_call(text, tools)
        .ok()
        .or_else(|| extract_action(text, tools))
}

/// Markers that introduce the goal, in order of preference: a `goal:` anywhere in the
/// request wins over a `task:`.
pub const GOAL_MARKERS: &[&str] = &["goal:", "task:"];

/// The goal line of a request: the text after the first `goal:` marker (any case) up to
/// the end of its line, if at least three characters long; failing that, the same after a
/// `task:` marker. This is how the model learns the goal at the start of an episode: the
/// engine states it in the system prompt (`Your goal: ...`) or in a `Goal: ...` message,
/// and a system prompt that embeds `{{task.goal}}` without either marker still has the
/// environment's first observation, which environments introduce as `Task: ...`.
pub fn goal_line(req: &ModelRequest) -> Option<String> {
    GOAL_MARKERS.iter().find_map(|marker| {
        req.messages.iter().find_map(|m| {
            // ASCII lowercasing keeps byte offsets, so `at` indexes the original text too.
            let at = m.content.to_ascii_lowercase().find(marker)?;
            let rest = m.content.get(at + marker.len()..)?;
            let line = rest.lines().next().unwrap_or("").trim();
            (line.chars().count() >= 3).then(|| line.to_string())
        })
    })
}
