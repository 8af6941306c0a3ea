//! Integration-test crate; the tests live in tests/tests/.
//!
//! The library holds what other crates' tests, the fuzzer (fuzz/) and the benches share:
//! [`inputs`], the generated and damaged sources the front end's never-panic tests and the
//! language server's robustness tests are fed; [`oracle`], the front end's contract as one
//! function; and [`stress`], oversized inputs.

pub mod inputs;
pub mod oracle;
pub mod stress;
