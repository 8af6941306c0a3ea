//! Stage 1: every name resolves, and definitions are unique.

use std::collections::HashMap;

use harnessx_syntax::{
    Action, Annotation, Arg, Cond, CondKind, Field, Item, Param, Rule, Span, StrLit, TypeExpr,
    TypeKind, ValueKind,
};

use super::codes;
use super::ctx::{action_chain, for_each_atom, Ctx};
use crate::diagnostic::Diagnostic;
use crate::schema::{self, DetectorArgs, FieldSpec, FieldType, Hook, HookExt};
use crate::suggest;

pub fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut sections = Uniq::new("section");
    let mut tools = Uniq::new("tool");
    let mut prompts = Uniq::new("prompt");
    let mut rules = Uniq::new("rule");
    for item in &ctx.harness.items {
        annotations(item.annotations(), out);
        match item {
            Item::Section(s) => {
                if s.name.name.is_empty() {
                    continue;
                }
                let Some(spec) = schema::section(&s.name.name) else {
                    out.push(unknown_section(&s.name.name, s.name.span));
                    continue;
                };
                sections.add(&s.name.name, s.name.span, out);
                fields(ctx, &s.fields, spec.fields, Some(spec.name), out);
            }
            Item::Prompt(p) => {
                prompts.add(&p.name.name, p.name.span, out);
                template(&p.text, out);
            }
            Item::Tool(t) => {
                tools.add(&t.name.name, t.name.span, out);
                params(&t.params, out);
                if let Some(opts) = &t.options {
                    fields(ctx, opts, schema::TOOL_OPTIONS, None, out);
                }
            }
            Item::Rule(r) => {
                if let Some(name) = &r.name {
                    rules.add(&name.name, name.span, out);
                }
                rule(ctx, r, out);
            }
        }
    }
}

/// Tracks first definitions of one kind of name and reports repeats.
struct Uniq<'a> {
    kind: &'static str,
    seen: HashMap<&'a str, Span>,
}

impl<'a> Uniq<'a> {
    fn new(kind: &'static str) -> Self {
        Uniq {
            kind,
            seen: HashMap::new(),
        }
    }

    /// Records `name`; reports it when it was seen before. Returns whether it was new.
    fn add(&mut self, name: &'a str, span: Span, out: &mut Vec<Diagnostic>) -> bool {
        if name.is_empty() {
            return true;
        }
        if let Some(first) = self.seen.get(name) {
            out.push(duplicate(self.kind, name, span, *first));
            return false;
        }
        self.seen.insert(name, span);
        true
    }
}

fn duplicate(kind: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    let code = match kind {
        "section" | "tool" | "prompt" | "rule" => codes::DUPLICATE_DEFINITION,
        _ => codes::DUPLICATE_ENTRY,
    };
    let (message, first_label) = match code {
        codes::DUPLICATE_DEFINITION => (
            format!("the {kind} `{name}` is defined more than once"),
            "first defined here",
        ),
        _ => (
            format!("the {kind} `{name}` appears more than once"),
            "first given here",
        ),
    };
    Diagnostic::error(code, message, span, format!("`{name}` repeated here"))
        .with_secondary(first, first_label)
        .with_help(match code {
            codes::DUPLICATE_DEFINITION => format!("rename or remove one of the two {kind}s"),
            _ => format!("remove one of the two; each {kind} may appear once"),
        })
}

fn unknown_section(name: &str, span: Span) -> Diagnostic {
    let names = schema::SECTIONS.iter().map(|s| s.name);
    let help = match name {
        "prompt" | "prompts" => "prompts are items of their own: `prompt system \"...\"`".into(),
        "tool" | "tools" => "tools are items of their own: `tool go(target: string)`".into(),
        _ => suggest::did_you_mean_or_list(name, names, "the sections are"),
    };
    Diagnostic::error(
        codes::UNKNOWN_SECTION,
        format!("unknown section `{name}`"),
        span,
        "not a section",
    )
    .with_help(help)
}

/// Field names of a section (`section = Some(..)`) or a tool's option block.
fn fields(
    ctx: &Ctx,
    fields: &[Field],
    specs: &[FieldSpec],
    section: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen = Uniq::new("field");
    for f in fields {
        annotations(&f.annotations, out);
        let name = f.name.name.as_str();
        if name.is_empty() {
            continue;
        }
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            out.push(unknown_field(name, f.name.span, specs, section));
            continue;
        };
        seen.add(name, f.name.span, out);
        if let (FieldType::RefList(builtin), ValueKind::List(items)) = (spec.ty, &f.value.kind) {
            for item in items {
                if let ValueKind::Ident(r) = &item.kind {
                    if !builtin.contains(&r.as_str()) && !ctx.has_prompt(r) {
                        out.push(unknown_pin(ctx, r, item.span, builtin));
                    }
                }
            }
        }
    }
}

fn unknown_field(name: &str, span: Span, specs: &[FieldSpec], section: Option<&str>) -> Diagnostic {
    let (message, label) = match section {
        Some(s) => (
            format!("unknown field `{name}` in `{s}`"),
            format!("not a field of `{s}`"),
        ),
        None => (
            format!("unknown tool option `{name}`"),
            "not a tool option".to_string(),
        ),
    };
    let here = specs.iter().map(|s| s.name);
    let help = match suggest::did_you_mean(name, here.clone()) {
        Some(h) => h,
        None => match elsewhere(name, section) {
            Some(home) => format!("`{name}` belongs in {home}"),
            None => format!("the fields are {}", suggest::list(here)),
        },
    };
    Diagnostic::error(codes::UNKNOWN_FIELD, message, span, label).with_help(help)
}

/// Where a misplaced field belongs: "the `loop` section", "a tool's option block".
fn elsewhere(name: &str, section: Option<&str>) -> Option<String> {
    for s in schema::SECTIONS {
        if Some(s.name) != section && s.field(name).is_some() {
            return Some(format!("the `{}` section", s.name));
        }
    }
    if section.is_some() && schema::tool_option(name).is_some() {
        return Some("a tool's option block: `tool NAME(..) { timeout = 2s }`".into());
    }
    None
}

fn unknown_pin(ctx: &Ctx, name: &str, span: Span, builtin: &[&str]) -> Diagnostic {
    let candidates: Vec<&str> = builtin.iter().copied().chain(ctx.prompt_names()).collect();
    Diagnostic::error(
        codes::UNKNOWN_PIN,
        format!("cannot pin `{name}`: no such part of the prompt"),
        span,
        "unknown reference",
    )
    .with_help(suggest::did_you_mean_or_list(
        name,
        candidates.iter().copied(),
        "pin one of",
    ))
}

fn params(params: &[Param], out: &mut Vec<Diagnostic>) {
    let mut seen = Uniq::new("parameter");
    for p in params {
        seen.add(&p.name.name, p.name.span, out);
        type_names(&p.ty, out);
    }
}

fn type_names(ty: &TypeExpr, out: &mut Vec<Diagnostic>) {
    match &ty.kind {
        TypeKind::Named(n) if n.is_empty() || schema::PARAM_TYPES.contains(&n.as_str()) => {}
        TypeKind::Named(n) => {
            let help = match n.as_str() {
                "str" | "text" => "did you mean `string`?".to_string(),
                "integer" | "number" | "i64" => "did you mean `int`?".to_string(),
                "boolean" => "did you mean `bool`?".to_string(),
                _ => suggest::did_you_mean_or_list(
                    n,
                    schema::PARAM_TYPES.iter().copied(),
                    "the types are `[T]`, `T?`, `enum(\"a\", \"b\")` and",
                ),
            };
            out.push(
                Diagnostic::error(
                    codes::UNKNOWN_TYPE,
                    format!("unknown type `{n}`"),
                    ty.span,
                    "not a type",
                )
                .with_help(help),
            );
        }
        TypeKind::List(inner) | TypeKind::Optional(inner) => type_names(inner, out),
        TypeKind::Enum(_) => {}
    }
}

/// Annotation names, duplicates and argument names.
fn annotations(anns: &[Annotation], out: &mut Vec<Diagnostic>) {
    let mut seen = Uniq::new("annotation");
    for a in anns {
        let name = a.name.name.as_str();
        if name.is_empty() {
            continue;
        }
        let Some(spec) = schema::annotation(name) else {
            out.push(
                Diagnostic::error(
                    codes::UNKNOWN_ANNOTATION,
                    format!("unknown annotation `@{name}`"),
                    a.name.span,
                    "not an annotation",
                )
                .with_help(suggest::did_you_mean_or_list(
                    name,
                    schema::ANNOTATIONS.iter().map(|a| a.name),
                    "the annotations are",
                )),
            );
            continue;
        };
        if !seen.add(name, a.span, out) {
            continue;
        }
        arg_names(&a.args, spec.args, &format!("`@{name}`"), out);
    }
}

/// Named arguments must be among `known`, once each. Positional ones are stage 2's.
fn arg_names(args: &[Arg], known: &[&str], owner: &str, out: &mut Vec<Diagnostic>) {
    let mut seen = Uniq::new("argument");
    for arg in args {
        let Some(name) = &arg.name else { continue };
        if name.name.is_empty() {
            continue;
        }
        if !known.contains(&name.name.as_str()) {
            let help = if known.is_empty() {
                format!("{owner} takes no named arguments")
            } else {
                suggest::did_you_mean_or_list(
                    &name.name,
                    known.iter().copied(),
                    "the arguments are",
                )
            };
            out.push(
                Diagnostic::error(
                    codes::UNKNOWN_ARGUMENT,
                    format!("{owner} has no argument `{}`", name.name),
                    name.span,
                    "unknown argument",
                )
                .with_help(help),
            );
            continue;
        }
        seen.add(&name.name, name.span, out);
    }
}

fn rule(ctx: &Ctx, r: &Rule, out: &mut Vec<Diagnostic>) {
    let hook = r.hook.name.as_str();
    if !hook.is_empty() && Hook::from_name(hook).is_none() {
        out.push(
            Diagnostic::error(
                codes::UNKNOWN_HOOK,
                format!("unknown hook `{hook}`"),
                r.hook.span,
                "not a hook",
            )
            .with_help(suggest::did_you_mean_or_list(
                hook,
                Hook::ALL.iter().map(|h| h.as_str()),
                "the hooks are",
            )),
        );
    }
    if let Some(when) = &r.when {
        for_each_atom(when, &mut |atom| condition(ctx, atom, out));
    }
    for a in &r.actions {
        for (_, act) in action_chain(a) {
            action(act, out);
        }
    }
}

fn condition(ctx: &Ctx, atom: &Cond, out: &mut Vec<Diagnostic>) {
    match &atom.kind {
        CondKind::Detector { name, args } => {
            let n = name.name.as_str();
            if n.is_empty() {
                return;
            }
            let Some(spec) = schema::detector(n) else {
                out.push(unknown_detector(ctx, n, name.span));
                return;
            };
            match spec.args {
                DetectorArgs::None => arg_names(args, &[], &format!("`{n}`"), out),
                DetectorArgs::Named(specs) => {
                    let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                    arg_names(args, &known, &format!("`{n}`"), out)
                }
                DetectorArgs::Tool => {
                    if let Some(arg) = args.first().filter(|a| a.name.is_none()) {
                        if let ValueKind::Ident(tool) = &arg.value.kind {
                            if !ctx.has_tool(tool) {
                                out.push(unknown_tool(ctx, tool, arg.value.span));
                            }
                        }
                    }
                }
            }
        }
        CondKind::Compare { metric, .. } => {
            let n = metric.name.as_str();
            if n.is_empty() || schema::metric(n).is_some() {
                return;
            }
            let help = if schema::detector(n).is_some() {
                format!("`{n}` is a detector: use it on its own, without a comparison")
            } else {
                suggest::did_you_mean_or_list(
                    n,
                    schema::METRICS.iter().map(|m| m.name),
                    "the metrics are",
                )
            };
            out.push(
                Diagnostic::error(
                    codes::UNKNOWN_METRIC,
                    format!("unknown metric `{n}`"),
                    metric.span,
                    "not a metric",
                )
                .with_help(help),
            );
        }
        CondKind::Matches { subject, .. } => {
            let n = subject.name.as_str();
            if n.is_empty() || schema::subject(n).is_some() {
                return;
            }
            let help = if schema::metric(n).is_some() {
                format!("`{n}` is a number: compare it, like `{n} >= 10`")
            } else {
                suggest::did_you_mean_or_list(
                    n,
                    schema::SUBJECTS.iter().map(|s| s.name),
                    "the texts that can be matched are",
                )
            };
            out.push(
                Diagnostic::error(
                    codes::UNKNOWN_SUBJECT,
                    format!("`{n}` cannot be matched against a pattern"),
                    subject.span,
                    "not a text to match",
                )
                .with_help(help),
            );
        }
        CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) => {}
    }
}

fn unknown_detector(ctx: &Ctx, n: &str, span: Span) -> Diagnostic {
    let help = if schema::metric(n).is_some() {
        format!("`{n}` is a number: compare it, like `{n} >= 10`")
    } else if schema::subject(n).is_some() {
        format!("`{n}` is text: match it, like `{n} matches \"error\"`")
    } else if ctx.has_tool(n) {
        format!("to test for a call of the tool `{n}`, write `call({n})`")
    } else {
        suggest::did_you_mean_or_list(
            n,
            schema::DETECTORS.iter().map(|d| d.name),
            "the detectors are",
        )
    };
    Diagnostic::error(
        codes::UNKNOWN_DETECTOR,
        format!("unknown detector `{n}`"),
        span,
        "not a detector",
    )
    .with_help(help)
}

fn unknown_tool(ctx: &Ctx, tool: &str, span: Span) -> Diagnostic {
    let help = match suggest::did_you_mean(tool, ctx.tool_names()) {
        Some(h) => h,
        None if ctx.tools.is_empty() => "no tools are declared".into(),
        None => format!("the declared tools are {}", suggest::list(ctx.tool_names())),
    };
    Diagnostic::error(
        codes::UNKNOWN_TOOL,
        format!("no tool named `{tool}`"),
        span,
        "not a declared tool",
    )
    .with_help(help)
}

fn action(a: &Action, out: &mut Vec<Diagnostic>) {
    let n = a.name.name.as_str();
    if n.is_empty() {
        return;
    }
    let Some(spec) = schema::action(n) else {
        out.push(
            Diagnostic::error(
                codes::UNKNOWN_ACTION,
                format!("unknown action `{n}`"),
                a.name.span,
                "not an action",
            )
            .with_help(suggest::did_you_mean_or_list(
                n,
                schema::ACTIONS.iter().map(|a| a.name),
                "the actions are",
            )),
        );
        return;
    };
    let known: Vec<&str> = spec.args.iter().map(|s| s.name).collect();
    arg_names(&a.args, &known, &format!("`{n}`"), out);
    if let Some(msg) = &a.message {
        if let ValueKind::Str(s) = &msg.kind {
            template(s, out);
        }
    }
}

/// Every `{{var}}` of a template is a known variable.
fn template(s: &StrLit, out: &mut Vec<Diagnostic>) {
    for v in &s.vars {
        if schema::template_var(&v.path).is_some() {
            continue;
        }
        let d = if v.path.is_empty() {
            Diagnostic::error(
                codes::UNKNOWN_TEMPLATE_VAR,
                "empty template variable",
                v.span,
                "no variable named here",
            )
            .with_help("write a variable, like `{{task.goal}}`")
        } else {
            Diagnostic::error(
                codes::UNKNOWN_TEMPLATE_VAR,
                format!("unknown template variable `{}`", v.path),
                v.span,
                "not a template variable",
            )
            .with_help(suggest::did_you_mean_or_list(
                &v.path,
                schema::TEMPLATE_VARS.iter().map(|v| v.name),
                "the variables are",
            ))
        };
        out.push(d);
    }
}
