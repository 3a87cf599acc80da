//! Replay protection for sealed datagrams: a sliding window over each
//! sender's counter (RFC 6479 style) in a bounded table of senders.

use std::collections::HashMap;
use std::time::SystemTime;

/// Counters remembered per sender below the highest seen.
pub const REPLAY_WINDOW: u64 = 1024;
/// Senders whose replay windows are kept; the least recently heard is evicted.
pub const MAX_REPLAY_SENDERS: usize = 4096;

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
    last: SystemTime,
}

impl Window {
    pub(super) fn new(counter: u64, micros: u64, now: SystemTime) -> Self {
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

/// The replay state of every sender heard, bounded.
#[derive(Debug, Default)]
pub struct Replay {
    windows: HashMap<u64, Window>,
    /// The newest datagram time of any sender whose window was evicted: an
    /// unknown sender's datagram must be newer, or it may be a replay of a
    /// forgotten sender's.
    evicted_horizon: u64,
}

impl Replay {
    /// True (and recorded) when datagram `counter` of `sender`, sealed at
    /// `micros`, was not seen before.
    pub fn check_and_mark(
        &mut self,
        sender: u64,
        counter: u64,
        micros: u64,
        now: SystemTime,
    ) -> bool {
        match self.windows.get_mut(&sender) {
            Some(window) => {
                let fresh = window.check_and_mark(counter);
                if fresh {
                    window.last = now;
                    window.newest = window.newest.max(micros);
                }
                fresh
            }
            None if micros <= self.evicted_horizon => false,
            None => {
                if self.windows.len() >= MAX_REPLAY_SENDERS {
                    self.evict_oldest();
                }
                self.windows
                    .insert(sender, Window::new(counter, micros, now));
                true
            }
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.last)
            .map(|(s, _)| *s);
        if let Some(window) = oldest.and_then(|s| self.windows.remove(&s)) {
            self.evicted_horizon = self.evicted_horizon.max(window.newest);
        }
    }

    /// Senders whose windows are kept.
    pub fn senders(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_accepts_reordering_and_refuses_repeats() {
        let now = SystemTime::now();
        let mut w = Window::new(100, 0, now);
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
}
