//! Escaping what peers chose (names, texts) for a terminal or for JSON,
//! with fast paths for the common case of nothing to escape.

use std::io::{self, Write};

/// Writes `s` as a JSON string. Most text needs no escaping, and finding
/// that out a chunk at a time is several times faster than serde_json's
/// byte-by-byte escaping loop (which was 40% of a flooded listener's
/// instructions); text that does need it goes through serde_json.
pub fn write_json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    // serde_json escapes exactly these: C0 controls, '"' and '\'.
    if none_of(s.as_bytes(), |b| (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        Ok(serde_json::to_writer(&mut *out, s)?)
    }
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
        _ => None,
    }
}

/// True for every byte that can start the UTF-8 of a character
/// [`escape_of`] escapes: text without these bytes is shown as it is.
/// (C0 and DEL are single bytes; C1, U+0080..=U+009F, is 0xC2 0x80..=0x9F.)
#[inline]
fn may_escape(b: u8) -> bool {
    (b < 0x20) | (b == 0x7f) | (b == 0xc2)
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

/// Appends `text` with control characters escaped, so a peer cannot break
/// lines or drive the terminal: `\n` and `\r` by name, other C0 controls
/// and DEL as `\xNN` (`\x1b`), C1 controls as `\uNNNN` (`\u009b`); a tab
/// stays a tab.
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

/// `text` with control characters escaped, as a new string.
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
            '"', '\\', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', 'é',
            '\u{2028}', '😀',
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

    #[test]
    fn json_strings_are_written_exactly_as_serde_json_writes_them() {
        for t in tricky_strings() {
            let mut fast = Vec::new();
            write_json_str(&mut fast, &t).unwrap();
            assert_eq!(fast, serde_json::to_vec(&t).unwrap(), "{t:?}");
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
        assert_eq!(escaped("\u{a0}é\u{2028}😀\\"), "\u{a0}é\u{2028}😀\\");
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
                !shown.chars().any(|c| c.is_control() && c != '\t'),
                "{shown:?}"
            );
        }
    }
}
