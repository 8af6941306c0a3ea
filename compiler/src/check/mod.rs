//! The staged checker.
//!
//! 1. [`names`]: every name resolves (sections, fields, hooks, detectors, metrics,
//!    subjects, actions, tools, annotations, types, template variables) and definitions are
//!    unique; a miss comes with a did-you-mean.
//! 2. [`types`]: values have the right type and lie in their legal range.
//! 3. [`semantics`]: legality of conditions and actions per hook, `otherwise`, `@evolve`
//!    bounds, required items.
//!
//! Later stages look names up again and silently skip whatever does not resolve or does
//! not type-check, so a node with an error is reported once, by the earliest stage.

pub mod codes;
mod ctx;
mod evolve;
mod names;
mod semantics;
mod types;
mod value;

use harnessx_syntax::File;

use ctx::Ctx;

use crate::diagnostic::Diagnostic;

/// Knobs of a check run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Report a missing `prompt system` / missing tools. Off when the source had syntax
    /// errors: the missing item may simply be the one that failed to parse.
    pub require_items: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            require_items: true,
        }
    }
}

/// Runs all stages over a file and returns their diagnostics (unsorted).
pub fn check(file: &File, options: Options) -> Vec<Diagnostic> {
    let Some(harness) = &file.harness else {
        // No header: the parser has reported it, and there is nothing to check.
        return Vec::new();
    };
    let ctx = Ctx::new(harness);
    let mut out = Vec::new();
    names::run(&ctx, &mut out);
    types::run(&ctx, &mut out);
    semantics::run(&ctx, options.require_items, &mut out);
    out
}
