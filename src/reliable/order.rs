//! Exactly-once, in-order display of acknowledged messages: one bounded
//! window per sender. Knows no sockets; the listener feeds it arrivals and
//! shows what it releases, in the order released.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Senders tracked at once; the least recently active is evicted first.
pub const MAX_ORDER_SENDERS: usize = 1024;
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

/// An acknowledged-mode message as it arrived (borrowed from the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrived<'a> {
    pub sender: u64,
    pub seq: u64,
    pub name: &'a str,
    pub body: &'a [u8],
    pub from: SocketAddr,
    pub at: SystemTime,
}

/// What the caller shows, in the order [`Streams`] releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release<'a> {
    /// A message, now in order (the one just accepted, or one held for it).
    Message(Arrived<'a>),
    /// Messages `first..=last` of a sender never arrived and were given up on.
    Gap(Gap),
}

/// What happened to an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In order: it was released (with any held successors); acknowledge it.
    Shown,
    /// Stored until the gap before it fills; acknowledge it.
    Held,
    /// Already shown or already held: acknowledge again, show nothing.
    Duplicate,
    /// Given up on earlier (its gap was released): neither show nor acknowledge.
    Skipped,
    /// Too far ahead or no room: neither show nor acknowledge (the sender retries).
    Refused,
}

impl Verdict {
    /// Whether the sender should get an acknowledgement.
    pub fn acknowledged(self) -> bool {
        matches!(self, Verdict::Shown | Verdict::Held | Verdict::Duplicate)
    }
}

/// Messages `first..=last` of a sender never arrived and were given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub sender: u64,
    pub first: u64,
    pub last: u64,
    pub from: SocketAddr,
}

/// A message held until the ones before it arrive (owned copy).
#[derive(Debug, Clone)]
struct Held {
    at: SystemTime,
    from: SocketAddr,
    name: String,
    body: Vec<u8>,
}

impl Held {
    fn cost(&self) -> usize {
        self.body.len() + self.name.len()
    }

    /// Message `seq` of `sender`, as it arrived.
    fn arrived(&self, sender: u64, seq: u64) -> Arrived<'_> {
        Arrived {
            sender,
            seq,
            name: &self.name,
            body: &self.body,
            from: self.from,
            at: self.at,
        }
    }
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

    /// Decides what to do with `msg` and hands `show` everything that is
    /// now to be shown, in order: the held messages of a sender pushed out
    /// of the table (so nothing accepted is lost), then `msg` itself when it
    /// is next, then the held messages that follow it. Stops at `show`'s
    /// first error.
    pub fn accept<E>(
        &mut self,
        msg: Arrived<'_>,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<Verdict, E> {
        if !self.streams.contains_key(&msg.sender)
            && self.streams.len() >= MAX_ORDER_SENDERS
            && !self.evict_idle(now, show)?
        {
            return Ok(Verdict::Refused);
        }
        let stream = self.streams.entry(msg.sender).or_insert_with(|| Stream {
            next: 0,
            held: BTreeMap::new(),
            skipped: VecDeque::new(),
            last_active: now,
            waiting_since: None,
        });
        stream.last_active = now;
        if msg.seq < stream.next {
            let skipped = stream
                .skipped
                .iter()
                .any(|&(a, b)| a <= msg.seq && msg.seq <= b);
            return Ok(if skipped {
                Verdict::Skipped
            } else {
                Verdict::Duplicate
            });
        }
        if msg.seq == stream.next {
            stream.next += 1;
            show(Release::Message(msg))?;
            self.release_ready(msg.sender, now, show)?;
            return Ok(Verdict::Shown);
        }
        if stream.held.contains_key(&msg.seq) {
            return Ok(Verdict::Duplicate);
        }
        let held = Held {
            at: msg.at,
            from: msg.from,
            name: msg.name.to_string(),
            body: msg.body.to_vec(),
        };
        if msg.seq - stream.next > MAX_AHEAD || self.held_bytes + held.cost() > MAX_HELD_BYTES {
            return Ok(Verdict::Refused);
        }
        self.held_bytes += held.cost();
        self.held_count += 1;
        stream.held.insert(msg.seq, held);
        stream.waiting_since.get_or_insert(now);
        Ok(Verdict::Held)
    }

    /// Shows the held messages of `sender` that are now in order.
    fn release_ready<E>(
        &mut self,
        sender: u64,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(stream) = self.streams.get_mut(&sender) else {
            return Ok(());
        };
        while let Some(entry) = stream.held.first_entry() {
            if *entry.key() != stream.next {
                break;
            }
            let seq = *entry.key();
            let held = entry.remove();
            stream.next += 1;
            self.held_bytes -= held.cost();
            self.held_count -= 1;
            stream.waiting_since = match stream.held.first_key_value() {
                None => None,
                // A gap filled and another is now first: it waits afresh.
                Some((&first, _)) if first != stream.next => Some(now),
                Some(_) => stream.waiting_since,
            };
            show(Release::Message(held.arrived(sender, seq)))?;
        }
        Ok(())
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

    /// Gives up every gap whose wait is over (with `force`, every gap):
    /// shows each as a [`Release::Gap`], followed by the messages that
    /// waited for it.
    pub fn expire<E>(
        &mut self,
        now: Instant,
        force: bool,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(gap) = self.expire_one(now, force) {
            show(Release::Gap(gap))?;
            self.release_ready(gap.sender, now, show)?;
        }
        Ok(())
    }

    /// Gives up one due gap: the stream skips to its first held message.
    fn expire_one(&mut self, now: Instant, force: bool) -> Option<Gap> {
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
    /// [`EVICT_IDLE`], showing its held messages first (accepted, so never
    /// lost). Returns whether room was made.
    fn evict_idle<E>(
        &mut self,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some((&sender, stream)) = self.streams.iter().min_by_key(|(_, s)| s.last_active) else {
            return Ok(false);
        };
        if now.saturating_duration_since(stream.last_active) < EVICT_IDLE {
            return Ok(false);
        }
        let Some(stream) = self.streams.remove(&sender) else {
            return Ok(false);
        };
        for (seq, held) in stream.held {
            self.held_bytes -= held.cost();
            self.held_count -= 1;
            show(Release::Message(held.arrived(sender, seq)))?;
        }
        Ok(true)
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
    use std::convert::Infallible;

    /// Drives a [`Streams`] and records what it releases: seqs of messages,
    /// `(first, last)` of gaps.
    struct Harness {
        streams: Streams,
        from: SocketAddr,
        at: SystemTime,
        shown: Vec<(u64, u64)>,
        gaps: Vec<(u64, u64)>,
    }

    impl Harness {
        fn new(gap_wait: Duration) -> Self {
            Harness {
                streams: Streams::new(gap_wait),
                from: "127.0.0.1:1".parse().unwrap(),
                at: SystemTime::now(),
                shown: Vec::new(),
                gaps: Vec::new(),
            }
        }

        fn record<'a>(
            shown: &'a mut Vec<(u64, u64)>,
            gaps: &'a mut Vec<(u64, u64)>,
        ) -> impl FnMut(Release<'_>) -> Result<(), Infallible> + 'a {
            move |r| {
                match r {
                    Release::Message(m) => shown.push((m.sender, m.seq)),
                    Release::Gap(g) => gaps.push((g.first, g.last)),
                }
                Ok(())
            }
        }

        fn accept(&mut self, sender: u64, seq: u64, now: Instant) -> Verdict {
            let msg = Arrived {
                sender,
                seq,
                name: "a",
                body: b"x",
                from: self.from,
                at: self.at,
            };
            let mut show = Self::record(&mut self.shown, &mut self.gaps);
            let Ok(v) = self.streams.accept(msg, now, &mut show);
            v
        }

        fn expire(&mut self, now: Instant, force: bool) {
            let mut show = Self::record(&mut self.shown, &mut self.gaps);
            let Ok(()) = self.streams.expire(now, force, &mut show);
        }

        fn seqs(&self) -> Vec<u64> {
            self.shown.iter().map(|&(_, s)| s).collect()
        }
    }

    #[test]
    fn in_order_duplicates_and_reordering() {
        let now = Instant::now();
        let mut h = Harness::new(Duration::from_secs(1));
        assert_eq!(h.accept(7, 0, now), Verdict::Shown);
        assert_eq!(h.accept(7, 0, now), Verdict::Duplicate);
        assert_eq!(h.accept(7, 2, now), Verdict::Held);
        assert_eq!(h.accept(7, 2, now), Verdict::Duplicate);
        assert_eq!(h.seqs(), [0]);
        assert_eq!(h.accept(7, 1, now), Verdict::Shown);
        assert_eq!(h.seqs(), [0, 1, 2], "1 releases the held 2");
        assert_eq!(h.streams.next_deadline(), None);
    }

    #[test]
    fn gap_is_released_after_wait_and_late_copy_is_skipped() {
        let now = Instant::now();
        let mut h = Harness::new(Duration::from_millis(100));
        assert_eq!(h.accept(1, 3, now), Verdict::Held);
        h.expire(now, false);
        assert!(h.gaps.is_empty());
        let later = now + Duration::from_millis(150);
        h.expire(later, false);
        assert_eq!(h.gaps, [(0, 2)]);
        assert_eq!(h.seqs(), [3]);
        assert_eq!(h.accept(1, 1, later), Verdict::Skipped);
        assert_eq!(h.accept(1, 3, later), Verdict::Duplicate);
        assert_eq!(h.accept(1, 4, later), Verdict::Shown);
        assert!(!Verdict::Skipped.acknowledged() && !Verdict::Refused.acknowledged());
    }

    #[test]
    fn far_ahead_is_refused_and_senders_are_bounded() {
        let now = Instant::now();
        let mut h = Harness::new(Duration::from_secs(1));
        assert_eq!(h.accept(1, MAX_AHEAD + 5, now), Verdict::Refused);
        for sender in 0..MAX_ORDER_SENDERS as u64 {
            h.accept(sender + 100, 1, now);
        }
        assert_eq!(h.streams.len(), MAX_ORDER_SENDERS);
        // A full table of recent senders refuses a new one...
        assert_eq!(h.accept(7, 0, now), Verdict::Refused);
        assert!(h.shown.is_empty());
        // ...and once the oldest is idle long enough, it makes room, showing
        // its held message rather than losing it, before the new one.
        let later = now + EVICT_IDLE;
        assert_eq!(h.accept(7, 0, later), Verdict::Shown);
        assert_eq!(h.streams.len(), MAX_ORDER_SENDERS);
        assert_eq!(h.shown.len(), 2);
        assert_eq!(h.shown[1], (7, 0));
    }

    #[test]
    fn each_gap_waits_the_full_gap_wait() {
        let wait = Duration::from_secs(6);
        let t0 = Instant::now();
        let mut h = Harness::new(wait);
        h.accept(9, 0, t0);
        // 1 is missing: 2 waits from t0.
        h.accept(9, 2, t0);
        // Just before that wait ends, 4 arrives (3 is missing too), then 1:
        // 1 and 2 are shown, and 4 has waited for 3 only since `late`.
        let late = t0 + Duration::from_millis(5900);
        h.accept(9, 4, late);
        h.accept(9, 1, late);
        assert_eq!(h.seqs(), [0, 1, 2]);
        h.expire(t0 + Duration::from_millis(6100), false);
        assert!(
            h.gaps.is_empty(),
            "gap 3..=3 given up after 200 ms instead of {wait:?}"
        );
        assert_eq!(h.streams.next_deadline(), Some(late + wait));
    }

    #[test]
    fn a_sender_pushed_out_of_the_table_is_not_shown_twice() {
        let t0 = Instant::now();
        let mut h = Harness::new(Duration::from_secs(6));
        assert_eq!(h.accept(1, 0, t0), Verdict::Shown);
        // One datagram each from MAX_ORDER_SENDERS other ids (a spoofer can
        // send them in a millisecond) must not push sender 1 out of the table.
        let later = t0 + Duration::from_millis(1);
        for other in 0..MAX_ORDER_SENDERS as u64 {
            h.accept(1000 + other, 0, later);
        }
        // Sender 1 retransmits 0 because the ack was lost: it was already shown.
        assert_eq!(
            h.accept(1, 0, later),
            Verdict::Duplicate,
            "message 0 shown twice"
        );
    }

    #[test]
    fn forced_expiry_releases_everything_held() {
        let now = Instant::now();
        let mut h = Harness::new(Duration::from_secs(60));
        h.accept(5, 2, now);
        h.accept(5, 5, now);
        h.expire(now, true);
        assert_eq!(h.gaps, [(0, 1), (3, 4)]);
        assert_eq!(h.seqs(), [2, 5]);
        assert_eq!(h.streams.next_deadline(), None);
    }
}
