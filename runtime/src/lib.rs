//! harnessx-runtime: the IR of a checked harness and the engine that runs it.
//!
//! The runtime knows nothing of syntax: it consumes [`ir::HarnessIr`] only.

pub mod call;
pub mod context;
pub mod detect;
pub mod engine;
pub mod env;
pub mod envs;
pub mod hooks;
pub mod ir;
pub mod model;
pub mod parse;
pub mod repair;
pub mod rules;
pub mod state;
pub mod template;
pub mod trace;

pub use engine::{run_episode, run_with_rules, EndReason, EpisodeResult};
