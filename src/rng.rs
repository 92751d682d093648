//! A small seeded random number generator for the places that sample: the IVF's k-means
//! initialisation, synthetic benchmark workloads, seeded random sweeps.
//!
//! SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
//! OOPSLA 2014): 64 bits of state, passes BigCrush, one multiply-xorshift chain per number.
//! Hand-written because it is ten lines and quorum must not depend on an unseeded or
//! version-dependent generator: the same seed gives the same numbers on every machine and
//! every version, so runs stay reproducible to the byte.

/// SplitMix64 (Steele, Lea & Flood, 2014): a tiny, deterministic PRNG.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}
