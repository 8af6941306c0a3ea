//! A whole evolution run: evaluate the seed harness, run rounds until the round limit, a
//! stop reason or the budget, checkpointing after each, then evaluate the seed and the
//! best harness once on the locked held-out split.
//!
//! Files in the output directory: `checkpoint.json` (the state; `resume` needs only this),
//! `seed.harness`, `best.harness`, `best.diff` (seed → best), `round-NNN/` for each ship
//! (`harness.harness`, `diff.patch` against its parent, `manifest.json`), `lineage.json`,
//! `ledgers.json`, `landscape.md`, `result.json` (train vs held-out), and unless switched
//! off, `traces/` with every evaluated episode ([`crate::traces`]).

use std::path::{Path, PathBuf};

use harnessx_runtime::envs::household;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::runner::episode_seed;
use harnessx_syntax::{parse, print};

use crate::checkpoint::{Checkpoint, Config, Final, VERSION};
use crate::digest::FailureCatalog;
use crate::emit::{lineage, save_lineage, unified_diff, write_text};
use crate::error::{OutputError, RunError};
use crate::gate::{evaluate, static_check, Eval, Pair};
use crate::ledger::used_of;
use crate::ledger::{save_json, Budget, Ledgers};
use crate::planner::{Arm, Bandit};
use crate::round::{run_round_as, Abort, Ctx, Observer, ABORTED};
use crate::stats::SeededRng;
use crate::traces::{write_episodes, Split};

/// How to run (not part of the run's identity: results do not depend on these).
pub struct Options {
    pub out: PathBuf,
    /// Evaluation threads.
    pub workers: usize,
    pub abort: Option<Abort>,
    /// Keep the traces of every train and held-out episode under `traces/`, for
    /// `harnessx review` and `harnessx export`.
    pub traces: bool,
}

/// The first task index of the environment's train split.
fn train_start(env: &str) -> u64 {
    if is_household(env) {
        household::TRAIN.start
    } else {
        0
    }
}

/// Household and its variant without `finish`, which share the locked splits.
fn is_household(env: &str) -> bool {
    matches!(env, "household" | "household_no_finish")
}

/// Tasks beyond any train index we use, for environments without a locked split.
const UNSPLIT_HELD_OUT_START: u64 = 1_000_000;

/// The fixed train (task, seed) pairs every harness of the run is evaluated on.
pub fn train_pairs(cfg: &Config) -> Vec<Pair> {
    let start = train_start(&cfg.env);
    let mut out = Vec::new();
    for s in 0..cfg.seeds_per_task {
        let base = SeededRng::derive(cfg.seed, 1000 + s).next_u64();
        for t in 0..cfg.train_tasks {
            let task = start + t;
            out.push(Pair {
                task,
                seed: episode_seed(base, task),
            });
        }
    }
    out
}

/// The held-out pairs and a description of where they come from.
pub fn held_out_pairs(cfg: &Config) -> (Vec<Pair>, String) {
    let (start, what) = if let Some(env) = &cfg.held_out_env {
        (
            UNSPLIT_HELD_OUT_START,
            format!("a separate held-out environment, {env} (tasks from {UNSPLIT_HELD_OUT_START})"),
        )
    } else if is_household(&cfg.env) {
        let r = household::HELD_OUT;
        (
            r.start,
            format!(
                "household's locked held-out split (tasks {}..{})",
                r.start, r.end
            ),
        )
    } else {
        (
            UNSPLIT_HELD_OUT_START,
            if cfg.env.starts_with("stdio:") {
                format!(
                    "{} has no locked split: tasks from {UNSPLIT_HELD_OUT_START}, never used \
                     for training; a bridge may map task numbers onto a finite set of games \
                     (the TextWorldExpress bridge plays game T mod 1000), so these may be \
                     training games: use --held-out-env",
                    cfg.env
                )
            } else {
                format!(
                    "{} has no locked split: tasks from {UNSPLIT_HELD_OUT_START}, never used for training",
                    cfg.env
                )
            },
        )
    };
    let base = SeededRng::derive(cfg.seed, 2000).next_u64();
    let pairs = (0..cfg.held_out_tasks)
        .map(|i| Pair {
            task: start + i,
            seed: episode_seed(base, start + i),
        })
        .collect();
    (pairs, what)
}

pub fn parse_model(spec: &str) -> Result<ModelSpec, String> {
    ModelSpec::parse(spec, |p| {
        std::fs::read_to_string(p).map_err(|e| format!("`{p}`: {e}"))
    })
}

impl Config {
    /// The run's model: [`Config::model`] parsed, the one place that string is read. A run
    /// parses it once when it starts or resumes and passes the [`ModelSpec`] on.
    pub fn model_spec(&self) -> Result<ModelSpec, String> {
        parse_model(&self.model)
    }
}

/// Starts a run in `opts.out` (which must not hold one already) and drives it to the end.
pub fn start(cfg: Config, opts: &Options, obs: &mut dyn Observer) -> Result<Checkpoint, RunError> {
    let model = cfg.model_spec()?;
    start_as(cfg, &model, opts, Arm::Aegis, obs)
}

/// [`start`] with each round's proposals chosen as `arm` chooses them (the benchmark's
/// baselines, see [`crate::arms`]). The arm is not stored in the checkpoint: `resume`
/// always carries on as [`Arm::Aegis`]. [`Arm::Seed`] runs no round. `model` is
/// `cfg.model_spec()`, parsed by the caller.
pub fn start_as(
    cfg: Config,
    model: &ModelSpec,
    opts: &Options,
    arm: Arm,
    obs: &mut dyn Observer,
) -> Result<Checkpoint, RunError> {
    if Checkpoint::path(&opts.out).exists() {
        return Err(format!(
            "`{}` already holds a run; use `harnessx resume {}` or another --out",
            opts.out.display(),
            opts.out.display()
        )
        .into());
    }
    harnessx_runtime::runner::make_env(&cfg.env)?;
    if let Some(env) = &cfg.held_out_env {
        harnessx_runtime::runner::make_env(env)
            .map_err(|e| format!("held-out environment: {e}"))?;
    }
    if cfg.k == 0 || cfg.train_tasks == 0 || cfg.seeds_per_task == 0 {
        return Err("candidates, train tasks and seeds per task must be at least 1".into());
    }
    if let Some(p) = &cfg.proposer {
        p.model_spec()?;
    }
    let ir = static_check(&cfg.seed_source).map_err(|e| format!("{}: {e}", cfg.file))?;
    let canonical = print(&parse(&cfg.seed_source).file);
    prepare_out(&opts.out)?;
    write_text(&opts.out, "seed.harness", &canonical)?;

    let pairs = train_pairs(&cfg);
    obs.step("evaluating the seed harness");
    let eval = evaluate(&ir, &cfg.env, model, &pairs, opts.workers, true)?;
    let mut budget = Budget::new(cfg.budget);
    budget
        .charge(&eval.cost())
        .map_err(|e| format!("the budget cannot pay for evaluating the seed harness: {e}"))?;
    let cp = Checkpoint {
        version: VERSION,
        next_round: 1,
        parent_id: "seed".into(),
        parent_source: canonical,
        catalog: FailureCatalog::new(20),
        bandit: Bandit::new(cfg.seed, cfg.epsilon),
        ledgers: Ledgers::default(),
        budget,
        rounds: Vec::new(),
        stopped: None,
        final_result: None,
        proposer_stats: Default::default(),
        config: cfg,
    };
    cp.save(&opts.out)?;
    drive(cp, Some(eval), model, opts, arm, obs)
}

/// Carries on the run in `opts.out` from its last checkpoint.
pub fn resume(opts: &Options, obs: &mut dyn Observer) -> Result<Checkpoint, RunError> {
    let cp = Checkpoint::load(&opts.out)?;
    prepare_out(&opts.out)?;
    let model = cp.config.model_spec()?;
    drive(cp, None, &model, opts, Arm::Aegis, obs)
}

/// Makes the output directory ready before any work: it exists, a file can be created in
/// it (a read-only directory is a clear error now, not after an evaluation whose result
/// would have nowhere to go), and the temporary files of a run killed mid-write are gone.
fn prepare_out(out: &Path) -> Result<(), OutputError> {
    use harnessx_runtime::fsutil::{check_writable, remove_stale_temps};
    std::fs::create_dir_all(out)
        .map_err(|e| OutputError(format!("`{}`: cannot create: {e}", out.display())))?;
    check_writable(out)
        .map_err(|e| OutputError(format!("`{}`: cannot write here: {e}", out.display())))?;
    remove_stale_temps(out, true).map_err(|e| {
        OutputError(format!(
            "`{}`: cannot remove the temporary files of an interrupted run: {e}",
            out.display()
        ))
    })?;
    Ok(())
}

fn drive(
    mut cp: Checkpoint,
    parent_eval: Option<Eval>,
    model: &ModelSpec,
    opts: &Options,
    arm: Arm,
    obs: &mut dyn Observer,
) -> Result<Checkpoint, RunError> {
    let pairs = train_pairs(&cp.config);
    let proposer = match &cp.config.proposer {
        Some(p) => Some((p.clone(), p.model_spec()?)),
        None => None,
    };
    if arm == Arm::Seed && cp.stopped.is_none() {
        cp.stopped = Some("seed arm: no evolution".into());
    }
    let mut parent_eval = parent_eval;
    while !cp.done() {
        let mut eval = match parent_eval.take() {
            Some(e) => e,
            // After a resume: the parent's evaluation is recomputed (deterministic, and
            // already paid for when it was first made, so not charged again).
            None => {
                obs.step("re-evaluating the parent after resume");
                let ir = static_check(&cp.parent_source)?;
                evaluate(&ir, &cp.config.env, model, &pairs, opts.workers, true)?
            }
        };
        let mut ctx = Ctx {
            out: &opts.out,
            model,
            pairs: &pairs,
            workers: opts.workers,
            abort: opts.abort,
            observer: obs,
            proposer: proposer.as_ref().map(|(c, m)| (c, m)),
            keep_traces: opts.traces,
        };
        run_round_as(&mut cp, &mut eval, &mut ctx, arm)?;
        parent_eval = Some(eval);
        save_all(&cp, model, &opts.out)?;
        if opts.abort == Some(Abort::AfterCheckpoint(cp.next_round - 1)) {
            return Err(ABORTED.into());
        }
    }
    if cp.final_result.is_none() {
        obs.step("evaluating seed and best on the held-out split");
        cp.final_result = Some(final_eval(&cp, model, parent_eval.as_ref(), opts)?);
    }
    // Always, even when the checkpoint was already final: a run killed between writing
    // its checkpoint and the files derived from it (lineage, ledgers, best harness,
    // result) gets them written now, so every finished run has all of them.
    save_all(&cp, model, &opts.out)?;
    Ok(cp)
}

/// Checkpoint, lineage, ledgers, best harness and its diff against the seed.
fn save_all(cp: &Checkpoint, model: &ModelSpec, out: &Path) -> Result<(), OutputError> {
    cp.save(out)?;
    save_lineage(out, &lineage(cp, model.is_simulated()))?;
    let ledgers = out.join("ledgers.json");
    save_json(&ledgers, &cp.ledgers)
        .map_err(|e| OutputError(format!("`{}`: {e}", ledgers.display())))?;
    write_text(out, "best.harness", &cp.parent_source)?;
    let seed = print(&parse(&cp.config.seed_source).file);
    write_text(
        out,
        "best.diff",
        &unified_diff(&seed, &cp.parent_source, "seed.harness", "best.harness"),
    )?;
    if let Some(f) = &cp.final_result {
        let path = out.join("result.json");
        save_json(&path, f).map_err(|e| OutputError(format!("`{}`: {e}", path.display())))?;
    }
    Ok(())
}

/// The seed and the best harness, once each, on the held-out pairs. Not charged to the
/// evolution budget: it is the measurement, not the search. With `opts.traces` both
/// evaluations' episodes are kept under `traces/<id>/held-out/`.
fn final_eval(
    cp: &Checkpoint,
    model: &ModelSpec,
    best_train: Option<&Eval>,
    opts: &Options,
) -> Result<Final, RunError> {
    let workers = opts.workers;
    let (pairs, split) = held_out_pairs(&cp.config);
    let seed_ir = static_check(&cp.config.seed_source)?;
    let best_ir = static_check(&cp.parent_source)?;
    let env = &cp.config.env;
    let held_env = cp.config.held_out_env.as_deref().unwrap_or(env);
    let seed_h = evaluate(&seed_ir, held_env, model, &pairs, workers, opts.traces)?;
    let best_h = evaluate(&best_ir, held_env, model, &pairs, workers, opts.traces)?;
    if opts.traces {
        for (id, eval) in [("seed", &seed_h), (cp.parent_id.as_str(), &best_h)] {
            let eps = eval
                .outcomes
                .iter()
                .zip(&eval.traces)
                .map(|(o, t)| (o.task, o.seed, t.as_slice()));
            write_episodes(&opts.out, id, Split::HeldOut, eps)?;
        }
    }
    let seed_train = cp.rounds.first().map(|r| r.parent_train);
    let best_train = match best_train {
        Some(e) => e.success_rate(),
        None => evaluate(
            &best_ir,
            env,
            model,
            &train_pairs(&cp.config),
            workers,
            false,
        )?
        .success_rate(),
    };
    Ok(Final {
        best_id: cp.parent_id.clone(),
        seed_train: seed_train.unwrap_or(best_train),
        best_train,
        seed_held_out: seed_h.success_rate(),
        best_held_out: best_h.success_rate(),
        seed_held_out_tokens: seed_h.mean_tokens(),
        best_held_out_tokens: best_h.mean_tokens(),
        held_out_tasks: pairs.len() as u64,
        held_out_split: split,
    })
}

/// The end-of-run text: what shipped, train vs held-out, the budget used.
pub fn summary_text(cp: &Checkpoint, simulated: bool) -> String {
    let mut s = String::new();
    let label = if simulated { " (simulated)" } else { "" };
    s.push_str(&format!(
        "evolved {} on {} with {}{label}, seed {}: {} round(s)\n",
        cp.config.file,
        cp.config.env,
        cp.config.model,
        cp.config.seed,
        cp.rounds.len()
    ));
    if let Some(why) = &cp.stopped {
        s.push_str(&format!("stopped early: {why}\n"));
    }
    for r in &cp.rounds {
        for c in r.candidates.iter().filter(|c| c.shipped) {
            s.push_str(&format!(
                "  round {}: shipped {} for {}: {}\n",
                r.round, c.operator, c.class, c.summary
            ));
        }
    }
    if cp.config.proposer.is_some() {
        s.push_str(&format!("{}\n", cp.proposer_stats.line()));
    }
    let u = cp.budget.used;
    s.push_str(&format!(
        "budget used: {}, {} tokens\n",
        used_of(u.episodes, cp.config.budget.episodes, "episodes"),
        u.tokens
    ));
    if let Some(f) = &cp.final_result {
        s.push_str(&format!(
            "train    success: seed {:.3} -> best {:.3}\nheld-out success: seed {:.3} -> best {:.3} ({:+.1} points, {} tasks; {}){label}\n",
            f.seed_train,
            f.best_train,
            f.seed_held_out,
            f.best_held_out,
            100.0 * (f.best_held_out - f.seed_held_out),
            f.held_out_tasks,
            f.held_out_split
        ));
    }
    s
}
