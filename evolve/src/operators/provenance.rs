//! Provenance comments: after the gate ships a candidate, each changed item gets a leading
//! comment saying which round, operator and failure class changed it and what the train
//! score did, e.g.
//!
//! ```text
//! # evolved r3: insert_rule for malformed_call (12 episodes), train 0.40 -> 0.62, p = 0.008
//! ```
//!
//! A candidate of the open-ended proposer also carries the model's one-line rationale, on
//! the line below: `# proposer: keep taken actions out of the prompt's list`.
//!
//! A newer comment replaces an older `# evolved` one on the same item (and a newer
//! rationale an older one), so a file evolved for many rounds carries one line per item,
//! not a pile. A removed rule has no item left;
//! its note goes to the end of the harness body instead (again replacing an older one).

use harnessx_syntax::File;

use super::node;
use crate::manifest::{ChangeKind, Manifest};

const MARK: &str = "evolved r";
const RATIONALE: &str = "proposer: ";

fn is_provenance(comment: &str) -> bool {
    comment.trim_start().starts_with(MARK)
}

fn is_rationale(comment: &str) -> bool {
    comment.trim_start().starts_with(RATIONALE)
}

/// The rationale comment (after `#`): one line of printable text, at most 200 characters.
pub fn rationale_line(rationale: &str) -> String {
    let one: String = rationale
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!(" {RATIONALE}{one}")
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// The comment text (after `#`) for one manifest.
pub fn provenance_line(
    manifest: &Manifest,
    round: u32,
    score_before: f64,
    score_after: f64,
    p_value: f64,
) -> String {
    let n = manifest.evidence.len();
    let episodes = if n == 1 { "episode" } else { "episodes" };
    format!(
        " {MARK}{round}: {} for {} ({n} {episodes}), train {score_before:.2} -> {score_after:.2}, {}",
        manifest.operator,
        manifest.class,
        p_text(p_value)
    )
}

/// Adds (or replaces) the provenance comment of every item the manifest changed.
pub fn annotate(
    file: &mut File,
    manifest: &Manifest,
    round: u32,
    score_before: f64,
    score_after: f64,
    p_value: f64,
) {
    let line = provenance_line(manifest, round, score_before, score_after, p_value);
    let Some(h) = file.harness.as_mut() else {
        return;
    };
    let indices: Vec<usize> = manifest
        .changed_paths
        .iter()
        .filter_map(|p| node::item_index(h, p))
        .collect();
    let why = manifest.rationale.as_deref().map(rationale_line);
    for i in indices {
        let leading = &mut h.items[i].comments_mut().leading;
        // The item's older rationale belonged to its older provenance line.
        leading.retain(|c| !is_rationale(c));
        let at = match leading.iter().position(|c| is_provenance(c)) {
            Some(k) => {
                leading[k] = line.clone();
                k
            }
            None => {
                leading.push(line.clone());
                leading.len() - 1
            }
        };
        if let Some(w) = &why {
            leading.insert(at + 1, w.clone());
        }
    }
    let removed: Vec<&str> = manifest
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Removed && !c.path.contains('.'))
        .map(|c| c.path.as_str())
        .collect();
    if !removed.is_empty() {
        h.dangling.retain(|c| !is_provenance(c));
        h.dangling
            .push(format!("{line}; {}", manifest.summary.replace('\n', " ")));
    }
}
