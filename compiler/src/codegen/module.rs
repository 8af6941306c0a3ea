//! One harness → one Rust module: the items of [`super::ir`], [`super::tools`],
//! [`super::prompts`] and [`super::rules`], behind a header naming the harness.

use harnessx_runtime::ir::HarnessIr;
use proc_macro2::TokenStream;
use quote::quote;

use super::names::{doc_safe, Names};
use super::{ir, lit, prompts, rules, tools};

/// Type-namespace names the generated code uses unqualified (prelude items, crates, its
/// own fixed items): no generated type may take one of them.
const RESERVED_TYPES: &[&str] = &[
    "Box",
    "Call",
    "DurationArg",
    "Err",
    "None",
    "Ok",
    "Option",
    "Result",
    "Rules",
    "Self",
    "Some",
    "String",
    "Vec",
    "core",
    "regex",
    "rt",
    "serde",
    "serde_json",
    "std",
];

/// Value-namespace names of fixed items (`Rules` is a unit struct, so a value too).
const RESERVED_VALUES: &[&str] = &["HARNESS_HASH", "HARNESS_NAME", "Rules", "ir", "json_object"];

pub fn module_tokens(ir: &HarnessIr) -> TokenStream {
    let mut types = Names::new(RESERVED_TYPES);
    let mut values = Names::new(RESERVED_VALUES);
    let hash = ir.hash();
    let name = lit::str(&ir.name);
    let hash_lit = lit::str(&hash);
    let header = [
        format!(
            " Harness `{}`, compiled by harnessx (IR hash {hash}).",
            doc_safe(&ir.name)
        ),
        String::new(),
        " Generated code: do not edit. Regenerate with `harnessx compile FILE --emit rust`."
            .to_string(),
    ];
    let ir_fn = ir::ir_fn(ir);
    let tools = tools::tokens(ir, &mut types, &mut values);
    let prompts = prompts::tokens(ir, &mut types, &mut values);
    let rules = rules::tokens(ir, &mut values);
    quote! {
        #(#![doc = #header])*

        use harnessx_runtime as rt;

        /// The harness's name.
        pub const HARNESS_NAME: &str = #name;
        /// The content hash of the harness's IR (`rt::ir::HarnessIr::hash`).
        pub const HARNESS_HASH: &str = #hash_lit;

        #ir_fn

        #tools

        #prompts

        #rules
    }
}
