//! One sender's ordering state: its next expected message, the messages
//! held until the gap before them fills, and the ranges given up on.

use super::{Arrived, HELD_OVERHEAD, MAX_SKIPPED};
use crate::net::{Cred, PeerAddr};
use crate::reliable::ranges::RangeSet;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Instant, SystemTime};

/// A message held until the ones before it arrive (owned copy).
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) base: u64,
    pub(super) flags: u8,
    pub(super) at: SystemTime,
    pub(super) from: PeerAddr,
    pub(super) cred: Option<Cred>,
    pub(super) name: String,
    pub(super) body: Vec<u8>,
}

impl Held {
    pub(super) fn cost(&self) -> usize {
        self.body.len() + self.name.len() + HELD_OVERHEAD
    }

    /// Message `seq` of `sender`, as it arrived.
    pub(super) fn arrived(&self, sender: u64, seq: u64) -> Arrived<'_> {
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
pub(super) struct Stream {
    pub(super) next: u64,
    pub(super) held: BTreeMap<u64, Held>,
    /// The keys of `held`, as ranges (for acknowledgements).
    pub(super) held_ranges: RangeSet,
    pub(super) skipped: Vec<(u64, u64)>,
    pub(super) last_active: Instant,
    /// Since when the oldest gap has been waiting (while anything is held).
    pub(super) waiting_since: Option<Instant>,
}

/// Sets when `stream`'s first gap started waiting (`None` once nothing is
/// held), keeping the set of waiting streams in step.
pub(super) fn set_waiting(
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
pub(super) fn remember_skipped(stream: &mut Stream, first: u64, last: u64) {
    if stream.skipped.len() >= MAX_SKIPPED {
        stream.skipped.remove(0);
    }
    stream.skipped.push((first, last));
}
