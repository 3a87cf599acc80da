//! The bounded table of senders' streams: accepting arrivals, releasing
//! them in order, giving up gaps, forgetting idle senders.

use super::stream::{Held, Stream, remember_skipped, set_waiting};
use super::{
    Arrived, FORGET_AFTER, Gap, MAX_AHEAD, MAX_HELD_BYTES, MAX_ORDER_SENDERS, Release, Verdict,
};
use crate::net::PeerAddr;
use crate::reliable::ranges::RangeSet;
use hashlink::LinkedHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Per-sender delivery state, bounded in senders and held bytes; every
/// operation is O(1) or O(log n) in the number of senders.
#[derive(Debug)]
pub struct Streams {
    /// Least recently active first.
    pub(super) streams: LinkedHashMap<u64, Stream>,
    /// `(waiting_since, sender)` of the streams holding messages.
    pub(super) waiting: BTreeSet<(Instant, u64)>,
    pub(super) held_bytes: usize,
    pub(super) gap_wait: Duration,
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
