//! Diagnostics as plain data: what is wrong, where, and how to fix it.
//!
//! Nothing here knows how a diagnostic is displayed; see [`crate::render`].

use harnessx_syntax::{Span, SyntaxError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span of source with a short message shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// One problem found in a source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// A stable code such as `"E0109"`, listed in docs/LANGUAGE.md.
    pub code: String,
    pub severity: Severity,
    /// One line, lower-case, no trailing period.
    pub message: String,
    /// The exact offending node.
    pub primary: Label,
    /// Related places (e.g. the first definition of a duplicate).
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(
        code: &str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code: code.to_string(),
            severity: Severity::Error,
            message: message.into(),
            primary: Label::new(span, label),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(
        code: &str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span, label)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line only when there is one (e.g. a did-you-mean that found a match).
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label::new(span, message));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// A syntax error from the parser, under the same code it carries there.
    pub fn from_syntax(e: &SyntaxError) -> Self {
        let label = e.label.clone().unwrap_or_else(|| e.message.clone());
        let mut d = Diagnostic::error(e.kind.code(), e.message.clone(), e.span, label);
        d.help = e.help.clone();
        d
    }
}

/// Orders diagnostics by position (then code), so output is stable and reads top-down.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.primary.span.start, a.primary.span.end, &a.code).cmp(&(
            b.primary.span.start,
            b.primary.span.end,
            &b.code,
        ))
    });
}
