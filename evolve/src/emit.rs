//! Emit: what a shipped candidate leaves on disk — its source through the canonical
//! printer with provenance comments, a unified diff against its parent, the lineage of
//! every evaluated harness with the Pareto front (success vs tokens) — all written
//! atomically.

use crate::error::OutputError;
use std::path::Path;

use harnessx_syntax::print;
use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::checkpoint::Checkpoint;
use harnessx_runtime::fsutil::write_atomic;

use crate::ledger::save_json;
use crate::manifest::FailureClass;
use crate::operators::{annotate, Candidate};

/// The shipped candidate's source: its tree with a provenance comment on each changed
/// item, printed canonically.
pub fn shipped_source(cand: &Candidate, round: u32, before: f64, after: f64, p: f64) -> String {
    let mut file = cand.file.clone();
    annotate(&mut file, &cand.manifest, round, before, after, p);
    print(&file)
}

/// A unified diff (3 lines of context) from `old` to `new`.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// Writes `text` to `dir/name` atomically, creating `dir`.
pub fn write_text(dir: &Path, name: &str, text: &str) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|e| OutputError(format!("`{}`: {e}", dir.display())))?;
    let path = dir.join(name);
    write_atomic(&path, text.as_bytes())
        .map_err(|e| OutputError(format!("`{}`: {e}", path.display())))
}

/// One harness in the lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub parent: Option<String>,
    pub round: u32,
    pub operator: Option<String>,
    pub class: Option<FailureClass>,
    pub summary: String,
    pub train_success: Option<f64>,
    pub mean_tokens: Option<f64>,
    pub p_value: Option<f64>,
    pub shipped: bool,
    pub reason: String,
}

/// `lineage.json`: every harness the run made, which shipped, the Pareto front of the
/// evaluated ones (higher train success, fewer tokens per episode) and the best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub simulated: bool,
    pub nodes: Vec<Node>,
    /// Ids on the Pareto front, by train success descending.
    pub pareto: Vec<String>,
    /// The current parent: the last shipped harness (or the seed).
    pub best: String,
}

pub fn lineage(cp: &Checkpoint, simulated: bool) -> Lineage {
    let mut nodes = vec![Node {
        id: "seed".into(),
        parent: None,
        round: 0,
        operator: None,
        class: None,
        summary: format!("the seed harness ({})", cp.config.file),
        train_success: cp.rounds.first().map(|r| r.parent_train),
        mean_tokens: cp.rounds.first().map(|r| r.parent_tokens),
        p_value: None,
        shipped: true,
        reason: "seed".into(),
    }];
    for r in &cp.rounds {
        for c in &r.candidates {
            nodes.push(Node {
                id: c.id.clone(),
                parent: Some(r.parent_id.clone()),
                round: r.round,
                operator: Some(c.operator.clone()),
                class: Some(c.class),
                summary: c.summary.clone(),
                train_success: c.train_success,
                mean_tokens: c.mean_tokens,
                p_value: c.p_value,
                shipped: c.shipped,
                reason: c.reason.clone(),
            });
        }
    }
    Lineage {
        simulated,
        pareto: pareto(&nodes),
        nodes,
        best: cp.parent_id.clone(),
    }
}

/// The evaluated nodes no other evaluated node beats on both success (higher) and tokens
/// (lower), best success first.
fn pareto(nodes: &[Node]) -> Vec<String> {
    let pts: Vec<(&str, f64, f64)> = nodes
        .iter()
        .filter_map(|n| Some((n.id.as_str(), n.train_success?, n.mean_tokens?)))
        .collect();
    let mut front: Vec<(&str, f64, f64)> = pts
        .iter()
        .copied()
        .filter(|&(_, s, t)| {
            !pts.iter()
                .any(|&(_, s2, t2)| s2 >= s && t2 <= t && (s2 > s || t2 < t))
        })
        .collect();
    front.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.total_cmp(&b.2)));
    front.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    front.into_iter().map(|(id, _, _)| id.to_string()).collect()
}

pub fn save_lineage(dir: &Path, l: &Lineage) -> Result<(), OutputError> {
    let path = dir.join("lineage.json");
    save_json(&path, l).map_err(|e| OutputError(format!("`{}`: {e}", path.display())))
}
