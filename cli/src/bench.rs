//! `harnessx bench evolution`: the evolution benchmark. Runs every arm (seed, random
//! mutation search, prompt-only, AEGIS, the expert) on every (environment, model tier)
//! cell for several evolution seeds, at one episode budget and one gate, and writes a
//! Markdown report with tables and SVG plots. Every number in the report comes from this
//! command; nothing in it is typed by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use harnessx_evolve::arms::{curve_at, expert_held_out, run_arm, Arm, ArmRun};
use harnessx_evolve::checkpoint::Config;
use harnessx_evolve::gate::{GateConfig, Test};
use harnessx_evolve::ledger::{write_atomic, Cost};

use crate::exit;
use crate::output;

/// The TextWorldExpress environment through the stdio bridge (docs/BRIDGE.md).
pub const TEXTWORLD_ENV: &str = "stdio:python3 bridges/textworld_express_bridge.py";

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
                vec!["household", "flaky_api"],
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

/// The environment spec and seed harness of a benchmark environment name.
fn env_setup(name: &str) -> Result<(String, &'static str), String> {
    match name {
        "household" => Ok(("household".into(), "examples/household.harness")),
        "flaky_api" => Ok(("flaky_api".into(), "examples/flaky_api.harness")),
        "textworld" | "textworld_express" => {
            Ok((TEXTWORLD_ENV.into(), "bridges/textworld_express.harness"))
        }
        other => Err(format!(
            "unknown benchmark environment `{other}` (household, flaky_api, textworld)"
        )),
    }
}

fn config(plan: &Plan, env: &str, tier: &str, seed: u64) -> Result<Config, String> {
    let (env_spec, file) = env_setup(env)?;
    let src = std::fs::read_to_string(file).map_err(|e| format!("`{file}`: {e}"))?;
    Ok(Config {
        file: file.into(),
        seed_source: src,
        env: env_spec,
        model: format!("sim:{tier}"),
        rounds: plan.rounds,
        k: plan.k,
        seed,
        train_tasks: plan.train_tasks,
        seeds_per_task: plan.seeds_per_task,
        held_out_tasks: plan.held_out_tasks,
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
    let doc = render(&plan, a, &results, total_secs, threads)?;
    write_file(&a.out, &doc)?;
    Ok(format!(
        "wrote {} ({} runs in {:.1} s)\n",
        a.out.display(),
        total,
        total_secs
    ))
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
) -> Result<String, String> {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "<!-- Generated by `{}`. Do not edit by hand: rerun the command. -->\n",
        a.command
    );
    let _ = writeln!(
        s,
        "**All evolution results below are SIMULATED**: the models are the `sim:` tiers, \
         deterministic stand-ins for language models, not real ones.\n"
    );
    let _ = writeln!(s, "Generated by one command:\n\n```\n{}\n```\n", a.command);
    let _ = writeln!(
        s,
        "It took {total_secs:.0} s of wall time on {threads} worker thread(s) on this machine:\n\n{}",
        machine()
    );

    let _ = writeln!(s, "## Evolution benchmark (SIMULATED)\n");
    let _ = writeln!(
        s,
        "Arms, all at the same budget of **{} train episodes** per run and the same gate \
         (sign test, alpha 0.05, seesaw rule, smoke run); {} rounds of at most {} candidates; \
         each evaluation on {} train tasks x {} seeds; held-out success on {} held-out tasks \
         (household: its locked held-out split; others: task indices never used for \
         training); **{} evolution seed(s) per cell**.\n",
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
                let runs = results
                    .get(&(env.clone(), tier.clone(), arm_name(arm)))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
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
                let runs = results
                    .get(&(env.clone(), tier.clone(), arm_name(arm)))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
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
                    let runs = results
                        .get(&(env.clone(), tier.clone(), arm_name(arm)))
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
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
            let svg = chart(
                &format!("{} with sim:{tier} (SIMULATED)", env_label(env)),
                &series,
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

    let _ = writeln!(s, "### Not run by this command\n");
    let all_envs = ["household", "flaky_api", "textworld"];
    for e in all_envs {
        if !plan
            .envs
            .iter()
            .any(|x| x == e || (e == "textworld" && x == "textworld_express"))
        {
            let why = if e == "textworld" {
                "TextWorldExpress through the stdio bridge (`--envs textworld`; needs python3, \
                 Java and `pip install textworld-express==1.1.0`): not included in this run"
            } else {
                "not included in this run"
            };
            let _ = writeln!(s, "- {e}: {why}.");
        }
    }
    let _ = writeln!(
        s,
        "- The real-model arm (SmolLM2-135M on the local llama-cpp-python server, seed vs \
         evolved on a small task subset) is not part of this command and has not been run; \
         there are no real-model numbers in this document.\n"
    );

    let _ = writeln!(s, "## Compiler and runtime benchmarks (criterion)\n");
    let _ = writeln!(
        s,
        "Not generated by this command, so no numbers are shown here. Run them with:\n\n\
         ```\ncargo bench -p harnessx-benches\n```\n\n\
         `frontend` (parse, check, lower, codegen of generated harnesses), `codegen` (parse + \
         check + lower + codegen at 100, 1,000 and 10,000 lines) and `runtime` (per-step \
         overhead). Criterion writes its reports under `target/criterion/`."
    );
    Ok(s)
}

const COLORS: [&str; 5] = ["#7f7f7f", "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c"];

/// A line chart of success (0..1) against episodes, one colored series per arm.
fn chart(title: &str, series: &[(&str, Vec<(f64, f64)>)]) -> String {
    let (w, h, l, r, t, b) = (600.0, 320.0, 56.0, 130.0, 34.0, 46.0);
    let xmax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(1.0, f64::max);
    let px = |x: f64| l + (w - l - r) * x / xmax;
    let py = |y: f64| h - b - (h - b - t) * y.clamp(0.0, 1.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="13">{}</text>"#,
        w / 2.0,
        title.replace('&', "&amp;").replace('<', "&lt;")
    );
    for i in 0..=4 {
        let v = f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
            l - 4.0,
            py(v) + 4.0,
            y = py(v),
            x1 = w - r
        );
    }
    for i in 0..=5 {
        let x = xmax * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{x:.0}</text>"#,
            px(x),
            h - b + 14.0
        );
    }
    let _ = writeln!(
        s,
        r#"<path d="M{l} {t} V{} H{}" stroke="black" fill="none"/>"#,
        h - b,
        w - r
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">train episodes spent</text>"#,
        (l + w - r) / 2.0,
        h - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{c}" text-anchor="middle" transform="rotate(-90 14 {c})">held-out success</text>"#,
        c = (t + h - b) / 2.0
    );
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            path.join(" ")
        );
        let ly = t + 16.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{ly}" width="10" height="10" fill="{c}"/><text x="{}" y="{}">{name}</text>"#,
            w - r + 12.0,
            w - r + 26.0,
            ly + 9.0
        );
    }
    s.push_str("</svg>\n");
    s
}
