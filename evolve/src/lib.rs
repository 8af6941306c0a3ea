//! harnessx-evolve: AEGIS, the evolution loop (see docs/ARCHITECTURE.md).
//!
//! - [`manifest`]: the failure classes, the operator ids, and the manifest each candidate
//!   carries (operator, class, changed node paths with their printed text before and
//!   after, evidence, predicted impact).
//! - [`operators`]: the Evolver's typed AST operators (numbers and enums within their
//!   `@evolve` bounds, rules from a rule library inserted, removed, re-actioned or tuned,
//!   prompt fragments, tool timeouts and retries, context pins), their class mapping for
//!   the planner, candidate verification, and provenance comments.
//! - [`fragments`]: the instruction sentences and rule messages per failure class.

pub mod fragments;
pub mod manifest;
pub mod operators;
