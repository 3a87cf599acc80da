//! Exactly-once, in-order display of acknowledged messages: one window per
//! sender, in a bounded table. Knows no sockets; the listener feeds it
//! arrivals, shows what it releases in the order released, and builds its
//! acknowledgements from [`Streams::ack_state`].
//!
//! Every acknowledged Text carries its sender's `base`: the lowest message
//! the sender still wants delivered. A sender the table does not know (new,
//! forgotten, or known to a previous run of the listener) starts at its
//! base; a known sender whose base moved past a missing message has given
//! it up, and the gap is released at once instead of after the gap wait.
//! So a sender needs a slot only while it is active: one idle for
//! [`FORGET_AFTER`] (longer than any sender retries a message) can go, and
//! a one-shot sender costs one compact entry for that long.

use super::ranges::RangeSet;
use crate::net::{Cred, PeerAddr};
use hashlink::LinkedHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

/// Senders tracked at once; beyond that, new senders are refused
/// explicitly while every tracked one was active within [`FORGET_AFTER`].
pub const MAX_ORDER_SENDERS: usize = 65_536;
/// How far ahead of the next expected message a sender may run; later
/// messages are not acknowledged (the sender retransmits them).
pub const MAX_AHEAD: u64 = 8192;
/// What held (out-of-order) messages may cost in all, in bytes: their
/// bodies and names plus [`HELD_OVERHEAD`] each.
pub const MAX_HELD_BYTES: usize = 8 << 20;
/// What holding one message costs beyond its body and name: its record,
/// its share of the map's nodes and the allocator's headers (measured
/// generously: an empty held message is never free).
pub const HELD_OVERHEAD: usize = 160;
/// Skipped ranges remembered per sender (so a late copy is not shown).
const MAX_SKIPPED: usize = 64;
/// A sender idle this long is forgotten when room is needed: longer than
/// any sender retransmits one message (4 s), so forgetting it cannot make a
/// retransmission look new.
pub const FORGET_AFTER: Duration = Duration::from_secs(10);

/// An acknowledged-mode message as it arrived (borrowed from the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrived<'a> {
    pub sender: u64,
    pub seq: u64,
    /// The sender's lowest message still wanted (at most `seq`).
    pub base: u64,
    /// The Text's flags: what the body is (a message, or a file record).
    pub flags: u8,
    pub name: &'a str,
    pub body: &'a [u8],
    pub from: &'a PeerAddr,
    /// The sender's credentials, when the kernel reported them.
    pub cred: Option<Cred>,
    pub at: SystemTime,
}

/// What the caller shows, in the order [`Streams`] releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release<'a> {
    /// A message, now in order (the one just accepted, or one held for it).
    Message(Arrived<'a>),
    /// Messages `first..=last` of a sender never arrived and were given up on.
    Gap(Gap<'a>),
}

/// What happened to an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In order: it was released (with any held successors).
    Shown,
    /// Stored until the gap before it fills.
    Held,
    /// Already shown or already held.
    Duplicate,
    /// Given up on earlier (its gap was released): never shown.
    Skipped,
    /// Too far ahead, or no room to hold it: the sender retries.
    Refused,
    /// The table of senders is full of active ones: the sender is told.
    Busy,
}

impl Verdict {
    /// Whether the sender should get an acknowledgement (of the stream's
    /// state, [`Streams::ack_state`]).
    pub fn acknowledged(self) -> bool {
        matches!(self, Verdict::Shown | Verdict::Held | Verdict::Duplicate)
    }
}

/// Messages `first..=last` of a sender never arrived and were given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap<'a> {
    pub sender: u64,
    pub first: u64,
    pub last: u64,
    pub from: &'a PeerAddr,
}

/// A message held until the ones before it arrive (owned copy).
#[derive(Debug, Clone)]
struct Held {
    base: u64,
    flags: u8,
    at: SystemTime,
    from: PeerAddr,
    cred: Option<Cred>,
    name: String,
    body: Vec<u8>,
}

impl Held {
    fn cost(&self) -> usize {
        self.body.len() + self.name.len() + HELD_OVERHEAD
    }

    /// Message `seq` of `sender`, as it arrived.
    fn arrived(&self, sender: u64, seq: u64) -> Arrived<'_> {
        Arrived {
            sender,
            seq,
            base: self.base,
            flags: self.flags,
            name: &self.name,
            body: &self.body,
            from: &self.from,
            cred: self.cred,
            at: self.at,
        }
    }
}

/// One sender's state. Without held messages it is a compact record (the
/// empty map and list allocate nothing).
#[derive(Debug)]
struct Stream {
    next: u64,
    held: BTreeMap<u64, Held>,
    /// The keys of `held`, as ranges (for acknowledgements).
    held_ranges: RangeSet,
    skipped: Vec<(u64, u64)>,
    last_active: Instant,
    /// Since when the oldest gap has been waiting (while anything is held).
    waiting_since: Option<Instant>,
}

/// Per-sender delivery state, bounded in senders and held bytes; every
/// operation is O(1) or O(log n) in the number of senders.
#[derive(Debug)]
pub struct Streams {
    /// Least recently active first.
    streams: LinkedHashMap<u64, Stream>,
    /// `(waiting_since, sender)` of the streams holding messages.
    waiting: BTreeSet<(Instant, u64)>,
    held_bytes: usize,
    gap_wait: Duration,
}

impl Streams {
    /// `gap_wait`: how long a later message waits for a missing earlier one
    /// before the gap is given up and reported.
    pub fn new(gap_wait: Duration) -> Self {
        Streams {
            streams: LinkedHashMap::new(),
            waiting: BTreeSet::new(),
            held_bytes: 0,
            gap_wait,
        }
    }

    /// Decides what to do with `msg` and hands `show` everything that is
    /// now to be shown, in order: the held messages of a sender forgotten to
    /// make room (accepted, so never lost), a gap its sender gave up (its
    /// `base` moved past it), then `msg` itself when it is next, then the
    /// held messages that follow it. Stops at `show`'s first error.
    pub fn accept<E>(
        &mut self,
        msg: Arrived<'_>,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<Verdict, E> {
        if !self.streams.contains_key(&msg.sender) {
            if self.streams.len() >= MAX_ORDER_SENDERS && !self.forget_idle(now, show)? {
                return Ok(Verdict::Busy);
            }
            self.streams.insert(
                msg.sender,
                Stream {
                    next: msg.base,
                    held: BTreeMap::new(),
                    held_ranges: RangeSet::default(),
                    skipped: Vec::new(),
                    last_active: now,
                    waiting_since: None,
                },
            );
        }
        self.streams.to_back(&msg.sender);
        let Some(stream) = self.streams.get_mut(&msg.sender) else {
            return Ok(Verdict::Refused);
        };
        stream.last_active = now;
        if msg.base > stream.next {
            self.skip_to(msg.sender, msg.base, msg.from, now, show)?;
        }
        let Some(stream) = self.streams.get_mut(&msg.sender) else {
            return Ok(Verdict::Refused);
        };
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
            base: msg.base,
            flags: msg.flags,
            at: msg.at,
            from: msg.from.clone(),
            cred: msg.cred,
            name: msg.name.to_string(),
            body: msg.body.to_vec(),
        };
        if msg.seq - stream.next > MAX_AHEAD || self.held_bytes + held.cost() > MAX_HELD_BYTES {
            return Ok(Verdict::Refused);
        }
        self.held_bytes += held.cost();
        stream.held.insert(msg.seq, held);
        stream.held_ranges.insert(msg.seq);
        if stream.waiting_since.is_none() {
            set_waiting(&mut self.waiting, msg.sender, stream, Some(now));
        }
        Ok(Verdict::Held)
    }

    /// Whether message `seq` of `sender` (carrying `base`) was accepted
    /// before, released or held, so that accepting it again changes
    /// nothing but its acknowledgement (a stopping listener answers only
    /// such repeats). A message given up on is none; neither is one whose
    /// base would release a gap.
    pub fn is_repeat(&self, sender: u64, seq: u64, base: u64) -> bool {
        let Some(stream) = self.streams.get(&sender) else {
            return false;
        };
        if base > stream.next {
            return false;
        }
        if seq < stream.next {
            return !stream.skipped.iter().any(|&(a, b)| a <= seq && seq <= b);
        }
        stream.held.contains_key(&seq)
    }

    /// What an acknowledgement for `sender` says: every message below
    /// `next` was released, and held ranges, at most `max_ranges`. When
    /// there are more: the lowest quarter (what blocks progress), then
    /// those holding the `recent` arrivals, then the highest (what arrived
    /// last); a sender that keeps what earlier acks said learns them all.
    pub fn ack_state(
        &self,
        sender: u64,
        max_ranges: usize,
        recent: &[u64],
    ) -> Option<(u64, Vec<(u64, u64)>)> {
        let stream = self.streams.get(&sender)?;
        let held = &stream.held_ranges;
        if held.len() <= max_ranges {
            return Some((stream.next, held.lowest().collect()));
        }
        let mut ranges: Vec<(u64, u64)> = held.lowest().take(max_ranges.div_ceil(4)).collect();
        for &seq in recent {
            if ranges.len() >= max_ranges {
                break;
            }
            if let Some(range) = held.range_of(seq)
                && !ranges.contains(&range)
            {
                ranges.push(range);
            }
        }
        for range in held.highest() {
            if ranges.len() >= max_ranges {
                break;
            }
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        ranges.sort_unstable();
        Some((stream.next, ranges))
    }

    /// The sender gave up everything below `base`: release the gap up to it
    /// (held messages in it are shown, the missing ones reported).
    fn skip_to<E>(
        &mut self,
        sender: u64,
        base: u64,
        from: &PeerAddr,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let Some(stream) = self.streams.get_mut(&sender) else {
                return Ok(());
            };
            if stream.next >= base {
                return Ok(());
            }
            let first_held = stream.held.keys().next().copied().filter(|&s| s < base);
            let last = first_held.map_or(base, |s| s) - 1;
            if last >= stream.next {
                let gap = Gap {
                    sender,
                    first: stream.next,
                    last,
                    from,
                };
                remember_skipped(stream, gap.first, gap.last);
                stream.next = last + 1;
                set_waiting(&mut self.waiting, sender, stream, Some(now));
                show(Release::Gap(gap))?;
            }
            self.release_ready(sender, now, show)?;
        }
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
        let mut released = false;
        while let Some(entry) = stream.held.first_entry() {
            if *entry.key() != stream.next {
                break;
            }
            let seq = *entry.key();
            let held = entry.remove();
            stream.held_ranges.remove(seq);
            stream.next += 1;
            released = true;
            self.held_bytes -= held.cost();
            show(Release::Message(held.arrived(sender, seq)))?;
        }
        if released {
            // A gap filled: the next one (if any) waits afresh.
            set_waiting(&mut self.waiting, sender, stream, Some(now));
        }
        Ok(())
    }

    /// When the oldest gap will be given up, if any message is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.first().map(|&(t, _)| t + self.gap_wait)
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
        while let Some(&(since, sender)) = self.waiting.first() {
            if !force && now.saturating_duration_since(since) < self.gap_wait {
                break;
            }
            let Some(stream) = self.streams.get_mut(&sender) else {
                self.waiting.remove(&(since, sender));
                continue;
            };
            let Some((&first_held, held)) = stream.held.first_key_value() else {
                set_waiting(&mut self.waiting, sender, stream, None);
                continue;
            };
            // Owned: the stream changes before the gap is shown.
            let from = held.from.clone();
            let gap = Gap {
                sender,
                first: stream.next,
                last: first_held - 1,
                from: &from,
            };
            remember_skipped(stream, gap.first, gap.last);
            stream.next = first_held;
            // Later gaps of this stream get a fresh wait.
            set_waiting(&mut self.waiting, sender, stream, Some(now));
            show(Release::Gap(gap))?;
            self.release_ready(sender, now, show)?;
        }
        Ok(())
    }

    /// Forgets the least recently active sender if it has been idle for
    /// [`FORGET_AFTER`], showing its held messages first (accepted, so never
    /// lost). Returns whether room was made.
    fn forget_idle<E>(
        &mut self,
        now: Instant,
        show: &mut impl FnMut(Release<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some((_, oldest)) = self.streams.front() else {
            return Ok(false);
        };
        if now.saturating_duration_since(oldest.last_active) < FORGET_AFTER {
            return Ok(false);
        }
        let Some((sender, stream)) = self.streams.pop_front() else {
            return Ok(false);
        };
        if let Some(t) = stream.waiting_since {
            self.waiting.remove(&(t, sender));
        }
        for (seq, held) in stream.held {
            self.held_bytes -= held.cost();
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

    /// Bytes held messages cost now (see [`MAX_HELD_BYTES`]).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}

/// Sets when `stream`'s first gap started waiting (`None` once nothing is
/// held), keeping the set of waiting streams in step.
fn set_waiting(
    waiting: &mut BTreeSet<(Instant, u64)>,
    sender: u64,
    stream: &mut Stream,
    since: Option<Instant>,
) {
    let since = since.filter(|_| !stream.held.is_empty());
    if let Some(t) = stream.waiting_since {
        waiting.remove(&(t, sender));
    }
    if let Some(t) = since {
        waiting.insert((t, sender));
    }
    stream.waiting_since = since;
}

/// Records `first..=last` as given up, so a late copy is not shown.
fn remember_skipped(stream: &mut Stream, first: u64, last: u64) {
    if stream.skipped.len() >= MAX_SKIPPED {
        stream.skipped.remove(0);
    }
    stream.skipped.push((first, last));
}

#[cfg(test)]
mod tests;
