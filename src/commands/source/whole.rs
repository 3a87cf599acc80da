//! All of stdin as one message (`send --raw`), bounded in memory.

use super::CHUNK;
use crate::util::hex::{self, HexError};
use std::io::{self, Read};

/// Why all of stdin could not become one message.
#[derive(Debug)]
pub enum WholeError {
    /// More than `max` bytes (decoded, for hex).
    TooLarge { max: usize },
    /// `--hex` text that is not hex.
    Hex(HexError),
    /// Reading failed.
    Io(io::Error),
}

/// All of `reader` as one message of at most `max` bytes, read blocking;
/// with `hex`, the text is hex digits (white space between them ignored)
/// and `max` counts the bytes they stand for. Reading stops one byte past
/// `max` (or one hex chunk), so an endless input costs bounded memory.
pub fn read_whole(mut reader: impl Read, max: usize, hex: bool) -> Result<Vec<u8>, WholeError> {
    let mut out = Vec::new();
    if !hex {
        (&mut reader)
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(WholeError::Io)?;
    } else {
        let mut decoder = hex::Decoder::default();
        let mut chunk = vec![0u8; CHUNK];
        while out.len() <= max {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(WholeError::Io(e)),
            };
            decoder
                .feed(&chunk[..n], &mut out)
                .map_err(WholeError::Hex)?;
        }
        if out.len() <= max {
            decoder.finish().map_err(WholeError::Hex)?;
        }
    }
    if out.len() > max {
        return Err(WholeError::TooLarge { max });
    }
    Ok(out)
}
