//! Exactly-once, in-order display of acknowledged messages: one bounded
//! window per sender. Knows no sockets; the listener feeds it and acts on
//! what it says.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Senders tracked at once; the least recently active is evicted first.
pub const MAX_SENDERS: usize = 1024;
/// How far ahead of the next expected message a sender may run; later
/// messages are not acknowledged (the sender retransmits them).
pub const MAX_AHEAD: u64 = 1024;
/// Bytes of out-of-order bodies held, over all senders.
pub const MAX_HELD_BYTES: usize = 8 << 20;
/// Skipped ranges remembered per sender (so a late copy is not shown).
const MAX_SKIPPED: usize = 64;
/// A sender is forgotten (to make room) only after this long without a
/// message: longer than any sender retransmits, so forgetting it cannot make
/// a retransmission look new. While every tracked sender is more recent, new
/// senders are refused (not acknowledged; they retry).
pub const EVICT_IDLE: Duration = Duration::from_secs(30);

/// A message held until the ones before it arrive.
#[derive(Debug, Clone)]
pub struct Held {
    pub sender: u64,
    pub seq: u64,
    pub at: SystemTime,
    pub from: SocketAddr,
    pub name: String,
    pub body: Vec<u8>,
}

/// What to do with an acknowledged-mode message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Show it now, then call [`Streams::pop_ready`] for held successors.
    ShowNow,
    /// Stored until the gap before it fills (acknowledge it).
    Held,
    /// Already shown or already held: acknowledge again, show nothing.
    Duplicate,
    /// Given up on earlier (its gap was released): neither show nor acknowledge.
    Skipped,
    /// Too far ahead or no room: neither show nor acknowledge (the sender retries).
    Refused,
}

/// Messages `first..=last` of a sender never arrived and were given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub sender: u64,
    pub first: u64,
    pub last: u64,
    pub from: SocketAddr,
}

#[derive(Debug)]
struct Stream {
    next: u64,
    held: BTreeMap<u64, Held>,
    skipped: VecDeque<(u64, u64)>,
    last_active: Instant,
    /// Since when the oldest gap has been waiting.
    waiting_since: Option<Instant>,
}

/// Per-sender delivery state, bounded in senders and held bytes.
#[derive(Debug)]
pub struct Streams {
    streams: HashMap<u64, Stream>,
    held_bytes: usize,
    /// Messages held over all senders: with none, there is no gap to time
    /// and the per-wake checks return at once.
    held_count: usize,
    gap_wait: Duration,
}

impl Streams {
    /// `gap_wait`: how long a later message waits for a missing earlier one
    /// before the gap is given up and reported.
    pub fn new(gap_wait: Duration) -> Self {
        Streams {
            streams: HashMap::new(),
            held_bytes: 0,
            held_count: 0,
            gap_wait,
        }
    }

    /// Decides what to do with message `seq` from `sender`. With
    /// [`Verdict::Held`] the message was stored (copied).
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        &mut self,
        sender: u64,
        seq: u64,
        name: &str,
        body: &[u8],
        from: SocketAddr,
        at: SystemTime,
        now: Instant,
        evicted: &mut Vec<Held>,
    ) -> Verdict {
        if !self.streams.contains_key(&sender)
            && self.streams.len() >= MAX_SENDERS
            && !self.evict_idle(now, evicted)
        {
            return Verdict::Refused;
        }
        let stream = self.streams.entry(sender).or_insert_with(|| Stream {
            next: 0,
            held: BTreeMap::new(),
            skipped: VecDeque::new(),
            last_active: now,
            waiting_since: None,
        });
        stream.last_active = now;
        if seq < stream.next {
            let skipped = stream.skipped.iter().any(|&(a, b)| a <= seq && seq <= b);
            return if skipped {
                Verdict::Skipped
            } else {
                Verdict::Duplicate
            };
        }
        if seq == stream.next {
            stream.next += 1;
            return Verdict::ShowNow;
        }
        if stream.held.contains_key(&seq) {
            return Verdict::Duplicate;
        }
        let size = body.len() + name.len();
        if seq - stream.next > MAX_AHEAD || self.held_bytes + size > MAX_HELD_BYTES {
            return Verdict::Refused;
        }
        self.held_bytes += size;
        self.held_count += 1;
        stream.held.insert(
            seq,
            Held {
                sender,
                seq,
                at,
                from,
                name: name.to_string(),
                body: body.to_vec(),
            },
        );
        stream.waiting_since.get_or_insert(now);
        Verdict::Held
    }

    /// The next held message of `sender` that is now in order, if any.
    pub fn pop_ready(&mut self, sender: u64, now: Instant) -> Option<Held> {
        let stream = self.streams.get_mut(&sender)?;
        let entry = stream.held.first_entry()?;
        if *entry.key() != stream.next {
            return None;
        }
        let held = entry.remove();
        stream.next += 1;
        self.held_bytes -= held.body.len() + held.name.len();
        self.held_count -= 1;
        stream.waiting_since = match stream.held.first_key_value() {
            None => None,
            // A gap filled and another is now first: it waits afresh.
            Some((&first, _)) if first != stream.next => Some(now),
            Some(_) => stream.waiting_since,
        };
        Some(held)
    }

    /// When the oldest gap will be given up, if any message is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.held_count == 0 {
            return None;
        }
        self.streams
            .values()
            .filter_map(|s| s.waiting_since)
            .min()
            .map(|t| t + self.gap_wait)
    }

    /// Gives up one gap whose wait is over (or, with `force`, any gap):
    /// the stream skips to its first held message. Call [`Self::pop_ready`]
    /// for that sender next.
    pub fn expire(&mut self, now: Instant, force: bool) -> Option<Gap> {
        if self.held_count == 0 {
            return None;
        }
        let gap_wait = self.gap_wait;
        let (&sender, stream) = self.streams.iter_mut().find(|(_, s)| {
            s.waiting_since
                .is_some_and(|t| force || now.saturating_duration_since(t) >= gap_wait)
        })?;
        let (&first_held, held) = stream.held.first_key_value()?;
        let gap = Gap {
            sender,
            first: stream.next,
            last: first_held - 1,
            from: held.from,
        };
        if stream.skipped.len() >= MAX_SKIPPED {
            stream.skipped.pop_front();
        }
        stream.skipped.push_back((gap.first, gap.last));
        stream.next = first_held;
        // Later gaps of this stream get a fresh wait.
        stream.waiting_since = Some(now);
        Some(gap)
    }

    /// Forgets the least recently active sender if it has been idle for
    /// [`EVICT_IDLE`]; its held messages go to `evicted` (to be shown, not
    /// lost). Returns whether room was made.
    fn evict_idle(&mut self, now: Instant, evicted: &mut Vec<Held>) -> bool {
        let Some((&sender, stream)) = self.streams.iter().min_by_key(|(_, s)| s.last_active) else {
            return false;
        };
        if now.saturating_duration_since(stream.last_active) < EVICT_IDLE {
            return false;
        }
        if let Some(stream) = self.streams.remove(&sender) {
            for (_, held) in stream.held {
                self.held_bytes -= held.body.len() + held.name.len();
                self.held_count -= 1;
                evicted.push(held);
            }
        }
        true
    }

    /// Senders currently tracked.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no sender is tracked.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> (SocketAddr, SystemTime, Instant) {
        (
            "127.0.0.1:1".parse().unwrap(),
            SystemTime::now(),
            Instant::now(),
        )
    }

    #[test]
    fn in_order_duplicates_and_reordering() {
        let (from, t, now) = at();
        let mut s = Streams::new(Duration::from_secs(1));
        let mut ev = Vec::new();
        assert_eq!(
            s.accept(7, 0, "a", b"0", from, t, now, &mut ev),
            Verdict::ShowNow
        );
        assert_eq!(
            s.accept(7, 0, "a", b"0", from, t, now, &mut ev),
            Verdict::Duplicate
        );
        assert_eq!(
            s.accept(7, 2, "a", b"2", from, t, now, &mut ev),
            Verdict::Held
        );
        assert_eq!(
            s.accept(7, 2, "a", b"2", from, t, now, &mut ev),
            Verdict::Duplicate
        );
        assert!(s.pop_ready(7, now).is_none());
        assert_eq!(
            s.accept(7, 1, "a", b"1", from, t, now, &mut ev),
            Verdict::ShowNow
        );
        assert_eq!(s.pop_ready(7, now).map(|h| h.seq), Some(2));
        assert!(s.pop_ready(7, now).is_none());
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn gap_is_released_after_wait_and_late_copy_is_skipped() {
        let (from, t, now) = at();
        let mut s = Streams::new(Duration::from_millis(100));
        let mut ev = Vec::new();
        assert_eq!(
            s.accept(1, 3, "a", b"3", from, t, now, &mut ev),
            Verdict::Held
        );
        assert!(s.expire(now, false).is_none());
        let later = now + Duration::from_millis(150);
        let gap = s.expire(later, false).unwrap();
        assert_eq!((gap.first, gap.last), (0, 2));
        assert_eq!(s.pop_ready(1, later).map(|h| h.seq), Some(3));
        assert_eq!(
            s.accept(1, 1, "a", b"1", from, t, later, &mut ev),
            Verdict::Skipped
        );
        assert_eq!(
            s.accept(1, 3, "a", b"3", from, t, later, &mut ev),
            Verdict::Duplicate
        );
        assert_eq!(
            s.accept(1, 4, "a", b"4", from, t, later, &mut ev),
            Verdict::ShowNow
        );
    }

    #[test]
    fn far_ahead_is_refused_and_senders_are_bounded() {
        let (from, t, now) = at();
        let mut s = Streams::new(Duration::from_secs(1));
        let mut ev = Vec::new();
        assert_eq!(
            s.accept(1, MAX_AHEAD + 5, "a", b"x", from, t, now, &mut ev),
            Verdict::Refused
        );
        for sender in 0..MAX_SENDERS as u64 {
            s.accept(sender + 100, 1, "a", b"x", from, t, now, &mut ev);
        }
        assert_eq!(s.len(), MAX_SENDERS);
        // A full table of recent senders refuses a new one...
        assert_eq!(
            s.accept(7, 0, "a", b"x", from, t, now, &mut ev),
            Verdict::Refused
        );
        assert!(ev.is_empty());
        // ...and once the oldest is idle long enough, it makes room, handing
        // back its held message rather than losing it.
        let later = now + EVICT_IDLE;
        assert_eq!(
            s.accept(7, 0, "a", b"x", from, t, later, &mut ev),
            Verdict::ShowNow
        );
        assert_eq!(s.len(), MAX_SENDERS);
        assert_eq!(ev.len(), 1);
    }
}
