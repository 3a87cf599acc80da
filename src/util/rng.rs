//! Random numbers: 64-bit ids from the system, and a small fast generator
//! for jitter and sampling (not for secrets).

/// A random 64-bit id; falls back to time and pid mixed when the system has
/// no randomness to give (ids need to be distinct, not secret).
pub fn random_id() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15
    })
}

/// xorshift64: a tiny deterministic generator for retransmission jitter,
/// reservoir sampling and tests. Never for anything secret.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (zero is replaced: xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// A generator seeded from the system's randomness.
    pub fn from_entropy() -> Self {
        Self::new(random_id())
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0.0..1.0`.
    pub fn next_fraction(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..n` (`n` > 0; slightly biased for huge `n`, which is
    /// fine for sampling).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_is_deterministic_and_fractions_stay_in_range() {
        let mut a = XorShift::new(42);
        let mut b = XorShift::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let f = a.next_fraction();
            b.next_fraction();
            assert!((0.0..1.0).contains(&f));
        }
        let mut zero = XorShift::new(0);
        assert_ne!(zero.next_u64(), 0, "a zero seed must not stick at zero");
    }
}
