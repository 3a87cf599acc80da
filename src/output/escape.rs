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

/// Appends `text` with control characters escaped (`\n`, `\u{1b}`), so a peer
/// cannot break lines or drive the terminal.
pub fn escape_into(s: &mut String, text: &str) {
    // Control characters are C0, DEL and C1 (U+0080..=U+009F, which UTF-8
    // encodes as 0xC2 0x80..=0x9F): without those bytes there are none.
    if none_of(text.as_bytes(), |b| (b < 0x20) | (b == 0x7f) | (b == 0xc2)) {
        s.push_str(text);
        return;
    }
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        s.push_str(text);
        return;
    }
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
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
            let slow: String = t
                .chars()
                .flat_map(|c| {
                    let escape = c.is_control() && c != '\t';
                    let e: Vec<char> = if escape {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    e
                })
                .collect();
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\nb\x1b[2Jc\td");
        assert_eq!(s, "a\\nb\\u{1b}[2Jc\td");
    }
}
