//! Token buckets: at most `rate` replies a second to one source address
//! (bursts up to `rate`), and at most `total` a second over all sources.
//! The table of sources is bounded; the least recently used is forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Source addresses a limiter remembers.
pub const RATE_TABLE: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(now: Instant, burst: u32) -> Self {
        Bucket {
            tokens: f64::from(burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant, rate: u32) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(rate));
        self.last = now;
    }
}

/// A per-source and an overall token bucket.
#[derive(Debug)]
pub struct RateLimiter {
    per_source: u32,
    total_rate: u32,
    sources: HashMap<IpAddr, Bucket>,
    total: Bucket,
}

impl RateLimiter {
    /// At most `per_source` a second to one address, `total` to all.
    pub fn new(per_source: u32, total: u32, now: Instant) -> Self {
        RateLimiter {
            per_source,
            total_rate: total,
            sources: HashMap::new(),
            total: Bucket::full(now, total),
        }
    }

    /// Takes a token for `source` if both its bucket and the total have one.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if !self.sources.contains_key(&source) && self.sources.len() >= RATE_TABLE {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.sources.remove(&ip);
            }
        }
        let per_source = self.per_source;
        let bucket = self
            .sources
            .entry(source)
            .or_insert_with(|| Bucket::full(now, per_source));
        bucket.refill(now, per_source);
        self.total.refill(now, self.total_rate);
        if bucket.tokens < 1.0 || self.total.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        self.total.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(30, 200, t0);
        let allowed = (0..100).filter(|_| limiter.allow(ip(1), t0)).count();
        assert_eq!(allowed, 30, "the burst is the rate");
        // Half a second later, half a second's worth of tokens.
        let later = t0 + Duration::from_millis(500);
        let allowed = (0..100).filter(|_| limiter.allow(ip(1), later)).count();
        assert_eq!(allowed, 15);
        // Another source has its own bucket.
        assert!(limiter.allow(ip(2), later));
    }

    #[test]
    fn the_total_caps_many_sources() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(30, 200, t0);
        let allowed = (0..1000).filter(|&i| limiter.allow(ip(i), t0)).count();
        assert_eq!(allowed, 200);
        let later = t0 + Duration::from_secs(1);
        let allowed = (1000..2000)
            .filter(|&i| limiter.allow(ip(i), later))
            .count();
        assert_eq!(allowed, 200, "refilled to the total rate, not beyond");
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_least_recent() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(1, 1_000_000, t0);
        assert!(limiter.allow(ip(0), t0));
        assert!(!limiter.allow(ip(0), t0), "source 0 used its one token");
        for i in 1..=RATE_TABLE as u32 {
            limiter.allow(ip(i), t0 + Duration::from_micros(u64::from(i)));
        }
        assert_eq!(limiter.sources.len(), RATE_TABLE);
        // Source 0 was forgotten, so it starts with a full bucket again.
        assert!(limiter.allow(ip(0), t0 + Duration::from_millis(1)));
    }
}
