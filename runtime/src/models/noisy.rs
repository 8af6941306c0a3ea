//! [`NoisyExpertModel`]: a seeded, deterministic **test stand-in** for a model.
//!
//! It is *not* the simulated model family (`sim:small|medium|large`) of the design: it
//! does not react to the harness (hints, pins, compaction), has no tiers and no token
//! costs beyond the runtime's estimate. It exists so that tests and benchmarks can run
//! whole episodes that exercise the repair, anti-loop and early-finish paths of a harness
//! without a real model. Anything that reports its results must call them test-model
//! results.
//!
//! # Policy
//!
//! For every request it draws one number `u` in `[0, 1)` from a SplitMix64 stream seeded
//! with `request.seed ^ self.seed` (the engine gives every model call of an episode its own
//! reproducible seed, see [`crate::engine`]), and answers:
//!
//! | draw | reply | what it exercises |
//! |---|---|---|
//! | `u < competence` | the expert's call, e.g. `open("drawer")` | the happy path |
//! | next `prose` share | the expert's call inside a sentence | `malformed_call`, `repair extract_action` |
//! | next `repeat` share | its own previous call again | `repeated_action` rules |
//! | next `garbage` share | text with no call at all | `malformed_call`, `reprompt` |
//! | the rest (`finish` share) | `finish()` | finishing early |
//!
//! The failure shares are weights: they are normalised to fill `1 - competence`. When the
//! environment has no expert action (`request.expert` is `None`) the model answers
//! `finish()`, since it has nothing to follow. When a
//! `repeat` is drawn before any call was made, it falls back to the expert call.
//!
//! The model keeps one piece of state, its previous call, so use a fresh instance per
//! episode (or call [`NoisyExpertModel::reset`]) to keep episodes independent.

use crate::message::{estimate_tokens, PER_MESSAGE_TOKENS};
use crate::models::{request_tokens, Model, ModelError, ModelRequest, ModelResponse};
use crate::rng;

/// Reply kinds, in the order the draw assigns them (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoisyReply {
    Expert,
    Prose,
    Repeat,
    Garbage,
    Finish,
}

/// A seeded model that follows `request.expert` with probability `competence` and
/// otherwise fails in one of four documented ways. A test stand-in; see the module docs.
#[derive(Debug, Clone)]
pub struct NoisyExpertModel {
    /// Probability of replying with exactly the expert's call. Clamped to `[0, 1]`.
    pub competence: f64,
    /// Relative weight of "the expert call buried in prose" among failures (a malformed
    /// reply that `repair extract_action` can fix).
    pub prose: f64,
    /// Relative weight of "repeat my previous call" among failures (a loop).
    pub repeat: f64,
    /// Relative weight of "no call at all" among failures (unrepairable garbage).
    pub garbage: f64,
    /// Relative weight of "`finish()` now" among failures (finishing early).
    pub finish: f64,
    /// Mixed into every request seed, so two models with different seeds diverge on the
    /// same episode. 0 leaves the engine's per-call seeds as they are.
    pub seed: u64,
    /// Latency reported for every reply (advances the episode's virtual clock).
    pub latency_ms: u64,
    /// The previous call text this model produced, for `Repeat`.
    last_call: Option<String>,
}

impl NoisyExpertModel {
    /// Default failure weights: prose 0.4, repeat 0.3, garbage 0.2, finish 0.1 — chosen so
    /// that the repairable failure is the most common one, as with small real models.
    pub fn new(competence: f64) -> Self {
        NoisyExpertModel {
            competence,
            prose: 0.4,
            repeat: 0.3,
            garbage: 0.2,
            finish: 0.1,
            seed: 0,
            latency_ms: 0,
            last_call: None,
        }
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Forget the previous call (start of a new episode).
    pub fn reset(&mut self) {
        self.last_call = None;
    }

    /// Which kind of reply a draw `u` in `[0, 1)` selects.
    pub fn classify(&self, u: f64) -> NoisyReply {
        let p = if self.competence.is_nan() {
            0.0
        } else {
            self.competence.clamp(0.0, 1.0)
        };
        if u < p {
            return NoisyReply::Expert;
        }
        let weights = [
            (NoisyReply::Prose, self.prose),
            (NoisyReply::Repeat, self.repeat),
            (NoisyReply::Garbage, self.garbage),
        ];
        // Negative or NaN weights count as 0, so no parameter can make the draw panic.
        let w = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let total: f64 = weights.iter().map(|(_, x)| w(*x)).sum::<f64>() + w(self.finish);
        if total <= 0.0 {
            return NoisyReply::Expert;
        }
        let mut at = p;
        for (kind, x) in weights {
            at += (1.0 - p) * w(x) / total;
            if u < at {
                return kind;
            }
        }
        NoisyReply::Finish
    }

    fn reply_text(&mut self, req: &ModelRequest) -> String {
        let Some(expert) = &req.expert else {
            return "finish()".into();
        };
        let expert = expert.render(None);
        let u = rng::unit(rng::mix(req.seed ^ self.seed));
        let (text, call) = match self.classify(u) {
            NoisyReply::Expert => (expert.clone(), Some(expert)),
            NoisyReply::Prose => (
                format!("I think the best next move is {expert} because it gets me closer."),
                Some(expert),
            ),
            NoisyReply::Repeat => {
                let c = self.last_call.clone().unwrap_or(expert);
                (c.clone(), Some(c))
            }
            NoisyReply::Garbage => ("Hmm, let me think about what to do here.".into(), None),
            NoisyReply::Finish => ("finish()".into(), Some("finish()".into())),
        };
        if let Some(c) = call {
            self.last_call = Some(c);
        }
        text
    }
}

impl Model for NoisyExpertModel {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let text = self.reply_text(req);
        Ok(ModelResponse {
            prompt_tokens: request_tokens(req),
            completion_tokens: estimate_tokens(&text).saturating_sub(PER_MESSAGE_TOKENS),
            latency_ms: self.latency_ms,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::ToolCall;
    use crate::ir::Decoding;

    fn req(seed: u64) -> ModelRequest {
        ModelRequest {
            messages: vec![],
            tools: vec![],
            temperature: 0.0,
            max_tokens: 10,
            top_p: None,
            decoding: Decoding::Free,
            seed,
            admissible: vec![],
            expert: Some(ToolCall::new("open").arg("target", "drawer")),
        }
    }

    fn texts(m: &mut NoisyExpertModel, n: u64) -> Vec<String> {
        (0..n)
            .map(|s| m.complete(&req(s)).map(|r| r.text).unwrap_or_default())
            .collect()
    }

    #[test]
    fn classify_partitions_the_unit_interval() {
        let m = NoisyExpertModel::new(0.5);
        assert_eq!(m.classify(0.0), NoisyReply::Expert);
        assert_eq!(m.classify(0.49), NoisyReply::Expert);
        assert_eq!(m.classify(0.5), NoisyReply::Prose); // prose: [0.5, 0.7)
        assert_eq!(m.classify(0.71), NoisyReply::Repeat); // repeat: [0.7, 0.85)
        assert_eq!(m.classify(0.86), NoisyReply::Garbage); // garbage: [0.85, 0.95)
        assert_eq!(m.classify(0.96), NoisyReply::Finish);
        assert_eq!(
            NoisyExpertModel::new(1.0).classify(0.999),
            NoisyReply::Expert
        );
        let mut odd = NoisyExpertModel::new(f64::NAN);
        odd.prose = -1.0;
        odd.repeat = f64::INFINITY;
        odd.garbage = 0.0;
        odd.finish = 0.0;
        assert_eq!(odd.classify(0.3), NoisyReply::Expert);
    }

    #[test]
    fn deterministic_and_seed_sensitive() {
        let a = texts(&mut NoisyExpertModel::new(0.5), 50);
        let b = texts(&mut NoisyExpertModel::new(0.5), 50);
        assert_eq!(a, b);
        let c = texts(&mut NoisyExpertModel::new(0.5).with_seed(9), 50);
        assert_ne!(a, c);
    }

    #[test]
    fn produces_every_reply_kind() {
        let all = texts(&mut NoisyExpertModel::new(0.3), 200);
        assert!(all.iter().any(|t| t == r#"open("drawer")"#));
        assert!(all
            .iter()
            .any(|t| t.starts_with("I think") && t.contains("open(")));
        assert!(all.iter().any(|t| t.starts_with("Hmm")));
        assert!(all.iter().any(|t| t == "finish()"));
        let perfect = texts(&mut NoisyExpertModel::new(1.0), 20);
        assert!(perfect.iter().all(|t| t == r#"open("drawer")"#));
    }

    fn key_door_ir() -> crate::ir::HarnessIr {
        use crate::ir::{HarnessIr, ParamIr, ToolIr, TypeIr};
        let mut ir = HarnessIr::new("kd");
        let s = |n: &str| ParamIr::new(n, TypeIr::String);
        let opt = ParamIr::new("answer", TypeIr::Optional(Box::new(TypeIr::String)));
        ir.tools = vec![
            ToolIr::new("look", vec![]),
            ToolIr::new("open", vec![s("target")]),
            ToolIr::new("take", vec![s("object")]),
            ToolIr::new("go", vec![s("target")]),
            ToolIr::new("examine", vec![s("target")]),
            ToolIr::new("finish", vec![opt]),
        ];
        ir.loop_.max_steps = 12;
        ir
    }

    #[test]
    fn a_perfect_model_solves_key_door_and_a_noisy_one_sometimes_fails() {
        use crate::envs::KeyDoor;
        use crate::trace::NullSink;
        let ir = key_door_ir();
        let run = |p: f64, seed: u64| {
            let mut m = NoisyExpertModel::new(p);
            crate::run_episode(&ir, &mut m, &mut KeyDoor::new(), seed, seed, &mut NullSink)
        };
        assert!((0..10).all(|s| run(1.0, s).success));
        let solved = (0..40).filter(|s| run(0.5, *s).success).count();
        assert!(solved < 40, "a 0.5 model should fail some episodes");
    }
}
