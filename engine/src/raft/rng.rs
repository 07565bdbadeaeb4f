//! The engine's only source of randomness: a seeded splitmix64 stream that
//! draws election timeouts (and the fault sites' draws, `crate::buggify`),
//! so the same seed gives the same run.

/// splitmix64: a tiny deterministic PRNG.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
