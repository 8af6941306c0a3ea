//! `harnessx compile` (IR or generated Rust to standard output) and `harnessx build`
//! (generate and build one crate for a batch of harnesses).

use std::path::PathBuf;

use harnessx_compiler::build::{self, BuildOptions};
use harnessx_compiler::codegen;
use harnessx_compiler::lower::{lower, Ir};
use harnessx_compiler::render::render_text;
use harnessx_compiler::{check_source, Severity};

use crate::exit;
use crate::input::{self, Input, Origin};
use crate::output;

/// What `compile` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// The IR as pretty-printed JSON (the form the interpreter and the code generator
    /// consume; fields in declaration order).
    Ir,
    /// The generated Rust module, formatted.
    Rust,
}

/// Reads, checks and lowers one source. Diagnostics (warnings too) go to standard error;
/// `Err` carries the exit status when the file could not be read or has errors.
fn load(input: &Input, color: bool) -> Result<Ir, u8> {
    let src = input::read(input).map_err(|e| {
        output::error(&e, color);
        exit::USAGE_OR_IO
    })?;
    let out = check_source(&src);
    if !out.diagnostics.is_empty() {
        output::stderr(&render_text(&input.name, &src, &out.diagnostics, color));
    }
    if out
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        return Err(exit::FAILED);
    }
    lower(&out.file).map_err(|diags| {
        output::stderr(&render_text(&input.name, &src, &diags, color));
        exit::FAILED
    })
}

fn input_of(arg: &str) -> Input {
    if arg == "-" {
        Input {
            origin: Origin::Stdin,
            name: "<stdin>".into(),
        }
    } else {
        Input {
            origin: Origin::File(PathBuf::from(arg)),
            name: arg.to_string(),
        }
    }
}

pub fn run_compile(file: &str, emit: Emit, color: bool) -> u8 {
    let ir = match load(&input_of(file), color) {
        Ok(ir) => ir,
        Err(code) => return code,
    };
    let text = match emit {
        Emit::Ir => match serde_json::to_string_pretty(&ir) {
            Ok(json) => format!("{json}\n"),
            Err(e) => {
                output::error(format!("cannot serialize the IR: {e}"), color);
                return exit::FAILED;
            }
        },
        Emit::Rust => match codegen::generate_module(&ir) {
            Ok(src) => src,
            Err(e) => {
                output::error(e, color);
                return exit::FAILED;
            }
        },
    };
    output::stdout(&text);
    exit::OK
}

pub fn run_build(files: &[String], release: bool, cache_dir: Option<PathBuf>, color: bool) -> u8 {
    let (inputs, walk_errors) = input::expand(files);
    for e in &walk_errors {
        output::error(e, color);
    }
    let mut irs = Vec::new();
    let mut worst = if walk_errors.is_empty() {
        exit::OK
    } else {
        exit::USAGE_OR_IO
    };
    for input in &inputs {
        match load(input, color) {
            Ok(ir) => irs.push(ir),
            Err(code) => worst = worst.max(code),
        }
    }
    if worst != exit::OK {
        return worst;
    }
    if irs.is_empty() {
        output::error("no harness to build", color);
        return exit::USAGE_OR_IO;
    }
    let opts = BuildOptions { cache_dir, release };
    match build::build(&irs, &opts) {
        Ok(built) => {
            let k = &built.krate;
            let mut text = format!(
                "crate   {}\nbinary  {}\n",
                k.dir.display(),
                built.binary.display()
            );
            for m in &k.modules {
                text.push_str(&format!("module  {} {} ({})\n", m.module, m.name, m.hash));
            }
            text.push_str(&format!(
                "built {} in {:.2}s ({} files written)\n",
                harnesses(k.modules.len()),
                built.cargo_time.as_secs_f64(),
                k.files_written
            ));
            output::stdout(&text);
            if !built.cargo_stderr.trim().is_empty() {
                output::stderr(&built.cargo_stderr);
            }
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}

fn harnesses(n: usize) -> String {
    if n == 1 {
        "1 harness".into()
    } else {
        format!("{n} harnesses")
    }
}
