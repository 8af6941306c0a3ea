//! `tune_rule`: moves a number inside a rule that is not `@frozen`: a detector's
//! arguments (`repeated_action(window, count)`), a comparison's threshold (`step >= N`,
//! `context_tokens > N`), or an action's arguments (`retry(max, backoff)`,
//! `reprompt(max)`). An argument left at its default is written out with the new value.
//!
//! The schema gives these numbers wide legal ranges but no evolve bounds, so the bounds
//! here are tighter, practical ones (a `window` of 50 actions is legal but never useful),
//! always inside the legal range, and `count` never exceeds `window`.

use harnessx_compiler::schema::{self, ArgSpec};
use harnessx_syntax::{Action, Arg, CmpOp, Cond, CondKind, File, Harness, Item, ValueKind};

use super::bounds::{can_move, draw, to_value, Dir, Interval, NumKind};
use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen, named_arg};
use super::rng::Rng;
use super::rule_library::effective;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// Where the number lives inside rule `item`.
#[derive(Debug, Clone)]
enum Slot {
    /// A named argument of the detector at this operand path.
    DetectorArg { at: Vec<usize>, name: &'static str },
    /// The value of the comparison at this operand path.
    Threshold { at: Vec<usize> },
    /// A named argument of top-level action `index`.
    ActionArg { index: usize, name: &'static str },
}

struct Opt {
    rule: usize,
    item: usize,
    slot: Slot,
    path: String,
    iv: Interval,
    current: Option<f64>,
    dir: Dir,
}

fn arg_value(args: &[Arg], name: &str) -> Option<f64> {
    args.iter()
        .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
        .and_then(|a| a.value.kind.num())
}

/// The value of an argument, or its schema default.
fn arg_or_default(args: &[Arg], spec: &ArgSpec) -> Option<f64> {
    arg_value(args, spec.name).or_else(|| spec.default.and_then(|l| l.num()))
}

fn int_iv(lo: f64, hi: f64) -> Interval {
    Interval {
        kind: NumKind::Int,
        lo,
        hi,
    }
}

/// The way a class wants a number to move, if it cares about it.
fn hint(class: FailureClass, what: &str, op: Option<CmpOp>) -> Option<Dir> {
    use FailureClass::*;
    let fires_above = matches!(op, Some(CmpOp::Ge | CmpOp::Gt));
    let fires_below = matches!(op, Some(CmpOp::Le | CmpOp::Lt));
    match (class, what) {
        (Unknown, _) => Some(Dir::Any),
        (Loop, "repeated_action.count") => Some(Dir::Down),
        (Loop, "repeated_action.window") => Some(Dir::Up),
        (WrongAction, "repeated_action.count") => Some(Dir::Up),
        (WrongAction, "repeated_action.window") => Some(Dir::Down),
        (StepBudget, "step") if fires_above => Some(Dir::Down),
        (PrematureFinish, "step") if fires_below => Some(Dir::Up),
        (ContextOverflow, "context_tokens") if fires_above => Some(Dir::Down),
        (ToolErrorIgnored | ToolTimeout, "retry.max") => Some(Dir::Up),
        (ToolTimeout, "retry.backoff") => Some(Dir::Up),
        (MalformedCall, "reprompt.max") => Some(Dir::Up),
        _ => None,
    }
}

fn cond_slots(
    h: &Harness,
    c: &Cond,
    at: Vec<usize>,
    path: String,
    class: FailureClass,
    out: &mut Vec<(Slot, String, Interval, Option<f64>, Dir)>,
) {
    match &c.kind {
        CondKind::And(ops) | CondKind::Or(ops) => {
            let word = if matches!(c.kind, CondKind::And(_)) {
                "and"
            } else {
                "or"
            };
            for (i, o) in ops.iter().enumerate() {
                let mut sub = at.clone();
                sub.push(i);
                cond_slots(h, o, sub, format!("{path}.{word}[{i}]"), class, out);
            }
        }
        CondKind::Not(o) => {
            let mut sub = at.clone();
            sub.push(0);
            cond_slots(h, o, sub, format!("{path}.not"), class, out);
        }
        CondKind::Detector { name, args } if name.name == "repeated_action" => {
            let [w_spec, c_spec] = schema::REPEATED_ACTION_ARGS else {
                return;
            };
            let (Some(window), Some(count)) =
                (arg_or_default(args, w_spec), arg_or_default(args, c_spec))
            else {
                return;
            };
            let slots = [
                (
                    w_spec.name,
                    int_iv(count.max(2.0), 12f64.max(count)),
                    window,
                ),
                (c_spec.name, int_iv(2.0, window), count),
            ];
            for (arg, iv, cur) in slots {
                if let Some(dir) = hint(class, &format!("repeated_action.{arg}"), None) {
                    let slot = Slot::DetectorArg {
                        at: at.clone(),
                        name: arg,
                    };
                    out.push((slot, format!("{path}.{arg}"), iv, Some(cur), dir));
                }
            }
        }
        CondKind::Compare { metric, op, value } => {
            let max_steps = effective(h, "loop", "max_steps").unwrap_or(30.0);
            let budget = effective(h, "context", "budget").unwrap_or(2000.0);
            let (lo, hi) = match metric.name.as_str() {
                "step" => (1.0, max_steps.max(2.0)),
                "context_tokens" => (64.0, budget.max(128.0)),
                "tokens_used" => (100.0, 100_000.0),
                "consecutive_errors" => (1.0, 10.0),
                _ => return,
            };
            let kind = match value.kind {
                ValueKind::Tokens(_) => NumKind::Tokens,
                ValueKind::Int(_) => NumKind::Int,
                _ => return,
            };
            if let Some(dir) = hint(class, &metric.name, Some(*op)) {
                let iv = Interval { kind, lo, hi };
                out.push((
                    Slot::Threshold { at },
                    format!("{path}.value"),
                    iv,
                    value.kind.num(),
                    dir,
                ));
            }
        }
        _ => {}
    }
}

fn action_slots(
    a: &Action,
    index: usize,
    path: String,
    class: FailureClass,
    out: &mut Vec<(Slot, String, Interval, Option<f64>, Dir)>,
) {
    let Some(spec) = schema::action(&a.name.name) else {
        return;
    };
    for arg in spec.args {
        let iv = match (spec.name, arg.name) {
            ("retry", "max") | ("reprompt", "max") => int_iv(1.0, 5.0),
            ("retry", "backoff") => Interval {
                kind: NumKind::Duration,
                lo: 0.0,
                hi: 5_000.0,
            },
            _ => continue,
        };
        if let Some(dir) = hint(class, &format!("{}.{}", spec.name, arg.name), None) {
            let slot = Slot::ActionArg {
                index,
                name: arg.name,
            };
            out.push((
                slot,
                format!("{path}.{}", arg.name),
                iv,
                arg_or_default(&a.args, arg),
                dir,
            ));
        }
    }
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
        let mut slots = Vec::new();
        if let Some(c) = &r.when {
            cond_slots(
                h,
                c,
                Vec::new(),
                format!("rules[{k}].when"),
                class,
                &mut slots,
            );
        }
        for (j, a) in r.actions.iter().enumerate() {
            action_slots(a, j, format!("rules[{k}].actions[{j}]"), class, &mut slots);
        }
        for (slot, path, iv, current, dir) in slots {
            if iv.lo < iv.hi && can_move(&iv, current, dir) {
                out.push(Opt {
                    rule: k,
                    item,
                    slot,
                    path,
                    iv,
                    current,
                    dir,
                });
            }
        }
    }
    out
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

fn cond_at<'a>(c: &'a mut Cond, at: &[usize]) -> Option<&'a mut Cond> {
    let Some((first, rest)) = at.split_first() else {
        return Some(c);
    };
    match &mut c.kind {
        CondKind::And(ops) | CondKind::Or(ops) => cond_at(ops.get_mut(*first)?, rest),
        CondKind::Not(o) => cond_at(o, rest),
        _ => None,
    }
}

/// Sets a named argument, adding it when absent.
fn set_arg(args: &mut Vec<Arg>, name: &str, kind: ValueKind) {
    match args
        .iter_mut()
        .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
    {
        Some(a) => a.value.kind = kind,
        None => args.push(named_arg(name, kind)),
    }
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let opt = rng.take(&mut opts)?;
    let x = draw(rng, &opt.iv, opt.current, opt.dir)?;
    let kind = to_value(opt.iv.kind, x);
    let summary = format!(
        "{} {} -> {}",
        opt.path,
        opt.current
            .map_or("default".into(), |c| node::show(&to_value(opt.iv.kind, c))),
        node::show(&kind)
    );
    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let Some(Item::Rule(r)) = nh.items.get_mut(opt.item) else {
        return None;
    };
    let existed = match &opt.slot {
        Slot::DetectorArg { at, name } => {
            let c = cond_at(r.when.as_mut()?, at)?;
            let CondKind::Detector { args, .. } = &mut c.kind else {
                return None;
            };
            let existed = arg_value(args, name).is_some();
            set_arg(args, name, kind);
            existed
        }
        Slot::Threshold { at } => {
            let c = cond_at(r.when.as_mut()?, at)?;
            let CondKind::Compare { value, .. } = &mut c.kind else {
                return None;
            };
            value.kind = kind;
            true
        }
        Slot::ActionArg { index, name } => {
            let a = r.actions.get_mut(*index)?;
            let existed = arg_value(&a.args, name).is_some();
            set_arg(&mut a.args, name, kind);
            existed
        }
    };
    let change = if existed {
        ChangeKind::Modified
    } else {
        ChangeKind::Inserted
    };
    let why = match target.class() {
        FailureClass::Unknown => "exploration: a guard's sensitivity".to_string(),
        c => format!("rules[{}] fires at a better point for `{c}`", opt.rule),
    };
    let edit = Edit::new(new, summary, 0.03, why).change(change, opt.path);
    Candidate::build(file, target, OperatorId::TuneRule, edit)
}
