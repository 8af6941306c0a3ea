//! Criterion's results as Markdown: the "Compiler and runtime benchmarks" section of the
//! benchmark report, read from what `cargo bench -p harnessx-benches` left under
//! `target/criterion/`. The `criterion-report` binary prints it; `scripts/benchmarks.sh`
//! passes it to `harnessx bench evolution --criterion-md`, which includes it in
//! docs/BENCHMARKS.md.
//!
//! For every benchmark criterion writes `<group>/<function>/new/benchmark.json` (its ids
//! and declared throughput), `estimates.json` (times in nanoseconds with 95% intervals) and
//! `sample.json` (the raw samples). Directory names are criterion's sanitized ids, so this
//! reader finds benchmarks by the ids inside `benchmark.json`, not by directory name.
//!
//! Three tables, one per question the benches answer: how the front end's cost grows with
//! harness size (`codegen`), what a step costs in the engine against the simulated model's
//! own step (`runtime`), and what one generation's build costs (`build_driver`). A bench
//! that has not been run gives a line naming the command to run, never a number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// The front end at these sizes (`codegen/<n>_lines`).
const CODEGEN_SIZES: [u64; 4] = [100, 300, 1_000, 10_000];
const CODEGEN_FUNCTION: &str = "parse+check+lower+codegen";
const CODEGEN_CMD: &str = "cargo bench -p harnessx-benches --bench codegen";
const RUNTIME_CMD: &str = "cargo bench -p harnessx-benches --bench runtime";
const BUILD_CMD: &str = "cargo bench -p harnessx-benches --bench build_driver";
/// The group of the simulated-model comparison.
const SIM_GROUP: &str = "sim_step/household";
/// Build situations: group, label.
const BUILD_ROWS: [(&str, &str); 4] = [
    ("build/cold", "cold (empty cache and target)"),
    (
        "build/new_generation",
        "new generation (dependencies built)",
    ),
    ("build/incremental", "previous batch, one harness changed"),
    ("build/unchanged", "unchanged batch (nothing to do)"),
];
/// Fewer samples than this mark a result as rough (a `--quick` run).
const FULL_SAMPLES: usize = 10;

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
struct Estimate {
    /// Typical time per iteration in nanoseconds: criterion's slope where it fitted one,
    /// else the mean (what criterion itself prints as `time`).
    ns: f64,
    lower: f64,
    upper: f64,
    /// Declared throughput per iteration: `Elements` (steps, lines) or bytes.
    elements: Option<u64>,
    /// How many samples criterion took.
    samples: usize,
    /// When criterion wrote the result (seconds since the Unix epoch, from the file's
    /// modification time), so results left over from an earlier run can be named.
    written: Option<u64>,
}

impl Estimate {
    fn rough(&self) -> bool {
        self.samples < FULL_SAMPLES
    }

    /// Time per element (per step, per line), when elements were declared.
    fn per_element(&self) -> Option<f64> {
        self.elements.filter(|&n| n > 0).map(|n| self.ns / n as f64)
    }

    /// `6.64 ms [6.63, 6.69]`, with `*` when rough.
    fn cell(&self) -> String {
        format!(
            "{} [{}, {}]{}",
            fmt_ns(self.ns),
            fmt_ns_in(self.lower, self.ns),
            fmt_ns_in(self.upper, self.ns),
            if self.rough() { " *" } else { "" }
        )
    }
}

/// Results by (group id, function id).
type Results = BTreeMap<(String, String), Estimate>;

/// The Markdown section for the criterion results under `criterion_dir` (usually
/// `target/criterion`). A missing directory or missing benchmarks are reported in the
/// text; only unreadable or malformed result files are errors.
pub fn render(criterion_dir: &Path) -> Result<String, String> {
    let mut results = Results::new();
    if criterion_dir.is_dir() {
        collect(criterion_dir, 0, &mut results)?;
    }
    let mut s = String::new();
    let _ = writeln!(s, "## Compiler and runtime benchmarks (criterion)\n");
    let _ = writeln!(
        s,
        "From the results criterion last wrote. A time is criterion's typical time per \
         iteration (the slope of its fit where it made one, else the mean) with its 95% \
         interval in brackets; ratios divide typical times. `*` marks a result from fewer \
         than {FULL_SAMPLES} samples (a `-- --quick` run): rough. Single runs on one \
         machine, which may be noisy.\n"
    );
    if results.is_empty() {
        let _ = writeln!(
            s,
            "No criterion results found. Run `cargo bench -p harnessx-benches` (or the \
             commands below, one per table).\n"
        );
    }
    frontend(&mut s, &results);
    steps(&mut s, &results);
    builds(&mut s, &results);
    stale(&mut s, &results);
    Ok(s)
}

/// Results written this long before the newest one come from an earlier run: a whole
/// `cargo bench -p harnessx-benches` run, cold builds included, takes about 25 minutes here.
const STALE_AFTER_SECS: u64 = 30 * 60;

/// Names the results that an earlier run of the benches wrote (e.g. cold builds skipped
/// with `HARNESSX_BENCH_COLD=0` in the latest run), with the date they were measured.
fn stale(s: &mut String, results: &Results) {
    let Some(newest) = results.values().filter_map(|e| e.written).max() else {
        return;
    };
    let old: Vec<String> = results
        .iter()
        .filter_map(|((group, function), e)| {
            let w = e.written?;
            (w + STALE_AFTER_SECS < newest)
                .then(|| format!("`{group}/{function}` ({} UTC)", utc_minute(w)))
        })
        .collect();
    if !old.is_empty() {
        let _ = writeln!(
            s,
            "Not from the latest run of the benches (criterion results written more than half \
             an hour before the newest, {} UTC, so measured by an earlier run of the same \
             benches): {}.\n",
            utc_minute(newest),
            old.join(", ")
        );
    }
}

/// `2026-11-26 05:58` for seconds since the Unix epoch (proleptic Gregorian, UTC).
fn utc_minute(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

/// Finds every `new/benchmark.json` at most a few levels down.
fn collect(dir: &Path, depth: usize, out: &mut Results) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        if d.file_name().is_some_and(|n| n == "new") {
            if d.join("benchmark.json").is_file() {
                let (key, estimate) = read_result(&d)?;
                out.insert(key, estimate);
            }
        } else if depth < 3 && d.file_name().is_some_and(|n| n != "report") {
            collect(&d, depth + 1, out)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// One benchmark from its `new/` directory.
fn read_result(new: &Path) -> Result<((String, String), Estimate), String> {
    let bench_path = new.join("benchmark.json");
    let bench = read_json(&bench_path)?;
    let malformed = |path: &Path, what: &str| format!("{}: no {what}", path.display());
    let group = bench["group_id"]
        .as_str()
        .ok_or_else(|| malformed(&bench_path, "group_id"))?
        .to_string();
    let function = bench["function_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let elements = bench["throughput"]["Elements"].as_u64();

    let est_path = new.join("estimates.json");
    let est = read_json(&est_path)?;
    let written = std::fs::metadata(&est_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let typical = if est["slope"].is_object() {
        &est["slope"]
    } else {
        &est["mean"]
    };
    let number = |v: &Value, what: &str| v.as_f64().ok_or_else(|| malformed(&est_path, what));
    let ns = number(&typical["point_estimate"], "point_estimate")?;
    let ci = &typical["confidence_interval"];
    let lower = number(&ci["lower_bound"], "lower_bound")?;
    let upper = number(&ci["upper_bound"], "upper_bound")?;
    // The sample count is informative only: a missing sample.json is not an error.
    let samples = read_json(&new.join("sample.json"))
        .ok()
        .and_then(|v| v["iters"].as_array().map(Vec::len))
        .unwrap_or(0);
    Ok((
        (group, function),
        Estimate {
            ns,
            lower,
            upper,
            elements,
            samples,
            written,
        },
    ))
}

fn get<'a>(r: &'a Results, group: &str, function: &str) -> Option<&'a Estimate> {
    r.get(&(group.to_string(), function.to_string()))
}

fn command(s: &mut String, cmd: &str) {
    let _ = writeln!(s, "```\n{cmd}\n```\n");
}

fn rough_note(s: &mut String, any_rough: bool) {
    if any_rough {
        let _ = writeln!(
            s,
            "`*` fewer than {FULL_SAMPLES} samples (`-- --quick`): rerun without `--quick` \
             for firm numbers.\n"
        );
    }
}

/// Parse + check + lower + codegen by harness size.
fn frontend(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### Front end by harness size\n");
    let _ = writeln!(
        s,
        "Parse + check + lower + codegen of one generated harness (`benches/lib.rs`), from \
         source text to the Rust module. Per line: time divided by the harness's line \
         count; a flat per-line cost means linear growth.\n"
    );
    command(s, CODEGEN_CMD);
    let found: Vec<(u64, Option<&Estimate>)> = CODEGEN_SIZES
        .iter()
        .map(|&n| (n, get(r, &format!("codegen/{n}_lines"), CODEGEN_FUNCTION)))
        .collect();
    if found.iter().all(|(_, e)| e.is_none()) {
        let _ = writeln!(s, "No results for `codegen` yet: run `{CODEGEN_CMD}`.\n");
        return;
    }
    // Lines: the declared throughput; older runs declared bytes, so fall back to the size
    // asked for, marked as approximate.
    let lines = |n: u64, e: &Estimate| match e.elements {
        Some(l) if l > 0 => (l as f64, group_digits(l)),
        _ => (n as f64, format!("about {n}")),
    };
    let base = found[0].1.map(|e| (e.ns, e.ns / lines(found[0].0, e).0));
    let _ = writeln!(
        s,
        "| harness | lines | time | vs 100 lines | per line | per line vs 100 lines |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for (n, e) in &found {
        let label = format!("{} lines", group_digits(*n));
        match e {
            Some(e) => {
                let (count, shown) = lines(*n, e);
                let per_line = e.ns / count;
                let (vs, per_vs) = match base {
                    Some((t, p)) => (fmt_ratio(e.ns / t), fmt_ratio(per_line / p)),
                    None => ("—".into(), "—".into()),
                };
                let _ = writeln!(
                    s,
                    "| {label} | {shown} | {} | {vs} | {} | {per_vs} |",
                    e.cell(),
                    fmt_ns(per_line)
                );
            }
            None => {
                let _ = writeln!(s, "| {label} | — | not run | — | — | — |");
            }
        }
    }
    let _ = writeln!(s);
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(n, _)| format!("`codegen/{n}_lines`"))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            s,
            "No results for {}: run `{CODEGEN_CMD}`.\n",
            missing.join(", ")
        );
    }
    let last = found.len() - 1;
    if let (Some(small), Some(large)) = (found[0].1, found[last].1) {
        let size = lines(10_000, large).0 / lines(100, small).0;
        let _ = writeln!(
            s,
            "From 100 to 10,000 lines ({} the lines) the time grows {}.\n",
            fmt_ratio(size),
            fmt_ratio(large.ns / small.ns)
        );
    }
    rough_note(s, found.iter().any(|(_, e)| e.is_some_and(Estimate::rough)));
}

/// Per step: the engine, interpreted and compiled, against the simulated model.
fn steps(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### Per step: engine vs the simulated model\n");
    let steps = r
        .iter()
        .find(|((g, _), _)| g == SIM_GROUP)
        .and_then(|(_, e)| e.elements)
        .map_or(String::new(), |n| format!(" ({n} steps)"));
    let _ = writeln!(
        s,
        "`{SIM_GROUP}`: the household example on the household environment with `sim:small` \
         (simulated), eight episodes{steps}; every row is divided by the same steps. The model and \
         the environment are timed alone on the calls recorded from those episodes; \
         \"engine + env\" plays the recorded replies back, so it is the episodes without the \
         model; \"engine alone\" subtracts the environment.\n"
    );
    command(s, &format!("{RUNTIME_CMD} -- {SIM_GROUP}"));
    let per_step = |f: &str| get(r, SIM_GROUP, f).and_then(|e| e.per_element().map(|t| (t, e)));
    let model = per_step("model_only");
    let env = per_step("env_only");
    let engine_i = per_step("engine_interpreted");
    let engine_c = per_step("engine_compiled");
    let whole_i = per_step("episode_interpreted");
    let whole_c = per_step("episode_compiled");
    let any_sim = [model, env, engine_i, engine_c, whole_i, whole_c]
        .iter()
        .any(Option::is_some);
    // A difference of two results: rough when either is.
    let alone = |engine: Option<(f64, &Estimate)>| match (engine, env) {
        (Some((t, a)), Some((e, b))) => Some((t - e, a.rough() || b.rough())),
        _ => None,
    };
    let alone_i = alone(engine_i);
    let alone_c = alone(engine_c);
    if any_sim {
        let reference = whole_i.map(|(t, _)| t);
        let _ = writeln!(
            s,
            "| what is timed | per step | share of a whole simulated step (interpreted) |"
        );
        let _ = writeln!(s, "|---|---:|---:|");
        let share = |t: f64| reference.map_or("—".to_string(), |w| fmt_percent(t / w));
        let mut row = |label: &str, v: Option<(f64, &Estimate)>| {
            let _ = match v {
                Some((t, e)) => writeln!(
                    s,
                    "| {label} | {}{} | {} |",
                    fmt_ns(t),
                    if e.rough() { " *" } else { "" },
                    share(t)
                ),
                None => writeln!(s, "| {label} | not run | — |"),
            };
        };
        row("sim:small model alone", model);
        row("household environment alone", env);
        row("engine + env, interpreted", engine_i);
        row("engine + env, compiled", engine_c);
        row("whole sim:small step, interpreted", whole_i);
        row("whole sim:small step, compiled", whole_c);
        for (label, v) in [
            ("engine alone, interpreted (engine + env − env)", alone_i),
            ("engine alone, compiled (engine + env − env)", alone_c),
        ] {
            let _ = match v {
                Some((t, rough)) if t > 0.0 => writeln!(
                    s,
                    "| {label} | {}{} | {} |",
                    fmt_ns(t),
                    if rough { " *" } else { "" },
                    share(t)
                ),
                Some(_) => writeln!(s, "| {label} | below the noise | — |"),
                None => writeln!(s, "| {label} | not run | — |"),
            };
        }
        let _ = writeln!(s);
        if let (Some((a, _)), Some((w, _))) = (alone_i, whole_i) {
            if a > 0.0 {
                let compiled = match (alone_c, whole_c) {
                    (Some((c, _)), Some((wc, _))) if c > 0.0 => format!(
                        "; compiled, {} of a compiled simulated step",
                        fmt_percent(c / wc)
                    ),
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "Engine overhead: {} of a simulated step, interpreted{compiled}.\n",
                    fmt_percent(a / w)
                );
            }
        }
        if let (Some((i, _)), Some((c, _))) = (engine_i, engine_c) {
            let _ = writeln!(
                s,
                "Compiled vs interpreted, engine + env: {} the time.\n",
                fmt_ratio(c / i)
            );
        }
        let missing: Vec<&str> = [
            ("model_only", model),
            ("env_only", env),
            ("engine_interpreted", engine_i),
            ("engine_compiled", engine_c),
            ("episode_interpreted", whole_i),
            ("episode_compiled", whole_c),
        ]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(f, _)| *f)
        .collect();
        if !missing.is_empty() {
            let _ = writeln!(
                s,
                "No results for `{SIM_GROUP}/{{{}}}`: run `{RUNTIME_CMD} -- {SIM_GROUP}`.\n",
                missing.join(",")
            );
        }
        rough_note(
            s,
            [model, env, engine_i, engine_c, whole_i, whole_c]
                .iter()
                .any(|v| v.is_some_and(|(_, e)| e.rough())),
        );
    } else {
        let _ = writeln!(
            s,
            "No results for `{SIM_GROUP}` yet: run `{RUNTIME_CMD} -- {SIM_GROUP}`.\n"
        );
    }

    // Interpreted vs compiled on key_door with a scripted model, per example harness.
    let _ = writeln!(
        s,
        "Engine alone on the `key_door` test world with a scripted model (`runtime/<harness>`; \
         each example harness, interpreted rules vs its compiled `RuleSet`):\n"
    );
    command(s, RUNTIME_CMD);
    let mut harnesses: Vec<&str> = r
        .keys()
        .filter_map(|(g, _)| g.strip_prefix("runtime/"))
        .collect();
    harnesses.dedup();
    if harnesses.is_empty() {
        let _ = writeln!(s, "No results for `runtime/*` yet: run `{RUNTIME_CMD}`.\n");
        return;
    }
    let _ = writeln!(
        s,
        "| harness | interpreted per step | compiled per step | compiled vs interpreted |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let mut rough = false;
    for h in harnesses {
        let group = format!("runtime/{h}");
        let i = get(r, &group, "interpreted");
        let c = get(r, &group, "compiled");
        rough |= i.is_some_and(Estimate::rough) || c.is_some_and(Estimate::rough);
        let cell = |e: Option<&Estimate>| match e.and_then(|e| e.per_element().map(|t| (t, e))) {
            Some((t, e)) => format!("{}{}", fmt_ns(t), if e.rough() { " *" } else { "" }),
            None => "not run".to_string(),
        };
        let ratio = match (
            i.and_then(Estimate::per_element),
            c.and_then(Estimate::per_element),
        ) {
            (Some(i), Some(c)) => fmt_ratio(c / i),
            _ => "—".to_string(),
        };
        let _ = writeln!(s, "| {h} | {} | {} | {ratio} |", cell(i), cell(c));
    }
    let _ = writeln!(s);
    rough_note(s, rough);
}

/// One generation's build: 1 vs 4 harnesses, cold / new generation / incremental.
fn builds(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### One generation's build (build driver)\n");
    let _ = writeln!(
        s,
        "`harnessx_compiler::build::build`, the call behind `harnessx build`, `harnessx run` \
         and the evolution gate: generate the batch crate, write it, `cargo build` it (debug \
         profile). The harnesses are the household example with `max_steps` changed per \
         harness. A changed harness changes the batch hash and so the crate, so \"one \
         harness changed\" compiles a new crate like a new generation.\n"
    );
    command(s, BUILD_CMD);
    let _ = writeln!(
        s,
        "The cold rows compile every dependency (tens of seconds or more per build); \
         `HARNESSX_BENCH_COLD=0` skips them.\n"
    );
    let rows: Vec<(&str, &str, Option<&Estimate>, Option<&Estimate>)> = BUILD_ROWS
        .iter()
        .map(|&(g, label)| (g, label, get(r, g, "1_harness"), get(r, g, "4_harnesses")))
        .collect();
    if rows.iter().all(|(_, _, a, b)| a.is_none() && b.is_none()) {
        let _ = writeln!(s, "No results for `build_driver` yet: run `{BUILD_CMD}`.\n");
        return;
    }
    let _ = writeln!(
        s,
        "| situation | 1 harness | batch of 4 | 4 vs 1 | per harness in the batch of 4 |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let cell = |e: Option<&Estimate>| e.map_or("not run".to_string(), Estimate::cell);
    for (_, label, one, four) in &rows {
        let (ratio, per) = match (one, four) {
            (Some(a), Some(b)) => (fmt_ratio(b.ns / a.ns), fmt_ns(b.ns / 4.0)),
            (None, Some(b)) => ("—".into(), fmt_ns(b.ns / 4.0)),
            _ => ("—".into(), "—".into()),
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {ratio} | {per} |",
            cell(*one),
            cell(*four)
        );
    }
    let _ = writeln!(s);
    let find = |g: &str| rows.iter().find(|(name, ..)| *name == g);
    if let (Some(cold), Some(new)) = (find("build/cold"), find("build/new_generation")) {
        let mut parts = Vec::new();
        if let (Some(c), Some(n)) = (cold.2, new.2) {
            parts.push(format!("{} with 1 harness", fmt_ratio(c.ns / n.ns)));
        }
        if let (Some(c), Some(n)) = (cold.3, new.3) {
            parts.push(format!("{} with a batch of 4", fmt_ratio(c.ns / n.ns)));
        }
        if !parts.is_empty() {
            let _ = writeln!(s, "Cold vs new generation: {}.\n", parts.join(", "));
        }
    }
    for (g, _, one, four) in &rows {
        let missing: Vec<&str> = [("1_harness", one), ("4_harnesses", four)]
            .iter()
            .filter(|(_, e)| e.is_none())
            .map(|(f, _)| *f)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let hint = if *g == "build/cold" {
            " (without `HARNESSX_BENCH_COLD=0`)".to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "No results for `{g}/{{{}}}`: run `{BUILD_CMD} -- {g}`{hint}.\n",
            missing.join(",")
        );
    }
    rough_note(
        s,
        rows.iter()
            .any(|(_, _, a, b)| a.is_some_and(Estimate::rough) || b.is_some_and(Estimate::rough)),
    );
}

/// A duration in nanoseconds with three significant digits and a unit.
fn fmt_ns(ns: f64) -> String {
    let (v, unit) = unit_of(ns);
    format!("{} {unit}", three_digits(ns / v))
}

/// `ns` in the unit chosen for `reference` (so an interval reads in one unit).
fn fmt_ns_in(ns: f64, reference: f64) -> String {
    three_digits(ns / unit_of(reference).0)
}

fn unit_of(ns: f64) -> (f64, &'static str) {
    let a = ns.abs();
    if a >= 1e9 {
        (1e9, "s")
    } else if a >= 1e6 {
        (1e6, "ms")
    } else if a >= 1e3 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

fn three_digits(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `2.41x`
fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}x")
    } else if r >= 10.0 {
        format!("{r:.1}x")
    } else {
        format!("{r:.2}x")
    }
}

/// `37%`, `4.2%`
fn fmt_percent(f: f64) -> String {
    let p = f * 100.0;
    if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// `10,000`
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criterion")
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(951_868_740), "2000-02-29 23:59");
        assert_eq!(utc_minute(1_795_672_680), "2026-11-26 05:58");
    }

    #[test]
    fn results_from_an_earlier_run_are_named() {
        let at = |written| Estimate {
            ns: 1.0,
            lower: 1.0,
            upper: 1.0,
            elements: None,
            samples: 10,
            written: Some(written),
        };
        let mut r = Results::new();
        r.insert(("build/cold".into(), "1".into()), at(1_795_672_680 - 7_200));
        r.insert(("build/unchanged".into(), "1".into()), at(1_795_672_680));
        r.insert(("codegen".into(), "x".into()), at(1_795_672_680 - 60));
        let mut s = String::new();
        stale(&mut s, &r);
        assert!(s.contains("`build/cold/1` (2026-11-26 03:58 UTC)"), "{s}");
        assert!(!s.contains("codegen") && !s.contains("unchanged"), "{s}");
        // All from one run: nothing to say.
        r.remove(&("build/cold".to_string(), "1".to_string()));
        let mut s = String::new();
        stale(&mut s, &r);
        assert!(s.is_empty(), "{s}");
    }

    #[test]
    fn the_fixture_renders_every_table() {
        let md = render(&fixture()).expect("renders");
        assert!(md.starts_with("## Compiler and runtime benchmarks (criterion)\n"));
        // Front end: 100 and 1,000 lines measured, 300 and 10,000 missing.
        assert!(
            md.contains("| 100 lines | 100 | 5.00 ms [4.90, 5.10] | 1.00x | 50.0 µs | 1.00x |"),
            "{md}"
        );
        assert!(
            md.contains("| 1,000 lines | 1,000 | 60.0 ms [59.0, 61.0] | 12.0x | 60.0 µs | 1.20x |"),
            "{md}"
        );
        assert!(md.contains("| 10,000 lines | — | not run | — | — | — |"));
        assert!(md.contains("| 300 lines | — | not run | — | — | — |"));
        assert!(md.contains(
            "No results for `codegen/300_lines`, `codegen/10000_lines`: run `cargo bench -p harnessx-benches --bench codegen`."
        ));
        // Per step: 100 steps; the whole interpreted step is 50 µs.
        assert!(
            md.contains("| sim:small model alone | 20.0 µs | 40% |"),
            "{md}"
        );
        assert!(md.contains("eight episodes (100 steps);"));
        assert!(md.contains("| household environment alone | 5.00 µs | 10% |"));
        assert!(md.contains("| engine + env, interpreted | 30.0 µs | 60% |"));
        assert!(md.contains("| whole sim:small step, interpreted | 50.0 µs | 100% |"));
        assert!(md.contains("| engine alone, interpreted (engine + env − env) | 25.0 µs | 50% |"));
        assert!(md.contains("| engine alone, compiled (engine + env − env) | 15.0 µs | 30% |"));
        assert!(md.contains(
            "Engine overhead: 50% of a simulated step, interpreted; compiled, 33% of a compiled simulated step."
        ), "{md}");
        assert!(md.contains("Compiled vs interpreted, engine + env: 0.67x the time."));
        // key_door: one harness, compiled at half the time.
        assert!(
            md.contains("| household | 4.00 µs | 2.00 µs | 0.50x |"),
            "{md}"
        );
        // Builds: new generation from a quick run; the rest missing.
        assert!(md.contains(
            "| new generation (dependencies built) | 2.00 s [2.00, 2.00] * | 5.00 s [5.00, 5.00] * | 2.50x | 1.25 s |"
        ), "{md}");
        assert!(
            md.contains(
                "| cold (empty cache and target) | not run | 50.0 s [50.0, 50.0] * | — | 12.5 s |"
            ),
            "{md}"
        );
        assert!(md.contains("Cold vs new generation: 10.0x with a batch of 4."));
        assert!(md.contains(
            "No results for `build/cold/{1_harness}`: run `cargo bench -p harnessx-benches --bench build_driver -- build/cold` (without `HARNESSX_BENCH_COLD=0`)."
        ), "{md}");
        // A difference of rough results is rough.
        assert!(md.contains("| engine alone, compiled (engine + env − env) | 15.0 µs | 30% |"));
        assert!(md.contains("`*` fewer than 10 samples"));
        // Every table names its command.
        for cmd in [CODEGEN_CMD, RUNTIME_CMD, BUILD_CMD] {
            assert!(md.contains(&format!("```\n{cmd}")), "{cmd}");
        }
    }

    #[test]
    fn no_results_give_commands_and_no_numbers() {
        let md = render(Path::new("/nonexistent/criterion")).expect("not an error");
        assert!(md.contains("No criterion results found."));
        assert!(md.contains(&format!(
            "No results for `codegen` yet: run `{CODEGEN_CMD}`."
        )));
        assert!(md.contains(&format!(
            "No results for `{SIM_GROUP}` yet: run `{RUNTIME_CMD} -- {SIM_GROUP}`."
        )));
        assert!(md.contains(&format!(
            "No results for `runtime/*` yet: run `{RUNTIME_CMD}`."
        )));
        assert!(md.contains(&format!(
            "No results for `build_driver` yet: run `{BUILD_CMD}`."
        )));
        assert!(!md.contains("| "), "no table without results:\n{md}");
    }

    #[test]
    fn malformed_results_are_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("hx-criterion-{}", std::process::id()));
        let new = dir.join("codegen_100_lines/parse+check+lower+codegen/new");
        std::fs::create_dir_all(&new).expect("mkdir");
        std::fs::write(new.join("benchmark.json"), "{ not json").expect("write");
        let err = render(&dir).expect_err("malformed");
        assert!(err.contains("benchmark.json"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_ns(6_644_451.05), "6.64 ms");
        assert_eq!(fmt_ns(950.0), "950 ns");
        assert_eq!(fmt_ns(12_345.0), "12.3 µs");
        assert_eq!(fmt_ns(61.2e9), "61.2 s");
        assert_eq!(fmt_ns_in(6_632_697.0, 6_644_451.0), "6.63");
        assert_eq!(fmt_ratio(1.0), "1.00x");
        assert_eq!(fmt_ratio(12.04), "12.0x");
        assert_eq!(fmt_ratio(123.4), "123x");
        assert_eq!(fmt_percent(0.376), "38%");
        assert_eq!(fmt_percent(0.042), "4.2%");
        assert_eq!(group_digits(10_000), "10,000");
        assert_eq!(group_digits(100), "100");
    }
}
