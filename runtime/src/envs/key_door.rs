//! `KeyDoor`: a five-step deterministic world for engine tests.
//!
//! A key lies in one of three containers (chosen from the task and seed). The agent must
//! `open` the right container, `take("key")`, `open("door")`, `go("garden")`, and then
//! `finish()`; `finish` succeeds only in the garden. `look()` and `examine(x)` never change
//! the state. Faults can be scheduled on given calls (counted from 1 over every `step`,
//! retries included) to exercise error, timeout and latency handling.

use crate::call::{ToolCall, ToolSpec};
use crate::env::{Env, FailureKind, Observation, StepOutcome, ToolFailure};
use crate::ir::{ParamIr, TypeIr};

const CONTAINERS: [&str; 3] = ["drawer", "box", "shelf"];
const GOAL: &str = "Go out to the garden, then call finish().";
/// Latency of an ordinary call.
const BASE_LATENCY_MS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The call fails with an error and has no effect.
    Error,
    /// The environment itself reports a timeout; the call has no effect.
    Timeout,
    /// The call works but takes this long (a tool `timeout` may turn it into a timeout).
    Slow(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// 1-based index of the `step` call this fault applies to.
    pub call: u32,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, Default)]
pub struct KeyDoor {
    faults: Vec<Fault>,
    calls: u32,
    key_in: usize,
    opened: Vec<String>,
    has_key: bool,
    door_open: bool,
    in_garden: bool,
}

impl KeyDoor {
    pub fn new() -> Self {
        KeyDoor::default()
    }

    pub fn with_faults(faults: Vec<Fault>) -> Self {
        KeyDoor {
            faults,
            ..KeyDoor::default()
        }
    }

    /// The container holding the key in the current episode.
    pub fn key_container(&self) -> &'static str {
        CONTAINERS[self.key_in % CONTAINERS.len()]
    }

    fn observe(&self, text: impl Into<String>) -> Observation {
        Observation {
            text: text.into(),
            goal: GOAL.into(),
            admissible: self.admissible(),
        }
    }

    fn admissible(&self) -> Vec<String> {
        let mut out = vec!["look()".to_string()];
        if self.in_garden {
            out.push(r#"go("hall")"#.into());
        } else {
            for c in CONTAINERS {
                if !self.opened.iter().any(|o| o == c) {
                    out.push(format!("open(\"{c}\")"));
                }
            }
            if self.key_visible() {
                out.push(r#"take("key")"#.into());
            }
            if !self.door_open {
                out.push(r#"open("door")"#.into());
            } else {
                out.push(r#"go("garden")"#.into());
            }
            out.push(r#"examine("door")"#.into());
        }
        out.push("finish()".into());
        out
    }

    fn key_visible(&self) -> bool {
        !self.has_key && self.opened.iter().any(|o| o == self.key_container())
    }

    fn describe(&self) -> String {
        if self.in_garden {
            return "You are in the garden.".into();
        }
        let door = if self.door_open { "open" } else { "closed" };
        format!("You are in the hall. You see a drawer, a box, a shelf and a door ({door}).")
    }

    fn act(&mut self, call: &ToolCall) -> (String, bool, Option<FailureKind>) {
        let arg = |n: &str| call.get_str(n).unwrap_or("").to_string();
        match call.tool.as_str() {
            "look" => (self.describe(), false, None),
            "examine" => {
                let t = arg("target");
                let text = match t.as_str() {
                    "door" if self.door_open => "The door is open.".to_string(),
                    "door" => "The door is closed and locked.".to_string(),
                    "key" if self.has_key => "A small brass key, in your hand.".to_string(),
                    _ => format!("You see nothing special about the {t}."),
                };
                (text, false, None)
            }
            "open" => {
                let t = arg("target");
                if self.in_garden {
                    ("There is nothing to open here.".into(), false, None)
                } else if t == "door" {
                    if self.door_open {
                        ("The door is already open.".into(), false, None)
                    } else if self.has_key {
                        self.door_open = true;
                        ("You unlock and open the door.".into(), true, None)
                    } else {
                        ("The door is locked.".into(), false, None)
                    }
                } else if CONTAINERS.contains(&t.as_str()) {
                    if self.opened.contains(&t) {
                        (format!("The {t} is already open."), false, None)
                    } else {
                        self.opened.push(t.clone());
                        let inside = if t == self.key_container() && !self.has_key {
                            "a key"
                        } else {
                            "nothing"
                        };
                        (
                            format!("You open the {t}. Inside you see {inside}."),
                            true,
                            None,
                        )
                    }
                } else {
                    (format!("You cannot open the {t}."), false, None)
                }
            }
            "take" => {
                if arg("object") == "key" && self.key_visible() {
                    self.has_key = true;
                    ("You take the key.".into(), true, None)
                } else {
                    ("You see no such thing here.".into(), false, None)
                }
            }
            "go" => match arg("target").as_str() {
                "garden" if self.in_garden => {
                    ("You are already in the garden.".into(), false, None)
                }
                "garden" if self.door_open => {
                    self.in_garden = true;
                    ("You step into the garden.".into(), true, None)
                }
                "garden" => ("The door is closed.".into(), false, None),
                "hall" if self.in_garden => {
                    self.in_garden = false;
                    ("You go back into the hall.".into(), true, None)
                }
                t => (format!("You cannot go to the {t}."), false, None),
            },
            other => (
                format!("Unknown tool `{other}`."),
                false,
                Some(FailureKind::Error),
            ),
        }
    }
}

impl Env for KeyDoor {
    fn reset(&mut self, task: u64, seed: u64) -> Observation {
        let faults = std::mem::take(&mut self.faults);
        *self = KeyDoor {
            faults,
            // Any fixed mixing works; this one spreads consecutive tasks and seeds.
            key_in: (task.wrapping_mul(31).wrapping_add(seed.wrapping_mul(17)) % 3) as usize,
            ..KeyDoor::default()
        };
        self.observe(format!("{} {}", GOAL, self.describe()))
    }

    fn step(&mut self, call: &ToolCall) -> StepOutcome {
        self.calls = self.calls.saturating_add(1);
        let fault = self
            .faults
            .iter()
            .find(|f| f.call == self.calls)
            .map(|f| f.kind);
        let failed = |kind: FailureKind, me: &Self| {
            let message = match kind {
                FailureKind::Error => "Error: the service is unavailable, try again.",
                FailureKind::Timeout => "Error: the call timed out.",
            };
            StepOutcome {
                observation: me.observe(message),
                reward: 0.0,
                done: false,
                success: false,
                error: Some(ToolFailure {
                    kind,
                    message: message.into(),
                }),
                state_changed: false,
                latency_ms: BASE_LATENCY_MS,
            }
        };
        let latency_ms = match fault {
            Some(FaultKind::Error) => return failed(FailureKind::Error, self),
            Some(FaultKind::Timeout) => return failed(FailureKind::Timeout, self),
            Some(FaultKind::Slow(ms)) => ms,
            None => BASE_LATENCY_MS,
        };
        if call.tool == "finish" {
            let success = self.in_garden;
            let text = if success {
                "Task complete."
            } else {
                "Task failed."
            };
            return StepOutcome {
                observation: self.observe(text),
                reward: if success { 1.0 } else { 0.0 },
                done: true,
                success,
                error: None,
                state_changed: false,
                latency_ms,
            };
        }
        let (text, state_changed, failure) = self.act(call);
        StepOutcome {
            error: failure.map(|kind| ToolFailure {
                kind,
                message: text.clone(),
            }),
            observation: self.observe(text),
            reward: 0.0,
            done: false,
            success: false,
            state_changed,
            latency_ms,
        }
    }

    fn tools(&self) -> Vec<ToolSpec> {
        let s = |n: &str| ParamIr::new(n, TypeIr::String);
        let spec = |name: &str, description: &str, params: Vec<ParamIr>| ToolSpec {
            name: name.into(),
            description: description.into(),
            params,
        };
        vec![
            spec("look", "Describe the room", vec![]),
            spec("open", "Open a container or the door", vec![s("target")]),
            spec("take", "Pick something up", vec![s("object")]),
            spec("go", "Walk somewhere", vec![s("target")]),
            spec("examine", "Look closely at something", vec![s("target")]),
            spec(
                "finish",
                "Declare the task done",
                vec![ParamIr::new(
                    "answer",
                    TypeIr::Optional(Box::new(TypeIr::String)),
                )],
            ),
        ]
    }

    fn expert(&self) -> Option<ToolCall> {
        let call = if self.in_garden {
            ToolCall::new("finish")
        } else if self.door_open {
            ToolCall::new("go").arg("target", "garden")
        } else if self.has_key {
            ToolCall::new("open").arg("target", "door")
        } else if self.key_visible() {
            ToolCall::new("take").arg("object", "key")
        } else {
            ToolCall::new("open").arg("target", self.key_container())
        };
        Some(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_call;

    #[test]
    fn expert_solves_every_layout_in_five_calls() {
        for task in 0..6 {
            let mut env = KeyDoor::new();
            env.reset(task, 7);
            let mut last = None;
            for _ in 0..5 {
                let call = env.expert().expect("expert");
                last = Some(env.step(&call));
            }
            let last = last.expect("stepped");
            assert!(last.done && last.success, "task {task}");
        }
    }

    #[test]
    fn admissible_actions_parse_as_calls() {
        let mut env = KeyDoor::new();
        let obs = env.reset(1, 1);
        let tools = env.tools();
        for a in &obs.admissible {
            assert!(parse_call(a, &tools).is_ok(), "{a}");
        }
    }

    #[test]
    fn scheduled_faults_fail_without_effect() {
        let mut env = KeyDoor::with_faults(vec![
            Fault {
                call: 1,
                kind: FaultKind::Error,
            },
            Fault {
                call: 2,
                kind: FaultKind::Timeout,
            },
            Fault {
                call: 3,
                kind: FaultKind::Slow(900),
            },
        ]);
        env.reset(0, 0);
        let c = env.expert().expect("expert");
        let a = env.step(&c);
        assert_eq!(a.error.map(|e| e.kind), Some(FailureKind::Error));
        let b = env.step(&c);
        assert_eq!(b.error.map(|e| e.kind), Some(FailureKind::Timeout));
        let s = env.step(&c);
        assert!(s.error.is_none() && s.state_changed);
        assert_eq!(s.latency_ms, 900);
        // Faults are configuration: every episode sees them at the same calls.
        env.reset(0, 0);
        assert!(env.step(&c).error.is_some());
    }
}
