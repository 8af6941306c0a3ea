//! Candidate manifests and the failure catalog's classes.
//!
//! A [`Manifest`] is what a reviewer (and the gate's report) reads about one candidate:
//! which operator made it, for which failure class, which nodes changed (paths in the
//! scheme of `harnessx_syntax::paths`), their printed text before and after, the evidence
//! the planner passed in, and a predicted impact. It is plain data, serialised with serde.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a failed episode failed: the failure catalog's classes (see `digest` for how an
/// episode is assigned one). Ordered, so maps keyed by it iterate deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    MalformedCall,
    Loop,
    ToolErrorIgnored,
    ToolTimeout,
    StepBudget,
    PrematureFinish,
    ContextOverflow,
    WrongAction,
    Unknown,
}

impl FailureClass {
    pub const ALL: [FailureClass; 9] = [
        FailureClass::MalformedCall,
        FailureClass::Loop,
        FailureClass::ToolErrorIgnored,
        FailureClass::ToolTimeout,
        FailureClass::StepBudget,
        FailureClass::PrematureFinish,
        FailureClass::ContextOverflow,
        FailureClass::WrongAction,
        FailureClass::Unknown,
    ];

    /// The snake_case name, as serialised.
    pub const fn name(self) -> &'static str {
        match self {
            FailureClass::MalformedCall => "malformed_call",
            FailureClass::Loop => "loop",
            FailureClass::ToolErrorIgnored => "tool_error_ignored",
            FailureClass::ToolTimeout => "tool_timeout",
            FailureClass::StepBudget => "step_budget",
            FailureClass::PrematureFinish => "premature_finish",
            FailureClass::ContextOverflow => "context_overflow",
            FailureClass::WrongAction => "wrong_action",
            FailureClass::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> Option<FailureClass> {
        FailureClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Evolver's typed operators. The planner keys its bandit arms on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorId {
    /// A numeric section field within its `@evolve` (or built-in) bounds.
    SetNumber,
    /// An enum section field (`strategy`, `compaction`, `decoding`) within its choices.
    SwitchEnum,
    /// A rule from the rule library for the failure class.
    InsertRule,
    /// Drops a rule.
    RemoveRule,
    /// Changes one action of a rule (kind, strategy, message, fallback).
    ReplaceAction,
    /// Numbers inside a rule: detector arguments, comparison thresholds, action arguments.
    TuneRule,
    /// Inserts, replaces or removes an instruction line of the system prompt.
    SwapFragment,
    /// A tool's `timeout` or `retries`.
    ToolReliability,
    /// A reference added to `context.pin`.
    AddPin,
    /// The open-ended proposer: a model asked for a whole new version of the harness
    /// (`--proposer`, see `crate::proposer`). Not one of [`OperatorId::ALL`], the typed
    /// operators the planner's arms and random search draw from.
    Proposer,
}

impl OperatorId {
    pub const ALL: [OperatorId; 9] = [
        OperatorId::SetNumber,
        OperatorId::SwitchEnum,
        OperatorId::InsertRule,
        OperatorId::RemoveRule,
        OperatorId::ReplaceAction,
        OperatorId::TuneRule,
        OperatorId::SwapFragment,
        OperatorId::ToolReliability,
        OperatorId::AddPin,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            OperatorId::SetNumber => "set_number",
            OperatorId::SwitchEnum => "switch_enum",
            OperatorId::InsertRule => "insert_rule",
            OperatorId::RemoveRule => "remove_rule",
            OperatorId::ReplaceAction => "replace_action",
            OperatorId::TuneRule => "tune_rule",
            OperatorId::SwapFragment => "swap_fragment",
            OperatorId::ToolReliability => "tool_reliability",
            OperatorId::AddPin => "add_pin",
            OperatorId::Proposer => "proposer",
        }
    }

    pub fn from_name(name: &str) -> Option<OperatorId> {
        OperatorId::ALL
            .into_iter()
            .chain([OperatorId::Proposer])
            .find(|o| o.name() == name)
    }

    /// Operators that only edit prompt text (the "prompt-only evolution" baseline arm).
    pub const fn prompt_only(self) -> bool {
        matches!(self, OperatorId::SwapFragment)
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a node changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The node exists in both; `path` names it in both.
    Modified,
    /// New in the candidate; `path` names it in the candidate.
    Inserted,
    /// Gone from the candidate; `path` names it in the parent.
    Removed,
}

/// One changed node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// A node path (`loop.max_steps`, `rules[2].when.count`, `prompts.system.text`).
    pub path: String,
    /// The node as printed in the parent (`None` when inserted).
    pub before: Option<String>,
    /// The node as printed in the candidate (`None` when removed).
    pub after: Option<String>,
}

/// What the operator expects the change to do: a sentence and a guess of the change in
/// train success rate (e.g. `0.05` for +5 points). A prior, not a measurement: the gate
/// measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    pub summary: String,
    pub success_delta: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub operator: OperatorId,
    pub class: FailureClass,
    /// One line: what changed, e.g. "loop.max_steps 30 -> 40".
    pub summary: String,
    pub changes: Vec<Change>,
    /// Paths of the items (sections, prompts, tools, rules) of the candidate that changed,
    /// without repeats, in source order: where provenance comments go. A removed rule has
    /// no item left to carry one.
    pub changed_paths: Vec<String>,
    /// What the planner saw (trace excerpts, episode ids); its length is the evidence count.
    pub evidence: Vec<String>,
    pub predicted: Impact,
    /// The proposer's one-line reason for its edit (`None` for the typed operators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}
