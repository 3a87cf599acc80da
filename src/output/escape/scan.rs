//! The fast scan: byte classes and the chunked search for the first byte
//! that needs a closer look, shared by text and JSON escaping.

use super::Escape;

/// Whether a byte of UTF-8 may start or be a [`disruptive`](super::disruptive) character:
/// C0 and DEL are single bytes, C1 starts with 0xC2 and U+2028–U+2069 with
/// 0xE2. Text without such bytes needs no look at its characters. None of
/// them is a continuation byte, so each one found starts a character.
pub(super) fn may_disrupt(b: u8) -> bool {
    (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
}

/// Whether `b` is printable ASCII (space to `~`): shown as itself in text,
/// and in JSON unless it is `"` or `\`. Every other byte is a control to
/// escape or part of a multi-byte character. Adding 0x60 moves 0x20..=0x7e
/// to the lowest signed bytes (-128..=-34), so it is one signed compare,
/// which SSE2 has for 16 bytes at once (it has no unsigned one): a scan
/// for the other bytes runs about a quarter faster than with a range.
pub(super) fn printable_ascii(b: u8) -> bool {
    (b.wrapping_add(0x60) as i8) < -33
}

/// Bytes [`plain_len`] checks at once.
const CHUNK: usize = 32;

/// The length of the longest prefix of `bytes` without a `special` byte.
/// Each chunk is checked whole, without stopping inside it, which the
/// compiler turns into SIMD compares (a printable body is scanned about as
/// fast as it is copied); the chunk that has one is then searched byte by
/// byte.
pub fn plain_len(bytes: &[u8], special: impl Fn(u8) -> bool) -> usize {
    let (chunks, _) = bytes.as_chunks::<CHUNK>();
    let mut at = 0;
    for chunk in chunks {
        let mut found = 0u8;
        for &b in chunk {
            found |= u8::from(special(b));
        }
        if found != 0 {
            break;
        }
        at += CHUNK;
    }
    bytes[at..]
        .iter()
        .position(|&b| special(b))
        .map_or(bytes.len(), |i| at + i)
}

/// How a body (bytes a peer chose) is shown, found by [`shown_text`](super::shown_text) or
/// [`shown_json`](super::shown_json) in one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown<'a> {
    /// UTF-8 with nothing to escape: shown byte for byte.
    AsIs,
    /// UTF-8 with something to escape: `head` is shown as it is, `rest`
    /// (the remainder) starts with a character to escape.
    Escaped { head: &'a [u8], rest: &'a str },
    /// Not UTF-8 (the listener shows it as hex).
    NotUtf8,
}

pub(super) fn shown(
    bytes: &[u8],
    special: impl Fn(u8) -> bool,
    first_escape: impl Fn(&str) -> Option<usize>,
) -> Shown<'_> {
    let plain = plain_len(bytes, special);
    if plain == bytes.len() {
        return Shown::AsIs;
    }
    // Printable ASCII followed by UTF-8 is UTF-8: only the rest is checked.
    let Ok(rest) = std::str::from_utf8(&bytes[plain..]) else {
        return Shown::NotUtf8;
    };
    match first_escape(rest) {
        None => Shown::AsIs,
        Some(at) => Shown::Escaped {
            head: &bytes[..plain + at],
            rest: &rest[at..],
        },
    }
}

/// Where `escape` finds the first character to escape in `text`, looking
/// only at characters that start with a `lead` byte.
pub(super) fn first_escape(
    text: &str,
    lead: impl Fn(u8) -> bool,
    escape: impl Fn(char) -> Option<Escape>,
) -> Option<usize> {
    let mut at = 0;
    loop {
        at += plain_len(&text.as_bytes()[at..], &lead);
        // `at` is a character boundary: every lead byte starts a character.
        let c = text[at..].chars().next()?;
        if escape(c).is_some() {
            return Some(at);
        }
        at += c.len_utf8();
    }
}
