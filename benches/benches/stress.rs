//! Time and peak heap of the front end on oversized input: the regression fixtures of
//! `tests/tests/stress.rs` (`harnessx_tests::stress`) and a 10,000-rule file.
//!
//! ```text
//! cargo bench -p harnessx-benches --bench stress
//! ```
//!
//! prints a Markdown table; with `HARNESSX_BENCH_WRITE_DOCS=1` it also writes it into
//! docs/TESTING.md ("Oversized input", section `stress`). Each stage is timed on
//! its own, the fastest of `RUNS` runs (the least disturbed by other work on a shared
//! machine); "peak heap" is the most memory the stage had allocated at once on top of its
//! input, counted by a global allocator wrapper. Not criterion: a 2 MB input needs no
//! statistics to show whether it takes milliseconds or seconds, and criterion cannot
//! count memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harnessx_compiler::codegen::generate_module;
use harnessx_compiler::{check_source, lower};
use harnessx_syntax::lex::MAX_NESTING;
use harnessx_syntax::printer::print;
use harnessx_tests::stress::{self, Nesting};

const RUNS: usize = 5;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` `RUNS` times: the fastest time, and the peak heap above what was live before
/// (the same every run; taken from the first).
fn measure<T>(mut f: impl FnMut() -> T) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut peak = 0;
    for run in 0..RUNS {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let start = Instant::now();
        let out = black_box(f());
        best = best.min(start.elapsed());
        if run == 0 {
            peak = PEAK.load(Ordering::Relaxed) - base;
        }
        drop(out);
    }
    (best, peak)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn bytes(n: usize) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.0} KB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

struct Row {
    name: String,
    bytes: usize,
    check: (Duration, usize),
    fmt: Option<(Duration, usize)>,
    codegen: Option<(Duration, usize)>,
    result: String,
}

fn row(name: impl Into<String>, src: &str) -> Row {
    let checked = check_source(src);
    let errors: Vec<&str> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == harnessx_compiler::Severity::Error)
        .map(|d| d.code.as_str())
        .collect();
    let parses = !errors.iter().any(|c| c.starts_with("E000"));
    let fmt = parses.then(|| measure(|| print(&checked.file)));
    let codegen = errors.is_empty().then(|| {
        measure(|| {
            let ir = lower::lower(&checked.file).expect("a checked file lowers");
            generate_module(&ir).expect("generates")
        })
    });
    let mut codes = errors.clone();
    codes.dedup();
    Row {
        name: name.into(),
        bytes: src.len(),
        check: measure(|| check_source(src)),
        fmt,
        codegen,
        result: if codes.is_empty() {
            "checks".into()
        } else {
            format!("`{}`", codes.join("`, `"))
        },
    }
}

fn main() {
    let load_before = harnessx_benches::concurrency::load_average()
        .map_or_else(|| "unknown".to_string(), |l| format!("{l:.2}"));
    let mut rows = Vec::new();
    for n in [1_000, 5_000, 10_000] {
        rows.push(row(format!("{n} rules"), &stress::many_rules(n)));
    }
    rows.push(row("2 MB string line", &stress::long_line(2_000_000)));
    rows.push(row("2 MB comment line", &stress::long_comment(2_000_000)));
    rows.push(row(
        "2 MB line of errors",
        &stress::long_garbage_line(2_000_000),
    ));
    for kind in Nesting::ALL {
        let depth = MAX_NESTING - 2;
        rows.push(row(
            format!("{} × {depth} ({})", kind.name(), "at the limit"),
            &stress::deep(kind, depth),
        ));
    }
    rows.push(row(
        "parens × 200,000 (beyond the limit)",
        &stress::deep(Nesting::Parens, 200_000),
    ));

    let mut out = String::new();
    out.push_str("| input | size | result | parse + check | peak heap | fmt | peak heap | lower + codegen | peak heap |\n");
    out.push_str("|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
    let cell = |m: Option<(Duration, usize)>| match m {
        Some((t, p)) => format!("{} | {}", ms(t), bytes(p)),
        None => "– | –".into(),
    };
    for r in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            bytes(r.bytes),
            r.result,
            cell(Some(r.check)),
            cell(r.fmt),
            cell(r.codegen)
        ));
    }
    let per_rule = |i: usize, n: f64| rows[i].check.0.as_secs_f64() / n;
    out.push_str(&format!(
        "\nParse + check per rule: {:.1} µs at 1,000 rules, {:.1} µs at 10,000 ({:.2}x).\n",
        per_rule(0, 1e3) * 1e6,
        per_rule(2, 1e4) * 1e6,
        per_rule(2, 1e4) / per_rule(0, 1e3)
    ));
    print!("{out}");
    // With HARNESSX_BENCH_WRITE_DOCS=1 (scripts/benchmarks.sh sets it) the table also
    // becomes docs/TESTING.md's section `stress`, so the doc's figures are this command's.
    if std::env::var_os("HARNESSX_BENCH_WRITE_DOCS").is_some_and(|v| v == "1") {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/TESTING.md");
        let body = format!(
            "Generated by `HARNESSX_BENCH_WRITE_DOCS=1 cargo bench -p harnessx-benches --bench \
             stress` (run by scripts/benchmarks.sh) on {} core(s), one-minute load average \
             before the run {}. Times are the fastest of {RUNS} runs.\n\n{out}",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_before,
        );
        harnessx_runtime::doc_sections::write_section(&doc, "stress", &body)
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        eprintln!("wrote section `stress` of {}", doc.display());
    }
}
