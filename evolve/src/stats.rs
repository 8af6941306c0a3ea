//! Statistics for the gate and the summaries: the exact sign test, a seeded paired
//! bootstrap, the seesaw rule, Wilson intervals — and the seeded generator they and the
//! planner's bandit draw from.
//!
//! Everything is a pure function of its inputs (and a seed), so a resumed run reaches the
//! same verdicts as an uninterrupted one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

// ---------------------------------------------------------------------------------------
// seeded generator

/// The SplitMix64 stream of [`harnessx_runtime::rng`], with the distributions statistics
/// need. Not a crate's generator, because a checkpointed run must replay the same draws
/// forever (the state is serialised in checkpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng { state: seed }
    }

    /// A generator for stream `stream` of `seed` (e.g. one per round), unrelated to the
    /// streams next to it.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut r = SeededRng::new(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
        SeededRng::new(r.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        harnessx_runtime::rng::next(&mut self.state)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        harnessx_runtime::rng::unit(self.next_u64())
    }

    /// Uniform in `0..n` (0 when `n == 0`), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Reject the top sliver that would make low values more likely.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang; shapes below 1 use the `U^(1/a)` boost.
    /// Non-positive or non-finite shapes give 0.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if !(shape > 0.0 && shape.is_finite()) {
            return 0.0;
        }
        if shape < 1.0 {
            let u = 1.0 - self.next_f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = 1.0 - self.next_f64();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Beta(a, b) as `X / (X + Y)` of two gammas; 0.5 if both draws are 0.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y > 0.0 {
            x / (x + y)
        } else {
            0.5
        }
    }
}

// ---------------------------------------------------------------------------------------
// sign test

/// Paired outcomes with ties already dropped (the sign test ignores them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignCounts {
    /// Pairs where the candidate scored higher.
    pub wins: u64,
    /// Pairs where the parent scored higher.
    pub losses: u64,
    pub ties: u64,
}

impl SignCounts {
    /// Count `(parent, candidate)` score pairs, one per (task, seed).
    pub fn from_pairs(pairs: &[(f64, f64)]) -> Self {
        let mut c = SignCounts::default();
        for &(parent, cand) in pairs {
            if cand > parent {
                c.wins += 1;
            } else if cand < parent {
                c.losses += 1;
            } else {
                c.ties += 1;
            }
        }
        c
    }

    pub fn p_value(&self) -> f64 {
        sign_test(self.wins, self.losses)
    }
}

/// Exact two-sided sign test: `min(1, 2 * P(X <= min(wins, losses)))` for
/// `X ~ Binomial(wins + losses, 1/2)`. No pairs: 1. Computed in log space so large
/// counts neither overflow nor lose the tail.
pub fn sign_test(wins: u64, losses: u64) -> f64 {
    let n = wins.saturating_add(losses);
    if n == 0 {
        return 1.0;
    }
    let m = wins.min(losses);
    let nf = n as f64;
    let ln_half_n = nf * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for k in 0..=m {
        if k > 0 {
            ln_c += (nf - (k - 1) as f64).ln() - (k as f64).ln();
        }
        tail += (ln_c - ln_half_n).exp();
    }
    (2.0 * tail).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------------------
// paired bootstrap

/// The paired bootstrap's verdict on the mean of `candidate - parent` differences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    pub n: usize,
    pub mean: f64,
    /// Percentile interval at the requested level.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided, from the resampled means shifted to mean 0 (the null):
    /// `(1 + #{|m* - mean| >= |mean|}) / (B + 1)`. Unreliable for very few pairs (with one
    /// pair every resample is identical), which is why the gate also has the sign test.
    pub p_value: f64,
}

/// Paired bootstrap of the mean difference with `resamples` resamples drawn from `seed`,
/// and a `1 - alpha` percentile interval. Non-finite differences are ignored; no
/// differences (or no resamples) give mean 0, interval `[0, 0]` and p = 1.
pub fn paired_bootstrap(diffs: &[f64], resamples: usize, alpha: f64, seed: u64) -> Bootstrap {
    let d: Vec<f64> = diffs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = d.len();
    if n == 0 || resamples == 0 {
        return Bootstrap {
            n,
            mean: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
            p_value: 1.0,
        };
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let mut rng = SeededRng::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let s: f64 = (0..n).map(|_| d[rng.below(n as u64) as usize]).sum();
            s / n as f64
        })
        .collect();
    // A hair of slack so float noise in equal sums counts as "as extreme".
    let extreme = means
        .iter()
        .filter(|&&m| (m - mean).abs() >= mean.abs() - 1e-12)
        .count();
    let p_value = ((1 + extreme) as f64 / (resamples + 1) as f64).clamp(0.0, 1.0);
    means.sort_by(f64::total_cmp);
    let alpha = if alpha.is_finite() {
        alpha.clamp(0.0, 1.0)
    } else {
        0.05
    };
    let at = |q: f64| means[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Bootstrap {
        n,
        mean,
        ci_low: at(alpha / 2.0),
        ci_high: at(1.0 - alpha / 2.0),
        p_value,
    }
}

// ---------------------------------------------------------------------------------------
// success rates

/// Successes out of trials (e.g. one task over its seeds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub successes: u64,
    pub trials: u64,
}

impl Rate {
    pub fn new(successes: u64, trials: u64) -> Self {
        Rate { successes, trials }
    }
    pub fn record(&mut self, success: bool) {
        self.trials += 1;
        self.successes += u64::from(success);
    }
    /// 0 when there are no trials.
    pub fn value(&self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.successes as f64 / self.trials as f64
        }
    }
    /// The Wilson 95% interval of this rate.
    pub fn wilson95(&self) -> (f64, f64) {
        wilson(self.successes, self.trials, Z95)
    }
}

/// Wilson score interval for `successes / trials` at `z`; `(0, 1)` without trials.
pub fn wilson(successes: u64, trials: u64, z: f64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = (successes.min(trials) as f64) / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (
        (centre - half).clamp(0.0, 1.0),
        (centre + half).clamp(0.0, 1.0),
    )
}

// ---------------------------------------------------------------------------------------
// seesaw rule

/// A task the parent solved reliably and the candidate no longer does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub task: u64,
    pub parent: Rate,
    pub candidate: Rate,
}

/// The fewest seeds on which the parent must have played a task before the seesaw rule
/// calls it solved reliably. One success is not reliability: with one seed per task (what a
/// real model's budget allows) every game a stochastic parent won once by luck would veto
/// any candidate that lost it, however many others it won. Such a loss still counts
/// against the candidate in the paired test.
pub const MIN_RELIABLE_TRIALS: u64 = 2;

/// The seesaw rule: every task whose parent success rate over its seeds (at least
/// [`MIN_RELIABLE_TRIALS`] of them) is at least `reliable` (e.g. 2/3) and whose candidate
/// rate is below `reliable` — the candidate must keep solving reliably what the parent
/// solved reliably. Requiring the candidate to stay above the bar, rather than never to
/// drop, tolerates one unlucky seed on a task the parent solved 3/3. A task missing from
/// `candidate` counts as a regression (the gate must evaluate the same pairs). Sorted by
/// task.
pub fn seesaw(
    parent: &BTreeMap<u64, Rate>,
    candidate: &BTreeMap<u64, Rate>,
    reliable: f64,
) -> Vec<Regression> {
    // Slack so that thresholds like 2/3 compare as the fraction they stand for.
    const EPS: f64 = 1e-9;
    let meets = |r: &Rate| r.trials > 0 && r.successes as f64 >= reliable * r.trials as f64 - EPS;
    parent
        .iter()
        .filter(|(_, p)| p.trials >= MIN_RELIABLE_TRIALS && meets(p))
        .filter_map(|(&task, p)| {
            let c = candidate.get(&task).copied().unwrap_or_default();
            (!meets(&c)).then_some(Regression {
                task,
                parent: *p,
                candidate: c,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| SeededRng::derive(1, 2).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            SeededRng::derive(1, 2).next_u64(),
            SeededRng::derive(1, 3).next_u64()
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SeededRng::new(5);
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert_eq!(r.below(0), 0);
    }
}
