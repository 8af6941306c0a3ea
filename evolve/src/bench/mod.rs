//! The evolution benchmark (`harnessx bench evolution`). Runs every arm (seed, random
//! mutation search, prompt-only, AEGIS, the expert) on every (environment, model tier)
//! cell for several evolution seeds, at one episode budget and one gate, and writes a
//! Markdown report with tables and SVG plots. Optionally it also runs the real-model arm
//! (the seed harness and a harness AEGIS evolved on `sim:small`, both against a real
//! model on a few held-out tasks) and includes the criterion results. Every number in the
//! report comes from this command; nothing in it is typed by hand.
//!
//! - `plan`: the cells, the benchmark environments and bridge settings, one
//!   run's config;
//! - `cells`: the simulated runs on worker threads;
//! - `real`: the real-model arm;
//! - `stats`: intervals over seeds, reply statistics from traces, paired comparisons;
//! - `plots`, `markdown`, `real_markdown`: the SVG plots and the report's text.

mod cells;
mod markdown;
mod plan;
mod plots;
mod real;
mod real_markdown;
mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use harnessx_runtime::fsutil::write_atomic;

pub use plan::ABLATIONS;
use plan::{env_setup, Plan};
use real::{run_real, RealSetup};

/// `harnessx bench evolution`'s settings.
pub struct BenchArgs {
    pub quick: bool,
    pub seeds: Option<u64>,
    pub tiers: Option<Vec<String>>,
    pub envs: Option<Vec<String>>,
    pub rounds: Option<u32>,
    pub budget_episodes: Option<u64>,
    /// The ablations to run ([`ABLATIONS`]; default all, `paraphrased,no_finish` with
    /// `--quick`), and their evolution seeds per cell (default: `seeds`).
    pub ablations: Option<Vec<String>>,
    pub ablation_seeds: Option<u64>,
    pub out: PathBuf,
    /// A Markdown file (the README) whose section `evolution` gets the household rows of
    /// the headline table.
    pub readme: Option<PathBuf>,
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
    /// The criterion results, already rendered as a Markdown section, to include.
    pub criterion: Option<String>,
    /// The script that ran this command, for the report's generated-by line.
    pub via: Option<String>,
    /// The command line as typed, for the report.
    pub command: String,
}

/// Runs the benchmark and writes the report to `a.out` and its plots to `bench/` next to
/// it. Returns the line to print (what was written, how long it took).
pub fn evolution(a: &BenchArgs) -> Result<String, String> {
    let plan = Plan::new(a);
    for e in plan.envs.iter().chain(&plan.ablations) {
        env_setup(e)?;
    }
    // Checked before the long simulated part, so a typo fails at once.
    let real = match &a.real_model {
        Some(spec) => Some(RealSetup::new(a, spec)?),
        None => None,
    };
    let scratch = std::env::temp_dir().join(format!("harnessx-bench-{}", std::process::id()));
    let threads = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let results = cells::run_cells(&plan, threads, &scratch)?;
    let total: usize = results.values().map(Vec::len).sum();
    let total_secs = started.elapsed().as_secs_f64();
    let real = match real {
        Some(setup) => Some(run_real(&plan, setup, &results)?),
        None => None,
    };
    let doc = markdown::render(
        &plan,
        a,
        &results,
        total_secs,
        threads,
        real.as_ref(),
        a.criterion.as_deref(),
    );
    let plot_dir = plots::plot_dir(&a.out);
    std::fs::create_dir_all(&plot_dir).map_err(|e| format!("`{}`: {e}", plot_dir.display()))?;
    for (name, svg) in plots::plots(&plan, &results) {
        write_file(&plot_dir.join(name), &svg)?;
    }
    // Sections other benchmark commands wrote into the same file stay (they are not this
    // command's figures to drop).
    let doc = match std::fs::read_to_string(&a.out) {
        Ok(old) => harnessx_runtime::doc_sections::carry_over(&old, &doc),
        Err(_) => doc,
    };
    write_file(&a.out, &doc)?;
    if let Some(readme) = &a.readme {
        let body = markdown::readme_section(&plan, a, &results);
        harnessx_runtime::doc_sections::write_section(readme, "evolution", &body)
            .map_err(|e| format!("`{}`: {e}", readme.display()))?;
    }
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

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("`{}`: {e}", dir.display()))?;
    }
    write_atomic(path, text.as_bytes()).map_err(|e| format!("`{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::BenchArgs;

    /// `--quick` with every other setting at its default.
    pub(super) fn args() -> BenchArgs {
        BenchArgs {
            quick: true,
            seeds: None,
            tiers: None,
            envs: None,
            rounds: None,
            budget_episodes: None,
            ablations: None,
            ablation_seeds: None,
            out: "x/BENCHMARKS.md".into(),
            readme: None,
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
}
