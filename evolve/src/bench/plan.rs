//! What the benchmark runs: the plan of cells (environments x sim tiers x evolution
//! seeds), the benchmark environments with their bridge settings, and the evolution
//! config of one run.

use crate::arms::Arm;
use crate::checkpoint::Config;
use crate::gate::{GateConfig, Test};
use crate::ledger::Cost;

use super::BenchArgs;

/// The TextWorldExpress bridge (docs/BRIDGE.md), run from the workspace root.
const TWX_BRIDGE: &str = "python3 bridges/textworld_express_bridge.py";
/// The game the benchmark plays: TextWorld Commonsense (put objects where they belong).
pub(super) const TWX_GAME: &str = "twc";
/// Its settings: one room, four objects to put away, no doors, unlimited inventory.
pub(super) const TWX_PARAMS: &str =
    "numLocations=1,numItemsToPutAway=4,includeDoors=0,limitInventorySize=0";
/// The bridge's step limit in the simulated cells.
pub(super) const TWX_STEP_LIMIT: u32 = 50;

/// The TextWorldExpress bridge on one fold of the game with a step limit.
fn twx_spec(fold: &str, step_limit: u32) -> String {
    format!(
        "stdio:{TWX_BRIDGE} --game {TWX_GAME} --params {TWX_PARAMS} --fold {fold} \
         --step-limit {step_limit}"
    )
}

/// Everything one cell's runs share.
#[derive(Clone)]
pub(super) struct Plan {
    pub seeds: u64,
    pub tiers: Vec<String>,
    pub envs: Vec<String>,
    pub rounds: u32,
    pub k: usize,
    pub train_tasks: u64,
    pub seeds_per_task: u64,
    pub held_out_tasks: u64,
    pub budget: u64,
}

impl Plan {
    pub fn new(a: &BenchArgs) -> Plan {
        let (seeds, tiers, envs, rounds, train, held, budget) = if a.quick {
            (2, vec!["small"], vec!["household"], 2, 10, 40, 150)
        } else {
            (
                5,
                vec!["small", "medium", "large"],
                vec!["household", "flaky_api", "textworld"],
                8,
                30,
                200,
                1500,
            )
        };
        Plan {
            seeds: a.seeds.unwrap_or(seeds),
            tiers: a
                .tiers
                .clone()
                .unwrap_or_else(|| tiers.iter().map(|s| s.to_string()).collect()),
            envs: a
                .envs
                .clone()
                .unwrap_or_else(|| envs.iter().map(|s| s.to_string()).collect()),
            rounds: a.rounds.unwrap_or(rounds),
            k: 4,
            train_tasks: train,
            seeds_per_task: 2,
            held_out_tasks: held,
            budget: a.budget_episodes.unwrap_or(budget),
        }
    }
}

/// How a benchmark environment is run.
pub(super) struct EnvSetup {
    /// The environment spec of training (and of held-out episodes unless `held_out`).
    pub train: String,
    /// A separate spec for held-out episodes.
    pub held_out: Option<String>,
    /// The seed harness.
    pub harness: &'static str,
}

/// The specs and seed harness of a benchmark environment name.
pub(super) fn env_setup(name: &str) -> Result<EnvSetup, String> {
    match name {
        "household" => Ok(EnvSetup {
            train: "household".into(),
            held_out: None,
            harness: "examples/household.harness",
        }),
        "flaky_api" => Ok(EnvSetup {
            train: "flaky_api".into(),
            held_out: None,
            harness: "examples/flaky_api.harness",
        }),
        // The bridge plays game `T mod 1000` of its fold, so held-out task indices would
        // reach train games again: held-out episodes play the dev fold instead.
        "textworld" | "textworld_express" => Ok(EnvSetup {
            train: twx_spec("train", TWX_STEP_LIMIT),
            held_out: Some(twx_spec("dev", TWX_STEP_LIMIT)),
            harness: "bridges/textworld_express.harness",
        }),
        other => Err(format!(
            "unknown benchmark environment `{other}` (household, flaky_api, textworld)"
        )),
    }
}

pub(super) fn is_textworld(env: &str) -> bool {
    matches!(env, "textworld" | "textworld_express")
}

/// The environment's name in the report.
pub(super) fn env_label(env: &str) -> &str {
    match env {
        "textworld" | "textworld_express" => "TextWorldExpress",
        e => e,
    }
}

/// The evolution config of one run: `env` with `sim:<tier>` and evolution seed `seed`.
pub(super) fn config(plan: &Plan, env: &str, tier: &str, seed: u64) -> Result<Config, String> {
    let setup = env_setup(env)?;
    let file = setup.harness;
    let src = std::fs::read_to_string(file).map_err(|e| format!("`{file}`: {e}"))?;
    Ok(Config {
        file: file.into(),
        seed_source: src,
        env: setup.train,
        model: format!("sim:{tier}"),
        rounds: plan.rounds,
        k: plan.k,
        seed,
        train_tasks: plan.train_tasks,
        seeds_per_task: plan.seeds_per_task,
        held_out_tasks: plan.held_out_tasks,
        held_out_env: setup.held_out,
        budget: Cost::new(plan.budget, u64::MAX, f64::MAX),
        gate: GateConfig {
            alpha: 0.05,
            test: Test::Sign,
            // The compile step of the gate is skipped (see the report's method section).
            build: false,
            ..GateConfig::default()
        },
        min_class_episodes: 2,
        epsilon: 0.1,
        proposer: None,
    })
}

/// The arms in report order; `None` is the expert.
pub(super) const ARMS: [Option<Arm>; 5] = [
    Some(Arm::Seed),
    Some(Arm::Random),
    Some(Arm::PromptOnly),
    Some(Arm::Aegis),
    None,
];

pub(super) fn arm_name(a: Option<Arm>) -> &'static str {
    a.map_or("expert", Arm::name)
}

#[cfg(test)]
mod tests {
    use super::super::tests::args;
    use super::*;

    #[test]
    fn textworld_trains_and_tests_on_disjoint_folds() {
        let e = env_setup("textworld").unwrap();
        assert!(e.train.contains("--fold train") && e.train.contains("--game twc"));
        let held = e.held_out.unwrap();
        assert!(held.contains("--fold dev"), "{held}");
        assert!(held.contains(&format!("--step-limit {TWX_STEP_LIMIT}")));
        assert!(env_setup("household").unwrap().held_out.is_none());
    }

    #[test]
    fn quick_needs_no_python_and_full_includes_textworld() {
        let mut a = args();
        assert_eq!(Plan::new(&a).envs, ["household"]);
        a.quick = false;
        assert!(Plan::new(&a).envs.iter().any(|e| e == "textworld"));
    }
}
