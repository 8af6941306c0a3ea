//! Placeholder crate. Nothing is implemented here yet; see docs/ARCHITECTURE.md.
