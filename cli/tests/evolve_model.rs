//! `harnessx evolve` runs the model the seed harness declares unless `--model` overrides
//! it, and says which.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn evolve(out: &Path, extra: &[&str]) -> Output {
    let household = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/household.harness");
    let _ = std::fs::remove_dir_all(out);
    Command::new(env!("CARGO_BIN_EXE_harnessx"))
        .arg("evolve")
        .arg(household)
        .args([
            "--rounds",
            "1",
            "--train-tasks",
            "3",
            "--seeds-per-task",
            "1",
            "--held-out-tasks",
            "3",
            "--budget-episodes",
            "40",
            "--no-build",
            "--workers",
            "1",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("run harnessx")
}

fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("evolve-model-{name}"))
}

#[test]
fn evolve_runs_the_declared_model_unless_model_overrides_it() {
    let o = evolve(&scratch("declared"), &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("with sim:small (simulated)"), "{out}");
    assert!(
        out.contains("model sim:small, declared by the harness\n"),
        "{out}"
    );

    let o = evolve(&scratch("flag"), &["--model", "sim:medium"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("model sim:medium, from --model\n"), "{out}");
}

#[test]
fn evolve_takes_a_proposer_and_reports_its_check_rate() {
    let dir = scratch("proposer");
    std::fs::create_dir_all(&dir).unwrap();
    let replies = dir.join("replies.txt");
    std::fs::write(&replies, "I would rather not.\n").unwrap();
    let spec = format!("scripted:{}", replies.display());
    let out = dir.join("run");
    let o = evolve(&out, &["--proposer", &spec, "--proposer-repairs", "1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("proposer: 0 of 1 proposals became candidates; 0 of 2 replies checked"),
        "{text}"
    );
    let ledgers = std::fs::read_to_string(out.join("ledgers.json")).unwrap();
    assert!(
        ledgers.contains("proposer: no usable harness after 2 replies"),
        "{ledgers}"
    );

    let o = evolve(&dir.join("bad"), &["--proposer", "nope:1"]);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--proposer: unknown model `nope:1`"), "{err}");
}
