//! The checker and both renderers never panic, whatever the input: token soup, and
//! valid files with a slice cut out or pasted elsewhere (which gives the parser's odd
//! recovered trees: empty names, missing values, half rules).

use proptest::prelude::*;

use harnessx_compiler::check_source;
use harnessx_compiler::render::{render_json, render_text};

const TOKENS: &[&str] = &[
    "harness",
    "h",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "..",
    "@frozen",
    "@evolve",
    "@evolve(range = 1..9)",
    "@evolve(choices = [react])",
    "model",
    "loop",
    "context",
    "prompt",
    "system",
    "tool",
    "on",
    "as",
    "when",
    "and",
    "or",
    "not",
    "otherwise",
    "matches",
    "\"s\"",
    "\"{{task.goal}}\"",
    "\"{{x}}\"",
    "\"\"\"\n  t {{step}}\n\"\"\"",
    "\"(\"",
    "1",
    "-3",
    "0.5",
    "2s",
    "100ms",
    "1500 tokens",
    "true",
    "x",
    "task.goal",
    "max_steps",
    "strategy",
    "react",
    "budget",
    "pin",
    "temperature",
    "timeout",
    "retries",
    "verifies",
    "string",
    "int?",
    "[string]",
    "enum(\"a\", \"a\")",
    ":",
    "after_model",
    "before_tool",
    "step_end",
    "malformed_call",
    "repeated_action",
    "call",
    "verified",
    "tool_error",
    "step",
    ">=",
    "output",
    "repair",
    "extract_action",
    "retry",
    "inject",
    "block",
    "stop",
    "log",
    "compact",
    "reprompt",
    "max",
    "window",
    "count",
    "\n",
    "#c\n",
    "é",
    "\u{1F600}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|ts| ts.join(" "))
}

fn check_all(src: &str) {
    let out = check_source(src);
    let _ = render_text("f", src, &out.diagnostics, false);
    let _ = render_json("f", src, &out.diagnostics);
    for d in &out.diagnostics {
        assert!(d.primary.span.start <= d.primary.span.end, "{d:?}");
        assert!(d.primary.span.end <= src.len(), "{d:?}");
    }
}

fn corpus() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in [
        "examples",
        "tests/fixtures/check/ok",
        "tests/fixtures/check/err",
    ] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                if let Ok(s) = std::fs::read_to_string(e.path()) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Byte index rounded down to a char boundary.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn token_soup(src in soup()) {
        check_all(&src);
        check_all(&format!("harness h {{\n{src}\n}}"));
    }

    #[test]
    fn cut_and_paste(pick in any::<prop::sample::Index>(), a in any::<usize>(), b in any::<usize>(), c in any::<usize>()) {
        let files = corpus();
        prop_assume!(!files.is_empty());
        let src = pick.get(&files);
        let n = src.len().max(1);
        let (x, y) = (floor(src, a % n), floor(src, b % n));
        let (lo, hi) = (x.min(y), x.max(y));
        let cut = format!("{}{}", &src[..lo], &src[hi..]);
        check_all(&cut);
        let at = floor(&cut, c % cut.len().max(1));
        let pasted = format!("{}{}{}", &cut[..at], &src[lo..hi], &cut[at..]);
        check_all(&pasted);
    }
}
