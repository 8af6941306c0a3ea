//! Files that matter are written atomically: [`write_atomic`] is the one way harnessx
//! replaces a file (checkpoints, ledgers, traces, cache entries, generated crates,
//! formatted sources).

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
    result
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
