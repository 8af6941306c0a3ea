//! What is at a byte offset of a parsed (possibly partial) file: a hook, an action, a
//! field, a reference to a tool… Hover and navigation start here.
//!
//! The parser recovers per item, so every item that parses can be looked into even while
//! another one is half typed. A name is hit from its first character to just after its
//! last, so a cursor at the end of a word still finds it.

use harnessx_compiler::schema::{self, FieldType, Hook, HookExt};
use harnessx_syntax::{
    Action, Annotation, Arg, Cond, CondKind, Field, File, Ident, Item, Prompt, Rule, Span, StrLit,
    TemplateVar, Tool, TypeExpr, TypeKind, Value, ValueKind,
};

/// A thing in the source that the server can say something about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Hook(&'a Ident),
    RuleName(&'a Ident),
    /// An action's name, with the hook of its rule when that is a known hook.
    Action(&'a Ident),
    /// A named argument of an action or detector: `max` in `retry(max = 2)`.
    ArgName {
        owner: &'a str,
        name: &'a Ident,
    },
    /// A bare name as an action's message or argument: `extract_action` after `repair`.
    ActionValue {
        action: &'a str,
        name: &'a str,
        span: Span,
    },
    Detector(&'a Ident),
    Metric(&'a Ident),
    Subject(&'a Ident),
    /// The tool named in `call(NAME)`.
    ToolRef {
        name: &'a str,
        span: Span,
    },
    Section(&'a Ident),
    /// A field name; `section` is `None` for a tool's option.
    Field {
        section: Option<&'a str>,
        name: &'a Ident,
    },
    /// A bare name as a field's value: `react` in `strategy = react`.
    FieldValue {
        section: Option<&'a str>,
        field: &'a str,
        name: &'a str,
        span: Span,
    },
    /// A name in a reference list (`context.pin`): a prompt or a built-in part.
    PinRef {
        name: &'a str,
        span: Span,
    },
    ToolDef(&'a Tool),
    PromptDef(&'a Prompt),
    Annotation(&'a Ident),
    TemplateVar(&'a TemplateVar),
    ParamType {
        name: &'a str,
        span: Span,
    },
}

impl Target<'_> {
    /// The source range the target covers (highlighted on hover).
    pub fn span(&self) -> Span {
        match self {
            Target::Hook(i)
            | Target::RuleName(i)
            | Target::Action(i)
            | Target::Detector(i)
            | Target::Metric(i)
            | Target::Subject(i)
            | Target::Section(i)
            | Target::Annotation(i) => i.span,
            Target::ArgName { name, .. } | Target::Field { name, .. } => name.span,
            Target::ActionValue { span, .. }
            | Target::ToolRef { span, .. }
            | Target::FieldValue { span, .. }
            | Target::PinRef { span, .. }
            | Target::ParamType { span, .. } => *span,
            Target::ToolDef(t) => t.name.span,
            Target::PromptDef(p) => p.name.span,
            Target::TemplateVar(v) => v.span,
        }
    }
}

/// Whether `offset` is on `span`, its end included.
fn hit(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

fn ident_hit(ident: &Ident, offset: usize) -> bool {
    !ident.name.is_empty() && hit(ident.span, offset)
}

/// The target at `offset`, if any.
pub fn at(file: &File, offset: usize) -> Option<Target<'_>> {
    let harness = file.harness.as_ref()?;
    let item = harness.items.iter().find(|i| hit(i.span(), offset))?;
    if let Some(t) = annotations(item.annotations(), offset) {
        return Some(t);
    }
    match item {
        Item::Section(s) => {
            if ident_hit(&s.name, offset) {
                return Some(Target::Section(&s.name));
            }
            fields(&s.fields, Some(&s.name.name), offset)
        }
        Item::Prompt(p) => {
            if ident_hit(&p.name, offset) {
                return Some(Target::PromptDef(p));
            }
            string(&p.text, offset)
        }
        Item::Tool(t) => tool(t, offset),
        Item::Rule(r) => rule(r, offset),
    }
}

fn annotations(anns: &[Annotation], offset: usize) -> Option<Target<'_>> {
    anns.iter()
        .find(|a| ident_hit(&a.name, offset))
        .map(|a| Target::Annotation(&a.name))
}

fn string(s: &StrLit, offset: usize) -> Option<Target<'_>> {
    s.vars
        .iter()
        .find(|v| hit(v.span, offset))
        .map(Target::TemplateVar)
}

fn fields<'a>(fields: &'a [Field], section: Option<&'a str>, offset: usize) -> Option<Target<'a>> {
    let f = fields.iter().find(|f| hit(f.span, offset))?;
    if let Some(t) = annotations(&f.annotations, offset) {
        return Some(t);
    }
    if ident_hit(&f.name, offset) {
        return Some(Target::Field {
            section,
            name: &f.name,
        });
    }
    let spec = match section {
        Some(s) => schema::section(s).and_then(|s| s.field(&f.name.name)),
        None => schema::tool_option(&f.name.name),
    }?;
    let value = bare_name_at(&f.value, offset)?;
    match spec.ty {
        FieldType::RefList(_) => Some(Target::PinRef {
            name: value.0,
            span: value.1,
        }),
        FieldType::Enum(_) => Some(Target::FieldValue {
            section,
            field: spec.name,
            name: value.0,
            span: value.1,
        }),
        _ => None,
    }
    .or_else(|| string_in(&f.value, offset))
}

/// The bare name (a `ValueKind::Ident`) at `offset` in a value or list of values.
fn bare_name_at(v: &Value, offset: usize) -> Option<(&str, Span)> {
    if !hit(v.span, offset) {
        return None;
    }
    match &v.kind {
        ValueKind::Ident(name) => Some((name, v.span)),
        ValueKind::List(items) => items.iter().find_map(|i| bare_name_at(i, offset)),
        _ => None,
    }
}

/// A template variable in a string value at `offset`.
fn string_in(v: &Value, offset: usize) -> Option<Target<'_>> {
    match &v.kind {
        ValueKind::Str(s) => string(s, offset),
        ValueKind::List(items) => items.iter().find_map(|i| string_in(i, offset)),
        _ => None,
    }
}

fn tool(t: &Tool, offset: usize) -> Option<Target<'_>> {
    if ident_hit(&t.name, offset) {
        return Some(Target::ToolDef(t));
    }
    for p in &t.params {
        if hit(p.ty.span, offset) {
            return type_name(&p.ty);
        }
    }
    if let Some(d) = &t.description {
        if let Some(v) = string(d, offset) {
            return Some(v);
        }
    }
    fields(t.options.as_deref().unwrap_or(&[]), None, offset)
}

/// The base type's name (`string` in `[string]?`).
fn type_name(ty: &TypeExpr) -> Option<Target<'_>> {
    match &ty.kind {
        TypeKind::Named(n) => Some(Target::ParamType {
            name: n,
            span: ty.span,
        }),
        TypeKind::List(inner) | TypeKind::Optional(inner) => type_name(inner),
        TypeKind::Enum(_) => None,
    }
}

fn rule(r: &Rule, offset: usize) -> Option<Target<'_>> {
    if ident_hit(&r.hook, offset) {
        return Some(Target::Hook(&r.hook));
    }
    if let Some(name) = r.name.as_ref().filter(|n| ident_hit(n, offset)) {
        return Some(Target::RuleName(name));
    }
    if let Some(when) = r.when.as_ref().filter(|c| hit(c.span, offset)) {
        return cond(when, offset);
    }
    let mut chain = r
        .actions
        .iter()
        .flat_map(|a| std::iter::successors(Some(a), |a: &&Action| a.otherwise.as_deref()));
    chain.find_map(|a| action(a, offset))
}

fn cond(c: &Cond, offset: usize) -> Option<Target<'_>> {
    if !hit(c.span, offset) {
        return None;
    }
    match &c.kind {
        CondKind::And(parts) | CondKind::Or(parts) => parts.iter().find_map(|p| cond(p, offset)),
        CondKind::Not(inner) => cond(inner, offset),
        CondKind::Detector { name, args } => {
            if ident_hit(name, offset) {
                return Some(Target::Detector(name));
            }
            let arg = args.iter().find(|a| hit(a.span, offset))?;
            if let Some(n) = arg.name.as_ref().filter(|n| ident_hit(n, offset)) {
                return Some(Target::ArgName {
                    owner: &name.name,
                    name: n,
                });
            }
            match (&arg.value.kind, name.name.as_str()) {
                (ValueKind::Ident(tool), "call") => Some(Target::ToolRef {
                    name: tool,
                    span: arg.value.span,
                }),
                _ => None,
            }
        }
        CondKind::Compare { metric, .. } => {
            ident_hit(metric, offset).then_some(Target::Metric(metric))
        }
        CondKind::Matches { subject, .. } => {
            ident_hit(subject, offset).then_some(Target::Subject(subject))
        }
    }
}

fn action(a: &Action, offset: usize) -> Option<Target<'_>> {
    if ident_hit(&a.name, offset) {
        return Some(Target::Action(&a.name));
    }
    if let Some(arg) = a.args.iter().find(|x| hit(x.span, offset)) {
        return action_arg(&a.name.name, arg, offset);
    }
    let message = a.message.as_ref().filter(|m| hit(m.span, offset))?;
    match &message.kind {
        ValueKind::Ident(name) => Some(Target::ActionValue {
            action: &a.name.name,
            name,
            span: message.span,
        }),
        ValueKind::Str(s) => string(s, offset),
        _ => None,
    }
}

fn action_arg<'a>(action: &'a str, arg: &'a Arg, offset: usize) -> Option<Target<'a>> {
    if let Some(n) = arg.name.as_ref().filter(|n| ident_hit(n, offset)) {
        return Some(Target::ArgName {
            owner: action,
            name: n,
        });
    }
    match &arg.value.kind {
        ValueKind::Ident(name) if hit(arg.value.span, offset) => Some(Target::ActionValue {
            action,
            name,
            span: arg.value.span,
        }),
        _ => None,
    }
}

/// The hook of the rule whose span holds `offset`, when it names a known hook.
pub fn hook_at(file: &File, offset: usize) -> Option<Hook> {
    let harness = file.harness.as_ref()?;
    harness.items.iter().find_map(|i| match i {
        Item::Rule(r) if hit(r.span, offset) => Hook::from_name(&r.hook.name),
        _ => None,
    })
}
