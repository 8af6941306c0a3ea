//! The generated code compiles, and what it holds is exactly what the harness said.
//!
//! ONE batch crate and ONE `cargo build` for everything, to bound the time: every example,
//! every codegen fixture, every accepted checker fixture, a fixed set of hostile strings
//! and a few property-generated ones. The built binary's `selftest` checks that each
//! module's natively built `ir()` hashes to its `HARNESS_HASH`; its `dump` is compared
//! with what the compiler knows: the IR, the tools' JSON Schemas, and every prompt
//! rendered with placeholder variables. For the hostile harnesses, the system prompt, the
//! tool description and the harness description must come back byte for byte.
//!
//! The crate goes to the build driver's default cache (`HARNESSX_CACHE_DIR`, else
//! target/harnessx-cache), so the runtime's dependencies are compiled once and reused.

use std::fs;
use std::path::Path;
use std::process::Command;

use harnessx_compiler::build::{build, cargo_build, write_crate, BuildError, BuildOptions};
use harnessx_compiler::codegen::tool_schemas;
use harnessx_compiler::lower::{lower_source, Ir};
use harnessx_runtime::template::render;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;

mod common;
use common::{harness_files, workspace};

fn lower_text(what: &str, src: &str) -> Ir {
    lower_source(src).unwrap_or_else(|d| panic!("{what} did not lower:\n{src}\n{d:#?}"))
}

/// Any text as a plain `.harness` string literal (see `codegen.rs`): `{` is written
/// `\u{7b}` so the text never forms a template hole, and anything outside printable ASCII
/// is a `\u{..}` escape.
fn harness_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\u{7b}"),
            ' '..='~' => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A harness carrying `text` in every kind of string slot: description, system prompt,
/// tool description, rule messages, and (regex-escaped) a `matches` pattern.
fn hostile_harness(index: usize, text: &str) -> String {
    let s = harness_string(text);
    let pattern = harness_string(&regex::escape(text));
    format!(
        "harness hostile_{index} {s} {{\n\
         \x20 prompt system {s}\n\
         \x20 tool act(c: string) {s}\n\
         \x20 on task_start {{\n    log {s}\n    inject {s}\n  }}\n\
         \x20 on after_model when output matches {pattern} {{\n    reprompt {s}\n  }}\n\
         \x20 on before_tool when call(act) {{\n    block {s}\n  }}\n\
         }}\n"
    )
}

const FIXED_HOSTILE: &[&str] = &[
    "",
    "\"",
    "\"#",
    "\"##",
    "r#\"raw\"#",
    "#",
    "}",
    "{",
    "{{",
    "}}",
    "{{task.goal}}",
    "{{ nope }}",
    "\u{0}",
    "\\u{0}",
    "\\",
    "\\\"",
    "\n",
    "\r\n\t",
    "*/ /*",
    "\"); std::process::exit(1); (\"",
    "}} fn evil() {} {{",
    "\u{202e}rtl\u{2066}",
    "\u{feff}bom \u{2028} line sep",
    "emoji 🦀 and é and 日本",
];

/// Property-generated hostile texts: a deterministic sample, so a failure reproduces.
fn sampled_hostile(count: usize) -> Vec<String> {
    let piece = proptest::prop_oneof![
        proptest::strategy::Just("\"".to_string()),
        proptest::strategy::Just("\"#".to_string()),
        proptest::strategy::Just("#".to_string()),
        proptest::strategy::Just("}".to_string()),
        proptest::strategy::Just("{{".to_string()),
        proptest::strategy::Just("\u{0}".to_string()),
        proptest::strategy::Just("\n".to_string()),
        proptest::strategy::Just("\\".to_string()),
        proptest::arbitrary::any::<char>().prop_map(String::from),
        "[a-z ]{1,5}",
    ];
    let text = proptest::collection::vec(piece, 0..20).prop_map(|v| v.concat());
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| match text.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(e) => panic!("strategy failed: {e}"),
        })
        .collect()
}

fn placeholder(v: harnessx_runtime::ir::Var) -> String {
    format!("<{}>", v.path())
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

#[test]
fn generated_crate_compiles_and_keeps_every_string_verbatim() {
    let ws = workspace();
    let mut irs: Vec<Ir> = Vec::new();
    for dir in [
        "examples",
        "tests/fixtures/codegen",
        "tests/fixtures/check/ok",
    ] {
        for path in harness_files(&ws.join(dir)) {
            let src = fs::read_to_string(&path).expect("readable fixture");
            irs.push(lower_text(&path.display().to_string(), &src));
        }
    }
    let mut hostile: Vec<(String, Ir)> = Vec::new();
    let texts: Vec<String> = FIXED_HOSTILE
        .iter()
        .map(|s| s.to_string())
        .chain(sampled_hostile(16))
        .collect();
    for (i, text) in texts.into_iter().enumerate() {
        let ir = lower_text(&format!("hostile #{i}"), &hostile_harness(i, &text));
        hostile.push((text, ir.clone()));
        irs.push(ir);
    }

    let built = match build(&irs, &BuildOptions::default()) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    eprintln!(
        "built {} harnesses in {:.2}s ({} files written) at {}",
        built.krate.modules.len(),
        built.cargo_time.as_secs_f64(),
        built.krate.files_written,
        built.krate.dir.display()
    );
    assert!(
        !built.cargo_stderr.contains("warning"),
        "the generated crate compiles with warnings:\n{}",
        built.cargo_stderr
    );

    let selftest = run(&built.binary, &["selftest"]);
    assert!(selftest.starts_with("ok:"), "{selftest}");

    let dump: Value = serde_json::from_str(&run(&built.binary, &["dump"])).expect("dump is JSON");
    let entries = dump.as_array().expect("an array");
    assert_eq!(entries.len(), built.krate.modules.len());
    let by_hash = |hash: &str| -> &Value {
        entries
            .iter()
            .find(|e| e["hash"] == hash)
            .unwrap_or_else(|| panic!("{hash} missing from dump"))
    };

    for ir in &irs {
        let hash = ir.hash();
        let e = by_hash(&hash);
        assert_eq!(e["ir_hash"], hash.as_str(), "{}", ir.name);
        let compiled: Ir = serde_json::from_value(e["ir"].clone()).expect("IR from dump");
        assert_eq!(&compiled, ir, "{}: compiled ir() differs", ir.name);
        assert_eq!(e["tool_schemas"], tool_schemas(ir), "{}: schemas", ir.name);
        let prompts = e["prompts"].as_array().expect("prompts");
        assert_eq!(prompts.len(), ir.prompts.len());
        for (p, got) in ir.prompts.iter().zip(prompts) {
            let expected = render(&p.template, placeholder);
            assert_eq!(got["name"], p.name.as_str());
            assert_eq!(
                got["text"],
                expected.as_str(),
                "{}: prompt {}",
                ir.name,
                p.name
            );
        }
    }

    for (text, ir) in &hostile {
        let e = by_hash(&ir.hash());
        let system = &e["prompts"][0];
        assert_eq!(system["name"], "system");
        assert_eq!(system["text"], text.as_str(), "system prompt of {text:?}");
        assert_eq!(
            e["tool_schemas"][0]["description"],
            text.as_str(),
            "tool description of {text:?}"
        );
        assert_eq!(e["ir"]["description"], text.as_str());
        // And through the binary's own argument handling and stdout, byte for byte.
        let rendered = run(&built.binary, &["render", &ir.hash(), "system"]);
        assert_eq!(&rendered, text, "render output of {text:?}");
    }
}

/// A crate that does not compile is reported as a compiler bug, with cargo's output.
/// (The module is corrupted by hand after generation: the checker and code generator
/// themselves are not supposed to produce such a crate.)
#[test]
fn a_cargo_failure_is_reported_as_a_compiler_bug() {
    let src = "harness build_failure_probe { prompt system \"s\" tool act(c: string) }";
    let ir = lower_text("probe", src);
    let opts = BuildOptions::default();
    let krate = write_crate(std::slice::from_ref(&ir), &opts).expect("writes");
    let module = krate
        .dir
        .join("src")
        .join(format!("{}.rs", krate.modules[0].module));
    fs::write(&module, "pub fn ir() -> u32 { \"not a number\" }\n").expect("corrupt");
    let err = match cargo_build(&krate, false) {
        Ok(_) => panic!("a corrupted crate built"),
        Err(e) => e,
    };
    match &err {
        BuildError::Cargo {
            package,
            failed_package,
            ..
        } => assert_eq!(failed_package.as_ref(), Some(package), "{err:?}"),
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("bug in the harnessx compiler"), "{text}");
    assert!(
        text.contains("mismatched types"),
        "cargo's output is attached: {text}"
    );
    // Writing the crate again repairs it: the file's content differs, so it is rewritten.
    let again = write_crate(std::slice::from_ref(&ir), &opts).expect("rewrites");
    assert!(again.files_written >= 1);
}
