//! The `harnessx` command-line tool.
//!
//! Thin by design: argument parsing, file IO, atomic writes and exit codes. Everything
//! about the language lives in `harnessx-syntax` and `harnessx-compiler`.

mod bench;
mod check;
mod compile;
mod evolve;
mod export;
mod fmt;
mod input;
mod model;
mod output;
mod review;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit statuses shared by every subcommand.
pub mod exit {
    /// Success: no errors found, nothing to change.
    pub const OK: u8 = 0;
    /// The input has errors (`check`), has syntax errors or would be reformatted (`fmt`).
    pub const FAILED: u8 = 1;
    /// Bad usage or an input/output error (unreadable file, unwritable directory).
    pub const USAGE_OR_IO: u8 = 2;
}

pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  the input has errors, or `fmt --check` found files to reformat
  2  bad usage, or a file could not be read or written";

const AFTER_HELP: &str = "\
Examples:
  harnessx check examples/*.harness
  harnessx check --format json examples/household.harness
  harnessx fmt --check examples/
  harnessx fmt - < messy.harness

Exit status (all commands):
  0  success
  1  the input has errors, or `fmt --check` found files to reformat
  2  bad usage, or a file could not be read or written

Run `harnessx help <COMMAND>` for the options of one command.";

/// A language and compiler for agent harnesses.
///
/// A `.harness` file declares everything around a language model that makes it an agent:
/// prompts, typed tools, the step loop, the context budget and guard rules on hooks.
#[derive(Debug, Parser)]
#[command(name = "harnessx", version, after_help = AFTER_HELP)]
#[command(propagate_version = true, arg_required_else_help = true)]
struct Cli {
    /// When to color diagnostics: `auto` colors them when standard error is a terminal
    /// and the NO_COLOR environment variable is unset.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check .harness files, reporting every error and warning.
    ///
    /// Human output (the default) writes the diagnostics and then a one-line summary
    /// ("checked 3 files: 2 errors, 1 warning") to standard error; nothing is written to
    /// standard output. JSON output writes one JSON document to standard output and nothing
    /// else; see `--format`.
    ///
    /// Exits 0 when no file has an error (warnings are allowed), 1 when any file has an
    /// error, 2 on bad usage or when a file cannot be read.
    #[command(after_help = EXIT_STATUS)]
    Check(CheckArgs),

    /// Rewrite .harness files in their canonical form.
    ///
    /// Files are rewritten in place, atomically: the new text goes to a temporary file in
    /// the same directory, which then replaces the original. A file with syntax errors is
    /// never touched; its diagnostics are shown on standard error and the exit status is 1.
    /// A summary is written to standard error.
    ///
    /// With `--check`, nothing is written: the paths of the files that would change are
    /// printed on standard output, one per line, and the exit status is 1 if there is any.
    ///
    /// `harnessx fmt -` reads standard input and writes the formatted text to standard
    /// output (with `--check`, it writes nothing and only sets the exit status).
    #[command(after_help = EXIT_STATUS)]
    Fmt(FmtArgs),

    /// Check and lower one .harness file, and print its IR (JSON) or its generated Rust.
    ///
    /// The output goes to standard output and is deterministic: the same file always
    /// gives the same bytes, so it can be snapshot-tested. Diagnostics go to standard
    /// error; with any error nothing is printed and the exit status is 1.
    #[command(after_help = EXIT_STATUS)]
    Compile(CompileArgs),

    /// Generate one Rust crate for the given harnesses and build it with cargo.
    ///
    /// All files become modules of a single crate (selected at run time by IR hash), so
    /// K harnesses cost one cargo build. The crate is written under the cache directory
    /// (`--cache-dir`, else $HARNESSX_CACHE_DIR, else target/harnessx-cache in the
    /// harnessx workspace), keyed by the harnesses' hashes; the build uses a shared
    /// target directory there and the workspace's Cargo.lock. Prints the crate's path,
    /// its binary and the build time. A cargo failure is reported as a compiler bug.
    #[command(after_help = EXIT_STATUS)]
    Build(BuildArgs),

    /// Check a harness, then run episodes of it against an environment and a model.
    ///
    /// Prints a summary table (episodes, success rate, mean steps, mean tokens) on standard
    /// output; diagnostics go to standard error. Episodes are tasks 0..N; the seed of each
    /// is derived from `--seed` and the task number, so a run is reproducible.
    ///
    /// The model is the one the harness declares (`model { backend = "sim:small" }`);
    /// `--model` overrides it, and a harness that declares none runs `sim:small`, the
    /// default backend. The summary names the model and where it came from, and says when
    /// results are simulated (`sim:`) or come from a test stand-in (`noisy:`, `scripted:`).
    ///
    /// By default the harness is compiled (generated Rust, built with cargo in the shared
    /// cache; the first build takes a while, later ones are incremental) and the compiled
    /// binary runs the episodes. `--interpret` runs them in process on the checked IR
    /// instead; both give identical traces.
    ///
    /// Exits 1 when the harness has errors, 2 on bad usage (unknown environment or model,
    /// given or declared) or when a file cannot be read or a trace written.
    #[command(after_help = EXIT_STATUS)]
    Run(RunArgs),

    /// Evolve a harness with AEGIS: rounds of digest, plan, mutate and gate on train
    /// tasks, then one evaluation of the seed and the best harness on held-out tasks.
    ///
    /// Writes checkpoints and results to `--out` (default `runs/<name>-<seed>`), prints
    /// the diff from the seed to the best harness and the train and held-out success.
    /// The model is the one the seed harness declares (`model.backend`), `--model` overrides
    /// it, and `sim:small` is the default; the output names it and where it came from.
    /// Results from `sim:` models are simulated, and every output says so. See
    /// docs/EVOLUTION.md.
    #[command(after_help = EXIT_STATUS)]
    Evolve(EvolveArgs),

    /// Continue an interrupted `evolve` run from its last checkpoint.
    #[command(after_help = EXIT_STATUS)]
    Resume(ResumeArgs),

    /// Write `report.md` with SVG plots for an `evolve` output directory.
    #[command(after_help = EXIT_STATUS)]
    Report(ReportArgs),

    /// A static review site of an `evolve` run in DIR/review/, or served with --serve
    /// (docs/REVIEW.md).
    Review(review::ReviewArgs),

    /// Episodes as training data: SFT or preference JSONL (docs/EXPORT.md).
    Export(export::ExportArgs),

    /// Run a benchmark and write its report.
    #[command(after_help = EXIT_STATUS, subcommand)]
    Bench(BenchCommand),

    /// Run the language server on standard input and output, for editors.
    ///
    /// Speaks the Language Server Protocol: diagnostics on open and change, formatting,
    /// hover, completion, go to definition and find references for .harness files. An
    /// editor starts it; see docs/EDITORS.md for VS Code, Neovim and Helix. Exits 0 after
    /// the client's `shutdown` and `exit`, 1 when the connection fails.
    Lsp(LspArgs),
}

#[derive(Debug, clap::Args)]
struct LspArgs {
    /// Accepted for clients that pass it; standard input and output is the only transport.
    #[arg(long)]
    stdio: bool,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The evolution benchmark: seed, random mutation search, prompt-only, AEGIS and the
    /// expert on each (environment, sim tier) cell for several evolution seeds, at one
    /// episode budget and one gate. Writes a Markdown report (tables, the machine, the
    /// exact command) and SVG plots under `bench/` next to it. Results are simulated,
    /// except the optional real-model arm (`--real-model`): the seed harness and one AEGIS
    /// evolved on sim:small, both against a real model on a few held-out tasks.
    /// `--criterion-md` includes criterion's results, rendered by `cargo run -p
    /// harnessx-benches --bin criterion-report`. scripts/benchmarks.sh runs everything.
    Evolution(BenchEvolutionArgs),
    /// The real-model benchmark: a real model (default: SmolLM2-135M on the local server
    /// of scripts/serve-smollm2.sh) plays TextWorldExpress `twc` through the stdio bridge.
    /// Arms: the seed harness, the random admissible-action policy (the floor, no model),
    /// random mutation search, prompt-only search, AEGIS, AEGIS with the proposer, and the
    /// expert (the environment's oracle). The evolving arms get the same train games, gate
    /// and episode budget; every final harness plays the same held-out games (the test
    /// fold), compared game by game with paired sign tests. Replies are recorded in
    /// --cache, so a rerun replays them and the report says "replayed" with the date and
    /// machine of the run that asked the model. Needs python3, Java and textworld-express.
    Real(BenchRealArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchRealArgs {
    /// The model, recorded in --cache: `openai:BASE_URL#MODEL`, or `sim:TIER` (simulated;
    /// to try the command). A `cache:DIR:SPEC` or `replay:DIR` spec is used as given.
    #[arg(long, value_name = "SPEC", default_value = harnessx_evolve::realbench::DEFAULT_MODEL)]
    model: String,
    /// Where the model's replies are recorded and replayed from.
    #[arg(long, value_name = "DIR", default_value = "runs/real-bench-cache")]
    cache: std::path::PathBuf,
    /// The seed harness.
    #[arg(long, value_name = "FILE", default_value = harnessx_evolve::realbench::DEFAULT_HARNESS)]
    harness: std::path::PathBuf,
    /// Game settings, comma-separated: easy (1 room, 1 item), hard (1 room, 3 items).
    #[arg(long, value_delimiter = ',', default_value = "easy", value_parser = ["easy", "hard"])]
    settings: Vec<String>,
    /// Arms, comma-separated (default all): seed, random_policy, random_search,
    /// prompt_only, aegis, aegis_proposer, expert.
    #[arg(long, value_delimiter = ',')]
    arms: Option<Vec<String>>,
    /// Train games per evaluation (train fold, one seed each). Fewer leave the gate too
    /// little power: with 16, a gain of 2 games in 12 could not ship.
    #[arg(long, default_value_t = 40)]
    train_tasks: u64,
    /// Held-out games (test fold) every arm's final harness plays.
    #[arg(long, default_value_t = 40)]
    held_out_tasks: u64,
    /// Train episodes per evolving arm: the same hard limit for each.
    #[arg(long, default_value_t = 160)]
    budget_episodes: u64,
    /// Rounds per evolving arm.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Candidates per round.
    #[arg(long, default_value_t = 2)]
    candidates: usize,
    /// Evolution seeds per evolving arm.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Train environment instead of the TextWorldExpress bridge (with --held-out-env).
    #[arg(long, value_name = "ENV", requires = "held_out_env")]
    train_env: Option<String>,
    /// Held-out environment instead of the bridge's test fold (with --train-env).
    #[arg(long, value_name = "ENV", requires = "train_env")]
    held_out_env: Option<String>,
    /// Where the evolving arms' run directories are kept.
    #[arg(long, value_name = "DIR", default_value = "runs/bench-real")]
    work: std::path::PathBuf,
    /// The report to write; plots go to `bench/` next to it.
    #[arg(long, default_value = "docs/BENCHMARKS_REAL.md")]
    out: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
struct BenchEvolutionArgs {
    /// A few seconds: sim:small, household, 2 seeds, a tiny budget (for CI; no python).
    #[arg(long)]
    quick: bool,
    /// Evolution seeds per cell (default 5; 2 with --quick).
    #[arg(long)]
    seeds: Option<u64>,
    /// Simulated tiers, comma-separated (default small,medium,large).
    #[arg(long, value_delimiter = ',', value_parser = ["small", "medium", "large"])]
    tiers: Option<Vec<String>>,
    /// Environments, comma-separated: household, flaky_api, textworld (default all three;
    /// household with --quick). textworld needs python3, Java and textworld-express.
    #[arg(long, value_delimiter = ',', value_parser = ["household", "flaky_api", "textworld"])]
    envs: Option<Vec<String>>,
    /// Rounds per run (default 8; 2 with --quick).
    #[arg(long)]
    rounds: Option<u32>,
    /// Train episodes per run, for every arm (default 1500; 150 with --quick).
    #[arg(long)]
    budget_episodes: Option<u64>,
    /// Ablations, comma-separated (docs/BENCHMARKS.md, "Ablations"): paraphrased (every
    /// message the operators insert replaced by a paraphrase; household and flaky_api),
    /// no_finish (household without the `finish` tool), games (TextWorldExpress games other
    /// than twc; needs python3, Java and textworld-express), none. Default all three;
    /// paraphrased,no_finish with --quick.
    #[arg(long, value_delimiter = ',', value_parser = ["paraphrased", "no_finish", "games", "none"])]
    ablations: Option<Vec<String>>,
    /// Evolution seeds per ablation cell (default: --seeds).
    #[arg(long, value_name = "N")]
    ablation_seeds: Option<u64>,
    /// The report to write; plots go to `bench/` next to it.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    out: std::path::PathBuf,
    /// Also write the household rows of the headline table into this file's generated
    /// section `evolution` (the README's evolution table).
    #[arg(long, value_name = "FILE")]
    readme: Option<std::path::PathBuf>,
    /// Runs in parallel (default: the number of cores); each run uses one thread.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run the real-model arm against this model after the simulated cells:
    /// `openai:BASE_URL#MODEL[?...]` (responses recorded in --real-cache), or
    /// `cache:DIR:SPEC` / `replay:DIR`.
    #[arg(long, value_name = "SPEC")]
    real_model: Option<String>,
    /// The real-model arm's environment (default household, where AEGIS changes the
    /// harness).
    #[arg(long, value_parser = ["household", "textworld"])]
    real_env: Option<String>,
    /// Tasks per harness and decoding in the real-model arm (default 10).
    #[arg(long, value_name = "N")]
    real_tasks: Option<u64>,
    /// Decodings of the real-model arm, comma-separated (default constrained).
    #[arg(long, value_delimiter = ',', value_parser = ["free", "constrained"])]
    real_decoding: Option<Vec<String>>,
    /// Where an `openai:` real model's responses are recorded and replayed from.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/bench-real-model-cache"
    )]
    real_cache: std::path::PathBuf,
    /// Include this Markdown file: the results of `cargo bench -p harnessx-benches` as
    /// rendered by `cargo run -p harnessx-benches --bin criterion-report -- target/criterion`.
    #[arg(long, value_name = "FILE")]
    criterion_md: Option<std::path::PathBuf>,
    /// The script that runs this command, named in the report's "generated by" line.
    #[arg(long, value_name = "SCRIPT")]
    via: Option<String>,
}

#[derive(Debug, clap::Args)]
struct EvolveArgs {
    /// The seed .harness file.
    #[arg(value_name = "FILE")]
    file: String,
    /// The environment.
    #[arg(long, default_value = "household")]
    env: String,
    /// The model, overriding the one the seed harness declares (default: its
    /// `model.backend`, else sim:small): `sim:small|medium|large` (simulated),
    /// `openai:BASE_URL#MODEL`, `cache:DIR:SPEC` / `replay:DIR`, `random` (the random
    /// admissible-action policy, no model: the floor), `noisy:P` (test stand-in).
    #[arg(long, value_name = "SPEC")]
    model: Option<String>,
    /// Rounds at most.
    #[arg(long, default_value_t = 6)]
    rounds: u32,
    /// Candidates per round (K).
    #[arg(long, default_value_t = 4)]
    candidates: usize,
    /// Hard limit on train episodes (evaluations, smoke runs); the held-out evaluation at
    /// the end is not counted.
    #[arg(long, default_value_t = 2000)]
    budget_episodes: u64,
    /// Hard limit on model tokens (default: none).
    #[arg(long)]
    budget_tokens: Option<u64>,
    /// The run seed: every random choice derives from it.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory (default `runs/<file stem>-<seed>`).
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
    /// Train tasks per evaluation.
    #[arg(long, default_value_t = 30)]
    train_tasks: u64,
    /// Seeds per train task.
    #[arg(long, default_value_t = 2)]
    seeds_per_task: u64,
    /// Held-out tasks for the final evaluation.
    #[arg(long, default_value_t = 200)]
    held_out_tasks: u64,
    /// Run the final held-out evaluation in this environment instead of --env. Use it when
    /// --env's tasks repeat, e.g. a bridge that plays game T mod N: the same bridge on
    /// another fold (`stdio:python3 bridges/textworld_express_bridge.py --fold dev`).
    #[arg(long, value_name = "ENV")]
    held_out_env: Option<String>,
    /// Significance level of the gate's paired test.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Use the paired bootstrap instead of the sign test.
    #[arg(long)]
    bootstrap: bool,
    /// How the gate evaluates a candidate: `racing` runs it in blocks of train pairs and
    /// drops it as soon as it can no longer pass (on the same outcomes it ships what `fixed`
    /// ships, for fewer episodes); `fixed` runs every candidate on every pair.
    #[arg(long, default_value = "racing", value_parser = ["racing", "fixed"])]
    gate: String,
    /// Racing gate: pairs per block, as a fraction of the train pairs (0 < F <= 1).
    #[arg(long, value_name = "F", default_value_t = harnessx_evolve::gate::DEFAULT_BLOCK,
          value_parser = parse_fraction)]
    gate_block: f64,
    /// Skip the gate's batched cargo build (evaluation always interprets in process).
    #[arg(long)]
    no_build: bool,
    /// Episodes evaluated at once, one thread each (default: available cores; 1 for an
    /// `openai:` model, so a local server reuses its prompt cache; a vLLM or SGLang
    /// deployment wants 64 or more, docs/MODELS.md); results do not depend on it.
    #[arg(long, visible_alias = "concurrency", value_name = "N")]
    workers: Option<usize>,
    /// An open-ended proposer: this model (`openai:…`, `cache:DIR:SPEC`, `replay:DIR`,
    /// `scripted:PATH`) is asked for a whole new harness each round and fills one of the
    /// K candidate slots (docs/EVOLUTION.md). Use `cache:DIR:openai:…` so `resume` gets
    /// the same replies.
    #[arg(long, value_name = "SPEC")]
    proposer: Option<String>,
    /// Do not keep the traces of evaluated episodes under `traces/` in the output
    /// directory (kept by default for `harnessx review` and `harnessx export`).
    #[arg(long)]
    no_traces: bool,
    /// Repair requests after a proposer reply that does not check or breaks the limits.
    #[arg(long, default_value_t = 2, requires = "proposer")]
    proposer_repairs: u32,
    /// The longest proposer reply asked for, in tokens (a whole harness).
    #[arg(long, default_value_t = 640, requires = "proposer")]
    proposer_max_tokens: u32,
}

#[derive(Debug, clap::Args)]
struct ResumeArgs {
    /// The output directory of the interrupted run.
    #[arg(value_name = "DIR")]
    dir: std::path::PathBuf,
    /// Episodes evaluated at once (default: available cores; see `evolve --workers`).
    #[arg(long, visible_alias = "concurrency", value_name = "N")]
    workers: Option<usize>,
    /// Do not keep the traces of the episodes evaluated from here on.
    #[arg(long)]
    no_traces: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// The output directory of a run.
    #[arg(value_name = "DIR")]
    dir: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The .harness file to run.
    #[arg(value_name = "FILE")]
    file: String,

    /// The environment: `household` (ALFWorld-like), `flaky_api` (unreliable tool use),
    /// `key_door` (a tiny test world), or `stdio:CMD` (an external environment over the
    /// JSON-lines bridge, see docs/BRIDGE.md).
    #[arg(long, default_value = "key_door")]
    env: String,

    /// The model, overriding the one the harness declares (default: its `model.backend`,
    /// else sim:small): `sim:small|medium|large` (the simulated family,
    /// docs/SIM_MODEL.md), `openai:BASE_URL#MODEL[?OPTIONS]` (any OpenAI-compatible
    /// server, e.g. `?timeout_ms=120000&retries=4&rps=20&tpm=200000` for a timeout, retries
    /// and the endpoint's rate limits; docs/MODELS.md), `cache:DIR:SPEC` / `replay:DIR`
    /// (response cache), `random` (the random admissible-action policy, no model: the floor
    /// to beat), or the test
    /// stand-ins `noisy:P` (follows the environment's expert with probability P, otherwise
    /// errs) and `scripted:PATH` (replays the lines of PATH in order, cycling).
    #[arg(long, value_name = "SPEC")]
    model: Option<String>,

    /// Number of episodes (tasks 0..N).
    #[arg(long, default_value_t = 10)]
    tasks: u64,

    /// Base seed; episode seeds derive from it.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Interpret the IR in process instead of compiling the harness.
    #[arg(long)]
    interpret: bool,

    /// Write one JSONL trace per episode here (`episode-0000.jsonl`, ...), atomically.
    #[arg(long, value_name = "DIR")]
    trace_dir: Option<std::path::PathBuf>,

    /// Episodes in flight at once, one thread each, up to 4096 (default: the available
    /// parallelism, at most 8; 1 for an `openai:` model, so a local llama.cpp server reuses
    /// its prompt cache; a vLLM or SGLang deployment wants 64 to 256, docs/MODELS.md).
    /// Results and traces are identical for any number.
    #[arg(long, visible_alias = "concurrency", value_name = "N")]
    workers: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Files to check. A directory stands for every `*.harness` file below it; `-` reads
    /// standard input.
    #[arg(required = true, value_name = "FILES")]
    files: Vec<String>,

    /// Output format. `human`: rendered diagnostics with source excerpts on standard error.
    /// `json`: on standard output, an object
    /// `{"files": [{"file", "errors", "warnings", "diagnostics": [..]}], "errors", "warnings"}`
    /// where each diagnostic has `code`, `severity`, `message`, `help`, `notes`, `file`,
    /// `primary` and `secondary` labels (byte offsets, and 1-based lines and columns).
    /// A file that could not be read has an `io_error` message instead of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct CompileArgs {
    /// The file to compile; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: String,

    /// What to print.
    #[arg(long, value_enum, default_value_t = compile::Emit::Rust)]
    emit: compile::Emit,
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Files to build together. A directory stands for every `*.harness` file below it.
    #[arg(required = true, value_name = "FILES")]
    files: Vec<String>,

    /// Build with the release profile.
    #[arg(long)]
    release: bool,

    /// Where generated crates and their shared target directory live.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
struct FmtArgs {
    /// Write nothing; list the files that are not in canonical form and exit 1 if any.
    #[arg(long)]
    check: bool,

    /// Files to format. A directory stands for every `*.harness` file below it; `-` reads
    /// standard input and writes standard output.
    #[arg(required = true, value_name = "FILES")]
    files: Vec<String>,
}

/// A number in (0, 1].
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!("`{s}` is not a fraction in (0, 1]")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics rendered for people, on standard error.
    Human,
    /// One JSON document on standard output.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when standard error is a terminal and NO_COLOR is unset.
    Auto,
    /// Always emit ANSI colors.
    Always,
    /// Never emit ANSI colors.
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = output::use_color(cli.color);
    let code = match cli.command {
        Command::Check(args) => check::run(&args.files, args.format, color),
        Command::Fmt(args) => fmt::run(&args.files, args.check, color),
        Command::Compile(args) => compile::run_compile(&args.file, args.emit, color),
        Command::Build(args) => {
            compile::run_build(&args.files, args.release, args.cache_dir, color)
        }
        Command::Run(args) => run::run(
            &run::RunOptions {
                file: &args.file,
                env: &args.env,
                model: args.model.as_deref(),
                tasks: args.tasks,
                seed: args.seed,
                trace_dir: args.trace_dir.as_deref(),
                interpret: args.interpret,
                workers: args.workers.map(std::num::NonZeroUsize::get),
            },
            color,
        ),
        Command::Evolve(a) => evolve::evolve(
            &evolve::EvolveArgs {
                file: a.file,
                env: a.env,
                model: a.model,
                rounds: a.rounds,
                candidates: a.candidates,
                budget_episodes: a.budget_episodes,
                budget_tokens: a.budget_tokens,
                seed: a.seed,
                out: a.out,
                train_tasks: a.train_tasks,
                seeds_per_task: a.seeds_per_task,
                held_out_tasks: a.held_out_tasks,
                held_out_env: a.held_out_env,
                alpha: a.alpha,
                bootstrap: a.bootstrap,
                gate: a.gate,
                gate_block: a.gate_block,
                no_build: a.no_build,
                workers: a.workers,
                proposer: a.proposer,
                proposer_repairs: a.proposer_repairs,
                proposer_max_tokens: a.proposer_max_tokens,
                traces: !a.no_traces,
            },
            color,
        ),
        Command::Resume(a) => evolve::resume(&a.dir, a.workers, !a.no_traces, color),
        Command::Report(a) => evolve::report(&a.dir, color),
        Command::Bench(BenchCommand::Real(a)) => bench::bench_real(a, color),
        Command::Lsp(_) => match harnessx_lsp::run_stdio() {
            Ok(()) => exit::OK,
            Err(e) => {
                output::error(&e, color);
                exit::FAILED
            }
        },
        Command::Export(a) => export::run(&a, color),
        Command::Review(a) => review::run(&a, color),
        Command::Bench(BenchCommand::Evolution(a)) => {
            let command = std::iter::once("harnessx".to_string())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" ");
            let criterion = match &a.criterion_md {
                Some(file) => match std::fs::read_to_string(file) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        output::error(format!("`{}`: {e}", file.display()), color);
                        return ExitCode::from(exit::USAGE_OR_IO);
                    }
                },
                None => None,
            };
            bench::bench_evolution(
                &harnessx_evolve::bench::BenchArgs {
                    quick: a.quick,
                    seeds: a.seeds,
                    tiers: a.tiers,
                    envs: a.envs,
                    rounds: a.rounds,
                    budget_episodes: a.budget_episodes,
                    ablations: a.ablations,
                    ablation_seeds: a.ablation_seeds,
                    out: a.out,
                    readme: a.readme,
                    jobs: a.jobs,
                    real_model: a.real_model,
                    real_env: a.real_env,
                    real_tasks: a.real_tasks,
                    real_decodings: a.real_decoding,
                    real_cache: a.real_cache,
                    criterion,
                    via: a.via,
                    command,
                },
                color,
            )
        }
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
