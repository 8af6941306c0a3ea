//! The agent loop: event order, each action's semantics at its hooks, strategies, ends.

mod common;

use common::*;
use harnessx_runtime::envs::{Fault, FaultKind, KeyDoor};
use harnessx_runtime::ir::*;
use harnessx_runtime::models::{ScriptedModel, WhenExhausted};
use harnessx_runtime::trace::EventKind;
use harnessx_runtime::EndReason;

const SOLVE: [&str; 5] = [
    r#"open("drawer")"#,
    r#"take("key")"#,
    r#"open("door")"#,
    r#"go("garden")"#,
    "finish()",
];

fn scripted(replies: &[&str]) -> ScriptedModel {
    ScriptedModel::new(replies.iter().copied(), WhenExhausted::Cycle)
}

#[test]
fn expert_solves_and_hooks_fire_in_order() {
    let ir = key_door_ir();
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert!(r.success);
    assert_eq!(r.end, EndReason::Done);
    assert_eq!((r.steps, r.model_calls, r.tool_calls), (5, 5, 5));
    assert_eq!(tool_calls(&ev), SOLVE);
    use Hook::*;
    assert_eq!(hooks_in_step(&ev, 0), [TaskStart]);
    assert_eq!(
        hooks_in_step(&ev, 1),
        [
            StepStart,
            BeforeModel,
            AfterModel,
            BeforeTool,
            AfterTool,
            StepEnd
        ]
    );
    assert_eq!(hooks_in_step(&ev, 5).last(), Some(&TaskEnd));
    match &ev[0].kind {
        EventKind::EpisodeStart { harness_hash, .. } => assert_eq!(*harness_hash, ir.hash()),
        other => panic!("first event {other:?}"),
    }
    assert!(matches!(
        ev.last().map(|e| &e.kind),
        Some(EventKind::EpisodeEnd { success: true, .. })
    ));
    assert!(ev.iter().enumerate().all(|(i, e)| e.seq == i as u64));
    assert!(r.tokens > 0 && r.tokens == r.prompt_tokens + r.completion_tokens);
    assert_eq!(r.total_reward, 1.0);
}

#[test]
fn step_budget_ends_the_episode() {
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 4;
    let (r, ev) = run(&ir, &mut scripted(&["look()"]), &mut KeyDoor::new());
    assert_eq!(r.end, EndReason::StepBudget);
    assert_eq!((r.steps, r.tool_calls), (4, 4));
    assert!(!r.success);
    assert_eq!(count(&ev, |k| *k == EventKind::HookFired), 1 + 4 * 6 + 1);
    ir.loop_.max_steps = 0;
    let (r, _) = run(&ir, &mut scripted(&["look()"]), &mut KeyDoor::new());
    assert_eq!((r.steps, r.model_calls), (0, 0));
}

#[test]
fn malformed_reply_without_rules_costs_the_step() {
    let ir = key_door_ir();
    let mut model = scripted(&["I would like to look around", "look()"]);
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert_eq!(r.steps, ir.loop_.max_steps);
    // Step 1: no tool hooks, and the next prompt says why.
    assert_eq!(
        hooks_in_step(&ev, 1),
        [
            Hook::StepStart,
            Hook::BeforeModel,
            Hook::AfterModel,
            Hook::StepEnd
        ]
    );
    let second = &model.requests[1];
    let last = second
        .messages
        .last()
        .map(|m| m.content.clone())
        .unwrap_or_default();
    assert!(
        last.starts_with("Invalid action (not a single call"),
        "{last}"
    );
}

#[test]
fn repair_extracts_the_call_and_rewrites_history() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::AfterModel,
        Some(CondIr::MalformedCall),
        vec![ActionIr::new(ActionKind::Repair(
            RepairStrategy::ExtractAction,
        ))],
    ));
    let mut model = scripted(&[r#"I think I should open("drawer") now."#, r#"take("key")"#]);
    let (_, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert_eq!(
        tool_calls(&ev)[..2],
        [r#"open("drawer")"#, r#"take("key")"#]
    );
    assert_eq!(
        fired(&ev)[0],
        (Some(Hook::AfterModel), "repair".into(), true)
    );
    // The model sees its repaired call, not its prose.
    let history: Vec<String> = model.requests[1]
        .messages
        .iter()
        .map(|m| m.content.clone())
        .collect();
    assert!(history.contains(&r#"open("drawer")"#.to_string()));
    assert!(!history.iter().any(|m| m.contains("I think")));
}

#[test]
fn failed_repair_falls_back_to_a_bounded_reprompt() {
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 2;
    ir.rules.push(rule(
        Hook::AfterModel,
        Some(CondIr::MalformedCall),
        vec![
            ActionIr::new(ActionKind::Repair(RepairStrategy::ExtractAction)).otherwise(
                ActionIr::new(ActionKind::Reprompt {
                    message: t("One call please, step {{step}}."),
                    max: 2,
                }),
            ),
        ],
    ));
    let mut model = scripted(&["hmm"]);
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    // Each step: the first ask plus two re-asks; the third reprompt no longer takes effect.
    assert_eq!(r.model_calls, 6);
    assert_eq!(r.tool_calls, 0);
    let step1: Vec<_> = fired(&ev)
        .into_iter()
        .filter(|(_, a, _)| a == "reprompt")
        .take(3)
        .map(|(_, _, ok)| ok)
        .collect();
    assert_eq!(step1, [true, true, false]);
    let asked = &model.requests[1].messages;
    assert_eq!(
        asked.last().map(|m| m.content.as_str()),
        Some("One call please, step 1.")
    );
    assert_eq!(
        hooks_in_step(&ev, 1)
            .iter()
            .filter(|h| **h == Hook::AfterModel)
            .count(),
        3
    );
    assert_eq!(
        hooks_in_step(&ev, 1)
            .iter()
            .filter(|h| **h == Hook::BeforeModel)
            .count(),
        1
    );
}

#[test]
fn repair_on_a_well_formed_reply_is_a_no_op_success() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::AfterModel,
        None,
        vec![ActionIr::new(ActionKind::Repair(RepairStrategy::JsonFix))
            .otherwise(ActionIr::new(ActionKind::Stop(t("unreachable"))))],
    ));
    let (r, _) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert!(r.success);
}

fn retry_ir(max: u32) -> HarnessIr {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::AfterTool,
        Some(CondIr::Or(vec![CondIr::ToolError, CondIr::ToolTimeout])),
        vec![ActionIr::new(ActionKind::Retry {
            max,
            backoff_ms: 100,
        })
        .otherwise(ActionIr::new(ActionKind::Inject(t("It keeps failing."))))],
    ));
    ir
}

#[test]
fn retry_reissues_with_doubling_backoff_on_the_virtual_clock() {
    let ir = retry_ir(2);
    let faults = vec![
        Fault {
            call: 1,
            kind: FaultKind::Error,
        },
        Fault {
            call: 2,
            kind: FaultKind::Timeout,
        },
    ];
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::with_faults(faults));
    assert!(r.success);
    assert_eq!(r.tool_calls, 7);
    assert_eq!(tool_calls(&ev)[..3], [r#"open("drawer")"#; 3]);
    // Latency 10 ms per call, backoff 100 then 200.
    assert_eq!(r.clock_ms, 7 * 10 + 100 + 200);
    assert_eq!(
        hooks_in_step(&ev, 1)
            .iter()
            .filter(|h| **h == Hook::AfterTool)
            .count(),
        3
    );
    assert_eq!(
        fired(&ev).iter().filter(|(_, a, _)| a == "retry").count(),
        2,
        "no retry once the call succeeded"
    );
}

#[test]
fn exhausted_retry_runs_its_fallback() {
    let ir = retry_ir(1);
    let faults = (1..=3)
        .map(|call| Fault {
            call,
            kind: FaultKind::Error,
        })
        .collect();
    let (_, ev) = run(&ir, &mut expert(), &mut KeyDoor::with_faults(faults));
    let f = fired(&ev);
    assert_eq!(f[0], (Some(Hook::AfterTool), "retry".into(), true));
    assert_eq!(f[1], (Some(Hook::AfterTool), "retry".into(), false));
    assert_eq!(f[2], (Some(Hook::AfterTool), "inject".into(), true));
    // Retries are counted per step: step 2 retries again.
    assert_eq!(f[3], (Some(Hook::AfterTool), "retry".into(), true));
}

#[test]
fn retry_without_a_failure_does_not_take_effect() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::AfterTool,
        None,
        vec![ActionIr::new(ActionKind::Retry {
            max: 3,
            backoff_ms: 1,
        })],
    ));
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert_eq!(r.tool_calls, 5);
    assert!(fired(&ev).iter().all(|(_, _, ok)| !ok));
}

#[test]
fn tool_retries_are_transparent_to_after_tool() {
    let mut ir = key_door_ir();
    for tool in &mut ir.tools {
        tool.retries = 1;
    }
    let faults = vec![Fault {
        call: 1,
        kind: FaultKind::Error,
    }];
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::with_faults(faults));
    assert!(r.success);
    assert_eq!(r.tool_calls, 6);
    assert_eq!(
        hooks_in_step(&ev, 1)
            .iter()
            .filter(|h| **h == Hook::AfterTool)
            .count(),
        1
    );
    assert_eq!(r.clock_ms, 6 * 10 + 100);
}

#[test]
fn slow_calls_time_out_at_the_tool_timeout() {
    let mut ir = key_door_ir();
    for tool in &mut ir.tools {
        tool.timeout_ms = Some(50);
    }
    ir.rules.push(rule(
        Hook::AfterTool,
        Some(CondIr::ToolTimeout),
        vec![ActionIr::new(ActionKind::Log(t(
            "timed out at step {{step}}",
        )))],
    ));
    let faults = vec![Fault {
        call: 1,
        kind: FaultKind::Slow(900),
    }];
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::with_faults(faults));
    assert_eq!(fired(&ev), [(Some(Hook::AfterTool), "log".into(), true)]);
    assert_eq!(r.clock_ms, 50 + 4 * 10);
    assert_eq!(r.tool_calls, 5);
    // The slow call still opened the drawer (a timeout does not undo an effect).
    assert_eq!(tool_calls(&ev)[1], r#"take("key")"#);
}

#[test]
fn block_finish_until_verified() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::BeforeTool,
        Some(CondIr::And(vec![
            CondIr::Call("finish".into()),
            CondIr::Not(Box::new(CondIr::Verified)),
        ])),
        vec![ActionIr::new(ActionKind::Block(t("Check the goal first.")))],
    ));
    let mut replies = SOLVE.to_vec();
    replies.extend([r#"examine("garden")"#, "finish()"]);
    let mut model = ScriptedModel::new(replies, WhenExhausted::Error);
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert!(r.success);
    assert_eq!(r.steps, 7);
    assert_eq!(
        r.tool_calls, 6,
        "the blocked finish never reached the environment"
    );
    assert_eq!(fired(&ev), [(Some(Hook::BeforeTool), "block".into(), true)]);
    let blocked = ev.iter().any(|e| {
        matches!(&e.kind, EventKind::ToolResult { blocked: true, observation, .. } if observation == "Check the goal first.")
    });
    assert!(blocked);
    let sixth = &model.requests[5].messages;
    assert_eq!(
        sixth.last().map(|m| m.content.as_str()),
        Some("Check the goal first.")
    );
}

#[test]
fn block_before_model_skips_the_model() {
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 3;
    ir.rules.push(rule(
        Hook::BeforeModel,
        Some(CondIr::Compare {
            metric: Metric::Step,
            op: CmpOp::Eq,
            value: 2,
        }),
        vec![ActionIr::new(ActionKind::Block(t("Think before you act.")))],
    ));
    let mut model = scripted(&["look()"]);
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert_eq!((r.model_calls, r.tool_calls), (2, 2));
    assert_eq!(
        hooks_in_step(&ev, 2),
        [Hook::StepStart, Hook::BeforeModel, Hook::StepEnd]
    );
    let last = model.requests[1].messages.last().map(|m| m.content.clone());
    assert_eq!(last.as_deref(), Some("Think before you act."));
}

#[test]
fn stop_interrupts_but_step_end_and_task_end_still_fire() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::StepStart,
        Some(CondIr::Compare {
            metric: Metric::Step,
            op: CmpOp::Ge,
            value: 3,
        }),
        vec![
            ActionIr::new(ActionKind::Stop(t("enough at {{step}}"))),
            ActionIr::new(ActionKind::Log(t("never runs"))),
        ],
    ));
    ir.rules.push(rule(
        Hook::StepStart,
        None,
        vec![ActionIr::new(ActionKind::Log(t("tick")))],
    ));
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert_eq!(r.end, EndReason::Stopped("enough at 3".into()));
    assert!(!r.success);
    assert_eq!(r.steps, 3);
    assert_eq!(
        hooks_in_step(&ev, 3),
        [Hook::StepStart, Hook::StepEnd, Hook::TaskEnd]
    );
    let at3: Vec<String> = ev
        .iter()
        .filter(|e| e.step == 3)
        .filter_map(|e| match &e.kind {
            EventKind::RuleFired { action, .. } => Some(action.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        at3,
        ["stop"],
        "later actions and rules at the hook are skipped"
    );
}

#[test]
fn stop_at_task_start_runs_no_step() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::TaskStart,
        None,
        vec![ActionIr::new(ActionKind::Stop(t("no")))],
    ));
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert_eq!((r.steps, r.model_calls), (0, 0));
    assert_eq!(hooks_in_step(&ev, 0), [Hook::TaskStart, Hook::TaskEnd]);
}

#[test]
fn inject_on_repetition_reaches_the_next_request() {
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 4;
    ir.rules.push(RuleIr {
        name: Some("anti_loop".into()),
        hook: Hook::BeforeTool,
        when: Some(CondIr::RepeatedAction {
            window: 4,
            count: 3,
        }),
        actions: vec![ActionIr::new(ActionKind::Inject(t(
            "You are repeating yourself.",
        )))],
    });
    let mut model = scripted(&["look()"]);
    let (_, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    let rules: Vec<(u32, String)> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RuleFired { rule, .. } => Some((e.step, rule.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        rules,
        [(3, "anti_loop".to_string()), (4, "anti_loop".to_string())]
    );
    let fourth: Vec<&str> = model.requests[3]
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert!(fourth.contains(&"You are repeating yourself."));
}

#[test]
fn read_only_hooks_refuse_trajectory_changes() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::StepEnd,
        None,
        vec![
            ActionIr::new(ActionKind::Stop(t("x")))
                .otherwise(ActionIr::new(ActionKind::Log(t("refused")))),
            ActionIr::new(ActionKind::Inject(t("x"))),
        ],
    ));
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert!(r.success);
    let first: Vec<_> = fired(&ev).into_iter().take(3).collect();
    assert_eq!(
        first,
        [
            (Some(Hook::StepEnd), "stop".into(), false),
            (Some(Hook::StepEnd), "log".into(), true),
            (Some(Hook::StepEnd), "inject".into(), false),
        ]
    );
    let refused = ev.iter().any(|e| {
        matches!(&e.kind, EventKind::RuleFired { detail: Some(d), .. } if d == "not allowed at step_end")
    });
    assert!(refused);
}

#[test]
fn compact_action_shrinks_the_context_now() {
    let mut ir = key_door_ir();
    ir.context.budget_tokens = 10_000;
    ir.context.keep_last = 1;
    ir.rules.push(rule(
        Hook::StepStart,
        Some(CondIr::Compare {
            metric: Metric::Step,
            op: CmpOp::Eq,
            value: 4,
        }),
        vec![ActionIr::new(ActionKind::Compact(Some(
            Compaction::TruncateOldest,
        )))],
    ));
    let (r, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert!(r.success);
    assert_eq!(
        fired(&ev),
        [(Some(Hook::StepStart), "compact".into(), false)],
        "under half the budget"
    );
    ir.context.budget_tokens = 200;
    let (_, ev) = run(&ir, &mut expert(), &mut KeyDoor::new());
    assert!(fired(&ev).contains(&(Some(Hook::StepStart), "compact".into(), true)));
    assert!(count(&ev, |k| matches!(k, EventKind::ContextCompacted(_))) >= 1);
}

#[test]
fn pinned_goal_survives_automatic_compaction() {
    let mut ir = key_door_ir();
    ir.context.budget_tokens = 60;
    ir.context.keep_last = 1;
    ir.loop_.max_steps = 8;
    let mut model = scripted(&["look()"]);
    let (_, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert!(count(&ev, |k| matches!(k, EventKind::ContextCompacted(_))) > 0);
    let last = model
        .requests
        .last()
        .map(|r| r.messages.clone())
        .unwrap_or_default();
    assert!(last[0].content.contains("Your goal: Go out to the garden"));
    // Unpinned: the system prompt goes too.
    ir.context.pin.clear();
    let mut model = scripted(&["look()"]);
    run(&ir, &mut model, &mut KeyDoor::new());
    let last = model
        .requests
        .last()
        .map(|r| r.messages.clone())
        .unwrap_or_default();
    assert!(!last.iter().any(|m| m.content.contains("Your goal")));
}

/// The messages of the last model request.
fn last_request(model: &ScriptedModel) -> Vec<String> {
    model
        .requests
        .last()
        .map(|r| r.messages.iter().map(|m| m.content.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn pinned_tools_keep_the_prompt_that_lists_them() {
    let mut ir = key_door_ir();
    ir.context.budget_tokens = 60;
    ir.context.keep_last = 1;
    ir.loop_.max_steps = 8;
    ir.context.pin = vec![PinRef::Tools];
    let mut model = scripted(&["look()"]);
    let (_, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert!(count(&ev, |k| matches!(k, EventKind::ContextCompacted(_))) > 0);
    let last = last_request(&model);
    assert!(last[0].contains("Tools:"), "{last:?}");
    // The system prompt also carries the goal, so the goal survives with it.
    assert!(last[0].contains("Your goal"));
    ir.context.pin.clear();
    let mut model = scripted(&["look()"]);
    run(&ir, &mut model, &mut KeyDoor::new());
    assert!(!last_request(&model).iter().any(|m| m.contains("Tools:")));
}

#[test]
fn pinned_admissible_actions_keep_only_the_newest_list() {
    let mut ir = key_door_ir();
    ir.prompts.push(PromptIr {
        name: "step".into(),
        template: t("{{observation}}\nValid (step {{step}}): {{admissible_actions}}"),
    });
    // A long note injected after each observation: compaction, oldest first, reaches
    // the step's own observation before the note.
    ir.rules.push(rule(
        Hook::StepStart,
        None,
        vec![ActionIr::new(ActionKind::Inject(t(
            &"Keep going. ".repeat(16)
        )))],
    ));
    ir.context.budget_tokens = 60;
    // Nothing is protected by recency: only the pin can keep a step's message.
    ir.context.keep_last = 0;
    ir.loop_.max_steps = 8;
    ir.context.pin = vec![PinRef::AdmissibleActions];
    let mut model = scripted(&["look()"]);
    let (_, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert!(count(&ev, |k| matches!(k, EventKind::ContextCompacted(_))) > 0);
    let lists: Vec<String> = last_request(&model)
        .into_iter()
        .filter(|m| m.contains("Valid (step"))
        .collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(lists[0].contains("Valid (step 8)"), "{lists:?}");
    // Without the pin the newest list is compacted away like any other message.
    ir.context.pin.clear();
    let mut model = scripted(&["look()"]);
    run(&ir, &mut model, &mut KeyDoor::new());
    assert!(!last_request(&model)
        .iter()
        .any(|m| m.contains("Valid (step 8)")));
}

#[test]
fn plan_then_act_spends_the_first_step_on_a_plan() {
    let mut ir = key_door_ir();
    ir.loop_.strategy = Strategy::PlanThenAct;
    let mut model = ScriptedModel::new(
        std::iter::once("1. find the key 2. open the door").chain(SOLVE),
        WhenExhausted::Error,
    );
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert!(r.success);
    assert_eq!((r.steps, r.tool_calls), (6, 5));
    assert_eq!(
        hooks_in_step(&ev, 1),
        [
            Hook::StepStart,
            Hook::BeforeModel,
            Hook::AfterModel,
            Hook::StepEnd
        ]
    );
    let purposes: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ModelRequest { purpose, .. } => Some(purpose.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(purposes[..2], ["plan", "act"]);
    let plan_prompt = model.requests[0]
        .messages
        .last()
        .map(|m| m.content.clone())
        .unwrap_or_default();
    assert!(plan_prompt.starts_with("Before acting"));
    // No duplicate observation after the plan step.
    let second = &model.requests[1].messages;
    assert_eq!(
        second.last().map(|m| m.content.as_str()),
        Some("1. find the key 2. open the door")
    );
}

#[test]
fn reflect_adds_a_reflection_every_k_steps() {
    let mut ir = key_door_ir();
    ir.loop_.strategy = Strategy::Reflect;
    ir.loop_.reflect_every = Some(2);
    ir.loop_.max_steps = 6;
    let mut model = scripted(&["look()"]);
    let (r, _) = run(&ir, &mut model, &mut KeyDoor::new());
    assert_eq!(
        r.model_calls, 6,
        "reflection costs tokens, not calls or steps"
    );
    let reflected: Vec<usize> = model
        .requests
        .iter()
        .enumerate()
        .filter(|(_, req)| {
            req.messages
                .last()
                .is_some_and(|m| m.content.starts_with("Step "))
        })
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(reflected, [3, 5]);
}

#[test]
fn model_errors_end_the_episode() {
    let ir = key_door_ir();
    let mut model = ScriptedModel::new(["look()"], WhenExhausted::Error);
    let (r, ev) = run(&ir, &mut model, &mut KeyDoor::new());
    assert_eq!(
        r.end,
        EndReason::ModelError("the model has no replies left".into())
    );
    assert_eq!(r.steps, 2);
    assert_eq!(
        hooks_in_step(&ev, 2),
        [
            Hook::StepStart,
            Hook::BeforeModel,
            Hook::StepEnd,
            Hook::TaskEnd
        ]
    );
}

#[test]
fn matches_conditions_read_the_reply() {
    let mut ir = key_door_ir();
    ir.rules.push(rule(
        Hook::AfterModel,
        Some(CondIr::Matches {
            subject: Subject::Output,
            pattern: "(?i)give up".into(),
        }),
        vec![ActionIr::new(ActionKind::Stop(t("model gave up")))],
    ));
    ir.rules.push(rule(
        Hook::AfterModel,
        Some(CondIr::Matches {
            subject: Subject::Output,
            pattern: "(".into(),
        }),
        vec![ActionIr::new(ActionKind::Stop(t(
            "invalid patterns never match",
        )))],
    ));
    let (r, _) = run(
        &ir,
        &mut scripted(&["look()", "I GIVE UP"]),
        &mut KeyDoor::new(),
    );
    assert_eq!(r.end, EndReason::Stopped("model gave up".into()));
    assert_eq!(r.steps, 2);
}

/// Every action at every hook, unconditionally: never a panic; illegal placements never
/// take effect; legal ones are traced at their hook.
#[test]
fn every_action_at_every_hook() {
    let kinds = [
        ActionKind::Log(t("l")),
        ActionKind::Inject(t("i")),
        ActionKind::Compact(None),
        ActionKind::Repair(RepairStrategy::ExtractAction),
        ActionKind::Reprompt {
            message: t("r"),
            max: 1,
        },
        ActionKind::Retry {
            max: 1,
            backoff_ms: 5,
        },
        ActionKind::Block(t("b")),
        ActionKind::Stop(t("s")),
    ];
    for kind in &kinds {
        for hook in Hook::ALL {
            let mut ir = key_door_ir();
            ir.loop_.max_steps = 6;
            ir.rules
                .push(rule(hook, None, vec![ActionIr::new(kind.clone())]));
            let faults = vec![Fault {
                call: 1,
                kind: FaultKind::Error,
            }];
            let mut model = scripted(&["open it: open(\"drawer\")", r#"take("key")"#]);
            let (r, ev) = run(&ir, &mut model, &mut KeyDoor::with_faults(faults));
            assert!(r.steps <= 6);
            let f = fired(&ev);
            assert!(!f.is_empty(), "{} at {:?} never fired", kind.name(), hook);
            for (h, name, ok) in &f {
                assert_eq!(*h, Some(hook));
                assert_eq!(name, kind.name());
                if !kind.is_legal_at(hook) {
                    assert!(!ok, "{name} took effect at {hook:?}");
                }
            }
            let legal = kind.is_legal_at(hook);
            let expect_some_effect = match kind {
                ActionKind::Log(_)
                | ActionKind::Inject(_)
                | ActionKind::Block(_)
                | ActionKind::Stop(_) => legal,
                // A malformed reply exists at step 1; a failed call at step 1.
                ActionKind::Repair(_) | ActionKind::Reprompt { .. } | ActionKind::Retry { .. } => {
                    legal
                }
                ActionKind::Compact(_) => false,
            };
            if expect_some_effect {
                assert!(
                    f.iter().any(|(_, _, ok)| *ok),
                    "{} at {:?} never took effect",
                    kind.name(),
                    hook
                );
            }
        }
    }
}

/// `offer = untried`: an action the episode executed is no longer offered — neither in the
/// request's admissible list (the constrained choice) nor in `{{admissible_actions}}` —
/// and `all` offers everything every time.
#[test]
fn offer_untried_leaves_executed_actions_out_of_the_choice() {
    use harnessx_runtime::models::{FnModel, ModelRequest};
    use std::cell::RefCell;

    let seen: RefCell<Vec<(Vec<String>, String)>> = RefCell::new(Vec::new());
    let mut ir = key_door_ir();
    ir.prompts.push(PromptIr {
        name: "step".into(),
        template: t("{{observation}}\nValid: {{admissible_actions}}"),
    });
    ir.loop_.max_steps = 3;
    for (offer, look_offered_again) in [(ActionOffer::All, true), (ActionOffer::Untried, false)] {
        ir.model.offer = offer;
        seen.borrow_mut().clear();
        let mut model = FnModel(|req: &ModelRequest| {
            let last = req
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            seen.borrow_mut().push((req.admissible.clone(), last));
            "look()".to_string()
        });
        run(&ir, &mut model, &mut KeyDoor::new());
        let seen = seen.borrow();
        assert!(seen[0].0.iter().any(|a| a == "look()"), "{:?}", seen[0]);
        for (admissible, prompt) in &seen[1..] {
            let offered = admissible.iter().any(|a| a == "look()");
            assert_eq!(offered, look_offered_again, "{offer:?}: {admissible:?}");
            assert_eq!(
                prompt.contains("look()"),
                look_offered_again,
                "{offer:?}: {prompt}"
            );
            assert!(!admissible.is_empty());
        }
    }
}
