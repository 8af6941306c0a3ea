//! Inputs that stress a front end: arbitrary strings, "token soup" built from the
//! language's own tokens, and valid files damaged by random edits (deletions, insertions
//! of grammar-relevant tokens, swaps, duplications, truncations).
//!
//! Shared by the never-panic property tests of the parser and checker
//! (`tests/tests/never_panic.rs`) and the language server's robustness tests
//! (`cli/tests/lsp_robustness.rs`, `lsp/`), so both are fed the same inputs.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;

/// Pieces of the language, for inputs that get past the first character.
pub const TOKENS: &[&str] = &[
    "harness",
    "model",
    "loop",
    "context",
    "prompt",
    "tool",
    "on",
    "as",
    "when",
    "and",
    "or",
    "not",
    "otherwise",
    "matches",
    "true",
    "false",
    "enum",
    "tokens",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"\"\"",
    "#",
    "@",
    "@evolve",
    "@frozen",
    "..",
    ".",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "?",
    "\\",
    "\\u{",
    "\\n",
    "{{",
    "}}",
    " ",
    " ",
    " ",
    "\n",
    "\n",
    "\t",
    "\r\n",
    "x",
    "task.goal",
    "step",
    "call",
    "retry",
    "inject",
    "0",
    "-1",
    "1.5",
    "1e9",
    "2s",
    "100ms",
    "1m",
    "1500 tokens",
    "99999999999999999999",
    "é",
    "🚀",
    "\u{0}",
    "string",
    "int",
    "[string]",
    "a = 1",
    "\"text\"",
    "# comment\n",
];

pub fn token() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(TOKENS)
}

/// Up to 60 tokens, bare or wrapped in a `harness soup { ... }` header.
pub fn token_soup() -> impl Strategy<Value = String> {
    (proptest::collection::vec(token(), 0..60), any::<bool>()).prop_map(|(tokens, wrap)| {
        let body = tokens.concat();
        if wrap {
            format!("harness soup {{\n{body}\n}}\n")
        } else {
            body
        }
    })
}

/// Examples and ok fixtures: the valid files that mutations start from.
pub fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for pattern in [
        root.join("../examples/*.harness"),
        root.join("fixtures/*/ok/**/*.harness"),
    ] {
        let pattern = pattern.to_string_lossy().into_owned();
        for path in glob::glob(&pattern)
            .expect("valid glob")
            .filter_map(Result::ok)
        {
            if let Ok(src) = std::fs::read_to_string(&path) {
                files.push(src);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 3, "corpus too small: {}", files.len());
    files
}

/// One random edit, with positions relative to the text's current length.
#[derive(Debug, Clone)]
pub enum Edit {
    Delete(Index, usize),
    Insert(Index, &'static str),
    InsertChar(Index, char),
    Swap(Index, Index, usize),
    Duplicate(Index, usize),
    Truncate(Index),
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        4 => (any::<Index>(), token()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Edit::InsertChar(i, c)),
        2 => (any::<Index>(), any::<Index>(), 1usize..12).prop_map(|(a, b, n)| Edit::Swap(a, b, n)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

pub fn apply(text: &mut Vec<char>, e: &Edit) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match e {
        Edit::Delete(i, n) => {
            let start = at(i, text.len()).min(text.len());
            let end = (start + n).min(text.len());
            text.drain(start..end);
        }
        Edit::Insert(i, t) => {
            let pos = at(i, text.len());
            text.splice(pos..pos, t.chars());
        }
        Edit::InsertChar(i, c) => {
            let pos = at(i, text.len());
            text.insert(pos, *c);
        }
        Edit::Swap(a, b, n) => {
            if text.len() >= 2 * n {
                let (mut x, mut y) = (a.index(text.len() - n + 1), b.index(text.len() - n + 1));
                if x > y {
                    std::mem::swap(&mut x, &mut y);
                }
                if x + n <= y {
                    for k in 0..*n {
                        text.swap(x + k, y + k);
                    }
                }
            }
        }
        Edit::Duplicate(i, n) => {
            let start = at(i, text.len()).min(text.len());
            let end = (start + n).min(text.len());
            let copy: Vec<char> = text[start..end].to_vec();
            text.splice(end..end, copy);
        }
        Edit::Truncate(i) => {
            let len = at(i, text.len());
            text.truncate(len);
        }
    }
}

/// A corpus file after one to five random edits.
pub fn mutated_file() -> impl Strategy<Value = String> {
    let files = corpus();
    (
        proptest::sample::select(files),
        proptest::collection::vec(edit(), 1..6),
    )
        .prop_map(|(src, edits)| {
            let mut text: Vec<char> = src.chars().collect();
            for e in &edits {
                apply(&mut text, e);
            }
            text.into_iter().collect()
        })
}
