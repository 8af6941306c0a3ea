//! One harness → one Rust module: the items of [`super::ir`], [`super::tools`],
//! [`super::prompts`] and [`super::rules`], behind a header naming the harness.

use harnessx_runtime::ir::HarnessIr;

use super::emit::Src;
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

/// The module's source. A tool, prompt or rule takes one to a few kilobytes of Rust, so
/// room for that is made up front.
pub fn module_source(ir: &HarnessIr) -> String {
    let mut types = Names::new(RESERVED_TYPES);
    let mut values = Names::new(RESERVED_VALUES);
    let hash = ir.hash();
    let mut out = Src::new();
    out.reserve(4096 + 2048 * (ir.tools.len() + ir.prompts.len() + ir.rules.len()));
    out.inner_doc(&format!(
        " Harness `{}`, compiled by harnessx (IR hash {hash}).",
        doc_safe(&ir.name)
    ));
    out.inner_doc("");
    out.inner_doc(
        " Generated code: do not edit. Regenerate with `harnessx compile FILE --emit rust`.",
    );
    out.line("use harnessx_runtime as rt;");
    out.doc(" The harness's name.");
    out.line(&format!(
        "pub const HARNESS_NAME: &str = {};",
        lit::str(&ir.name)
    ));
    out.doc(" The content hash of the harness's IR (`rt::ir::HarnessIr::hash`).");
    out.line(&format!(
        "pub const HARNESS_HASH: &str = {};",
        lit::str(&hash)
    ));
    ir::ir_fn(ir, &mut out);
    tools::write(ir, &mut types, &mut values, &mut out);
    prompts::write(ir, &mut types, &mut values, &mut out);
    rules::write(ir, &mut values, &mut out);
    out.finish()
}
