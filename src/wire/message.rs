//! The message kinds a udpmsg datagram carries, as serde types that bincode
//! encodes in the layout of `docs/PROTOCOL.md` section 3.

use super::HEADER_LEN;
use serde::{Deserialize, Serialize};

/// A udpmsg message. The enum tag is encoded as a little-endian `u32`
/// in declaration order: Text = 0, Ack = 1, Probe = 2, Answer = 3, Ping = 4,
/// Pong = 5. New kinds are only ever appended.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    #[serde(borrow)]
    Text(Text<'a>),
    Ack(Ack),
    #[serde(borrow)]
    Probe(Probe<'a>),
    #[serde(borrow)]
    Answer(Answer<'a>),
    Ping(Ping),
    Pong(Ping),
}

/// A message from `udpmsg send`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Text<'a> {
    /// Random per-process id of the sending `udpmsg send`.
    pub sender: u64,
    /// Message number within that process, counting from 0.
    pub seq: u64,
    /// [`FLAG_ACK`] or 0; other bits are reserved and must be 0.
    pub flags: u8,
    /// Human name of the sender (host name by default).
    #[serde(borrow)]
    pub name: &'a str,
    /// The message itself: usually UTF-8 text, but any bytes are carried.
    #[serde(borrow, with = "serde_bytes")]
    pub body: &'a [u8],
}

/// Acknowledges the [`Text`] numbered `seq` from `sender`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub sender: u64,
    pub seq: u64,
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

/// A ping, and (as [`Message::Pong`]) its echo, which carries the same fields.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    pub sender: u64,
    pub seq: u64,
    /// Opaque to the listener; the pinger puts its send time here.
    pub stamp: u64,
}

/// Bytes a [`Text`] adds around its name and body: header, tag, sender, seq,
/// flags and the two length prefixes.
pub const TEXT_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 1 + 8 + 8;

/// Bytes an [`Answer`] adds around its name: header, tag, instance, token,
/// port, version and the name's length prefix.
pub const ANSWER_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 2 + 1 + 8;

/// Bytes of a [`Probe`] besides its padding: header, tag, instance, token
/// and the padding's length prefix.
pub const PROBE_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8 + 8;

/// Longest name a listener answers discovery with (bytes); it bounds the
/// answer size and so the probe padding.
pub const MAX_NAME: usize = 255;

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
    fn text_overhead_matches_encoding() {
        let msg = Message::Text(Text {
            sender: 1,
            seq: 2,
            flags: 0,
            name: "abc",
            body: b"hello",
        });
        let mut out = Vec::new();
        encode(&msg, MAX_DATAGRAM, &mut out).unwrap();
        assert_eq!(out.len(), TEXT_OVERHEAD + 3 + 5);
    }
}
