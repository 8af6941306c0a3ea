//! What the language *means*, as data: hooks, sections and their fields, tool types and
//! options, detectors, metrics, match subjects, actions, template variables, annotations.
//!
//! The checker, docs/LANGUAGE.md (a test compares its tables to these) and the later
//! stages (IR, runtime, evolver) all read these tables, so one edit here changes the
//! language everywhere. Nothing in this module looks at an AST.

use std::fmt;

// ---------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------

/// The hooks and processor kinds are the IR's own enums; this module adds what the
/// checker and the docs need of them ([`HookExt`], [`ProcessorKindExt`]).
pub use harnessx_runtime::ir::{Hook, ProcessorKind};

/// What the checker and the docs need of a [`Hook`] beyond the IR's own methods
/// (`Hook::ALL`, `as_str`, `is_read_only`).
pub trait HookExt: Sized {
    /// The hook named `name` in source (`after_tool`).
    fn from_name(name: &str) -> Option<Self>;
    /// What the hook sees, for the docs.
    fn doc(self) -> &'static str;
}

impl HookExt for Hook {
    fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.as_str() == name)
    }

    fn doc(self) -> &'static str {
        match self {
            Hook::TaskStart => {
                "once, before the first step; the task and first observation are known"
            }
            Hook::StepStart => "at the start of every step, before the prompt is built",
            Hook::BeforeModel => "the prompt is built and about to be sent to the model",
            Hook::AfterModel => "the model replied; its output is not yet parsed into a tool call",
            Hook::BeforeTool => "a tool call was parsed and is about to run",
            Hook::AfterTool => "the tool ran; its result (or error) is the new observation",
            Hook::StepEnd => "the step is over (read-only)",
            Hook::TaskEnd => "the episode is over (read-only)",
        }
    }
}

/// The bit of `hook` in a [`HookSet`]: its position in `Hook::ALL` (a test checks that
/// the enum's discriminants are exactly those positions).
const fn hook_bit(hook: Hook) -> u8 {
    1 << (hook as u8)
}

/// A set of hooks (a bit per hook), usable in `const` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookSet(u8);

impl HookSet {
    pub const ALL: HookSet = HookSet(0xff);

    pub const fn of(hooks: &[Hook]) -> HookSet {
        let mut bits = 0u8;
        let mut i = 0;
        while i < hooks.len() {
            bits |= hook_bit(hooks[i]);
            i += 1;
        }
        HookSet(bits)
    }

    pub const fn contains(self, hook: Hook) -> bool {
        self.0 & hook_bit(hook) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Hook> {
        Hook::ALL.into_iter().filter(move |h| self.contains(*h))
    }

    /// "`a`, `b`" for messages.
    pub fn describe(self) -> String {
        if self == HookSet::ALL {
            return "every hook".to_string();
        }
        self.iter()
            .map(|h| format!("`{}`", h.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Hook::*;

// ---------------------------------------------------------------------------------------
// Types of fields and arguments
// ---------------------------------------------------------------------------------------

/// The type of a section field, tool option or action/detector argument, with its legal
/// range. Ranges are inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    Str,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// An int literal is accepted too.
    Float {
        min: f64,
        max: f64,
    },
    /// Written `100ms`, `2s`, `1m`; bounds in milliseconds.
    Duration {
        min_ms: u64,
        max_ms: u64,
    },
    /// Written `1500 tokens`.
    Tokens {
        min: u64,
        max: u64,
    },
    /// A bare name out of a fixed set.
    Enum(&'static [&'static str]),
    /// A list of references: these built-in names or any declared prompt name.
    RefList(&'static [&'static str]),
}

impl FieldType {
    /// Numeric types accept `@evolve(range = LO..HI)`.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int { .. }
                | FieldType::Float { .. }
                | FieldType::Duration { .. }
                | FieldType::Tokens { .. }
        )
    }

    /// Short name for messages: "an integer", "a duration", ...
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Str => "a string",
            FieldType::Bool => "`true` or `false`",
            FieldType::Int { .. } => "an integer",
            FieldType::Float { .. } => "a number",
            FieldType::Duration { .. } => "a duration (like `500ms`, `2s`, `1m`)",
            FieldType::Tokens { .. } => "a token count (like `1500 tokens`)",
            FieldType::Enum(_) => "one of the listed names",
            FieldType::RefList(_) => "a list of references",
        }
    }

    /// The type column of the docs: `int [1, 1000]`.
    pub fn doc(self) -> String {
        match self {
            FieldType::Str => "string".into(),
            FieldType::Bool => "bool".into(),
            FieldType::Int { min, max } if max == i64::MAX => format!("int ≥ {min}"),
            FieldType::Int { min, max } => format!("int [{min}, {max}]"),
            FieldType::Float { min, max } => format!("float [{}, {}]", fmt_f(min), fmt_f(max)),
            FieldType::Duration { min_ms, max_ms } => {
                format!("duration [{}, {}]", fmt_ms(min_ms), fmt_ms(max_ms))
            }
            FieldType::Tokens { min, max } => format!("tokens [{min}, {max}]"),
            FieldType::Enum(vs) => vs.join(" | "),
            FieldType::RefList(refs) => format!("list of {} or a prompt name", refs.join(", ")),
        }
    }
}

/// A float as written in docs and messages: always with a `.`.
pub fn fmt_f(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// Milliseconds in the largest unit that divides them: `600000` → `10m`.
pub fn fmt_ms(ms: u64) -> String {
    if ms != 0 && ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms != 0 && ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

/// A constant value of a [`FieldType`]: defaults and evolve bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lit {
    Str(&'static str),
    Bool(bool),
    Int(i64),
    Float(f64),
    DurationMs(u64),
    Tokens(u64),
    Variant(&'static str),
    Refs(&'static [&'static str]),
}

impl Lit {
    /// A numeric constant's value in its base unit (milliseconds for a duration, a count
    /// for tokens), as [`harnessx_syntax::ValueKind::num`] gives it for a literal in
    /// source; `None` for anything that is not a number.
    pub fn num(self) -> Option<f64> {
        match self {
            Lit::Int(i) => Some(i as f64),
            Lit::Float(x) => Some(x),
            Lit::DurationMs(ms) => Some(ms as f64),
            Lit::Tokens(t) => Some(t as f64),
            _ => None,
        }
    }
}

impl fmt::Display for Lit {
    /// As it is written in source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Str(s) => write!(f, "{s:?}"),
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Float(x) => f.write_str(&fmt_f(*x)),
            Lit::DurationMs(ms) => f.write_str(&fmt_ms(*ms)),
            Lit::Tokens(n) => write!(f, "{n} tokens"),
            Lit::Variant(v) => f.write_str(v),
            Lit::Refs(rs) => write!(f, "[{}]", rs.join(", ")),
        }
    }
}

/// How far the evolver may move a field when `@evolve` gives no explicit bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvolveDefault {
    /// The field is not evolvable at all (`@evolve` on it is an error).
    Never,
    /// A numeric interval `LO..HI`, both of the field's type.
    Range(Lit, Lit),
    /// Any variant of the enum.
    AnyVariant,
    /// `true` or `false`.
    Flip,
    /// Any subset of the legal references.
    AnySubset,
}

impl EvolveDefault {
    pub fn doc(self, ty: FieldType) -> String {
        match self {
            EvolveDefault::Never => "—".into(),
            EvolveDefault::Range(lo, hi) => format!("{lo}..{hi}"),
            EvolveDefault::AnyVariant => match ty {
                FieldType::Enum(vs) => format!("any of {}", vs.join(", ")),
                _ => "any variant".into(),
            },
            EvolveDefault::Flip => "true/false".into(),
            EvolveDefault::AnySubset => "any subset".into(),
        }
    }
}

/// One field of a section or a tool's option block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    /// The value used when the field is absent; `None` means "unset" (e.g. no seed).
    pub default: Option<Lit>,
    pub evolve: EvolveDefault,
    pub doc: &'static str,
}

/// A named argument of an action or detector: `retry(max = 2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: FieldType,
    /// All arguments are optional; this is the value when absent (`None`: see `doc`).
    pub default: Option<Lit>,
    pub doc: &'static str,
}

// ---------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectionSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
    pub doc: &'static str,
}

impl SectionSpec {
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const MS: u64 = 1;
const SEC: u64 = 1_000;
const MIN: u64 = 60_000;

pub const STRATEGIES: &[&str] = &["react", "plan_then_act", "reflect"];
pub const DECODINGS: &[&str] = &["free", "constrained"];
pub const OFFERS: &[&str] = &[
    "all",
    "untried",
    "untried_since_reward",
    "untried_since_change",
];
pub const COMPACTIONS: &[&str] = &[
    "none",
    "truncate_oldest",
    "summarize_oldest",
    "drop_observations",
];
/// The compaction strategies an explicit `compact(strategy = ..)` may ask for.
pub const COMPACT_STRATEGIES: &[&str] =
    &["summarize_oldest", "truncate_oldest", "drop_observations"];
pub const REPAIR_STRATEGIES: &[&str] = &["extract_action", "fuzzy_match", "json_fix"];
/// Built-in references for `context.pin` (declared prompt names are valid too).
pub const PIN_REFS: &[&str] = &["system", "task.goal", "tools", "admissible_actions"];

pub const MODEL_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "backend",
        ty: FieldType::Str,
        default: Some(Lit::Str("sim:small")),
        evolve: EvolveDefault::Never,
        doc: "which model: `sim:small|medium|large`, `replay:PATH`, `openai:URL#MODEL`",
    },
    FieldSpec {
        name: "temperature",
        ty: FieldType::Float { min: 0.0, max: 2.0 },
        default: Some(Lit::Float(0.2)),
        evolve: EvolveDefault::Range(Lit::Float(0.0), Lit::Float(1.0)),
        doc: "sampling temperature",
    },
    FieldSpec {
        name: "max_tokens",
        ty: FieldType::Int { min: 1, max: 32768 },
        default: Some(Lit::Int(256)),
        evolve: EvolveDefault::Range(Lit::Int(64), Lit::Int(1024)),
        doc: "the most tokens one reply may have",
    },
    FieldSpec {
        name: "top_p",
        ty: FieldType::Float { min: 0.0, max: 1.0 },
        default: None,
        evolve: EvolveDefault::Range(Lit::Float(0.5), Lit::Float(1.0)),
        doc: "nucleus sampling mass (unset: the backend's default)",
    },
    FieldSpec {
        name: "decoding",
        ty: FieldType::Enum(DECODINGS),
        default: Some(Lit::Variant("free")),
        evolve: EvolveDefault::AnyVariant,
        doc: "`constrained` sends the tools' JSON schema so replies are always valid calls",
    },
    FieldSpec {
        name: "offer",
        ty: FieldType::Enum(OFFERS),
        default: Some(Lit::Variant("all")),
        evolve: EvolveDefault::AnyVariant,
        doc: "which admissible actions the model is offered (in `{{admissible_actions}}` and as the constrained choice): `all`; `untried` (those this episode has not executed yet); `untried_since_reward` (not executed since the reward last rose, and never one that lost reward); `untried_since_change` (not executed since the environment's state last changed). When every one was tried, all but the last executed are offered again",
    },
    FieldSpec {
        name: "context_window",
        ty: FieldType::Tokens {
            min: 64,
            max: 10_000_000,
        },
        default: None,
        // A fact about the model, not a choice to evolve.
        evolve: EvolveDefault::Never,
        doc: "the model's context window: the prompt is compacted to fit it with room for `max_tokens`, whatever `context.budget` says (unset: only the budget applies)",
    },
    FieldSpec {
        name: "api_key_env",
        ty: FieldType::Str,
        default: None,
        evolve: EvolveDefault::Never,
        doc: "name of the environment variable holding the API key (never the key itself)",
    },
    FieldSpec {
        name: "seed",
        ty: FieldType::Int {
            min: 0,
            max: i64::MAX,
        },
        default: None,
        evolve: EvolveDefault::Never,
        doc: "a fixed sampling seed, where the backend supports one (unset: the episode's seed)",
    },
    FieldSpec {
        name: "timeout",
        ty: FieldType::Duration {
            min_ms: MS,
            max_ms: 10 * MIN,
        },
        default: None,
        evolve: EvolveDefault::Range(Lit::DurationMs(5 * SEC), Lit::DurationMs(5 * MIN)),
        doc: "how long one model request may take (unset: no limit of the harness's own)",
    },
    FieldSpec {
        name: "requests_per_second",
        ty: FieldType::Float {
            min: 0.01,
            max: 1_000_000.0,
        },
        default: None,
        evolve: EvolveDefault::Never,
        doc: "the most requests per second sent to the model's endpoint, by all episodes in flight together (HTTP backends; unset: no limit)",
    },
    FieldSpec {
        name: "tokens_per_minute",
        ty: FieldType::Int {
            min: 1,
            max: 1_000_000_000_000,
        },
        default: None,
        evolve: EvolveDefault::Never,
        doc: "the most tokens per minute (prompt and reply) sent to the model's endpoint, by all episodes in flight together (HTTP backends; unset: no limit)",
    },
];

pub const LOOP_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "max_steps",
        ty: FieldType::Int { min: 1, max: 1000 },
        default: Some(Lit::Int(30)),
        evolve: EvolveDefault::Range(Lit::Int(5), Lit::Int(100)),
        doc: "the episode ends after this many steps",
    },
    FieldSpec {
        name: "strategy",
        ty: FieldType::Enum(STRATEGIES),
        default: Some(Lit::Variant("react")),
        evolve: EvolveDefault::AnyVariant,
        doc: "`react`: act every step; `plan_then_act`: one planning step first; `reflect`: a reflection step every `reflect_every` steps",
    },
    FieldSpec {
        name: "reflect_every",
        ty: FieldType::Int { min: 1, max: 100 },
        default: Some(Lit::Int(3)),
        evolve: EvolveDefault::Range(Lit::Int(2), Lit::Int(20)),
        doc: "steps between reflections (only with `strategy = reflect`)",
    },
];

pub const CONTEXT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "budget",
        ty: FieldType::Tokens {
            min: 64,
            max: 1_000_000,
        },
        default: Some(Lit::Tokens(2000)),
        evolve: EvolveDefault::Range(Lit::Tokens(512), Lit::Tokens(8192)),
        doc: "the prompt is compacted to stay within this many tokens",
    },
    FieldSpec {
        name: "compaction",
        ty: FieldType::Enum(COMPACTIONS),
        default: Some(Lit::Variant("truncate_oldest")),
        evolve: EvolveDefault::AnyVariant,
        doc: "how the history is shrunk when over budget",
    },
    FieldSpec {
        name: "pin",
        ty: FieldType::RefList(PIN_REFS),
        default: Some(Lit::Refs(&["system", "task.goal"])),
        evolve: EvolveDefault::AnySubset,
        doc: "parts of the prompt compaction never removes",
    },
    FieldSpec {
        name: "keep_last",
        ty: FieldType::Int { min: 0, max: 100 },
        default: Some(Lit::Int(4)),
        evolve: EvolveDefault::Range(Lit::Int(0), Lit::Int(20)),
        doc: "the most recent steps compaction never touches",
    },
];

pub const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        name: "model",
        fields: MODEL_FIELDS,
        doc: "the model backend and its sampling settings",
    },
    SectionSpec {
        name: "loop",
        fields: LOOP_FIELDS,
        doc: "the step loop",
    },
    SectionSpec {
        name: "context",
        fields: CONTEXT_FIELDS,
        doc: "the context window budget and compaction",
    },
];

pub fn section(name: &str) -> Option<&'static SectionSpec> {
    SECTIONS.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

/// Base type names of tool parameters (`[T]`, `T?` and `enum(..)` build on these).
pub const PARAM_TYPES: &[&str] = &["string", "int", "float", "bool", "duration", "tokens"];

pub const TOOL_OPTIONS: &[FieldSpec] = &[
    FieldSpec {
        name: "timeout",
        ty: FieldType::Duration {
            min_ms: MS,
            max_ms: 10 * MIN,
        },
        default: None,
        evolve: EvolveDefault::Range(Lit::DurationMs(100 * MS), Lit::DurationMs(30 * SEC)),
        doc: "a call running longer fails with a timeout (unset: no timeout)",
    },
    FieldSpec {
        name: "retries",
        ty: FieldType::Int { min: 0, max: 10 },
        default: Some(Lit::Int(0)),
        evolve: EvolveDefault::Range(Lit::Int(0), Lit::Int(5)),
        doc: "transparent retries of a failed call before the model sees the error",
    },
    FieldSpec {
        name: "verifies",
        ty: FieldType::Bool,
        default: Some(Lit::Bool(false)),
        evolve: EvolveDefault::Never,
        doc: "a successful call of this tool makes the `verified` detector true",
    },
];

pub fn tool_option(name: &str) -> Option<&'static FieldSpec> {
    TOOL_OPTIONS.iter().find(|f| f.name == name)
}

// ---------------------------------------------------------------------------------------
// Conditions: detectors, metrics, match subjects
// ---------------------------------------------------------------------------------------

/// What a detector takes in parentheses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DetectorArgs {
    /// No arguments.
    None,
    /// Optional named arguments.
    Named(&'static [ArgSpec]),
    /// Exactly one positional argument: the name of a declared tool.
    Tool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorSpec {
    pub name: &'static str,
    pub args: DetectorArgs,
    pub hooks: HookSet,
    pub doc: &'static str,
}

const ARG_COUNT_RANGE: FieldType = FieldType::Int { min: 2, max: 50 };

pub const REPEATED_ACTION_ARGS: &[ArgSpec] = &[
    ArgSpec {
        name: "window",
        ty: ARG_COUNT_RANGE,
        default: Some(Lit::Int(4)),
        doc: "how many recent actions to look at",
    },
    ArgSpec {
        name: "count",
        ty: ARG_COUNT_RANGE,
        default: Some(Lit::Int(3)),
        doc: "how often one action must occur in the window (≤ `window`)",
    },
];

pub const DETECTORS: &[DetectorSpec] = &[
    DetectorSpec {
        name: "malformed_call",
        args: DetectorArgs::None,
        hooks: HookSet::of(&[AfterModel]),
        doc: "the model's reply does not parse as one call of a declared tool",
    },
    DetectorSpec {
        name: "repeated_action",
        args: DetectorArgs::Named(REPEATED_ACTION_ARGS),
        hooks: HookSet::of(&[StepStart, BeforeModel, BeforeTool, AfterTool, StepEnd]),
        doc: "one action occurs `count` times among the last `window` actions",
    },
    DetectorSpec {
        name: "tool_error",
        args: DetectorArgs::None,
        hooks: HookSet::of(&[AfterTool, StepEnd]),
        doc: "the last tool call failed",
    },
    DetectorSpec {
        name: "tool_timeout",
        args: DetectorArgs::None,
        hooks: HookSet::of(&[AfterTool, StepEnd]),
        doc: "the last tool call timed out",
    },
    DetectorSpec {
        name: "call",
        args: DetectorArgs::Tool,
        hooks: HookSet::of(&[BeforeTool, AfterTool]),
        doc: "the current tool call is a call of the named tool",
    },
    DetectorSpec {
        name: "verified",
        args: DetectorArgs::None,
        hooks: HookSet::ALL,
        doc: "a tool marked `verifies = true` has succeeded since the last state change",
    },
];

pub fn detector(name: &str) -> Option<&'static DetectorSpec> {
    DETECTORS.iter().find(|d| d.name == name)
}

/// A number compared in `METRIC OP VALUE`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub hooks: HookSet,
    /// Whether `1200 tokens` is accepted besides a plain int.
    pub tokens: bool,
    pub doc: &'static str,
}

pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: "step",
        hooks: HookSet::ALL,
        tokens: false,
        doc: "the current step, from 1",
    },
    MetricSpec {
        name: "context_tokens",
        hooks: HookSet::ALL,
        tokens: true,
        doc: "tokens in the prompt as it stands",
    },
    MetricSpec {
        name: "tokens_used",
        hooks: HookSet::ALL,
        tokens: true,
        doc: "tokens spent so far in the episode (prompts and replies)",
    },
    MetricSpec {
        name: "consecutive_errors",
        hooks: HookSet::of(&[AfterTool, StepEnd, StepStart, BeforeModel]),
        tokens: false,
        doc: "failed tool calls in a row",
    },
];

pub fn metric(name: &str) -> Option<&'static MetricSpec> {
    METRICS.iter().find(|m| m.name == name)
}

/// A text matched in `SUBJECT matches "regex"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubjectSpec {
    pub name: &'static str,
    pub hooks: HookSet,
    pub doc: &'static str,
}

pub const SUBJECTS: &[SubjectSpec] = &[
    SubjectSpec {
        name: "output",
        hooks: HookSet::of(&[AfterModel, BeforeTool, AfterTool, StepEnd]),
        doc: "the model's latest reply",
    },
    SubjectSpec {
        name: "observation",
        hooks: HookSet::of(&[AfterTool, StepEnd, StepStart, BeforeModel]),
        doc: "the latest observation (tool result or error)",
    },
    SubjectSpec {
        name: "goal",
        hooks: HookSet::ALL,
        doc: "the task's goal text",
    },
];

pub fn subject(name: &str) -> Option<&'static SubjectSpec> {
    SUBJECTS.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------

/// What the checker and the docs need of a [`ProcessorKind`] (how an action acts on the
/// event of its hook).
pub trait ProcessorKindExt: Sized + 'static {
    /// Every kind, in the order the docs list them.
    const ALL: [Self; 5];
    /// The kind's name in the docs and in messages (`pass-through`).
    fn name(self) -> &'static str;
    /// What an action of this kind does to the event, for the docs.
    fn doc(self) -> &'static str;
    /// Whether an action of this kind changes the trajectory (and so is refused on
    /// read-only hooks).
    fn changes_trajectory(self) -> bool;
}

impl ProcessorKindExt for ProcessorKind {
    const ALL: [ProcessorKind; 5] = [
        ProcessorKind::PassThrough,
        ProcessorKind::Transform,
        ProcessorKind::Split,
        ProcessorKind::Intercept,
        ProcessorKind::Interrupt,
    ];

    fn name(self) -> &'static str {
        match self {
            ProcessorKind::PassThrough => "pass-through",
            ProcessorKind::Transform => "transform",
            ProcessorKind::Split => "split",
            ProcessorKind::Intercept => "intercept",
            ProcessorKind::Interrupt => "interrupt",
        }
    }

    fn doc(self) -> &'static str {
        match self {
            ProcessorKind::PassThrough => "observes only",
            ProcessorKind::Transform => "rewrites the event's payload",
            ProcessorKind::Split => "one event becomes several attempts",
            ProcessorKind::Intercept => "the event is replaced by a synthesized result",
            ProcessorKind::Interrupt => "ends the episode",
        }
    }

    fn changes_trajectory(self) -> bool {
        !matches!(self, ProcessorKind::PassThrough)
    }
}

/// The bare argument after an action's name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MessageSpec {
    /// The action takes none.
    None,
    /// A string, which is a template (`{{vars}}` allowed).
    Text,
    /// A bare name out of this set (`repair extract_action`).
    Variant(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionSpec {
    pub name: &'static str,
    pub kind: ProcessorKind,
    pub hooks: HookSet,
    /// The bare argument; when not `None` it is required.
    pub message: MessageSpec,
    /// Optional named arguments in parentheses.
    pub args: &'static [ArgSpec],
    /// Whether the action can fail to take effect, and so may have an `otherwise`.
    pub can_fail: bool,
    /// The form shown in docs.
    pub usage: &'static str,
    pub doc: &'static str,
}

pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "log",
        kind: ProcessorKind::PassThrough,
        hooks: HookSet::ALL,
        message: MessageSpec::Text,
        args: &[],
        can_fail: false,
        usage: "log \"msg\"",
        doc: "writes the message to the trace",
    },
    ActionSpec {
        name: "inject",
        kind: ProcessorKind::Transform,
        hooks: HookSet::of(&[
            TaskStart,
            StepStart,
            BeforeModel,
            AfterModel,
            BeforeTool,
            AfterTool,
        ]),
        message: MessageSpec::Text,
        args: &[],
        can_fail: false,
        usage: "inject \"msg\"",
        doc: "adds the message to the context the model sees next",
    },
    ActionSpec {
        name: "compact",
        kind: ProcessorKind::Transform,
        hooks: HookSet::of(&[StepStart, BeforeModel]),
        message: MessageSpec::None,
        args: &[ArgSpec {
            name: "strategy",
            ty: FieldType::Enum(COMPACT_STRATEGIES),
            default: None,
            doc: "how to shrink the history now (absent: `context.compaction`, or `truncate_oldest` when that is `none`)",
        }],
        can_fail: false,
        usage: "compact  |  compact(strategy = S)",
        doc: "shrinks the history now, whatever the budget",
    },
    ActionSpec {
        name: "repair",
        kind: ProcessorKind::Transform,
        hooks: HookSet::of(&[AfterModel]),
        message: MessageSpec::Variant(REPAIR_STRATEGIES),
        args: &[],
        can_fail: true,
        usage: "repair STRATEGY",
        doc: "rewrites a malformed reply into a valid call; fails when none can be recovered",
    },
    ActionSpec {
        name: "reprompt",
        kind: ProcessorKind::Split,
        hooks: HookSet::of(&[AfterModel]),
        message: MessageSpec::Text,
        args: &[ArgSpec {
            name: "max",
            ty: FieldType::Int { min: 1, max: 5 },
            default: Some(Lit::Int(1)),
            doc: "how many extra model calls at most",
        }],
        can_fail: false,
        usage: "reprompt \"msg\"  |  reprompt(max = N) \"msg\"",
        doc: "asks the model again with the message appended",
    },
    ActionSpec {
        name: "retry",
        kind: ProcessorKind::Split,
        hooks: HookSet::of(&[AfterTool]),
        message: MessageSpec::None,
        args: &[
            ArgSpec {
                name: "max",
                ty: FieldType::Int { min: 1, max: 10 },
                default: Some(Lit::Int(2)),
                doc: "how many more attempts at most",
            },
            ArgSpec {
                name: "backoff",
                ty: FieldType::Duration {
                    min_ms: 0,
                    max_ms: MIN,
                },
                default: Some(Lit::DurationMs(100 * MS)),
                doc: "wait before the first retry, doubled each time",
            },
        ],
        can_fail: true,
        usage: "retry  |  retry(max = N, backoff = D)",
        doc: "runs the tool call again; fails when every attempt failed",
    },
    ActionSpec {
        name: "block",
        kind: ProcessorKind::Intercept,
        hooks: HookSet::of(&[BeforeModel, BeforeTool]),
        message: MessageSpec::Text,
        args: &[],
        can_fail: false,
        usage: "block \"msg\"",
        doc: "does not run the model or tool; the message becomes the result",
    },
    ActionSpec {
        name: "stop",
        kind: ProcessorKind::Interrupt,
        hooks: HookSet::of(&[
            TaskStart,
            StepStart,
            BeforeModel,
            AfterModel,
            BeforeTool,
            AfterTool,
        ]),
        message: MessageSpec::Text,
        args: &[],
        can_fail: false,
        usage: "stop \"reason\"",
        doc: "ends the episode (as a failure) with the reason in the trace",
    },
];

pub fn action(name: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.name == name)
}

// ---------------------------------------------------------------------------------------
// Template variables
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Str,
    Int,
    /// Multi-line text rendered by the runtime (tool list, history, ...).
    Text,
}

impl VarType {
    pub const fn name(self) -> &'static str {
        match self {
            VarType::Str => "string",
            VarType::Int => "int",
            VarType::Text => "text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarSpec {
    pub name: &'static str,
    pub ty: VarType,
    pub doc: &'static str,
}

pub const TEMPLATE_VARS: &[VarSpec] = &[
    VarSpec {
        name: "task.goal",
        ty: VarType::Str,
        doc: "the task's goal",
    },
    VarSpec {
        name: "task.id",
        ty: VarType::Str,
        doc: "the task's identifier",
    },
    VarSpec {
        name: "step",
        ty: VarType::Int,
        doc: "the current step, from 1",
    },
    VarSpec {
        name: "max_steps",
        ty: VarType::Int,
        doc: "`loop.max_steps`",
    },
    VarSpec {
        name: "tools",
        ty: VarType::Text,
        doc: "the tools with their signatures and descriptions",
    },
    VarSpec {
        name: "admissible_actions",
        ty: VarType::Text,
        doc: "the actions the environment accepts now, where it lists them (else empty)",
    },
    VarSpec {
        name: "observation",
        ty: VarType::Text,
        doc: "the latest observation (empty before the first)",
    },
    VarSpec {
        name: "history",
        ty: VarType::Text,
        doc: "the steps so far, after compaction",
    },
];

pub fn template_var(name: &str) -> Option<&'static VarSpec> {
    TEMPLATE_VARS.iter().find(|v| v.name == name)
}

// ---------------------------------------------------------------------------------------
// Annotations
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnotationSpec {
    pub name: &'static str,
    pub on_fields: bool,
    pub on_items: bool,
    /// Named arguments it accepts.
    pub args: &'static [&'static str],
    pub doc: &'static str,
}

pub const ANNOTATIONS: &[AnnotationSpec] = &[
    AnnotationSpec {
        name: "frozen",
        on_fields: true,
        on_items: true,
        args: &[],
        doc: "the evolver must not change this field or item",
    },
    AnnotationSpec {
        name: "evolve",
        on_fields: true,
        on_items: false,
        args: &["range", "choices"],
        doc: "the evolver may change this field within the given (or built-in) bounds",
    },
];

pub fn annotation(name: &str) -> Option<&'static AnnotationSpec> {
    ANNOTATIONS.iter().find(|a| a.name == name)
}

// ---------------------------------------------------------------------------------------
// Required items
// ---------------------------------------------------------------------------------------

/// Every harness declares `prompt system`.
pub const SYSTEM_PROMPT: &str = "system";

#[cfg(test)]
mod tests {
    use super::*;

    /// The checker's action table and the runtime's `ActionKind` describe the same
    /// actions twice (the table adds argument specs and docs). This pins them together:
    /// the set of actions, each action's legal hooks and its processor kind.
    #[test]
    fn tables_agree_with_the_runtime_ir() {
        use harnessx_runtime::ir as rt;
        let kinds = [
            rt::ActionKind::Log(vec![]),
            rt::ActionKind::Inject(vec![]),
            rt::ActionKind::Compact(None),
            rt::ActionKind::Repair(rt::RepairStrategy::JsonFix),
            rt::ActionKind::Reprompt {
                message: vec![],
                max: 1,
            },
            rt::ActionKind::Retry {
                max: 1,
                backoff_ms: 0,
            },
            rt::ActionKind::Block(vec![]),
            rt::ActionKind::Stop(vec![]),
        ];
        let mut checker_names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        let mut runtime_names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        checker_names.sort_unstable();
        runtime_names.sort_unstable();
        assert_eq!(checker_names, runtime_names, "action sets differ");

        for k in &kinds {
            let spec = action(k.name()).expect("listed above");
            for h in Hook::ALL {
                assert_eq!(
                    spec.hooks.contains(h),
                    k.is_legal_at(h),
                    "`{}` at {}: checker and runtime disagree",
                    k.name(),
                    h.as_str()
                );
            }
            assert_eq!(
                spec.kind,
                k.processor_kind(),
                "`{}`: processor kinds differ",
                k.name()
            );
        }
    }

    #[test]
    fn hook_bits_are_distinct_and_every_kind_is_listed() {
        for (i, h) in Hook::ALL.into_iter().enumerate() {
            assert_eq!(h as usize, i, "{} is not at its position", h.as_str());
        }
        assert_eq!(HookSet::of(&Hook::ALL), HookSet::ALL);
        for k in ProcessorKind::ALL {
            // A kind added to the IR fails to compile here until it is listed in `ALL`.
            let position = match k {
                ProcessorKind::PassThrough => 0,
                ProcessorKind::Transform => 1,
                ProcessorKind::Split => 2,
                ProcessorKind::Intercept => 3,
                ProcessorKind::Interrupt => 4,
            };
            assert_eq!(ProcessorKind::ALL[position], k);
        }
    }

    #[test]
    fn hook_names_round_trip() {
        for h in Hook::ALL {
            assert_eq!(Hook::from_name(h.as_str()), Some(h));
        }
        assert_eq!(Hook::from_name("nope"), None);
    }

    #[test]
    fn read_only_hooks_allow_only_pass_through_actions() {
        for a in ACTIONS {
            for h in Hook::ALL.into_iter().filter(|h| h.is_read_only()) {
                if a.hooks.contains(h) {
                    assert_eq!(
                        a.kind,
                        ProcessorKind::PassThrough,
                        "{} on {}",
                        a.name,
                        h.as_str()
                    );
                }
            }
        }
    }

    #[test]
    fn defaults_and_evolve_bounds_fit_their_fields() {
        let all = SECTIONS
            .iter()
            .flat_map(|s| s.fields.iter())
            .chain(TOOL_OPTIONS.iter());
        for f in all {
            if let Some(d) = f.default {
                assert!(lit_fits(f.ty, d), "default of {}", f.name);
            }
            if let EvolveDefault::Range(lo, hi) = f.evolve {
                assert!(f.ty.is_numeric(), "{}", f.name);
                assert!(
                    lit_fits(f.ty, lo) && lit_fits(f.ty, hi),
                    "bounds of {}",
                    f.name
                );
                let (lo, hi) = (lo.num().expect("numeric"), hi.num().expect("numeric"));
                assert!(lo < hi, "{}", f.name);
                if let Some(d) = f.default {
                    let d = d.num().expect("numeric");
                    assert!(lo <= d && d <= hi, "{}", f.name);
                }
            }
        }
        for a in ACTIONS
            .iter()
            .flat_map(|a| a.args.iter())
            .chain(REPEATED_ACTION_ARGS)
        {
            if let Some(d) = a.default {
                assert!(lit_fits(a.ty, d), "{}", a.name);
            }
        }
    }

    fn lit_fits(ty: FieldType, l: Lit) -> bool {
        match (ty, l) {
            (FieldType::Str, Lit::Str(_)) | (FieldType::Bool, Lit::Bool(_)) => true,
            (FieldType::Int { min, max }, Lit::Int(i)) => min <= i && i <= max,
            (FieldType::Float { min, max }, Lit::Float(x)) => min <= x && x <= max,
            (FieldType::Duration { min_ms, max_ms }, Lit::DurationMs(m)) => {
                min_ms <= m && m <= max_ms
            }
            (FieldType::Tokens { min, max }, Lit::Tokens(t)) => min <= t && t <= max,
            (FieldType::Enum(vs), Lit::Variant(v)) => vs.contains(&v),
            (FieldType::RefList(rs), Lit::Refs(xs)) => xs.iter().all(|x| rs.contains(x)),
            _ => false,
        }
    }
}
