//! The racing gate against the fixed one: on the same outcomes it ships exactly what the
//! fixed gate ships, with the same verdict, and never runs more episodes; its futility
//! check drops a candidate exactly when no outcomes on the remaining pairs could make it
//! pass (for the sign test, checked against every completion).

use harnessx_evolve::gate::{
    block_size, evaluate_candidate, futile, judge, racing_order, Eval, GateConfig, GateMode,
    Outcome, Pair, Test,
};
use proptest::prelude::*;

/// An evaluation over `tasks` x `seeds` pairs (seed-major, as the run's train pairs are).
fn eval(tasks: u64, results: &[bool]) -> Eval {
    Eval {
        outcomes: results
            .iter()
            .enumerate()
            .map(|(i, &success)| Outcome {
                task: i as u64 % tasks,
                seed: 1000 + i as u64,
                success,
                tokens: 10 + i as u64,
                steps: 1,
                clock_ms: 7,
                model_error: None,
                context_overflow: false,
            })
            .collect(),
        traces: Vec::new(),
    }
}

fn pairs_of(e: &Eval) -> Vec<Pair> {
    e.outcomes
        .iter()
        .map(|o| Pair {
            task: o.task,
            seed: o.seed,
        })
        .collect()
}

/// Serves a candidate's precomputed outcomes for any list of its pairs, counting episodes.
fn runner<'a>(
    cand: &'a Eval,
    episodes: &'a mut u64,
) -> impl FnMut(&[Pair]) -> Result<Eval, String> + 'a {
    move |pairs: &[Pair]| {
        *episodes += pairs.len() as u64;
        Ok(Eval {
            outcomes: pairs
                .iter()
                .map(|p| {
                    cand.outcomes
                        .iter()
                        .find(|o| (o.task, o.seed) == (p.task, p.seed))
                        .cloned()
                        .expect("a pair of the candidate")
                })
                .collect(),
            traces: Vec::new(),
        })
    }
}

fn cfg(mode: GateMode, test: Test, reliable: f64, alpha: f64, block: f64) -> GateConfig {
    GateConfig {
        alpha,
        test,
        reliable,
        mode,
        block,
        build: false,
        bootstrap_resamples: 300,
        ..GateConfig::default()
    }
}

/// A candidate that is the parent with each pair flipped to success with probability
/// `up` and to failure with probability `down` (bits drawn from `noise`).
fn arb_case() -> impl Strategy<Value = (u64, Vec<bool>, Vec<bool>)> {
    (1u64..8, 1u64..4).prop_flat_map(|(tasks, seeds)| {
        let n = (tasks * seeds) as usize;
        (
            Just(tasks),
            prop::collection::vec(prop::bool::weighted(0.6), n),
            prop::collection::vec(0u8..10, n),
            0u8..10,
            0u8..10,
        )
            .prop_map(|(tasks, parent, noise, up, down)| {
                let cand = parent
                    .iter()
                    .zip(&noise)
                    .map(|(&p, &x)| if p { x >= down } else { x < up })
                    .collect();
                (tasks, parent, cand)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn racing_ships_exactly_what_the_fixed_gate_ships(
        (tasks, parent, cand) in arb_case(),
        sign in any::<bool>(),
        reliable in prop::sample::select(vec![1.0, 2.0 / 3.0, 0.5]),
        alpha in prop::sample::select(vec![0.01, 0.05, 0.2]),
        block in prop::sample::select(vec![0.01, 1.0 / 6.0, 1.0 / 3.0, 0.5, 1.0]),
    ) {
        let test = if sign { Test::Sign } else { Test::Bootstrap };
        let (p, c) = (eval(tasks, &parent), eval(tasks, &cand));
        let pairs = pairs_of(&p);
        let fixed_cfg = cfg(GateMode::Fixed, test, reliable, alpha, block);
        let racing_cfg = cfg(GateMode::Racing, test, reliable, alpha, block);
        let expected = judge(&p, &c, &fixed_cfg, 9);

        let mut fixed_eps = 0;
        let fixed = evaluate_candidate(&p, &pairs, &fixed_cfg, 9, runner(&c, &mut fixed_eps)).unwrap();
        prop_assert_eq!(&fixed.judgement, &expected);
        prop_assert_eq!(fixed_eps, pairs.len() as u64);

        let mut racing_eps = 0;
        let racing = evaluate_candidate(&p, &pairs, &racing_cfg, 9, runner(&c, &mut racing_eps)).unwrap();
        prop_assert_eq!(racing.judgement.ship, expected.ship);
        prop_assert_eq!(racing.pairs_run as u64, racing_eps);
        prop_assert!(racing_eps <= fixed_eps);
        prop_assert_eq!(racing.cost.episodes, racing_eps);
        match &racing.eval {
            // Not dropped: the same outcomes in pair order, the same verdict and cost.
            Some(e) => {
                prop_assert_eq!(&e.outcomes, &c.outcomes);
                prop_assert_eq!(&racing.judgement, &expected);
                prop_assert_eq!(racing.cost, fixed.cost);
            }
            None => {
                prop_assert!(!expected.ship);
                prop_assert!(racing.pairs_run < pairs.len());
                prop_assert!(racing.judgement.reason.starts_with("dropped after"), "{}", racing.judgement.reason);
            }
        }
    }

    #[test]
    fn the_sign_test_futility_bound_is_exact(
        (tasks, parent, cand) in arb_case(),
        reliable in prop::sample::select(vec![1.0, 2.0 / 3.0, 0.5]),
        alpha in prop::sample::select(vec![0.01, 0.05, 0.2]),
        seen_mask in any::<u32>(),
    ) {
        let n = parent.len();
        prop_assume!(n <= 12);
        let gate = cfg(GateMode::Racing, Test::Sign, reliable, alpha, 1.0);
        let p = eval(tasks, &parent);
        let c = eval(tasks, &cand);
        let seen: Vec<Option<Outcome>> = (0..n)
            .map(|i| (seen_mask >> i & 1 == 1).then(|| c.outcomes[i].clone()))
            .collect();
        let open: Vec<usize> = (0..n).filter(|&i| seen[i].is_none()).collect();
        // Every way the unseen pairs could turn out.
        let any_ships = (0u32..1 << open.len()).any(|bits| {
            let mut outcomes: Vec<bool> = seen.iter().map(|s| s.as_ref().is_some_and(|o| o.success)).collect();
            for (k, &i) in open.iter().enumerate() {
                outcomes[i] = bits >> k & 1 == 1;
            }
            judge(&p, &eval(tasks, &outcomes), &gate, 0).ship
        });
        prop_assert_eq!(futile(&p, &seen, &gate, 0).is_none(), any_ships);
    }
}

#[test]
fn the_bootstrap_futility_check_never_drops_a_candidate_that_could_ship() {
    // Under the bootstrap only direction and the seesaw rule are used early: a candidate
    // with more wins than losses so far and no regression is never dropped.
    // Six tasks on two seeds each (pair i is task i % 6); the parent wins task 5 on both.
    let (f, t) = (false, true);
    let parent = eval(6, &[f, f, f, f, f, t, f, f, f, f, f, t]);
    let mut seen: Vec<Option<Outcome>> = vec![None; 12];
    let c = eval(6, &[t, t, f, f, f, t, f, f, f, f, f, t]);
    seen[0] = Some(c.outcomes[0].clone());
    seen[2] = Some(c.outcomes[2].clone());
    let gate = cfg(GateMode::Racing, Test::Bootstrap, 1.0, 0.05, 0.5);
    assert!(futile(&parent, &seen, &gate, 0).is_none());
    // A loss on the task the parent solves reliably is a seesaw regression whatever else.
    let mut bad = c.outcomes[5].clone();
    bad.success = false;
    seen[5] = Some(bad);
    let j = futile(&parent, &seen, &gate, 0).expect("futile");
    assert!(j.reason.starts_with("seesaw"), "{}", j.reason);
}

#[test]
fn a_no_op_candidate_is_dropped_once_the_parents_failures_are_run() {
    // The parent fails 6 of 30 pairs; a candidate that changes nothing ties everywhere.
    let results: Vec<bool> = (0..30).map(|i| i % 5 != 0).collect();
    let p = eval(15, &results);
    let pairs = pairs_of(&p);
    let gate = cfg(GateMode::Racing, Test::Sign, 1.0, 0.05, 0.2);
    let order = racing_order(&p, 1.0);
    assert!(order[..6].iter().all(|&i| !results[i]), "{order:?}");
    assert_eq!(block_size(30, 0.2), 6);
    let mut eps = 0;
    let run = evaluate_candidate(&p, &pairs, &gate, 0, runner(&p, &mut eps)).unwrap();
    assert!(run.dropped());
    assert_eq!(run.pairs_run, 6, "{}", run.judgement.reason);
    assert!(
        run.judgement.reason.contains("0 better, 0 worse so far"),
        "{}",
        run.judgement.reason
    );
}

#[test]
fn block_sizes_round_up_and_stay_in_range() {
    assert_eq!(block_size(60, 1.0 / 3.0), 20);
    assert_eq!(block_size(60, 1.0 / 6.0), 10);
    assert_eq!(block_size(10, 1.0 / 6.0), 2);
    assert_eq!(block_size(10, 0.01), 1);
    assert_eq!(block_size(10, 1.0), 10);
    assert_eq!(block_size(10, 0.0), 10);
    assert_eq!(block_size(10, f64::NAN), 10);
    assert_eq!(block_size(0, 0.5), 1);
}

#[test]
fn a_checkpoint_without_a_gate_mode_loads_as_the_fixed_gate() {
    let mut v = serde_json::to_value(GateConfig::default()).unwrap();
    let m = v.as_object_mut().unwrap();
    m.remove("mode");
    m.remove("block");
    let old: GateConfig = serde_json::from_value(v).unwrap();
    assert_eq!(old.mode, GateMode::Fixed);
    assert_eq!(GateConfig::default().mode, GateMode::Racing);
}

#[test]
fn when_no_candidate_could_pass_none_is_run() {
    // The parent fails 5 of 10 pairs: at most 5 wins, and the sign test's best p is
    // 2/32 = 0.0625 >= 0.05, so the racing gate spends no episode on any candidate.
    let results: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
    let p = eval(10, &results);
    let all_better = eval(10, &[true; 10]);
    let pairs = pairs_of(&p);
    let gate = cfg(GateMode::Racing, Test::Sign, 1.0, 0.05, 1.0 / 6.0);
    let mut eps = 0;
    let run = evaluate_candidate(&p, &pairs, &gate, 0, runner(&all_better, &mut eps)).unwrap();
    assert_eq!((eps, run.pairs_run, run.cost.episodes), (0, 0, 0));
    assert!(
        run.judgement.reason.contains("p = 0.0625"),
        "{}",
        run.judgement.reason
    );
    let fixed = judge(&p, &all_better, &gate, 0);
    assert!(!fixed.ship && fixed.reason.starts_with("not significant"));
}
