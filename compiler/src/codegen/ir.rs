//! `pub fn ir() -> HarnessIr`: the harness's IR rebuilt natively from struct literals, so
//! a compiled harness needs no JSON at run time. Its `hash()` equals `HARNESS_HASH` (the
//! generated crate's `selftest` checks this), which is what proves the two agree.
//!
//! Every IR enum is matched exhaustively here: a variant added to the runtime's IR fails to
//! compile the generator instead of silently generating the wrong thing.

use harnessx_runtime::ir::{
    ActionIr, ActionKind, ActionOffer, CmpOp, Compaction, CondIr, Decoding, HarnessIr, Hook,
    Metric, PinRef, RepairStrategy, Segment, Strategy, Subject, TypeIr, Var,
};

use super::emit::{Expr, Src};
use super::lit;

pub fn ir_fn(ir: &HarnessIr, out: &mut Src) {
    let m = &ir.model;
    let model = Expr::Struct(
        "rt::ir::ModelIr".into(),
        vec![
            ("backend", Expr::atom(lit::string(&m.backend))),
            ("temperature", Expr::atom(lit::f64(m.temperature))),
            ("max_tokens", Expr::atom(lit::u32(m.max_tokens))),
            ("top_p", Expr::atom(lit::option(&m.top_p, |x| lit::f64(*x)))),
            ("decoding", Expr::atom(decoding(m.decoding))),
            ("offer", Expr::atom(offer(m.offer))),
            (
                "api_key_env",
                Expr::atom(lit::option(&m.api_key_env, |s| lit::string(s))),
            ),
            ("seed", Expr::atom(lit::option(&m.seed, |n| lit::u64(*n)))),
            (
                "timeout_ms",
                Expr::atom(lit::option(&m.timeout_ms, |n| lit::u64(*n))),
            ),
            (
                "context_window",
                Expr::atom(lit::option(&m.context_window, |n| lit::u64(*n))),
            ),
            (
                "requests_per_second",
                Expr::atom(lit::option(&m.requests_per_second, |x| lit::f64(*x))),
            ),
            (
                "tokens_per_minute",
                Expr::atom(lit::option(&m.tokens_per_minute, |n| lit::u64(*n))),
            ),
        ],
    );
    let prompts = seq(ir.prompts.iter().map(|p| {
        Expr::Struct(
            "rt::ir::PromptIr".into(),
            vec![
                ("name", Expr::atom(lit::string(&p.name))),
                ("template", template(&p.template)),
            ],
        )
    }));
    let tools = seq(ir.tools.iter().map(|t| {
        let params = seq(t.params.iter().map(|p| {
            Expr::Struct(
                "rt::ir::ParamIr".into(),
                vec![
                    ("name", Expr::atom(lit::string(&p.name))),
                    ("ty", type_ir(&p.ty)),
                ],
            )
        }));
        Expr::Struct(
            "rt::ir::ToolIr".into(),
            vec![
                ("name", Expr::atom(lit::string(&t.name))),
                ("description", Expr::atom(lit::string(&t.description))),
                ("params", params),
                (
                    "timeout_ms",
                    Expr::atom(lit::option(&t.timeout_ms, |n| lit::u64(*n))),
                ),
                ("retries", Expr::atom(lit::u32(t.retries))),
                ("verifies", Expr::atom(t.verifies.to_string())),
            ],
        )
    }));
    let l = &ir.loop_;
    let loop_ = Expr::Struct(
        "rt::ir::LoopIr".into(),
        vec![
            ("max_steps", Expr::atom(lit::u32(l.max_steps))),
            ("strategy", Expr::atom(strategy(l.strategy))),
            (
                "reflect_every",
                Expr::atom(lit::option(&l.reflect_every, |n| lit::u32(*n))),
            ),
        ],
    );
    let c = &ir.context;
    let pins = seq(c.pin.iter().map(|p| match p {
        PinRef::Prompt(n) => Expr::call("rt::ir::PinRef::Prompt", vec![Expr::atom(lit::string(n))]),
        PinRef::TaskGoal => Expr::atom("rt::ir::PinRef::TaskGoal"),
        PinRef::Tools => Expr::atom("rt::ir::PinRef::Tools"),
        PinRef::AdmissibleActions => Expr::atom("rt::ir::PinRef::AdmissibleActions"),
    }));
    let context = Expr::Struct(
        "rt::ir::ContextIr".into(),
        vec![
            ("budget_tokens", Expr::atom(lit::u64(c.budget_tokens))),
            ("compaction", Expr::atom(compaction(c.compaction))),
            ("pin", pins),
            ("keep_last", Expr::atom(lit::u32(c.keep_last))),
        ],
    );
    let rules = seq(ir.rules.iter().map(|r| {
        Expr::Struct(
            "rt::ir::RuleIr".into(),
            vec![
                ("name", Expr::atom(lit::option(&r.name, |s| lit::string(s)))),
                ("hook", Expr::atom(hook(r.hook))),
                (
                    "when",
                    match &r.when {
                        Some(c) => Expr::call("Some", vec![cond(c)]),
                        None => Expr::atom("None"),
                    },
                ),
                ("actions", seq(r.actions.iter().map(action))),
            ],
        )
    }));
    let harness = Expr::Struct(
        "rt::ir::HarnessIr".into(),
        vec![
            ("name", Expr::atom(lit::string(&ir.name))),
            ("description", Expr::atom(lit::string(&ir.description))),
            ("model", model),
            ("prompts", prompts),
            ("tools", tools),
            ("loop_", loop_),
            ("context", context),
            ("rules", rules),
        ],
    );
    out.doc(" The harness's IR, built natively; `ir().hash() == HARNESS_HASH`.");
    out.open("pub fn ir() -> rt::ir::HarnessIr {");
    out.expr("", &harness, "");
    out.close("}");
}

/// A `Vec` of the given expressions: `Vec::new()` or `Vec::from([..])`. An array
/// expression, unlike the `vec!` macro, is laid out like any other expression.
pub fn seq(items: impl IntoIterator<Item = Expr>) -> Expr {
    let items: Vec<Expr> = items.into_iter().collect();
    if items.is_empty() {
        Expr::atom("Vec::new()")
    } else {
        Expr::call("Vec::from", vec![Expr::Array(items)])
    }
}

pub fn template(t: &[Segment]) -> Expr {
    seq(t.iter().map(|s| match s {
        Segment::Text(text) => {
            Expr::call("rt::ir::Segment::Text", vec![Expr::atom(lit::string(text))])
        }
        Segment::Var(v) => Expr::call("rt::ir::Segment::Var", vec![Expr::atom(var(*v))]),
    }))
}

fn type_ir(t: &TypeIr) -> Expr {
    match t {
        TypeIr::String => Expr::atom("rt::ir::TypeIr::String"),
        TypeIr::Int => Expr::atom("rt::ir::TypeIr::Int"),
        TypeIr::Float => Expr::atom("rt::ir::TypeIr::Float"),
        TypeIr::Bool => Expr::atom("rt::ir::TypeIr::Bool"),
        TypeIr::Duration => Expr::atom("rt::ir::TypeIr::Duration"),
        TypeIr::Tokens => Expr::atom("rt::ir::TypeIr::Tokens"),
        TypeIr::Enum(vs) => Expr::call(
            "rt::ir::TypeIr::Enum",
            vec![seq(vs.iter().map(|v| Expr::atom(lit::string(v))))],
        ),
        TypeIr::List(inner) => Expr::call(
            "rt::ir::TypeIr::List",
            vec![Expr::call("Box::new", vec![type_ir(inner)])],
        ),
        TypeIr::Optional(inner) => Expr::call(
            "rt::ir::TypeIr::Optional",
            vec![Expr::call("Box::new", vec![type_ir(inner)])],
        ),
    }
}

pub fn cond(c: &CondIr) -> Expr {
    match c {
        CondIr::And(cs) => Expr::call("rt::ir::CondIr::And", vec![seq(cs.iter().map(cond))]),
        CondIr::Or(cs) => Expr::call("rt::ir::CondIr::Or", vec![seq(cs.iter().map(cond))]),
        CondIr::Not(inner) => Expr::call(
            "rt::ir::CondIr::Not",
            vec![Expr::call("Box::new", vec![cond(inner)])],
        ),
        CondIr::MalformedCall => Expr::atom("rt::ir::CondIr::MalformedCall"),
        CondIr::RepeatedAction { window, count } => Expr::Struct(
            "rt::ir::CondIr::RepeatedAction".into(),
            vec![
                ("window", Expr::atom(lit::u32(*window))),
                ("count", Expr::atom(lit::u32(*count))),
            ],
        ),
        CondIr::ToolError => Expr::atom("rt::ir::CondIr::ToolError"),
        CondIr::ToolTimeout => Expr::atom("rt::ir::CondIr::ToolTimeout"),
        CondIr::Call(tool) => {
            Expr::call("rt::ir::CondIr::Call", vec![Expr::atom(lit::string(tool))])
        }
        CondIr::Verified => Expr::atom("rt::ir::CondIr::Verified"),
        CondIr::Compare {
            metric: m,
            op,
            value,
        } => Expr::Struct(
            "rt::ir::CondIr::Compare".into(),
            vec![
                ("metric", Expr::atom(metric(*m))),
                ("op", Expr::atom(cmp_op(*op))),
                ("value", Expr::atom(lit::i64(*value))),
            ],
        ),
        CondIr::Matches {
            subject: s,
            pattern,
        } => Expr::Struct(
            "rt::ir::CondIr::Matches".into(),
            vec![
                ("subject", Expr::atom(subject(*s))),
                ("pattern", Expr::atom(lit::string(pattern))),
            ],
        ),
    }
}

fn action(a: &ActionIr) -> Expr {
    let kind = match &a.kind {
        ActionKind::Log(t) => Expr::call("rt::ir::ActionKind::Log", vec![template(t)]),
        ActionKind::Inject(t) => Expr::call("rt::ir::ActionKind::Inject", vec![template(t)]),
        ActionKind::Compact(s) => Expr::call(
            "rt::ir::ActionKind::Compact",
            vec![Expr::atom(lit::option(s, |c| compaction(*c).to_string()))],
        ),
        ActionKind::Repair(s) => {
            Expr::call("rt::ir::ActionKind::Repair", vec![Expr::atom(repair(*s))])
        }
        ActionKind::Reprompt { message, max } => Expr::Struct(
            "rt::ir::ActionKind::Reprompt".into(),
            vec![
                ("message", template(message)),
                ("max", Expr::atom(lit::u32(*max))),
            ],
        ),
        ActionKind::Retry { max, backoff_ms } => Expr::Struct(
            "rt::ir::ActionKind::Retry".into(),
            vec![
                ("max", Expr::atom(lit::u32(*max))),
                ("backoff_ms", Expr::atom(lit::u64(*backoff_ms))),
            ],
        ),
        ActionKind::Block(t) => Expr::call("rt::ir::ActionKind::Block", vec![template(t)]),
        ActionKind::Stop(t) => Expr::call("rt::ir::ActionKind::Stop", vec![template(t)]),
    };
    let fallback = match &a.fallback {
        Some(f) => Expr::call("Some", vec![Expr::call("Box::new", vec![action(f)])]),
        None => Expr::atom("None"),
    };
    Expr::Struct(
        "rt::ir::ActionIr".into(),
        vec![("kind", kind), ("fallback", fallback)],
    )
}

pub fn var(v: Var) -> &'static str {
    match v {
        Var::TaskGoal => "rt::ir::Var::TaskGoal",
        Var::TaskId => "rt::ir::Var::TaskId",
        Var::Step => "rt::ir::Var::Step",
        Var::MaxSteps => "rt::ir::Var::MaxSteps",
        Var::Tools => "rt::ir::Var::Tools",
        Var::AdmissibleActions => "rt::ir::Var::AdmissibleActions",
        Var::Observation => "rt::ir::Var::Observation",
        Var::History => "rt::ir::Var::History",
    }
}

pub fn hook(h: Hook) -> &'static str {
    match h {
        Hook::TaskStart => "rt::ir::Hook::TaskStart",
        Hook::StepStart => "rt::ir::Hook::StepStart",
        Hook::BeforeModel => "rt::ir::Hook::BeforeModel",
        Hook::AfterModel => "rt::ir::Hook::AfterModel",
        Hook::BeforeTool => "rt::ir::Hook::BeforeTool",
        Hook::AfterTool => "rt::ir::Hook::AfterTool",
        Hook::StepEnd => "rt::ir::Hook::StepEnd",
        Hook::TaskEnd => "rt::ir::Hook::TaskEnd",
    }
}

fn offer(o: ActionOffer) -> &'static str {
    match o {
        ActionOffer::All => "rt::ir::ActionOffer::All",
        ActionOffer::Untried => "rt::ir::ActionOffer::Untried",
        ActionOffer::UntriedSinceReward => "rt::ir::ActionOffer::UntriedSinceReward",
        ActionOffer::UntriedSinceChange => "rt::ir::ActionOffer::UntriedSinceChange",
    }
}

fn decoding(d: Decoding) -> &'static str {
    match d {
        Decoding::Free => "rt::ir::Decoding::Free",
        Decoding::Constrained => "rt::ir::Decoding::Constrained",
    }
}

fn strategy(s: Strategy) -> &'static str {
    match s {
        Strategy::React => "rt::ir::Strategy::React",
        Strategy::PlanThenAct => "rt::ir::Strategy::PlanThenAct",
        Strategy::Reflect => "rt::ir::Strategy::Reflect",
    }
}

pub fn compaction(c: Compaction) -> &'static str {
    match c {
        Compaction::None => "rt::ir::Compaction::None",
        Compaction::TruncateOldest => "rt::ir::Compaction::TruncateOldest",
        Compaction::SummarizeOldest => "rt::ir::Compaction::SummarizeOldest",
        Compaction::DropObservations => "rt::ir::Compaction::DropObservations",
    }
}

pub fn repair(s: RepairStrategy) -> &'static str {
    match s {
        RepairStrategy::ExtractAction => "rt::ir::RepairStrategy::ExtractAction",
        RepairStrategy::FuzzyMatch => "rt::ir::RepairStrategy::FuzzyMatch",
        RepairStrategy::JsonFix => "rt::ir::RepairStrategy::JsonFix",
    }
}

pub fn metric(m: Metric) -> &'static str {
    match m {
        Metric::Step => "rt::ir::Metric::Step",
        Metric::ContextTokens => "rt::ir::Metric::ContextTokens",
        Metric::TokensUsed => "rt::ir::Metric::TokensUsed",
        Metric::ConsecutiveErrors => "rt::ir::Metric::ConsecutiveErrors",
    }
}

pub fn subject(s: Subject) -> &'static str {
    match s {
        Subject::Output => "rt::ir::Subject::Output",
        Subject::Observation => "rt::ir::Subject::Observation",
        Subject::Goal => "rt::ir::Subject::Goal",
    }
}

fn cmp_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "rt::ir::CmpOp::Lt",
        CmpOp::Le => "rt::ir::CmpOp::Le",
        CmpOp::Gt => "rt::ir::CmpOp::Gt",
        CmpOp::Ge => "rt::ir::CmpOp::Ge",
        CmpOp::Eq => "rt::ir::CmpOp::Eq",
        CmpOp::Ne => "rt::ir::CmpOp::Ne",
    }
}
