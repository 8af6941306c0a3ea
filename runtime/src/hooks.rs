//! [`HookCtx`]: what a rule set sees and may do while a hook fires.
//!
//! Reading: [`HookCtx::state`] (for the detectors in [`crate::detect`]) and
//! [`HookCtx::var`] / [`HookCtx::render`] (for messages). Acting: one method per action,
//! each returning whether it *took effect*; when it did not, the caller runs the action's
//! `otherwise` fallback, if any. Every action call is traced as a `rule_fired` event.
//!
//! # What each action does
//!
//! Actions act immediately on the episode (transforms) or record a request that the engine
//! carries out when the hook's rules are done (split, intercept, interrupt). An action used
//! at a hook where it is not legal ([`crate::ir::ActionKind::legal_hooks`]) does nothing and
//! does not take effect.
//!
//! | action | kind | legal at | effect | takes effect when |
//! |---|---|---|---|---|
//! | `log` | pass-through | all | traces the message | always |
//! | `inject` | transform | all but `step_end`/`task_end` | appends a user message to the context now | always |
//! | `compact` | transform | `step_start`, `before_model` | compacts the context to half its budget now, whatever its size (strategy: the argument, else the context's, else `truncate_oldest`) | something was removed |
//! | `repair` | transform | `after_model` | replaces a malformed reply's call with the repaired one, in the state and in the context | the reply is (now) a well-formed call |
//! | `reprompt` | split | `after_model` | after the hook, appends the message and asks the model again (no new step); `after_model` fires again for the new reply | fewer than `max` re-asks in this step |
//! | `retry` | split | `after_tool` | after the hook, waits the backoff (virtual clock: `backoff * 2^(n-1)` for the n-th retry) and re-issues the failed call; `after_tool` fires again for the new result | the last result failed, the environment is not done, and fewer than `max` retries in this step |
//! | `block` | intercept | `before_model`, `before_tool` | the model/tool is not called; the message becomes the observation | no earlier `block` at this hook |
//! | `stop` | interrupt | all but `step_end`/`task_end` | ends the episode after this action; later actions and rules at this hook are skipped | always |
//!
//! Counters for `reprompt` and `retry` are per step and shared by all rules, so the number
//! of model and tool calls in a step is bounded by the largest `max` in the harness.

use crate::context::MsgKind;
use crate::episode::Run;
use crate::ir::{ActionKind, Compaction, Hook, RepairStrategy, Segment, Var};
use crate::message::Role;
use crate::repair::repair;
use crate::state::{EpisodeState, ReplyStatus};
use crate::template::render;
use crate::trace::EventKind;

pub struct HookCtx<'r, 'a> {
    run: &'r mut Run<'a>,
    hook: Hook,
    rule: String,
}

impl<'r, 'a> HookCtx<'r, 'a> {
    pub(crate) fn new(run: &'r mut Run<'a>, hook: Hook) -> Self {
        HookCtx {
            run,
            hook,
            rule: String::new(),
        }
    }

    pub fn hook(&self) -> Hook {
        self.hook
    }

    pub fn state(&self) -> &EpisodeState {
        &self.run.state
    }

    /// The text of a template variable now.
    pub fn var(&self, v: Var) -> String {
        self.run.var_text(v)
    }

    pub fn render(&self, template: &[Segment]) -> String {
        render(template, |v| self.var(v))
    }

    /// Announce that rule `index` (its position among all rules of the harness) is about to
    /// be evaluated. Returns false once the episode was interrupted: the caller must then
    /// skip this and every later rule at this hook.
    pub fn begin_rule(&mut self, index: usize, name: Option<&str>) -> bool {
        self.rule = match name {
            Some(n) => n.to_string(),
            None => format!("rule#{index}"),
        };
        !self.interrupted()
    }

    fn interrupted(&self) -> bool {
        self.run.effects.stop.is_some()
    }

    /// Run an action (without its fallback); rendering its messages first.
    pub fn apply(&mut self, action: &ActionKind) -> bool {
        match action {
            ActionKind::Log(t) => {
                let m = self.render(t);
                self.log(&m)
            }
            ActionKind::Inject(t) => {
                let m = self.render(t);
                self.inject(&m)
            }
            ActionKind::Compact(s) => self.compact(*s),
            ActionKind::Repair(s) => self.repair(*s),
            ActionKind::Reprompt { message, max } => {
                let m = self.render(message);
                self.reprompt(&m, *max)
            }
            ActionKind::Retry { max, backoff_ms } => self.retry(*max, *backoff_ms),
            ActionKind::Block(t) => {
                let m = self.render(t);
                self.block(&m)
            }
            ActionKind::Stop(t) => {
                let m = self.render(t);
                self.stop(&m)
            }
        }
    }

    /// Common gate and trace for every action: `effect` runs only when the action is legal
    /// here and the episode is not interrupted.
    fn act(
        &mut self,
        kind: &ActionKind,
        detail: Option<String>,
        effect: impl FnOnce(&mut Self) -> (bool, Option<String>),
    ) -> bool {
        if self.interrupted() {
            return false;
        }
        let (took_effect, detail) = if kind.is_legal_at(self.hook) {
            let (ok, extra) = effect(self);
            (ok, extra.or(detail))
        } else {
            (
                false,
                Some(format!("not allowed at {}", self.hook.as_str())),
            )
        };
        let event = EventKind::RuleFired {
            rule: self.rule.clone(),
            action: kind.name().to_string(),
            processor: kind.processor_kind(),
            took_effect,
            detail,
        };
        self.run.emit(event);
        took_effect
    }

    pub fn log(&mut self, message: &str) -> bool {
        self.act(&ActionKind::Log(Vec::new()), Some(message.into()), |_| {
            (true, None)
        })
    }

    pub fn inject(&mut self, message: &str) -> bool {
        let msg = message.to_string();
        self.act(&ActionKind::Inject(Vec::new()), Some(msg.clone()), |ctx| {
            // The rule event is emitted after this closure, so the message event comes
            // first; readers see the context change, then which rule caused it.
            ctx.run
                .push_message(Role::User, MsgKind::Injected, msg, false);
            (true, None)
        })
    }

    pub fn compact(&mut self, strategy: Option<Compaction>) -> bool {
        self.act(&ActionKind::Compact(strategy), None, |ctx| {
            let s = match strategy.unwrap_or(ctx.run.context.strategy) {
                Compaction::None => Compaction::TruncateOldest,
                s => s,
            };
            let target = ctx.run.context.budget / 2;
            match ctx.run.compact(s, target) {
                Some(c) => (true, Some(format!("removed {} messages", c.removed))),
                None => (false, Some("nothing to compact".into())),
            }
        })
    }

    pub fn repair(&mut self, strategy: RepairStrategy) -> bool {
        self.act(&ActionKind::Repair(strategy), None, |ctx| {
            let st = &ctx.run.state;
            match &st.reply {
                ReplyStatus::Call => (true, Some("already well-formed".into())),
                ReplyStatus::None => (false, Some("no call to repair".into())),
                ReplyStatus::Malformed(_) => {
                    let found = repair(
                        strategy,
                        &st.output,
                        &ctx.run.tools,
                        &st.observation.admissible,
                    );
                    match found {
                        Some(call) => {
                            let text = ctx.run.set_pending(call);
                            ctx.run.rewrite_last_assistant(&text);
                            (true, Some(text))
                        }
                        None => (false, Some("no call found".into())),
                    }
                }
            }
        })
    }

    pub fn reprompt(&mut self, message: &str, max: u32) -> bool {
        let msg = message.to_string();
        let kind = ActionKind::Reprompt {
            message: Vec::new(),
            max,
        };
        self.act(&kind, Some(msg.clone()), |ctx| {
            if ctx.run.effects.reprompt.is_some() {
                return (true, Some("re-ask already requested".into()));
            }
            if ctx.run.reprompts_used >= max {
                return (false, Some(format!("{max} re-asks used")));
            }
            ctx.run.effects.reprompt = Some(msg);
            (true, None)
        })
    }

    pub fn retry(&mut self, max: u32, backoff_ms: u64) -> bool {
        let kind = ActionKind::Retry { max, backoff_ms };
        self.act(&kind, None, |ctx| {
            if ctx.run.effects.retry_backoff_ms.is_some() {
                return (true, Some("retry already requested".into()));
            }
            let st = &ctx.run.state;
            let last_failed = st
                .calls
                .last()
                .is_some_and(|r| r.failure.is_some() && !r.blocked);
            if !last_failed || st.done {
                return (false, Some("nothing to retry".into()));
            }
            if ctx.run.retries_used >= max {
                return (false, Some(format!("{max} retries used")));
            }
            ctx.run.effects.retry_backoff_ms = Some(backoff_ms);
            (true, None)
        })
    }

    pub fn block(&mut self, message: &str) -> bool {
        let msg = message.to_string();
        self.act(&ActionKind::Block(Vec::new()), Some(msg.clone()), |ctx| {
            if ctx.run.effects.block.is_some() {
                return (false, Some("already blocked".into()));
            }
            ctx.run.effects.block = Some(msg);
            (true, None)
        })
    }

    pub fn stop(&mut self, message: &str) -> bool {
        let msg = message.to_string();
        // Record the stop after the trace event, so the event is not suppressed by it.
        let ok = self.act(&ActionKind::Stop(Vec::new()), Some(msg.clone()), |_| {
            (true, None)
        });
        if ok {
            self.run.effects.stop = Some(msg);
        }
        ok
    }
}
