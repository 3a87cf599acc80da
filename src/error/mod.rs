//! The errors a command ends with: what each carries ([`exit`] maps it to
//! an exit code, `words` says it).

pub mod exit;
mod words;

use crate::commands::{self, source::BadHexLine};
use crate::net::PeerAddr;
use crate::net::addr::AddrError;
use crate::seal::{FileKind, KeyError, WriteKeyError};
use crate::util::hex::HexError;
use std::io;
use std::net::SocketAddr;

/// The command that was sending, so that a hint names only options it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    Send,
    SendAck,
    Ping,
}

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// Arguments that clap accepted but that make no sense together.
    Usage(String),
    /// A bad host or port, or a name that did not resolve.
    Addr(AddrError),
    /// Some stdin lines were refused (too large); the others were sent.
    LinesRefused { refused: u64, sent: u64 },
    /// Some stdin lines could not be sent (this host refused them: a
    /// firewall rule, no route), and maybe some were refused as too large;
    /// the others were sent.
    LinesNotSent {
        failed: u64,
        refused: u64,
        sent: u64,
    },
    /// The listening port is bound by another socket; `shared`: we asked
    /// to share it (`--share-port`) and the other socket does not allow it.
    PortInUse { port: u16, shared: bool },
    /// The listening socket could not be bound.
    Bind { addr: PeerAddr, source: io::Error },
    /// `listen --bind unix:...`: a listener answers at that socket file, or
    /// the abstract name is taken.
    UnixInUse { addr: PeerAddr },
    /// `listen --bind unix:/path`: something other than a socket is at the
    /// path (`None`: a regular file); it is never replaced.
    NotASocket {
        addr: PeerAddr,
        kind: Option<FileKind>,
    },
    /// Sending to `dest` (send, send --ack, ping) failed.
    Command {
        dest: PeerAddr,
        by: Sending,
        error: commands::Error,
    },
    /// Writing results to stdout failed (not a closed pipe, which is a
    /// quiet end).
    Output(io::Error),
    /// Any other I/O failure, with what we were doing.
    Io {
        doing: &'static str,
        source: io::Error,
    },
    /// A key file that cannot be read or is malformed.
    Key(KeyError),
    /// `keygen` did not write the key file.
    Keygen { path: String, source: WriteKeyError },
    /// The value of environment variable `var` was refused for `error`.
    Env {
        var: &'static str,
        value: String,
        error: Box<Error>,
    },
    /// A sender name longer than a message can carry.
    NameTooLong { len: usize, max: usize },
    /// A `--hex` message (`what`: where it came from) that is not hex.
    BadHex { what: &'static str, error: HexError },
    /// `send --raw` from stdin: more bytes than one datagram holds.
    StdinTooLarge { max: usize },
    /// `--interface` named an interface this host does not have.
    UnknownInterface { name: String, existing: Vec<String> },
    /// `@name`: no listener answered to it within `waited`; `heard` are the
    /// names that did answer; `unprobed`: no interface could be probed.
    NoSuchPeer {
        name: String,
        port: u16,
        waited: std::time::Duration,
        heard: Vec<String>,
        unprobed: bool,
    },
    /// `@name`: several listeners answer to it (each with its addresses).
    AmbiguousPeer {
        name: String,
        addrs: Vec<Vec<SocketAddr>>,
    },
    /// `--from`: the sending socket could not be bound there.
    Source { addr: SocketAddr, source: io::Error },
    /// `listen --group`: the group could not be joined on any interface
    /// (each failure with its interface; none: no interface to join on).
    Join {
        group: std::net::IpAddr,
        failures: Vec<(String, io::Error)>,
    },
}

impl From<AddrError> for Error {
    fn from(e: AddrError) -> Self {
        Error::Addr(e)
    }
}

/// The bad `--hex` stdin line an input error stands for, if it is one.
fn bad_hex_line(e: &io::Error) -> Option<&BadHexLine> {
    e.get_ref()?.downcast_ref::<BadHexLine>()
}

impl std::error::Error for Error {}
