//! A small, fast pseudo-random generator for partition choice.
//!
//! Partition choice needs speed and rough uniformity, not cryptographic
//! quality, so a xorshift64* generator (Vigna, "An experimental exploration
//! of Marsaglia's xorshift generators, scrambled", 2016) is enough and saves
//! a dependency. It is seeded from the standard library's per-process random
//! hash keys.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// xorshift64*: 64 bits of state, period 2^64 - 1.
#[derive(Debug, Clone)]
pub(crate) struct XorShift64Star {
    /// Never zero: zero is the one fixed point of xorshift.
    state: u64,
}

impl XorShift64Star {
    /// Multiplier of the output scrambler (from the paper).
    const MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;

    /// A generator seeded from `RandomState`, so different partitioners
    /// (and processes) start at different points.
    pub(crate) fn from_entropy() -> Self {
        // Each `RandomState::new()` has fresh keys (random per thread, then
        // incremented), so hashing a constant yields a fresh seed.
        Self::seeded(RandomState::new().hash_one(0x6b61_666b_6974_u64))
    }

    /// A generator with a fixed seed, for reproducible tests.
    pub(crate) fn seeded(seed: u64) -> Self {
        // Spread the seed (SplitMix64 finaliser) so small seeds like 0, 1, 2
        // do not start in nearby, poorly mixed states.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift64Star {
            state: if z == 0 { Self::MULTIPLIER } else { z },
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(Self::MULTIPLIER)
    }

    /// A number in `0..n`; `n` must be non-zero.
    ///
    /// Uses the high half of a 64x64 multiply (Lemire) instead of `%`: no
    /// division, and the bias for the partition counts Kafka allows
    /// (< 2^31) is below 2^-32.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let mut a = XorShift64Star::seeded(1);
        let mut b = XorShift64Star::seeded(1);
        let mut c = XorShift64Star::seeded(2);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn entropy_seeds_differ() {
        let a = XorShift64Star::from_entropy().next_u64();
        let b = XorShift64Star::from_entropy().next_u64();
        assert_ne!(a, b);
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut rng = XorShift64Star::seeded(42);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let v = rng.below(7);
            seen[v] += 1;
        }
        // Expected 1000 each; 5 standard deviations is about 150.
        for (v, &count) in seen.iter().enumerate() {
            assert!(
                (800..1200).contains(&count),
                "value {v} drawn {count} times"
            );
        }
        assert_eq!(rng.below(1), 0);
    }
}
