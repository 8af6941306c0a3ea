//! One generation's build through the build driver: `harnessx_compiler::build::build`, the
//! call behind `harnessx build`, `harnessx run` and the evolution gate's compile step
//! (generate the batch crate, write it, `cargo build` it in the debug profile). Timed for
//! one harness and for a batch of four (an evolution round's candidates), in four
//! situations, each a group:
//!
//! - `build/cold`: an empty cache directory and an empty target directory, so cargo also
//!   compiles every dependency (the runtime, serde, regex, ...). A minute or more per build
//!   on a small machine; `HARNESSX_BENCH_COLD=0` skips the group.
//! - `build/new_generation`: the dependencies are already compiled in the shared target
//!   directory and every harness of the batch is new, so the driver writes a new crate and
//!   cargo compiles that crate alone.
//! - `build/incremental`: the previous batch (built) with one harness changed. The driver
//!   names a crate by the hash of its harnesses, so this is a new crate too and cargo has
//!   no incremental state to reuse; with one harness it is the same as a new generation.
//! - `build/unchanged`: the same batch once more: nothing is written and cargo finds
//!   everything fresh. The floor of any build (codegen, file comparison, cargo's check).
//!
//! The harnesses are the household example with `loop.max_steps` changed per harness, so
//! each batch is new. Only the `build` call is timed; priming the shared target and
//! deleting each built crate with its artifacts happen outside the timing, so the cache
//! does not grow and a rerun measures the same work. The cache is
//! `target/bench-build-driver/` (`warm/` keeps the compiled dependencies between runs).
//!
//! `cargo bench -p harnessx-benches --bench build_driver` runs it (ten builds per
//! measurement after one warm-up build); with `-- --quick` each measurement is one build.
//! The target does nothing outside `cargo bench` (`cargo test --benches` would otherwise
//! compile the dependencies from scratch).

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use harnessx_compiler::build::{build, workspace_dir, BuildOptions, GeneratedCrate};
use harnessx_runtime::ir::HarnessIr;

/// Batch sizes: one harness, and the four candidates of an evolution round.
const SIZES: [(usize, &str); 2] = [(1, "1_harness"), (4, "4_harnesses")];

/// The environment variable that skips the cold group when set to `0`.
const COLD_ENV: &str = "HARNESSX_BENCH_COLD";

struct Bench {
    household: HarnessIr,
    root: PathBuf,
    /// Tags handed out so far; each new harness gets the next one.
    next_tag: Cell<u32>,
    /// Whether the warm cache's dependencies were compiled in this run.
    primed: Cell<bool>,
}

impl Bench {
    fn new() -> Bench {
        let path = workspace_dir().join("examples/household.harness");
        let src = std::fs::read_to_string(&path).expect("read examples/household.harness");
        let household =
            harnessx_compiler::lower::lower_source(&src).expect("household example lowers");
        Bench {
            household,
            root: workspace_dir().join("target/bench-build-driver"),
            next_tag: Cell::new(0),
            primed: Cell::new(false),
        }
    }

    fn warm(&self) -> BuildOptions {
        BuildOptions {
            cache_dir: Some(self.root.join("warm")),
            release: false,
        }
    }

    /// The household example with `max_steps` set from `tag` (100..=999: legal values).
    fn variant(&self, tag: u32) -> HarnessIr {
        let mut ir = self.household.clone();
        ir.loop_.max_steps = 100 + tag % 900;
        ir
    }

    /// `n` harnesses never handed out before in this run.
    fn fresh_batch(&self, n: usize) -> Vec<HarnessIr> {
        (0..n).map(|_| self.fresh()).collect()
    }

    fn fresh(&self) -> HarnessIr {
        let tag = self.next_tag.get();
        self.next_tag.set(tag + 1);
        self.variant(tag)
    }

    /// Compiles the dependencies into the warm cache once per run (a no-op when an
    /// earlier run left them there): one build, then its crate is deleted.
    fn prime(&self) {
        if self.primed.replace(true) {
            return;
        }
        let built = build(&self.fresh_batch(1), &self.warm()).expect("priming build");
        remove_crate(&built.krate);
    }

    /// Builds `irs` and returns the wall time of the `build` call alone.
    fn timed_build(&self, irs: &[HarnessIr], opts: &BuildOptions) -> (Duration, GeneratedCrate) {
        let started = Instant::now();
        let built = build(black_box(irs), opts).unwrap_or_else(|e| panic!("build failed: {e}"));
        let elapsed = started.elapsed();
        (elapsed, black_box(built).krate)
    }
}

/// Deletes a built crate and everything cargo made for it in the shared target directory
/// (binary, library, dep-info, fingerprints, incremental state), so nothing of it is
/// reused and the cache does not grow.
fn remove_crate(krate: &GeneratedCrate) {
    let _ = std::fs::remove_dir_all(&krate.dir);
    let names = [krate.package.clone(), krate.lib_name()];
    let debug = krate.target_dir.join("debug");
    for dir in [
        debug.clone(),
        debug.join("deps"),
        debug.join(".fingerprint"),
        debug.join("incremental"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let name = file_name.to_string_lossy();
            if names.iter().any(|n| name.contains(n.as_str())) {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

fn remove_dir(path: &Path) {
    if path.exists() {
        std::fs::remove_dir_all(path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
    }
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    // Builds take seconds to minutes: one build per sample, ten samples, one warm-up build.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
}

fn cold(c: &mut Criterion, b: &Bench) {
    if std::env::var(COLD_ENV).is_ok_and(|v| v.trim() == "0") {
        println!("build/cold: skipped ({COLD_ENV}=0)");
        return;
    }
    let mut group = c.benchmark_group("build/cold");
    configure(&mut group);
    for (n, id) in SIZES {
        group.bench_function(id, |bencher| {
            bencher.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir =
                        b.root
                            .join(format!("cold-{}-{}", std::process::id(), b.next_tag.get()));
                    remove_dir(&dir);
                    let opts = BuildOptions {
                        cache_dir: Some(dir.clone()),
                        release: false,
                    };
                    let (t, _) = b.timed_build(&b.fresh_batch(n), &opts);
                    total += t;
                    remove_dir(&dir);
                }
                total
            })
        });
    }
    group.finish();
}

fn new_generation(c: &mut Criterion, b: &Bench) {
    let mut group = c.benchmark_group("build/new_generation");
    configure(&mut group);
    for (n, id) in SIZES {
        group.bench_function(id, |bencher| {
            bencher.iter_custom(|iters| {
                b.prime();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (t, krate) = b.timed_build(&b.fresh_batch(n), &b.warm());
                    total += t;
                    remove_crate(&krate);
                }
                total
            })
        });
    }
    group.finish();
}

fn incremental(c: &mut Criterion, b: &Bench) {
    let mut group = c.benchmark_group("build/incremental");
    configure(&mut group);
    for (n, id) in SIZES {
        // The last built batch and its crate: each iteration changes its first harness.
        let previous: RefCell<Option<(Vec<HarnessIr>, GeneratedCrate)>> = RefCell::new(None);
        group.bench_function(id, |bencher| {
            bencher.iter_custom(|iters| {
                b.prime();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (mut batch, old) = previous.borrow_mut().take().unwrap_or_else(|| {
                        let batch = b.fresh_batch(n);
                        let built = build(&batch, &b.warm()).expect("first batch builds");
                        (batch, built.krate)
                    });
                    batch[0] = b.fresh();
                    let (t, krate) = b.timed_build(&batch, &b.warm());
                    total += t;
                    remove_crate(&old);
                    *previous.borrow_mut() = Some((batch, krate));
                }
                total
            })
        });
        if let Some((_, krate)) = previous.into_inner() {
            remove_crate(&krate);
        }
    }
    group.finish();
}

fn unchanged(c: &mut Criterion, b: &Bench) {
    let mut group = c.benchmark_group("build/unchanged");
    configure(&mut group);
    for (n, id) in SIZES {
        // A fixed batch (max_steps 1..=n, never handed out by `fresh`), kept between runs.
        let batch: Vec<HarnessIr> = (0..n as u32)
            .map(|i| {
                let mut ir = b.household.clone();
                ir.loop_.max_steps = 1 + i;
                ir
            })
            .collect();
        group.bench_function(id, |bencher| {
            bencher.iter_custom(|iters| {
                b.prime();
                build(&batch, &b.warm()).expect("batch builds");
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += b.timed_build(&batch, &b.warm()).0;
                }
                total
            })
        });
    }
    group.finish();
}

fn build_driver(c: &mut Criterion) {
    // Criterion's test mode (`cargo test --benches`) passes no `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("build_driver: runs under `cargo bench` only");
        return;
    }
    let b = Bench::new();
    std::fs::create_dir_all(&b.root).expect("create the bench cache directory");
    new_generation(c, &b);
    incremental(c, &b);
    unchanged(c, &b);
    cold(c, &b);
}

criterion_group!(benches, build_driver);
criterion_main!(benches);
