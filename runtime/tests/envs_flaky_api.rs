//! The `flaky_api` environment: the expert, the fault schedule, success judging, bad
//! arguments, and what a tool timeout plus retries buys a harness.

use harnessx_runtime::call::ToolCall;
use harnessx_runtime::env::{Env, FailureKind, StepOutcome};
use harnessx_runtime::envs::flaky_api::{self, Family, FlakyApi, STEP_LIMIT};
use harnessx_runtime::ir::{HarnessIr, ToolIr};
use harnessx_runtime::models::noisy::NoisyExpertModel;
use harnessx_runtime::run_episode;
use harnessx_runtime::runner::make_env;
use harnessx_runtime::trace::VecSink;
use serde_json::json;

/// Drive the env with its expert, re-issuing after failures; (success, calls).
fn run_expert(env: &mut FlakyApi) -> (bool, u32) {
    for n in 1..=STEP_LIMIT {
        let Some(c) = env.expert() else {
            return (false, n);
        };
        let out = env.step(&c);
        if out.done {
            return (out.success, n);
        }
    }
    (false, STEP_LIMIT)
}

#[test]
fn expert_solves_every_task_within_the_step_limit() {
    let mut longest = 0;
    for task in 0..400u64 {
        for seed in [0, 17] {
            let mut env = FlakyApi::new();
            env.reset(task, seed);
            let (ok, n) = run_expert(&mut env);
            assert!(ok, "task {task} seed {seed}");
            longest = longest.max(n);
        }
    }
    println!("flaky_api expert: 800/800 solved, longest {longest} calls");
}

/// Outcomes of the same call repeated, to read the fault schedule.
fn probe(task: u64, seed: u64, n: usize) -> Vec<StepOutcome> {
    let mut env = FlakyApi::new();
    env.reset(task, seed);
    let c = ToolCall::new("search").arg("query", "ticket");
    (0..n).map(|_| env.step(&c)).collect()
}

#[test]
fn faults_follow_the_documented_schedule() {
    let (mut transient, mut limited, mut slow) = (0, 0, 0);
    for task in 0..200u64 {
        let outs = probe(task, task, 64);
        let mut window = 0;
        let mut failing = 0;
        for (i, o) in outs.iter().enumerate() {
            let msg = o.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
            assert!(o
                .error
                .as_ref()
                .is_none_or(|e| e.kind == FailureKind::Error));
            if msg.starts_with("503") {
                transient += 1;
                failing += 1;
                // One retry succeeds.
                assert!(
                    outs.get(i + 1).is_none_or(|n| n.error.is_none()),
                    "task {task}"
                );
            }
            if msg.starts_with("429") {
                limited += 1;
                failing += 1;
                window += 1;
                assert!(window <= 3, "task {task}: rate limit longer than 3 calls");
            } else {
                window = 0;
            }
            if o.error.is_none() && o.latency_ms > 1000 {
                slow += 1;
                assert!(o.latency_ms <= 6000);
            }
            assert!(!o.state_changed, "search never changes state");
        }
        assert!(failing <= flaky_api::MAX_FAILING_CALLS);
    }
    println!("flaky_api faults over 200×64 calls: {transient} transient, {limited} rate-limited, {slow} slow");
    assert!(transient > 100 && limited > 100 && slow > 500);
}

#[test]
fn the_task_fixes_the_tickets_and_the_seed_the_faults() {
    let mut a = FlakyApi::new();
    let mut b = FlakyApi::new();
    let (oa, ob) = (a.reset(9, 1), b.reset(9, 2));
    assert_eq!(oa, ob);
    assert_eq!(a.tickets(), b.tickets());
    let faults = |outs: Vec<StepOutcome>| -> Vec<(bool, u64)> {
        outs.iter()
            .map(|o| (o.error.is_some(), o.latency_ms))
            .collect()
    };
    assert_eq!(faults(probe(9, 1, 40)), faults(probe(9, 1, 40)));
    assert_ne!(faults(probe(9, 1, 40)), faults(probe(9, 2, 40)));
    let mut c = FlakyApi::new();
    c.reset(10, 1);
    assert_ne!(a.tickets(), c.tickets());
}

#[test]
fn the_four_families_cycle_and_goals_name_one_ticket() {
    let families = [
        Family::Escalate,
        Family::Close,
        Family::Reassign,
        Family::Lookup,
    ];
    let mut env = FlakyApi::new();
    for task in 0..40u64 {
        let obs = env.reset(task, 0);
        let spec = env.spec().clone();
        assert_eq!(spec.family, families[(task % 4) as usize]);
        assert_eq!(obs.goal, spec.goal);
        let t = &env.tickets()[spec.target];
        assert!(spec.goal.contains(t.customer) && spec.goal.contains(t.title));
        assert_eq!(t.status, "open");
        // Exactly one open ticket matches the description; a closed duplicate exists.
        let same: Vec<_> = env
            .tickets()
            .iter()
            .filter(|x| x.customer == t.customer && x.title == t.title)
            .collect();
        assert_eq!(same.len(), 2);
        assert!(same.iter().any(|x| x.status == "closed"));
    }
}

/// A fresh env of `task` with no faults in the way: seed chosen so the first calls work.
fn calm(task: u64) -> FlakyApi {
    for seed in 0..1000 {
        let outs = probe(task, seed, 8);
        if outs
            .iter()
            .all(|o| o.error.is_none() && o.latency_ms < 1000)
        {
            let mut env = FlakyApi::new();
            env.reset(task, seed);
            return env;
        }
    }
    panic!("no calm seed for task {task}");
}

/// Follow the expert until it would finish; the finish call it wanted.
fn until_finish(env: &mut FlakyApi) -> ToolCall {
    loop {
        let c = env.expert().expect("expert");
        if c.tool == "finish" {
            return c;
        }
        env.step(&c);
    }
}

#[test]
fn success_is_judged_on_the_final_state_and_answer() {
    // Wrong answer.
    let mut env = calm(0);
    until_finish(&mut env);
    let out = env.step(&ToolCall::new("finish").arg("answer", "T-0000"));
    assert!(out.done && !out.success);

    // Answer formatting is forgiving.
    let mut env = calm(0);
    let c = until_finish(&mut env);
    let ans = c.get_str("answer").unwrap_or_default().to_string();
    let out =
        env.step(&ToolCall::new("finish").arg("answer", format!(" \"{}.\" ", ans.to_lowercase())));
    assert!(out.success);

    // A duplicate notification fails the task.
    let mut env = calm(0);
    let mut last_notify = None;
    loop {
        let c = env.expert().expect("expert");
        if c.tool == "finish" {
            break;
        }
        if c.tool == "notify" {
            last_notify = Some(c.clone());
        }
        env.step(&c);
    }
    env.step(&last_notify.expect("task 0 notifies"));
    let c = env.expert().expect("expert");
    assert!(!env.step(&c).success);

    // Touching another ticket fails unless it is put back; the expert puts it back.
    let mut env = calm(1);
    let spec = env.spec().clone();
    let other = env.tickets()[(spec.target + 1) % env.tickets().len()]
        .id
        .clone();
    let out = env.step(
        &ToolCall::new("update")
            .arg("id", other)
            .arg("fields", vec!["priority=urgent"]),
    );
    assert!(out.error.is_none() && out.state_changed);
    let (ok, _) = run_expert(&mut env);
    assert!(
        ok,
        "the expert restores the ticket it should not have touched"
    );

    // Lookup tasks must change nothing.
    let mut env = calm(3);
    assert_eq!(env.spec().family, Family::Lookup);
    let target = env.spec().target;
    let id = env.tickets()[target].id.clone();
    let initial = env.tickets()[target].priority;
    let out = env.step(
        &ToolCall::new("update")
            .arg("id", id)
            .arg("fields", vec!["priority=urgent"]),
    );
    assert!(out.state_changed && initial != "urgent");
    let answer = env.spec().answer.clone();
    let out = env.step(&ToolCall::new("finish").arg("answer", answer));
    assert!(out.done && !out.success);
    // ... and the expert would have put it back first.
    let mut env = calm(3);
    let id = env.tickets()[target].id.clone();
    env.step(
        &ToolCall::new("update")
            .arg("id", id)
            .arg("fields", vec!["priority=urgent"]),
    );
    assert!(run_expert(&mut env).0);
}

#[test]
fn bad_arguments_are_permanent_errors_and_nothing_panics() {
    let mut env = calm(2);
    let id = env.tickets()[0].id.clone();
    let bad = [
        ToolCall::new("fetch").arg("id", "T-0000"),
        ToolCall::new("fetch"),
        ToolCall::new("fetch").arg("id", 12),
        ToolCall::new("update")
            .arg("id", id.as_str())
            .arg("fields", vec!["colour=red"]),
        ToolCall::new("update")
            .arg("id", id.as_str())
            .arg("fields", vec!["status=gone"]),
        ToolCall::new("update")
            .arg("id", id.as_str())
            .arg("fields", json!([])),
        ToolCall::new("update")
            .arg("id", id.as_str())
            .arg("fields", "status=closed"),
        ToolCall::new("notify")
            .arg("channel", "fax")
            .arg("message", "hi"),
        ToolCall::new("notify")
            .arg("channel", "sms")
            .arg("message", "  "),
        ToolCall::new("search").arg("query", ""),
        ToolCall::new("search").arg("query", "x").arg("limit", 0),
        ToolCall::new("search")
            .arg("query", "x")
            .arg("limit", "many"),
        ToolCall::new("delete").arg("id", "🙂"),
    ];
    let before = env.tickets().to_vec();
    for c in &bad {
        let out = env.step(c);
        assert!(out.error.is_some(), "{c:?}");
        assert!(!out.state_changed && !out.done);
    }
    assert_eq!(env.tickets(), &before[..]);
    // A bad field spoils the whole request.
    let out = env.step(
        &ToolCall::new("update")
            .arg("id", id.as_str())
            .arg("fields", vec!["status=closed", "nope=1"]),
    );
    assert!(out.error.is_some());
    assert_eq!(env.tickets(), &before[..]);
    assert!(make_env("flaky_api").is_ok());
}

#[test]
fn tools_match_the_example_harness() {
    let example = include_str!("../../examples/flaky_api.harness");
    for t in flaky_api::tools() {
        let params: Vec<String> = t
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, harnessx_runtime::call::type_name(&p.ty)))
            .collect();
        let decl = format!(
            "tool {}({}) \"{}\"",
            t.name,
            params.join(", "),
            t.description
        );
        assert!(example.contains(&decl), "{decl}");
    }
}

/// A harness over the env's tools, with `timeout_ms` and `retries` on the API tools.
fn harness(timeout_ms: Option<u64>, retries: u32) -> HarnessIr {
    let mut ir = HarnessIr::new("flaky");
    ir.loop_.max_steps = STEP_LIMIT;
    ir.tools = flaky_api::tools()
        .into_iter()
        .map(|t| {
            let api = t.name != "finish" && t.name != "notify";
            ToolIr {
                timeout_ms: timeout_ms.filter(|_| api),
                retries: if api { retries } else { 0 },
                ..ToolIr::new(t.name, t.params)
            }
        })
        .collect();
    ir
}

#[test]
fn a_tool_timeout_with_retries_saves_steps_and_time() {
    let run = |ir: &HarnessIr| {
        let (mut wins, mut steps, mut clock) = (0u32, 0u64, 0u64);
        for task in 0..100u64 {
            let mut env = FlakyApi::new();
            let mut model = NoisyExpertModel::new(1.0);
            let r = run_episode(
                ir,
                &mut model,
                &mut env,
                task,
                task,
                &mut VecSink::default(),
            );
            wins += u32::from(r.success);
            steps += u64::from(r.steps);
            clock += r.clock_ms;
        }
        (wins, steps, clock)
    };
    let plain = run(&harness(None, 0));
    let guarded = run(&harness(Some(500), 3));
    println!("flaky_api, expert model, 100 tasks: no timeout/retries {plain:?}; timeout 500 ms + 3 retries {guarded:?} (wins, steps, clock ms)");
    assert_eq!(plain.0, 100);
    assert_eq!(guarded.0, 100);
    assert!(guarded.1 < plain.1 && guarded.2 < plain.2);
}
