//! `criterion-report [DIR]`: prints the criterion results under DIR (default
//! `target/criterion`) as the Markdown section "Compiler and runtime benchmarks" of
//! docs/BENCHMARKS.md. `scripts/benchmarks.sh` writes it to a file and passes that to
//! `harnessx bench evolution --criterion-md FILE`.
//!
//! Exits 0 on success (missing results are named in the text), 1 when a result file is
//! unreadable or malformed, 2 on bad usage.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: criterion-report [DIR]

Prints the results of `cargo bench -p harnessx-benches` found in DIR (criterion's output,
default target/criterion) as Markdown on standard output: the \"Compiler and runtime
benchmarks\" section of docs/BENCHMARKS.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [] => PathBuf::from("target/criterion"),
        [a] if a == "-h" || a == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [a] if !a.starts_with('-') => PathBuf::from(a),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match harnessx_benches::criterion_report::render(&dir) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: criterion results in `{}`: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
