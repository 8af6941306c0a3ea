//! `harnessx run`: check a harness, lower it, and run a batch of episodes.
//!
//! Episodes run through the runtime's interpreter. Environments and models are looked up
//! by name in `harnessx_runtime::runner`, the same table a compiled harness uses, so the
//! two paths build identical worlds from identical flags.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use harnessx_compiler::check_source;
use harnessx_compiler::lower::lower;
use harnessx_compiler::render::render_text;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes, ModelSpec, Summary};

use crate::exit;
use crate::input::{self, Input};
use crate::output;

/// What `harnessx run` was asked to do (already validated by clap).
pub struct RunOptions<'a> {
    pub file: &'a str,
    pub env: &'a str,
    pub model: &'a str,
    pub tasks: u64,
    pub seed: u64,
    pub trace_dir: Option<&'a Path>,
}

pub fn run(opts: &RunOptions<'_>, color: bool) -> u8 {
    let inputs = input::expand(&[opts.file.to_string()]);
    let src_input: Input = match inputs {
        (mut v, errs) if errs.is_empty() && v.len() == 1 => v.remove(0),
        (_, errs) if !errs.is_empty() => {
            for e in &errs {
                output::error(e, color);
            }
            return exit::USAGE_OR_IO;
        }
        _ => {
            output::error(
                format!("`{}`: `run` takes exactly one .harness file", opts.file),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    };
    let src = match input::read(&src_input) {
        Ok(s) => s,
        Err(e) => {
            output::error(e, color);
            return exit::USAGE_OR_IO;
        }
    };

    // Validate the flags before any work, so a typo costs nothing.
    let model = match ModelSpec::parse(opts.model, |path| {
        fs::read_to_string(path).map_err(|e| format!("`{path}`: {}", input::describe(&e)))
    }) {
        Ok(m) => m,
        Err(e) => {
            output::error(e, color);
            return exit::USAGE_OR_IO;
        }
    };
    if let Err(e) = harnessx_runtime::runner::make_env(opts.env) {
        output::error(e, color);
        return exit::USAGE_OR_IO;
    }

    let checked = check_source(&src);
    if !checked.diagnostics.is_empty() {
        output::stderr(&render_text(
            &src_input.name,
            &src,
            &checked.diagnostics,
            color,
        ));
    }
    if checked.has_errors() {
        return exit::FAILED;
    }
    let ir = match lower(&checked.file) {
        Ok(ir) => ir,
        Err(diags) => {
            output::stderr(&render_text(&src_input.name, &src, &diags, color));
            return exit::FAILED;
        }
    };

    if let Some(dir) = opts.trace_dir {
        if let Err(e) = fs::create_dir_all(dir) {
            output::error(
                format!("`{}`: {}", dir.display(), input::describe(&e)),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    }

    let rules = InterpretedRules::new(&ir);
    let mut summary = Summary::default();
    let mut write_error: Option<String> = None;
    let ran = run_episodes(&ir, &rules, opts.env, &model, opts.tasks, opts.seed, |ep| {
        summary.add(&ep.result);
        if let (Some(dir), None) = (opts.trace_dir, &write_error) {
            let path = dir.join(trace_file_name(ep.task));
            if let Err(e) = write_new_atomic(&path, &ep.trace_jsonl) {
                write_error = Some(format!("`{}`: {}", path.display(), input::describe(&e)));
            }
        }
    });
    if let Err(e) = ran {
        output::error(e, color);
        return exit::USAGE_OR_IO;
    }

    output::stdout(&summary_table(
        &ir.name, opts.env, &model, opts.seed, &summary,
    ));
    if let Some(e) = write_error {
        output::error(e, color);
        return exit::USAGE_OR_IO;
    }
    exit::OK
}

/// `episode-0007.jsonl`: zero-padded so a directory listing sorts by task.
pub fn trace_file_name(task: u64) -> String {
    format!("episode-{task:04}.jsonl")
}

fn summary_table(harness: &str, env: &str, model: &ModelSpec, seed: u64, s: &Summary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "harness {harness} | env {env} | model {model} | seed {seed} | interpreted\n"
    ));
    out.push_str("episodes  successes  success_rate  mean_steps  mean_tokens\n");
    out.push_str(&format!(
        "{:>8}  {:>9}  {:>12.3}  {:>10.2}  {:>11.1}\n",
        s.episodes,
        s.successes,
        s.success_rate(),
        s.mean_steps(),
        s.mean_tokens()
    ));
    out.push_str("note: results come from a test stand-in model, not a real or simulated one\n");
    out
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`. A reader never sees a half-written trace, and a crash leaves
/// either the old file or the new one.
fn write_new_atomic(path: &Path, contents: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_names_sort_by_task() {
        assert_eq!(trace_file_name(7), "episode-0007.jsonl");
        assert!(trace_file_name(9) < trace_file_name(10));
    }

    #[test]
    fn summary_says_the_model_is_a_stand_in() {
        let s = Summary {
            episodes: 4,
            successes: 1,
            steps: 10,
            tokens: 1000,
        };
        let t = summary_table("h", "key_door", &ModelSpec::Noisy(0.7), 1, &s);
        assert!(
            t.contains("0.250") && t.contains("2.50") && t.contains("250.0"),
            "{t}"
        );
        assert!(t.contains("test stand-in"));
    }
}
