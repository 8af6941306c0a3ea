//! The planner's books: the ship and reject ledgers (every gate verdict with its reason,
//! scores, p-value and cost), per-operator hit rates, and the budget with hard limits.
//! Everything persists as JSON written atomically, so a run killed mid-write resumes from
//! the previous complete file, never a torn one.

use std::collections::BTreeMap;
use std::path::Path;

use harnessx_runtime::fsutil::write_atomic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::manifest::FailureClass;

// ---------------------------------------------------------------------------------------
// atomic JSON files

/// Pretty JSON with a final newline, written atomically.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Read JSON written by [`save_json`]; a malformed file is an `InvalidData` error.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> std::io::Result<T> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

// ---------------------------------------------------------------------------------------
// costs and the budget

/// What evaluating something costs (or a budget's limits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub episodes: u64,
    pub tokens: u64,
    pub seconds: f64,
}

impl Cost {
    pub fn new(episodes: u64, tokens: u64, seconds: f64) -> Self {
        Cost {
            episodes,
            tokens,
            seconds,
        }
    }

    /// A cost that can be charged: seconds finite and not negative.
    pub fn is_valid(&self) -> bool {
        self.seconds.is_finite() && self.seconds >= 0.0
    }

    fn plus(&self, o: &Cost) -> Cost {
        Cost {
            episodes: self.episodes.saturating_add(o.episodes),
            tokens: self.tokens.saturating_add(o.tokens),
            seconds: self.seconds + o.seconds,
        }
    }

    fn within(&self, limit: &Cost) -> bool {
        self.episodes <= limit.episodes
            && self.tokens <= limit.tokens
            && self.seconds <= limit.seconds
    }
}

/// A budget amount (a limit, or what is left of one) as people read it: the number, or
/// `no limit` for an unlimited one. Unlimited episodes and tokens are `u64::MAX`.
pub fn amount(n: u64) -> String {
    if n == u64::MAX {
        "no limit".into()
    } else {
        n.to_string()
    }
}

/// [`amount`] for seconds (`12.5`); unlimited seconds are `f64::MAX` (or infinite).
pub fn amount_seconds(s: f64) -> String {
    if s >= f64::MAX {
        "no limit".into()
    } else {
        format!("{s:.1}")
    }
}

/// `5 of 2000 episodes`, or `5 episodes (no limit)` when the limit is unlimited.
pub fn used_of(used: u64, limit: u64, unit: &str) -> String {
    if limit == u64::MAX {
        format!("{used} {unit} (no limit)")
    } else {
        format!("{used} of {limit} {unit}")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BudgetError {
    /// The cost would take some dimension past its limit; nothing was charged.
    Exceeded { cost: Cost, remaining: Cost },
    /// Negative or non-finite seconds.
    InvalidCost(Cost),
}

impl std::fmt::Display for BudgetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetError::Exceeded { cost, remaining } => {
                let left = |n: String, unit: &str, long: &str| {
                    if n == "no limit" {
                        format!("no limit on {long}")
                    } else {
                        format!("{n} {unit}")
                    }
                };
                write!(
                    f,
                    "over budget: needs {} episodes, {} tokens, {:.1} s; left {}, {}, {}",
                    cost.episodes,
                    cost.tokens,
                    cost.seconds,
                    left(amount(remaining.episodes), "episodes", "episodes"),
                    left(amount(remaining.tokens), "tokens", "tokens"),
                    left(amount_seconds(remaining.seconds), "s", "seconds"),
                )
            }
            BudgetError::InvalidCost(c) => write!(f, "invalid cost: {} seconds", c.seconds),
        }
    }
}

impl std::error::Error for BudgetError {}

/// Hard limits and what has been spent. `used` never exceeds `limit`: a charge that would
/// is refused whole, so callers reserve an upper bound of a cost before spending it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub limit: Cost,
    pub used: Cost,
}

impl Budget {
    pub fn new(limit: Cost) -> Self {
        Budget {
            limit,
            used: Cost::default(),
        }
    }

    pub fn can_afford(&self, cost: &Cost) -> bool {
        cost.is_valid() && self.used.plus(cost).within(&self.limit)
    }

    /// Spend `cost`, or refuse (spending nothing) if it does not fit.
    pub fn charge(&mut self, cost: &Cost) -> Result<(), BudgetError> {
        if !cost.is_valid() {
            return Err(BudgetError::InvalidCost(*cost));
        }
        if !self.can_afford(cost) {
            return Err(BudgetError::Exceeded {
                cost: *cost,
                remaining: self.remaining(),
            });
        }
        self.used = self.used.plus(cost);
        Ok(())
    }

    /// What is left of each limit; an unlimited dimension (see [`amount`]) stays unlimited.
    pub fn remaining(&self) -> Cost {
        let left = |limit: u64, used: u64| {
            if limit == u64::MAX {
                u64::MAX
            } else {
                limit.saturating_sub(used)
            }
        };
        Cost {
            episodes: left(self.limit.episodes, self.used.episodes),
            tokens: left(self.limit.tokens, self.used.tokens),
            seconds: if self.limit.seconds >= f64::MAX {
                self.limit.seconds
            } else {
                (self.limit.seconds - self.used.seconds).max(0.0)
            },
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_json(path, self)
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        load_json(path)
    }
}

// ---------------------------------------------------------------------------------------
// ship and reject ledgers

/// Train scores of the parent and the candidate on the same (task, seed) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub parent: f64,
    pub candidate: f64,
}

/// One gate verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub round: u32,
    pub operator: String,
    pub class: FailureClass,
    pub candidate: String,
    /// Why it shipped ("sign test p = 0.02 ...") or was rejected ("seesaw: task 7 ...").
    pub reason: String,
    pub scores: Scores,
    pub p_value: Option<f64>,
    pub cost: Cost,
}

/// Ships and rejections of one operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitRate {
    pub shipped: u64,
    pub rejected: u64,
}

impl HitRate {
    pub fn tried(&self) -> u64 {
        self.shipped + self.rejected
    }
    /// Shipped over tried; 0 when never tried.
    pub fn rate(&self) -> f64 {
        match self.tried() {
            0 => 0.0,
            n => self.shipped as f64 / n as f64,
        }
    }
}

/// The ship and reject ledgers, in the order verdicts were made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledgers {
    pub ships: Vec<LedgerEntry>,
    pub rejects: Vec<LedgerEntry>,
}

impl Ledgers {
    pub fn ship(&mut self, e: LedgerEntry) {
        self.ships.push(e);
    }

    pub fn reject(&mut self, e: LedgerEntry) {
        self.rejects.push(e);
    }

    /// Per operator, sorted by operator id.
    pub fn hit_rates(&self) -> BTreeMap<String, HitRate> {
        let mut m: BTreeMap<String, HitRate> = BTreeMap::new();
        for e in &self.ships {
            m.entry(e.operator.clone()).or_default().shipped += 1;
        }
        for e in &self.rejects {
            m.entry(e.operator.clone()).or_default().rejected += 1;
        }
        m
    }

    /// The rejections of `round`, with their reasons (kept for the report).
    pub fn rejects_in(&self, round: u32) -> impl Iterator<Item = &LedgerEntry> {
        self.rejects.iter().filter(move |e| e.round == round)
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_json(path, self)
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        load_json(path)
    }

    /// The ledgers at `path`, or empty ones if there is no file yet.
    pub fn load_or_default(path: &Path) -> std::io::Result<Self> {
        match load_json(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledgers::default()),
            other => other,
        }
    }
}
