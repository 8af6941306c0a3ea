//! Properties over random harnesses, replies and faults: episodes terminate within their
//! bounds, traces are deterministic and well-formed, and an interpreted rule set and a
//! hand-compiled one produce identical traces.

mod common;

use common::*;
use harnessx_runtime::call::ToolSpec;
use harnessx_runtime::detect;
use harnessx_runtime::envs::{Fault, FaultKind, KeyDoor};
use harnessx_runtime::hooks::HookCtx;
use harnessx_runtime::ir::{
    ActionIr, ActionKind, CmpOp, Compaction, CondIr, HarnessIr, Hook, LoopIr, Metric,
    RepairStrategy, RuleIr, Subject, Var,
};
use harnessx_runtime::models::{ScriptedModel, WhenExhausted};
use harnessx_runtime::parse::parse_call;
use harnessx_runtime::repair::repair;
use harnessx_runtime::rules::RuleSet;
use harnessx_runtime::trace::{read_jsonl, EventKind, VecSink};
use harnessx_runtime::{run_episode, run_with_rules, EpisodeResult};
use proptest::prelude::*;

fn hook() -> impl Strategy<Value = Hook> {
    prop::sample::select(Hook::ALL.to_vec())
}

fn cond() -> impl Strategy<Value = CondIr> {
    let leaf = prop_oneof![
        Just(CondIr::MalformedCall),
        (0u32..6, 0u32..4).prop_map(|(window, count)| CondIr::RepeatedAction { window, count }),
        Just(CondIr::ToolError),
        Just(CondIr::ToolTimeout),
        prop::sample::select(vec!["look", "open", "finish", "nope"])
            .prop_map(|t| CondIr::Call(t.into())),
        Just(CondIr::Verified),
        (
            prop::sample::select(vec![
                Metric::Step,
                Metric::ContextTokens,
                Metric::TokensUsed,
                Metric::ConsecutiveErrors
            ]),
            prop::sample::select(vec![
                CmpOp::Lt,
                CmpOp::Le,
                CmpOp::Gt,
                CmpOp::Ge,
                CmpOp::Eq,
                CmpOp::Ne
            ]),
            -2i64..300,
        )
            .prop_map(|(metric, op, value)| CondIr::Compare { metric, op, value }),
        (
            prop::sample::select(vec![Subject::Output, Subject::Observation, Subject::Goal]),
            prop::sample::select(vec!["look", "(?i)error", "^\\w+\\(", "(", ""]),
        )
            .prop_map(|(subject, p)| CondIr::Matches {
                subject,
                pattern: p.into()
            }),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(CondIr::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(CondIr::Or),
            inner.prop_map(|c| CondIr::Not(Box::new(c))),
        ]
    })
}

fn action_kind() -> impl Strategy<Value = ActionKind> {
    prop_oneof![
        Just(ActionKind::Log(t("log {{step}}"))),
        Just(ActionKind::Inject(t("hint: {{admissible_actions}}"))),
        prop::option::of(prop::sample::select(vec![
            Compaction::None,
            Compaction::TruncateOldest,
            Compaction::SummarizeOldest,
            Compaction::DropObservations,
        ]))
        .prop_map(ActionKind::Compact),
        prop::sample::select(vec![
            RepairStrategy::ExtractAction,
            RepairStrategy::FuzzyMatch,
            RepairStrategy::JsonFix
        ])
        .prop_map(ActionKind::Repair),
        (0u32..4).prop_map(|max| ActionKind::Reprompt {
            message: t("again"),
            max
        }),
        (0u32..4, 0u64..500).prop_map(|(max, backoff_ms)| ActionKind::Retry { max, backoff_ms }),
        Just(ActionKind::Block(t("blocked at {{step}}"))),
        Just(ActionKind::Stop(t("stop"))),
    ]
}

fn action() -> impl Strategy<Value = ActionIr> {
    (action_kind(), prop::option::of(action_kind())).prop_map(|(k, fb)| ActionIr {
        kind: k,
        fallback: fb.map(|f| Box::new(ActionIr::new(f))),
    })
}

fn harness() -> impl Strategy<Value = HarnessIr> {
    (
        0u32..8,
        prop::sample::select(vec![
            Strategy_::React,
            Strategy_::PlanThenAct,
            Strategy_::Reflect,
        ]),
        prop::option::of(0u32..4),
        (10u64..400, 0u32..3, any::<bool>(), any::<bool>()),
        prop::collection::vec((0u32..3, prop::option::of(1u64..40), any::<bool>()), 6),
        prop::collection::vec(
            (
                hook(),
                prop::option::of(cond()),
                prop::collection::vec(action(), 0..3),
            ),
            0..5,
        ),
    )
        .prop_map(
            |(max_steps, strategy, reflect_every, ctx, tool_opts, rules)| {
                let mut ir = key_door_ir();
                ir.loop_ = LoopIr {
                    max_steps,
                    strategy,
                    reflect_every,
                };
                let (budget, keep_last, pin_goal, summarize) = ctx;
                ir.context.budget_tokens = budget;
                ir.context.keep_last = keep_last;
                ir.context.compaction = if summarize {
                    Compaction::SummarizeOldest
                } else {
                    Compaction::DropObservations
                };
                if !pin_goal {
                    ir.context.pin.clear();
                }
                for (tool, (retries, timeout_ms, verifies)) in ir.tools.iter_mut().zip(tool_opts) {
                    tool.retries = retries;
                    tool.timeout_ms = timeout_ms;
                    tool.verifies = verifies;
                }
                ir.rules = rules
                    .into_iter()
                    .map(|(hook, when, actions)| RuleIr {
                        name: None,
                        hook,
                        when,
                        actions,
                    })
                    .collect();
                ir
            },
        )
}

// `Strategy` the proptest trait and `Strategy` the loop strategy share a name.
use harnessx_runtime::ir::Strategy as Strategy_;

fn replies() -> impl Strategy<Value = Vec<String>> {
    let reply = prop_oneof![
        prop::sample::select(vec![
            r#"open("drawer")"#,
            r#"open("box")"#,
            r#"take("key")"#,
            r#"open("door")"#,
            r#"go("garden")"#,
            "finish()",
            "look()",
            r#"I should open("shelf") I think"#,
            r#"{"tool": "examine", "args": {"target": "door"}}"#,
            "```json\n{'tool': 'look'}\n```",
            "lok()",
            "",
            "I give up",
        ])
        .prop_map(String::from),
        ".{0,40}",
    ];
    prop::collection::vec(reply, 1..6)
}

fn faults() -> impl Strategy<Value = Vec<Fault>> {
    prop::collection::vec(
        (
            1u32..12,
            prop_oneof![
                Just(FaultKind::Error),
                Just(FaultKind::Timeout),
                (0u64..100).prop_map(FaultKind::Slow)
            ],
        )
            .prop_map(|(call, kind)| Fault { call, kind }),
        0..6,
    )
}

fn max_over_actions(ir: &HarnessIr, f: &dyn Fn(&ActionKind) -> u32) -> u32 {
    fn walk(a: &ActionIr, f: &dyn Fn(&ActionKind) -> u32) -> u32 {
        f(&a.kind).max(a.fallback.as_deref().map_or(0, |fb| walk(fb, f)))
    }
    ir.rules
        .iter()
        .flat_map(|r| &r.actions)
        .map(|a| walk(a, f))
        .max()
        .unwrap_or(0)
}

fn episode(
    ir: &HarnessIr,
    replies: &[String],
    faults: &[Fault],
    seed: u64,
) -> (EpisodeResult, String) {
    let mut model = ScriptedModel::new(replies.iter().cloned(), WhenExhausted::Cycle);
    let mut env = KeyDoor::with_faults(faults.to_vec());
    let mut sink = VecSink::default();
    let r = run_episode(ir, &mut model, &mut env, seed % 5, seed, &mut sink);
    (r, sink.to_jsonl())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn episodes_terminate_within_bounds(ir in harness(), replies in replies(), faults in faults(), seed in 0u64..1000) {
        let (r, jsonl) = episode(&ir, &replies, &faults, seed);
        prop_assert!(r.steps <= ir.loop_.max_steps);
        let reprompts = max_over_actions(&ir, &|k| match k { ActionKind::Reprompt { max, .. } => *max, _ => 0 });
        let retries = max_over_actions(&ir, &|k| match k { ActionKind::Retry { max, .. } => *max, _ => 0 });
        let auto = ir.tools.iter().map(|t| t.retries).max().unwrap_or(0);
        prop_assert!(r.model_calls <= r.steps * (1 + reprompts));
        prop_assert!(r.tool_calls <= r.steps * (1 + retries + auto));

        let events = read_jsonl(&jsonl).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        let is_start = matches!(events.first().map(|e| &e.kind), Some(EventKind::EpisodeStart { .. }));
        let is_end = matches!(events.last().map(|e| &e.kind), Some(EventKind::EpisodeEnd { .. }));
        prop_assert!(is_start && is_end);
        let task_ends = events.iter().filter(|e| e.kind == EventKind::HookFired && e.hook == Some(Hook::TaskEnd)).count();
        prop_assert_eq!(task_ends, 1);

        // Same inputs, same bytes.
        let (r2, jsonl2) = episode(&ir, &replies, &faults, seed);
        prop_assert_eq!(r, r2);
        prop_assert_eq!(jsonl, jsonl2);
    }

    #[test]
    fn ir_round_trips_through_json(ir in harness()) {
        let json = ir.to_canonical_json();
        let back: HarnessIr = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &ir);
        prop_assert_eq!(back.hash(), ir.hash());
    }

    #[test]
    fn parsing_and_repair_never_panic(text in "\\PC{0,80}", admissible in prop::collection::vec(".{0,20}", 0..3)) {
        let tools: Vec<ToolSpec> = key_door_ir().tools.iter().map(ToolSpec::from).collect();
        let _ = parse_call(&text, &tools);
        for s in [RepairStrategy::ExtractAction, RepairStrategy::FuzzyMatch, RepairStrategy::JsonFix] {
            if let Some(call) = repair(s, &text, &tools, &admissible) {
                // A repair always yields a call the strict parser accepts.
                let spec = tools.iter().find(|t| t.name == call.tool).map(|t| t.params.as_slice());
                prop_assert_eq!(parse_call(&call.render(spec), &tools), Ok(call));
            }
        }
    }
}

/// The household-style rules of `examples/household.harness`, as IR.
fn guarded_ir() -> HarnessIr {
    let mut ir = key_door_ir();
    ir.rules = vec![
        rule(
            Hook::AfterModel,
            Some(CondIr::MalformedCall),
            vec![
                ActionIr::new(ActionKind::Repair(RepairStrategy::ExtractAction)).otherwise(
                    ActionIr::new(ActionKind::Reprompt {
                        message: t("Reply with one action, step {{step}}."),
                        max: 1,
                    }),
                ),
            ],
        ),
        RuleIr {
            name: Some("anti_loop".into()),
            hook: Hook::BeforeTool,
            when: Some(CondIr::RepeatedAction {
                window: 4,
                count: 3,
            }),
            actions: vec![ActionIr::new(ActionKind::Inject(t(
                "You are repeating yourself.",
            )))],
        },
        rule(
            Hook::AfterTool,
            Some(CondIr::ToolError),
            vec![ActionIr::new(ActionKind::Retry {
                max: 2,
                backoff_ms: 100,
            })],
        ),
        rule(
            Hook::BeforeTool,
            Some(CondIr::And(vec![
                CondIr::Call("finish".into()),
                CondIr::Not(Box::new(CondIr::Verified)),
            ])),
            vec![ActionIr::new(ActionKind::Block(t(
                "Check the goal conditions before you finish.",
            )))],
        ),
    ];
    ir
}

/// What generated code for [`guarded_ir`] looks like: the same rules as native Rust.
struct CompiledGuarded;

impl RuleSet for CompiledGuarded {
    fn fire(&self, hook: Hook, ctx: &mut HookCtx<'_, '_>) {
        match hook {
            Hook::AfterModel => {
                if !ctx.begin_rule(0, None) {
                    return;
                }
                if detect::malformed_call(ctx.state()) && !ctx.repair(RepairStrategy::ExtractAction)
                {
                    let msg = format!("Reply with one action, step {}.", ctx.var(Var::Step));
                    ctx.reprompt(&msg, 1);
                }
            }
            Hook::BeforeTool => {
                if !ctx.begin_rule(1, Some("anti_loop")) {
                    return;
                }
                if detect::repeated_action(ctx.state(), 4, 3) {
                    ctx.inject("You are repeating yourself.");
                }
                if !ctx.begin_rule(3, None) {
                    return;
                }
                if detect::call(ctx.state(), "finish") && !detect::verified(ctx.state()) {
                    ctx.block("Check the goal conditions before you finish.");
                }
            }
            Hook::AfterTool => {
                if !ctx.begin_rule(2, None) {
                    return;
                }
                if detect::tool_error(ctx.state()) {
                    ctx.retry(2, 100);
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn interpreted_and_compiled_rules_trace_identically(replies in replies(), faults in faults(), seed in 0u64..1000) {
        let ir = guarded_ir();
        let mut traces = Vec::new();
        for compiled in [false, true] {
            let mut model = ScriptedModel::new(replies.iter().cloned(), WhenExhausted::Cycle);
            let mut env = KeyDoor::with_faults(faults.clone());
            let mut sink = VecSink::default();
            if compiled {
                run_with_rules(&ir, &CompiledGuarded, &mut model, &mut env, 1, seed, &mut sink);
            } else {
                run_episode(&ir, &mut model, &mut env, 1, seed, &mut sink);
            }
            traces.push(sink.to_jsonl());
        }
        prop_assert_eq!(&traces[0], &traces[1]);
    }
}

#[test]
fn different_seeds_give_different_model_seeds() {
    let ir = key_door_ir();
    let replies = vec!["look()".to_string()];
    let (_, a) = episode(&ir, &replies, &[], 1);
    let (_, b) = episode(&ir, &replies, &[], 2);
    assert_ne!(a, b);
}

#[test]
fn differential_run_exercises_every_rule() {
    let ir = guarded_ir();
    let replies = [
        r#"Let me open("drawer") first"#,
        "hmm",
        r#"take("key")"#,
        "finish()",
        "finish()",
        "finish()",
        r#"open("door")"#,
    ];
    let faults = vec![Fault {
        call: 2,
        kind: FaultKind::Error,
    }];
    let mut traces = Vec::new();
    for compiled in [false, true] {
        let mut model = ScriptedModel::new(replies, WhenExhausted::Cycle);
        let mut env = KeyDoor::with_faults(faults.clone());
        let mut sink = VecSink::default();
        if compiled {
            run_with_rules(&ir, &CompiledGuarded, &mut model, &mut env, 0, 0, &mut sink);
        } else {
            run_episode(&ir, &mut model, &mut env, 0, 0, &mut sink);
        }
        traces.push(sink.events);
    }
    assert_eq!(traces[0], traces[1]);
    let mut seen: Vec<(String, String)> = fired_rules(&traces[0]);
    seen.sort();
    seen.dedup();
    let names: Vec<String> = seen.iter().map(|(r, a)| format!("{r}:{a}")).collect();
    assert_eq!(
        names,
        [
            "anti_loop:inject",
            "rule#0:repair",
            "rule#0:reprompt",
            "rule#2:retry",
            "rule#3:block"
        ]
    );
}

fn fired_rules(events: &[harnessx_runtime::trace::TraceEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RuleFired { rule, action, .. } => Some((rule.clone(), action.clone())),
            _ => None,
        })
        .collect()
}
