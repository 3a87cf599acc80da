//! Bytes <-> messages: the udpmsg datagram format, specified in `docs/PROTOCOL.md`.
//!
//! Every udpmsg datagram is
//!
//! ```text
//! +--------+---------+------+---------------------------------+
//! | "UDPM" | version | mode | body                            |
//! | 4      | 1       | 1    | rest of the datagram            |
//! +--------+---------+------+---------------------------------+
//! ```
//!
//! With mode [`MODE_OPEN`] the body is one bincode-encoded [`Message`]
//! (bincode 2 in its `legacy` layout: little-endian, fixed-width integers,
//! `u32` enum tags, `u64` length prefixes). With mode [`MODE_SEALED`] the body is
//! an authenticated, encrypted envelope (see `seal`). A datagram that does not
//! start with the magic is *raw*: something another program sent, not an error.
//!
//! Guarantees for untrusted input: [`classify`] never panics, never reads
//! past the slice, allocates nothing for well-formed or malformed datagrams
//! (strings and byte fields borrow from the datagram; error values carry no
//! heap data; a hostile length prefix is refused before anything is copied),
//! and rejects anything but exactly one well-formed message — trailing bytes
//! included.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use std::fmt;

/// First four bytes of every udpmsg datagram.
pub const MAGIC: [u8; 4] = *b"UDPM";
/// The one protocol version this build speaks.
pub const VERSION: u8 = 2;
/// Mode byte: the body is a plain bincode [`Message`].
pub const MODE_OPEN: u8 = 0;
/// Mode byte: the body is a sealed envelope (shared key).
pub const MODE_SEALED: u8 = 1;
/// Magic, version and mode.
pub const HEADER_LEN: usize = 6;

/// Byte ranges of the header every udpmsg datagram starts with, and of the
/// sealed header that follows it in mode [`MODE_SEALED`] (smoltcp's `field`
/// style: each offset is written once, here).
pub mod field {
    /// A byte range within a datagram.
    pub type Field = std::ops::Range<usize>;
    /// `"UDPM"`.
    pub const MAGIC: Field = 0..4;
    /// The protocol version byte.
    pub const VERSION: usize = 4;
    /// The mode byte: open or sealed.
    pub const MODE: usize = 5;
    /// Sealed only: the sealing process's random id, u64 little-endian.
    pub const SENDER: Field = 6..14;
    /// Sealed only: that process's datagram counter, u64 little-endian.
    pub const COUNTER: Field = 14..22;
    /// Sealed only: microseconds since the Unix epoch, u64 little-endian.
    pub const TIME: Field = 22..30;
    /// Sealed only: sender, counter and time together are the XChaCha20 nonce.
    pub const NONCE: Field = SENDER.start..TIME.end;
    /// Open Text only: its `base` (after the tag, sender and seq), which a
    /// sender updates in place on every retransmission.
    pub const TEXT_BASE: Field = 26..34;
}

/// Sets the `base` of an open, encoded Text in place (see [`Text::base`]);
/// a sender updates it on every retransmission. `text` must be one
/// [`encode`] made from a [`Message::Text`].
pub fn set_text_base(text: &mut [u8], base: u64) {
    if let Some(field) = text.get_mut(field::TEXT_BASE) {
        field.copy_from_slice(&base.to_le_bytes());
    }
}

/// Sealed datagrams: the nonce after the 6-byte header.
pub const NONCE_LEN: usize = field::NONCE.end - field::NONCE.start;
/// Sealed datagrams: the Poly1305 tag at the end.
pub const TAG_LEN: usize = 16;
/// Header of a sealed datagram: magic, version, mode and the nonce fields
/// (all of it authenticated as associated data).
pub const SEALED_HEADER_LEN: usize = field::NONCE.end;
/// Bytes a sealed datagram has beyond the open one.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Bytes of the destination in a sealed datagram's associated data: an
/// address (16) and a port (2), not transmitted (both ends know them).
pub const SEALED_DEST_LEN: usize = 16 + 2;

/// Bytes of a sealed datagram's associated data: its header, then the
/// destination it was sent to ([`SEALED_DEST_LEN`] bytes, as
/// `seal::SealDest` encodes an IP or Unix-domain address), so a datagram
/// captured on its way to one destination does not open at another.
pub const SEALED_AD_LEN: usize = SEALED_HEADER_LEN + SEALED_DEST_LEN;

/// The associated data of a sealed datagram with header `header` (its first
/// [`SEALED_HEADER_LEN`] bytes) sent to the destination encoded as `dest`.
pub fn sealed_ad(header: &[u8], dest: &[u8; SEALED_DEST_LEN]) -> [u8; SEALED_AD_LEN] {
    let mut ad = [0u8; SEALED_AD_LEN];
    let n = header.len().min(SEALED_HEADER_LEN);
    ad[..n].copy_from_slice(&header[..n]);
    ad[SEALED_HEADER_LEN..].copy_from_slice(dest);
    ad
}

/// Reads the little-endian u64 at `range` (8 bytes) of `bytes`; callers
/// check the length first.
pub fn read_u64(bytes: &[u8], range: field::Field) -> Option<u64> {
    let b: [u8; 8] = bytes.get(range)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
pub const MAX_DATAGRAM_V4: usize = 65_507;
/// Largest UDP payload over IPv6 (without jumbograms): 65535 - 8.
pub const MAX_DATAGRAM_V6: usize = 65_527;
/// Largest datagram udpmsg ever reads or decodes.
pub const MAX_DATAGRAM: usize = MAX_DATAGRAM_V6;

mod acks;
pub mod file;
mod message;
pub use acks::*;
pub use message::*;

/// Flag bit in [`Text::flags`]: the sender wants an [`Ack`] and in-order,
/// exactly-once display.
pub const FLAG_ACK: u8 = 0x01;
/// Flag bit in [`Text::flags`], only with [`FLAG_ACK`]: the body is a file
/// record ([`file::FileRecord`]), not a message to show.
pub const FLAG_FILE: u8 = 0x02;
/// Flag bit in [`Text::flags`], only with [`FLAG_ACK`]: the sender also
/// takes its acks bundled with other senders' ([`Acks`]), which it may be
/// sent when it shares its address with them.
pub const FLAG_BUNDLE: u8 = 0x04;
/// Every flag bit a Text may have.
const KNOWN_FLAGS: u8 = FLAG_ACK | FLAG_FILE | FLAG_BUNDLE;

/// Tag of the last [`Message`] kind (Acks).
const LAST_KIND: u32 = 10;

/// The bincode configuration of the body. Chosen deliberately:
/// `legacy()` is bincode 1's fixed-int little-endian layout, which every
/// bincode implementation (and a 20-line Python decoder) can read; the limit
/// stops a hostile length prefix from claiming more than a datagram can hold.
const CONFIG: Configuration<LittleEndian, Fixint, Limit<MAX_DATAGRAM>> =
    bincode::config::legacy().with_limit::<MAX_DATAGRAM>();

/// What a received datagram is.
#[derive(Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// A well-formed open udpmsg message.
    Message(Message<'a>),
    /// A sealed envelope: everything after the 6-byte header.
    Sealed(&'a [u8]),
    /// Not udpmsg at all (no magic): shown as raw data.
    Raw(&'a [u8]),
}

/// Why a datagram that starts with the magic was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header, or the body ends inside a field.
    Truncated,
    /// The version byte is not [`VERSION`].
    UnknownVersion(u8),
    /// The mode byte is neither open nor sealed.
    UnknownMode(u8),
    /// The message tag names no known kind.
    UnknownKind(u32),
    /// A length prefix claims more than any datagram can hold.
    TooLong,
    /// A name is not valid UTF-8.
    BadUtf8,
    /// A valid message followed by `extra` bytes that belong to nothing.
    TrailingBytes { extra: usize },
    /// Reserved flag bits set, or anything else bincode refused.
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => write!(f, "truncated"),
            DecodeError::UnknownVersion(v) => write!(f, "unknown protocol version {v}"),
            DecodeError::UnknownMode(m) => write!(f, "unknown mode {m}"),
            DecodeError::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            DecodeError::TooLong => write!(f, "length prefix larger than a datagram"),
            DecodeError::BadUtf8 => write!(f, "name is not UTF-8"),
            DecodeError::TrailingBytes { extra } => write!(f, "{extra} trailing bytes"),
            DecodeError::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// A short stable label, for counters and JSON.
    pub fn label(&self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated",
            DecodeError::UnknownVersion(_) => "unknown-version",
            DecodeError::UnknownMode(_) => "unknown-mode",
            DecodeError::UnknownKind(_) => "unknown-kind",
            DecodeError::TooLong => "too-long",
            DecodeError::BadUtf8 => "bad-utf8",
            DecodeError::TrailingBytes { .. } => "trailing-bytes",
            DecodeError::Invalid(_) => "invalid",
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded datagram would be `len` bytes; at most `max` fit.
    TooLarge { len: usize, max: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge { len, max } => {
                write!(
                    f,
                    "datagram of {len} bytes is larger than the {max}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Sorts a received datagram: raw, sealed, or a decoded open message.
pub fn classify(bytes: &[u8]) -> Result<Datagram<'_>, DecodeError> {
    if bytes.get(field::MAGIC) != Some(&MAGIC[..]) {
        return Ok(Datagram::Raw(bytes));
    }
    if bytes.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLong);
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    if bytes[field::VERSION] != VERSION {
        return Err(DecodeError::UnknownVersion(bytes[field::VERSION]));
    }
    match bytes[field::MODE] {
        MODE_OPEN => decode_body(&bytes[HEADER_LEN..]).map(Datagram::Message),
        MODE_SEALED => Ok(Datagram::Sealed(&bytes[HEADER_LEN..])),
        mode => Err(DecodeError::UnknownMode(mode)),
    }
}

/// Decodes exactly one [`Message`] from `body` (the bytes after the header).
pub fn decode_body(body: &[u8]) -> Result<Message<'_>, DecodeError> {
    if body.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLong);
    }
    // Check the tag ourselves: cheaper than bincode's error path, and
    // it allocates nothing for hostile input.
    let Some(tag) = body.get(..4) else {
        return Err(DecodeError::Truncated);
    };
    let tag = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
    if tag > LAST_KIND {
        return Err(DecodeError::UnknownKind(tag));
    }
    let (message, used): (Message<'_>, usize) =
        bincode::serde::borrow_decode_from_slice(body, CONFIG).map_err(map_decode_error)?;
    if used != body.len() {
        return Err(DecodeError::TrailingBytes {
            extra: body.len() - used,
        });
    }
    match &message {
        Message::Text(text) if text.flags & !KNOWN_FLAGS != 0 => {
            return Err(DecodeError::Invalid("reserved flag bits set"));
        }
        Message::Text(text) if text.flags & FLAG_ACK == 0 && text.flags != 0 => {
            return Err(DecodeError::Invalid("a flag without FLAG_ACK"));
        }
        Message::Text(text) if text.base > text.seq => {
            return Err(DecodeError::Invalid("base after seq"));
        }
        // An acknowledged Text at the very end of the sequence space could
        // never be confirmed (`next` would be 2^64).
        Message::Text(text) if text.flags & FLAG_ACK != 0 && text.seq == u64::MAX => {
            return Err(DecodeError::Invalid("acknowledged seq 2^64 - 1"));
        }
        Message::Ack(ack) if !ack.ranges_valid() => {
            return Err(DecodeError::Invalid("malformed ack ranges"));
        }
        Message::Acks(acks) if !acks.entries_valid() => {
            return Err(DecodeError::Invalid("malformed acks entries"));
        }
        _ => {}
    }
    Ok(message)
}

fn map_decode_error(e: bincode::error::DecodeError) -> DecodeError {
    use bincode::error::DecodeError as B;
    match e {
        B::UnexpectedEnd { .. } => DecodeError::Truncated,
        B::LimitExceeded => DecodeError::TooLong,
        B::OutsideUsizeRange(_) => DecodeError::TooLong,
        B::UnexpectedVariant { found, .. } => DecodeError::UnknownKind(found),
        B::Utf8 { .. } => DecodeError::BadUtf8,
        B::Io { .. } => DecodeError::Truncated,
        _ => DecodeError::Invalid("refused by the decoder"),
    }
}

/// Appends the header and the encoded `message` to `out`, refusing to make a
/// datagram longer than `max` bytes (use [`max_datagram`] for the destination).
pub fn encode(message: &Message<'_>, max: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(MODE_OPEN);
    encode_body(message, out);
    let len = out.len() - start;
    if len > max {
        out.truncate(start);
        return Err(EncodeError::TooLarge { len, max });
    }
    Ok(())
}

/// Appends the bincode encoding of `message` (no header) to `out`.
pub fn encode_body(message: &Message<'_>, out: &mut Vec<u8>) {
    // Encoding to a Vec cannot fail: every field type is supported by bincode
    // and the limit only applies when decoding.
    let _ = bincode::serde::encode_into_std_write(message, out, bincode::config::legacy());
}

/// Largest datagram that can be sent to an address of this family.
pub fn max_datagram(ipv6: bool) -> usize {
    if ipv6 {
        MAX_DATAGRAM_V6
    } else {
        MAX_DATAGRAM_V4
    }
}

/// Largest body a [`Text`] with this name can carry in one datagram of `max` bytes.
pub fn max_text_body(name: &str, max: usize) -> usize {
    max.saturating_sub(TEXT_OVERHEAD + name.len())
}
