//! One test per operator on a small fixture with `@frozen` and `@evolve` nodes, plus
//! determinism, the class mapping, manifests, and provenance comments (with a snapshot of
//! an evolved file).

use harnessx_compiler::{check_file, Severity};
use harnessx_evolve::manifest::{ChangeKind, FailureClass, Manifest, OperatorId};
use harnessx_evolve::operators::{
    self, annotate, candidate::frozen_snapshot, try_propose, Candidate, NoCandidate, Rng, Target,
};
use harnessx_syntax::paths::find_node;
use harnessx_syntax::{parse, print, File, NodeRef};

const FIXTURE: &str = r#"harness demo "Evolution fixture" {
  model {
    backend = "sim:small" @frozen
    temperature = 0.2 @evolve(range = 0.0..0.5)
    max_tokens = 256 @frozen
  }

  prompt system """
    You are an agent. Your goal: {{task.goal}}
    Keep track of what you have already tried and where you have already been.
  """

  tool act(command: string) "Run one command" { timeout = 1s }
  tool check() "Check the goal" { verifies = true }
  tool finish(answer: string?) "Declare the task done" { retries = 0 @frozen }

  loop {
    max_steps = 20 @evolve(range = 10..30)
    strategy = react @evolve(choices = [react, reflect])
  }

  context {
    budget = 1000 tokens
    pin = [system]
  }

  on after_model when malformed_call {
    repair extract_action
  }

  on before_tool as anti_loop when repeated_action(window = 4, count = 3) {
    inject "You are repeating yourself. Try something different."
  }

  @frozen
  on after_tool when tool_error {
    retry(max = 2, backoff = 100ms)
  }
}
"#;

fn fixture() -> File {
    let parsed = parse(FIXTURE);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(
        errors(&parsed.file).is_empty(),
        "{:?}",
        errors(&parsed.file)
    );
    parsed.file
}

fn errors(file: &File) -> Vec<String> {
    check_file(file)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

/// Candidates of `op` for `class` over many seeds (each one verified by `try_propose`).
fn candidates(file: &File, class: FailureClass, op: OperatorId) -> Vec<Candidate> {
    (0..40)
        .filter_map(
            |seed| match try_propose(file, &Target::new(class), op, &mut Rng::seed(seed)) {
                Ok(c) => Some(c),
                Err(NoCandidate::Rejected(r)) => panic!("{op} for {class} rejected: {r:?}"),
                Err(_) => None,
            },
        )
        .collect()
}

fn num_at(file: &File, path: &str) -> Option<f64> {
    let kind = match find_node(file, path)? {
        NodeRef::Field(f) => &f.value.kind,
        NodeRef::Arg(a) => &a.value.kind,
        NodeRef::Value(v) => &v.kind,
        _ => return None,
    };
    kind.num()
}

fn text_at(file: &File, path: &str) -> Option<String> {
    match find_node(file, path)? {
        NodeRef::Field(f) => Some(format!("{:?}", f.value.kind)),
        NodeRef::Str(s) => Some(s.value.clone()),
        _ => None,
    }
}

fn assert_frozen_kept(parent: &File, c: &Candidate) {
    assert_eq!(
        frozen_snapshot(parent),
        frozen_snapshot(&c.file),
        "{}",
        c.source
    );
}

#[test]
fn set_number_moves_within_evolve_bounds_in_the_class_direction() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::StepBudget, OperatorId::SetNumber);
    assert!(!cs.is_empty());
    for c in &cs {
        let steps = num_at(&c.file, "loop.max_steps").unwrap();
        assert!(steps > 20.0 && steps <= 30.0, "{steps}");
        assert_eq!(c.manifest.changes[0].path, "loop.max_steps");
        assert_eq!(c.manifest.changed_paths, ["loop"]);
        assert_frozen_kept(&f, c);
    }
    // `malformed_call` wants a cooler model and longer replies; `max_tokens` is frozen.
    for c in candidates(&f, FailureClass::MalformedCall, OperatorId::SetNumber) {
        let t = num_at(&c.file, "model.temperature").unwrap();
        assert!((0.0..0.2).contains(&t), "{t}");
        assert_eq!(num_at(&c.file, "model.max_tokens"), Some(256.0));
    }
}

#[test]
fn switch_enum_respects_choices() {
    let f = fixture();
    let loops = candidates(&f, FailureClass::Loop, OperatorId::SwitchEnum);
    assert!(!loops.is_empty());
    for c in &loops {
        match c.manifest.changes[0].path.as_str() {
            // Offering only untried actions is a loop remedy too.
            "model.offer" => assert!(
                text_at(&c.file, "model.offer")
                    .unwrap()
                    .starts_with(r#"Ident("untried"#),
                "{:?}",
                c.manifest
            ),
            // plan_then_act is a loop remedy but not among this field's choices.
            _ => assert_eq!(
                text_at(&c.file, "loop.strategy").unwrap(),
                r#"Ident("reflect")"#
            ),
        }
    }
    let cs = candidates(&f, FailureClass::MalformedCall, OperatorId::SwitchEnum);
    assert!(cs
        .iter()
        .all(|c| c.source.contains("decoding = constrained")));
    assert_eq!(cs[0].manifest.changes[0].kind, ChangeKind::Inserted);
}

#[test]
fn insert_rule_adds_a_library_rule_unless_one_keys_on_the_same_thing() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::PrematureFinish, OperatorId::InsertRule);
    assert!(!cs.is_empty());
    for c in &cs {
        // A tool verifies, so the guard waits for `verified`.
        assert!(c.source.contains(
            "on before_tool as check_before_finish when call(finish) and not verified {"
        ));
        assert_eq!(c.manifest.changed_paths, ["rules[3]"]);
        assert_frozen_kept(&f, c);
    }
    // An anti-loop hint exists: no second hint, only a guard that blocks a repeated call
    // (of the tool the evidence names, when it names one).
    let cs = candidates(&f, FailureClass::Loop, OperatorId::InsertRule);
    assert!(!cs.is_empty());
    for c in &cs {
        assert!(!c.source.contains("anti_loop_2"), "{}", c.source);
        assert!(
            c.source.contains("on before_tool as send_once when call(")
                && c.source.contains("count = 2)")
                && c.source.contains("block \""),
            "{}",
            c.source
        );
    }
    let target = Target::new(FailureClass::Loop).with_evidence(vec![
        "task 2 seed 1 step 6: `act(\"look\")` 3 times in 4 calls: act(\"look\")".into(),
        format!(
            "task 3 seed 1 step 5: `check()` changed the state again after it had already \
             succeeded at step 2 {}: check()",
            harnessx_evolve::digest::REPEATED_EFFECT
        ),
    ]);
    for seed in 0..10 {
        let c = try_propose(&f, &target, OperatorId::InsertRule, &mut Rng::seed(seed));
        let c = c.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            c.source.contains("when call(check) and repeated_action("),
            "{}",
            c.source
        );
    }
    // The frozen rule already retries tool errors.
    let target = Target::new(FailureClass::ToolErrorIgnored);
    assert!(!operators::applicable(OperatorId::InsertRule, &f, &target));
}

#[test]
fn insert_rule_fits_parameters_to_the_harness() {
    let f = fixture();
    for c in candidates(&f, FailureClass::StepBudget, OperatorId::InsertRule) {
        let n = num_at(&c.file, "rules[3].when.value").unwrap();
        assert!((1.0..=20.0).contains(&n), "{n}");
    }
    for c in candidates(&f, FailureClass::ContextOverflow, OperatorId::InsertRule) {
        let n = num_at(&c.file, "rules[3].when.value").unwrap();
        assert!(n < 1000.0, "{n}");
    }
}

#[test]
fn remove_rule_never_removes_a_frozen_rule() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::Unknown, OperatorId::RemoveRule);
    assert!(!cs.is_empty());
    for c in &cs {
        assert!(c
            .source
            .contains("@frozen\n  on after_tool when tool_error {"));
        assert_eq!(c.manifest.changes[0].kind, ChangeKind::Removed);
        assert!(c.manifest.changed_paths.is_empty());
        assert_frozen_kept(&f, c);
    }
    // Nothing in the fixture can cause premature finishes.
    let target = Target::new(FailureClass::PrematureFinish);
    assert!(!operators::applicable(OperatorId::RemoveRule, &f, &target));
}

#[test]
fn replace_action_changes_only_rules_for_the_class() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::MalformedCall, OperatorId::ReplaceAction);
    assert!(!cs.is_empty());
    for c in &cs {
        assert!(c.manifest.changes[0]
            .path
            .starts_with("rules[0].actions[0]"));
        assert_frozen_kept(&f, c);
    }
    assert!(cs.iter().any(|c| c.source.contains("otherwise reprompt")));
    assert!(cs
        .iter()
        .any(|c| !c.source.contains("repair extract_action")));
    for c in candidates(&f, FailureClass::Unknown, OperatorId::ReplaceAction) {
        assert_frozen_kept(&f, &c);
    }
}

#[test]
fn tune_rule_keeps_count_within_window() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::Loop, OperatorId::TuneRule);
    assert!(!cs.is_empty());
    for c in &cs {
        let w = num_at(&c.file, "rules[1].when.window").unwrap();
        let n = num_at(&c.file, "rules[1].when.count").unwrap();
        assert!(n <= w && n >= 2.0 && w <= 12.0, "{n} {w}");
        assert!(n < 3.0 || w > 4.0, "moved the wrong way: {n} {w}");
        assert_frozen_kept(&f, c);
    }
}

#[test]
fn swap_fragment_replaces_or_inserts_whole_lines() {
    let f = fixture();
    let loop_cs = candidates(&f, FailureClass::Loop, OperatorId::SwapFragment);
    assert!(!loop_cs.is_empty());
    for c in &loop_cs {
        let text = text_at(&c.file, "prompts.system.text").unwrap();
        assert_eq!(text.lines().count(), 2, "replaced, not added: {text}");
        assert!(text.contains("If an action did not change anything"));
    }
    for c in candidates(&f, FailureClass::MalformedCall, OperatorId::SwapFragment) {
        let text = text_at(&c.file, "prompts.system.text").unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(c.manifest.operator.prompt_only());
    }
    let frozen = parse(&FIXTURE.replace("  prompt system", "  @frozen\n  prompt system")).file;
    let target = Target::new(FailureClass::MalformedCall);
    assert!(!operators::applicable(
        OperatorId::SwapFragment,
        &frozen,
        &target
    ));
}

#[test]
fn tool_reliability_prefers_the_tool_in_the_evidence() {
    let f = fixture();
    let target = Target::new(FailureClass::ToolTimeout)
        .with_evidence(vec!["ep 3 step 7: act timed out after 1s".into()]);
    for seed in 0..20 {
        let c = try_propose(
            &f,
            &target,
            OperatorId::ToolReliability,
            &mut Rng::seed(seed),
        );
        let Ok(c) = c else { continue };
        assert!(c.manifest.changes[0].path.starts_with("tools.act."));
        assert_eq!(c.manifest.evidence.len(), 1);
        if let Some(ms) = num_at(&c.file, "tools.act.timeout") {
            assert!((1000.0..=30_000.0).contains(&ms), "{ms}");
        }
        assert_frozen_kept(&f, &c);
    }
    // The finish tool's retries are frozen.
    for c in candidates(
        &f,
        FailureClass::ToolErrorIgnored,
        OperatorId::ToolReliability,
    ) {
        assert_eq!(num_at(&c.file, "tools.finish.retries"), Some(0.0));
    }
}

#[test]
fn add_pin_pins_the_goal() {
    let f = fixture();
    let cs = candidates(&f, FailureClass::ContextOverflow, OperatorId::AddPin);
    assert!(!cs.is_empty());
    for c in &cs {
        assert!(c.source.contains("pin = [system, task.goal]"));
        assert_eq!(
            c.manifest.changes[0].before.as_deref(),
            Some("pin = [system]")
        );
    }
}

#[test]
fn same_seed_same_candidate() {
    let f = fixture();
    for class in FailureClass::ALL {
        for op in operators::all() {
            let a = operators::propose(&f, class, *op, &mut Rng::seed(11));
            let b = operators::propose(&f, class, *op, &mut Rng::seed(11));
            assert_eq!(a, b, "{op} for {class}");
        }
    }
}

#[test]
fn every_class_maps_to_operators_and_unknown_to_all() {
    for class in FailureClass::ALL {
        assert!(!operators::operators_for(class).is_empty(), "{class}");
    }
    assert_eq!(
        operators::operators_for(FailureClass::Unknown),
        operators::all()
    );
    assert!(operators::all().len() >= 8);
    assert!(operators::prompt_only().iter().all(|o| o.prompt_only()));
    assert!(operators::prompt_only().contains(&OperatorId::SwapFragment));
}

#[test]
fn manifests_serialise_in_snake_case() {
    let f = fixture();
    let c = operators::propose(
        &f,
        FailureClass::StepBudget,
        OperatorId::SetNumber,
        &mut Rng::seed(1),
    )
    .unwrap();
    let json = serde_json::to_value(&c.manifest).unwrap();
    assert_eq!(json["operator"], "set_number");
    assert_eq!(json["class"], "step_budget");
    assert_eq!(json["changes"][0]["kind"], "modified");
    let back: Manifest = serde_json::from_value(json).unwrap();
    assert_eq!(back, c.manifest);
}

#[test]
fn annotate_replaces_older_provenance() {
    let f = fixture();
    let target = Target::new(FailureClass::StepBudget).with_evidence(vec!["a".into(); 12]);
    let c = operators::propose_for(&f, &target, OperatorId::SetNumber, &mut Rng::seed(2)).unwrap();
    let mut file = c.file.clone();
    annotate(&mut file, &c.manifest, 3, 0.4, 0.62, 0.008);
    let once = print(&file);
    assert!(once.contains(
        "  # evolved r3: set_number for step_budget (12 episodes), train 0.40 -> 0.62, p = 0.008\n  loop {"
    ));
    annotate(&mut file, &c.manifest, 4, 0.62, 0.7, 0.0001);
    let twice = print(&file);
    assert_eq!(twice.matches("# evolved").count(), 1, "{twice}");
    assert!(twice.contains(
        "# evolved r4: set_number for step_budget (12 episodes), train 0.62 -> 0.70, p < 0.001"
    ));
    assert!(errors(&parse(&twice).file).is_empty());
}

#[test]
fn annotate_notes_a_removed_rule_at_the_end_of_the_harness() {
    let f = fixture();
    let c = operators::propose(
        &f,
        FailureClass::Unknown,
        OperatorId::RemoveRule,
        &mut Rng::seed(0),
    )
    .unwrap();
    let mut file = c.file.clone();
    annotate(&mut file, &c.manifest, 2, 0.5, 0.6, 0.02);
    annotate(&mut file, &c.manifest, 3, 0.6, 0.7, 0.02);
    let out = print(&file);
    assert_eq!(out.matches("# evolved").count(), 1, "{out}");
    let note = out.lines().rev().nth(1).unwrap();
    assert!(
        note.starts_with("  # evolved r3: remove_rule for unknown (0 episodes), train 0.60 -> 0.70, p = 0.020; remove rules["),
        "{note}"
    );
    assert!(errors(&parse(&out).file).is_empty());
}

/// Three shipped rounds on a small harness, each annotated: what a reviewer reads.
#[test]
fn evolved_file_snapshot() {
    let mut file = parse(
        r#"harness tiny {
  model {
    backend = "sim:small" @frozen
  }

  prompt system "You are an agent. Your goal: {{task.goal}}"

  tool act(command: string) "Run one command" { timeout = 1s }
  tool finish(answer: string?) "Declare the task done"
}
"#,
    )
    .file;
    let rounds = [
        (
            FailureClass::MalformedCall,
            OperatorId::InsertRule,
            0.30,
            0.45,
            0.004,
        ),
        (
            FailureClass::StepBudget,
            OperatorId::SetNumber,
            0.45,
            0.52,
            0.031,
        ),
        (
            FailureClass::Loop,
            OperatorId::SwapFragment,
            0.52,
            0.58,
            0.012,
        ),
    ];
    for (round, (class, op, before, after, p)) in rounds.into_iter().enumerate() {
        let target = Target::new(class).with_evidence(vec!["episode".into(); 5 + round]);
        let c = operators::propose_for(&file, &target, op, &mut Rng::seed(round as u64)).unwrap();
        file = c.file;
        annotate(&mut file, &c.manifest, round as u32 + 1, before, after, p);
    }
    insta::assert_snapshot!(print(&file), @r###"
harness tiny {
  model {
    backend = "sim:small" @frozen
  }

  # evolved r2: set_number for step_budget (6 episodes), train 0.45 -> 0.52, p = 0.031
  loop {
    max_steps = 45
  }

  # evolved r3: swap_fragment for loop (7 episodes), train 0.52 -> 0.58, p = 0.012
  prompt system """
    You are an agent. Your goal: {{task.goal}}
    Keep track of what you have already tried and where you have already been.
  """

  tool act(command: string) "Run one command" { timeout = 1s }
  tool finish(answer: string?) "Declare the task done"

  # evolved r1: insert_rule for malformed_call (5 episodes), train 0.30 -> 0.45, p = 0.004
  on after_model as repair_call when malformed_call {
    repair extract_action
    otherwise reprompt "Reply with one tool call only, like name(\"argument\")."
  }
}
"###);
}

/// A loop under constrained decoding is the model choosing the same offered action again:
/// `switch_enum` stops offering what it already did, whatever its random draw.
#[test]
fn a_loop_under_constrained_decoding_switches_to_untried_offers_first() {
    let src = r#"harness h "" {
  model {
    decoding = constrained
  }
  prompt system "Play the game."
  tool act(command: string) "Run a command"
}
"#;
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let cs = candidates(&parsed.file, FailureClass::Loop, OperatorId::SwitchEnum);
    assert_eq!(cs.len(), 40);
    for c in &cs {
        assert_eq!(c.manifest.changes[0].path, "model.offer");
        assert_eq!(
            text_at(&c.file, "model.offer").unwrap(),
            r#"Ident("untried_since_reward")"#
        );
    }
    // Once it offers only untried actions, the other loop remedies come back, beside the
    // other untried variants; none goes back to offering everything.
    let untried = &cs[0].file;
    let next = candidates(untried, FailureClass::Loop, OperatorId::SwitchEnum);
    assert!(next
        .iter()
        .any(|c| c.manifest.changes[0].path.starts_with("loop")));
    for c in &next {
        if c.manifest.changes[0].path == "model.offer" {
            let to = text_at(&c.file, "model.offer").unwrap();
            assert!(to.starts_with(r#"Ident("untried"#), "{to}");
        }
    }
}
