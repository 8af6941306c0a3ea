//! The simulated model reacts to what a harness message *does* — its role, its position,
//! its topic, its specificity — not to the rule library's exact words: each library
//! message and each of its five paraphrases (`fragments::rule_message_paraphrases`) is put
//! where the library puts it, and the change it makes to the behaviour it targets (against
//! the same request without it) must agree within the stated tolerance. All numbers are
//! simulated (`sim:` tiers).
//!
//! Tolerance: `|effect(paraphrase) - effect(library)| <= max(ABS_TOL, REL_TOL x
//! |effect(library)|)`, each effect measured on the same `N` request seeds.

use harnessx_evolve::fragments::{rule_message_paraphrases, rule_messages};
use harnessx_evolve::manifest::FailureClass;
use harnessx_runtime::call::{ToolCall, ToolSpec};
use harnessx_runtime::ir::{Decoding, ParamIr, TypeIr};
use harnessx_runtime::message::{Message, Role};
use harnessx_runtime::models::sim::{SimModel, Tier};
use harnessx_runtime::models::ModelRequest;
use harnessx_runtime::parse::parse_call;

/// Request seeds per measurement.
const N: u64 = 2000;
/// Absolute tolerance (an effect this small is noise at `N`).
const ABS_TOL: f64 = 0.03;
/// Relative tolerance.
const REL_TOL: f64 = 0.4;
/// The least effect a library message must have on the behaviour it targets.
const MIN_EFFECT: f64 = 0.015;

const GOAL: &str = "put a clean apple in fridge.";
const TASK: &str = "Close the open ticket T-5673 from Hooli.";

fn msg(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
    }
}

fn spec(name: &str, params: Vec<ParamIr>) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: String::new(),
        params,
    }
}

fn s(n: &str) -> ParamIr {
    ParamIr::new(n, TypeIr::String)
}

fn household_tools() -> Vec<ToolSpec> {
    vec![
        spec("go", vec![s("target")]),
        spec("take", vec![s("object"), s("source")]),
        spec("open", vec![s("target")]),
        spec("examine", vec![s("target")]),
        spec(
            "finish",
            vec![ParamIr::new(
                "answer",
                TypeIr::Optional(Box::new(TypeIr::String)),
            )],
        ),
    ]
}

fn api_tools() -> Vec<ToolSpec> {
    vec![
        spec("search", vec![s("query")]),
        spec("fetch", vec![s("id")]),
        spec("finish", vec![s("answer")]),
    ]
}

const ADMISSIBLE: [&str; 5] = [
    r#"go("fridge 1")"#,
    r#"go("countertop 1")"#,
    r#"go("sinkbasin 1")"#,
    r#"take("knife 1", "countertop 1")"#,
    "finish()",
];

/// A household request: system prompt, first observation, then `turns`.
fn household(seed: u64, turns: &[Message], expert: ToolCall) -> ModelRequest {
    let mut messages = vec![
        msg(
            Role::System,
            &format!("You are a household agent. Your goal: {GOAL}"),
        ),
        msg(
            Role::User,
            "You are in the middle of a room. You see a fridge 1, a countertop 1 and a sinkbasin 1.",
        ),
    ];
    messages.extend_from_slice(turns);
    ModelRequest {
        messages,
        tools: household_tools(),
        temperature: 0.3,
        max_tokens: 256,
        top_p: None,
        decoding: Decoding::Free,
        seed,
        admissible: ADMISSIBLE.iter().map(|a| a.to_string()).collect(),
        expert: Some(expert),
    }
}

fn api(seed: u64, turns: &[Message], expert: ToolCall) -> ModelRequest {
    let mut messages = vec![
        msg(
            Role::System,
            &format!("You operate a ticketing API to complete: {TASK}"),
        ),
        msg(Role::User, &format!("Task: {TASK}")),
    ];
    messages.extend_from_slice(turns);
    ModelRequest {
        messages,
        tools: api_tools(),
        temperature: 0.3,
        max_tokens: 200,
        top_p: None,
        decoding: Decoding::Constrained,
        seed,
        admissible: vec![],
        expert: Some(expert),
    }
}

fn render(text: &str) -> String {
    text.replace("{{task.goal}}", GOAL)
        .replace("{{admissible_actions}}", &ADMISSIBLE.join(", "))
}

/// Where the library puts a class's messages and what they are meant to change.
struct Case {
    /// The episode's first request, which the model reads first (it learns the goal
    /// there, as in an episode).
    prime: fn(u64) -> ModelRequest,
    /// The request with `note` (rendered) in the library's position, or without it.
    request: fn(u64, Option<&str>) -> ModelRequest,
    /// The behaviour measured on the reply.
    measure: fn(&str) -> bool,
}

fn go_fridge() -> ToolCall {
    ToolCall::new("go").arg("target", "fridge 1")
}

fn fetch() -> ToolCall {
    ToolCall::new("fetch").arg("id", "T-5673")
}

/// `turns` with `note` appended: where `step_start` and `before_model` injects, reprompts
/// and blocks land (after the environment's answer, or alone).
fn with_note(mut turns: Vec<Message>, note: Option<&str>) -> Vec<Message> {
    if let Some(n) = note {
        turns.push(msg(Role::User, &render(n)));
    }
    turns
}

/// `turns` with `note` just before their last message, the environment's answer: where
/// `before_tool` and `after_tool` injects land (the engine pushes them before the next
/// step's prompt).
fn before_answer(mut turns: Vec<Message>, note: Option<&str>) -> Vec<Message> {
    if let Some(n) = note {
        let at = turns.len().saturating_sub(1);
        turns.insert(at, msg(Role::User, &render(n)));
    }
    turns
}

fn case(class: FailureClass) -> Case {
    use FailureClass::*;
    match class {
        // `reprompt` after a reply with no call: how often the next reply is malformed.
        MalformedCall => Case {
            prime: household_start,
            request: |seed, note| {
                let turns = with_note(
                    vec![msg(
                        Role::Assistant,
                        "Hmm, let me think about what to do here.",
                    )],
                    note,
                );
                household(seed, &turns, go_fridge())
            },
            measure: |r| parse_call(r, &household_tools()).is_err(),
        },
        // `inject` on `before_tool` after a repeated call: how often it repeats it again.
        Loop => Case {
            prime: household_start,
            request: |seed, note| {
                let turns = before_answer(
                    vec![
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                    ],
                    note,
                );
                household(seed, &turns, go_fridge())
            },
            measure: |r| r == r#"go("countertop 1")"#,
        },
        // `inject` on `after_tool` after a transient failure: how often it retries.
        ToolErrorIgnored => Case {
            prime: api_start,
            request: |seed, note| {
                let turns = before_answer(
                    vec![
                        msg(Role::Assistant, r#"fetch("T-5673")"#),
                        msg(
                            Role::User,
                            "503 Service Unavailable: transient error, try again.",
                        ),
                    ],
                    note,
                );
                api(seed, &turns, fetch())
            },
            measure: |r| r == r#"fetch("T-5673")"#,
        },
        ToolTimeout => Case {
            prime: api_start,
            request: |seed, note| {
                let turns = before_answer(
                    vec![
                        msg(Role::Assistant, r#"fetch("T-5673")"#),
                        msg(Role::User, "The call timed out after 500 ms."),
                    ],
                    note,
                );
                api(seed, &turns, fetch())
            },
            measure: |r| r == r#"fetch("T-5673")"#,
        },
        // `inject` on `step_start` late in the episode: how often it finishes.
        StepBudget => Case {
            prime: household_start,
            request: |seed, note| {
                let turns = with_note(
                    vec![
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                    ],
                    note,
                );
                household(seed, &turns, go_fridge())
            },
            measure: |r| r.starts_with("finish"),
        },
        // `block` of a `finish` call the expert would make too (the task is done): how
        // often it checks the ticket first instead of finishing at once.
        PrematureFinish => Case {
            prime: api_start,
            request: |seed, note| {
                let turns = with_note(
                    vec![
                        msg(Role::Assistant, r#"fetch("T-5673")"#),
                        msg(Role::User, "T-5673 | status: closed | Hooli"),
                        msg(Role::Assistant, r#"finish("T-5673")"#),
                    ],
                    note,
                );
                api(
                    seed,
                    &turns,
                    ToolCall::new("finish").arg("answer", "T-5673"),
                )
            },
            measure: |r| r.starts_with("fetch("),
        },
        // A reminder of the goal after compaction dropped it: how often it acts on it.
        ContextOverflow => Case {
            prime: household_start,
            request: |seed, note| {
                let mut r = household(seed, &[], go_fridge());
                // The goal has been compacted away; the model read it at the start.
                r.messages[0].content = "You are a household agent.".into();
                let turns = with_note(
                    vec![
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                    ],
                    note,
                );
                r.messages.extend(turns);
                r
            },
            measure: |r| r == r#"go("fridge 1")"#,
        },
        // `inject` on `after_tool` when the observation says nothing happened: how often
        // it takes a wrong turn (anything but the expert's call, a repeat or a finish).
        WrongAction => Case {
            prime: household_start,
            request: |seed, note| {
                let turns = before_answer(
                    vec![
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                        msg(Role::Assistant, r#"take("apple 1", "countertop 1")"#),
                        msg(Role::User, "Nothing happens."),
                    ],
                    note,
                );
                household(seed, &turns, go_fridge())
            },
            measure: |r| {
                r != r#"go("fridge 1")"#
                    && !r.starts_with("finish")
                    && r != r#"take("apple 1", "countertop 1")"#
            },
        },
        Unknown => Case {
            prime: household_start,
            request: |seed, note| {
                let turns = with_note(
                    vec![
                        msg(Role::Assistant, r#"go("countertop 1")"#),
                        msg(
                            Role::User,
                            "You arrive at countertop 1. On it you see a knife 1.",
                        ),
                    ],
                    note,
                );
                household(seed, &turns, go_fridge())
            },
            measure: |r| r == r#"go("fridge 1")"#,
        },
    }
}

fn household_start(seed: u64) -> ModelRequest {
    household(seed, &[], go_fridge())
}

fn api_start(seed: u64) -> ModelRequest {
    api(seed, &[], fetch())
}

/// Share of `N` seeds whose reply shows the behaviour.
fn rate(tier: Tier, c: &Case, note: Option<&str>) -> f64 {
    let hits = (0..N)
        .filter(|seed| {
            let mut model = SimModel::new(tier);
            model.reply(&(c.prime)(*seed));
            let reply = model.reply(&(c.request)(*seed, note));
            (c.measure)(&reply)
        })
        .count();
    hits as f64 / N as f64
}

#[test]
fn five_paraphrases_of_every_library_message_have_about_its_effect() {
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for tier in [Tier::Small, Tier::Large] {
        for class in FailureClass::ALL {
            let c = case(class);
            let base = rate(tier, &c, None);
            for (orig, paras) in rule_messages(class)
                .iter()
                .zip(rule_message_paraphrases(class))
            {
                let e0 = rate(tier, &c, Some(orig)) - base;
                let tol = ABS_TOL.max(REL_TOL * e0.abs());
                table.push(format!("{tier} {class:?} {orig:?}: {e0:+.3}"));
                for p in paras {
                    let e = rate(tier, &c, Some(p)) - base;
                    table.push(format!("    {p:?}: {e:+.3}"));
                    if (e - e0).abs() > tol {
                        failures.push(format!(
                            "{tier} {class:?}: {p:?} {e:+.3} vs {orig:?} {e0:+.3} (tolerance {tol:.3})"
                        ));
                    }
                }
            }
        }
    }
    println!(
        "simulated effects (change of the targeted behaviour):\n{}",
        table.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The messages that are meant to change something do: a message can only be paraphrased
/// "within tolerance" of an effect that exists.
#[test]
fn the_library_messages_have_effects() {
    use FailureClass::*;
    for (class, sign) in [
        (MalformedCall, -1.0),
        (Loop, -1.0),
        (ToolErrorIgnored, 1.0),
        (StepBudget, 1.0),
        (PrematureFinish, 1.0),
        (ContextOverflow, 1.0),
        (WrongAction, -1.0),
    ] {
        let c = case(class);
        let base = rate(Tier::Small, &c, None);
        for m in rule_messages(class) {
            let e = rate(Tier::Small, &c, Some(m)) - base;
            assert!(sign * e > MIN_EFFECT, "{class:?} {m:?}: {e:+.3}");
        }
    }
}
