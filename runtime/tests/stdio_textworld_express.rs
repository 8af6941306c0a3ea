//! End to end over `bridges/textworld_express_bridge.py`: real TextWorldExpress games
//! (`twc`, 1 room, 2 items) through the `stdio:` env. Ignored by default because it needs
//! `pip install textworld-express` and Java; `.ci/run` runs it with `--ignored`.
//!
//! `cargo test -p harnessx-runtime --test stdio_textworld_express -- --ignored --nocapture`
//! prints the measured numbers quoted in docs/BRIDGE.md.

use std::time::Duration;

use harnessx_runtime::call::ToolCall;
use harnessx_runtime::env::Env;
use harnessx_runtime::envs::stdio::{StdioConfig, StdioEnv};
use harnessx_runtime::ir::{HarnessIr, ParamIr, ToolIr, TypeIr};
use harnessx_runtime::models::noisy::NoisyExpertModel;
use harnessx_runtime::models::FnModel;
use harnessx_runtime::rng::mix;
use harnessx_runtime::trace::VecSink;
use harnessx_runtime::{run_episode, EpisodeResult};

/// Episodes per policy; `HARNESSX_TWX_TASKS` overrides it for longer measurements.
fn tasks() -> u64 {
    std::env::var("HARNESSX_TWX_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}
const STEPS: u32 = 50;

fn bridge(args: &str) -> StdioEnv {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bridges/textworld_express_bridge.py"
    );
    let cfg = StdioConfig {
        // The JVM starts in a few seconds; leave room for a loaded CI machine.
        ready_timeout: Duration::from_secs(180),
        ..StdioConfig::default()
    };
    StdioEnv::with_config(format!("python3 '{script}' {args}"), cfg)
}

fn twx_ir() -> HarnessIr {
    let mut ir = HarnessIr::new("twx");
    ir.tools = vec![ToolIr::new(
        "act",
        vec![ParamIr::new("command", TypeIr::String)],
    )];
    ir.loop_.max_steps = STEPS;
    ir
}

struct Tally {
    successes: u64,
    steps: u64,
}

fn tally(results: &[EpisodeResult]) -> Tally {
    Tally {
        successes: results.iter().filter(|r| r.success).count() as u64,
        steps: results.iter().map(|r| u64::from(r.steps)).sum(),
    }
}

#[test]
#[ignore = "needs `pip install textworld-express` and Java"]
fn textworld_express_expert_solves_and_random_does_not() {
    let ir = twx_ir();
    let tasks = tasks();
    let mut env = bridge("--game twc --fold train --step-limit 50");

    // The expert: the noisy test stand-in at competence 1 replies with env.expert().
    let expert: Vec<EpisodeResult> = (0..tasks)
        .map(|task| {
            let mut model = NoisyExpertModel::new(1.0);
            let mut sink = VecSink::default();
            run_episode(&ir, &mut model, &mut env, task, task, &mut sink)
        })
        .collect();
    assert_eq!(env.stats().bridge_failures, 0, "{:?}", env.last_error());
    let e = tally(&expert);
    let step_ms = env.stats().step_time.as_secs_f64() * 1e3 / env.stats().steps.max(1) as f64;

    // The baseline: a uniformly random admissible action at every step (seeded).
    let random: Vec<EpisodeResult> = (0..tasks)
        .map(|task| {
            let mut model = FnModel(|req: &harnessx_runtime::models::ModelRequest| {
                let a = &req.admissible;
                if a.is_empty() {
                    r#"act("look around")"#.to_string()
                } else {
                    a[(mix(req.seed) % a.len() as u64) as usize].clone()
                }
            });
            let mut sink = VecSink::default();
            run_episode(&ir, &mut model, &mut env, task, task, &mut sink)
        })
        .collect();
    let r = tally(&random);
    let stats = env.stats();
    println!(
        "twc numLocations=1,numItemsToPutAway=2 train tasks 0..{tasks}, step limit {STEPS}:\n  \
         expert (noisy:1.0): {}/{tasks} solved, {:.1} steps/episode\n  \
         random admissible:  {}/{tasks} solved\n  \
         bridge: {} spawn(s) in {:.1} s, {} steps, {:.2} ms/step round trip \
         (expert run {:.2}), {:.1} ms/reset",
        e.successes,
        e.steps as f64 / tasks as f64,
        r.successes,
        stats.spawns,
        stats.spawn_time.as_secs_f64(),
        stats.steps,
        stats.step_time.as_secs_f64() * 1e3 / stats.steps.max(1) as f64,
        step_ms,
        stats.reset_time.as_secs_f64() * 1e3 / stats.resets.max(1) as f64,
    );
    assert_eq!(e.successes, tasks, "the expert solves every game");
    assert!(
        r.successes < tasks,
        "random admissible actions are no expert"
    );
    assert_eq!(stats.spawns, 1, "one JVM for all episodes");
}

#[test]
#[ignore = "needs `pip install textworld-express` and Java"]
fn textworld_express_expert_is_tracked_and_folds_differ() {
    let mut env = bridge("--fold test");
    let obs = env.reset(0, 0);
    assert!(
        obs.goal.contains("pick up objects"),
        "twc goal: {}",
        obs.goal
    );
    assert!(obs.admissible.iter().all(|a| a.starts_with("act(\"")));
    let first = env.expert().expect("an expert at the start");
    // Looking around changes nothing: the expert stays on the gold path.
    let look = ToolCall::new("act").arg("command", "look around");
    let out = env.step(&look);
    assert!(!out.state_changed && out.error.is_none());
    assert_eq!(env.expert().as_ref(), Some(&first));
    // Leaving the gold path (opening a container it does not open first) keeps an
    // expert: for twc it is planned from the current state, and is one of the valid
    // commands.
    let off_path = obs
        .admissible
        .iter()
        .filter_map(|a| a.strip_prefix("act(\"")?.strip_suffix("\")"))
        .find(|c| c.starts_with("open ") && Some(*c) != first.get_str("command"));
    if let Some(cmd) = off_path {
        let out = env.step(&ToolCall::new("act").arg("command", cmd));
        assert!(out.state_changed, "{cmd}: {}", out.observation.text);
        let next = env.expert().expect("an expert off the gold path");
        let text = format!("act(\"{}\")", next.get_str("command").unwrap_or_default());
        assert!(
            out.observation.admissible.contains(&text),
            "{text} not in {:?}",
            out.observation.admissible
        );
    }
    // Another fold is another set of games.
    let mut train = bridge("--fold train");
    let train_obs = train.reset(0, 0);
    assert_ne!(train_obs.text, obs.text);
    // An unknown tool is refused, and the episode goes on.
    let out = train.step(&ToolCall::new("go").arg("target", "north"));
    assert!(!out.done && out.error.is_some());
    assert!(train.expert().is_some());
    // Same task, seed and model: byte-identical traces (no wall-clock time leaks in).
    let ir = twx_ir();
    let trace = |env: &mut StdioEnv| {
        let mut model = NoisyExpertModel::new(0.5);
        let mut sink = VecSink::default();
        run_episode(&ir, &mut model, env, 3, 11, &mut sink);
        sink.to_jsonl()
    };
    let a = trace(&mut train);
    assert_eq!(a, trace(&mut train));
    let mut fresh = bridge("--fold train");
    assert_eq!(a, trace(&mut fresh), "and from a new bridge process");
}
