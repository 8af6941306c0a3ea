//! `harnessx run`: check a harness, lower it, and run a batch of episodes.
//!
//! Two paths, one result: with `--interpret` the runtime walks the IR in this process;
//! by default the harness is compiled by the build driver (one generated crate in the
//! shared cache) and a small runner crate that depends on it is built next to it — its
//! own manifest, never a file inside the generated crate — and run. The runner prints each
//! episode's trace and result; this module writes traces and the summary for both paths
//! alike. Environments and models are looked up by name in `harnessx_runtime::runner` on
//! both sides, so identical flags build identical worlds (the differential test checks
//! that the traces are byte-identical).

use std::fs;
use std::io;
use std::path::Path;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use harnessx_compiler::build::{cargo_build, write_crate, write_runner, BuildOptions};
use harnessx_compiler::check_source;
use harnessx_compiler::lower::lower;
use harnessx_compiler::render::render_text;
use harnessx_evolve::digest::{class_name, DigestConfig, FailureCatalog};
use harnessx_evolve::export::source::{TraceDirInfo, TRACE_DIR_INFO};
use harnessx_evolve::stats::Rate;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::models::Retries;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes_parallel, Episode, Summary};
use harnessx_runtime::trace::TraceEvent;
use harnessx_runtime::{EndReason, EpisodeResult};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit;
use crate::input::{self, Input};
use crate::model::{self, Source};
use crate::output;

/// What `harnessx run` was asked to do (already validated by clap).
pub struct RunOptions<'a> {
    pub file: &'a str,
    pub env: &'a str,
    /// `--model`; without it, the harness's declared backend or the default one.
    pub model: Option<&'a str>,
    pub tasks: u64,
    pub seed: u64,
    pub trace_dir: Option<&'a Path>,
    /// Walk the IR in process instead of building and running the compiled harness.
    pub interpret: bool,
    /// Episodes run in parallel on this many threads (at least 1); results and traces do
    /// not depend on it.
    /// `None`: the model's default ([`ModelSpec::default_workers`]).
    pub workers: Option<usize>,
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
    let parse_model = |spec: &str| {
        ModelSpec::parse(spec, |path| {
            fs::read_to_string(path).map_err(|e| format!("`{path}`: {}", input::describe(&e)))
        })
    };
    let flag_model = match opts.model.map(parse_model).transpose() {
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

    let (model_spec, source) = model::choose(opts.model, &checked.file);
    let mut model = match flag_model.map_or_else(|| parse_model(&model_spec), Ok) {
        Ok(m) => m,
        Err(e) => {
            output::error(
                format!(
                    "`{}`: the harness's model `{model_spec}`: {e} (`--model` runs another)",
                    src_input.name
                ),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    };
    // The harness's `api_key_env` and `timeout` reach an `openai:` backend from here.
    model.apply_model_ir(&ir.model);
    let workers = opts.workers.unwrap_or_else(|| model.default_workers());

    if let Some(dir) = opts.trace_dir {
        // Beside the traces, what produced them: `harnessx export` reads the environment,
        // the model and the harness's tools from it.
        let info = TraceDirInfo {
            harness: src_input.name.clone(),
            source: src.clone(),
            env: opts.env.to_string(),
            model: model_spec.clone(),
            simulated: model.is_simulated(),
            seed: opts.seed,
            tasks: opts.tasks,
        };
        let info_path = dir.join(TRACE_DIR_INFO);
        let written = fs::create_dir_all(dir).and_then(|()| {
            let text = serde_json::to_string_pretty(&info).map_err(io::Error::other)? + "\n";
            harnessx_runtime::fsutil::write_atomic(&info_path, text.as_bytes())
        });
        if let Err(e) = written {
            output::error(
                format!("`{}`: {}", info_path.display(), input::describe(&e)),
                color,
            );
            return exit::USAGE_OR_IO;
        }
    }

    let mut summary = Summary::default();
    let mut failures = FailureCatalog::new(0);
    let digest_cfg = DigestConfig::default();
    let mut write_error: Option<String> = None;
    // The first episode whose infrastructure failed past its reruns, for the error below.
    let mut lost: Option<String> = None;
    let bar = progress_bar(opts.tasks);
    let each = |ep: Episode| {
        bar.inc(1);
        summary.add_episode(&ep);
        if let (EndReason::Infrastructure(why), None) = (&ep.result.end, &lost) {
            lost = Some(format!("task {} (seed {}): {why}", ep.task, ep.seed));
        }
        if !ep.result.success && !ep.result.is_infrastructure_failure() {
            failures.digest(&ep.events, None, &digest_cfg);
        }
        if let (Some(dir), None) = (opts.trace_dir, &write_error) {
            let path = dir.join(trace_file_name(ep.task));
            if let Err(e) =
                harnessx_runtime::fsutil::write_atomic(&path, ep.trace_jsonl().as_bytes())
            {
                write_error = Some(format!("`{}`: {}", path.display(), input::describe(&e)));
            }
        }
    };
    let ran = if opts.interpret {
        let rules = InterpretedRules::new(&ir);
        run_episodes_parallel(
            &ir, &rules, opts.env, &model, opts.tasks, opts.seed, workers, each,
        )
    } else {
        run_compiled(
            &ir,
            opts,
            &model_spec,
            model.needs_http(),
            workers,
            &bar,
            each,
        )
    };
    bar.finish_and_clear();
    if let Err(e) = ran {
        output::error(e, color);
        return exit::USAGE_OR_IO;
    }

    let mode = if opts.interpret {
        "interpreted"
    } else {
        "compiled"
    };
    output::stdout(&summary_table(
        &ir.name,
        opts.env,
        (&model, source),
        opts.seed,
        mode,
        &summary,
        &failure_counts(&failures),
    ));
    if let Some(e) = write_error {
        output::error(e, color);
        return exit::USAGE_OR_IO;
    }
    if let Some(first) = lost {
        // Not a silent loss: the batch did not run every episode it was asked to, so the
        // run fails, and says which and why (their traces were written all the same).
        output::error(
            format!(
                "{} of {} episodes could not be run: the infrastructure (model server or \
                 bridge) failed in all {} runs of each, so they are not scored; first: {first}",
                summary.infra_failures,
                opts.tasks,
                harnessx_runtime::runner::INFRA_RERUNS + 1
            ),
            color,
        );
        return exit::FAILED;
    }
    exit::OK
}

/// Build the harness with the build driver, build the runner beside it, run it, and pass
/// each episode of its output to `each` as it arrives. `http`: the model spec talks HTTP, so
/// the runner needs the runtime's `openai` feature.
fn run_compiled(
    ir: &HarnessIr,
    opts: &RunOptions<'_>,
    model: &str,
    http: bool,
    workers: usize,
    bar: &ProgressBar,
    mut each: impl FnMut(Episode),
) -> Result<(), String> {
    bar.set_message("building");
    let krate = write_crate(std::slice::from_ref(ir), &BuildOptions::default())
        .map_err(|e| e.to_string())?;
    let runner = write_runner(&krate, http).map_err(|e| e.to_string())?;
    cargo_build(&runner, false).map_err(|e| e.to_string())?;
    bar.set_message("");
    let exe = runner.binary(false);
    let io_err = |e: io::Error| format!("`{}`: {}", exe.display(), input::describe(&e));
    let mut child = Command::new(&exe)
        .arg(ir.hash())
        .arg(opts.env)
        .arg(model)
        .arg(opts.tasks.to_string())
        .arg(opts.seed.to_string())
        .arg(workers.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err)?;
    // Drain stderr beside stdout so a chatty child never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    });
    let mut parser = RunnerOutput::default();
    let mut parsed = Ok(());
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    parsed = Err(io_err(e));
                    break;
                }
            }
            match parser.feed(&String::from_utf8_lossy(&line)) {
                Ok(Some(ep)) => each(ep),
                Ok(None) => {}
                Err(e) => {
                    parsed = Err(e);
                    break;
                }
            }
        }
    }
    let status = child.wait().map_err(io_err)?;
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if !status.success() {
        return Err(format!("the compiled harness failed: {}", stderr.trim()));
    }
    parsed
}

/// Reads the runner's output (see `harnessx_compiler::codegen::batch::runner_main_rs`)
/// one line at a time.
#[derive(Default)]
struct RunnerOutput {
    current: Option<(u64, u64, Vec<TraceEvent>)>,
    infra: Infra,
}

/// The runner's `#infra` line: how often the episode was re-run, what was retried.
#[derive(Debug, Default, serde::Deserialize)]
struct Infra {
    reruns: u32,
    retries: Retries,
}

impl RunnerOutput {
    /// Take one line (with its newline); a finished episode comes back at its `#result`.
    fn feed(&mut self, line: &str) -> Result<Option<Episode>, String> {
        let bad = |what: &str| format!("unexpected output from the compiled harness: {what}");
        if let Some(rest) = line.strip_prefix("#episode ") {
            let mut it = rest.split_whitespace().map(str::parse::<u64>);
            match (it.next(), it.next()) {
                (Some(Ok(task)), Some(Ok(seed))) => self.current = Some((task, seed, Vec::new())),
                _ => return Err(bad(line.trim_end())),
            }
        } else if let Some(json) = line.strip_prefix("#result ") {
            let (task, seed, events) = self.current.take().ok_or_else(|| bad("#result first"))?;
            let result: EpisodeResult =
                serde_json::from_str(json.trim_end()).map_err(|e| bad(&e.to_string()))?;
            let infra = std::mem::take(&mut self.infra);
            return Ok(Some(Episode {
                task,
                seed,
                result,
                events,
                infra_reruns: infra.reruns,
                retries: infra.retries,
            }));
        } else if let Some(json) = line.strip_prefix("#infra ") {
            self.infra = serde_json::from_str(json.trim_end()).map_err(|e| bad(&e.to_string()))?;
        } else {
            match &mut self.current {
                Some((_, _, events)) => events.push(
                    serde_json::from_str(line.trim_end())
                        .map_err(|e| bad(&format!("a trace line that is not an event: {e}")))?,
                ),
                None => return Err(bad("a trace line outside an episode")),
            }
        }
        Ok(None)
    }
}

/// A bar over the episodes on standard error; indicatif draws nothing when standard error
/// is not a terminal, so pipes, logs and tests see only the summary.
fn progress_bar(tasks: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(tasks), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed:>4} episode {pos}/{len} [{bar:20}] {per_sec} eta {eta} {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Failed episodes per failure class, largest first (`harnessx_evolve::digest`).
fn failure_counts(c: &FailureCatalog) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = c
        .ranked()
        .into_iter()
        .map(|(class, n)| (class_name(class), n))
        .collect();
    if c.incomplete > 0 {
        v.push(("incomplete".into(), c.incomplete));
    }
    v
}

/// `episode-0007.jsonl`: zero-padded so a directory listing sorts by task.
pub fn trace_file_name(task: u64) -> String {
    format!("episode-{task:04}.jsonl")
}

/// What the numbers are worth: every report on a simulated or stand-in model says so.
fn model_note(model: &ModelSpec) -> &'static str {
    match model {
        _ if model.is_simulated() => {
            "note: SIMULATED results (sim:* model family), not a real model's\n"
        }
        ModelSpec::OpenAi(_) | ModelSpec::Replay(_) | ModelSpec::Cached { .. } => "",
        ModelSpec::RandomPolicy => {
            "note: the random admissible-action policy, no model: the floor to beat\n"
        }
        _ => "note: results come from a test stand-in model, not a real or simulated one\n",
    }
}

fn summary_table(
    harness: &str,
    env: &str,
    (model, source): (&ModelSpec, Source),
    seed: u64,
    mode: &str,
    s: &Summary,
    failures: &[(String, u64)],
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "harness {harness} | env {env} | model {model}, {} | seed {seed} | {mode}\n",
        source.label()
    ));
    let (lo, hi) = Rate::new(s.successes, s.episodes).wilson95();
    out.push_str(
        "episodes  successes  success_rate  wilson95_lo  wilson95_hi  mean_steps  mean_tokens\n",
    );
    out.push_str(&format!(
        "{:>8}  {:>9}  {:>12.3}  {:>11.3}  {:>11.3}  {:>10.2}  {:>11.1}\n",
        s.episodes,
        s.successes,
        s.success_rate(),
        lo,
        hi,
        s.mean_steps(),
        s.mean_tokens()
    ));
    let failed = s.episodes - s.successes;
    if failed == 0 {
        out.push_str("failures: none\n");
    } else {
        let by_class: Vec<String> = failures.iter().map(|(c, n)| format!("{c} {n}")).collect();
        out.push_str(&format!("failures: {}\n", by_class.join(", ")));
    }
    if s.infra_failures > 0 {
        out.push_str(&format!(
            "infrastructure failures (model server or bridge, after reruns; not scored): {}\n",
            s.infra_failures
        ));
    }
    if s.infra_reruns > 0 {
        out.push_str(&format!(
            "episodes re-run after an infrastructure failure: {}\n",
            s.infra_reruns
        ));
    }
    if s.retries.total() > 0 {
        out.push_str(&format!(
            "model requests retried: {}\n",
            s.retries.describe()
        ));
    }
    out.push_str(model_note(model));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_model_specs_need_http() {
        // The runner crate gets the runtime's HTTP backend exactly for these
        // (`harnessx_compiler::build::write_runner`).
        let parse = |s: &str| ModelSpec::parse(s, |_| Err(String::new())).map(|m| m.needs_http());
        assert_eq!(parse("sim:small"), Ok(false));
        assert_eq!(parse("replay:d"), Ok(false));
        assert_eq!(parse("openai:http://127.0.0.1:1/v1#m"), Ok(true));
        assert_eq!(parse("cache:d:openai:http://127.0.0.1:1/v1#m"), Ok(true));
    }

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
            ..Summary::default()
        };
        let f = [("malformed_call".to_string(), 2), ("loop".to_string(), 1)];
        let t = summary_table(
            "h",
            "key_door",
            (&ModelSpec::Noisy(0.7), Source::Flag),
            1,
            "compiled",
            &s,
            &f,
        );
        assert!(
            t.contains("0.250") && t.contains("2.50") && t.contains("250.0"),
            "{t}"
        );
        // Wilson 95% of 1/4: [0.046, 0.699].
        assert!(t.contains("0.046") && t.contains("0.699"), "{t}");
        assert!(t.contains("failures: malformed_call 2, loop 1\n"), "{t}");
        assert!(t.contains("test stand-in"));
        assert!(
            t.contains("| model noisy:0.7 (test stand-in), from --model |"),
            "{t}"
        );
        assert!(!t.contains("retried") && !t.contains("re-run"), "{t}");
        let faulty = Summary {
            infra_reruns: 2,
            retries: Retries {
                rate_limited: 3,
                timeout: 1,
                ..Retries::default()
            },
            ..s
        };
        let t = summary_table(
            "h",
            "key_door",
            (&ModelSpec::Noisy(0.7), Source::Flag),
            1,
            "compiled",
            &faulty,
            &f,
        );
        assert!(
            t.contains("episodes re-run after an infrastructure failure: 2\n"),
            "{t}"
        );
        assert!(
            t.contains("model requests retried: 4 (429: 3, timeout: 1)\n"),
            "{t}"
        );
    }

    #[test]
    fn the_runners_output_carries_reruns_and_retries() {
        let mut p = RunnerOutput::default();
        let result = serde_json::to_string(&EpisodeResult {
            success: true,
            end: harnessx_runtime::engine::EndReason::Done,
            steps: 1,
            prompt_tokens: 1,
            completion_tokens: 1,
            tokens: 2,
            total_reward: 1.0,
            model_calls: 1,
            tool_calls: 1,
            clock_ms: 5,
        })
        .unwrap_or_default();
        assert!(matches!(p.feed("#episode 3 99\n"), Ok(None)));
        assert!(matches!(
            p.feed("#infra {\"reruns\": 1, \"retries\": {\"rate_limited\": 0, \"server_error\": 2, \"timeout\": 0, \"connection\": 0, \"malformed\": 1}}\n"),
            Ok(None)
        ));
        let ep = p.feed(&format!("#result {result}\n")).ok().flatten();
        let ep = ep.expect("an episode");
        assert_eq!((ep.task, ep.seed, ep.infra_reruns), (3, 99, 1));
        assert_eq!(ep.retries.total(), 3);
        // The next episode starts from zero.
        assert!(matches!(p.feed("#episode 4 7\n"), Ok(None)));
        let ep = p.feed(&format!("#result {result}\n")).ok().flatten();
        assert_eq!(
            ep.map(|e| (e.infra_reruns, e.retries.total())),
            Some((0, 0))
        );
        assert!(p.feed("#infra {broken\n").is_err());
    }
}
