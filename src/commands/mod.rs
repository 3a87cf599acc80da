//! What each subcommand does. Commands take plain configuration values,
//! run their event loop, and return values (or hand events to a sink);
//! they never print and know nothing of the command line.
//!
//! - [`listen`]: receive, show, answer;
//! - [`send`]: the one sender type, and fire-and-forget sending;
//! - [`chat`]: `udpmsg chat`, a room of members;
//! - [`deliver`]: `send --ack`, confirmed delivery;
//! - [`ask`]: `send --wait`, showing what comes back;
//! - [`files`]: `send --file` and the listener's side of it;
//! - [`ping`], [`discover`]; [`resolve`]: a listener by its name (`@name`);
//! - [`presence`]: what announcing listeners and watchers share;
//! - [`watch`]: `discover --watch`, who comes and goes;
//! - [`source`]: messages from the command line or stdin.

pub mod ask;
pub mod chat;
pub mod deliver;
pub mod discover;
pub mod files;
pub mod listen;
pub mod ping;
pub mod presence;
pub mod resolve;
pub mod send;
pub mod source;
pub mod watch;

use crate::util::words::IoWords;
use std::fmt;
use std::io;

/// Why a sending command (send, send --ack, ping) stopped early.
#[derive(Debug)]
pub enum Error {
    /// ICMP port unreachable, or no Unix socket at the path: nothing
    /// listens at the destination.
    NotListening,
    /// A message of `len` bytes where at most `max` fit in one datagram.
    TooLarge { len: usize, max: usize },
    /// The listener refused the messages (a `REFUSED_*` reason code).
    Refused { reason: u8 },
    /// Reading the messages (stdin) failed.
    Input(io::Error),
    /// Writing the results (stdout) failed.
    Output(io::Error),
    /// A socket error.
    Io(io::Error),
    /// A file was not delivered (`send --file`).
    File(files::FileFailure),
}

impl From<io::Error> for Error {
    /// A refused connection or send (an ICMP port unreachable; a Unix
    /// socket file nobody listens on any more) and a Unix socket path where
    /// no file is at all are both [`Error::NotListening`].
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => Error::NotListening,
            _ => Error::Io(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotListening => write!(f, "nothing is listening"),
            Error::TooLarge { len, max } => write!(
                f,
                "message too large: {len} bytes, at most {max} fit in one datagram"
            ),
            Error::Refused { reason } => {
                write!(f, "refused by the listener ({})", refusal_words(*reason))
            }
            Error::Input(e) => write!(f, "cannot read stdin: {}", IoWords(e)),
            Error::Output(e) => write!(f, "cannot write output: {}", IoWords(e)),
            Error::Io(e) => write!(f, "{}", IoWords(e)),
            Error::File(e) => write!(f, "{}: {e}", e.file()),
        }
    }
}

impl std::error::Error for Error {}

/// What a refusal's reason code means.
pub fn refusal_words(reason: u8) -> &'static str {
    match reason {
        crate::wire::REFUSED_BUSY => {
            "it is tracking as many senders as it can; try again in a few seconds"
        }
        _ => "no reason given",
    }
}
