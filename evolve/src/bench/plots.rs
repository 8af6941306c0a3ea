//! The report's SVG plots: per cell, each arm's held-out success against the train
//! episodes spent, averaged over evolution seeds.

use std::path::{Path, PathBuf};

use crate::arms::curve_at;
use crate::svg::line_chart;

use super::cells::{runs_of, Results};
use super::plan::{env_label, Plan, ARMS};

/// Where the plots of a report written to `out` go: `bench/` next to it.
pub(super) fn plot_dir(out: &Path) -> PathBuf {
    out.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("bench")
}

/// The file name of a cell's plot in [`plot_dir`].
pub(super) fn plot_name(env: &str, tier: &str) -> String {
    format!("{}-{tier}.svg", env_label(env).to_lowercase())
}

/// Every cell's plot, in report order, with its file name.
pub(super) fn plots(plan: &Plan, results: &Results) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for env in &plan.envs {
        for tier in &plan.tiers {
            let xs: Vec<u64> = (0..=10).map(|i| plan.budget * i / 10).collect();
            let series: Vec<(&str, Vec<(f64, f64)>)> = ARMS
                .iter()
                .map(|&arm| {
                    let runs = runs_of(results, env, tier, arm);
                    let n = runs.len().max(1) as f64;
                    let pts = xs
                        .iter()
                        .map(|&x| {
                            let y =
                                runs.iter().map(|(_, r)| curve_at(&r.curve, x)).sum::<f64>() / n;
                            (x as f64, y)
                        })
                        .collect();
                    (arm.short(), pts)
                })
                .collect();
            let svg = line_chart(
                &format!("{} with sim:{tier} (SIMULATED)", env_label(env)),
                "train episodes spent",
                "held-out success",
                &series,
                Some(1.0),
            );
            out.push((plot_name(env, tier), svg));
        }
    }
    out
}
