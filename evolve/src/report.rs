//! `harnessx report DIR`: `report.md` with SVG plots (train success per round, tokens and
//! budget per round, failure classes before and after), the shipped changes, the
//! rejections with their reasons, the Pareto front and train vs held-out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::emit::{lineage, write_text};
use crate::ledger::used_of;
use crate::manifest::FailureClass;
use crate::svg::{bar_chart, line_chart};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report's plots, `(file name, SVG)`: train success per round, parent tokens per
/// episode, episodes spent, failure classes in the first and last round. `harnessx review`
/// shows the same plots.
pub fn plots(cp: &Checkpoint, simulated: bool) -> Vec<(&'static str, String)> {
    let sim = if simulated { " (simulated)" } else { "" };
    let score: Vec<(f64, f64)> = cp
        .rounds
        .iter()
        .map(|r| (f64::from(r.round), r.parent_train))
        .collect();
    let best_cand: Vec<(f64, f64)> = cp
        .rounds
        .iter()
        .filter_map(|r| {
            let b = r
                .candidates
                .iter()
                .filter_map(|c| c.train_success)
                .fold(f64::NAN, f64::max);
            b.is_finite().then_some((f64::from(r.round), b))
        })
        .collect();
    let mut out = Vec::new();
    out.push((
        "score.svg",
        line_chart(
            &format!("Train success per round{sim}"),
            "round",
            "success rate",
            &[("parent", score), ("best candidate", best_cand)],
            Some(1.0),
        ),
    ));
    let tokens: Vec<(f64, f64)> = cp
        .rounds
        .iter()
        .map(|r| (f64::from(r.round), r.parent_tokens))
        .collect();
    let used: Vec<(f64, f64)> = cp
        .rounds
        .iter()
        .map(|r| (f64::from(r.round), r.used.episodes as f64))
        .collect();
    out.push((
        "tokens.svg",
        line_chart(
            &format!("Parent tokens per episode{sim}"),
            "round",
            "tokens",
            &[("tokens/episode", tokens)],
            None,
        ),
    ));
    out.push((
        "cost.svg",
        line_chart(
            "Episodes spent (cumulative)",
            "round",
            "episodes",
            &[("episodes used", used)],
            None,
        ),
    ));
    let (first, last) = (cp.rounds.first(), cp.rounds.last());
    let classes: Vec<FailureClass> = FailureClass::ALL
        .into_iter()
        .filter(|c| cp.rounds.iter().any(|r| r.classes.contains_key(c)))
        .collect();
    let count = |r: Option<&crate::checkpoint::RoundRecord>, c: &FailureClass| {
        r.and_then(|r| r.classes.get(c)).copied().unwrap_or(0) as f64
    };
    out.push((
        "classes.svg",
        bar_chart(
            &format!("Failed train episodes by class{sim}"),
            "episodes",
            &classes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            &[
                (
                    "first round",
                    classes.iter().map(|c| count(first, c)).collect(),
                ),
                (
                    "last round",
                    classes.iter().map(|c| count(last, c)).collect(),
                ),
            ],
        ),
    ));

    out
}

/// Writes `report.md` and its SVG files into `dir`; returns the report's path.
pub fn write_report(dir: &Path) -> Result<PathBuf, String> {
    let cp = Checkpoint::load(dir)?;
    let simulated = cp.config.model_spec().is_ok_and(|m| m.is_simulated());
    let sim = if simulated { " (simulated)" } else { "" };
    for (name, svg) in plots(&cp, simulated) {
        write_text(dir, name, &svg)?;
    }

    let mut s = String::new();
    let c = &cp.config;
    let _ = writeln!(s, "# Evolution report: {}{sim}\n", c.file);
    if simulated {
        let _ = writeln!(
            s,
            "> Every number here comes from the **simulated** model `{}`, not a real one.\n",
            c.model
        );
    }
    let _ = writeln!(s, "env `{}`, model `{}`, seed {}, {} round(s) of at most {}, K = {}, {} train tasks x {} seeds, alpha {} ({:?} test)\n",
        c.env, c.model, c.seed, cp.rounds.len(), c.rounds, c.k, c.train_tasks, c.seeds_per_task, c.gate.alpha, c.gate.test);
    if let Some(why) = &cp.stopped {
        let _ = writeln!(s, "Stopped early: {}\n", cell(why));
    }
    if let Some(f) = &cp.final_result {
        let _ = writeln!(s, "## Train vs held-out{sim}\n\n| harness | train | held-out | held-out tokens/episode |\n|---|---|---|---|");
        let _ = writeln!(
            s,
            "| seed | {:.3} | {:.3} | {:.0} |",
            f.seed_train, f.seed_held_out, f.seed_held_out_tokens
        );
        let _ = writeln!(
            s,
            "| best ({}) | {:.3} | {:.3} | {:.0} |\n",
            f.best_id, f.best_train, f.best_held_out, f.best_held_out_tokens
        );
        let _ = writeln!(
            s,
            "Held-out: {} tasks, {}.\n",
            f.held_out_tasks, f.held_out_split
        );
    }
    let u = cp.budget.used;
    let _ = writeln!(
        s,
        "Budget used: {}, {} tokens.\n",
        used_of(u.episodes, c.budget.episodes, "episodes"),
        u.tokens
    );
    let _ = writeln!(s, "![score](score.svg)\n\n![cost](cost.svg)\n\n![tokens](tokens.svg)\n\n![classes](classes.svg)\n");
    let _ = writeln!(s, "## Rounds\n\n| round | parent | train | candidate | operator | class | cand. train | p | verdict |\n|---|---|---|---|---|---|---|---|---|");
    for r in &cp.rounds {
        for cand in &r.candidates {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {} | {} | {} | {} | {} | {} |",
                r.round,
                r.parent_id,
                r.parent_train,
                cand.id,
                cand.operator,
                cand.class,
                cand.train_success.map_or("-".into(), |v| format!("{v:.3}")),
                cand.p_value.map_or("-".into(), |v| format!("{v:.4}")),
                if cand.shipped {
                    format!("**shipped**: {}", cell(&cand.reason))
                } else {
                    cell(&cand.reason)
                }
            );
        }
        if let Some(why) = &r.stopped {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | - | - | - | - | - | stopped: {} |",
                r.round,
                r.parent_id,
                r.parent_train,
                cell(why)
            );
        }
    }
    let lin = lineage(&cp, simulated);
    let _ = writeln!(s, "\n## Pareto front (train success vs tokens per episode)\n\n| harness | train | tokens/episode |\n|---|---|---|");
    for id in &lin.pareto {
        if let Some(n) = lin.nodes.iter().find(|n| &n.id == id) {
            let _ = writeln!(
                s,
                "| {} | {:.3} | {:.0} |",
                n.id,
                n.train_success.unwrap_or(0.0),
                n.mean_tokens.unwrap_or(0.0)
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Operator hit rates\n\n| operator | shipped | rejected |\n|---|---|---|"
    );
    for (op, h) in cp.ledgers.hit_rates() {
        let _ = writeln!(s, "| {op} | {} | {} |", h.shipped, h.rejected);
    }
    let diff = std::fs::read_to_string(dir.join("best.diff")).unwrap_or_default();
    if !diff.is_empty() {
        let _ = writeln!(s, "\n## Seed to best\n\n```diff\n{}```", diff);
    }
    write_text(dir, "report.md", &s)?;
    Ok(dir.join("report.md"))
}
