//! `harnessx bench evolution`: the evolution benchmark. Runs every arm (seed, random
//! mutation search, prompt-only, AEGIS, the expert) on every (environment, model tier)
//! cell for several evolution seeds, at one episode budget and one gate, and writes a
//! Markdown report with tables and SVG plots. Optionally it also runs the real-model arm
//! (the seed harness and a harness AEGIS evolved on `sim:small`, both against a real
//! model on a few held-out tasks) and appends the criterion results. Every number
//! in the report comes from this command; nothing in it is typed by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use harnessx_evolve::arms::{curve_at, expert_held_out, run_arm, Arm, ArmRun};
use harnessx_evolve::checkpoint::Config;
use harnessx_evolve::emit::unified_diff;
use harnessx_evolve::gate::{evaluate, static_check, GateConfig, Outcome, Pair, Test};
use harnessx_evolve::ledger::Cost;
use harnessx_evolve::run::{held_out_pairs, parse_model};
use harnessx_evolve::stats::{sign_test, Rate};
use harnessx_evolve::svg::line_chart;
use harnessx_runtime::fsutil::write_atomic;
use harnessx_runtime::ir::Decoding;
use harnessx_runtime::trace::{EventKind, TraceEvent};

use crate::exit;
use crate::output;

/// The TextWorldExpress bridge (docs/BRIDGE.md), run from the workspace root.
const TWX_BRIDGE: &str = "python3 bridges/textworld_express_bridge.py";
/// The game the benchmark plays: TextWorld Commonsense (put objects where they belong).
const TWX_GAME: &str = "twc";
/// Its settings: one room, four objects to put away, no doors, unlimited inventory.
const TWX_PARAMS: &str = "numLocations=1,numItemsToPutAway=4,includeDoors=0,limitInventorySize=0";
/// The bridge's step limit in the simulated cells.
const TWX_STEP_LIMIT: u32 = 50;
/// The real-model arm's default environment and number of tasks: household, whose harness
/// has a context budget that keeps prompts inside the SmolLM2 server's 2,048-token window,
/// and 10 tasks per harness, about 12 minutes of SmolLM2-135M on 2 cores.
const REAL_ENV: &str = "household";
const REAL_TASKS: u64 = 10;
/// The real-model arm's evolved harness: AEGIS with this tier and evolution seed.
const REAL_FROM_TIER: &str = "small";
const REAL_FROM_SEED: u64 = 1;

/// The TextWorldExpress bridge on one fold of the game with a step limit.
fn twx_spec(fold: &str, step_limit: u32) -> String {
    format!(
        "stdio:{TWX_BRIDGE} --game {TWX_GAME} --params {TWX_PARAMS} --fold {fold} \
         --step-limit {step_limit}"
    )
}

/// `harnessx bench evolution`'s settings.
pub struct BenchArgs {
    pub quick: bool,
    pub seeds: Option<u64>,
    pub tiers: Option<Vec<String>>,
    pub envs: Option<Vec<String>>,
    pub rounds: Option<u32>,
    pub budget_episodes: Option<u64>,
    pub out: PathBuf,
    pub jobs: Option<usize>,
    /// The real-model arm's model spec (`openai:...`, `cache:DIR:...`, `replay:DIR`);
    /// `None`: the arm is not run.
    pub real_model: Option<String>,
    /// The real-model arm's environment: household or textworld.
    pub real_env: Option<String>,
    /// Tasks per harness in the real-model arm.
    pub real_tasks: Option<u64>,
    /// Decodings of the real-model arm: `free`, `constrained` (default constrained).
    pub real_decodings: Option<Vec<String>>,
    /// Where an `openai:` real model's responses are recorded.
    pub real_cache: PathBuf,
    /// A criterion output directory whose results are appended to the report.
    pub criterion: Option<PathBuf>,
    /// The script that ran this command, for the report's generated-by line.
    pub via: Option<String>,
    /// The command line as typed, for the report.
    pub command: String,
}

/// Everything one cell's runs share.
#[derive(Clone)]
struct Plan {
    seeds: u64,
    tiers: Vec<String>,
    envs: Vec<String>,
    rounds: u32,
    k: usize,
    train_tasks: u64,
    seeds_per_task: u64,
    held_out_tasks: u64,
    budget: u64,
}

impl Plan {
    fn new(a: &BenchArgs) -> Plan {
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
struct EnvSetup {
    /// The environment spec of training (and of held-out episodes unless `held_out`).
    train: String,
    /// A separate spec for held-out episodes.
    held_out: Option<String>,
    /// The seed harness.
    harness: &'static str,
}

/// The specs and seed harness of a benchmark environment name.
fn env_setup(name: &str) -> Result<EnvSetup, String> {
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

fn is_textworld(env: &str) -> bool {
    matches!(env, "textworld" | "textworld_express")
}

fn config(plan: &Plan, env: &str, tier: &str, seed: u64) -> Result<Config, String> {
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
    })
}

/// The arms in report order; `None` is the expert.
const ARMS: [Option<Arm>; 5] = [
    Some(Arm::Seed),
    Some(Arm::Random),
    Some(Arm::PromptOnly),
    Some(Arm::Aegis),
    None,
];

fn arm_name(a: Option<Arm>) -> &'static str {
    a.map_or("expert", Arm::name)
}

type Key = (String, String, &'static str); // env, tier, arm

pub fn bench_evolution(a: &BenchArgs, color: bool) -> u8 {
    match run(a) {
        Ok(text) => {
            output::stdout(&text);
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}

fn run(a: &BenchArgs) -> Result<String, String> {
    let plan = Plan::new(a);
    for e in &plan.envs {
        env_setup(e)?;
    }
    // Checked before the long simulated part, so a typo fails at once.
    let real = match &a.real_model {
        Some(spec) => Some(RealSetup::new(a, spec)?),
        None => None,
    };
    let scratch = std::env::temp_dir().join(format!("harnessx-bench-{}", std::process::id()));
    let mut jobs: Vec<(String, String, Option<Arm>, u64)> = Vec::new();
    for env in &plan.envs {
        for tier in &plan.tiers {
            for s in 1..=plan.seeds {
                for arm in ARMS {
                    jobs.push((env.clone(), tier.clone(), arm, s));
                }
            }
        }
    }
    let threads = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let total = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results: Mutex<BTreeMap<Key, Vec<(u64, ArmRun)>>> = Mutex::new(BTreeMap::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some((i, (env, tier, arm, seed))) = queue.lock().unwrap().pop() else {
                    return;
                };
                let out = scratch.join(format!("{i}"));
                let r = config(&plan, &env, &tier, seed).and_then(|cfg| match arm {
                    Some(arm) => run_arm(&cfg, arm, &out, 1),
                    None => expert_held_out(&cfg, 1),
                });
                let _ = std::fs::remove_dir_all(&out);
                match r {
                    Ok(run) => {
                        eprintln!(
                            "[{:>4}/{total}] {env} sim:{tier} {} seed {seed}: held-out {:.3}",
                            i + 1,
                            arm_name(arm),
                            run.held_out
                        );
                        results
                            .lock()
                            .unwrap()
                            .entry((env, tier, arm_name(arm)))
                            .or_default()
                            .push((seed, run));
                    }
                    Err(e) => errors.lock().unwrap().push(format!(
                        "{env} sim:{tier} {} seed {seed}: {e}",
                        arm_name(arm)
                    )),
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    if let Some(e) = errors.into_inner().unwrap().into_iter().next() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap();
    for v in results.values_mut() {
        v.sort_by_key(|(s, _)| *s);
    }
    let total_secs = started.elapsed().as_secs_f64();
    let real = match real {
        Some(setup) => Some(run_real(&plan, setup, &results)?),
        None => None,
    };
    let criterion = match &a.criterion {
        Some(dir) => Some(
            crate::criterion_report::render(dir)
                .map_err(|e| format!("criterion results in `{}`: {e}", dir.display()))?,
        ),
        None => None,
    };
    let doc = render(
        &plan,
        a,
        &results,
        total_secs,
        threads,
        real.as_ref(),
        criterion.as_deref(),
    )?;
    write_file(&a.out, &doc)?;
    Ok(format!(
        "wrote {} ({} runs in {:.1} s{})\n",
        a.out.display(),
        total,
        total_secs,
        real.as_ref().map_or(String::new(), |r| format!(
            "; real-model arm {:.1} s",
            r.seconds
        ))
    ))
}

// ---------------------------------------------------------------------------------------
// The real-model arm

/// What the real-model arm runs, checked before anything else runs.
#[derive(Clone)]
struct RealSetup {
    /// The spec as given.
    given: String,
    /// The spec used: an `openai:` spec behind a response cache.
    spec: String,
    /// The response cache, when this command put one in front of the model.
    cache: Option<PathBuf>,
    tasks: u64,
    decodings: Vec<Decoding>,
    /// The benchmark environment name (household, textworld).
    env: String,
    /// The environment spec of the real-model episodes.
    env_spec: String,
}

impl RealSetup {
    fn new(a: &BenchArgs, given: &str) -> Result<RealSetup, String> {
        let (spec, cache) = if given.starts_with("openai:") {
            let dir = &a.real_cache;
            let d = dir.display().to_string();
            if d.contains(':') {
                return Err(format!(
                    "--real-cache `{d}`: the directory must not contain `:`"
                ));
            }
            (format!("cache:{d}:{given}"), Some(dir.clone()))
        } else {
            (given.to_string(), None)
        };
        parse_model(&spec).map_err(|e| format!("--real-model: {e}"))?;
        let mut decodings = Vec::new();
        for d in a
            .real_decodings
            .clone()
            .unwrap_or_else(|| vec!["constrained".into()])
        {
            let d = match d.as_str() {
                "free" => Decoding::Free,
                "constrained" => Decoding::Constrained,
                other => {
                    return Err(format!(
                        "--real-decoding: unknown decoding `{other}` (free, constrained)"
                    ))
                }
            };
            if !decodings.contains(&d) {
                decodings.push(d);
            }
        }
        let env = a.real_env.clone().unwrap_or_else(|| REAL_ENV.into());
        let setup = env_setup(&env)?;
        let env_spec = setup.held_out.unwrap_or(setup.train);
        Ok(RealSetup {
            given: given.to_string(),
            spec,
            cache,
            tasks: a.real_tasks.unwrap_or(REAL_TASKS).max(1),
            decodings,
            env,
            env_spec,
        })
    }
}

fn decoding_name(d: Decoding) -> &'static str {
    match d {
        Decoding::Free => "free",
        Decoding::Constrained => "constrained",
    }
}

/// What the traces of one evaluation show about the model's replies.
#[derive(Default)]
struct ReplyStats {
    replies: u64,
    /// Replies the parser did not read as a call (before any repair).
    malformed: u64,
    /// Tool calls that reached the environment (not blocked by a rule).
    tool_calls: u64,
    /// The calls the model's replies were read as, with counts.
    calls: BTreeMap<String, u64>,
    /// Time the model calls took (request to reply, as recorded in the trace's clock).
    model_ms: u64,
}

impl ReplyStats {
    fn add_trace(&mut self, events: &[TraceEvent]) {
        let mut asked = 0;
        for e in events {
            let clock = e.clock_ms;
            match &e.kind {
                EventKind::ModelRequest { .. } => asked = clock,
                EventKind::ModelResponse { .. } => {
                    self.replies += 1;
                    self.model_ms += clock.saturating_sub(asked);
                }
                EventKind::ModelFailed { .. } => self.model_ms += clock.saturating_sub(asked),
                EventKind::CallParsed { call, .. } => match call {
                    Some(c) => *self.calls.entry(c.clone()).or_default() += 1,
                    None => self.malformed += 1,
                },
                EventKind::ToolCall { .. } => self.tool_calls += 1,
                _ => {}
            }
        }
    }

    /// The model's most frequent call and its share of the replies read as calls.
    fn top_call(&self) -> Option<(&str, f64)> {
        let (c, n) = self
            .calls
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
        let total: u64 = self.calls.values().sum();
        Some((c.as_str(), *n as f64 / total.max(1) as f64))
    }
}

/// One harness under one decoding against the real model.
struct RealRow {
    decoding: Decoding,
    /// `seed` or `evolved`.
    harness: &'static str,
    outcomes: Vec<Outcome>,
    stats: ReplyStats,
    wall_secs: f64,
}

impl RealRow {
    fn rate(&self) -> Rate {
        Rate::new(
            self.outcomes.iter().filter(|o| o.success).count() as u64,
            self.outcomes.len() as u64,
        )
    }
}

struct RealArm {
    setup: RealSetup,
    /// Where the evolved harness came from.
    evolved_from: String,
    /// Held-out success of seed and evolved under sim:small on the same env (200 tasks).
    sim_held_out: (f64, f64),
    diff: String,
    pairs: Vec<Pair>,
    rows: Vec<RealRow>,
    seconds: f64,
    /// Train episodes of one gate evaluation in the simulated cells.
    train_episodes: u64,
    /// Held-out tasks of the simulated cells.
    held_out_tasks: u64,
}

/// Runs the real-model arm: the seed harness and the harness AEGIS evolved on the arm's
/// environment with sim:small (evolution seed 1, taken from the simulated cells when they
/// include it, else evolved here with the same settings), each on the first N held-out
/// tasks, once per decoding.
fn run_real(
    plan: &Plan,
    setup: RealSetup,
    results: &BTreeMap<Key, Vec<(u64, ArmRun)>>,
) -> Result<RealArm, String> {
    let started = Instant::now();
    let env = setup.env.as_str();
    let label = env_label(env);
    let cfg = config(plan, env, REAL_FROM_TIER, REAL_FROM_SEED)?;
    let find = |arm: Arm| {
        results
            .get(&(env.to_string(), REAL_FROM_TIER.to_string(), arm.name()))
            .and_then(|v| v.iter().find(|(s, _)| *s == REAL_FROM_SEED))
            .map(|(_, r)| r.clone())
    };
    let (evolved, seed_run, evolved_from) = match (find(Arm::Aegis), find(Arm::Seed)) {
        (Some(e), Some(s)) => (
            e,
            s,
            format!(
                "the aegis run of the {label} sim:{REAL_FROM_TIER} cell above, evolution \
                 seed {REAL_FROM_SEED}"
            ),
        ),
        _ => {
            eprintln!(
                "real-model arm: evolving on {label} with sim:{REAL_FROM_TIER}, seed \
                 {REAL_FROM_SEED}"
            );
            let out =
                std::env::temp_dir().join(format!("harnessx-bench-real-{}", std::process::id()));
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let e = run_arm(&cfg, Arm::Aegis, &out, workers);
            let _ = std::fs::remove_dir_all(&out);
            let s = run_arm(&cfg, Arm::Seed, &out, workers)?;
            (
                e?,
                s,
                format!(
                    "an aegis run with the settings of the simulated cells ({label}, \
                     sim:{REAL_FROM_TIER}, evolution seed {REAL_FROM_SEED}), made by this \
                     command for this section"
                ),
            )
        }
    };
    let seed_src = harnessx_syntax::print(&harnessx_syntax::parse(&cfg.seed_source).file);
    let diff = unified_diff(
        &seed_src,
        &evolved.harness,
        "seed.harness",
        "evolved.harness",
    );
    let (held, _) = held_out_pairs(&cfg);
    let pairs: Vec<Pair> = held.into_iter().take(setup.tasks as usize).collect();
    let mut rows = Vec::new();
    for &decoding in &setup.decodings {
        for (name, src) in [("seed", &cfg.seed_source), ("evolved", &evolved.harness)] {
            let mut ir = static_check(src)?;
            ir.model.decoding = decoding;
            let mut model = parse_model(&setup.spec)?;
            model.apply_model_ir(&ir.model);
            let t = Instant::now();
            let mut outcomes = Vec::new();
            let mut stats = ReplyStats::default();
            for (i, p) in pairs.iter().enumerate() {
                let eval = evaluate(
                    &ir,
                    &setup.env_spec,
                    &model,
                    std::slice::from_ref(p),
                    1,
                    true,
                )?;
                for trace in &eval.traces {
                    stats.add_trace(trace);
                }
                let o = eval
                    .outcomes
                    .into_iter()
                    .next()
                    .ok_or("an evaluation returned no outcome")?;
                eprintln!(
                    "real-model arm: {} {name} task {}/{}: {} in {} steps{} ({:.0} s so far)",
                    decoding_name(decoding),
                    i + 1,
                    pairs.len(),
                    if o.success { "solved" } else { "not solved" },
                    o.steps,
                    o.model_error
                        .as_ref()
                        .map_or(String::new(), |_| ", model error".into()),
                    started.elapsed().as_secs_f64()
                );
                outcomes.push(o);
            }
            rows.push(RealRow {
                decoding,
                harness: name,
                outcomes,
                stats,
                wall_secs: t.elapsed().as_secs_f64(),
            });
        }
    }
    Ok(RealArm {
        setup,
        evolved_from,
        sim_held_out: (seed_run.held_out, evolved.held_out),
        diff,
        pairs,
        rows,
        seconds: started.elapsed().as_secs_f64(),
        train_episodes: plan.train_tasks * plan.seeds_per_task,
        held_out_tasks: plan.held_out_tasks,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("`{}`: {e}", dir.display()))?;
    }
    write_atomic(path, text.as_bytes()).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// Two-sided 95% Student t quantiles for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Mean and 95% t interval half-width (0 for a single value).
fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T975.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "- CPU: {cpu}\n- cores available: {cores}\n- OS: {os}, kernel {kernel} ({})\n- harnessx {}\n",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

fn env_label(env: &str) -> &str {
    match env {
        "textworld" | "textworld_express" => "TextWorldExpress",
        e => e,
    }
}

fn render(
    plan: &Plan,
    a: &BenchArgs,
    results: &BTreeMap<Key, Vec<(u64, ArmRun)>>,
    total_secs: f64,
    threads: usize,
    real: Option<&RealArm>,
    criterion: Option<&str>,
) -> Result<String, String> {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let generated_by = match &a.via {
        Some(script) => format!("`{script}`, which runs `{}`", a.command),
        None => format!("`{}`", a.command),
    };
    let _ = writeln!(
        s,
        "<!-- Generated by {generated_by}. Do not edit by hand: rerun the command. -->\n"
    );
    let real_note = match real {
        Some(r) => format!(
            " The one exception is the real-model arm (section \"Real-model arm\"), which \
             runs the real model `{}` on {} {} tasks per harness.",
            r.setup.given,
            r.setup.tasks,
            env_label(&r.setup.env)
        ),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "**All evolution results below are SIMULATED**: the models are the `sim:` tiers, \
         deterministic stand-ins for language models, not real ones.{real_note}\n"
    );
    match &a.via {
        Some(script) => {
            let mut before = String::new();
            if a.criterion.is_some() {
                before.push_str(
                    " runs the criterion benchmarks (`cargo bench -p harnessx-benches`),",
                );
            }
            if a.real_model.is_some() {
                before.push_str(" starts the real model's server (`scripts/serve-smollm2.sh`),");
            }
            if !before.is_empty() {
                before.push_str(" and then");
            }
            let _ = writeln!(
                s,
                "Generated by one command:\n\n```\n{script}\n```\n\nwhich{before} \
                 runs:\n\n```\n{}\n```\n",
                a.command
            );
        }
        None => {
            let _ = writeln!(s, "Generated by one command:\n\n```\n{}\n```\n", a.command);
        }
    }
    let _ = writeln!(
        s,
        "The simulated part took {total_secs:.0} s of wall time on {threads} worker thread(s){} \
         on this machine:\n\n{}",
        real.map_or(String::new(), |r| format!(
            ", the real-model arm {:.0} s (the recorded latencies of its model replies add \
             up to {:.0} s; the response cache serves requests it has seen)",
            r.seconds,
            r.rows.iter().map(|x| x.stats.model_ms).sum::<u64>() as f64 / 1000.0
        )),
        machine()
    );

    let _ = writeln!(s, "## Evolution benchmark (SIMULATED)\n");
    let _ = writeln!(
        s,
        "Arms, all at the same budget of **{} train episodes** per run and the same gate \
         (sign test, alpha 0.05, seesaw rule, smoke run); {} rounds of at most {} candidates; \
         each evaluation on {} train tasks x {} seeds; held-out success on {} held-out tasks \
         (household: its locked held-out split; TextWorldExpress: games of its dev fold; \
         others: task indices never used for training); **{} evolution seed(s) per cell**.\n",
        plan.budget,
        plan.rounds,
        plan.k,
        plan.train_tasks,
        plan.seeds_per_task,
        plan.held_out_tasks,
        plan.seeds
    );
    let _ = writeln!(
        s,
        "- **seed**: the seed harness, no evolution.\n\
         - **random**: random mutation search: the same operators, each proposal an operator \
         and a failure class drawn uniformly, no digester-driven choice, no bandit.\n\
         - **prompt-only**: the planner restricted to the prompt-only operators \
         (`swap_fragment`), as prompt optimizers do.\n\
         - **aegis**: the full loop, as `harnessx evolve` runs it.\n\
         - **expert**: the upper limit: the seed harness with `noisy:1.0`, which replies \
         with the environment's expert call at every step. No evolution.\n"
    );
    let _ = writeln!(s, "Environments:\n");
    for env in &plan.envs {
        let _ = writeln!(s, "- {}", env_description(env, plan));
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "Held-out success is the mean over evolution seeds with a 95% Student t interval \
         over seeds (`mean [low, high]`, clipped to [0, 1]).\n"
    );

    // Headline table.
    let _ = writeln!(s, "### Held-out success\n");
    let mut head = String::from("| environment | model |");
    let mut rule = String::from("|---|---|");
    for arm in ARMS {
        let _ = write!(head, " {} |", arm_name(arm));
        rule.push_str("---|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for env in &plan.envs {
        for tier in &plan.tiers {
            let _ = write!(s, "| {} | sim:{tier} |", env_label(env));
            for arm in ARMS {
                let runs = runs_of(results, env, tier, arm);
                let xs: Vec<f64> = runs.iter().map(|(_, r)| r.held_out).collect();
                let (m, h) = mean_ci(&xs);
                let (lo, hi) = ((m - h).max(0.0), (m + h).min(1.0));
                let _ = write!(s, " {m:.3} [{lo:.3}, {hi:.3}] |");
            }
            s.push('\n');
        }
    }
    s.push('\n');

    // Cost table.
    let _ = writeln!(s, "### Cost per arm\n");
    let _ = writeln!(
        s,
        "Means per run. Episodes and tokens are the search's (train evaluations, smoke runs); \
         the held-out measurement is not charged. Wall time is the whole run on one thread, \
         held-out evaluation included.\n"
    );
    let _ = writeln!(
        s,
        "| environment | model | arm | episodes | tokens | wall time (s) | harnesses shipped |\n|---|---|---|---|---|---|---|"
    );
    for env in &plan.envs {
        for tier in &plan.tiers {
            for arm in ARMS {
                let runs = runs_of(results, env, tier, arm);
                let n = runs.len().max(1) as f64;
                let mean =
                    |f: &dyn Fn(&ArmRun) -> f64| runs.iter().map(|(_, r)| f(r)).sum::<f64>() / n;
                let _ = writeln!(
                    s,
                    "| {} | sim:{tier} | {} | {:.0} | {:.0} | {:.2} | {:.1} |",
                    env_label(env),
                    arm_name(arm),
                    mean(&|r| r.episodes as f64),
                    mean(&|r| r.tokens as f64),
                    mean(&|r| r.seconds),
                    mean(&|r| r.ships as f64),
                );
            }
        }
    }
    s.push('\n');

    // Plots.
    let _ = writeln!(s, "### Held-out success vs train episodes spent\n");
    let _ = writeln!(
        s,
        "Each evolving arm's curve is the held-out success of its best harness so far (every \
         shipped harness is evaluated once on the held-out tasks for the plot, not charged), \
         averaged over seeds at each point of the episode axis. Seed and expert are flat.\n"
    );
    let plot_dir = a
        .out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("bench");
    std::fs::create_dir_all(&plot_dir).map_err(|e| format!("`{}`: {e}", plot_dir.display()))?;
    for env in &plan.envs {
        for tier in &plan.tiers {
            let xs: Vec<u64> = (0..=10).map(|i| plan.budget * i / 10).collect();
            let series: Vec<(&str, Vec<(f64, f64)>)> = ARMS
                .iter()
                .map(|&arm| {
                    let runs = runs_of(results, env, tier, arm);
                    let n = runs.len().max(1) as f64;
                    let pts = xs
                        .iter()
                        .map(|&x| {
                            let y =
                                runs.iter().map(|(_, r)| curve_at(&r.curve, x)).sum::<f64>() / n;
                            (x as f64, y)
                        })
                        .collect();
                    (arm_name(arm), pts)
                })
                .collect();
            let name = format!("{}-{tier}.svg", env_label(env).to_lowercase());
            let svg = line_chart(
                &format!("{} with sim:{tier} (SIMULATED)", env_label(env)),
                "train episodes spent",
                "held-out success",
                &series,
                Some(1.0),
            );
            write_file(&plot_dir.join(&name), &svg)?;
            let _ = writeln!(
                s,
                "![{} sim:{tier}: held-out success vs episodes](bench/{name})\n",
                env_label(env)
            );
        }
    }

    let _ = writeln!(s, "### Method notes\n");
    let _ = writeln!(
        s,
        "- The gate's compile step (one batched cargo build per generation) is skipped in the \
         benchmark: it takes seconds to minutes per generation and would dominate the wall \
         time without changing any decision. Evaluation always runs the interpreter in \
         process, and the differential test (tests/tests/differential.rs) guarantees its \
         traces equal the compiled build's, so the results are the same as with the build.\n\
         - Every random choice derives from the evolution seed; rerunning the command gives \
         the same success numbers (wall times vary).\n\
         - The arms share the train pairs and held-out pairs of each evolution seed, so \
         differences between arms in a row are paired.\n"
    );

    if let Some(r) = real {
        render_real(&mut s, r);
    }
    if let Some(text) = criterion {
        let _ = writeln!(s, "{}\n", text.trim_end());
    }

    let _ = writeln!(s, "## Not run by this command\n");
    let mut missing = 0;
    for e in ["household", "flaky_api", "textworld"] {
        if !plan
            .envs
            .iter()
            .any(|x| x == e || (is_textworld(e) && is_textworld(x)))
        {
            missing += 1;
            let why = if is_textworld(e) {
                "TextWorldExpress through the stdio bridge (`--envs textworld`; needs python3, \
                 Java and `pip install textworld-express==1.1.0`): not included in this run"
            } else {
                "not included in this run"
            };
            let _ = writeln!(s, "- {e}: {why}.");
        }
    }
    if real.is_none() {
        missing += 1;
        let _ = writeln!(
            s,
            "- The real-model arm (a real model, e.g. SmolLM2-135M on the local llama-cpp-python \
             server, on a few held-out tasks with the seed harness and with a harness AEGIS \
             evolved on sim:small) was not run: there are no real-model numbers \
             in this document. `scripts/benchmarks.sh` runs it; by hand, start the server with \
             `url=$(scripts/serve-smollm2.sh)` and add `--real-model \"openai:$url#smollm2\"` \
             (and `--real-tasks N`, default {REAL_TASKS})."
        );
    }
    if a.criterion.is_none() {
        missing += 1;
        let _ = writeln!(
            s,
            "- The compiler and runtime benchmarks (criterion): run `cargo bench -p \
             harnessx-benches` and add `--criterion target/criterion` to include their results \
             (`scripts/benchmarks.sh` does both). `frontend` (parse, check, lower, codegen of \
             generated harnesses), `codegen` (parse + check + lower + codegen at 100, 1,000 \
             and 10,000 lines) and `runtime` (per-step overhead)."
        );
    }
    if missing == 0 {
        let _ = writeln!(s, "Nothing: every part of the benchmark ran.");
    }
    Ok(s)
}

fn runs_of<'a>(
    results: &'a BTreeMap<Key, Vec<(u64, ArmRun)>>,
    env: &str,
    tier: &str,
    arm: Option<Arm>,
) -> &'a [(u64, ArmRun)] {
    results
        .get(&(env.to_string(), tier.to_string(), arm_name(arm)))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// One line on what an environment is and how the benchmark runs it.
fn env_description(env: &str, plan: &Plan) -> String {
    match env {
        "household" => "**household**: the built-in ALFWorld-like environment \
                        (`examples/household.harness`)."
            .into(),
        "flaky_api" => "**flaky_api**: the built-in unreliable-tool-use environment \
                        (`examples/flaky_api.harness`)."
            .into(),
        _ => format!(
            "**TextWorldExpress** (`textworld`): the real TextWorldExpress engine \
             (`textworld-express` 1.1.0) through the stdio bridge \
             (`bridges/textworld_express_bridge.py`, docs/BRIDGE.md), seed harness \
             `bridges/textworld_express.harness`. Game `{TWX_GAME}` (TextWorld Commonsense: put \
             objects where they belong), parameters `{TWX_PARAMS}` (one room, four objects to \
             put away, no doors), the bridge's step limit {TWX_STEP_LIMIT} (the harness's own \
             `max_steps` ends episodes sooner). Train episodes play games \
             0-{} of the train fold; held-out episodes play games 0-{} of the dev fold, a \
             disjoint set of games.",
            plan.train_tasks.saturating_sub(1),
            plan.held_out_tasks.saturating_sub(1)
        ),
    }
}

/// Wilson 95% interval as `[lo, hi]`.
fn wilson_text(r: Rate) -> String {
    let (lo, hi) = r.wilson95();
    format!("[{lo:.2}, {hi:.2}]")
}

/// The paired comparison of evolved against seed on the same tasks: the difference in
/// success rate, tasks only the evolved harness solved, tasks only the seed solved, and
/// the exact two-sided sign test on those.
fn paired(seed: &[Outcome], evolved: &[Outcome]) -> (f64, u64, u64, f64) {
    let n = seed.len().min(evolved.len()).max(1) as f64;
    let (mut wins, mut losses, mut diff) = (0, 0, 0.0);
    for (s, e) in seed.iter().zip(evolved) {
        diff += f64::from(u8::from(e.success)) - f64::from(u8::from(s.success));
        match (s.success, e.success) {
            (false, true) => wins += 1,
            (true, false) => losses += 1,
            _ => {}
        }
    }
    (diff / n, wins, losses, sign_test(wins, losses))
}

/// Recorded model time per real-model episode, over every row.
fn model_secs_per_episode(r: &RealArm) -> f64 {
    let ms: u64 = r.rows.iter().map(|x| x.stats.model_ms).sum();
    let n: usize = r.rows.iter().map(|x| x.outcomes.len()).sum();
    ms as f64 / 1000.0 / n.max(1) as f64
}

fn render_real(s: &mut String, r: &RealArm) {
    let st = &r.setup;
    let _ = writeln!(s, "## Real-model arm (REAL model, tiny sample)\n");
    let first = r.pairs.first().map_or(0, |p| p.task);
    let last = first + r.pairs.len() as u64 - 1;
    let what = if is_textworld(&st.env) {
        format!(
            "TextWorldExpress games (game `{TWX_GAME}` with `{TWX_PARAMS}`, games 0-{} of the \
             dev fold, i.e. held-out task indices {first}-{last} of evolution seed \
             {REAL_FROM_SEED}, never played in training)",
            r.pairs.len() - 1
        )
    } else {
        format!(
            "{} tasks (held-out tasks {first}-{last} of evolution seed {REAL_FROM_SEED}, never \
             used in training)",
            env_label(&st.env)
        )
    };
    let _ = writeln!(
        s,
        "The seed harness and the harness AEGIS evolved **on the simulation** \
         (sim:{REAL_FROM_TIER}; {}), each run against the real model `{}` on the same {} \
         {what}. Decoding: {}. Under sim:{REAL_FROM_TIER}, on all {} held-out tasks of \
         evolution seed {REAL_FROM_SEED}, the two harnesses score {:.3} (seed) and {:.3} \
         (evolved).\n",
        r.evolved_from,
        st.given,
        r.pairs.len(),
        st.decodings
            .iter()
            .map(|d| match d {
                Decoding::Free => "`free` (the harnesses as written)".to_string(),
                Decoding::Constrained => "`constrained` (both harnesses with `decoding = \
                                          constrained` switched on: the reply must be one of \
                                          the admissible actions, docs/MODELS.md)"
                    .to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        r.held_out_tasks,
        r.sim_held_out.0,
        r.sim_held_out.1,
    );
    let _ = writeln!(
        s,
        "| decoding | harness | solved | success [Wilson 95%] | mean steps | replies | \
         malformed replies | calls executed | the model's most frequent call | model errors | tokens \
         (prompt + completion) | model time (s) | wall time (s) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in &r.rows {
        let rate = row.rate();
        let n = row.outcomes.len().max(1) as f64;
        let steps = row.outcomes.iter().map(|o| f64::from(o.steps)).sum::<f64>() / n;
        let tokens: u64 = row.outcomes.iter().map(|o| o.tokens).sum();
        let model_secs = row.stats.model_ms as f64 / 1000.0;
        let errors = row
            .outcomes
            .iter()
            .filter(|o| o.model_error.is_some())
            .count();
        let top = row.stats.top_call().map_or("-".to_string(), |(c, share)| {
            format!("`{c}` ({:.0}%)", share * 100.0)
        });
        let _ = writeln!(
            s,
            "| {} | {} | {}/{} | {:.2} {} | {steps:.1} | {} | {} | {} | {top} | {errors} | \
             {tokens} | {model_secs:.0} | {:.0} |",
            decoding_name(row.decoding),
            row.harness,
            rate.successes,
            rate.trials,
            rate.value(),
            wilson_text(rate),
            row.stats.replies,
            row.stats.malformed,
            row.stats.tool_calls,
            row.wall_secs,
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "Paired on the same tasks (evolved minus seed; the sign test is exact and two-sided, \
         on the tasks only one harness solved):\n\n\
         | decoding | success difference | solved only by evolved | solved only by seed | \
         sign test p |\n|---|---|---|---|---|"
    );
    for &d in &st.decodings {
        let get = |h: &str| {
            r.rows
                .iter()
                .find(|x| x.decoding == d && x.harness == h)
                .map(|x| x.outcomes.as_slice())
                .unwrap_or(&[])
        };
        let (diff, wins, losses, p) = paired(get("seed"), get("evolved"));
        let _ = writeln!(
            s,
            "| {} | {diff:+.2} | {wins} | {losses} | {p:.3} |",
            decoding_name(d)
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "\"Replies\" counts every model reply (re-asks included); \"malformed\" those the \
         parser did not read as a call before repair; \"calls executed\" the calls that \
         reached the environment (a rule may block one); the most frequent call's share is of \
         the replies read as calls; \"model time\" is the recorded latency of \
         the model calls (stored with each cached response, so it is the same when replayed); \
         \"wall time\" is this run's, which is seconds when the responses come from the cache. \
         An episode that ends on a model error (e.g. a prompt longer than the server's context \
         window) counts as not solved.\n"
    );
    match &st.cache {
        Some(dir) => {
            let _ = writeln!(
                s,
                "Every response was recorded in `{}` (`{}`); rerunning the command replays them \
                 without asking the model again, and `--real-model replay:{}` replays them with \
                 no server at all.\n",
                dir.display(),
                st.spec,
                dir.display()
            );
        }
        None => {
            let _ = writeln!(s, "The model spec was used as given (`{}`).\n", st.spec);
        }
    }
    let _ = writeln!(s, "What the evolution changed (seed to evolved):\n");
    if r.diff.trim().is_empty() {
        let _ = writeln!(
            s,
            "Nothing: AEGIS shipped no harness in this run, so \"evolved\" is the seed \
             harness and the comparison measures nothing but the model's run-to-run \
             variation.\n"
        );
    } else {
        let _ = writeln!(s, "```diff\n{}\n```\n", r.diff.trim_end());
    }
    let _ = writeln!(
        s,
        "What this shows, and what it does not:\n\n\
         - It shows what the two harnesses do with this real model on these tasks: the \
         success counts, whether the replies are calls at all, and what the model chooses.\n\
         - The sample is tiny ({} tasks per harness): the Wilson intervals above are wide, and \
         only a large difference could be told from chance.\n\
         - The evolved harness was selected for the *simulated* model. Any difference here is \
         transfer from sim:{REAL_FROM_TIER} to the real model, not the result of evolving \
         against the real model; no evolution ran against the real model (one evaluation \
         of a candidate on {} train episodes would take about {:.0} minutes of model time at \
         the speed above, and a run evaluates dozens).\n\
         - Only the model (and the decoding) differs from the simulated cells: same \
         harnesses, same environment, the first of the same held-out tasks.\n",
        r.pairs.len(),
        r.train_episodes,
        r.train_episodes as f64 * model_secs_per_episode(r) / 60.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(task: u64, success: bool) -> Outcome {
        Outcome {
            task,
            seed: 0,
            success,
            tokens: 0,
            steps: 1,
            clock_ms: 0,
            model_error: None,
        }
    }

    fn args() -> BenchArgs {
        BenchArgs {
            quick: true,
            seeds: None,
            tiers: None,
            envs: None,
            rounds: None,
            budget_episodes: None,
            out: "x/BENCHMARKS.md".into(),
            jobs: None,
            real_model: None,
            real_env: None,
            real_tasks: None,
            real_decodings: None,
            real_cache: "target/cache".into(),
            criterion: None,
            via: None,
            command: "harnessx bench evolution --quick".into(),
        }
    }

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

    #[test]
    fn an_openai_real_model_is_recorded_in_the_cache() {
        let mut a = args();
        let r = RealSetup::new(&a, "openai:http://127.0.0.1:8089/v1#smollm2").unwrap();
        assert_eq!(
            r.spec,
            "cache:target/cache:openai:http://127.0.0.1:8089/v1#smollm2"
        );
        assert_eq!(r.decodings, [Decoding::Constrained]);
        assert_eq!((r.env.as_str(), r.tasks), (REAL_ENV, REAL_TASKS));
        let r = RealSetup::new(&a, "replay:target/cache").unwrap();
        assert_eq!((r.spec.as_str(), r.cache), ("replay:target/cache", None));
        a.real_decodings = Some(vec!["free".into(), "constrained".into(), "free".into()]);
        a.real_env = Some("textworld".into());
        let r = RealSetup::new(&a, "replay:target/cache").unwrap();
        assert_eq!(r.decodings, [Decoding::Free, Decoding::Constrained]);
        assert!(r.env_spec.contains("--fold dev"), "{}", r.env_spec);
        a.real_decodings = Some(vec!["greedy".into()]);
        assert!(RealSetup::new(&a, "replay:x").is_err());
    }

    #[test]
    fn reply_stats_read_calls_malformed_replies_and_model_time() {
        let ev = |clock_ms, kind| TraceEvent {
            seq: 0,
            step: 0,
            hook: None,
            clock_ms,
            kind,
        };
        let request = |clock| {
            ev(
                clock,
                EventKind::ModelRequest {
                    purpose: "act".into(),
                    messages: 1,
                    context_tokens: 10,
                    seed: 0,
                    request_hash: String::new(),
                },
            )
        };
        let response = |clock| {
            ev(
                clock,
                EventKind::ModelResponse {
                    text: String::new(),
                    prompt_tokens: 1,
                    completion_tokens: 1,
                },
            )
        };
        let parsed = |clock, call: Option<&str>| {
            ev(
                clock,
                EventKind::CallParsed {
                    call: call.map(str::to_string),
                    error: call.is_none().then(|| "prose".to_string()),
                },
            )
        };
        let trace = [
            request(100),
            response(1100),
            parsed(1100, Some("look()")),
            ev(
                1100,
                EventKind::ToolCall {
                    tool: "look".into(),
                    call: "look()".into(),
                    attempt: 1,
                },
            ),
            request(1200),
            response(1700),
            parsed(1700, None),
            request(1700),
            response(1800),
            parsed(1800, Some("finish()")),
        ];
        let mut st = ReplyStats::default();
        st.add_trace(&trace);
        assert_eq!((st.replies, st.malformed, st.tool_calls), (3, 1, 1));
        assert_eq!(st.model_ms, 1000 + 500 + 100);
        // A tie goes to the call that sorts first.
        assert_eq!(st.top_call(), Some(("finish()", 0.5)));
    }

    #[test]
    fn paired_counts_discordant_tasks() {
        let seed = [outcome(0, true), outcome(1, false), outcome(2, false)];
        let evolved = [outcome(0, true), outcome(1, true), outcome(2, true)];
        let (diff, wins, losses, p) = paired(&seed, &evolved);
        assert!((diff - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((wins, losses), (2, 0));
        assert!((p - 0.5).abs() < 1e-12);
        assert_eq!(paired(&seed, &seed).3, 1.0);
    }
}
