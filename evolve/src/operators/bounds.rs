//! How far a value may move: a field's `@evolve` bounds, else the schema's built-in
//! evolve bounds; and how a new number is drawn inside them.
//!
//! Numbers are handled as `f64` in the field's base unit (milliseconds for durations,
//! a count for tokens) and turned back into the literal kind the field uses. New numbers
//! are rounded to "nice" values (two significant digits, two decimals for floats) so an
//! evolved file reads like one a person wrote.

use harnessx_compiler::schema::{EvolveDefault, FieldSpec, FieldType};
use harnessx_syntax::{Duration, DurationUnit, Field, Value, ValueKind};

use super::node::is_frozen;
use super::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKind {
    Int,
    Float,
    /// In milliseconds.
    Duration,
    Tokens,
}

/// A closed interval of one kind of number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub kind: NumKind,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// What the evolver may do with a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Bounds {
    Num(Interval),
    /// Enum variants, in the order given.
    Choices(Vec<String>),
    /// Any subset of these references (`context.pin`).
    Subset(Vec<String>),
}

/// Which way a number should move for the failure at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Up,
    Down,
    Any,
}

pub fn num_kind(ty: FieldType) -> Option<NumKind> {
    match ty {
        FieldType::Int { .. } => Some(NumKind::Int),
        FieldType::Float { .. } => Some(NumKind::Float),
        FieldType::Duration { .. } => Some(NumKind::Duration),
        FieldType::Tokens { .. } => Some(NumKind::Tokens),
        _ => None,
    }
}

/// The literal for `x` (already rounded) of `kind`.
pub fn to_value(kind: NumKind, x: f64) -> ValueKind {
    match kind {
        NumKind::Int => ValueKind::Int(x.round() as i64),
        NumKind::Float => ValueKind::Float(x),
        NumKind::Tokens => ValueKind::Tokens(x.round().max(0.0) as u64),
        NumKind::Duration => {
            let ms = x.round().max(0.0) as u64;
            // The largest unit that divides it, as a person would write it.
            let d = if ms != 0 && ms % 60_000 == 0 {
                Duration {
                    amount: ms / 60_000,
                    unit: DurationUnit::M,
                }
            } else if ms != 0 && ms % 1_000 == 0 {
                Duration {
                    amount: ms / 1_000,
                    unit: DurationUnit::S,
                }
            } else {
                Duration {
                    amount: ms,
                    unit: DurationUnit::Ms,
                }
            };
            ValueKind::Duration(d)
        }
    }
}

fn annotation_arg<'a>(f: &'a Field, name: &str) -> Option<&'a Value> {
    let ev = f.annotations.iter().find(|a| a.name.name == "evolve")?;
    ev.args
        .iter()
        .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
        .map(|a| &a.value)
}

/// The bounds of a field (present or absent), or `None` when the evolver must leave it
/// alone (`@frozen`, or a field the schema never evolves).
pub fn field_bounds(spec: &FieldSpec, field: Option<&Field>) -> Option<Bounds> {
    if field.is_some_and(|f| is_frozen(&f.annotations)) || spec.evolve == EvolveDefault::Never {
        return None;
    }
    if let Some(f) = field {
        if let Some(range) = annotation_arg(f, "range") {
            let (kind, ValueKind::Range(lo, hi)) = (num_kind(spec.ty)?, &range.kind) else {
                return None;
            };
            let (lo, hi) = (lo.kind.num()?, hi.kind.num()?);
            return Some(Bounds::Num(Interval { kind, lo, hi }));
        }
        if let Some(choices) = annotation_arg(f, "choices") {
            let ValueKind::List(items) = &choices.kind else {
                return None;
            };
            let names = items
                .iter()
                .filter_map(|v| match &v.kind {
                    ValueKind::Ident(n) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            return Some(Bounds::Choices(names));
        }
    }
    match (spec.evolve, spec.ty) {
        (EvolveDefault::Range(lo, hi), ty) => Some(Bounds::Num(Interval {
            kind: num_kind(ty)?,
            lo: lo.num()?,
            hi: hi.num()?,
        })),
        (EvolveDefault::AnyVariant, FieldType::Enum(vs)) => {
            Some(Bounds::Choices(vs.iter().map(|v| v.to_string()).collect()))
        }
        (EvolveDefault::AnySubset, FieldType::RefList(refs)) => {
            Some(Bounds::Subset(refs.iter().map(|v| v.to_string()).collect()))
        }
        _ => None,
    }
}

/// Two significant digits for ints, tokens and durations of 100 or more; two decimals
/// for floats.
pub fn nice(kind: NumKind, x: f64) -> f64 {
    match kind {
        NumKind::Float => (x * 100.0).round() / 100.0,
        _ => {
            let r = x.round();
            if r.abs() < 100.0 {
                return r;
            }
            let mag = 10f64.powi(r.abs().log10().floor() as i32 - 1);
            (r / mag).round() * mag
        }
    }
}

/// The smallest step worth taking for a kind of number.
fn min_step(kind: NumKind, iv: &Interval) -> f64 {
    let unit: f64 = match kind {
        NumKind::Float => 0.05,
        NumKind::Duration => 50.0,
        _ => 1.0,
    };
    unit.max((iv.hi - iv.lo) * 0.02)
}

/// A new number inside `iv`, different from `current`, moving in `dir` when there is a
/// current value. `None` when no such number exists (already at the bound).
pub fn draw(rng: &mut Rng, iv: &Interval, current: Option<f64>, dir: Dir) -> Option<f64> {
    for _ in 0..12 {
        let raw = match current {
            Some(cur) if !rng.chance(0.15) => {
                let up = match dir {
                    Dir::Up => true,
                    Dir::Down => false,
                    Dir::Any => rng.chance(0.5),
                };
                // Modest steps: a gate decision is easier to read for one small change.
                let frac = *rng.pick(&[0.2, 0.33, 0.5]).unwrap_or(&0.33);
                let step = (cur.abs() * frac).max(min_step(iv.kind, iv));
                if up {
                    cur + step
                } else {
                    cur - step
                }
            }
            _ => iv.lo + rng.unit() * (iv.hi - iv.lo),
        };
        let mut x = nice(iv.kind, raw.clamp(iv.lo, iv.hi));
        if !iv.contains(x) {
            // Rounding can cross a bound that is not itself "nice".
            x = raw.clamp(iv.lo, iv.hi);
            if iv.kind != NumKind::Float {
                x = if x > iv.hi { x.floor() } else { x.ceil() }.clamp(iv.lo, iv.hi);
            }
        }
        let moved = match (current, dir) {
            (None, _) => true,
            (Some(c), Dir::Up) => x > c,
            (Some(c), Dir::Down) => x < c,
            (Some(c), Dir::Any) => x != c,
        };
        if moved && iv.contains(x) && (iv.kind == NumKind::Float || x.fract() == 0.0) {
            return Some(x);
        }
    }
    None
}

/// Can a number at `current` move in `dir` inside `iv`?
pub fn can_move(iv: &Interval, current: Option<f64>, dir: Dir) -> bool {
    match (current, dir) {
        (None, _) => iv.lo < iv.hi,
        (Some(c), Dir::Up) => c < iv.hi,
        (Some(c), Dir::Down) => c > iv.lo,
        (Some(c), Dir::Any) => c < iv.hi || c > iv.lo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice(NumKind::Int, 37.4), 37.0);
        assert_eq!(nice(NumKind::Tokens, 1873.0), 1900.0);
        assert_eq!(nice(NumKind::Float, 0.2345), 0.23);
        assert_eq!(nice(NumKind::Duration, 1250.0), 1300.0);
    }

    #[test]
    fn draws_stay_inside_and_move_the_right_way() {
        let mut rng = Rng::seed(3);
        let iv = Interval {
            kind: NumKind::Int,
            lo: 10.0,
            hi: 60.0,
        };
        for _ in 0..500 {
            let x = draw(&mut rng, &iv, Some(30.0), Dir::Up).unwrap_or(31.0);
            assert!(iv.contains(x) && x > 30.0, "{x}");
            let y = draw(&mut rng, &iv, Some(30.0), Dir::Down).unwrap_or(29.0);
            assert!(iv.contains(y) && y < 30.0, "{y}");
        }
        assert_eq!(draw(&mut rng, &iv, Some(60.0), Dir::Up), None);
        let f = Interval {
            kind: NumKind::Float,
            lo: 0.0,
            hi: 1.0,
        };
        for _ in 0..500 {
            let x = draw(&mut rng, &f, Some(0.0), Dir::Any).unwrap_or(0.5);
            assert!(f.contains(x) && x != 0.0);
        }
    }

    #[test]
    fn durations_print_in_the_largest_unit() {
        let show = |ms: f64| match to_value(NumKind::Duration, ms) {
            ValueKind::Duration(d) => format!("{}{}", d.amount, d.unit.as_str()),
            _ => String::new(),
        };
        assert_eq!(show(1500.0), "1500ms");
        assert_eq!(show(2000.0), "2s");
        assert_eq!(show(120_000.0), "2m");
        assert_eq!(show(0.0), "0ms");
    }
}
