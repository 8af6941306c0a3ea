//! The agent loop: one episode of a harness against a model and an environment.
//!
//! # Order of events
//!
//! ```text
//! reset env; system prompt (+ goal message); task_start
//! for step in 1..=max_steps:
//!     observation message (if new); reflection message (reflect, every k steps)
//!     step_start
//!     plan request (plan_then_act, step 1); compaction to budget if over it
//!     before_model            -- block: skip model and tool; its message is the observation
//!     model call; after_model -- repair / reprompt (re-ask: after_model fires again)
//!     no well-formed call?    -- observation "Invalid action (...)"; the step ends
//!     before_tool             -- block: the tool is not called; its message is the result
//!     tool call (+ the tool's own `retries`); after_tool -- retry: re-issue, after_tool again
//!     step_end
//!     done? -> end
//! task_end
//! ```
//!
//! `stop` ends the episode after the hook where it fires (`step_end` still fires for the
//! current step, then `task_end`). A model error ends the episode too. What each action
//! does at each hook is tabulated in [`crate::hooks`].
//!
//! # Prompts and context
//!
//! - The `system` prompt is rendered once at task start. If no system prompt mentions
//!   `{{task.goal}}`, a user message `Goal: ...` follows it.
//! - `pin = [task.goal]` pins the message that carries the goal (the goal message, or the
//!   system prompt when it contains the goal); `pin = [NAME]` pins every message rendered
//!   from prompt `NAME` — and, for `plan`, the model's plan too. `pin = [tools]` pins
//!   every message rendered from a prompt containing `{{tools}}`; `pin = [admissible_actions]`
//!   pins the newest message rendered from a prompt containing `{{admissible_actions}}`,
//!   releasing the previous one's pin (an old list is stale). A reference no prompt
//!   mentions pins nothing.
//! - Each step's observation enters as a user message rendered from the `step` prompt
//!   (default `{{observation}}`), only when it is new (a plan step produces none).
//! - `plan_then_act` spends step 1 asking for a plan with the `plan` prompt; that reply is
//!   not parsed as a call. `reflect` adds the `reflect` prompt before the model call of
//!   every step `s > 1` with `(s - 1) % reflect_every == 0`; it costs tokens, not steps.
//! - A tool's `retries` re-issue a failed call automatically (backoff 100 ms doubling, on
//!   the virtual clock) before `after_tool` sees the failure. A tool's `timeout` turns a
//!   call whose latency exceeds it into a timeout failure (the clock advances by the
//!   timeout, not the latency). The model's `timeout_ms` is left to backends.
//! - Model call `i` (0-based) of an episode gets seed `rng::nth(model.seed or episode seed, i)`.

use serde::{Deserialize, Serialize};

use crate::call::ToolCall;
use crate::context::MsgKind;
use crate::env::{Env, FailureKind, ToolFailure};
use crate::episode::{Effects, Run};
pub use crate::episode::{DEFAULT_PLAN_PROMPT, DEFAULT_REFLECT_PROMPT, DEFAULT_STEP_PROMPT};
use crate::hooks::HookCtx;
use crate::ir::{action_defaults, fnv1a64, prompt_names, HarnessIr, Hook, Strategy};
use crate::message::Role;
use crate::models::{Model, ModelError, ModelRequest};
use crate::parse::parse_call;
use crate::rules::{InterpretedRules, RuleSet};
use crate::state::{CallRecord, ReplyStatus};
use crate::trace::{EventKind, TraceSink};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "message")]
pub enum EndReason {
    /// The environment reported the episode done.
    Done,
    /// A `stop` action ended it.
    Stopped(String),
    /// `max_steps` steps ran without the environment finishing.
    StepBudget,
    /// The model failed in a way that is the harness's business (a scripted model ran
    /// out of replies).
    ModelError(String),
    /// The prompt overflowed the model's context window (the server refused it): the
    /// harness's failure — it should have compacted.
    ContextOverflow(String),
    /// The infrastructure failed, not the harness: the model server (timeout, 5xx after the
    /// retries, a malformed reply) or the environment bridge (crashed, hung). Such an
    /// episode is re-run by the runner and never scored ([`EpisodeResult::is_infrastructure_failure`]).
    Infrastructure(String),
}

impl EndReason {
    fn label(&self) -> String {
        match self {
            EndReason::Done => "done".into(),
            EndReason::Stopped(m) => format!("stopped: {m}"),
            EndReason::StepBudget => "step_budget".into(),
            EndReason::ModelError(m) => format!("model_error: {m}"),
            EndReason::ContextOverflow(m) => format!("context_overflow: {m}"),
            EndReason::Infrastructure(m) => format!("infrastructure: {m}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeResult {
    pub success: bool,
    pub end: EndReason,
    /// Steps started.
    pub steps: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub tokens: u64,
    pub total_reward: f64,
    pub model_calls: u32,
    pub tool_calls: u32,
    pub clock_ms: u64,
}

impl EpisodeResult {
    /// Whether the episode ended because the infrastructure failed (model server or
    /// environment bridge), so it says nothing about the harness: re-run it, and keep it
    /// out of success rates, the digester and the gate.
    pub fn is_infrastructure_failure(&self) -> bool {
        matches!(self.end, EndReason::Infrastructure(_))
    }
}

/// Run one episode with the IR's rules interpreted.
pub fn run_episode(
    ir: &HarnessIr,
    model: &mut dyn Model,
    env: &mut dyn Env,
    task: u64,
    seed: u64,
    sink: &mut dyn TraceSink,
) -> EpisodeResult {
    run_with_rules(ir, &InterpretedRules::new(ir), model, env, task, seed, sink)
}

/// Run one episode with any rule set (interpreted or compiled). Everything but the rules
/// comes from `ir`; `ir.rules` is not consulted here.
pub fn run_with_rules<R: RuleSet + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    model: &mut dyn Model,
    env: &mut dyn Env,
    task: u64,
    seed: u64,
    sink: &mut dyn TraceSink,
) -> EpisodeResult {
    let mut run = Run::new(ir, sink, task, seed);
    let obs = env.reset(task, seed);
    run.state.goal = obs.goal.clone();
    run.state.observation = obs;
    run.emit(EventKind::EpisodeStart {
        harness: ir.name.clone(),
        harness_hash: ir.hash(),
        task,
        seed,
        max_steps: ir.loop_.max_steps,
        goal: run.state.goal.clone(),
    });
    run.init_context();
    let end = run.episode(rules, model, env);
    run.fire(rules, Hook::TaskEnd);
    let success = matches!(end, EndReason::Done) && run.state.success;
    let st = &run.state;
    let result = EpisodeResult {
        success,
        steps: st.step,
        prompt_tokens: st.prompt_tokens,
        completion_tokens: st.completion_tokens,
        tokens: st.tokens_used(),
        total_reward: st.total_reward,
        model_calls: run.model_calls,
        tool_calls: run.tool_calls,
        clock_ms: st.clock_ms,
        end,
    };
    run.emit(EventKind::EpisodeEnd {
        success,
        reason: result.end.label(),
        steps: result.steps,
        prompt_tokens: result.prompt_tokens,
        completion_tokens: result.completion_tokens,
        tokens: result.tokens,
        total_reward: result.total_reward,
    });
    result
}

/// How a step ended.
enum Flow {
    Continue,
    End(EndReason),
}

impl<'a> Run<'a> {
    /// Fire `hook`: trace it, let the rules run, and hand back what they requested.
    fn fire<R: RuleSet + ?Sized>(&mut self, rules: &R, hook: Hook) -> Effects {
        self.hook = Some(hook);
        self.effects = Effects::default();
        self.emit(EventKind::HookFired);
        {
            let mut ctx = HookCtx::new(self, hook);
            rules.fire(hook, &mut ctx);
        }
        self.hook = None;
        std::mem::take(&mut self.effects)
    }

    fn episode<R: RuleSet + ?Sized>(
        &mut self,
        rules: &R,
        model: &mut dyn Model,
        env: &mut dyn Env,
    ) -> EndReason {
        if let Some(why) = env.infra_failure() {
            return EndReason::Infrastructure(why);
        }
        if let Some(msg) = self.fire(rules, Hook::TaskStart).stop {
            return EndReason::Stopped(msg);
        }
        for step in 1..=self.ir.loop_.max_steps {
            self.state.step = step;
            let flow = self.step(rules, model, env);
            self.fire(rules, Hook::StepEnd);
            if let Flow::End(reason) = flow {
                return reason;
            }
        }
        EndReason::StepBudget
    }

    fn step<R: RuleSet + ?Sized>(
        &mut self,
        rules: &R,
        model: &mut dyn Model,
        env: &mut dyn Env,
    ) -> Flow {
        let step = self.state.step;
        self.context.set_step(step);
        self.state.reply = ReplyStatus::None;
        self.state.pending = None;
        self.state.pending_text = None;
        self.reprompts_used = 0;
        self.retries_used = 0;

        if self.obs_fresh {
            let text = self.render_prompt(prompt_names::STEP, DEFAULT_STEP_PROMPT);
            let pin = self.prompt_pin(prompt_names::STEP, DEFAULT_STEP_PROMPT);
            self.push_prompt_message(Role::User, MsgKind::Observation, text, pin);
            self.obs_fresh = false;
        }
        let every = self.ir.loop_.effective_reflect_every();
        if self.ir.loop_.strategy == Strategy::Reflect
            && step > 1
            && (step - 1).is_multiple_of(every)
        {
            let text = self.render_prompt(prompt_names::REFLECT, DEFAULT_REFLECT_PROMPT);
            let pin = self.prompt_pin(prompt_names::REFLECT, DEFAULT_REFLECT_PROMPT);
            self.push_prompt_message(Role::User, MsgKind::Reflection, text, pin);
        }
        if let Some(msg) = self.fire(rules, Hook::StepStart).stop {
            return Flow::End(EndReason::Stopped(msg));
        }

        let plan = self.ir.loop_.strategy == Strategy::PlanThenAct && step == 1;
        if plan {
            let text = self.render_prompt(prompt_names::PLAN, DEFAULT_PLAN_PROMPT);
            let pin = self.prompt_pin(prompt_names::PLAN, DEFAULT_PLAN_PROMPT);
            self.push_prompt_message(Role::User, MsgKind::Plan, text, pin);
        }
        if let Some(done) = self.context.fit_to_budget() {
            self.state.context_tokens = self.context.tokens();
            self.emit(EventKind::ContextCompacted(done));
        }

        let fx = self.fire(rules, Hook::BeforeModel);
        if let Some(msg) = fx.stop {
            return Flow::End(EndReason::Stopped(msg));
        }
        if let Some(msg) = fx.block {
            self.synthesize_observation(msg);
            return Flow::Continue;
        }

        if let Some(end) = self.ask_model(rules, model, env, plan) {
            return Flow::End(end);
        }
        if plan {
            return Flow::Continue;
        }
        let Some(call) = self.state.pending.clone() else {
            let why = match &self.state.reply {
                ReplyStatus::Malformed(e) => e.to_string(),
                _ => "no call".into(),
            };
            self.synthesize_observation(format!(
                "Invalid action ({why}). Reply with exactly one tool call."
            ));
            return Flow::Continue;
        };
        self.use_tool(rules, env, call)
    }

    /// The model call with its `after_model` rules and re-asks. `Some` ends the episode.
    fn ask_model<R: RuleSet + ?Sized>(
        &mut self,
        rules: &R,
        model: &mut dyn Model,
        env: &mut dyn Env,
        plan: bool,
    ) -> Option<EndReason> {
        let mut purpose = if plan { "plan" } else { "act" };
        loop {
            let req = self.request(env);
            self.emit(EventKind::ModelRequest {
                purpose: purpose.into(),
                messages: req.messages.len(),
                context_tokens: self.state.context_tokens,
                seed: req.seed,
                request_hash: format!(
                    "{:016x}",
                    fnv1a64(serde_json::to_string(&req).unwrap_or_default().as_bytes())
                ),
            });
            self.model_calls = self.model_calls.saturating_add(1);
            let resp = match model.complete(&req) {
                Ok(r) => r,
                Err(e) => {
                    self.emit(EventKind::ModelFailed {
                        error: e.to_string(),
                    });
                    return Some(match e {
                        ModelError::ContextOverflow(_) => EndReason::ContextOverflow(e.to_string()),
                        _ if e.is_infrastructure() => EndReason::Infrastructure(e.to_string()),
                        _ => EndReason::ModelError(e.to_string()),
                    });
                }
            };
            let st = &mut self.state;
            st.prompt_tokens = st.prompt_tokens.saturating_add(resp.prompt_tokens);
            st.completion_tokens = st.completion_tokens.saturating_add(resp.completion_tokens);
            st.clock_ms = st.clock_ms.saturating_add(resp.latency_ms);
            self.emit(EventKind::ModelResponse {
                text: resp.text.clone(),
                prompt_tokens: resp.prompt_tokens,
                completion_tokens: resp.completion_tokens,
            });
            self.state.output = resp.text.clone();
            let kind = if plan {
                MsgKind::Plan
            } else {
                MsgKind::Assistant
            };
            let pinned = plan && self.pinned_prompt(prompt_names::PLAN);
            self.push_message(Role::Assistant, kind, resp.text.clone(), pinned);
            self.state.pending = None;
            self.state.pending_text = None;
            self.state.reply = ReplyStatus::None;
            if !plan {
                match parse_call(&resp.text, &self.tools) {
                    Ok(call) => {
                        let text = self.set_pending(call);
                        self.emit(EventKind::CallParsed {
                            call: Some(text),
                            error: None,
                        });
                    }
                    Err(e) => {
                        self.emit(EventKind::CallParsed {
                            call: None,
                            error: Some(e.to_string()),
                        });
                        self.state.reply = ReplyStatus::Malformed(e);
                    }
                }
            }
            let fx = self.fire(rules, Hook::AfterModel);
            if let Some(msg) = fx.stop {
                return Some(EndReason::Stopped(msg));
            }
            match fx.reprompt {
                Some(msg) => {
                    self.reprompts_used += 1;
                    self.state.pending = None;
                    self.state.pending_text = None;
                    self.state.reply = ReplyStatus::None;
                    self.push_message(Role::User, MsgKind::Reprompt, msg, false);
                    purpose = "reprompt";
                }
                None => return None,
            }
        }
    }

    fn request(&self, env: &dyn Env) -> ModelRequest {
        let m = &self.ir.model;
        let base = m.seed.unwrap_or(self.state.seed);
        ModelRequest {
            messages: self.context.to_messages(),
            tools: self.tools.clone(),
            temperature: m.temperature,
            max_tokens: m.max_tokens,
            top_p: m.top_p,
            decoding: m.decoding,
            seed: crate::rng::nth(base, u64::from(self.model_calls)),
            admissible: self.offered_actions(),
            expert: env.expert(),
        }
    }

    /// Replace the observation's text (block, invalid action); the goal and admissible
    /// actions stay as the environment last reported them.
    fn synthesize_observation(&mut self, text: String) {
        self.state.observation.text = text;
        self.obs_fresh = true;
    }

    /// `before_tool`, the call with its attempts, and `after_tool`.
    fn use_tool<R: RuleSet + ?Sized>(
        &mut self,
        rules: &R,
        env: &mut dyn Env,
        call: ToolCall,
    ) -> Flow {
        let fx = self.fire(rules, Hook::BeforeTool);
        if let Some(msg) = fx.stop {
            return Flow::End(EndReason::Stopped(msg));
        }
        let tool = self.ir.tool(&call.tool);
        let auto_retries = tool.map_or(0, |t| t.retries);
        let timeout = tool.and_then(|t| t.timeout_ms);
        let text = self
            .state
            .pending_text
            .take()
            .unwrap_or_else(|| call.render(None));
        self.state.pending = None;
        self.state.calls.push(CallRecord {
            step: self.state.step,
            call: call.clone(),
            text: text.clone(),
            verifies: tool.is_some_and(|t| t.verifies),
            blocked: fx.block.is_some(),
            failure: None,
            state_changed: false,
            attempts: 0,
            reward: 0.0,
        });

        if let Some(msg) = fx.block {
            self.emit(EventKind::ToolResult {
                tool: call.tool.clone(),
                observation: msg.clone(),
                failure: None,
                state_changed: false,
                done: false,
                attempt: 0,
                blocked: true,
            });
            self.synthesize_observation(msg);
            if let Some(msg) = self.fire(rules, Hook::AfterTool).stop {
                return Flow::End(EndReason::Stopped(msg));
            }
            return Flow::Continue;
        }

        let mut auto_used = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.emit(EventKind::ToolCall {
                tool: call.tool.clone(),
                call: text.clone(),
                attempt,
            });
            self.tool_calls = self.tool_calls.saturating_add(1);
            let mut out = env.step(&call);
            if let Some(why) = env.infra_failure() {
                return Flow::End(EndReason::Infrastructure(why));
            }
            let waited = match timeout {
                Some(t) if out.latency_ms > t && out.error.is_none() => {
                    let message = format!("Error: {} timed out after {t} ms.", call.tool);
                    out.observation.text = message.clone();
                    out.error = Some(ToolFailure {
                        kind: FailureKind::Timeout,
                        message,
                    });
                    t
                }
                _ => out.latency_ms,
            };
            let failure = out.error.as_ref().map(|e| e.kind);
            let st = &mut self.state;
            st.clock_ms = st.clock_ms.saturating_add(waited);
            st.last_failure = failure;
            st.consecutive_errors = match failure {
                Some(_) => st.consecutive_errors.saturating_add(1),
                None => 0,
            };
            if let Some(rec) = st.calls.last_mut() {
                rec.failure = failure;
                rec.state_changed |= out.state_changed;
                rec.attempts = attempt;
            }
            st.done = out.done;
            st.success = out.success;
            st.observation = out.observation.clone();
            self.obs_fresh = true;
            self.emit(EventKind::ToolResult {
                tool: call.tool.clone(),
                observation: out.observation.text.clone(),
                failure: out.error.clone(),
                state_changed: out.state_changed,
                done: out.done,
                attempt,
                blocked: false,
            });
            if out.reward != 0.0 {
                if let Some(rec) = self.state.calls.last_mut() {
                    rec.reward += out.reward;
                }
                self.state.total_reward += out.reward;
                let total = self.state.total_reward;
                self.emit(EventKind::Reward {
                    reward: out.reward,
                    total,
                });
            }
            if failure.is_some() && !out.done && auto_used < auto_retries {
                auto_used += 1;
                self.wait(backoff(action_defaults::RETRY_BACKOFF_MS, auto_used));
                continue;
            }
            let fx = self.fire(rules, Hook::AfterTool);
            if self.state.done {
                return Flow::End(EndReason::Done);
            }
            if let Some(msg) = fx.stop {
                return Flow::End(EndReason::Stopped(msg));
            }
            match fx.retry_backoff_ms {
                Some(base) => {
                    self.retries_used += 1;
                    self.wait(backoff(base, self.retries_used));
                }
                None => return Flow::Continue,
            }
        }
    }

    fn wait(&mut self, ms: u64) {
        self.state.clock_ms = self.state.clock_ms.saturating_add(ms);
    }
}

/// `base * 2^(n-1)` for the n-th re-issue, saturating.
fn backoff(base: u64, n: u32) -> u64 {
    base.saturating_mul(1u64 << n.saturating_sub(1).min(32))
}
