//! Integration-test crate; the tests live in tests/tests/.
//!
//! The library holds what other crates' tests share: [`inputs`], the generated and damaged
//! sources the front end's never-panic tests and the language server's robustness tests
//! are fed.

pub mod inputs;
