//! `harnessx fmt`: rewrite files in canonical form.

use harnessx_compiler::render::render_text;
use harnessx_compiler::Diagnostic;
use harnessx_syntax::printer::format_source;

use crate::exit;
use crate::input::{self, Input, Origin};
use crate::output::{self, plural};

#[derive(Debug, Default)]
struct Counts {
    changed: usize,
    unchanged: usize,
    invalid: usize,
    io_failed: usize,
}

/// What happened to one input.
enum Outcome {
    Unchanged,
    /// Reformatted (or, with `--check`, would be).
    Changed,
    /// Syntax errors: left alone, diagnostics shown.
    Invalid,
    /// Could not be read or written.
    IoError,
}

pub fn run(args: &[String], check: bool, color: bool) -> u8 {
    let (inputs, walk_errors) = input::expand(args);
    for e in &walk_errors {
        output::error(e, color);
    }
    let stdin_count = inputs.iter().filter(|i| i.origin == Origin::Stdin).count();
    if stdin_count > 0 && inputs.len() > 1 {
        output::error(
            "`-` (standard input) cannot be combined with other files in `fmt`",
            color,
        );
        return exit::USAGE_OR_IO;
    }

    let outcomes: Vec<Outcome> = inputs
        .iter()
        .map(|input| format_one(input, check, color))
        .collect();
    let mut counts = Counts::default();
    for o in &outcomes {
        match o {
            Outcome::Unchanged => counts.unchanged += 1,
            Outcome::Changed => counts.changed += 1,
            Outcome::Invalid => counts.invalid += 1,
            Outcome::IoError => counts.io_failed += 1,
        }
    }

    if stdin_count == 0 && !outcomes.is_empty() {
        output::stderr(&format!("{}\n", summary(&counts, check)));
    }

    if counts.io_failed > 0 || !walk_errors.is_empty() {
        exit::USAGE_OR_IO
    } else if counts.invalid > 0 || (check && counts.changed > 0) {
        exit::FAILED
    } else {
        exit::OK
    }
}

fn format_one(input: &Input, check: bool, color: bool) -> Outcome {
    let src = match input::read(input) {
        Ok(src) => src,
        Err(e) => {
            output::error(e, color);
            return Outcome::IoError;
        }
    };
    let formatted = match format_source(&src) {
        Ok(text) => text,
        Err(errors) => {
            let diags: Vec<Diagnostic> = errors.iter().map(Diagnostic::from_syntax).collect();
            output::stderr(&render_text(&input.name, &src, &diags, color));
            output::error(
                format!(
                    "{}: not formatted because of {}",
                    input.name,
                    plural(diags.len(), "syntax error")
                ),
                color,
            );
            return Outcome::Invalid;
        }
    };
    let changed = formatted != src;
    match &input.origin {
        Origin::Stdin => {
            if !check {
                output::stdout(&formatted);
            }
        }
        Origin::File(path) => {
            if check {
                if changed {
                    output::stdout(&format!("{}\n", input.name));
                }
            } else if changed {
                if let Err(e) = harnessx_runtime::fsutil::write_atomic(path, formatted.as_bytes()) {
                    output::error(
                        format!("{}: cannot write file: {}", input.name, input::describe(&e)),
                        color,
                    );
                    return Outcome::IoError;
                }
            }
        }
    }
    if changed {
        Outcome::Changed
    } else {
        Outcome::Unchanged
    }
}

/// `formatted 3 files: 1 reformatted, 2 unchanged`, or with `--check`
/// `checked 3 files: 2 would be reformatted, 1 already formatted`.
fn summary(counts: &Counts, check: bool) -> String {
    let total = counts.changed + counts.unchanged + counts.invalid + counts.io_failed;
    let mut parts = Vec::new();
    if counts.changed > 0 {
        parts.push(if check {
            format!("{} would be reformatted", counts.changed)
        } else {
            format!("{} reformatted", counts.changed)
        });
    }
    if counts.unchanged > 0 {
        parts.push(if check {
            format!("{} already formatted", counts.unchanged)
        } else {
            format!("{} unchanged", counts.unchanged)
        });
    }
    if counts.invalid > 0 {
        parts.push(format!(
            "{} with syntax errors (not touched)",
            counts.invalid
        ));
    }
    if counts.io_failed > 0 {
        parts.push(format!("{} could not be read or written", counts.io_failed));
    }
    let verb = if check { "checked" } else { "formatted" };
    format!("{verb} {}: {}", plural(total, "file"), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_wording() {
        let c = |changed, unchanged, invalid, io_failed| Counts {
            changed,
            unchanged,
            invalid,
            io_failed,
        };
        assert_eq!(
            summary(&c(1, 2, 0, 0), false),
            "formatted 3 files: 1 reformatted, 2 unchanged"
        );
        assert_eq!(
            summary(&c(2, 1, 0, 0), true),
            "checked 3 files: 2 would be reformatted, 1 already formatted"
        );
        assert_eq!(
            summary(&c(0, 1, 1, 1), false),
            "formatted 3 files: 1 unchanged, 1 with syntax errors (not touched), 1 could not be read or written"
        );
    }
}
