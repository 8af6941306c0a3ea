//! `harnessx review DIR`: a static review site for an evolution run, written to
//! `DIR/review/` (docs/REVIEW.md). HTML, CSS and inline SVG only, no network and no build
//! step: `index.html` holds the run's facts, the lineage tree, every shipped change as a
//! DSL diff with its provenance comment, the failure catalog of each round with the
//! digester's excerpts, seed vs best on held-out, and the report's plots;
//! `episodes/*.html` step through the episodes the excerpts and the held-out comparison
//! link to.

pub mod episode;
pub mod html;
pub mod lineage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harnessx_runtime::trace::{EventKind, TraceEvent};

use crate::checkpoint::{Checkpoint, RoundRecord};
use crate::digest::{read_trace, Evidence};
use crate::emit::{lineage, write_text};
use crate::gate::static_check;
use crate::ledger::used_of;
use crate::report::plots;
use crate::secrets::Secrets;
use crate::stats::sign_test;
use crate::traces::{self, Split};
use episode::{episode_page, EpisodeInfo};
use html::{diff, esc, page, simulated_banner};

/// The directory under the run directory.
pub const DIR: &str = "review";

/// What `write_review` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub index: PathBuf,
    /// Episode pages written.
    pub episodes: usize,
    /// Variables whose values were found in the pages and redacted.
    pub redacted: Vec<String>,
}

/// `traces/r1c0/train/episode-0005-s9.jsonl` → `episodes/r1c0-train-episode-0005-s9.html`.
pub fn episode_page_name(trace: &str) -> Option<String> {
    if !traces::is_episode_path(trace) {
        return None;
    }
    let rest = trace.strip_prefix("traces/")?.strip_suffix(".jsonl")?;
    Some(format!("episodes/{}.html", rest.replace('/', "-")))
}

/// An episode page to write: its trace and the steps the evidence points at.
type Pages = BTreeMap<String, Vec<u32>>;

/// The success of each kept held-out episode of `id`, by (task, seed).
fn held_out_outcomes(dir: &Path, id: &str) -> BTreeMap<(u64, u64), (bool, String)> {
    let mut out = BTreeMap::new();
    for k in traces::list(dir).unwrap_or_default() {
        if k.harness != id || k.split != Split::HeldOut {
            continue;
        }
        let Ok(file) = read_trace(&dir.join(&k.path)) else {
            continue;
        };
        for ep in &file.episodes {
            if let Some((task, seed, success)) = outcome(ep) {
                out.insert((task, seed), (success, k.path.clone()));
            }
        }
    }
    out
}

fn outcome(events: &[TraceEvent]) -> Option<(u64, u64, bool)> {
    let (task, seed) = events.iter().find_map(|e| match &e.kind {
        EventKind::EpisodeStart { task, seed, .. } => Some((*task, *seed)),
        _ => None,
    })?;
    let success = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::EpisodeEnd { success, .. } => Some(*success),
        _ => None,
    })?;
    Some((task, seed, success))
}

fn link_episode(
    dir: &Path,
    trace: Option<&str>,
    step: Option<u32>,
    label: &str,
    pages: &mut Pages,
) -> String {
    let Some(trace) = trace.filter(|t| dir.join(t).is_file()) else {
        return String::new();
    };
    let Some(name) = episode_page_name(trace) else {
        return String::new();
    };
    let steps = pages.entry(trace.to_string()).or_default();
    if let Some(s) = step {
        if !steps.contains(&s) {
            steps.push(s);
        }
    }
    let anchor = step.map(|s| format!("#step-{s}")).unwrap_or_default();
    format!(
        "<a class=\"episode-link\" href=\"{}{anchor}\">{}</a>",
        esc(&name),
        esc(label)
    )
}

fn facts(cp: &Checkpoint) -> String {
    let c = &cp.config;
    let mut s = format!(
        "<p class=\"facts\">seed harness <code>{}</code> · environment <code>{}</code>{} · model <code>{}</code> · run seed {} · {} round(s) of at most {} · K = {} · {} train tasks × {} seeds · gate: {} {} test, alpha {}</p>",
        esc(&c.file),
        esc(&c.env),
        c.held_out_env
            .as_deref()
            .map(|e| format!(" (held-out in <code>{}</code>)", esc(e)))
            .unwrap_or_default(),
        esc(&c.model),
        c.seed,
        cp.rounds.len(),
        c.rounds,
        c.k,
        c.train_tasks,
        c.seeds_per_task,
        esc(c.gate.mode.name()),
        match c.gate.test {
            crate::gate::Test::Sign => "sign",
            crate::gate::Test::Bootstrap => "bootstrap",
        },
        c.gate.alpha
    );
    s.push_str(&format!(
        "<p class=\"facts\">budget used: {}, {} tokens{}</p>",
        esc(&used_of(
            cp.budget.used.episodes,
            c.budget.episodes,
            "episodes"
        )),
        cp.budget.used.tokens,
        cp.stopped
            .as_deref()
            .map(|w| format!(" · stopped early: {}", esc(w)))
            .unwrap_or_default()
    ));
    s
}

fn shipped_changes(dir: &Path, cp: &Checkpoint) -> String {
    let mut s = String::new();
    let ships: Vec<(&RoundRecord, &crate::checkpoint::CandidateRecord)> = cp
        .rounds
        .iter()
        .flat_map(|r| {
            r.candidates
                .iter()
                .filter(|c| c.shipped)
                .map(move |c| (r, c))
        })
        .collect();
    if ships.is_empty() {
        s.push_str("<p>Nothing shipped: the best harness is the seed.</p>");
        return s;
    }
    for (r, c) in ships {
        s.push_str(&format!(
            "<section class=\"ship\" id=\"ship-{}\" aria-labelledby=\"ship-h-{}\"><h3 id=\"ship-h-{}\">Round {}: <code>{}</code> — {} for {}, {} → {}</h3>",
            esc(&c.id),
            esc(&c.id),
            esc(&c.id),
            r.round,
            esc(&c.id),
            esc(&c.operator),
            esc(&c.class.to_string()),
            esc(&r.parent_id),
            esc(&c.id)
        ));
        s.push_str(&format!(
            "<p>{}</p><p class=\"muted\">gate: {}</p>",
            esc(&c.summary),
            esc(&c.reason)
        ));
        if let Some(rationale) = c.manifest.as_ref().and_then(|m| m.rationale.as_deref()) {
            s.push_str(&format!("<p>proposer's rationale: {}</p>", esc(rationale)));
        }
        let path = dir.join(format!("round-{:03}", r.round)).join("diff.patch");
        match std::fs::read_to_string(&path) {
            Ok(d) => s.push_str(&diff(&d)),
            Err(e) => s.push_str(&format!(
                "<p class=\"muted\">round-{:03}/diff.patch: {}</p>",
                r.round,
                esc(&e.to_string())
            )),
        }
        s.push_str("</section>");
    }
    if let Ok(d) = std::fs::read_to_string(dir.join("best.diff")) {
        if !d.is_empty() {
            s.push_str("<h3 id=\"seed-to-best\">Seed → best, all changes</h3>");
            s.push_str(&diff(&d));
        }
    }
    s
}

fn evidence_item(dir: &Path, ev: &Evidence, pages: &mut Pages) -> String {
    let link = link_episode(
        dir,
        ev.trace.as_deref(),
        Some(ev.step),
        "open the episode",
        pages,
    );
    format!(
        "<li>task {} · seed {} · step {}: {} — <code>{}</code> {}</li>",
        ev.task,
        ev.seed,
        ev.step,
        esc(&ev.note),
        esc(&ev.excerpt),
        link
    )
}

fn catalog(dir: &Path, cp: &Checkpoint, pages: &mut Pages) -> String {
    let mut s = String::new();
    let pairs = cp.config.train_tasks * cp.config.seeds_per_task;
    let mut previous: Option<&RoundRecord> = None;
    for r in &cp.rounds {
        let failed: u64 = r.classes.values().sum();
        s.push_str(&format!(
            "<section class=\"round-catalog\" id=\"catalog-r{}\"><h3>Round {} — parent <code>{}</code>: {failed} of {pairs} train episodes failed</h3>",
            r.round,
            r.round,
            esc(&r.parent_id)
        ));
        if r.classes.is_empty() {
            s.push_str("<p>No failed episode.</p></section>");
            previous = Some(r);
            continue;
        }
        s.push_str("<table><tr><th>class</th><th class=\"num\">episodes</th><th class=\"num\">share</th></tr>");
        let mut ranked: Vec<_> = r.classes.iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (class, n) in &ranked {
            s.push_str(&format!(
                "<tr><td><code>{}</code></td><td class=\"num\">{n}</td><td class=\"num\">{:.0}%</td></tr>",
                esc(&class.to_string()),
                100.0 * **n as f64 / failed.max(1) as f64
            ));
        }
        s.push_str("</table>");
        let same = previous.is_some_and(|p| p.parent_id == r.parent_id && p.evidence == r.evidence);
        if r.evidence.is_empty() {
            s.push_str("<p class=\"muted\">This run recorded no excerpts per round (a checkpoint written before they were kept).</p>");
        } else if let (true, Some(p)) = (same, previous) {
            s.push_str(&format!(
                "<p>The same parent and the same episodes as <a href=\"#catalog-r{}\">round {}</a>, so the same excerpts.</p>",
                p.round, p.round
            ));
        } else {
            for (class, _) in &ranked {
                let Some(evs) = r.evidence.get(class) else {
                    continue;
                };
                s.push_str(&format!(
                    "<h4><code>{}</code>: the digester's evidence</h4><ol class=\"excerpts\">",
                    esc(&class.to_string())
                ));
                for ev in evs {
                    s.push_str(&evidence_item(dir, ev, pages));
                }
                s.push_str("</ol>");
            }
        }
        s.push_str("</section>");
        previous = Some(r);
    }
    if cp.rounds.is_empty() {
        s.push_str("<p>No round has run yet.</p>");
    }
    s
}

fn held_out(dir: &Path, cp: &Checkpoint, pages: &mut Pages) -> String {
    let Some(f) = &cp.final_result else {
        return "<p>The run has not reached its held-out evaluation yet.</p>".into();
    };
    let mut s = format!(
        "<table><tr><th>harness</th><th class=\"num\">train</th><th class=\"num\">held-out</th><th class=\"num\">held-out tokens/episode</th></tr>\
         <tr><td>seed</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.0}</td></tr>\
         <tr><td>best (<code>{}</code>)</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.0}</td></tr></table>\
         <p>{} held-out tasks: {}.</p>",
        f.seed_train,
        f.seed_held_out,
        f.seed_held_out_tokens,
        esc(&f.best_id),
        f.best_train,
        f.best_held_out,
        f.best_held_out_tokens,
        f.held_out_tasks,
        esc(&f.held_out_split)
    );
    if f.best_id == "seed" {
        s.push_str("<p>The best harness is the seed: there is nothing to compare.</p>");
        return s;
    }
    let seed = held_out_outcomes(dir, "seed");
    let best = held_out_outcomes(dir, &f.best_id);
    if seed.is_empty() || best.is_empty() {
        s.push_str("<p class=\"muted\">The run kept no held-out traces, so the tasks where the two differ are not listed.</p>");
        return s;
    }
    let mut better = Vec::new();
    let mut worse = Vec::new();
    for (key, (s_ok, s_path)) in &seed {
        if let Some((b_ok, b_path)) = best.get(key) {
            if b_ok != s_ok {
                let item = (key.0, key.1, s_path.clone(), b_path.clone());
                if *b_ok {
                    better.push(item);
                } else {
                    worse.push(item);
                }
            }
        }
    }
    let p = sign_test(better.len() as u64, worse.len() as u64);
    s.push_str(&format!(
        "<p>On the same tasks and seeds, the best harness succeeded where the seed failed on <strong>{}</strong> and failed where the seed succeeded on <strong>{}</strong> (exact two-sided sign test, {}).</p>",
        better.len(),
        worse.len(),
        html::p_value(Some(p))
    ));
    for (title, id, items) in [
        ("Best succeeded, seed failed", "held-out-better", &better),
        ("Best failed, seed succeeded", "held-out-worse", &worse),
    ] {
        if items.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "<h3 id=\"{id}\">{title} ({})</h3><table><tr><th class=\"num\">task</th><th class=\"num\">seed</th><th>seed harness</th><th>best harness</th></tr>",
            items.len()
        ));
        for (task, seed_no, sp, bp) in items.iter() {
            s.push_str(&format!(
                "<tr><td class=\"num\">{task}</td><td class=\"num\">{seed_no}</td><td>{}</td><td>{}</td></tr>",
                link_episode(dir, Some(sp), None, if id == "held-out-better" { "seed's episode (failed)" } else { "seed's episode (succeeded)" }, pages),
                link_episode(dir, Some(bp), None, if id == "held-out-better" { "best's episode (succeeded)" } else { "best's episode (failed)" }, pages)
            ));
        }
        s.push_str("</table>");
    }
    s
}

fn plots_section(cp: &Checkpoint, simulated: bool) -> String {
    let mut s = String::from("<div class=\"plots\">");
    for (name, svg) in plots(cp, simulated) {
        // The SVG's own text is escaped by `crate::svg`; its XML prolog-free markup is
        // inline SVG as HTML allows it.
        s.push_str(&format!(
            "<figure aria-label=\"{}\">{svg}<figcaption class=\"muted\">{}</figcaption></figure>",
            esc(name),
            esc(name)
        ));
    }
    s.push_str("</div>");
    s
}

/// The variables whose values must not appear: by name, and those the run's harness and
/// model spec name as API-key variables.
fn secrets_of(cp: &Checkpoint) -> Secrets {
    let mut named = Vec::new();
    if let Ok(ir) = static_check(&cp.config.seed_source) {
        named.extend(ir.model.api_key_env);
    }
    if let Some(i) = cp.config.model.find("key_env=") {
        let name: String = cp.config.model[i + "key_env=".len()..]
            .chars()
            .take_while(|c| *c != '&')
            .collect();
        named.push(name);
    }
    Secrets::from_env(&named)
}

/// Writes the review site of the run in `dir` into `dir/review/`.
pub fn write_review(dir: &Path) -> Result<Written, String> {
    let cp = Checkpoint::load(dir)?;
    let simulated = cp.config.model_spec().is_ok_and(|m| m.is_simulated());
    let sim_model = simulated.then_some(cp.config.model.as_str());
    let lin = lineage(&cp, simulated);
    let mut pages = Pages::new();

    let mut b = String::from("<header class=\"top\">");
    b.push_str(&format!(
        "<h1>Evolution review: <code>{}</code></h1>",
        esc(&cp.config.file)
    ));
    if let Some(m) = sim_model {
        b.push_str(&simulated_banner(m));
    }
    b.push_str(&facts(&cp));
    if let Some(f) = &cp.final_result {
        b.push_str(&format!(
            "<p><strong>Held-out success: seed {:.3} → best {:.3}</strong> ({:+.1} points, {} tasks){}</p>",
            f.seed_held_out,
            f.best_held_out,
            100.0 * (f.best_held_out - f.seed_held_out),
            f.held_out_tasks,
            if simulated { ", simulated" } else { "" }
        ));
    }
    b.push_str("<nav class=\"skip\" aria-label=\"sections\"><a href=\"#lineage\">Lineage</a><a href=\"#shipped\">Shipped changes</a><a href=\"#catalog\">Failure catalog</a><a href=\"#held-out\">Seed vs best on held-out</a><a href=\"#plots\">Plots</a></nav></header><main>");
    b.push_str(&format!(
        "<section id=\"lineage\" aria-labelledby=\"lineage-h\"><h2 id=\"lineage-h\">Lineage: {} harnesses</h2><p class=\"muted\">Every candidate, shipped or rejected, under the parent it was made from. Tab moves through the nodes.</p>{}</section>",
        lin.nodes.len(),
        lineage::tree(&cp, &lin)
    ));
    b.push_str(&format!(
        "<section id=\"shipped\" aria-labelledby=\"shipped-h\"><h2 id=\"shipped-h\">Shipped changes</h2>{}</section>",
        shipped_changes(dir, &cp)
    ));
    let catalog_html = catalog(dir, &cp, &mut pages);
    b.push_str(&format!(
        "<section id=\"catalog\" aria-labelledby=\"catalog-h\"><h2 id=\"catalog-h\">Failure catalog per round</h2><p class=\"muted\">The parent's failed train episodes by class, with the digester's evidence; each excerpt opens its episode at the step it points at.</p>{catalog_html}</section>"
    ));
    let held_html = held_out(dir, &cp, &mut pages);
    b.push_str(&format!(
        "<section id=\"held-out\" aria-labelledby=\"held-out-h\"><h2 id=\"held-out-h\">Seed vs best on held-out</h2>{held_html}</section>"
    ));
    b.push_str(&format!(
        "<section id=\"plots\" aria-labelledby=\"plots-h\"><h2 id=\"plots-h\">Plots</h2><p class=\"muted\">The plots of <code>harnessx report</code>.</p>{}</section>",
        plots_section(&cp, simulated)
    ));
    b.push_str("</main>");
    let index = page(&format!("Evolution review: {}", cp.config.file), &b, false);

    let secrets = secrets_of(&cp);
    let mut redacted = Vec::new();
    let out = dir.join(DIR);
    let episodes_dir = out.join("episodes");
    // Generated pages only: a page of an episode no longer linked must not linger.
    if episodes_dir.is_dir() {
        std::fs::remove_dir_all(&episodes_dir)
            .map_err(|e| format!("`{}`: {e}", episodes_dir.display()))?;
    }
    let mut written = 0;
    let ids: BTreeMap<String, String> = traces::list(dir)?
        .into_iter()
        .map(|k| (k.path.clone(), k.harness))
        .collect();
    for (trace, steps) in &pages {
        let Some(name) = episode_page_name(trace) else {
            continue;
        };
        let file = read_trace(&dir.join(trace)).map_err(|e| format!("`{trace}`: {e}"))?;
        let events: Vec<TraceEvent> = file.episodes.into_iter().flatten().collect();
        let split = trace.split('/').nth(2).unwrap_or("");
        let html = episode_page(
            &events,
            &EpisodeInfo {
                harness_id: ids.get(trace).map_or("", String::as_str),
                split,
                trace,
                evidence_steps: steps,
                simulated: sim_model,
                back: "../index.html#catalog",
            },
        );
        let (html, found) = secrets.redact(&html);
        redacted.extend(found);
        let file_name = name.trim_start_matches("episodes/");
        write_text(&episodes_dir, file_name, &html)?;
        written += 1;
    }
    let (index, found) = secrets.redact(&index);
    redacted.extend(found);
    write_text(&out, "index.html", &index)?;
    redacted.sort();
    redacted.dedup();
    Ok(Written {
        index: out.join("index.html"),
        episodes: written,
        redacted,
    })
}
