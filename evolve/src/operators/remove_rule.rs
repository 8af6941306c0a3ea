//! `remove_rule`: drops a rule that is not `@frozen`. Guards cost tokens and steps, and
//! some misfire (an anti-loop hint on a legitimate repeat, a block that burns a step), so
//! removing one can help. The failure class points at the suspects: rules whose actions
//! or conditions plausibly cause that failure; `unknown` may remove any rule.

use harnessx_syntax::{Action, File, Item, Rule};

use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use super::rule_library::keys_on;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// Action names and condition keys of rules that may cause a failure class.
fn suspects(class: FailureClass) -> &'static [&'static str] {
    use FailureClass::*;
    match class {
        StepBudget => &["block", "reprompt", "repeated_action"],
        Loop => &["block"],
        WrongAction => &["repeated_action", "inject"],
        ContextOverflow => &["inject", "reprompt"],
        _ => &[],
    }
}

fn uses_action(actions: &[Action], name: &str) -> bool {
    actions
        .iter()
        .any(|a| a.name.name == name || a.otherwise.as_ref().is_some_and(|f| f.name.name == name))
}

fn suspect(r: &Rule, key: &str) -> bool {
    uses_action(&r.actions, key) || r.when.as_ref().is_some_and(|c| keys_on(c, key))
}

/// `(rule index k in rules[k], item index)` of removable rules.
fn options(file: &File, target: &Target) -> Vec<(usize, usize)> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    let removable: Vec<(usize, usize)> = node::rule_items(h)
        .into_iter()
        .enumerate()
        .filter(|(_, i)| !is_frozen(h.items[*i].annotations()))
        .collect();
    if target.class() == FailureClass::Unknown {
        return removable;
    }
    let keys = suspects(target.class());
    removable
        .into_iter()
        .filter(|(_, i)| match &h.items[*i] {
            Item::Rule(r) => keys.iter().any(|k| suspect(r, k)),
            _ => false,
        })
        .collect()
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

/// `on HOOK as NAME`, to name a rule in a summary.
pub fn rule_head(r: &Rule) -> String {
    match &r.name {
        Some(n) => format!("on {} as {}", r.hook.name, n.name),
        None => format!("on {}", r.hook.name),
    }
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let (k, index) = rng.take(&mut opts)?;
    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let Item::Rule(removed) = nh.items.remove(index) else {
        return None;
    };
    let summary = format!("remove rules[{k}] (`{}`)", rule_head(&removed));
    let (delta, why) = match target.class() {
        FailureClass::Unknown => (0.0, "exploration: fewer guards, fewer tokens".to_string()),
        c => (
            0.02,
            format!("the rule may cause `{c}` failures; removing it also saves tokens"),
        ),
    };
    let edit =
        Edit::new(new, summary, delta, why).change(ChangeKind::Removed, format!("rules[{k}]"));
    Candidate::build(file, target, OperatorId::RemoveRule, edit)
}
