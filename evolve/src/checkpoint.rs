//! The run's whole state after each round, in one JSON file written atomically
//! (`checkpoint.json`), plus the settings it was started with. `harnessx resume` reads it
//! and carries on; because every random choice derives from the run seed and the round,
//! and evaluation is deterministic, a resumed run ends with exactly the harness an
//! uninterrupted one would have.

use crate::error::OutputError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harnessx_runtime::fsutil::write_atomic_durable;
use serde::{Deserialize, Serialize};

use crate::digest::{Evidence, FailureCatalog};
use crate::fragments::Phrasing;
use crate::gate::GateConfig;
use crate::ledger::{load_json, Budget, Cost, Ledgers};
use crate::manifest::{FailureClass, Manifest};
use crate::planner::Bandit;
use crate::proposer::{ProposerConfig, ProposerStats};

/// Bumped whenever the file's meaning changes; older files are refused with a message.
pub const VERSION: u32 = 1;
pub const FILE: &str = "checkpoint.json";

/// Everything a run was asked to do. Persisted, so `resume` needs only the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Where the seed harness came from (for names and reports only).
    pub file: String,
    /// The seed harness's text as read.
    pub seed_source: String,
    pub env: String,
    /// The model spec as given; [`Config::model_spec`] parses it.
    pub model: String,
    pub rounds: u32,
    /// Candidates per round.
    pub k: usize,
    pub seed: u64,
    /// Train tasks per evaluation and seeds per task: the fixed (task, seed) pairs.
    pub train_tasks: u64,
    pub seeds_per_task: u64,
    /// Held-out tasks for the final evaluation (one seed each).
    pub held_out_tasks: u64,
    /// Where the final held-out evaluation runs, when not in `env`: an environment whose
    /// task numbers repeat (a bridge playing game `T mod N`) has no unseen tasks, so its
    /// held-out games must come from elsewhere (e.g. the bridge on another fold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_env: Option<String>,
    pub budget: Cost,
    pub gate: GateConfig,
    /// A failure class needs this many failed episodes in a round to be acted on.
    pub min_class_episodes: u64,
    /// The planner's exploration rate.
    pub epsilon: f64,
    /// The open-ended proposer (`--proposer`), which then fills one of the K slots of
    /// every round. Kept here so `resume` asks the same model: with a `cache:` spec the
    /// replies already given are served from the cache. Absent in older checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<ProposerConfig>,
    /// The wording of the messages the operators insert: the library's, or its
    /// paraphrases (the benchmark's ablation). Absent means the library's.
    #[serde(default, skip_serializing_if = "Phrasing::is_library")]
    pub phrasing: Phrasing,
}

/// One evaluated candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub id: String,
    pub operator: String,
    pub class: FailureClass,
    pub summary: String,
    /// `None` when it never reached evaluation (rejected earlier).
    pub train_success: Option<f64>,
    pub mean_tokens: Option<f64>,
    pub p_value: Option<f64>,
    pub shipped: bool,
    pub reason: String,
    pub manifest: Option<Manifest>,
    /// Train episodes its verdict cost: smoke run and paired evaluation (0 in checkpoints
    /// written before this was recorded).
    #[serde(default)]
    pub episodes: u64,
    /// Train pairs of the paired evaluation it ran on: all of them, or fewer when the
    /// racing gate dropped it; `None` when it never reached that evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<u64>,
}

/// What happened in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: u32,
    pub parent_id: String,
    pub parent_train: f64,
    pub parent_tokens: f64,
    /// The parent's failed train episodes by class, this round.
    pub classes: BTreeMap<FailureClass, u64>,
    /// This round's evidence per class (the digester's excerpts; each names its trace file
    /// under `traces/` when the run keeps traces). Absent in older checkpoints.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evidence: BTreeMap<FailureClass, Vec<Evidence>>,
    pub candidates: Vec<CandidateRecord>,
    pub shipped: Option<String>,
    /// Budget used at the end of the round.
    pub used: Cost,
    /// Cargo time of the generation's batched build, when done.
    pub build_seconds: Option<f64>,
    pub stopped: Option<String>,
}

/// The held-out evaluation at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Final {
    pub best_id: String,
    pub seed_train: f64,
    pub best_train: f64,
    pub seed_held_out: f64,
    pub best_held_out: f64,
    pub seed_held_out_tokens: f64,
    pub best_held_out_tokens: f64,
    pub held_out_tasks: u64,
    /// Which tasks: the environment's locked split, or a note that it has none.
    pub held_out_split: String,
}

/// The state after the last completed round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub config: Config,
    /// The round to run next (1-based); `rounds + 1` or a stop reason means done.
    pub next_round: u32,
    pub parent_id: String,
    /// The current parent's canonical source, provenance comments included.
    pub parent_source: String,
    pub catalog: FailureCatalog,
    pub bandit: Bandit,
    pub ledgers: Ledgers,
    pub budget: Budget,
    pub rounds: Vec<RoundRecord>,
    pub stopped: Option<String>,
    pub final_result: Option<Final>,
    /// What the proposer did so far (zero without one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub proposer_stats: ProposerStats,
}

fn is_zero(s: &ProposerStats) -> bool {
    *s == ProposerStats::default()
}

impl Checkpoint {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Writes the checkpoint atomically and durably: a temporary file, flushed, renamed
    /// over `checkpoint.json`, then the directory flushed. A run killed or out of disk
    /// space at any instant leaves the previous checkpoint whole (and at most a stale
    /// temporary file, removed by the next start or resume).
    pub fn save(&self, dir: &Path) -> Result<(), OutputError> {
        let path = Self::path(dir);
        let cannot = |e: &dyn std::fmt::Display| {
            OutputError(format!("`{}`: cannot write: {e}", path.display()))
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| cannot(&e))?;
        text.push('\n');
        write_atomic_durable(&path, text.as_bytes()).map_err(|e| cannot(&e))
    }

    /// The checkpoint in `dir`, or a clear reason why there is none usable.
    pub fn load(dir: &Path) -> Result<Checkpoint, String> {
        let path = Self::path(dir);
        let cp: Checkpoint = load_json(&path).map_err(|e| match e.kind() {
            // `seed.harness` is written before the seed's evaluation, the checkpoint after.
            std::io::ErrorKind::NotFound if dir.join("seed.harness").is_file() => format!(
                "`{}`: no checkpoint yet: the run was stopped while evaluating the seed \
                 harness, before its first checkpoint; start it again with `harnessx evolve \
                 ... --out {}`",
                path.display(),
                dir.display()
            ),
            std::io::ErrorKind::NotFound => format!(
                "`{}`: no checkpoint here; is this the --out directory of `harnessx evolve`?",
                path.display()
            ),
            std::io::ErrorKind::InvalidData => {
                format!("`{}`: corrupt checkpoint: {e}", path.display())
            }
            _ => format!("`{}`: {e}", path.display()),
        })?;
        if cp.version != VERSION {
            return Err(format!(
                "`{}`: checkpoint version {} (this harnessx reads version {VERSION})",
                path.display(),
                cp.version
            ));
        }
        Ok(cp)
    }

    pub fn done(&self) -> bool {
        self.stopped.is_some() || self.next_round > self.config.rounds
    }
}
