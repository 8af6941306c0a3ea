//! The episode viewer: one page per episode, stepping through its trace — the messages
//! that entered the context, the model's requests and replies, the parsed calls, the rules
//! that fired, the tool calls and results, and how the episode ended.

use std::collections::BTreeMap;

use harnessx_runtime::trace::{EventKind, TraceEvent};

use super::html::{esc, page, simulated_banner};

/// What the page says about where the episode comes from.
pub struct EpisodeInfo<'a> {
    /// The lineage id of the harness (`seed`, `r1c0`).
    pub harness_id: &'a str,
    /// `train` or `held-out`.
    pub split: &'a str,
    /// The trace file, relative to the run directory.
    pub trace: &'a str,
    /// The step the evidence points at, if the page is opened from an excerpt.
    pub evidence_steps: &'a [u32],
    /// The simulated model's spec, when the run used one.
    pub simulated: Option<&'a str>,
    /// Where "back" goes.
    pub back: &'a str,
}

fn row(class: &str, kind: &str, body: &str) -> String {
    format!("<li class=\"{class}\"><span class=\"kind\">{kind}</span><div>{body}</div></li>")
}

fn pre(s: &str) -> String {
    format!("<pre>{}</pre>", esc(s))
}

fn hook_name(e: &TraceEvent) -> String {
    e.hook
        .map(|h| {
            serde_json::to_value(h)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// One event as a row; `None` for events the viewer leaves out (a hook starting: the
/// rules that fired at it say which hook they ran in).
fn event_row(e: &TraceEvent) -> Option<String> {
    Some(match &e.kind {
        EventKind::EpisodeStart { .. } | EventKind::HookFired | EventKind::EpisodeEnd { .. } => {
            return None
        }
        EventKind::Message {
            role,
            kind,
            content,
            pinned,
        } => {
            let role = serde_json::to_value(role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let pin = if *pinned { " · pinned" } else { "" };
            row(
                "ev-message",
                &format!("{} message", esc(&role)),
                &format!(
                    "<span class=\"muted\">{}{pin}</span>{}",
                    esc(&kind),
                    pre(content)
                ),
            )
        }
        EventKind::ContextCompacted(c) => row(
            "ev-compact",
            "compaction",
            &esc(&serde_json::to_string(c).unwrap_or_default()),
        ),
        EventKind::ModelRequest {
            purpose,
            messages,
            context_tokens,
            ..
        } => row(
            "ev-request",
            "model asked",
            &format!(
                "{} · {messages} messages · about {context_tokens} tokens of context",
                esc(purpose)
            ),
        ),
        EventKind::ModelResponse {
            text,
            completion_tokens,
            ..
        } => row(
            "ev-reply",
            "model reply",
            &format!(
                "{}<span class=\"muted\">{completion_tokens} tokens</span>",
                pre(text)
            ),
        ),
        EventKind::ModelFailed { error } => row("ev-parse failed", "model failed", &pre(error)),
        EventKind::CallParsed { call, error } => match (call, error) {
            (Some(c), _) => row(
                "ev-parse",
                "parsed call",
                &format!("<code>{}</code>", esc(c)),
            ),
            (None, e) => row(
                "ev-parse failed",
                "not a call",
                &esc(e.as_deref().unwrap_or("")),
            ),
        },
        EventKind::ToolCall { call, attempt, .. } => row(
            "ev-call",
            "tool call",
            &format!(
                "<code>{}</code>{}",
                esc(call),
                if *attempt > 1 {
                    format!(" <span class=\"muted\">attempt {attempt}</span>")
                } else {
                    String::new()
                }
            ),
        ),
        EventKind::ToolResult {
            tool,
            observation,
            failure,
            state_changed,
            done,
            blocked,
            ..
        } => {
            let mut notes = Vec::new();
            if *blocked {
                notes.push("blocked by a rule".to_string());
            }
            if let Some(f) = failure {
                notes.push(format!(
                    "failed: {}",
                    serde_json::to_string(f).unwrap_or_default()
                ));
            }
            if *state_changed {
                notes.push("state changed".into());
            }
            if *done {
                notes.push("ended the episode".into());
            }
            let class = if failure.is_some() || *blocked {
                "ev-result failed"
            } else {
                "ev-result"
            };
            row(
                class,
                &format!("{} result", esc(tool)),
                &format!(
                    "{}<span class=\"muted\">{}</span>",
                    pre(observation),
                    esc(&notes.join(" · "))
                ),
            )
        }
        EventKind::RuleFired {
            rule,
            action,
            processor,
            took_effect,
            detail,
        } => {
            let processor = serde_json::to_value(processor)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            row(
                "ev-rule",
                "rule fired",
                &format!(
                    "<code>{}</code> at <code>{}</code>: <strong>{}</strong> ({}{}){}",
                    esc(rule),
                    esc(&hook_name(e)),
                    esc(action),
                    esc(&processor),
                    if *took_effect { "" } else { ", no effect" },
                    detail
                        .as_deref()
                        .map(|d| format!("<pre>{}</pre>", esc(d)))
                        .unwrap_or_default()
                ),
            )
        }
        EventKind::Reward { reward, total } => {
            row("ev-reward", "reward", &format!("{reward} (total {total})"))
        }
    })
}

/// The episode's page.
pub fn episode_page(events: &[TraceEvent], info: &EpisodeInfo) -> String {
    let start = events.iter().find_map(|e| match &e.kind {
        EventKind::EpisodeStart {
            harness,
            harness_hash,
            task,
            seed,
            max_steps,
            goal,
        } => Some((harness, harness_hash, *task, *seed, *max_steps, goal)),
        _ => None,
    });
    let end = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::EpisodeEnd {
            success,
            reason,
            steps,
            tokens,
            total_reward,
            ..
        } => Some((*success, reason.clone(), *steps, *tokens, *total_reward)),
        _ => None,
    });
    let mut by_step: BTreeMap<u32, Vec<&TraceEvent>> = BTreeMap::new();
    for e in events {
        by_step.entry(e.step).or_default().push(e);
    }

    let mut b = String::new();
    b.push_str("<header class=\"top\">");
    b.push_str(&format!(
        "<p><a id=\"back\" href=\"{}\">← back to the review</a> <span class=\"muted\">(b)</span></p>",
        esc(info.back)
    ));
    let (task, seed) = start.map_or((0, 0), |s| (s.2, s.3));
    b.push_str(&format!(
        "<h1>Episode: task {task}, seed {seed} — <code>{}</code> ({})</h1>",
        esc(info.harness_id),
        esc(info.split)
    ));
    if let Some(model) = info.simulated {
        b.push_str(&simulated_banner(model));
    }
    if let Some((harness, hash, _, _, max_steps, goal)) = start {
        b.push_str(&format!(
            "<p class=\"facts\">harness <code>{}</code> (hash <code>{}</code>) · at most {max_steps} steps · trace <code>{}</code></p><p><strong>Goal:</strong> {}</p>",
            esc(harness),
            esc(hash),
            esc(info.trace),
            esc(goal)
        ));
    }
    let outcome = match &end {
        Some((success, reason, steps, tokens, reward)) => format!(
            "<div class=\"end {}\" id=\"outcome\"><span class=\"badge {}\">{}</span> ended: <strong>{}</strong> after {steps} step(s) · {tokens} tokens · reward {reward}</div>",
            if *success { "success" } else { "failure" },
            if *success { "success" } else { "failure" },
            if *success { "success" } else { "failure" },
            esc(reason)
        ),
        None => "<div class=\"end failure\" id=\"outcome\">incomplete: the trace has no episode_end</div>".into(),
    };
    b.push_str(&outcome);
    b.push_str("</header><main>");

    // The step bar: every step, evidence steps marked; buttons for the keyboard script.
    b.push_str("<nav class=\"steps-nav\" aria-label=\"steps\"><button id=\"prev-step\" type=\"button\">← previous step (k)</button><button id=\"next-step\" type=\"button\">next step (j) →</button><span id=\"step-pos\" class=\"muted\"></span>");
    for step in by_step.keys() {
        let ev = info.evidence_steps.contains(step);
        b.push_str(&format!(
            "<a href=\"#step-{step}\"{}>{}</a>",
            if ev {
                " class=\"evidence\" title=\"the digester's evidence\""
            } else {
                ""
            },
            if *step == 0 {
                "start".to_string()
            } else {
                step.to_string()
            }
        ));
    }
    b.push_str("</nav>");

    for (step, evs) in &by_step {
        let ev = info.evidence_steps.contains(step);
        b.push_str(&format!(
            "<section class=\"step{}\" id=\"step-{step}\" tabindex=\"-1\" aria-label=\"step {step}\"><h2>{}{}</h2><ol class=\"events\">",
            if ev { " evidence" } else { "" },
            if *step == 0 {
                "Before the first step".to_string()
            } else {
                format!("Step {step}")
            },
            if ev {
                " — the digester's evidence"
            } else {
                ""
            }
        ));
        for e in evs {
            if let Some(r) = event_row(e) {
                b.push_str(&r);
            }
        }
        b.push_str("</ol></section>");
    }
    b.push_str(&outcome.replace("id=\"outcome\"", "id=\"outcome-end\""));
    b.push_str("</main>");
    page(
        &format!(
            "task {task} seed {seed} — {} ({})",
            info.harness_id, info.split
        ),
        &b,
        true,
    )
}
