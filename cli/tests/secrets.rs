//! An API key set in the environment never appears in anything harnessx writes or prints:
//! traces, checkpoints, ledgers, reports, the review page, exports, the response cache,
//! error messages. The `openai:` backend sends the key to a loopback server that repeats it
//! back in some replies and, in a second run, in a 401 error page; then every file under
//! the output directories and the cache, and every captured stdout and stderr, is searched
//! for the key's bytes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{harnessx, key_door_harness, scratch, text, FakeOpenAi};

/// The key the backend sends (distinctive, so a hit cannot be a coincidence).
const KEY: &str = "sk-hxsecret-4b7e19c2d05a8f36e1";
/// Set but used by nothing: must not appear either.
const OTHER_KEY: &str = "hx-unused-secret-9d3a61f07c";

/// Every file below `dir`, as bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = fs::read(&p).expect("read");
                out.push((p, bytes));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Everything a command printed, labelled.
fn printed(what: &str, o: &Output) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{what}: stdout"), o.stdout.clone()),
        (format!("{what}: stderr"), o.stderr.clone()),
    ]
}

#[test]
fn an_api_key_never_appears_in_anything_written_or_printed() {
    let dir = scratch("secrets");
    let env = [("OPENAI_API_KEY", KEY), ("HARNESSX_API_KEY", OTHER_KEY)];
    // A harness the server solves, and one it gives up on at once.
    let harness = dir.join("solver.harness");
    fs::write(&harness, key_door_harness("SOLVER", "OPENAI_API_KEY")).unwrap();
    let harness = harness.to_str().unwrap();
    let quitter = dir.join("quitter.harness");
    fs::write(&quitter, key_door_harness("QUITTER", "OPENAI_API_KEY")).unwrap();
    let quitter = quitter.to_str().unwrap();
    // Every episode ends with the model answering `finish("you sent Bearer KEY")`.
    let server = FakeOpenAi::echoing_key();
    let cache = dir.join("cache");
    let model = format!(
        "cache:{}:{}",
        cache.display(),
        server.spec("OPENAI_API_KEY")
    );
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut run = |what: &str, args: &[&str], ok: bool| {
        let o = harnessx(args, &env);
        if ok {
            assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
        }
        outputs.extend(printed(what, &o));
        o
    };

    let evolve = dir.join("evolve");
    let evolve_dir = evolve.to_str().unwrap();
    run(
        "evolve",
        &[
            // Failing episodes, so the review page shows them (the failure catalog).
            "evolve",
            quitter,
            "--env",
            "key_door",
            "--model",
            &model,
            "--rounds",
            "1",
            "--candidates",
            "2",
            "--train-tasks",
            "2",
            "--seeds-per-task",
            "1",
            "--held-out-tasks",
            "2",
            "--budget-episodes",
            "20",
            "--no-build",
            "--workers",
            "1",
            "--out",
            evolve_dir,
        ],
        true,
    );
    run("report", &["report", evolve_dir], true);
    run("review", &["review", evolve_dir], true);

    // Plain runs through the same cache, with traces: one that succeeds, one that fails.
    let traces = dir.join("run-traces");
    let solver_traces = traces.join("solver");
    let quitter_traces = traces.join("quitter");
    let (solver_traces, quitter_traces) = (
        solver_traces.to_str().unwrap(),
        quitter_traces.to_str().unwrap(),
    );
    for (name, file, t) in [
        ("solver", harness, solver_traces),
        ("quitter", quitter, quitter_traces),
    ] {
        run(
            name,
            &[
                "run",
                file,
                "--env",
                "key_door",
                "--model",
                &model,
                "--tasks",
                "2",
                "--interpret",
                "--trace-dir",
                t,
            ],
            true,
        );
    }
    let exports = dir.join("exports");
    let sft = exports.join("sft.jsonl");
    let preference = exports.join("preference.jsonl");
    run(
        "export sft",
        &[
            "export",
            evolve_dir,
            solver_traces,
            quitter_traces,
            "--format",
            "sft",
            "--success",
            "any",
            "--out",
            sft.to_str().unwrap(),
        ],
        true,
    );
    run(
        "export preference",
        &[
            "export",
            solver_traces,
            quitter_traces,
            "--format",
            "preference",
            "--out",
            preference.to_str().unwrap(),
        ],
        true,
    );
    for f in [&sft, &preference] {
        let n = fs::read_to_string(f).unwrap().lines().count();
        assert!(n > 0, "{}: empty, so it proves nothing", f.display());
    }

    // A server that refuses the key and quotes it in its error page: the error reaches the
    // trace, the summary and the run's error message, redacted.
    let refusing = FakeOpenAi::unauthorized();
    let failed_traces = dir.join("failed-traces");
    let failed = run(
        "failing run",
        &[
            "run",
            harness,
            "--env",
            "key_door",
            "--model",
            &refusing.spec("OPENAI_API_KEY"),
            "--tasks",
            "1",
            "--interpret",
            "--trace-dir",
            failed_traces.to_str().unwrap(),
        ],
        false,
    );
    assert_ne!(failed.status.code(), Some(0));
    let failed_trace = fs::read_to_string(failed_traces.join("episode-0000.jsonl")).unwrap();
    assert!(
        failed_trace.contains("HTTP 401") && failed_trace.contains("Incorrect API key provided"),
        "the error itself is kept: {failed_trace}"
    );
    let err = text(&failed.stderr);
    assert!(
        err.contains("HTTP 401") && err.contains("<redacted>"),
        "the error message names the failure: {err}"
    );

    // The test is only worth something if the key was sent and came back.
    let seen = server.requests();
    assert!(seen.len() >= 6, "{} requests", seen.len());
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {KEY}"))));
    assert!(!refusing.requests().is_empty());

    let mut written = Vec::new();
    for d in [&evolve, &exports, &traces, &failed_traces, &cache] {
        let found = files(d);
        assert!(!found.is_empty(), "nothing under {}", d.display());
        written.extend(found.into_iter().map(|(p, b)| (p.display().to_string(), b)));
    }
    // What came back was redacted where it arrived, and that text reached every kind of
    // file (the review page escapes it for HTML), so each of them was put to the test.
    for kind in [
        "evolve/traces/",
        "evolve/review/",
        "run-traces/",
        "sft.jsonl",
        "preference.jsonl",
        "cache/",
        "failed-traces/",
    ] {
        assert!(
            written.iter().any(|(p, b)| p.contains(kind)
                && (contains(b, "<redacted>") || contains(b, "&lt;redacted&gt;"))),
            "no redacted echo under {kind}"
        );
    }
    for (what, bytes) in written.iter().chain(&outputs) {
        for secret in [KEY, OTHER_KEY] {
            assert!(!contains(bytes, secret), "{what} holds {secret}");
        }
    }
}
