//! Files that matter are written atomically: [`write_atomic`] is the one way harnessx
//! replaces a file (checkpoints, ledgers, traces, cache entries, generated crates,
//! formatted sources). A process killed in the middle of a write (`kill -9`, a full disk)
//! leaves the old file whole and at most a temporary file beside it, which
//! [`remove_stale_temps`] clears away when the directory is next used.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replace the file at `path` with `bytes` atomically: a new temporary file in the same
/// directory (so the rename stays on one file system), flushed to disk, then renamed over
/// the target. A reader — another process, a resumed run — sees the old file or the new
/// one, never half of one; a crash leaves one of the two.
///
/// When the target exists, its permissions are kept, and a symbolic link is followed so
/// the link stays a link. The directory must exist. On failure the original is untouched
/// and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_inner(path, bytes, false)
}

/// [`write_atomic`], then the directory is flushed too, so that the rename itself survives
/// a power loss (a killed process needs no such flush: the kernel already holds the
/// rename). For the few files a resumed run starts from (the evolution checkpoint), where
/// the cost (one more fsync per write) does not matter; not for traces or cache entries,
/// where it would double the cost of every write and losing the newest one only means
/// it is made again.
pub fn write_atomic_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_inner(path, bytes, true)
}

fn write_atomic_inner(path: &Path, bytes: &[u8], sync_dir: bool) -> io::Result<()> {
    let (target, permissions) = match fs::canonicalize(path) {
        Ok(real) => {
            let permissions = fs::metadata(&real)?.permissions();
            (real, Some(permissions))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (path.to_path_buf(), None),
        Err(e) => return Err(e),
    };
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let (tmp_path, mut tmp) = create_temp(dir, &name)?;
    let result = (|| {
        tmp.write_all(bytes)?;
        tmp.sync_all()?;
        drop(tmp);
        if let Some(p) = permissions {
            fs::set_permissions(&tmp_path, p)?;
        }
        fs::rename(&tmp_path, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result?;
    if sync_dir {
        sync_directory(dir)?;
    }
    Ok(())
}

/// Flushes a directory's entries (Unix: fsync on the directory). Elsewhere a no-op: not
/// every platform can open a directory as a file.
fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Fails unless a file can be created in `dir` (which must exist): a read-only or
/// unwritable directory is found before any work whose result would have nowhere to go.
/// The probe is a temporary file of [`write_atomic`]'s kind, removed at once.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    let (path, file) = create_temp(dir, "write-probe")?;
    drop(file);
    fs::remove_file(path)
}

/// The process id in a temporary file name made by [`create_temp`]
/// (`.<name>.<pid>.<n>.tmp`), or `None` for any other name.
fn temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    let name = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !digits(n) || !digits(pid) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` may still be writing its temporary file. On Linux, whether
/// `/proc/<pid>` exists; where there is no `/proc`, every other process counts as alive,
/// so nothing another process may be writing is ever removed.
fn may_be_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes the temporary files [`write_atomic`] left in `dir` (and, with `recursive`, in
/// its subdirectories) when the process writing them died before renaming them: a run
/// killed mid-write leaves one. A temporary file whose writer is still alive (a concurrent
/// run sharing a cache directory) is left alone. Returns how many were removed; a missing
/// directory has none.
pub fn remove_stale_temps(dir: &Path, recursive: bool) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if recursive {
                removed += remove_stale_temps(&entry.path(), true)?;
            }
            continue;
        }
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        if kind.is_file() && !may_be_alive(pid) {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Another cleaner got there first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// A new temporary file next to the target, never reusing an existing name: unique per
/// process and call, so concurrent writers never share one.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut last_err = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("harnessx-fsutil-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creates_and_replaces_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let f = dir.join("a.json");
        write_atomic(&f, b"one").unwrap();
        write_atomic(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(entries(&dir), ["a.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("perms");
        let real = dir.join("real.harness");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link.harness");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_durable_write_replaces_like_any_other() {
        let dir = scratch("durable");
        let f = dir.join("checkpoint.json");
        write_atomic_durable(&f, b"one").unwrap();
        write_atomic_durable(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(entries(&dir), ["checkpoint.json"]);
    }

    #[test]
    fn the_write_probe_leaves_nothing() {
        let dir = scratch("probe");
        check_writable(&dir).unwrap();
        assert!(entries(&dir).is_empty());
        assert!(check_writable(&dir.join("missing")).is_err());
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        assert_eq!(temp_owner(".checkpoint.json.123.4.tmp"), Some(123));
        assert_eq!(temp_owner(".a.b.c.7.0.tmp"), Some(7));
        for other in [
            "checkpoint.json",
            ".checkpoint.json.tmp",
            ".x.12.tmp",
            "..12.3.tmp",
            ".x.12a.3.tmp",
            ".x.12.3b.tmp",
            "x.12.3.tmp",
            ".x.12.3.tmpx",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temps_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = scratch("stale");
        fs::create_dir_all(dir.join("round-001")).unwrap();
        // A pid above Linux's limit (2^22) is never a live process.
        let dead = ".checkpoint.json.4999999.0.tmp";
        let mine = format!(".ledgers.json.{}.0.tmp", std::process::id());
        for f in [dead, mine.as_str(), "checkpoint.json", ".hidden"] {
            fs::write(dir.join(f), "x").unwrap();
        }
        fs::write(dir.join("round-001").join(dead), "x").unwrap();
        let linux = Path::new("/proc/self").exists();
        assert_eq!(remove_stale_temps(&dir, false).unwrap(), usize::from(linux));
        assert_eq!(remove_stale_temps(&dir, true).unwrap(), usize::from(linux));
        if linux {
            assert_eq!(
                entries(&dir),
                [".hidden", &mine, "checkpoint.json", "round-001"]
            );
            assert!(entries(&dir.join("round-001")).is_empty());
        }
        assert_eq!(remove_stale_temps(&dir.join("nope"), true).unwrap(), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_and_writes_nothing() {
        let dir = scratch("missing");
        let err = write_atomic(&dir.join("no/such/dir/x"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(entries(&dir).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_directory_is_an_error_and_the_original_stays() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("readonly");
        let f = dir.join("ckpt.json");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        let result = write_atomic(&f, b"new");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        // Root may write anyway; either way the file is whole.
        match result {
            Ok(()) => assert_eq!(fs::read_to_string(&f).unwrap(), "new"),
            Err(_) => assert_eq!(fs::read_to_string(&f).unwrap(), "old"),
        }
        assert_eq!(entries(&dir), ["ckpt.json"]);
    }
}
