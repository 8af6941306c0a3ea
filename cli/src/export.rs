//! `harnessx export`: the arguments, reading `--tools-from`, and the printed summary; the
//! conversion is `harnessx_evolve::export`.

use std::path::PathBuf;

use harnessx_evolve::export::{export, Filters, Format, Request};

use crate::exit;
use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// OpenAI fine-tuning chat format: `messages` with `tool_calls`, from successful
    /// episodes.
    Sft,
    /// `prompt` / `chosen` / `rejected` from episodes on the same task and seed where one
    /// harness succeeded and another failed.
    Preference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuccessArg {
    Yes,
    No,
    Any,
}

/// Episodes as training data: JSONL for supervised fine-tuning or preference training.
///
/// Reads the traces of `evolve` run directories (kept under `traces/`), of trace
/// directories (`harnessx run --trace-dir`) or trace files, and writes one example per
/// line to `--out`, atomically, with the provenance of every line in `NAME.meta.json`
/// beside it (trace, harness, task, seed, model; whether the model was simulated). The
/// formats are described in docs/EXPORT.md.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::EXIT_STATUS)]
pub struct ExportArgs {
    /// Evolve run directories, trace directories or trace files.
    #[arg(required = true, value_name = "DIR|TRACES")]
    sources: Vec<PathBuf>,
    /// What to write.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// The examples file (JSONL); the provenance goes to NAME.meta.json beside it.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// Only episodes of the harness with this hash (a prefix is enough); repeat for more.
    #[arg(long, value_name = "HASH")]
    harness_hash: Vec<String>,
    /// Only episodes in this environment (`household`, `stdio:...`); repeat for more.
    #[arg(long, value_name = "ENV")]
    env: Vec<String>,
    /// `sft` only: successful episodes (`yes`, the default), failed ones, or both.
    #[arg(long, value_enum)]
    success: Option<SuccessArg>,
    /// Only episodes of at least this many steps.
    #[arg(long, value_name = "N")]
    min_steps: Option<u32>,
    /// Only episodes of at most this many steps.
    #[arg(long, value_name = "N")]
    max_steps: Option<u32>,
    /// The harness whose tools the traces called, for traces with no run.json beside them
    /// (an evolve run directory names its own).
    #[arg(long, value_name = "FILE")]
    tools_from: Option<PathBuf>,
}

pub fn run(a: &ExportArgs, color: bool) -> u8 {
    let tools_from = match &a.tools_from {
        None => None,
        Some(path) => {
            let src = match std::fs::read_to_string(path) {
                Ok(s) => s,
                Err(e) => {
                    output::error(
                        format!("`{}`: {}", path.display(), crate::input::describe(&e)),
                        color,
                    );
                    return exit::USAGE_OR_IO;
                }
            };
            match harnessx_evolve::gate::static_check(&src) {
                Ok(ir) => Some(ir),
                Err(e) => {
                    output::error(
                        format!("`{}`: {e} (run `harnessx check` on it)", path.display()),
                        color,
                    );
                    return exit::FAILED;
                }
            }
        }
    };
    let format = match a.format {
        FormatArg::Sft => Format::Sft,
        FormatArg::Preference => Format::Preference,
    };
    // sft learns from successes unless asked otherwise; a preference pair needs both.
    let success = match (a.success, format) {
        (None, Format::Sft) | (Some(SuccessArg::Yes), _) => Some(true),
        (Some(SuccessArg::No), _) => Some(false),
        (None, Format::Preference) | (Some(SuccessArg::Any), _) => None,
    };
    if format == Format::Preference && a.success.is_some() {
        output::error(
            "--success selects episodes for `sft`; a preference pair is always one success and one failure",
            color,
        );
        return exit::USAGE_OR_IO;
    }
    let req = Request {
        sources: a.sources.clone(),
        format,
        filters: Filters {
            harness_hashes: a.harness_hash.clone(),
            success,
            envs: a.env.clone(),
            min_steps: a.min_steps,
            max_steps: a.max_steps,
        },
        tools_from,
        out: a.out.clone(),
    };
    let result = export(&req);
    match result {
        Ok(s) => {
            let mut text = format!(
                "wrote {} {} example(s) to {} from {} of {} episode(s); provenance in {}\n",
                s.examples,
                format.name(),
                a.out.display(),
                s.selected,
                s.episodes,
                s.meta.display()
            );
            for n in &s.notes {
                text.push_str(&format!("note: {n}\n"));
            }
            if !s.redacted.is_empty() {
                text.push_str(&format!(
                    "note: the values of {} appeared in the episodes and were redacted\n",
                    s.redacted.join(", ")
                ));
            }
            if !s.models.is_empty() {
                text.push_str(&format!("models: {}\n", s.models.join(", ")));
            }
            if s.simulated {
                text.push_str(
                    "note: SIMULATED episodes (sim:* model family), not a real model's\n",
                );
            }
            output::stdout(&text);
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}
