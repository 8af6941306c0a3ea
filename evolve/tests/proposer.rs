//! The open-ended proposer with scripted replies: a valid edit reaches the gate (and
//! ships, with its provenance and rationale), a syntax error is repaired, garbage is
//! rejected after the repairs while the run goes on, edits to `@frozen` items, tools or
//! values out of bounds are rejected with a clear reason, and a killed run resumes with
//! every proposer reply served from the response cache. The actor is `sim:small`.

use std::path::{Path, PathBuf};

use harnessx_evolve::checkpoint::{Checkpoint, Config};
use harnessx_evolve::digest::{ClassEntry, Evidence, FailureCatalog};
use harnessx_evolve::gate::GateConfig;
use harnessx_evolve::ledger::Cost;
use harnessx_evolve::manifest::{FailureClass, OperatorId};
use harnessx_evolve::operators::Target;
use harnessx_evolve::planner::{operator_slots, proposer_proposal, Pick};
use harnessx_evolve::proposer::{self, ProposerConfig};
use harnessx_evolve::round::{Abort, Quiet, ABORTED};
use harnessx_evolve::run::{self, Options};
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::models::{Model, ModelError, ModelRequest, ModelResponse};
use harnessx_syntax::{parse, print, File};

/// A household seed with a short step limit (room to improve), a frozen rule and a frozen
/// field. Written without comments and triple-quoted strings, so it also reads on one
/// line, as a `scripted:` file holds a reply.
const SEED: &str = r#"harness household "Household planner" {
  model {
    backend = "sim:small"
    temperature = 0.2 @evolve(range = 0.0..1.0)
    max_tokens = 256 @frozen
  }
  prompt system "You are a household agent. Your goal: {{task.goal}} Answer with exactly one action per turn. Admissible actions: {{admissible_actions}}"
  tool go(target: string) "Walk to a receptacle"
  tool take(object: string, source: string) "Pick up an object from the receptacle you are at"
  tool put(object: string, target: string) "Place the held object in/on the receptacle you are at"
  tool open(target: string) "Open the closed receptacle you are at"
  tool close(target: string) "Close the open receptacle you are at"
  tool examine(target: string) "Look closely at a receptacle or the held object" { verifies = true }
  tool clean(object: string, appliance: string) "Clean the held object at a sinkbasin"
  tool heat(object: string, appliance: string) "Heat the held object at a microwave"
  tool cool(object: string, appliance: string) "Cool the held object at a fridge"
  tool use(target: string) "Switch a lamp on or off"
  tool look() "Describe where you are" { verifies = true }
  tool inventory() "Say what you are holding" { verifies = true }
  tool finish(answer: string?) "Give up; the episode ends by itself once the goal holds"
  loop {
    max_steps = 8 @evolve(range = 5..60)
  }
  @frozen
  on before_tool when call(finish) and not verified {
    block "Check the goal conditions before you finish."
  }
}
"#;

/// `SEED` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(SEED.contains(from), "{from}");
    SEED.replace(from, to)
}

/// A harness on one line (the seed has no comments, so this is the same harness).
fn one_line(src: &str) -> String {
    src.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

fn seed_file() -> File {
    parse(SEED).file
}

/// A round's catalog: `n` step-budget failures with an excerpt.
fn catalog(n: u64) -> FailureCatalog {
    let mut cat = FailureCatalog::new(8);
    cat.episodes = 10;
    cat.failures = n;
    cat.classes.insert(
        FailureClass::StepBudget,
        ClassEntry {
            count: n,
            evidence: vec![Evidence {
                trace: None,
                task: 3,
                seed: 7,
                step: 8,
                excerpt: "go(\"countertop 1\")".into(),
                note: "hit max_steps while making progress".into(),
            }],
        },
    );
    cat
}

fn scripted(replies: &[String]) -> ModelSpec {
    ModelSpec::Scripted(replies.to_vec())
}

fn ask(replies: &[String], repairs: u32) -> proposer::Proposed {
    let cfg = ProposerConfig {
        repairs,
        ..ProposerConfig::new("scripted:unused")
    };
    let target = Target::new(FailureClass::StepBudget).with_evidence(vec!["e1".into()]);
    proposer::propose(
        &scripted(replies),
        &cfg,
        &seed_file(),
        &catalog(6),
        &target,
        1,
    )
}

fn reply(rationale: &str, harness: &str) -> String {
    format!("RATIONALE: {rationale}\n```harness\n{harness}```\n")
}

#[test]
fn the_prompt_shows_source_failures_limits_and_reference() {
    let p = proposer::prompt(&seed_file(), &catalog(6));
    assert!(p.contains("harness household"), "{p}");
    assert!(
        p.contains("step_budget (6)") && p.contains("countertop 1"),
        "{p}"
    );
    assert!(p.contains("- loop.max_steps = 8; 5..60"), "{p}");
    assert!(p.contains("- model.temperature = 0.2; 0.0..1.0"), "{p}");
    // Frozen and never-evolvable fields are not offered.
    assert!(
        !p.contains("model.max_tokens =") && !p.contains("model.backend ="),
        "{p}"
    );
    assert!(p.contains("Frozen, keep exactly: rules[0]"), "{p}");
    assert!(p.contains("repeated_action(window = N, count = N)"), "{p}");
    // Short enough for a 2048-token model with room for the reply.
    let tokens = (proposer::SYSTEM.len() + p.len()) / 4;
    assert!(tokens < 1900, "about {tokens} tokens");
}

#[test]
fn a_valid_edit_becomes_a_candidate_with_provenance_proposer() {
    let harness = edit("max_steps = 8 @evolve", "max_steps = 30 @evolve");
    let p = ask(
        &[reply("more steps: episodes run out of them", &harness)],
        2,
    );
    let cand = p.result.expect("a candidate");
    assert_eq!(cand.manifest.operator, OperatorId::Proposer);
    assert_eq!(cand.manifest.class, FailureClass::StepBudget);
    assert_eq!(cand.manifest.changed_paths, ["loop"]);
    assert_eq!(
        cand.manifest.rationale.as_deref(),
        Some("more steps: episodes run out of them")
    );
    assert_eq!(cand.source, print(&parse(&harness).file));
    assert_eq!(
        (p.stats.replies, p.stats.first_checked, p.stats.candidates),
        (1, 1, 1)
    );
    // The rationale becomes a comment under the provenance line when it ships.
    let shipped = harnessx_evolve::emit::shipped_source(&cand, 2, 0.3, 0.6, 0.01);
    assert!(
        shipped.contains(
            "  # evolved r2: proposer for step_budget (1 episode), train 0.30 -> 0.60, p = 0.010\n  \
             # proposer: more steps: episodes run out of them\n  loop {"
        ),
        "{shipped}"
    );
}

#[test]
fn a_syntax_error_goes_back_to_the_model_and_its_fix_is_taken() {
    let broken = edit("max_steps = 8 @evolve", "max_steps = = 30 @evolve");
    let fixed = edit("max_steps = 8 @evolve", "max_steps = 30 @evolve");
    let p = ask(
        &[
            reply("more steps", &broken),
            format!("```harness\n{fixed}```"),
        ],
        2,
    );
    assert!(p.result.is_ok(), "{:?}", p.result.err());
    assert_eq!(p.attempts.len(), 2);
    let v = &p.attempts[0].verdict;
    assert!(v.starts_with("the harness does not check"), "{v}");
    assert!(v.contains("error[E0"), "rendered diagnostics: {v}");
    // The first reply's rationale is kept when the repair has none.
    let cand = p.result.unwrap();
    assert_eq!(cand.manifest.rationale.as_deref(), Some("more steps"));
    assert_eq!(
        (
            p.stats.replies,
            p.stats.replies_checked,
            p.stats.first_checked
        ),
        (2, 1, 0)
    );
}

#[test]
fn garbage_is_rejected_after_the_repairs() {
    let p = ask(&["I cannot help with that.".into()], 2);
    let why = p.result.expect_err("rejected");
    assert!(
        why.starts_with(
            "proposer: no usable harness after 3 replies; last: the reply holds no harness"
        ),
        "{why}"
    );
    assert_eq!(p.attempts.len(), 3);
    let p = ask(&["```harness\nharness {{{ ]]] \u{0}é```".into()], 0);
    assert_eq!(p.attempts.len(), 1);
    assert!(p.result.is_err());
}

#[test]
fn edits_to_frozen_items_tools_and_bounds_are_rejected_with_a_reason() {
    let cases = [
        (
            edit(
                "block \"Check the goal conditions before you finish.\"",
                "block \"Finish whenever.\"",
            ),
            "`rules[0]` is @frozen",
        ),
        (
            edit("max_tokens = 256 @frozen", "max_tokens = 512 @frozen"),
            "`model.max_tokens` is @frozen",
        ),
        (
            edit("max_steps = 8 @evolve", "max_steps = 80 @evolve"),
            "is outside its `@evolve` range",
        ),
        (
            edit("  loop {", "  context {\n    keep_last = 50\n  }\n  loop {"),
            "context.keep_last left 0..20",
        ),
        (
            edit("tool look() ", "tool look(at: string) "),
            "the tools belong to the environment",
        ),
        (
            edit("max_steps = 8 @evolve(range = 5..60)", "max_steps = 9"),
            "`loop.max_steps`: keep its annotations",
        ),
        (
            edit("backend = \"sim:small\"", "backend = \"sim:large\""),
            "model.backend is not evolvable",
        ),
        (SEED.to_string(), "the same as the current one"),
    ];
    for (harness, expect) in cases {
        let p = ask(&[reply("try", &harness)], 1);
        let why = p.result.expect_err("rejected");
        assert!(why.contains("after 2 replies"), "{why}");
        assert!(
            p.attempts.iter().all(|a| a.verdict.contains(expect)),
            "{expect}: {:#?}",
            p.attempts
        );
    }
}

#[test]
fn the_planner_gives_the_proposer_one_slot() {
    assert_eq!(operator_slots(3, true), 2);
    assert_eq!(operator_slots(3, false), 3);
    assert_eq!(operator_slots(1, true), 0);
    let p = proposer_proposal(&catalog(4)).unwrap();
    assert_eq!(
        (p.operator.as_str(), p.class, p.pick),
        ("proposer", FailureClass::StepBudget, Pick::Proposer)
    );
    // Unknown failures alone: the operators have nothing to target, the proposer has.
    let mut unknown = FailureCatalog::new(4);
    unknown.episodes = 5;
    unknown.failures = 5;
    unknown.classes.insert(
        FailureClass::Unknown,
        ClassEntry {
            count: 5,
            evidence: Vec::new(),
        },
    );
    assert_eq!(
        proposer_proposal(&unknown).map(|p| p.class),
        Some(FailureClass::Unknown)
    );
    assert!(proposer_proposal(&FailureCatalog::new(4)).is_none());
}

/// A server with a small context: refuses prompts over `limit` characters.
struct SmallContext {
    limit: usize,
    reply: String,
    asked: Vec<usize>,
}

impl Model for SmallContext {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let n: usize = req.messages.iter().map(|m| m.content.len()).sum();
        self.asked.push(n);
        if n > self.limit {
            return Err(ModelError::ContextOverflow(
                "maximum context length is 2048 tokens".into(),
            ));
        }
        Ok(ModelResponse {
            text: self.reply.clone(),
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
        })
    }
}

#[test]
fn a_prompt_that_overflows_is_sent_again_without_the_reference() {
    let full = proposer::prompt(&seed_file(), &catalog(6)).len() + proposer::SYSTEM.len();
    let harness = edit("max_steps = 8 @evolve", "max_steps = 30 @evolve");
    let mut m = SmallContext {
        limit: full - proposer::reference().len() / 2,
        reply: reply("more steps", &harness),
        asked: Vec::new(),
    };
    let cfg = ProposerConfig::new("scripted:unused");
    let target = Target::new(FailureClass::StepBudget);
    let p = proposer::propose_with(&mut m, &cfg, &seed_file(), &catalog(6), &target, 1);
    assert!(p.result.is_ok(), "{:?}", p.attempts);
    assert_eq!(m.asked.len(), 2);
    assert!(m.asked[1] < m.asked[0]);
    assert!(
        p.attempts[0].verdict.contains("overflows"),
        "{:?}",
        p.attempts
    );
    assert!(!p.prompt[1].content.contains("# Language"));
    // A model error that persists ends the proposal; the slot is rejected.
    let mut tiny = SmallContext {
        limit: 10,
        reply: String::new(),
        asked: Vec::new(),
    };
    let p = proposer::propose_with(&mut tiny, &cfg, &seed_file(), &catalog(6), &target, 1);
    let why = p.result.expect_err("rejected");
    assert!(why.contains("the proposer model failed"), "{why}");
    assert_eq!(p.stats.model_errors, 1);
}

// ---- end to end -------------------------------------------------------------------------

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hx-proposer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A run of `rounds` rounds, K = `k`, with the proposer replying from `script` (one reply
/// per line) behind `cache`, when given.
fn config(dir: &Path, script: &[String], cache: Option<&Path>, rounds: u32, k: usize) -> Config {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("replies.txt");
    std::fs::write(&path, script.join("\n") + "\n").unwrap();
    let spec = format!("scripted:{}", path.display());
    let model = match cache {
        Some(c) => format!("cache:{}:{spec}", c.display()),
        None => spec,
    };
    Config {
        file: "household.harness".into(),
        seed_source: SEED.into(),
        env: "household".into(),
        model: "sim:small".into(),
        rounds,
        k,
        seed: 5,
        train_tasks: 12,
        seeds_per_task: 1,
        held_out_tasks: 6,
        held_out_env: None,
        budget: Cost::new(400, u64::MAX, f64::MAX),
        gate: GateConfig {
            build: false,
            ..GateConfig::default()
        },
        min_class_episodes: 2,
        epsilon: 0.1,
        proposer: Some(ProposerConfig::new(model)),
        phrasing: Default::default(),
    }
}

fn opts(out: &Path, abort: Option<Abort>) -> Options {
    Options {
        out: out.to_path_buf(),
        workers: 2,
        abort,
        traces: false,
    }
}

#[test]
fn a_scripted_proposer_edit_ships_through_the_gate() {
    let root = out_dir("ships");
    let harness = edit("max_steps = 8 @evolve", "max_steps = 40 @evolve");
    let script = [format!(
        "RATIONALE: episodes run out of steps {}",
        one_line(&harness)
    )];
    let out = root.join("run");
    let cp = run::start(
        config(&root, &script, None, 1, 1),
        &opts(&out, None),
        &mut Quiet,
    )
    .unwrap();
    let r = &cp.rounds[0];
    assert_eq!(r.candidates.len(), 1, "{r:#?}");
    let c = &r.candidates[0];
    assert_eq!(c.operator, "proposer");
    assert!(c.train_success.is_some(), "it reached the gate: {c:#?}");
    assert!(c.shipped, "more steps help the sim agent: {c:#?}");
    let best = std::fs::read_to_string(out.join("best.harness")).unwrap();
    assert!(best.contains("# evolved r1: proposer for "), "{best}");
    assert!(
        best.contains("# proposer: episodes run out of steps\n  loop {"),
        "{best}"
    );
    assert!(best.contains("max_steps = 40"), "{best}");
    assert_eq!(cp.proposer_stats.candidates, 1);
    let transcript = std::fs::read_to_string(out.join("proposer/r1c0.json")).unwrap();
    assert!(
        transcript.contains("\"verdict\": \"candidate\""),
        "{transcript}"
    );
    let summary = run::summary_text(&cp, true);
    assert!(
        summary.contains("proposer: 1 of 1 proposals became candidates; 1 of 1 replies checked"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn garbage_from_the_proposer_is_rejected_and_the_run_goes_on() {
    let root = out_dir("garbage");
    let script = ["no idea".to_string(), "}}} harness".to_string()];
    let out = root.join("run");
    let cp = run::start(
        config(&root, &script, None, 2, 2),
        &opts(&out, None),
        &mut Quiet,
    )
    .unwrap();
    assert!(cp.final_result.is_some(), "the run finished");
    let rejected: Vec<_> = cp
        .ledgers
        .rejects
        .iter()
        .filter(|e| e.operator == "proposer")
        .collect();
    assert!(!rejected.is_empty());
    for e in &rejected {
        assert!(
            e.reason
                .starts_with("proposer: no usable harness after 3 replies"),
            "{}",
            e.reason
        );
    }
    assert_eq!(cp.proposer_stats.replies, 3 * cp.proposer_stats.proposals);
    assert_eq!(cp.proposer_stats.candidates, 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_killed_run_resumes_with_the_proposer_replies_from_its_cache() {
    let root = out_dir("resume");
    let harness = edit("max_steps = 8 @evolve", "max_steps = 20 @evolve");
    let script = [
        "nothing useful".to_string(),
        format!("RATIONALE: more steps {}", one_line(&harness)),
    ];
    let cache = root.join("cache");
    // Uninterrupted.
    let whole = root.join("whole");
    let a = run::start(
        config(&root, &script, Some(&cache), 2, 2),
        &opts(&whole, None),
        &mut Quiet,
    )
    .unwrap();
    // Killed in the middle of round 1, after the proposer answered.
    let cut = root.join("cut");
    let err = run::start(
        config(&root, &script, Some(&cache), 2, 2),
        &opts(&cut, Some(Abort::MidRound(1))),
        &mut Quiet,
    )
    .unwrap_err();
    assert_eq!(err.message(), ABORTED);
    // Resumed with a proposer that can only replay: any request not answered before
    // would fail and change the outcome.
    let mut cp = Checkpoint::load(&cut).unwrap();
    cp.config.proposer = Some(ProposerConfig::new(format!("replay:{}", cache.display())));
    cp.save(&cut).unwrap();
    let b = run::resume(&opts(&cut, None), &mut Quiet).unwrap();
    assert_eq!(a.parent_source, b.parent_source);
    assert_eq!(a.ledgers, b.ledgers);
    assert_eq!(a.proposer_stats, b.proposer_stats);
    assert_eq!(b.proposer_stats.model_errors, 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn old_checkpoints_without_a_proposer_load() {
    let root = out_dir("old");
    let mut cfg = config(&root, &["x".to_string()], None, 1, 1);
    cfg.proposer = None;
    let json = serde_json::to_value(&cfg).unwrap();
    assert!(json.get("proposer").is_none());
    let back: Config = serde_json::from_value(json).unwrap();
    assert_eq!(back.proposer, None);
    let p: ProposerConfig = serde_json::from_str(r#"{"model": "replay:d"}"#).unwrap();
    assert_eq!(p, ProposerConfig::new("replay:d"));
    let _ = std::fs::remove_dir_all(&root);
}
