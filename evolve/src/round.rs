//! One round of AEGIS: digest the parent's train failures, let the planner pick K
//! (operator, class) arms, have the operators make K candidates, put them through the
//! gate, ship at most one, and checkpoint.

use std::path::Path;

use harnessx_syntax::parse;

use crate::checkpoint::{CandidateRecord, Checkpoint, Config, RoundRecord};
use crate::digest::{DigestConfig, FailureCatalog};
use crate::emit::{shipped_source, unified_diff, write_text};
use crate::error::{OutputError, RunError};
use crate::fragments::Phrasing;
use crate::gate::{
    build_generation, evaluate, evaluate_candidate, smoke_verdict, static_check, Eval, Judgement,
    Pair,
};
use crate::ledger::{Cost, LedgerEntry, Scores};
use crate::manifest::{FailureClass, OperatorId};
use crate::operators::{try_propose, Candidate, Rng, Target};
use crate::planner::{operator_arms, random_proposals, write_landscape, Arm, Landscape, Proposal};
use crate::planner::{operator_slots, proposer_proposal};
use crate::proposer::{self, write_transcript, ProposerConfig};
use crate::stats::SeededRng;
use crate::traces::{episode_path, write_episodes, Split};
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::trace::TraceEvent;

/// Where to stop on purpose, to test resuming: after round k's checkpoint is written, or
/// in the middle of round k (after its first candidate is evaluated, before any file of
/// the round is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    AfterCheckpoint(u32),
    MidRound(u32),
}

impl Abort {
    /// `after:K` or `mid:K` (the `HARNESSX_EVOLVE_ABORT` variable).
    pub fn parse(s: &str) -> Option<Abort> {
        let (kind, k) = s.split_once(':')?;
        let k: u32 = k.trim().parse().ok()?;
        match kind.trim() {
            "after" => Some(Abort::AfterCheckpoint(k)),
            "mid" => Some(Abort::MidRound(k)),
            _ => None,
        }
    }
}

/// The message of an error caused by [`Abort`].
pub const ABORTED: &str = "aborted on purpose (HARNESSX_EVOLVE_ABORT)";

/// Progress reports; the CLI draws bars from them.
pub trait Observer {
    fn round_started(&mut self, _round: u32, _rounds: u32) {}
    fn step(&mut self, _what: &str) {}
    fn round_finished(&mut self, _record: &RoundRecord) {}
}

/// Reports nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// What a round needs besides the checkpoint.
pub struct Ctx<'a> {
    pub out: &'a Path,
    pub model: &'a ModelSpec,
    pub pairs: &'a [Pair],
    pub workers: usize,
    pub abort: Option<Abort>,
    pub observer: &'a mut dyn Observer,
    /// The open-ended proposer and its model, when the config has one (parsed once per
    /// run).
    pub proposer: Option<(&'a ProposerConfig, &'a ModelSpec)>,
    /// Write the parent's and the candidates' train episodes under `traces/`
    /// ([`crate::traces`]); the digester's evidence then names their files.
    pub keep_traces: bool,
}

/// Seed of the `slot`-th random stream of `round` (operators, bootstrap).
fn stream(seed: u64, round: u32, slot: u64) -> u64 {
    SeededRng::derive(seed, (u64::from(round) << 32) | slot).next_u64()
}

/// Draws per slot random search makes before it gives up on a slot: far more than any
/// harness needs (every operator applies to some class of every example), a bound only so
/// a harness no operator can change cannot loop forever.
const MAX_REDRAWS: u64 = 256;

/// Replaces `p` (a random-search proposal) by the first of a seeded sequence of uniform
/// draws, starting with `p` itself, whose operator makes from `parent` a harness that
/// passes the checker and is none of `seen`. `make_seed` is the seed the slot's candidate
/// is then made with, so the draw kept is one that applies with it. With none in
/// [`MAX_REDRAWS`] draws, `p` stays and the slot fails as before.
fn redraw_until_applies(
    p: &mut Proposal,
    parent: &harnessx_syntax::File,
    seen: &[String],
    phrasing: Phrasing,
    make_seed: u64,
    seed: u64,
) {
    let applies = |p: &Proposal| {
        let Some(op) = OperatorId::from_name(&p.operator) else {
            return false;
        };
        let target = Target::new(p.class).with_phrasing(phrasing);
        match make_candidate(parent, &target, op, make_seed) {
            Ok(c) => !seen.contains(&c.source) && static_check(&c.source).is_ok(),
            Err(_) => false,
        }
    };
    let mut draws = random_proposals(seed, MAX_REDRAWS as usize).into_iter();
    let mut candidate = p.clone();
    for _ in 0..MAX_REDRAWS {
        if applies(&candidate) {
            *p = candidate;
            return;
        }
        match draws.next() {
            Some(next) => candidate = next,
            None => return,
        }
    }
}

/// The parent's failures this round, digested from the trace events kept in memory (one
/// episode each). With `kept` (the parent's id, when its traces are written), each piece of
/// evidence names the episode's file under `traces/`.
fn digest(eval: &Eval, kept: Option<&str>) -> FailureCatalog {
    let mut cat = FailureCatalog::new(64);
    let cfg = DigestConfig::default();
    for (events, o) in eval.traces.iter().zip(&eval.outcomes) {
        let file =
            kept.map(|id| std::path::PathBuf::from(episode_path(id, Split::Train, o.task, o.seed)));
        cat.digest(events, file.as_deref(), &cfg);
    }
    cat
}

/// An evaluation's episodes as `(task, seed, events)`, for [`write_episodes`].
fn episodes_of(eval: &Eval) -> Vec<(u64, u64, Vec<TraceEvent>)> {
    eval.outcomes
        .iter()
        .zip(&eval.traces)
        .map(|(o, t)| (o.task, o.seed, t.clone()))
        .collect()
}

fn evidence_lines(cat: &FailureCatalog, class: FailureClass) -> Vec<String> {
    cat.classes
        .get(&class)
        .map(|e| {
            e.evidence
                .iter()
                .map(|ev| {
                    format!(
                        "task {} seed {} step {}: {}: {}",
                        ev.task, ev.seed, ev.step, ev.note, ev.excerpt
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Up to `tries` draws of an operator until one gives a verified candidate.
fn make_candidate(
    parent: &harnessx_syntax::File,
    target: &Target,
    op: OperatorId,
    seed: u64,
) -> Result<Candidate, String> {
    let mut rng = Rng::seed(seed);
    let mut last = String::from("operator produced nothing");
    for _ in 0..3 {
        match try_propose(parent, target, op, &mut rng) {
            Ok(c) => return Ok(c),
            Err(crate::operators::NoCandidate::NotApplicable) => {
                return Err("operator not applicable to this harness".into())
            }
            Err(crate::operators::NoCandidate::Nothing) => {}
            Err(crate::operators::NoCandidate::Rejected(r)) => {
                last = format!("operator output failed verification: {r:?}")
            }
        }
    }
    Err(last)
}

/// A candidate going through the gate.
struct Entry {
    record: CandidateRecord,
    cand: Option<Candidate>,
    eval: Option<Eval>,
    judgement: Option<Judgement>,
    cost: Cost,
    /// Its train episodes as `(task, seed, events)`, every block the gate ran (kept only
    /// with [`Ctx::keep_traces`]).
    traces: Vec<(u64, u64, Vec<TraceEvent>)>,
}

/// Runs round `cp.next_round`. `parent_eval` is the parent's train evaluation with
/// traces; it is replaced by the shipped candidate's.
pub fn run_round(
    cp: &mut Checkpoint,
    parent_eval: &mut Eval,
    ctx: &mut Ctx,
) -> Result<(), RunError> {
    run_round_as(cp, parent_eval, ctx, Arm::Aegis)
}

/// [`run_round`] with the proposals chosen as `arm` chooses them (see [`Arm`]);
/// everything after the proposals (gate, budget, shipping) is the same for every arm.
pub fn run_round_as(
    cp: &mut Checkpoint,
    parent_eval: &mut Eval,
    ctx: &mut Ctx,
    arm: Arm,
) -> Result<(), RunError> {
    let cfg: Config = cp.config.clone();
    let r = cp.next_round;
    ctx.observer.round_started(r, cfg.rounds);
    ctx.observer.step("digesting the parent's failures");
    let round_cat = digest(
        parent_eval,
        ctx.keep_traces.then_some(cp.parent_id.as_str()),
    );
    cp.catalog.merge(&round_cat);
    let mut record = RoundRecord {
        round: r,
        parent_id: cp.parent_id.clone(),
        parent_train: parent_eval.success_rate(),
        parent_tokens: parent_eval.mean_tokens(),
        classes: round_cat
            .classes
            .iter()
            .map(|(c, e)| (*c, e.count))
            .collect(),
        evidence: round_cat
            .classes
            .iter()
            .map(|(c, e)| (*c, e.evidence.clone()))
            .collect(),
        candidates: Vec::new(),
        shipped: None,
        used: cp.budget.used,
        build_seconds: None,
        stopped: None,
    };
    let arms = arm.planner_arms().unwrap_or_else(operator_arms);
    let slots = operator_slots(cfg.k, ctx.proposer.is_some());
    let mut proposals = if arm == Arm::Random {
        // No digester-driven choice and no bandit: operators and classes drawn uniformly.
        random_proposals(stream(cfg.seed, r, 5000), slots)
    } else {
        match round_cat.stop_reason(cfg.min_class_episodes) {
            Some(why) => {
                record.stopped = Some(format!("digester: {why}"));
                Vec::new()
            }
            None => cp.bandit.propose(r, &arms, &round_cat, slots),
        }
    };
    // The proposer's slot: it needs no class an operator targets, only a failure.
    if let Some(p) = ctx.proposer.and_then(|_| proposer_proposal(&round_cat)) {
        record.stopped = None;
        proposals.push(p);
    }
    if record.stopped.is_none() && proposals.is_empty() {
        record.stopped = Some("planner: no arm targets this round's failures".into());
    }

    // Evolver: one candidate per proposal, duplicates dropped.
    ctx.observer.step("proposing candidates");
    let parent_file = parse(&cp.parent_source).file;
    let mut entries: Vec<Entry> = Vec::new();
    let mut seen = vec![cp.parent_source.clone()];
    let mut transcripts = Vec::new();
    for (i, p) in proposals.iter_mut().enumerate() {
        let id = format!("r{r}c{i}");
        if arm == Arm::Random {
            // Random search redraws until its proposal applies (a new harness that passes
            // the checker), so it spends its episodes on candidates as the other arms do
            // rather than losing slots to operators that do not fit this harness.
            redraw_until_applies(
                p,
                &parent_file,
                &seen,
                cfg.phrasing,
                stream(cfg.seed, r, i as u64),
                stream(cfg.seed, r, 6000 + i as u64),
            );
        }
        let p = &*p;
        let target = if arm == Arm::Random {
            Target::new(p.class)
        } else {
            Target::new(p.class).with_evidence(evidence_lines(&round_cat, p.class))
        }
        .with_phrasing(cfg.phrasing);
        let made = match (OperatorId::from_name(&p.operator), ctx.proposer) {
            (Some(OperatorId::Proposer), Some((pcfg, spec))) => {
                ctx.observer.step("asking the proposer for a new harness");
                let seed = stream(cfg.seed, r, i as u64);
                let asked = proposer::propose(spec, pcfg, &parent_file, &round_cat, &target, seed);
                cp.proposer_stats.add(&asked.stats);
                let result = asked.result.clone();
                transcripts.push((id.clone(), asked));
                result
            }
            (Some(op), _) => {
                make_candidate(&parent_file, &target, op, stream(cfg.seed, r, i as u64))
            }
            (None, _) => Err(format!("unknown operator `{}`", p.operator)),
        };
        let (cand, reason) = match made {
            Ok(c) if seen.contains(&c.source) => (
                None,
                "same harness as the parent or an earlier candidate".to_string(),
            ),
            Ok(c) => {
                seen.push(c.source.clone());
                (Some(c), String::new())
            }
            Err(e) => (None, e),
        };
        entries.push(Entry {
            record: CandidateRecord {
                id,
                operator: p.operator.clone(),
                class: p.class,
                summary: cand
                    .as_ref()
                    .map(|c| c.manifest.summary.clone())
                    .unwrap_or_default(),
                train_success: None,
                mean_tokens: None,
                p_value: None,
                shipped: false,
                reason,
                manifest: cand.as_ref().map(|c| c.manifest.clone()),
                episodes: 0,
                pairs: None,
            },
            cand,
            eval: None,
            judgement: None,
            cost: Cost::default(),
            traces: Vec::new(),
        });
    }

    // Gate, static part: checker and codegen per candidate, then one build for all.
    ctx.observer.step("checking and generating code");
    let mut irs = Vec::new();
    for e in entries.iter_mut().filter(|e| e.cand.is_some()) {
        match e.cand.as_ref().map(|c| static_check(&c.source)) {
            Some(Ok(ir)) => irs.push((e.record.id.clone(), ir)),
            Some(Err(why)) => {
                e.record.reason = why;
                e.cand = None;
            }
            None => {}
        }
    }
    if cfg.gate.build && !irs.is_empty() {
        ctx.observer
            .step(&format!("cargo build of {} candidates", irs.len()));
        let just_irs: Vec<_> = irs.iter().map(|(_, ir)| ir.clone()).collect();
        match build_generation(&just_irs) {
            Ok(t) => record.build_seconds = Some(t.as_secs_f64()),
            Err(why) => {
                for e in entries.iter_mut().filter(|e| e.cand.is_some()) {
                    e.record.reason = why.clone();
                    e.cand = None;
                }
            }
        }
    }

    // Gate, dynamic part: smoke run, then the paired evaluation, within the budget.
    let (worst_tokens, worst_secs) = parent_eval.worst_episode();
    let smoke_n = (cfg.gate.smoke_episodes as usize).min(ctx.pairs.len());
    let mut evaluated = 0;
    for e in entries.iter_mut() {
        let Some(cand) = &e.cand else { continue };
        let Some((_, ir)) = irs.iter().find(|(id, _)| *id == e.record.id) else {
            continue;
        };
        let n = (smoke_n + ctx.pairs.len()) as u64;
        // Reserve an upper bound first: twice the parent's worst episode per episode.
        let reserve = Cost::new(
            n,
            n.saturating_mul(worst_tokens.saturating_mul(2)),
            n as f64 * worst_secs * 2.0,
        );
        if !cp.budget.can_afford(&reserve) {
            e.record.reason = format!(
                "budget: evaluating needs {n} episodes, {} left",
                cp.budget.remaining().episodes
            );
            record.stopped = Some("budget exhausted".into());
            continue;
        }
        ctx.observer.step(&format!("{}: smoke run", e.record.id));
        let smoke = evaluate(
            ir,
            &cfg.env,
            ctx.model,
            &ctx.pairs[..smoke_n],
            ctx.workers,
            false,
        )?;
        let mut cost = smoke.cost();
        if let Err(why) = smoke_verdict(&smoke) {
            e.record.reason = why;
            e.cost = cost;
            e.record.episodes = cost.episodes;
            if let Err(refused) = charge(cp, &cost, &mut record) {
                e.record.reason = format!("{} ({refused})", e.record.reason);
                break;
            }
            continue;
        }
        ctx.observer.step(&format!(
            "{}: {} on {} train pairs ({} gate)",
            e.record.id,
            cand.manifest.operator,
            ctx.pairs.len(),
            cfg.gate.mode.name()
        ));
        let keep = ctx.keep_traces;
        let kept = &mut e.traces;
        let run = evaluate_candidate(
            parent_eval,
            ctx.pairs,
            &cfg.gate,
            stream(cfg.seed, r, 1000),
            |pairs| {
                let ev = evaluate(ir, &cfg.env, ctx.model, pairs, ctx.workers, true)?;
                if keep {
                    kept.extend(episodes_of(&ev));
                }
                Ok(ev)
            },
        )?;
        let c = run.cost;
        cost = Cost::new(
            cost.episodes + c.episodes,
            cost.tokens + c.tokens,
            cost.seconds + c.seconds,
        );
        if let Err(refused) = settle(&mut cp.budget, e, cost, run) {
            // An evaluation over the budget is not judged (it cannot ship) and ends the
            // run: the budget is spent.
            record.stopped = Some(format!("budget: {refused}"));
            cp.stopped.clone_from(&record.stopped);
            break;
        }
        evaluated += 1;
        if evaluated == 1 && ctx.abort == Some(Abort::MidRound(r)) {
            return Err(ABORTED.into());
        }
    }

    if ctx.keep_traces {
        ctx.observer.step("writing traces");
        let parent = episodes_of(parent_eval);
        write_kept(ctx.out, &cp.parent_id, &parent)?;
        for e in &entries {
            write_kept(ctx.out, &e.record.id, &e.traces)?;
        }
    }

    // Ship the best passing candidate: highest train success, then fewest tokens.
    let best = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.judgement.as_ref().is_some_and(|j| j.ship))
        .max_by(|(ia, a), (ib, b)| {
            let key = |e: &Entry| {
                (
                    e.record.train_success.unwrap_or(0.0),
                    -e.record.mean_tokens.unwrap_or(0.0),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0)
                .then(ka.1.total_cmp(&kb.1))
                .then(ib.cmp(ia))
        })
        .map(|(i, _)| i);
    for (i, e) in entries.iter_mut().enumerate() {
        let passed = e.judgement.as_ref().is_some_and(|j| j.ship);
        if passed && Some(i) != best {
            e.record.reason = format!(
                "passed the gate but another candidate was better ({})",
                e.record.reason
            );
        }
        e.record.shipped = Some(i) == best;
        // The bandit learns whether the arm's change helped, shipped or not.
        cp.bandit.record(&e.record.operator, e.record.class, passed);
        let entry = LedgerEntry {
            round: r,
            operator: e.record.operator.clone(),
            class: e.record.class,
            candidate: e.record.id.clone(),
            reason: e.record.reason.clone(),
            scores: Scores {
                parent: record.parent_train,
                // 0 when never evaluated (its p_value is then None).
                candidate: e.record.train_success.unwrap_or(0.0),
            },
            p_value: e.record.p_value,
            cost: e.cost,
        };
        if e.record.shipped {
            cp.ledgers.ship(entry);
        } else {
            cp.ledgers.reject(entry);
        }
    }
    if let Some(i) = best {
        let e = &mut entries[i];
        if let (Some(cand), Some(j), Some(eval)) = (&e.cand, &e.judgement, e.eval.take()) {
            let source = shipped_source(cand, r, j.parent, j.candidate, j.p_value);
            let dir = ctx.out.join(format!("round-{r:03}"));
            let diff = unified_diff(
                &cp.parent_source,
                &source,
                &format!("{}.harness", cp.parent_id),
                &format!("{}.harness", e.record.id),
            );
            write_text(&dir, "harness.harness", &source)?;
            write_text(&dir, "diff.patch", &diff)?;
            let manifest =
                serde_json::to_string_pretty(&cand.manifest).map_err(|e| e.to_string())?;
            write_text(&dir, "manifest.json", &format!("{manifest}\n"))?;
            cp.parent_source = source;
            cp.parent_id = e.record.id.clone();
            record.shipped = Some(e.record.id.clone());
            *parent_eval = eval;
        }
    }
    for (id, asked) in &transcripts {
        write_transcript(ctx.out, id, asked)?;
    }
    record.candidates = entries.into_iter().map(|e| e.record).collect();
    record.used = cp.budget.used;
    let proposals_ref = &proposals;
    let section = Landscape {
        round: r,
        catalog: &round_cat,
        bandit: &cp.bandit,
        proposals: proposals_ref,
        ledgers: &cp.ledgers,
        budget: &cp.budget,
        stopped: record.stopped.as_deref(),
    }
    .render();
    write_landscape(&ctx.out.join("landscape.md"), r, &section)
        .map_err(|e| OutputError(format!("landscape.md: {e}")))?;
    if record.stopped.is_some() {
        cp.stopped.clone_from(&record.stopped);
    }
    cp.next_round = r + 1;
    ctx.observer.round_finished(&record);
    cp.rounds.push(record);
    Ok(())
}

/// Writes one harness's train episodes under `traces/`.
fn write_kept(
    out: &Path,
    id: &str,
    episodes: &[(u64, u64, Vec<TraceEvent>)],
) -> Result<(), OutputError> {
    if episodes.is_empty() {
        return Ok(());
    }
    let eps = episodes.iter().map(|(t, s, ev)| (*t, *s, ev.as_slice()));
    write_episodes(out, id, Split::Train, eps).map(|_| ())
}

/// Charges `cost`; an evaluation that used more than its reservation is refused by the
/// budget (never recorded past the limit) and ends the run. The refusal is the error.
fn charge(cp: &mut Checkpoint, cost: &Cost, record: &mut RoundRecord) -> Result<(), String> {
    cp.budget.charge(cost).map_err(|e| {
        record.stopped = Some(format!("budget: {e}"));
        cp.stopped.clone_from(&record.stopped);
        e.to_string()
    })
}

/// Records a candidate's paired evaluation: its actual cost always (in its record and
/// ledger entry), its judgement only if the budget accepts the cost. A refused charge
/// leaves the candidate unjudged — it cannot ship — and is the error.
fn settle(
    budget: &mut crate::ledger::Budget,
    e: &mut Entry,
    cost: Cost,
    run: crate::gate::GateRun,
) -> Result<(), String> {
    e.cost = cost;
    e.record.episodes = cost.episodes;
    e.record.pairs = Some(run.pairs_run as u64);
    if let Err(refused) = budget.charge(&cost) {
        e.record.reason = format!("not judged: the budget refused its cost ({refused})");
        return Err(refused.to_string());
    }
    let j = run.judgement;
    if let Some(eval) = &run.eval {
        e.record.train_success = Some(eval.success_rate());
        e.record.mean_tokens = Some(eval.mean_tokens());
        e.record.p_value = Some(j.p_value);
    }
    e.record.reason = j.reason.clone();
    e.judgement = Some(j);
    e.eval = run.eval;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{GateRun, Judgement};
    use crate::ledger::Budget;

    /// Random search's redraw: a proposal that does not apply to the harness is replaced
    /// by one that does (with the slot's own candidate seed), and one that applies stays.
    #[test]
    fn random_search_redraws_a_proposal_until_it_applies() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/household.harness");
        let src = std::fs::read_to_string(path).unwrap();
        let parent = parse(&src).file;
        let seen = vec![harnessx_syntax::print(&parent)];
        let make_seed = 42;
        let applies = |p: &Proposal| {
            OperatorId::from_name(&p.operator).is_some_and(|op| {
                make_candidate(&parent, &Target::new(p.class), op, make_seed)
                    .is_ok_and(|c| !seen.contains(&c.source) && static_check(&c.source).is_ok())
            })
        };
        let draws = random_proposals(7, 400);
        let bad = draws
            .iter()
            .find(|p| !applies(p))
            .expect("some operator and class that do not apply to the household seed")
            .clone();
        let good = draws.iter().find(|p| applies(p)).unwrap().clone();

        let mut p = bad.clone();
        redraw_until_applies(&mut p, &parent, &seen, Phrasing::Library, make_seed, 3);
        assert_ne!(p, bad);
        assert!(applies(&p), "{p:?}");

        let mut q = good.clone();
        redraw_until_applies(&mut q, &parent, &seen, Phrasing::Library, make_seed, 3);
        assert_eq!(q, good);
    }

    fn entry() -> Entry {
        Entry {
            record: CandidateRecord {
                id: "r1c0".into(),
                operator: "insert_rule".into(),
                class: FailureClass::Loop,
                summary: String::new(),
                train_success: None,
                mean_tokens: None,
                p_value: None,
                shipped: false,
                reason: String::new(),
                manifest: None,
                episodes: 0,
                pairs: None,
            },
            cand: None,
            eval: None,
            judgement: None,
            cost: Cost::default(),
            traces: Vec::new(),
        }
    }

    fn shipping_run() -> GateRun {
        GateRun {
            eval: None,
            judgement: Judgement {
                ship: true,
                reason: "significant improvement".into(),
                p_value: 0.01,
                parent: 0.4,
                candidate: 0.8,
            },
            pairs_run: 60,
            cost: Cost::new(60, 6000, 1.0),
        }
    }

    #[test]
    fn a_candidate_whose_cost_the_budget_refuses_is_not_judged_but_its_cost_is_kept() {
        // Reserved on the parent's worst episode, it used more tokens than were left.
        let mut budget = Budget::new(Cost::new(1000, 5000, f64::MAX));
        let mut e = entry();
        let cost = Cost::new(62, 6200, 1.0);
        let refused = settle(&mut budget, &mut e, cost, shipping_run());
        assert!(refused.is_err());
        assert!(e.judgement.is_none(), "not judged, so it cannot ship");
        assert!(
            e.record.reason.starts_with("not judged"),
            "{}",
            e.record.reason
        );
        assert_eq!((e.cost, e.record.episodes), (cost, 62));
        assert_eq!(
            budget.used,
            Cost::default(),
            "never recorded past the limit"
        );
    }

    #[test]
    fn a_candidate_within_the_budget_is_judged_and_charged() {
        let mut budget = Budget::new(Cost::new(1000, 50_000, f64::MAX));
        let mut e = entry();
        let cost = Cost::new(62, 6200, 1.0);
        assert!(settle(&mut budget, &mut e, cost, shipping_run()).is_ok());
        assert!(e.judgement.as_ref().is_some_and(|j| j.ship));
        assert_eq!(budget.used, cost);
    }
}
