//! harnessx-compiler: turns a parsed `.harness` file into diagnostics, the IR, generated
//! Rust, and built crates.
//!
//! Error *data* ([`Diagnostic`]) is kept apart from its presentation ([`render`]): the
//! checker only builds values, so the CLI, the evolver and tests can consume them as data.

pub mod build;
pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod lower;
pub mod render;
pub mod schema;
mod suggest;

pub use diagnostic::{Diagnostic, Label, Severity};

/// The result of [`check_source`]: the (possibly partial) tree and every diagnostic.
#[derive(Debug, Clone)]
pub struct CheckOutput {
    pub file: harnessx_syntax::File,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckOutput {
    /// True when at least one diagnostic is an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Parse + check. Syntax errors become diagnostics too (same codes E0001..E0009).
///
/// A file with syntax errors is still checked: the parser recovers per item, so the items
/// that did parse get their semantic diagnostics as well. Only the "required item" checks
/// are skipped then, because the missing item may be the one that failed to parse.
pub fn check_source(src: &str) -> CheckOutput {
    let parsed = harnessx_syntax::parse(src);
    let mut diagnostics: Vec<Diagnostic> =
        parsed.errors.iter().map(Diagnostic::from_syntax).collect();
    let had_syntax_errors = !diagnostics.is_empty();
    let checked = check::check(
        &parsed.file,
        check::Options {
            require_items: !had_syntax_errors,
        },
    );
    // A value the parser could not read (say, an integer that overflows) is replaced by a
    // placeholder; a checker complaint about that placeholder would only repeat the cause.
    let syntax_spans: Vec<_> = parsed.errors.iter().map(|e| e.span).collect();
    diagnostics.extend(checked.into_iter().filter(|d| {
        !syntax_spans
            .iter()
            .any(|s| s.start < d.primary.span.end && d.primary.span.start < s.end)
    }));
    diagnostic::sort(&mut diagnostics);
    CheckOutput {
        file: parsed.file,
        diagnostics,
    }
}

/// Check an already-parsed file (no syntax errors).
pub fn check_file(file: &harnessx_syntax::File) -> Vec<Diagnostic> {
    let mut diagnostics = check::check(file, check::Options::default());
    diagnostic::sort(&mut diagnostics);
    diagnostics
}
