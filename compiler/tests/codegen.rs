//! Generated Rust: insta snapshots for every codegen fixture (the examples and
//! tests/fixtures/codegen), each also parsed as a Rust file, determinism, and a fast
//! property test that hostile strings reach the generated code as literals with exactly
//! their original value.
//!
//! Whether the generated code *compiles* (and renders verbatim at run time) is
//! `codegen_build.rs`, which pays for one cargo build.

use std::fs;
use std::path::{Path, PathBuf};

use harnessx_compiler::codegen::generate_module;
use harnessx_compiler::lower::{lower_source, Ir};
use proc_macro2::{TokenStream, TokenTree};
use proptest::prelude::*;

mod common;
use common::{harness_files, workspace};

fn lower_file(path: &Path) -> Ir {
    let src = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    lower_source(&src).unwrap_or_else(|d| panic!("{} did not lower: {d:#?}", path.display()))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("unnamed")
        .to_string()
}

/// The codegen fixtures: every example and every file in tests/fixtures/codegen.
fn fixtures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for p in harness_files(&workspace().join("examples")) {
        out.push((format!("example_{}", stem(&p)), p));
    }
    for p in harness_files(&workspace().join("tests/fixtures/codegen")) {
        out.push((format!("fixture_{}", stem(&p)), p));
    }
    out
}

#[test]
fn generated_rust_matches_snapshots() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 6,
        "examples and codegen fixtures: {fixtures:?}"
    );
    for (name, path) in fixtures {
        let src = generate_module(&lower_file(&path)).expect("generates");
        // The module is written as text, not printed from a syntax tree: prove it is Rust.
        syn::parse_file(&src).unwrap_or_else(|e| panic!("{name}: generated code: {e}"));
        insta::assert_snapshot!(format!("rust_{name}"), src);
    }
}

#[test]
fn generation_is_deterministic_and_path_free() {
    let ws = workspace().to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = fixtures().into_iter().map(|(_, p)| p).collect();
    files.extend(harness_files(&workspace().join("tests/fixtures/check/ok")));
    for path in files {
        let a = generate_module(&lower_file(&path)).expect("generates");
        let b = generate_module(&lower_file(&path)).expect("generates again");
        assert_eq!(a, b, "{}", path.display());
        assert!(!a.contains(&ws), "{} leaks a path", path.display());
        if let Err(e) = syn::parse_file(&a) {
            panic!("{}: generated code: {e}", path.display());
        }
    }
}

/// Every string literal's value in a token stream, in order.
fn string_literals(tokens: TokenStream, out: &mut Vec<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => string_literals(g.stream(), out),
            TokenTree::Literal(l) => {
                if let Ok(s) = syn::parse2::<syn::LitStr>(TokenTree::Literal(l).into()) {
                    out.push(s.value());
                }
            }
            _ => {}
        }
    }
}

/// Encodes any text as a plain `.harness` string literal: `"` and `\` escaped, `{`
/// written `\u{7b}` (so no `{{` ever starts a template hole), and everything outside
/// printable ASCII as `\u{..}`.
pub fn harness_string(text: &str) -> String {
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

fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("#".to_string()),
        Just("}".to_string()),
        Just("{{".to_string()),
        Just("\"#".to_string()),
        Just("r#\"".to_string()),
        Just("\u{0}".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\\".to_string()),
        Just("*/".to_string()),
        Just("{{task.goal}}".to_string()),
        Just("\u{202e}".to_string()),
        any::<char>().prop_map(String::from),
        "[a-z ]{1,6}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The prompt and the tool description come out as string literals whose value is
    /// the input, and nothing else of the input leaks into the code as tokens.
    #[test]
    fn hostile_strings_become_exact_literals(prompt in hostile_text(), desc in hostile_text()) {
        let src = format!(
            "harness h {{\n  prompt system {}\n  tool act(c: string) {}\n}}\n",
            harness_string(&prompt),
            harness_string(&desc),
        );
        let ir = match lower_source(&src) {
            Ok(ir) => ir,
            Err(d) => return Err(TestCaseError::fail(format!("{src}\n{d:#?}"))),
        };
        let code = generate_module(&ir).expect("generates");
        prop_assert!(syn::parse_file(&code).is_ok(), "generated code does not parse:\n{}", code);
        let file: TokenStream = code.parse().expect("generated code lexes");
        let mut literals = Vec::new();
        string_literals(file, &mut literals);
        prop_assert!(literals.contains(&desc), "description literal missing");
        if !prompt.is_empty() {
            prop_assert!(literals.contains(&prompt), "prompt literal missing");
        }
        prop_assert_eq!(&ir.tools[0].description, &desc);
    }
}
