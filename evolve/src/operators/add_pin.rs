//! `add_pin`: adds a reference to `context.pin`, so compaction never drops it: the goal
//! against `context_overflow`, the admissible actions against `wrong_action`. An absent
//! `pin` means the schema default, which the new list starts from.

use harnessx_compiler::schema::{self, Lit};
use harnessx_syntax::{File, Item, ValueKind};

use super::bounds::{field_bounds, Bounds};
use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// References worth pinning per class, best first.
fn wanted(class: FailureClass) -> &'static [&'static str] {
    use FailureClass::*;
    match class {
        ContextOverflow => &["task.goal", "system"],
        WrongAction => &["admissible_actions", "tools"],
        MalformedCall => &["tools"],
        Unknown => schema::PIN_REFS,
        _ => &[],
    }
}

/// The pinned references in effect: the field's list, else the default.
fn pinned(file: &File) -> Option<Vec<String>> {
    let h = node::harness(file)?;
    match node::section_field(h, "context", "pin") {
        Some(f) => match &f.value.kind {
            ValueKind::List(items) => Some(items.iter().map(|v| node::show(&v.kind)).collect()),
            _ => None,
        },
        None => match schema::section("context")?.field("pin")?.default {
            Some(Lit::Refs(rs)) => Some(rs.iter().map(|r| r.to_string()).collect()),
            _ => Some(Vec::new()),
        },
    }
}

fn options(file: &File, target: &Target) -> Vec<&'static str> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    if node::section(h, "context").is_some_and(|s| is_frozen(&s.annotations)) {
        return Vec::new();
    }
    let Some(spec) = schema::section("context").and_then(|s| s.field("pin")) else {
        return Vec::new();
    };
    let Some(Bounds::Subset(legal)) = field_bounds(spec, node::section_field(h, "context", "pin"))
    else {
        return Vec::new();
    };
    let Some(have) = pinned(file) else {
        return Vec::new();
    };
    let first = wanted(target.class())
        .iter()
        .copied()
        .filter(|r| legal.iter().any(|l| l == r) && !have.iter().any(|x| x == r));
    // Classes other than `unknown` get their best missing reference only.
    if target.class() == FailureClass::Unknown {
        first.collect()
    } else {
        first.take(1).collect()
    }
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let pin = rng.take(&mut opts)?;
    let mut refs = pinned(file)?;
    let before = format!("[{}]", refs.join(", "));
    refs.push(pin.to_string());
    let list = ValueKind::List(
        refs.iter()
            .map(|r| node::value(ValueKind::Ident(r.clone())))
            .collect(),
    );
    let summary = format!("context.pin {before} -> [{}]", refs.join(", "));
    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let change = match node::section_index(nh, "context") {
        Some(i) => {
            let Item::Section(s) = &mut nh.items[i] else {
                return None;
            };
            match s.fields.iter_mut().find(|f| f.name.name == "pin") {
                Some(f) => {
                    f.value.kind = list;
                    (ChangeKind::Modified, "context.pin".to_string())
                }
                None => {
                    s.fields.push(node::field("pin", list));
                    (ChangeKind::Inserted, "context.pin".to_string())
                }
            }
        }
        None => {
            let at = node::section_insert_at(nh);
            nh.items.insert(
                at,
                Item::Section(node::new_section("context", vec![node::field("pin", list)])),
            );
            (ChangeKind::Inserted, "context".to_string())
        }
    };
    let why = match target.class() {
        FailureClass::Unknown => format!("exploration: keep `{pin}` through compaction"),
        c => format!("`{pin}` survives compaction (`{c}`)"),
    };
    let edit = Edit::new(new, summary, 0.04, why).change(change.0, change.1);
    Candidate::build(file, target, OperatorId::AddPin, edit)
}
