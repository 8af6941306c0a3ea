//! Property tests: the front end never panics, whatever the input.
//!
//! - (a) arbitrary strings (any Unicode) and "token soup" built from the language's own
//!   tokens, bare and wrapped in a `harness x { ... }` header;
//! - (b) valid files (examples and ok fixtures) damaged by random edits: deletions,
//!   insertions of grammar-relevant tokens (`{`, `}`, `"`, `"""`, `#`, `@`, `(`, `..`, ...),
//!   swaps, duplications and truncations;
//! - (c) every input that parses without errors formats idempotently, and its tree
//!   survives printing (modulo spans).
//!
//! Each input goes through `parse`, `check_source`, `render_text`, `render_json` and
//! `print` (on the possibly partial tree too).
//!
//! Case counts: `PROPTEST_CASES` sets the count of every test here; without it the
//! defaults below add up to 10,000 cases. proptest keeps failing seeds in
//! `tests/tests/never_panic.proptest-regressions` and replays them first.

use harnessx_compiler::check_source;
use harnessx_compiler::render::{render_json, render_text};
use harnessx_syntax::parse;
use harnessx_syntax::printer::{print, without_spans};
use harnessx_tests::inputs::{corpus, mutated_file, token_soup};
use harnessx_tests::oracle::triple_fell_back_to_plain;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // Shrinking a parser input can take long; a bounded search is enough to get a
        // small reproducer.
        max_shrink_iters: 2_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Runs the whole front end on `src`; a panic anywhere fails the case. Returns the
/// parsed file's errors-free flag.
fn exercise(src: &str) -> Result<(), TestCaseError> {
    let parsed = parse(src);
    // The printer must cope with partial trees too.
    let _ = print(&parsed.file);
    let out = check_source(src);
    let _ = render_text("input.harness", src, &out.diagnostics, false);
    let _ = render_text("input.harness", src, &out.diagnostics, true);
    let _ = render_json("input.harness", src, &out.diagnostics);
    prop_assert_eq!(
        parsed.errors.is_empty(),
        !out.diagnostics.iter().any(|d| d.code.starts_with("E000")),
        "parse and check_source disagree about syntax errors"
    );
    if parsed.errors.is_empty() {
        round_trip(src, &parsed.file)?;
    }
    Ok(())
}

/// (c): fmt is idempotent and keeps the tree.
fn round_trip(src: &str, file: &harnessx_syntax::File) -> Result<(), TestCaseError> {
    let once = print(file);
    let reparsed = parse(&once);
    prop_assert!(
        reparsed.errors.is_empty(),
        "printed text does not parse: {:?}\n--- source\n{}\n--- printed\n{}",
        reparsed.errors,
        src,
        once
    );
    let twice = print(&reparsed.file);
    prop_assert_eq!(&twice, &once, "fmt is not idempotent\n--- source\n{}", src);
    let (before, after) = (without_spans(file), without_spans(&reparsed.file));
    prop_assert!(
        before == after || triple_fell_back_to_plain(&before, &after),
        "the tree changes when printed\n--- source\n{}\n--- printed\n{}",
        src,
        once
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(2_000))]
    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        exercise(&src)?;
    }
}

proptest! {
    #![proptest_config(config(3_000))]
    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        exercise(&src)?;
    }
}

proptest! {
    #![proptest_config(config(5_000))]
    #[test]
    fn mutated_files_never_panic_and_format_stably(src in mutated_file()) {
        exercise(&src)?;
    }
}

/// The corpus itself is valid, so the mutation test starts from files that parse.
#[test]
fn corpus_parses_cleanly() {
    for src in corpus() {
        let parsed = parse(&src);
        assert!(parsed.errors.is_empty(), "{:?}\n{src}", parsed.errors);
    }
}
