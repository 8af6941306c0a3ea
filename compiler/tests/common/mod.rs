//! Helpers shared by the compiler's integration tests.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root (the compiler crate's parent).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate lives inside the workspace")
        .to_path_buf()
}

/// The `*.harness` files directly in `dir`, sorted so test order is stable.
pub fn harness_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "harness"))
        .collect();
    files.sort();
    files
}
