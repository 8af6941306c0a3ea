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
//! 2. Competence `p` = base + plan bonus (a plan of its own is in the context) + reflect
//!    bonus (a reflection was asked for now) − a penalty per 1,000 context tokens above an
//!    onset, floored.
//! 3. **Forgetting**: if the goal line is no longer in the context, with probability
//!    rising with context size the model acts without it (finishes or wanders).
//! 4. **Tool errors**: after a reported failure it mishandles it with some probability —
//!    when retrying was right it gives up and finishes (a share `error_give_up`) or moves
//!    on without retrying; when retrying was wrong it repeats the failed call. A second
//!    failure-related message in the turn lowers that.
//! 5. Otherwise one draw: the expert action with probability `p`; else a failure kind by
//!    weight — prose (the call buried in a sentence; `repair extract_action` recovers it,
//!    except in ambiguous replies naming two calls), bare (a natural-language command;
//!    `repair fuzzy_match` recovers it), garbage (no call), loop (its previous call),
//!    finish (premature `finish`), wander (another admissible action it has seen).
//!    Harness messages shrink some shares — a format reminder the malformed ones, an
//!    anti-repetition hint the loop share, a check-before-finishing warning the finish
//!    share — and the mass they remove goes to the expert action. Under
//!    `decoding = constrained` malformed replies cannot happen: prose and bare become the
//!    call they contained, garbage becomes a random admissible action. Where the
//!    environment lists no actions (an API), a wrong turn goes back to one of its own
//!    earlier calls; with none yet, a constrained reply is the expert's tool called with
//!    the task text.
//! 6. Side effects: after an anti-repetition hint, with probability `hint_deviate` the
//!    model abandons its intended action for another one (the cost of a hint that fires on
//!    a correct path); after a check-before-finishing warning it calls a checking tool
//!    (`examine`, `look`, `fetch`, ...) on the last thing it named before finishing; it
//!    cannot write an action whose names never appeared in the context (so compaction can
//!    drop what a task needs; composed text — a query, a message — needs only its ids); a
//!    reflection request makes it write its reflection before the call, which only a
//!    repair can turn back into a call.
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

pub use read::Reading;

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
    /// `finish` before the goal holds.
    pub w_finish: f64,
    /// Loops feed themselves: the loop share is multiplied by `1 + loop_stickiness * k`
    /// when its last `k + 1` calls in the context are the same call.
    pub loop_stickiness: f64,
    /// Another admissible action it has seen (a wrong turn).
    pub w_wander: f64,
    /// Share of prose replies that name a second, different call too, which
    /// `extract_action` refuses to choose between.
    pub prose_ambiguous: f64,

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

    // --- reactions to the harness ---
    /// How many turns (model replies) an injected hint keeps working.
    pub hint_memory: usize,
    /// Multiplies the loop share while an anti-repetition hint is remembered.
    pub loop_hint_factor: f64,
    /// Probability that an anti-repetition hint makes it drop its intended action for
    /// another one — the hint's side effect on a correct path.
    pub hint_deviate: f64,
    /// Multiplies the malformed shares right after a format reminder (a reprompt).
    pub format_hint_factor: f64,
    /// Multiplies the premature-finish share while a check-before-finishing warning is
    /// remembered.
    pub finish_hint_factor: f64,
    /// Multiplies `error_mishandle` when the turn holds a second failure-related message.
    pub error_hint_factor: f64,

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
            hint_memory: 2,
            loop_hint_factor: 0.30,
            hint_deviate: 0.10,
            format_hint_factor: 0.35,
            finish_hint_factor: 0.25,
            error_hint_factor: 0.50,
            latency_base_ms: 150,
            latency_per_token_ms: 4,
        }
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
            hint_memory: 2,
            loop_hint_factor: 0.30,
            hint_deviate: 0.20,
            format_hint_factor: 0.30,
            finish_hint_factor: 0.25,
            error_hint_factor: 0.50,
            latency_base_ms: 300,
            latency_per_token_ms: 8,
        }
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
            hint_memory: 2,
            loop_hint_factor: 0.30,
            // Large models follow instructions literally: told to "try something
            // different", they do, even when they were right.
            hint_deviate: 0.35,
            format_hint_factor: 0.30,
            finish_hint_factor: 0.30,
            error_hint_factor: 0.50,
            latency_base_ms: 600,
            latency_per_token_ms: 16,
        }
    }

    /// Competence for a request with reading `r` (step 2 of the policy).
    pub fn effective_competence(&self, r: &Reading) -> f64 {
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

    /// The reply text for `req` (the whole policy; see the module docs).
    pub fn reply(&mut self, req: &ModelRequest) -> String {
        // A request without any reply of the model's is the start of an episode (or a
        // context compacted to nothing, where re-reading gives the same or no goal).
        let fresh = !req
            .messages
            .iter()
            .any(|m| m.role == crate::message::Role::Assistant);
        if fresh || self.goal.is_none() {
            self.goal = read::goal_line(req);
        }
        let p = &self.params;
        let expert_text = req.expert.as_ref().map(|e| {
            let e = normalize(e, &req.tools);
            let params = req.tools.iter().find(|t| t.name == e.tool);
            e.render(params.map(|t| t.params.as_slice()))
        });
        let r = Reading::of(
            req,
            self.goal.as_deref(),
            expert_text.as_deref(),
            p.hint_memory,
        );
        let mut rng = Rng(req.seed ^ self.seed ^ tier_salt(self.tier));
        if r.plan_requested {
            return plan_text(self.goal.as_deref());
        }
        let w = World::new(req, &r);
        let intent = self.intent(&r, &w, &mut rng);
        let goal = self.goal.as_deref().unwrap_or("");
        let text = w.write(intent, &r, &mut rng, p.prose_ambiguous, goal);
        if r.reflect_now && req.decoding == Decoding::Free && parse_call(&text, &req.tools).is_ok()
        {
            // Asked to reflect, it writes the reflection first: the reply is no longer a
            // bare call, so only a repair recovers it.
            return format!(
                "Reflection: {} actions so far and the goal is not reached yet; I will keep going. Next action: {text}",
                r.calls.len()
            );
        }
        text
    }

    fn intent(&self, r: &Reading, w: &World, rng: &mut Rng) -> Intent {
        let p = &self.params;
        let (u_forget, u_split, u_err, u_main, u_dev) =
            (rng.unit(), rng.unit(), rng.unit(), rng.unit(), rng.unit());
        let mut intent = if u_forget < p.forget_probability(r) {
            if u_split < p.forget_finish {
                Intent::Finish
            } else {
                Intent::Wander
            }
        } else if r.last_error
            && r.last_call().is_some()
            && u_err
                < p.error_mishandle
                    * if r.error_hint {
                        p.error_hint_factor
                    } else {
                        1.0
                    }
        {
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
            self.draw(r, u_main, w.constrained)
        };
        if r.loop_hint && u_dev < p.hint_deviate && matches!(intent, Intent::Expert | Intent::Loop)
        {
            intent = Intent::Wander;
        }
        if matches!(intent, Intent::Expert | Intent::Finish)
            && r.finish_hint
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
    fn draw(&self, r: &Reading, u: f64, constrained: bool) -> Intent {
        let p = &self.params;
        let competence = p.effective_competence(r);
        if u < competence {
            return Intent::Expert;
        }
        let fmt = if r.format_hint {
            p.format_hint_factor
        } else {
            1.0
        };
        let kinds = [
            (Intent::Prose, p.w_prose, fmt),
            (Intent::Bare, p.w_bare, fmt),
            (Intent::Garbage, p.w_garbage, fmt),
            (
                Intent::Loop,
                p.w_loop * (1.0 + p.loop_stickiness.max(0.0) * r.repeat_run() as f64),
                if r.loop_hint { p.loop_hint_factor } else { 1.0 },
            ),
            (
                Intent::Finish,
                p.w_finish,
                if r.finish_hint {
                    p.finish_hint_factor
                } else {
                    1.0
                },
            ),
            (Intent::Wander, p.w_wander, 1.0),
        ];
        let weight = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let total: f64 = kinds.iter().map(|(_, w, _)| weight(*w)).sum();
        if total <= 0.0 {
            return Intent::Expert;
        }
        let mut at = competence;
        for (kind, w, factor) in kinds {
            at += (1.0 - competence) * weight(w) / total * clamp01(factor);
            if u < at {
                return match (kind, constrained) {
                    // The schema forces a call: the one it meant, or any admissible one.
                    (Intent::Prose | Intent::Bare, true) => Intent::Expert,
                    (Intent::Garbage, true) => Intent::Wander,
                    _ => kind,
                };
            }
        }
        // The mass a harness message took away from a failure goes to the expert action.
        Intent::Expert
    }
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
    fn new(req: &'q ModelRequest, _r: &Reading) -> Self {
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
            finish_tool: find(&["finish"]),
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

    /// A `finish` call the declared tool accepts (required arguments filled in).
    fn finish_call(&self) -> ToolCall {
        match self.finish_tool {
            Some(t) => fill_required(ToolCall::new(&t.name), &t.params, "done"),
            None => ToolCall::new("finish"),
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

    fn write(
        &self,
        intent: Intent,
        r: &Reading,
        rng: &mut Rng,
        ambiguous: f64,
        goal: &str,
    ) -> String {
        let (u_pick, u_style, u_amb) = (rng.unit(), rng.unit(), rng.unit());
        // The call it means: the expert's if it has seen every name in it, else a guess.
        let meant = match &self.expert {
            Some(e) if self.can_write(e, r) => Some(e.clone()),
            Some(_) => self.wander(r, u_pick),
            None => None,
        };
        let expert = || meant.clone().unwrap_or_else(|| self.finish_call());
        match intent {
            Intent::Expert => self.text(&expert()),
            Intent::Prose => {
                let c = self.text(&expert());
                let other = self.wander(r, u_pick).map(|w| self.text(&w));
                match other {
                    Some(o) if u_amb < ambiguous => {
                        format!("I could try {o} or {c}. I think {c} is better.")
                    }
                    _ => pick(PROSE, u_style)
                        .map(|t| t.replace("{c}", &c))
                        .unwrap_or(c),
                }
            }
            Intent::Bare => bare(&expert()),
            Intent::Garbage => pick(GARBAGE, u_style)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            Intent::Loop => self.text(r.last_call().cloned().as_ref().unwrap_or(&expert())),
            Intent::Finish => self.text(&self.finish_call()),
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
                None => self.text(&expert()),
            },
        }
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
        // When finishing is right, the warning makes it check first.
        let mk = |s| {
            let mut r = req(
                s,
                &[msg(
                    Role::User,
                    "Check the goal conditions before you finish.",
                )],
            );
            r.expert = Some(ToolCall::new("finish"));
            r
        };
        assert!(share(Tier::Large, 200, mk, |r| r.starts_with("examine(")) > 0.7);
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
            temperature: 0.0,
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
        let checks = share(Tier::Large, 200, mk, |t| t == r#"fetch("T-5673")"#);
        assert!(checks > 0.6, "{checks}");
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
}
