//! Tests of escaping: the fast paths pinned against char-by-char
//! references and serde_json, and the byte classes against their rules.

use super::json::{json_escape_of, json_lead, json_special};
use super::scan::{may_disrupt, printable_ascii};
use super::text::{escape_of, may_escape};
use super::*;
use proptest::prelude::*;

/// Characters each escaping rule is about, and their neighbours.
const SPECIALS: [char; 25] = [
    '"', '\\', '\n', '\t', '\u{0}', '\u{8}', '\u{c}', '\r', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}',
    '\u{a0}', 'é', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{202f}', '\u{2066}',
    '\u{2069}', '\u{206a}', '—', '\u{200f}', '😀',
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
