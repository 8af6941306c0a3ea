//! Go to definition and find references, for the names a harness declares: tools,
//! prompts and named rules.
//!
//! Where the language refers to them:
//! - a tool, in the `call(NAME)` detector of a condition;
//! - a prompt, in a reference list (`context.pin = [system, hint]`);
//! - a named rule (`on HOOK as NAME`), nowhere in the language: its name appears in traces.
//!   Its references are its definitions (more than one only when it is a duplicate, which
//!   the checker reports).
//!
//! A definition is the first declaration of the name, the one the checker resolves to.

use harnessx_compiler::schema::{self, FieldType};
use harnessx_syntax::{Cond, CondKind, File, Item, Span, Value, ValueKind};

use crate::locate::{self, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Prompt,
    Rule,
}

/// A declared name: its kind and spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub kind: Kind,
    pub name: String,
}

/// The symbol at `offset`: a declaration or a reference. A pinned built-in part of the
/// prompt (`task.goal`) is not one.
pub fn symbol_at(file: &File, offset: usize) -> Option<Symbol> {
    let (kind, name) = match locate::at(file, offset)? {
        Target::ToolDef(t) => (Kind::Tool, t.name.name.as_str()),
        Target::ToolRef { name, .. } => (Kind::Tool, name),
        Target::PromptDef(p) => (Kind::Prompt, p.name.name.as_str()),
        Target::PinRef { name, .. } => (Kind::Prompt, name),
        Target::RuleName(i) => (Kind::Rule, i.name.as_str()),
        _ => return None,
    };
    let symbol = Symbol {
        kind,
        name: name.to_string(),
    };
    // A pin of a built-in part names no declaration (unless a prompt shadows it).
    (!definitions(file, &symbol).is_empty()).then_some(symbol)
}

/// Every declaration of the symbol, in source order (the first is the definition).
pub fn definitions(file: &File, symbol: &Symbol) -> Vec<Span> {
    items(file)
        .filter_map(|item| match (item, symbol.kind) {
            (Item::Tool(t), Kind::Tool) if t.name.name == symbol.name => Some(t.name.span),
            (Item::Prompt(p), Kind::Prompt) if p.name.name == symbol.name => Some(p.name.span),
            (Item::Rule(r), Kind::Rule) => r
                .name
                .as_ref()
                .filter(|n| n.name == symbol.name)
                .map(|n| n.span),
            _ => None,
        })
        .collect()
}

/// Every use of the symbol, declarations excluded, in source order.
pub fn uses(file: &File, symbol: &Symbol) -> Vec<Span> {
    let mut out = Vec::new();
    for item in items(file) {
        match (item, symbol.kind) {
            (Item::Rule(r), Kind::Tool) => {
                if let Some(when) = &r.when {
                    tool_calls(when, &symbol.name, &mut out);
                }
            }
            (Item::Section(s), Kind::Prompt) => {
                let Some(spec) = schema::section(&s.name.name) else {
                    continue;
                };
                for f in &s.fields {
                    let is_ref_list = spec
                        .field(&f.name.name)
                        .is_some_and(|spec| matches!(spec.ty, FieldType::RefList(_)));
                    if is_ref_list {
                        names_in(&f.value, &symbol.name, &mut out);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn tool_calls(cond: &Cond, tool: &str, out: &mut Vec<Span>) {
    match &cond.kind {
        CondKind::And(parts) | CondKind::Or(parts) => {
            parts.iter().for_each(|p| tool_calls(p, tool, out))
        }
        CondKind::Not(inner) => tool_calls(inner, tool, out),
        CondKind::Detector { name, args } if name.name == "call" => {
            for a in args.iter().filter(|a| a.name.is_none()) {
                if matches!(&a.value.kind, ValueKind::Ident(n) if n == tool) {
                    out.push(a.value.span);
                }
            }
        }
        _ => {}
    }
}

fn names_in(v: &Value, name: &str, out: &mut Vec<Span>) {
    match &v.kind {
        ValueKind::Ident(n) if n == name => out.push(v.span),
        ValueKind::List(items) => items.iter().for_each(|i| names_in(i, name, out)),
        _ => {}
    }
}

fn items(file: &File) -> impl Iterator<Item = &Item> {
    file.harness.iter().flat_map(|h| h.items.iter())
}

/// Go to definition: the first declaration of the symbol at `offset`.
pub fn definition(file: &File, offset: usize) -> Option<Span> {
    let symbol = symbol_at(file, offset)?;
    definitions(file, &symbol).first().copied()
}

/// Find references: the uses of the symbol at `offset`, and its declarations when
/// `include_declaration`; in source order.
pub fn references(file: &File, offset: usize, include_declaration: bool) -> Vec<Span> {
    let Some(symbol) = symbol_at(file, offset) else {
        return Vec::new();
    };
    let mut spans = uses(file, &symbol);
    if include_declaration {
        spans.extend(definitions(file, &symbol));
    }
    spans.sort_by_key(|s| (s.start, s.end));
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "harness h {
  prompt system \"x\"
  prompt hint \"y\"
  tool go(t: string)
  tool look()
  context { pin = [system, hint, task.goal] }
  on before_tool as guard when call(go) or not call(look) { log \"a\" }
  on after_tool when call(go) and tool_error { retry }
  on step_end as guard { log \"b\" }
}
";

    fn at(needle: &str, nth: usize) -> usize {
        SRC.match_indices(needle).nth(nth).expect(needle).0
    }

    fn texts(spans: &[Span]) -> Vec<(usize, &str)> {
        spans
            .iter()
            .map(|s| (s.start, &SRC[s.start..s.end]))
            .collect()
    }

    #[test]
    fn tools_prompts_and_rules_resolve_to_their_first_declaration() {
        let file = harnessx_syntax::parse(SRC).file;
        let go_decl = at("go(", 0);
        assert_eq!(
            definition(&file, at("call(go)", 0) + 5).map(|s| s.start),
            Some(go_decl)
        );
        assert_eq!(definition(&file, go_decl).map(|s| s.start), Some(go_decl));
        assert_eq!(
            definition(&file, at("hint,", 0)).map(|s| s.start),
            Some(at("hint", 0))
        );
        assert_eq!(
            definition(&file, at("guard", 1)).map(|s| s.start),
            Some(at("guard", 0))
        );
        // Built-in pins, hooks and actions are not declarations.
        assert_eq!(definition(&file, at("task.goal", 0)), None);
        assert_eq!(definition(&file, at("before_tool", 0)), None);
    }

    #[test]
    fn references_list_every_use() {
        let file = harnessx_syntax::parse(SRC).file;
        let go = references(&file, at("go(", 0), true);
        assert_eq!(
            texts(&go),
            vec![
                (at("go(", 0), "go"),
                (at("call(go)", 0) + 5, "go"),
                (at("call(go)", 1) + 5, "go")
            ]
        );
        let uses_only = references(&file, at("go(", 0), false);
        assert_eq!(uses_only.len(), 2);
        let system = references(&file, at("system,", 0), true);
        assert_eq!(
            texts(&system),
            vec![(at("system", 0), "system"), (at("system,", 0), "system")]
        );
        let guard = references(&file, at("guard", 0), true);
        assert_eq!(guard.len(), 2, "a duplicate name is a second declaration");
        assert!(references(&file, at("retry", 0), true).is_empty());
    }
}
