//! The Critic / Gate: deterministic checks a candidate passes, in order, before it may
//! replace its parent — checker, code generation, one batched cargo build per generation,
//! a smoke run, then evaluation on the parent's own train (task, seed) pairs and the
//! paired decision (significance, the seesaw rule): on every pair (fixed), or in blocks
//! that stop as soon as the candidate can no longer pass (racing, [`evaluate_candidate`]).
//!
//! Evaluation runs the interpreter in this process: the differential test
//! (tests/tests/differential.rs) guarantees its traces equal the compiled build's, and
//! running in process lets the loop keep traces in memory. The batched build is still
//! done (unless switched off) as the compile check, so a shipped harness is known to build.

use std::collections::BTreeMap;
use std::time::Duration;

use harnessx_compiler::build::{build, BuildOptions};
use harnessx_compiler::check_source;
use harnessx_compiler::codegen::generate_module;
use harnessx_compiler::lower::lower;
use harnessx_runtime::engine::EndReason;
use harnessx_runtime::ir::HarnessIr;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{make_env, run_pairs_parallel};
use harnessx_runtime::trace::TraceEvent;
use serde::{Deserialize, Serialize};

use crate::ledger::Cost;
use crate::stats::{paired_bootstrap, seesaw, Rate, SignCounts};

/// One (task, seed) pair of an evaluation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub task: u64,
    pub seed: u64,
}

/// What one episode of an evaluation gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub task: u64,
    pub seed: u64,
    pub success: bool,
    pub tokens: u64,
    pub steps: u32,
    /// The environment's simulated clock, not wall time: deterministic, so budgets
    /// charged in it replay exactly on resume.
    pub clock_ms: u64,
    /// Set when the episode ended on a model error (a context overflow included).
    pub model_error: Option<String>,
    /// The episode ended because its prompt overflowed the model's context: the harness's
    /// own failure (class `context_overflow`), judged like any failed episode.
    #[serde(default)]
    pub context_overflow: bool,
}

/// A harness evaluated on a list of pairs, in the pairs' order.
#[derive(Debug, Clone, Default)]
pub struct Eval {
    pub outcomes: Vec<Outcome>,
    /// Each episode's trace events, parallel to `outcomes`; empty when not kept. Digested
    /// as they are ([`crate::digest::FailureCatalog::digest`]); written out, they are the
    /// JSONL trace format.
    pub traces: Vec<Vec<TraceEvent>>,
}

impl Eval {
    pub fn success_rate(&self) -> f64 {
        Rate::new(self.successes(), self.outcomes.len() as u64).value()
    }

    pub fn successes(&self) -> u64 {
        self.outcomes.iter().filter(|o| o.success).count() as u64
    }

    pub fn mean_tokens(&self) -> f64 {
        match self.outcomes.len() {
            0 => 0.0,
            n => self.outcomes.iter().map(|o| o.tokens).sum::<u64>() as f64 / n as f64,
        }
    }

    /// What running it cost (seconds on the simulated clock).
    pub fn cost(&self) -> Cost {
        Cost::new(
            self.outcomes.len() as u64,
            self.outcomes.iter().map(|o| o.tokens).sum(),
            self.outcomes.iter().map(|o| o.clock_ms).sum::<u64>() as f64 / 1000.0,
        )
    }

    /// The worst single episode's tokens and seconds, for budget reservations.
    pub fn worst_episode(&self) -> (u64, f64) {
        let t = self.outcomes.iter().map(|o| o.tokens).max().unwrap_or(0);
        let s = self.outcomes.iter().map(|o| o.clock_ms).max().unwrap_or(0);
        (t, s as f64 / 1000.0)
    }

    /// Success rate per task over its seeds.
    pub fn per_task(&self) -> BTreeMap<u64, Rate> {
        let mut m: BTreeMap<u64, Rate> = BTreeMap::new();
        for o in &self.outcomes {
            m.entry(o.task).or_default().record(o.success);
        }
        m
    }
}

/// Runs `ir` on every pair, on up to `workers` threads. Each episode gets a fresh
/// environment and model, so the result does not depend on the number of workers or on
/// scheduling. With `keep_traces`, each episode's trace events are kept in memory for the
/// digester.
pub fn evaluate(
    ir: &HarnessIr,
    env: &str,
    model: &ModelSpec,
    pairs: &[Pair],
    workers: usize,
    keep_traces: bool,
) -> Result<Eval, String> {
    make_env(env)?; // an unknown environment is an error before any thread starts
    let rules = InterpretedRules::new(ir);
    let mut eval = Eval::default();
    let seeds: Vec<(u64, u64)> = pairs.iter().map(|p| (p.task, p.seed)).collect();
    let mut infra: Option<String> = None;
    run_pairs_parallel(ir, &rules, env, model, &seeds, workers, |ep| {
        let r = &ep.result;
        // The runner re-ran it already; a failure that stands is the infrastructure's,
        // never the harness's, so it stops the evaluation instead of being scored.
        if let (EndReason::Infrastructure(why), None) = (&r.end, &infra) {
            infra = Some(format!(
                "task {} (seed {}): the infrastructure failed {} times in a row: {why}",
                ep.task,
                ep.seed,
                ep.infra_reruns + 1
            ));
        }
        eval.outcomes.push(Outcome {
            task: ep.task,
            seed: ep.seed,
            success: r.success,
            tokens: r.tokens,
            steps: r.steps,
            clock_ms: r.clock_ms,
            model_error: match &r.end {
                EndReason::ModelError(m) | EndReason::ContextOverflow(m) => Some(m.clone()),
                _ => None,
            },
            context_overflow: matches!(r.end, EndReason::ContextOverflow(_)),
        });
        if keep_traces {
            eval.traces.push(ep.events);
        }
    })?;
    match infra {
        Some(why) => Err(format!(
            "{why}. Nothing was scored; fix the model server or the environment bridge and resume the run."
        )),
        None => Ok(eval),
    }
}

/// Which paired test decides significance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Exact two-sided sign test on the pairs whose outcome differs.
    Sign,
    /// Seeded paired bootstrap of the mean difference.
    Bootstrap,
}

/// How the gate spends episodes on a candidate. Both modes decide with the same
/// full-sample test; they ship exactly the same candidates (see [`evaluate_candidate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMode {
    /// Every candidate runs on every train pair, then the paired test decides.
    Fixed,
    /// A curtailed test: the candidate runs in blocks of pairs, and after each block it is
    /// dropped as soon as no outcomes on its remaining pairs could make it pass the gate
    /// (futility only). A candidate that is not dropped runs on every pair and is decided
    /// by the same test as with [`GateMode::Fixed`].
    Racing,
}

impl GateMode {
    /// `fixed` or `racing`.
    pub fn parse(s: &str) -> Option<GateMode> {
        match s {
            "fixed" => Some(GateMode::Fixed),
            "racing" => Some(GateMode::Racing),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GateMode::Fixed => "fixed",
            GateMode::Racing => "racing",
        }
    }

    /// The mode of a checkpoint written before modes existed: those runs used the fixed
    /// gate, and a resumed run must spend its budget as the uninterrupted one would.
    fn legacy() -> GateMode {
        GateMode::Fixed
    }
}

/// The racing gate's default block: a sixth of the train pairs (10 of household's 60; 2 of
/// a 10-pair real-model run, one per worker on 2 cores). Smaller blocks stop losing
/// candidates sooner but leave workers idle at the end of each block.
pub const DEFAULT_BLOCK: f64 = 1.0 / 6.0;

fn default_block() -> f64 {
    DEFAULT_BLOCK
}

/// The gate's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateConfig {
    pub alpha: f64,
    pub test: Test,
    /// A task counts as solved reliably when its success rate over its seeds is at least
    /// this (the seesaw rule).
    pub reliable: f64,
    /// Episodes of the smoke run.
    pub smoke_episodes: u64,
    /// Do the batched cargo build of each generation.
    pub build: bool,
    pub bootstrap_resamples: usize,
    /// Fixed-size or racing evaluation. Checkpoints without the field ran the fixed gate.
    #[serde(default = "GateMode::legacy")]
    pub mode: GateMode,
    /// Racing: the size of each block of pairs, as a fraction of the train pairs (rounded
    /// up, at least one pair).
    #[serde(default = "default_block")]
    pub block: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            alpha: 0.05,
            test: Test::Sign,
            reliable: 1.0,
            smoke_episodes: 1,
            build: true,
            bootstrap_resamples: 2000,
            mode: GateMode::Racing,
            block: DEFAULT_BLOCK,
        }
    }
}

/// Checker and code generation for one candidate's source: its IR, or why not.
pub fn static_check(source: &str) -> Result<HarnessIr, String> {
    let checked = check_source(source);
    if checked.has_errors() {
        let first = checked
            .diagnostics
            .iter()
            .find(|d| d.severity == harnessx_compiler::Severity::Error)
            .map(|d| format!("{} {}", d.code, d.message))
            .unwrap_or_default();
        return Err(format!("checker: {first}"));
    }
    let ir = lower(&checked.file).map_err(|d| {
        format!(
            "lowering: {}",
            d.first().map(|d| d.message.clone()).unwrap_or_default()
        )
    })?;
    generate_module(&ir).map_err(|e| format!("codegen: {e}"))?;
    Ok(ir)
}

/// One cargo build of all of a generation's harnesses (one crate, one module each).
pub fn build_generation(irs: &[HarnessIr]) -> Result<Duration, String> {
    if irs.is_empty() {
        return Ok(Duration::ZERO);
    }
    build(irs, &BuildOptions::default())
        .map(|b| b.cargo_time)
        .map_err(|e| format!("cargo build: {e}"))
}

/// A smoke run's verdict: an episode that ends on a model error means the harness cannot
/// talk to the model at all (a broken decoding setting, say). A prompt that overflowed the
/// model's context is not such an error: it is the harness's failure on that episode, which
/// the paired evaluation judges like any other (the parent's overflows count there too;
/// rejecting a candidate for one would hold it to a rule the parent is not held to).
pub fn smoke_verdict(eval: &Eval) -> Result<(), String> {
    let talks = |o: &&Outcome| !o.context_overflow;
    match eval
        .outcomes
        .iter()
        .filter(talks)
        .find_map(|o| o.model_error.as_ref())
    {
        Some(e) => Err(format!("smoke run: model error: {e}")),
        None => Ok(()),
    }
}

/// The gate's paired decision on one evaluated candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub ship: bool,
    pub reason: String,
    pub p_value: f64,
    pub parent: f64,
    pub candidate: f64,
}

/// Ship only if the candidate is better on the same pairs, significantly at `alpha`, and
/// no task the parent solved reliably falls below the bar. `seed` seeds the bootstrap.
pub fn judge(parent: &Eval, cand: &Eval, cfg: &GateConfig, seed: u64) -> Judgement {
    decide(parent, cand, cfg, seed, true)
}

/// [`judge`]; without `significance` the paired test is computed but not required (the
/// racing gate's futility check under the bootstrap, whose p-value is not monotone in the
/// outcomes).
fn decide(
    parent: &Eval,
    cand: &Eval,
    cfg: &GateConfig,
    seed: u64,
    significance: bool,
) -> Judgement {
    let (ps, cs) = (parent.success_rate(), cand.success_rate());
    let mut j = Judgement {
        ship: false,
        reason: String::new(),
        p_value: 1.0,
        parent: ps,
        candidate: cs,
    };
    let same_pairs = parent.outcomes.len() == cand.outcomes.len()
        && parent
            .outcomes
            .iter()
            .zip(&cand.outcomes)
            .all(|(a, b)| (a.task, a.seed) == (b.task, b.seed));
    if !same_pairs || parent.outcomes.is_empty() {
        j.reason = "not evaluated on the parent's pairs".into();
        return j;
    }
    let pairs: Vec<(f64, f64)> = parent
        .outcomes
        .iter()
        .zip(&cand.outcomes)
        .map(|(a, b)| {
            (
                f64::from(u8::from(a.success)),
                f64::from(u8::from(b.success)),
            )
        })
        .collect();
    let signs = SignCounts::from_pairs(&pairs);
    j.p_value = match cfg.test {
        Test::Sign => signs.p_value(),
        Test::Bootstrap => {
            let diffs: Vec<f64> = pairs.iter().map(|(a, b)| b - a).collect();
            paired_bootstrap(&diffs, cfg.bootstrap_resamples, cfg.alpha, seed).p_value
        }
    };
    let test = match cfg.test {
        Test::Sign => "sign test",
        Test::Bootstrap => "paired bootstrap",
    };
    let score = format!(
        "train {ps:.3} -> {cs:.3} ({} better, {} worse of {} pairs)",
        signs.wins,
        signs.losses,
        pairs.len()
    );
    if cs <= ps {
        j.reason = format!("no improvement: {score}");
        return j;
    }
    if significance && j.p_value >= cfg.alpha {
        j.reason = format!(
            "not significant: {score}, {test} p = {:.4} >= alpha {}",
            j.p_value, cfg.alpha
        );
        return j;
    }
    let regressions = seesaw(&parent.per_task(), &cand.per_task(), cfg.reliable);
    if !regressions.is_empty() {
        let list: Vec<String> = regressions
            .iter()
            .take(5)
            .map(|r| {
                format!(
                    "task {} {}/{} -> {}/{}",
                    r.task,
                    r.parent.successes,
                    r.parent.trials,
                    r.candidate.successes,
                    r.candidate.trials
                )
            })
            .collect();
        j.reason = format!(
            "seesaw: {} reliably solved task(s) regressed ({}); {score}",
            regressions.len(),
            list.join(", ")
        );
        return j;
    }
    j.ship = true;
    j.reason = format!("{score}, {test} p = {:.4} < alpha {}", j.p_value, cfg.alpha);
    j
}

// ---------------------------------------------------------------------------------------
// racing: a curtailed paired test

/// The order the racing gate runs a candidate's pairs in, as indices into the parent's
/// pairs: first the pairs the parent failed (the only ones where a candidate can do
/// better), then the pairs it succeeded on for a task it solves reliably (one failure there
/// can be a seesaw regression), then its other successes; pair order within each group.
/// It depends only on the parent's outcomes, which are known before any candidate runs.
pub fn racing_order(parent: &Eval, reliable: f64) -> Vec<usize> {
    // Against no candidate at all, every task the parent solves reliably "regresses".
    let reliable_tasks: Vec<u64> = seesaw(&parent.per_task(), &BTreeMap::new(), reliable)
        .iter()
        .map(|r| r.task)
        .collect();
    let group = |o: &Outcome| match (o.success, reliable_tasks.contains(&o.task)) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => 2,
    };
    let mut order: Vec<usize> = (0..parent.outcomes.len()).collect();
    order.sort_by_key(|&i| group(&parent.outcomes[i])); // stable
    order
}

/// Pairs per racing block: `fraction` of `n`, rounded up, at least 1; all `n` for a
/// fraction that is not in (0, 1].
pub fn block_size(n: usize, fraction: f64) -> usize {
    if !(fraction.is_finite() && fraction > 0.0 && fraction <= 1.0) {
        return n.max(1);
    }
    // The slack keeps e.g. 60 * (1/3) at 20 despite rounding.
    ((n as f64 * fraction - 1e-9).ceil() as usize).clamp(1, n.max(1))
}

/// The futility check: `seen` holds the candidate's outcome on each of the parent's pairs
/// run so far (`None`: not run yet). The best case is the candidate succeeding on every
/// pair not run yet: that gives the most pairs it does better on, the fewest it does worse
/// on and the highest success on every task. The gate's rule only gets easier to pass with
/// each of these (the exact sign test's p-value falls with more wins and fewer losses when
/// wins exceed losses), so if the best case fails, every possible completion fails, and the
/// best case's verdict is returned. Under the bootstrap, whose p-value need not move that
/// way, only the improvement and seesaw rules are checked here; significance waits for
/// the full sample.
pub fn futile(
    parent: &Eval,
    seen: &[Option<Outcome>],
    cfg: &GateConfig,
    seed: u64,
) -> Option<Judgement> {
    let best = Eval {
        outcomes: parent
            .outcomes
            .iter()
            .zip(seen)
            .map(|(p, s)| {
                s.clone().unwrap_or(Outcome {
                    task: p.task,
                    seed: p.seed,
                    success: true,
                    tokens: 0,
                    steps: 0,
                    clock_ms: 0,
                    model_error: None,
                    context_overflow: false,
                })
            })
            .collect(),
        traces: Vec::new(),
    };
    let j = decide(parent, &best, cfg, seed, cfg.test == Test::Sign);
    (!j.ship).then_some(j)
}

/// A candidate's paired evaluation by the gate.
#[derive(Debug, Clone)]
pub struct GateRun {
    /// The candidate on every pair, in pair order (traces as the runner kept them); `None`
    /// when the racing gate dropped it early.
    pub eval: Option<Eval>,
    pub judgement: Judgement,
    /// Pairs it was run on.
    pub pairs_run: usize,
    /// What those episodes cost.
    pub cost: Cost,
}

impl GateRun {
    pub fn dropped(&self) -> bool {
        self.eval.is_none()
    }
}

/// Runs a candidate on the parent's `pairs` through `run` (which evaluates a list of pairs)
/// and judges it against `parent`, as `cfg.mode` says.
///
/// Fixed: one run on all pairs, then [`judge`]. Racing: blocks of [`block_size`] pairs in
/// [`racing_order`]; before each block (the first included) the candidate is dropped if it
/// is [`futile`]. A candidate that is never dropped has run on every pair and is decided by
/// [`judge`] on the outcomes in pair order, exactly as the fixed gate decides. So with the
/// same outcomes both modes ship the same candidates: a drop only ever happens to a
/// candidate the full-sample test would reject. Episodes are independent (each gets a
/// fresh environment and model), so running them in another order gives the same outcomes.
pub fn evaluate_candidate<F>(
    parent: &Eval,
    pairs: &[Pair],
    cfg: &GateConfig,
    seed: u64,
    mut run: F,
) -> Result<GateRun, String>
where
    F: FnMut(&[Pair]) -> Result<Eval, String>,
{
    let n = pairs.len();
    let same_pairs = parent.outcomes.len() == n
        && parent
            .outcomes
            .iter()
            .zip(pairs)
            .all(|(o, p)| (o.task, o.seed) == (p.task, p.seed));
    if cfg.mode == GateMode::Fixed || !same_pairs || n == 0 {
        let eval = run(pairs)?;
        let judgement = judge(parent, &eval, cfg, seed);
        return Ok(GateRun {
            pairs_run: eval.outcomes.len(),
            cost: eval.cost(),
            judgement,
            eval: Some(eval),
        });
    }
    let order = racing_order(parent, cfg.reliable);
    let mut seen: Vec<Option<Outcome>> = vec![None; n];
    let mut traces: Vec<Option<Vec<TraceEvent>>> = vec![None; n];
    let mut pairs_run = 0;
    // What the episodes run so far cost, summed in pair order as [`Eval::cost`] sums a
    // full evaluation, so a candidate that runs on every pair costs the same in both modes.
    let cost_of = |seen: &[Option<Outcome>]| Eval {
        outcomes: seen.iter().flatten().cloned().collect(),
        traces: Vec::new(),
    };
    for block in order.chunks(block_size(n, cfg.block)) {
        // Before each block, the first included: with too few pairs the parent failed,
        // nothing could pass, and no episode is spent finding that out.
        if let Some(best) = futile(parent, &seen, cfg, seed) {
            let ran = cost_of(&seen);
            let signs = SignCounts::from_pairs(
                &parent
                    .outcomes
                    .iter()
                    .zip(&seen)
                    .filter_map(|(p, s)| {
                        s.as_ref().map(|c| {
                            (
                                f64::from(u8::from(p.success)),
                                f64::from(u8::from(c.success)),
                            )
                        })
                    })
                    .collect::<Vec<_>>(),
            );
            let judgement = Judgement {
                ship: false,
                reason: format!(
                    "dropped after {pairs_run} of {n} pairs ({} better, {} worse so far): it fails \
                     even if it succeeds on all {} remaining; best case {}",
                    signs.wins,
                    signs.losses,
                    n - pairs_run,
                    best.reason
                ),
                p_value: best.p_value,
                parent: parent.success_rate(),
                candidate: ran.success_rate(),
            };
            return Ok(GateRun {
                eval: None,
                judgement,
                pairs_run,
                cost: ran.cost(),
            });
        }
        let sub: Vec<Pair> = block.iter().map(|&i| pairs[i]).collect();
        let ev = run(&sub)?;
        if ev.outcomes.len() != sub.len() {
            return Err(format!(
                "gate: {} outcomes for a block of {} pairs",
                ev.outcomes.len(),
                sub.len()
            ));
        }
        let mut kept = ev.traces.into_iter();
        for (&i, o) in block.iter().zip(ev.outcomes) {
            seen[i] = Some(o);
            traces[i] = kept.next();
        }
        pairs_run += block.len();
    }
    let outcomes: Vec<Outcome> = seen.into_iter().flatten().collect();
    let traces: Vec<Vec<TraceEvent>> = if traces.iter().all(Option::is_some) {
        traces.into_iter().flatten().collect()
    } else {
        Vec::new()
    };
    let eval = Eval { outcomes, traces };
    let judgement = judge(parent, &eval, cfg, seed);
    Ok(GateRun {
        pairs_run,
        cost: eval.cost(),
        judgement,
        eval: Some(eval),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(results: &[(u64, bool)]) -> Eval {
        Eval {
            outcomes: results
                .iter()
                .enumerate()
                .map(|(i, &(task, success))| Outcome {
                    task,
                    seed: i as u64,
                    success,
                    tokens: 10,
                    steps: 1,
                    clock_ms: 5,
                    model_error: None,
                    context_overflow: false,
                })
                .collect(),
            traces: Vec::new(),
        }
    }

    #[test]
    fn a_worse_candidate_is_rejected() {
        let p = eval(&[(0, true), (1, true), (2, false), (3, true)]);
        let c = eval(&[(0, false), (1, true), (2, false), (3, false)]);
        let j = judge(&p, &c, &GateConfig::default(), 1);
        assert!(!j.ship && j.reason.starts_with("no improvement"), "{j:?}");
    }

    #[test]
    fn a_clear_win_ships_and_a_regression_does_not() {
        // Task 99 is won by the parent on both of its seeds: solved reliably.
        let mut p: Vec<(u64, bool)> = (0..12).map(|t| (t, false)).collect();
        p.extend([(99, true), (99, true)]);
        let mut c: Vec<(u64, bool)> = (0..12).map(|t| (t, true)).collect();
        c.extend([(99, true), (99, true)]);
        let j = judge(&eval(&p), &eval(&c), &GateConfig::default(), 1);
        assert!(j.ship, "{j:?}");
        c[13].1 = false;
        let j = judge(&eval(&p), &eval(&c), &GateConfig::default(), 1);
        assert!(!j.ship && j.reason.starts_with("seesaw"), "{j:?}");
        // Played on one seed only, the same loss is one worse pair for the paired test, not a
        // veto: 12 better and 1 worse ships.
        p.pop();
        c.pop();
        let j = judge(&eval(&p), &eval(&c), &GateConfig::default(), 1);
        assert!(j.ship, "{j:?}");
    }

    #[test]
    fn the_smoke_run_rejects_model_errors_but_not_context_overflows() {
        let mut smoke = eval(&[(0, false), (1, true)]);
        assert_eq!(smoke_verdict(&smoke), Ok(()));
        // The server's "maximum context length" reply: the harness's failure, left to the
        // paired evaluation.
        smoke.outcomes[0].model_error = Some("the prompt overflows the model's context".into());
        smoke.outcomes[0].context_overflow = true;
        assert_eq!(smoke_verdict(&smoke), Ok(()));
        // Any other model error: the harness cannot talk to the model.
        smoke.outcomes[1].model_error = Some("HTTP 400: unsupported response_format".into());
        let why = smoke_verdict(&smoke).unwrap_err();
        assert!(why.contains("unsupported response_format"), "{why}");
    }
}
