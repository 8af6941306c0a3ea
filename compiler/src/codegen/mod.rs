//! Code generation: IR → Rust.
//!
//! A [`HarnessIr`] becomes one Rust module (see [`module`] for its items), written
//! directly as formatted source by [`emit`], laid out as `prettyplease` would lay it out.
//! (Building it as a `quote!` token stream, parsing that with `syn` and printing it with
//! `prettyplease` cost over 80% of the time from source text to Rust.) The small fixed
//! crates around the modules ([`batch`]) are still built with `quote!` and printed with
//! `prettyplease`, which also proves them syntactically valid Rust; the modules' validity
//! is proved by the tests, which parse every snapshot and compile generated crates.
//!
//! Two properties are by construction:
//!
//! - **No injection.** Every string from the harness enters the token stream as one
//!   literal token ([`lit`]); names become identifiers only after sanitizing ([`names`]).
//!   No source text is ever formatted into code.
//! - **Determinism.** The output depends only on the IR: no timestamps, no paths, no hash
//!   map iteration; names are allocated in source order. Generating twice gives the same
//!   bytes, which is what makes snapshot tests of generated code possible.
//!
//! The generated code refers to the runtime as `harnessx_runtime`, to `serde`,
//! `serde_json` and `regex`; [`crate::build`] writes a crate with those dependencies.
//!
//! # Snapshot-testing a harness's generated code
//!
//! Because the output is deterministic, a project can pin what its harness compiles to,
//! and review a change to the harness as a change to the code:
//!
//! ```text
//! #[test]
//! fn household_codegen() {
//!     let out = std::process::Command::new("harnessx")
//!         .args(["compile", "household.harness", "--emit", "rust"])
//!         .output()
//!         .expect("harnessx runs");
//!     assert!(out.status.success());
//!     insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
//! }
//! ```
//!
//! or, in Rust, `harnessx_compiler::lower::lower_source` then [`generate_module`]. The IR
//! (`--emit ir`) can be pinned the same way; it is what the interpreter runs.

pub mod batch;
pub mod emit;
pub mod ir;
pub mod lit;
pub mod module;
pub mod names;
pub mod prompts;
pub mod rules;
pub mod tools;

use std::fmt;

use harnessx_runtime::ir::HarnessIr;
use proc_macro2::TokenStream;

pub use tools::{tool_json_schema, tool_schemas};

/// Generated code that is not valid Rust: always a bug in the generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodegenError {
    pub message: String,
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "internal compiler error: generated code does not parse ({}); this is a bug in \
             the harnessx code generator, please report it with the harness",
            self.message
        )
    }
}

impl std::error::Error for CodegenError {}

/// The module of one harness, as formatted Rust source (the contents of a module file).
/// It does not fail today; the `Result` keeps room for a generator that can.
pub fn generate_module(ir: &HarnessIr) -> Result<String, CodegenError> {
    Ok(module::module_source(ir))
}

/// Parses `tokens` as a whole file and prints it with `prettyplease`.
pub fn pretty(tokens: TokenStream) -> Result<String, CodegenError> {
    let file = syn::parse2::<syn::File>(tokens).map_err(|e| CodegenError {
        message: e.to_string(),
    })?;
    Ok(prettyplease::unparse(&file))
}

/// The module name of a harness in a generated crate: `h_<hash>`.
pub fn module_name(ir: &HarnessIr) -> String {
    format!("h_{}", ir.hash())
}
