//! The checker's diagnostics as LSP diagnostics.
//!
//! Nothing is re-derived here: code, severity, message, help (the did-you-mean) and notes
//! come from `harnessx_compiler::check_source`, exactly what `harnessx check` reports;
//! only byte spans become UTF-16 ranges. Secondary labels (say, the first definition of
//! a duplicate) become related information pointing into the same document.

use harnessx_compiler::{check_source, Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};

use crate::position::LineIndex;

/// Shown as the diagnostic's source in editors ("harnessx(E0102)").
pub const SOURCE: &str = "harnessx";

/// Every diagnostic of `text`, converted.
pub fn diagnostics(uri: &Url, text: &str) -> Vec<lsp_types::Diagnostic> {
    let index = LineIndex::new(text);
    check_source(text)
        .diagnostics
        .iter()
        .map(|d| convert(uri, text, &index, d))
        .collect()
}

fn convert(uri: &Url, text: &str, index: &LineIndex, d: &Diagnostic) -> lsp_types::Diagnostic {
    let range = |span: harnessx_syntax::Span| index.range(text, span.start, span.end);
    // The label says what is wrong with this node; the help how to fix it. Editors show
    // only the message, so both go into it, on their own lines.
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() && d.primary.message != d.message {
        message.push_str(&format!("\n{}", d.primary.message));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .map(|l| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), range(l.span)),
            message: l.message.clone(),
        })
        .collect();
    lsp_types::Diagnostic {
        range: range(d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.clone())),
        code_description: None,
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::Position;

    fn uri() -> Url {
        Url::parse("file:///t.harness").unwrap()
    }

    #[test]
    fn a_misspelled_hook_keeps_its_code_and_suggestion_at_a_utf16_column() {
        // `日本` is 6 bytes but 2 UTF-16 units; the error's column must count units.
        let src = "harness h \"日本\" { prompt system \"x\"\non after_modle { log \"x\" } }\n";
        let diags = diagnostics(&uri(), src);
        let d = diags
            .iter()
            .find(|d| d.message.contains("after_modle"))
            .expect("unknown hook reported");
        assert_eq!(d.code, Some(NumberOrString::String("E0109".into())));
        assert!(d.message.contains("after_model"), "{}", d.message);
        assert_eq!(d.range.start, Position::new(1, 3));
        assert_eq!(d.range.end, Position::new(1, 14));

        let same_line = "harness h { prompt system \"日本\" on after_modle { log \"x\" } }";
        let diags = diagnostics(&uri(), same_line);
        let d = diags
            .iter()
            .find(|d| d.message.contains("after_modle"))
            .unwrap();
        let bytes = same_line.find("after_modle").unwrap();
        // Two 3-byte characters before the error, one unit each: 4 units fewer.
        assert_eq!(d.range.start, Position::new(0, bytes as u32 - 4));
    }

    #[test]
    fn a_duplicate_points_at_its_first_definition() {
        let src = "harness h {\n  prompt system \"a\"\n  prompt system \"b\"\n}\n";
        let diags = diagnostics(&uri(), src);
        let d = diags
            .iter()
            .find(|d| d.code == Some(NumberOrString::String("E0120".into())));
        let related = d.expect("duplicate").related_information.as_ref().unwrap();
        assert_eq!(related[0].location.range.start, Position::new(1, 9));
    }
}
