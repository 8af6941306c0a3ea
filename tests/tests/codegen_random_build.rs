//! 50 random checked harnesses, hostile text in every string literal
//! (`harnessx_tests::random_harness`), generated into ONE crate by the build driver (what
//! `harnessx build` does: one module per harness) and built with ONE `cargo build`. This
//! shows that code generation cannot be injected into and that every checked harness
//! builds:
//!
//! - every harness checks without errors (else the generator is wrong, and says so);
//! - the crate compiles, without a single warning;
//! - the built binary's `selftest` finds each module's natively built `ir()` hashing to
//!   its `HARNESS_HASH`, and its `dump` gives back, per harness, exactly the IR the
//!   compiler lowered (every string byte for byte: descriptions, prompt templates,
//!   messages, patterns, enum variants, the backend and key names), the tools' JSON
//!   Schemas, and every prompt rendered with placeholder variables, equal to the
//!   interpreter's own rendering.
//!
//! A string that escaped its literal would either break the build or change what the
//! module holds, and fail here.
//!
//! Ignored by default: the cargo build of 50 modules takes about 45 s of CPU (about 3
//! minutes of wall time on a busy two-core machine), too long for every `cargo test`.
//! `.ci/run` runs it as its own step:
//! `cargo test -p harnessx-tests --test codegen_random_build -- --ignored`. The runtime's
//! dependencies are built once into the build driver's cache (`target/harnessx-cache`,
//! shared with `compiler/tests/codegen_build.rs`). docs/TESTING.md.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use harnessx_compiler::build::{build, BuildOptions};
use harnessx_compiler::check_source;
use harnessx_compiler::codegen::tool_schemas;
use harnessx_compiler::lower::{lower, Ir};
use harnessx_compiler::schema::ACTIONS;
use harnessx_runtime::ir::Hook;
use harnessx_runtime::template::render;
use harnessx_tests::random_harness::random_harness;
use serde_json::Value;

const HARNESSES: u64 = 50;

/// Fixed, so a failure reproduces; `HARNESSX_RANDOM_SEED` tries another batch.
fn base_seed() -> u64 {
    std::env::var("HARNESSX_RANDOM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0068_6172_6e65_7373)
}

fn run(binary: &Path, args: &[&str]) -> String {
    let out = Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The batch the build test compiles: each source with its IR.
fn batch() -> Vec<(String, Ir)> {
    let base = base_seed();
    (0..HARNESSES)
        .map(|i| {
            let seed = base.wrapping_add(i);
            // Distinct names: two harnesses with the same name and content would be one module.
            let src = random_harness(seed, &format!("random_{i}"));
            let out = check_source(&src);
            assert!(
                !out.has_errors(),
                "generator bug: seed {seed} does not check:\n{src}\n{:#?}",
                out.diagnostics
            );
            let ir =
                lower(&out.file).unwrap_or_else(|d| panic!("seed {seed} does not lower: {d:?}"));
            (src, ir)
        })
        .collect()
}

/// The generator itself, without cargo: the batch covers every hook and action (so the
/// build below proves something about each of them), and its harnesses all differ.
#[test]
fn the_batch_covers_the_language() {
    let batch = batch();
    let all: String = batch.iter().map(|(src, _)| src.as_str()).collect();
    for hook in Hook::ALL {
        assert!(all.contains(&format!("on {}", hook.as_str())), "{hook:?}");
    }
    for action in ACTIONS {
        assert!(
            all.contains(&format!("    {}", action.name)),
            "{}",
            action.name
        );
    }
    assert!(all.contains("\"\"\""), "a triple-quoted prompt");
    assert!(all.contains("enum("), "an enum parameter");
    let hashes: BTreeSet<String> = batch.iter().map(|(_, ir)| ir.hash()).collect();
    assert_eq!(hashes.len(), HARNESSES as usize, "50 different harnesses");
}

#[test]
#[ignore = "a cargo build of 50 modules; .ci/run runs it on its own"]
fn fifty_random_hostile_harnesses_build_in_one_crate_and_keep_every_string() {
    let irs: Vec<Ir> = batch().into_iter().map(|(_, ir)| ir).collect();

    let built = build(&irs, &BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "built {} random harnesses in {:.1} s at {}",
        built.krate.modules.len(),
        built.cargo_time.as_secs_f64(),
        built.krate.dir.display()
    );
    assert_eq!(built.krate.modules.len(), HARNESSES as usize);
    assert!(
        !built.cargo_stderr.contains("warning"),
        "the generated crate compiles with warnings:\n{}",
        built.cargo_stderr
    );

    let selftest = run(&built.binary, &["selftest"]);
    assert_eq!(selftest, format!("ok: {HARNESSES} harnesses\n"));

    let dump: Value = serde_json::from_str(&run(&built.binary, &["dump"])).expect("dump is JSON");
    let entries = dump.as_array().expect("an array");
    for ir in &irs {
        let hash = ir.hash();
        let e = entries
            .iter()
            .find(|e| e["hash"] == hash.as_str())
            .unwrap_or_else(|| panic!("{} missing from the dump", ir.name));
        assert_eq!(e["ir_hash"], hash.as_str(), "{}", ir.name);
        let compiled: Ir = serde_json::from_value(e["ir"].clone()).expect("IR from dump");
        assert_eq!(&compiled, ir, "{}: the compiled ir() differs", ir.name);
        assert_eq!(e["tool_schemas"], tool_schemas(ir), "{}: schemas", ir.name);
        let prompts = e["prompts"].as_array().expect("prompts");
        assert_eq!(prompts.len(), ir.prompts.len());
        for (p, got) in ir.prompts.iter().zip(prompts) {
            let expected = render(&p.template, |v| format!("<{}>", v.path()));
            assert_eq!(got["name"], p.name.as_str());
            assert_eq!(got["text"], expected.as_str(), "{}: {}", ir.name, p.name);
        }
        // Through the binary's own argument handling and standard output too.
        let system = run(&built.binary, &["render", &hash, "system"]);
        let expected = render(&ir.prompts[0].template, |v| format!("<{}>", v.path()));
        assert_eq!(system, expected, "{}: render system", ir.name);
    }
}
