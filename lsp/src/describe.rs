//! Markdown descriptions of the language's names, read from `harnessx_compiler::schema`:
//! the same table that drives the checker and docs/LANGUAGE.md's reference tables, so a
//! hover can never say something the checker does not enforce. Hover shows these whole;
//! completion items carry them as documentation.

use harnessx_compiler::schema::{
    self, ActionSpec, ArgSpec, DetectorArgs, DetectorSpec, EvolveDefault, FieldSpec, FieldType,
    Hook, HookExt, HookSet, MessageSpec, MetricSpec, ProcessorKindExt, SectionSpec, SubjectSpec,
};
use harnessx_syntax::printer::plain;
use harnessx_syntax::{Prompt, Tool, TypeExpr, TypeKind};

/// `a`, `b`, `c` as inline code.
fn code_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn hooks_line(hooks: HookSet) -> String {
    format!("Available on: {}", hooks.describe())
}

pub fn hook(hook: Hook) -> String {
    let actions = schema::ACTIONS
        .iter()
        .filter(|a| a.hooks.contains(hook))
        .map(|a| a.name);
    let detectors = schema::DETECTORS
        .iter()
        .filter(|d| d.hooks.contains(hook))
        .map(|d| d.name);
    let metrics = schema::METRICS
        .iter()
        .filter(|m| m.hooks.contains(hook))
        .map(|m| m.name);
    let subjects = schema::SUBJECTS
        .iter()
        .filter(|s| s.hooks.contains(hook))
        .map(|s| s.name);
    let mut out = format!(
        "**`{}`** — hook\n\n{}\n\nActions legal here: {}\n\nDetectors: {}\n\nMetrics: {}\n\nMatch subjects: {}",
        hook.as_str(),
        hook.doc(),
        code_list(actions),
        code_list(detectors),
        code_list(metrics),
        code_list(subjects),
    );
    if hook.is_read_only() {
        out.push_str("\n\nRead-only: only pass-through actions (`log`).");
    }
    out
}

pub fn action(a: &ActionSpec) -> String {
    let mut out = format!(
        "**`{}`** — action ({}: {})\n\n{}\n\nUsage: `{}`\n\nLegal on: {}",
        a.name,
        a.kind.name(),
        a.kind.doc(),
        a.doc,
        a.usage,
        a.hooks.describe()
    );
    match a.message {
        MessageSpec::None => {}
        MessageSpec::Text => out.push_str("\n\nMessage: a string (a template: `{{vars}}` allowed)"),
        MessageSpec::Variant(vs) => out.push_str(&format!(
            "\n\nMessage: one of {}",
            code_list(vs.iter().copied())
        )),
    }
    args(&mut out, a.args);
    if a.can_fail {
        out.push_str("\n\nCan fail: an `otherwise ACTION` on the next line runs then.");
    }
    out
}

fn args(out: &mut String, args: &[ArgSpec]) {
    if args.is_empty() {
        return;
    }
    out.push_str("\n\nArguments:");
    for a in args {
        out.push_str(&format!("\n- {}", arg_line(a)));
    }
}

fn arg_line(a: &ArgSpec) -> String {
    let default = a
        .default
        .map(|d| format!(", default `{d}`"))
        .unwrap_or_default();
    format!("`{}`: {}{} — {}", a.name, a.ty.doc(), default, a.doc)
}

pub fn arg(owner: &str, a: &ArgSpec) -> String {
    format!("argument of `{owner}`\n\n{}", arg_line(a))
}

pub fn detector(d: &DetectorSpec) -> String {
    let mut out = format!(
        "**`{}`** — detector\n\n{}\n\n{}",
        d.name,
        d.doc,
        hooks_line(d.hooks)
    );
    match d.args {
        DetectorArgs::None => {}
        DetectorArgs::Named(a) => args(&mut out, a),
        DetectorArgs::Tool => out.push_str("\n\nArgument: the name of a declared tool"),
    }
    out
}

pub fn metric(m: &MetricSpec) -> String {
    let unit = if m.tokens {
        "an int or `N tokens`"
    } else {
        "an int"
    };
    format!(
        "**`{}`** — metric, compared with {unit}: `{} >= N`\n\n{}\n\n{}",
        m.name,
        m.name,
        m.doc,
        hooks_line(m.hooks)
    )
}

pub fn subject(s: &SubjectSpec) -> String {
    format!(
        "**`{}`** — match subject: `{} matches \"regex\"`\n\n{}\n\n{}",
        s.name,
        s.name,
        s.doc,
        hooks_line(s.hooks)
    )
}

pub fn section(s: &SectionSpec) -> String {
    format!(
        "**`{}`** — section\n\n{}\n\nFields: {}",
        s.name,
        s.doc,
        code_list(s.fields.iter().map(|f| f.name))
    )
}

/// A field of a section (`owner` = `loop`) or a tool option (`owner` = `tool`).
pub fn field(owner: &str, f: &FieldSpec) -> String {
    let default = match f.default {
        Some(d) => format!("`{d}`"),
        None => "unset".to_string(),
    };
    let mut out = format!(
        "**`{owner}.{}`** — {}\n\n{}\n\nType: {}\n\nDefault: {default}",
        f.name,
        if owner == "tool" {
            "tool option"
        } else {
            "field"
        },
        f.doc,
        legal_values(f.ty),
    );
    match f.evolve {
        EvolveDefault::Never => out.push_str("\n\nNever evolved (`@evolve` is an error here)."),
        e => out.push_str(&format!("\n\nEvolves within: {}", e.doc(f.ty))),
    }
    out
}

/// The type column of docs/LANGUAGE.md, with enum variants as code.
fn legal_values(ty: FieldType) -> String {
    match ty {
        FieldType::Enum(vs) => format!("one of {}", code_list(vs.iter().copied())),
        FieldType::RefList(rs) => format!(
            "a list of {} or declared prompt names",
            code_list(rs.iter().copied())
        ),
        other => other.doc(),
    }
}

/// A bare name written as the value of `owner.field`, such as `react` in `loop.strategy`.
pub fn variant(value: &str, owner: &str, f: &FieldSpec) -> String {
    format!(
        "`{value}` — a value of `{owner}.{}`\n\n{}",
        f.name,
        field(owner, f)
    )
}

/// A bare name written as an action's message, such as `extract_action` after `repair`.
pub fn action_variant(value: &str, a: &ActionSpec) -> String {
    format!("`{value}` — a value for `{}`\n\n{}", a.name, action(a))
}

pub fn annotation(a: &schema::AnnotationSpec) -> String {
    let on = match (a.on_fields, a.on_items) {
        (true, true) => "fields and items",
        (true, false) => "fields",
        _ => "items",
    };
    let mut out = format!("**`@{}`** — annotation on {on}\n\n{}", a.name, a.doc);
    if !a.args.is_empty() {
        out.push_str(&format!(
            "\n\nArguments: {}",
            code_list(a.args.iter().copied())
        ));
    }
    out
}

pub fn template_var(v: &schema::VarSpec) -> String {
    format!(
        "**`{{{{{}}}}}`** — template variable ({})\n\n{}",
        v.name,
        v.ty.name(),
        v.doc
    )
}

pub fn param_type(name: &str) -> String {
    format!(
        "**`{name}`** — tool parameter type\n\nThe base types are {}; `[T]` is a list, `T?` optional, `enum(\"a\", \"b\")` a choice.",
        code_list(schema::PARAM_TYPES.iter().copied())
    )
}

/// A declared tool: its signature and description.
pub fn tool(t: &Tool) -> String {
    let params: Vec<String> = t
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name.name, type_text(&p.ty)))
        .collect();
    let mut out = format!("**tool** `{}({})`", t.name.name, params.join(", "));
    if let Some(d) = &t.description {
        out.push_str(&format!("\n\n{}", d.value));
    }
    out
}

fn type_text(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeKind::Named(n) => n.clone(),
        TypeKind::List(inner) => format!("[{}]", type_text(inner)),
        TypeKind::Optional(inner) => format!("{}?", type_text(inner)),
        TypeKind::Enum(vs) => {
            let vs: Vec<String> = vs.iter().map(|v| plain(&v.value)).collect();
            format!("enum({})", vs.join(", "))
        }
    }
}

/// A declared prompt: its first lines.
pub fn prompt(p: &Prompt) -> String {
    const LINES: usize = 8;
    let text: Vec<&str> = p.text.value.lines().collect();
    let more = if text.len() > LINES { "\n…" } else { "" };
    format!(
        "**prompt** `{}`\n\n```text\n{}{more}\n```",
        p.name.name,
        text[..text.len().min(LINES)].join("\n")
    )
}

/// A built-in part of the prompt that `context.pin` may name.
pub fn pin_ref(name: &str) -> String {
    let what = match name {
        "system" => "the system prompt",
        "task.goal" => "the task's goal",
        "tools" => "the tool list",
        "admissible_actions" => "the admissible actions, where the environment lists them",
        _ => "a part of the prompt",
    };
    format!("`{name}` — a built-in part of the prompt that `context.pin` keeps: {what}")
}
