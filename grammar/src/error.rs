//! Syntax errors as plain data. Rendering (codespan) lives in the compiler crate, so
//! this crate stays free of any presentation concern.

use crate::ast::Span;
use serde::Serialize;

/// What went wrong, one variant per diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyntaxErrorKind {
    /// E0001: the text does not fit the grammar.
    Unexpected,
    /// E0002: a string literal is not closed.
    UnterminatedString,
    /// E0003: a `\` escape that the language does not know.
    InvalidEscape,
    /// E0004: a number that does not fit its type.
    NumberOutOfRange,
    /// E0005: no `harness NAME { ... }` header.
    MissingHeader,
    /// E0006: a bracket that is never closed.
    Unclosed,
    /// E0007: a closing bracket without an opening one.
    Unmatched,
    /// E0008: text after the harness's closing `}`.
    TrailingText,
}

impl SyntaxErrorKind {
    /// The stable diagnostic code, documented in docs/LANGUAGE.md.
    pub fn code(self) -> &'static str {
        match self {
            SyntaxErrorKind::Unexpected => "E0001",
            SyntaxErrorKind::UnterminatedString => "E0002",
            SyntaxErrorKind::InvalidEscape => "E0003",
            SyntaxErrorKind::NumberOutOfRange => "E0004",
            SyntaxErrorKind::MissingHeader => "E0005",
            SyntaxErrorKind::Unclosed => "E0006",
            SyntaxErrorKind::Unmatched => "E0007",
            SyntaxErrorKind::TrailingText => "E0008",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntaxError {
    pub kind: SyntaxErrorKind,
    pub span: Span,
    /// One line, lower-case, no trailing period: "expected `=`, found `{`".
    pub message: String,
    /// Text for the primary label; defaults to the message's gist when `None`.
    pub label: Option<String>,
    pub help: Option<String>,
}
