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
use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ir::{compaction, hook as hook_path, metric, repair, subject, var};
use super::lit;
use super::names::{ident, Names};

pub fn tokens(ir: &HarnessIr, values: &mut Names) -> TokenStream {
    // `matches` patterns, each compiled once per process, deduplicated by text.
    let mut patterns: Vec<(String, Ident)> = Vec::new();
    let mut pattern_of = |p: &str, values: &mut Names| -> Ident {
        if let Some((_, id)) = patterns.iter().find(|(q, _)| q == p) {
            return id.clone();
        }
        let id = ident(&values.alloc(&format!("pattern_{}", patterns.len())));
        patterns.push((p.to_string(), id.clone()));
        id
    };

    let mut when_fns = Vec::new();
    let mut when_names: Vec<Option<Ident>> = Vec::new();
    for (i, rule) in ir.rules.iter().enumerate() {
        match &rule.when {
            None => when_names.push(None),
            Some(c) => {
                let body = cond(c, &mut |p| pattern_of(p, values));
                let name = ident(&values.alloc(&format!("rule_{i}_when")));
                let doc = format!(
                    " The condition of rule {i} (`on {}`{}).",
                    rule.hook.as_str(),
                    rule.name
                        .as_deref()
                        .map(|n| format!(" as `{}`", super::names::doc_safe(n)))
                        .unwrap_or_default()
                );
                when_fns.push(quote! {
                    #[doc = #doc]
                    pub fn #name(s: &rt::state::EpisodeState) -> bool {
                        #body
                    }
                });
                when_names.push(Some(name));
            }
        }
    }

    let pattern_fns = patterns.iter().map(|(p, id)| {
        let p = lit::str(p);
        quote! {
            fn #id() -> Option<&'static regex::Regex> {
                static PATTERN: std::sync::OnceLock<Option<regex::Regex>> =
                    std::sync::OnceLock::new();
                PATTERN
                    .get_or_init(|| rt::detect::compile_pattern(#p))
                    .as_ref()
            }
        }
    });

    let mut hook_fns = Vec::new();
    let mut fire_arms = Vec::new();
    for h in Hook::ALL {
        let indices: Vec<usize> = (0..ir.rules.len())
            .filter(|&i| ir.rules[i].hook == h)
            .collect();
        if indices.is_empty() {
            continue;
        }
        let fn_name = ident(&values.alloc(&format!("on_{}", h.as_str())));
        let bodies = indices.iter().map(|&i| {
            let rule = &ir.rules[i];
            let index = lit::usize(i);
            let name = lit::option(&rule.name, |n| {
                let n = lit::str(n);
                quote!(#n)
            });
            let actions = rule.actions.iter().map(action);
            let run = match &when_names[i] {
                Some(w) => quote! {
                    if #w(ctx.state()) {
                        #(#actions)*
                    }
                },
                None => quote!(#(#actions)*),
            };
            quote! {
                if !ctx.begin_rule(#index, #name) {
                    return;
                }
                #run
            }
        });
        let doc = format!(" The rules on `{}`, in declaration order.", h.as_str());
        hook_fns.push(quote! {
            #[doc = #doc]
            pub fn #fn_name(ctx: &mut rt::hooks::HookCtx<'_, '_>) {
                #(#bodies)*
            }
        });
        let path = hook_path(h);
        fire_arms.push(quote!(#path => #fn_name(ctx),));
    }
    let fire = if fire_arms.is_empty() {
        quote! {
            fn fire(&self, _hook: rt::ir::Hook, _ctx: &mut rt::hooks::HookCtx<'_, '_>) {}
        }
    } else {
        let rest = if fire_arms.len() < Hook::ALL.len() {
            quote!(_ => {})
        } else {
            quote!()
        };
        quote! {
            fn fire(&self, hook: rt::ir::Hook, ctx: &mut rt::hooks::HookCtx<'_, '_>) {
                match hook {
                    #(#fire_arms)*
                    #rest
                }
            }
        }
    };

    quote! {
        #(#pattern_fns)*

        #(#when_fns)*

        #(#hook_fns)*

        /// The harness's rules, compiled; run them with `harnessx_runtime::run_with_rules`.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Rules;

        impl rt::rules::RuleSet for Rules {
            #fire
        }
    }
}

/// A condition as a boolean expression. Parentheses go only where they are needed or
/// help reading (an `and`/`or` inside another, the operand of `!` unless it is a call), so
/// the output has none that rustc would flag as unused.
fn cond(c: &CondIr, pattern: &mut dyn FnMut(&str) -> Ident) -> TokenStream {
    match c {
        CondIr::And(cs) if cs.is_empty() => quote!(true),
        CondIr::Or(cs) if cs.is_empty() => quote!(false),
        CondIr::And(cs) => {
            let cs: Vec<TokenStream> = cs.iter().map(|c| operand(c, pattern)).collect();
            quote!(#(#cs)&&*)
        }
        CondIr::Or(cs) => {
            let cs: Vec<TokenStream> = cs.iter().map(|c| operand(c, pattern)).collect();
            quote!(#(#cs)||*)
        }
        CondIr::Not(inner) => {
            let tokens = operand(inner, pattern);
            match &**inner {
                CondIr::Compare { .. } => quote!(!(#tokens)),
                _ => quote!(!#tokens),
            }
        }
        CondIr::MalformedCall => quote!(rt::detect::malformed_call(s)),
        CondIr::RepeatedAction { window, count } => {
            let (w, n) = (lit::u32(*window), lit::u32(*count));
            quote!(rt::detect::repeated_action(s, #w, #n))
        }
        CondIr::ToolError => quote!(rt::detect::tool_error(s)),
        CondIr::ToolTimeout => quote!(rt::detect::tool_timeout(s)),
        CondIr::Call(tool) => {
            let tool = lit::str(tool);
            quote!(rt::detect::call(s, #tool))
        }
        CondIr::Verified => quote!(rt::detect::verified(s)),
        CondIr::Compare {
            metric: m,
            op,
            value,
        } => {
            let m = metric(*m);
            let value = lit::i64(*value);
            let op = match op {
                CmpOp::Lt => quote!(<),
                CmpOp::Le => quote!(<=),
                CmpOp::Gt => quote!(>),
                CmpOp::Ge => quote!(>=),
                CmpOp::Eq => quote!(==),
                CmpOp::Ne => quote!(!=),
            };
            quote!(rt::detect::metric(s, #m) #op #value)
        }
        CondIr::Matches {
            subject: sub,
            pattern: p,
        } => {
            let f = pattern(p);
            let sub = subject(*sub);
            // An invalid pattern makes the condition false, as in the interpreter.
            quote!(#f().is_some_and(|re| rt::detect::matches(s, #sub, re)))
        }
    }
}

/// A condition used as an operand of `and`, `or` or `not`.
fn operand(c: &CondIr, pattern: &mut dyn FnMut(&str) -> Ident) -> TokenStream {
    let inner = cond(c, pattern);
    match c {
        CondIr::And(cs) | CondIr::Or(cs) if !cs.is_empty() => quote!((#inner)),
        _ => inner,
    }
}

/// One action and its fallback chain, as statements.
fn action(a: &ActionIr) -> TokenStream {
    let (setup, call) = action_call(&a.kind);
    let stmt = match &a.fallback {
        None => quote!(#call;),
        Some(f) => {
            let f = action(f);
            quote! {
                if !#call {
                    #f
                }
            }
        }
    };
    if setup.is_empty() {
        stmt
    } else {
        // A block keeps each action's `message` buffer to itself.
        quote! {{
            #setup
            #stmt
        }}
    }
}

/// Statements that prepare the action's message (if it has variables), and the call
/// expression, which returns whether the action took effect.
fn action_call(k: &ActionKind) -> (TokenStream, TokenStream) {
    let with_message = |method: TokenStream, t: &[Segment], extra: TokenStream| {
        let (setup, msg) = message(t);
        (setup, quote!(ctx.#method(#msg #extra)))
    };
    match k {
        ActionKind::Log(t) => with_message(quote!(log), t, quote!()),
        ActionKind::Inject(t) => with_message(quote!(inject), t, quote!()),
        ActionKind::Block(t) => with_message(quote!(block), t, quote!()),
        ActionKind::Stop(t) => with_message(quote!(stop), t, quote!()),
        ActionKind::Reprompt { message: t, max } => {
            let max = lit::u32(*max);
            with_message(quote!(reprompt), t, quote!(, #max))
        }
        ActionKind::Compact(s) => {
            let s = lit::option(s, |c| compaction(*c));
            (quote!(), quote!(ctx.compact(#s)))
        }
        ActionKind::Repair(s) => {
            let s = repair(*s);
            (quote!(), quote!(ctx.repair(#s)))
        }
        ActionKind::Retry { max, backoff_ms } => {
            let (max, b) = (lit::u32(*max), lit::u64(*backoff_ms));
            (quote!(), quote!(ctx.retry(#max, #b)))
        }
    }
}

/// A message: a literal when the template is plain text, else a `message` buffer built
/// from the text and `ctx.var(..)`, exactly as `HookCtx::render` would build it.
fn message(t: &[Segment]) -> (TokenStream, TokenStream) {
    match t {
        [] => (quote!(), quote!("")),
        [Segment::Text(s)] => {
            let s = lit::str(s);
            (quote!(), quote!(#s))
        }
        segs => {
            let pushes = segs.iter().map(|seg| match seg {
                Segment::Text(s) => {
                    let s = lit::str(s);
                    quote!(message.push_str(#s);)
                }
                Segment::Var(v) => {
                    let v = var(*v);
                    quote!(message.push_str(&ctx.var(#v));)
                }
            });
            (
                quote! {
                    let mut message = String::new();
                    #(#pushes)*
                },
                quote!(&message),
            )
        }
    }
}
