//! Disk faults during `harnessx evolve`: a run with a checkpoint (stopped after round 1)
//! resumes into an output directory that has become read-only or full. The resume must
//! fail with a clear error naming the path, exit non-zero without a panic, leave the
//! checkpoint exactly as it was and no temporary file behind; once the fault is cleared,
//! `resume` finishes with the same files as an uninterrupted run.
//!
//! How each fault is made, and why (each must work where `cargo test` runs):
//! - **read-only**: as root, a small tmpfs mounted on the directory and remounted
//!   read-only: a real `EROFS`, which root cannot write past (root ignores permission
//!   bits, so `chmod` cannot make a directory read-only for it). As any other user,
//!   `chmod a-w` on the directory (`EACCES`).
//! - **full**: as root, a small tmpfs filled to the last byte by a filler file: a real
//!   `ENOSPC` in the middle of the run's next write. As anyone, also a file-size limit
//!   (`ulimit -f`, with SIGXFSZ ignored so the write fails with `EFBIG` instead of
//!   killing the process) just above the round-1 checkpoint's size: the round-2
//!   checkpoint, which is larger, cannot be written. This one runs everywhere.
//!
//! Where root cannot mount (a container without CAP_SYS_ADMIN) the tmpfs cases say so on
//! standard error and the others still run.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{scratch, snapshot, temp_files, text};

const ARGS: [&str; 18] = [
    "--model",
    "sim:small",
    "--rounds",
    "2",
    "--candidates",
    "2",
    "--train-tasks",
    "24",
    "--seeds-per-task",
    "1",
    "--held-out-tasks",
    "6",
    "--budget-episodes",
    "400",
    "--seed",
    "7",
    "--workers",
    "2",
];

fn household() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/household.harness")
}

/// `harnessx ARGS`, optionally through `bash -c` with a file-size limit of `fsize_kib`.
fn harnessx(args: &[&str], abort: Option<&str>, fsize_kib: Option<u64>) -> Output {
    let bin = env!("CARGO_BIN_EXE_harnessx");
    let mut c = match fsize_kib {
        Some(kib) => {
            // SIGXFSZ ignored: an ignored signal stays ignored across exec, so the write
            // past the limit fails with EFBIG instead of killing the process.
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
                .arg(bin);
            c
        }
        None => Command::new(bin),
    };
    c.args(args).env("NO_COLOR", "1");
    match abort {
        Some(a) => c.env("HARNESSX_EVOLVE_ABORT", a),
        None => c.env_remove("HARNESSX_EVOLVE_ABORT"),
    };
    c.output().expect("run harnessx")
}

fn evolve(out: &Path, abort: Option<&str>) -> Output {
    let out = out.to_string_lossy();
    let file = household();
    let mut args = vec!["evolve", file.to_str().expect("utf-8 path")];
    args.extend(ARGS);
    args.extend(["--no-build", "--out", &out]);
    harnessx(&args, abort, None)
}

fn resume(out: &Path, fsize_kib: Option<u64>, extra: &[&str]) -> Output {
    let out = out.to_string_lossy();
    let mut args = vec!["resume", &*out, "--workers", "2"];
    args.extend_from_slice(extra);
    harnessx(&args, None, fsize_kib)
}

/// The files of an uninterrupted run with [`ARGS`] (computed once per test).
fn reference(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let whole = dir.join("whole");
    let o = evolve(&whole, None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    snapshot(&whole)
}

/// A run stopped right after round 1's checkpoint; returns the checkpoint's bytes.
fn stopped_after_round_one(out: &Path) -> Vec<u8> {
    let o = evolve(out, Some("after:1"));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("aborted on purpose"),
        "{}",
        text(&o.stderr)
    );
    std::fs::read(out.join("checkpoint.json")).expect("a checkpoint after round 1")
}

/// The resume that met the fault: exit status 2, no panic, an error naming a path under
/// `out` and saying `why`; the checkpoint as it was, and no temporary file anywhere.
fn assert_clean_failure(o: &Output, out: &Path, checkpoint: &[u8], why: &[&str]) {
    let err = text(&o.stderr);
    assert!(!o.status.success(), "the resume should fail: {err}");
    assert_eq!(
        o.status.code(),
        Some(2),
        "an I/O error (status 2, as for any file the CLI cannot write), not a crash: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&*out.to_string_lossy()),
        "the error names the path: {err}"
    );
    assert!(
        why.iter().any(|w| err.contains(w)),
        "the error says why: {err}"
    );
    assert_eq!(
        std::fs::read(out.join("checkpoint.json")).expect("checkpoint"),
        checkpoint,
        "the previous checkpoint is untouched"
    );
    assert!(
        temp_files(out).is_empty(),
        "no temporary file left: {:?}",
        temp_files(out)
    );
}

/// After the fault is cleared: `resume` finishes, with the uninterrupted run's files.
fn assert_resumes_to(out: &Path, want: &BTreeMap<String, Vec<u8>>) {
    let o = resume(out, None, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = snapshot(out);
    let differ: Vec<&String> = want
        .keys()
        .chain(got.keys())
        .filter(|k| want.get(*k) != got.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "files differ from the uninterrupted run: {differ:?}"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// A tmpfs mounted on a directory, unmounted when dropped (also when a test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (and why, on standard error) where mounting is not possible.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("not root: no tmpfs for the disk-fault test; skipped that case");
            return None;
        }
        // A mount left by an earlier run that was killed.
        let _ = Command::new("umount").arg("-l").arg(dir).output();
        std::fs::create_dir_all(dir).expect("mount point");
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "cannot mount a tmpfs ({}); skipped that case",
                    text(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("cannot run mount ({e}); skipped that case");
                None
            }
        }
    }

    fn remount(&self, mode: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .output()
            .expect("mount");
        assert!(o.status.success(), "remount {mode}: {}", text(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

#[test]
fn a_read_only_output_directory_is_a_clear_error_and_resume_works_after() {
    let dir = scratch("disk-read-only");
    let want = reference(&dir);

    // As root: a tmpfs remounted read-only.
    if let Some(fs) = Tmpfs::mount(&dir.join("mnt"), "64m") {
        let out = dir.join("mnt/run");
        let checkpoint = stopped_after_round_one(&out);
        fs.remount("ro");
        let o = resume(&out, None, &[]);
        fs.remount("rw");
        assert_clean_failure(&o, &out, &checkpoint, &["Read-only file system"]);
        assert_resumes_to(&out, &want);
        eprintln!("read-only tmpfs: {}", text(&o.stderr).trim());
    }

    // As any other user: the directory's write permission taken away.
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        let out = dir.join("chmod/run");
        let checkpoint = stopped_after_round_one(&out);
        let mode = |m| std::fs::set_permissions(&out, std::fs::Permissions::from_mode(m));
        mode(0o555).expect("chmod");
        let o = resume(&out, None, &[]);
        mode(0o755).expect("chmod");
        assert_clean_failure(&o, &out, &checkpoint, &["Permission denied"]);
        assert_resumes_to(&out, &want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_output_directory_is_a_clear_error_and_resume_works_after() {
    let dir = scratch("disk-full");
    let want = reference(&dir);

    // Everywhere: no file may grow past the round-1 checkpoint's size, and round 2's
    // checkpoint is larger (it holds one more round's records), so the write that fails
    // is the checkpoint's own. Without traces, whose files are larger still and would
    // fail first (the full tmpfs below fails on one).
    let out = dir.join("limit/run");
    let checkpoint = stopped_after_round_one(&out);
    let kib = checkpoint.len() as u64 / 1024 + 1;
    let o = resume(&out, Some(kib), &["--no-traces"]);
    assert_clean_failure(&o, &out, &checkpoint, &["File too large"]);
    let err = text(&o.stderr);
    assert!(
        err.contains(&*out.join("checkpoint.json").to_string_lossy()),
        "the checkpoint's write failed: {err}"
    );
    assert_resumes_to(&out, &want);
    eprintln!("file-size limit: {}", text(&o.stderr).trim());

    // As root: a real full file system, filled after round 1.
    if let Some(fs) = Tmpfs::mount(&dir.join("mnt"), "16m") {
        let out = dir.join("mnt/run");
        let checkpoint = stopped_after_round_one(&out);
        let filler = dir.join("mnt/filler");
        fill(&filler);
        let o = resume(&out, None, &[]);
        std::fs::remove_file(&filler).expect("free the space");
        assert_clean_failure(&o, &out, &checkpoint, &["No space left on device"]);
        assert_resumes_to(&out, &want);
        eprintln!("full tmpfs: {}", text(&o.stderr).trim());
        drop(fs);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    let mut small = [0u8; 512];
    while f.write_all(&block).is_ok() {}
    // The last partial blocks, so not a byte is left.
    small.fill(0);
    while f.write_all(&small).is_ok() {}
    while f.write_all(&[0]).is_ok() {}
    let _ = f.sync_all();
}
