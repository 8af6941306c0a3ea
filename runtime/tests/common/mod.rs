//! Shared helpers for the runtime's integration tests.
#![allow(dead_code)]

use harnessx_runtime::envs::KeyDoor;
use harnessx_runtime::ir::*;
use harnessx_runtime::models::{FnModel, Model, ModelRequest};
use harnessx_runtime::template::parse_template;
use harnessx_runtime::trace::{EventKind, TraceEvent, VecSink};
use harnessx_runtime::{run_episode, EpisodeResult};

/// A harness for the KeyDoor world: its tools (`examine` verifies), a system prompt.
pub fn key_door_ir() -> HarnessIr {
    let mut ir = HarnessIr::new("key_door");
    ir.prompts.push(PromptIr {
        name: "system".into(),
        template: parse_template("You are an agent. Your goal: {{task.goal}}\nTools:\n{{tools}}"),
    });
    let s = |n: &str| ParamIr::new(n, TypeIr::String);
    ir.tools = vec![
        ToolIr::new("look", vec![]),
        ToolIr::new("open", vec![s("target")]),
        ToolIr::new("take", vec![s("object")]),
        ToolIr::new("go", vec![s("target")]),
        ToolIr {
            verifies: true,
            ..ToolIr::new("examine", vec![s("target")])
        },
        ToolIr::new(
            "finish",
            vec![ParamIr::new(
                "answer",
                TypeIr::Optional(Box::new(TypeIr::String)),
            )],
        ),
    ];
    ir.loop_.max_steps = 12;
    ir
}

pub fn rule(hook: Hook, when: Option<CondIr>, actions: Vec<ActionIr>) -> RuleIr {
    RuleIr {
        name: None,
        hook,
        when,
        actions,
    }
}

pub fn t(text: &str) -> Template {
    parse_template(text)
}

/// A model that always plays the environment's expert action.
pub fn expert() -> impl Model {
    FnModel(|req: &ModelRequest| {
        req.expert
            .as_ref()
            .map(|c| c.render(None))
            .unwrap_or_else(|| "finish()".into())
    })
}

pub fn run(
    ir: &HarnessIr,
    model: &mut dyn Model,
    env: &mut KeyDoor,
) -> (EpisodeResult, Vec<TraceEvent>) {
    let mut sink = VecSink::default();
    let r = run_episode(ir, model, env, 0, 0, &mut sink);
    (r, sink.events)
}

/// The hooks fired in `step`, in order.
pub fn hooks_in_step(events: &[TraceEvent], step: u32) -> Vec<Hook> {
    events
        .iter()
        .filter(|e| e.step == step && e.kind == EventKind::HookFired)
        .filter_map(|e| e.hook)
        .collect()
}

/// `(hook, action, took_effect)` of every rule event.
pub fn fired(events: &[TraceEvent]) -> Vec<(Option<Hook>, String, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RuleFired {
                action,
                took_effect,
                ..
            } => Some((e.hook, action.clone(), *took_effect)),
            _ => None,
        })
        .collect()
}

pub fn count(events: &[TraceEvent], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

pub fn tool_calls(events: &[TraceEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCall { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}
