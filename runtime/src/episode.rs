//! One episode's mutable data: [`Run`], shared by the loop in [`crate::engine`] and the
//! rule actions in [`crate::hooks`].
//!
//! Architecture invariant: this module imports neither `engine`, `hooks` nor `rules`.
//! Everything a hook action needs of the episode (tracing, rendering a prompt, pushing a
//! message, compacting) lives here; the loop that fires hooks lives in `engine`. That keeps
//! the dependency one way: `engine → hooks → episode`, `engine → episode`.

use crate::call::{ToolCall, ToolSpec};
use crate::context::{Compacted, Context, MsgKind};
use crate::ir::{prompt_names, ActionOffer, Compaction, HarnessIr, Hook, PinRef, Var};
use crate::message::Role;
use crate::state::{EpisodeState, ReplyStatus};
use crate::template::{mentions, parse_template, render};
use crate::trace::{EventKind, TraceEvent, TraceSink};

/// Requests recorded while a hook's rules run; the engine acts on them afterwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Effects {
    pub block: Option<String>,
    pub stop: Option<String>,
    pub reprompt: Option<String>,
    pub retry_backoff_ms: Option<u64>,
}

/// How a prompt's message is pinned (see [`Run::prompt_pin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin {
    No,
    Always,
    UntilSuperseded,
}

pub const DEFAULT_STEP_PROMPT: &str = "{{observation}}";
pub const DEFAULT_PLAN_PROMPT: &str =
    "Before acting, write a short numbered plan to reach the goal: {{task.goal}}\nDo not call a tool in this reply.";
pub const DEFAULT_REFLECT_PROMPT: &str =
    "Step {{step}} of {{max_steps}}. Reflect briefly: what worked, what did not, what next? Then answer with one call.";

/// The mutable data of one episode, shared by the loop and [`HookCtx`].
pub(crate) struct Run<'a> {
    pub(crate) ir: &'a HarnessIr,
    pub(crate) tools: Vec<ToolSpec>,
    pub(crate) tools_text: String,
    pub(crate) state: EpisodeState,
    pub(crate) context: Context,
    pub(crate) effects: Effects,
    pub(crate) reprompts_used: u32,
    pub(crate) retries_used: u32,
    pub(crate) model_calls: u32,
    pub(crate) tool_calls: u32,
    pub(crate) sink: &'a mut dyn TraceSink,
    pub(crate) seq: u64,
    pub(crate) hook: Option<Hook>,
    /// The latest observation has not entered the context yet.
    pub(crate) obs_fresh: bool,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        ir: &'a HarnessIr,
        sink: &'a mut dyn TraceSink,
        task: u64,
        seed: u64,
    ) -> Self {
        let tools: Vec<ToolSpec> = ir.tools.iter().map(ToolSpec::from).collect();
        let tools_text = tools
            .iter()
            .map(ToolSpec::signature)
            .collect::<Vec<_>>()
            .join("\n");
        Run {
            ir,
            tools,
            tools_text,
            state: EpisodeState {
                task,
                seed,
                max_steps: ir.loop_.max_steps,
                ..EpisodeState::default()
            },
            context: Context::within(&ir.context, ir.model.prompt_limit()),
            effects: Effects::default(),
            reprompts_used: 0,
            retries_used: 0,
            model_calls: 0,
            tool_calls: 0,
            sink,
            seq: 0,
            hook: None,
            obs_fresh: true,
        }
    }

    pub(crate) fn emit(&mut self, kind: EventKind) {
        let event = TraceEvent {
            seq: self.seq,
            step: self.state.step,
            hook: self.hook,
            clock_ms: self.state.clock_ms,
            kind,
        };
        self.seq += 1;
        self.sink.emit(&event);
    }

    /// The admissible actions the model is offered (`model.offer`): in the prompt's
    /// `{{admissible_actions}}` and as the constrained-decoding choice, so both agree.
    pub(crate) fn offered_actions(&self) -> Vec<String> {
        let admissible = &self.state.observation.admissible;
        match self.ir.model.offer {
            ActionOffer::All => admissible.clone(),
            offer => untried_actions(admissible, &self.tools, &self.state, offer),
        }
    }

    pub(crate) fn var_text(&self, v: Var) -> String {
        let s = &self.state;
        match v {
            Var::TaskGoal => s.goal.clone(),
            Var::TaskId => s.task.to_string(),
            Var::Step => s.step.to_string(),
            Var::MaxSteps => s.max_steps.to_string(),
            Var::Tools => self.tools_text.clone(),
            Var::AdmissibleActions => self.offered_actions().join(", "),
            Var::Observation => s.observation.text.clone(),
            Var::History => s.history_text(),
        }
    }

    pub(crate) fn render_prompt(&self, name: &str, default: &str) -> String {
        match self.ir.prompt(name) {
            Some(p) => render(&p.template, |v| self.var_text(v)),
            None => render(&parse_template(default), |v| self.var_text(v)),
        }
    }

    pub(crate) fn pinned_prompt(&self, name: &str) -> bool {
        self.ir
            .context
            .pin
            .iter()
            .any(|p| matches!(p, PinRef::Prompt(n) if n == name))
    }

    /// How a message rendered from prompt `name` (or its built-in `default`) is pinned:
    /// `Always` when the prompt is pinned by name or carries the tool list under
    /// `pin = [tools]`; `UntilSuperseded` when it carries the admissible actions under
    /// `pin = [admissible_actions]` (only the newest list is worth keeping).
    pub(crate) fn prompt_pin(&self, name: &str, default: &str) -> Pin {
        let mentions_var = |var: Var| match self.ir.prompt(name) {
            Some(p) => mentions(&p.template, var),
            None => mentions(&parse_template(default), var),
        };
        let pin = &self.ir.context.pin;
        if self.pinned_prompt(name) || (pin.contains(&PinRef::Tools) && mentions_var(Var::Tools)) {
            Pin::Always
        } else if pin.contains(&PinRef::AdmissibleActions) && mentions_var(Var::AdmissibleActions) {
            Pin::UntilSuperseded
        } else {
            Pin::No
        }
    }

    /// Push a message rendered from a prompt, pinned as [`Self::prompt_pin`] says.
    pub(crate) fn push_prompt_message(
        &mut self,
        role: Role,
        kind: MsgKind,
        text: String,
        pin: Pin,
    ) {
        match pin {
            Pin::UntilSuperseded => {
                self.emit(EventKind::Message {
                    role,
                    kind,
                    content: text.clone(),
                    pinned: true,
                });
                self.context.push_superseding(role, kind, text, false);
                self.state.context_tokens = self.context.tokens();
            }
            Pin::Always => self.push_message(role, kind, text, true),
            Pin::No => self.push_message(role, kind, text, false),
        }
    }

    pub(crate) fn goal_pinned(&self) -> bool {
        self.ir.context.pin.contains(&PinRef::TaskGoal)
    }

    pub(crate) fn push_message(
        &mut self,
        role: Role,
        kind: MsgKind,
        content: String,
        pinned: bool,
    ) {
        self.emit(EventKind::Message {
            role,
            kind,
            content: content.clone(),
            pinned,
        });
        self.context.push(role, kind, content, pinned);
        self.state.context_tokens = self.context.tokens();
    }

    pub(crate) fn compact(&mut self, strategy: Compaction, target: u64) -> Option<Compacted> {
        let done = self.context.compact(strategy, target)?;
        self.state.context_tokens = self.context.tokens();
        self.emit(EventKind::ContextCompacted(done.clone()));
        Some(done)
    }

    pub(crate) fn rewrite_last_assistant(&mut self, text: &str) {
        self.context.rewrite_last_assistant(text);
        self.state.context_tokens = self.context.tokens();
    }

    /// Make `call` the pending call; returns its canonical text.
    pub(crate) fn set_pending(&mut self, call: ToolCall) -> String {
        let params = self.ir.tool(&call.tool).map(|t| t.params.as_slice());
        let text = call.render(params);
        self.state.pending = Some(call);
        self.state.pending_text = Some(text.clone());
        self.state.reply = ReplyStatus::Call;
        text
    }

    pub(crate) fn init_context(&mut self) {
        let system = self.ir.prompt(prompt_names::SYSTEM);
        let system_has_goal = system.is_some_and(|p| mentions(&p.template, Var::TaskGoal));
        if system.is_some() {
            let text = self.render_prompt(prompt_names::SYSTEM, "");
            // Rendered once, so a system prompt with the admissible actions keeps its pin.
            let pinned = self.prompt_pin(prompt_names::SYSTEM, "") != Pin::No
                || (system_has_goal && self.goal_pinned());
            self.push_message(Role::System, MsgKind::System, text, pinned);
        }
        if !system_has_goal {
            let text = format!("Goal: {}", self.state.goal);
            let pinned = self.goal_pinned();
            self.push_message(Role::User, MsgKind::Goal, text, pinned);
        }
    }
}

/// The admissible actions left after leaving out those the episode already executed
/// (`offer = untried` and its variants): a call that parses to the same tool and arguments
/// as an executed, unblocked call is no longer offered. The variants count only the calls
/// after the last one that earned reward, and every call that lost reward
/// (`untried_since_reward`), or the calls after the last one that changed the environment's
/// state (`untried_since_change`).
///
/// When every admissible action has been tried, all of them are offered again except the
/// one executed last (an empty choice would leave the model nothing valid to say, and
/// offering the last action again invites the loop the offer is there to break).
pub(crate) fn untried_actions(
    admissible: &[String],
    tools: &[ToolSpec],
    state: &EpisodeState,
    offer: ActionOffer,
) -> Vec<String> {
    let executed: Vec<&crate::state::CallRecord> =
        state.calls.iter().filter(|r| !r.blocked).collect();
    let since = match offer {
        ActionOffer::All => return admissible.to_vec(),
        ActionOffer::Untried => 0,
        ActionOffer::UntriedSinceReward => executed
            .iter()
            .rposition(|r| r.reward > 0.0)
            .map_or(0, |i| i + 1),
        ActionOffer::UntriedSinceChange => executed
            .iter()
            .rposition(|r| r.state_changed)
            .map_or(0, |i| i + 1),
    };
    // A call that lost reward stays tried for the whole episode under
    // `untried_since_reward`: progress makes old actions worth another try, not old mistakes.
    let counted: Vec<&crate::state::CallRecord> = executed
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            *i >= since || (offer == ActionOffer::UntriedSinceReward && r.reward < 0.0)
        })
        .map(|(_, r)| *r)
        .collect();
    let is_call = |a: &String, calls: &[&crate::state::CallRecord]| {
        crate::parse::parse_call(a, tools).is_ok_and(|call| calls.iter().any(|r| r.call == call))
    };
    let left: Vec<String> = admissible
        .iter()
        .filter(|a| !is_call(a, &counted))
        .cloned()
        .collect();
    if !left.is_empty() {
        return left;
    }
    let last = executed.last().copied();
    let but_last: Vec<String> = admissible
        .iter()
        .filter(|a| !last.is_some_and(|r| is_call(a, &[r])))
        .cloned()
        .collect();
    if but_last.is_empty() {
        admissible.to_vec()
    } else {
        but_last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ParamIr, TypeIr};
    use crate::state::CallRecord;

    fn act_tool() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "act".into(),
            description: String::new(),
            params: vec![ParamIr::new("command", TypeIr::String)],
        }]
    }

    /// An episode that executed `calls`, each `(command, state_changed, reward)`.
    fn state(calls: &[(&str, bool, f64)]) -> EpisodeState {
        let tools = act_tool();
        let mut st = EpisodeState::default();
        for (i, (cmd, changed, reward)) in calls.iter().enumerate() {
            let text = format!("act(\"{cmd}\")");
            st.calls.push(CallRecord {
                step: i as u32 + 1,
                call: crate::parse::parse_call(&text, &tools).unwrap(),
                text,
                verifies: false,
                blocked: false,
                failure: None,
                state_changed: *changed,
                attempts: 1,
                reward: *reward,
            });
        }
        st
    }

    fn offered(admissible: &[&str], st: &EpisodeState, offer: ActionOffer) -> Vec<String> {
        let admissible: Vec<String> = admissible.iter().map(|a| format!("act(\"{a}\")")).collect();
        untried_actions(&admissible, &act_tool(), st, offer)
            .into_iter()
            .map(|a| {
                a.trim_start_matches("act(\"")
                    .trim_end_matches("\")")
                    .to_string()
            })
            .collect()
    }

    /// The case the variants exist for: an item put in the wrong place (reward lost) must
    /// be taken again, but plain `untried` remembers the first `take` for the whole episode.
    #[test]
    fn each_offer_counts_the_calls_it_should() {
        let st = state(&[
            ("look around", false, 0.0),
            ("open fridge", true, 0.0),
            ("take apple", true, 0.5),
            ("put apple in sink", true, -0.5),
            ("inventory", false, 0.0),
        ]);
        let admissible = ["look around", "inventory", "take apple", "close fridge"];
        assert_eq!(
            offered(&admissible, &st, ActionOffer::All),
            ["look around", "inventory", "take apple", "close fridge"]
        );
        assert_eq!(
            offered(&admissible, &st, ActionOffer::Untried),
            ["close fridge"]
        );
        assert_eq!(
            offered(&admissible, &st, ActionOffer::UntriedSinceReward),
            ["look around", "take apple", "close fridge"]
        );
        assert_eq!(
            offered(&admissible, &st, ActionOffer::UntriedSinceChange),
            ["look around", "take apple", "close fridge"]
        );
        // After the apple is taken again (reward rises), everything is offered anew except
        // the put that lost reward.
        let mut calls = vec![
            ("look around", false, 0.0),
            ("take apple", true, 0.5),
            ("put apple in sink", true, -0.5),
            ("take apple", true, 0.5),
        ];
        let st2 = state(&calls);
        let puts = ["put apple in sink", "put apple in fridge", "look around"];
        assert_eq!(
            offered(&puts, &st2, ActionOffer::UntriedSinceReward),
            ["put apple in fridge", "look around"]
        );
        calls.push(("look around", false, 0.0));
        assert_eq!(
            offered(&puts, &state(&calls), ActionOffer::UntriedSinceReward),
            ["put apple in fridge"]
        );
        // A call that changed the state but earned nothing resets only `since_change`.
        let st = state(&[("look around", false, 0.0), ("open fridge", true, 0.0)]);
        let admissible = ["look around", "close fridge"];
        assert_eq!(
            offered(&admissible, &st, ActionOffer::UntriedSinceReward),
            ["close fridge"]
        );
        assert_eq!(
            offered(&admissible, &st, ActionOffer::UntriedSinceChange),
            ["look around", "close fridge"]
        );
    }

    #[test]
    fn when_everything_was_tried_all_but_the_last_call_are_offered() {
        let st = state(&[("look around", false, 0.0), ("inventory", false, 0.0)]);
        let admissible = ["look around", "inventory"];
        for offer in [
            ActionOffer::Untried,
            ActionOffer::UntriedSinceReward,
            ActionOffer::UntriedSinceChange,
        ] {
            assert_eq!(
                offered(&admissible, &st, offer),
                ["look around"],
                "{offer:?}"
            );
        }
        // Never an empty choice, even when the only action is the last one.
        assert_eq!(
            offered(&["inventory"], &st, ActionOffer::Untried),
            ["inventory"]
        );
    }

    /// Blocked calls never ran, so they do not count as tried.
    #[test]
    fn a_blocked_call_is_not_tried() {
        let mut st = state(&[("look around", false, 0.0)]);
        st.calls[0].blocked = true;
        assert_eq!(
            offered(&["look around", "inventory"], &st, ActionOffer::Untried),
            ["look around", "inventory"]
        );
    }
}
