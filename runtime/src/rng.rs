//! The seeded mixers every part of harnessx draws from: SplitMix64 and the helpers built
//! on it.
//!
//! One implementation, fixed forever: a `(task, seed)` names the same episode, and a
//! checkpointed evolution run replays the same draws, in every build and with every
//! dependency version. That is why this is hand-written rather than a crate's generator —
//! an upgrade that changed a stream would silently change traces, held-out splits and
//! which candidates a resumed run proposes. Nothing here reads the clock or the OS.
//!
//! Callers keep their own state (a `u64`, sometimes serialised in a checkpoint) and their
//! own distributions on top (modulo, rejection or multiply-shift sampling); what they share
//! is the stream itself.

/// SplitMix64's increment (the golden ratio in 64-bit fixed point).
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijective, well-spread scramble of `z`.
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step from `x`: a well-spread hash of a key.
pub fn mix(x: u64) -> u64 {
    finalize(x.wrapping_add(GOLDEN_GAMMA))
}

/// Advance a SplitMix64 state and return the next output.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(GOLDEN_GAMMA);
    finalize(*state)
}

/// The `index`-th output of the SplitMix64 stream that starts at `base` (0-based), without
/// drawing the ones before it: distinct, unrelated seeds for episode `index` of a run or
/// model call `index` of an episode.
pub fn nth(base: u64, index: u64) -> u64 {
    finalize(base.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)))
}

/// The top 53 bits of `x` as a float in `[0, 1)`.
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a of a string, mixed with `key`: a stable sort key for texts.
pub fn hash_str(key: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ key;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// A SplitMix64 stream with the small helpers the built-in environments draw with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// A stream for one purpose (`salt`) of one key, so streams for different purposes
    /// never share draws.
    pub fn keyed(key: u64, salt: u64) -> Self {
        SplitMix(mix(key ^ mix(salt)))
    }

    pub fn next_u64(&mut self) -> u64 {
        next(&mut self.0)
    }

    /// Uniform in `[0, 1)` from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in `0..n` by modulo (`0` when `n == 0`); the bias is irrelevant at the sizes
    /// the environments draw from, and the mapping is part of their fixed generation.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference SplitMix64 outputs for seed 0 (Vigna's splitmix64.c): the stream is
    /// pinned, so nothing that derives from it can drift.
    #[test]
    fn the_stream_is_splitmix64() {
        let mut s = 0u64;
        assert_eq!(next(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(next(&mut s), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(next(&mut s), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn nth_skips_ahead_without_drawing() {
        let mut s = 42u64;
        let drawn: Vec<u64> = (0..5).map(|_| next(&mut s)).collect();
        let skipped: Vec<u64> = (0..5).map(|i| nth(42, i)).collect();
        assert_eq!(drawn, skipped);
        assert_eq!(mix(42), nth(42, 0));
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = SplitMix::keyed(3, 9);
        for _ in 0..1000 {
            assert!(r.below(7) < 7);
            assert!((2..=5).contains(&r.range(2, 5)));
            assert!((0.0..1.0).contains(&r.next_f64()));
        }
        assert_eq!(r.below(0), 0);
    }
}
