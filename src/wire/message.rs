//! The message kinds a udpmsg datagram carries, as serde types that bincode
//! encodes in the layout of `docs/PROTOCOL.md` section 3.

use super::HEADER_LEN;
use serde::{Deserialize, Serialize};

/// A udpmsg message. The enum tag is encoded as a little-endian `u32`
/// in declaration order: Text = 0, Ack = 1, Probe = 2, Answer = 3, Ping = 4,
/// Pong = 5, Refuse = 6, Hello = 7, Goodbye = 8, FileStatus = 9, Acks = 10.
/// New kinds are only ever appended.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    #[serde(borrow)]
    Text(Text<'a>),
    #[serde(borrow)]
    Ack(Ack<'a>),
    #[serde(borrow)]
    Probe(Probe<'a>),
    #[serde(borrow)]
    Answer(Answer<'a>),
    Ping(Ping),
    Pong(Ping),
    Refuse(Refuse),
    #[serde(borrow)]
    Hello(Hello<'a>),
    Goodbye(Goodbye),
    /// What became of a file a sender offered (see [`super::file`]).
    FileStatus(FileStatus),
    /// Acks for several senders at one address (see [`super::Acks`]).
    #[serde(borrow)]
    Acks(super::acks::Acks<'a>),
}

/// A message from `udpmsg send`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Text<'a> {
    /// Random per-process id of the sending `udpmsg send`.
    pub sender: u64,
    /// Message number within that process, counting from 0.
    pub seq: u64,
    /// With [`super::FLAG_ACK`]: the sender's lowest `seq` that is neither
    /// acknowledged nor given up on (at most `seq`): a receiver need not wait
    /// for anything below it. Without the flag, equal to `seq`.
    pub base: u64,
    /// [`super::FLAG_ACK`] or 0, with it [`super::FLAG_FILE`] and
    /// [`super::FLAG_BUNDLE`]; other bits are reserved and must be 0.
    pub flags: u8,
    /// Human name of the sender (host name by default).
    #[serde(borrow)]
    pub name: &'a str,
    /// The message itself: usually UTF-8 text, but any bytes are carried.
    #[serde(borrow, with = "serde_bytes")]
    pub body: &'a [u8],
}

/// A listener's acknowledgement of one sender's [`Text`]s: cumulative
/// (`next`) and selective (`ranges`). Sent after the texts are written out.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack<'a> {
    /// Random id of the acknowledging listener process: a new one means the
    /// listener restarted (or the port changed hands).
    pub instance: u64,
    /// The `sender` of the Texts acknowledged.
    pub sender: u64,
    /// Every Text of `sender` with a `seq` below this was shown (written
    /// out) or given up on by the sender; none will be shown again.
    pub next: u64,
    /// Texts received and held, not shown yet (an earlier one is missing):
    /// pairs of u64 LE `(first, last)`, 16 bytes each, ascending, disjoint
    /// and not adjacent, all above `next`; at most [`MAX_ACK_RANGES`].
    /// Their sender need not resend them, but they are not confirmed.
    #[serde(borrow, with = "serde_bytes")]
    pub ranges: &'a [u8],
}

/// Most held ranges an [`Ack`] carries.
pub const MAX_ACK_RANGES: usize = 32;
/// Bytes of an [`Ack`] without ranges: header, tag, instance, sender, next
/// and the ranges' length prefix.
pub const ACK_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 8 + 8;
/// Bytes of one range in [`Ack::ranges`].
pub const ACK_RANGE_LEN: usize = 16;

impl Ack<'_> {
    /// The held ranges `(first, last)`, inclusive.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.chunks_exact(ACK_RANGE_LEN).map(|pair| {
            let (first, last) = pair.split_at(8);
            (le_u64(first), le_u64(last))
        })
    }

    /// Whether `ranges` is well-formed (see the field).
    pub(super) fn ranges_valid(&self) -> bool {
        if !self.ranges.len().is_multiple_of(ACK_RANGE_LEN)
            || self.ranges.len() > MAX_ACK_RANGES * ACK_RANGE_LEN
        {
            return false;
        }
        let mut floor = self.next;
        for (first, last) in self.ranges() {
            // Each range starts past the previous one with a gap between
            // (so ranges are never adjacent: they would be one).
            if first <= floor || last < first {
                return false;
            }
            match last.checked_add(1) {
                Some(after) => floor = after,
                None => return false,
            }
        }
        true
    }
}

/// Writes held ranges into the bytes an [`Ack`] carries.
pub fn put_ack_ranges(ranges: impl IntoIterator<Item = (u64, u64)>, out: &mut Vec<u8>) {
    for (first, last) in ranges.into_iter().take(MAX_ACK_RANGES) {
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&last.to_le_bytes());
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(b)
}

/// A listener will not take a sender's acknowledged Texts: it says so at
/// once, so the sender can report it instead of retrying in vain.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refuse {
    /// Random id of the refusing listener process.
    pub instance: u64,
    /// The `sender` and `seq` of the Text refused.
    pub sender: u64,
    pub seq: u64,
    /// Why: one of the `REFUSED_*` codes; unknown codes mean "refused".
    pub reason: u8,
}

/// [`Refuse::reason`]: the listener tracks as many senders as it can.
pub const REFUSED_BUSY: u8 = 1;

/// A listener's word on one file transfer: accepted (send the data),
/// written (and its hash matched), or why not. Sent after the acks of the
/// batch that caused it, and again whenever the sender repeats the record
/// it answers.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStatus {
    /// Random id of the listener process.
    pub instance: u64,
    /// The `sender` of the file's Texts.
    pub sender: u64,
    /// The `seq` of the Text that offered the file: which transfer this is.
    pub seq: u64,
    /// One of the `FILE_*` codes in [`super::file`]; an unknown code means
    /// the transfer failed.
    pub status: u8,
    /// A number that goes with the status: the size stored (done), the
    /// largest size taken (too large), the free bytes (no space); else 0.
    pub detail: u64,
}

/// A discovery probe. `pad` makes the probe at least as large as any
/// [`Answer`] it can cause, so answering never amplifies traffic.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Probe<'a> {
    /// Random per-process id of the prober (a listener ignores its own).
    pub instance: u64,
    /// Echoed in the answer, so the prober can match answers to probes.
    pub token: u64,
    #[serde(borrow, with = "serde_bytes")]
    pub pad: &'a [u8],
}

/// A listener's answer to a [`Probe`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// Random per-process id of the listener: one peer, however many addresses.
    pub instance: u64,
    /// The probe's token.
    pub token: u64,
    /// The port the listener is bound to.
    pub port: u16,
    /// The protocol version the listener speaks.
    pub version: u8,
    #[serde(borrow)]
    pub name: &'a str,
}

/// A listener's announcement that it is there (`listen --announce`): what
/// an [`Answer`] says, unasked, and how long to believe it. Sent to every
/// interface's broadcast address and the IPv6 discovery group, on the
/// presence port (the listener's port + 1); nobody answers it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Random id of the listener process, as in its answers.
    pub instance: u64,
    /// The port the listener is bound to.
    pub port: u16,
    /// The protocol version the listener speaks.
    pub version: u8,
    /// Milliseconds to consider the listener present without hearing from
    /// it again (udpmsg: three announcement periods).
    pub lifetime_ms: u32,
    #[serde(borrow)]
    pub name: &'a str,
    /// An opaque label a listener may announce; empty for plain listeners.
    #[serde(borrow)]
    pub room: &'a str,
}

/// A listener's last word: it is leaving (a clean exit).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goodbye {
    /// Random id of the listener process, as in its hellos and answers.
    pub instance: u64,
}

/// A ping, and (as [`Message::Pong`]) its echo, which carries the same fields.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    pub sender: u64,
    pub seq: u64,
    /// Opaque to the listener; the pinger puts its send time here.
    pub stamp: u64,
}

/// Bytes a [`Text`] adds around its name and body: header, tag, sender,
/// seq, base, flags and the two length prefixes.
pub const TEXT_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 8 + 1 + 8 + 8;

/// Bytes an [`Answer`] adds around its name: header, tag, instance, token,
/// port, version and the name's length prefix.
pub const ANSWER_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 2 + 1 + 8;

/// Bytes of a [`Probe`] besides its padding: header, tag, instance, token
/// and the padding's length prefix.
pub const PROBE_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 8;

/// Bytes a [`Hello`] adds around its name and room: header, tag, instance,
/// port, version, lifetime and the two length prefixes.
pub const HELLO_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 2 + 1 + 4 + 8 + 8;

/// Bytes of a [`Goodbye`]: header, tag and instance.
pub const GOODBYE_LEN: usize = HEADER_LEN + 4 + 8;

/// Longest name a listener answers discovery with (bytes); it bounds the
/// answer size and so the probe padding.
pub const MAX_NAME: usize = 255;

/// Longest room a [`Hello`] carries (bytes); receivers refuse longer ones.
pub const MAX_ROOM: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MAX_DATAGRAM, VERSION, encode};

    #[test]
    fn answer_and_probe_overheads_match_encoding() {
        let mut out = Vec::new();
        let answer = Message::Answer(Answer {
            instance: 1,
            token: 2,
            port: 3,
            version: VERSION,
            name: "abc",
        });
        encode(&answer, MAX_DATAGRAM, &mut out).unwrap();
        assert_eq!(out.len(), ANSWER_OVERHEAD + 3);
        out.clear();
        let probe = Message::Probe(Probe {
            instance: 1,
            token: 2,
            pad: &[0; 5],
        });
        encode(&probe, MAX_DATAGRAM, &mut out).unwrap();
        assert_eq!(out.len(), PROBE_OVERHEAD + 5);
    }

    #[test]
    fn ack_overhead_matches_encoding() {
        let mut ranges = Vec::new();
        put_ack_ranges([(2, 3)], &mut ranges);
        for ranges in [&[][..], &ranges[..]] {
            let ack = Message::Ack(Ack {
                instance: 1,
                sender: 2,
                next: 0,
                ranges,
            });
            let mut out = Vec::new();
            encode(&ack, MAX_DATAGRAM, &mut out).unwrap();
            assert_eq!(out.len(), ACK_OVERHEAD + ranges.len());
        }
    }

    #[test]
    fn hello_and_goodbye_sizes_match_encoding() {
        let mut out = Vec::new();
        let hello = Message::Hello(Hello {
            instance: 1,
            port: 2,
            version: VERSION,
            lifetime_ms: 3,
            name: "abc",
            room: "de",
        });
        encode(&hello, MAX_DATAGRAM, &mut out).unwrap();
        assert_eq!(out.len(), HELLO_OVERHEAD + 3 + 2);
        out.clear();
        encode(
            &Message::Goodbye(Goodbye { instance: 1 }),
            MAX_DATAGRAM,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), GOODBYE_LEN);
    }

    #[test]
    fn text_overhead_matches_encoding() {
        let msg = Message::Text(Text {
            sender: 1,
            seq: 2,
            base: 2,
            flags: 0,
            name: "abc",
            body: b"hello",
        });
        let mut out = Vec::new();
        encode(&msg, MAX_DATAGRAM, &mut out).unwrap();
        assert_eq!(out.len(), TEXT_OVERHEAD + 3 + 5);
        // The base is where `field::TEXT_BASE` says, and can be moved there.
        crate::wire::set_text_base(&mut out, 1);
        match crate::wire::classify(&out) {
            Ok(crate::wire::Datagram::Message(Message::Text(t))) => assert_eq!(t.base, 1),
            other => panic!("{other:?}"),
        }
    }
}
