//! Front-end throughput: parse, parse + check, and fmt on generated harnesses of about
//! 300 and 3,000 lines.
//!
//! `cargo bench -p harnessx-benches` runs everything; `-- --quick` gives rough numbers
//! fast, and a filter such as `-- parse/3000` picks one benchmark.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use harnessx_benches::generate;

fn frontend(c: &mut Criterion) {
    for lines in [300usize, 3_000] {
        let src = generate(lines);
        let parsed = harnessx_syntax::parse(&src);
        assert!(parsed.errors.is_empty(), "generated input must parse");
        let file = parsed.file;

        let mut group = c.benchmark_group(format!("frontend/{lines}_lines"));
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.measurement_time(Duration::from_secs(4));
        group.warm_up_time(Duration::from_secs(1));
        group.sample_size(if lines > 1_000 { 30 } else { 60 });

        group.bench_function("parse", |b| {
            b.iter(|| harnessx_syntax::parse(black_box(&src)))
        });
        group.bench_function("parse+check", |b| {
            b.iter(|| harnessx_compiler::check_source(black_box(&src)))
        });
        group.bench_function("check", |b| {
            b.iter(|| harnessx_compiler::check_file(black_box(&file)))
        });
        group.bench_function("print", |b| {
            b.iter(|| harnessx_syntax::printer::print(black_box(&file)))
        });
        group.bench_function("fmt", |b| {
            b.iter(|| harnessx_syntax::printer::format_source(black_box(&src)))
        });
        group.finish();
    }
}

criterion_group!(benches, frontend);
criterion_main!(benches);
