//! Rules: each `when` becomes a `rule_<i>_when` function over the episode state, each hook
//! with rules a dispatch function `on_<hook>`, and a unit struct `Rules` implements the
//! runtime's [`RuleSet`](harnessx_runtime::rules::RuleSet) by calling them.
//!
//! The generated code follows the `RuleSet` contract exactly as the interpreter
//! (`harnessx_runtime::rules::InterpretedRules`) does — rules of a hook in declaration
//! order, `begin_rule` with the rule's index among all rules before evaluating it (and an
//! early return when it says the episode was interrupted), conditions through the same
//! `detect` functions, actions through the same `HookCtx` methods, and a fallback exactly
//! when its action returned false — so a compiled and an interpreted run make the same
//! calls in the same order and write identical traces.

use harnessx_runtime::ir::{ActionIr, ActionKind, CmpOp, CondIr, HarnessIr, Hook, Segment};

use super::emit::{Expr, Src};
use super::ir::{compaction, hook as hook_path, metric, repair, subject, var};
use super::lit;
use super::names::{doc_safe, Names};

pub fn write(ir: &HarnessIr, values: &mut Names, out: &mut Src) {
    // `matches` patterns, each compiled once per process, deduplicated by text.
    let mut patterns: Vec<(String, String)> = Vec::new();
    let mut pattern_of = |p: &str, values: &mut Names| -> String {
        if let Some((_, id)) = patterns.iter().find(|(q, _)| q == p) {
            return id.clone();
        }
        let id = values.alloc(&format!("pattern_{}", patterns.len()));
        patterns.push((p.to_string(), id.clone()));
        id
    };

    // (name, doc, body) of each `when` function; written after the pattern functions.
    let mut when_fns: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut when_names: Vec<Option<String>> = Vec::new();
    for (i, rule) in ir.rules.iter().enumerate() {
        match &rule.when {
            None => when_names.push(None),
            Some(c) => {
                let body = cond_lines(c, &mut |p| pattern_of(p, values));
                let name = values.alloc(&format!("rule_{i}_when"));
                let doc = format!(
                    " The condition of rule {i} (`on {}`{}).",
                    rule.hook.as_str(),
                    rule.name
                        .as_deref()
                        .map(|n| format!(" as `{}`", doc_safe(n)))
                        .unwrap_or_default()
                );
                when_fns.push((name.clone(), doc, body));
                when_names.push(Some(name));
            }
        }
    }

    for (p, id) in &patterns {
        out.open(&format!("fn {id}() -> Option<&'static regex::Regex> {{"));
        out.line("static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();");
        out.line("PATTERN");
        out.indent();
        out.expr(
            ".get_or_init(|| ",
            &Expr::call("rt::detect::compile_pattern", vec![Expr::atom(lit::str(p))]),
            ")",
        );
        out.line(".as_ref()");
        out.dedent();
        out.close("}");
    }

    for (name, doc, body) in &when_fns {
        out.doc(doc);
        out.open(&format!(
            "pub fn {name}(s: &rt::state::EpisodeState) -> bool {{"
        ));
        for l in body {
            out.line(l);
        }
        out.close("}");
    }

    let mut fire_arms = Vec::new();
    for h in Hook::ALL {
        let indices: Vec<usize> = (0..ir.rules.len())
            .filter(|&i| ir.rules[i].hook == h)
            .collect();
        if indices.is_empty() {
            continue;
        }
        let fn_name = values.alloc(&format!("on_{}", h.as_str()));
        out.doc(&format!(
            " The rules on `{}`, in declaration order.",
            h.as_str()
        ));
        out.open(&format!(
            "pub fn {fn_name}(ctx: &mut rt::hooks::HookCtx<'_, '_>) {{"
        ));
        for &i in &indices {
            let rule = &ir.rules[i];
            let name = lit::option(&rule.name, |n| lit::str(n));
            out.open(&format!("if !ctx.begin_rule({}, {name}) {{", lit::usize(i)));
            out.line("return;");
            out.close("}");
            match &when_names[i] {
                Some(w) => {
                    out.open(&format!("if {w}(ctx.state()) {{"));
                    for a in &rule.actions {
                        action(a, out);
                    }
                    out.close("}");
                }
                None => {
                    for a in &rule.actions {
                        action(a, out);
                    }
                }
            }
        }
        out.close("}");
        fire_arms.push(format!("{} => {fn_name}(ctx),", hook_path(h)));
    }

    out.doc(" The harness's rules, compiled; run them with `harnessx_runtime::run_with_rules`.");
    out.line("#[derive(Debug, Clone, Copy, Default)]");
    out.line("pub struct Rules;");
    out.open("impl rt::rules::RuleSet for Rules {");
    if fire_arms.is_empty() {
        out.line("fn fire(&self, _hook: rt::ir::Hook, _ctx: &mut rt::hooks::HookCtx<'_, '_>) {}");
    } else {
        out.open("fn fire(&self, hook: rt::ir::Hook, ctx: &mut rt::hooks::HookCtx<'_, '_>) {");
        out.open("match hook {");
        for arm in &fire_arms {
            out.line(arm);
        }
        if fire_arms.len() < Hook::ALL.len() {
            out.line("_ => {}");
        }
        out.close("}");
        out.close("}");
    }
    out.close("}");
}

/// A condition as the lines of a boolean expression: one line when it fits, else a
/// top-level `&&`/`||` chain with one operand per line.
fn cond_lines(c: &CondIr, pattern: &mut dyn FnMut(&str) -> String) -> Vec<String> {
    let flat = cond(c, pattern);
    // The body sits one level in; leave room for it.
    if flat.len() <= 96 {
        return vec![flat];
    }
    let (cs, op) = match c {
        CondIr::And(cs) if cs.len() > 1 => (cs, "&&"),
        CondIr::Or(cs) if cs.len() > 1 => (cs, "||"),
        _ => return vec![flat],
    };
    cs.iter()
        .enumerate()
        .map(|(i, c)| {
            let operand = operand(c, pattern);
            if i == 0 {
                operand
            } else {
                format!("    {op} {operand}")
            }
        })
        .collect()
}

/// A condition as a boolean expression. Parentheses go only where they are needed or
/// help reading (an `and`/`or` inside another, the operand of `!` unless it is a call), so
/// the output has none that rustc would flag as unused.
fn cond(c: &CondIr, pattern: &mut dyn FnMut(&str) -> String) -> String {
    match c {
        CondIr::And(cs) if cs.is_empty() => "true".into(),
        CondIr::Or(cs) if cs.is_empty() => "false".into(),
        CondIr::And(cs) => join(cs, " && ", pattern),
        CondIr::Or(cs) => join(cs, " || ", pattern),
        CondIr::Not(inner) => {
            let s = operand(inner, pattern);
            match &**inner {
                CondIr::Compare { .. } => format!("!({s})"),
                _ => format!("!{s}"),
            }
        }
        CondIr::MalformedCall => "rt::detect::malformed_call(s)".into(),
        CondIr::RepeatedAction { window, count } => format!(
            "rt::detect::repeated_action(s, {}, {})",
            lit::u32(*window),
            lit::u32(*count)
        ),
        CondIr::ToolError => "rt::detect::tool_error(s)".into(),
        CondIr::ToolTimeout => "rt::detect::tool_timeout(s)".into(),
        CondIr::Call(tool) => format!("rt::detect::call(s, {})", lit::str(tool)),
        CondIr::Verified => "rt::detect::verified(s)".into(),
        CondIr::Compare {
            metric: m,
            op,
            value,
        } => {
            let op = match op {
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
                CmpOp::Eq => "==",
                CmpOp::Ne => "!=",
            };
            format!(
                "rt::detect::metric(s, {}) {op} {}",
                metric(*m),
                lit::i64(*value)
            )
        }
        CondIr::Matches {
            subject: sub,
            pattern: p,
        } => {
            // An invalid pattern makes the condition false, as in the interpreter.
            format!(
                "{}().is_some_and(|re| rt::detect::matches(s, {}, re))",
                pattern(p),
                subject(*sub)
            )
        }
    }
}

fn join(cs: &[CondIr], op: &str, pattern: &mut dyn FnMut(&str) -> String) -> String {
    let parts: Vec<String> = cs.iter().map(|c| operand(c, pattern)).collect();
    parts.join(op)
}

/// A condition used as an operand of `and`, `or` or `not`.
fn operand(c: &CondIr, pattern: &mut dyn FnMut(&str) -> String) -> String {
    let inner = cond(c, pattern);
    match c {
        CondIr::And(cs) | CondIr::Or(cs) if !cs.is_empty() => format!("({inner})"),
        _ => inner,
    }
}

/// One action and its fallback chain, as statements.
fn action(a: &ActionIr, out: &mut Src) {
    let (setup, call) = action_call(&a.kind);
    if !setup.is_empty() {
        // A block keeps each action's `message` buffer to itself.
        out.open("{");
        for l in &setup {
            match l {
                Line::Text(t) => out.line(t),
                Line::Expr(e) => out.expr("", e, ";"),
            }
        }
    }
    match &a.fallback {
        None => out.expr("", &call, ";"),
        Some(f) => {
            out.expr_open("if !", &call, " {");
            action(f, out);
            out.close("}");
        }
    }
    if !setup.is_empty() {
        out.close("}");
    }
}

/// A statement of an action's setup.
enum Line {
    Text(String),
    Expr(Expr),
}

/// Statements that prepare the action's message (if it has variables), and the call
/// expression, which returns whether the action took effect.
fn action_call(k: &ActionKind) -> (Vec<Line>, Expr) {
    let with_message = |method: &str, t: &[Segment], extra: Option<String>| {
        let (setup, msg) = message(t);
        let mut args = vec![Expr::atom(msg)];
        args.extend(extra.map(Expr::atom));
        (setup, Expr::call(format!("ctx.{method}"), args))
    };
    match k {
        ActionKind::Log(t) => with_message("log", t, None),
        ActionKind::Inject(t) => with_message("inject", t, None),
        ActionKind::Block(t) => with_message("block", t, None),
        ActionKind::Stop(t) => with_message("stop", t, None),
        ActionKind::Reprompt { message: t, max } => {
            with_message("reprompt", t, Some(lit::u32(*max)))
        }
        ActionKind::Compact(s) => {
            let s = lit::option(s, |c| compaction(*c).to_string());
            (Vec::new(), Expr::call("ctx.compact", vec![Expr::atom(s)]))
        }
        ActionKind::Repair(s) => (
            Vec::new(),
            Expr::call("ctx.repair", vec![Expr::atom(repair(*s))]),
        ),
        ActionKind::Retry { max, backoff_ms } => (
            Vec::new(),
            Expr::call(
                "ctx.retry",
                vec![
                    Expr::atom(lit::u32(*max)),
                    Expr::atom(lit::u64(*backoff_ms)),
                ],
            ),
        ),
    }
}

/// A message: a literal when the template is plain text, else a `message` buffer built
/// from the text and `ctx.var(..)`, exactly as `HookCtx::render` would build it.
fn message(t: &[Segment]) -> (Vec<Line>, String) {
    match t {
        [] => (Vec::new(), "\"\"".into()),
        [Segment::Text(s)] => (Vec::new(), lit::str(s)),
        segs => {
            let mut setup = vec![Line::Text("let mut message = String::new();".into())];
            for seg in segs {
                setup.push(match seg {
                    Segment::Text(s) => Line::Expr(Expr::call(
                        "message.push_str",
                        vec![Expr::atom(lit::str(s))],
                    )),
                    Segment::Var(v) => {
                        Line::Text(format!("message.push_str(&ctx.var({}));", var(*v)))
                    }
                });
            }
            (setup, "&message".into())
        }
    }
}
