//! The front end's contract, as one function over any input text: what the fuzzer
//! (`fuzz/`, docs/TESTING.md) checks on every input it makes, what
//! `tests/tests/fuzz_corpus.rs` replays on the committed corpus, and what the property
//! tests of `tests/tests/never_panic.rs` check on theirs.
//!
//! For any `src`:
//!
//! 1. parse, check, both renderers and the printer (on the possibly partial tree) return;
//!    a panic anywhere is a finding (the caller sees it as a panic);
//! 2. when it parses without errors: the printed text parses without errors, printing is
//!    idempotent (`fmt` of `fmt` output changes nothing), and `parse(fmt(src))` has the
//!    tree of `src`, spans aside (and the printer's one documented change, see
//!    [`triple_fell_back_to_plain`]);
//! 3. when it checks without errors: it lowers (a lowering error is an internal compiler
//!    error), the generated module is Rust that `syn` parses, and the formatted text lowers
//!    to the same IR (formatting never changes what a harness means).

use std::fmt;

use harnessx_compiler::codegen::generate_module;
use harnessx_compiler::render::{render_json, render_text};
use harnessx_compiler::{check_source, lower};
use harnessx_syntax::printer::{print, strip_key, without_spans};
use harnessx_syntax::{parse, File};
use serde_json::Value;

/// A broken invariant: which one, and what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub invariant: &'static str,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant broken: {}\n{}", self.invariant, self.detail)
    }
}

impl std::error::Error for Finding {}

fn finding(invariant: &'static str, detail: String) -> Result<(), Finding> {
    Err(Finding { invariant, detail })
}

/// Runs the whole front end and code generation on `src` and checks every invariant of
/// the module docs. Panics inside the compiler are not caught: they reach the caller.
pub fn check_front_end(src: &str) -> Result<(), Finding> {
    // `check_source` parses once and turns syntax errors into diagnostics `E0001`..`E0009`.
    let out = check_source(src);
    // The printer must cope with partial trees too.
    let _ = print(&out.file);
    let _ = render_text("input.harness", src, &out.diagnostics, false);
    let _ = render_json("input.harness", src, &out.diagnostics);
    if out.diagnostics.iter().any(|d| d.code.starts_with("E000")) {
        return Ok(());
    }
    let formatted = round_trip(src, &out.file)?;
    if out.has_errors() {
        return Ok(());
    }
    generate(src, &out.file, &formatted)
}

/// Invariant 2; returns the formatted text.
fn round_trip(src: &str, file: &File) -> Result<String, Finding> {
    let once = print(file);
    let reparsed = parse(&once);
    if !reparsed.errors.is_empty() {
        return Err(Finding {
            invariant: "formatted text parses",
            detail: format!(
                "{:?}\n--- source\n{src}\n--- formatted\n{once}",
                reparsed.errors
            ),
        });
    }
    let twice = print(&reparsed.file);
    if twice != once {
        return Err(Finding {
            invariant: "fmt is idempotent",
            detail: format!("--- source\n{src}\n--- formatted once\n{once}\n--- twice\n{twice}"),
        });
    }
    let (before, after) = (without_spans(file), without_spans(&reparsed.file));
    if before != after && !triple_fell_back_to_plain(&before, &after) {
        return Err(Finding {
            invariant: "parse(fmt(x)) has the tree of x, spans aside",
            detail: format!(
                "--- source\n{src}\n--- formatted\n{once}\n--- tree of source\n{before}\n--- tree of formatted\n{after}"
            ),
        });
    }
    Ok(once)
}

/// Invariant 3, for a file that checked without errors.
fn generate(src: &str, file: &File, formatted: &str) -> Result<(), Finding> {
    let ir = match lower::lower(file) {
        Ok(ir) => ir,
        Err(d) => return finding("a checked file lowers", format!("{d:?}\n--- source\n{src}")),
    };
    let rust = match generate_module(&ir) {
        Ok(rust) => rust,
        Err(e) => {
            return finding(
                "a checked file generates code",
                format!("{e}\n--- source\n{src}"),
            )
        }
    };
    if let Err(e) = syn::parse_file(&rust) {
        return finding(
            "generated code is Rust that syn parses",
            format!("{e}\n--- source\n{src}\n--- generated\n{rust}"),
        );
    }
    match lower::lower_source(formatted) {
        Ok(again) if again == ir => Ok(()),
        Ok(again) => finding(
            "the formatted file lowers to the same IR",
            format!(
                "--- source\n{src}\n--- formatted\n{formatted}\n--- IR of source\n{}\n--- IR of formatted\n{}",
                ir.to_canonical_json(),
                again.to_canonical_json()
            ),
        ),
        Err(d) => finding(
            "the formatted file of a checked file checks and lowers",
            format!("{d:?}\n--- source\n{src}\n--- formatted\n{formatted}"),
        ),
    }
}

/// The printer's one documented change of tree (grammar/src/printer.rs, "Strings"): a
/// triple-quoted value that `dedent` could not give back (say, a line ending in a stray
/// `\r`) prints as a plain string. The trees then differ only in that string's `style`,
/// and only from triple to plain; the value is the same.
pub fn triple_fell_back_to_plain(before: &Value, after: &Value) -> bool {
    fn strip_style(v: &Value) -> Value {
        let mut v = v.clone();
        strip_key(&mut v, "style");
        v
    }
    fn triples(v: &Value) -> usize {
        match v {
            Value::Object(map) => map
                .iter()
                .map(|(k, x)| usize::from(k == "style" && x == "triple") + triples(x))
                .sum(),
            Value::Array(items) => items.iter().map(triples).sum(),
            _ => 0,
        }
    }
    triples(after) < triples(before) && strip_style(before) == strip_style(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_file_passes_every_invariant() {
        let src = "harness h {\n  prompt system \"s {{task.goal}}\"\n  tool act(c: string)\n}\n";
        assert_eq!(check_front_end(src), Ok(()));
    }

    #[test]
    fn broken_input_is_not_a_finding() {
        assert_eq!(check_front_end("harness {{{ \" unterminated"), Ok(()));
        assert_eq!(check_front_end(""), Ok(()));
    }

    #[test]
    fn a_tree_change_is_detected() {
        let before = serde_json::json!({"a": {"style": "plain", "value": "x"}});
        let after = serde_json::json!({"a": {"style": "triple", "value": "x"}});
        assert!(!triple_fell_back_to_plain(&before, &after));
        assert!(triple_fell_back_to_plain(&after, &before));
    }
}
