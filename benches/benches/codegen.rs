//! The whole front end to Rust source: parse + check + lower + codegen on generated
//! harnesses of about 100, 300, 1,000 and 10,000 lines (the generator of `frontend`).
//!
//! Throughput is the harness's actual line count, so criterion prints lines per second and
//! the cost per line can be compared across sizes (flat per-line cost: linear growth).
//!
//! `cargo bench -p harnessx-benches --bench codegen`; `-- --quick` gives rough numbers
//! fast.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harnessx_benches::generate;

fn pipeline(src: &str) -> String {
    let checked = harnessx_compiler::check_source(src);
    assert!(!checked.has_errors(), "generated input must check");
    let ir = harnessx_compiler::lower::lower(&checked.file).expect("lowers");
    harnessx_compiler::codegen::generate_module(&ir).expect("generates")
}

fn codegen(c: &mut Criterion) {
    for lines in [100usize, 300, 1_000, 10_000] {
        let src = generate(lines);
        // Fail before measuring if any stage rejects the input.
        black_box(pipeline(&src));

        let mut group = c.benchmark_group(format!("codegen/{lines}_lines"));
        group.throughput(Throughput::Elements(src.lines().count() as u64));
        group.measurement_time(Duration::from_secs(if lines > 1_000 { 8 } else { 4 }));
        group.warm_up_time(Duration::from_secs(1));
        group.sample_size(if lines > 1_000 { 10 } else { 40 });
        group.bench_function("parse+check+lower+codegen", |b| {
            b.iter(|| pipeline(black_box(&src)))
        });
        group.finish();
    }
}

criterion_group!(benches, codegen);
criterion_main!(benches);
