//! Exit codes, documented in the README, and the one each error ends with.

use super::{Error, bad_hex_line};
use crate::commands::{self, files::FileFailure};
use crate::net::addr::AddrError;
use crate::seal::{KeyError, WriteKeyError};

/// Everything asked for was done.
pub const OK: u8 = 0;
/// A system error: port in use, permission denied, network down, name
/// resolver unreachable...
pub const FAILURE: u8 = 1;
/// Bad arguments or input: host form, port, message too large.
pub const USAGE: u8 = 2;
/// A host name did not resolve: the resolver knows no address for it.
pub const NO_HOST: u8 = 3;
/// `send --ack`: some messages were not confirmed before the deadline;
/// `ping`: no reply at all.
pub const UNCONFIRMED: u8 = 4;
/// Nothing is listening at the destination (ICMP port unreachable).
pub const NOT_LISTENING: u8 = 5;
/// `discover --expect N`: fewer than N listeners answered in time.
pub const NOT_ALL_FOUND: u8 = 6;
/// The listener refused the messages (or the file) and said so.
pub const REFUSED: u8 = 7;
/// `send --file`: the listener's disk had no space for the file (or
/// writing it failed there).
pub const NO_SPACE: u8 = 8;
/// `send --file`: what the listener wrote does not have the file's hash.
pub const HASH_MISMATCH: u8 = 9;

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::LinesRefused { .. }
            | Error::NameTooLong { .. }
            | Error::BadHex { .. }
            | Error::StdinTooLarge { .. }
            | Error::UnknownInterface { .. }
            | Error::NotASocket { .. }
            | Error::AmbiguousPeer { .. } => USAGE,
            Error::NoSuchPeer { .. } => NO_HOST,
            Error::Env { error, .. } => error.exit_code(),
            Error::Command { error, .. } => match error {
                commands::Error::NotListening => NOT_LISTENING,
                commands::Error::TooLarge { .. } => USAGE,
                commands::Error::Refused { .. } => REFUSED,
                commands::Error::Input(e) if bad_hex_line(e).is_some() => USAGE,
                commands::Error::File(failure) => file_exit_code(failure),
                commands::Error::Input(_) | commands::Error::Output(_) | commands::Error::Io(_) => {
                    FAILURE
                }
            },
            Error::Addr(AddrError::UnknownHost { .. } | AddrError::NoAddressOfFamily { .. }) => {
                NO_HOST
            }
            Error::Addr(
                AddrError::ResolverUnreachable { .. } | AddrError::ResolverFailed { .. },
            ) => FAILURE,
            Error::Addr(_) => USAGE,
            Error::Key(KeyError::Malformed { .. }) => USAGE,
            Error::Keygen {
                source: WriteKeyError::NotRegular(_) | WriteKeyError::Exists,
                ..
            } => USAGE,
            Error::Bind { .. }
            | Error::UnixInUse { .. }
            | Error::LinesNotSent { .. }
            | Error::PortInUse { .. }
            | Error::Output(_)
            | Error::Io { .. }
            | Error::Key(_)
            | Error::Keygen { .. }
            | Error::Source { .. }
            | Error::Join { .. } => FAILURE,
        }
    }
}

/// The exit code of a file that was not delivered.
fn file_exit_code(failure: &FileFailure) -> u8 {
    use crate::wire::file::*;
    match failure {
        FileFailure::Status { status, .. } => match *status {
            FILE_NO_SAVE_DIR | FILE_TOO_LARGE | FILE_BUSY => REFUSED,
            FILE_NO_SPACE | FILE_WRITE_FAILED => NO_SPACE,
            FILE_HASH_MISMATCH => HASH_MISMATCH,
            _ => UNCONFIRMED,
        },
        FileFailure::NoProgress { .. }
        | FileFailure::ListenerChanged { .. }
        | FileFailure::ListenerGone { .. }
        | FileFailure::Interrupted { .. } => UNCONFIRMED,
        FileFailure::Read { .. } => FAILURE,
    }
}
