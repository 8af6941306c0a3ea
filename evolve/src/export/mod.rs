//! `harnessx export`: episodes as training data, the co-evolution hook (docs/EXPORT.md).
//!
//! - `sft`: one line per selected episode (the CLI selects successful ones) in the OpenAI
//!   fine-tuning chat format: `messages` ([`chat::conversation`]), the harness's `tools`
//!   and `parallel_tool_calls: false`.
//! - `preference`: one line per pair of episodes on the same environment, task and seed
//!   where one harness succeeded and another failed: the messages they share as `prompt`,
//!   the rest of the successful one as `chosen` and of the failed one as `rejected`.
//!
//! Filters select episodes before anything is made of them: harness hash (a prefix),
//! success, environment, and the number of steps. Each example file gets a provenance file
//! beside it (`NAME.meta.json`: which trace, harness, task and seed each line came from,
//! the models, and whether they were simulated), so the examples stay in the exact format
//! a trainer reads. Everything written goes through [`crate::secrets`].

pub mod chat;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harnessx_runtime::fsutil::write_atomic;
use harnessx_runtime::ir::HarnessIr;
use serde::Serialize;
use serde_json::{json, Value};

use crate::secrets::Secrets;
use chat::{conversation, tools_json, ChatMessage, ChatTool};
use source::{load, Episode};

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sft,
    Preference,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Sft => "sft",
            Format::Preference => "preference",
        }
    }
}

/// Which episodes take part. Empty lists and `None` select everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Harness hashes, or prefixes of them (case-insensitive).
    pub harness_hashes: Vec<String>,
    /// Only successful (`Some(true)`) or failed episodes. `harnessx export --format sft`
    /// passes `Some(true)` unless told otherwise; `preference` pairs a success with a
    /// failure and refuses this filter.
    pub success: Option<bool>,
    /// Environment names as the run gave them (`household`, `stdio:...`). An episode whose
    /// environment is not recorded matches no name.
    pub envs: Vec<String>,
    pub min_steps: Option<u32>,
    pub max_steps: Option<u32>,
}

impl Filters {
    fn keeps(&self, e: &Episode) -> bool {
        let hash_ok = self.harness_hashes.is_empty()
            || self.harness_hashes.iter().any(|h| {
                e.harness_hash
                    .to_ascii_lowercase()
                    .starts_with(&h.to_ascii_lowercase())
            });
        let env_ok =
            self.envs.is_empty() || e.env.as_ref().is_some_and(|env| self.envs.contains(env));
        hash_ok
            && env_ok
            && self.success.is_none_or(|s| e.success == s)
            && self.min_steps.is_none_or(|m| e.steps >= m)
            && self.max_steps.is_none_or(|m| e.steps <= m)
    }
}

/// One export.
#[derive(Debug, Clone)]
pub struct Request {
    /// Evolve run directories, trace directories or trace files.
    pub sources: Vec<PathBuf>,
    pub format: Format,
    pub filters: Filters,
    /// The harness whose tools name the calls of traces whose own harness is unknown.
    pub tools_from: Option<HarnessIr>,
    /// The examples file; the provenance goes to [`meta_path`] of it.
    pub out: PathBuf,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub examples: usize,
    /// Complete episodes read (after removing duplicates) and those the filters kept.
    pub episodes: usize,
    pub selected: usize,
    /// Notes on what was left out and why.
    pub notes: Vec<String>,
    /// The models of the selected episodes, and whether any of them is simulated.
    pub models: Vec<String>,
    pub simulated: bool,
    /// Variables whose values were found in the output and redacted.
    pub redacted: Vec<String>,
    pub meta: PathBuf,
}

/// `train.jsonl` → `train.meta.json`; any other name gets `.meta.json` appended.
pub fn meta_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    out.with_file_name(format!("{stem}.meta.json"))
}

/// Where one line came from, for the provenance file.
#[derive(Debug, Clone, Serialize)]
struct EpisodeRef {
    trace: String,
    harness: String,
    harness_hash: String,
    env: Option<String>,
    model: Option<String>,
    task: u64,
    seed: u64,
    success: bool,
    steps: u32,
}

impl EpisodeRef {
    fn of(e: &Episode) -> EpisodeRef {
        EpisodeRef {
            trace: e.file.clone(),
            harness: e.harness.clone(),
            harness_hash: e.harness_hash.clone(),
            env: e.env.clone(),
            model: e.model.clone(),
            task: e.task,
            seed: e.seed,
            success: e.success,
            steps: e.steps,
        }
    }
}

fn tools_or_err(e: &Episode) -> Result<&[harnessx_runtime::call::ToolSpec], String> {
    e.tools.as_deref().map(Vec::as_slice).ok_or_else(|| {
        format!(
            "`{}`: the tools of harness `{}` ({}) are unknown: no run.json beside the trace; pass --tools-from FILE.harness",
            e.file, e.harness, e.harness_hash
        )
    })
}

/// Runs an export: reads, filters, converts, writes the examples and their provenance
/// atomically.
pub fn export(req: &Request) -> Result<Summary, String> {
    if req.format == Format::Preference && req.filters.success.is_some() {
        return Err("--success selects episodes for `sft`; a preference pair is always one success and one failure".into());
    }
    let loaded = load(&req.sources, req.tools_from.as_ref())?;
    let mut notes = Vec::new();
    if loaded.incomplete > 0 {
        notes.push(format!(
            "{} incomplete episode(s) (no episode_end) left out",
            loaded.incomplete
        ));
    }
    if loaded.bad_lines > 0 {
        notes.push(format!(
            "{} line(s) that are not trace events skipped",
            loaded.bad_lines
        ));
    }
    // The same harness, environment, task and seed is the same episode: keep it once.
    let mut seen = std::collections::BTreeSet::new();
    let episodes: Vec<&Episode> = loaded
        .episodes
        .iter()
        .filter(|e| seen.insert((e.harness_hash.clone(), e.env.clone(), e.task, e.seed)))
        .collect();
    let filters = &req.filters;
    let unknown_env = episodes.iter().filter(|e| e.env.is_none()).count();
    if !filters.envs.is_empty() && unknown_env > 0 {
        notes.push(format!(
            "{unknown_env} episode(s) do not record their environment (no run.json) and match no --env"
        ));
    }
    let selected: Vec<&Episode> = episodes
        .iter()
        .copied()
        .filter(|e| filters.keeps(e))
        .collect();

    let (lines, meta_lines) = match req.format {
        Format::Sft => sft_lines(&selected)?,
        Format::Preference => {
            let (l, m, skipped) = preference_lines(&selected)?;
            if skipped > 0 {
                notes.push(format!(
                    "{skipped} pair(s) left out: the failed episode's messages are all shared with the successful one (it stopped where the other went on), so nothing is rejected"
                ));
            }
            (l, m)
        }
    };

    let mut models: Vec<String> = selected.iter().filter_map(|e| e.model.clone()).collect();
    models.sort();
    models.dedup();
    let simulated = selected.iter().any(|e| e.simulated == Some(true));
    let meta = json!({
        "format": req.format.name(),
        "simulated": simulated,
        "note": if simulated { "SIMULATED: episodes of a simulated model (sim:), not a real one" } else { "" },
        "models": models,
        "sources": req.sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "examples": lines.len(),
        "lines": meta_lines,
    });

    let secrets = Secrets::from_env(&loaded.key_vars);
    let mut text = String::new();
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    let (text, mut redacted) = secrets.redact_json(&text);
    let meta_text = serde_json::to_string_pretty(&meta).map_err(|e| e.to_string())? + "\n";
    let (meta_text, more) = secrets.redact_json(&meta_text);
    redacted.extend(more);
    redacted.sort();
    redacted.dedup();

    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("`{}`: {e}", dir.display()))?;
    }
    write_atomic(&req.out, text.as_bytes()).map_err(|e| format!("`{}`: {e}", req.out.display()))?;
    let meta_file = meta_path(&req.out);
    write_atomic(&meta_file, meta_text.as_bytes())
        .map_err(|e| format!("`{}`: {e}", meta_file.display()))?;
    Ok(Summary {
        examples: lines.len(),
        episodes: episodes.len(),
        selected: selected.len(),
        notes,
        models,
        simulated,
        redacted,
        meta: meta_file,
    })
}

/// One line of `sft`, fields in the order a reader expects them.
#[derive(Serialize)]
struct SftLine<'a> {
    messages: &'a [ChatMessage],
    tools: Vec<ChatTool>,
    parallel_tool_calls: bool,
}

/// One line of `preference`.
#[derive(Serialize)]
struct PreferenceLine<'a> {
    prompt: &'a [ChatMessage],
    chosen: &'a [ChatMessage],
    rejected: &'a [ChatMessage],
    tools: Vec<ChatTool>,
}

fn to_line<T: Serialize>(line: &T) -> Result<String, String> {
    serde_json::to_string(line).map_err(|e| e.to_string())
}

type Lines = (Vec<String>, Vec<Value>);

fn sft_lines(selected: &[&Episode]) -> Result<Lines, String> {
    let mut lines = Vec::new();
    let mut meta = Vec::new();
    for e in selected {
        let tools = tools_or_err(e)?;
        let messages =
            conversation(&e.events, tools).map_err(|why| format!("`{}`: {why}", e.file))?;
        lines.push(to_line(&SftLine {
            messages: &messages,
            tools: tools_json(tools),
            parallel_tool_calls: false,
        })?);
        meta.push(json!({"line": lines.len(), "episode": EpisodeRef::of(e)}));
    }
    Ok((lines, meta))
}

/// A conversation without `weight`s: a preference pair compares whole continuations, and
/// a reply the harness refused is part of the trajectory that was preferred or not.
fn unweighted(mut messages: Vec<ChatMessage>) -> Vec<ChatMessage> {
    for m in &mut messages {
        m.weight = None;
    }
    messages
}

/// Pairs of (success, failure) on the same environment, task and seed by different
/// harnesses, in a fixed order; and how many pairs had nothing to reject.
fn preference_lines(selected: &[&Episode]) -> Result<(Vec<String>, Vec<Value>, usize), String> {
    let mut groups: BTreeMap<(Option<String>, u64, u64), Vec<&Episode>> = BTreeMap::new();
    for e in selected {
        groups
            .entry((e.env.clone(), e.task, e.seed))
            .or_default()
            .push(e);
    }
    let mut lines = Vec::new();
    let mut meta = Vec::new();
    let mut skipped = 0;
    for group in groups.values() {
        let mut wins: Vec<&Episode> = group.iter().copied().filter(|e| e.success).collect();
        let mut losses: Vec<&Episode> = group.iter().copied().filter(|e| !e.success).collect();
        wins.sort_by(|a, b| a.harness_hash.cmp(&b.harness_hash));
        losses.sort_by(|a, b| a.harness_hash.cmp(&b.harness_hash));
        for w in &wins {
            for l in &losses {
                if w.harness_hash == l.harness_hash {
                    continue;
                }
                let tools = tools_or_err(w)?;
                let chosen = unweighted(
                    conversation(&w.events, tools).map_err(|why| format!("`{}`: {why}", w.file))?,
                );
                let rejected = unweighted(
                    conversation(&l.events, tools_or_err(l)?)
                        .map_err(|why| format!("`{}`: {why}", l.file))?,
                );
                let shared = chosen
                    .iter()
                    .zip(&rejected)
                    .take_while(|(a, b)| a == b)
                    .count();
                if shared == rejected.len() || shared == chosen.len() {
                    skipped += 1;
                    continue;
                }
                lines.push(to_line(&PreferenceLine {
                    prompt: &chosen[..shared],
                    chosen: &chosen[shared..],
                    rejected: &rejected[shared..],
                    tools: tools_json(tools),
                })?);
                meta.push(json!({
                    "line": lines.len(),
                    "shared_messages": shared,
                    "chosen": EpisodeRef::of(w),
                    "rejected": EpisodeRef::of(l),
                }));
            }
        }
    }
    Ok((lines, meta, skipped))
}
