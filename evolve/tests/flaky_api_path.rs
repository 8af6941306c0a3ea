//! On flaky_api the distance between the plain seed (`examples/flaky_api.harness`) and a
//! well-written harness is made of library rules: `insert_rule` for the classes the digester
//! finds there (errors given up on, a notification sent twice, an unverified finish) builds
//! a harness that beats the seed clearly on `sim:small` (simulated).

use harnessx_compiler::lower::lower_source;
use harnessx_evolve::digest::REPEATED_EFFECT;
use harnessx_evolve::manifest::{FailureClass, OperatorId};
use harnessx_evolve::operators::{try_propose, Rng, Target};
use harnessx_runtime::models::sim::Tier;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes, Summary};
use harnessx_syntax::{parse, File};

const SEED: &str = include_str!("../../examples/flaky_api.harness");

fn success(source: &str, n: u64) -> f64 {
    let ir = lower_source(source).unwrap_or_else(|d| panic!("{d:?}"));
    let rules = InterpretedRules::new(&ir);
    let mut s = Summary::default();
    let model = ModelSpec::Sim(Tier::Small);
    run_episodes(&ir, &rules, "flaky_api", &model, n, 7, |e| s.add(&e.result))
        .unwrap_or_else(|e| panic!("{e}"));
    100.0 * s.success_rate()
}

/// The first candidate (over a few draws) of `insert_rule` for `target` whose source
/// contains `wanted`.
fn insert(file: &File, target: &Target, wanted: &str) -> File {
    (0..20)
        .filter_map(|seed| {
            try_propose(file, target, OperatorId::InsertRule, &mut Rng::seed(seed)).ok()
        })
        .find(|c| c.source.contains(wanted))
        .unwrap_or_else(|| panic!("no candidate with {wanted:?}"))
        .file
}

#[test]
fn library_rules_reach_a_well_written_flaky_api_harness() {
    let seed = parse(SEED).file;
    let errors = Target::new(FailureClass::ToolErrorIgnored).with_evidence(vec![
        "task 2 seed 1 step 4: `update(\"T-1\", [\"status=closed\"])` failed, then `finish(\"done\")` without a retry: 503 Service Unavailable".into(),
    ]);
    let twice = Target::new(FailureClass::Loop).with_evidence(vec![format!(
        "task 5 seed 1 step 7: `notify(\"sms\", \"T-1 done\")` changed the state again after it had already succeeded at step 5 {REPEATED_EFFECT}: notify(\"sms\", \"T-1 done\")"
    )]);
    let early = Target::new(FailureClass::PrematureFinish);
    let f = insert(&seed, &errors, "retry(max = 3");
    let f = insert(&f, &twice, "when call(notify) and repeated_action(");
    let f = insert(&f, &early, "when call(finish) and not verified");
    let evolved = harnessx_syntax::print(&f);

    let n = 200;
    let (before, after) = (success(SEED, n), success(&evolved, n));
    println!("sim:small (simulated), {n} tasks: seed {before}% -> three library rules {after}%");
    // Measured (simulated, 200 tasks): 38% -> 50%. Before constrained decoding stopped
    // turning malformed replies into the right call, the same rules took it 56% -> 88%.
    assert!(
        after >= before + 8.0,
        "seed {before}% -> {after}%\n{evolved}"
    );
}
