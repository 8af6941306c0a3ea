//! The intermediate representation: a checked harness as plain, serializable data.
//!
//! The compiler lowers a checked AST into a [`HarnessIr`]; the interpreter
//! ([`crate::engine`]) runs it directly and the code generator turns it into Rust. Both
//! consume exactly this type, so its shape is a contract:
//!
//! - Every value is explicit. Defaults from the language are filled in by the compiler when
//!   it lowers; the [`Default`] impls here document the same values so that tests and
//!   hand-built IR agree with lowered IR.
//! - Serialization is canonical: structs serialize their fields in declaration order, there
//!   are no hash maps, and lists keep source order. [`HarnessIr::hash`] relies on this.
//! - Unknown fields are rejected when deserializing, so an IR written by a newer compiler
//!   fails loudly instead of silently losing a field.
//! - Nothing here refers to spans or syntax: the runtime knows nothing of the source text.

use serde::{Deserialize, Serialize};

/// A whole checked harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessIr {
    pub name: String,
    /// The description string after the name; empty when none was written.
    pub description: String,
    pub model: ModelIr,
    /// In source order. The engine gives meaning to the names in [`prompt_names`].
    pub prompts: Vec<PromptIr>,
    /// In source order; tool names are unique (the checker enforces it).
    pub tools: Vec<ToolIr>,
    #[serde(rename = "loop")]
    pub loop_: LoopIr,
    pub context: ContextIr,
    /// In source order: rules at one hook fire in this order.
    pub rules: Vec<RuleIr>,
}

/// Prompt names the engine knows. Other prompt names are kept in the IR but unused.
pub mod prompt_names {
    /// Rendered once at task start as the system message.
    pub const SYSTEM: &str = "system";
    /// Rendered at every step as the user message; default `{{observation}}`.
    pub const STEP: &str = "step";
    /// Asked once before acting under `plan_then_act`.
    pub const PLAN: &str = "plan";
    /// Added every `reflect_every` steps under `reflect`.
    pub const REFLECT: &str = "reflect";
}

impl HarnessIr {
    /// An empty harness with the language defaults, for tests and hand-built IR.
    pub fn new(name: impl Into<String>) -> Self {
        HarnessIr {
            name: name.into(),
            description: String::new(),
            model: ModelIr::default(),
            prompts: Vec::new(),
            tools: Vec::new(),
            loop_: LoopIr::default(),
            context: ContextIr::default(),
            rules: Vec::new(),
        }
    }

    /// Read an IR from JSON (unknown fields are an error).
    pub fn from_json(json: &str) -> Result<HarnessIr, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The canonical JSON form (compact, fields in declaration order).
    pub fn to_canonical_json(&self) -> String {
        // Serializing plain structs, enums, strings and finite numbers cannot fail; a
        // non-finite float is written as `null` by serde_json rather than erroring.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stable content hash: FNV-1a 64 of [`Self::to_canonical_json`], as 16 lowercase hex
    /// digits. It identifies a harness in traces and caches; it is the same on every machine
    /// because the canonical JSON is (no maps, fixed field order, shortest float printing).
    /// It is not a cryptographic hash and must not be used as one.
    pub fn hash(&self) -> String {
        format!("{:016x}", fnv1a64(self.to_canonical_json().as_bytes()))
    }

    pub fn tool(&self, name: &str) -> Option<&ToolIr> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn prompt(&self, name: &str) -> Option<&PromptIr> {
        self.prompts.iter().find(|p| p.name == name)
    }
}

/// FNV-1a, 64-bit. Chosen because it is tiny, dependency-free and fully specified.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

// ---------------------------------------------------------------------------------------
// model

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelIr {
    /// `sim:small`, `replay:DIR`, `openai:URL#MODEL`, ... — interpreted by the model
    /// registry, not by the engine.
    pub backend: String,
    pub temperature: f64,
    pub max_tokens: u32,
    pub top_p: Option<f64>,
    pub decoding: Decoding,
    /// Which of the environment's admissible actions the model is offered, in the prompt's
    /// `{{admissible_actions}}` and as the constrained-decoding choice.
    #[serde(default, skip_serializing_if = "ActionOffer::is_all")]
    pub offer: ActionOffer,
    /// The *name* of an environment variable holding the API key, never the key itself,
    /// so the IR (and every trace that records its hash) is free of secrets.
    pub api_key_env: Option<String>,
    /// A fixed model seed; when `None` the episode seed is used.
    pub seed: Option<u64>,
    pub timeout_ms: Option<u64>,
    /// The model's context window in tokens (`model.context_window`): the prompt is
    /// compacted to fit it with room for the reply, whatever `context.budget` says
    /// ([`ModelIr::prompt_limit`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// The endpoint's rate limits (HTTP backends), shared by every episode in flight.
    /// Absent from the serialized IR when unset, so older harnesses keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
}

impl ModelIr {
    /// The most prompt tokens (by the runtime's estimate) a request may carry under the
    /// declared context window: the window less the longest reply, less 5% for the
    /// estimate's error (within 2% of SmolLM2's tokenizer on TextWorldExpress prompts, see
    /// docs/MODELS.md). `None` without a declared window.
    pub fn prompt_limit(&self) -> Option<u64> {
        self.context_window.map(|w| {
            (w - w / 20)
                .saturating_sub(u64::from(self.max_tokens))
                .max(1)
        })
    }
}

/// Language defaults for the model section.
pub mod model_defaults {
    pub const BACKEND: &str = "sim:small";
    /// Low but not zero: near-greedy decoding that still lets a seeded sampler vary between
    /// seeds, which paired evaluation across seeds needs.
    pub const TEMPERATURE: f64 = 0.2;
    pub const MAX_TOKENS: u32 = 256;
}

impl Default for ModelIr {
    fn default() -> Self {
        ModelIr {
            backend: model_defaults::BACKEND.to_string(),
            temperature: model_defaults::TEMPERATURE,
            max_tokens: model_defaults::MAX_TOKENS,
            top_p: None,
            decoding: Decoding::Free,
            offer: ActionOffer::All,
            api_key_env: None,
            seed: None,
            timeout_ms: None,
            context_window: None,
            requests_per_second: None,
            tokens_per_minute: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoding {
    /// The model writes free text; the engine parses a call out of it.
    #[default]
    Free,
    /// The backend is asked to constrain output to the tools' JSON schema.
    Constrained,
}

/// Which admissible actions the model is offered (`model { offer = ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOffer {
    /// Every admissible action the environment lists.
    #[default]
    All,
    /// The admissible actions minus those this episode already executed: a small model
    /// that keeps choosing the same action is pushed on to the ones it has not tried.
    Untried,
    /// As `untried`, but counting only the calls since the episode's reward last rose, and
    /// every call that lost reward: progress changes the situation, so actions tried
    /// before it are worth offering again, but a call that lost reward (an item put in the
    /// wrong place, say) is never offered again.
    UntriedSinceReward,
    /// As `untried`, but counting only the calls since the environment last reported a
    /// change of state (an action that changed nothing is not offered again until
    /// something changes).
    UntriedSinceChange,
}

impl ActionOffer {
    pub fn is_all(&self) -> bool {
        *self == ActionOffer::All
    }
}

// ---------------------------------------------------------------------------------------
// prompts and templates

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptIr {
    pub name: String,
    pub template: Template,
}

/// A string with `{{var}}` holes, already split: rendering is a concatenation.
pub type Template = Vec<Segment>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Text(String),
    Var(Var),
}

/// The template variables. Serialized as their source path (`"task.goal"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Var {
    #[serde(rename = "task.goal")]
    TaskGoal,
    #[serde(rename = "task.id")]
    TaskId,
    /// The current step, 1-based (0 before the first step).
    #[serde(rename = "step")]
    Step,
    #[serde(rename = "max_steps")]
    MaxSteps,
    /// The declared tools, one `name(param: type, ...) — description` per line.
    #[serde(rename = "tools")]
    Tools,
    /// The environment's admissible actions, comma-separated.
    #[serde(rename = "admissible_actions")]
    AdmissibleActions,
    /// The latest observation text.
    #[serde(rename = "observation")]
    Observation,
    /// The calls made so far, one per line.
    #[serde(rename = "history")]
    History,
}

impl Var {
    pub const ALL: [Var; 8] = [
        Var::TaskGoal,
        Var::TaskId,
        Var::Step,
        Var::MaxSteps,
        Var::Tools,
        Var::AdmissibleActions,
        Var::Observation,
        Var::History,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Var::TaskGoal => "task.goal",
            Var::TaskId => "task.id",
            Var::Step => "step",
            Var::MaxSteps => "max_steps",
            Var::Tools => "tools",
            Var::AdmissibleActions => "admissible_actions",
            Var::Observation => "observation",
            Var::History => "history",
        }
    }

    pub fn from_path(path: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.path() == path)
    }
}

// ---------------------------------------------------------------------------------------
// tools

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolIr {
    pub name: String,
    /// Empty when none was written.
    pub description: String,
    pub params: Vec<ParamIr>,
    /// A call whose (simulated) latency exceeds this fails with a timeout.
    pub timeout_ms: Option<u64>,
    /// Automatic re-issues of a failed call before `after_tool` rules see the failure.
    /// Default 0: failures are visible to rules unless the harness says otherwise.
    pub retries: u32,
    /// Calling this tool counts as checking the state (see the `verified` detector).
    pub verifies: bool,
}

impl ToolIr {
    pub fn new(name: impl Into<String>, params: Vec<ParamIr>) -> Self {
        ToolIr {
            name: name.into(),
            description: String::new(),
            params,
            timeout_ms: None,
            retries: 0,
            verifies: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamIr {
    pub name: String,
    pub ty: TypeIr,
}

impl ParamIr {
    pub fn new(name: impl Into<String>, ty: TypeIr) -> Self {
        ParamIr {
            name: name.into(),
            ty,
        }
    }

    /// Optional parameters may be left out of a call.
    pub fn is_optional(&self) -> bool {
        matches!(self.ty, TypeIr::Optional(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeIr {
    String,
    Int,
    Float,
    Bool,
    Duration,
    Tokens,
    Enum(Vec<String>),
    List(Box<TypeIr>),
    Optional(Box<TypeIr>),
}

// ---------------------------------------------------------------------------------------
// loop

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopIr {
    pub max_steps: u32,
    pub strategy: Strategy,
    /// Used by `reflect` only; `None` means [`loop_defaults::REFLECT_EVERY`].
    pub reflect_every: Option<u32>,
}

pub mod loop_defaults {
    pub const MAX_STEPS: u32 = 30;
    pub const REFLECT_EVERY: u32 = 3;
}

impl Default for LoopIr {
    fn default() -> Self {
        LoopIr {
            max_steps: loop_defaults::MAX_STEPS,
            strategy: Strategy::React,
            reflect_every: None,
        }
    }
}

impl LoopIr {
    /// The reflection period actually used (never 0).
    pub fn effective_reflect_every(&self) -> u32 {
        self.reflect_every
            .unwrap_or(loop_defaults::REFLECT_EVERY)
            .max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    React,
    PlanThenAct,
    Reflect,
}

// ---------------------------------------------------------------------------------------
// context

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextIr {
    pub budget_tokens: u64,
    pub compaction: Compaction,
    pub pin: Vec<PinRef>,
    /// The most recent steps whose messages compaction never touches.
    pub keep_last: u32,
}

pub mod context_defaults {
    pub const BUDGET_TOKENS: u64 = 2000;
    pub const KEEP_LAST: u32 = 4;
}

impl Default for ContextIr {
    fn default() -> Self {
        ContextIr {
            budget_tokens: context_defaults::BUDGET_TOKENS,
            compaction: Compaction::TruncateOldest,
            pin: vec![
                PinRef::Prompt(prompt_names::SYSTEM.into()),
                PinRef::TaskGoal,
            ],
            keep_last: context_defaults::KEEP_LAST,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compaction {
    /// Never compact; the context may exceed the budget.
    None,
    /// Drop the oldest unpinned messages until under budget.
    #[default]
    TruncateOldest,
    /// Replace the oldest unpinned messages with one short summary message.
    SummarizeOldest,
    /// Drop tool observations first (oldest first), then fall back to truncation.
    DropObservations,
}

/// What `pin = [...]` may name: a prompt (`system`), the task goal (`task.goal`), the tool
/// list (`tools`) or the current admissible actions (`admissible_actions`). The engine
/// turns each into the messages it marks pinned (see [`crate::engine`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinRef {
    Prompt(String),
    TaskGoal,
    Tools,
    AdmissibleActions,
}

// ---------------------------------------------------------------------------------------
// rules

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIr {
    /// The `as NAME`, if any. Traces name unnamed rules `rule#INDEX`.
    pub name: Option<String>,
    pub hook: Hook,
    /// `None` means "always".
    pub when: Option<CondIr>,
    pub actions: Vec<ActionIr>,
}

/// The 8 hooks of an episode, in the order they first occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    TaskStart,
    StepStart,
    BeforeModel,
    AfterModel,
    BeforeTool,
    AfterTool,
    StepEnd,
    TaskEnd,
}

impl Hook {
    pub const ALL: [Hook; 8] = [
        Hook::TaskStart,
        Hook::StepStart,
        Hook::BeforeModel,
        Hook::AfterModel,
        Hook::BeforeTool,
        Hook::AfterTool,
        Hook::StepEnd,
        Hook::TaskEnd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::TaskStart => "task_start",
            Hook::StepStart => "step_start",
            Hook::BeforeModel => "before_model",
            Hook::AfterModel => "after_model",
            Hook::BeforeTool => "before_tool",
            Hook::AfterTool => "after_tool",
            Hook::StepEnd => "step_end",
            Hook::TaskEnd => "task_end",
        }
    }

    /// `step_end` and `task_end` observe a finished step/episode; only `log` runs there.
    pub fn is_read_only(self) -> bool {
        matches!(self, Hook::StepEnd | Hook::TaskEnd)
    }
}

/// A rule condition. Detectors are evaluated over the episode state at the hook where the
/// rule fires (see `crate::detect` for each one's exact definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CondIr {
    And(Vec<CondIr>),
    Or(Vec<CondIr>),
    Not(Box<CondIr>),
    MalformedCall,
    RepeatedAction {
        window: u32,
        count: u32,
    },
    ToolError,
    ToolTimeout,
    /// `call(tool)`: the pending or last call is to this tool.
    Call(String),
    Verified,
    Compare {
        metric: Metric,
        op: CmpOp,
        value: i64,
    },
    Matches {
        subject: Subject,
        pattern: String,
    },
}

pub mod cond_defaults {
    pub const REPEATED_WINDOW: u32 = 4;
    pub const REPEATED_COUNT: u32 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Step,
    ContextTokens,
    TokensUsed,
    ConsecutiveErrors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn eval(self, lhs: i64, rhs: i64) -> bool {
        match self {
            CmpOp::Lt => lhs < rhs,
            CmpOp::Le => lhs <= rhs,
            CmpOp::Gt => lhs > rhs,
            CmpOp::Ge => lhs >= rhs,
            CmpOp::Eq => lhs == rhs,
            CmpOp::Ne => lhs != rhs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// The latest model reply.
    Output,
    /// The latest observation.
    Observation,
    /// The task goal.
    Goal,
}

/// One action of a rule body, with its `otherwise` fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionIr {
    pub kind: ActionKind,
    /// Runs when `kind` could not take effect (see `crate::engine` for when that is).
    pub fallback: Option<Box<ActionIr>>,
}

impl ActionIr {
    pub fn new(kind: ActionKind) -> Self {
        ActionIr {
            kind,
            fallback: None,
        }
    }

    pub fn otherwise(mut self, fallback: ActionIr) -> Self {
        self.fallback = Some(Box::new(fallback));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Log(Template),
    Inject(Template),
    /// `compact` alone uses the context's strategy (`truncate_oldest` if that is `none`);
    /// `compact(strategy)` overrides it.
    Compact(Option<Compaction>),
    Repair(RepairStrategy),
    Reprompt {
        message: Template,
        max: u32,
    },
    Retry {
        max: u32,
        backoff_ms: u64,
    },
    Block(Template),
    Stop(Template),
}

pub mod action_defaults {
    pub const RETRY_MAX: u32 = 2;
    pub const RETRY_BACKOFF_MS: u64 = 100;
    pub const REPROMPT_MAX: u32 = 1;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairStrategy {
    ExtractAction,
    FuzzyMatch,
    JsonFix,
}

/// How an action relates to the event at its hook (the HarnessX processor model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorKind {
    /// Observes the event, changes nothing (`log`).
    PassThrough,
    /// Rewrites the event's payload or the context (`inject`, `compact`, `repair`).
    Transform,
    /// Turns one event into several attempts (`retry`, `reprompt`).
    Split,
    /// Replaces the event with a synthesized result (`block`).
    Intercept,
    /// Ends the episode (`stop`).
    Interrupt,
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Log(_) => "log",
            ActionKind::Inject(_) => "inject",
            ActionKind::Compact(_) => "compact",
            ActionKind::Repair(_) => "repair",
            ActionKind::Reprompt { .. } => "reprompt",
            ActionKind::Retry { .. } => "retry",
            ActionKind::Block(_) => "block",
            ActionKind::Stop(_) => "stop",
        }
    }

    pub fn processor_kind(&self) -> ProcessorKind {
        match self {
            ActionKind::Log(_) => ProcessorKind::PassThrough,
            ActionKind::Inject(_) | ActionKind::Compact(_) | ActionKind::Repair(_) => {
                ProcessorKind::Transform
            }
            ActionKind::Reprompt { .. } | ActionKind::Retry { .. } => ProcessorKind::Split,
            ActionKind::Block(_) => ProcessorKind::Intercept,
            ActionKind::Stop(_) => ProcessorKind::Interrupt,
        }
    }

    /// The hooks where this action can take effect. Elsewhere the engine treats it as
    /// having no effect (its fallback runs); the checker rejects such rules up front.
    pub fn legal_hooks(&self) -> &'static [Hook] {
        use Hook::*;
        const ALL: &[Hook] = &Hook::ALL;
        const MUTABLE: &[Hook] = &[
            TaskStart,
            StepStart,
            BeforeModel,
            AfterModel,
            BeforeTool,
            AfterTool,
        ];
        match self {
            ActionKind::Log(_) => ALL,
            ActionKind::Inject(_) | ActionKind::Stop(_) => MUTABLE,
            // Compaction mid-step would pull messages out from under the call in flight.
            ActionKind::Compact(_) => &[StepStart, BeforeModel],
            ActionKind::Repair(_) | ActionKind::Reprompt { .. } => &[AfterModel],
            ActionKind::Retry { .. } => &[AfterTool],
            ActionKind::Block(_) => &[BeforeModel, BeforeTool],
        }
    }

    pub fn is_legal_at(&self, hook: Hook) -> bool {
        self.legal_hooks().contains(&hook)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HarnessIr {
        let mut ir = HarnessIr::new("t");
        ir.tools.push(ToolIr::new(
            "go",
            vec![ParamIr::new("target", TypeIr::String)],
        ));
        ir.prompts.push(PromptIr {
            name: "system".into(),
            template: vec![Segment::Text("Goal: ".into()), Segment::Var(Var::TaskGoal)],
        });
        ir.rules.push(RuleIr {
            name: None,
            hook: Hook::AfterModel,
            when: Some(CondIr::Not(Box::new(CondIr::MalformedCall))),
            actions: vec![
                ActionIr::new(ActionKind::Repair(RepairStrategy::ExtractAction)).otherwise(
                    ActionIr::new(ActionKind::Reprompt {
                        message: vec![Segment::Text("again".into())],
                        max: 1,
                    }),
                ),
            ],
        });
        ir
    }

    #[test]
    fn json_round_trip() {
        let ir = sample();
        let json = ir.to_canonical_json();
        let back: HarnessIr = serde_json::from_str(&json).expect("round trip");
        assert_eq!(ir, back);
        assert_eq!(json, back.to_canonical_json());
    }

    #[test]
    fn hash_is_stable_and_content_sensitive() {
        let a = sample();
        assert_eq!(a.hash(), sample().hash());
        assert_eq!(a.hash().len(), 16);
        let mut b = sample();
        b.loop_.max_steps += 1;
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn vars_serialize_as_paths() {
        for v in Var::ALL {
            let json = serde_json::to_string(&v).expect("serialize");
            assert_eq!(json, format!("\"{}\"", v.path()));
            assert_eq!(Var::from_path(v.path()), Some(v));
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut v: serde_json::Value =
            serde_json::from_str(&sample().to_canonical_json()).expect("json");
        v["surprise"] = serde_json::Value::Bool(true);
        assert!(serde_json::from_value::<HarnessIr>(v).is_err());
    }

    #[test]
    fn read_only_hooks_allow_only_log() {
        let kinds = [
            ActionKind::Log(vec![]),
            ActionKind::Inject(vec![]),
            ActionKind::Compact(None),
            ActionKind::Repair(RepairStrategy::JsonFix),
            ActionKind::Reprompt {
                message: vec![],
                max: 1,
            },
            ActionKind::Retry {
                max: 1,
                backoff_ms: 0,
            },
            ActionKind::Block(vec![]),
            ActionKind::Stop(vec![]),
        ];
        for k in &kinds {
            for h in [Hook::StepEnd, Hook::TaskEnd] {
                assert_eq!(
                    k.is_legal_at(h),
                    k.name() == "log",
                    "{} at {:?}",
                    k.name(),
                    h
                );
            }
        }
    }
}
