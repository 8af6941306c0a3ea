//! harnessx-evolve: AEGIS, the evolution loop (see docs/ARCHITECTURE.md).

pub mod manifest;
