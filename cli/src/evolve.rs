//! `harnessx evolve`, `harnessx resume` and `harnessx report`: thin wrappers over
//! `harnessx_evolve` that read files, draw progress bars on standard error (hidden when it
//! is not a terminal) and print the outcome.

use std::path::{Path, PathBuf};
use std::time::Instant;

use harnessx_evolve::checkpoint::{Checkpoint, Config};
use harnessx_evolve::error::RunError;
use harnessx_evolve::gate::{GateConfig, GateMode, Test};
use harnessx_evolve::ledger::Cost;
use harnessx_evolve::progress::Bars;
use harnessx_evolve::proposer::ProposerConfig;
use harnessx_evolve::round::Abort;
use harnessx_evolve::run::{self, Options};
use harnessx_runtime::models::spec::ModelSpec;

use crate::exit;
use crate::model::{self, Source};
use crate::output;

/// Set to `after:K` or `mid:K` to stop a run on purpose (for testing `resume`).
pub const ABORT_ENV: &str = "HARNESSX_EVOLVE_ABORT";

/// `harnessx evolve`'s settings, already validated by clap.
pub struct EvolveArgs {
    pub file: String,
    pub env: String,
    /// `--model`; without it, the seed harness's declared backend or the default one.
    pub model: Option<String>,
    pub rounds: u32,
    pub candidates: usize,
    pub budget_episodes: u64,
    pub budget_tokens: Option<u64>,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub train_tasks: u64,
    pub seeds_per_task: u64,
    pub held_out_tasks: u64,
    pub held_out_env: Option<String>,
    pub alpha: f64,
    pub bootstrap: bool,
    /// `--gate`: `racing` or `fixed`.
    pub gate: String,
    /// `--gate-block`: the racing gate's block, a fraction of the train pairs.
    pub gate_block: f64,
    pub no_build: bool,
    pub workers: Option<usize>,
    /// `--proposer` and its settings.
    pub proposer: Option<String>,
    pub proposer_repairs: u32,
    pub proposer_max_tokens: u32,
    /// Keep every evaluated episode's trace under `traces/` (not `--no-traces`).
    pub traces: bool,
}

/// The evaluation threads: as given, else the model's default (one for an `openai:`
/// model, whose local server keeps one prompt cache; see `ModelSpec::default_workers`).
fn workers(w: Option<usize>, model: Option<&ModelSpec>) -> usize {
    w.unwrap_or_else(|| match model {
        Some(m) => m.default_workers(),
        None => harnessx_runtime::runner::default_workers(),
    })
}

fn abort_from_env() -> Option<Abort> {
    std::env::var(ABORT_ENV).ok().and_then(|v| Abort::parse(&v))
}

/// `runs/<file stem>-<seed>`.
fn default_out(file: &str, seed: u64) -> PathBuf {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "harness".into());
    PathBuf::from("runs").join(format!("{stem}-{seed}"))
}

pub fn evolve(a: &EvolveArgs, color: bool) -> u8 {
    let src = match std::fs::read_to_string(&a.file) {
        Ok(s) => s,
        Err(e) => {
            output::error(
                format!("`{}`: {}", a.file, crate::input::describe(&e)),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    };
    let (model, source) = model::choose(a.model.as_deref(), &harnessx_syntax::parse(&src).file);
    if source != Source::Flag {
        if let Err(e) = run::parse_model(&model) {
            output::error(
                format!(
                    "`{}`: the harness's model `{model}`: {e} (`--model` runs another)",
                    a.file
                ),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    }
    let cfg = Config {
        file: a.file.clone(),
        seed_source: src,
        env: a.env.clone(),
        model: model.clone(),
        rounds: a.rounds,
        k: a.candidates,
        seed: a.seed,
        train_tasks: a.train_tasks,
        seeds_per_task: a.seeds_per_task,
        held_out_tasks: a.held_out_tasks,
        held_out_env: a.held_out_env.clone(),
        budget: Cost::new(
            a.budget_episodes,
            a.budget_tokens.unwrap_or(u64::MAX),
            f64::MAX,
        ),
        gate: GateConfig {
            alpha: a.alpha,
            test: if a.bootstrap {
                Test::Bootstrap
            } else {
                Test::Sign
            },
            build: !a.no_build,
            mode: GateMode::parse(&a.gate).unwrap_or(GateMode::Racing),
            block: a.gate_block,
            ..GateConfig::default()
        },
        min_class_episodes: 2,
        epsilon: 0.1,
        proposer: a.proposer.as_ref().map(|spec| ProposerConfig {
            repairs: a.proposer_repairs,
            max_tokens: a.proposer_max_tokens,
            ..ProposerConfig::new(spec.clone())
        }),
        phrasing: Default::default(),
    };
    let opts = Options {
        out: a
            .out
            .clone()
            .unwrap_or_else(|| default_out(&a.file, a.seed)),
        workers: workers(a.workers, run::parse_model(&model).ok().as_ref()),
        abort: abort_from_env(),
        traces: a.traces,
    };
    let started = Instant::now();
    let mut bars = Bars::new(a.rounds);
    let result = run::start(cfg, &opts, &mut bars);
    bars.finish();
    let model_line = format!("model {model}, {}\n", source.label());
    finish(result, &opts.out, started, Some(&model_line), color)
}

pub fn resume(dir: &Path, workers_opt: Option<usize>, traces: bool, color: bool) -> u8 {
    let model = Checkpoint::load(dir)
        .ok()
        .and_then(|c| c.config.model_spec().ok());
    let opts = Options {
        out: dir.to_path_buf(),
        workers: workers(workers_opt, model.as_ref()),
        abort: abort_from_env(),
        traces,
    };
    let rounds = Checkpoint::load(dir).map(|c| c.config.rounds).unwrap_or(0);
    let started = Instant::now();
    let mut bars = Bars::new(rounds);
    let result = run::resume(&opts, &mut bars);
    bars.finish();
    finish(result, dir, started, None, color)
}

/// Prints the outcome: the diff, the run's summary, `model_line` (which model and where it
/// came from, for a run started by this command) and the wall time.
fn finish(
    result: Result<Checkpoint, RunError>,
    out: &Path,
    started: Instant,
    model_line: Option<&str>,
    color: bool,
) -> u8 {
    let cp = match result {
        Ok(cp) => cp,
        // An output that cannot be written is an I/O error like any other file the CLI
        // cannot write (status 2); the run itself failing is status 1.
        Err(e) => {
            let status = if e.is_output() {
                exit::USAGE_OR_IO
            } else {
                exit::FAILED
            };
            output::error(e.message(), color);
            return status;
        }
    };
    let simulated = cp.config.model_spec().is_ok_and(|m| m.is_simulated());
    let diff = std::fs::read_to_string(out.join("best.diff")).unwrap_or_default();
    let mut text = String::new();
    if diff.is_empty() {
        text.push_str("no change shipped: the best harness is the seed\n");
    } else {
        text.push_str(&diff);
    }
    text.push_str(&run::summary_text(&cp, simulated));
    text.push_str(model_line.unwrap_or_default());
    text.push_str(&format!(
        "wall time {:.1} s; output in {}\n",
        started.elapsed().as_secs_f64(),
        out.display()
    ));
    output::stdout(&text);
    exit::OK
}

pub fn report(dir: &Path, color: bool) -> u8 {
    match harnessx_evolve::report::write_report(dir) {
        Ok(path) => {
            output::stdout(&format!("{}\n", path.display()));
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}
