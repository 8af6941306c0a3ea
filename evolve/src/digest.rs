//! The Digester: classify each failed episode, from its trace, into the failure catalog,
//! with evidence (trace file, step, excerpt); aggregate the verdicts into a
//! [`FailureCatalog`] that persists across rounds and runs.
//!
//! # Classification rules, in priority order
//!
//! The first rule that matches names the episode's class. The order puts root causes
//! before symptoms: a model whose replies do not parse cannot loop, finish early or be
//! rejected in any way that says something about the harness.
//!
//! 0. **Infrastructure** — the episode ended with a model error (`model_error: ...`):
//!    `unknown`. A backend failure says nothing about the harness, so it must not steer
//!    the search.
//! 1. **`malformed_call`** — more than half of the *acting steps* (steps where the model
//!    was asked for a call) ended without a well-formed call (a `call_parsed` error and no
//!    tool call or blocked result after any repair or re-ask), or the last
//!    [`DigestConfig::malformed_tail`] acting steps all did.
//! 2. **`loop`** — among any [`DigestConfig::loop_window`] consecutive calls the model
//!    made, one canonical call occurs at least [`DigestConfig::loop_repeats`] times. A
//!    re-issue right after the same call failed with a transient error or a timeout is a
//!    retry, not a repeat, and is not counted. Blocked calls count: the model tried.
//!    A loop the agent had left more than a window before it ended the episode itself
//!    (its last call ended it) was a detour, not the cause: the later rules classify the
//!    episode. Checked first, and always the cause: a **repeated side effect** — a call
//!    succeeded and changed the state, and later the identical call succeeded and changed
//!    it again with no other state change in between: the same effect twice (a second
//!    notification, a toggle flipped back), which no later step can undo.
//! 3. **`tool_error_ignored`** — a tool failed with a transient error (not a timeout, not
//!    a rejection, see below), the next call was a different one (no retry), and the
//!    failed call never succeeded later in the episode.
//! 4. **`tool_timeout`** — timeouts are at least half of the failed tool results, and
//!    either some timed-out call was lost (it never succeeded later and did not take
//!    effect: a timed-out result that reports a state change was applied all the same), or
//!    the episode ran out of steps after at least [`DigestConfig::timeout_min`] timeouts.
//!    Timeouts that were all recovered say nothing about an episode that ended otherwise.
//! 5. **`context_overflow`** — compaction dropped the message that carries the goal (it
//!    was not pinned), or a model request's context reached
//!    [`DigestConfig::overflow_tokens`] (the model's real window, when known). Checked
//!    before `premature_finish` because a model that lost its goal finishes or wanders:
//!    the fix is to keep the goal, not to warn about finishing.
//! 6. **`premature_finish`** — the last tool result ended the episode (`done`) and the
//!    episode was not successful: the agent declared the task over too early.
//! 7. **`step_budget`** — the episode hit `max_steps` while still making progress: a
//!    state-changing tool result among the last [`DigestConfig::progress_window`] steps.
//! 8. **`wrong_action`** — a well-formed call was rejected by the environment (see
//!    below), or the episode hit `max_steps` without progress although its calls were
//!    well-formed.
//! 9. **`unknown`** — nothing above matched (e.g. a `stop` rule ended the episode).
//!
//! A failed tool result is a **rejection** when its message (or observation) says the
//! action itself was invalid — ALFWorld's "Nothing happens", HTTP 400/403/404/422-style
//! errors, "unknown tool", "no such", "not found", "invalid" — so retrying cannot help;
//! any other error is **transient**. These markers are heuristics over the built-in
//! environments' messages; an environment with other wording falls back to transient.
//!
//! # Goal tracking
//!
//! The digester replays compactions on a shadow of the context built from `message`
//! events: `truncate_oldest` and `summarize_oldest` remove the `removed` oldest unpinned
//! messages (which is exact: `keep_last` only protects the newest); `drop_observations`
//! removes unpinned observations first. The last is an approximation — the shadow does not
//! know `keep_last` and may count protected observations — so it can miss a dropped goal,
//! never invent one.
//!
//! Nothing here panics on any trace: missing events, unknown orders and truncated files
//! give `unknown` or an incomplete episode, never an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use harnessx_runtime::context::MsgKind;
use harnessx_runtime::env::{FailureKind, ToolFailure};
use harnessx_runtime::ir::Compaction;
use harnessx_runtime::trace::{EventKind, TraceEvent};
use serde::{Deserialize, Serialize};

use crate::ledger::{load_json, save_json};
use crate::manifest::FailureClass;

/// Excerpts are cut to this many characters.
pub const EXCERPT_CHARS: usize = 160;

/// Thresholds of the rules (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestConfig {
    pub loop_repeats: usize,
    pub loop_window: usize,
    pub malformed_tail: usize,
    pub timeout_min: usize,
    pub progress_window: u32,
    pub overflow_tokens: Option<u64>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            loop_repeats: 3,
            loop_window: 6,
            malformed_tail: 2,
            timeout_min: 2,
            progress_window: 3,
            overflow_tokens: None,
        }
    }
}

/// Where a class shows in one episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The trace file, when the events came from one.
    pub trace: Option<String>,
    pub task: u64,
    pub seed: u64,
    pub step: u32,
    /// The offending model reply or tool result, cut to [`EXCERPT_CHARS`].
    pub excerpt: String,
    /// Which rule matched, in a few words (e.g. "7 of 12 acting steps malformed").
    pub note: String,
}

/// One failed episode's class and evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub class: FailureClass,
    pub evidence: Evidence,
}

/// What the digester made of one episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// No `episode_end` (a truncated trace or a crashed run): not counted either way.
    Incomplete,
    /// The infrastructure failed (model server or environment bridge; the episode ended
    /// `infrastructure`): says nothing about the harness, so it is counted apart and never
    /// classified.
    Infrastructure(String),
    Failed(Diagnosis),
}

// ---------------------------------------------------------------------------------------
// reading trace files

/// The events of a JSONL trace file, split into episodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFile {
    pub episodes: Vec<Vec<TraceEvent>>,
    /// Lines that were not trace events (skipped, so one bad line costs one event).
    pub bad_lines: usize,
}

/// Parse JSONL text, skipping lines that are not events, and split it into episodes. For
/// traces read from files (or another process); events already in memory are digested as
/// they are ([`FailureCatalog::digest`]).
pub fn parse_trace(text: &str) -> TraceFile {
    let mut events = Vec::new();
    let mut bad_lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<TraceEvent>(line) {
            Ok(e) => events.push(e),
            Err(_) => bad_lines += 1,
        }
    }
    TraceFile {
        episodes: split_episodes(events),
        bad_lines,
    }
}

/// Read and parse a trace file.
pub fn read_trace(path: &Path) -> std::io::Result<TraceFile> {
    let bytes = std::fs::read(path)?;
    Ok(parse_trace(&String::from_utf8_lossy(&bytes)))
}

/// Split a stream of events at each `episode_start` (events before the first start form
/// an episode of their own, which will be incomplete or unknown).
pub fn split_episodes(events: Vec<TraceEvent>) -> Vec<Vec<TraceEvent>> {
    let mut out: Vec<Vec<TraceEvent>> = Vec::new();
    for e in events {
        let starts = matches!(e.kind, EventKind::EpisodeStart { .. });
        match out.last_mut() {
            Some(cur) if !starts => cur.push(e),
            _ => out.push(vec![e]),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// what an episode did

/// How a tool result went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Blocked,
    Timeout,
    /// The environment said the action itself was invalid.
    Rejected,
    /// Any other error: retrying may help.
    Transient,
}

/// One attempt at a call and its result.
#[derive(Debug, Clone)]
struct ToolUse {
    step: u32,
    call: String,
    attempt: u32,
    outcome: Outcome,
    state_changed: bool,
    done: bool,
    observation: String,
}

#[derive(Debug, Clone, Default)]
struct StepFacts {
    /// The model was asked for a call (`act` or `reprompt`) in this step.
    acting: bool,
    /// The last reply of the step.
    reply: Option<String>,
    /// The last `call_parsed` of the step: the call, or its error.
    parsed: Option<Result<String, String>>,
    /// A tool was called, or a call was blocked, in this step.
    used_tool: bool,
    /// The last reply mostly repeats the latest observation (see [`echoes`]).
    echo: bool,
}

/// A message of the shadow context.
#[derive(Debug, Clone)]
struct Shadow {
    kind: MsgKind,
    pinned: bool,
    goal: bool,
}

#[derive(Debug, Clone, Default)]
struct Facts {
    task: u64,
    seed: u64,
    max_steps: u32,
    goal: String,
    /// `(success, reason, steps)` from `episode_end`.
    end: Option<(bool, String, u32)>,
    steps: BTreeMap<u32, StepFacts>,
    tools: Vec<ToolUse>,
    context: Vec<Shadow>,
    /// The step and a description of the compaction that dropped the goal.
    goal_dropped: Option<(u32, String)>,
    /// The step and size of the largest model request.
    max_context: Option<(u32, u64)>,
    /// The latest observation message the model was shown.
    last_observation: String,
}

fn collect(events: &[TraceEvent]) -> Facts {
    let mut f = Facts::default();
    let mut pending_call: Option<(String, u32)> = None;
    for e in events {
        let step = e.step;
        match &e.kind {
            EventKind::EpisodeStart {
                task,
                seed,
                max_steps,
                goal,
                ..
            } => {
                f.task = *task;
                f.seed = *seed;
                f.max_steps = *max_steps;
                f.goal = goal.clone();
            }
            EventKind::Message {
                kind,
                content,
                pinned,
                ..
            } => {
                if *kind == MsgKind::Observation {
                    f.last_observation = content.clone();
                }
                let goal = *kind == MsgKind::Goal
                    || (*kind == MsgKind::System
                        && !f.goal.is_empty()
                        && content.contains(f.goal.as_str()));
                f.context.push(Shadow {
                    kind: *kind,
                    pinned: *pinned,
                    goal,
                });
            }
            EventKind::ContextCompacted(c) => {
                let dropped = replay_compaction(&mut f.context, c.strategy, c.removed);
                if dropped && f.goal_dropped.is_none() {
                    let how = format!(
                        "compaction ({}) removed {} messages including the goal: {} -> {} tokens",
                        compaction_name(c.strategy),
                        c.removed,
                        c.before_tokens,
                        c.after_tokens
                    );
                    f.goal_dropped = Some((step, how));
                }
            }
            EventKind::ModelRequest {
                purpose,
                context_tokens,
                ..
            } => {
                if purpose != "plan" {
                    f.steps.entry(step).or_default().acting = true;
                }
                let larger = match f.max_context {
                    Some((_, t)) => *context_tokens > t,
                    None => true,
                };
                if larger {
                    f.max_context = Some((step, *context_tokens));
                }
            }
            EventKind::ModelResponse { text, .. } => {
                let echo = echoes(text, &f.last_observation);
                let s = f.steps.entry(step).or_default();
                s.reply = Some(text.clone());
                s.echo = echo;
            }
            EventKind::CallParsed { call, error } => {
                let parsed = match (call, error) {
                    (Some(c), _) => Ok(c.clone()),
                    (None, e) => Err(e.clone().unwrap_or_default()),
                };
                f.steps.entry(step).or_default().parsed = Some(parsed);
            }
            EventKind::ToolCall { call, attempt, .. } => {
                f.steps.entry(step).or_default().used_tool = true;
                pending_call = Some((call.clone(), *attempt));
            }
            EventKind::ToolResult {
                tool,
                observation,
                failure,
                state_changed,
                done,
                attempt,
                blocked,
            } => {
                let facts = f.steps.entry(step).or_default();
                facts.used_tool = true;
                let call = match (&pending_call, blocked) {
                    (Some((c, _)), false) => c.clone(),
                    // A blocked call never reached `tool_call`: its text is the parsed one.
                    _ => match &facts.parsed {
                        Some(Ok(c)) => c.clone(),
                        _ => format!("{tool}(...)"),
                    },
                };
                pending_call = None;
                f.tools.push(ToolUse {
                    step,
                    call,
                    attempt: *attempt,
                    outcome: outcome(*blocked, failure.as_ref(), observation),
                    state_changed: *state_changed,
                    done: *done,
                    observation: observation.clone(),
                });
            }
            EventKind::EpisodeEnd {
                success,
                reason,
                steps,
                ..
            } => f.end = Some((*success, reason.clone(), *steps)),
            EventKind::HookFired
            | EventKind::ModelFailed { .. }
            | EventKind::RuleFired { .. }
            | EventKind::Reward { .. } => {}
        }
    }
    f
}

fn compaction_name(c: Compaction) -> &'static str {
    match c {
        Compaction::None => "none",
        Compaction::TruncateOldest => "truncate_oldest",
        Compaction::SummarizeOldest => "summarize_oldest",
        Compaction::DropObservations => "drop_observations",
    }
}

/// Apply one compaction to the shadow context; true if a goal-carrying message went.
fn replay_compaction(ctx: &mut Vec<Shadow>, strategy: Compaction, removed: usize) -> bool {
    let unpinned = |ctx: &[Shadow], pred: &dyn Fn(&Shadow) -> bool| -> Vec<usize> {
        (0..ctx.len())
            .filter(|&i| !ctx[i].pinned && pred(&ctx[i]))
            .collect()
    };
    let mut drop: Vec<usize> = match strategy {
        Compaction::None => Vec::new(),
        Compaction::TruncateOldest | Compaction::SummarizeOldest => {
            unpinned(ctx, &|_| true).into_iter().take(removed).collect()
        }
        Compaction::DropObservations => {
            let mut d: Vec<usize> = unpinned(ctx, &|m| m.kind == MsgKind::Observation)
                .into_iter()
                .take(removed)
                .collect();
            let rest = removed.saturating_sub(d.len());
            let others = unpinned(ctx, &|m| m.kind != MsgKind::Observation);
            d.extend(others.into_iter().take(rest));
            d.sort_unstable();
            d
        }
    };
    drop.dedup();
    let lost_goal = drop.iter().any(|&i| ctx[i].goal);
    let at = drop.first().copied();
    let mut idx = 0;
    ctx.retain(|_| {
        let keep = drop.binary_search(&idx).is_err();
        idx += 1;
        keep
    });
    if strategy == Compaction::SummarizeOldest {
        if let Some(at) = at {
            let summary = Shadow {
                kind: MsgKind::Summary,
                pinned: false,
                goal: false,
            };
            ctx.insert(at.min(ctx.len()), summary);
        }
    }
    lost_goal
}

/// Markers of a rejection (see the module docs), matched in lower case.
const REJECTION_MARKERS: [&str; 9] = [
    "nothing happens",
    "unknown tool",
    "no such",
    "not found",
    "invalid",
    "bad request",
    "400 ",
    "403 ",
    "422 ",
];

fn outcome(blocked: bool, failure: Option<&ToolFailure>, observation: &str) -> Outcome {
    if blocked {
        return Outcome::Blocked;
    }
    let rejected = |text: &str| {
        let t = text.to_lowercase();
        REJECTION_MARKERS.iter().any(|m| t.contains(m))
    };
    match failure {
        Some(f) if f.kind == FailureKind::Timeout => Outcome::Timeout,
        Some(f) if rejected(&f.message) || rejected(observation) => Outcome::Rejected,
        Some(_) => Outcome::Transient,
        // Environments that reject without flagging a failure still say so.
        None if observation.trim_start().starts_with("Nothing happens") => Outcome::Rejected,
        None => Outcome::Ok,
    }
}

// ---------------------------------------------------------------------------------------
// the rules

/// Classify one episode (see the module docs for the rules).
pub fn diagnose(events: &[TraceEvent], trace: Option<&Path>, cfg: &DigestConfig) -> Verdict {
    let f = collect(events);
    let Some((success, reason, steps)) = f.end.clone() else {
        return Verdict::Incomplete;
    };
    if success {
        return Verdict::Success;
    }
    if let Some(why) = reason.strip_prefix("infrastructure") {
        return Verdict::Infrastructure(why.trim_start_matches(':').trim().to_string());
    }
    let (class, step, excerpt, note) = classify(&f, &reason, steps, cfg);
    Verdict::Failed(Diagnosis {
        class,
        evidence: Evidence {
            trace: trace.map(|p| p.to_string_lossy().into_owned()),
            task: f.task,
            seed: f.seed,
            step,
            excerpt: excerpt_of(&excerpt),
            note,
        },
    })
}

type Found = (FailureClass, u32, String, String);

fn classify(f: &Facts, reason: &str, steps: u32, cfg: &DigestConfig) -> Found {
    if let Some(msg) = reason.strip_prefix("context_overflow") {
        let msg = msg.trim_start_matches(':').trim();
        return (
            FailureClass::ContextOverflow,
            steps,
            msg.into(),
            "the model server refused the prompt as longer than its context window".into(),
        );
    }
    if let Some(msg) = reason.strip_prefix("model_error") {
        let msg = msg.trim_start_matches(':').trim();
        return (
            FailureClass::Unknown,
            steps,
            msg.into(),
            "model error".into(),
        );
    }
    malformed(f, cfg)
        .or_else(|| looped(f, cfg))
        .or_else(|| error_ignored(f))
        .or_else(|| timeouts(f, reason, cfg))
        .or_else(|| overflow(f, cfg))
        .or_else(|| premature(f))
        .or_else(|| budget(f, reason, steps, cfg))
        .unwrap_or_else(|| {
            let last = f.steps.values().rev().find_map(|s| s.reply.clone());
            (
                FailureClass::Unknown,
                steps,
                last.unwrap_or_default(),
                format!("no rule matched (ended: {reason})"),
            )
        })
}

fn reply_at(f: &Facts, step: u32) -> String {
    f.steps
        .get(&step)
        .and_then(|s| s.reply.clone())
        .unwrap_or_default()
}

fn malformed(f: &Facts, cfg: &DigestConfig) -> Option<Found> {
    let acting: Vec<(u32, bool)> = f
        .steps
        .iter()
        .filter(|(_, s)| s.acting)
        .map(|(&n, s)| (n, !s.used_tool && matches!(s.parsed, Some(Err(_)))))
        .collect();
    let bad: Vec<u32> = acting.iter().filter(|a| a.1).map(|a| a.0).collect();
    let tail = cfg.malformed_tail.max(1);
    let tail_bad = acting.len() >= tail && acting.iter().rev().take(tail).all(|a| a.1);
    let most = bad.len() * 2 > acting.len();
    if !(most || tail_bad) {
        return None;
    }
    // The last malformed reply is the freshest example of what the model does.
    let step = *bad.last()?;
    let why = match f.steps.get(&step).and_then(|s| s.parsed.clone()) {
        Some(Err(e)) if !e.is_empty() => format!("; {e}"),
        _ => String::new(),
    };
    // What the malformed replies were: a copy of the observation (small models echo what
    // they just read) or other prose.
    let echoed = bad
        .iter()
        .filter(|n| f.steps.get(n).is_some_and(|s| s.echo))
        .count();
    let kind = if echoed * 2 > bad.len() {
        format!("; {echoed} of {} echo the observation", bad.len())
    } else {
        format!(
            "; prose instead of a call in {} of {}",
            bad.len() - echoed,
            bad.len()
        )
    };
    let note = if most {
        format!(
            "{} of {} acting steps malformed{kind}{why}",
            bad.len(),
            acting.len()
        )
    } else {
        format!("last {tail} acting steps malformed{kind}{why}")
    };
    Some((FailureClass::MalformedCall, step, reply_at(f, step), note))
}

fn looped(f: &Facts, cfg: &DigestConfig) -> Option<Found> {
    // The calls the model made: first attempts (and blocked ones), minus re-issues right
    // after the same call failed transiently (a retry by the model).
    let mut calls: Vec<&ToolUse> = Vec::new();
    let mut prev: Option<&ToolUse> = None;
    for t in f.tools.iter().filter(|t| t.attempt <= 1) {
        let retry = prev.is_some_and(|p| {
            p.call == t.call && matches!(p.outcome, Outcome::Transient | Outcome::Timeout)
        });
        if !retry {
            calls.push(t);
        }
        prev = Some(t);
    }
    if let Some(found) = repeated_effect(f) {
        return Some(found);
    }
    let k = cfg.loop_repeats.max(2);
    let w = cfg.loop_window.max(k);
    let mut first: Option<Found> = None;
    let mut last_end = 0;
    for end in 0..calls.len() {
        let start = (end + 1).saturating_sub(w);
        let here = &calls[end];
        let n = calls[start..=end]
            .iter()
            .filter(|c| c.call == here.call)
            .count();
        if n >= k {
            last_end = end;
            if first.is_none() {
                let note = format!("`{}` {n} times in {} calls", here.call, end + 1 - start);
                let text = reply_at(f, here.step);
                let text = if text.is_empty() {
                    here.call.clone()
                } else {
                    text
                };
                first = Some((FailureClass::Loop, here.step, text, note));
            }
        }
    }
    // A loop the agent left well before it ended the episode itself was a detour: what
    // ended the episode is the cause.
    let ended_by_agent = f.tools.last().is_some_and(|t| t.done);
    let detour = ended_by_agent && last_end + w < calls.len();
    first.filter(|_| !detour)
}

/// How the note of a repeated side effect ends; the rule library looks for it to find the
/// tool whose effect repeated.
pub const REPEATED_EFFECT: &str = "(the same effect twice)";

/// A state-changing call that succeeded, repeated verbatim with the same success and
/// another state change, with no other state change in between.
fn repeated_effect(f: &Facts) -> Option<Found> {
    let mut last_change: Option<&ToolUse> = None;
    for t in &f.tools {
        if !t.state_changed {
            continue;
        }
        if let Some(prev) = last_change {
            if t.outcome == Outcome::Ok && prev.outcome == Outcome::Ok && prev.call == t.call {
                let note = format!(
                    "`{}` changed the state again after it had already succeeded at step {} {REPEATED_EFFECT}",
                    t.call, prev.step
                );
                let text = reply_at(f, t.step);
                let text = if text.is_empty() {
                    t.call.clone()
                } else {
                    text
                };
                return Some((FailureClass::Loop, t.step, text, note));
            }
        }
        last_change = Some(t);
    }
    None
}

fn later_success(f: &Facts, i: usize) -> bool {
    let call = &f.tools[i].call;
    f.tools[i + 1..]
        .iter()
        .any(|t| &t.call == call && t.outcome == Outcome::Ok)
}

fn error_ignored(f: &Facts) -> Option<Found> {
    for (i, t) in f.tools.iter().enumerate() {
        if t.outcome != Outcome::Transient {
            continue;
        }
        // No next call: the episode ended on the error, which other rules describe.
        let Some(next) = f.tools.get(i + 1) else {
            continue;
        };
        if next.call != t.call && !later_success(f, i) {
            let note = format!("`{}` failed, then `{}` without a retry", t.call, next.call);
            return Some((
                FailureClass::ToolErrorIgnored,
                t.step,
                t.observation.clone(),
                note,
            ));
        }
    }
    None
}

fn timeouts(f: &Facts, reason: &str, cfg: &DigestConfig) -> Option<Found> {
    let failed = f
        .tools
        .iter()
        .filter(|t| !matches!(t.outcome, Outcome::Ok | Outcome::Blocked))
        .count();
    let idx: Vec<usize> = (0..f.tools.len())
        .filter(|&i| f.tools[i].outcome == Outcome::Timeout)
        .collect();
    if idx.is_empty() || idx.len() * 2 < failed {
        return None;
    }
    let unrecovered = idx
        .iter()
        .copied()
        .find(|&i| !f.tools[i].state_changed && !later_success(f, i));
    if unrecovered.is_none() && (idx.len() < cfg.timeout_min || reason != "step_budget") {
        return None;
    }
    let i = unrecovered.or(idx.last().copied())?;
    let t = &f.tools[i];
    let note = format!("{} of {failed} tool failures were timeouts", idx.len());
    Some((
        FailureClass::ToolTimeout,
        t.step,
        t.observation.clone(),
        note,
    ))
}

fn overflow(f: &Facts, cfg: &DigestConfig) -> Option<Found> {
    if let Some((step, how)) = &f.goal_dropped {
        let next = f
            .steps
            .range(step..)
            .find_map(|(_, s)| s.reply.clone())
            .unwrap_or_default();
        return Some((FailureClass::ContextOverflow, *step, next, how.clone()));
    }
    let limit = cfg.overflow_tokens?;
    let (step, tokens) = f.max_context?;
    (tokens >= limit).then(|| {
        (
            FailureClass::ContextOverflow,
            step,
            reply_at(f, step),
            format!("context reached {tokens} tokens (limit {limit})"),
        )
    })
}

fn premature(f: &Facts) -> Option<Found> {
    let last = f.tools.last().filter(|t| t.done)?;
    let text = reply_at(f, last.step);
    let note = format!("`{}` ended the episode: {}", last.call, last.observation);
    Some((FailureClass::PrematureFinish, last.step, text, note))
}

fn budget(f: &Facts, reason: &str, steps: u32, cfg: &DigestConfig) -> Option<Found> {
    let rejected: Vec<&ToolUse> = f
        .tools
        .iter()
        .filter(|t| t.outcome == Outcome::Rejected)
        .collect();
    let hit_limit = reason == "step_budget";
    if hit_limit {
        let from = steps.saturating_sub(cfg.progress_window.max(1)) + 1;
        let progress = f
            .tools
            .iter()
            .rev()
            .find(|t| t.step >= from && t.state_changed);
        if let Some(t) = progress {
            let changes = f.tools.iter().filter(|t| t.state_changed).count();
            let note = format!(
                "hit max_steps = {} with {changes} state changes, the last at step {}",
                f.max_steps, t.step
            );
            return Some((FailureClass::StepBudget, steps, t.observation.clone(), note));
        }
    }
    if let Some(t) = rejected.last() {
        let note = format!(
            "{} of {} calls rejected, e.g. `{}`",
            rejected.len(),
            f.tools.len(),
            t.call
        );
        return Some((
            FailureClass::WrongAction,
            t.step,
            t.observation.clone(),
            note,
        ));
    }
    let wellformed = f.tools.iter().rev().find(|t| t.outcome == Outcome::Ok);
    match wellformed {
        Some(t) if hit_limit => {
            let distinct: BTreeSet<&str> = f.tools.iter().map(|t| t.call.as_str()).collect();
            let goal = goal_words(&f.goal);
            let on_goal = f.tools.iter().any(|t| {
                let call = t.call.to_lowercase();
                goal.iter().any(|w| call.contains(w.as_str()))
            });
            let ignored = if !goal.is_empty() && !on_goal {
                "; no call named an object of the goal"
            } else {
                ""
            };
            let note = format!(
                "hit max_steps = {} without progress in the last {} steps ({} distinct calls){ignored}",
                f.max_steps,
                cfg.progress_window.max(1),
                distinct.len()
            );
            Some((FailureClass::WrongAction, t.step, reply_at(f, t.step), note))
        }
        _ => None,
    }
}

/// Whether a reply mostly repeats the observation: at least four words, and at least 70% of
/// its words (lowercased, punctuation trimmed) occur in the observation.
fn echoes(reply: &str, observation: &str) -> bool {
    let words = |t: &str| -> Vec<String> {
        t.split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let reply = words(reply);
    if reply.len() < 4 || observation.is_empty() {
        return false;
    }
    let seen: BTreeSet<String> = words(observation).into_iter().collect();
    let shared = reply.iter().filter(|w| seen.contains(*w)).count();
    shared * 10 >= reply.len() * 7
}

/// The goal's content words (three letters or more, function words left out): what
/// an agent that acts on its goal names in some call.
fn goal_words(goal: &str) -> BTreeSet<String> {
    const COMMON: &[&str] = &[
        "your",
        "task",
        "with",
        "from",
        "into",
        "that",
        "this",
        "then",
        "them",
        "their",
        "there",
        "have",
        "should",
        "would",
        "could",
        "items",
        "item",
        "place",
        "appropriate",
        "location",
        "locations",
        "goal",
    ];
    goal.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !COMMON.contains(&w.as_str()))
        .collect()
}

/// Collapse whitespace and cut to [`EXCERPT_CHARS`] characters (on a char boundary, with
/// an ellipsis when cut), so excerpts fit on one line of a report.
pub fn excerpt_of(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

// ---------------------------------------------------------------------------------------
// the catalog

/// One class of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassEntry {
    /// Failed episodes of this class.
    pub count: u64,
    /// The most recent evidence, oldest first, at most the catalog's `max_evidence`.
    pub evidence: Vec<Evidence>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The failure catalog: counts and evidence per class, accumulated over rounds and runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCatalog {
    /// Complete episodes digested (successes and failures).
    pub episodes: u64,
    pub failures: u64,
    /// Episodes without an end, not counted in `episodes`.
    pub incomplete: u64,
    /// Episodes the infrastructure failed (model server, bridge), not counted in
    /// `episodes` and never classified.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub infrastructure: u64,
    pub max_evidence: usize,
    pub classes: BTreeMap<FailureClass, ClassEntry>,
}

impl Default for FailureCatalog {
    fn default() -> Self {
        FailureCatalog::new(5)
    }
}

impl FailureCatalog {
    pub fn new(max_evidence: usize) -> Self {
        FailureCatalog {
            episodes: 0,
            failures: 0,
            incomplete: 0,
            infrastructure: 0,
            max_evidence,
            classes: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Incomplete => self.incomplete += 1,
            Verdict::Infrastructure(_) => self.infrastructure += 1,
            Verdict::Success => self.episodes += 1,
            Verdict::Failed(d) => {
                self.episodes += 1;
                self.failures += 1;
                let entry = self.classes.entry(d.class).or_default();
                entry.count += 1;
                entry.evidence.push(d.evidence.clone());
                trim(&mut entry.evidence, self.max_evidence);
            }
        }
    }

    /// Digest every episode of a trace and record it.
    pub fn digest(&mut self, events: &[TraceEvent], trace: Option<&Path>, cfg: &DigestConfig) {
        self.record(&diagnose(events, trace, cfg));
    }

    /// Digest every episode of every file, in the order given (sort the paths for a
    /// deterministic catalog). Unreadable files are returned, not fatal.
    pub fn digest_files(
        &mut self,
        paths: &[PathBuf],
        cfg: &DigestConfig,
    ) -> Vec<(PathBuf, std::io::Error)> {
        let mut errors = Vec::new();
        for p in paths {
            match read_trace(p) {
                Ok(file) => {
                    for ep in &file.episodes {
                        self.digest(ep, Some(p), cfg);
                    }
                }
                Err(e) => errors.push((p.clone(), e)),
            }
        }
        errors
    }

    /// Add another catalog's counts; its evidence counts as more recent than ours.
    pub fn merge(&mut self, other: &FailureCatalog) {
        self.episodes += other.episodes;
        self.failures += other.failures;
        self.incomplete += other.incomplete;
        self.infrastructure += other.infrastructure;
        for (class, theirs) in &other.classes {
            let ours = self.classes.entry(*class).or_default();
            ours.count += theirs.count;
            ours.evidence.extend(theirs.evidence.iter().cloned());
            trim(&mut ours.evidence, self.max_evidence);
        }
    }

    pub fn count(&self, class: FailureClass) -> u64 {
        self.classes.get(&class).map_or(0, |e| e.count)
    }

    /// Classes by count, largest first (ties in class order).
    pub fn ranked(&self) -> Vec<(FailureClass, u64)> {
        let mut v: Vec<(FailureClass, u64)> =
            self.classes.iter().map(|(c, e)| (*c, e.count)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Whether some class other than `unknown` has at least `min_episodes` episodes.
    pub fn actionable(&self, min_episodes: u64) -> bool {
        self.stop_reason(min_episodes).is_none()
    }

    /// Why a round with this catalog should stop early, or `None` if it is actionable.
    pub fn stop_reason(&self, min_episodes: u64) -> Option<String> {
        let min = min_episodes.max(1);
        if self.failures == 0 {
            return Some(format!(
                "no failed episodes among {} digested: nothing to fix",
                self.episodes
            ));
        }
        let known: Vec<(FailureClass, u64)> = self
            .ranked()
            .into_iter()
            .filter(|(c, _)| *c != FailureClass::Unknown)
            .collect();
        if known.iter().any(|(_, n)| *n >= min) {
            return None;
        }
        if known.is_empty() {
            return Some(format!(
                "all {} failures are unknown: no operator targets them",
                self.failures
            ));
        }
        let list = known
            .iter()
            .map(|(c, n)| format!("{} {n}", class_name(*c)))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "no failure class reaches {min} episodes ({list}; unknown {})",
            self.count(FailureClass::Unknown)
        ))
    }

    /// Write as pretty JSON, atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_json(path, self)
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        load_json(path)
    }

    /// The catalog at `path`, or a new one with `max_evidence` if there is no file yet.
    pub fn load_or_new(path: &Path, max_evidence: usize) -> std::io::Result<Self> {
        match load_json(path) {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(FailureCatalog::new(max_evidence))
            }
            Err(e) => Err(e),
        }
    }
}

/// Keep the last `max` items.
fn trim(v: &mut Vec<Evidence>, max: usize) {
    if v.len() > max {
        v.drain(..v.len() - max);
    }
}

/// The catalog name of a class (its serde name), e.g. `malformed_call`.
pub fn class_name(c: FailureClass) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{c:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_char_boundaries() {
        let s = "é".repeat(400);
        let e = excerpt_of(&s);
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt_of("a \n b"), "a b");
    }

    #[test]
    fn class_names_are_snake_case() {
        assert_eq!(
            class_name(FailureClass::ToolErrorIgnored),
            "tool_error_ignored"
        );
    }
}
