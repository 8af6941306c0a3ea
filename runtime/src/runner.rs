//! Running a batch of episodes by name: the environments and test models the CLI, the
//! differential test and generated binaries all agree on.
//!
//! Keeping the lookup and the seed derivation here (not in the CLI) means an interpreted
//! run and a compiled run of the same harness build *the same* environment and model from
//! the same spec, so their traces can be compared byte for byte.

use std::fmt;

use crate::engine::{run_with_rules, EpisodeResult};
use crate::env::Env;
use crate::envs::KeyDoor;
use crate::ir::HarnessIr;
use crate::model::{Model, ScriptedModel, WhenExhausted};
use crate::noisy::NoisyExpertModel;
use crate::rules::RuleSet;
use crate::trace::VecSink;

/// Environments available by name.
pub const KNOWN_ENVS: &[&str] = &["key_door", "household", "flaky_api", "stdio:CMD"];

/// Model specs available by name (both are test stand-ins, not real or simulated models).
pub const KNOWN_MODELS: &[&str] = &[
    "noisy:P",
    "scripted:PATH",
    "openai:BASE_URL#MODEL",
    "cache:DIR:SPEC",
    "replay:DIR",
    "sim:small|medium|large",
];

/// Why `openai:` is refused by a runtime built without its `openai` feature (see the
/// crate docs): that build has no HTTP client.
pub const NO_HTTP_BACKEND: &str =
    "this build of the runtime has no HTTP backend (feature `openai`), so `openai:` models are unavailable";

/// The environment called `name`, or an error listing the known ones.
pub fn make_env(name: &str) -> Result<Box<dyn Env>, String> {
    match name {
        "key_door" => Ok(Box::new(KeyDoor::new())),
        "household" => Ok(Box::new(crate::envs::Household::new())),
        "flaky_api" => Ok(Box::new(crate::envs::FlakyApi::new())),
        // A bridge process (docs/BRIDGE.md); pooled, so episodes share one child.
        _ if name.starts_with("stdio:") => Ok(Box::new(crate::envs::StdioEnv::from_spec(name)?)),
        _ => Err(format!(
            "unknown environment `{name}`; known environments: {}",
            KNOWN_ENVS.join(", ")
        )),
    }
}

/// A model chosen on the command line. Both kinds are **test stand-ins**.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// `noisy:P`: [`NoisyExpertModel`] with competence `P` in `[0, 1]` and default weights.
    Noisy(f64),
    /// `scripted:PATH`: a [`ScriptedModel`] replaying these replies in order, cycling.
    Scripted(Vec<String>),
    /// `openai:BASE_URL#MODEL[?options]`: a real model over the chat-completions API
    /// ([`crate::openai`]). Only with the crate feature `openai`.
    #[cfg(feature = "openai")]
    OpenAi(crate::openai::OpenAiConfig),
    /// `cache:DIR:SPEC`: `SPEC` behind the response cache in `DIR` ([`crate::cache`]):
    /// cached replies are served, others are asked for and stored.
    Cached { dir: String, inner: Box<ModelSpec> },
    /// `replay:DIR`: replies from the response cache in `DIR` only; a miss is an error.
    Replay(String),
    /// `sim:small|medium|large`: the simulated model family ([`crate::sim`]). Its results
    /// are simulated and must be labelled so ([`ModelSpec::is_simulated`]).
    Sim(crate::sim::Tier),
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Noisy(p) => write!(f, "noisy:{p} (test stand-in)"),
            ModelSpec::Scripted(r) => write!(f, "scripted, {} replies (test stand-in)", r.len()),
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => write!(f, "{c}"),
            ModelSpec::Cached { dir, inner } => write!(f, "{inner}, cached in {dir}"),
            ModelSpec::Replay(dir) => write!(f, "replay of {dir}"),
            ModelSpec::Sim(t) => write!(f, "sim:{t} (simulated)"),
        }
    }
}

impl ModelSpec {
    /// Parse `noisy:P` or `scripted:PATH`. `read` loads a scripted file (injected so this
    /// module does no IO of its own); the file holds one reply per line, blank lines
    /// skipped.
    pub fn parse(
        spec: &str,
        read: impl FnOnce(&str) -> Result<String, String>,
    ) -> Result<ModelSpec, String> {
        let unknown = || {
            format!(
                "unknown model `{spec}`; known models: {}",
                KNOWN_MODELS.join(", ")
            )
        };
        let (kind, arg) = spec.split_once(':').ok_or_else(unknown)?;
        match kind {
            "noisy" => match arg.trim().parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(ModelSpec::Noisy(p)),
                _ => Err(format!(
                    "`{spec}`: the competence of `noisy:P` must be a number from 0 to 1"
                )),
            },
            "scripted" if !arg.is_empty() => {
                let text = read(arg)?;
                let replies: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect();
                if replies.is_empty() {
                    return Err(format!(
                        "`{arg}`: a scripted model needs at least one reply"
                    ));
                }
                Ok(ModelSpec::Scripted(replies))
            }
            #[cfg(feature = "openai")]
            "openai" => crate::openai::OpenAiConfig::parse(arg).map(ModelSpec::OpenAi),
            #[cfg(not(feature = "openai"))]
            "openai" => Err(format!("`{spec}`: {NO_HTTP_BACKEND}")),
            // The directory ends at the first `:`; the rest is a whole spec (`openai:http://…`).
            "cache" => match arg.split_once(':') {
                Some((dir, inner)) if !dir.is_empty() && !inner.is_empty() => {
                    Ok(ModelSpec::Cached {
                        dir: dir.to_string(),
                        inner: Box::new(ModelSpec::parse(inner, read)?),
                    })
                }
                _ => Err(format!("`{spec}`: expected `cache:DIR:SPEC`")),
            },
            "replay" if !arg.is_empty() => Ok(ModelSpec::Replay(arg.to_string())),
            "sim" => crate::sim::Tier::parse(arg)
                .map(ModelSpec::Sim)
                .ok_or_else(|| {
                    format!("`{spec}`: the simulated tiers are sim:small, sim:medium, sim:large")
                }),
            _ => Err(unknown()),
        }
    }

    /// Whether results from this model are simulated (`sim:`, also behind a cache), so
    /// summaries can say so.
    pub fn is_simulated(&self) -> bool {
        match self {
            ModelSpec::Sim(_) => true,
            ModelSpec::Cached { inner, .. } => inner.is_simulated(),
            _ => false,
        }
    }

    /// Whether this model calls a server over HTTP (`openai:`, also behind a cache), so a
    /// compiled runner must build the runtime with its `openai` feature. `replay:` does not:
    /// it only reads its directory.
    pub fn needs_http(&self) -> bool {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(_) => true,
            ModelSpec::Cached { inner, .. } => inner.needs_http(),
            _ => false,
        }
    }

    /// What produces the replies, for response caches (see [`crate::cache`]).
    pub fn model_id(&self) -> String {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => c.model_id(),
            ModelSpec::Noisy(p) => format!("noisy:{p}"),
            ModelSpec::Scripted(r) => format!(
                "scripted:{:016x}",
                crate::ir::fnv1a64(r.join("\n").as_bytes())
            ),
            ModelSpec::Cached { inner, .. } => inner.model_id(),
            ModelSpec::Replay(dir) => format!("replay:{dir}"),
            #[allow(unreachable_patterns)]
            other => other.to_string(),
        }
    }

    /// Take the harness's model settings that a spec leaves open: for `openai:`, the
    /// API-key variable (`api_key_env`) and the timeout. Call it before [`Self::build`].
    /// (Without the `openai` feature no spec takes any, and `m` only passes through caches.)
    #[cfg_attr(not(feature = "openai"), allow(clippy::only_used_in_recursion))]
    pub fn apply_model_ir(&mut self, m: &crate::ir::ModelIr) {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => c.apply_model_ir(m),
            ModelSpec::Cached { inner, .. } => inner.apply_model_ir(m),
            _ => {}
        }
    }

    /// A fresh model for one episode (models keep per-episode state, e.g. the noisy
    /// model's previous call, so episodes never share an instance).
    pub fn build(&self) -> Box<dyn Model> {
        match self {
            ModelSpec::Noisy(p) => Box::new(NoisyExpertModel::new(*p)),
            ModelSpec::Scripted(r) => Box::new(ScriptedModel::new(r.clone(), WhenExhausted::Cycle)),
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => Box::new(crate::openai::OpenAiModel::new(c.clone())),
            // Building cannot fail, so an unusable cache fails every call with the reason.
            ModelSpec::Cached { dir, inner } => {
                match crate::cache::CachingModel::new(inner.build(), dir, &inner.model_id()) {
                    Ok(m) => Box::new(m),
                    Err(e) => Box::new(crate::cache::FailingModel(e)),
                }
            }
            ModelSpec::Replay(dir) => match crate::cache::CachingModel::replay(dir) {
                Ok(m) => Box::new(m),
                Err(e) => Box::new(crate::cache::FailingModel(e)),
            },
            ModelSpec::Sim(t) => Box::new(crate::sim::SimModel::new(*t)),
        }
    }
}

/// The seed of episode `task` in a run with base seed `base`: SplitMix64 of
/// `base + (task + 1) * 0x9e3779b97f4a7c15`, so neighbouring tasks get unrelated seeds and
/// the mapping is fixed forever (traces record it).
pub fn episode_seed(base: u64, task: u64) -> u64 {
    let mut z = base.wrapping_add(task.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One finished episode of [`run_episodes`].
#[derive(Debug, Clone)]
pub struct Episode {
    pub task: u64,
    pub seed: u64,
    pub result: EpisodeResult,
    /// The whole trace as JSON lines.
    pub trace_jsonl: String,
}

/// Run tasks `0..tasks` in order with seeds from [`episode_seed`], a fresh environment
/// and model per episode, calling `each` after every episode.
pub fn run_episodes<R: RuleSet + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    tasks: u64,
    seed: u64,
    mut each: impl FnMut(Episode),
) -> Result<(), String> {
    for task in 0..tasks {
        each(run_one(ir, rules, env, model, task, seed)?);
    }
    Ok(())
}

/// Episode `task` of a run with base seed `seed`: a fresh environment and model, the seed
/// from [`episode_seed`], the trace kept in memory.
pub fn run_one<R: RuleSet + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    task: u64,
    seed: u64,
) -> Result<Episode, String> {
    let mut e = make_env(env)?;
    let mut m = model.build();
    let s = episode_seed(seed, task);
    let mut sink = VecSink::default();
    let result = run_with_rules(ir, rules, m.as_mut(), e.as_mut(), task, s, &mut sink);
    Ok(Episode {
        task,
        seed: s,
        result,
        trace_jsonl: sink.to_jsonl(),
    })
}

/// The default number of workers for [`run_episodes_parallel`]: the available parallelism,
/// at most [`MAX_DEFAULT_WORKERS`] (1 when it cannot be determined).
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_DEFAULT_WORKERS)
}

/// The cap of [`default_workers`]: beyond it, a batch of short simulated episodes gains
/// little, and a real model's endpoint sees a burst of parallel requests.
pub const MAX_DEFAULT_WORKERS: usize = 8;

/// [`run_episodes`] on `workers` threads. Workers take tasks from a shared counter; every
/// episode builds its own environment and model and gets its seed from [`episode_seed`],
/// so an episode does not depend on which worker ran it or when. `each` is called on the
/// calling thread **in task order** (finished episodes wait for their predecessors), so
/// results, traces and anything `each` writes are identical for any `workers`.
/// On an error no new tasks are started and the error of the lowest failing task is
/// returned after the episodes before it were passed to `each`.
#[allow(clippy::too_many_arguments)]
pub fn run_episodes_parallel<R: RuleSet + Sync + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    tasks: u64,
    seed: u64,
    workers: usize,
    mut each: impl FnMut(Episode),
) -> Result<(), String> {
    let workers = u64::try_from(workers.max(1)).unwrap_or(1).min(tasks.max(1));
    if workers <= 1 {
        return run_episodes(ir, rules, env, model, tasks, seed, each);
    }
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc;

    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(u64, Result<Episode, String>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let task = next.fetch_add(1, Ordering::Relaxed);
                if task >= tasks {
                    break;
                }
                let ep = run_one(ir, rules, env, model, task, seed);
                if ep.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                if tx.send((task, ep)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Hand episodes over in task order; later ones wait here for their predecessors.
        let mut pending: BTreeMap<u64, Result<Episode, String>> = BTreeMap::new();
        let mut due = 0u64;
        for (task, ep) in rx {
            pending.insert(task, ep);
            while let Some(ep) = pending.remove(&due) {
                match ep {
                    Ok(ep) => each(ep),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                due += 1;
            }
        }
        // Tasks after a failure were never started; the failure itself is pending here.
        match pending.into_values().find_map(Result::err) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

/// Aggregates over a batch, for summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub episodes: u64,
    pub successes: u64,
    pub steps: u64,
    pub tokens: u64,
}

impl Summary {
    pub fn add(&mut self, r: &EpisodeResult) {
        self.episodes += 1;
        self.successes += u64::from(r.success);
        self.steps += u64::from(r.steps);
        self.tokens += r.tokens;
    }
    fn mean(&self, total: u64) -> f64 {
        if self.episodes == 0 {
            0.0
        } else {
            total as f64 / self.episodes as f64
        }
    }
    pub fn success_rate(&self) -> f64 {
        self.mean(self.successes)
    }
    pub fn mean_steps(&self) -> f64 {
        self.mean(self.steps)
    }
    pub fn mean_tokens(&self) -> f64 {
        self.mean(self.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::InterpretedRules;

    fn no_file(_: &str) -> Result<String, String> {
        Err("no files here".into())
    }

    #[test]
    fn model_specs_parse_or_explain() {
        assert_eq!(
            ModelSpec::parse("noisy:0.7", no_file),
            Ok(ModelSpec::Noisy(0.7))
        );
        let e = ModelSpec::parse("gpt", no_file).unwrap_err();
        assert!(e.contains("noisy:P") && e.contains("scripted:PATH"), "{e}");
        assert!(ModelSpec::parse("noisy:1.5", no_file).is_err());
        assert!(ModelSpec::parse("noisy:x", no_file).is_err());
        assert_eq!(
            ModelSpec::parse("scripted:f", no_file),
            Err("no files here".into())
        );
        let ok = |_: &str| Ok::<_, String>("look()\n\nfinish()\n".into());
        assert_eq!(
            ModelSpec::parse("scripted:f", ok),
            Ok(ModelSpec::Scripted(vec![
                "look()".into(),
                "finish()".into()
            ]))
        );
        let empty = |_: &str| Ok::<_, String>("\n".into());
        assert!(ModelSpec::parse("scripted:f", empty).is_err());
    }

    #[test]
    fn only_openai_specs_need_http() {
        let parse = |s: &str| ModelSpec::parse(s, no_file);
        for spec in ["noisy:0.5", "sim:small", "replay:d", "cache:d:sim:small"] {
            assert_eq!(parse(spec).map(|m| m.needs_http()), Ok(false), "{spec}");
        }
        #[cfg(feature = "openai")]
        for spec in [
            "openai:http://127.0.0.1:1/v1#m",
            "cache:d:openai:http://h/v1#m",
        ] {
            assert_eq!(parse(spec).map(|m| m.needs_http()), Ok(true), "{spec}");
        }
    }

    /// Without the HTTP backend an `openai:` spec is an error that names the feature, also
    /// behind a cache; it never panics.
    #[cfg(not(feature = "openai"))]
    #[test]
    fn without_the_feature_openai_specs_are_refused() {
        for spec in [
            "openai:http://127.0.0.1:1/v1#m",
            "cache:d:openai:http://h/v1#m",
        ] {
            let e = ModelSpec::parse(spec, no_file).unwrap_err();
            assert!(e.contains(NO_HTTP_BACKEND), "{e}");
        }
    }

    #[test]
    fn unknown_env_lists_known_ones() {
        let e = make_env("nope").err().unwrap_or_default();
        assert!(e.contains("key_door"), "{e}");
    }

    #[test]
    fn batches_are_deterministic() {
        let ir = HarnessIr::new("empty");
        let run = || {
            let mut out = Vec::new();
            let rules = InterpretedRules::new(&ir);
            run_episodes(&ir, &rules, "key_door", &ModelSpec::Noisy(0.5), 3, 7, |e| {
                out.push((e.seed, e.trace_jsonl))
            })
            .map(|()| out)
        };
        let a = run();
        assert!(a.as_ref().is_ok_and(|v| v.len() == 3));
        assert_eq!(a, run());
        assert_ne!(episode_seed(7, 0), episode_seed(7, 1));
        assert_ne!(episode_seed(7, 0), episode_seed(8, 0));
    }

    #[test]
    fn any_number_of_workers_gives_the_same_episodes_in_task_order() {
        let ir = HarnessIr::new("empty");
        let rules = InterpretedRules::new(&ir);
        let run = |workers| {
            let mut out = Vec::new();
            run_episodes_parallel(
                &ir,
                &rules,
                "key_door",
                &ModelSpec::Noisy(0.5),
                9,
                7,
                workers,
                |e| out.push((e.task, e.seed, e.trace_jsonl)),
            )
            .map(|()| out)
        };
        let one = run(1);
        assert!(one.as_ref().is_ok_and(|v| v.len() == 9));
        for workers in [2, 4, 16] {
            assert_eq!(run(workers), one, "{workers} workers");
        }
        let e = run_episodes_parallel(&ir, &rules, "nope", &ModelSpec::Noisy(0.5), 5, 7, 3, |_| {});
        assert!(e.is_err_and(|e| e.contains("unknown environment")));
        assert!((1..=MAX_DEFAULT_WORKERS).contains(&default_workers()));
    }
}
