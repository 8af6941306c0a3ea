//! `set_number`: moves a numeric section field (`loop.max_steps`, `model.temperature`,
//! `context.budget`, `context.keep_last`, ...) inside its `@evolve` bounds, or the schema's
//! built-in ones. The failure class picks the field and the direction (more steps for
//! `step_budget`, a cooler model for `malformed_call`); `unknown` moves any field either
//! way. An absent field starts from its schema default; an absent section is created.

use harnessx_compiler::schema::{self, FieldSpec};
use harnessx_syntax::{File, Item};

use super::bounds::{can_move, draw, field_bounds, to_value, Bounds, Dir};
use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// The fields a failure class wants moved, and which way.
fn hints(class: FailureClass) -> &'static [(&'static str, &'static str, Dir)] {
    use FailureClass::*;
    match class {
        MalformedCall => &[
            ("model", "temperature", Dir::Down),
            ("model", "max_tokens", Dir::Up),
        ],
        Loop => &[
            ("model", "temperature", Dir::Up),
            ("loop", "reflect_every", Dir::Down),
        ],
        ToolErrorIgnored | WrongAction => &[("model", "temperature", Dir::Down)],
        // Tool timeouts are `tool_reliability`'s; `model.timeout` is about the model.
        ToolTimeout => &[],
        StepBudget => &[("loop", "max_steps", Dir::Up)],
        PrematureFinish => &[
            ("loop", "max_steps", Dir::Up),
            ("model", "temperature", Dir::Down),
        ],
        ContextOverflow => &[
            ("context", "budget", Dir::Up),
            ("context", "keep_last", Dir::Down),
            ("model", "max_tokens", Dir::Down),
        ],
        Unknown => &[],
    }
}

struct Opt {
    section: &'static str,
    spec: &'static FieldSpec,
    dir: Dir,
}

fn options(file: &File, target: &Target) -> Vec<Opt> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    let class = target.class();
    let mut out = Vec::new();
    for sect in schema::SECTIONS {
        if node::section(h, sect.name).is_some_and(|s| is_frozen(&s.annotations)) {
            continue;
        }
        for spec in sect.fields {
            let dir = if class == FailureClass::Unknown {
                Dir::Any
            } else {
                match hints(class)
                    .iter()
                    .find(|(s, f, _)| *s == sect.name && *f == spec.name)
                {
                    Some((_, _, d)) => *d,
                    None => continue,
                }
            };
            // `reflect_every` does nothing (and draws a warning) unless the loop reflects.
            if spec.name == "reflect_every" && strategy(file) != "reflect" {
                continue;
            }
            let field = node::section_field(h, sect.name, spec.name);
            let Some(Bounds::Num(iv)) = field_bounds(spec, field) else {
                continue;
            };
            if can_move(&iv, current(spec, field), dir) {
                out.push(Opt {
                    section: sect.name,
                    spec,
                    dir,
                });
            }
        }
    }
    out
}

fn current(spec: &FieldSpec, field: Option<&harnessx_syntax::Field>) -> Option<f64> {
    match field {
        Some(f) => f.value.kind.num(),
        None => spec.default.and_then(|l| l.num()),
    }
}

/// The loop strategy in effect.
pub fn strategy(file: &File) -> String {
    file.harness
        .as_ref()
        .and_then(|h| node::section_field(h, "loop", "strategy"))
        .map(|f| node::show(&f.value.kind))
        .unwrap_or_else(|| "react".into())
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let opt = rng.take(&mut opts)?;
    let h = node::harness(file)?;
    let field = node::section_field(h, opt.section, opt.spec.name);
    let Some(Bounds::Num(iv)) = field_bounds(opt.spec, field) else {
        return None;
    };
    let cur = current(opt.spec, field);
    let x = draw(rng, &iv, cur, opt.dir)?;
    let kind = to_value(iv.kind, x);
    let path = format!("{}.{}", opt.section, opt.spec.name);
    let before = match field {
        Some(f) => node::show(&f.value.kind),
        None => match opt.spec.default {
            Some(d) => format!("{d} (default)"),
            None => "unset".into(),
        },
    };
    let summary = format!("{path} {before} -> {}", node::show(&kind));

    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let change = match node::section_index(nh, opt.section) {
        Some(i) => {
            let Item::Section(s) = &mut nh.items[i] else {
                return None;
            };
            match s.fields.iter_mut().find(|f| f.name.name == opt.spec.name) {
                Some(f) => {
                    f.value.kind = kind;
                    (ChangeKind::Modified, path.clone())
                }
                None => {
                    s.fields.push(node::field(opt.spec.name, kind));
                    (ChangeKind::Inserted, path.clone())
                }
            }
        }
        None => {
            let at = node::section_insert_at(nh);
            let s = node::new_section(opt.section, vec![node::field(opt.spec.name, kind)]);
            nh.items.insert(at, Item::Section(s));
            (ChangeKind::Inserted, opt.section.to_string())
        }
    };
    let (delta, why) = impact(target.class(), opt.spec.name, opt.dir);
    let edit = Edit::new(new, summary, delta, why).change(change.0, change.1);
    Candidate::build(file, target, OperatorId::SetNumber, edit)
}

fn impact(class: FailureClass, field: &str, dir: Dir) -> (f64, String) {
    let way = match dir {
        Dir::Up => "raising",
        Dir::Down => "lowering",
        Dir::Any => "moving",
    };
    if class == FailureClass::Unknown {
        return (0.01, format!("exploration: {way} `{field}`"));
    }
    (
        0.03,
        format!("{way} `{field}` should reduce `{class}` failures"),
    )
}
