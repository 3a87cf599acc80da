//! Escaping what peers chose (names, texts) for a terminal or for JSON,
//! with fast paths for the common case of nothing to escape.
//!
//! A peer must not be able to drive a terminal or change what it shows, so
//! both escape every [`disruptive`] character: control characters (C0, DEL,
//! C1), the Unicode bidirectional controls that reorder a line, and the
//! line and paragraph separators that break one. JSON escapes them too
//! (as `\u202e`), beyond what JSON requires and serde_json does, because
//! JSON Lines are read in terminals (`jq`, `less`, `tail -f`) as well.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// The bidirectional embeddings and overrides (U+202A–U+202E) and isolates
/// (U+2066–U+2069), which reorder the rest of a line, and the line and
/// paragraph separators (U+2028, U+2029), which break one.
fn reorders_or_breaks(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Whether `c` is escaped in text and JSON output alike: control
/// characters (C0, DEL, C1; text keeps the tab) and [`reorders_or_breaks`].
pub fn disruptive(c: char) -> bool {
    c.is_control() || reorders_or_breaks(c)
}

/// Whether a byte of UTF-8 may start or be a [`disruptive`] character:
/// C0 and DEL are single bytes, C1 starts with 0xC2 and U+2028–U+2069 with
/// 0xE2. Text without such bytes needs no look at its characters.
fn may_disrupt(b: u8) -> bool {
    (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
}

/// Writes `s` as a JSON string. Most text needs no escaping, and finding
/// that out a chunk at a time is several times faster than serde_json's
/// byte-by-byte escaping loop (which was 40% of a flooded listener's
/// instructions); text that does need it is escaped a character at a time.
/// Besides what JSON requires (C0, `"` and `\`), every [`disruptive`]
/// character is escaped as `\uXXXX`.
pub fn write_json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    if none_of(bytes, |b| may_disrupt(b) | (b == b'"') | (b == b'\\'))
        || (none_of(bytes, |b| (b < 0x20) | (b == b'"') | (b == b'\\'))
            && !s.chars().any(disruptive))
    {
        out.write_all(b"\"")?;
        out.write_all(bytes)?;
        out.write_all(b"\"")
    } else {
        write_json_escaped(out, s)
    }
}

/// The slow path of [`write_json_str`]: escapes as serde_json does (short
/// forms for `\b \t \n \f \r`, lowercase `\u00XX` for the other C0) and
/// the other [`disruptive`] characters as `\uXXXX`; copies runs of the rest.
fn write_json_escaped(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\u{8}' => b"\\b",
            '\t' => b"\\t",
            '\n' => b"\\n",
            '\u{c}' => b"\\f",
            '\r' => b"\\r",
            c if disruptive(c) => b"",
            _ => continue,
        };
        out.write_all(&s.as_bytes()[start..i])?;
        start = i + c.len_utf8();
        if short.is_empty() {
            // Every disruptive character is in the Basic Multilingual Plane.
            write!(out, "\\u{:04x}", u32::from(c))?;
        } else {
            out.write_all(short)?;
        }
    }
    out.write_all(&s.as_bytes()[start..])?;
    out.write_all(b"\"")
}

/// `json` (a serialized JSON value, such as serde_json writes) with every
/// [`disruptive`] character that is still raw escaped as `\uXXXX`. Outside
/// strings JSON is ASCII without controls, so each one found is inside a
/// string, where the escape means the same character.
pub fn harden_json(json: &str) -> Cow<'_, str> {
    if none_of(json.as_bytes(), may_disrupt) || !json.chars().any(disruptive) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if disruptive(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// True when no byte of `bytes` is `bad`. Scans 16 bytes at a time without
/// stopping early inside a chunk, which the compiler turns into SIMD.
pub fn none_of(bytes: &[u8], bad: impl Fn(u8) -> bool) -> bool {
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |found, &b| found | bad(b)) {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| bad(b))
}

/// How one character is shown in text output, when not as itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// `\n`, `\r`: the usual names of line breaks.
    Named(char),
    /// `\x1b`: a C0 control or DEL, by its byte.
    Byte(u8),
    /// `\u009b`: any other character, by its code point (four or more hex digits).
    CodePoint(char),
}

/// The escape for `c`, or `None` when it is shown as itself. Each class of
/// escaped characters is one arm; a new class is one new line here (and, if
/// its UTF-8 starts with a new lead byte, one in [`may_escape`]).
fn escape_of(c: char) -> Option<Escape> {
    match c {
        '\t' => None, // shown as a tab: harmless, and columns stay aligned
        '\n' => Some(Escape::Named('n')),
        '\r' => Some(Escape::Named('r')),
        '\0'..='\x1f' | '\x7f' => Some(Escape::Byte(c as u8)), // C0 controls, DEL
        '\u{80}'..='\u{9f}' => Some(Escape::CodePoint(c)),     // C1 controls
        c if reorders_or_breaks(c) => Some(Escape::CodePoint(c)), // bidi, separators
        _ => None,
    }
}

/// True for every byte that can start the UTF-8 of a character
/// [`escape_of`] escapes: text without these bytes is shown as it is.
/// These are exactly the [`disruptive`] characters' lead bytes.
#[inline]
fn may_escape(b: u8) -> bool {
    may_disrupt(b)
}

/// Appends `c`, escaped when [`escape_of`] says so.
fn push_shown(s: &mut String, c: char) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = match escape_of(c) {
        None => {
            s.push(c);
            Ok(())
        }
        Some(Escape::Named(n)) => write!(s, "\\{n}"),
        Some(Escape::Byte(b)) => write!(s, "\\x{b:02x}"),
        Some(Escape::CodePoint(c)) => write!(s, "\\u{:04x}", u32::from(c)),
    };
}

/// Appends `text` with every [`disruptive`] character but the tab
/// escaped, so a peer cannot break lines, reorder them or drive the
/// terminal: `\n` and `\r` by name, other C0 controls and DEL as `\xNN`
/// (`\x1b`), C1 controls, bidi controls and separators as `\uNNNN`
/// (`\u009b`, `\u202e`); a tab stays a tab.
pub fn escape_into(s: &mut String, text: &str) {
    if none_of(text.as_bytes(), may_escape) {
        s.push_str(text);
        return;
    }
    if !text.chars().any(|c| escape_of(c).is_some()) {
        s.push_str(text);
        return;
    }
    for c in text.chars() {
        push_shown(s, c);
    }
}

/// `text` escaped as [`escape_into`] does, as a new string.
pub fn escaped(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    escape_into(&mut s, text);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings of every length from 1 to 39 with one special character at each
    /// position, and pseudo-random mixes of ASCII, controls and non-ASCII.
    fn tricky_strings() -> Vec<String> {
        let specials = [
            '"', '\\', '\n', '\t', '\u{0}', '\u{8}', '\u{c}', '\r', '\u{1f}', '\u{7f}', '\u{80}',
            '\u{9f}', '\u{a0}', 'é', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{202f}',
            '\u{2066}', '\u{2069}', '\u{206a}', '—', '\u{200f}', '😀',
        ];
        let mut all = vec![String::new()];
        for len in 1..40 {
            for pos in 0..len {
                for &c in &specials {
                    let mut t: String = (0..len)
                        .map(|i| char::from(b'a' + (i % 26) as u8))
                        .collect();
                    t.replace_range(pos..=pos, c.encode_utf8(&mut [0; 4]));
                    all.push(t);
                }
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let len = (x % 70) as usize;
            let t: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(5) {
                        specials[(x / 5 % specials.len() as u64) as usize]
                    } else {
                        char::from(b' ' + (x % 95) as u8)
                    }
                })
                .collect();
            all.push(t);
        }
        all
    }

    /// What serde_json writes, with the [`disruptive`] characters it
    /// leaves raw escaped by hand: the reference for [`write_json_str`].
    fn reference_json(t: &str) -> String {
        let mut out = String::new();
        for c in serde_json::to_string(t).unwrap().chars() {
            if disruptive(c) {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn json_strings_are_serde_json_with_every_disruptive_character_escaped() {
        for t in tricky_strings() {
            let mut written = Vec::new();
            write_json_str(&mut written, &t).unwrap();
            let written = String::from_utf8(written).unwrap();
            assert_eq!(written, reference_json(&t), "{t:?}");
            assert!(!written.chars().any(disruptive), "{written:?}");
            let back: String = serde_json::from_str(&written).unwrap();
            assert_eq!(back, t, "the escapes mean the same string");
        }
    }

    #[test]
    fn json_fast_path_agrees_with_the_char_by_char_one() {
        for t in tricky_strings() {
            let mut fast = Vec::new();
            write_json_str(&mut fast, &t).unwrap();
            let mut slow = Vec::new();
            write_json_escaped(&mut slow, &t).unwrap();
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn hardened_json_escapes_what_serde_json_left_raw() {
        for t in tricky_strings() {
            let value = serde_json::json!({ "name": t, "n": 1 });
            let line = value.to_string();
            let hardened = harden_json(&line);
            assert!(!hardened.chars().any(disruptive), "{hardened:?}");
            let back: serde_json::Value = serde_json::from_str(&hardened).unwrap();
            assert_eq!(back, value);
            let mut name = Vec::new();
            write_json_str(&mut name, &t).unwrap();
            let name = String::from_utf8(name).unwrap();
            assert_eq!(hardened, format!("{{\"n\":1,\"name\":{name}}}"));
        }
    }

    #[test]
    fn bidi_controls_and_separators_are_escaped_in_text_and_json() {
        let evil = "a\u{202e}b\u{2066}c\u{2069}d\u{2028}e\u{2029}f\u{85}g\u{9b}h";
        let text = escaped(evil);
        assert!(!text.chars().any(disruptive), "{text:?}");
        assert_eq!(
            text,
            "a\\u202eb\\u2066c\\u2069d\\u2028e\\u2029f\\u0085g\\u009bh"
        );
        let mut json = Vec::new();
        write_json_str(&mut json, evil).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "\"a\\u202eb\\u2066c\\u2069d\\u2028e\\u2029f\\u0085g\\u009bh\""
        );
        // Neighbours of the ranges are ordinary text.
        for ok in [
            '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}', '—', '\u{a0}',
        ] {
            assert!(!disruptive(ok), "{ok:?}");
        }
    }

    #[test]
    fn text_escaping_fast_path_agrees_with_the_char_by_char_one() {
        for t in tricky_strings() {
            let mut fast = String::new();
            escape_into(&mut fast, &t);
            let mut slow = String::new();
            for c in t.chars() {
                push_shown(&mut slow, c);
            }
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped_in_c_notation() {
        assert_eq!(escaped("a\nb\x1b[2Jc\td\r"), "a\\nb\\x1b[2Jc\td\\r");
        assert_eq!(escaped("\0\x07\x7f"), "\\x00\\x07\\x7f");
        assert_eq!(escaped("\u{85}x\u{9b}"), "\\u0085x\\u009b");
        // Not controls: shown as they are.
        assert_eq!(escaped("\u{a0}é—😀\\"), "\u{a0}é—😀\\");
    }

    #[test]
    fn every_escaped_character_starts_with_a_byte_the_fast_path_checks() {
        // Adding a class to `escape_of` without its lead byte in
        // `may_escape` would let the fast path show it raw.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            if escape_of(c).is_some() {
                let lead = c.encode_utf8(&mut [0; 4]).as_bytes()[0];
                assert!(may_escape(lead), "{c:?} starts with {lead:#04x}");
            }
        }
    }

    #[test]
    fn escaped_text_is_all_printable() {
        for t in tricky_strings() {
            let shown = escaped(&t);
            assert!(
                !shown.chars().any(|c| disruptive(c) && c != '\t'),
                "{shown:?}"
            );
        }
    }
}
