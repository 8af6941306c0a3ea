//! `random`: the random admissible-action policy, the floor every harness must beat. It
//! reads no prompt and picks one of the actions the harness offers
//! ([`super::ModelRequest::admissible`]) uniformly, seeded by the request's seed, so an
//! episode replays exactly. It is not a language model: results with it are labelled
//! "random policy (no model)".

use super::{Model, ModelError, ModelRequest, ModelResponse};
use crate::rng::SplitMix;

/// Replies with a uniformly drawn offered action; with none offered, `look()` (a
/// malformed or unknown call the environment reports, as a model's would be).
pub struct RandomPolicy;

impl Model for RandomPolicy {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let text = if req.admissible.is_empty() {
            "look()".to_string()
        } else {
            SplitMix::new(req.seed).pick(&req.admissible).clone()
        };
        Ok(ModelResponse {
            text,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Decoding;

    fn req(seed: u64, admissible: &[&str]) -> ModelRequest {
        ModelRequest {
            messages: Vec::new(),
            tools: Vec::new(),
            temperature: 0.0,
            max_tokens: 16,
            top_p: None,
            decoding: Decoding::Free,
            seed,
            admissible: admissible.iter().map(|s| s.to_string()).collect(),
            expert: None,
        }
    }

    #[test]
    fn picks_every_offered_action_about_equally_and_replays_by_seed() {
        let offered = ["act(\"a\")", "act(\"b\")", "act(\"c\")"];
        let mut counts = [0u32; 3];
        for seed in 0..3000 {
            let text = RandomPolicy.complete(&req(seed, &offered)).unwrap().text;
            let i = offered
                .iter()
                .position(|a| *a == text)
                .expect("an offered action");
            counts[i] += 1;
            assert_eq!(
                RandomPolicy.complete(&req(seed, &offered)).unwrap().text,
                text
            );
        }
        assert!(
            counts.iter().all(|&c| (900..1100).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(RandomPolicy.complete(&req(1, &[])).unwrap().text, "look()");
    }
}
