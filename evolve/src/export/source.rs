//! Where `harnessx export` reads episodes: an evolution run's directory (its kept traces,
//! with the environment, model and tools from its checkpoint and shipped sources), a
//! directory of traces (with `run.json` beside them when `harnessx run --trace-dir` wrote
//! them), or a single trace file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use harnessx_runtime::call::ToolSpec;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::trace::{EventKind, TraceEvent};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::digest::read_trace;
use crate::gate::static_check;
use crate::traces::{self, Split};

/// The file `harnessx run --trace-dir DIR` writes beside its traces: what produced them.
pub const TRACE_DIR_INFO: &str = "run.json";

/// The contents of [`TRACE_DIR_INFO`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceDirInfo {
    /// The harness file as named on the command line.
    pub harness: String,
    /// Its text as read (the tools of the traces' calls come from it).
    pub source: String,
    pub env: String,
    /// The model spec that ran.
    pub model: String,
    /// Whether that model is simulated (`sim:`).
    pub simulated: bool,
    /// The base seed and the number of tasks.
    pub seed: u64,
    pub tasks: u64,
}

/// One complete episode, with what is known about where it ran.
#[derive(Debug, Clone)]
pub struct Episode {
    /// The trace file, as found (for messages and provenance).
    pub file: String,
    pub env: Option<String>,
    pub model: Option<String>,
    pub simulated: Option<bool>,
    /// The harness's tools, when its source is known.
    pub tools: Option<Rc<Vec<ToolSpec>>>,
    pub harness: String,
    pub harness_hash: String,
    pub task: u64,
    pub seed: u64,
    pub success: bool,
    pub steps: u32,
    pub events: Vec<TraceEvent>,
}

/// Everything read from the sources.
#[derive(Debug, Default)]
pub struct Loaded {
    pub episodes: Vec<Episode>,
    /// Episodes without an `episode_end` (a crashed run), left out.
    pub incomplete: usize,
    /// Lines that were not trace events, skipped.
    pub bad_lines: usize,
    /// Variables named as API-key variables by the harnesses and model specs read.
    pub key_vars: Vec<String>,
}

/// What is known about the episodes of one file.
#[derive(Clone, Default)]
struct Context {
    env: Option<String>,
    model: Option<String>,
    simulated: Option<bool>,
    /// Tools by harness hash, and the tools to use for any other hash.
    tools: BTreeMap<String, Rc<Vec<ToolSpec>>>,
    fallback_tools: Option<Rc<Vec<ToolSpec>>>,
}

fn tools_of(ir: &HarnessIr) -> Rc<Vec<ToolSpec>> {
    Rc::new(ir.tools.iter().map(ToolSpec::from).collect())
}

/// `key_env=NAME` in a model spec.
fn key_env_of(spec: &str) -> Option<String> {
    let rest = &spec[spec.find("key_env=")? + "key_env=".len()..];
    let name: String = rest.chars().take_while(|c| *c != '&').collect();
    (!name.is_empty()).then_some(name)
}

/// Reads every source in order. `tools_from` (a harness's IR) supplies the tools of
/// episodes whose own harness source is unknown.
pub fn load(sources: &[PathBuf], tools_from: Option<&HarnessIr>) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    if let Some(ir) = tools_from {
        loaded.key_vars.extend(ir.model.api_key_env.clone());
    }
    let extra = tools_from.map(tools_of);
    for src in sources {
        if Checkpoint::path(src).exists() {
            load_run(src, extra.clone(), &mut loaded)?;
        } else if src.is_dir() {
            load_dir(src, extra.clone(), &mut loaded)?;
        } else if src.is_file() {
            let ctx = dir_context(
                src.parent().unwrap_or(Path::new(".")),
                extra.clone(),
                &mut loaded,
            )?;
            load_file(src, &ctx, &mut loaded)?;
        } else {
            return Err(format!(
                "`{}`: no such file or directory (give an evolve run directory, a directory of traces or a trace file)",
                src.display()
            ));
        }
    }
    loaded.key_vars.sort();
    loaded.key_vars.dedup();
    Ok(loaded)
}

/// An evolution run: its kept traces, train ones in `env`, held-out ones in the held-out
/// environment; tools from the seed and every shipped harness.
fn load_run(
    dir: &Path,
    extra: Option<Rc<Vec<ToolSpec>>>,
    loaded: &mut Loaded,
) -> Result<(), String> {
    let cp = Checkpoint::load(dir)?;
    let kept = traces::list(dir)?;
    if kept.is_empty() {
        return Err(format!(
            "`{}`: this run kept no traces (it ran with --no-traces, or before runs kept them)",
            dir.display()
        ));
    }
    let simulated = cp.config.model_spec().ok().map(|m| m.is_simulated());
    loaded.key_vars.extend(key_env_of(&cp.config.model));
    let seed_ir = static_check(&cp.config.seed_source)
        .map_err(|e| format!("`{}`: the seed harness: {e}", dir.display()))?;
    loaded.key_vars.extend(seed_ir.model.api_key_env.clone());
    let mut ctx = Context {
        model: Some(cp.config.model.clone()),
        simulated,
        fallback_tools: Some(tools_of(&seed_ir)),
        ..Context::default()
    };
    ctx.tools.insert(seed_ir.hash(), tools_of(&seed_ir));
    for r in &cp.rounds {
        if r.shipped.is_none() {
            continue;
        }
        let path = dir
            .join(format!("round-{:03}", r.round))
            .join("harness.harness");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let ir = static_check(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
        loaded.key_vars.extend(ir.model.api_key_env.clone());
        ctx.tools.insert(ir.hash(), tools_of(&ir));
    }
    if ctx.fallback_tools.is_none() {
        ctx.fallback_tools = extra;
    }
    let held_out_env = cp
        .config
        .held_out_env
        .clone()
        .unwrap_or(cp.config.env.clone());
    for k in kept {
        let env = match k.split {
            Split::Train => cp.config.env.clone(),
            Split::HeldOut => held_out_env.clone(),
        };
        let file_ctx = Context {
            env: Some(env),
            ..ctx.clone()
        };
        load_file(&dir.join(&k.path), &file_ctx, loaded)?;
    }
    Ok(())
}

/// What `run.json` in `dir` says, if it is there.
fn dir_context(
    dir: &Path,
    extra: Option<Rc<Vec<ToolSpec>>>,
    loaded: &mut Loaded,
) -> Result<Context, String> {
    let mut ctx = Context {
        fallback_tools: extra,
        ..Context::default()
    };
    let info_path = dir.join(TRACE_DIR_INFO);
    let text = match std::fs::read_to_string(&info_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ctx),
        Err(e) => return Err(format!("`{}`: {e}", info_path.display())),
    };
    let info: TraceDirInfo = serde_json::from_str(&text).map_err(|e| {
        format!(
            "`{}`: not a trace directory's run.json: {e}",
            info_path.display()
        )
    })?;
    let ir = static_check(&info.source).map_err(|e| {
        format!(
            "`{}`: the harness `{}`: {e}",
            info_path.display(),
            info.harness
        )
    })?;
    loaded.key_vars.extend(ir.model.api_key_env.clone());
    loaded.key_vars.extend(key_env_of(&info.model));
    ctx.tools.insert(ir.hash(), tools_of(&ir));
    ctx.env = Some(info.env);
    ctx.model = Some(info.model);
    ctx.simulated = Some(info.simulated);
    Ok(ctx)
}

/// Every `*.jsonl` below `dir`, sorted, each directory with its own `run.json`.
fn load_dir(
    dir: &Path,
    extra: Option<Rc<Vec<ToolSpec>>>,
    loaded: &mut Loaded,
) -> Result<(), String> {
    let ctx = dir_context(dir, extra.clone(), loaded)?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("`{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            load_dir(&p, extra.clone(), loaded)?;
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            load_file(&p, &ctx, loaded)?;
        }
    }
    Ok(())
}

fn load_file(path: &Path, ctx: &Context, loaded: &mut Loaded) -> Result<(), String> {
    let file = read_trace(path).map_err(|e| format!("`{}`: {e}", path.display()))?;
    loaded.bad_lines += file.bad_lines;
    for events in file.episodes {
        let start = events.iter().find_map(|e| match &e.kind {
            EventKind::EpisodeStart {
                harness,
                harness_hash,
                task,
                seed,
                ..
            } => Some((harness.clone(), harness_hash.clone(), *task, *seed)),
            _ => None,
        });
        let end = events.iter().rev().find_map(|e| match &e.kind {
            EventKind::EpisodeEnd { success, steps, .. } => Some((*success, *steps)),
            _ => None,
        });
        let (Some((harness, harness_hash, task, seed)), Some((success, steps))) = (start, end)
        else {
            loaded.incomplete += 1;
            continue;
        };
        let tools = ctx
            .tools
            .get(&harness_hash)
            .or(ctx.fallback_tools.as_ref())
            .cloned();
        loaded.episodes.push(Episode {
            file: path.display().to_string(),
            env: ctx.env.clone(),
            model: ctx.model.clone(),
            simulated: ctx.simulated,
            tools,
            harness,
            harness_hash,
            task,
            seed,
            success,
            steps,
            events,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_env_is_read_from_a_spec() {
        assert_eq!(
            key_env_of("openai:http://x/v1#m?tools=native&key_env=MY_KEY").as_deref(),
            Some("MY_KEY")
        );
        assert_eq!(
            key_env_of("openai:http://x/v1#m?key_env=K&retries=1").as_deref(),
            Some("K")
        );
        assert_eq!(key_env_of("sim:small"), None);
    }
}
