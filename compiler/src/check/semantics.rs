//! Stage 3: what may appear where (conditions and actions per hook, `otherwise`),
//! relations between values, and the items every harness needs.

use harnessx_syntax::{Action, Arg, Cond, CondKind, Item, Rule, Section, ValueKind};

use super::codes;
use super::ctx::{for_each_atom, Ctx};
use super::evolve;
use super::value::{conform, Typed};
use crate::diagnostic::Diagnostic;
use crate::schema::{self, ArgSpec, Hook, HookExt, Lit, ProcessorKind, ProcessorKindExt};

pub fn run(ctx: &Ctx, require_items: bool, out: &mut Vec<Diagnostic>) {
    for item in &ctx.harness.items {
        evolve::item_annotations(item.annotations(), out);
        match item {
            Item::Section(s) => {
                if let Some(spec) = schema::section(&s.name.name) {
                    evolve::fields(&s.fields, spec.fields, out);
                    match spec.name {
                        "context" => duplicate_pins(s, out),
                        "loop" => reflect_every_without_reflect(s, out),
                        "model" => window_without_room(s, out),
                        _ => {}
                    }
                }
            }
            Item::Tool(t) => {
                if let Some(opts) = &t.options {
                    evolve::fields(opts, schema::TOOL_OPTIONS, out);
                }
            }
            Item::Rule(r) => rule(r, out),
            Item::Prompt(_) => {}
        }
    }
    if require_items {
        required_items(ctx, out);
    }
}

fn rule(r: &Rule, out: &mut Vec<Diagnostic>) {
    let Some(hook) = Hook::from_name(&r.hook.name) else {
        return;
    };
    if let Some(when) = &r.when {
        for_each_atom(when, &mut |atom| condition(hook, atom, out));
    }
    if r.actions.is_empty() {
        out.push(
            Diagnostic::warning(
                codes::EMPTY_RULE,
                "this rule has no actions",
                r.hook.span,
                "the rule does nothing",
            )
            .with_help("add an action between the braces, or remove the rule"),
        );
    }
    for a in &r.actions {
        action(hook, a, false, out);
        if r.when.is_none() {
            always_fires(hook, a, out);
        }
    }
}

fn condition(hook: Hook, atom: &Cond, out: &mut Vec<Diagnostic>) {
    let (name, span, hooks) = match &atom.kind {
        CondKind::Detector { name, args } => {
            let Some(spec) = schema::detector(&name.name) else {
                return;
            };
            if spec.name == "repeated_action" {
                count_within_window(atom, args, out);
            }
            (spec.name, name.span, spec.hooks)
        }
        CondKind::Compare { metric, .. } => match schema::metric(&metric.name) {
            Some(spec) => (spec.name, metric.span, spec.hooks),
            None => return,
        },
        CondKind::Matches { subject, .. } => match schema::subject(&subject.name) {
            Some(spec) => (spec.name, subject.span, spec.hooks),
            None => return,
        },
        CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) => return,
    };
    if !hooks.contains(hook) {
        let hook = hook.as_str();
        out.push(
            Diagnostic::error(
                codes::CONDITION_NOT_AVAILABLE,
                format!("`{name}` is not available on `{hook}`"),
                span,
                format!("not known at `{hook}`"),
            )
            .with_help(format!("`{name}` is available on {}", hooks.describe())),
        );
    }
}

/// `repeated_action(window = W, count = C)` needs C ≤ W (defaults fill the gaps).
fn count_within_window(atom: &Cond, args: &[Arg], out: &mut Vec<Diagnostic>) {
    let find = |spec: &ArgSpec| -> Option<(i64, Option<&Arg>)> {
        let arg = args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == spec.name));
        match arg {
            Some(a) => match conform(spec.ty, &a.value, spec.name) {
                Ok(Typed::Int(i)) => Some((i, Some(a))),
                _ => None,
            },
            None => match spec.default {
                Some(Lit::Int(i)) => Some((i, None)),
                _ => None,
            },
        }
    };
    let [window_spec, count_spec] = schema::REPEATED_ACTION_ARGS else {
        return;
    };
    let (Some((window, window_arg)), Some((count, count_arg))) =
        (find(window_spec), find(count_spec))
    else {
        return;
    };
    if count <= window {
        return;
    }
    let span = count_arg.map(|a| a.span).unwrap_or(atom.span);
    let label = match count_arg {
        Some(_) => format!("{count} repeats cannot fit in a window of {window}"),
        None => format!("the default count {count} does not fit in a window of {window}"),
    };
    let mut d = Diagnostic::error(
        codes::COUNT_EXCEEDS_WINDOW,
        "`repeated_action` can never fire: `count` is greater than `window`",
        span,
        label,
    )
    .with_help("make `count` at most `window`");
    if let Some(w) = window_arg.filter(|_| count_arg.is_some()) {
        d = d.with_secondary(w.span, "the window");
    }
    out.push(d);
}

fn action(hook: Hook, a: &Action, is_fallback: bool, out: &mut Vec<Diagnostic>) {
    let spec = schema::action(&a.name.name);
    if let Some(spec) = spec {
        let hook_name = hook.as_str();
        if hook.is_read_only() && spec.kind.changes_trajectory() {
            out.push(
                Diagnostic::error(
                    codes::READ_ONLY_HOOK,
                    format!(
                        "`{}` cannot run on `{hook_name}`, which is read-only",
                        spec.name
                    ),
                    a.name.span,
                    format!("{} action on a read-only hook", spec.kind.name()),
                )
                .with_help(format!(
                    "only `log` may run on `step_end` and `task_end`; `{}` is legal on {}",
                    spec.name,
                    spec.hooks.describe()
                )),
            );
        } else if !spec.hooks.contains(hook) {
            out.push(
                Diagnostic::error(
                    codes::ACTION_NOT_ALLOWED,
                    format!("`{}` is not allowed on `{hook_name}`", spec.name),
                    a.name.span,
                    format!("not legal on `{hook_name}`"),
                )
                .with_help(format!(
                    "`{}` is legal on {}",
                    spec.name,
                    spec.hooks.describe()
                )),
            );
        }
    }
    let Some(fallback) = &a.otherwise else {
        return;
    };
    if is_fallback {
        out.push(
            Diagnostic::error(
                codes::OTHERWISE_NOT_ALLOWED,
                "a fallback cannot have its own fallback",
                fallback.name.span,
                "second `otherwise`",
            )
            .with_secondary(a.name.span, "this is already a fallback")
            .with_help("keep one level of `otherwise`"),
        );
    } else if let Some(spec) = spec.filter(|s| !s.can_fail) {
        out.push(
            Diagnostic::error(
                codes::OTHERWISE_NOT_ALLOWED,
                format!(
                    "`{}` always takes effect, so its `otherwise` never runs",
                    spec.name
                ),
                fallback.name.span,
                "unreachable fallback",
            )
            .with_secondary(a.name.span, format!("`{}` cannot fail", spec.name))
            .with_help(format!(
                "only {} can fail; make the fallback a separate action",
                can_fail_list()
            )),
        );
    }
    action(hook, fallback, true, out);
}

fn can_fail_list() -> String {
    crate::suggest::list_and(
        schema::ACTIONS
            .iter()
            .filter(|a| a.can_fail)
            .map(|a| a.name),
    )
}

/// A `block` or `stop` in a rule without `when` acts on every event of its hook.
fn always_fires(hook: Hook, a: &Action, out: &mut Vec<Diagnostic>) {
    let Some(spec) = schema::action(&a.name.name) else {
        return;
    };
    if !spec.hooks.contains(hook) {
        return;
    }
    let hook = hook.as_str();
    let effect = match spec.kind {
        ProcessorKind::Intercept => format!("every `{hook}` event is blocked"),
        ProcessorKind::Interrupt => format!("the episode stops at the first `{hook}`"),
        _ => return,
    };
    out.push(
        Diagnostic::warning(
            codes::ALWAYS_FIRES,
            format!(
                "`{}` in a rule without `when` fires unconditionally",
                spec.name
            ),
            a.name.span,
            effect,
        )
        .with_help(format!(
            "add a condition: `on {hook} when ... {{ {} \"...\" }}`",
            spec.name
        )),
    );
}

fn duplicate_pins(s: &Section, out: &mut Vec<Diagnostic>) {
    let Some(spec) = schema::section("context").and_then(|c| c.field("pin")) else {
        return;
    };
    for f in s.fields.iter().filter(|f| f.name.name == "pin") {
        let Ok(Typed::Refs(refs)) = conform(spec.ty, &f.value, "`pin`") else {
            continue;
        };
        for (i, (name, span)) in refs.iter().enumerate() {
            if let Some((_, first)) = refs[..i].iter().find(|(n, _)| n == name) {
                out.push(
                    Diagnostic::warning(
                        codes::DUPLICATE_PIN,
                        format!("`{name}` is pinned twice"),
                        *span,
                        "pinned again",
                    )
                    .with_secondary(*first, "first pinned here")
                    .with_help("remove the repeated reference"),
                );
            }
        }
    }
}

/// `context_window` must leave room for a prompt once the reply's `max_tokens` (and the 5%
/// the runtime keeps for its token estimate, `ModelIr::prompt_limit` in the runtime)
/// are set aside; a window at most that size would leave every prompt empty.
fn window_without_room(s: &Section, out: &mut Vec<Diagnostic>) {
    let Some(window) = s.fields.iter().find(|f| f.name.name == "context_window") else {
        return;
    };
    let ValueKind::Tokens(w) = window.value.kind else {
        return;
    };
    let max_tokens = s.fields.iter().find(|f| f.name.name == "max_tokens");
    let reply = match max_tokens.map(|f| &f.value.kind) {
        Some(ValueKind::Int(n)) => u64::try_from(*n).unwrap_or(0),
        Some(_) => return,
        None => match schema::MODEL_FIELDS.iter().find(|f| f.name == "max_tokens") {
            Some(schema::FieldSpec {
                default: Some(Lit::Int(n)),
                ..
            }) => u64::try_from(*n).unwrap_or(0),
            _ => return,
        },
    };
    // Less than 64 tokens of prompt is no room at all for a system prompt and a step.
    if (w - w / 20).saturating_sub(reply) >= 64 {
        return;
    }
    let mut d = Diagnostic::error(
        codes::NO_ROOM_FOR_PROMPT,
        format!(
            "a context window of {w} tokens leaves no room for a prompt after replies of up to {reply} tokens"
        ),
        window.value.span,
        "too small for `max_tokens`",
    )
    .with_help("declare the model's real context window, or lower `max_tokens`");
    if let Some(m) = max_tokens {
        d = d.with_secondary(m.value.span, format!("replies of up to {reply} tokens"));
    }
    out.push(d);
}

/// `reflect_every` only matters with `strategy = reflect`.
fn reflect_every_without_reflect(s: &Section, out: &mut Vec<Diagnostic>) {
    let Some(field) = s.fields.iter().find(|f| f.name.name == "reflect_every") else {
        return;
    };
    let strategy = s.fields.iter().find(|f| f.name.name == "strategy");
    let current = match strategy.map(|f| &f.value.kind) {
        Some(ValueKind::Ident(v)) => v.as_str(),
        Some(_) => return,
        None => "react",
    };
    if current == "reflect" || !schema::STRATEGIES.contains(&current) {
        return;
    }
    let mut d = Diagnostic::warning(
        codes::NO_EFFECT,
        "`reflect_every` has no effect unless `strategy = reflect`",
        field.name.span,
        "ignored",
    )
    .with_help("set `strategy = reflect`, or remove `reflect_every`");
    if let Some(st) = strategy {
        d = d.with_secondary(st.value.span, format!("the strategy is `{current}`"));
    }
    out.push(d);
}

fn required_items(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let h = ctx.harness;
    if !ctx.has_prompt(schema::SYSTEM_PROMPT) {
        out.push(
            Diagnostic::error(
                codes::MISSING_SYSTEM_PROMPT,
                format!("the harness `{}` has no system prompt", h.name.name),
                h.name.span,
                "no `prompt system` in this harness",
            )
            .with_help("add `prompt system \"You are an agent. Your goal: {{task.goal}}\"`"),
        );
    }
    if ctx.tools.is_empty() {
        out.push(
            Diagnostic::error(
                codes::MISSING_TOOLS,
                format!("the harness `{}` declares no tools", h.name.name),
                h.name.span,
                "no `tool` in this harness",
            )
            .with_help(
                "declare the actions the agent can take, like `tool finish(answer: string?)`",
            ),
        );
    }
}
