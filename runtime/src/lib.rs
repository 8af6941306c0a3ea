//! harnessx-runtime: the IR of a checked harness and the engine that runs it.
//!
//! The runtime knows nothing of syntax: it consumes [`ir::HarnessIr`] only.

pub mod ir;
