//! The rule library: for each failure class, guard rules known to address it, built as
//! AST nodes with parameters fitted to the harness (the step threshold from
//! `loop.max_steps`, the token threshold from `context.budget`, the tool that finishes).
//!
//! Every template names its hook, the detector or metric it keys on and the action it
//! takes; `insert_rule` skips a template when a rule on that hook already keys on the same
//! thing with the same action, so the library never stacks a second anti-loop hint on top
//! of the first (tuning the existing one is `tune_rule`'s job) — while a guard that blocks
//! a repeated call is not a hint and can sit beside one. A finish guard keys on the call of
//! the finishing tool itself, not on any `call(...)`.

use harnessx_compiler::schema::{self, REPAIR_STRATEGIES};
use harnessx_syntax::{Action, CmpOp, Cond, CondKind, Harness, Item, Rule, ValueKind};

use super::bounds::{nice, to_value, NumKind};
use super::candidate::Target;
use super::node::{self, action, and, call, compare, detector, matches, named_arg, not, text};
use super::rng::Rng;
use crate::digest::REPEATED_EFFECT;
use crate::fragments::Phrasing;
use crate::manifest::FailureClass;

/// One library rule: where it fires, what it keys on, how to build it.
pub struct Template {
    pub class: FailureClass,
    pub hook: &'static str,
    /// The detector or metric of its condition: the duplicate check keys on it.
    pub key: &'static str,
    /// The action its rule takes (the duplicate check compares it too).
    pub action: &'static str,
    pub name: &'static str,
    pub why: &'static str,
    /// Whether the harness has what the rule needs (a finishing tool, say).
    needs: fn(&Harness) -> bool,
    build: fn(&Harness, &Target, &mut Rng) -> Option<Rule>,
}

impl Template {
    /// Build the rule; `target`'s evidence may pick what it is about (the tool that
    /// repeated, say).
    pub fn build(&self, h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
        (self.build)(h, target, rng)
    }

    /// Whether the harness has what the template needs and no rule on the same hook
    /// already keys on the same detector or metric with the same action.
    pub fn fits(&self, h: &Harness) -> bool {
        if !(self.needs)(h) {
            return false;
        }
        let finish = finish_tool(h);
        !h.items.iter().any(|i| match i {
            Item::Rule(r) => {
                r.hook.name == self.hook
                    && uses_action(&r.actions, self.action)
                    && r.when.as_ref().is_some_and(|c| match (self.key, finish) {
                        ("call", Some(f)) => calls(c, f),
                        _ => keys_on(c, self.key),
                    })
            }
            _ => false,
        })
    }
}

/// Does an action list (with its fallbacks) use `name`?
fn uses_action(actions: &[Action], name: &str) -> bool {
    actions.iter().any(|a| {
        a.name.name == name
            || a.otherwise
                .as_deref()
                .is_some_and(|o| uses_action(std::slice::from_ref(o), name))
    })
}

/// Does a condition test `call(tool)` anywhere?
fn calls(c: &Cond, tool: &str) -> bool {
    match &c.kind {
        CondKind::And(ops) | CondKind::Or(ops) => ops.iter().any(|o| calls(o, tool)),
        CondKind::Not(op) => calls(op, tool),
        CondKind::Detector { name, args } => {
            name.name == "call"
                && args
                    .iter()
                    .any(|a| matches!(&a.value.kind, ValueKind::Ident(t) if t == tool))
        }
        _ => false,
    }
}

pub const TEMPLATES: &[Template] = &[
    Template {
        class: FailureClass::MalformedCall,
        hook: "after_model",
        key: "malformed_call",
        action: "repair",
        name: "repair_call",
        why: "recovers calls buried in prose instead of losing the step",
        needs: |_| true,
        build: repair_call,
    },
    Template {
        class: FailureClass::Loop,
        hook: "before_tool",
        key: "repeated_action",
        action: "inject",
        name: "anti_loop",
        why: "a hint when the same action repeats breaks the loop",
        needs: |_| true,
        build: anti_loop,
    },
    Template {
        class: FailureClass::Loop,
        hook: "before_tool",
        key: "repeated_action",
        action: "block",
        name: "send_once",
        why: "a call that already took effect is not sent a second time",
        needs: |h| !repeatable_tools(h).is_empty(),
        build: send_once,
    },
    Template {
        class: FailureClass::ToolErrorIgnored,
        hook: "after_tool",
        key: "tool_error",
        action: "retry",
        name: "retry_errors",
        why: "transient tool errors are retried, and the model is told when they persist",
        needs: |_| true,
        build: retry_errors,
    },
    Template {
        class: FailureClass::ToolTimeout,
        hook: "after_tool",
        key: "tool_timeout",
        action: "retry",
        name: "retry_timeouts",
        why: "timed-out calls are retried with backoff",
        needs: |_| true,
        build: retry_timeouts,
    },
    Template {
        class: FailureClass::StepBudget,
        hook: "step_start",
        key: "step",
        action: "inject",
        name: "finish_soon",
        why: "a reminder near the step limit gets the episode finished in time",
        needs: |_| true,
        build: finish_soon,
    },
    Template {
        class: FailureClass::PrematureFinish,
        hook: "before_tool",
        key: "call",
        action: "block",
        name: "check_before_finish",
        why: "finishing is blocked until the goal has been checked",
        needs: |h| finish_tool(h).is_some(),
        build: check_before_finish,
    },
    Template {
        class: FailureClass::ContextOverflow,
        hook: "step_start",
        key: "context_tokens",
        action: "compact",
        name: "compact_context",
        why: "the history is compacted before it crowds the goal out",
        needs: |_| true,
        build: compact_context,
    },
    Template {
        class: FailureClass::WrongAction,
        hook: "after_tool",
        key: "observation",
        action: "inject",
        name: "admissible_hint",
        why: "a failed action is answered with the actions that are possible",
        needs: |_| true,
        build: admissible_hint,
    },
];

pub fn templates_for(class: FailureClass) -> Vec<&'static Template> {
    TEMPLATES
        .iter()
        .filter(|t| class == FailureClass::Unknown || t.class == class)
        .collect()
}

/// Does a condition use the detector, metric or subject `key` anywhere?
pub fn keys_on(c: &Cond, key: &str) -> bool {
    match &c.kind {
        CondKind::And(ops) | CondKind::Or(ops) => ops.iter().any(|o| keys_on(o, key)),
        CondKind::Not(op) => keys_on(op, key),
        CondKind::Detector { name, .. } => name.name == key,
        CondKind::Compare { metric, .. } => metric.name == key,
        CondKind::Matches { subject, .. } => subject.name == key,
    }
}

fn message(phrasing: Phrasing, class: FailureClass, rng: &mut Rng) -> ValueKind {
    let msgs = phrasing.rule_messages(class);
    text(rng.pick(&msgs).copied().unwrap_or("Think, then act."))
}

fn with_fallback(mut a: Action, fallback: Action) -> Action {
    a.otherwise = Some(Box::new(fallback));
    a
}

fn int(i: i64) -> ValueKind {
    ValueKind::Int(i)
}

/// A field's value as a number, else its schema default.
pub fn effective(h: &Harness, section: &str, field: &str) -> Option<f64> {
    if let Some(f) = node::section_field(h, section, field) {
        return f.value.kind.num();
    }
    schema::section(section)?
        .field(field)?
        .default
        .and_then(|l| l.num())
}

fn repair_call(_h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    // `extract_action` is the usual fix for small models; the others are worth a try.
    let strategy = if rng.chance(0.6) {
        "extract_action"
    } else {
        rng.pick(REPAIR_STRATEGIES).copied()?
    };
    let repair = action("repair", vec![], Some(ValueKind::Ident(strategy.into())));
    let reprompt = action(
        "reprompt",
        vec![],
        Some(message(target.phrasing, FailureClass::MalformedCall, rng)),
    );
    Some(node::rule(
        "after_model",
        None,
        Some(detector("malformed_call", vec![])),
        vec![with_fallback(repair, reprompt)],
    ))
}

fn anti_loop(_h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let window = rng.between(3, 6);
    let count = rng.between(2, window.min(4));
    let when = detector(
        "repeated_action",
        vec![
            named_arg("window", int(window)),
            named_arg("count", int(count)),
        ],
    );
    let hint = action(
        "inject",
        vec![],
        Some(message(target.phrasing, FailureClass::Loop, rng)),
    );
    Some(node::rule("before_tool", None, Some(when), vec![hint]))
}

/// Tools a repeat guard can watch: every declared tool but the finishing one.
fn repeatable_tools(h: &Harness) -> Vec<&str> {
    let finish = finish_tool(h);
    node::tool_names(h)
        .into_iter()
        .filter(|t| Some(*t) != finish)
        .collect()
}

/// `on before_tool when call(T) and repeated_action(window = W, count = 2) { block ... }`:
/// the same call of `T` is not sent twice within `W` calls. `T` is a tool whose effect the
/// evidence shows repeated (the digester's repeated side effect), else any tool but the
/// finishing one.
fn send_once(h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let tools = repeatable_tools(h);
    let effects = Target {
        class: target.class,
        phrasing: target.phrasing,
        evidence: target
            .evidence
            .iter()
            .filter(|e| e.contains(REPEATED_EFFECT))
            .cloned()
            .collect(),
    };
    let named: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| effects.mentions(t))
        .collect();
    let pool = if named.is_empty() { tools } else { named };
    let tool = *rng.pick(&pool)?;
    let window = *rng.pick(&[6, 10, 20])?;
    let when = and(vec![
        call(tool),
        detector(
            "repeated_action",
            vec![named_arg("window", int(window)), named_arg("count", int(2))],
        ),
    ]);
    let guard = action(
        "block",
        vec![],
        Some(message(target.phrasing, FailureClass::Loop, rng)),
    );
    Some(node::rule("before_tool", None, Some(when), vec![guard]))
}

fn backoff(rng: &mut Rng) -> ValueKind {
    let ms = *rng.pick(&[100.0, 200.0, 500.0, 1000.0]).unwrap_or(&100.0);
    to_value(NumKind::Duration, ms)
}

fn retry_errors(_h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let retry = action(
        "retry",
        vec![
            named_arg("max", int(rng.between(1, 3))),
            named_arg("backoff", backoff(rng)),
        ],
        None,
    );
    let tell = action(
        "inject",
        vec![],
        Some(message(
            target.phrasing,
            FailureClass::ToolErrorIgnored,
            rng,
        )),
    );
    Some(node::rule(
        "after_tool",
        None,
        Some(detector("tool_error", vec![])),
        vec![with_fallback(retry, tell)],
    ))
}

fn retry_timeouts(_h: &Harness, _target: &Target, rng: &mut Rng) -> Option<Rule> {
    let retry = action(
        "retry",
        vec![
            named_arg("max", int(rng.between(1, 3))),
            named_arg("backoff", backoff(rng)),
        ],
        None,
    );
    Some(node::rule(
        "after_tool",
        None,
        Some(detector("tool_timeout", vec![])),
        vec![retry],
    ))
}

fn finish_soon(h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let max_steps = effective(h, "loop", "max_steps")?;
    let frac = *rng.pick(&[0.6, 0.7, 0.8])?;
    let n = (max_steps * frac).round().clamp(1.0, max_steps.max(1.0)) as i64;
    let when = compare("step", CmpOp::Ge, int(n));
    let hint = action(
        "inject",
        vec![],
        Some(message(target.phrasing, FailureClass::StepBudget, rng)),
    );
    Some(node::rule("step_start", None, Some(when), vec![hint]))
}

/// The tool that ends an episode, by name.
pub fn finish_tool(h: &Harness) -> Option<&str> {
    let names = node::tool_names(h);
    ["finish", "submit", "answer", "done"]
        .into_iter()
        .find(|n| names.contains(n))
        .or_else(|| {
            names
                .into_iter()
                .find(|n| n.contains("finish") || n.contains("submit"))
        })
}

fn has_verifying_tool(h: &Harness) -> bool {
    h.items.iter().any(|i| match i {
        Item::Tool(t) => t
            .options
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|f| f.name.name == "verifies" && f.value.kind == ValueKind::Bool(true)),
        _ => false,
    })
}

fn check_before_finish(h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let finish = finish_tool(h)?;
    // `verified` is never true without a tool marked `verifies = true`: blocking on it
    // would block every finish. Without one, only an early finish is blocked.
    let guard = if has_verifying_tool(h) {
        not(detector("verified", vec![]))
    } else {
        let max_steps = effective(h, "loop", "max_steps")?;
        let k = rng.between(3, ((max_steps / 4.0) as i64).max(3));
        compare("step", CmpOp::Lt, int(k))
    };
    let block = action(
        "block",
        vec![],
        Some(message(target.phrasing, FailureClass::PrematureFinish, rng)),
    );
    Some(node::rule(
        "before_tool",
        None,
        Some(and(vec![call(finish), guard])),
        vec![block],
    ))
}

fn compact_context(h: &Harness, _target: &Target, rng: &mut Rng) -> Option<Rule> {
    let budget = effective(h, "context", "budget")?;
    let frac = *rng.pick(&[0.6, 0.75, 0.9])?;
    let threshold = nice(NumKind::Tokens, (budget * frac).max(64.0));
    let when = compare(
        "context_tokens",
        CmpOp::Gt,
        to_value(NumKind::Tokens, threshold),
    );
    let args = if rng.chance(0.5) {
        vec![]
    } else {
        let s = rng.pick(schema::COMPACT_STRATEGIES).copied()?;
        vec![named_arg("strategy", ValueKind::Ident(s.into()))]
    };
    Some(node::rule(
        "step_start",
        None,
        Some(when),
        vec![action("compact", args, None)],
    ))
}

fn admissible_hint(_h: &Harness, target: &Target, rng: &mut Rng) -> Option<Rule> {
    let when = matches(
        "observation",
        "(?i)(nothing happens|not possible|invalid|unknown action|can't|cannot)",
    );
    let hint = action(
        "inject",
        vec![],
        Some(message(target.phrasing, FailureClass::WrongAction, rng)),
    );
    Some(node::rule("after_tool", None, Some(when), vec![hint]))
}
