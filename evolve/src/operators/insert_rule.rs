//! `insert_rule`: adds a guard rule from the rule library for the failure class, named
//! after what it does (`as anti_loop`) so traces and later rounds can refer to it. The
//! rule goes after the last rule, which keeps every existing rule's path.

use harnessx_syntax::{File, Item};

use super::candidate::{Candidate, Edit, Target};
use super::node;
use super::rng::Rng;
use super::rule_library::{templates_for, Template};
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

fn options(file: &File, target: &Target) -> Vec<&'static Template> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    templates_for(target.class())
        .into_iter()
        .filter(|t| t.fits(h))
        .collect()
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let template = rng.take(&mut opts)?;
    let h = node::harness(file)?;
    let mut rule = template.build(h, target, rng)?;
    let name = node::fresh_rule_name(h, template.name);
    rule.name = Some(node::ident(&name));

    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let at = node::rule_insert_at(nh);
    nh.items.insert(at, Item::Rule(rule));
    let path = node::item_path(nh, at)?;
    let summary = format!("insert rule `{name}` on {} ({path})", template.hook);
    let (delta, why) = if target.class() == FailureClass::Unknown {
        (0.02, format!("exploration: {}", template.why))
    } else {
        (0.08, template.why.to_string())
    };
    let edit = Edit::new(new, summary, delta, why).change(ChangeKind::Inserted, path);
    Candidate::build(file, target, OperatorId::InsertRule, edit)
}
