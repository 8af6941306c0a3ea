//! Runs the `harnessx` command for the snapshot tests in `tests/`.
//!
//! The binary is `$HARNESSX` when that is set, otherwise `harnessx` on the `PATH`
//! (`cargo install --path cli` in a harnessx checkout puts it there).

use std::path::{Path, PathBuf};
use std::process::Command;

/// This crate's directory: the harness and the scripted replies live here.
pub fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `harnessx ARGS` in this crate's directory and returns its standard output. Panics
/// with the command's standard error when it fails, and says how to point the tests at the
/// binary when it cannot be started.
pub fn harnessx(args: &[&str]) -> String {
    let bin = std::env::var_os("HARNESSX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("harnessx"));
    let out = Command::new(&bin)
        .args(args)
        .current_dir(here())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}`: {e}; set HARNESSX to the harnessx binary or put it on the PATH",
                bin.display()
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`harnessx {}` failed ({}):\n{stderr}",
        args.join(" "),
        out.status
    );
    String::from_utf8(out.stdout).expect("harnessx prints UTF-8")
}
