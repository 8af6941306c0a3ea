//! `pub fn ir() -> HarnessIr`: the harness's IR rebuilt natively from struct literals, so
//! a compiled harness needs no JSON at run time. Its `hash()` equals `HARNESS_HASH` (the
//! generated crate's `selftest` checks this), which is what proves the two agree.
//!
//! Every IR enum is matched exhaustively here: a variant added to the runtime's IR fails to
//! compile the generator instead of silently generating the wrong thing.

use harnessx_runtime::ir::{
    ActionIr, ActionKind, CmpOp, Compaction, CondIr, Decoding, HarnessIr, Hook, Metric, PinRef,
    RepairStrategy, Segment, Strategy, Subject, TypeIr, Var,
};
use proc_macro2::TokenStream;
use quote::quote;

use super::lit;

pub fn ir_fn(ir: &HarnessIr) -> TokenStream {
    let name = lit::string(&ir.name);
    let description = lit::string(&ir.description);
    let m = &ir.model;
    let backend = lit::string(&m.backend);
    let temperature = lit::f64(m.temperature);
    let max_tokens = lit::u32(m.max_tokens);
    let top_p = lit::option(&m.top_p, |x| lit::f64(*x));
    let decoding = decoding(m.decoding);
    let api_key_env = lit::option(&m.api_key_env, |s| lit::string(s));
    let seed = lit::option(&m.seed, |n| {
        let l = lit::u64(*n);
        quote!(#l)
    });
    let timeout_ms = lit::option(&m.timeout_ms, |n| {
        let l = lit::u64(*n);
        quote!(#l)
    });
    let prompts = seq(ir.prompts.iter().map(|p| {
        let name = lit::string(&p.name);
        let template = template(&p.template);
        quote!(rt::ir::PromptIr { name: #name, template: #template })
    }));
    let tools = seq(ir.tools.iter().map(|t| {
        let name = lit::string(&t.name);
        let description = lit::string(&t.description);
        let params = seq(t.params.iter().map(|p| {
            let name = lit::string(&p.name);
            let ty = type_ir(&p.ty);
            quote!(rt::ir::ParamIr { name: #name, ty: #ty })
        }));
        let timeout_ms = lit::option(&t.timeout_ms, |n| {
            let l = lit::u64(*n);
            quote!(#l)
        });
        let retries = lit::u32(t.retries);
        let verifies = t.verifies;
        quote! {
            rt::ir::ToolIr {
                name: #name,
                description: #description,
                params: #params,
                timeout_ms: #timeout_ms,
                retries: #retries,
                verifies: #verifies,
            }
        }
    }));
    let l = &ir.loop_;
    let max_steps = lit::u32(l.max_steps);
    let strategy = strategy(l.strategy);
    let reflect_every = lit::option(&l.reflect_every, |n| {
        let l = lit::u32(*n);
        quote!(#l)
    });
    let c = &ir.context;
    let budget = lit::u64(c.budget_tokens);
    let compaction_ = compaction(c.compaction);
    let pins = seq(c.pin.iter().map(|p| match p {
        PinRef::Prompt(n) => {
            let n = lit::string(n);
            quote!(rt::ir::PinRef::Prompt(#n))
        }
        PinRef::TaskGoal => quote!(rt::ir::PinRef::TaskGoal),
        PinRef::Tools => quote!(rt::ir::PinRef::Tools),
        PinRef::AdmissibleActions => quote!(rt::ir::PinRef::AdmissibleActions),
    }));
    let keep_last = lit::u32(c.keep_last);
    let rules = seq(ir.rules.iter().map(|r| {
        let name = lit::option(&r.name, |s| lit::string(s));
        let hook = hook(r.hook);
        let when = lit::option(&r.when, cond);
        let actions = seq(r.actions.iter().map(action));
        quote! {
            rt::ir::RuleIr {
                name: #name,
                hook: #hook,
                when: #when,
                actions: #actions,
            }
        }
    }));
    quote! {
        /// The harness's IR, built natively; `ir().hash() == HARNESS_HASH`.
        pub fn ir() -> rt::ir::HarnessIr {
            rt::ir::HarnessIr {
                name: #name,
                description: #description,
                model: rt::ir::ModelIr {
                    backend: #backend,
                    temperature: #temperature,
                    max_tokens: #max_tokens,
                    top_p: #top_p,
                    decoding: #decoding,
                    api_key_env: #api_key_env,
                    seed: #seed,
                    timeout_ms: #timeout_ms,
                },
                prompts: #prompts,
                tools: #tools,
                loop_: rt::ir::LoopIr {
                    max_steps: #max_steps,
                    strategy: #strategy,
                    reflect_every: #reflect_every,
                },
                context: rt::ir::ContextIr {
                    budget_tokens: #budget,
                    compaction: #compaction_,
                    pin: #pins,
                    keep_last: #keep_last,
                },
                rules: #rules,
            }
        }
    }
}

/// A `Vec` of the given expressions: `Vec::new()` or `Vec::from([..])`. An array
/// expression, unlike the `vec!` macro, is laid out by prettyplease.
pub fn seq<T: quote::ToTokens>(items: impl IntoIterator<Item = T>) -> TokenStream {
    let items: Vec<T> = items.into_iter().collect();
    if items.is_empty() {
        quote!(Vec::new())
    } else {
        quote!(Vec::from([#(#items),*]))
    }
}

pub fn template(t: &[Segment]) -> TokenStream {
    let segs = seq(t.iter().map(|s| match s {
        Segment::Text(text) => {
            let text = lit::string(text);
            quote!(rt::ir::Segment::Text(#text))
        }
        Segment::Var(v) => {
            let v = var(*v);
            quote!(rt::ir::Segment::Var(#v))
        }
    }));
    quote!(#segs)
}

fn type_ir(t: &TypeIr) -> TokenStream {
    match t {
        TypeIr::String => quote!(rt::ir::TypeIr::String),
        TypeIr::Int => quote!(rt::ir::TypeIr::Int),
        TypeIr::Float => quote!(rt::ir::TypeIr::Float),
        TypeIr::Bool => quote!(rt::ir::TypeIr::Bool),
        TypeIr::Duration => quote!(rt::ir::TypeIr::Duration),
        TypeIr::Tokens => quote!(rt::ir::TypeIr::Tokens),
        TypeIr::Enum(vs) => {
            let vs = seq(vs.iter().map(|v| lit::string(v)));
            quote!(rt::ir::TypeIr::Enum(#vs))
        }
        TypeIr::List(inner) => {
            let inner = type_ir(inner);
            quote!(rt::ir::TypeIr::List(Box::new(#inner)))
        }
        TypeIr::Optional(inner) => {
            let inner = type_ir(inner);
            quote!(rt::ir::TypeIr::Optional(Box::new(#inner)))
        }
    }
}

pub fn cond(c: &CondIr) -> TokenStream {
    match c {
        CondIr::And(cs) => {
            let cs = seq(cs.iter().map(cond));
            quote!(rt::ir::CondIr::And(#cs))
        }
        CondIr::Or(cs) => {
            let cs = seq(cs.iter().map(cond));
            quote!(rt::ir::CondIr::Or(#cs))
        }
        CondIr::Not(inner) => {
            let inner = cond(inner);
            quote!(rt::ir::CondIr::Not(Box::new(#inner)))
        }
        CondIr::MalformedCall => quote!(rt::ir::CondIr::MalformedCall),
        CondIr::RepeatedAction { window, count } => {
            let (w, n) = (lit::u32(*window), lit::u32(*count));
            quote!(rt::ir::CondIr::RepeatedAction { window: #w, count: #n })
        }
        CondIr::ToolError => quote!(rt::ir::CondIr::ToolError),
        CondIr::ToolTimeout => quote!(rt::ir::CondIr::ToolTimeout),
        CondIr::Call(tool) => {
            let tool = lit::string(tool);
            quote!(rt::ir::CondIr::Call(#tool))
        }
        CondIr::Verified => quote!(rt::ir::CondIr::Verified),
        CondIr::Compare {
            metric: m,
            op,
            value,
        } => {
            let (m, op, value) = (metric(*m), cmp_op(*op), lit::i64(*value));
            quote!(rt::ir::CondIr::Compare { metric: #m, op: #op, value: #value })
        }
        CondIr::Matches {
            subject: s,
            pattern,
        } => {
            let (s, pattern) = (subject(*s), lit::string(pattern));
            quote!(rt::ir::CondIr::Matches { subject: #s, pattern: #pattern })
        }
    }
}

fn action(a: &ActionIr) -> TokenStream {
    let kind = match &a.kind {
        ActionKind::Log(t) => {
            let t = template(t);
            quote!(rt::ir::ActionKind::Log(#t))
        }
        ActionKind::Inject(t) => {
            let t = template(t);
            quote!(rt::ir::ActionKind::Inject(#t))
        }
        ActionKind::Compact(s) => {
            let s = lit::option(s, |c| compaction(*c));
            quote!(rt::ir::ActionKind::Compact(#s))
        }
        ActionKind::Repair(s) => {
            let s = repair(*s);
            quote!(rt::ir::ActionKind::Repair(#s))
        }
        ActionKind::Reprompt { message, max } => {
            let (t, max) = (template(message), lit::u32(*max));
            quote!(rt::ir::ActionKind::Reprompt { message: #t, max: #max })
        }
        ActionKind::Retry { max, backoff_ms } => {
            let (max, b) = (lit::u32(*max), lit::u64(*backoff_ms));
            quote!(rt::ir::ActionKind::Retry { max: #max, backoff_ms: #b })
        }
        ActionKind::Block(t) => {
            let t = template(t);
            quote!(rt::ir::ActionKind::Block(#t))
        }
        ActionKind::Stop(t) => {
            let t = template(t);
            quote!(rt::ir::ActionKind::Stop(#t))
        }
    };
    let fallback = lit::option(&a.fallback, |f| {
        let f = action(f);
        quote!(Box::new(#f))
    });
    quote!(rt::ir::ActionIr { kind: #kind, fallback: #fallback })
}

pub fn var(v: Var) -> TokenStream {
    match v {
        Var::TaskGoal => quote!(rt::ir::Var::TaskGoal),
        Var::TaskId => quote!(rt::ir::Var::TaskId),
        Var::Step => quote!(rt::ir::Var::Step),
        Var::MaxSteps => quote!(rt::ir::Var::MaxSteps),
        Var::Tools => quote!(rt::ir::Var::Tools),
        Var::AdmissibleActions => quote!(rt::ir::Var::AdmissibleActions),
        Var::Observation => quote!(rt::ir::Var::Observation),
        Var::History => quote!(rt::ir::Var::History),
    }
}

pub fn hook(h: Hook) -> TokenStream {
    match h {
        Hook::TaskStart => quote!(rt::ir::Hook::TaskStart),
        Hook::StepStart => quote!(rt::ir::Hook::StepStart),
        Hook::BeforeModel => quote!(rt::ir::Hook::BeforeModel),
        Hook::AfterModel => quote!(rt::ir::Hook::AfterModel),
        Hook::BeforeTool => quote!(rt::ir::Hook::BeforeTool),
        Hook::AfterTool => quote!(rt::ir::Hook::AfterTool),
        Hook::StepEnd => quote!(rt::ir::Hook::StepEnd),
        Hook::TaskEnd => quote!(rt::ir::Hook::TaskEnd),
    }
}

fn decoding(d: Decoding) -> TokenStream {
    match d {
        Decoding::Free => quote!(rt::ir::Decoding::Free),
        Decoding::Constrained => quote!(rt::ir::Decoding::Constrained),
    }
}

fn strategy(s: Strategy) -> TokenStream {
    match s {
        Strategy::React => quote!(rt::ir::Strategy::React),
        Strategy::PlanThenAct => quote!(rt::ir::Strategy::PlanThenAct),
        Strategy::Reflect => quote!(rt::ir::Strategy::Reflect),
    }
}

pub fn compaction(c: Compaction) -> TokenStream {
    match c {
        Compaction::None => quote!(rt::ir::Compaction::None),
        Compaction::TruncateOldest => quote!(rt::ir::Compaction::TruncateOldest),
        Compaction::SummarizeOldest => quote!(rt::ir::Compaction::SummarizeOldest),
        Compaction::DropObservations => quote!(rt::ir::Compaction::DropObservations),
    }
}

pub fn repair(s: RepairStrategy) -> TokenStream {
    match s {
        RepairStrategy::ExtractAction => quote!(rt::ir::RepairStrategy::ExtractAction),
        RepairStrategy::FuzzyMatch => quote!(rt::ir::RepairStrategy::FuzzyMatch),
        RepairStrategy::JsonFix => quote!(rt::ir::RepairStrategy::JsonFix),
    }
}

pub fn metric(m: Metric) -> TokenStream {
    match m {
        Metric::Step => quote!(rt::ir::Metric::Step),
        Metric::ContextTokens => quote!(rt::ir::Metric::ContextTokens),
        Metric::TokensUsed => quote!(rt::ir::Metric::TokensUsed),
        Metric::ConsecutiveErrors => quote!(rt::ir::Metric::ConsecutiveErrors),
    }
}

pub fn subject(s: Subject) -> TokenStream {
    match s {
        Subject::Output => quote!(rt::ir::Subject::Output),
        Subject::Observation => quote!(rt::ir::Subject::Observation),
        Subject::Goal => quote!(rt::ir::Subject::Goal),
    }
}

fn cmp_op(op: CmpOp) -> TokenStream {
    match op {
        CmpOp::Lt => quote!(rt::ir::CmpOp::Lt),
        CmpOp::Le => quote!(rt::ir::CmpOp::Le),
        CmpOp::Gt => quote!(rt::ir::CmpOp::Gt),
        CmpOp::Ge => quote!(rt::ir::CmpOp::Ge),
        CmpOp::Eq => quote!(rt::ir::CmpOp::Eq),
        CmpOp::Ne => quote!(rt::ir::CmpOp::Ne),
    }
}
