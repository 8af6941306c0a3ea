//! Glob-discovered fixtures under `tests/fixtures/{parse,check,fmt}/{ok,err}/**/*.harness`.
//!
//! - `parse/ok`: no syntax error. `parse/err`: at least one syntax error; the rendered
//!   syntax errors are an insta snapshot.
//! - `check/ok`: `check_source` reports no error (warnings, if any, are snapshotted).
//!   `check/err`: at least one error; the rendered diagnostics are a snapshot.
//! - `fmt/ok`: `NAME.harness` formats to exactly `NAME.formatted`, which is stable.
//!   `fmt/err`: `format_source` refuses the file; its errors are a snapshot.
//! - Every ok fixture and every `examples/*.harness` round-trips through the printer:
//!   `print(parse(print(parse(x)))) == print(parse(x))` and the trees agree modulo spans.
//!
//! Snapshots live in `tests/tests/snapshots/fixtures__<kind>__<outcome>__<name>.snap`.
//! Accept new or changed ones with `INSTA_UPDATE=always cargo test -p harnessx-tests`
//! (or `cargo insta review`), then read them. CI runs with `CI=true INSTA_UPDATE=no`, so
//! a missing or changed snapshot fails there. A snapshot whose fixture is gone fails
//! `no_orphan_snapshots`.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use harnessx_compiler::render::render_text;
use harnessx_compiler::{check_source, Diagnostic, Severity};
use harnessx_syntax::printer::{format_source, print, without_spans};
use harnessx_syntax::{parse, SyntaxError};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
}

/// All `*.harness` files under `fixtures/<kind>/<outcome>`, sorted.
fn discover(kind: &str, outcome: &str) -> Vec<PathBuf> {
    let pattern = root().join(kind).join(outcome).join("**").join("*.harness");
    let pattern = pattern.to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = glob::glob(&pattern)
        .unwrap_or_else(|e| panic!("bad glob {pattern}: {e}"))
        .filter_map(Result::ok)
        .collect();
    files.sort();
    files
}

/// The path relative to `tests/fixtures`, with `/` separators: the name shown in
/// diagnostics and the basis of the snapshot name.
fn rel(path: &Path) -> String {
    let r = path.strip_prefix(root()).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `parse/err/E0001_x.harness` → `parse__err__E0001_x`.
fn snapshot_name(rel: &str) -> String {
    rel.trim_end_matches(".harness").replace('/', "__")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn syntax_diagnostics(errors: &[SyntaxError]) -> Vec<Diagnostic> {
    errors.iter().map(Diagnostic::from_syntax).collect()
}

fn error_count(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// Collects failures so one run reports every broken fixture, not just the first.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn push(&mut self, msg: impl Into<String>) {
        self.0.push(msg.into());
    }

    /// Runs an insta assertion, recording (rather than propagating) its failure.
    fn snapshot(&mut self, rel: &str, rendered: &str) {
        let name = snapshot_name(rel);
        let path = root().join(rel);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut settings = insta::Settings::clone_current();
            settings.set_input_file(&path);
            settings.set_omit_expression(true);
            settings.set_prepend_module_to_snapshot(true);
            settings.bind(|| insta::assert_snapshot!(name.as_str(), rendered));
        }));
        if outcome.is_err() {
            self.push(format!("{rel}: snapshot `{name}` is missing or differs"));
        }
    }

    fn finish(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{} {what} fixture failure(s):\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

fn require_some(files: &[PathBuf], dir: &str) {
    assert!(
        !files.is_empty(),
        "no fixtures found in tests/fixtures/{dir}"
    );
}

#[test]
fn parse_fixtures() {
    let mut failures = Failures::default();
    let ok = discover("parse", "ok");
    require_some(&ok, "parse/ok");
    for path in &ok {
        let src = read(path);
        let parsed = parse(&src);
        if !parsed.errors.is_empty() {
            let text = render_text(&rel(path), &src, &syntax_diagnostics(&parsed.errors), false);
            failures.push(format!("{}: unexpected syntax errors:\n{text}", rel(path)));
        }
    }
    let err = discover("parse", "err");
    require_some(&err, "parse/err");
    for path in &err {
        let src = read(path);
        let r = rel(path);
        let parsed = parse(&src);
        if parsed.errors.is_empty() {
            failures.push(format!("{r}: expected a syntax error, found none"));
            continue;
        }
        check_code_in_name(&r, &parsed.errors, &mut failures);
        let text = render_text(&r, &src, &syntax_diagnostics(&parsed.errors), false);
        failures.snapshot(&r, &text);
    }
    failures.finish("parse");
}

/// A fixture named `E0004_....harness` must report that code.
fn check_code_in_name(rel: &str, errors: &[SyntaxError], failures: &mut Failures) {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let prefix: String = file.chars().take(5).collect();
    let looks_like_code = prefix.len() == 5
        && prefix.starts_with(['E', 'W'])
        && prefix[1..].chars().all(|c| c.is_ascii_digit());
    if looks_like_code && !errors.iter().any(|e| e.kind.code() == prefix) {
        let codes: Vec<&str> = errors.iter().map(|e| e.kind.code()).collect();
        failures.push(format!("{rel}: named after {prefix} but reports {codes:?}"));
    }
}

#[test]
fn check_fixtures() {
    let mut failures = Failures::default();
    for path in discover("check", "ok") {
        let src = read(&path);
        let r = rel(&path);
        let out = check_source(&src);
        let text = render_text(&r, &src, &out.diagnostics, false);
        if out.has_errors() {
            failures.push(format!("{r}: unexpected errors:\n{text}"));
        } else if !out.diagnostics.is_empty() {
            // Warnings are allowed in ok fixtures, and pinned like errors are.
            failures.snapshot(&r, &text);
        }
    }
    for path in discover("check", "err") {
        let src = read(&path);
        let r = rel(&path);
        let out = check_source(&src);
        if !out.has_errors() {
            failures.push(format!(
                "{r}: expected at least one error, found {}",
                out.diagnostics.len()
            ));
            continue;
        }
        let file = r.rsplit('/').next().unwrap_or(&r);
        let prefix: String = file.chars().take(5).collect();
        if prefix.len() == 5
            && prefix.starts_with(['E', 'W'])
            && prefix[1..].chars().all(|c| c.is_ascii_digit())
            && !out.diagnostics.iter().any(|d| d.code == prefix)
        {
            let codes: Vec<&str> = out.diagnostics.iter().map(|d| d.code.as_str()).collect();
            failures.push(format!("{r}: named after {prefix} but reports {codes:?}"));
        }
        let text = render_text(&r, &src, &out.diagnostics, false);
        failures.snapshot(&r, &text);
    }
    failures.finish("check");
}

#[test]
fn fmt_fixtures() {
    let mut failures = Failures::default();
    let ok = discover("fmt", "ok");
    require_some(&ok, "fmt/ok");
    for path in &ok {
        let src = read(path);
        let r = rel(path);
        let expected_path = path.with_extension("formatted");
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            failures.push(format!(
                "{r}: missing expected output {}",
                rel(&expected_path)
            ));
            continue;
        };
        match format_source(&src) {
            Ok(out) if out == expected => {}
            Ok(out) => failures.push(format!(
                "{r}: formatted text differs from {}\n--- expected\n{expected}\n--- actual\n{out}",
                rel(&expected_path)
            )),
            Err(errors) => failures.push(format!(
                "{r}: syntax errors:\n{}",
                render_text(&r, &src, &syntax_diagnostics(&errors), false)
            )),
        }
        if let Ok(again) = format_source(&expected) {
            if again != expected {
                failures.push(format!("{}: is not stable under fmt", rel(&expected_path)));
            }
        }
    }
    // Every expected output has its input.
    let pattern = root().join("fmt").join("**").join("*.formatted");
    for formatted in glob::glob(&pattern.to_string_lossy())
        .expect("glob")
        .filter_map(Result::ok)
    {
        if !formatted.with_extension("harness").exists() {
            failures.push(format!("{}: no matching .harness input", rel(&formatted)));
        }
    }

    let err = discover("fmt", "err");
    require_some(&err, "fmt/err");
    for path in &err {
        let src = read(path);
        let r = rel(path);
        match format_source(&src) {
            Ok(_) => failures.push(format!("{r}: fmt accepted a file it should refuse")),
            Err(errors) => {
                let text = render_text(&r, &src, &syntax_diagnostics(&errors), false);
                failures.snapshot(&r, &text);
            }
        }
    }
    failures.finish("fmt");
}

/// Every file that should format: ok fixtures of every kind and the examples.
fn round_trip_inputs() -> Vec<(String, String)> {
    let mut inputs = Vec::new();
    for kind in ["parse", "check", "fmt"] {
        for path in discover(kind, "ok") {
            inputs.push((rel(&path), read(&path)));
        }
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut paths: Vec<PathBuf> = glob::glob(&examples.join("*.harness").to_string_lossy())
        .expect("glob")
        .filter_map(Result::ok)
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no examples found");
    for path in paths {
        let name = format!(
            "examples/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        inputs.push((name, read(&path)));
    }
    inputs
}

#[test]
fn printer_round_trip() {
    let mut failures = Failures::default();
    for (name, src) in round_trip_inputs() {
        let parsed = parse(&src);
        if !parsed.errors.is_empty() {
            failures.push(format!("{name}: syntax errors, cannot round-trip"));
            continue;
        }
        let once = print(&parsed.file);
        let reparsed = parse(&once);
        if !reparsed.errors.is_empty() {
            failures.push(format!(
                "{name}: printed text does not parse:\n{}\n--- printed\n{once}",
                render_text(&name, &once, &syntax_diagnostics(&reparsed.errors), false)
            ));
            continue;
        }
        let twice = print(&reparsed.file);
        if twice != once {
            failures.push(format!(
                "{name}: fmt is not idempotent\n--- once\n{once}\n--- twice\n{twice}"
            ));
        }
        if without_spans(&reparsed.file) != without_spans(&parsed.file) {
            failures.push(format!(
                "{name}: the tree changes when printed and re-parsed\n--- printed\n{once}"
            ));
        }
    }
    failures.finish("round-trip");
}

#[test]
fn examples_check_without_errors() {
    let mut failures = Failures::default();
    for (name, src) in round_trip_inputs() {
        if !name.starts_with("examples/") {
            continue;
        }
        let out = check_source(&src);
        if out.has_errors() {
            failures.push(format!(
                "{name}:\n{}",
                render_text(&name, &src, &out.diagnostics, false)
            ));
        }
    }
    failures.finish("example");
}

#[test]
fn recovery_reports_every_broken_item() {
    let path = root().join("parse/err/recovery_three_errors.harness");
    let src = read(&path);
    let parsed = parse(&src);
    let diags = syntax_diagnostics(&parsed.errors);
    assert_eq!(
        error_count(&diags),
        3,
        "{}",
        render_text("recovery_three_errors.harness", &src, &diags, false)
    );
    // The three errors are on three different lines, and the good items still parsed.
    let lines: BTreeSet<usize> = parsed
        .errors
        .iter()
        .map(|e| src[..e.span.start.min(src.len())].matches('\n').count())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let items = parsed.file.harness.map(|h| h.items.len()).unwrap_or(0);
    assert!(
        items >= 2,
        "the valid prompt and tool survive: {items} items"
    );
}

/// A `fixtures__*.snap` file must belong to a fixture that still produces a snapshot.
#[test]
fn no_orphan_snapshots() {
    let mut expected = BTreeSet::new();
    for (kind, outcome) in [
        ("parse", "err"),
        ("check", "err"),
        ("check", "ok"),
        ("fmt", "err"),
    ] {
        for path in discover(kind, outcome) {
            expected.insert(format!("fixtures__{}.snap", snapshot_name(&rel(&path))));
        }
    }
    let Ok(entries) = std::fs::read_dir(snapshot_dir()) else {
        return;
    };
    let orphans: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("fixtures__") && n.ends_with(".snap"))
        .filter(|n| !expected.contains(n))
        .collect();
    assert!(
        orphans.is_empty(),
        "snapshots without a fixture (delete them): {orphans:?}"
    );
}
