//! Lowering over the shipped examples and the checker's accepted fixtures: every one
//! lowers, and the examples' IR is pinned as JSON snapshots (the same text that
//! `harnessx compile FILE --emit ir` prints).

use std::fs;
use std::path::{Path, PathBuf};

use harnessx_compiler::lower::lower_source;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

fn harness_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "harness"))
        .collect();
    files.sort();
    files
}

fn lower_file(path: &Path) -> harnessx_runtime::ir::HarnessIr {
    let src = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match lower_source(&src) {
        Ok(ir) => ir,
        Err(diags) => panic!("{} did not lower: {diags:#?}", path.display()),
    }
}

#[test]
fn examples_lower_and_match_snapshots() {
    let files = harness_files(&workspace().join("examples"));
    assert!(
        files.len() >= 3,
        "examples/ should hold the shipped harnesses"
    );
    for path in files {
        let ir = lower_file(&path);
        let json = serde_json::to_string_pretty(&ir).expect("IR serializes");
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("unnamed")
            .to_string();
        insta::assert_snapshot!(format!("ir_{name}"), json);
        // The JSON is a faithful form: it reads back to the same IR.
        let back: harnessx_runtime::ir::HarnessIr =
            serde_json::from_str(&json).expect("IR deserializes");
        assert_eq!(back, ir);
    }
}

#[test]
fn accepted_check_fixtures_lower() {
    let files = harness_files(&workspace().join("tests/fixtures/check/ok"));
    assert!(!files.is_empty());
    for path in files {
        lower_file(&path);
    }
}
