//! `--hex` messages: each message of another source decoded from hex
//! digits, and the error a line that is not hex ends the input with.

use super::{Next, Source};
use crate::util::hex::{self, HexError};
use mio::{Registry, Token};
use std::fmt;
use std::io;

/// A `--hex` stdin line that is not hex: the input error [`HexLines`]
/// ends with (carried inside an [`io::Error`] of kind `InvalidData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadHexLine {
    /// 1-based.
    pub line: u64,
    pub error: HexError,
}

impl fmt::Display for BadHexLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stdin line {} is not hex: {}", self.line, self.error)
    }
}

impl std::error::Error for BadHexLine {}

/// Each message of another source given as hex digits (`--hex`), decoded.
/// A message that is not hex ends the input with a [`BadHexLine`] error.
pub struct HexLines<S: Source> {
    inner: S,
    decoded: Vec<u8>,
    line: u64,
    /// A bad line found by [`Source::next_buffered`], reported by the next
    /// [`Source::next`] (where errors can be returned).
    failed: Option<BadHexLine>,
}

impl<S: Source> HexLines<S> {
    pub fn new(inner: S) -> Self {
        HexLines {
            inner,
            decoded: Vec::new(),
            line: 0,
            failed: None,
        }
    }

    /// Decodes a message of the inner source into `decoded`.
    fn decode(decoded: &mut Vec<u8>, line: &mut u64, text: &[u8]) -> Result<(), BadHexLine> {
        *line += 1;
        decoded.clear();
        let mut decoder = hex::Decoder::default();
        decoder
            .feed(text, decoded)
            .and_then(|()| decoder.finish())
            .map_err(|error| BadHexLine { line: *line, error })
    }
}

impl<S: Source> Source for HexLines<S> {
    fn next(&mut self) -> io::Result<Next<'_>> {
        if let Some(bad) = self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, bad));
        }
        match self.inner.next()? {
            Next::Message(text) => {
                Self::decode(&mut self.decoded, &mut self.line, text)
                    .map_err(|bad| io::Error::new(io::ErrorKind::InvalidData, bad))?;
                Ok(Next::Message(&self.decoded))
            }
            Next::Pending => Ok(Next::Pending),
            Next::End => Ok(Next::End),
        }
    }

    fn next_buffered(&mut self) -> Option<Next<'_>> {
        if self.failed.is_some() {
            return None;
        }
        match self.inner.next_buffered()? {
            Next::Message(text) => match Self::decode(&mut self.decoded, &mut self.line, text) {
                Ok(()) => Some(Next::Message(&self.decoded)),
                Err(bad) => {
                    self.failed = Some(bad);
                    None
                }
            },
            other => Some(other),
        }
    }

    fn arm(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        self.inner.arm(registry, token)
    }

    fn readable(&mut self) {
        self.inner.readable();
    }
}
