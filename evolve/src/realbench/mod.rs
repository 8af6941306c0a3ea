//! `harnessx bench real`: the real-model benchmark. A real model (SmolLM2-135M on the local
//! llama-cpp-python server by default, behind a response cache) plays TextWorldExpress
//! `twc` through the stdio bridge, and the arms compete at the same episode budget:
//!
//! - the seed harness as written;
//! - the random admissible-action policy (`random`, no model: the floor);
//! - random mutation search, prompt-only search, AEGIS and AEGIS with the open-ended
//!   proposer ([`crate::arms`]): the same train games, gate and budget, differing only in
//!   how proposals are chosen;
//! - the expert (the bridge's oracle: the ceiling).
//!
//! Every arm's final harness plays the same held-out games (the bridge's test fold), so
//! the arms are compared game by game with paired sign tests. [`report`] writes the
//! Markdown and the plot. Nothing in the report is typed by hand.
//!
//! A rerun replays the cache and asks the model nothing it has answered; the report then
//! says "replayed" and gives the date and machine of the run that asked the model (the
//! cache's [`ORIGIN_FILE`]).

pub mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use harnessx_runtime::fsutil::write_atomic;
use harnessx_runtime::models::spec::ModelSpec;

use crate::arms::{run_arm_observed, ArmRun};
use crate::checkpoint::RoundRecord;
use crate::checkpoint::{Checkpoint, Config};
use crate::gate::{evaluate, static_check, GateConfig, Pair, Test};
use crate::ledger::Cost;
use crate::planner::Arm;
use crate::proposer::ProposerConfig;
use crate::round::Observer;
use crate::run::{held_out_pairs, parse_model};

/// The local SmolLM2 server that `scripts/serve-smollm2.sh` starts.
pub const DEFAULT_MODEL: &str = "openai:http://127.0.0.1:8089/v1#smollm2";
/// The seed harness: constrained decoding over every admissible action.
pub const DEFAULT_HARNESS: &str = "bridges/textworld_express_smollm2.harness";
/// Written into the response cache when this command asks the model anything: when and on
/// what machine the replies were recorded.
pub const ORIGIN_FILE: &str = "origin.txt";

/// One game setting of `twc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: String,
    /// What it is, for the report.
    pub about: String,
    /// The bridge's `--params`.
    pub params: String,
}

impl Setting {
    /// `easy` (1 room, 1 item) or `hard` (1 room, 3 items).
    pub fn parse(name: &str) -> Result<Setting, String> {
        let (about, items) = match name {
            "easy" => ("1 room, 1 item to put away", 1),
            "hard" => ("1 room, 3 items to put away", 3),
            other => return Err(format!("unknown setting `{other}` (easy, hard)")),
        };
        Ok(Setting {
            name: name.to_string(),
            about: about.to_string(),
            params: format!(
                "numLocations=1,numItemsToPutAway={items},includeDoors=0,limitInventorySize=0"
            ),
        })
    }

    fn env(&self, fold: &str) -> String {
        format!(
            "stdio:python3 bridges/textworld_express_bridge.py --params {} --fold {fold}",
            self.params
        )
    }
}

/// The benchmark's arms, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealArm {
    Seed,
    RandomPolicy,
    RandomSearch,
    PromptOnly,
    Aegis,
    AegisProposer,
    Expert,
}

impl RealArm {
    pub const ALL: [RealArm; 7] = [
        RealArm::Seed,
        RealArm::RandomPolicy,
        RealArm::RandomSearch,
        RealArm::PromptOnly,
        RealArm::Aegis,
        RealArm::AegisProposer,
        RealArm::Expert,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RealArm::Seed => "seed",
            RealArm::RandomPolicy => "random_policy",
            RealArm::RandomSearch => "random_search",
            RealArm::PromptOnly => "prompt_only",
            RealArm::Aegis => "aegis",
            RealArm::AegisProposer => "aegis_proposer",
            RealArm::Expert => "expert",
        }
    }

    /// What the arm is, for the report.
    pub fn label(self) -> &'static str {
        match self {
            RealArm::Seed => "seed harness",
            RealArm::RandomPolicy => "random admissible action (floor, no model)",
            RealArm::RandomSearch => "random mutation search",
            RealArm::PromptOnly => "prompt-only search",
            RealArm::Aegis => "AEGIS",
            RealArm::AegisProposer => "AEGIS + proposer",
            RealArm::Expert => "expert (the environment's oracle)",
        }
    }

    /// A short name for a table column or a plot legend.
    pub fn short(self) -> &'static str {
        match self {
            RealArm::Seed => "seed",
            RealArm::RandomPolicy => "random action (floor)",
            RealArm::RandomSearch => "random search",
            RealArm::PromptOnly => "prompt-only",
            RealArm::Aegis => "AEGIS",
            RealArm::AegisProposer => "AEGIS + proposer",
            RealArm::Expert => "expert (oracle)",
        }
    }

    pub fn parse(s: &str) -> Result<RealArm, String> {
        RealArm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RealArm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown arm `{s}` ({})", names.join(", "))
            })
    }

    /// The model a non-evolving arm plays with instead of the benchmark's model: the
    /// random admissible-action policy for the floor, `noisy:1.0` (the environment's
    /// expert call at every step) for the expert; `None` for the arms that use the model.
    pub fn fixed_model(self) -> Option<ModelSpec> {
        match self {
            RealArm::RandomPolicy => Some(ModelSpec::RandomPolicy),
            RealArm::Expert => Some(ModelSpec::Noisy(1.0)),
            _ => None,
        }
    }

    /// The evolution loop's arm, for the arms that evolve.
    pub fn loop_arm(self) -> Option<Arm> {
        match self {
            RealArm::RandomSearch => Some(Arm::Random),
            RealArm::PromptOnly => Some(Arm::PromptOnly),
            RealArm::Aegis | RealArm::AegisProposer => Some(Arm::Aegis),
            _ => None,
        }
    }

    pub fn evolves(self) -> bool {
        self.loop_arm().is_some()
    }
}

/// `harnessx bench real`'s settings.
#[derive(Debug, Clone)]
pub struct RealBenchArgs {
    /// The model: put behind the response cache in `cache`, unless it is a `cache:` or
    /// `replay:` spec already.
    pub model: String,
    pub cache: PathBuf,
    pub harness: PathBuf,
    pub settings: Vec<Setting>,
    pub arms: Vec<RealArm>,
    pub train_tasks: u64,
    pub held_out_tasks: u64,
    /// Train episodes per evolving arm: the same hard limit for each.
    pub budget_episodes: u64,
    pub rounds: u32,
    pub candidates: usize,
    /// Evolution seeds per evolving arm.
    pub seeds: u64,
    /// Train and held-out environments instead of the TextWorldExpress bridge (one
    /// setting, named `custom`): for tests and for other bridges.
    pub env_override: Option<(String, String)>,
    /// Where the evolving arms' run directories go (kept, for `harnessx report`).
    pub work: PathBuf,
    pub out: PathBuf,
    /// The command line as typed, for the report.
    pub command: String,
}

/// One arm's result in one setting.
#[derive(Debug, Clone)]
pub struct ArmResult {
    pub arm: RealArm,
    /// The evolution seed, for the arms that evolve.
    pub seed: Option<u64>,
    /// Held-out success of the arm's final harness, game by game (task order).
    pub outcomes: Vec<bool>,
    pub held_out_mean_tokens: f64,
    /// What the search spent on train games (0 for the arms that do not evolve).
    pub train_episodes: u64,
    pub train_tokens: u64,
    /// Wall time of the arm: its search and its held-out games.
    pub seconds: f64,
    pub ships: usize,
    /// Held-out success of the best harness so far against train episodes spent.
    pub curve: Vec<(u64, f64)>,
    pub harness: String,
    /// The rounds of the arm's run (operators tried, gate verdicts).
    pub rounds: Vec<RoundRecord>,
    /// The proposer's counts, for the arm that asks it.
    pub proposer: Option<String>,
    pub run_dir: Option<PathBuf>,
}

impl ArmResult {
    pub fn successes(&self) -> u64 {
        self.outcomes.iter().filter(|s| **s).count() as u64
    }
}

#[derive(Debug, Clone)]
pub struct SettingResult {
    pub setting: Setting,
    pub train_env: String,
    pub held_out_env: String,
    pub held_out_split: String,
    pub arms: Vec<ArmResult>,
}

/// Where the replies came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Provenance {
    /// The model was asked `asked` times in this run (the rest came from the cache).
    Live {
        asked: u64,
        date: String,
        machine: String,
    },
    /// Every reply came from the cache; they were recorded as the origin file says.
    Replayed { origin: String },
    /// The model is not behind a cache this command manages (`sim:`, `replay:`, ...).
    AsGiven,
}

#[derive(Debug, Clone)]
pub struct RealBenchRun {
    pub args: RealBenchArgs,
    /// The model spec used (with the cache) and its description.
    pub spec: String,
    pub model: String,
    pub simulated: bool,
    pub settings: Vec<SettingResult>,
    pub seconds: f64,
    pub provenance: Provenance,
}

/// Runs the benchmark, reporting progress through `log`, and writes the report.
pub fn run(a: &RealBenchArgs, log: &mut dyn FnMut(&str)) -> Result<RealBenchRun, String> {
    if a.arms.is_empty() {
        return Err("no arms to run".into());
    }
    if a.held_out_tasks == 0 {
        return Err("--held-out-tasks must be at least 1".into());
    }
    let seed_source = std::fs::read_to_string(&a.harness)
        .map_err(|e| format!("`{}`: {e}", a.harness.display()))?;
    let seed_ir =
        static_check(&seed_source).map_err(|e| format!("`{}`: {e}", a.harness.display()))?;
    // Every model but an explicit cache or replay goes behind the cache, so reruns
    // replay and the report can say so.
    let (spec, cache) = if !(a.model.starts_with("cache:") || a.model.starts_with("replay:")) {
        let d = a.cache.display().to_string();
        if d.contains(':') {
            return Err(format!("--cache `{d}`: the directory must not contain `:`"));
        }
        (format!("cache:{d}:{}", a.model), Some(a.cache.clone()))
    } else {
        (a.model.clone(), None)
    };
    let model = parse_model(&spec).map_err(|e| format!("--model: {e}"))?;
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let mut settings = Vec::new();
    let list: Vec<Setting> = match &a.env_override {
        Some(_) => vec![Setting {
            name: "custom".into(),
            about: "the environments given".into(),
            params: String::new(),
        }],
        None => a.settings.clone(),
    };
    for setting in list {
        let (train_env, held_out_env) = match &a.env_override {
            Some((t, h)) => (t.clone(), h.clone()),
            None => (setting.env("train"), setting.env("test")),
        };
        let base = |seed: u64, proposer: bool| Config {
            file: a.harness.display().to_string(),
            seed_source: seed_source.clone(),
            env: train_env.clone(),
            model: spec.clone(),
            rounds: a.rounds,
            k: a.candidates,
            seed,
            train_tasks: a.train_tasks,
            seeds_per_task: 1,
            held_out_tasks: a.held_out_tasks,
            held_out_env: Some(held_out_env.clone()),
            budget: Cost::new(a.budget_episodes, u64::MAX, f64::MAX),
            gate: GateConfig {
                build: false,
                test: Test::Sign,
                ..GateConfig::default()
            },
            min_class_episodes: 2,
            epsilon: 0.1,
            proposer: proposer.then(|| ProposerConfig::new(spec.clone())),
            phrasing: Default::default(),
        };
        let (pairs, split) = held_out_pairs(&base(1, false));
        let mut arms = Vec::new();
        for &arm in &a.arms {
            let seeds: Vec<Option<u64>> = if arm.evolves() {
                (1..=a.seeds.max(1)).map(Some).collect()
            } else {
                vec![None]
            };
            for seed in seeds {
                let t = Instant::now();
                log(&format!(
                    "[{}] {}{}: started",
                    setting.name,
                    arm.name(),
                    seed.map_or(String::new(), |s| format!(" (evolution seed {s})"))
                ));
                let result = match arm.loop_arm() {
                    None => {
                        let arm_model = arm.fixed_model().unwrap_or_else(|| model.clone());
                        let (outcomes, tokens) =
                            held_out(&seed_ir, &held_out_env, &arm_model, &pairs)?;
                        let rate = rate(&outcomes);
                        ArmResult {
                            arm,
                            seed: None,
                            outcomes,
                            held_out_mean_tokens: tokens,
                            train_episodes: 0,
                            train_tokens: 0,
                            seconds: t.elapsed().as_secs_f64(),
                            ships: 0,
                            curve: vec![(0, rate)],
                            harness: seed_source.clone(),
                            rounds: Vec::new(),
                            proposer: None,
                            run_dir: None,
                        }
                    }
                    Some(loop_arm) => {
                        let s = seed.unwrap_or(1);
                        let cfg = base(s, arm == RealArm::AegisProposer);
                        let dir = a
                            .work
                            .join(&setting.name)
                            .join(format!("{}-{s}", arm.name()));
                        let mut obs = Lines {
                            prefix: format!("[{}] {} (seed {s})", setting.name, arm.name()),
                            log: &mut *log,
                        };
                        let run: ArmRun = run_arm_observed(&cfg, loop_arm, &dir, 1, &mut obs)?;
                        let ir = static_check(&run.harness)?;
                        let (outcomes, tokens) = held_out(&ir, &held_out_env, &model, &pairs)?;
                        let cp = Checkpoint::load(&dir)?;
                        ArmResult {
                            arm,
                            seed,
                            outcomes,
                            held_out_mean_tokens: tokens,
                            train_episodes: run.episodes,
                            train_tokens: run.tokens,
                            seconds: t.elapsed().as_secs_f64(),
                            ships: run.ships,
                            curve: run.curve,
                            harness: run.harness,
                            rounds: cp.rounds.clone(),
                            proposer: cp
                                .config
                                .proposer
                                .is_some()
                                .then(|| cp.proposer_stats.line()),
                            run_dir: Some(dir),
                        }
                    }
                };
                log(&format!(
                    "[{}] {}: {}/{} held-out games, {} train episodes, {:.0} s",
                    setting.name,
                    arm.name(),
                    result.successes(),
                    result.outcomes.len(),
                    result.train_episodes,
                    result.seconds
                ));
                arms.push(result);
            }
        }
        settings.push(SettingResult {
            setting,
            train_env,
            held_out_env,
            held_out_split: split,
            arms,
        });
    }
    let provenance = match &cache {
        Some(dir) => {
            let asked = cache_entries_since(dir, started_at);
            if asked > 0 {
                let (date, machine) = (today(), machine());
                let text = format!("date: {date}\nmachine: {machine}\n");
                write_atomic(&dir.join(ORIGIN_FILE), text.as_bytes())
                    .map_err(|e| format!("`{}`: {e}", dir.display()))?;
                Provenance::Live {
                    asked,
                    date,
                    machine,
                }
            } else {
                let origin = std::fs::read_to_string(dir.join(ORIGIN_FILE))
                    .map(|t| t.lines().map(str::trim).collect::<Vec<_>>().join("; "))
                    .unwrap_or_else(|_| "an earlier run (no origin recorded)".into());
                Provenance::Replayed { origin }
            }
        }
        None => Provenance::AsGiven,
    };
    let run = RealBenchRun {
        args: a.clone(),
        spec,
        model: model.to_string(),
        simulated: model.is_simulated(),
        settings,
        seconds: started.elapsed().as_secs_f64(),
        provenance,
    };
    report::write(&run)?;
    Ok(run)
}

/// The held-out games of one harness: success by game, and mean tokens per episode.
fn held_out(
    ir: &harnessx_runtime::ir::HarnessIr,
    env: &str,
    model: &ModelSpec,
    pairs: &[Pair],
) -> Result<(Vec<bool>, f64), String> {
    let eval = evaluate(ir, env, model, pairs, 1, false)?;
    let mut by_task: Vec<(u64, bool)> = eval.outcomes.iter().map(|o| (o.task, o.success)).collect();
    by_task.sort_by_key(|o| o.0);
    Ok((
        by_task.into_iter().map(|o| o.1).collect(),
        eval.mean_tokens(),
    ))
}

fn rate(outcomes: &[bool]) -> f64 {
    match outcomes.len() {
        0 => 0.0,
        n => outcomes.iter().filter(|s| **s).count() as f64 / n as f64,
    }
}

/// Recorded replies in a response cache (its `*.json` entries).
/// The replies stored in the cache `dir` since `since`: the requests this run asked the
/// model. Counted by time rather than as a difference of totals, so entries removed or
/// added by something else meanwhile do not turn a live run into a "replayed" one.
fn cache_entries_since(dir: &Path, since: std::time::SystemTime) -> u64 {
    std::fs::read_dir(dir).map_or(0, |it| {
        it.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since)
            })
            .count() as u64
    })
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The machine, as the report names it: OS, architecture, cores and CPU model.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{} {}, {cores} cores, {cpu}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Round progress as log lines.
struct Lines<'a> {
    prefix: String,
    log: &'a mut dyn FnMut(&str),
}

impl Observer for Lines<'_> {
    fn round_started(&mut self, round: u32, rounds: u32) {
        (self.log)(&format!("{}: round {round}/{rounds}", self.prefix));
    }
    fn step(&mut self, what: &str) {
        (self.log)(&format!("{}:   {what}", self.prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn arms_and_settings_parse_and_name_themselves() {
        for a in RealArm::ALL {
            assert_eq!(RealArm::parse(a.name()), Ok(a));
        }
        assert!(RealArm::parse("aegis2")
            .unwrap_err()
            .contains("aegis_proposer"));
        assert!(Setting::parse("easy")
            .unwrap()
            .params
            .contains("numItemsToPutAway=1"));
        assert!(Setting::parse("hard")
            .unwrap()
            .params
            .contains("numItemsToPutAway=3"));
        assert!(Setting::parse("medium").is_err());
    }
}
