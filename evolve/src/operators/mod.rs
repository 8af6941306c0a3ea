//! The Evolver's typed operators over `harnessx_syntax::File`.
//!
//! Each operator lives in its own module with two functions:
//! `applicable(&File, &Target) -> bool` and `apply(&File, &mut Rng, &Target) ->
//! Option<Candidate>`. Both enumerate the same concrete options, so `applicable` is true
//! exactly when `apply` has something to draw from. Operators edit the tree, never text;
//! the candidate's source comes from the printer.
//!
//! Guarantees, by construction and re-checked by [`verify`] before [`propose`] returns a
//! candidate: nothing `@frozen` (an item, or a field) changes; numbers and variants stay
//! within their `@evolve` bounds (else the schema's built-in ones); the candidate checks
//! with no error and no new warning; its source is in canonical form.

pub mod add_pin;
pub mod bounds;
pub mod candidate;
pub mod insert_rule;
pub mod node;
pub mod provenance;
pub mod remove_rule;
pub mod replace_action;
pub mod rng;
pub mod rule_library;
pub mod set_number;
pub mod swap_fragment;
pub mod switch_enum;
pub mod tool_reliability;
pub mod tune_rule;

use harnessx_syntax::File;

pub use candidate::{verify, Candidate, Rejection, Target};
pub use provenance::annotate;
pub use rng::Rng;

use crate::manifest::{FailureClass, OperatorId};

/// Whether `op` has anything to change in `file` for `target`.
pub fn applicable(op: OperatorId, file: &File, target: &Target) -> bool {
    match op {
        OperatorId::SetNumber => set_number::applicable(file, target),
        OperatorId::SwitchEnum => switch_enum::applicable(file, target),
        OperatorId::InsertRule => insert_rule::applicable(file, target),
        OperatorId::RemoveRule => remove_rule::applicable(file, target),
        OperatorId::ReplaceAction => replace_action::applicable(file, target),
        OperatorId::TuneRule => tune_rule::applicable(file, target),
        OperatorId::SwapFragment => swap_fragment::applicable(file, target),
        OperatorId::ToolReliability => tool_reliability::applicable(file, target),
        OperatorId::AddPin => add_pin::applicable(file, target),
        // Not a typed operator: the round asks `crate::proposer` instead.
        OperatorId::Proposer => false,
    }
}

/// Runs `op` once, without the final verification (see [`propose`]).
pub fn apply(op: OperatorId, file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    match op {
        OperatorId::SetNumber => set_number::apply(file, rng, target),
        OperatorId::SwitchEnum => switch_enum::apply(file, rng, target),
        OperatorId::InsertRule => insert_rule::apply(file, rng, target),
        OperatorId::RemoveRule => remove_rule::apply(file, rng, target),
        OperatorId::ReplaceAction => replace_action::apply(file, rng, target),
        OperatorId::TuneRule => tune_rule::apply(file, rng, target),
        OperatorId::SwapFragment => swap_fragment::apply(file, rng, target),
        OperatorId::ToolReliability => tool_reliability::apply(file, rng, target),
        OperatorId::AddPin => add_pin::apply(file, rng, target),
        OperatorId::Proposer => None,
    }
}

/// Why [`try_propose`] returned no candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum NoCandidate {
    /// The operator has nothing to change here.
    NotApplicable,
    /// It had options but drew nothing usable (a number already at its bound, say).
    Nothing,
    /// It produced a candidate that failed verification: an operator bug. Tests require
    /// this never to happen on the examples.
    Rejected(Rejection),
}

/// Runs `op` and verifies the result.
pub fn try_propose(
    file: &File,
    target: &Target,
    op: OperatorId,
    rng: &mut Rng,
) -> Result<Candidate, NoCandidate> {
    if !applicable(op, file, target) {
        return Err(NoCandidate::NotApplicable);
    }
    let cand = apply(op, file, rng, target).ok_or(NoCandidate::Nothing)?;
    verify(file, &cand).map_err(NoCandidate::Rejected)?;
    Ok(cand)
}

/// One verified candidate of `op` against `class`, with no evidence attached.
pub fn propose(
    file: &File,
    class: FailureClass,
    op: OperatorId,
    rng: &mut Rng,
) -> Option<Candidate> {
    propose_for(file, &Target::new(class), op, rng)
}

/// One verified candidate of `op` for `target` (class and evidence).
pub fn propose_for(
    file: &File,
    target: &Target,
    op: OperatorId,
    rng: &mut Rng,
) -> Option<Candidate> {
    try_propose(file, target, op, rng).ok()
}

/// The operators worth trying against a failure class, most promising first: the
/// planner's arms for that class.
pub fn operators_for(class: FailureClass) -> &'static [OperatorId] {
    use FailureClass::*;
    use OperatorId::*;
    match class {
        MalformedCall => &[
            InsertRule,
            SwitchEnum,
            ReplaceAction,
            SwapFragment,
            SetNumber,
            TuneRule,
            AddPin,
        ],
        Loop => &[
            InsertRule,
            TuneRule,
            SwitchEnum,
            SwapFragment,
            SetNumber,
            ReplaceAction,
        ],
        ToolErrorIgnored => &[
            InsertRule,
            ToolReliability,
            ReplaceAction,
            TuneRule,
            SwapFragment,
            SwitchEnum,
            SetNumber,
        ],
        ToolTimeout => &[ToolReliability, InsertRule, TuneRule, SwapFragment],
        StepBudget => &[
            SetNumber,
            InsertRule,
            TuneRule,
            SwitchEnum,
            SwapFragment,
            RemoveRule,
        ],
        PrematureFinish => &[
            InsertRule,
            ReplaceAction,
            SwapFragment,
            SwitchEnum,
            TuneRule,
            SetNumber,
        ],
        ContextOverflow => &[
            AddPin,
            SetNumber,
            SwitchEnum,
            InsertRule,
            TuneRule,
            SwapFragment,
            RemoveRule,
        ],
        WrongAction => &[
            SwitchEnum,
            SwapFragment,
            InsertRule,
            AddPin,
            ReplaceAction,
            TuneRule,
            RemoveRule,
            SetNumber,
        ],
        Unknown => &OperatorId::ALL,
    }
}

/// Every operator, for random mutation search.
pub fn all() -> &'static [OperatorId] {
    &OperatorId::ALL
}

/// The operators that only touch prompt text (the prompt-only baseline arm).
pub fn prompt_only() -> &'static [OperatorId] {
    &[OperatorId::SwapFragment]
}
