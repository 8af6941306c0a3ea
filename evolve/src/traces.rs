//! Where an evolution run keeps the traces of its evaluations, so a reviewer can read the
//! episodes behind every number (`harnessx review`) and `harnessx export` can turn them
//! into training data.
//!
//! Layout, relative to the run directory:
//!
//! ```text
//! traces/<harness id>/train/episode-<task>-s<seed>.jsonl      train evaluations
//! traces/<harness id>/held-out/episode-<task>-s<seed>.jsonl   the final held-out evaluation
//! ```
//!
//! `<harness id>` is the lineage id (`seed`, `r1c0`, ...), `<task>` is zero-padded to four
//! digits and `<seed>` is the episode seed, so a listing sorts by task and two seeds of one
//! task never share a file. Each file is one episode in the JSONL trace format
//! (docs/TRACES.md), written atomically. An episode is a pure function of the harness,
//! task and seed, so a file that exists already holds the same bytes and is not written
//! again (a parent evaluated in several rounds, a resumed run).

use crate::error::OutputError;
use std::path::{Path, PathBuf};

use harnessx_runtime::fsutil::write_atomic;
use harnessx_runtime::trace::{events_to_jsonl, TraceEvent};

/// The directory under the run directory.
pub const DIR: &str = "traces";

/// Which evaluation an episode belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    /// The fixed train pairs: parents and candidates.
    Train,
    /// The final held-out evaluation of the seed and the best harness.
    HeldOut,
}

impl Split {
    pub fn dir(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::HeldOut => "held-out",
        }
    }

    fn from_dir(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "held-out" => Some(Split::HeldOut),
            _ => None,
        }
    }
}

/// The episode's file, relative to the run directory, with `/` separators (it is stored in
/// evidence and shown in pages, so it must not depend on the platform).
pub fn episode_path(harness: &str, split: Split, task: u64, seed: u64) -> String {
    format!(
        "{DIR}/{harness}/{}/episode-{task:04}-s{seed}.jsonl",
        split.dir()
    )
}

/// Writes one file per episode (`(task, seed, events)`) under `run_dir`, skipping files
/// that exist. Returns how many were written.
pub fn write_episodes<'a>(
    run_dir: &Path,
    harness: &str,
    split: Split,
    episodes: impl IntoIterator<Item = (u64, u64, &'a [TraceEvent])>,
) -> Result<usize, OutputError> {
    if !is_plain_name(harness) {
        return Err(OutputError(format!(
            "`{harness}` cannot name a trace directory"
        )));
    }
    let dir = run_dir.join(DIR).join(harness).join(split.dir());
    std::fs::create_dir_all(&dir).map_err(|e| OutputError(format!("`{}`: {e}", dir.display())))?;
    let mut written = 0;
    for (task, seed, events) in episodes {
        let path = run_dir.join(episode_path(harness, split, task, seed));
        if path.exists() {
            continue;
        }
        write_atomic(&path, events_to_jsonl(events).as_bytes())
            .map_err(|e| OutputError(format!("`{}`: {e}", path.display())))?;
        written += 1;
    }
    Ok(written)
}

/// One kept episode file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Kept {
    pub harness: String,
    pub split: Split,
    /// Relative to the run directory, `/`-separated (as [`episode_path`] makes it).
    pub path: String,
}

/// Every kept episode file of the run in `run_dir`, sorted by harness id, split and
/// file name. A run without kept traces gives an empty list; files that do not follow the
/// layout are left out.
pub fn list(run_dir: &Path) -> Result<Vec<Kept>, String> {
    let root = run_dir.join(DIR);
    let mut out = Vec::new();
    for harness in sorted_entries(&root)? {
        if !is_plain_name(&harness) {
            continue;
        }
        for split_name in sorted_entries(&root.join(&harness))? {
            let Some(split) = Split::from_dir(&split_name) else {
                continue;
            };
            let dir: PathBuf = root.join(&harness).join(&split_name);
            for file in sorted_entries(&dir)? {
                if file.starts_with("episode-") && file.ends_with(".jsonl") && is_plain_name(&file)
                {
                    out.push(Kept {
                        path: format!("{DIR}/{harness}/{split_name}/{file}"),
                        harness: harness.clone(),
                        split,
                    });
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The names in `dir`, sorted; none when it does not exist.
fn sorted_entries(dir: &Path) -> Result<Vec<String>, String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("`{}`: {e}", dir.display())),
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| format!("`{}`: {e}", dir.display()))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Letters, digits, `-`, `_` and `.` (not leading): a name that stays inside its directory
/// and needs no quoting in a path or a URL.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `path` (from evidence or a page) is a kept episode file of this layout: relative,
/// under [`DIR`], every component a plain name. Anything else is never opened.
pub fn is_episode_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 4
        && parts[0] == DIR
        && parts.iter().all(|p| is_plain_name(p))
        && Split::from_dir(parts[2]).is_some()
        && parts[3].ends_with(".jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;
    use harnessx_runtime::trace::EventKind;

    fn event(task: u64) -> TraceEvent {
        TraceEvent {
            seq: 0,
            step: 0,
            hook: None,
            clock_ms: 0,
            kind: EventKind::EpisodeStart {
                harness: "h".into(),
                harness_hash: "0".into(),
                task,
                seed: 9,
                max_steps: 1,
                goal: "g".into(),
            },
        }
    }

    #[test]
    fn written_files_are_listed_in_order_and_not_rewritten() {
        let dir = std::env::temp_dir().join(format!("hx-traces-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (vec![event(12)], vec![event(3)]);
        let eps = [(12, 9, a.as_slice()), (3, 9, b.as_slice())];
        assert_eq!(write_episodes(&dir, "r1c0", Split::Train, eps).unwrap(), 2);
        assert_eq!(write_episodes(&dir, "r1c0", Split::Train, eps).unwrap(), 0);
        write_episodes(&dir, "seed", Split::HeldOut, [(10000, 5, a.as_slice())]).unwrap();
        let kept = list(&dir).unwrap();
        let paths: Vec<&str> = kept.iter().map(|k| k.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "traces/r1c0/train/episode-0003-s9.jsonl",
                "traces/r1c0/train/episode-0012-s9.jsonl",
                "traces/seed/held-out/episode-10000-s5.jsonl",
            ]
        );
        assert!(paths.iter().all(|p| is_episode_path(p)));
        let text = std::fs::read_to_string(dir.join(paths[0])).unwrap();
        assert!(text.contains("\"task\":3"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths_that_leave_the_layout_are_refused() {
        for bad in [
            "traces/../checkpoint.json",
            "/etc/passwd",
            "traces/seed/train/../../x.jsonl",
            "traces/seed/other/episode-1.jsonl",
            "traces/seed/train/episode 1.jsonl",
            "traces/.x/train/episode-1.jsonl",
        ] {
            assert!(!is_episode_path(bad), "{bad}");
        }
        assert!(write_episodes(Path::new("/tmp"), "../x", Split::Train, []).is_err());
    }
}
