//! End-to-end tests of the `harnessx` binary: exit codes, which stream gets what, and
//! that files are only ever changed by `fmt` without `--check`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use harnessx_syntax::printer::format_source;

const MESSY: &str = "harness messy {\nmodel{backend=\"sim:small\"   }\n      prompt system \"hi\"\ntool finish(answer:string?)\n}\n";
const SYNTAX_ERROR: &str = "harness broken {\n  model {\n    backend = \n  }\n}\n";

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harnessx"));
    cmd.env_remove("NO_COLOR");
    cmd
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run harnessx")
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harnessx");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait harnessx")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("examples dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "harness"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// A fresh scratch directory per test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("harnessx-cli-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "panic: {err}");
}

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        stdout(&o).trim(),
        format!("harnessx {}", env!("CARGO_PKG_VERSION"))
    );
    for args in [&["--help"][..], &["check", "--help"], &["fmt", "--help"]] {
        let o = run(args);
        assert_eq!(code(&o), 0, "{args:?}");
        assert!(
            stdout(&o).contains("Exit status"),
            "{args:?}: {}",
            stdout(&o)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["check"],
        &["fmt"],
        &["check", "--format", "xml", "a.harness"],
        &["frobnicate"],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert_no_panic(&o);
    }
}

#[test]
fn check_examples_is_clean() {
    let files = examples();
    let mut args = vec!["check", "--color", "never"];
    args.extend(files.iter().map(String::as_str));
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "human mode writes nothing on stdout");
    let last = stderr(&o).lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with(&format!("checked {} files", files.len())),
        "{last}"
    );
    assert!(!last.contains("error"), "{last}");
}

#[test]
fn check_reports_syntax_errors_with_exit_1() {
    let dir = scratch("check-err");
    let file = dir.join("broken.harness");
    fs::write(&file, SYNTAX_ERROR).expect("write");
    let name = file.display().to_string();
    let o = run(&["check", "--color", "never", &name]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("error[E0"), "{err}");
    assert!(err.contains(&format!("{name}:")), "{err}");
    assert!(err.contains("1 error"), "{err}");
    assert!(!err.contains("\x1b["), "--color never: {err}");
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_color_always_emits_ansi() {
    let o = run_stdin(&["check", "--color", "always", "-"], SYNTAX_ERROR);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("\x1b["), "{}", stderr(&o));
}

#[test]
fn check_missing_file_exits_2_and_names_it() {
    let files = examples();
    let o = run(&["check", &files[0], "no/such/file.harness"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("no/such/file.harness"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert_no_panic(&o);
}

#[test]
fn check_directory_and_non_utf8() {
    let dir = scratch("check-dir");
    fs::write(dir.join("bad.harness"), b"harness x {\xff}").expect("write");
    let o = run(&["check", &dir.display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));
    assert_no_panic(&o);

    let empty = dir.join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    let o = run(&["check", &empty.display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no .harness files"), "{}", stderr(&o));
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_json_is_one_document_on_stdout() {
    let files = examples();
    let o = run_stdin(&["check", "--format", "json", "-", &files[0]], SYNTAX_ERROR);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    let entries = doc["files"].as_array().expect("files array");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["file"], "<stdin>");
    assert!(doc["errors"].as_u64().expect("errors count") >= 1);
    let diags = entries[0]["diagnostics"].as_array().expect("diagnostics");
    assert!(!diags.is_empty());
    for d in diags {
        assert!(
            d["code"].as_str().is_some_and(|c| c.starts_with('E')),
            "{d}"
        );
        assert_eq!(d["file"], "<stdin>");
        assert!(d["primary"]["line"].as_u64().is_some(), "{d}");
    }
    assert_eq!(entries[1]["errors"], 0);
}

#[test]
fn fmt_check_lists_files_and_changes_nothing() {
    let dir = scratch("fmt-check");
    let messy = dir.join("messy.harness");
    fs::write(&messy, MESSY).expect("write");
    let canonical = dir.join("canonical.harness");
    let formatted = format_source(MESSY).expect("MESSY parses");
    assert_ne!(formatted, MESSY, "MESSY must not be canonical already");
    fs::write(&canonical, &formatted).expect("write");

    let o = run(&["fmt", "--check", &dir.display().to_string()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), messy.display().to_string());
    assert_eq!(fs::read_to_string(&messy).expect("read"), MESSY);

    let o = run(&["fmt", "--check", &canonical.display().to_string()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn fmt_rewrites_in_place_atomically() {
    let dir = scratch("fmt-write");
    let messy = dir.join("messy.harness");
    fs::write(&messy, MESSY).expect("write");
    let name = messy.display().to_string();

    let o = run(&["fmt", &name]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let expected = format_source(MESSY).expect("MESSY parses");
    assert_eq!(fs::read_to_string(&messy).expect("read"), expected);
    assert!(stderr(&o).contains("1 reformatted"), "{}", stderr(&o));

    // Only the file itself is left in the directory: no temporary files.
    let entries: Vec<_> = fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    let o = run(&["fmt", "--check", &name]);
    assert_eq!(code(&o), 0, "formatting is stable: {}", stdout(&o));
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn fmt_leaves_files_with_syntax_errors_alone() {
    let dir = scratch("fmt-err");
    let broken = dir.join("broken.harness");
    fs::write(&broken, SYNTAX_ERROR).expect("write");
    let messy = dir.join("messy.harness");
    fs::write(&messy, MESSY).expect("write");

    let o = run(&[
        "fmt",
        "--color",
        "never",
        &broken.display().to_string(),
        &messy.display().to_string(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("error[E0"), "{err}");
    assert!(err.contains("broken.harness"), "{err}");
    assert_eq!(fs::read_to_string(&broken).expect("read"), SYNTAX_ERROR);
    // The valid file is still formatted.
    assert_eq!(
        fs::read_to_string(&messy).expect("read"),
        format_source(MESSY).expect("MESSY parses")
    );
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn fmt_stdin_to_stdout() {
    let o = run_stdin(&["fmt", "-"], MESSY);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), format_source(MESSY).expect("MESSY parses"));

    let o = run_stdin(&["fmt", "--check", "-"], MESSY);
    assert_eq!(code(&o), 1);

    let o = run_stdin(&["fmt", "-"], SYNTAX_ERROR);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "", "nothing is written for a file with errors");
    assert!(stderr(&o).contains("<stdin>"), "{}", stderr(&o));
}

#[test]
fn fmt_missing_file_exits_2() {
    let o = run(&["fmt", "does/not/exist.harness"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("does/not/exist.harness"));
    assert_no_panic(&o);
}

#[cfg(unix)]
#[test]
fn fmt_reports_unwritable_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("fmt-ro");
    let messy = dir.join("messy.harness");
    fs::write(&messy, MESSY).expect("write");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).expect("chmod");
    // root ignores directory permissions, so only assert when the directory really is
    // read-only for us.
    let probe = dir.join("probe");
    let writable = fs::write(&probe, "").is_ok();
    let o = run(&["fmt", &messy.display().to_string()]);
    if !writable {
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
        assert_eq!(fs::read_to_string(&messy).expect("read"), MESSY);
    }
    assert_no_panic(&o);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).ok();
    fs::remove_dir_all(&dir).ok();
}
