//! Rust identifiers for names that come from a harness.
//!
//! Harness names are ASCII identifiers, but they may be Rust keywords (`type`, `self`,
//! `match`), and an IR built by hand may hold any string at all. Every identifier the
//! generator emits goes through this module, which maps a name to a valid, non-keyword
//! identifier and keeps identifiers unique within one namespace. The original name is never
//! lost: wherever it matters (serde field names, enum variants, tool names) it is emitted
//! as a string literal next to the identifier.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};

/// Strict, reserved and edition-dependent keywords: none of them can be a plain
/// identifier, and `self`/`Self`/`super`/`crate` cannot even be raw ones.
const KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// `name` as a snake_case identifier that rustc's `non_snake_case` lint accepts: ASCII
/// letters lowercased, other characters outside `[a-z0-9]` become `_`, runs of `_`
/// collapse to one, a leading digit gets a `_` prefix, and a keyword (or a lone `_`) gets
/// a `_` suffix. A snake_case name maps to itself; names that map to the same identifier
/// (`Go`, `go`, `g_o`/`g__o`) are told apart by [`Names`], and the original name is kept
/// in a string literal wherever it matters. Composite names (`render_{name}_with`) should
/// be built first and passed through `snake` whole, so no `__` appears at the seams.
pub fn snake(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if !(c == '_' && s.ends_with('_')) {
            s.push(c);
        }
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if is_keyword(&s) || s == "_" {
        s.push('_');
    }
    s
}

/// `name` in CamelCase: words split at `_` and at any character outside `[A-Za-z0-9]`,
/// each capitalized. `fallback` is used when nothing alphanumeric remains, and prefixes a
/// result that would start with a digit or be a keyword.
pub fn camel(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() {
        return fallback.to_string();
    }
    // A leading digit, or the one CamelCase keyword (`Self`), gets the fallback as a
    // prefix; an `_` suffix would trip rustc's `non_camel_case_types` lint once a
    // collision appends a number.
    if out.starts_with(|c: char| c.is_ascii_digit()) || is_keyword(&out) {
        out.insert_str(0, fallback);
    }
    out
}

/// Hands out unique identifiers in one namespace, in request order, so the result is
/// deterministic: the first request for a base name gets it, later ones get `base2`,
/// `base3`, ...
#[derive(Debug, Default)]
pub struct Names {
    used: BTreeSet<String>,
}

impl Names {
    pub fn new(reserved: &[&str]) -> Self {
        Names {
            used: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn alloc(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let mut n = 2u64;
        loop {
            let candidate = format!("{base}{n}");
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

/// An identifier token. `s` must come from [`snake`], [`camel`] or a fixed name: those
/// are always valid, so `Ident::new` cannot panic on them.
pub fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

/// Text safe to put in a generated doc comment: only `[A-Za-z0-9_.-]` survives, anything
/// else becomes `_`. Source strings never reach comments; this is for names, which a
/// hand-built IR could fill with anything.
pub fn doc_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        assert_eq!(snake("target"), "target");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("_"), "__");
        assert_eq!(snake(""), "__");
        assert_eq!(snake("1st"), "_1st");
        assert_eq!(snake("a b-c"), "a_b_c");
        assert_eq!(snake("é"), "__");
        assert_eq!(snake("Option"), "option");
        assert_eq!(snake("a__b"), "a_b");
        assert_eq!(snake("render_type_with"), "render_type_with");
        assert_eq!(snake("render___with"), "render_with");
    }

    #[test]
    fn camel_names() {
        assert_eq!(camel("plan_then_act", "V"), "PlanThenAct");
        assert_eq!(camel("email", "V"), "Email");
        assert_eq!(camel("a b", "V"), "AB");
        assert_eq!(camel("", "V"), "V");
        assert_eq!(camel("1x", "V"), "V1x");
        assert_eq!(camel("self", "V"), "VSelf");
        assert_eq!(camel("\"}#", "V"), "V");
    }

    #[test]
    fn every_result_is_an_identifier() {
        for s in ["", "_", "type", "Self", "a\"b", "{{", "0", "ü", "\u{0}"] {
            let _ = ident(&snake(s));
            let _ = ident(&camel(s, "V"));
        }
    }

    #[test]
    fn allocation_is_unique_and_ordered() {
        let mut n = Names::new(&["Call"]);
        assert_eq!(n.alloc("Call"), "Call2");
        assert_eq!(n.alloc("GoArgs"), "GoArgs");
        assert_eq!(n.alloc("GoArgs"), "GoArgs2");
        assert_eq!(n.alloc("Call"), "Call3");
    }
}
