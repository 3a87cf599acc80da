//! Recently shown `(sender, seq)` pairs, so one message that arrives twice
//! (a broadcast heard on two interfaces, a duplicating network) is shown
//! once. Bounded in count and in time.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Pairs remembered at most; the oldest is forgotten first.
pub const RECENT_PAIRS: usize = 4096;
/// How long a pair is remembered: copies of one datagram arrive within
/// milliseconds of each other.
pub const RECENT_FOR: Duration = Duration::from_secs(5);

/// A bounded, time-limited set of `(sender, seq)` pairs.
#[derive(Debug, Default)]
pub struct Recent {
    set: HashSet<(u64, u64)>,
    order: VecDeque<(Instant, (u64, u64))>,
}

impl Recent {
    /// True the first time `(sender, seq)` is seen (within the bounds),
    /// false for a copy.
    pub fn first_time(&mut self, sender: u64, seq: u64, now: Instant) -> bool {
        while let Some(&(at, pair)) = self.order.front() {
            if self.order.len() < RECENT_PAIRS && now.saturating_duration_since(at) < RECENT_FOR {
                break;
            }
            self.order.pop_front();
            self.set.remove(&pair);
        }
        if !self.set.insert((sender, seq)) {
            return false;
        }
        self.order.push_back((now, (sender, seq)));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_caught_within_the_bounds_and_forgotten_after() {
        let t0 = Instant::now();
        let mut recent = Recent::default();
        assert!(recent.first_time(1, 0, t0));
        assert!(!recent.first_time(1, 0, t0));
        assert!(recent.first_time(1, 1, t0));
        assert!(recent.first_time(2, 0, t0));
        assert!(
            recent.first_time(1, 0, t0 + RECENT_FOR),
            "forgotten after its time"
        );
        for seq in 0..RECENT_PAIRS as u64 {
            recent.first_time(9, seq, t0 + RECENT_FOR);
        }
        assert!(recent.set.len() <= RECENT_PAIRS);
        assert!(
            recent.first_time(1, 0, t0 + RECENT_FOR),
            "pushed out by newer pairs"
        );
    }
}
