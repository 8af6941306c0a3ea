//! Rule dispatch: the [`RuleSet`] trait and its interpreter, [`InterpretedRules`].
//!
//! The engine does not know how rules are represented. At each hook it calls
//! [`RuleSet::fire`] with a [`HookCtx`]; the rule set evaluates its conditions over
//! [`HookCtx::state`] and calls the ctx's action methods. [`InterpretedRules`] walks the
//! IR's `CondIr`/`ActionIr`; generated code implements the same trait with each rule
//! compiled to straight-line Rust, e.g. for
//! `on after_model when malformed_call { repair extract_action otherwise reprompt "..." }`:
//!
//! ```
//! use harnessx_runtime::{detect, hooks::HookCtx, ir::{Hook, RepairStrategy}, rules::RuleSet};
//!
//! struct Compiled;
//! impl RuleSet for Compiled {
//!     fn fire(&self, hook: Hook, ctx: &mut HookCtx<'_, '_>) {
//!         if hook == Hook::AfterModel {
//!             if !ctx.begin_rule(0, None) {
//!                 return;
//!             }
//!             if detect::malformed_call(ctx.state()) && !ctx.repair(RepairStrategy::ExtractAction) {
//!                 ctx.reprompt("Reply with one action.", 1);
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Because both go through the same ctx methods — which do all the work and all the
//! tracing — an interpreted and a compiled rule set that make the same calls in the same
//! order produce identical traces. The contract for an implementation:
//!
//! 1. visit the rules of `hook` in declaration order, calling [`HookCtx::begin_rule`] with
//!    the rule's index among *all* rules before evaluating it, and stop when it returns
//!    false;
//! 2. evaluate `when` with the [`crate::detect`] functions (absent `when` = true);
//! 3. if it holds, run the actions in order, each with [`HookCtx::apply`] or the matching
//!    method, and run an action's fallback exactly when the action returned false.

use std::collections::BTreeMap;

use regex::Regex;

use crate::detect;
use crate::hooks::HookCtx;
use crate::ir::{ActionIr, CondIr, HarnessIr, Hook};
use crate::state::EpisodeState;

pub trait RuleSet {
    fn fire(&self, hook: Hook, ctx: &mut HookCtx<'_, '_>);
}

/// A rule set with no rules.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRules;

impl RuleSet for NoRules {
    fn fire(&self, _: Hook, _: &mut HookCtx<'_, '_>) {}
}

/// Runs the rules of an IR directly.
#[derive(Debug, Clone)]
pub struct InterpretedRules<'ir> {
    ir: &'ir HarnessIr,
    /// `matches` patterns compiled once; `None` for an invalid pattern (condition false).
    patterns: BTreeMap<String, Option<Regex>>,
}

impl<'ir> InterpretedRules<'ir> {
    pub fn new(ir: &'ir HarnessIr) -> Self {
        let mut patterns = BTreeMap::new();
        for rule in &ir.rules {
            if let Some(c) = &rule.when {
                collect_patterns(c, &mut patterns);
            }
        }
        InterpretedRules { ir, patterns }
    }

    pub fn eval(&self, cond: &CondIr, s: &EpisodeState) -> bool {
        match cond {
            CondIr::And(cs) => cs.iter().all(|c| self.eval(c, s)),
            CondIr::Or(cs) => cs.iter().any(|c| self.eval(c, s)),
            CondIr::Not(c) => !self.eval(c, s),
            CondIr::MalformedCall => detect::malformed_call(s),
            CondIr::RepeatedAction { window, count } => detect::repeated_action(s, *window, *count),
            CondIr::ToolError => detect::tool_error(s),
            CondIr::ToolTimeout => detect::tool_timeout(s),
            CondIr::Call(tool) => detect::call(s, tool),
            CondIr::Verified => detect::verified(s),
            CondIr::Compare { metric, op, value } => op.eval(detect::metric(s, *metric), *value),
            CondIr::Matches { subject, pattern } => self
                .patterns
                .get(pattern)
                .and_then(Option::as_ref)
                .is_some_and(|re| detect::matches(s, *subject, re)),
        }
    }

    fn run_action(&self, action: &ActionIr, ctx: &mut HookCtx<'_, '_>) {
        if !ctx.apply(&action.kind) {
            if let Some(fallback) = &action.fallback {
                self.run_action(fallback, ctx);
            }
        }
    }
}

fn collect_patterns(c: &CondIr, out: &mut BTreeMap<String, Option<Regex>>) {
    match c {
        CondIr::And(cs) | CondIr::Or(cs) => cs.iter().for_each(|c| collect_patterns(c, out)),
        CondIr::Not(c) => collect_patterns(c, out),
        CondIr::Matches { pattern, .. } => {
            out.entry(pattern.clone())
                .or_insert_with(|| detect::compile_pattern(pattern));
        }
        _ => {}
    }
}

impl RuleSet for InterpretedRules<'_> {
    fn fire(&self, hook: Hook, ctx: &mut HookCtx<'_, '_>) {
        for (index, rule) in self.ir.rules.iter().enumerate() {
            if rule.hook != hook {
                continue;
            }
            if !ctx.begin_rule(index, rule.name.as_deref()) {
                return;
            }
            let holds = match &rule.when {
                None => true,
                Some(c) => self.eval(c, ctx.state()),
            };
            if holds {
                for action in &rule.actions {
                    self.run_action(action, ctx);
                }
            }
        }
    }
}
