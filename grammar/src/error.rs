//! Syntax errors as plain data. Rendering (codespan) lives in the compiler crate, so
//! this crate stays free of any presentation concern.

use crate::ast::Span;
use serde::Serialize;

/// What went wrong, one variant per diagnostic code (see [`SyntaxErrorKind::code`] and
/// [`SyntaxErrorKind::title`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyntaxErrorKind {
    Unexpected,
    UnterminatedString,
    InvalidEscape,
    NumberOutOfRange,
    MissingHeader,
    Unclosed,
    Unmatched,
    TrailingText,
    TooDeep,
}

impl SyntaxErrorKind {
    /// Every kind, in code order.
    pub const ALL: [SyntaxErrorKind; 9] = [
        SyntaxErrorKind::Unexpected,
        SyntaxErrorKind::UnterminatedString,
        SyntaxErrorKind::InvalidEscape,
        SyntaxErrorKind::NumberOutOfRange,
        SyntaxErrorKind::MissingHeader,
        SyntaxErrorKind::Unclosed,
        SyntaxErrorKind::Unmatched,
        SyntaxErrorKind::TrailingText,
        SyntaxErrorKind::TooDeep,
    ];

    /// The stable diagnostic code, documented in docs/LANGUAGE.md. The compiler's code
    /// registry (`harnessx_compiler::check::codes`) takes these codes and titles from here.
    pub const fn code(self) -> &'static str {
        match self {
            SyntaxErrorKind::Unexpected => "E0001",
            SyntaxErrorKind::UnterminatedString => "E0002",
            SyntaxErrorKind::InvalidEscape => "E0003",
            SyntaxErrorKind::NumberOutOfRange => "E0004",
            SyntaxErrorKind::MissingHeader => "E0005",
            SyntaxErrorKind::Unclosed => "E0006",
            SyntaxErrorKind::Unmatched => "E0007",
            SyntaxErrorKind::TrailingText => "E0008",
            SyntaxErrorKind::TooDeep => "E0009",
        }
    }

    /// The code's one-line meaning.
    pub const fn title(self) -> &'static str {
        match self {
            SyntaxErrorKind::Unexpected => "the text does not fit the grammar",
            SyntaxErrorKind::UnterminatedString => "a string literal is not closed",
            SyntaxErrorKind::InvalidEscape => "unknown `\\` escape in a string",
            SyntaxErrorKind::NumberOutOfRange => "a number does not fit its type",
            SyntaxErrorKind::MissingHeader => "no `harness NAME { ... }` header",
            SyntaxErrorKind::Unclosed => "a bracket is never closed",
            SyntaxErrorKind::Unmatched => "a closing bracket without an opening one",
            SyntaxErrorKind::TrailingText => "text after the harness's closing `}`",
            SyntaxErrorKind::TooDeep => "brackets and `not`s nest too deeply",
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
