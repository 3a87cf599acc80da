//! Replay protection for sealed datagrams: a sliding window over each
//! sender's counter (RFC 6479 style) in a bounded table of senders.

/// Counters remembered per sender below the highest seen.
pub const REPLAY_WINDOW: u64 = 1024;
/// Senders whose replay windows are kept; the least recently heard is evicted.
pub const MAX_REPLAY_SENDERS: usize = 16384;

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// One sender's window: the highest counter and which of the
/// [`REPLAY_WINDOW`] below it were seen.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// Newest datagram time (microseconds) accepted from this sender.
    newest: u64,
    highest: u64,
    /// Bit i: counter `highest - i` was seen.
    seen: [u64; WORDS],
    /// When this sender was last heard (microseconds since the epoch).
    last: u64,
}

impl Window {
    pub(super) fn new(counter: u64, micros: u64, now: u64) -> Self {
        let mut seen = [0u64; WORDS];
        seen[0] = 1;
        Window {
            newest: micros,
            highest: counter,
            seen,
            last: now,
        }
    }

    fn bit(&self, back: u64) -> bool {
        self.seen[(back / 64) as usize] & (1 << (back % 64)) != 0
    }

    /// Checks `counter` and, if new, records it.
    pub(super) fn check_and_mark(&mut self, counter: u64) -> bool {
        if counter > self.highest {
            let shift = counter - self.highest;
            self.shift(shift);
            self.highest = counter;
            self.seen[0] |= 1;
            return true;
        }
        let back = self.highest - counter;
        if back >= REPLAY_WINDOW || self.bit(back) {
            return false;
        }
        self.seen[(back / 64) as usize] |= 1 << (back % 64);
        true
    }

    /// Moves the window up by `n` counters (older bits fall off).
    fn shift(&mut self, n: u64) {
        if n >= REPLAY_WINDOW {
            self.seen = [0; WORDS];
            return;
        }
        let words = (n / 64) as usize;
        let bits = (n % 64) as u32;
        for i in (0..WORDS).rev() {
            let src = i.checked_sub(words);
            let hi = src.map_or(0, |s| self.seen[s]);
            let lo = src
                .and_then(|s| s.checked_sub(1))
                .map_or(0, |s| self.seen[s]);
            self.seen[i] = if bits == 0 {
                hi
            } else {
                (hi << bits) | (lo >> (64 - bits))
            };
        }
    }
}

/// Buckets of evicted senders' horizons (see [`Replay`]).
pub const HORIZON_BUCKETS: usize = 1 << 16;
/// A sender heard from within this long may still have datagrams in the
/// time window: evicting it must leave a horizon. One heard from longer
/// ago needs none (its datagrams are all stale by their time).
const HORIZON_NEEDED: u64 = super::aead::MAX_SKEW.as_micros() as u64;

/// The replay state of every sender heard, bounded: at most
/// [`MAX_REPLAY_SENDERS`] windows, the least recently heard evicted first
/// (in O(1), by a linked hash map).
///
/// A sender not in the table is checked against two horizons:
/// - `started` (listeners only): it must have sealed its datagram after
///   this receiver started, so a restarted listener refuses what its
///   previous run accepted;
/// - its bucket's horizon: when a sender heard within the time window is
///   evicted, the newest time it used (at most the time of eviction, so a
///   sender with a clock ahead cannot lock anyone out) is kept in one of
///   [`HORIZON_BUCKETS`] buckets chosen by its id, so forgetting it does
///   not reopen its replays. Another sender meets that horizon only when
///   its id falls into the same bucket, and only for datagrams sealed
///   before that eviction: a flood of evictions cannot lock new senders out.
#[derive(Debug)]
pub struct Replay {
    windows: hashlink::LinkedHashMap<u64, Window>,
    started: u64,
    /// Made on the first eviction that needs one (most receivers never do).
    horizons: Option<Box<[u64]>>,
}

impl Replay {
    /// `started`: microseconds since the epoch before which unknown senders'
    /// datagrams are refused (`None`: no such rule).
    pub fn new(started: Option<u64>) -> Self {
        Replay {
            windows: hashlink::LinkedHashMap::new(),
            started: started.unwrap_or(0),
            horizons: None,
        }
    }

    /// True (and recorded) when datagram `counter` of `sender`, sealed at
    /// `micros`, was not seen before; `now` in microseconds since the epoch.
    pub fn check_and_mark(&mut self, sender: u64, counter: u64, micros: u64, now: u64) -> bool {
        if let Some(window) = self.windows.get_mut(&sender) {
            let fresh = window.check_and_mark(counter);
            if fresh {
                window.last = now;
                window.newest = window.newest.max(micros);
                self.windows.to_back(&sender);
            }
            return fresh;
        }
        if micros <= self.started || micros <= self.horizon(sender) {
            return false;
        }
        if self.windows.len() >= MAX_REPLAY_SENDERS {
            self.evict_oldest(now);
        }
        self.windows
            .insert(sender, Window::new(counter, micros, now));
        true
    }

    fn horizon(&self, sender: u64) -> u64 {
        self.horizons.as_ref().map_or(0, |h| h[bucket(sender)])
    }

    fn evict_oldest(&mut self, now: u64) {
        let Some((sender, window)) = self.windows.pop_front() else {
            return;
        };
        if now.saturating_sub(window.last) > HORIZON_NEEDED {
            return;
        }
        let horizons = self
            .horizons
            .get_or_insert_with(|| vec![0; HORIZON_BUCKETS].into_boxed_slice());
        let slot = &mut horizons[bucket(sender)];
        *slot = (*slot).max(window.newest.min(now));
    }

    /// Senders whose windows are kept.
    pub fn senders(&self) -> usize {
        self.windows.len()
    }
}

/// The horizon bucket of a sender id (ids are random: the low bits do).
fn bucket(sender: u64) -> usize {
    (sender as usize) % HORIZON_BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    #[test]
    fn replay_window_accepts_reordering_and_refuses_repeats() {
        let mut w = Window::new(100, 0, 0);
        assert!(w.check_and_mark(99));
        assert!(!w.check_and_mark(99));
        assert!(w.check_and_mark(300));
        assert!(w.check_and_mark(101));
        assert!(!w.check_and_mark(100));
        assert!(w.check_and_mark(300 + REPLAY_WINDOW - 1));
        assert!(!w.check_and_mark(300 - 1), "below the window");
        assert!(!w.check_and_mark(300 + REPLAY_WINDOW - 1));
        assert!(w.check_and_mark(5000));
        assert!(!w.check_and_mark(300 + REPLAY_WINDOW - 1));
    }

    #[test]
    fn a_restarted_receiver_refuses_what_was_sealed_before_it_started() {
        let start = 1000 * SEC;
        let mut replay = Replay::new(Some(start));
        assert!(!replay.check_and_mark(1, 0, start - 1, start + SEC));
        assert!(replay.check_and_mark(1, 1, start + 1, start + SEC));
        // A client keeps no such rule.
        assert!(Replay::new(None).check_and_mark(1, 0, start - 1, start));
    }

    #[test]
    fn an_evicted_sender_stays_refused_and_others_are_not_locked_out() {
        let t0 = 1000 * SEC;
        let mut replay = Replay::new(Some(t0));
        // Sender 0 uses a time far in the future (a skewed or hostile clock).
        let future = t0 + 59 * SEC;
        assert!(replay.check_and_mark(0, 5, future, t0));
        // Fill the table with others: sender 0 is evicted.
        for id in 1..=MAX_REPLAY_SENDERS as u64 {
            assert!(replay.check_and_mark(id << 20, 0, t0 + 1, t0 + 2));
        }
        assert_eq!(replay.senders(), MAX_REPLAY_SENDERS);
        // Its datagrams sealed before the eviction stay refused...
        assert!(!replay.check_and_mark(0, 5, t0 + 1, t0 + 3));
        // ...and a new sender in another bucket, sealing at once, is not
        // locked out by the future time (nor by the bucket of sender 0).
        assert!(replay.check_and_mark(7, 0, t0 + 3, t0 + 3));
        // A new sender in sender 0's bucket is refused only for datagrams
        // sealed before the eviction (capped at its time, t0 + 2).
        let same_bucket = HORIZON_BUCKETS as u64;
        assert!(!replay.check_and_mark(same_bucket, 0, t0 + 2, t0 + 4));
        assert!(replay.check_and_mark(same_bucket, 1, t0 + 4, t0 + 4));
    }

    #[test]
    fn evicting_a_sender_silent_for_longer_than_the_window_leaves_no_horizon() {
        let t0 = 1000 * SEC;
        let mut replay = Replay::new(None);
        assert!(replay.check_and_mark(0, 0, t0, t0));
        let later = t0 + HORIZON_NEEDED + SEC;
        for id in 1..=MAX_REPLAY_SENDERS as u64 {
            replay.check_and_mark(id << 20, 0, later, later);
        }
        assert!(replay.horizons.is_none());
    }
}
