//! The `stdio:CMD` environment against `bridges/echo_bridge.py`, a standard-library
//! Python bridge with switchable faults. Needs `python3` on PATH.

use std::time::{Duration, Instant};

use harnessx_runtime::call::ToolCall;
use harnessx_runtime::env::{Env, FailureKind};
use harnessx_runtime::envs::stdio::{BridgeErrorKind, StdioConfig, StdioEnv};
use harnessx_runtime::ir::{HarnessIr, ParamIr, ToolIr, TypeIr};
use harnessx_runtime::models::noisy::NoisyExpertModel;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{make_env, run_episodes};
use harnessx_runtime::trace::VecSink;
use harnessx_runtime::{run_episode, EndReason};

fn echo(args: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bridges/echo_bridge.py");
    format!("python3 '{script}' {args}")
}

/// Short timeouts so the hang tests take about a second.
fn fast() -> StdioConfig {
    StdioConfig {
        ready_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_millis(1500),
        ..StdioConfig::default()
    }
}

fn echo_ir() -> HarnessIr {
    let mut ir = HarnessIr::new("echo");
    ir.tools = vec![
        ToolIr::new("look", vec![]),
        ToolIr::new("say", vec![ParamIr::new("word", TypeIr::String)]),
    ];
    ir.loop_.max_steps = 6;
    ir
}

/// Run tasks `0..n` on one env with an always-expert model; (task, success, end) each.
fn run_tasks(env: &mut StdioEnv, n: u64) -> Vec<(u64, bool, EndReason)> {
    let ir = echo_ir();
    (0..n)
        .map(|task| {
            let mut model = NoisyExpertModel::new(1.0);
            let mut sink = VecSink::default();
            let r = run_episode(&ir, &mut model, env, task, 7, &mut sink);
            (task, r.success, r.end)
        })
        .collect()
}

#[test]
fn reset_and_step_follow_the_protocol() {
    let mut env = StdioEnv::with_config(echo(""), fast());
    let obs = env.reset(2, 0);
    assert_eq!(env.bridge_name(), "echo");
    assert_eq!(obs.goal, "Say the secret word.");
    assert!(obs.text.starts_with("Words on the wall"), "{}", obs.text);
    assert_eq!(obs.admissible[0], "look()");
    assert!(obs.admissible.contains(&r#"say("lamp")"#.to_string()));
    // Tools come from the reset reply, with their parameter types.
    let tools = env.tools();
    assert_eq!(tools.len(), 2);
    assert_eq!(
        tools[1].signature(),
        "say(word: string) — Say a word out loud"
    );
    assert_eq!(env.expert(), Some(ToolCall::new("look")));

    let out = env.step(&ToolCall::new("look"));
    assert_eq!(out.observation.text, "The secret word is lamp.");
    assert!(out.state_changed && !out.done && out.error.is_none());
    assert_eq!(out.observation.goal, "Say the secret word.");
    assert_eq!(env.expert(), Some(ToolCall::new("say").arg("word", "lamp")));

    let wrong = env.step(&ToolCall::new("say").arg("word", "river"));
    assert!(!wrong.done && !wrong.state_changed);

    let win = env.step(&ToolCall::new("say").arg("word", "lamp"));
    assert!(win.done && win.success);
    assert_eq!(win.reward, 1.0);
    assert_eq!(env.expert(), None);
    assert_eq!(env.stats().spawns, 1);
    assert_eq!(env.stats().steps, 3);
}

#[test]
fn one_child_serves_many_episodes() {
    let mut env = StdioEnv::with_config(echo(""), fast());
    let runs = run_tasks(&mut env, 5);
    assert!(runs.iter().all(|(_, ok, _)| *ok), "{runs:?}");
    assert_eq!(env.stats().spawns, 1);
    assert_eq!(env.stats().resets, 5);
}

#[test]
fn stray_prints_do_not_reach_the_protocol() {
    // `print()` inside the bridge goes to stderr (the helper moves fd 1 away).
    let mut env = StdioEnv::with_config(echo("--fault noise"), fast());
    let runs = run_tasks(&mut env, 2);
    assert!(runs.iter().all(|(_, ok, _)| *ok), "{runs:?}");
    assert_eq!(env.stats().bridge_failures, 0);
}

#[test]
fn a_refused_step_is_a_tool_error_and_the_episode_goes_on() {
    let mut env = StdioEnv::with_config(echo("--fault error --fault-step 1"), fast());
    env.reset(0, 0);
    let out = env.step(&ToolCall::new("look"));
    assert!(!out.done, "{out:?}");
    let err = out.error.expect("a tool error");
    assert_eq!(err.kind, FailureKind::Error);
    assert!(err.message.contains("injected error"), "{}", err.message);
    assert!(!out.observation.admissible.is_empty());
    // The same child answers the next step normally.
    let out = env.step(&ToolCall::new("look"));
    assert!(out.error.is_none() && out.state_changed);
    assert_eq!(env.stats().spawns, 1);
    assert_eq!(env.stats().bridge_failures, 0);
}

#[test]
fn a_crash_mid_episode_fails_that_episode_and_the_run_goes_on() {
    let mut env =
        StdioEnv::with_config(echo("--fault crash --fault-task 1 --fault-step 2"), fast());
    let runs = run_tasks(&mut env, 4);
    let ok: Vec<bool> = runs.iter().map(|r| r.1).collect();
    assert_eq!(ok, [true, false, true, true], "{runs:?}");
    // The engine ended the episode as the infrastructure's failure (the runner re-runs such
    // episodes and never scores them), no budget spent.
    assert!(
        matches!(&runs[1].2, EndReason::Infrastructure(m) if m.contains("bridge failed")),
        "{:?}",
        runs[1].2
    );
    assert_eq!(env.stats().spawns, 2, "restarted once");
    assert_eq!(env.stats().bridge_failures, 1);
    let e = env.last_error().expect("error kept");
    assert_eq!(e.kind, BridgeErrorKind::Exited);
    assert!(e.message.contains("exit status: 3"), "{}", e.message);
    assert!(
        e.message.contains("crashing on purpose"),
        "quotes stderr: {}",
        e.message
    );
}

#[test]
fn the_failure_is_visible_in_the_outcome_and_the_trace() {
    let mut env = StdioEnv::with_config(echo("--fault crash --fault-step 1"), fast());
    env.reset(0, 0);
    let out = env.step(&ToolCall::new("look"));
    assert!(out.done && !out.success);
    assert_eq!(out.error.as_ref().map(|e| e.kind), Some(FailureKind::Error));
    assert!(
        out.observation.text.contains("environment bridge failed")
            && out.observation.text.contains("recorded as failed"),
        "{}",
        out.observation.text
    );
    // Further steps of the failed episode keep failing without touching a child.
    let again = env.step(&ToolCall::new("look"));
    assert!(again.done && again.error.is_some());
    assert!(env.episode_failed());

    let ir = echo_ir();
    let mut model = NoisyExpertModel::new(1.0);
    let mut sink = VecSink::default();
    let r = run_episode(&ir, &mut model, &mut env, 0, 0, &mut sink);
    assert!(!r.success);
    assert!(
        sink.to_jsonl().contains("environment bridge failed"),
        "the trace records why"
    );
}

#[test]
fn a_hung_child_times_out_is_killed_and_replaced() {
    let mut env = StdioEnv::with_config(echo("--fault hang --fault-task 0 --fault-step 1"), fast());
    let start = Instant::now();
    env.reset(0, 0);
    let out = env.step(&ToolCall::new("look"));
    let waited = start.elapsed();
    assert!(out.done && !out.success);
    assert_eq!(out.error.map(|e| e.kind), Some(FailureKind::Timeout));
    assert!(waited < Duration::from_secs(10), "bounded wait: {waited:?}");
    assert!(
        out.observation.text.contains("hanging on purpose"),
        "{}",
        out.observation.text
    );
    // The hung process is gone, not orphaned (it runs under `sh -c`, so killing only
    // the direct child would leave it behind).
    let text = &out.observation.text;
    let pid = text
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("the bridge logs its pid");
    if std::path::Path::new("/proc/self").exists() {
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        assert!(gone, "process {pid} survived the kill");
    }
    // The next episode (another task: no fault) runs on a new child.
    let obs = env.reset(1, 0);
    assert!(obs.text.starts_with("Words"), "{}", obs.text);
    assert_eq!(env.stats().spawns, 2);
}

#[test]
fn a_hang_at_reset_fails_the_episode_cleanly() {
    let mut env = StdioEnv::with_config(echo("--fault hang --fault-task 0 --fault-step 0"), fast());
    let obs = env.reset(0, 0);
    assert!(obs.text.contains("did not answer"), "{}", obs.text);
    assert!(obs.admissible.is_empty());
    let out = env.step(&ToolCall::new("look"));
    assert!(out.done && !out.success);
    assert_eq!(out.error.map(|e| e.kind), Some(FailureKind::Timeout));
    let obs = env.reset(1, 0);
    assert!(obs.text.starts_with("Words"), "{}", obs.text);
}

#[test]
fn garbage_on_stdout_is_a_clear_error() {
    let mut env = StdioEnv::with_config(echo("--fault garbage --fault-task 0"), fast());
    let runs = run_tasks(&mut env, 2);
    assert_eq!(runs.iter().map(|r| r.1).collect::<Vec<_>>(), [false, true]);
    let e = env.last_error().expect("error kept");
    assert_eq!(e.kind, BridgeErrorKind::Malformed);
    assert!(
        e.message.contains("not JSON") && e.message.contains("this is not json {"),
        "{}",
        e.message
    );
}

#[test]
fn a_reply_with_another_id_is_a_protocol_error() {
    let mut env = StdioEnv::with_config(echo("--fault wrong-id --fault-task 0"), fast());
    env.reset(0, 0);
    let out = env.step(&ToolCall::new("look"));
    assert!(out.done && !out.success);
    let e = env.last_error().expect("error kept");
    assert!(e.message.contains("expected 2"), "{}", e.message);
}

#[test]
fn a_child_that_never_gets_ready_times_out() {
    let cfg = StdioConfig {
        ready_timeout: Duration::from_millis(800),
        ..fast()
    };
    let mut env = StdioEnv::with_config(echo("--no-ready"), cfg);
    let start = Instant::now();
    let obs = env.reset(0, 0);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        obs.text.contains("waiting for the ready line"),
        "{}",
        obs.text
    );
    assert_eq!(
        env.last_error().map(|e| e.kind),
        Some(BridgeErrorKind::Timeout)
    );
    assert!(env.step(&ToolCall::new("look")).done);
}

#[test]
fn a_child_that_exits_at_start_is_reported_with_status_and_bounded_stderr() {
    let cfg = StdioConfig {
        stderr_tail_bytes: 512,
        ..fast()
    };
    let mut env = StdioEnv::with_config(echo("--stderr-spam 20000 --exit-at-start 7"), cfg);
    let obs = env.reset(0, 0);
    let e = env.last_error().expect("error kept").clone();
    assert_eq!(e.kind, BridgeErrorKind::Exited);
    assert!(e.message.contains("exit status: 7"), "{}", e.message);
    assert!(
        e.message.contains("exiting at start-up on purpose"),
        "{}",
        e.message
    );
    // 20000 log lines, but only the tail is kept.
    assert!(e.message.len() < 1024, "{} bytes", e.message.len());
    assert!(obs.text.len() < 1200);
    // A new reset tries a new child (and fails the same way, cleanly).
    env.reset(1, 0);
    assert_eq!(env.stats().spawns, 2);
    assert_eq!(env.stats().failed_episodes, 2);
}

#[test]
fn a_missing_script_is_reported() {
    let mut env = StdioEnv::with_config("python3 /nonexistent/bridge.py", fast());
    let obs = env.reset(0, 0);
    assert!(obs.text.contains("No such file"), "{}", obs.text);
}

#[test]
fn pooled_envs_share_one_child() {
    // A command no other test uses, so the pool holds only our child.
    let cmd = echo("--max-steps 19");
    {
        let mut a = StdioEnv::pooled(cmd.clone(), fast());
        a.reset(0, 0);
        assert_eq!(a.stats().spawns, 1);
    }
    let mut b = StdioEnv::pooled(cmd, fast());
    let runs = run_tasks(&mut b, 2);
    assert!(runs.iter().all(|r| r.1), "{runs:?}");
    assert_eq!(b.stats().spawns, 0, "took the idle child from the pool");
}

#[test]
fn make_env_runs_stdio_batches() {
    let spec = format!("stdio:{}", echo("--max-steps 18"));
    assert!(make_env(&spec).is_ok());
    assert!(make_env("stdio:").is_err());
    let ir = echo_ir();
    let rules = InterpretedRules::new(&ir);
    let mut results = Vec::new();
    let run = run_episodes(&ir, &rules, &spec, &ModelSpec::Noisy(1.0), 4, 3, |e| {
        results.push(e.result.success)
    });
    assert!(run.is_ok(), "{run:?}");
    assert_eq!(results, [true, true, true, true]);
}
