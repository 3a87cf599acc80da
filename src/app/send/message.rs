//! The message `send` is given: its words or hex digits, or all of stdin
//! as one datagram, or stdin lines (hex-decoded with `--hex`).

use crate::cli::SendArgs;
use crate::commands::source::{self, HexLines, Source, WholeError};
use crate::error::Error;
use crate::util::hex;
use std::io;

/// All of stdin as one raw datagram of at most `max` bytes (`--raw`).
pub(super) fn stdin_datagram(
    max: usize,
    hex: bool,
    failed: impl FnOnce(crate::commands::Error) -> Error,
) -> Result<Vec<u8>, Error> {
    source::read_whole(io::stdin().lock(), max, hex).map_err(|e| match e {
        WholeError::TooLarge { max } => Error::StdinTooLarge { max },
        WholeError::Hex(error) => Error::BadHex {
            what: "stdin",
            error,
        },
        WholeError::Io(e) => failed(crate::commands::Error::Input(e)),
    })
}

/// The message the arguments give: the words joined by spaces, or with
/// `--hex` the bytes those hex digits stand for.
pub(super) fn message_bytes(args: &SendArgs) -> Result<Vec<u8>, Error> {
    let text = args.message.join(" ");
    if !args.hex {
        return Ok(text.into_bytes());
    }
    hex::parse(&text).map_err(|error| Error::BadHex {
        what: "the message",
        error,
    })
}

/// Stdin lines, decoded from hex with `--hex`.
pub(super) fn hexed<S: Source + 'static>(lines: S, hex: bool) -> Box<dyn Source> {
    if hex {
        Box::new(HexLines::new(lines))
    } else {
        Box::new(lines)
    }
}
