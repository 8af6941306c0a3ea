//! The Planner: which operators to try this round. Each arm is an (operator, failure
//! class) pair from a table the caller passes in (the operators module owns which operator
//! targets which class; the planner only needs ids). A Thompson-sampling bandit over the
//! gate's ship/reject outcomes chooses among the arms whose class occurred, weighted by how
//! often it occurred; `landscape.md` records what the planner saw and chose each round.
//!
//! # Choosing K proposals
//!
//! 1. Eligible arms: table entries whose class has at least one failed episode in the
//!    round's catalog, each arm once. [`operator_arms`] builds the table from the
//!    operators module's class mapping.
//! 2. **Forced exploration**: arms never tried (no ship, no reject) come first, the most
//!    frequent classes first, then in table order — no arm is judged by its prior alone.
//! 3. Each remaining slot: with probability `epsilon` a uniformly random eligible arm
//!    (so an arm unlucky early still gets revisited); otherwise Thompson sampling: draw
//!    `theta ~ Beta(1 + ships, 1 + rejects)` per arm and take the largest
//!    `theta * share(class)` — the expected share of failures a ship would address.
//! 4. Proposals are distinct arms; fewer than K when fewer arms are eligible.
//!
//! The generator is derived from `(seed, round)`, so a resumed run proposes exactly what
//! the interrupted one would have.
//!
//! # The open-ended proposer
//!
//! With `--proposer` ([`crate::proposer`]) the bandit fills K - 1 slots and the proposer
//! the last one ([`operator_slots`], [`proposer_proposal`]), aimed at the round's most
//! frequent class other than `unknown` (else `unknown`). It needs no class an operator
//! targets: a round whose failures are all `unknown`, or too few per class for the
//! operators, still goes ahead with the proposer alone. A round without failed episodes
//! stops as before.
//!
//! # Arms
//!
//! [`Arm`] says how a run chooses its proposals: AEGIS as above, the planner restricted to
//! the prompt operators ([`Arm::planner_arms`]), or random mutation search
//! ([`random_proposals`]: operator and class uniform, no digest, no bandit). The round
//! asks this module for proposals; the benchmark ([`crate::arms`]) only picks the arm.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::{class_name, FailureCatalog};
use crate::ledger::{amount, amount_seconds};
use crate::ledger::{load_json, save_json, Budget, Ledgers};
use crate::manifest::{FailureClass, OperatorId};
use crate::operators::{self, operators_for};
use crate::stats::SeededRng;
use harnessx_runtime::fsutil::write_atomic;

/// Outcomes of one arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmStats {
    pub operator: String,
    pub class: FailureClass,
    pub ships: u64,
    pub rejects: u64,
}

impl ArmStats {
    pub fn tried(&self) -> u64 {
        self.ships + self.rejects
    }
    /// Mean of the Beta(1 + ships, 1 + rejects) posterior.
    pub fn posterior_mean(&self) -> f64 {
        (1.0 + self.ships as f64) / (2.0 + self.tried() as f64)
    }
}

/// How a proposal was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The arm had never been tried.
    Forced,
    /// The epsilon draw.
    Explore,
    Thompson,
    /// The open-ended proposer's slot.
    Proposer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub operator: String,
    pub class: FailureClass,
    pub pick: Pick,
    /// The class's share of this round's failures.
    pub share: f64,
    /// For Thompson picks, the winning `theta * share`; otherwise the share.
    pub score: f64,
}

/// The bandit's state: outcomes per arm (sorted by operator, then class), its seed and
/// exploration rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bandit {
    pub seed: u64,
    pub epsilon: f64,
    pub arms: Vec<ArmStats>,
}

impl Bandit {
    pub fn new(seed: u64, epsilon: f64) -> Self {
        Bandit {
            seed,
            epsilon,
            arms: Vec::new(),
        }
    }

    fn find(&self, operator: &str, class: FailureClass) -> Result<usize, usize> {
        self.arms
            .binary_search_by(|a| (a.operator.as_str(), a.class).cmp(&(operator, class)))
    }

    /// The arm's outcomes (zero if never recorded).
    pub fn stats(&self, operator: &str, class: FailureClass) -> ArmStats {
        match self.find(operator, class) {
            Ok(i) => self.arms[i].clone(),
            Err(_) => ArmStats {
                operator: operator.into(),
                class,
                ships: 0,
                rejects: 0,
            },
        }
    }

    /// Record the gate's verdict on a candidate from this arm.
    pub fn record(&mut self, operator: &str, class: FailureClass, shipped: bool) {
        let i = match self.find(operator, class) {
            Ok(i) => i,
            Err(i) => {
                self.arms.insert(i, self.stats(operator, class));
                i
            }
        };
        let arm = &mut self.arms[i];
        if shipped {
            arm.ships += 1;
        } else {
            arm.rejects += 1;
        }
    }

    /// Up to `k` distinct proposals for `round` (see the module docs). `table` maps
    /// operator ids to the class each targets; `catalog` is the round's failures.
    pub fn propose(
        &self,
        round: u32,
        table: &[(&str, FailureClass)],
        catalog: &FailureCatalog,
        k: usize,
    ) -> Vec<Proposal> {
        // Each arm once, in table order (the operators module lists the most promising
        // operators of a class first).
        let mut pool: Vec<(&str, FailureClass)> = Vec::new();
        for &(op, class) in table {
            if catalog.count(class) > 0 && !pool.contains(&(op, class)) {
                pool.push((op, class));
            }
        }
        let classes: BTreeSet<FailureClass> = pool.iter().map(|a| a.1).collect();
        let total: u64 = classes.iter().map(|c| catalog.count(*c)).sum();
        let share = |c: FailureClass| {
            if total == 0 {
                0.0
            } else {
                catalog.count(c) as f64 / total as f64
            }
        };
        let mut rng = SeededRng::derive(self.seed, u64::from(round));
        let mut out = Vec::new();

        // Forced exploration: untried arms, the most frequent classes first, then in table
        // order (the sort is stable).
        let mut untried: Vec<(&str, FailureClass)> = pool
            .iter()
            .copied()
            .filter(|(o, c)| self.stats(o, *c).tried() == 0)
            .collect();
        untried.sort_by_key(|a| std::cmp::Reverse(catalog.count(a.1)));
        for (op, class) in untried.into_iter().take(k) {
            pool.retain(|a| *a != (op, class));
            out.push(proposal(
                op,
                class,
                Pick::Forced,
                share(class),
                share(class),
            ));
        }

        while out.len() < k && !pool.is_empty() {
            let explore = rng.next_f64() < self.epsilon;
            let (i, pick, score) = if explore {
                let i = rng.below(pool.len() as u64) as usize;
                (i, Pick::Explore, share(pool[i].1))
            } else {
                let mut best = (0, f64::NEG_INFINITY);
                for (i, (op, class)) in pool.iter().enumerate() {
                    let s = self.stats(op, *class);
                    let theta = rng.beta(1.0 + s.ships as f64, 1.0 + s.rejects as f64);
                    let score = theta * share(*class);
                    if score > best.1 {
                        best = (i, score);
                    }
                }
                (best.0, Pick::Thompson, best.1)
            };
            let (op, class) = pool.remove(i);
            out.push(proposal(op, class, pick, share(class), score));
        }
        out
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_json(path, self)
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        load_json(path)
    }
}

/// The slots of a round the bandit (or random search) fills: K, less one for the
/// proposer when there is one.
pub fn operator_slots(k: usize, proposer: bool) -> usize {
    if proposer {
        k.saturating_sub(1)
    } else {
        k
    }
}

/// The proposer's proposal for a round with this catalog: its most frequent class other
/// than `unknown` (else `unknown`); `None` when no episode failed.
pub fn proposer_proposal(catalog: &FailureCatalog) -> Option<Proposal> {
    if catalog.failures == 0 {
        return None;
    }
    let ranked = catalog.ranked();
    let class = ranked
        .iter()
        .find(|(c, _)| *c != FailureClass::Unknown)
        .or(ranked.first())
        .map_or(FailureClass::Unknown, |(c, _)| *c);
    let share = catalog.count(class) as f64 / catalog.failures as f64;
    Some(proposal(
        OperatorId::Proposer.name(),
        class,
        Pick::Proposer,
        share,
        share,
    ))
}

/// Every (operator, class) arm of the operators module's mapping, classes in catalog
/// order and each class's operators most promising first. `unknown` is left out: its
/// failures carry no evidence an operator could target (random mutation search, which
/// uses every operator, is a baseline, not a planner arm).
pub fn operator_arms() -> Vec<(&'static str, FailureClass)> {
    FailureClass::ALL
        .iter()
        .filter(|&&c| c != FailureClass::Unknown)
        .flat_map(|&c| operators_for(c).iter().map(move |op| (op.name(), c)))
        .collect()
}

fn proposal(op: &str, class: FailureClass, pick: Pick, share: f64, score: f64) -> Proposal {
    Proposal {
        operator: op.into(),
        class,
        pick,
        share,
        score,
    }
}

// ---------------------------------------------------------------------------------------
// arms: how a run chooses its proposals

/// How a run chooses each round's proposals (the evolution benchmark's baselines run the
/// same loop with another choice; see [`crate::arms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arm {
    Seed,
    Random,
    PromptOnly,
    Aegis,
}

impl Arm {
    pub const ALL: [Arm; 4] = [Arm::Seed, Arm::Random, Arm::PromptOnly, Arm::Aegis];

    pub fn name(self) -> &'static str {
        match self {
            Arm::Seed => "seed",
            Arm::Random => "random",
            Arm::PromptOnly => "prompt-only",
            Arm::Aegis => "aegis",
        }
    }

    pub fn from_name(name: &str) -> Option<Arm> {
        Arm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The planner's (operator, class) table for this arm, when it differs from
    /// [`operator_arms`]: prompt-only keeps the prompt operators' arms.
    pub fn planner_arms(self) -> Option<Vec<(&'static str, FailureClass)>> {
        match self {
            Arm::PromptOnly => {
                let keep: Vec<&str> = operators::prompt_only().iter().map(|o| o.name()).collect();
                Some(
                    operator_arms()
                        .into_iter()
                        .filter(|(op, _)| keep.contains(op))
                        .collect(),
                )
            }
            _ => None,
        }
    }
}

/// `k` proposals of random mutation search: operator and class each uniform, drawn from
/// a generator seeded with `seed` (derived from the run seed and the round, so a run is
/// reproducible).
pub fn random_proposals(seed: u64, k: usize) -> Vec<Proposal> {
    let mut rng = SeededRng::new(seed);
    let ops: &[OperatorId] = operators::all();
    (0..k)
        .map(|_| {
            let op = ops[rng.below(ops.len() as u64) as usize];
            let class = FailureClass::ALL[rng.below(FailureClass::ALL.len() as u64) as usize];
            Proposal {
                operator: op.name().into(),
                class,
                pick: Pick::Explore,
                share: 0.0,
                score: 0.0,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// landscape.md

/// What one round's section of `landscape.md` shows.
pub struct Landscape<'a> {
    pub round: u32,
    /// This round's failures.
    pub catalog: &'a FailureCatalog,
    pub bandit: &'a Bandit,
    pub proposals: &'a [Proposal],
    pub ledgers: &'a Ledgers,
    pub budget: &'a Budget,
    /// Set when the round stopped early.
    pub stopped: Option<&'a str>,
}

/// Escape a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Landscape<'_> {
    /// The round's Markdown section, starting with a marker line that
    /// [`write_landscape`] uses to replace it when a resumed run redoes the round.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<!-- round {} -->\n## Round {}\n",
            self.round, self.round
        );
        if let Some(why) = self.stopped {
            let _ = writeln!(s, "Stopped early: {}\n", cell(why));
        }
        self.failures(&mut s);
        self.posteriors(&mut s);
        self.choices(&mut s);
        self.hit_rates(&mut s);
        self.spend(&mut s);
        s
    }

    fn failures(&self, s: &mut String) {
        let c = self.catalog;
        let _ = writeln!(
            s,
            "### Failure classes\n\n{} failed of {} episodes ({} incomplete).\n",
            c.failures, c.episodes, c.incomplete
        );
        if c.classes.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "| class | episodes | share | example |\n|---|---:|---:|---|"
        );
        for (class, n) in c.ranked() {
            let share = n as f64 / c.failures.max(1) as f64;
            let example = c
                .classes
                .get(&class)
                .and_then(|e| e.evidence.last())
                .map(|e| format!("task {} step {}: {}", e.task, e.step, cell(&e.excerpt)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "| {} | {n} | {:.0}% | {example} |",
                class_name(class),
                share * 100.0
            );
        }
        s.push('\n');
    }

    fn posteriors(&self, s: &mut String) {
        let _ = writeln!(s, "### Bandit posteriors\n");
        if self.bandit.arms.is_empty() {
            let _ = writeln!(s, "No outcomes yet (every arm at Beta(1, 1)).\n");
            return;
        }
        let _ = writeln!(
            s,
            "| operator | class | ships | rejects | posterior mean |\n|---|---|---:|---:|---:|"
        );
        for a in &self.bandit.arms {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.3} |",
                cell(&a.operator),
                class_name(a.class),
                a.ships,
                a.rejects,
                a.posterior_mean()
            );
        }
        s.push('\n');
    }

    fn choices(&self, s: &mut String) {
        let _ = writeln!(s, "### Proposals\n");
        if self.proposals.is_empty() {
            let _ = writeln!(s, "None.\n");
            return;
        }
        let _ = writeln!(
            s,
            "| operator | class | chosen by | share | score |\n|---|---|---|---:|---:|"
        );
        for p in self.proposals {
            let how = match p.pick {
                Pick::Forced => "forced exploration",
                Pick::Explore => "epsilon",
                Pick::Thompson => "Thompson sampling",
                Pick::Proposer => "open-ended proposer",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {how} | {:.2} | {:.3} |",
                cell(&p.operator),
                class_name(p.class),
                p.share,
                p.score
            );
        }
        s.push('\n');
    }

    fn hit_rates(&self, s: &mut String) {
        let _ = writeln!(s, "### Operator hit rates\n");
        let rates = self.ledgers.hit_rates();
        if rates.is_empty() {
            let _ = writeln!(s, "No verdicts yet.\n");
            return;
        }
        let _ = writeln!(
            s,
            "| operator | shipped | rejected | hit rate |\n|---|---:|---:|---:|"
        );
        for (op, r) in &rates {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0}% |",
                cell(op),
                r.shipped,
                r.rejected,
                r.rate() * 100.0
            );
        }
        s.push('\n');
    }

    fn spend(&self, s: &mut String) {
        let (u, l, r) = (
            &self.budget.used,
            &self.budget.limit,
            self.budget.remaining(),
        );
        let _ = writeln!(
            s,
            "### Budget\n\n| | used | limit | left |\n|---|---:|---:|---:|\n\
             | episodes | {} | {} | {} |\n| tokens | {} | {} | {} |\n| seconds | {:.1} | {} | {} |\n",
            u.episodes, amount(l.episodes), amount(r.episodes),
            u.tokens, amount(l.tokens), amount(r.tokens),
            u.seconds, amount_seconds(l.seconds), amount_seconds(r.seconds)
        );
    }
}

const LANDSCAPE_TITLE: &str = "# AEGIS landscape\n\n";

/// Put `section` (from [`Landscape::render`]) into the file at `path` as round `round`:
/// replacing that round's section if present, otherwise in round order; atomically.
pub fn write_landscape(path: &Path, round: u32, section: &str) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut sections = split_sections(&old);
    sections.insert(round, section.trim_end().to_string());
    let mut out = String::from(LANDSCAPE_TITLE);
    for text in sections.values() {
        out.push_str(text);
        out.push_str("\n\n");
    }
    let text = format!("{}\n", out.trim_end());
    write_atomic(path, text.as_bytes())
}

/// The round sections of an existing file, by their marker lines.
fn split_sections(text: &str) -> BTreeMap<u32, String> {
    let mut out: BTreeMap<u32, String> = BTreeMap::new();
    let mut cur: Option<u32> = None;
    for line in text.lines() {
        let marker = line
            .strip_prefix("<!-- round ")
            .and_then(|r| r.strip_suffix(" -->"))
            .and_then(|n| n.trim().parse::<u32>().ok());
        if let Some(n) = marker {
            cur = Some(n);
            out.insert(n, String::new());
        }
        if let Some(body) = cur.and_then(|n| out.get_mut(&n)) {
            body.push_str(line);
            body.push('\n');
        }
    }
    for v in out.values_mut() {
        let trimmed = v.trim_end().to_string();
        *v = trimmed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_proposals_are_reproducible_and_cover_operators() {
        let a = random_proposals(7, 40);
        assert_eq!(a, random_proposals(7, 40));
        let ops: std::collections::BTreeSet<_> = a.iter().map(|p| p.operator.clone()).collect();
        assert!(ops.len() > 3, "{ops:?}");
    }

    #[test]
    fn prompt_only_uses_only_prompt_operators() {
        let arms = Arm::PromptOnly.planner_arms().unwrap();
        assert!(!arms.is_empty());
        assert!(arms.iter().all(|(op, _)| *op == "swap_fragment"));
        assert!(Arm::Aegis.planner_arms().is_none());
    }
}
