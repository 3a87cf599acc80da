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
    let mut high: Option<u8> = None;
    for (at, c) in text.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        let digit = c.to_digit(16).ok_or(HexError::NotHex { at })? as u8;
        match high.take() {
            None => high = Some(digit),
            Some(h) => out.push(h << 4 | digit),
        }
    }
    if high.is_some() {
        return Err(HexError::OddLength);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(Id(0xab).to_string(), "00000000000000ab");
    }
}
