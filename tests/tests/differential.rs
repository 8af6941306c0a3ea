//! Differential test: every example harness (and one more with rules on most hooks), run interpreted (in this process) and
//! compiled (the code generator's `RuleSet`, built by the build driver as ONE batch crate),
//! must produce byte-identical JSONL traces for the same environment, model and seeds.
//!
//! Traces carry no wall-clock time (`clock_ms` is the virtual clock), so no field has to be
//! masked: any difference is a real divergence.
//!
//! The compiled side: the batch crate is written with `build::write_crate` into a cache
//! dir owned by this test, a small driver binary is added as `src/bin/`, and one
//! `cargo build` compiles both. The driver runs the episodes with the runtime's shared
//! `runner` (same env and model lookup, same seed derivation) and prints the traces.
//! The first run compiles the runtime's dependencies into that cache (tens of seconds on 2
//! cores); later runs are incremental.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use harnessx_compiler::build::{cargo_build, write_crate, write_if_changed, BuildOptions};
use harnessx_compiler::lower::lower_source;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::run_episodes;

/// Base seeds of the runs; each run has `TASKS` episodes with seeds derived from its base.
const SEEDS: &[u64] = &[0, 1, 7, 1234];
const TASKS: u64 = 3;
/// Competences of the noisy test model: a weak one (many repairs, loops, reprompts) and a
/// strong one (long successful episodes).
const COMPETENCES: &[f64] = &[0.4, 0.85];

/// Besides the examples: a harness whose tools match key_door and whose rules use most
/// actions (compact, inject, repair/reprompt, block, log), so rules fire on long episodes.
const KEY_DOOR_RULES: &str = r##"# Key-door tools with a rule on most hooks, so the differential test covers every action.
harness key_door_rules {
  model {
    backend = "sim:small"
  }
  prompt system "Goal: {{task.goal}}\nTools:\n{{tools}}"
  prompt step "Step {{step}}: {{observation}}"
  tool look() "Look around"
  tool open(target: string) "Open something"
  tool take(object: string) "Take something"
  tool go(target: string) "Go somewhere"
  tool examine(target: string) "Examine something" { verifies = true }
  tool finish(answer: string?) "Finish"
  loop {
    max_steps = 16
    strategy = reflect
  }
  context {
    budget = 600 tokens
    compaction = summarize_oldest
    pin = [task.goal]
  }
  on step_start when step >= 3 {
    compact
    inject "Few steps remain."
  }
  on after_model when malformed_call {
    repair extract_action
    otherwise reprompt "Reply with one call, like look()."
  }
  on before_tool as anti_loop when repeated_action(window = 3, count = 2) {
    block "You just did that. Try something else."
  }
  on after_tool when tool_error or tool_timeout {
    retry(max = 1, backoff = 50ms)
  }
  on before_model when step >= 8 and not observation matches "(?i)garden" {
    stop "out of patience"
  }
  on step_end {
    log "step {{step}} done"
  }
  on task_end {
    log "done after {{step}} steps"
  }
}
"##;

/// The driver compiled into the batch crate. `LIB` is replaced by the crate's library name
/// (an identifier the build driver made, never user text).
const DRIVER: &str = r##"//! Runs every harness of the batch on key_door with the noisy test model and prints
//! `#episode HASH COMPETENCE SEED TASK` then the episode's JSONL trace.
use std::io::Write;

use harnessx_runtime::runner::run_episodes;
use harnessx_runtime::models::spec::ModelSpec;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(comps), Some(seeds), Some(tasks)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: COMPETENCES SEEDS TASKS (comma-separated lists)");
        std::process::exit(2);
    };
    let comps: Vec<f64> = comps.split(',').filter_map(|s| s.parse().ok()).collect();
    let seeds: Vec<u64> = seeds.split(',').filter_map(|s| s.parse().ok()).collect();
    let tasks: u64 = tasks.parse().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for h in LIB::HARNESSES.iter() {
        let ir = (h.ir)();
        for &p in &comps {
            for &seed in &seeds {
                let ran = run_episodes(&ir, h.rules, "key_door", &ModelSpec::Noisy(p), tasks, seed, |ep| {
                    let _ = writeln!(out, "#episode {} {p} {seed} {}", h.hash, ep.task);
                    let _ = out.write_all(ep.trace_jsonl().as_bytes());
                });
                if let Err(e) = ran {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
    }
}
"##;

/// Every example, then [`KEY_DOOR_RULES`].
fn harnesses() -> Vec<HarnessIr> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "harness"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no examples found in {}", dir.display());
    let mut irs: Vec<HarnessIr> = paths
        .iter()
        .map(|p| {
            let src = std::fs::read_to_string(p).expect("read example");
            lower_source(&src).unwrap_or_else(|d| panic!("{} does not lower: {d:?}", p.display()))
        })
        .collect();
    irs.push(lower_source(KEY_DOOR_RULES).unwrap_or_else(|d| panic!("KEY_DOOR_RULES: {d:?}")));
    irs
}

fn key(hash: &str, p: f64, seed: u64, task: u64) -> String {
    format!("{hash} {p} {seed} {task}")
}

/// `#episode` header → trace, from the driver's standard output.
fn split_episodes(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.split_inclusive('\n') {
        if let Some(k) = line.strip_prefix("#episode ") {
            current = Some(k.trim_end().to_string());
            out.insert(k.trim_end().to_string(), String::new());
        } else if let Some(k) = &current {
            out.entry(k.clone())
                .or_insert_with(String::new)
                .push_str(line);
        } else {
            panic!("driver output before the first header: {line}");
        }
    }
    out
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  interpreted: {x}\n  compiled:    {y}", i + 1);
        }
    }
    format!(
        "one trace is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn interpreted_and_compiled_traces_are_identical() {
    let irs = harnesses();

    // Interpreted, in process.
    let mut interpreted: BTreeMap<String, String> = BTreeMap::new();
    for ir in &irs {
        let rules = InterpretedRules::new(ir);
        for &p in COMPETENCES {
            for &seed in SEEDS {
                run_episodes(
                    ir,
                    &rules,
                    "key_door",
                    &ModelSpec::Noisy(p),
                    TASKS,
                    seed,
                    |ep| {
                        interpreted.insert(key(&ir.hash(), p, seed, ep.task), ep.trace_jsonl());
                    },
                )
                .expect("key_door exists");
            }
        }
    }
    let fired = interpreted
        .values()
        .filter(|t| t.contains(r#""event":"rule_fired""#))
        .count();
    assert!(
        fired > 0,
        "no rule fired in any episode: the comparison would be vacuous"
    );

    // Compiled: one batch crate for all examples, one cargo build.
    let opts = BuildOptions {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-cache")),
        release: false,
    };
    let krate = write_crate(&irs, &opts).unwrap_or_else(|e| panic!("write crate: {e}"));
    assert_eq!(
        krate.modules.len(),
        irs.len(),
        "examples must have distinct hashes"
    );
    let bin_name = format!("differential_{}", krate.batch_hash);
    let driver = DRIVER.replace("LIB", &krate.lib_name());
    write_if_changed(
        &krate.dir.join("src/bin").join(format!("{bin_name}.rs")),
        driver.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("write driver: {e}"));
    cargo_build(&krate, false).unwrap_or_else(|e| panic!("cargo build: {e}"));

    let list = |xs: &[String]| xs.join(",");
    let exe = krate
        .target_dir
        .join("debug")
        .join(format!("{bin_name}{}", std::env::consts::EXE_SUFFIX));
    let out = Command::new(&exe)
        .arg(list(
            &COMPETENCES.iter().map(f64::to_string).collect::<Vec<_>>(),
        ))
        .arg(list(&SEEDS.iter().map(u64::to_string).collect::<Vec<_>>()))
        .arg(TASKS.to_string())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compiled = split_episodes(&String::from_utf8_lossy(&out.stdout));

    let expected = irs.len() * COMPETENCES.len() * SEEDS.len() * TASKS as usize;
    assert_eq!(interpreted.len(), expected);
    assert_eq!(
        compiled.keys().collect::<Vec<_>>(),
        interpreted.keys().collect::<Vec<_>>(),
        "the compiled batch ran a different set of episodes (IR hashes differ?)"
    );
    for (k, a) in &interpreted {
        let b = &compiled[k];
        assert!(
            a == b,
            "episode {k} (hash competence seed task) diverges at {}",
            first_difference(a, b)
        );
    }
}
