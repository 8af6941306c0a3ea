//! The real-model arm: the seed harness and a harness AEGIS evolved on `sim:small`, both
//! run against a real model (behind a response cache) on the first few held-out tasks,
//! once per decoding.

use std::path::PathBuf;
use std::time::Instant;

use harnessx_runtime::ir::Decoding;

use crate::arms::{run_arm, Arm};
use crate::emit::unified_diff;
use crate::gate::{evaluate, static_check, Outcome, Pair};
use crate::run::{held_out_pairs, parse_model};
use crate::stats::Rate;

use super::cells::Results;
use super::plan::{config, env_label, env_setup, Plan};
use super::stats::ReplyStats;
use super::BenchArgs;

/// The real-model arm's default environment and number of tasks: household, whose harness
/// has a context budget that keeps prompts inside the SmolLM2 server's 2,048-token window,
/// and 10 tasks per harness, about 12 minutes of SmolLM2-135M on 2 cores.
pub(super) const REAL_ENV: &str = "household";
pub(super) const REAL_TASKS: u64 = 10;
/// The real-model arm's evolved harness: AEGIS with this tier and evolution seed.
pub(super) const REAL_FROM_TIER: &str = "small";
pub(super) const REAL_FROM_SEED: u64 = 1;

/// What the real-model arm runs, checked before anything else runs.
#[derive(Clone)]
pub(super) struct RealSetup {
    /// The spec as given.
    pub given: String,
    /// The spec used: an `openai:` spec behind a response cache.
    pub spec: String,
    /// The response cache, when this command put one in front of the model.
    pub cache: Option<PathBuf>,
    pub tasks: u64,
    pub decodings: Vec<Decoding>,
    /// The benchmark environment name (household, textworld).
    pub env: String,
    /// The environment spec of the real-model episodes.
    pub env_spec: String,
}

impl RealSetup {
    pub fn new(a: &BenchArgs, given: &str) -> Result<RealSetup, String> {
        let (spec, cache) = if given.starts_with("openai:") {
            let dir = &a.real_cache;
            let d = dir.display().to_string();
            if d.contains(':') {
                return Err(format!(
                    "--real-cache `{d}`: the directory must not contain `:`"
                ));
            }
            (format!("cache:{d}:{given}"), Some(dir.clone()))
        } else {
            (given.to_string(), None)
        };
        parse_model(&spec).map_err(|e| format!("--real-model: {e}"))?;
        let mut decodings = Vec::new();
        for d in a
            .real_decodings
            .clone()
            .unwrap_or_else(|| vec!["constrained".into()])
        {
            let d = match d.as_str() {
                "free" => Decoding::Free,
                "constrained" => Decoding::Constrained,
                other => {
                    return Err(format!(
                        "--real-decoding: unknown decoding `{other}` (free, constrained)"
                    ))
                }
            };
            if !decodings.contains(&d) {
                decodings.push(d);
            }
        }
        let env = a.real_env.clone().unwrap_or_else(|| REAL_ENV.into());
        let setup = env_setup(&env)?;
        let env_spec = setup.held_out.unwrap_or(setup.train);
        Ok(RealSetup {
            given: given.to_string(),
            spec,
            cache,
            tasks: a.real_tasks.unwrap_or(REAL_TASKS).max(1),
            decodings,
            env,
            env_spec,
        })
    }
}

pub(super) fn decoding_name(d: Decoding) -> &'static str {
    match d {
        Decoding::Free => "free",
        Decoding::Constrained => "constrained",
    }
}

/// One harness under one decoding against the real model.
pub(super) struct RealRow {
    pub decoding: Decoding,
    /// `seed` or `evolved`.
    pub harness: &'static str,
    pub outcomes: Vec<Outcome>,
    pub stats: ReplyStats,
    pub wall_secs: f64,
}

impl RealRow {
    pub fn rate(&self) -> Rate {
        Rate::new(
            self.outcomes.iter().filter(|o| o.success).count() as u64,
            self.outcomes.len() as u64,
        )
    }
}

/// The real-model arm's results.
pub(super) struct RealArm {
    pub setup: RealSetup,
    /// Where the evolved harness came from.
    pub evolved_from: String,
    /// Held-out success of seed and evolved under sim:small on the same env (200 tasks).
    pub sim_held_out: (f64, f64),
    pub diff: String,
    pub pairs: Vec<Pair>,
    pub rows: Vec<RealRow>,
    pub seconds: f64,
    /// Train episodes of one gate evaluation in the simulated cells.
    pub train_episodes: u64,
    /// Held-out tasks of the simulated cells.
    pub held_out_tasks: u64,
}

impl RealArm {
    /// Recorded model time per real-model episode, over every row.
    pub fn model_secs_per_episode(&self) -> f64 {
        let ms: u64 = self.rows.iter().map(|x| x.stats.model_ms).sum();
        let n: usize = self.rows.iter().map(|x| x.outcomes.len()).sum();
        ms as f64 / 1000.0 / n.max(1) as f64
    }
}

/// Runs the real-model arm: the seed harness and the harness AEGIS evolved on the arm's
/// environment with sim:small (evolution seed 1, taken from the simulated cells when they
/// include it, else evolved here with the same settings), each on the first N held-out
/// tasks, once per decoding.
pub(super) fn run_real(
    plan: &Plan,
    setup: RealSetup,
    results: &Results,
) -> Result<RealArm, String> {
    let started = Instant::now();
    let env = setup.env.as_str();
    let label = env_label(env);
    let cfg = config(plan, env, REAL_FROM_TIER, REAL_FROM_SEED)?;
    let find = |arm: Arm| {
        results
            .get(&(env.to_string(), REAL_FROM_TIER.to_string(), arm.name()))
            .and_then(|v| v.iter().find(|(s, _)| *s == REAL_FROM_SEED))
            .map(|(_, r)| r.clone())
    };
    let (evolved, seed_run, evolved_from) = match (find(Arm::Aegis), find(Arm::Seed)) {
        (Some(e), Some(s)) => (
            e,
            s,
            format!(
                "the aegis run of the {label} sim:{REAL_FROM_TIER} cell above, evolution \
                 seed {REAL_FROM_SEED}"
            ),
        ),
        _ => {
            eprintln!(
                "real-model arm: evolving on {label} with sim:{REAL_FROM_TIER}, seed \
                 {REAL_FROM_SEED}"
            );
            let out =
                std::env::temp_dir().join(format!("harnessx-bench-real-{}", std::process::id()));
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let e = run_arm(&cfg, Arm::Aegis, &out, workers);
            let _ = std::fs::remove_dir_all(&out);
            let s = run_arm(&cfg, Arm::Seed, &out, workers)?;
            (
                e?,
                s,
                format!(
                    "an aegis run with the settings of the simulated cells ({label}, \
                     sim:{REAL_FROM_TIER}, evolution seed {REAL_FROM_SEED}), made by this \
                     command for this section"
                ),
            )
        }
    };
    let seed_src = harnessx_syntax::print(&harnessx_syntax::parse(&cfg.seed_source).file);
    let diff = unified_diff(
        &seed_src,
        &evolved.harness,
        "seed.harness",
        "evolved.harness",
    );
    let (held, _) = held_out_pairs(&cfg);
    let pairs: Vec<Pair> = held.into_iter().take(setup.tasks as usize).collect();
    let mut rows = Vec::new();
    for &decoding in &setup.decodings {
        for (name, src) in [("seed", &cfg.seed_source), ("evolved", &evolved.harness)] {
            let mut ir = static_check(src)?;
            ir.model.decoding = decoding;
            let mut model = parse_model(&setup.spec)?;
            model.apply_model_ir(&ir.model);
            let t = Instant::now();
            let mut outcomes = Vec::new();
            let mut stats = ReplyStats::default();
            for (i, p) in pairs.iter().enumerate() {
                let eval = evaluate(
                    &ir,
                    &setup.env_spec,
                    &model,
                    std::slice::from_ref(p),
                    1,
                    true,
                )?;
                for trace in &eval.traces {
                    stats.add_trace(trace);
                }
                let o = eval
                    .outcomes
                    .into_iter()
                    .next()
                    .ok_or("an evaluation returned no outcome")?;
                eprintln!(
                    "real-model arm: {} {name} task {}/{}: {} in {} steps{} ({:.0} s so far)",
                    decoding_name(decoding),
                    i + 1,
                    pairs.len(),
                    if o.success { "solved" } else { "not solved" },
                    o.steps,
                    o.model_error
                        .as_ref()
                        .map_or(String::new(), |_| ", model error".into()),
                    started.elapsed().as_secs_f64()
                );
                outcomes.push(o);
            }
            rows.push(RealRow {
                decoding,
                harness: name,
                outcomes,
                stats,
                wall_secs: t.elapsed().as_secs_f64(),
            });
        }
    }
    Ok(RealArm {
        setup,
        evolved_from,
        sim_held_out: (seed_run.held_out, evolved.held_out),
        diff,
        pairs,
        rows,
        seconds: started.elapsed().as_secs_f64(),
        train_episodes: plan.train_tasks * plan.seeds_per_task,
        held_out_tasks: plan.held_out_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::args;
    use super::*;

    #[test]
    fn an_openai_real_model_is_recorded_in_the_cache() {
        let mut a = args();
        let r = RealSetup::new(&a, "openai:http://127.0.0.1:8089/v1#smollm2").unwrap();
        assert_eq!(
            r.spec,
            "cache:target/cache:openai:http://127.0.0.1:8089/v1#smollm2"
        );
        assert_eq!(r.decodings, [Decoding::Constrained]);
        assert_eq!((r.env.as_str(), r.tasks), (REAL_ENV, REAL_TASKS));
        let r = RealSetup::new(&a, "replay:target/cache").unwrap();
        assert_eq!((r.spec.as_str(), r.cache), ("replay:target/cache", None));
        a.real_decodings = Some(vec!["free".into(), "constrained".into(), "free".into()]);
        a.real_env = Some("textworld".into());
        let r = RealSetup::new(&a, "replay:target/cache").unwrap();
        assert_eq!(r.decodings, [Decoding::Free, Decoding::Constrained]);
        assert!(r.env_spec.contains("--fold dev"), "{}", r.env_spec);
        a.real_decodings = Some(vec!["greedy".into()]);
        assert!(RealSetup::new(&a, "replay:x").is_err());
    }
}
