//! Formatting: the canonical printer, as `harnessx fmt` runs it.
//!
//! A file with syntax errors is refused, as `fmt` refuses it: printing a partial tree
//! would drop the items that did not parse.

use harnessx_syntax::printer::format_source;
use lsp_types::TextEdit;

use crate::server::whole_text_edit;

/// The edits that format `text`, or why it cannot be formatted.
pub fn edits(text: &str) -> Result<Vec<TextEdit>, String> {
    match format_source(text) {
        Ok(formatted) => Ok(whole_text_edit(text, formatted)),
        Err(errors) => Err(format!(
            "{} syntax error{} (first: {})",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.first().map_or("?", |e| e.message.as_str())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_fmt_and_refuses_syntax_errors() {
        let messy = "harness h {\nprompt system   \"x\"\n  tool go(t: string)\n}\n";
        let edits = edits(messy).expect("formattable");
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].new_text, format_source(messy).unwrap());
        let canonical = &edits[0].new_text;
        assert!(
            self::edits(canonical).unwrap().is_empty(),
            "already canonical"
        );
        assert!(self::edits("harness h {\n  tool go(\n}\n").is_err());
    }
}
