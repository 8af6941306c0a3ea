//! The fuzzer's committed inputs, replayed in `cargo test` (no fuzzer, no nightly): every
//! file of the minimized corpus `fuzz/seeds/front_end/` and every past finding in
//! `fuzz/regressions/front_end/` goes through the front end's contract
//! (`harnessx_tests::oracle::check_front_end`), the same function the fuzz target runs.
//! And the fuzzer's dictionary is what `harnessx_tests::fuzz_dict` generates from the
//! grammar and the schema. docs/TESTING.md.

use std::fs;
use std::path::{Path, PathBuf};

use harnessx_tests::fuzz_dict::dictionary;
use harnessx_tests::oracle::check_front_end;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    files.sort();
    files
}

/// Runs the oracle on every file, each on a thread with a large stack (as the fuzzer's
/// main thread has: `syn` on a 64-deep generated expression needs more than a test
/// thread's 2 MiB in a debug build). Returns how many files it read.
fn replay(dir: &Path) -> usize {
    let files = files(dir);
    for path in &files {
        let bytes = fs::read(path).expect("readable");
        // The fuzz target's own conversion.
        let src = String::from_utf8_lossy(&bytes).into_owned();
        let result = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || check_front_end(&src))
            .expect("spawns")
            .join();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(finding)) => panic!("{}: {finding}", path.display()),
            Err(_) => panic!("{}: the front end panicked (message above)", path.display()),
        }
    }
    files.len()
}

#[test]
fn the_minimized_corpus_passes_the_oracle() {
    let n = replay(&fuzz_dir().join("seeds/front_end"));
    assert!(n >= 50, "the committed corpus is too small: {n} files");
}

#[test]
fn past_findings_pass_the_oracle() {
    let n = replay(&fuzz_dir().join("regressions/front_end"));
    assert!(n >= 1, "no regression inputs found");
}

#[test]
fn the_dictionary_is_generated_from_the_schema() {
    let path = fuzz_dir().join("front_end.dict");
    let want = dictionary();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::write(&path, &want).expect("writes the dictionary");
    }
    let have = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale; run `UPDATE_DOCS=1 cargo test -p harnessx-tests --test fuzz_corpus`",
        path.display()
    );
}
