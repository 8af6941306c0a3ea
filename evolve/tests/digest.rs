//! The digester on real traces from the runtime's engine (KeyDoor with scripted models)
//! and on hand-built ones, one per failure class; the catalog's persistence and merging;
//! and that no trace, however mangled, makes it panic.

use std::path::{Path, PathBuf};

use harnessx_evolve::digest::{
    diagnose, parse_trace, Diagnosis, DigestConfig, FailureCatalog, Verdict, EXCERPT_CHARS,
    REPEATED_EFFECT,
};
use harnessx_evolve::manifest::FailureClass;
use harnessx_runtime::context::MsgKind;
use harnessx_runtime::env::{FailureKind, ToolFailure};
use harnessx_runtime::envs::{Fault, FaultKind, KeyDoor};
use harnessx_runtime::ir::*;
use harnessx_runtime::message::Role;
use harnessx_runtime::models::{FnModel, Model, ModelRequest, ScriptedModel, WhenExhausted};
use harnessx_runtime::run_episode;
use harnessx_runtime::template::parse_template;
use harnessx_runtime::trace::{EventKind, TraceEvent, VecSink};
use proptest::prelude::*;

fn key_door_ir() -> HarnessIr {
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
        ToolIr::new("examine", vec![s("target")]),
        ToolIr::new("finish", vec![]),
    ];
    ir.loop_.max_steps = 12;
    ir
}

fn trace(ir: &HarnessIr, model: &mut dyn Model, env: &mut KeyDoor) -> Vec<TraceEvent> {
    let mut sink = VecSink::default();
    run_episode(ir, model, env, 3, 99, &mut sink);
    sink.events
}

fn scripted(replies: &[&str]) -> ScriptedModel {
    ScriptedModel::new(replies.iter().copied(), WhenExhausted::Cycle)
}

fn expert() -> impl Model {
    FnModel(|req: &ModelRequest| {
        req.expert
            .as_ref()
            .map(|c| c.render(None))
            .unwrap_or_else(|| "finish()".into())
    })
}

fn failed(events: &[TraceEvent]) -> Diagnosis {
    match diagnose(events, Some(Path::new("t.jsonl")), &DigestConfig::default()) {
        Verdict::Failed(d) => d,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn success_is_not_a_failure() {
    let ev = trace(&key_door_ir(), &mut expert(), &mut KeyDoor::new());
    assert_eq!(
        diagnose(&ev, None, &DigestConfig::default()),
        Verdict::Success
    );
}

#[test]
fn malformed_replies_are_malformed_call() {
    let mut model = scripted(&["I would like to look around the hall, please."]);
    let d = failed(&trace(&key_door_ir(), &mut model, &mut KeyDoor::new()));
    assert_eq!(d.class, FailureClass::MalformedCall);
    assert_eq!(d.evidence.trace.as_deref(), Some("t.jsonl"));
    assert_eq!(d.evidence.step, 12);
    assert!(d.evidence.excerpt.contains("look around"), "{d:?}");
    assert!(d.evidence.note.contains("12 of 12"), "{d:?}");
}

#[test]
fn ending_on_malformed_replies_is_malformed_call() {
    // Progress first, then nothing but prose until the step limit.
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 5;
    let mut model = ScriptedModel::new(
        [
            r#"open("box")"#,
            r#"open("shelf")"#,
            r#"open("drawer")"#,
            "hmm",
            "let me think",
        ],
        WhenExhausted::Cycle,
    );
    let d = failed(&trace(&ir, &mut model, &mut KeyDoor::new()));
    assert_eq!(d.class, FailureClass::MalformedCall, "{d:?}");
    assert!(d.evidence.note.starts_with("last 2"), "{d:?}");
}

#[test]
fn repeated_calls_are_a_loop() {
    let d = failed(&trace(
        &key_door_ir(),
        &mut scripted(&["look()"]),
        &mut KeyDoor::new(),
    ));
    assert_eq!(d.class, FailureClass::Loop);
    assert_eq!(d.evidence.step, 3, "the third look() closes the loop");
    assert_eq!(d.evidence.excerpt, "look()");
    assert!(d.evidence.note.contains("3 times"), "{d:?}");
}

#[test]
fn finish_before_the_goal_is_premature() {
    let d = failed(&trace(
        &key_door_ir(),
        &mut scripted(&["look()", "finish()"]),
        &mut KeyDoor::new(),
    ));
    assert_eq!(d.class, FailureClass::PrematureFinish);
    assert_eq!(
        (d.evidence.step, d.evidence.excerpt.as_str()),
        (2, "finish()")
    );
}

#[test]
fn running_out_of_steps_while_progressing_is_step_budget() {
    let mut ir = key_door_ir();
    ir.loop_.max_steps = 4; // the expert needs 5
    let d = failed(&trace(&ir, &mut expert(), &mut KeyDoor::new()));
    assert_eq!(d.class, FailureClass::StepBudget);
    assert_eq!(d.evidence.step, 4);
    assert!(d.evidence.excerpt.contains("garden"), "{d:?}");
}

#[test]
fn a_transient_error_followed_by_another_call_is_ignored() {
    let mut env = KeyDoor::with_faults(vec![Fault {
        call: 1,
        kind: FaultKind::Error,
    }]);
    let mut model = scripted(&[
        r#"open("drawer")"#,
        "look()",
        r#"examine("door")"#,
        "finish()",
    ]);
    let d = failed(&trace(&key_door_ir(), &mut model, &mut env));
    assert_eq!(d.class, FailureClass::ToolErrorIgnored);
    assert_eq!(d.evidence.step, 1);
    assert!(d.evidence.excerpt.contains("unavailable"), "{d:?}");
}

#[test]
fn a_retried_error_is_not_ignored() {
    let mut env = KeyDoor::with_faults(vec![Fault {
        call: 1,
        kind: FaultKind::Error,
    }]);
    let mut model = scripted(&[r#"open("drawer")"#, r#"open("drawer")"#, "finish()"]);
    let d = failed(&trace(&key_door_ir(), &mut model, &mut env));
    assert_eq!(d.class, FailureClass::PrematureFinish, "{d:?}");
}

#[test]
fn unrecovered_timeouts_are_tool_timeout() {
    let mut env = KeyDoor::with_faults(vec![
        Fault {
            call: 1,
            kind: FaultKind::Timeout,
        },
        Fault {
            call: 2,
            kind: FaultKind::Timeout,
        },
    ]);
    // The model retries twice (not a loop: retries after a timeout), then gives up.
    let mut model = scripted(&[r#"open("drawer")"#, r#"open("drawer")"#, "finish()"]);
    let d = failed(&trace(&key_door_ir(), &mut model, &mut env));
    assert_eq!(d.class, FailureClass::ToolTimeout, "{d:?}");
    assert!(d.evidence.note.starts_with("2 of 2"), "{d:?}");
}

#[test]
fn compaction_that_drops_the_goal_is_context_overflow() {
    let mut ir = key_door_ir();
    ir.context.pin.clear();
    ir.context.keep_last = 1;
    ir.context.budget_tokens = 60;
    let mut model = scripted(&[
        "look()",
        r#"examine("door")"#,
        r#"examine("box")"#,
        "finish()",
    ]);
    let ev = trace(&ir, &mut model, &mut KeyDoor::new());
    assert!(ev
        .iter()
        .any(|e| matches!(e.kind, EventKind::ContextCompacted(_))));
    let d = failed(&ev);
    assert_eq!(d.class, FailureClass::ContextOverflow, "{d:?}");
    assert!(d.evidence.note.contains("including the goal"), "{d:?}");

    // The same episode with the goal pinned is a premature finish.
    ir.context.pin = vec![PinRef::TaskGoal, PinRef::Prompt("system".into())];
    let d = failed(&trace(&ir, &mut model, &mut KeyDoor::new()));
    assert_eq!(d.class, FailureClass::PrematureFinish, "{d:?}");
}

#[test]
fn a_known_context_window_flags_overflow() {
    let ev = trace(
        &key_door_ir(),
        &mut scripted(&["look()", "finish()"]),
        &mut KeyDoor::new(),
    );
    let cfg = DigestConfig {
        overflow_tokens: Some(10),
        ..DigestConfig::default()
    };
    match diagnose(&ev, None, &cfg) {
        Verdict::Failed(d) => assert_eq!(d.class, FailureClass::ContextOverflow),
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_model_error_is_unknown() {
    let mut model = ScriptedModel::new(["look()"], WhenExhausted::Error);
    let d = failed(&trace(&key_door_ir(), &mut model, &mut KeyDoor::new()));
    assert_eq!(d.class, FailureClass::Unknown);
    assert_eq!(d.evidence.note, "model error");
}

// --- hand-built traces -----------------------------------------------------------------

struct Builder {
    events: Vec<TraceEvent>,
    step: u32,
}

impl Builder {
    fn new(max_steps: u32) -> Self {
        let mut b = Builder {
            events: Vec::new(),
            step: 0,
        };
        b.push(EventKind::EpisodeStart {
            harness: "h".into(),
            harness_hash: "0".into(),
            task: 1,
            seed: 2,
            max_steps,
            goal: "put a mug in the fridge".into(),
        });
        b
    }
    fn push(&mut self, kind: EventKind) {
        self.events.push(TraceEvent {
            seq: self.events.len() as u64,
            step: self.step,
            hook: None,
            clock_ms: 0,
            kind,
        });
    }
    /// One step: the model says `call`, the env answers.
    fn act(&mut self, call: &str, obs: &str, failure: Option<&str>, changed: bool) {
        let failure = failure.map(|m| ToolFailure {
            kind: FailureKind::Error,
            message: m.into(),
        });
        self.act_with(call, obs, failure, changed, false);
    }
    /// One step with any failure kind, and whether it ended the episode.
    fn act_with(
        &mut self,
        call: &str,
        obs: &str,
        failure: Option<ToolFailure>,
        changed: bool,
        done: bool,
    ) {
        self.step += 1;
        self.push(EventKind::ModelRequest {
            purpose: "act".into(),
            messages: 2,
            context_tokens: 100,
            seed: 0,
            request_hash: "0".into(),
        });
        self.push(EventKind::ModelResponse {
            text: call.into(),
            prompt_tokens: 1,
            completion_tokens: 1,
        });
        self.push(EventKind::CallParsed {
            call: Some(call.into()),
            error: None,
        });
        self.push(EventKind::ToolCall {
            tool: "t".into(),
            call: call.into(),
            attempt: 1,
        });
        self.push(EventKind::ToolResult {
            tool: "t".into(),
            observation: obs.into(),
            failure,
            state_changed: changed,
            done,
            attempt: 1,
            blocked: false,
        });
    }
    fn end(mut self, reason: &str) -> Vec<TraceEvent> {
        self.push(EventKind::EpisodeEnd {
            success: false,
            reason: reason.into(),
            steps: self.step,
            prompt_tokens: 0,
            completion_tokens: 0,
            tokens: 0,
            total_reward: 0.0,
        });
        self.events
    }
}

#[test]
fn rejected_well_formed_calls_are_wrong_action() {
    let mut b = Builder::new(4);
    b.act(r#"go("fridge 1")"#, "You arrive at fridge 1.", None, true);
    b.act(
        r#"take("mug 1", "fridge 1")"#,
        "Nothing happens.",
        Some("Nothing happens: there is no mug 1 here."),
        false,
    );
    b.act("look()", "You are at fridge 1.", None, false);
    b.act(
        r#"open("sink 1")"#,
        "Nothing happens.",
        Some("Nothing happens: it cannot be opened."),
        false,
    );
    let d = failed(&b.end("step_budget"));
    assert_eq!(d.class, FailureClass::WrongAction, "{d:?}");
    assert_eq!(d.evidence.step, 4);
    assert!(
        d.evidence.note.starts_with("2 of 4 calls rejected"),
        "{d:?}"
    );
}

#[test]
fn a_side_effect_repeated_is_a_loop() {
    let notify = r#"notify("sms", "T-1 is done")"#;
    let mut b = Builder::new(10);
    b.act(notify, "Sent by sms.", None, true);
    b.act(r#"fetch("T-1")"#, "T-1 status: open", None, false);
    b.act(notify, "Sent by sms.", None, true);
    b.act_with(r#"finish("T-1")"#, "Task failed.", None, false, true);
    let d = failed(&b.end("done"));
    assert_eq!(d.class, FailureClass::Loop, "{d:?}");
    assert_eq!(d.evidence.step, 3);
    assert!(d.evidence.note.ends_with(REPEATED_EFFECT), "{d:?}");
    assert!(d.evidence.note.contains("step 1"), "{d:?}");

    // Another change in between: the second call redoes, it does not duplicate.
    let mut b = Builder::new(10);
    b.act(r#"use("lamp 1")"#, "The lamp is on.", None, true);
    b.act(
        r#"take("mug 1", "desk 1")"#,
        "You take the mug 1.",
        None,
        true,
    );
    b.act(r#"use("lamp 1")"#, "The lamp is off.", None, true);
    b.act_with("finish()", "Task failed.", None, false, true);
    assert_eq!(failed(&b.end("done")).class, FailureClass::PrematureFinish);
}

fn timeout(call: &str) -> ToolFailure {
    ToolFailure {
        kind: FailureKind::Timeout,
        message: format!("Error: {call} timed out after 500 ms."),
    }
}

#[test]
fn recovered_or_applied_timeouts_do_not_explain_a_failure() {
    let episode = |reason: &str, done: bool| {
        let mut b = Builder::new(6);
        let search = r#"search("mug")"#;
        b.act_with(search, "timed out", Some(timeout(search)), false, false);
        b.act(search, "1 result(s)", None, false);
        // Timed out, but the server applied it: not lost.
        let update = r#"update("T-1", ["status=closed"])"#;
        b.act_with(update, "timed out", Some(timeout(update)), true, false);
        b.act_with(r#"finish("done")"#, "Task failed.", None, false, done);
        b.end(reason)
    };
    let d = failed(&episode("done", true));
    assert_eq!(d.class, FailureClass::PrematureFinish, "{d:?}");
    // The same timeouts in an episode that ran out of steps are what cost it.
    let d = failed(&episode("step_budget", false));
    assert_eq!(d.class, FailureClass::ToolTimeout, "{d:?}");
}

#[test]
fn no_progress_at_the_limit_is_wrong_action_and_a_stop_is_unknown() {
    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    b.act(r#"examine("mug 1")"#, "A mug.", None, false);
    b.act(r#"examine("fridge 1")"#, "A fridge.", None, false);
    let d = failed(&b.end("step_budget"));
    assert_eq!(d.class, FailureClass::WrongAction, "{d:?}");

    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    let d = failed(&b.end("stopped: too many errors"));
    assert_eq!(d.class, FailureClass::Unknown);
    assert!(d.evidence.note.contains("stopped"), "{d:?}");
}

#[test]
fn a_missing_end_is_incomplete() {
    let mut ev = trace(
        &key_door_ir(),
        &mut scripted(&["finish()"]),
        &mut KeyDoor::new(),
    );
    ev.pop();
    assert_eq!(
        diagnose(&ev, None, &DigestConfig::default()),
        Verdict::Incomplete
    );
}

#[test]
fn long_excerpts_are_cut() {
    let long = format!("I think {} so look()", "ü".repeat(500));
    let d = failed(&trace(
        &key_door_ir(),
        &mut scripted(&[long.as_str()]),
        &mut KeyDoor::new(),
    ));
    assert_eq!(d.evidence.excerpt.chars().count(), EXCERPT_CHARS);
}

// --- the catalog ---------------------------------------------------------------------------

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hx-digest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn jsonl(events: &[TraceEvent]) -> String {
    VecSink {
        events: events.to_vec(),
    }
    .to_jsonl()
}

#[test]
fn catalog_digests_files_persists_and_merges() {
    let dir = tmp("catalog");
    let ir = key_door_ir();
    let loop_ev = trace(&ir, &mut scripted(&["look()"]), &mut KeyDoor::new());
    let finish_ev = trace(&ir, &mut scripted(&["finish()"]), &mut KeyDoor::new());
    let ok_ev = trace(&ir, &mut expert(), &mut KeyDoor::new());
    // One file with two episodes and a bad line, one with a truncated episode.
    let a = dir.join("a.jsonl");
    let text = format!("{}not json\n{}", jsonl(&loop_ev), jsonl(&ok_ev));
    std::fs::write(&a, text).expect("write");
    let b = dir.join("b.jsonl");
    std::fs::write(&b, jsonl(&finish_ev[..finish_ev.len() - 1])).expect("write");
    assert_eq!(
        parse_trace(&std::fs::read_to_string(&a).unwrap_or_default()).bad_lines,
        1
    );

    let mut cat = FailureCatalog::new(2);
    let missing = dir.join("missing.jsonl");
    let errors = cat.digest_files(&[a.clone(), b, missing.clone()], &DigestConfig::default());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, missing);
    assert_eq!((cat.episodes, cat.failures, cat.incomplete), (2, 1, 1));
    assert_eq!(cat.count(FailureClass::Loop), 1);
    let ev = &cat.classes[&FailureClass::Loop].evidence[0];
    assert_eq!(ev.trace.as_deref(), Some(a.to_string_lossy().as_ref()));

    // Round trip, with class names as JSON keys.
    let path = dir.join("catalog.json");
    cat.save(&path).expect("save");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.contains("\"loop\""), "{text}");
    assert_eq!(FailureCatalog::load(&path).expect("load"), cat);
    assert!(std::fs::read_dir(&dir).expect("dir").all(|e| !e
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .contains(".tmp.")));

    // Merging across rounds adds counts and keeps the newest evidence.
    let mut round2 = FailureCatalog::new(2);
    for _ in 0..3 {
        round2.digest(&loop_ev, None, &DigestConfig::default());
    }
    let mut all = FailureCatalog::load_or_new(&path, 2).expect("load");
    all.merge(&round2);
    assert_eq!(all.count(FailureClass::Loop), 4);
    assert_eq!(all.classes[&FailureClass::Loop].evidence.len(), 2);
    assert!(all.classes[&FailureClass::Loop]
        .evidence
        .iter()
        .all(|e| e.trace.is_none()));
    let fresh = FailureCatalog::load_or_new(&dir.join("none.json"), 7).expect("new");
    assert_eq!(fresh.max_evidence, 7);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn actionability_and_stop_reasons() {
    let ir = key_door_ir();
    let ok = trace(&ir, &mut expert(), &mut KeyDoor::new());
    let mut cat = FailureCatalog::default();
    cat.digest(&ok, None, &DigestConfig::default());
    assert!(!cat.actionable(1));
    assert!(cat
        .stop_reason(1)
        .unwrap_or_default()
        .contains("no failed episodes"));

    let err = trace(
        &ir,
        &mut ScriptedModel::new(["look()"], WhenExhausted::Error),
        &mut KeyDoor::new(),
    );
    cat.digest(&err, None, &DigestConfig::default());
    assert!(cat.stop_reason(1).unwrap_or_default().contains("unknown"));

    let looped = trace(&ir, &mut scripted(&["look()"]), &mut KeyDoor::new());
    cat.digest(&looped, None, &DigestConfig::default());
    assert!(cat.actionable(1));
    let why = cat.stop_reason(2).unwrap_or_default();
    assert!(why.contains("reaches 2") && why.contains("loop 1"), "{why}");
    assert_eq!(
        cat.ranked(),
        [(FailureClass::Loop, 1), (FailureClass::Unknown, 1)]
    );
}

// --- robustness ------------------------------------------------------------------------------

fn sample_events() -> Vec<TraceEvent> {
    let ir = key_door_ir();
    let mut ev = trace(
        &ir,
        &mut scripted(&["look()", "oops", "finish()"]),
        &mut KeyDoor::new(),
    );
    let mut b = Builder::new(2);
    b.push(EventKind::Message {
        role: Role::User,
        kind: MsgKind::Goal,
        content: "Goal: x".into(),
        pinned: false,
    });
    b.act("look()", "Nothing happens.", Some("Nothing happens"), false);
    ev.extend(b.end("step_budget"));
    ev
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_subsequence_of_events_is_digested(picks in proptest::collection::vec(0usize..200, 0..80)) {
        let pool = sample_events();
        let events: Vec<TraceEvent> = picks.iter().map(|&i| pool[i % pool.len()].clone()).collect();
        let mut cat = FailureCatalog::default();
        for cfg in [DigestConfig::default(), DigestConfig { loop_repeats: 0, loop_window: 0, malformed_tail: 0, timeout_min: 0, progress_window: 0, overflow_tokens: Some(0) }] {
            let v = diagnose(&events, None, &cfg);
            if let Verdict::Failed(d) = &v {
                prop_assert!(d.evidence.excerpt.chars().count() <= EXCERPT_CHARS);
            }
            cat.record(&v);
        }
    }

    #[test]
    fn any_text_is_read_without_panicking(text in "\\PC{0,400}", cut in 0usize..4000) {
        let real = jsonl(&sample_events());
        let mut at = cut.min(real.len());
        while !real.is_char_boundary(at) { at -= 1; }
        for t in [text.clone(), format!("{}{text}", &real[..at])] {
            let file = parse_trace(&t);
            for ep in &file.episodes {
                let _ = diagnose(ep, None, &DigestConfig::default());
            }
        }
    }
}

// --- what a real small model does (SmolLM2-135M on TextWorldExpress) --------------------

#[test]
fn a_server_context_refusal_is_context_overflow_and_infrastructure_is_not_scored() {
    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    let d = failed(
        &b.end("context_overflow: HTTP 400: Requested tokens (2100) exceed context window of 2048"),
    );
    assert_eq!(d.class, FailureClass::ContextOverflow, "{d:?}");

    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    let events = b.end("infrastructure: model timed out");
    let v = diagnose(&events, None, &DigestConfig::default());
    assert_eq!(v, Verdict::Infrastructure("model timed out".into()));
    let mut c = FailureCatalog::new(3);
    c.digest(&events, None, &DigestConfig::default());
    assert_eq!((c.episodes, c.failures, c.infrastructure), (0, 0, 1));
    assert!(c.ranked().is_empty(), "never classified: {c:?}");
}

/// A step whose reply is `reply` and does not parse, after the model was shown `obs`.
fn malformed_step(b: &mut Builder, obs: &str, reply: &str) {
    b.step += 1;
    b.push(EventKind::Message {
        role: Role::User,
        kind: MsgKind::Observation,
        content: obs.into(),
        pinned: false,
    });
    b.push(EventKind::ModelRequest {
        purpose: "act".into(),
        messages: 2,
        context_tokens: 100,
        seed: 0,
        request_hash: "0".into(),
    });
    b.push(EventKind::ModelResponse {
        text: reply.into(),
        prompt_tokens: 1,
        completion_tokens: 1,
    });
    b.push(EventKind::CallParsed {
        call: None,
        error: Some("no call found".into()),
    });
}

#[test]
fn malformed_replies_say_whether_they_echo_the_observation_or_are_prose() {
    let obs = "You are in the kitchen. In one part of the room you see a fridge that is closed.";
    let mut b = Builder::new(3);
    for _ in 0..3 {
        malformed_step(
            &mut b,
            obs,
            "In one part of the room you see a fridge that is closed.",
        );
    }
    let d = failed(&b.end("step_budget"));
    assert_eq!(d.class, FailureClass::MalformedCall);
    assert!(
        d.evidence.note.contains("3 of 3 echo the observation"),
        "{d:?}"
    );

    let mut b = Builder::new(3);
    for _ in 0..3 {
        malformed_step(
            &mut b,
            obs,
            "I think I should go and find something useful to do now.",
        );
    }
    let d = failed(&b.end("step_budget"));
    assert_eq!(d.class, FailureClass::MalformedCall);
    assert!(
        d.evidence
            .note
            .contains("prose instead of a call in 3 of 3"),
        "{d:?}"
    );
}

#[test]
fn a_budget_spent_without_naming_the_goals_objects_says_so() {
    // The goal is "put a mug in the fridge": no call names the mug or the fridge.
    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    b.act(r#"examine("table 1")"#, "A table.", None, false);
    b.act(r#"examine("chair 1")"#, "A chair.", None, false);
    let d = failed(&b.end("step_budget"));
    assert_eq!(d.class, FailureClass::WrongAction, "{d:?}");
    assert!(
        d.evidence
            .note
            .contains("no call named an object of the goal"),
        "{d:?}"
    );

    let mut b = Builder::new(3);
    b.act("look()", "A kitchen.", None, false);
    b.act(r#"examine("mug 1")"#, "A mug.", None, false);
    b.act(r#"examine("chair 1")"#, "A chair.", None, false);
    let d = failed(&b.end("step_budget"));
    assert!(!d.evidence.note.contains("goal"), "{d:?}");
}
