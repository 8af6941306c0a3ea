//! Presentation of diagnostics: human text (codespan-reporting) and a JSON machine format.
//!
//! The only module that knows codespan-reporting. Spans are clamped to the source and to
//! char boundaries first, so a stale or odd span can never make rendering fail.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer};
use harnessx_syntax::Span;
use serde_json::{json, Value};

use crate::diagnostic::{Diagnostic, Label, Severity};

/// Renders diagnostics as rustc-style text. `color` adds ANSI escapes.
pub fn render_text(file_name: &str, src: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, src);
    let mut buf = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let config = term::Config::default();
    for d in diags {
        // Writing to an in-memory buffer with clamped spans does not fail; if it ever did,
        // fall back to the one-line form rather than losing the diagnostic.
        if term::emit(&mut buf, &config, &file, &to_codespan(src, d)).is_err() {
            let (line, col) = line_col(src, d.primary.span.start);
            let fallback = format!(
                "{}[{}]: {}\n  --> {file_name}:{line}:{col}\n",
                d.severity.as_str(),
                d.code,
                d.message
            );
            std::io::Write::write_all(&mut buf, fallback.as_bytes()).ok();
        }
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

fn to_codespan(src: &str, d: &Diagnostic) -> cs::Diagnostic<()> {
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut labels = vec![label(cs::LabelStyle::Primary, src, &d.primary)];
    labels.extend(
        d.secondary
            .iter()
            .map(|l| label(cs::LabelStyle::Secondary, src, l)),
    );
    let mut notes = Vec::new();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    notes.extend(d.notes.iter().map(|n| format!("note: {n}")));
    base.with_code(d.code.clone())
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

fn label(style: cs::LabelStyle, src: &str, l: &Label) -> cs::Label<()> {
    let span = clamp(src, l.span);
    cs::Label::new(style, (), span.start..span.end).with_message(l.message.clone())
}

/// Keeps a span inside `src` and on char boundaries.
fn clamp(src: &str, span: Span) -> Span {
    let fix = |mut i: usize| {
        i = i.min(src.len());
        while i > 0 && !src.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    let end = fix(span.end).max(start);
    Span::new(start, end)
}

/// 1-based line and 1-based column of a byte offset; the column counts chars, not bytes.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = clamp(src, Span::new(offset, offset)).start;
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn label_json(src: &str, l: &Label) -> Value {
    let span = clamp(src, l.span);
    let (line, column) = line_col(src, span.start);
    let (end_line, end_column) = line_col(src, span.end);
    json!({
        "start": span.start,
        "end": span.end,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "message": l.message,
    })
}

/// Renders diagnostics as a JSON array, one object per diagnostic:
///
/// ```json
/// { "code": "E0109", "severity": "error", "message": "...", "help": "..." | null,
///   "file": "x.harness", "notes": [..],
///   "primary": { "start": 10, "end": 14, "line": 2, "column": 3,
///                "end_line": 2, "end_column": 7, "message": "..." },
///   "secondary": [ {same shape}, .. ] }
/// ```
///
/// Byte offsets are half-open; lines and columns are 1-based and columns count chars.
pub fn render_json(file_name: &str, src: &str, diags: &[Diagnostic]) -> Value {
    Value::Array(
        diags
            .iter()
            .map(|d| {
                json!({
                    "code": d.code,
                    "severity": d.severity.as_str(),
                    "message": d.message,
                    "help": d.help,
                    "notes": d.notes,
                    "file": file_name,
                    "primary": label_json(src, &d.primary),
                    "secondary": d.secondary.iter().map(|l| label_json(src, l)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
