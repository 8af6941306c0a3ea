//! Built-in environments: [`Household`] (ALFWorld-like) and [`FlakyApi`] (tool use over
//! an unreliable API), both documented in docs/ENVIRONMENTS.md; the stdio bridge; and
//! [`KeyDoor`], which exists to test the engine.

pub mod flaky_api;
pub mod household;
mod key_door;
pub mod stdio;

pub use flaky_api::FlakyApi;
pub use household::Household;
pub use key_door::{Fault, FaultKind, KeyDoor};
pub use stdio::{StdioConfig, StdioEnv};
