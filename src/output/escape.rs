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

use std::borrow::Cow;
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
/// 0xE2. Text without such bytes needs no look at its characters. None of
/// them is a continuation byte, so each one found starts a character.
fn may_disrupt(b: u8) -> bool {
    (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
}

/// Whether `b` is printable ASCII (space to `~`): shown as itself in text,
/// and in JSON unless it is `"` or `\`. Every other byte is a control to
/// escape or part of a multi-byte character. Adding 0x60 moves 0x20..=0x7e
/// to the lowest signed bytes (-128..=-34), so it is one signed compare,
/// which SSE2 has for 16 bytes at once (it has no unsigned one): a scan
/// for the other bytes runs about a quarter faster than with a range.
fn printable_ascii(b: u8) -> bool {
    (b.wrapping_add(0x60) as i8) < -33
}

/// Bytes a JSON string must look at: the non-[`printable_ascii`] ones, `"`
/// and `\`.
fn json_special(b: u8) -> bool {
    !printable_ascii(b) | (b == b'"') | (b == b'\\')
}

/// Bytes that may start a character JSON escapes ([`may_disrupt`], `"`, `\`).
fn json_lead(b: u8) -> bool {
    may_disrupt(b) | (b == b'"') | (b == b'\\')
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

/// How a body (bytes a peer chose) is shown, found by [`shown_text`] or
/// [`shown_json`] in one scan.
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

/// How text output shows `bytes`: as they are, escaped from some point on
/// ([`push_text_escaped`]), or not at all (not UTF-8). Printable ASCII is
/// skipped a chunk at a time; UTF-8 is checked only from the first other
/// byte on.
pub fn shown_text(bytes: &[u8]) -> Shown<'_> {
    shown(bytes, |b| !printable_ascii(b), first_text_escape)
}

/// How a JSON string shows `bytes`, as [`shown_text`] for text
/// ([`push_json_escaped`] escapes the rest).
pub fn shown_json(bytes: &[u8]) -> Shown<'_> {
    shown(bytes, json_special, first_json_escape)
}

fn shown(
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

/// The text escape for `c`, or `None` when it is shown as itself. Each
/// class of escaped characters is one arm; a new class is one new line
/// here (and, if its UTF-8 starts with a new lead byte, one in
/// [`may_escape`]).
fn escape_of(c: char) -> Option<Escape> {
    match c {
        '\t' => None, // shown as a tab: harmless, and columns stay aligned
        '\n' => Some(Escape::Short("\\n")),
        '\r' => Some(Escape::Short("\\r")),
        '\0'..='\x1f' | '\x7f' => Some(Escape::Byte(c as u8)), // C0 controls, DEL
        '\u{80}'..='\u{9f}' => Some(Escape::CodePoint(c)),     // C1 controls
        c if reorders_or_breaks(c) => Some(Escape::CodePoint(c)), // bidi, separators
        _ => None,
    }
}

/// The JSON escape for `c`, or `None` when it is written as itself: as
/// serde_json does (short forms for `" \ \b \t \n \f \r`, `\u00XX` for the
/// other C0), and every other [`disruptive`] character as `\uXXXX`.
fn json_escape_of(c: char) -> Option<Escape> {
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

/// True for every byte that can start the UTF-8 of a character
/// [`escape_of`] escapes: text without these bytes is shown as it is.
/// These are exactly the [`disruptive`] characters' lead bytes.
#[inline]
fn may_escape(b: u8) -> bool {
    may_disrupt(b)
}

/// Where `escape` finds the first character to escape in `text`, looking
/// only at characters that start with a `lead` byte.
fn first_escape(
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

fn first_text_escape(text: &str) -> Option<usize> {
    first_escape(text, may_escape, escape_of)
}

fn first_json_escape(text: &str) -> Option<usize> {
    first_escape(text, json_lead, json_escape_of)
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

/// Appends `text` with every [`disruptive`] character but the tab
/// escaped, so a peer cannot break lines, reorder them or drive the
/// terminal: `\n` and `\r` by name, other C0 controls and DEL as `\xNN`
/// (`\x1b`), C1 controls, bidi controls and separators as `\uNNNN`
/// (`\u009b`, `\u202e`); a tab stays a tab.
pub fn push_text_escaped(out: &mut impl Push, text: &str) {
    push_escaped(out, text, may_escape, escape_of);
}

/// Appends `text` as the inside of a JSON string (no quotes): escaped as
/// serde_json does (short forms for `" \ \b \t \n \f \r`, lowercase
/// `\u00XX` for the other C0), and the other [`disruptive`] characters as
/// `\uXXXX`.
pub fn push_json_escaped(out: &mut impl Push, text: &str) {
    push_escaped(out, text, json_lead, json_escape_of);
}

/// As [`push_text_escaped`], into a `String`.
pub fn escape_into(s: &mut String, text: &str) {
    push_text_escaped(s, text);
}

/// `text` escaped as [`escape_into`] does, as a new string.
pub fn escaped(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    escape_into(&mut s, text);
    s
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters each escaping rule is about, and their neighbours.
    const SPECIALS: [char; 25] = [
        '"', '\\', '\n', '\t', '\u{0}', '\u{8}', '\u{c}', '\r', '\u{1f}', '\u{7f}', '\u{80}',
        '\u{9f}', '\u{a0}', 'é', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{202f}',
        '\u{2066}', '\u{2069}', '\u{206a}', '—', '\u{200f}', '😀',
    ];

    /// Strings of every length from 1 to 39 with one special character at each
    /// position, and pseudo-random mixes of ASCII, controls and non-ASCII.
    fn tricky_strings() -> Vec<String> {
        let specials = SPECIALS;
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

    /// Bodies as peers may send them: runs of printable ASCII (long enough
    /// to span several scanned chunks) between special characters, single
    /// arbitrary bytes, and special characters cut short (UTF-8 that is
    /// not).
    pub(crate) fn body() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => prop::collection::vec(0x20u8..0x7f, 0..80),
            2 => prop::sample::select(&SPECIALS[..]).prop_map(|c| c.to_string().into_bytes()),
            1 => any::<u8>().prop_map(|b| vec![b]),
            1 => (prop::sample::select(&SPECIALS[..]), 1..4usize).prop_map(|(c, keep)| {
                let mut b = c.to_string().into_bytes();
                b.truncate(keep.min(b.len().saturating_sub(1)).max(1));
                b
            }),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// How text output showed a character before the one-pass writer, spelt
    /// out from the rules: the reference the fast paths must agree with.
    fn reference_char(c: char, s: &mut String) {
        match c {
            '\t' => s.push('\t'),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' => s.push_str(&format!("\\x{:02x}", c as u8)),
            c if disruptive(c) => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }

    /// `text` escaped a character at a time, as text output shows it.
    pub(crate) fn reference_text(text: &str) -> String {
        let mut s = String::new();
        for c in text.chars() {
            reference_char(c, &mut s);
        }
        s
    }

    /// The inside of a JSON string escaped a character at a time (the
    /// former slow path of `write_json_str`).
    pub(crate) fn reference_json(text: &str) -> String {
        let mut s = String::new();
        for c in text.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\u{8}' => s.push_str("\\b"),
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\u{c}' => s.push_str("\\f"),
                '\r' => s.push_str("\\r"),
                c if disruptive(c) => s.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => s.push(c),
            }
        }
        s
    }

    /// What serde_json writes, with the [`disruptive`] characters it
    /// leaves raw escaped by hand: the reference for [`write_json_str`].
    fn serde_json_hardened(t: &str) -> String {
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

    /// `bytes` as `shown` says, escaped by `push`; `None` if not UTF-8.
    fn render(
        bytes: &[u8],
        shown: Shown<'_>,
        push: fn(&mut Vec<u8>, &str),
    ) -> Result<Option<Vec<u8>>, TestCaseError> {
        Ok(match shown {
            Shown::AsIs => Some(bytes.to_vec()),
            Shown::Escaped { head, rest } => {
                prop_assert_eq!(head.len() + rest.len(), bytes.len());
                prop_assert_eq!(head, &bytes[..head.len()]);
                prop_assert_eq!(rest.as_bytes(), &bytes[head.len()..]);
                let mut out = head.to_vec();
                push(&mut out, rest);
                Some(out)
            }
            Shown::NotUtf8 => None,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn one_pass_text_body_is_utf8_check_then_char_by_char_escape(bytes in body()) {
            let fast = render(&bytes, shown_text(&bytes), push_text_escaped)?;
            let reference = std::str::from_utf8(&bytes).ok().map(|t| reference_text(t).into_bytes());
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn one_pass_json_body_is_utf8_check_then_char_by_char_escape(bytes in body()) {
            let fast = render(&bytes, shown_json(&bytes), push_json_escaped)?;
            let reference = std::str::from_utf8(&bytes).ok().map(|t| reference_json(t).into_bytes());
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn plain_len_is_the_first_special_byte(
            bytes in prop::collection::vec(prop_oneof![8 => 0x20u8..0x7f, 1 => any::<u8>()], 0..300),
        ) {
            for special in [|b: u8| !printable_ascii(b), json_special, may_disrupt, json_lead] {
                let naive = bytes.iter().position(|&b| special(b)).unwrap_or(bytes.len());
                prop_assert_eq!(plain_len(&bytes, special), naive);
            }
        }
    }

    #[test]
    fn printable_ascii_is_space_to_tilde() {
        for b in 0..=255u8 {
            assert_eq!(printable_ascii(b), (b' '..=b'~').contains(&b), "{b:#04x}");
        }
    }

    #[test]
    fn json_strings_are_serde_json_with_every_disruptive_character_escaped() {
        for t in tricky_strings() {
            let mut written = Vec::new();
            write_json_str(&mut written, &t).unwrap();
            let written = String::from_utf8(written).unwrap();
            assert_eq!(written, serde_json_hardened(&t), "{t:?}");
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
            let slow = format!("\"{}\"", reference_json(&t));
            assert_eq!(String::from_utf8(fast).unwrap(), slow, "{t:?}");
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
            assert_eq!(escaped(&t), reference_text(&t), "{t:?}");
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
        // Adding a class to `escape_of` (or `json_escape_of`) without its
        // lead byte in `may_escape` (`json_lead`) would let the fast path
        // show it raw; a printable ASCII byte that needed escaping would
        // be skipped by the first scan.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let lead = c.encode_utf8(&mut [0; 4]).as_bytes()[0];
            if escape_of(c).is_some() {
                assert!(may_escape(lead), "{c:?} starts with {lead:#04x}");
                assert!(!printable_ascii(lead), "{c:?}");
            }
            if json_escape_of(c).is_some() {
                assert!(json_lead(lead), "{c:?} starts with {lead:#04x}");
                assert!(json_special(lead), "{c:?}");
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
