//! The seeded random stream the built-in environments draw from.
//!
//! SplitMix64: tiny, fast, and fixed forever, so a `(task, seed)` names the same episode
//! in every build. Nothing here reads the clock or the OS.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    /// A stream for one purpose (`salt`) of one key, so streams for different purposes
    /// never share draws.
    pub(crate) fn keyed(key: u64, salt: u64) -> Self {
        SplitMix(mix(key ^ mix(salt)))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix_raw(self.0)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// One SplitMix64 finalisation of `x + golden`: a well-spread hash of a key.
pub(crate) fn mix(x: u64) -> u64 {
    mix_raw(x.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

fn mix_raw(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a string, mixed with `key`: a stable sort key for texts.
pub(crate) fn hash_str(key: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ key;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}
