//! `harnessx bench real` end to end on the simulated model and household (the real model
//! and TextWorldExpress are exercised by .ci/run and the benchmark itself): every arm runs,
//! the report says SIMULATED, compares arms on the same games, and a rerun replays the
//! response cache and says so.

use std::path::Path;
use std::process::{Command, Output};

fn bench_real(dir: &Path) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(env!("CARGO_BIN_EXE_harnessx"))
        .current_dir(&root)
        .args(["bench", "real", "--model", "sim:small"])
        .args(["--train-env", "household", "--held-out-env", "household"])
        .args(["--harness", "examples/household.harness"])
        .args(["--train-tasks", "6", "--held-out-tasks", "8"])
        .args(["--budget-episodes", "24", "--rounds", "1"])
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--work")
        .arg(dir.join("work"))
        .arg("--out")
        .arg(dir.join("REAL.md"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run harnessx")
}

#[test]
fn every_arm_runs_and_a_rerun_says_replayed() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-real");
    let _ = std::fs::remove_dir_all(&dir);
    let first = bench_real(&dir);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let report = std::fs::read_to_string(dir.join("REAL.md")).expect("report");
    assert!(report.contains("**SIMULATED**"), "{report}");
    for arm in [
        "| seed harness |",
        "| random admissible action (floor, no model) |",
        "| random mutation search (seed 1) |",
        "| prompt-only search (seed 1) |",
        "| AEGIS (seed 1) |",
        "| AEGIS + proposer (seed 1) |",
        "| expert (the environment's oracle) |",
    ] {
        assert!(report.contains(arm), "{arm} missing:\n{report}");
    }
    assert!(
        report.contains("/8 ("),
        "8 held-out games per arm:\n{report}"
    );
    assert!(report.contains("- Live: the model was asked"), "{report}");
    assert!(
        report.contains("| AEGIS (seed 1) | seed harness |"),
        "{report}"
    );
    assert!(dir.join("bench/real-custom.svg").is_file());
    assert!(
        stderr.contains("aegis (seed 1): round 1/1"),
        "progress: {stderr}"
    );

    // The rerun asks the model nothing and says where the replies came from.
    let again = bench_real(&dir);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let replayed = std::fs::read_to_string(dir.join("REAL.md")).expect("report");
    assert!(replayed.contains("**Replayed**"), "{replayed}");
    assert!(replayed.contains("date: "), "{replayed}");
    let table = |r: &str| {
        r.lines()
            .filter(|l| l.starts_with("| ") && !l.contains("wall"))
            .map(|l| l.rsplit_once(" | ").map_or(l, |(a, _)| a).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        table(&report),
        table(&replayed),
        "a replay gives the same results"
    );
}

#[test]
fn an_unknown_arm_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_harnessx"))
        .args([
            "bench",
            "real",
            "--arms",
            "seed,aegis2",
            "--model",
            "sim:small",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run harnessx");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown arm `aegis2`"), "{stderr}");
}
