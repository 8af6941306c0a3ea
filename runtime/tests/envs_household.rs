//! The `household` environment: the expert, the admissible actions, the world's rules,
//! determinism, task variety, and the random-policy floor.

use std::collections::BTreeSet;

use harnessx_runtime::call::ToolCall;
use harnessx_runtime::env::Env;
use harnessx_runtime::envs::household::{self, Household, TaskType, STEP_LIMIT};
use harnessx_runtime::parse::parse_call;
use harnessx_runtime::rng::SplitMix;
use harnessx_runtime::runner::make_env;
use serde_json::json;

fn call(text: &str) -> ToolCall {
    parse_call(text, &household::tools()).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

/// Run the expert from the current state; the number of steps it took, if it succeeded.
fn run_expert(env: &mut Household, budget: u32) -> Option<u32> {
    for step in 1..=budget {
        let c = env.expert()?;
        let out = env.step(&c);
        assert!(
            out.error.is_none(),
            "expert call {c:?} failed: {:?}",
            out.error
        );
        if out.done {
            return out.success.then_some(step);
        }
    }
    None
}

/// A random admissible action other than `finish()`.
fn random_action(env: &Household, rng: &mut SplitMix) -> ToolCall {
    let acts: Vec<String> = env
        .admissible()
        .into_iter()
        .filter(|a| a != "finish()")
        .collect();
    call(&acts[rng.below(acts.len())])
}

#[test]
fn expert_solves_a_thousand_tasks_within_the_step_limit() {
    let mut solved = 0;
    let mut steps = 0;
    let mut longest = 0;
    for task in household::TRAIN.start..household::TRAIN.start + 1000 {
        let mut env = Household::new();
        env.reset(task, task.wrapping_mul(7919));
        if let Some(n) = run_expert(&mut env, STEP_LIMIT) {
            solved += 1;
            steps += n;
            longest = longest.max(n);
        }
    }
    println!(
        "household expert: {solved}/1000 solved, mean {:.1} steps, longest {longest}",
        f64::from(steps) / f64::from(solved.max(1))
    );
    assert!(solved >= 990, "{solved}/1000");

    let held_out = household::HELD_OUT.take(500);
    let solved = held_out
        .filter(|&task| {
            let mut env = Household::new();
            env.reset(task, task);
            run_expert(&mut env, STEP_LIMIT).is_some()
        })
        .count();
    println!("household expert, held_out: {solved}/500 solved");
    assert!(solved >= 495, "{solved}/500");
}

#[test]
fn expert_recovers_from_random_detours() {
    let mut rng = SplitMix::new(11);
    for task in 0..300u64 {
        let mut env = Household::new();
        env.reset(task, 3);
        let detour = (task % 25) as u32;
        for _ in 0..detour {
            let out = env.step(&random_action(&env, &mut rng));
            assert!(out.error.is_none());
            if out.done {
                break;
            }
        }
        let solved = env.expert().is_none() || run_expert(&mut env, STEP_LIMIT).is_some();
        assert!(solved, "task {task} after a {detour}-step detour");
    }
}

#[test]
fn same_task_and_seed_give_the_same_episode() {
    let trace = |task: u64, seed: u64| {
        let mut env = Household::new();
        let mut rng = SplitMix::new(5);
        let mut out = vec![format!("{:?}", env.reset(task, seed))];
        for _ in 0..30 {
            let o = env.step(&random_action(&env, &mut rng));
            out.push(format!("{o:?}"));
            if o.done {
                break;
            }
        }
        out
    };
    assert_eq!(trace(42, 9), trace(42, 9));
    assert_ne!(trace(42, 9), trace(43, 9));
    // The seed only reorders the listed actions; the task is the same.
    let (mut a, mut b) = (Household::new(), Household::new());
    let (oa, ob) = (a.reset(42, 1), b.reset(42, 2));
    assert_eq!(a.signature(), b.signature());
    assert_eq!(oa.text, ob.text);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(oa.admissible.clone()), sorted(ob.admissible.clone()));
    assert_ne!(oa.admissible, ob.admissible);
}

#[test]
fn at_least_a_thousand_distinct_tasks_and_disjoint_splits() {
    let sig = |task: u64| {
        let mut env = Household::new();
        env.reset(task, 0);
        env.signature()
    };
    let train: BTreeSet<String> = (0..1000).map(sig).collect();
    assert_eq!(train.len(), 1000);
    let held: BTreeSet<String> = household::HELD_OUT.map(sig).collect();
    assert_eq!(held.len(), household::HELD_OUT.count());
    assert!(train.is_disjoint(&held));
    const { assert!(household::TRAIN.end <= household::HELD_OUT.start) };
    assert_eq!(household::split("train"), Some(household::TRAIN));
    assert_eq!(household::split("held_out"), Some(household::HELD_OUT));
    assert_eq!(household::split("test"), None);
}

#[test]
fn task_types_cycle_and_goals_read_like_alfworld() {
    let mut env = Household::new();
    for task in 0..12u64 {
        let obs = env.reset(task, 0);
        let g = env.goal();
        assert_eq!(g.ty, TaskType::ALL[(task % 6) as usize]);
        assert_eq!(obs.goal, g.text());
        assert!(obs.text.contains("Your task is to: "), "{}", obs.text);
        assert!(obs.text.starts_with("You are in the middle of a room."));
    }
    let names: BTreeSet<&str> = TaskType::ALL.iter().map(|t| t.name()).collect();
    assert!(names.contains("pick_two_obj_and_place") && names.len() == 6);
}

/// Task, receptacle and object of a goal object that starts in a closed receptacle.
fn hidden_object() -> (u64, String, String) {
    for task in 0..200u64 {
        let mut env = Household::new();
        env.reset(task, 0);
        let sig = env.signature();
        for part in sig.split('|').skip(1) {
            let (recep, items) = part.split_once(':').unwrap_or_default();
            let closed = ["cabinet", "drawer", "fridge", "microwave", "safe"]
                .iter()
                .any(|k| recep.starts_with(k));
            if let Some(item) = items.split(',').find(|i| !i.is_empty()).filter(|_| closed) {
                return (task, recep.to_string(), item.to_string());
            }
        }
    }
    panic!("no task with an object in a closed receptacle");
}

#[test]
fn closed_receptacles_hide_their_contents_until_opened() {
    let (task, recep, item) = hidden_object();
    let mut env = Household::new();
    env.reset(task, 0);
    let arrive = env.step(&call(&format!("go({recep:?})")));
    assert!(arrive.observation.text.contains("is closed"));
    assert!(!arrive.observation.text.contains(&item));
    let take = format!("take({item:?}, {recep:?})");
    assert!(!arrive.observation.admissible.contains(&take));
    let look = env.step(&call("look()"));
    assert!(!look.observation.text.contains(&item) && !look.state_changed);
    let refused = env.step(&call(&take));
    assert_eq!(refused.observation.text, "Nothing happens.");
    assert!(refused.error.is_some() && !refused.state_changed);
    let opened = env.step(&call(&format!("open({recep:?})")));
    assert!(
        opened.observation.text.contains(&item),
        "{}",
        opened.observation.text
    );
    assert!(opened.state_changed && opened.observation.admissible.contains(&take));
    let closed = env.step(&call(&format!("close({recep:?})")));
    assert!(closed.state_changed && !closed.observation.admissible.contains(&take));
}

#[test]
fn the_agent_holds_one_object_at_a_time() {
    let mut env = Household::new();
    let mut checked = 0;
    for task in 0..100u64 {
        env.reset(task, 0);
        let sig = env.signature();
        // A visible receptacle with two takeable objects.
        let spot = sig.split('|').skip(1).find_map(|part| {
            let (recep, items) = part.split_once(':')?;
            let items: Vec<&str> = items
                .split(',')
                .filter(|i| !i.contains("desklamp"))
                .collect();
            let open = ["countertop", "shelf", "desk ", "diningtable", "sidetable"]
                .iter()
                .any(|k| recep.starts_with(k));
            (open && items.len() >= 2 && !items[0].is_empty()).then(|| {
                (
                    recep.to_string(),
                    items[0].to_string(),
                    items[1].to_string(),
                )
            })
        });
        let Some((recep, first, second)) = spot else {
            continue;
        };
        env.step(&call(&format!("go({recep:?})")));
        let took = env.step(&call(&format!("take({first:?}, {recep:?})")));
        if took.done {
            continue; // holding it was the goal (the lamp task)
        }
        assert!(took.error.is_none() && took.state_changed);
        assert!(!took
            .observation
            .admissible
            .iter()
            .any(|a| a.starts_with("take(")));
        let second = env.step(&call(&format!("take({second:?}, {recep:?})")));
        assert!(second.error.is_some() && !second.state_changed);
        let inv = env.step(&call("inventory()"));
        assert_eq!(
            inv.observation.text,
            format!("You are carrying: a {first}.")
        );
        assert!(!inv.state_changed);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} tasks had a suitable spot");
}

/// Every receptacle and object name of the current task (from its signature).
fn names(env: &Household) -> (Vec<String>, Vec<String>) {
    let sig = env.signature();
    let mut receps = Vec::new();
    let mut objs = Vec::new();
    for part in sig.split('|').skip(1) {
        let (r, items) = part.split_once(':').unwrap_or_default();
        receps.push(r.to_string());
        objs.extend(
            items
                .split(',')
                .filter(|i| !i.is_empty())
                .map(str::to_string),
        );
    }
    (receps, objs)
}

/// Every call the tools can express over this task's names (plus nonsense).
fn all_calls(env: &Household) -> Vec<ToolCall> {
    let (receps, objs) = names(env);
    let every: Vec<&String> = receps.iter().chain(&objs).collect();
    let mut out = vec![ToolCall::new("look"), ToolCall::new("inventory")];
    for tool in ["go", "open", "close", "examine", "use"] {
        for n in &every {
            out.push(ToolCall::new(tool).arg("target", n.as_str()));
        }
    }
    for (tool, second) in [
        ("take", "source"),
        ("put", "target"),
        ("clean", "appliance"),
        ("heat", "appliance"),
        ("cool", "appliance"),
    ] {
        for o in &objs {
            for r in &receps {
                out.push(
                    ToolCall::new(tool)
                        .arg("object", o.as_str())
                        .arg(second, r.as_str()),
                );
            }
        }
    }
    out
}

/// Listed actions succeed; every other expressible call is rejected without effect.
fn check_admissible_exactly(
    env: &Household,
    calls: &[ToolCall],
    exhaustive: bool,
    rng: &mut SplitMix,
) {
    let tools = household::tools();
    let listed = env.admissible();
    for a in &listed {
        let c = parse_call(a, &tools).unwrap_or_else(|e| panic!("{a}: {e:?}"));
        assert_eq!(&c.render(None), a, "admissible texts are canonical");
        let out = env.clone().step(&c);
        assert!(out.error.is_none(), "listed {a} failed: {:?}", out.error);
    }
    let sample: Vec<&ToolCall> = if exhaustive {
        calls.iter().collect()
    } else {
        (0..25).map(|_| &calls[rng.below(calls.len())]).collect()
    };
    for c in sample {
        let text = c.render(None);
        if listed.contains(&text) {
            continue;
        }
        let mut probe = env.clone();
        let out = probe.step(c);
        assert!(out.error.is_some(), "unlisted {text} was accepted");
        assert_eq!(out.observation.text, "Nothing happens.");
        assert!(!out.state_changed && !out.done);
        assert_eq!(probe.signature(), env.signature());
    }
}

#[test]
fn admissible_actions_are_exactly_the_valid_ones() {
    let mut rng = SplitMix::new(99);
    for task in 0..30u64 {
        let mut env = Household::new();
        env.reset(task, task);
        let calls = all_calls(&env);
        for step in 0..20 {
            // Exhaustive checks are slow in debug builds: a few states, every task type.
            check_admissible_exactly(&env, &calls, task < 6 && step == 4, &mut rng);
            // Mix the expert's path (which reaches take/put/treat states) with detours.
            let c = match env.expert() {
                Some(c) if rng.below(3) > 0 => c,
                _ => random_action(&env, &mut rng),
            };
            if env.step(&c).done {
                break;
            }
        }
    }
}

#[test]
fn no_call_panics_and_bad_calls_are_errors() {
    let mut env = Household::new();
    env.reset(7, 7);
    let bad = [
        ToolCall::new("fly").arg("target", "moon"),
        ToolCall::new("go"),
        ToolCall::new("go").arg("target", 3),
        ToolCall::new("go").arg("target", json!(["a"])),
        ToolCall::new("go").arg("target", ""),
        ToolCall::new("go").arg("target", "cabinet 999999999999999999999"),
        ToolCall::new("take")
            .arg("object", "ünïcødé 1")
            .arg("source", "🙂"),
        ToolCall::new("put").arg("object", "apple 1"),
        ToolCall::new("use").arg("target", "countertop 1"),
        ToolCall::new("examine").arg("target", "\u{0}"),
        ToolCall::new("heat")
            .arg("object", json!(null))
            .arg("appliance", json!({})),
    ];
    for c in &bad {
        let out = env.step(c);
        assert!(out.error.is_some(), "{c:?}");
        assert!(!out.state_changed && !out.done);
    }
    // Names are matched without regard to case or spacing.
    let loose = env.step(&ToolCall::new("go").arg("target", "  CounterTop   1 "));
    let exact = env.clone().step(&call(r#"go("countertop 1")"#));
    assert_eq!(loose.error.is_none(), exact.error.is_none());
}

#[test]
fn only_world_changing_actions_report_a_state_change() {
    let mut env = Household::new();
    env.reset(3, 0);
    assert!(!env.step(&call("look()")).state_changed);
    assert!(!env.step(&call("inventory()")).state_changed);
    let go = env.step(&call(r#"go("countertop 1")"#));
    assert!(go.state_changed && go.error.is_none());
    assert!(!env.step(&call(r#"examine("countertop 1")"#)).state_changed);
    let finish = env.step(&call("finish()"));
    assert!(finish.done && !finish.success && !finish.state_changed);
    assert!(env.expert().is_none() && env.admissible().is_empty());
}

#[test]
fn the_goal_ends_the_episode_with_a_reward() {
    let mut env = Household::new();
    env.reset(5, 0);
    let mut last = None;
    while let Some(c) = env.expert() {
        last = Some(env.step(&c));
    }
    let last = last.expect("stepped");
    assert!(last.done && last.success && last.reward == 1.0);
    assert!(make_env("household").is_ok());
}

/// The success rate of uniformly random admissible actions, over `tasks` tasks.
fn random_policy(tasks: u64, allow_finish: bool) -> f64 {
    let mut rng = SplitMix::new(2024);
    let mut wins = 0u32;
    for task in 0..tasks {
        let mut env = Household::new();
        let mut acts = env.reset(task, task).admissible;
        for _ in 0..STEP_LIMIT {
            if !allow_finish {
                acts.retain(|a| a != "finish()");
            }
            let out = env.step(&call(&acts[rng.below(acts.len())]));
            acts = out.observation.admissible;
            if out.done {
                wins += u32::from(out.success);
                break;
            }
        }
    }
    f64::from(wins) / tasks as f64
}

#[test]
fn random_admissible_actions_rarely_succeed() {
    let with_finish = random_policy(500, true);
    let without_finish = random_policy(500, false);
    println!(
        "household random policy over 500 tasks, {STEP_LIMIT} steps: {:.1}% (finish() allowed), \
         {:.1}% (finish() never chosen)",
        100.0 * with_finish,
        100.0 * without_finish
    );
    assert!(without_finish < 0.10, "{without_finish}");
    assert!(with_finish < 0.10, "{with_finish}");
}

#[test]
fn the_example_harness_tools_exist_with_the_same_parameters() {
    let example = include_str!("../../examples/household.harness");
    let tools = household::tools();
    let mut seen = 0;
    for line in example.lines().map(str::trim) {
        let Some(decl) = line.strip_prefix("tool ") else {
            continue;
        };
        let (name, rest) = decl.split_once('(').unwrap_or_default();
        let params = rest.split_once(')').unwrap_or_default().0;
        let spec = tools.iter().find(|t| t.name == name);
        let spec = spec.unwrap_or_else(|| panic!("the env has no `{name}`"));
        let ours: Vec<String> = spec
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, harnessx_runtime::call::type_name(&p.ty)))
            .collect();
        assert_eq!(ours.join(", "), params, "{name}");
        seen += 1;
    }
    assert_eq!(
        seen,
        tools.len(),
        "the example declares every household tool"
    );
}

/// `household_no_finish` (the benchmark's ablation): no `finish` tool, offered action or
/// expert call; a `finish` call is rejected and ends nothing; the expert still solves the
/// task, and the goal alone ends the episode.
#[test]
fn without_finish_the_goal_alone_ends_an_episode() {
    let mut env = make_env("household_no_finish").unwrap();
    assert!(env.tools().iter().all(|t| t.name != "finish"));
    for task in 0..50 {
        let obs = env.reset(task, 7);
        assert!(!obs.admissible.iter().any(|a| a.starts_with("finish")));
        let out = env.step(&ToolCall::new("finish"));
        assert!(!out.done && out.error.is_some() && !out.state_changed);
        let mut done = false;
        for _ in 0..STEP_LIMIT {
            let c = env.expert().expect("an expert call until the goal holds");
            assert_ne!(c.tool, "finish");
            let out = env.step(&c);
            assert!(!out
                .observation
                .admissible
                .iter()
                .any(|a| a.starts_with("finish")));
            if out.done {
                assert!(out.success, "task {task}");
                done = true;
                break;
            }
        }
        assert!(done, "task {task}: the expert did not reach the goal");
        assert!(env.expert().is_none());
    }
}
