//! Escaping what peers chose (names, texts) for a terminal or for JSON,
//! in one pass that finds the first byte needing a closer look.
//!
//! A peer must not be able to drive a terminal or change what it shows, so
//! both escape every [`disruptive`] character: control characters (C0, DEL,
//! C1), the Unicode bidirectional controls that reorder a line, and the
//! line and paragraph separators that break one. JSON escapes them too
//! (as `\u202e`), beyond what JSON requires and serde_json does, because
//! JSON Lines are read in terminals (`jq`, `less`, `tail -f`) as well.
//!
//! Bodies of up to 64 KiB arrive as bytes, and most are printable ASCII:
//! [`shown_text`] and [`shown_json`] scan them once, a chunk at a time, for
//! the first byte that is not, check UTF-8 only from there, and say where
//! escaping starts, so the caller can write the rest as it is (the
//! listener writes a big one straight from the receive buffer).
//!
//! - `scan`: the byte classes and the chunked scan for the first byte to
//!   look at ([`plain_len`], [`Shown`]);
//! - `text`: text output's escapes ([`push_text_escaped`], [`escaped`]);
//! - `json`: JSON strings' escapes ([`write_json_str`], [`harden_json`]).

mod json;
mod scan;
mod text;

pub use json::{harden_json, push_json_escaped, shown_json, write_json_str};
pub use scan::{Shown, plain_len};
pub use text::{escape_into, escaped, push_text_escaped, shown_text};

/// The bidirectional embeddings and overrides (U+202A–U+202E) and isolates
/// (U+2066–U+2069), which reorder the rest of a line, and the line and
/// paragraph separators (U+2028, U+2029), which break one.
fn reorders_or_breaks(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Whether `c` is escaped in text and JSON output alike: control
/// characters (C0, DEL, C1; text keeps the tab) and the Unicode characters
/// that reorder or break a line (`reorders_or_breaks`).
pub fn disruptive(c: char) -> bool {
    c.is_control() || reorders_or_breaks(c)
}

/// How one character is shown when not as itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// `\n`, `\"`: a fixed escape.
    Short(&'static str),
    /// `\x1b`: a C0 control or DEL, by its byte (text output).
    Byte(u8),
    /// `\u009b`: any other character, by its code point (four or more hex digits).
    CodePoint(char),
}

/// Somewhere escaped text goes: a `String` or a byte buffer.
pub trait Push {
    fn push_str(&mut self, s: &str);
}

impl Push for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

impl Push for Vec<u8> {
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// Pushes `text`, copying runs without escapes whole and escaping each
/// character `escape` names.
fn push_escaped(
    out: &mut impl Push,
    text: &str,
    lead: impl Fn(u8) -> bool,
    escape: impl Fn(char) -> Option<Escape>,
) {
    let (mut at, mut run) = (0, 0);
    loop {
        at += plain_len(&text.as_bytes()[at..], &lead);
        // `at` is a character boundary: every lead byte starts a character.
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        let next = at + c.len_utf8();
        if let Some(e) = escape(c) {
            out.push_str(&text[run..at]);
            push_escape(out, e);
            run = next;
        }
        at = next;
    }
    out.push_str(&text[run..]);
}

fn push_escape(out: &mut impl Push, e: Escape) {
    match e {
        Escape::Short(s) => out.push_str(s),
        Escape::Byte(b) => {
            out.push_str("\\x");
            push_hex(out, u32::from(b), 2);
        }
        Escape::CodePoint(c) => {
            out.push_str("\\u");
            push_hex(out, u32::from(c), 4);
        }
    }
}

/// `v` in lowercase hex, at least `min` digits.
fn push_hex(out: &mut impl Push, v: u32, min: usize) {
    const DIGITS: &str = "0123456789abcdef";
    let digits = ((32 - v.leading_zeros() as usize).div_ceil(4)).max(min);
    for i in (0..digits).rev() {
        let d = (v >> (4 * i)) as usize & 0xf;
        out.push_str(&DIGITS[d..=d]);
    }
}

#[cfg(test)]
pub(crate) mod tests;
