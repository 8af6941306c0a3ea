//! The lineage as a tree: the seed at the root, each round's candidates under the parent
//! they were made from, the shipped one carrying the next round's candidates. Every node
//! says its operator, target failure class, train success before → after, p-value and the
//! gate's reason.

use std::collections::BTreeMap;

use crate::checkpoint::Checkpoint;
use crate::emit::{Lineage, Node};

use super::html::{esc, p_value, rate};

/// What a node's card needs beyond the lineage node itself.
struct Extra {
    /// The parent's train success when the candidate was judged.
    before: Option<f64>,
    /// Pairs of the paired evaluation it ran on, and of the whole train set.
    pairs: Option<u64>,
}

fn status(n: &Node) -> (&'static str, &'static str) {
    if n.parent.is_none() {
        ("seed", "seed")
    } else if n.shipped {
        ("shipped", "shipped")
    } else if n.reason.starts_with("passed the gate") {
        ("passed", "passed, not shipped")
    } else if n.p_value.is_none() && n.train_success.is_none() && !n.reason.starts_with("dropped") {
        ("unevaluated", "rejected before evaluation")
    } else {
        ("rejected", "rejected")
    }
}

fn card(n: &Node, x: &Extra, train_pairs: u64) -> String {
    let (class, label) = status(n);
    let mut s = format!(
        "<div class=\"card\" tabindex=\"0\" aria-label=\"{} {}\"><div class=\"head\"><span class=\"id\">{}</span><span class=\"badge {class}\">{label}</span>",
        esc(&n.id),
        esc(label),
        esc(&n.id)
    );
    if n.parent.is_some() {
        s.push_str(&format!(
            "<span>round {} · <code>{}</code> for <code>{}</code></span>",
            n.round,
            esc(n.operator.as_deref().unwrap_or("?")),
            esc(&n.class.map(|c| c.to_string()).unwrap_or_default())
        ));
        let after = match (n.train_success, x.pairs) {
            (Some(v), _) => format!("{v:.3}"),
            (None, Some(p)) => format!("– (dropped after {p} of {train_pairs} pairs)"),
            (None, None) => "– (not evaluated)".into(),
        };
        s.push_str(&format!(
            "<span>train {} → {}</span><span>{}</span>",
            rate(x.before),
            after,
            esc(&p_value(n.p_value))
        ));
        if n.shipped {
            s.push_str(&format!("<a href=\"#ship-{}\">the change</a>", esc(&n.id)));
        }
    } else {
        s.push_str(&format!("<span>train {}</span>", rate(n.train_success)));
    }
    s.push_str("</div>");
    if !n.summary.is_empty() {
        s.push_str(&format!("<div>{}</div>", esc(&n.summary)));
    }
    if n.parent.is_some() {
        s.push_str(&format!(
            "<div class=\"reason\"><strong>gate:</strong> {}</div>",
            esc(&n.reason)
        ));
    }
    s.push_str("</div>");
    s
}

/// The tree, as nested lists; every node is one `li.node`.
pub fn tree(cp: &Checkpoint, lin: &Lineage) -> String {
    let mut extra: BTreeMap<&str, Extra> = BTreeMap::new();
    for r in &cp.rounds {
        for c in &r.candidates {
            extra.insert(
                &c.id,
                Extra {
                    before: Some(r.parent_train),
                    pairs: c.pairs,
                },
            );
        }
    }
    let mut children: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    for n in &lin.nodes {
        if let Some(p) = &n.parent {
            children.entry(p.as_str()).or_default().push(n);
        }
    }
    // A round's rejected candidates first, then the shipped one, whose subtree holds the
    // later rounds: the tree then reads in the order things happened.
    for kids in children.values_mut() {
        kids.sort_by_key(|n| (n.round, n.shipped));
    }
    let train_pairs = cp.config.train_tasks * cp.config.seeds_per_task;
    let mut s = String::from("<ul class=\"tree\" id=\"lineage-tree\">");
    for root in lin.nodes.iter().filter(|n| n.parent.is_none()) {
        node(root, &children, &extra, train_pairs, &mut s, 0);
    }
    s.push_str("</ul>");
    s
}

fn node(
    n: &Node,
    children: &BTreeMap<&str, Vec<&Node>>,
    extra: &BTreeMap<&str, Extra>,
    train_pairs: u64,
    s: &mut String,
    depth: usize,
) {
    let (class, _) = status(n);
    let none = Extra {
        before: None,
        pairs: None,
    };
    let x = extra.get(n.id.as_str()).unwrap_or(&none);
    s.push_str(&format!(
        "<li class=\"node {class}\" id=\"node-{}\" data-id=\"{}\">",
        esc(&n.id),
        esc(&n.id)
    ));
    s.push_str(&card(n, x, train_pairs));
    // A lineage is a chain of ships; the depth bound only guards against a malformed
    // checkpoint whose parents form a cycle.
    if let Some(kids) = children.get(n.id.as_str()).filter(|_| depth < 10_000) {
        s.push_str("<ul>");
        for k in kids {
            node(k, children, extra, train_pairs, s, depth + 1);
        }
        s.push_str("</ul>");
    }
    s.push_str("</li>");
}
