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
//!
//! - `streams`: the table of senders ([`Streams`]): accepting, releasing,
//!   giving up gaps, forgetting idle senders;
//! - `stream`: one sender's state (next expected, held, given up);
//! - `ack`: what an acknowledgement says ([`Streams::ack_state`]).

mod ack;
mod stream;
mod streams;

pub use streams::Streams;

use crate::net::{Cred, PeerAddr};
use std::time::{Duration, SystemTime};

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

#[cfg(test)]
mod tests;
