//! Running a batch of episodes by name: the environments and test models the CLI, the
//! differential test and generated binaries all agree on.
//!
//! Keeping the lookup and the seed derivation here (not in the CLI) means an interpreted
//! run and a compiled run of the same harness build *the same* environment and model from
//! the same spec, so their traces can be compared byte for byte.

use crate::engine::{run_with_rules, EpisodeResult};
use crate::env::Env;
use crate::envs::KeyDoor;
use crate::ir::HarnessIr;
use crate::models::spec::ModelSpec;
use crate::models::Retries;
use crate::rules::RuleSet;
use crate::trace::{TraceEvent, VecSink};

/// Environments available by name.
pub const KNOWN_ENVS: &[&str] = &[
    "key_door",
    "household",
    "household_no_finish",
    "flaky_api",
    "stdio:CMD",
];

/// The environment called `name`, or an error listing the known ones.
pub fn make_env(name: &str) -> Result<Box<dyn Env>, String> {
    match name {
        "key_door" => Ok(Box::new(KeyDoor::new())),
        "household" => Ok(Box::new(crate::envs::Household::new())),
        // The benchmark's ablation: household with no `finish` tool.
        "household_no_finish" => Ok(Box::new(crate::envs::Household::without_finish())),
        "flaky_api" => Ok(Box::new(crate::envs::FlakyApi::new())),
        // A bridge process (docs/BRIDGE.md); pooled, so episodes share one child.
        _ if name.starts_with("stdio:") => Ok(Box::new(crate::envs::StdioEnv::from_spec(name)?)),
        _ => Err(format!(
            "unknown environment `{name}`; known environments: {}",
            KNOWN_ENVS.join(", ")
        )),
    }
}

/// The seed of episode `task` in a run with base seed `base`: SplitMix64 of
/// `base + (task + 1) * 0x9e3779b97f4a7c15`, so neighbouring tasks get unrelated seeds and
/// the mapping is fixed forever (traces record it).
pub fn episode_seed(base: u64, task: u64) -> u64 {
    crate::rng::nth(base, task)
}

/// One finished episode of [`run_episodes`].
#[derive(Debug, Clone)]
pub struct Episode {
    pub task: u64,
    pub seed: u64,
    pub result: EpisodeResult,
    /// The whole trace, as typed events ([`Episode::trace_jsonl`] gives the file format).
    pub events: Vec<TraceEvent>,
    /// How many times the episode was run again because the infrastructure failed
    /// ([`INFRA_RERUNS`] at most); the trace and result are those of the last run.
    pub infra_reruns: u32,
    /// Model requests sent again after a transport failure, over every run of the episode
    /// ([`crate::models::Model::retries`]).
    pub retries: Retries,
}

impl Episode {
    /// The trace as JSON lines, the file format (docs/TRACES.md).
    pub fn trace_jsonl(&self) -> String {
        crate::trace::events_to_jsonl(&self.events)
    }
}

/// How many times an episode whose infrastructure failed (model server, environment
/// bridge) is run again before its failure stands. Re-running is sound because an episode
/// is a pure function of `(harness, task, seed)` and the replies: the rerun asks the same
/// questions, and a response cache answers those it already has.
pub const INFRA_RERUNS: u32 = 2;

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
    run_pair(ir, rules, env, model, task, episode_seed(seed, task))
}

/// Task `task` with exactly the episode seed `episode_seed`: a fresh environment and model,
/// the trace kept in memory. An episode the infrastructure failed is run again, up to
/// [`INFRA_RERUNS`] times.
pub fn run_pair<R: RuleSet + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    task: u64,
    episode_seed: u64,
) -> Result<Episode, String> {
    let mut infra_reruns = 0;
    let mut retries = Retries::default();
    loop {
        let mut e = make_env(env)?;
        let mut m = model.build();
        let mut sink = VecSink::default();
        let result = run_with_rules(
            ir,
            rules,
            m.as_mut(),
            e.as_mut(),
            task,
            episode_seed,
            &mut sink,
        );
        retries.add(&m.retries());
        if result.is_infrastructure_failure() && infra_reruns < INFRA_RERUNS {
            infra_reruns += 1;
            continue;
        }
        return Ok(Episode {
            task,
            seed: episode_seed,
            result,
            events: sink.events,
            infra_reruns,
            retries,
        });
    }
}

/// The default number of workers for [`run_episodes_parallel`]: the available parallelism,
/// at most [`MAX_DEFAULT_WORKERS`] (1 when it cannot be determined).
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_DEFAULT_WORKERS)
}

/// The cap of [`default_workers`]: beyond it, a batch of short simulated episodes gains
/// little, and a real model's endpoint sees a burst of parallel requests. An inference
/// server that batches (vLLM, SGLang) wants far more, asked for with `--concurrency`.
pub const MAX_DEFAULT_WORKERS: usize = 8;

/// The most episodes in flight at once (`--concurrency`). Each is a thread that mostly
/// sleeps on its model's reply; at this bound the threads' stacks and the episodes' data
/// are tens of megabytes (docs/BENCHMARKS.md, "Episodes in flight"). A larger request is
/// an error, not a silent cap.
pub const MAX_WORKERS: usize = 4096;

/// How far ahead of the oldest unfinished pair a worker may start one, as a multiple of
/// the workers. Episodes are handed on in pair order, so finished ones wait for a slow
/// predecessor; this bounds how many wait, and so the memory a batch holds, to
/// `REORDER_WINDOW * workers` episodes whatever the batch size.
pub const REORDER_WINDOW: usize = 4;

/// [`run_episodes`] on `workers` threads: [`run_pairs_parallel`] over tasks `0..tasks`
/// with seeds from [`episode_seed`].
#[allow(clippy::too_many_arguments)]
pub fn run_episodes_parallel<R: RuleSet + Sync + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    tasks: u64,
    seed: u64,
    workers: usize,
    each: impl FnMut(Episode),
) -> Result<(), String> {
    let pairs: Vec<(u64, u64)> = (0..tasks).map(|t| (t, episode_seed(seed, t))).collect();
    run_pairs_parallel(ir, rules, env, model, &pairs, workers, each)
}

/// Run `(task, episode seed)` pairs with up to `workers` episodes in flight, one thread
/// each (at most [`MAX_WORKERS`]). Workers take pairs in order; every episode builds its
/// own environment and model ([`run_pair`]), so an episode does not depend on which worker
/// ran it or when. `each` is called on the calling thread **in pair order** (finished
/// episodes wait for their predecessors, at most [`REORDER_WINDOW`] × `workers` of them),
/// so results, traces and anything `each` writes are identical for any `workers`.
/// On an error no new pairs are started and the error of the first failing pair is
/// returned after the episodes before it were passed to `each`.
///
/// Why threads and not an async runtime: an episode spends nearly all its time waiting on
/// its model, the engine and every environment are synchronous (a bridge is a blocking
/// child process), and a sleeping thread costs little; measured at 256 and 1,024 in flight
/// against a loopback server, the threads' memory and CPU are a small share of the run's
/// (docs/BENCHMARKS.md, "Episodes in flight"), so an async engine would buy nothing that
/// is worth a second, asynchronous copy of the engine and of every environment boundary.
pub fn run_pairs_parallel<R: RuleSet + Sync + ?Sized>(
    ir: &HarnessIr,
    rules: &R,
    env: &str,
    model: &ModelSpec,
    pairs: &[(u64, u64)],
    workers: usize,
    mut each: impl FnMut(Episode),
) -> Result<(), String> {
    if workers > MAX_WORKERS {
        return Err(format!(
            "{workers} episodes in flight asked for; at most {MAX_WORKERS} are supported"
        ));
    }
    let n = pairs.len();
    let workers = workers.clamp(1, n.max(1));
    if workers == 1 {
        for &(task, s) in pairs {
            each(run_pair(ir, rules, env, model, task, s)?);
        }
        return Ok(());
    }
    use std::collections::BTreeMap;
    use std::sync::mpsc;

    let window = Window::new(workers.saturating_mul(REORDER_WINDOW));
    let (tx, rx) = mpsc::channel::<(usize, Result<Episode, String>)>();
    std::thread::scope(|scope| {
        let mut spawn_error = None;
        for k in 0..workers {
            let tx = tx.clone();
            let window = &window;
            let spawned = std::thread::Builder::new()
                .name(format!("episode-{k}"))
                .spawn_scoped(scope, move || {
                    while let Some(i) = window.next(n) {
                        let (task, s) = pairs[i];
                        let ep = run_pair(ir, rules, env, model, task, s);
                        if ep.is_err() {
                            window.stop();
                        }
                        if tx.send((i, ep)).is_err() {
                            break;
                        }
                    }
                });
            if let Err(e) = spawned {
                // Too many threads for this machine: stop the ones started, say so.
                window.stop();
                spawn_error = Some(format!(
                    "could not start episode thread {} of {workers}: {e}; ask for fewer \
                     episodes in flight",
                    k + 1
                ));
                break;
            }
        }
        drop(tx);
        // Hand episodes over in pair order; later ones wait here for their predecessors.
        let mut pending: BTreeMap<usize, Result<Episode, String>> = BTreeMap::new();
        let mut due = 0usize;
        for (i, ep) in rx {
            pending.insert(i, ep);
            while let Some(ep) = pending.remove(&due) {
                match ep {
                    Ok(ep) => each(ep),
                    Err(e) => {
                        window.stop();
                        return Err(e);
                    }
                }
                due += 1;
                window.handed_on(due);
            }
        }
        if let Some(e) = spawn_error {
            return Err(e);
        }
        // Pairs after a failure were never started; the failure itself is pending here.
        match pending.into_values().find_map(Result::err) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

/// Which pair a worker starts next, no further than `size` ahead of the first one not yet
/// handed on (see [`REORDER_WINDOW`]).
struct Window {
    state: std::sync::Mutex<WindowState>,
    moved: std::sync::Condvar,
    size: usize,
}

struct WindowState {
    next: usize,
    due: usize,
    stopped: bool,
}

impl Window {
    fn new(size: usize) -> Window {
        Window {
            state: std::sync::Mutex::new(WindowState {
                next: 0,
                due: 0,
                stopped: false,
            }),
            moved: std::sync::Condvar::new(),
            size: size.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next pair of `n` to run, waiting while it is too far ahead; `None` when all are
    /// taken or the batch stopped.
    fn next(&self, n: usize) -> Option<usize> {
        let mut st = self.lock();
        loop {
            if st.stopped || st.next >= n {
                return None;
            }
            if st.next < st.due + self.size {
                st.next += 1;
                return Some(st.next - 1);
            }
            st = self
                .moved
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Pairs before `due` were handed on.
    fn handed_on(&self, due: usize) {
        self.lock().due = due;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.moved.notify_all();
    }
}

/// Aggregates over a batch, for summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Scored episodes: those the infrastructure did not fail.
    pub episodes: u64,
    pub successes: u64,
    pub steps: u64,
    pub tokens: u64,
    /// Episodes that still failed on the infrastructure after their reruns: not scored.
    pub infra_failures: u64,
    /// Runs of an episode repeated because the infrastructure failed ([`INFRA_RERUNS`]).
    pub infra_reruns: u64,
    /// Model requests sent again after a transport failure, by cause.
    pub retries: Retries,
}

impl Summary {
    /// Count one episode with its reruns and retries ([`Summary::add`] for the result).
    pub fn add_episode(&mut self, ep: &Episode) {
        self.add(&ep.result);
        self.infra_reruns += u64::from(ep.infra_reruns);
        self.retries.add(&ep.retries);
    }

    /// Count one episode's result; one the infrastructure failed is counted apart and not
    /// scored.
    pub fn add(&mut self, r: &EpisodeResult) {
        if r.is_infrastructure_failure() {
            self.infra_failures += 1;
            return;
        }
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
                out.push((e.seed, e.trace_jsonl()))
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
                |e| out.push((e.task, e.seed, e.trace_jsonl())),
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

    /// Hundreds of episodes in flight (one thread each) give the same episodes, in the
    /// same order, as one at a time; the reorder window is crossed many times over.
    #[test]
    fn hundreds_of_workers_give_the_same_episodes_as_one() {
        use crate::ir::{ParamIr, ToolIr, TypeIr};
        let mut ir = HarnessIr::new("key_door");
        let target = || vec![ParamIr::new("target", TypeIr::String)];
        ir.tools = vec![
            ToolIr::new("look", vec![]),
            ToolIr::new("open", target()),
            ToolIr::new("take", vec![ParamIr::new("object", TypeIr::String)]),
            ToolIr::new("go", target()),
            ToolIr::new("finish", vec![]),
        ];
        ir.loop_.max_steps = 8;
        let rules = InterpretedRules::new(&ir);
        let run = |workers| {
            let mut out = Vec::new();
            let mut summary = Summary::default();
            run_episodes_parallel(
                &ir,
                &rules,
                "key_door",
                &ModelSpec::Noisy(0.8),
                1_200,
                11,
                workers,
                |e| {
                    summary.add_episode(&e);
                    out.push((e.task, e.seed, e.trace_jsonl()));
                },
            )
            .map(|()| (out, summary))
        };
        let (one, summary) = run(1).expect("runs");
        assert_eq!(one.len(), 1_200);
        assert!(
            summary.successes > 0 && summary.successes < 1_200,
            "{summary:?}"
        );
        for workers in [256, 1_024] {
            let (many, s) = run(workers).expect("runs");
            assert!(many == one, "{workers} workers: other episodes");
            assert_eq!(s, summary);
        }
        let e = run(MAX_WORKERS + 1).map(|_| ()).unwrap_err();
        assert!(e.contains("at most 4096"), "{e}");
    }

    /// A worker may not run further ahead of the first episode not yet handed on than the
    /// window, so finished episodes held for a slow predecessor stay bounded.
    #[test]
    fn the_reorder_window_holds_workers_back_until_the_oldest_is_handed_on() {
        use std::sync::mpsc;
        use std::time::Duration;
        let w = Window::new(2);
        assert_eq!((w.next(10), w.next(10)), (Some(0), Some(1)));
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send(w.next(10));
                let _ = tx.send(w.next(10));
            });
            // Pair 2 is two ahead of pair 0, which is not handed on: the worker waits.
            assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
            w.handed_on(1);
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Some(2)));
            assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
            w.stop();
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(None));
        });
        assert_eq!(Window::new(8).next(0), None);
    }
}
