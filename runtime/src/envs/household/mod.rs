//! `household`: an ALFWorld-like text world, generated from the task index.
//!
//! A room of numbered receptacles (`cabinet 3`, `fridge 1`, ...) holds numbered objects
//! (`mug 2`); the goal is one of ALFWorld's six task types ([`TaskType`]). Actions are
//! tool calls (`go("fridge 1")`, `take("mug 2", "countertop 1")`, ...; see
//! [`Household::tools`]) and every observation lists the valid ones as canonical call
//! texts. The episode ends, successfully, as soon as the goal holds; `finish()` ends it
//! early (a give-up — the goal cannot hold by then, or the episode would have ended).
//! [`Household::without_finish`] (environment `household_no_finish`, an ablation of the
//! evolution benchmark) has no `finish` at all: an episode ends when the goal holds or the
//! harness's steps run out, and a `finish` call is an unknown tool.
//!
//! # Failures
//!
//! Every rejected call — an unknown tool, a missing argument, a name that is not in this
//! room, or an action whose precondition fails (not there, closed, hands full, ...) —
//! leaves the world unchanged, shows ALFWorld's `Nothing happens.` and reports a
//! [`FailureKind::Error`] whose message says why. Rejections are deterministic, so a retry
//! repeats them: `tool_error` tells a harness the action was invalid; it never means "try
//! again". The world never times out.
//!
//! # Tasks, seeds and splits
//!
//! The task index alone fixes the room and the goal (module `gen`); the seed only shuffles
//! the order in which the valid actions are listed, so a split is the same set of tasks in
//! every run. [`TRAIN`] and [`HELD_OUT`] are disjoint index ranges.

mod expert;
mod gen;
mod tasks;
mod world;

use std::ops::Range;

use crate::call::{ToolCall, ToolSpec};
use crate::env::{Env, FailureKind, Observation, StepOutcome, ToolFailure};
use crate::ir::{ParamIr, TypeIr};

pub use tasks::{Goal, TaskType};

/// Training tasks: indices `0..10_000`.
pub const TRAIN: Range<u64> = 0..10_000;
/// Held-out tasks: indices `10_000..12_000`, disjoint from [`TRAIN`].
pub const HELD_OUT: Range<u64> = 10_000..12_000;
/// ALFWorld's usual step limit; the expert needs far fewer steps.
pub const STEP_LIMIT: u32 = 50;
/// Latency of every call: the world is local and instant.
const LATENCY_MS: u64 = 20;

/// The task range of a split by name (`train`, `held_out`).
pub fn split(name: &str) -> Option<Range<u64>> {
    match name {
        "train" => Some(TRAIN),
        "held_out" => Some(HELD_OUT),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct Household {
    seed: u64,
    world: world::World,
    goal: Goal,
    done: bool,
    success: bool,
    /// Whether the `finish` tool exists.
    finish: bool,
}

impl Default for Household {
    fn default() -> Self {
        Self::new()
    }
}

impl Household {
    /// An environment showing task 0 until the first [`Env::reset`].
    pub fn new() -> Self {
        let (world, goal) = gen::generate(0);
        Household {
            seed: 0,
            world,
            goal,
            done: false,
            success: false,
            finish: true,
        }
    }

    /// The same world without the `finish` tool.
    pub fn without_finish() -> Self {
        Household {
            finish: false,
            ..Self::new()
        }
    }

    pub fn goal(&self) -> &Goal {
        &self.goal
    }

    /// The goal and the full starting layout (closed receptacles included) as text: two
    /// tasks are the same task exactly when their signatures are equal.
    pub fn signature(&self) -> String {
        let mut s = self.goal.text();
        for (r, rec) in self.world.receps.iter().enumerate() {
            let items: Vec<String> = self
                .world
                .contents(r)
                .map(|o| self.world.objs[o].name())
                .collect();
            s.push_str(&format!("|{}:{}", rec.name(), items.join(",")));
        }
        s
    }

    /// The valid actions as canonical call texts, in this episode's order.
    pub fn admissible(&self) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        let mut out: Vec<String> = self
            .world
            .valid_actions()
            .into_iter()
            .map(|a| a.text(&self.world))
            .collect();
        if self.finish {
            out.push("finish()".into());
        }
        // A per-episode order, so the position of an action tells a model nothing.
        // (The sort is stable, so even a hash tie keeps a fixed order.)
        out.sort_by_cached_key(|a| crate::rng::hash_str(self.seed, a));
        out
    }

    fn observe(&self, text: String) -> Observation {
        Observation {
            text,
            goal: self.goal.text(),
            admissible: self.admissible(),
        }
    }

    fn outcome(&self, text: String, changed: bool, error: Option<String>) -> StepOutcome {
        StepOutcome {
            observation: self.observe(text),
            reward: if self.done && self.success { 1.0 } else { 0.0 },
            done: self.done,
            success: self.success,
            error: error.map(|message| ToolFailure {
                kind: FailureKind::Error,
                message,
            }),
            state_changed: changed,
            latency_ms: LATENCY_MS,
        }
    }

    fn reject(&self, why: &str) -> StepOutcome {
        self.outcome(
            "Nothing happens.".into(),
            false,
            Some(format!("Nothing happens: {why}.")),
        )
    }
}

impl Env for Household {
    fn reset(&mut self, task: u64, seed: u64) -> Observation {
        let (world, goal) = gen::generate(task);
        *self = Household {
            seed,
            world,
            goal,
            done: false,
            success: false,
            finish: self.finish,
        };
        let room = self.world.apply(world::Action::Look);
        self.observe(format!("{room}\n\nYour task is to: {}", self.goal.text()))
    }

    fn step(&mut self, call: &ToolCall) -> StepOutcome {
        if self.done {
            return self.reject("the episode is over");
        }
        if call.tool == "finish" && !self.finish {
            return self.reject("there is no tool `finish`; the episode ends when the goal holds");
        }
        if call.tool == "finish" {
            self.done = true;
            self.success = self.goal.holds(&self.world);
            let text = if self.success {
                "Task complete."
            } else {
                "You stop. The task is not done."
            };
            return self.outcome(text.into(), false, None);
        }
        let action = match self.world.resolve(call) {
            Ok(a) => a,
            Err(why) => return self.reject(&why),
        };
        if let Err(why) = self.world.check(action) {
            return self.reject(why);
        }
        let before = self.world.clone();
        let text = self.world.apply(action);
        let changed = self.world != before;
        if self.goal.holds(&self.world) {
            self.done = true;
            self.success = true;
        }
        self.outcome(text, changed, None)
    }

    fn tools(&self) -> Vec<ToolSpec> {
        let mut t = tools();
        if !self.finish {
            t.retain(|t| t.name != "finish");
        }
        t
    }

    fn expert(&self) -> Option<ToolCall> {
        if self.done {
            return None;
        }
        match expert::next_action(&self.world, &self.goal) {
            Some(a) => Some(a.to_call(&self.world)),
            None if self.finish => Some(ToolCall::new("finish")),
            // Nothing to do and no way to stop: the steps run out.
            None => None,
        }
    }
}

/// The household tools. The names and parameters of `go`, `take`, `put`, `open`,
/// `examine` and `finish` match `examples/household.harness`.
pub fn tools() -> Vec<ToolSpec> {
    let s = |n: &str| ParamIr::new(n, TypeIr::String);
    let spec = |name: &str, description: &str, params: Vec<ParamIr>| ToolSpec {
        name: name.into(),
        description: description.into(),
        params,
    };
    vec![
        spec("go", "Walk to a receptacle", vec![s("target")]),
        spec(
            "take",
            "Pick up an object from the receptacle you are at",
            vec![s("object"), s("source")],
        ),
        spec(
            "put",
            "Place the held object in/on the receptacle you are at",
            vec![s("object"), s("target")],
        ),
        spec(
            "open",
            "Open the closed receptacle you are at",
            vec![s("target")],
        ),
        spec(
            "close",
            "Close the open receptacle you are at",
            vec![s("target")],
        ),
        spec(
            "examine",
            "Look closely at the receptacle you are at or the object you hold",
            vec![s("target")],
        ),
        spec(
            "clean",
            "Clean the held object at a sinkbasin",
            vec![s("object"), s("appliance")],
        ),
        spec(
            "heat",
            "Heat the held object at a microwave",
            vec![s("object"), s("appliance")],
        ),
        spec(
            "cool",
            "Cool the held object at a fridge",
            vec![s("object"), s("appliance")],
        ),
        spec("use", "Switch a lamp on or off", vec![s("target")]),
        spec("look", "Describe where you are", vec![]),
        spec("inventory", "Say what you are holding", vec![]),
        spec(
            "finish",
            "Give up: the episode ends by itself once the goal holds",
            vec![ParamIr::new(
                "answer",
                TypeIr::Optional(Box::new(TypeIr::String)),
            )],
        ),
    ]
}
