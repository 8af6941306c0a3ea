//! The evolution benchmark's arms. Every arm that evolves runs the same loop — same
//! train pairs, same gate, same episode budget — and differs only in how a round's
//! proposals are chosen:
//!
//! - [`Arm::Seed`]: no evolution; the seed harness as written.
//! - [`Arm::Random`]: random mutation search. Each proposal is an operator drawn uniformly
//!   from [`crate::operators::all`] and a failure class drawn uniformly from
//!   [`crate::manifest::FailureClass::ALL`], with no evidence attached: no digester-driven
//!   choice, no bandit, no early stop on a quiet digest
//!   ([`crate::planner::random_proposals`]). A draw whose operator does not apply to the
//!   harness is drawn again (in the round), so random search spends its slots on
//!   candidates as the other arms do.
//! - [`Arm::PromptOnly`]: the planner restricted to [`crate::operators::prompt_only`], as
//!   prompt optimizers do (digester and bandit as in AEGIS).
//! - [`Arm::Aegis`]: the full loop, exactly as `harnessx evolve` runs it.
//!
//! The environment's expert (the oracle, the upper limit) and the random admissible-action
//! policy (the floor) are not arms of the loop: the benchmark runs the seed harness with
//! `noisy:1.0`, the model that replies with the environment's expert call at every step
//! ([`expert_held_out`]), and with `random` ([`seed_under`]).
//!
//! Held-out episodes normally run in the training environment on task indices never used
//! for training. An environment whose task indices wrap around (the TextWorldExpress
//! bridge plays game `T mod 1000` of its fold, so held-out index 1,000,000 is train game
//! 0) takes a separate held-out spec, e.g. the bridge on its dev fold: `Config::held_out_env`,
//! which the run's own final evaluation uses too.

use std::path::Path;
use std::time::Instant;

use crate::checkpoint::Config;
use crate::gate::{evaluate, static_check};
use crate::round::{Observer, Quiet};
use crate::run::{held_out_pairs, start_as, Options};
use harnessx_runtime::models::spec::ModelSpec;

/// The arms themselves live with the planner, which the round asks for proposals.
pub use crate::planner::Arm;

/// One arm's run on one (environment, model, seed) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmRun {
    /// Held-out success of the harness the arm ends with.
    pub held_out: f64,
    /// Held-out success of the best harness so far against train episodes spent: the
    /// seed after its evaluation, then the parent after each round.
    pub curve: Vec<(u64, f64)>,
    /// Train episodes and tokens spent by the search (0 for the seed and the expert).
    pub episodes: u64,
    pub tokens: u64,
    /// Wall time of the whole run, the run's own held-out evaluation included (the extra
    /// measurements for the curve are not).
    pub seconds: f64,
    /// Harnesses shipped.
    pub ships: usize,
    /// The source of the harness the arm ends with (the seed's for the seed and the
    /// expert).
    pub harness: String,
}

/// The held-out success of `source` under `model` on `cfg`'s held-out pairs, run in
/// `cfg.held_out_env` (default `cfg.env`), as the run's own final evaluation does.
pub fn held_out_of(
    source: &str,
    cfg: &Config,
    model: &ModelSpec,
    workers: usize,
) -> Result<f64, String> {
    let ir = static_check(source)?;
    let (pairs, _) = held_out_pairs(cfg);
    let env = cfg.held_out_env.as_deref().unwrap_or(&cfg.env);
    Ok(evaluate(&ir, env, model, &pairs, workers, false)?.success_rate())
}

/// The seed harness under `model`, held out only: no evolution.
pub fn seed_under(cfg: &Config, model: &ModelSpec, workers: usize) -> Result<ArmRun, String> {
    let t = Instant::now();
    let h = held_out_of(&cfg.seed_source, cfg, model, workers)?;
    Ok(ArmRun {
        held_out: h,
        curve: vec![(0, h)],
        episodes: 0,
        tokens: 0,
        seconds: t.elapsed().as_secs_f64(),
        ships: 0,
        harness: cfg.seed_source.clone(),
    })
}

/// The expert's run: the seed harness with `noisy:1.0` on the held-out pairs.
pub fn expert_held_out(cfg: &Config, workers: usize) -> Result<ArmRun, String> {
    seed_under(cfg, &ModelSpec::Noisy(1.0), workers)
}

/// Runs `arm` on `cfg` in `out` (removed first if it exists). The seed arm is only the
/// held-out evaluation of the seed harness.
pub fn run_arm(cfg: &Config, arm: Arm, out: &Path, workers: usize) -> Result<ArmRun, String> {
    run_arm_observed(cfg, arm, out, workers, &mut Quiet)
}

/// [`run_arm`], reporting the run's rounds to `obs` (a long real-model arm shows its
/// progress).
pub fn run_arm_observed(
    cfg: &Config,
    arm: Arm,
    out: &Path,
    workers: usize,
    obs: &mut dyn Observer,
) -> Result<ArmRun, String> {
    let model = cfg.model_spec()?;
    if arm == Arm::Seed {
        return seed_under(cfg, &model, workers);
    }
    let t = Instant::now();
    let _ = std::fs::remove_dir_all(out);
    let opts = Options {
        out: out.to_path_buf(),
        workers,
        abort: None,
        traces: false,
    };
    let cp = start_as(cfg.clone(), &model, &opts, arm, obs)?;
    let seconds = t.elapsed().as_secs_f64();
    let fin = cp
        .final_result
        .as_ref()
        .ok_or("the run ended without a held-out evaluation")?;
    let seed_h = fin.seed_held_out;
    // The curve: every shipped harness evaluated once on the held-out pairs (measurement,
    // not charged to the budget).
    let mut curve = vec![(
        seed_episodes(&cp).unwrap_or(cp.budget.used.episodes),
        seed_h,
    )];
    let mut current = seed_h;
    let mut ships = 0;
    for r in &cp.rounds {
        if r.shipped.is_some() {
            ships += 1;
            let path = out
                .join(format!("round-{:03}", r.round))
                .join("harness.harness");
            let src =
                std::fs::read_to_string(&path).map_err(|e| format!("`{}`: {e}", path.display()))?;
            current = held_out_of(&src, cfg, &model, workers)?;
        }
        curve.push((r.used.episodes, current));
    }
    Ok(ArmRun {
        held_out: fin.best_held_out,
        curve,
        episodes: cp.budget.used.episodes,
        tokens: cp.budget.used.tokens,
        seconds,
        ships,
        harness: cp.parent_source.clone(),
    })
}

/// Episodes the seed's train evaluation cost: the budget used before round 1's
/// candidates, i.e. round 1's total minus what its candidates were charged.
fn seed_episodes(cp: &crate::checkpoint::Checkpoint) -> Option<u64> {
    let r1 = cp.rounds.first()?;
    let charged: u64 = cp
        .ledgers
        .ships
        .iter()
        .chain(&cp.ledgers.rejects)
        .filter(|e| e.round == r1.round)
        .map(|e| e.cost.episodes)
        .sum();
    Some(r1.used.episodes.saturating_sub(charged))
}

/// The value of a step curve at `x`: the last point at or before `x`, else the first.
pub fn curve_at(curve: &[(u64, f64)], x: u64) -> f64 {
    curve
        .iter()
        .take_while(|p| p.0 <= x)
        .last()
        .or(curve.first())
        .map_or(0.0, |p| p.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_lookup_is_a_step_function() {
        let c = [(60, 0.5), (200, 0.7)];
        assert_eq!(curve_at(&c, 0), 0.5);
        assert_eq!(curve_at(&c, 199), 0.5);
        assert_eq!(curve_at(&c, 500), 0.7);
    }
}
