//! Token buckets: at most `rate` replies a second to one source address
//! (bursts up to `rate`), and at most `total` a second over all sources.
//!
//! The table of sources is bounded, and a source is forgotten only once its
//! bucket has been idle long enough to be full again: forgetting it then
//! changes nothing, so a flood from many (forged) addresses cannot reset the
//! bucket of the address it wants to flood. While the table is full of
//! sources heard within the last second, new ones share one extra bucket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Source addresses a limiter remembers.
pub const RATE_TABLE: usize = 256;

/// A bucket holds at most one second of its rate, so one idle this long is
/// full, and is forgotten at the next sweep.
pub const IDLE: Duration = Duration::from_secs(1);

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
    /// Shared by the sources that found the table full.
    overflow: Bucket,
    total: Bucket,
    /// When the table is next cleared of idle sources.
    next_sweep: Instant,
}

impl RateLimiter {
    /// At most `per_source` a second to one address, `total` to all.
    pub fn new(per_source: u32, total: u32, now: Instant) -> Self {
        RateLimiter {
            per_source,
            total_rate: total,
            sources: HashMap::new(),
            overflow: Bucket::full(now, per_source),
            total: Bucket::full(now, total),
            next_sweep: now + IDLE,
        }
    }

    /// Takes a token for `source` if both its bucket and the total have one.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if now >= self.next_sweep {
            // Once a second at most, so the cost is O(1) per call however
            // many sources come and go.
            self.sources
                .retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
            self.next_sweep = now + IDLE;
        }
        let per_source = self.per_source;
        let bucket = if self.sources.len() < RATE_TABLE {
            self.sources
                .entry(source)
                .or_insert_with(|| Bucket::full(now, per_source))
        } else {
            match self.sources.get_mut(&source) {
                Some(bucket) => bucket,
                None => &mut self.overflow,
            }
        };
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
    fn many_sources_cannot_reset_a_busy_source() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(1, 1_000_000, t0);
        assert!(limiter.allow(ip(0), t0));
        assert!(!limiter.allow(ip(0), t0), "source 0 used its one token");
        // A flood from ever new addresses, within the same second.
        let mut newcomers = 0;
        for i in 1..=10 * RATE_TABLE as u32 {
            let at = t0 + Duration::from_micros(u64::from(i));
            newcomers += usize::from(limiter.allow(ip(i), at));
            assert!(limiter.sources.len() <= RATE_TABLE);
        }
        // The first RATE_TABLE - 1 got a bucket each; the rest shared one.
        assert_eq!(newcomers, RATE_TABLE - 1 + 1);
        // Source 0 is still remembered with its empty bucket.
        assert!(!limiter.allow(ip(0), t0 + Duration::from_millis(1)));
        // A second later everyone is idle and full again, and the sweep
        // makes room for new sources.
        let later = t0 + Duration::from_millis(1100);
        assert!(limiter.allow(ip(0), later));
        assert!(limiter.allow(ip(999_999), later));
        assert!(limiter.sources.len() <= 2, "idle sources were swept");
    }
}
