//! `harnessx check`: parse and check files, report diagnostics.

use harnessx_compiler::render::{render_json, render_text};
use harnessx_compiler::{check_source, Severity};
use serde_json::{json, Value};

use crate::input::{self, InputError};
use crate::output::{self, plural};
use crate::{exit, Format};

/// Counts for one file or for the whole run.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    errors: usize,
    warnings: usize,
}

pub fn run(args: &[String], format: Format, color: bool) -> u8 {
    let (inputs, walk_errors) = input::expand(args);
    let mut io_errors: Vec<InputError> = walk_errors;
    let mut total = Counts::default();
    let mut checked = 0usize;
    let mut json_files: Vec<Value> = Vec::new();

    for input in &inputs {
        let src = match input::read(input) {
            Ok(src) => src,
            Err(e) => {
                json_files.push(json!({ "file": e.name, "io_error": e.message }));
                io_errors.push(e);
                continue;
            }
        };
        checked += 1;
        let out = check_source(&src);
        let counts = Counts {
            errors: out
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count(),
            warnings: out
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count(),
        };
        total.errors += counts.errors;
        total.warnings += counts.warnings;
        match format {
            Format::Human => {
                if !out.diagnostics.is_empty() {
                    output::stderr(&render_text(&input.name, &src, &out.diagnostics, color));
                }
            }
            Format::Json => json_files.push(json!({
                "file": input.name,
                "errors": counts.errors,
                "warnings": counts.warnings,
                "diagnostics": render_json(&input.name, &src, &out.diagnostics),
            })),
        }
    }

    match format {
        Format::Human => {
            for e in &io_errors {
                output::error(e, color);
            }
            output::stderr(&format!("{}\n", summary(checked, total, io_errors.len())));
        }
        Format::Json => {
            for e in &io_errors {
                // Also on stderr, so a script that only looks at stdout's JSON and a person
                // at a terminal both learn about it.
                output::error(e, color);
            }
            let doc = json!({
                "files": json_files,
                "errors": total.errors,
                "warnings": total.warnings,
            });
            let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
            output::stdout(&format!("{text}\n"));
        }
    }

    if !io_errors.is_empty() {
        exit::USAGE_OR_IO
    } else if total.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// `checked 3 files: 2 errors, 1 warning`, `checked 1 file: no problems`.
fn summary(checked: usize, total: Counts, unreadable: usize) -> String {
    let mut s = format!("checked {}", plural(checked, "file"));
    if checked == 0 {
        // Nothing was read, so there is nothing to say about problems.
    } else if total.errors == 0 && total.warnings == 0 {
        s.push_str(": no problems");
    } else {
        let mut parts = Vec::new();
        if total.errors > 0 {
            parts.push(plural(total.errors, "error"));
        }
        if total.warnings > 0 {
            parts.push(plural(total.warnings, "warning"));
        }
        s.push_str(&format!(": {}", parts.join(", ")));
    }
    if unreadable > 0 {
        s.push_str(&format!(
            " ({} could not be read)",
            plural(unreadable, "file")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_wording() {
        let c = |errors, warnings| Counts { errors, warnings };
        assert_eq!(summary(1, c(0, 0), 0), "checked 1 file: no problems");
        assert_eq!(summary(2, c(0, 2), 0), "checked 2 files: 2 warnings");
        assert_eq!(
            summary(0, c(0, 0), 1),
            "checked 0 files (1 file could not be read)"
        );
        assert_eq!(
            summary(3, c(2, 1), 0),
            "checked 3 files: 2 errors, 1 warning"
        );
        assert_eq!(
            summary(1, c(1, 0), 2),
            "checked 1 file: 1 error (2 files could not be read)"
        );
    }
}
