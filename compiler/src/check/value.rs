//! Typing of literal values against a [`FieldType`]: the shared core of stage 2 (which
//! reports the errors) and stage 3 (which uses the typed values and skips the rest).

use harnessx_syntax::{Span, Value, ValueKind};

use super::codes;
use crate::diagnostic::Diagnostic;
use crate::schema::{fmt_f, fmt_ms, FieldType};
use crate::suggest;

/// A value that has the shape its type asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    DurationMs(u128),
    Tokens(u64),
    Variant(String),
    Refs(Vec<(String, Span)>),
}

impl Typed {
    /// The numeric value of a numeric type, for range comparisons.
    pub fn num(&self) -> Option<f64> {
        match self {
            Typed::Int(i) => Some(*i as f64),
            Typed::Float(x) => Some(*x),
            Typed::DurationMs(ms) => Some(*ms as f64),
            Typed::Tokens(t) => Some(*t as f64),
            _ => None,
        }
    }
}

/// "a string", "the name `react`", ... for "found ..." in messages.
pub fn describe(v: &Value) -> String {
    match &v.kind {
        ValueKind::Str(_) => "a string".into(),
        ValueKind::Int(_) => "an integer".into(),
        ValueKind::Float(_) => "a decimal number".into(),
        ValueKind::Bool(_) => "a boolean".into(),
        ValueKind::Duration(_) => "a duration".into(),
        ValueKind::Tokens(_) => "a token count".into(),
        ValueKind::Ident(n) => format!("the name `{n}`"),
        ValueKind::List(_) => "a list".into(),
        ValueKind::Range(..) => "a range".into(),
    }
}

/// Checks the shape of `v` against `ty` (no range check). `what` names the slot in
/// messages, like "`max_steps`".
pub fn shape(ty: FieldType, v: &Value, what: &str) -> Result<Typed, Box<Diagnostic>> {
    let typed = match (&ty, &v.kind) {
        (FieldType::Str, ValueKind::Str(s)) => Typed::Str(s.value.clone()),
        (FieldType::Bool, ValueKind::Bool(b)) => Typed::Bool(*b),
        (FieldType::Int { .. }, ValueKind::Int(i)) => Typed::Int(*i),
        (FieldType::Float { .. }, ValueKind::Float(x)) => Typed::Float(*x),
        (FieldType::Float { .. }, ValueKind::Int(i)) => Typed::Float(*i as f64),
        (FieldType::Duration { .. }, ValueKind::Duration(d)) => Typed::DurationMs(d.as_millis()),
        (FieldType::Tokens { .. }, ValueKind::Tokens(t)) => Typed::Tokens(*t),
        (FieldType::Enum(variants), ValueKind::Ident(name)) => {
            if variants.contains(&name.as_str()) {
                Typed::Variant(name.clone())
            } else {
                return Err(Box::new(unknown_variant(name, v.span, variants, what)));
            }
        }
        (FieldType::RefList(_), ValueKind::List(items)) => {
            let mut refs = Vec::new();
            for item in items {
                match &item.kind {
                    ValueKind::Ident(n) => refs.push((n.clone(), item.span)),
                    _ => {
                        let d = mismatch("a reference", item, what);
                        return Err(Box::new(match &item.kind {
                            ValueKind::Str(s) => {
                                d.with_help(format!("write it without quotes: `{}`", s.value))
                            }
                            _ => d,
                        }));
                    }
                }
            }
            Typed::Refs(refs)
        }
        _ => return Err(Box::new(mismatch_help(ty, v, what))),
    };
    Ok(typed)
}

/// [`shape`] and then the range check.
pub fn conform(ty: FieldType, v: &Value, what: &str) -> Result<Typed, Box<Diagnostic>> {
    let typed = shape(ty, v, what)?;
    match range_error(ty, &typed) {
        None => Ok(typed),
        Some(legal) => Err(Box::new(Diagnostic::error(
            codes::OUT_OF_RANGE,
            format!("{} is out of range for {what}", source_text(v)),
            v.span,
            legal,
        ))),
    }
}

/// `None` when `typed` lies in the legal range of `ty`, else the label "must be ...".
pub fn range_error(ty: FieldType, typed: &Typed) -> Option<String> {
    let ok = match (ty, typed) {
        (FieldType::Int { min, max }, Typed::Int(i)) => min <= *i && *i <= max,
        (FieldType::Float { min, max }, Typed::Float(x)) => min <= *x && *x <= max,
        (FieldType::Duration { min_ms, max_ms }, Typed::DurationMs(ms)) => {
            min_ms as u128 <= *ms && *ms <= max_ms as u128
        }
        (FieldType::Tokens { min, max }, Typed::Tokens(t)) => min <= *t && *t <= max,
        _ => true,
    };
    if ok {
        None
    } else {
        Some(format!("must be {}", legal_range(ty)))
    }
}

/// "between 1 and 1000", "at least 0".
pub fn legal_range(ty: FieldType) -> String {
    match ty {
        FieldType::Int { min, max } if max == i64::MAX => format!("at least {min}"),
        FieldType::Int { min, max } => format!("between {min} and {max}"),
        FieldType::Float { min, max } => format!("between {} and {}", fmt_f(min), fmt_f(max)),
        FieldType::Duration { min_ms, max_ms } => {
            format!("between {} and {}", fmt_ms(min_ms), fmt_ms(max_ms))
        }
        FieldType::Tokens { min, max } => format!("between {min} tokens and {max} tokens"),
        _ => "valid".into(),
    }
}

/// A value as the user wrote it, for messages: `` `2000` ``, `` `30s` ``.
pub fn source_text(v: &Value) -> String {
    let text = match &v.kind {
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Float(x) => fmt_f(*x),
        ValueKind::Duration(d) => format!("{}{}", d.amount, d.unit.as_str()),
        ValueKind::Tokens(t) => format!("{t} tokens"),
        ValueKind::Ident(n) => n.clone(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Str(s) => format!("{:?}", s.value),
        ValueKind::List(_) => "the list".into(),
        ValueKind::Range(..) => "the range".into(),
    };
    format!("`{text}`")
}

pub fn mismatch(expected: &str, v: &Value, what: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("{what} expects {expected}, found {}", describe(v)),
        v.span,
        format!("expected {expected}"),
    )
}

/// A type mismatch with a help line that shows the fix where there is an obvious one.
fn mismatch_help(ty: FieldType, v: &Value, what: &str) -> Diagnostic {
    let expected = match ty {
        FieldType::Enum(vs) => format!("one of {}", suggest::list(vs.iter().copied())),
        _ => ty.describe().to_string(),
    };
    let d = mismatch(&expected, v, what);
    let help = match (ty, &v.kind) {
        (FieldType::Tokens { .. }, ValueKind::Int(n)) => Some(format!("write `{n} tokens`")),
        (FieldType::Duration { .. }, ValueKind::Int(n)) => {
            Some(format!("add a unit: `{n}ms`, `{n}s` or `{n}m`"))
        }
        (FieldType::Int { .. }, ValueKind::Float(x)) if x.fract() == 0.0 => {
            Some(format!("write `{}`", *x as i64))
        }
        (FieldType::Int { .. }, ValueKind::Tokens(n)) => Some(format!("write `{n}`")),
        (FieldType::Str, ValueKind::Ident(n)) => Some(format!("quote it: `\"{n}\"`")),
        (FieldType::Bool, ValueKind::Str(s)) if s.value == "true" || s.value == "false" => {
            Some(format!("write it without quotes: `{}`", s.value))
        }
        (FieldType::Enum(vs), ValueKind::Str(s)) if vs.contains(&s.value.as_str()) => {
            Some(format!("write it without quotes: `{}`", s.value))
        }
        (FieldType::Enum(vs), _) => Some(format!(
            "expected one of {}",
            suggest::list(vs.iter().copied())
        )),
        (FieldType::RefList(_), ValueKind::Ident(n)) => Some(format!("write a list: `[{n}]`")),
        _ => None,
    };
    d.with_help_opt(help)
}

pub fn unknown_variant(name: &str, span: Span, variants: &[&str], what: &str) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_VARIANT,
        format!("`{name}` is not a valid value for {what}"),
        span,
        "not one of the allowed values",
    )
    .with_help(suggest::did_you_mean_or_list(
        name,
        variants.iter().copied(),
        "expected one of",
    ))
}
