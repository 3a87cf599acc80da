//! The errors a command ends with, and the exit code each maps to.

use crate::commands;
use crate::net::addr::AddrError;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Exit codes, documented in the README.
pub mod exit {
    /// Everything asked for was done.
    pub const OK: u8 = 0;
    /// A system error: port in use, permission denied, network down...
    pub const FAILURE: u8 = 1;
    /// Bad arguments or input: host form, port, message too large.
    pub const USAGE: u8 = 2;
    /// A host name did not resolve.
    pub const NO_HOST: u8 = 3;
    /// `send --ack`: some messages were not confirmed before the deadline.
    pub const UNCONFIRMED: u8 = 4;
    /// Nothing is listening at the destination (ICMP port unreachable).
    pub const NOT_LISTENING: u8 = 5;
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
    Bind { addr: SocketAddr, source: io::Error },
    /// Sending to `dest` (send, send --ack, ping) failed.
    Command {
        dest: SocketAddr,
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
    Key(crate::seal::KeyError),
    /// `keygen` could not write the key file.
    Keygen { path: String, source: io::Error },
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::LinesRefused { .. } => exit::USAGE,
            Error::Command { error, .. } => match error {
                commands::Error::NotListening => exit::NOT_LISTENING,
                commands::Error::TooLarge { .. } => exit::USAGE,
                commands::Error::Input(_) | commands::Error::Output(_) | commands::Error::Io(_) => {
                    exit::FAILURE
                }
            },
            Error::Addr(AddrError::UnknownHost { .. }) => exit::NO_HOST,
            Error::Addr(_) => exit::USAGE,
            Error::Key(crate::seal::KeyError::Malformed { .. }) => exit::USAGE,
            Error::Bind { .. }
            | Error::LinesNotSent { .. }
            | Error::PortInUse { .. }
            | Error::Output(_)
            | Error::Io { .. }
            | Error::Key(_)
            | Error::Keygen { .. } => exit::FAILURE,
        }
    }
}

impl From<AddrError> for Error {
    fn from(e: AddrError) -> Self {
        Error::Addr(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(text) => write!(f, "{text}"),
            Error::Addr(e) => write!(f, "{e}"),
            Error::LinesRefused { refused, sent } => write!(
                f,
                "{refused} line(s) too large for one datagram were not sent ({sent} sent)"
            ),
            Error::LinesNotSent {
                failed,
                refused,
                sent,
            } => {
                write!(f, "{failed} line(s) could not be sent")?;
                if *refused > 0 {
                    write!(f, " and {refused} were too large for one datagram")?;
                }
                write!(f, " ({sent} sent)")
            }
            Error::PortInUse {
                port,
                shared: false,
            } => write!(f, "port {port} is already in use; pick another with --port"),
            Error::PortInUse { port, shared: true } => write!(
                f,
                "port {port} is already in use by a socket that does not share it; pick another with --port"
            ),
            Error::Bind { addr, source } => {
                write!(f, "cannot listen on {addr}: ")?;
                match source.raw_os_error() {
                    Some(libc::EACCES) => {
                        write!(f, "permission denied (ports below 1024 need privileges)")
                    }
                    Some(libc::EADDRNOTAVAIL) => {
                        write!(f, "no interface on this host has that address")
                    }
                    _ => write!(f, "{source}"),
                }
            }
            Error::Command { dest, error } => match error {
                commands::Error::NotListening => write!(f, "nothing is listening on {dest}"),
                commands::Error::TooLarge { len, max } => write!(
                    f,
                    "message too large: {len} bytes, but at most {max} fit in one UDP datagram to this address"
                ),
                commands::Error::Input(e) => write!(f, "cannot read stdin: {}", io_words(e)),
                commands::Error::Output(e) => write!(f, "cannot write output: {}", io_words(e)),
                commands::Error::Io(source) => {
                    write!(f, "cannot send to {dest}: ")?;
                    match source.raw_os_error() {
                        Some(libc::EACCES) => write!(
                            f,
                            "permission denied (a broadcast address needs --broadcast, or use '<broadcast>')"
                        ),
                        Some(libc::ENETUNREACH) => write!(f, "network unreachable (no route)"),
                        Some(libc::EHOSTUNREACH) => write!(f, "host unreachable"),
                        Some(libc::EMSGSIZE) => write!(f, "message too long for the path"),
                        _ => write!(f, "{source}"),
                    }
                }
            },
            Error::Output(e) => write!(f, "cannot write output: {}", io_words(e)),
            Error::Io { doing, source } => write!(f, "{doing}: {source}"),
            Error::Key(e) => write!(f, "{e}"),
            Error::Keygen { path, source } if source.kind() == io::ErrorKind::AlreadyExists => {
                write!(f, "{path} already exists; use --force to replace it")
            }
            Error::Keygen { path, source } => write!(f, "cannot write key file {path}: {source}"),
        }
    }
}

impl std::error::Error for Error {}

/// What an I/O error says, without the " (os error N)" that `std` appends
/// to the system's words: "No space left on device".
pub fn io_words(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_words_drop_the_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(io_words(&e), "No space left on device");
        let e = io::Error::other("sendmmsg sent nothing (os error 0)");
        assert_eq!(io_words(&e), "sendmmsg sent nothing (os error 0)");
    }
}
