//! Hex text: lowercase digits for bytes and ids, and parsing it back.

use std::fmt;

/// Lowercase hex of a byte string, written without allocating.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut chunk = [0u8; 128];
        for part in self.0.chunks(chunk.len() / 2) {
            for (i, b) in part.iter().enumerate() {
                chunk[2 * i] = DIGITS[usize::from(b >> 4)];
                chunk[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
            }
            // Only ASCII hex digits were written.
            f.write_str(std::str::from_utf8(&chunk[..2 * part.len()]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// A 64-bit id as 16 hex digits.
#[derive(Clone, Copy)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Why hex text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// A character that is neither a hex digit nor white space.
    NotHex { at: usize },
    /// An odd number of digits: the last byte is incomplete.
    OddLength,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::NotHex { at } => write!(f, "character {} is not a hex digit", at + 1),
            HexError::OddLength => write!(f, "odd number of hex digits"),
        }
    }
}

impl std::error::Error for HexError {}

/// Parses hex digits (either case); white space between them is ignored,
/// so `de ad be ef` and `deadbeef` are the same bytes.
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut decoder = Decoder::default();
    decoder.feed(text.as_bytes(), &mut out)?;
    decoder.finish()?;
    Ok(out)
}

/// Parses hex text that arrives in pieces (a stream), as [`parse`] does
/// the whole: a byte's two digits may be split between pieces.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The first digit of an incomplete byte.
    high: Option<u8>,
    /// Bytes of text fed so far (for [`HexError::NotHex`]).
    at: usize,
}

impl Decoder {
    /// Appends the bytes `text` completes to `out`.
    pub fn feed(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), HexError> {
        for &c in text {
            let at = self.at;
            self.at += 1;
            if c.is_ascii_whitespace() {
                continue;
            }
            let digit = (c as char).to_digit(16).ok_or(HexError::NotHex { at })? as u8;
            match self.high.take() {
                None => self.high = Some(digit),
                Some(h) => out.push(h << 4 | digit),
            }
        }
        Ok(())
    }

    /// The end of the text: refused when a byte is incomplete.
    pub fn finish(self) -> Result<(), HexError> {
        match self.high {
            Some(_) => Err(HexError::OddLength),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoder_fed_in_pieces_agrees_with_parse() {
        let text = "de ad\nbe e f";
        for split in 0..=text.len() {
            let mut out = Vec::new();
            let mut decoder = Decoder::default();
            decoder.feed(&text.as_bytes()[..split], &mut out).unwrap();
            decoder.feed(&text.as_bytes()[split..], &mut out).unwrap();
            decoder.finish().unwrap();
            assert_eq!(out, [0xde, 0xad, 0xbe, 0xef], "split at {split}");
        }
        let mut decoder = Decoder::default();
        decoder.feed(b"ab", &mut Vec::new()).unwrap();
        assert_eq!(
            decoder.feed(b" x", &mut Vec::new()),
            Err(HexError::NotHex { at: 3 })
        );
    }

    #[test]
    fn hex_is_lowercase_and_complete() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = Hex(&bytes).to_string();
        assert_eq!(text.len(), 512);
        assert!(text.starts_with("000102"));
        assert!(text.ends_with("fdfeff"));
        assert_eq!(parse(&text), Ok(bytes));
    }

    #[test]
    fn parse_accepts_spaces_and_case_and_refuses_garbage() {
        assert_eq!(parse("de ad BE ef"), Ok(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("abc"), Err(HexError::OddLength));
        assert_eq!(parse("zz"), Err(HexError::NotHex { at: 0 }));
        assert_eq!(parse("0a\n0b\t\r0c"), Ok(vec![10, 11, 12]));
        assert_eq!(parse("0é"), Err(HexError::NotHex { at: 1 }));
        assert_eq!(Id(0xab).to_string(), "00000000000000ab");
    }
}
