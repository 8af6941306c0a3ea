//! `harnessx run` against a model server that fails every third request: the `openai:`
//! backend retries, every episode completes as against a healthy server, and the summary
//! counts the retries — interpreted and compiled (the compiled runner reports them on its
//! `#infra` line), with several episodes in flight (`--concurrency`).

mod common;

use common::{harnessx, key_door_harness, scratch, text, FakeOpenAi};

fn summary_line<'a>(out: &'a str, prefix: &str) -> Option<&'a str> {
    out.lines().find(|l| l.starts_with(prefix))
}

/// The number that starts a summary line after `prefix` ("model requests retried: 14 (5xx:
/// 14)"), 0 when the summary has no such line (it prints none for zero).
fn summary_count(out: &str, prefix: &str) -> u64 {
    summary_line(out, prefix).map_or(0, |l| {
        l[prefix.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unreadable count: {l}"))
    })
}

const RETRIED: &str = "model requests retried: ";
const RERUN: &str = "episodes re-run after an infrastructure failure: ";

#[test]
fn retries_absorb_server_errors_and_the_summary_counts_them() {
    let dir = scratch("run-faults");
    let f = dir.join("kd.harness");
    std::fs::write(&f, key_door_harness("SOLVER", "HX_RUN_FAULTS_KEY")).expect("write");
    let f = f.to_string_lossy().into_owned();
    let env = [("HX_RUN_FAULTS_KEY", "k")];
    let run = |server: &FakeOpenAi, extra: &[&str]| {
        let spec = format!(
            "openai:{}#scripted?key_env=HX_RUN_FAULTS_KEY&retries=4&backoff_ms=1&backoff_max_ms=5",
            server.url
        );
        let mut args = vec!["run", &f, "--model", &spec, "--tasks", "4"];
        args.extend_from_slice(extra);
        let o = harnessx(&args, &env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let healthy = FakeOpenAi::start();
    let clean = run(&healthy, &["--interpret"]);
    assert!(
        summary_line(&clean, "model requests retried").is_none(),
        "{clean}"
    );
    let results = |out: &str| out.lines().nth(2).map(str::to_string);
    for extra in [
        &["--interpret", "--concurrency", "2"][..],
        &["--concurrency", "2"][..],
    ] {
        let faulty = FakeOpenAi::failing_every(3);
        let out = run(&faulty, extra);
        // Same episodes scored, same successes, steps and tokens as without faults.
        assert_eq!(results(&out), results(&clean), "{extra:?}: {out}");
        let retried = summary_line(&out, RETRIED)
            .unwrap_or_else(|| panic!("{extra:?}: no retries counted: {out}"));
        assert!(retried.contains("5xx: "), "{extra:?}: {retried}");
        let n = summary_count(&out, RETRIED);
        // Every 503 the server sent is accounted for: it was retried, or it was the last
        // attempt of a request whose retries ran out (with two episodes in flight, one
        // request's attempts can keep landing on the failing slots), and that episode was
        // re-run — so the rerun line says how many such requests there were.
        let reruns = summary_count(&out, RERUN);
        let refused = faulty.refused() as u64;
        assert!(refused >= 1, "{extra:?}: the server refused nothing");
        assert_eq!(
            n + reruns,
            refused,
            "{extra:?}: {n} retried + {reruns} re-run episodes vs {refused} refused: {out}"
        );
    }
}

/// The echo bridge's world (docs/BRIDGE.md) as a harness.
const ECHO_HARNESS: &str = r#"harness echo {
  model {
    backend = "sim:small"
  }
  prompt system "Goal: {{task.goal}}"
  tool look() "Read the wall"
  tool say(word: string) "Say a word out loud"
  loop {
    max_steps = 6
  }
}
"#;

fn echo_bridge(args: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bridges/echo_bridge.py");
    format!("stdio:python3 '{script}' --max-steps 9 {args}")
}

/// The trace files of a `--trace-dir`, by name.
fn trace_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("trace dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

#[test]
fn a_bridge_killed_at_random_steps_gives_the_undisturbed_run() {
    let dir = scratch("run-bridge-chaos");
    let f = dir.join("echo.harness");
    std::fs::write(&f, ECHO_HARNESS).expect("write");
    let f = f.to_string_lossy().into_owned();
    let run = |env: &str, tasks: &str, traces: &std::path::Path, extra: &[&str]| {
        let t = traces.to_string_lossy();
        let mut args = vec![
            "run",
            &f,
            "--env",
            env,
            "--model",
            "noisy:0.6",
            "--tasks",
            tasks,
            "--concurrency",
            "4",
            "--trace-dir",
            &t,
        ];
        args.extend_from_slice(extra);
        harnessx(&args, &[])
    };
    let clean_dir = dir.join("clean");
    let o = run(&echo_bridge(""), "16", &clean_dir, &["--interpret"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let clean = text(&o.stdout);
    let results = |out: &str| out.lines().nth(2).map(str::to_string);
    let reruns = |out: &str| summary_count(out, RERUN);
    assert_eq!(reruns(&clean), 0, "{clean}");
    for (name, extra) in [("interpreted", &["--interpret"][..]), ("compiled", &[][..])] {
        let chaos = dir.join(format!("chaos-{name}"));
        let env = echo_bridge(&format!(
            "--chaos 0.1 --chaos-seed 2 --chaos-dir '{}'",
            chaos.display()
        ));
        let traces = dir.join(format!("traces-{name}"));
        let o = run(&env, "16", &traces, extra);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        // The same episodes scored, the same successes, steps and tokens, and the same
        // traces byte for byte.
        assert_eq!(results(&out), results(&clean), "{name}: {out}");
        assert_eq!(trace_files(&traces), trace_files(&clean_dir), "{name}");
        // Every kill during an episode cost one rerun, and the summary counts them.
        let kills = std::fs::read_dir(&chaos)
            .expect("chaos dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("kill-"))
            })
            .count() as u64;
        let before = std::fs::read_dir(&chaos)
            .expect("chaos dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with("-before"))
            })
            .count() as u64;
        let n = reruns(&out);
        assert!(before >= 1, "{name}: no kill before a reply");
        assert!(
            before <= n && n <= kills,
            "{name}: {kills} kills ({before} before a reply), {n} reruns: {out}"
        );
    }

    // Past the bound (every run killed): a clear error and a failed run, never a quiet one.
    let chaos = dir.join("chaos-always");
    let env = echo_bridge(&format!("--chaos 1 --chaos-dir '{}'", chaos.display()));
    let o = run(&env, "2", &dir.join("traces-always"), &["--interpret"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("2 of 2 episodes could not be run")
            && err.contains("failed in all 3 runs")
            && err.contains("bridge failed"),
        "{err}"
    );
    assert!(
        text(&o.stdout).contains(
            "infrastructure failures (model server or bridge, after reruns; not scored): 2"
        ),
        "{}",
        text(&o.stdout)
    );
}
