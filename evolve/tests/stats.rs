//! The gate's statistics against known values, and their invariants as properties.

use std::collections::BTreeMap;

use harnessx_evolve::stats::{
    paired_bootstrap, seesaw, sign_test, wilson, Rate, SeededRng, SignCounts, Z95,
};
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn sign_test_known_values() {
    // 9 wins, 1 loss: 2 * (1 + 10) / 1024.
    assert!(close(sign_test(9, 1), 0.021_484_375, 1e-12));
    assert!(close(sign_test(1, 9), 0.021_484_375, 1e-12));
    assert!(close(sign_test(10, 0), 2.0 / 1024.0, 1e-15));
    assert!(close(sign_test(8, 2), 2.0 * 56.0 / 1024.0, 1e-12));
    assert_eq!(sign_test(0, 0), 1.0);
    assert_eq!(sign_test(5, 5), 1.0);
    assert_eq!(sign_test(1, 0), 1.0);
    // Large counts stay finite and tiny rather than overflowing.
    let p = sign_test(6000, 4000);
    assert!(p > 0.0 && p < 1e-50, "{p}");
    assert!(close(sign_test(50_000, 50_000), 1.0, 1e-12));
}

#[test]
fn ties_are_dropped() {
    let pairs = [(0.0, 1.0); 9]
        .into_iter()
        .chain([(1.0, 0.0)])
        .chain([(1.0, 1.0), (0.0, 0.0), (0.5, 0.5)])
        .collect::<Vec<_>>();
    let c = SignCounts::from_pairs(&pairs);
    assert_eq!((c.wins, c.losses, c.ties), (9, 1, 3));
    assert!(close(c.p_value(), 0.021_484_375, 1e-12));
}

#[test]
fn bootstrap_is_seeded_and_sensible() {
    // 24 pairs: the candidate wins 14, loses 2, ties 8.
    let diffs: Vec<f64> = [1.0; 14]
        .into_iter()
        .chain([-1.0; 2])
        .chain([0.0; 8])
        .collect();
    let a = paired_bootstrap(&diffs, 2000, 0.05, 7);
    assert_eq!(a, paired_bootstrap(&diffs, 2000, 0.05, 7));
    assert_eq!(a.n, 24);
    assert!(close(a.mean, 0.5, 1e-12));
    assert!(
        a.ci_low > 0.0 && a.ci_low <= a.mean && a.mean <= a.ci_high,
        "{a:?}"
    );
    assert!(a.p_value < 0.01, "{a:?}");

    let null = paired_bootstrap(&[1.0, -1.0, 0.0, 1.0, -1.0, 0.0], 2000, 0.05, 7);
    assert!(null.p_value > 0.5, "{null:?}");
    let zeros = paired_bootstrap(&[0.0; 10], 500, 0.05, 1);
    assert_eq!(
        (zeros.p_value, zeros.ci_low, zeros.ci_high),
        (1.0, 0.0, 0.0)
    );
    let empty = paired_bootstrap(&[], 500, 0.05, 1);
    assert_eq!((empty.n, empty.p_value), (0, 1.0));
    let nan = paired_bootstrap(&[f64::NAN, 1.0, f64::INFINITY], 100, 0.05, 1);
    assert_eq!(nan.n, 1);
}

#[test]
fn wilson_known_values() {
    assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
    let (lo, hi) = wilson(5, 10, Z95);
    assert!(
        close(lo, 0.236_593, 1e-5) && close(hi, 0.763_407, 1e-5),
        "{lo} {hi}"
    );
    let (lo, hi) = Rate::new(10, 10).wilson95();
    assert!(
        close(lo, 0.722_467, 1e-5) && close(hi, 1.0, 1e-12),
        "{lo} {hi}"
    );
    let (lo, _) = wilson(0, 20, Z95);
    assert_eq!(lo, 0.0);
}

#[test]
fn seesaw_lists_reliable_tasks_that_regress() {
    let r = Rate::new;
    let parent = BTreeMap::from([
        (1, r(3, 3)),
        (2, r(2, 3)),
        (3, r(1, 3)),
        (4, r(3, 3)),
        (5, r(3, 3)),
    ]);
    let candidate = BTreeMap::from([
        (1, r(2, 3)), // still reliable: one unlucky seed is tolerated
        (2, r(1, 3)), // regressed
        (3, r(0, 3)), // the parent never solved it reliably
        (4, r(3, 3)),
        // 5 missing: counts as a regression
    ]);
    let tasks: Vec<u64> = seesaw(&parent, &candidate, 2.0 / 3.0)
        .iter()
        .map(|g| g.task)
        .collect();
    assert_eq!(tasks, [2, 5]);
    // A stricter bar: 1 now regresses too, and 2 no longer counts as reliable.
    let tasks: Vec<u64> = seesaw(&parent, &candidate, 1.0)
        .iter()
        .map(|g| g.task)
        .collect();
    assert_eq!(tasks, [1, 5]);
}

#[test]
fn one_seed_is_no_evidence_of_reliability() {
    let r = Rate::new;
    // Task 1 won on its only seed and lost by the candidate: the paired test counts that
    // loss; the seesaw rule has no reliability to protect. Task 2, won on both seeds, does.
    let parent = BTreeMap::from([(1, r(1, 1)), (2, r(2, 2))]);
    let candidate = BTreeMap::from([(1, r(0, 1)), (2, r(1, 2))]);
    let tasks: Vec<u64> = seesaw(&parent, &candidate, 1.0)
        .iter()
        .map(|g| g.task)
        .collect();
    assert_eq!(tasks, [2]);
}

#[test]
fn beta_draws_have_the_right_mean() {
    let mut rng = SeededRng::new(11);
    for (a, b) in [(3.0, 7.0), (0.5, 0.5), (40.0, 2.0)] {
        let n = 20_000;
        let m: f64 = (0..n).map(|_| rng.beta(a, b)).sum::<f64>() / n as f64;
        assert!(close(m, a / (a + b), 0.01), "Beta({a}, {b}) mean {m}");
    }
    assert_eq!(rng.gamma(-1.0), 0.0);
    assert_eq!(rng.gamma(f64::NAN), 0.0);
}

proptest! {
    #[test]
    fn sign_test_is_a_symmetric_probability(w in 0u64..400, l in 0u64..400) {
        let p = sign_test(w, l);
        prop_assert!((0.0..=1.0).contains(&p));
        prop_assert_eq!(p, sign_test(l, w));
        if w >= l {
            prop_assert!(sign_test(w + 1, l) <= p + 1e-12);
        }
    }

    #[test]
    fn bootstrap_p_and_interval_are_sane(
        diffs in proptest::collection::vec(-1.0f64..1.0, 0..40),
        seed in any::<u64>(),
    ) {
        let b = paired_bootstrap(&diffs, 200, 0.05, seed);
        prop_assert!(b.p_value > 0.0 && b.p_value <= 1.0);
        prop_assert!(b.ci_low <= b.ci_high);
        // Flipping every difference mirrors the verdict.
        let flipped: Vec<f64> = diffs.iter().map(|d| -d).collect();
        let f = paired_bootstrap(&flipped, 200, 0.05, seed);
        prop_assert!((f.p_value - b.p_value).abs() < 1e-12);
        prop_assert!((f.mean + b.mean).abs() < 1e-12);
    }

    #[test]
    fn wilson_contains_the_rate(s in 0u64..200, extra in 0u64..200) {
        let n = s + extra;
        let (lo, hi) = wilson(s, n, Z95);
        prop_assert!(0.0 <= lo && lo <= hi && hi <= 1.0);
        if n > 0 {
            let p = s as f64 / n as f64;
            prop_assert!(lo <= p + 1e-12 && p <= hi + 1e-12);
        }
    }
}
