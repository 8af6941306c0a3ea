//! Small built-in environments. The real ones (`household`, `flaky_api`, the stdio bridge)
//! come later; [`KeyDoor`] exists to test the engine.

pub mod household;
mod key_door;
pub mod stdio;

pub use household::Household;
pub use key_door::{Fault, FaultKind, KeyDoor};
pub use stdio::{StdioConfig, StdioEnv};
