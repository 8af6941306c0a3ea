//! Stage 3 for annotations: where `@evolve` / `@frozen` apply and whether `@evolve`'s
//! bounds make sense for the field they sit on.
//!
//! The evolver trusts these bounds blindly, so every bound must be of the field's type,
//! inside its legal range, non-empty, and contain the current value.

use harnessx_syntax::{Annotation, Arg, Field, Value, ValueKind};

use super::codes;
use super::value::{
    conform, legal_range, mismatch, range_error, shape, source_text, unknown_variant, Typed,
};
use crate::diagnostic::Diagnostic;
use crate::schema::{EvolveDefault, FieldSpec, FieldType};

fn find<'a>(anns: &'a [Annotation], name: &str) -> Option<&'a Annotation> {
    anns.iter().find(|a| a.name.name == name)
}

fn arg<'a>(a: &'a Annotation, name: &str) -> Option<&'a Arg> {
    a.args
        .iter()
        .find(|x| x.name.as_ref().is_some_and(|n| n.name == name))
}

/// `@evolve` applies to fields only.
pub fn item_annotations(anns: &[Annotation], out: &mut Vec<Diagnostic>) {
    if let Some(ev) = find(anns, "evolve") {
        out.push(
            Diagnostic::error(
                codes::MISPLACED_ANNOTATION,
                "`@evolve` applies to fields, not to items",
                ev.span,
                "on an item",
            )
            .with_help(
                "put it after a field's value, like `max_steps = 30 @evolve(range = 10..60)`; \
                 the evolver may edit items unless they are `@frozen`",
            ),
        );
    }
}

pub fn fields(fields: &[Field], specs: &[FieldSpec], out: &mut Vec<Diagnostic>) {
    for f in fields {
        if let Some(spec) = specs.iter().find(|s| s.name == f.name.name) {
            field(f, spec, out);
        }
    }
}

fn field(f: &Field, spec: &FieldSpec, out: &mut Vec<Diagnostic>) {
    let Some(ev) = find(&f.annotations, "evolve") else {
        return;
    };
    if let Some(frozen) = find(&f.annotations, "frozen") {
        out.push(
            Diagnostic::error(
                codes::EVOLVE_FROZEN,
                format!("`{}` cannot be both `@evolve` and `@frozen`", spec.name),
                ev.span,
                "asks the evolver to change it",
            )
            .with_secondary(frozen.span, "forbids the evolver to change it")
            .with_help("keep one of the two annotations"),
        );
        return;
    }
    if spec.evolve == EvolveDefault::Never {
        out.push(
            Diagnostic::error(
                codes::NOT_EVOLVABLE,
                format!("`{}` cannot be evolved", spec.name),
                ev.span,
                "not evolvable",
            )
            .with_help(format!(
                "remove `@evolve`: the evolver never changes `{}`",
                spec.name
            )),
        );
        return;
    }
    let current = conform(spec.ty, &f.value, spec.name).ok();
    match (arg(ev, "range"), arg(ev, "choices")) {
        (Some(_), Some(_)) => {} // reported in stage 2
        (Some(range), None) => range_bounds(f, spec, &range.value, current.as_ref(), out),
        (None, Some(choices)) => choice_bounds(f, spec, &choices.value, current.as_ref(), out),
        (None, None) => default_bounds(f, spec, ev, current.as_ref(), out),
    }
}

fn range_bounds(
    f: &Field,
    spec: &FieldSpec,
    range: &Value,
    current: Option<&Typed>,
    out: &mut Vec<Diagnostic>,
) {
    if !spec.ty.is_numeric() {
        let help = match spec.ty {
            FieldType::Enum(_) => "for an enum field, write `@evolve(choices = [A, B])`",
            _ => "remove the bounds: `@evolve` alone uses the built-in ones",
        };
        out.push(
            Diagnostic::error(
                codes::EVOLVE_KIND,
                format!(
                    "`range` needs a numeric field, and `{}` is not one",
                    spec.name
                ),
                range.span,
                "a range on a non-numeric field",
            )
            .with_help(help),
        );
        return;
    }
    let ValueKind::Range(lo, hi) = &range.kind else {
        out.push(
            mismatch("a range `LO..HI`", range, "`range`")
                .with_help(format!("write bounds like `{}`", example_range(spec))),
        );
        return;
    };
    let what = format!("a bound of `{}`", spec.name);
    let (lo_t, hi_t) = match (shape(spec.ty, lo, &what), shape(spec.ty, hi, &what)) {
        (Ok(l), Ok(h)) => (l, h),
        (l, h) => {
            for d in [l.err(), h.err()].into_iter().flatten() {
                out.push(d.with_help(format!("write bounds like `{}`", example_range(spec))));
            }
            return;
        }
    };
    let (Some(lo_n), Some(hi_n)) = (lo_t.num(), hi_t.num()) else {
        return;
    };
    if lo_n >= hi_n {
        out.push(
            Diagnostic::error(
                codes::EMPTY_EVOLVE_BOUNDS,
                format!(
                    "the `@evolve` range of `{}` is empty: {} is not below {}",
                    spec.name,
                    source_text(lo),
                    source_text(hi)
                ),
                range.span,
                "LO must be less than HI",
            )
            .with_help("write the smaller bound first"),
        );
        return;
    }
    let mut in_legal = true;
    for (bound, typed) in [(lo, &lo_t), (hi, &hi_t)] {
        if range_error(spec.ty, typed).is_some() {
            in_legal = false;
            out.push(Diagnostic::error(
                codes::EVOLVE_OUT_OF_RANGE,
                format!(
                    "the `@evolve` bound {} is outside the legal range of `{}`",
                    source_text(bound),
                    spec.name
                ),
                bound.span,
                format!("`{}` must be {}", spec.name, legal_range(spec.ty)),
            ));
        }
    }
    if !in_legal {
        return;
    }
    if let Some(cur) = current.and_then(Typed::num) {
        if cur < lo_n || cur > hi_n {
            out.push(
                Diagnostic::error(
                    codes::VALUE_OUTSIDE_EVOLVE,
                    format!(
                        "`{} = {}` is outside its `@evolve` range",
                        spec.name,
                        plain(&f.value)
                    ),
                    f.value.span,
                    "current value outside the bounds",
                )
                .with_secondary(range.span, "the bounds")
                .with_help("widen the range, or change the value to lie within it"),
            );
        }
    }
}

fn choice_bounds(
    f: &Field,
    spec: &FieldSpec,
    choices: &Value,
    current: Option<&Typed>,
    out: &mut Vec<Diagnostic>,
) {
    let FieldType::Enum(variants) = spec.ty else {
        let help = if spec.ty.is_numeric() {
            format!(
                "for a numeric field, write `@evolve(range = {})`",
                example_bounds(spec)
            )
        } else {
            "remove the bounds: `@evolve` alone uses the built-in ones".into()
        };
        out.push(
            Diagnostic::error(
                codes::EVOLVE_KIND,
                format!(
                    "`choices` needs an enum field, and `{}` is not one",
                    spec.name
                ),
                choices.span,
                "choices on a non-enum field",
            )
            .with_help(help),
        );
        return;
    };
    let ValueKind::List(items) = &choices.kind else {
        out.push(
            mismatch("a list of variants", choices, "`choices`")
                .with_help(format!("write a list, like `[{}]`", variants.join(", "))),
        );
        return;
    };
    if items.is_empty() {
        out.push(
            Diagnostic::error(
                codes::EMPTY_EVOLVE_BOUNDS,
                format!("`@evolve` gives `{}` no choices", spec.name),
                choices.span,
                "empty list",
            )
            .with_help(format!("list some of {}", variants.join(", "))),
        );
        return;
    }
    let mut all_valid = true;
    let mut names: Vec<&str> = Vec::new();
    for item in items {
        let what = format!("`{}`", spec.name);
        match &item.kind {
            ValueKind::Ident(n) if variants.contains(&n.as_str()) => {
                if let Some(first) = items
                    .iter()
                    .take_while(|x| !std::ptr::eq(*x, item))
                    .find(|x| matches!(&x.kind, ValueKind::Ident(m) if m == n))
                {
                    out.push(
                        Diagnostic::error(
                            codes::DUPLICATE_ENTRY,
                            format!("the choice `{n}` appears more than once"),
                            item.span,
                            format!("`{n}` repeated here"),
                        )
                        .with_secondary(first.span, "first given here")
                        .with_help("remove the repeated choice"),
                    );
                }
                names.push(n);
            }
            ValueKind::Ident(n) => {
                all_valid = false;
                out.push(unknown_variant(n, item.span, variants, &what));
            }
            ValueKind::Str(s) if variants.contains(&s.value.as_str()) => {
                all_valid = false;
                out.push(
                    mismatch("a variant name", item, "`choices`")
                        .with_help(format!("write it without quotes: `{}`", s.value)),
                );
            }
            _ => {
                all_valid = false;
                out.push(mismatch("a variant name", item, "`choices`"));
            }
        }
    }
    if !all_valid {
        return;
    }
    if let Some(Typed::Variant(cur)) = current {
        if !names.contains(&cur.as_str()) {
            out.push(
                Diagnostic::error(
                    codes::VALUE_OUTSIDE_EVOLVE,
                    format!("`{} = {cur}` is not among its `@evolve` choices", spec.name),
                    f.value.span,
                    "current value not a choice",
                )
                .with_secondary(choices.span, "the choices")
                .with_help(format!("add `{cur}` to the choices")),
            );
        }
    }
}

/// `@evolve` with no bounds: the built-in ones must hold the current value.
fn default_bounds(
    f: &Field,
    spec: &FieldSpec,
    ev: &Annotation,
    current: Option<&Typed>,
    out: &mut Vec<Diagnostic>,
) {
    let EvolveDefault::Range(lo, hi) = spec.evolve else {
        return;
    };
    let (Some(cur), Some(lo_n), Some(hi_n)) = (current.and_then(Typed::num), lo.num(), hi.num())
    else {
        return;
    };
    if cur < lo_n || cur > hi_n {
        out.push(
            Diagnostic::error(
                codes::VALUE_OUTSIDE_EVOLVE,
                format!(
                    "`{} = {}` is outside its built-in `@evolve` range {lo}..{hi}",
                    spec.name,
                    plain(&f.value)
                ),
                f.value.span,
                "current value outside the bounds",
            )
            .with_secondary(ev.span, "uses the built-in bounds")
            .with_help(format!(
                "give explicit bounds that contain the value: `@evolve(range = LO..HI)` with LO, HI {}",
                legal_range(spec.ty)
            )),
        );
    }
}

fn plain(v: &Value) -> String {
    source_text(v).trim_matches('`').to_string()
}

/// The built-in bounds as source text, e.g. `5..100`.
fn example_bounds(spec: &FieldSpec) -> String {
    match spec.evolve {
        EvolveDefault::Range(lo, hi) => format!("{lo}..{hi}"),
        _ => "LO..HI".into(),
    }
}

fn example_range(spec: &FieldSpec) -> String {
    format!("range = {}", example_bounds(spec))
}
