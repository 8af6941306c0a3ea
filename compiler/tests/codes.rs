//! Every diagnostic code is reachable from source, and each fixture reports the code in
//! its name:
//!
//! - `tests/fixtures/check/err/EXXXX_*.harness` reports error `EXXXX`;
//! - `tests/fixtures/check/ok/WXXXX_*.harness` reports warning `WXXXX` and no error;
//! - every other `check/ok` fixture and every `examples/*.harness` reports nothing;
//! - `tests/fixtures/parse/err/E000X_*.harness` reports syntax error `E000X`.

use std::path::{Path, PathBuf};

use harnessx_compiler::check::codes;
use harnessx_compiler::render::render_text;
use harnessx_compiler::{check_source, Severity};

mod common;
use common::{harness_files, workspace};

/// `E0109_unknown_hook.harness` → `Some("E0109")`.
fn code_prefix(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let prefix: String = name.chars().take(5).collect();
    let is_code = prefix.len() == 5
        && prefix.starts_with(['E', 'W'])
        && prefix[1..].chars().all(|c| c.is_ascii_digit());
    is_code.then_some(prefix)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn show(path: &Path, src: &str, out: &harnessx_compiler::CheckOutput) -> String {
    render_text(&path.display().to_string(), src, &out.diagnostics, false)
}

#[test]
fn err_fixtures_report_their_code() {
    let files = harness_files(&workspace().join("tests/fixtures/check/err"));
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for path in &files {
        let Some(code) = code_prefix(path) else {
            failures.push(format!(
                "{}: name does not start with a code",
                path.display()
            ));
            continue;
        };
        let src = read(path);
        let out = check_source(&src);
        let hit = out
            .diagnostics
            .iter()
            .any(|d| d.code == code && d.severity == Severity::Error);
        if !hit {
            failures.push(format!(
                "{}: expected {code}:\n{}",
                path.display(),
                show(path, &src, &out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ok_fixtures_and_examples_are_clean() {
    let mut files = harness_files(&workspace().join("tests/fixtures/check/ok"));
    files.extend(harness_files(&workspace().join("examples")));
    assert!(files.len() > 3);
    let mut failures = Vec::new();
    for path in &files {
        let src = read(path);
        let out = check_source(&src);
        let ok = match code_prefix(path) {
            Some(code) => {
                code.starts_with('W')
                    && !out.has_errors()
                    && out.diagnostics.iter().any(|d| d.code == code)
                    && out.diagnostics.iter().all(|d| d.code == code)
            }
            None => out.diagnostics.is_empty(),
        };
        if !ok {
            failures.push(format!("{}:\n{}", path.display(), show(path, &src, &out)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_fixtures_report_their_code() {
    let files = harness_files(&workspace().join("tests/fixtures/parse/err"));
    for path in files {
        let Some(code) = code_prefix(&path) else {
            continue;
        };
        let src = read(&path);
        let out = check_source(&src);
        assert!(
            out.diagnostics.iter().any(|d| d.code == code),
            "{}: expected {code}:\n{}",
            path.display(),
            show(&path, &src, &out)
        );
    }
}

#[test]
fn every_code_has_a_fixture_and_every_fixture_a_known_code() {
    let root = workspace().join("tests/fixtures");
    let fixtures: Vec<PathBuf> = ["check/err", "check/ok", "parse/err"]
        .iter()
        .flat_map(|d| harness_files(&root.join(d)))
        .collect();
    let prefixes: Vec<String> = fixtures.iter().filter_map(|p| code_prefix(p)).collect();
    for info in codes::ALL {
        assert!(
            prefixes.iter().any(|p| p == info.code),
            "no fixture named after {} ({})",
            info.code,
            info.title
        );
    }
    for p in &prefixes {
        assert!(
            codes::ALL.iter().any(|c| c.code == p),
            "fixture named after unknown or internal code {p}"
        );
    }
}

#[test]
fn codes_are_unique_and_well_formed() {
    let all: Vec<&codes::CodeInfo> = codes::ALL.iter().chain(codes::INTERNAL).collect();
    for (i, c) in all.iter().enumerate() {
        assert!(
            all[..i].iter().all(|d| d.code != c.code),
            "{} twice",
            c.code
        );
        assert_eq!(c.code.len(), 5);
        assert!(c.code.starts_with(['E', 'W']));
        assert!(!c.title.is_empty());
    }
}

#[test]
fn each_err_fixture_reports_exactly_one_diagnostic() {
    // Fixtures are minimal: one mistake, one diagnostic, so a snapshot shows one thing.
    for path in harness_files(&workspace().join("tests/fixtures/check/err")) {
        let src = read(&path);
        let out = check_source(&src);
        assert_eq!(
            out.diagnostics.len(),
            1,
            "{}:\n{}",
            path.display(),
            show(&path, &src, &out)
        );
    }
}
