//! `replace_action`: changes one action of a rule that is not `@frozen`: another repair
//! strategy, a fallback for a `repair` or `retry` that has none, a hint turned into a
//! block (or back), a `stop` softened into a hint, another message from the library, or
//! another compaction strategy. Every replacement is legal on the rule's hook, so the
//! result checks by construction.

use harnessx_compiler::schema::{self, Hook, HookExt, REPAIR_STRATEGIES};
use harnessx_syntax::{Action, File, Item, Rule, ValueKind};

use super::candidate::{Candidate, Edit, Target};
use super::node::{self, action, is_frozen, named_arg, text};
use super::rng::Rng;
use super::rule_library::{keys_on, TEMPLATES};
use crate::fragments::Phrasing;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

#[derive(Debug, Clone)]
enum Replacement {
    RepairStrategy(&'static str),
    Fallback(Box<Action>),
    Rename(&'static str),
    Message(&'static str),
    CompactStrategy(Option<&'static str>),
}

struct Opt {
    rule: usize,
    item: usize,
    action: usize,
    with: Replacement,
}

/// The class whose library rule keys on what this rule keys on.
fn class_of(r: &Rule) -> FailureClass {
    TEMPLATES
        .iter()
        .find(|t| r.hook.name == t.hook && r.when.as_ref().is_some_and(|c| keys_on(c, t.key)))
        .map_or(FailureClass::Unknown, |t| t.class)
}

fn hook_allows(hook: &str, action: &str) -> bool {
    match (Hook::from_name(hook), schema::action(action)) {
        (Some(h), Some(a)) => a.hooks.contains(h),
        _ => false,
    }
}

fn replacements(r: &Rule, a: &Action, class: FailureClass, phrasing: Phrasing) -> Vec<Replacement> {
    let mut out = Vec::new();
    let msg_class = if class == FailureClass::Unknown {
        class_of(r)
    } else {
        class
    };
    let current_msg = match a.message.as_ref().map(|m| &m.kind) {
        Some(ValueKind::Str(s)) => Some(s.value.as_str()),
        _ => None,
    };
    match a.name.name.as_str() {
        "repair" => {
            let cur = a.message.as_ref().map(|m| node::show(&m.kind));
            for s in REPAIR_STRATEGIES
                .iter()
                .filter(|s| cur.as_deref() != Some(**s))
            {
                out.push(Replacement::RepairStrategy(s));
            }
            if a.otherwise.is_none() {
                let msg = phrasing.rule_messages(FailureClass::MalformedCall)[0];
                out.push(Replacement::Fallback(Box::new(action(
                    "reprompt",
                    vec![],
                    Some(text(msg)),
                ))));
            }
        }
        "retry" if a.otherwise.is_none() => {
            let msg = phrasing.rule_messages(FailureClass::ToolErrorIgnored)[0];
            out.push(Replacement::Fallback(Box::new(action(
                "inject",
                vec![],
                Some(text(msg)),
            ))));
        }
        "inject" if r.when.is_some() && hook_allows(&r.hook.name, "block") => {
            out.push(Replacement::Rename("block"));
        }
        "block" | "stop" if hook_allows(&r.hook.name, "inject") => {
            out.push(Replacement::Rename("inject"));
        }
        "compact" => {
            let cur = a.args.first().map(|x| node::show(&x.value.kind));
            if cur.is_some() {
                out.push(Replacement::CompactStrategy(None));
            }
            for s in schema::COMPACT_STRATEGIES
                .iter()
                .filter(|s| cur.as_deref() != Some(**s))
            {
                out.push(Replacement::CompactStrategy(Some(s)));
            }
        }
        _ => {}
    }
    if matches!(a.name.name.as_str(), "inject" | "block" | "reprompt") {
        for m in phrasing
            .rule_messages(msg_class)
            .into_iter()
            .filter(|m| current_msg != Some(*m))
        {
            out.push(Replacement::Message(m));
        }
    }
    out
}

fn options(file: &File, target: &Target) -> Vec<Opt> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    let class = target.class();
    let mut out = Vec::new();
    for (k, item) in node::rule_items(h).into_iter().enumerate() {
        let Item::Rule(r) = &h.items[item] else {
            continue;
        };
        if is_frozen(&r.annotations) {
            continue;
        }
        // A targeted class only touches the rules that address it: swapping an anti-loop
        // hint for a step-budget message would make the rule say the wrong thing.
        if class != FailureClass::Unknown && class_of(r) != class {
            continue;
        }
        for (j, a) in r.actions.iter().enumerate() {
            for with in replacements(r, a, class, target.phrasing) {
                out.push(Opt {
                    rule: k,
                    item,
                    action: j,
                    with,
                });
            }
        }
    }
    out
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let opt = rng.take(&mut opts)?;
    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let Some(Item::Rule(r)) = nh.items.get_mut(opt.item) else {
        return None;
    };
    let a = r.actions.get_mut(opt.action)?;
    let path = format!("rules[{}].actions[{}]", opt.rule, opt.action);
    let mut kind = ChangeKind::Modified;
    let mut changed = path.clone();
    let (what, delta) = match opt.with {
        Replacement::RepairStrategy(s) => {
            a.message = Some(node::value(ValueKind::Ident(s.into())));
            (format!("repair strategy -> {s}"), 0.03)
        }
        Replacement::Fallback(f) => {
            let name = f.name.name.clone();
            a.otherwise = Some(f);
            kind = ChangeKind::Inserted;
            changed = format!("{path}.otherwise");
            (format!("add fallback `otherwise {name}`"), 0.04)
        }
        Replacement::Rename(to) => {
            let from = std::mem::replace(&mut a.name, node::ident(to));
            // Neither `block` nor `inject` can fail, so neither may keep a fallback.
            a.otherwise = None;
            (format!("{} -> {to}", from.name), 0.04)
        }
        Replacement::Message(m) => {
            a.message = Some(node::value(text(m)));
            (format!("{} message -> {m:?}", a.name.name), 0.02)
        }
        Replacement::CompactStrategy(s) => {
            a.args = s
                .map(|s| vec![named_arg("strategy", ValueKind::Ident(s.into()))])
                .unwrap_or_default();
            (
                format!("compact strategy -> {}", s.unwrap_or("default")),
                0.02,
            )
        }
    };
    let summary = format!("{path}: {what}");
    let why = match target.class() {
        FailureClass::Unknown => "exploration: a different response to the same event".into(),
        c => format!("a stronger or clearer response to `{c}`"),
    };
    let edit = Edit::new(new, summary, delta, why).change(kind, changed);
    Candidate::build(file, target, OperatorId::ReplaceAction, edit)
}
