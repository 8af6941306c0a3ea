//! Calibration of the simulated model family (`sim:small|medium|large`) on harness files:
//! the search landscape the Evolver faces. Every number here is **simulated**.
//!
//! One run measures every cell of [`CELLS`] ([`EPISODES`] episodes each, seed [`SEED`]);
//! the tests then assert
//! - each cell's success within [`TOLERANCE`] points of the value the cell states (the
//!   calibration: a change to the simulation that moves a cell further fails here, and the
//!   cell's value is then updated on purpose, with the reason in the commit);
//! - the relations docs/SIM_MODEL.md describes (tiers ordered, the harness matters most on
//!   the small tier, features that hurt);
//! - that the table in docs/SIM_MODEL.md is exactly what this run measured
//!   (`UPDATE_DOCS=1 cargo test -p harnessx-tests --test sim_calibration` rewrites it).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harnessx_compiler::lower::lower_source;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::models::sim::Tier;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes, Summary};

/// Episodes per cell.
const EPISODES: u64 = 300;
const SEED: u64 = 1;
/// How far (in points of success %) a cell may move from its stated value.
const TOLERANCE: f64 = 4.0;

/// One calibrated harness: its environment, its file, and its success % on small, medium
/// and large as stated in docs/SIM_MODEL.md.
struct Cell {
    env: &'static str,
    file: &'static str,
    what: &'static str,
    success: [f64; 3],
}

const CELLS: &[Cell] = &[
    Cell {
        env: "household",
        file: "examples/minimal.harness",
        what: "no environment tools",
        success: [0.0, 0.0, 0.0],
    },
    Cell {
        env: "household",
        file: "examples/household.harness",
        what: "the seed: one re-ask rule",
        success: [46.7, 71.0, 87.7],
    },
    Cell {
        env: "household",
        file: "tests/fixtures/sim/household_bare.harness",
        what: "env tools, no rules",
        success: [39.0, 69.0, 88.3],
    },
    Cell {
        env: "household",
        file: "tests/fixtures/sim/household_good.harness",
        what: "well written",
        success: [85.0, 97.3, 99.3],
    },
    Cell {
        env: "household",
        file: "tests/fixtures/sim/household_unlisted.harness",
        what: "good, no action list",
        success: [88.0, 94.3, 98.3],
    },
    Cell {
        env: "household",
        file: "tests/fixtures/sim/household_inject_all.harness",
        what: "good + advice every step",
        success: [90.3, 92.7, 97.0],
    },
    Cell {
        env: "household",
        file: "tests/fixtures/sim/household_tiny_context.harness",
        what: "unlisted + 300-token budget",
        success: [40.0, 57.7, 78.0],
    },
    Cell {
        env: "key_door",
        file: "tests/fixtures/sim/key_door_bare.harness",
        what: "no rules",
        success: [74.0, 85.0, 96.0],
    },
    Cell {
        env: "key_door",
        file: "tests/fixtures/sim/key_door_good.harness",
        what: "well written",
        success: [77.0, 87.3, 95.3],
    },
    Cell {
        env: "flaky_api",
        file: "tests/fixtures/sim/flaky_api_bare.harness",
        what: "free decoding, no timeouts, no rules",
        success: [51.3, 65.7, 85.0],
    },
    Cell {
        env: "flaky_api",
        file: "examples/flaky_api.harness",
        what: "the seed: timeouts, constrained, temperature 0",
        success: [39.3, 60.0, 83.7],
    },
    Cell {
        env: "flaky_api",
        file: "tests/fixtures/sim/flaky_api_good.harness",
        what: "retries, send once, check before finish, loop breaker",
        success: [58.7, 85.3, 95.7],
    },
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(rel: &str) -> HarnessIr {
    let path = root().join(rel);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    lower_source(&src).unwrap_or_else(|d| panic!("{rel} does not check: {d:?}"))
}

fn run(ir: &HarnessIr, env: &str, model: &ModelSpec, tasks: u64) -> Summary {
    let rules = InterpretedRules::new(ir);
    let mut s = Summary::default();
    run_episodes(ir, &rules, env, model, tasks, SEED, |e| s.add(&e.result))
        .unwrap_or_else(|e| panic!("{e}"));
    s
}

/// A measured cell: success % and mean tokens per tier, and the expert's success % (the
/// environment's oracle, through the environment's bare harness: a harness's guards could
/// block an oracle that never checks, e.g. a finish blocked until something verified).
struct Measured {
    success: [f64; 3],
    tokens: [f64; 3],
    expert: f64,
}

/// Every cell, measured once per test binary and shared by the tests.
fn measured() -> &'static [Measured] {
    static M: OnceLock<Vec<Measured>> = OnceLock::new();
    M.get_or_init(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = CELLS
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        let ir = load(c.file);
                        let per_tier =
                            Tier::ALL.map(|t| run(&ir, c.env, &ModelSpec::Sim(t), EPISODES));
                        let bare = load(&format!("tests/fixtures/sim/{}_bare.harness", c.env));
                        let expert = run(&bare, c.env, &ModelSpec::Noisy(1.0), EPISODES);
                        Measured {
                            success: per_tier.each_ref().map(|s| 100.0 * s.success_rate()),
                            tokens: per_tier.each_ref().map(Summary::mean_tokens),
                            expert: 100.0 * expert.success_rate(),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    })
}

fn success(file: &str, t: Tier) -> f64 {
    let i = CELLS
        .iter()
        .position(|c| c.file.ends_with(file))
        .unwrap_or_else(|| panic!("no cell {file}"));
    measured()[i].success[t as usize]
}

fn tokens(file: &str, t: Tier) -> f64 {
    let i = CELLS.iter().position(|c| c.file.ends_with(file)).unwrap();
    measured()[i].tokens[t as usize]
}

#[test]
fn every_cell_is_within_tolerance_of_its_calibration() {
    let mut off = Vec::new();
    for (c, m) in CELLS.iter().zip(measured()) {
        for t in Tier::ALL {
            let (want, got) = (c.success[t as usize], m.success[t as usize]);
            if (got - want).abs() > TOLERANCE {
                off.push(format!(
                    "{} {} sim:{t}: {got:.1}% (calibrated {want:.1}% ± {TOLERANCE})",
                    c.env, c.file
                ));
            }
        }
    }
    assert!(off.is_empty(), "{}", off.join("\n"));
}

#[test]
fn the_expert_solves_every_environment() {
    for (c, m) in CELLS.iter().zip(measured()) {
        assert_eq!(m.expert, 100.0, "{}", c.env);
    }
}

#[test]
fn tiers_are_ordered_under_the_same_harness() {
    for h in [
        "household.harness",
        "household_bare.harness",
        "household_good.harness",
        "flaky_api_bare.harness",
        "examples/flaky_api.harness",
        "flaky_api_good.harness",
    ] {
        let [s, m, l] = Tier::ALL.map(|t| success(h, t));
        assert!(s < m && m <= l, "{h}: small {s}%, medium {m}%, large {l}%");
    }
}

#[test]
fn the_harness_matters_most_on_the_small_tier() {
    let gain = |bare: &str, good: &str, t| success(good, t) - success(bare, t);
    for (bare, good) in [
        ("household_bare.harness", "household_good.harness"),
        ("examples/flaky_api.harness", "flaky_api_good.harness"),
    ] {
        let [s, _, l] = Tier::ALL.map(|t| gain(bare, good, t));
        assert!(
            s >= 15.0 && s > l + 5.0,
            "{bare} -> {good}: small +{s}, large +{l}"
        );
    }
    // The large tier pays the good harness's tokens for little.
    assert!(
        tokens("household_good.harness", Tier::Large)
            > 2.0 * tokens("household_bare.harness", Tier::Large)
    );
}

/// Features have costs: a budget small enough to drop what the task needs hurts every
/// tier, and advice injected at every step costs the medium and large tiers.
#[test]
fn features_that_hurt() {
    for t in Tier::ALL {
        let (unlisted, tiny) = (
            success("household_unlisted.harness", t),
            success("household_tiny_context.harness", t),
        );
        assert!(
            tiny + 15.0 <= unlisted,
            "{t}: tiny context {tiny}% vs {unlisted}%"
        );
    }
    for t in [Tier::Medium, Tier::Large] {
        let (good, all) = (
            success("household_good.harness", t),
            success("household_inject_all.harness", t),
        );
        assert!(all < good, "{t}: inject-everything {all}% vs {good}%");
    }
}

/// The Markdown table of docs/SIM_MODEL.md.
fn table() -> String {
    let mut out = String::from(
        "| env | harness | sim:small | sim:medium | sim:large | expert |\n|---|---|---|---|---|---|\n",
    );
    for (c, m) in CELLS.iter().zip(measured()) {
        let cells: Vec<String> = Tier::ALL
            .iter()
            .map(|t| {
                format!(
                    "{:.1} / {:.0}",
                    m.success[*t as usize], m.tokens[*t as usize]
                )
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} ({}) | {} | {:.0} |\n",
            c.env,
            c.file.trim_start_matches("tests/fixtures/sim/"),
            c.what,
            cells.join(" | "),
            m.expert
        ));
    }
    out
}

const BEGIN: &str = "<!-- calibration table: generated by tests/tests/sim_calibration.rs -->\n";
const END: &str = "<!-- end of calibration table -->";

#[test]
fn the_doc_table_is_what_this_run_measured() {
    let path = root().join("docs/SIM_MODEL.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(a), Some(b)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/SIM_MODEL.md lacks the calibration table markers");
    };
    let current = &doc[a + BEGIN.len()..b];
    let fresh = table();
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let new = format!("{}{fresh}{}", &doc[..a + BEGIN.len()], &doc[b..]);
        harnessx_runtime::fsutil::write_atomic(&path, new.as_bytes()).unwrap();
        return;
    }
    assert_eq!(
        current, fresh,
        "docs/SIM_MODEL.md's calibration table is stale: rerun with UPDATE_DOCS=1"
    );
}

#[test]
fn runs_are_deterministic() {
    let ir = load("tests/fixtures/sim/household_good.harness");
    let rules = InterpretedRules::new(&ir);
    let traces = || {
        let mut out = Vec::new();
        run_episodes(
            &ir,
            &rules,
            "household",
            &ModelSpec::Sim(Tier::Small),
            3,
            5,
            |e| out.push(e.trace_jsonl()),
        )
        .map(|()| out)
    };
    let a = traces();
    assert!(a.as_ref().is_ok_and(|v| v.len() == 3));
    assert_eq!(a, traces());
}
