//! Sealed datagrams: a shared key, XChaCha20-Poly1305, and replay
//! protection. Bytes in, bytes out; knows no sockets (the key file is read
//! and written by [`key`]).
//!
//! A sealed datagram is
//!
//! ```text
//! "UDPM" | version 1 | mode 1 | sender u64 LE | counter u64 LE | time u64 LE | ciphertext | tag (16)
//! ```
//!
//! (byte ranges in [`crate::wire::field`]). The 24 bytes sender, counter and
//! time (microseconds since the Unix epoch) are the XChaCha20 nonce; the
//! associated data is the first 30 bytes and the destination the datagram
//! is sent to ([`SealDest`]: an IP address and port, or a Unix-domain
//! socket; [`crate::wire::sealed_ad`]); the plaintext is the
//! bincode body of an open datagram. The datagram key is
//! `blake3::derive_key(KEY_CONTEXT, file_key)`.
//!
//! - [`aead`]: sealing and opening one datagram ([`Sealer`], [`Opener`]).
//! - [`dest`]: what a sealed datagram is bound to ([`SealDest`]).
//! - [`replay`]: which counters each sender already used.
//! - [`key`]: the key, and the key file.
//! - [`Envelope`] (here): both directions of one socket, keyed or not.

pub mod aead;
pub mod dest;
pub mod key;
pub mod replay;

pub use crate::wire::{NONCE_LEN, SEAL_OVERHEAD, SEALED_HEADER_LEN, TAG_LEN};
pub use aead::{KEY_CONTEXT, MAX_SKEW, Opener, Reject, Sealer};
pub use dest::{SealDest, UNIX_DEST_CONTEXT};
pub use key::{FileKind, KEY_LEN, Key, KeyError, WriteKeyError, read_key_file, write_key_file};
pub use replay::{MAX_REPLAY_SENDERS, REPLAY_WINDOW};

use std::time::SystemTime;

/// Why a received datagram is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A datagram without the magic, at a keyed receiver (never shown).
    RawWithKey,
    /// An open udpmsg datagram at a keyed receiver.
    Unsealed,
    /// A sealed datagram at a receiver without a key.
    NoKey,
    /// The magic, but the message does not decode.
    Malformed(crate::wire::DecodeError),
    /// A sealed datagram that did not open.
    Rejected(Reject),
}

/// What a received datagram turned out to be.
#[derive(Debug)]
pub enum Opened<'a> {
    /// A udpmsg message (opened and replay-checked, when keyed).
    Message(crate::wire::Message<'a>),
    /// Not udpmsg (keyless receivers only).
    Raw(&'a [u8]),
}

/// Both directions of a socket's datagrams, with or without a key. The two
/// halves are separate fields so a receive loop can hold an opened message
/// (borrowed from [`Incoming`]'s buffer) while it seals a reply.
pub struct Envelope {
    pub outgoing: Outgoing,
    pub incoming: Incoming,
}

impl Envelope {
    /// A client's envelope (send, ping, discover): open datagrams when
    /// `key` is `None`, sealed ones otherwise.
    pub fn new(key: Option<&Key>) -> Self {
        Self::with(key, None)
    }

    /// A listener's envelope: sealed datagrams from senders it has not heard
    /// must have been sealed after `started` (see [`Opener::new`]).
    pub fn for_listener(key: Option<&Key>, started: SystemTime) -> Self {
        Self::with(key, Some(started))
    }

    fn with(key: Option<&Key>, started: Option<SystemTime>) -> Self {
        Envelope {
            outgoing: Outgoing(key.map(Sealer::new)),
            incoming: Incoming {
                opener: key.map(|k| Opener::new(k, started)),
                plain: Vec::new(),
            },
        }
    }
}

/// Seals what a socket sends, when keyed.
pub struct Outgoing(Option<Sealer>);

impl Outgoing {
    /// True when datagrams are sealed.
    pub fn is_keyed(&self) -> bool {
        self.0.is_some()
    }

    /// Bytes sealing adds to a datagram.
    pub fn overhead(&self) -> usize {
        if self.is_keyed() { SEAL_OVERHEAD } else { 0 }
    }

    /// The bytes to send to `dest` for an open datagram: itself, or sealed
    /// for that destination (afresh on every call: a retransmission is a
    /// new sealed datagram). `dest` is converted only when sealing.
    pub fn seal<'a>(&'a mut self, open: &'a [u8], dest: impl Into<SealDest>) -> &'a [u8] {
        match self.0.as_mut() {
            Some(sealer) => sealer.seal(open, dest.into()),
            None => open,
        }
    }
}

/// Opens what a socket receives, when keyed, and keeps the replay state.
pub struct Incoming {
    opener: Option<Opener>,
    /// The opened body of the last sealed datagram.
    plain: Vec<u8>,
}

impl Incoming {
    /// True when only sealed datagrams are accepted.
    pub fn is_keyed(&self) -> bool {
        self.opener.is_some()
    }

    /// Bytes sealing adds to a datagram.
    pub fn overhead(&self) -> usize {
        if self.is_keyed() { SEAL_OVERHEAD } else { 0 }
    }

    /// Classifies, opens (when keyed) and decodes a received datagram that
    /// arrived at `dest` (the destination it was sent to; converted only
    /// when a sealed datagram is opened). A sealed message borrows from
    /// this value's buffer until the next call.
    pub fn open<'a>(
        &'a mut self,
        datagram: &'a [u8],
        now: SystemTime,
        dest: impl Into<SealDest>,
    ) -> Result<Opened<'a>, Refusal> {
        use crate::wire::{Datagram, classify, decode_body};
        let kind = classify(datagram).map_err(Refusal::Malformed)?;
        match (kind, self.opener.as_mut()) {
            (Datagram::Raw(bytes), None) => Ok(Opened::Raw(bytes)),
            (Datagram::Raw(_), Some(_)) => Err(Refusal::RawWithKey),
            (Datagram::Message(m), None) => Ok(Opened::Message(m)),
            (Datagram::Message(_), Some(_)) => Err(Refusal::Unsealed),
            (Datagram::Sealed(_), None) => Err(Refusal::NoKey),
            (Datagram::Sealed(_), Some(opener)) => {
                opener
                    .open(datagram, &mut self.plain, now, dest.into())
                    .map_err(Refusal::Rejected)?;
                decode_body(&self.plain)
                    .map(Opened::Message)
                    .map_err(Refusal::Malformed)
            }
        }
    }
}
