//! Escaping for JSON strings: serde_json's escapes plus every disruptive
//! character, for a value written by hand or one serde_json wrote.

use super::scan::{Shown, first_escape, may_disrupt, printable_ascii, shown};
use super::{Escape, Push, disruptive, push_escaped};
use std::borrow::Cow;
use std::io::{self, Write};

/// Bytes a JSON string must look at: the non-[`printable_ascii`] ones, `"`
/// and `\`.
pub(super) fn json_special(b: u8) -> bool {
    !printable_ascii(b) | (b == b'"') | (b == b'\\')
}

/// Bytes that may start a character JSON escapes ([`may_disrupt`], `"`, `\`).
pub(super) fn json_lead(b: u8) -> bool {
    may_disrupt(b) | (b == b'"') | (b == b'\\')
}

/// How a JSON string shows `bytes`, as [`shown_text`](super::shown_text) for text
/// ([`push_json_escaped`] escapes the rest).
pub fn shown_json(bytes: &[u8]) -> Shown<'_> {
    shown(bytes, json_special, first_json_escape)
}

/// The JSON escape for `c`, or `None` when it is written as itself: as
/// serde_json does (short forms for `" \ \b \t \n \f \r`, `\u00XX` for the
/// other C0), and every other [`disruptive`] character as `\uXXXX`.
pub(super) fn json_escape_of(c: char) -> Option<Escape> {
    match c {
        '"' => Some(Escape::Short("\\\"")),
        '\\' => Some(Escape::Short("\\\\")),
        '\u{8}' => Some(Escape::Short("\\b")),
        '\t' => Some(Escape::Short("\\t")),
        '\n' => Some(Escape::Short("\\n")),
        '\u{c}' => Some(Escape::Short("\\f")),
        '\r' => Some(Escape::Short("\\r")),
        c if disruptive(c) => Some(Escape::CodePoint(c)),
        _ => None,
    }
}

fn first_json_escape(text: &str) -> Option<usize> {
    first_escape(text, json_lead, json_escape_of)
}

/// Appends `text` as the inside of a JSON string (no quotes): escaped as
/// serde_json does (short forms for `" \ \b \t \n \f \r`, lowercase
/// `\u00XX` for the other C0), and the other [`disruptive`] characters as
/// `\uXXXX`.
pub fn push_json_escaped(out: &mut impl Push, text: &str) {
    push_escaped(out, text, json_lead, json_escape_of);
}

/// Writes `s` as a JSON string (quotes included), escaped as
/// [`push_json_escaped`] says. Most text needs no escaping, which one scan
/// finds out (serde_json's byte-by-byte escaping loop was 40% of a flooded
/// listener's instructions).
pub fn write_json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    match first_json_escape(s) {
        None => {
            out.write_all(b"\"")?;
            out.write_all(s.as_bytes())?;
        }
        Some(at) => {
            let mut escaped = Vec::with_capacity(s.len() + 8);
            escaped.push(b'"');
            escaped.extend_from_slice(&s.as_bytes()[..at]);
            push_json_escaped(&mut escaped, &s[at..]);
            out.write_all(&escaped)?;
        }
    }
    out.write_all(b"\"")
}

/// `json` (a serialized JSON value, such as serde_json writes) with every
/// [`disruptive`] character that is still raw escaped as `\uXXXX`. Outside
/// strings JSON is ASCII without controls, so each one found is inside a
/// string, where the escape means the same character.
pub fn harden_json(json: &str) -> Cow<'_, str> {
    let escape = |c: char| disruptive(c).then_some(Escape::CodePoint(c));
    match first_escape(json, may_disrupt, escape) {
        None => Cow::Borrowed(json),
        Some(at) => {
            let mut out = String::with_capacity(json.len() + 16);
            out.push_str(&json[..at]);
            push_escaped(&mut out, &json[at..], may_disrupt, escape);
            Cow::Owned(out)
        }
    }
}
