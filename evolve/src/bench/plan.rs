//! What the benchmark runs: the plan of cells (environments x sim tiers x evolution
//! seeds), the benchmark environments with their bridge settings, and the evolution
//! config of one run.

use crate::checkpoint::Config;
use crate::fragments::Phrasing;
use crate::gate::{GateConfig, Test};
use crate::ledger::Cost;
use crate::realbench::RealArm;

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
    twx_game_spec(TWX_GAME, TWX_PARAMS, fold, step_limit)
}

fn twx_game_spec(game: &str, params: &str, fold: &str, step_limit: u32) -> String {
    format!(
        "stdio:{TWX_BRIDGE} --game {game} --params={params} --fold {fold} \
         --step-limit {step_limit}"
    )
}

/// The TextWorldExpress games of the ablation "environments the library was not written
/// for": name, parameters (empty: the game has none), what it asks. Parameters keep the
/// bridge's gold path within the seed harness's 12 steps.
pub(super) const TWX_ABLATION_GAMES: [(&str, &str, &str); 4] = [
    (
        "coin",
        "numLocations=2,numDistractorItems=0,includeDoors=0,limitInventorySize=0",
        "find the coin and take it (two rooms)",
    ),
    (
        "mapreader",
        "numLocations=3,maxDistanceApart=2,maxDistractorItemsPerLocation=0,includeDoors=0,\
         limitInventorySize=0",
        "read a map, fetch a coin from the named room and put it in the box (three rooms)",
    ),
    (
        "sorting",
        "",
        "put objects into the box in order of their quantities",
    ),
    (
        "arithmetic",
        "",
        "solve a math problem, then put the item with that quantity into the box",
    ),
];

/// The ablations `harnessx bench evolution` can run (`--ablations`), each a set of cells
/// with their own environment names in the results:
///
/// - `paraphrased`: household and flaky_api with every message the operators insert
///   replaced by its paraphrase (cells `household+paraphrased`, `flaky_api+paraphrased`);
/// - `no_finish`: household without the `finish` tool (cell `household_no_finish`);
/// - `games`: TextWorldExpress games other than `twc` (cells `twx:GAME`).
pub const ABLATIONS: [&str; 3] = ["paraphrased", "no_finish", "games"];

/// The cells of the ablations named in `names`, in report order.
pub(super) fn ablation_cells(names: &[String], plan_envs: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in ABLATIONS {
        if !names.iter().any(|n| n == a) {
            continue;
        }
        match a {
            "paraphrased" => {
                for e in ["household", "flaky_api"] {
                    if plan_envs.iter().any(|x| x == e) {
                        out.push(format!("{e}{PARAPHRASED}"));
                    }
                }
            }
            "no_finish" => out.push(NO_FINISH.into()),
            _ => out.extend(TWX_ABLATION_GAMES.iter().map(|g| format!("twx:{}", g.0))),
        }
    }
    out
}

/// The suffix of a paraphrase-ablation cell's environment name.
pub(super) const PARAPHRASED: &str = "+paraphrased";
/// The environment of the no-finish ablation (runtime `household_no_finish`).
pub(super) const NO_FINISH: &str = "household_no_finish";

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
    /// The ablation cells ([`ablation_cells`]), run like `envs` and reported apart.
    pub ablations: Vec<String>,
    /// Evolution seeds of the ablation cells.
    pub ablation_seeds: u64,
}

impl Plan {
    pub fn new(a: &BenchArgs) -> Plan {
        let ablations: Vec<String> = a.ablations.clone().unwrap_or_else(|| {
            if a.quick {
                vec!["paraphrased".into(), "no_finish".into()]
            } else {
                ABLATIONS.iter().map(|s| s.to_string()).collect()
            }
        });
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
        let envs: Vec<String> = a
            .envs
            .clone()
            .unwrap_or_else(|| envs.iter().map(|s| s.to_string()).collect());
        let seeds = a.seeds.unwrap_or(seeds);
        Plan {
            seeds,
            tiers: a
                .tiers
                .clone()
                .unwrap_or_else(|| tiers.iter().map(|s| s.to_string()).collect()),
            ablations: ablation_cells(&ablations, &envs),
            ablation_seeds: a.ablation_seeds.unwrap_or(seeds),
            envs,
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
    /// The wording of the operators' messages.
    pub phrasing: Phrasing,
    /// The seed harness loses its `finish` tool (the no-finish ablation).
    pub drop_finish: bool,
}

impl EnvSetup {
    fn new(train: String, held_out: Option<String>, harness: &'static str) -> EnvSetup {
        EnvSetup {
            train,
            held_out,
            harness,
            phrasing: Phrasing::Library,
            drop_finish: false,
        }
    }

    /// The seed harness's source.
    pub fn seed_source(&self) -> Result<String, String> {
        let file = self.harness;
        let src = std::fs::read_to_string(file).map_err(|e| format!("`{file}`: {e}"))?;
        if !self.drop_finish {
            return Ok(src);
        }
        without_finish(&src).ok_or_else(|| format!("`{file}` has no tool `finish` to drop"))
    }
}

/// `src` without its `finish` tool (the rest as the printer writes it), or `None` when it
/// has none.
pub(super) fn without_finish(src: &str) -> Option<String> {
    let mut file = harnessx_syntax::parse(src).file;
    let h = file.harness.as_mut()?;
    let before = h.items.len();
    h.items
        .retain(|i| !matches!(i, harnessx_syntax::Item::Tool(t) if t.name.name == "finish"));
    (h.items.len() < before).then(|| harnessx_syntax::print(&file))
}

/// The specs and seed harness of a benchmark environment name.
pub(super) fn env_setup(name: &str) -> Result<EnvSetup, String> {
    if let Some(base) = name.strip_suffix(PARAPHRASED) {
        let mut e = env_setup(base)?;
        e.phrasing = Phrasing::Paraphrased;
        return Ok(e);
    }
    if let Some(game) = name.strip_prefix("twx:") {
        let (_, params, _) = TWX_ABLATION_GAMES
            .iter()
            .find(|g| g.0 == game)
            .ok_or_else(|| format!("unknown TextWorldExpress ablation game `{game}`"))?;
        // As for twc: held-out episodes play the dev fold.
        return Ok(EnvSetup::new(
            twx_game_spec(game, params, "train", TWX_STEP_LIMIT),
            Some(twx_game_spec(game, params, "dev", TWX_STEP_LIMIT)),
            "bridges/textworld_express.harness",
        ));
    }
    match name {
        "household" => Ok(EnvSetup::new(
            "household".into(),
            None,
            "examples/household.harness",
        )),
        NO_FINISH => Ok(EnvSetup {
            drop_finish: true,
            ..EnvSetup::new(NO_FINISH.into(), None, "examples/household.harness")
        }),
        "flaky_api" => Ok(EnvSetup::new(
            "flaky_api".into(),
            None,
            "examples/flaky_api.harness",
        )),
        // The bridge plays game `T mod 1000` of its fold, so held-out task indices would
        // reach train games again: held-out episodes play the dev fold instead.
        "textworld" | "textworld_express" => Ok(EnvSetup::new(
            twx_spec("train", TWX_STEP_LIMIT),
            Some(twx_spec("dev", TWX_STEP_LIMIT)),
            "bridges/textworld_express.harness",
        )),
        other => Err(format!(
            "unknown benchmark environment `{other}` (household, flaky_api, textworld)"
        )),
    }
}

pub(super) fn is_textworld(env: &str) -> bool {
    matches!(env, "textworld" | "textworld_express") || env.starts_with("twx:")
}

/// The environment's name in the report.
pub(super) fn env_label(env: &str) -> String {
    match env {
        "textworld" | "textworld_express" => "TextWorldExpress".into(),
        e => match e.strip_prefix("twx:") {
            Some(game) => format!("TextWorldExpress {game}"),
            None => e.into(),
        },
    }
}

/// The evolution config of one run: `env` with `sim:<tier>` and evolution seed `seed`.
pub(super) fn config(plan: &Plan, env: &str, tier: &str, seed: u64) -> Result<Config, String> {
    let setup = env_setup(env)?;
    let src = setup.seed_source()?;
    Ok(Config {
        file: setup.harness.into(),
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
        phrasing: setup.phrasing,
    })
}

/// The arms in report order (those of `harnessx bench real` but the proposer's: the
/// simulated cells have no model that writes harnesses).
pub(super) const ARMS: [RealArm; 6] = [
    RealArm::Seed,
    RealArm::RandomPolicy,
    RealArm::RandomSearch,
    RealArm::PromptOnly,
    RealArm::Aegis,
    RealArm::Expert,
];

pub(super) fn arm_name(a: RealArm) -> &'static str {
    a.name()
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
        let quick = Plan::new(&a);
        assert_eq!(quick.envs, ["household"]);
        assert_eq!(
            quick.ablations,
            ["household+paraphrased", "household_no_finish"]
        );
        a.quick = false;
        let full = Plan::new(&a);
        assert!(full.envs.iter().any(|e| e == "textworld"));
        assert!(
            full.ablations
                .iter()
                .filter(|e| e.starts_with("twx:"))
                .count()
                >= 3
        );
        assert!(full
            .ablations
            .contains(&"flaky_api+paraphrased".to_string()));
        a.ablations = Some(vec!["none".into()]);
        assert!(Plan::new(&a).ablations.is_empty());
    }

    #[test]
    fn ablation_cells_change_what_they_say() {
        let p = env_setup("household+paraphrased").unwrap();
        assert_eq!(
            (p.train.as_str(), p.phrasing),
            ("household", Phrasing::Paraphrased)
        );
        let n = env_setup(NO_FINISH).unwrap();
        assert!(n.drop_finish && n.train == NO_FINISH);
        // (seed_source reads the file relative to the workspace root, where the command runs.)
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../",
            "examples/household.harness"
        );
        assert_eq!(n.harness, "examples/household.harness");
        let src = without_finish(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            !src.contains("tool finish") && src.contains("tool go("),
            "{src}"
        );
        crate::gate::static_check(&src).unwrap();
        for (game, params, _) in TWX_ABLATION_GAMES {
            assert_ne!(game, TWX_GAME);
            let e = env_setup(&format!("twx:{game}")).unwrap();
            assert!(e
                .train
                .contains(&format!("--game {game} --params={params} --fold train")));
            assert!(e.held_out.unwrap().contains("--fold dev"));
        }
        assert!(env_setup("twx:zork").is_err());
    }
}
