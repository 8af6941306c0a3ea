//! Building and finding AST nodes. Built nodes carry default spans: the candidate is
//! printed and re-parsed before anyone reads a span (see `candidate`).

use harnessx_syntax::{
    Action, Annotation, Arg, CmpOp, Comments, Cond, CondKind, Field, File, Harness, Ident, Item,
    Rule, Section, Span, StrLit, StrStyle, TemplateVar, Value, ValueKind,
};

pub fn ident(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: Span::default(),
    }
}

pub fn value(kind: ValueKind) -> Value {
    Value {
        kind,
        span: Span::default(),
    }
}

/// A plain string literal, with its template variables listed as the parser would.
pub fn str_lit(text: &str) -> StrLit {
    StrLit {
        value: text.to_string(),
        style: StrStyle::Plain,
        vars: template_vars(text),
        span: Span::default(),
    }
}

/// `{{ path }}` occurrences, trimmed, in order.
pub fn template_vars(text: &str) -> Vec<TemplateVar> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        out.push(TemplateVar {
            path: after[..close].trim().to_string(),
            span: Span::default(),
        });
        rest = &after[close + 2..];
    }
    out
}

pub fn text(s: &str) -> ValueKind {
    ValueKind::Str(str_lit(s))
}

pub fn field(name: &str, kind: ValueKind) -> Field {
    Field {
        name: ident(name),
        value: value(kind),
        annotations: Vec::new(),
        comments: Comments::default(),
        span: Span::default(),
    }
}

pub fn named_arg(name: &str, kind: ValueKind) -> Arg {
    Arg {
        name: Some(ident(name)),
        value: value(kind),
        span: Span::default(),
    }
}

pub fn action(name: &str, args: Vec<Arg>, message: Option<ValueKind>) -> Action {
    Action {
        name: ident(name),
        args,
        message: message.map(value),
        otherwise: None,
        comments: Comments::default(),
        span: Span::default(),
    }
}

fn cond(kind: CondKind) -> Cond {
    Cond {
        kind,
        span: Span::default(),
    }
}

pub fn detector(name: &str, args: Vec<Arg>) -> Cond {
    cond(CondKind::Detector {
        name: ident(name),
        args,
    })
}

/// `call(tool)`: one positional argument naming the tool.
pub fn call(tool: &str) -> Cond {
    let arg = Arg {
        name: None,
        value: value(ValueKind::Ident(tool.to_string())),
        span: Span::default(),
    };
    detector("call", vec![arg])
}

pub fn compare(metric: &str, op: CmpOp, kind: ValueKind) -> Cond {
    cond(CondKind::Compare {
        metric: ident(metric),
        op,
        value: value(kind),
    })
}

pub fn matches(subject: &str, pattern: &str) -> Cond {
    cond(CondKind::Matches {
        subject: ident(subject),
        pattern: str_lit(pattern),
    })
}

pub fn and(ops: Vec<Cond>) -> Cond {
    cond(CondKind::And(ops))
}

pub fn not(op: Cond) -> Cond {
    cond(CondKind::Not(Box::new(op)))
}

pub fn rule(hook: &str, name: Option<&str>, when: Option<Cond>, actions: Vec<Action>) -> Rule {
    Rule {
        annotations: Vec::new(),
        hook: ident(hook),
        name: name.map(ident),
        when,
        actions,
        dangling: Vec::new(),
        comments: Comments::default(),
        span: Span::default(),
    }
}

pub fn new_section(name: &str, fields: Vec<Field>) -> Section {
    Section {
        annotations: Vec::new(),
        name: ident(name),
        fields,
        dangling: Vec::new(),
        comments: Comments::default(),
        span: Span::default(),
    }
}

/// A scalar value as written in source, for manifest summaries (source itself is only
/// ever emitted by the printer).
pub fn show(kind: &ValueKind) -> String {
    match kind {
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Float(x) => harnessx_syntax::printer::float(*x),
        ValueKind::Duration(d) => format!("{}{}", d.amount, d.unit.as_str()),
        ValueKind::Tokens(t) => format!("{t} tokens"),
        ValueKind::Ident(n) => n.clone(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Str(s) => format!("{:?}", s.value),
        ValueKind::List(items) => {
            let parts: Vec<String> = items.iter().map(|v| show(&v.kind)).collect();
            format!("[{}]", parts.join(", "))
        }
        ValueKind::Range(lo, hi) => format!("{}..{}", show(&lo.kind), show(&hi.kind)),
    }
}

// ---- lookups --------------------------------------------------------------------------

pub fn is_frozen(annotations: &[Annotation]) -> bool {
    annotations.iter().any(|a| a.name.name == "frozen")
}

pub fn harness(file: &File) -> Option<&Harness> {
    file.harness.as_ref()
}

/// The item index of the first section called `name`. (The checker rejects a repeated
/// section, so the first is the only one in a valid file.)
pub fn section_index(h: &Harness, name: &str) -> Option<usize> {
    h.items
        .iter()
        .position(|i| matches!(i, Item::Section(s) if s.name.name == name))
}

pub fn section<'a>(h: &'a Harness, name: &str) -> Option<&'a Section> {
    match h.items.get(section_index(h, name)?) {
        Some(Item::Section(s)) => Some(s),
        _ => None,
    }
}

pub fn section_field<'a>(h: &'a Harness, sect: &str, name: &str) -> Option<&'a Field> {
    section(h, sect)?
        .fields
        .iter()
        .find(|f| f.name.name == name)
}

/// Item indices of the rules, in order: `rules[k]` is `h.items[rule_items(h)[k]]`.
pub fn rule_items(h: &Harness) -> Vec<usize> {
    h.items
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Item::Rule(_)))
        .map(|(i, _)| i)
        .collect()
}

pub fn tool_names(h: &Harness) -> Vec<&str> {
    h.items
        .iter()
        .filter_map(|i| match i {
            Item::Tool(t) => Some(t.name.name.as_str()),
            _ => None,
        })
        .collect()
}

pub fn rule_names(h: &Harness) -> Vec<&str> {
    h.items
        .iter()
        .filter_map(|i| match i {
            Item::Rule(r) => r.name.as_ref().map(|n| n.name.as_str()),
            _ => None,
        })
        .collect()
}

/// The path of item `index` in the scheme of `harnessx_syntax::paths`.
pub fn item_path(h: &Harness, index: usize) -> Option<String> {
    Some(match h.items.get(index)? {
        Item::Section(s) => s.name.name.clone(),
        Item::Prompt(p) => format!("prompts.{}", p.name.name),
        Item::Tool(t) => format!("tools.{}", t.name.name),
        Item::Rule(_) => {
            let k = rule_items(h).iter().position(|i| *i == index)?;
            format!("rules[{k}]")
        }
    })
}

/// The item a node path belongs to: `loop.max_steps` → `loop`, `rules[2].when` →
/// `rules[2]`, `prompts.system.text` → `prompts.system`.
pub fn owner_item_path(path: &str) -> String {
    let head_end = |s: &str| s.find(['.', '@']).unwrap_or(s.len());
    for prefix in ["prompts.", "tools."] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return format!("{prefix}{}", &rest[..head_end(rest)]);
        }
    }
    path[..head_end(path)].to_string()
}

/// Index of the item named by an item path, if any.
pub fn item_index(h: &Harness, path: &str) -> Option<usize> {
    (0..h.items.len()).find(|i| item_path(h, *i).as_deref() == Some(path))
}

/// Where a new section goes: after the last section, else first.
pub fn section_insert_at(h: &Harness) -> usize {
    h.items
        .iter()
        .rposition(|i| matches!(i, Item::Section(_)))
        .map_or(0, |i| i + 1)
}

/// Where a new rule goes: after the last rule, else at the end. Appending keeps every
/// existing rule's index (and so its path) unchanged.
pub fn rule_insert_at(h: &Harness) -> usize {
    h.items
        .iter()
        .rposition(|i| matches!(i, Item::Rule(_)))
        .map_or(h.items.len(), |i| i + 1)
}

/// A rule name not yet taken: `base`, else `base_2`, `base_3`, ...
pub fn fresh_rule_name(h: &Harness, base: &str) -> String {
    let taken = rule_names(h);
    if !taken.contains(&base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|n| !taken.contains(&n.as_str()))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_paths() {
        assert_eq!(owner_item_path("loop.max_steps"), "loop");
        assert_eq!(owner_item_path("loop.max_steps@evolve.range"), "loop");
        assert_eq!(owner_item_path("rules[2].when.and[0].count"), "rules[2]");
        assert_eq!(owner_item_path("prompts.system.text"), "prompts.system");
        assert_eq!(owner_item_path("tools.go.timeout"), "tools.go");
        assert_eq!(owner_item_path("context"), "context");
    }

    #[test]
    fn vars_are_found() {
        let vars = template_vars("a {{ task.goal }} b {{step}} {{open");
        let paths: Vec<_> = vars.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["task.goal", "step"]);
    }

    #[test]
    fn fragments_and_rule_messages_use_known_variables() {
        use crate::fragments::Phrasing;
        use crate::fragments::{all_prompt_fragments, rule_message_paraphrases, rule_messages};
        use crate::manifest::FailureClass;
        use harnessx_compiler::schema::template_var;
        let texts = all_prompt_fragments()
            .chain(Phrasing::Paraphrased.all_prompt_fragments())
            .map(|(_, f)| f)
            .chain(
                FailureClass::ALL
                    .into_iter()
                    .flat_map(|c| rule_messages(c).iter().copied()),
            )
            .chain(FailureClass::ALL.into_iter().flat_map(|c| {
                rule_message_paraphrases(c)
                    .iter()
                    .flat_map(|p| p.iter().copied())
            }));
        for t in texts {
            for v in template_vars(t) {
                assert!(template_var(&v.path).is_some(), "{t:?}");
            }
        }
    }
}
