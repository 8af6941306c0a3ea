//! Runtime overhead per step: whole episodes of each example harness against the key_door
//! environment and a scripted model, so the numbers measure the engine (hooks, rules,
//! context, parsing, tracing into memory) and nothing else.
//!
//! Throughput is reported in steps, so criterion prints time per step directly.
//! `cargo bench -p harnessx-benches --bench runtime` runs it; add `-- --quick` for rough
//! numbers fast.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harnessx_runtime::envs::KeyDoor;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::model::{ScriptedModel, WhenExhausted};
use harnessx_runtime::rules::{InterpretedRules, RuleSet};
use harnessx_runtime::trace::VecSink;
use harnessx_runtime::{run_with_rules, EpisodeResult};

/// Solves key_door whichever container holds the key (after a few wasted opens), with one
/// reply in prose so repair rules have work to do; cycling keeps long episodes going.
const SCRIPT: &[&str] = &[
    r#"open("drawer")"#,
    r#"I will open("box") now."#,
    r#"open("shelf")"#,
    r#"take("key")"#,
    r#"open("door")"#,
    r#"go("garden")"#,
    "finish()",
];

const SEED: u64 = 42;

fn examples() -> Vec<(String, HarnessIr)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "harness"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let src = std::fs::read_to_string(p).expect("read example");
            let ir = harnessx_compiler::lower::lower_source(&src).expect("example lowers");
            (ir.name.clone(), ir)
        })
        .collect()
}

fn episode<R: RuleSet + ?Sized>(ir: &HarnessIr, rules: &R) -> (EpisodeResult, VecSink) {
    let mut model = ScriptedModel::new(SCRIPT.iter().copied(), WhenExhausted::Cycle);
    let mut sink = VecSink::default();
    let r = run_with_rules(
        ir,
        rules,
        &mut model,
        &mut KeyDoor::new(),
        0,
        SEED,
        &mut sink,
    );
    (r, sink)
}

fn runtime(c: &mut Criterion) {
    for (name, ir) in examples() {
        let interpreted = InterpretedRules::new(&ir);
        let (result, _) = episode(&ir, &interpreted);
        let steps = u64::from(result.steps.max(1));

        let mut group = c.benchmark_group(format!("runtime/{name}"));
        group.throughput(Throughput::Elements(steps));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        group.sample_size(30);
        group.bench_function("interpreted", |b| {
            b.iter(|| episode(black_box(&ir), &interpreted))
        });
        group.finish();
    }
}

criterion_group!(benches, runtime);
criterion_main!(benches);
