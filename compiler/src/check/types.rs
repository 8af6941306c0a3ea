//! Stage 2: values have the right type and lie in their legal range; actions, detectors
//! and annotations get the arguments they take.

use harnessx_syntax::{
    Action, Annotation, Arg, Cond, CondKind, Field, Item, Rule, TypeExpr, TypeKind, Value,
    ValueKind,
};

use super::codes;
use super::ctx::{action_chain, for_each_atom, Ctx};
use super::value::{conform, mismatch, source_text};
use crate::diagnostic::Diagnostic;
use crate::schema::{self, ArgSpec, DetectorArgs, FieldSpec, MessageSpec};
use crate::suggest;

pub fn run(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for item in &ctx.harness.items {
        annotation_args(item.annotations(), out);
        match item {
            Item::Section(s) => {
                if let Some(spec) = schema::section(&s.name.name) {
                    fields(&s.fields, spec.fields, out);
                }
            }
            Item::Tool(t) => {
                for p in &t.params {
                    param_type(&p.ty, out);
                }
                if let Some(opts) = &t.options {
                    fields(opts, schema::TOOL_OPTIONS, out);
                }
            }
            Item::Rule(r) => rule(r, out),
            Item::Prompt(_) => {}
        }
    }
}

fn fields(fields: &[Field], specs: &[FieldSpec], out: &mut Vec<Diagnostic>) {
    for f in fields {
        annotation_args(&f.annotations, out);
        if let Some(spec) = specs.iter().find(|s| s.name == f.name.name) {
            if let Err(d) = conform(spec.ty, &f.value, &format!("`{}`", spec.name)) {
                out.push(*d);
            }
        }
    }
}

/// `enum(..)` types need at least one variant, each once and non-empty.
fn param_type(ty: &TypeExpr, out: &mut Vec<Diagnostic>) {
    match &ty.kind {
        TypeKind::List(inner) | TypeKind::Optional(inner) => param_type(inner, out),
        TypeKind::Named(_) => {}
        TypeKind::Enum(variants) => {
            if variants.is_empty() {
                out.push(
                    Diagnostic::error(
                        codes::INVALID_ENUM_TYPE,
                        "an enum type needs at least one variant",
                        ty.span,
                        "no variants",
                    )
                    .with_help("list the values, like `enum(\"email\", \"sms\")`"),
                );
            }
            for (i, v) in variants.iter().enumerate() {
                if v.value.is_empty() {
                    out.push(Diagnostic::error(
                        codes::INVALID_ENUM_TYPE,
                        "an enum variant cannot be empty",
                        v.span,
                        "empty variant",
                    ));
                } else if let Some(first) = variants[..i].iter().find(|w| w.value == v.value) {
                    out.push(
                        Diagnostic::error(
                            codes::INVALID_ENUM_TYPE,
                            format!("the enum variant {:?} appears twice", v.value),
                            v.span,
                            "repeated variant",
                        )
                        .with_secondary(first.span, "first given here")
                        .with_help("remove the repeated variant"),
                    );
                }
            }
        }
    }
}

/// Positional arguments and conflicting ones on `@frozen` / `@evolve`. The bounds
/// themselves depend on the field and are checked in stage 3.
fn annotation_args(anns: &[Annotation], out: &mut Vec<Diagnostic>) {
    for a in anns {
        let name = a.name.name.as_str();
        let Some(spec) = schema::annotation(name) else {
            continue;
        };
        for arg in a.args.iter().filter(|arg| arg.name.is_none()) {
            let help = if spec.args.is_empty() {
                format!("`@{name}` takes no arguments; write `@{name}`")
            } else {
                "write `@evolve`, `@evolve(range = LO..HI)` or `@evolve(choices = [A, B])`".into()
            };
            out.push(
                Diagnostic::error(
                    codes::UNEXPECTED_ARGUMENT,
                    format!("`@{name}` takes no positional argument"),
                    arg.span,
                    "unexpected argument",
                )
                .with_help(help),
            );
        }
        let named = |n: &str| {
            a.args
                .iter()
                .find(|x| x.name.as_ref().is_some_and(|i| i.name == n))
        };
        if let (Some(range), Some(choices)) = (named("range"), named("choices")) {
            let (first, second) = if range.span.start < choices.span.start {
                (range, choices)
            } else {
                (choices, range)
            };
            out.push(
                Diagnostic::error(
                    codes::UNEXPECTED_ARGUMENT,
                    "`@evolve` takes `range` or `choices`, not both",
                    second.span,
                    "second kind of bound",
                )
                .with_secondary(first.span, "bounds already given here")
                .with_help("use `range` for a numeric field and `choices` for an enum field"),
            );
        }
    }
}

fn rule(r: &Rule, out: &mut Vec<Diagnostic>) {
    if let Some(when) = &r.when {
        for_each_atom(when, &mut |atom| condition(atom, out));
    }
    for a in &r.actions {
        for (_, act) in action_chain(a) {
            action(act, out);
        }
    }
}

fn condition(atom: &Cond, out: &mut Vec<Diagnostic>) {
    match &atom.kind {
        CondKind::Detector { name, args } => {
            let Some(spec) = schema::detector(&name.name) else {
                return;
            };
            let owner = format!("`{}`", spec.name);
            match spec.args {
                DetectorArgs::None => {
                    if let Some(arg) = args.iter().find(|a| a.name.is_none()) {
                        out.push(
                            Diagnostic::error(
                                codes::UNEXPECTED_ARGUMENT,
                                format!("{owner} takes no arguments"),
                                arg.span,
                                "unexpected argument",
                            )
                            .with_help(format!("write `{}` alone", spec.name)),
                        );
                    }
                }
                DetectorArgs::Named(specs) => named_args(&owner, args, specs, out),
                DetectorArgs::Tool => call_args(atom, args, out),
            }
        }
        CondKind::Compare { metric, value, .. } => {
            let Some(spec) = schema::metric(&metric.name) else {
                return;
            };
            match &value.kind {
                ValueKind::Int(n) if *n < 0 => out.push(Diagnostic::error(
                    codes::OUT_OF_RANGE,
                    format!("`{}` is never negative", spec.name),
                    value.span,
                    "must be at least 0",
                )),
                ValueKind::Int(_) => {}
                ValueKind::Tokens(_) if spec.tokens => {}
                ValueKind::Tokens(n) => out.push(
                    mismatch("an integer", value, &format!("`{}`", spec.name))
                        .with_help(format!("`{}` is a count: write `{n}`", spec.name)),
                ),
                _ => out.push(mismatch("an integer", value, &format!("`{}`", spec.name))),
            }
        }
        CondKind::Matches { subject, pattern } => {
            if schema::subject(&subject.name).is_none() {
                return;
            }
            if let Err(e) = regex::Regex::new(&pattern.value) {
                out.push(
                    Diagnostic::error(
                        codes::INVALID_REGEX,
                        "invalid regular expression",
                        pattern.span,
                        regex_error(&e),
                    )
                    .with_help(
                        "the pattern uses Rust `regex` syntax; in a plain string write `\\\\d` \
                         for `\\d`, or use a triple-quoted string, which is raw",
                    ),
                );
            }
        }
        CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) => {}
    }
}

/// The gist of a regex error: its last line, without the `error: ` prefix.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let gist = last.trim().trim_start_matches("error:").trim();
    if gist.is_empty() {
        "invalid pattern".into()
    } else {
        gist.to_string()
    }
}

/// `call(TOOL)`: exactly one positional tool name.
fn call_args(atom: &Cond, args: &[Arg], out: &mut Vec<Diagnostic>) {
    let Some(first) = args.first() else {
        out.push(
            Diagnostic::error(
                codes::MISSING_ARGUMENT,
                "`call` needs the name of a tool",
                atom.span,
                "no tool named",
            )
            .with_help("write `call(TOOL)`, like `call(finish)`"),
        );
        return;
    };
    if first.name.is_some() {
        out.push(
            Diagnostic::error(
                codes::UNEXPECTED_ARGUMENT,
                "`call` takes the tool's name alone",
                first.span,
                "named argument",
            )
            .with_help("write `call(TOOL)`, like `call(finish)`"),
        );
    } else {
        match &first.value.kind {
            ValueKind::Ident(_) => {}
            ValueKind::Str(s) => out.push(
                mismatch("a tool name", &first.value, "`call`").with_help(format!(
                    "write the name without quotes: `call({})`",
                    s.value
                )),
            ),
            _ => out.push(mismatch("a tool name", &first.value, "`call`")),
        }
    }
    if let Some(extra) = args.get(1) {
        out.push(
            Diagnostic::error(
                codes::UNEXPECTED_ARGUMENT,
                "`call` takes one tool name",
                extra.span,
                "extra argument",
            )
            .with_help("to test for several tools, write `call(a) or call(b)`"),
        );
    }
}

/// Named, optional arguments of an action or detector.
fn named_args(owner: &str, args: &[Arg], specs: &[ArgSpec], out: &mut Vec<Diagnostic>) {
    for (i, arg) in args.iter().enumerate() {
        match &arg.name {
            None => {
                let help = match specs.get(i) {
                    Some(s) => format!("name it: `{} = {}`", s.name, plain(&arg.value)),
                    None if specs.is_empty() => format!("{owner} takes no arguments"),
                    None => format!(
                        "the arguments are {}",
                        suggest::list(specs.iter().map(|s| s.name))
                    ),
                };
                out.push(
                    Diagnostic::error(
                        codes::UNEXPECTED_ARGUMENT,
                        format!("{owner} takes named arguments only"),
                        arg.span,
                        "positional argument",
                    )
                    .with_help(help),
                );
            }
            Some(name) => {
                if let Some(spec) = specs.iter().find(|s| s.name == name.name) {
                    let what = format!("`{}` of {owner}", spec.name);
                    if let Err(d) = conform(spec.ty, &arg.value, &what) {
                        out.push(*d);
                    }
                }
            }
        }
    }
}

/// A value's source text without backticks.
fn plain(v: &Value) -> String {
    source_text(v).trim_matches('`').to_string()
}

fn action(a: &Action, out: &mut Vec<Diagnostic>) {
    let Some(spec) = schema::action(&a.name.name) else {
        return;
    };
    let owner = format!("`{}`", spec.name);
    if spec.args.is_empty() {
        if let Some(arg) = a.args.iter().find(|x| x.name.is_none()) {
            let help = match spec.message {
                MessageSpec::None => format!("write `{}` alone", spec.name),
                _ => format!("write the argument after the name: `{}`", spec.usage),
            };
            out.push(
                Diagnostic::error(
                    codes::UNEXPECTED_ARGUMENT,
                    format!("{owner} takes no arguments in parentheses"),
                    arg.span,
                    "unexpected argument",
                )
                .with_help(help),
            );
        }
    } else {
        named_args(&owner, &a.args, spec.args, out);
    }
    message(a, spec, out);
}

/// The bare argument after the action's name.
fn message(a: &Action, spec: &schema::ActionSpec, out: &mut Vec<Diagnostic>) {
    let owner = format!("`{}`", spec.name);
    match (spec.message, &a.message) {
        (MessageSpec::None, None) => {}
        (MessageSpec::None, Some(m)) => {
            let help = match (&m.kind, spec.args.first()) {
                (ValueKind::Ident(v), Some(arg)) => {
                    format!("write `{}({} = {v})`", spec.name, arg.name)
                }
                _ => format!("usage: `{}`", spec.usage),
            };
            out.push(
                Diagnostic::error(
                    codes::UNEXPECTED_ARGUMENT,
                    format!("{owner} takes no message"),
                    m.span,
                    "unexpected message",
                )
                .with_help(help),
            );
        }
        (MessageSpec::Text, None) => out.push(
            Diagnostic::error(
                codes::MISSING_ARGUMENT,
                format!("{owner} needs a message"),
                a.name.span,
                "no message given",
            )
            .with_help(format!("write `{} \"...\"` on one line", spec.name)),
        ),
        (MessageSpec::Text, Some(m)) => {
            if !matches!(m.kind, ValueKind::Str(_)) {
                let d = mismatch("a string", m, &owner);
                out.push(match &m.kind {
                    ValueKind::Ident(_) | ValueKind::Int(_) | ValueKind::Float(_) => {
                        let text = plain(m);
                        d.with_help(format!("quote it: `{} \"{text}\"`", spec.name))
                    }
                    _ => d,
                });
            }
        }
        (MessageSpec::Variant(vs), None) => out.push(
            Diagnostic::error(
                codes::MISSING_ARGUMENT,
                format!("{owner} needs a strategy"),
                a.name.span,
                "no strategy given",
            )
            .with_help(format!(
                "write `{} STRATEGY` with one of {}",
                spec.name,
                suggest::list(vs.iter().copied())
            )),
        ),
        (MessageSpec::Variant(vs), Some(m)) => match &m.kind {
            ValueKind::Ident(n) if vs.contains(&n.as_str()) => {}
            ValueKind::Ident(n) => out.push(super::value::unknown_variant(
                n,
                m.span,
                vs,
                &format!("the strategy of {owner}"),
            )),
            ValueKind::Str(s) if vs.contains(&s.value.as_str()) => {
                out.push(mismatch("a strategy name", m, &owner).with_help(format!(
                    "write it without quotes: `{} {}`",
                    spec.name, s.value
                )))
            }
            _ => out.push(
                mismatch("a strategy name", m, &owner)
                    .with_help(format!("one of {}", suggest::list(vs.iter().copied()))),
            ),
        },
    }
}
