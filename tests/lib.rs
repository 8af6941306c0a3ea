//! Integration-test crate; the tests live in tests/tests/.
//!
//! The library holds what other crates' tests, the fuzzer (fuzz/) and the benches share:
//! [`inputs`], the generated and damaged sources the front end's never-panic tests and the
//! language server's robustness tests are fed; [`oracle`], the front end's contract as one
//! function; [`stress`], oversized inputs; [`random_harness`], random checked harnesses
//! with hostile strings, for the codegen build test; and [`fuzz_dict`], the fuzzer's
//! dictionary.

pub mod fuzz_dict;
pub mod inputs;
pub mod oracle;
pub mod random_harness;
pub mod stress;
