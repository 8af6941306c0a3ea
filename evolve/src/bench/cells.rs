//! The simulated cells: every (environment, tier, evolution seed, arm) run, spread over
//! worker threads, each run on one thread.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use crate::arms::{run_arm, seed_under, Arm, ArmRun};
use crate::realbench::RealArm;

use super::plan::{arm_name, config, Plan, ARMS};

/// A cell's arm: environment, tier, arm name.
pub(super) type Key = (String, String, &'static str);

/// Every run of every cell, by cell and arm, sorted by evolution seed.
pub(super) type Results = BTreeMap<Key, Vec<(u64, ArmRun)>>;

/// Runs every cell of `plan` on `threads` threads, with scratch output under `scratch`
/// (removed afterwards). The first failed run is the error.
pub(super) fn run_cells(plan: &Plan, threads: usize, scratch: &Path) -> Result<Results, String> {
    let mut jobs: Vec<(String, String, RealArm, u64)> = Vec::new();
    let cells = plan
        .envs
        .iter()
        .map(|e| (e, plan.seeds))
        .chain(plan.ablations.iter().map(|e| (e, plan.ablation_seeds)));
    for (env, seeds) in cells {
        for tier in &plan.tiers {
            for s in 1..=seeds {
                for arm in ARMS {
                    jobs.push((env.clone(), tier.clone(), arm, s));
                }
            }
        }
    }
    let total = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results: Mutex<Results> = Mutex::new(BTreeMap::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some((i, (env, tier, arm, seed))) = queue.lock().unwrap().pop() else {
                    return;
                };
                let out = scratch.join(format!("{i}"));
                let r = config(plan, &env, &tier, seed).and_then(|cfg| {
                    match (arm.fixed_model(), arm.loop_arm()) {
                        (Some(model), _) => seed_under(&cfg, &model, 1),
                        (None, Some(arm)) => run_arm(&cfg, arm, &out, 1),
                        (None, None) => run_arm(&cfg, Arm::Seed, &out, 1),
                    }
                });
                let _ = std::fs::remove_dir_all(&out);
                match r {
                    Ok(run) => {
                        eprintln!(
                            "[{:>4}/{total}] {env} sim:{tier} {} seed {seed}: held-out {:.3}",
                            i + 1,
                            arm_name(arm),
                            run.held_out
                        );
                        results
                            .lock()
                            .unwrap()
                            .entry((env, tier, arm_name(arm)))
                            .or_default()
                            .push((seed, run));
                    }
                    Err(e) => errors.lock().unwrap().push(format!(
                        "{env} sim:{tier} {} seed {seed}: {e}",
                        arm_name(arm)
                    )),
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(scratch);
    if let Some(e) = errors.into_inner().unwrap().into_iter().next() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap();
    for v in results.values_mut() {
        v.sort_by_key(|(s, _)| *s);
    }
    Ok(results)
}

/// The runs of one cell's arm.
pub(super) fn runs_of<'a>(
    results: &'a Results,
    env: &str,
    tier: &str,
    arm: RealArm,
) -> &'a [(u64, ArmRun)] {
    results
        .get(&(env.to_string(), tier.to_string(), arm_name(arm)))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
