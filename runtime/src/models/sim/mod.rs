//! The **simulated model family** `sim:small`, `sim:medium`, `sim:large`: seeded,
//! deterministic stand-ins for small real models, so harnesses can be run, compared and
//! evolved offline in seconds. Results obtained with them are *simulated* and every report
//! must say so ([`SimModel::is_simulated`], [`SimModel::name`]); real claims need real
//! models.
//!
//! # What it reads
//!
//! Each reply is a function of the request the harness sends — its messages, declared
//! tools, decoding mode and admissible actions — plus `request.expert`, the environment's
//! expert action (the one piece of hidden knowledge: it stands for "what a competent model
//! would do here"). The model keeps one piece of state per episode, the goal line it was
//! told in the first request, so it can notice when the goal has left the context. See
//! [`read`] for how the request is read and docs/SIM_MODEL.md for every parameter and
//! reaction.
//!
//! # The policy, in order
//!
//! 1. A plan request (plan prompt, `plan_then_act`) gets a short plan, prefixed `Plan:`.
//! 2. Competence `p` = base + plan bonus + reflect bonus + listed bonus − a penalty per
//!    1,000 context tokens above an onset − a penalty per unit of temperature above the
//!    tier's best, floored.
//! 3. **Forgetting**: if the goal line is no longer in the context, with probability
//!    rising with context size the model acts without it (finishes or wanders).
//! 4. **Tool errors**: after a reported failure it mishandles it with some probability
//!    (lower the more strongly the harness speaks about the error).
//! 5. Otherwise one draw: the expert action with probability `p`; else a failure kind by
//!    weight — prose, bare, garbage, loop, finish, wander — each share multiplied by what
//!    the harness's messages say about it ([`read`]: instructions fade with distance,
//!    notes with age, and both weigh as much as they are specific), the finish share by a
//!    hazard that grows with the model's progress and with a visible effect of its last
//!    call, the loop share by greedy decoding. Under `decoding = constrained` a reply is
//!    always an offered call, but which one is the tier's own biased choice: the call it
//!    meant, the first offered, its own latest, or any.
//! 6. Side effects: an anti-repetition message makes it abandon correct actions; finish
//!    caution makes it check before finishing (a step); urgency makes it finish; it cannot
//!    write names it never saw; a reflection request makes it write its reflection before
//!    the call. At temperature 0 the reply depends on the prompt alone; a reply longer
//!    than `max_tokens` is cut.
//!
//! Token counts follow the runtime's estimate, latency grows with the reply's length.

pub mod read;

use std::fmt;

use serde_json::Value;

use crate::call::{ToolCall, ToolSpec};
use crate::ir::{Decoding, ParamIr, TypeIr};
use crate::message::{estimate_tokens, PER_MESSAGE_TOKENS};
use crate::models::{Model, ModelError, ModelRequest, ModelResponse};
use crate::parse::parse_call;

pub use read::{Reading, Topic};

/// The three tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Small,
    Medium,
    Large,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Small, Tier::Medium, Tier::Large];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Small => "small",
            Tier::Medium => "medium",
            Tier::Large => "large",
        }
    }

    /// `small`, `medium` or `large`.
    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    pub fn params(self) -> SimParams {
        match self {
            Tier::Small => SimParams::small(),
            Tier::Medium => SimParams::medium(),
            Tier::Large => SimParams::large(),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every parameter of a tier. docs/SIM_MODEL.md explains each one and the values chosen;
/// probabilities are per model call unless said otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    // --- competence ---
    /// Probability of the expert action in a short, clean context.
    pub competence: f64,
    /// Context size (prompt tokens) where long-context degradation starts.
    pub context_onset_tokens: u64,
    /// Competence lost per 1,000 prompt tokens above the onset.
    pub context_penalty_per_1k: f64,
    /// Competence never drops below this.
    pub competence_floor: f64,
    /// Added while one of its own plans (`plan_then_act`) is in the context.
    pub plan_bonus: f64,
    /// Added on a step where the harness asks it to reflect (`reflect`).
    pub reflect_bonus: f64,
    /// Added when the expert's call is written out verbatim in the current turn (e.g. a
    /// step prompt listing `{{admissible_actions}}`): copying is easier than composing.
    pub listed_bonus: f64,

    // --- failure kinds: relative weights sharing the mass 1 - competence ---
    /// The call inside a sentence (malformed; `repair extract_action` recovers it).
    pub w_prose: f64,
    /// A natural-language command like `open drawer` (malformed; `fuzzy_match` recovers it).
    pub w_bare: f64,
    /// Text with no call at all (malformed; only a re-ask helps).
    pub w_garbage: f64,
    /// Its own previous call again (a loop).
    pub w_loop: f64,
    /// `finish` before the goal holds, scaled by the finish hazard below.
    pub w_finish: f64,
    /// Loops feed themselves: the loop share is multiplied by `1 + loop_stickiness * k`
    /// when its last `k + 1` calls in the context are the same call.
    pub loop_stickiness: f64,
    /// Another admissible action it has seen (a wrong turn).
    pub w_wander: f64,
    /// Share of prose replies that name a second, different call too, which
    /// `extract_action` refuses to choose between.
    pub prose_ambiguous: f64,

    // --- the finish hazard: w_finish x (base + progress x p + effect x [last call did something]) ---
    /// The hazard with no progress.
    pub finish_base: f64,
    /// Added per unit of perceived progress (share of the goal's words its calls named).
    pub finish_progress: f64,
    /// Added when its last call visibly did something (the answer names its subject).
    pub finish_effect: f64,

    // --- forgetting the goal ---
    /// Probability of acting without the goal once the goal line has left the context...
    pub forget_base: f64,
    /// ...plus this per 1,000 prompt tokens...
    pub forget_per_1k: f64,
    /// ...capped here.
    pub forget_cap: f64,
    /// Share of forgetful replies that are a `finish` (the rest wander).
    pub forget_finish: f64,

    // --- tool errors ---
    /// Probability of mishandling a reported tool failure.
    pub error_mishandle: f64,
    /// Share of mishandled failures where retrying was right (a transient error) in which
    /// it gives up and finishes ("the API is down") instead of making a wrong turn.
    pub error_give_up: f64,

    // --- reading the harness (read.rs) ---
    /// A note's weight per turn of age: `note_decay^age`.
    pub note_decay: f64,
    /// A system instruction's weight falls as `exp(-tokens after it / this)`.
    pub instruction_reach_tokens: f64,
    /// A system instruction's weight at distance 0, relative to a fresh note's.
    pub instruction_strength: f64,
    /// A note with no topic words acts on its situation's topic at this share.
    pub generic_note_share: f64,
    /// Specificity of a sentence with no concrete reference (1 with two or more).
    pub spec_floor: f64,

    // --- what each topic does at full strength S = 1 (a share x (1 - (1 - factor) S)) ---
    /// Anti-repetition: the loop share's factor.
    pub loop_hint_factor: f64,
    /// Anti-repetition's cost: P(abandon the intended action) = this x S.
    pub hint_deviate: f64,
    /// Format: the malformed shares' factor.
    pub format_hint_factor: f64,
    /// Finish caution: the finish share's factor; it also checks before finishing with
    /// probability S.
    pub finish_hint_factor: f64,
    /// Error: `error_mishandle`'s factor.
    pub error_hint_factor: f64,
    /// Grounding: the wrong-turn share's factor.
    pub grounding_factor: f64,
    /// Urgency: the finish share x (1 + this x S)...
    pub urgency_finish: f64,
    /// ...and the wrong-turn share x (1 - this x S).
    pub urgency_focus: f64,

    // --- decoding settings ---
    /// The sampling temperature (times `top_p`) at which it does best.
    pub temp_ref: f64,
    /// Competence lost per unit of temperature above `temp_ref`.
    pub temp_penalty: f64,
    /// Below `temp_ref` the loop share grows by `1 + greedy_loop x (temp_ref - t) / temp_ref`.
    pub greedy_loop: f64,
    /// Under constrained decoding, a reply that would have been malformed is forced into
    /// one of the offered calls: the call it meant with this probability...
    pub cd_meant: f64,
    /// ...the first offered call with this one...
    pub cd_first: f64,
    /// ...its own latest offered call with this one, else any offered call.
    pub cd_recent: f64,

    // --- cost ---
    /// Fixed latency of a reply (virtual clock).
    pub latency_base_ms: u64,
    /// Latency per completion token.
    pub latency_per_token_ms: u64,
}

impl SimParams {
    pub fn small() -> Self {
        SimParams {
            competence: 0.35,
            context_onset_tokens: 500,
            context_penalty_per_1k: 0.12,
            competence_floor: 0.15,
            plan_bonus: 0.08,
            reflect_bonus: 0.06,
            listed_bonus: 0.10,
            w_prose: 0.30,
            w_bare: 0.10,
            w_garbage: 0.10,
            w_loop: 0.22,
            w_finish: 0.06,
            loop_stickiness: 1.5,
            w_wander: 0.16,
            prose_ambiguous: 0.15,
            forget_base: 0.30,
            forget_per_1k: 0.25,
            forget_cap: 0.80,
            forget_finish: 0.30,
            error_mishandle: 0.50,
            error_give_up: 0.50,
            ..SimParams::shared()
        }
        .with_reading(0.5, 400.0)
        .with_decoding(0.20, 0.25, 0.35, 0.25)
        .with_latency(150, 4)
        .with_deviation(0.10)
    }

    pub fn medium() -> Self {
        SimParams {
            competence: 0.60,
            context_onset_tokens: 1000,
            context_penalty_per_1k: 0.07,
            competence_floor: 0.30,
            plan_bonus: 0.05,
            reflect_bonus: 0.04,
            listed_bonus: 0.06,
            w_prose: 0.28,
            w_bare: 0.08,
            w_garbage: 0.06,
            w_loop: 0.22,
            w_finish: 0.08,
            loop_stickiness: 1.0,
            w_wander: 0.22,
            prose_ambiguous: 0.10,
            forget_base: 0.20,
            forget_per_1k: 0.15,
            forget_cap: 0.60,
            forget_finish: 0.30,
            error_mishandle: 0.35,
            error_give_up: 0.50,
            ..SimParams::shared()
        }
        .with_reading(0.6, 800.0)
        .with_decoding(0.15, 0.45, 0.25, 0.15)
        .with_latency(300, 8)
        .with_deviation(0.20)
    }

    pub fn large() -> Self {
        SimParams {
            competence: 0.85,
            context_onset_tokens: 2500,
            context_penalty_per_1k: 0.03,
            competence_floor: 0.50,
            plan_bonus: 0.02,
            reflect_bonus: 0.01,
            listed_bonus: 0.02,
            w_prose: 0.25,
            w_bare: 0.05,
            w_garbage: 0.02,
            w_loop: 0.20,
            w_finish: 0.10,
            loop_stickiness: 0.5,
            w_wander: 0.35,
            prose_ambiguous: 0.05,
            forget_base: 0.10,
            forget_per_1k: 0.05,
            forget_cap: 0.30,
            forget_finish: 0.30,
            error_mishandle: 0.15,
            error_give_up: 0.50,
            ..SimParams::shared()
        }
        .with_reading(0.7, 1600.0)
        .with_decoding(0.10, 0.65, 0.15, 0.10)
        .with_latency(600, 16)
        // Large models follow instructions literally: told to "try something different",
        // they do, even when they were right.
        .with_deviation(0.35)
    }

    /// The values every tier shares (the tier constructors override the rest).
    fn shared() -> Self {
        SimParams {
            competence: 0.5,
            context_onset_tokens: 1000,
            context_penalty_per_1k: 0.0,
            competence_floor: 0.0,
            plan_bonus: 0.0,
            reflect_bonus: 0.0,
            listed_bonus: 0.0,
            w_prose: 0.0,
            w_bare: 0.0,
            w_garbage: 0.0,
            w_loop: 0.0,
            w_finish: 0.0,
            loop_stickiness: 0.0,
            w_wander: 0.0,
            prose_ambiguous: 0.0,
            finish_base: 0.4,
            finish_progress: 1.2,
            finish_effect: 0.4,
            forget_base: 0.0,
            forget_per_1k: 0.0,
            forget_cap: 0.0,
            forget_finish: 0.3,
            error_mishandle: 0.0,
            error_give_up: 0.5,
            note_decay: 0.5,
            instruction_reach_tokens: 400.0,
            instruction_strength: 0.5,
            generic_note_share: 0.4,
            spec_floor: 0.6,
            loop_hint_factor: 0.30,
            hint_deviate: 0.0,
            format_hint_factor: 0.30,
            finish_hint_factor: 0.25,
            error_hint_factor: 0.50,
            grounding_factor: 0.60,
            urgency_finish: 2.0,
            urgency_focus: 0.3,
            temp_ref: 0.3,
            temp_penalty: 0.0,
            greedy_loop: 0.8,
            cd_meant: 0.0,
            cd_first: 0.0,
            cd_recent: 0.0,
            latency_base_ms: 0,
            latency_per_token_ms: 0,
        }
    }

    fn with_reading(mut self, note_decay: f64, reach: f64) -> Self {
        self.note_decay = note_decay;
        self.instruction_reach_tokens = reach;
        self
    }

    fn with_decoding(mut self, temp_penalty: f64, meant: f64, first: f64, recent: f64) -> Self {
        self.temp_penalty = temp_penalty;
        self.cd_meant = meant;
        self.cd_first = first;
        self.cd_recent = recent;
        self
    }

    fn with_latency(mut self, base: u64, per_token: u64) -> Self {
        self.latency_base_ms = base;
        self.latency_per_token_ms = per_token;
        self
    }

    fn with_deviation(mut self, p: f64) -> Self {
        self.hint_deviate = p;
        self
    }

    /// How [`Reading::of`] reads messages for this tier.
    pub fn read_params(&self) -> read::ReadParams {
        read::ReadParams {
            note_decay: self.note_decay,
            instruction_reach_tokens: self.instruction_reach_tokens,
            instruction_strength: self.instruction_strength,
            generic_note_share: self.generic_note_share,
            spec_floor: self.spec_floor,
        }
    }

    /// Competence for a request with reading `r` at effective temperature `temp` (step 2
    /// of the policy).
    pub fn effective_competence(&self, r: &Reading, temp: f64) -> f64 {
        let over = r.tokens.saturating_sub(self.context_onset_tokens) as f64 / 1000.0;
        let mut p = self.competence - self.context_penalty_per_1k * over;
        if r.plan_in_context {
            p += self.plan_bonus;
        }
        if r.reflect_now {
            p += self.reflect_bonus;
        }
        if r.expert_listed {
            p += self.listed_bonus;
        }
        p -= self.temp_penalty * (temp - self.temp_ref).max(0.0);
        clamp01(p.max(self.competence_floor))
    }

    /// Probability of acting without the goal for reading `r` (0 while the goal line is
    /// in the context).
    pub fn forget_probability(&self, r: &Reading) -> f64 {
        if r.goal_present {
            return 0.0;
        }
        let p = self.forget_base + self.forget_per_1k * r.tokens as f64 / 1000.0;
        clamp01(p.min(self.forget_cap))
    }

    /// The premature-finish hazard's multiplier of `w_finish` in state `r`.
    pub fn finish_hazard(&self, r: &Reading) -> f64 {
        let effect = if r.last_effect {
            self.finish_effect
        } else {
            0.0
        };
        (self.finish_base + self.finish_progress * r.progress + effect).max(0.0)
    }

    /// `1 - (1 - factor) * strength`: a share's multiplier under a hint of `strength`.
    fn damp(factor: f64, strength: f64) -> f64 {
        1.0 - (1.0 - clamp01(factor)) * clamp01(strength)
    }
}

/// docs/SIM_MODEL.md's parameter table: every parameter of every tier with its meaning.
pub fn parameter_table() -> String {
    fn fmt_num(x: f64) -> String {
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            let s = format!("{x:.3}");
            s.trim_end_matches('0').to_string()
        }
    }
    fn rows(p: &SimParams) -> Vec<(&'static str, &'static str, String)> {
        vec![
            (
                "competence",
                "P(expert action) in a short clean context",
                fmt_num(p.competence),
            ),
            (
                "context_onset_tokens",
                "prompt size where degradation starts",
                fmt_num(p.context_onset_tokens as f64),
            ),
            (
                "context_penalty_per_1k",
                "competence lost per 1k tokens beyond the onset",
                fmt_num(p.context_penalty_per_1k),
            ),
            (
                "competence_floor",
                "lower bound",
                fmt_num(p.competence_floor),
            ),
            (
                "plan_bonus",
                "while its plan is in the context",
                fmt_num(p.plan_bonus),
            ),
            (
                "reflect_bonus",
                "on a step asking for reflection",
                fmt_num(p.reflect_bonus),
            ),
            (
                "listed_bonus",
                "expert call listed verbatim in the current turn",
                fmt_num(p.listed_bonus),
            ),
            (
                "w_prose",
                "failure weight: call in prose",
                fmt_num(p.w_prose),
            ),
            (
                "w_bare",
                "failure weight: natural-language command",
                fmt_num(p.w_bare),
            ),
            ("w_garbage", "failure weight: no call", fmt_num(p.w_garbage)),
            (
                "w_loop",
                "failure weight: previous call again",
                fmt_num(p.w_loop),
            ),
            (
                "w_finish",
                "failure weight: premature finish (times the hazard)",
                fmt_num(p.w_finish),
            ),
            (
                "loop_stickiness",
                "loop weight × (1 + this × repeats so far)",
                fmt_num(p.loop_stickiness),
            ),
            (
                "w_wander",
                "failure weight: wrong turn",
                fmt_num(p.w_wander),
            ),
            (
                "prose_ambiguous",
                "prose naming two calls",
                fmt_num(p.prose_ambiguous),
            ),
            (
                "finish_base",
                "finish hazard with no progress",
                fmt_num(p.finish_base),
            ),
            (
                "finish_progress",
                "hazard added per unit of progress",
                fmt_num(p.finish_progress),
            ),
            (
                "finish_effect",
                "hazard added when its last call did something",
                fmt_num(p.finish_effect),
            ),
            (
                "forget_base",
                "forgetting once the goal is gone…",
                fmt_num(p.forget_base),
            ),
            (
                "forget_per_1k",
                "…plus this per 1k tokens…",
                fmt_num(p.forget_per_1k),
            ),
            ("forget_cap", "…capped", fmt_num(p.forget_cap)),
            (
                "forget_finish",
                "share of forgetful replies that finish",
                fmt_num(p.forget_finish),
            ),
            (
                "error_mishandle",
                "P(mishandle a reported failure)",
                fmt_num(p.error_mishandle),
            ),
            (
                "error_give_up",
                "share of mishandled transient failures where it gives up",
                fmt_num(p.error_give_up),
            ),
            (
                "note_decay",
                "a note's weight per turn of age",
                fmt_num(p.note_decay),
            ),
            (
                "instruction_reach_tokens",
                "a system instruction fades as exp(−tokens after it / this)",
                fmt_num(p.instruction_reach_tokens),
            ),
            (
                "instruction_strength",
                "a system instruction's weight at distance 0",
                fmt_num(p.instruction_strength),
            ),
            (
                "generic_note_share",
                "a note with no topic words, on its situation's topic",
                fmt_num(p.generic_note_share),
            ),
            (
                "spec_floor",
                "specificity of a sentence naming nothing concrete",
                fmt_num(p.spec_floor),
            ),
            (
                "loop_hint_factor",
                "loop share at S_loop = 1",
                fmt_num(p.loop_hint_factor),
            ),
            (
                "hint_deviate",
                "P(abandon the intended action) at S_loop = 1",
                fmt_num(p.hint_deviate),
            ),
            (
                "format_hint_factor",
                "malformed shares at S_format = 1",
                fmt_num(p.format_hint_factor),
            ),
            (
                "finish_hint_factor",
                "finish share at S_finish = 1",
                fmt_num(p.finish_hint_factor),
            ),
            (
                "error_hint_factor",
                "error_mishandle at S_error = 1",
                fmt_num(p.error_hint_factor),
            ),
            (
                "grounding_factor",
                "wrong-turn share at S_grounding = 1",
                fmt_num(p.grounding_factor),
            ),
            (
                "urgency_finish",
                "finish share × (1 + this × S_urgency)",
                fmt_num(p.urgency_finish),
            ),
            (
                "urgency_focus",
                "wrong-turn share × (1 − this × S_urgency)",
                fmt_num(p.urgency_focus),
            ),
            (
                "temp_ref",
                "effective temperature where it does best",
                fmt_num(p.temp_ref),
            ),
            (
                "temp_penalty",
                "competence lost per unit of temperature above temp_ref",
                fmt_num(p.temp_penalty),
            ),
            (
                "greedy_loop",
                "loop growth below temp_ref",
                fmt_num(p.greedy_loop),
            ),
            (
                "cd_meant",
                "constrained: P(the call it meant)",
                fmt_num(p.cd_meant),
            ),
            (
                "cd_first",
                "constrained: P(the first offered call)",
                fmt_num(p.cd_first),
            ),
            (
                "cd_recent",
                "constrained: P(its own latest offered call)",
                fmt_num(p.cd_recent),
            ),
            (
                "latency_base_ms",
                "per reply",
                fmt_num(p.latency_base_ms as f64),
            ),
            (
                "latency_per_token_ms",
                "per completion token",
                fmt_num(p.latency_per_token_ms as f64),
            ),
        ]
    }
    let [s, m, l] = Tier::ALL.map(|t| rows(&t.params()));
    let mut out =
        String::from("| parameter | small | medium | large | meaning |\n|---|---|---|---|---|\n");
    for ((name, meaning, a), ((_, _, b), (_, _, c))) in s.into_iter().zip(m.into_iter().zip(l)) {
        out.push_str(&format!("| `{name}` | {a} | {b} | {c} | {meaning} |\n"));
    }
    out
}

/// The temperature that matters: `temperature x top_p` (a narrower nucleus samples less).
pub fn effective_temperature(req: &ModelRequest) -> f64 {
    let t = if req.temperature.is_finite() {
        req.temperature.max(0.0)
    } else {
        0.0
    };
    t * req
        .top_p
        .filter(|p| p.is_finite())
        .map_or(1.0, |p| p.clamp(0.0, 1.0))
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// What the model decided to do this turn, before it is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Expert,
    Prose,
    Bare,
    Garbage,
    Loop,
    Finish,
    Wander,
    /// Call a checking tool before finishing.
    Verify,
    /// Under constrained decoding, a reply that would have been malformed, forced into one
    /// of the offered calls by the tier's own biases; `meant` when it had a call in mind
    /// (prose, bare), not when it had none (garbage).
    Forced {
        meant: bool,
    },
}

/// A simulated model of one tier. Use one instance per episode, or [`SimModel::reset`].
#[derive(Debug, Clone)]
pub struct SimModel {
    pub tier: Tier,
    pub params: SimParams,
    /// Mixed into every request seed; 0 keeps the engine's per-call seeds.
    pub seed: u64,
    /// The goal line read at the start of the episode.
    goal: Option<String>,
}

impl SimModel {
    pub fn new(tier: Tier) -> Self {
        SimModel {
            tier,
            params: tier.params(),
            seed: 0,
            goal: None,
        }
    }

    /// A model with hand-set parameters (for experiments; the name keeps the tier).
    pub fn with_params(tier: Tier, params: SimParams) -> Self {
        SimModel {
            params,
            ..SimModel::new(tier)
        }
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// `sim:small` etc. Always contains `sim`.
    pub fn name(&self) -> String {
        format!("sim:{}", self.tier)
    }

    /// Always true: output of this model is simulated and must be labelled so.
    pub fn is_simulated(&self) -> bool {
        true
    }

    /// Forget the episode's goal (start of a new episode).
    pub fn reset(&mut self) {
        self.goal = None;
    }

    /// How this model reads `req` (what the policy depends on).
    pub fn read(&mut self, req: &ModelRequest) -> Reading {
        self.note_goal(req);
        let expert_text = expert_text(req);
        Reading::of(
            req,
            self.goal.as_deref(),
            expert_text.as_deref(),
            &self.params.read_params(),
        )
    }

    fn note_goal(&mut self, req: &ModelRequest) {
        // A request without any reply of the model's is the start of an episode (or a
        // context compacted to nothing, where re-reading gives the same or no goal).
        let fresh = !req
            .messages
            .iter()
            .any(|m| m.role == crate::message::Role::Assistant);
        if fresh || self.goal.is_none() {
            self.goal = read::goal_line(req);
        }
    }

    /// The reply text for `req` (the whole policy; see the module docs).
    pub fn reply(&mut self, req: &ModelRequest) -> String {
        let r = self.read(req);
        let p = &self.params;
        let temp = effective_temperature(req);
        let mut rng = Rng(self.stream_seed(req, temp));
        let text = if r.plan_requested {
            plan_text(self.goal.as_deref())
        } else {
            let w = World::new(req);
            let intent = self.intent(&r, &w, temp, &mut rng);
            let goal = self.goal.as_deref().unwrap_or("");
            let text = w.write(intent, &r, &mut rng, p, goal);
            if r.reflect_now
                && req.decoding == Decoding::Free
                && parse_call(&text, &req.tools).is_ok()
            {
                // Asked to reflect, it writes the reflection first: the reply is no longer
                // a bare call, so only a repair recovers it.
                format!(
                    "Reflection: {} actions so far and the goal is not reached yet; I will keep going. Next action: {text}",
                    r.calls.len()
                )
            } else {
                text
            }
        };
        truncate_to_tokens(text, req.max_tokens)
    }

    /// The seed of this request's draws. At temperature 0 decoding is greedy: the reply
    /// depends on the prompt alone, so the same prompt gets the same reply whatever the
    /// episode seed (no sampling variance); otherwise on the request's own seed.
    fn stream_seed(&self, req: &ModelRequest, temp: f64) -> u64 {
        let base = if temp <= 0.0 {
            let mut h = crate::rng::hash_str(0x67_7265_6564_7921, "");
            for m in &req.messages {
                h = crate::rng::hash_str(h, &m.content);
            }
            h
        } else {
            req.seed
        };
        base ^ self.seed ^ tier_salt(self.tier)
    }

    fn intent(&self, r: &Reading, w: &World, temp: f64, rng: &mut Rng) -> Intent {
        let p = &self.params;
        let h = &r.hints;
        let (u_forget, u_split, u_err, u_main, u_dev, u_verify) = (
            rng.unit(),
            rng.unit(),
            rng.unit(),
            rng.unit(),
            rng.unit(),
            rng.unit(),
        );
        let mishandle =
            p.error_mishandle * SimParams::damp(p.error_hint_factor, h.get(Topic::Error));
        let mut intent = if u_forget < p.forget_probability(r) {
            if u_split < p.forget_finish {
                Intent::Finish
            } else {
                Intent::Wander
            }
        } else if r.last_error && r.last_call().is_some() && u_err < mishandle {
            // Retrying was right when the expert would repeat the failed call.
            if r.last_call() == w.expert.as_ref() {
                if u_split < p.error_give_up {
                    Intent::Finish
                } else {
                    Intent::Wander
                }
            } else {
                Intent::Loop
            }
        } else {
            self.draw(r, u_main, w.constrained, temp)
        };
        if u_dev < p.hint_deviate * h.get(Topic::Loop)
            && matches!(intent, Intent::Expert | Intent::Loop)
        {
            intent = Intent::Wander;
        }
        if matches!(intent, Intent::Expert | Intent::Finish)
            && u_verify < h.get(Topic::FinishCaution)
            && w.verify_tool.is_some()
            && (intent == Intent::Finish || w.expert_is_finish())
            && !r.last_call().is_some_and(|c| w.is_verify(c))
        {
            intent = Intent::Verify;
        }
        if intent == Intent::Expert && !w.expert.as_ref().is_some_and(|e| w.can_write(e, r)) {
            // It cannot name what it has not seen (or there is no expert to follow).
            intent = Intent::Wander;
        }
        intent
    }

    /// Step 5 of the policy: one draw over expert and failure kinds.
    fn draw(&self, r: &Reading, u: f64, constrained: bool, temp: f64) -> Intent {
        let p = &self.params;
        let h = &r.hints;
        let competence = p.effective_competence(r, temp);
        if u < competence {
            return Intent::Expert;
        }
        let fmt = SimParams::damp(p.format_hint_factor, h.get(Topic::Format));
        let greedy = if p.temp_ref > 0.0 {
            1.0 + p.greedy_loop.max(0.0) * ((p.temp_ref - temp).max(0.0) / p.temp_ref)
        } else {
            1.0
        };
        let urgency = h.get(Topic::Urgency);
        let sticky = p.w_loop * (1.0 + p.loop_stickiness.max(0.0) * r.repeat_run() as f64);
        // (kind, weight, multiplier): the weights share the failure mass as before (a
        // sticky loop takes it from the other failures); the multipliers — a harness
        // message's damping, the state's finish hazard, greedy decoding's loops — then
        // move mass between that failure and the expert action.
        let kinds = [
            (Intent::Prose, p.w_prose, fmt),
            (Intent::Bare, p.w_bare, fmt),
            (Intent::Garbage, p.w_garbage, fmt),
            (
                Intent::Loop,
                sticky,
                greedy * SimParams::damp(p.loop_hint_factor, h.get(Topic::Loop)),
            ),
            (
                Intent::Finish,
                p.w_finish,
                p.finish_hazard(r)
                    * (1.0 + p.urgency_finish.max(0.0) * urgency)
                    * SimParams::damp(p.finish_hint_factor, h.get(Topic::FinishCaution)),
            ),
            (
                Intent::Wander,
                p.w_wander,
                SimParams::damp(p.grounding_factor, h.get(Topic::Grounding))
                    * (1.0 - clamp01(p.urgency_focus) * urgency),
            ),
        ];
        let weight = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let total: f64 = kinds.iter().map(|(_, w, _)| weight(*w)).sum();
        if total <= 0.0 {
            return Intent::Expert;
        }
        let shares: Vec<f64> = kinds
            .iter()
            .map(|(_, w, m)| weight(*w) / total * weight(*m))
            .collect();
        // Multipliers above 1 can ask for more than the failure mass: scale back to it.
        let scale = 1.0 / shares.iter().sum::<f64>().max(1.0);
        let mut at = competence;
        for ((kind, _, _), share) in kinds.iter().zip(&shares) {
            at += (1.0 - competence) * share * scale;
            if u < at {
                return match (kind, constrained) {
                    // The schema forces a call: which one is the tier's own biased choice.
                    (Intent::Prose | Intent::Bare, true) => Intent::Forced { meant: true },
                    (Intent::Garbage, true) => Intent::Forced { meant: false },
                    _ => *kind,
                };
            }
        }
        // The mass a harness message took away from a failure goes to the expert action.
        Intent::Expert
    }
}

/// The expert's call in the harness's own syntax, as it would be listed.
fn expert_text(req: &ModelRequest) -> Option<String> {
    req.expert.as_ref().map(|e| {
        let e = normalize(e, &req.tools);
        let params = req.tools.iter().find(|t| t.name == e.tool);
        e.render(params.map(|t| t.params.as_slice()))
    })
}

/// A reply longer than `max_tokens` (under the runtime's estimate, 4 characters a token)
/// is cut there, as a server cuts a completion: a call cut in the middle no longer parses.
fn truncate_to_tokens(text: String, max_tokens: u32) -> String {
    let limit = (max_tokens as usize).saturating_mul(4);
    if text.chars().count() <= limit {
        return text;
    }
    text.chars().take(limit).collect()
}

impl Model for SimModel {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let text = self.reply(req);
        let completion_tokens = estimate_tokens(&text).saturating_sub(PER_MESSAGE_TOKENS);
        Ok(ModelResponse {
            prompt_tokens: crate::models::request_tokens(req),
            completion_tokens,
            latency_ms: self.params.latency_base_ms.saturating_add(
                self.params
                    .latency_per_token_ms
                    .saturating_mul(completion_tokens),
            ),
            text,
        })
    }
}

/// What the model can act with in this request: the declared tools, the admissible
/// actions it can see, the expert action in the harness's own tool syntax.
struct World<'q> {
    tools: &'q [ToolSpec],
    constrained: bool,
    expert: Option<ToolCall>,
    finish_tool: Option<&'q ToolSpec>,
    verify_tool: Option<&'q ToolSpec>,
    /// Admissible actions that parse against the declared tools, in the env's order.
    admissible: Vec<ToolCall>,
}

impl<'q> World<'q> {
    fn new(req: &'q ModelRequest) -> Self {
        let tools = req.tools.as_slice();
        let find = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| tools.iter().find(|t| t.name == *n))
        };
        World {
            tools,
            constrained: req.decoding == Decoding::Constrained,
            expert: req.expert.as_ref().map(|e| normalize(e, tools)),
            finish_tool: find(read::FINISH_TOOLS),
            verify_tool: find(read::VERIFY_TOOLS),
            admissible: req
                .admissible
                .iter()
                .filter_map(|a| parse_call(a, tools).ok())
                .collect(),
        }
    }

    fn expert_is_finish(&self) -> bool {
        self.expert.as_ref().is_some_and(|e| e.tool == "finish")
    }

    fn is_verify(&self, c: &ToolCall) -> bool {
        self.verify_tool.is_some_and(|t| t.name == c.tool)
    }

    fn params_of(&self, tool: &str) -> Option<&'q [ParamIr]> {
        self.tools
            .iter()
            .find(|t| t.name == tool)
            .map(|t| t.params.as_slice())
    }

    fn text(&self, c: &ToolCall) -> String {
        c.render(self.params_of(&c.tool))
    }

    /// A `finish` call the declared tool accepts (required arguments filled in), or, when
    /// the harness declares no finishing tool, the words of one who thinks it is done.
    fn finish_text(&self) -> String {
        match self.finish_tool {
            Some(t) => self.text(&fill_required(ToolCall::new(&t.name), &t.params, "done")),
            None => DONE_WITHOUT_TOOL.to_string(),
        }
    }

    /// A wrong turn: an admissible action it has seen, other than the expert's, its
    /// previous call, and `finish` (finishing is a failure of its own). Where the
    /// environment lists no actions (an API), a wrong turn goes back to one of its own
    /// earlier calls, under the same exclusions.
    fn wander(&self, r: &Reading, u: f64) -> Option<ToolCall> {
        let not = |c: &ToolCall| {
            Some(c) != self.expert.as_ref() && c.tool != "finish" && Some(c) != r.last_call()
        };
        if self.admissible.is_empty() {
            let mut pool: Vec<&ToolCall> = Vec::new();
            for c in r.calls.iter().filter(|c| not(c)) {
                if !pool.contains(&c) {
                    pool.push(c);
                }
            }
            return pick(&pool, u).map(|c| (*c).clone());
        }
        let mut pool: Vec<&ToolCall> = self
            .admissible
            .iter()
            .filter(|c| not(c) && (self.constrained || r.grounded(c)))
            .collect();
        if pool.is_empty() {
            pool = self.admissible.iter().filter(|c| not(c)).collect();
        }
        pick(&pool, u).map(|c| (*c).clone())
    }

    /// The expert's call can be written: its names are grounded in the context, or, under
    /// constrained decoding, it is one of the listed admissible actions.
    fn can_write(&self, e: &ToolCall, r: &Reading) -> bool {
        r.grounded(e) || (self.constrained && self.admissible.contains(e))
    }

    /// The thing a call names, for checking it: its first string argument that is a name —
    /// not one of an `enum`'s choices (a channel, a mode) and not composed text (a query,
    /// a message).
    fn subject<'c>(&self, c: &'c ToolCall) -> Option<&'c str> {
        let params = self.params_of(&c.tool).unwrap_or(&[]);
        c.args.iter().find_map(|a| {
            let s = a.value.as_str()?;
            let choice = params
                .iter()
                .any(|p| p.name == a.name && matches!(p.ty, TypeIr::Enum(_)));
            let composed = s.split_whitespace().count() >= read::COMPOSED_WORDS;
            (!choice && !composed).then_some(s)
        })
    }

    /// A wrong turn with nothing to turn to (no listed actions, no calls of its own yet),
    /// when the decoding forces a call: the expert's tool (or the first declared tool that
    /// is not `finish`) with the task text in every required argument — the whole task
    /// pasted into a search box, say.
    fn guess(&self, goal: &str) -> Option<ToolCall> {
        let tool = self
            .expert
            .as_ref()
            .filter(|e| e.tool != "finish")
            .and_then(|e| self.tools.iter().find(|t| t.name == e.tool))
            .or_else(|| self.tools.iter().find(|t| t.name != "finish"))?;
        Some(fill_required(ToolCall::new(&tool.name), &tool.params, goal))
    }

    /// The reply for `intent`. Under constrained decoding with a list of offered calls, a
    /// call outside the list cannot be written: the grammar forces one of the list instead
    /// (the tier's biased choice, with no call in mind).
    fn write(
        &self,
        intent: Intent,
        r: &Reading,
        rng: &mut Rng,
        p: &SimParams,
        goal: &str,
    ) -> String {
        let (u_force, u_which) = (rng.unit(), rng.unit());
        let text = self.write_intent(intent, r, rng, p, goal);
        if !self.constrained || self.admissible.is_empty() {
            return text;
        }
        match parse_call(&text, self.tools) {
            Ok(c) if self.admissible.contains(&c) => text,
            _ => match self.forced(r, None, p, u_force, u_which, goal) {
                Some(c) => self.text(&c),
                None => text,
            },
        }
    }

    fn write_intent(
        &self,
        intent: Intent,
        r: &Reading,
        rng: &mut Rng,
        p: &SimParams,
        goal: &str,
    ) -> String {
        let (u_pick, u_style, u_amb) = (rng.unit(), rng.unit(), rng.unit());
        // The call it means: the expert's if it has seen every name in it, else a guess.
        let meant = match &self.expert {
            Some(e) if self.can_write(e, r) => Some(e.clone()),
            Some(_) => self.wander(r, u_pick),
            None => None,
        };
        let expert_text = || match &meant {
            Some(c) => self.text(c),
            None => self.finish_text(),
        };
        match intent {
            Intent::Expert => expert_text(),
            Intent::Prose => {
                let c = expert_text();
                let other = self.wander(r, u_pick).map(|w| self.text(&w));
                match other {
                    Some(o) if u_amb < p.prose_ambiguous => {
                        format!("I could try {o} or {c}. I think {c} is better.")
                    }
                    _ => pick(PROSE, u_style)
                        .map(|t| t.replace("{c}", &c))
                        .unwrap_or(c),
                }
            }
            Intent::Bare => match &meant {
                Some(c) => bare(c),
                None => DONE_WITHOUT_TOOL.to_string(),
            },
            Intent::Garbage => pick(GARBAGE, u_style)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            Intent::Loop => match r.last_call().or(meant.as_ref()) {
                Some(c) => self.text(c),
                None => self.finish_text(),
            },
            Intent::Finish => self.finish_text(),
            Intent::Wander => match self.wander(r, u_pick) {
                Some(c) => self.text(&c),
                None => match r.last_call() {
                    Some(c) => self.text(c),
                    None => match self.guess(goal).filter(|_| self.constrained) {
                        Some(c) => self.text(&c),
                        None => pick(GARBAGE, u_style)
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                    },
                },
            },
            Intent::Forced { meant: had_one } => {
                let m = meant.clone().filter(|_| had_one);
                match self.forced(r, m, p, u_style, u_pick, goal) {
                    Some(c) => self.text(&c),
                    None => expert_text(),
                }
            }
            Intent::Verify => match self.verify_tool {
                Some(t) => {
                    let subject = r
                        .calls
                        .iter()
                        .rev()
                        .find_map(|c| self.subject(c))
                        .unwrap_or("room")
                        .to_string();
                    self.text(&fill_required(ToolCall::new(&t.name), &t.params, &subject))
                }
                None => expert_text(),
            },
        }
    }

    /// The call constrained decoding forces out of a reply that would have been malformed:
    /// the one it meant with `cd_meant`, the first offered with `cd_first`, its own latest
    /// call that is offered again with `cd_recent`, else any offered call (`u` picks which
    /// and `v` which of several). Where the environment offers no list, the schema still
    /// admits every declared tool: "first" is the first declared tool other than
    /// `finish` with the task text as its arguments, "any" one of its own earlier calls.
    fn forced(
        &self,
        r: &Reading,
        meant: Option<ToolCall>,
        p: &SimParams,
        u: f64,
        v: f64,
        goal: &str,
    ) -> Option<ToolCall> {
        let (m, f, rc) = (
            clamp01(p.cd_meant),
            clamp01(p.cd_first),
            clamp01(p.cd_recent),
        );
        // With no call in mind, the meant share is spread over the others in proportion.
        let (meant_p, first_p, recent_p) = match &meant {
            Some(_) => (m, f, rc),
            None if m < 1.0 => (0.0, f / (1.0 - m), rc / (1.0 - m)),
            None => (0.0, 0.5, 0.5),
        };
        let own_offered = || {
            r.calls
                .iter()
                .rev()
                .find(|c| self.admissible.is_empty() || self.admissible.contains(c))
                .cloned()
        };
        if u < meant_p {
            return meant;
        }
        if u < meant_p + first_p {
            return match self.admissible.first() {
                Some(c) => Some(c.clone()),
                None => self.guess(goal),
            };
        }
        if u < meant_p + first_p + recent_p {
            if let Some(c) = own_offered() {
                return Some(c);
            }
        }
        if self.admissible.is_empty() {
            let own: Vec<&ToolCall> = r.calls.iter().collect();
            return pick(&own, v)
                .map(|c| (*c).clone())
                .or_else(|| self.guess(goal));
        }
        pick(&self.admissible, v).cloned()
    }
}

/// The expert's call with its arguments in the declared tool's parameter order, so the
/// text the model writes is the canonical one.
fn normalize(e: &ToolCall, tools: &[ToolSpec]) -> ToolCall {
    let Some(t) = tools.iter().find(|t| t.name == e.tool) else {
        return e.clone();
    };
    let mut out = ToolCall::new(&e.tool);
    for p in &t.params {
        if let Some(v) = e.get(&p.name) {
            out = out.arg(&p.name, v.clone());
        }
    }
    // Arguments the declared tool lacks are kept, so the call stays the expert's (and
    // fails to parse, as a real model's would against the wrong schema).
    for a in &e.args {
        if out.get(&a.name).is_none() {
            out = out.arg(&a.name, a.value.clone());
        }
    }
    out
}

fn fill_required(mut c: ToolCall, params: &[ParamIr], text: &str) -> ToolCall {
    for p in params {
        let v = match &p.ty {
            TypeIr::Optional(_) => continue,
            TypeIr::String | TypeIr::Duration => Value::from(text),
            TypeIr::Int | TypeIr::Tokens => Value::from(0),
            TypeIr::Float => Value::from(0.0),
            TypeIr::Bool => Value::from(true),
            TypeIr::Enum(vs) => Value::from(vs.first().cloned().unwrap_or_default()),
            TypeIr::List(_) => Value::Array(Vec::new()),
        };
        c = c.arg(&p.name, v);
    }
    c
}

/// `take key` for `take("key")`: what a model that ignores the call syntax writes.
fn bare(c: &ToolCall) -> String {
    let mut parts = vec![c.tool.clone()];
    parts.extend(c.args.iter().map(|a| match a.value.as_str() {
        Some(s) => s.to_string(),
        None => a.value.to_string(),
    }));
    parts.join(" ")
}

fn plan_text(goal: Option<&str>) -> String {
    let goal = goal.unwrap_or("the task");
    format!(
        "{PLAN}\n1. Look at what is around and find what the goal needs: {goal}\n2. Get it there one action at a time, opening what is closed.\n3. Check that the goal holds, then finish.",
        PLAN = read::PLAN_PREFIX
    )
}

const PROSE: &[&str] = &[
    "I think the best next move is {c} because it gets me closer to the goal.",
    "Let me try {c} now.",
    "Action: {c}",
    "Based on what I see, I should do {c}.",
];

/// What it writes when it believes it is done and the harness gives it no tool to say so.
const DONE_WITHOUT_TOOL: &str = "I have done everything the task asks.";

const GARBAGE: &[&str] = &[
    "Hmm, let me think about what to do here.",
    "I am not sure what the next step should be.",
    "The room looks interesting. There are several things I could do.",
];

fn pick<T>(xs: &[T], u: f64) -> Option<&T> {
    if xs.is_empty() {
        return None;
    }
    let i = ((u * xs.len() as f64) as usize).min(xs.len() - 1);
    xs.get(i)
}

/// Distinct streams per tier, so two tiers on one episode do not share draws.
fn tier_salt(t: Tier) -> u64 {
    match t {
        Tier::Small => 0x5111_5111_0000_0001,
        Tier::Medium => 0x5111_5111_0000_0002,
        Tier::Large => 0x5111_5111_0000_0003,
    }
}

/// The model's only randomness: a SplitMix64 stream ([`crate::rng`]).
struct Rng(u64);

impl Rng {
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        crate::rng::unit(crate::rng::next(&mut self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ParamIr;
    use crate::message::{Message, Role};
    use crate::repair::extract_action;

    fn tools() -> Vec<ToolSpec> {
        let s = |n: &str| ParamIr::new(n, TypeIr::String);
        let spec = |name: &str, params| ToolSpec {
            name: name.into(),
            description: String::new(),
            params,
        };
        vec![
            spec("open", vec![s("target")]),
            spec("take", vec![s("object")]),
            spec("examine", vec![s("target")]),
            spec(
                "finish",
                vec![ParamIr::new(
                    "answer",
                    TypeIr::Optional(Box::new(TypeIr::String)),
                )],
            ),
        ]
    }

    fn msg(role: Role, content: &str) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }

    /// A mid-episode request: goal, one earlier call, a new observation, then `extra`.
    fn req(seed: u64, extra: &[Message]) -> ModelRequest {
        let mut messages = vec![
            msg(
                Role::System,
                "You are an agent. Your goal: reach the garden.",
            ),
            msg(Role::User, "You see a drawer, a box and a key."),
            msg(Role::Assistant, r#"open("box")"#),
            msg(Role::User, "You open the box. Inside you see nothing."),
        ];
        messages.extend_from_slice(extra);
        ModelRequest {
            messages,
            tools: tools(),
            temperature: 0.2,
            max_tokens: 64,
            top_p: None,
            decoding: Decoding::Free,
            seed,
            admissible: vec![
                r#"open("drawer")"#.into(),
                r#"take("key")"#.into(),
                r#"examine("box")"#.into(),
                "finish()".into(),
            ],
            expert: Some(ToolCall::new("open").arg("target", "drawer")),
        }
    }

    /// Share of `n` seeds whose reply satisfies `f`.
    fn share(
        tier: Tier,
        n: u64,
        mk: impl Fn(u64) -> ModelRequest,
        f: impl Fn(&str) -> bool,
    ) -> f64 {
        let hits = (0..n)
            .filter(|s| {
                let mut m = SimModel::new(tier);
                f(&m.reply(&mk(*s)))
            })
            .count();
        hits as f64 / n as f64
    }

    const EXPERT: &str = r#"open("drawer")"#;

    #[test]
    fn names_say_simulated() {
        for t in Tier::ALL {
            let m = SimModel::new(t);
            assert!(m.name().contains("sim") && m.is_simulated());
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        assert_eq!(Tier::parse("huge"), None);
    }

    #[test]
    fn deterministic_per_seed() {
        for t in Tier::ALL {
            let a: Vec<String> = (0..50)
                .map(|s| SimModel::new(t).reply(&req(s, &[])))
                .collect();
            let b: Vec<String> = (0..50)
                .map(|s| SimModel::new(t).reply(&req(s, &[])))
                .collect();
            assert_eq!(a, b);
            assert!(a.iter().any(|x| x != &a[0]), "the seed matters");
        }
    }

    #[test]
    fn competence_orders_the_tiers() {
        let expert = |t| share(t, 400, |s| req(s, &[]), |r| r == EXPERT);
        let (s, m, l) = (
            expert(Tier::Small),
            expert(Tier::Medium),
            expert(Tier::Large),
        );
        assert!(s + 0.1 < m && m + 0.1 < l, "{s} {m} {l}");
    }

    #[test]
    fn constrained_decoding_removes_malformed_replies() {
        let mk = |s| ModelRequest {
            decoding: Decoding::Constrained,
            ..req(s, &[])
        };
        let tools = tools();
        assert_eq!(
            share(Tier::Small, 400, mk, |r| parse_call(r, &tools).is_err()),
            0.0
        );
        let free = share(
            Tier::Small,
            400,
            |s| req(s, &[]),
            |r| parse_call(r, &tools).is_err(),
        );
        assert!(free > 0.15, "{free}");
    }

    #[test]
    fn prose_is_mostly_repairable() {
        let tools = tools();
        let malformed: Vec<String> = (0..400)
            .map(|s| SimModel::new(Tier::Small).reply(&req(s, &[])))
            .filter(|r| parse_call(r, &tools).is_err())
            .collect();
        let repaired = malformed
            .iter()
            .filter(|r| extract_action(r, &tools).is_some())
            .count();
        // About half: the rest are bare commands (for `fuzzy_match`), garbage, and prose
        // that names two calls.
        assert!(
            repaired * 5 > malformed.len() * 2,
            "{repaired}/{}",
            malformed.len()
        );
        assert!(
            repaired < malformed.len(),
            "garbage and ambiguous replies exist"
        );
    }

    #[test]
    fn a_reprompt_makes_the_next_reply_well_formed_more_often() {
        let tools = tools();
        let malformed = |extra: &'static [&'static str]| {
            share(
                Tier::Small,
                600,
                move |s| {
                    let extra: Vec<Message> = extra.iter().map(|t| msg(Role::User, t)).collect();
                    req(s, &extra)
                },
                |r| parse_call(r, &tools).is_err(),
            )
        };
        let plain = malformed(&[]);
        let reprompted = malformed(&["Reply with one action, like open(\"box\")."]);
        assert!(reprompted + 0.08 < plain, "{reprompted} vs {plain}");
    }

    #[test]
    fn an_anti_loop_hint_lowers_loops_but_costs_expert_actions() {
        let run = |tier, hint: bool| {
            let mk = move |s| {
                let extra = if hint {
                    vec![msg(
                        Role::User,
                        "You are repeating yourself. Try something different.",
                    )]
                } else {
                    vec![]
                };
                req(s, &extra)
            };
            (
                share(tier, 800, mk, |r| r == r#"open("box")"#),
                share(tier, 800, mk, |r| r == EXPERT),
            )
        };
        for tier in Tier::ALL {
            let (loops, expert) = run(tier, false);
            let (loops_h, expert_h) = run(tier, true);
            assert!(loops_h < loops, "{tier}: loops {loops_h} vs {loops}");
            if tier == Tier::Large {
                assert!(expert_h < expert, "the hint pushes it off the expert path");
            }
        }
        // Large models follow the hint most literally: it costs them the most.
        let cost = |t| run(t, false).1 - run(t, true).1;
        assert!(cost(Tier::Large) > cost(Tier::Small));
    }

    #[test]
    fn a_finish_warning_lowers_premature_finishing_and_prompts_a_check() {
        let finishes = |warn: bool, tier| {
            share(
                tier,
                800,
                |s| {
                    let extra = if warn {
                        vec![msg(
                            Role::User,
                            "Check the goal conditions before you finish.",
                        )]
                    } else {
                        vec![]
                    };
                    req(s, &extra)
                },
                |r| r.starts_with("finish"),
            )
        };
        assert!(finishes(true, Tier::Small) + 0.02 < finishes(false, Tier::Small));
        // When finishing is right, the warning makes it check first, as strongly as the note speaks: a generic one (no concrete reference) sends it
        // to check most of the time, one naming the goal's words more often.
        let checks = |note: &'static str| {
            share(
                Tier::Large,
                400,
                |s| {
                    let mut r = req(s, &[msg(Role::User, note)]);
                    r.expert = Some(ToolCall::new("finish"));
                    r
                },
                |r| r.starts_with("examine("),
            )
        };
        let generic = checks("Check the goal conditions before you finish.");
        let specific = checks("Check that you reached the garden before you finish.");
        assert!(
            generic > 0.45 && specific > generic + 0.1,
            "{generic} {specific}"
        );
    }

    #[test]
    fn a_lost_goal_is_forgotten_and_a_present_one_is_not() {
        // The model saw the goal at the start of the episode...
        let mut first = req(0, &[]);
        first.messages.truncate(2);
        let run = |drop_goal: bool| {
            let hits = (0..600u64)
                .filter(|s| {
                    let mut m = SimModel::new(Tier::Small);
                    m.reply(&first);
                    let mut r = req(*s, &[]);
                    if drop_goal {
                        r.messages.remove(0);
                    }
                    m.reply(&r).starts_with("finish")
                })
                .count();
            hits as f64 / 600.0
        };
        assert!(
            run(true) > run(false) + 0.05,
            "{} vs {}",
            run(true),
            run(false)
        );
    }

    #[test]
    fn plans_and_reflections() {
        let plan = req(0, &[msg(Role::User, engine_plan_prompt())]);
        assert!(SimModel::new(Tier::Small)
            .reply(&plan)
            .starts_with(read::PLAN_PREFIX));
        let tools = tools();
        for s in 0..50 {
            let r = req(
                s,
                &[msg(Role::User, "Step 4 of 30. Reflect briefly: what next?")],
            );
            let text = SimModel::new(Tier::Large).reply(&r);
            if text.starts_with("Reflection:") {
                assert!(parse_call(&text, &tools).is_err());
                assert!(extract_action(&text, &tools).is_some());
            }
        }
    }

    fn engine_plan_prompt() -> &'static str {
        "Before acting, write a short numbered plan to reach the goal: x\nDo not call a tool in this reply."
    }

    #[test]
    fn it_cannot_name_what_it_never_saw() {
        let mk = |s| {
            let mut r = req(s, &[]);
            r.expert = Some(ToolCall::new("open").arg("target", "cupboard"));
            r
        };
        assert_eq!(share(Tier::Large, 200, mk, |r| r.contains("cupboard")), 0.0);
    }

    /// An API-style request: no admissible list, a `Task:` line instead of `goal:`, the
    /// ticket tools, one earlier search, then `extra`.
    fn api_req(seed: u64, expert: ToolCall, extra: &[Message]) -> ModelRequest {
        let s = |n: &str| ParamIr::new(n, TypeIr::String);
        let spec = |name: &str, params| ToolSpec {
            name: name.into(),
            description: String::new(),
            params,
        };
        let tools = vec![
            spec("search", vec![s("query")]),
            spec("fetch", vec![s("id")]),
            spec(
                "notify",
                vec![
                    ParamIr::new("channel", TypeIr::Enum(vec!["email".into(), "sms".into()])),
                    s("message"),
                ],
            ),
            spec("finish", vec![s("answer")]),
        ];
        let mut messages = vec![
            msg(Role::System, "You operate an API to complete: Close the open ticket from Hooli about \"login page is blank\"."),
            msg(Role::User, "Task: Close the open ticket from Hooli about \"login page is blank\"."),
            msg(Role::Assistant, r#"search("login page is blank Hooli")"#),
            msg(Role::User, "2 result(s)\nT-5673 | login page is blank | Hooli\nT-8495 | login page is blank | Hooli"),
        ];
        messages.extend_from_slice(extra);
        ModelRequest {
            messages,
            tools,
            temperature: 0.3,
            max_tokens: 64,
            top_p: None,
            decoding: Decoding::Constrained,
            seed,
            admissible: vec![],
            expert: Some(expert),
        }
    }

    #[test]
    fn the_goal_can_be_introduced_as_task() {
        let r = api_req(0, ToolCall::new("fetch").arg("id", "T-5673"), &[]);
        assert_eq!(
            read::goal_line(&r).as_deref(),
            Some("Close the open ticket from Hooli about \"login page is blank\".")
        );
        // A `goal:` marker anywhere wins over `task:`.
        let mut r = req(0, &[]);
        r.messages
            .insert(1, msg(Role::User, "Task: something else"));
        assert_eq!(read::goal_line(&r).as_deref(), Some("reach the garden."));
        // With the goal in a pinned system prompt it is never forgotten.
        let n = 400;
        let finishes = share(
            Tier::Small,
            n,
            |s| api_req(s, ToolCall::new("fetch").arg("id", "T-5673"), &[]),
            |t| t.starts_with("finish"),
        );
        assert!(finishes < 0.08, "{finishes}");
    }

    #[test]
    fn composed_text_needs_only_its_ids_seen() {
        // A query in its own words, and a message naming a seen id, can be written...
        let query = ToolCall::new("search").arg("query", "blank login page Hooli");
        let seen = share(
            Tier::Large,
            200,
            |s| api_req(s, query.clone(), &[]),
            |t| t == r#"search("blank login page Hooli")"#,
        );
        assert!(seen > 0.6, "{seen}");
        let message = ToolCall::new("notify")
            .arg("channel", "sms")
            .arg("message", "Ticket T-5673 has been handled.");
        let sent = share(
            Tier::Large,
            200,
            |s| api_req(s, message.clone(), &[]),
            |t| t.starts_with("notify("),
        );
        assert!(sent > 0.6, "{sent}");
        // ...but not one naming an id it never saw, nor a short name it never saw.
        for unseen in [
            ToolCall::new("notify")
                .arg("channel", "sms")
                .arg("message", "Ticket T-9999 has been handled."),
            ToolCall::new("fetch").arg("id", "T-9999"),
        ] {
            let n = share(
                Tier::Large,
                200,
                |s| api_req(s, unseen.clone(), &[]),
                |t| t.contains("T-9999"),
            );
            assert_eq!(n, 0.0, "{unseen:?}");
        }
    }

    #[test]
    fn without_a_list_a_wrong_turn_is_an_earlier_call_and_never_garbage() {
        let tools = api_req(0, ToolCall::new("finish"), &[]).tools;
        let extra = [
            msg(Role::Assistant, r#"fetch("T-5673")"#),
            msg(Role::User, "T-5673\nstatus: open"),
        ];
        let mk = |s| api_req(s, ToolCall::new("finish").arg("answer", "T-5673"), &extra);
        let calls: Vec<String> = (0..400)
            .map(|s| SimModel::new(Tier::Small).reply(&mk(s)))
            .collect();
        assert!(
            calls.iter().all(|t| parse_call(t, &tools).is_ok()),
            "constrained: always a call"
        );
        assert!(calls
            .iter()
            .any(|t| t == r#"search("login page is blank Hooli")"#));
        // At the first step, with nothing to go back to, it guesses with the task text.
        let mut first = api_req(
            0,
            ToolCall::new("search").arg("query", "login page is blank Hooli"),
            &[],
        );
        first.messages.truncate(2);
        let replies: Vec<String> = (0..400)
            .map(|s| {
                let mut r = first.clone();
                r.seed = s;
                SimModel::new(Tier::Small).reply(&r)
            })
            .collect();
        assert!(replies.iter().all(|t| parse_call(t, &tools).is_ok()));
        assert!(replies
            .iter()
            .any(|t| t.starts_with(r#"search("Close the open ticket"#)));
    }

    #[test]
    fn a_transient_error_is_sometimes_given_up_on() {
        let fetch = ToolCall::new("fetch").arg("id", "T-5673");
        let failed = [
            msg(Role::Assistant, r#"fetch("T-5673")"#),
            msg(
                Role::User,
                "503 Service Unavailable: transient error, try again.",
            ),
        ];
        let give_up = |tier, extra: &[Message]| {
            share(
                tier,
                800,
                |s| api_req(s, fetch.clone(), extra),
                |t| t.starts_with("finish"),
            )
        };
        let calm = give_up(Tier::Small, &[]);
        let after_error = give_up(Tier::Small, &failed);
        assert!(after_error > calm + 0.1, "{after_error} vs {calm}");
        assert!(give_up(Tier::Large, &failed) + 0.1 < after_error);
    }

    #[test]
    fn it_checks_an_id_not_a_channel_or_a_message() {
        let extra = [
            msg(Role::Assistant, r#"fetch("T-5673")"#),
            msg(Role::User, "T-5673\nstatus: closed"),
            msg(
                Role::Assistant,
                r#"notify("sms", "Ticket T-5673 has been handled.")"#,
            ),
            msg(Role::User, "Sent by sms."),
            msg(Role::User, "Check the goal conditions before you finish."),
        ];
        let mk = |s| api_req(s, ToolCall::new("finish").arg("answer", "T-5673"), &extra);
        let checks = share(Tier::Large, 400, mk, |t| t == r#"fetch("T-5673")"#);
        let any_fetch = share(Tier::Large, 400, mk, |t| t.starts_with("fetch("));
        assert!(checks > 0.4 && checks == any_fetch, "{checks} {any_fetch}");
    }

    #[test]
    fn long_contexts_cost_competence() {
        let long = |s| {
            let filler = "The walls are painted a pale shade of green. ".repeat(150);
            req(s, &[msg(Role::User, &filler)])
        };
        let short = share(Tier::Small, 600, |s| req(s, &[]), |r| r == EXPERT);
        let longer = share(Tier::Small, 600, long, |r| r == EXPERT);
        assert!(longer + 0.1 < short, "{longer} vs {short}");
    }

    // ---- every effect below has a test; docs/SIM_MODEL.md names them ----

    /// The hints of `req` as `tier` reads it.
    fn hints(tier: Tier, r: &ModelRequest) -> read::Hints {
        SimModel::new(tier).read(r).hints
    }

    fn with_system(mut r: ModelRequest, extra_system: &str) -> ModelRequest {
        r.messages[0].content.push('\n');
        r.messages[0].content.push_str(extra_system);
        r
    }

    #[test]
    fn system_instructions_fade_with_the_tokens_after_them() {
        let instr = "Reply with exactly one call and nothing else, e.g. open(\"drawer\").";
        let at = |filler_sentences: usize| {
            let filler = "The walls are painted a pale shade of green. ".repeat(filler_sentences);
            let r = with_system(req(0, &[msg(Role::User, &filler)]), instr);
            hints(Tier::Small, &r).get(Topic::Format)
        };
        let (near, mid, far) = (at(0), at(20), at(80));
        assert!(
            near > 0.3 && mid < near && far < mid && far < 0.05,
            "{near} {mid} {far}"
        );
        // The large tier keeps it longer.
        let r = with_system(
            req(0, &[msg(Role::User, &"Green walls. ".repeat(60))]),
            instr,
        );
        assert!(
            hints(Tier::Large, &r).get(Topic::Format) > hints(Tier::Small, &r).get(Topic::Format)
        );
    }

    #[test]
    fn a_note_fades_turn_by_turn() {
        let note = "You keep doing the same thing. Do something else.";
        let aged = |later_turns: usize| {
            let mut extra = vec![msg(Role::User, note)];
            for k in 0..later_turns {
                extra.push(msg(Role::Assistant, r#"take("key")"#));
                extra.push(msg(Role::User, &format!("You take the key {k}.")));
            }
            hints(Tier::Small, &req(0, &extra)).get(Topic::Loop)
        };
        let (now, one, four) = (aged(0), aged(1), aged(4));
        // All loop words, no concrete reference: specificity 0.6 now; the small tier's
        // weight halves per turn.
        assert!(
            (now - 0.6).abs() < 1e-9 && (one - 0.3).abs() < 1e-9,
            "{now} {one}"
        );
        assert!(four < 0.1, "{four}");
    }

    #[test]
    fn specific_notes_weigh_more_than_generic_ones() {
        let rp = SimParams::small().read_params();
        let t = tools();
        let generic = read::note_effect("Write just the call.", None, &rp, &t, "reach the garden");
        let specific = read::note_effect(
            "Write just the call, like open(\"drawer\").",
            None,
            &rp,
            &t,
            "reach the garden",
        );
        let (g, sp) = (generic.get(Topic::Format), specific.get(Topic::Format));
        assert!(
            (g - rp.spec_floor).abs() < 1e-9 && (sp - 1.0).abs() < 1e-9,
            "{g} {sp}"
        );
    }

    #[test]
    fn notes_are_told_by_position_not_by_their_words() {
        // After a finish call, whatever the harness answers is its refusal: even words with
        // no topic at all are read as "not yet", at the generic share.
        let mut after_finish = req(0, &[]);
        after_finish.messages.push(msg(Role::Assistant, "finish()"));
        after_finish.messages.push(msg(Role::User, "Hmm."));
        let p = SimParams::small();
        let h = hints(Tier::Small, &after_finish).get(Topic::FinishCaution);
        assert!(
            (h - p.generic_note_share * p.spec_floor).abs() < 1e-9,
            "{h}"
        );
        // The same loop words are the environment's answer when they are the turn's only
        // message after a call that went through, and a note when something else is.
        let loop_words = "You keep doing the same thing.";
        let alone = req(0, &[]);
        let mut alone = alone.clone();
        alone.messages[3].content = loop_words.into();
        assert_eq!(hints(Tier::Small, &alone).get(Topic::Loop), 0.0);
        let beside = req(0, &[msg(Role::User, loop_words)]);
        assert!(hints(Tier::Small, &beside).get(Topic::Loop) > 0.3);
        // A note after a repeated call is read as being about the loop even when it says
        // nothing about it.
        let repeated = |note: &str| {
            let mut r = req(0, &[]);
            r.messages.push(msg(Role::Assistant, r#"open("box")"#));
            r.messages.push(msg(Role::User, "The box is open."));
            r.messages.push(msg(Role::User, note));
            hints(Tier::Small, &r).get(Topic::Loop)
        };
        assert!(repeated("Hmm.") > 0.2 && repeated("Hmm.") < repeated("Do something else."));
    }

    /// A constrained request whose first offered action is neither the expert's nor its
    /// own previous one.
    fn constrained(seed: u64) -> ModelRequest {
        let mut r = req(seed, &[]);
        r.decoding = Decoding::Constrained;
        r.admissible = vec![
            r#"examine("box")"#.into(),
            r#"open("drawer")"#.into(),
            r#"open("box")"#.into(),
            r#"take("key")"#.into(),
            "finish()".into(),
        ];
        r
    }

    #[test]
    fn constrained_decoding_forces_a_call_but_not_the_right_one() {
        let t = tools();
        let offered = constrained(0).admissible;
        let replies = |tier: Tier, params: SimParams| -> Vec<String> {
            (0..1500)
                .map(|s| SimModel::with_params(tier, params.clone()).reply(&constrained(s)))
                .collect()
        };
        let count =
            |v: &[String], x: &str| v.iter().filter(|r| *r == x).count() as f64 / v.len() as f64;
        for tier in Tier::ALL {
            let v = replies(tier, tier.params());
            assert!(
                v.iter()
                    .all(|r| parse_call(r, &t).is_ok() && offered.contains(r)),
                "{tier}"
            );
            // The first listed and its own previous call are favoured over the rest.
            let first = count(&v, r#"examine("box")"#);
            let recent = count(&v, r#"open("box")"#);
            let other = count(&v, r#"take("key")"#);
            assert!(
                first > other && recent > other,
                "{tier}: {first} {recent} {other}"
            );
        }
        // Before: every malformed reply became the call it meant. Now the small tier gets
        // the expert's call markedly less often than that...
        let mut oracle = SimParams::small();
        oracle.cd_meant = 1.0;
        let (now, then) = (
            count(&replies(Tier::Small, SimParams::small()), EXPERT),
            count(&replies(Tier::Small, oracle), EXPERT),
        );
        assert!(now + 0.12 < then, "{now} vs {then}");
        // ...and the large tier keeps more of what it meant than the small one.
        let meant = |t: Tier| t.params().cd_meant;
        assert!(
            meant(Tier::Large) > meant(Tier::Medium) && meant(Tier::Medium) > meant(Tier::Small)
        );
    }

    #[test]
    fn the_finish_hazard_depends_on_progress_and_on_what_it_last_saw() {
        fn after(call: &'static str, answer: &'static str) -> impl Fn(u64) -> ModelRequest {
            move |s| {
                let mut r = req(s, &[]);
                r.messages.push(msg(Role::Assistant, call));
                r.messages.push(msg(Role::User, answer));
                r
            }
        }
        let finishes = |mk: &dyn Fn(u64) -> ModelRequest| {
            share(Tier::Medium, 3000, mk, |r| r.starts_with("finish"))
        };
        // "reach the garden": opening the garden gate names a goal word (progress) and
        // the answer mentions it (a visible effect).
        let nothing = finishes(&after(r#"take("key")"#, "Nothing happens."));
        let effect = finishes(&after(r#"take("key")"#, "You take the key."));
        let progress = finishes(&after(
            r#"open("garden gate")"#,
            "You open the garden gate.",
        ));
        assert!(
            nothing + 0.008 < effect && effect + 0.01 < progress,
            "{nothing} {effect} {progress}"
        );
    }

    #[test]
    fn temperature_trades_loops_for_errors_and_zero_removes_variance() {
        // The observation differs per seed, so even greedy replies differ across requests.
        let at = |temp: f64| {
            move |s| {
                let mut r = req(s, &[]);
                r.messages[3].content = format!("You open the box. Inside you see {s} pebbles.");
                r.temperature = temp;
                r
            }
        };
        let loops = |t: f64| share(Tier::Small, 3000, at(t), |r| r == r#"open("box")"#);
        let expert = |t: f64| share(Tier::Small, 3000, at(t), |r| r == EXPERT);
        assert!(
            loops(0.0) > loops(0.3) + 0.03,
            "{} {}",
            loops(0.0),
            loops(0.3)
        );
        assert!(
            expert(1.0) + 0.08 < expert(0.3),
            "{} {}",
            expert(1.0),
            expert(0.3)
        );
        // top_p narrows the sampling like a lower temperature.
        let narrow = move |s| {
            let mut r = at(1.0)(s);
            r.top_p = Some(0.3);
            r
        };
        assert!(share(Tier::Small, 3000, narrow, |r| r == EXPERT) > expert(1.0) + 0.05);
        // At temperature 0 the reply depends on the prompt alone, not on the seed.
        let greedy: std::collections::BTreeSet<String> = (0..50)
            .map(|s| {
                let mut r = req(s, &[]);
                r.temperature = 0.0;
                SimModel::new(Tier::Small).reply(&r)
            })
            .collect();
        assert_eq!(greedy.len(), 1, "{greedy:?}");
    }

    #[test]
    fn max_tokens_cuts_a_long_reply() {
        let t = tools();
        let mk = |max: u32| {
            move |s| {
                let mut r = req(s, &[]);
                r.max_tokens = max;
                r
            }
        };
        let malformed = |max| share(Tier::Large, 400, mk(max), |r| parse_call(r, &t).is_err());
        assert!(
            malformed(3) > 0.9,
            "open(\"drawer\") needs 4 tokens: {}",
            malformed(3)
        );
        assert!(malformed(256) < 0.2);
        let mut plan = req(0, &[msg(Role::User, engine_plan_prompt())]);
        plan.max_tokens = 10;
        assert_eq!(SimModel::new(Tier::Small).reply(&plan).chars().count(), 40);
    }

    #[test]
    fn urgency_makes_it_finish_and_grounding_makes_it_wander_less() {
        let with = |note: &'static str| move |s| req(s, &[msg(Role::User, note)]);
        let none = |s| req(s, &[]);
        let finish = |mk: &dyn Fn(u64) -> ModelRequest| {
            share(Tier::Small, 3000, mk, |r| r.starts_with("finish"))
        };
        let wander = |mk: &dyn Fn(u64) -> ModelRequest| {
            share(Tier::Small, 3000, mk, |r| {
                r == r#"take("key")"# || r == r#"examine("box")"#
            })
        };
        let hurry = with("Few steps remain. Finish with what you have.");
        assert!(
            finish(&hurry) > finish(&none) + 0.02,
            "{} {}",
            finish(&hurry),
            finish(&none)
        );
        let ground = with("Use the exact names from the observation.");
        assert!(
            wander(&ground) + 0.02 < wander(&none),
            "{} {}",
            wander(&ground),
            wander(&none)
        );
    }

    #[test]
    fn an_error_note_lowers_mishandling() {
        let fetch = ToolCall::new("fetch").arg("id", "T-5673");
        let failed = |note: Option<&str>| {
            let mut v = vec![
                msg(Role::Assistant, r#"fetch("T-5673")"#),
                msg(
                    Role::User,
                    "503 Service Unavailable: transient error, try again.",
                ),
            ];
            if let Some(n) = note {
                v.push(msg(Role::User, n));
            }
            v
        };
        let retried = |note: Option<&str>| {
            let extra = failed(note);
            share(
                Tier::Small,
                2000,
                |s| api_req(s, fetch.clone(), &extra),
                |t| t == r#"fetch("T-5673")"#,
            )
        };
        let plain = retried(None);
        let told = retried(Some(
            "The last call failed. Read the error and change the call.",
        ));
        assert!(told > plain + 0.05, "{told} vs {plain}");
    }

    #[test]
    fn the_doc_parameter_table_is_the_code() {
        const BEGIN: &str = "<!-- parameter table: generated by runtime/src/models/sim/mod.rs (sim::tests::the_doc_parameter_table_is_the_code) -->\n";
        const END: &str = "<!-- end of parameter table -->";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/SIM_MODEL.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (a, b) = (doc.find(BEGIN).unwrap(), doc.find(END).unwrap());
        let fresh = parameter_table();
        if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
            let new = format!("{}{fresh}{}", &doc[..a + BEGIN.len()], &doc[b..]);
            crate::fsutil::write_atomic(&path, new.as_bytes()).unwrap();
            return;
        }
        assert_eq!(&doc[a + BEGIN.len()..b], fresh, "rerun with UPDATE_DOCS=1");
    }
}
