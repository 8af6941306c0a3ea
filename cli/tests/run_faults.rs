//! `harnessx run` against a model server that fails every third request: the `openai:`
//! backend retries, every episode completes as against a healthy server, and the summary
//! counts the retries — interpreted and compiled (the compiled runner reports them on its
//! `#infra` line), with several episodes in flight (`--concurrency`).

mod common;

use common::{harnessx, key_door_harness, scratch, text, FakeOpenAi};

fn summary_line<'a>(out: &'a str, prefix: &str) -> Option<&'a str> {
    out.lines().find(|l| l.starts_with(prefix))
}

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
        let retried = summary_line(&out, "model requests retried: ")
            .unwrap_or_else(|| panic!("{extra:?}: no retries counted: {out}"));
        let n: u64 = retried["model requests retried: ".len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // Every third request failed: about one failure per two answered requests, each
        // retried.
        let answered = faulty.requests().len() as u64;
        assert!(n >= 1 && retried.contains("5xx: "), "{extra:?}: {retried}");
        assert!(
            2 * n + 2 >= answered,
            "{n} retried, {answered} answered: {out}"
        );
    }
}
