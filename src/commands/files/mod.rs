//! File transfer: `send --file` and `listen --save-dir`. A file travels as
//! one sender's acknowledged stream of file records (the Texts of `send
//! --ack` with [`crate::wire::FLAG_FILE`]), so ordering, selective acks,
//! loss detection, the timer and the congestion window are those of the
//! [`crate::reliable`] engine; the listener answers each file with
//! [`crate::wire::FileStatus`] messages.
//!
//! - [`send`]: the sender's state machine ([`send::FileSend`]);
//! - [`receive`]: the listener's side ([`receive::Receiver`]);
//! - [`name`]: the safe name a file is stored under;
//! - [`store`]: partial files, free space, placing a finished file.

pub mod name;
pub mod receive;
pub mod send;
pub mod store;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Why a file was not delivered (the sender's side).
#[derive(Debug)]
pub enum FileFailure {
    /// The listener answered with a final `FILE_*` status other than done.
    Status {
        file: String,
        status: u8,
        detail: u64,
        size: u64,
    },
    /// Nothing moved for the timeout: no ack made progress, no status came.
    NoProgress { file: String, waited: Duration },
    /// Another listener process answered mid-transfer (a restart): what the
    /// old one had received is gone.
    ListenerChanged { file: String },
    /// The listener's port closed mid-transfer, without a final status
    /// (killed, say) after it had answered: it stopped, which is not
    /// "nothing listening".
    ListenerGone { file: String },
    /// Ctrl-C or SIGTERM (the signal number).
    Interrupted { file: String, signal: i32 },
    /// The local file could not be read, or changed size while sent.
    Read { path: PathBuf, error: io::Error },
}

impl FileFailure {
    /// The file it is about, as the user named it.
    pub fn file(&self) -> String {
        match self {
            FileFailure::Status { file, .. }
            | FileFailure::NoProgress { file, .. }
            | FileFailure::ListenerChanged { file }
            | FileFailure::ListenerGone { file }
            | FileFailure::Interrupted { file, .. } => file.clone(),
            FileFailure::Read { path, .. } => path.display().to_string(),
        }
    }
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::wire::file::*;
        match self {
            FileFailure::Status {
                status,
                detail,
                size,
                ..
            } => match *status {
                FILE_NO_SAVE_DIR => write!(
                    f,
                    "refused: the listener takes no files (it was started without --save-dir)"
                ),
                FILE_TOO_LARGE => write!(
                    f,
                    "refused: too large ({}; the listener takes at most {})",
                    Size(*size),
                    Size(*detail)
                ),
                FILE_BUSY => write!(
                    f,
                    "refused: the listener has as many transfers as it takes; try again later"
                ),
                FILE_NO_SPACE if *detail > 0 => write!(
                    f,
                    "no space: {} needed, {} free on the listener's disk",
                    Size(*size),
                    Size(*detail)
                ),
                FILE_NO_SPACE => write!(f, "no space left on the listener's disk"),
                FILE_HASH_MISMATCH => write!(
                    f,
                    "hash mismatch: what the listener wrote is not what was sent"
                ),
                FILE_WRITE_FAILED => write!(f, "the listener could not write it (an I/O error)"),
                FILE_BROKEN => write!(
                    f,
                    "the transfer broke at the listener (content lost, or the sender silent too long)"
                ),
                FILE_STOPPED => write!(f, "the listener stopped before the file was complete"),
                other => write!(f, "the listener did not store it (status {other})"),
            },
            FileFailure::NoProgress { waited, .. } => write!(
                f,
                "timeout: no progress for {}",
                humantime::format_duration(*waited)
            ),
            FileFailure::ListenerChanged { .. } => write!(
                f,
                "another listener process answered (a restart?): the transfer was lost"
            ),
            FileFailure::ListenerGone { .. } => write!(
                f,
                "the listener stopped before the file was complete (its port closed without a word)"
            ),
            FileFailure::Interrupted { signal, .. } => write!(
                f,
                "{} before the file was complete",
                crate::util::words::signal_words(*signal)
            ),
            FileFailure::Read { error, .. } => {
                write!(f, "cannot read it: {}", crate::util::words::IoWords(error))
            }
        }
    }
}

/// A byte count for people: `1.5 MiB` (powers of 1024), exact below 1 KiB.
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

/// What the sender reports while files go: the output layer draws it (a
/// progress bar on a terminal, one line per file).
pub trait Progress {
    /// A file is offered.
    fn start(&mut self, name: &str, size: u64);
    /// `confirmed` bytes of it are written at the listener.
    fn advance(&mut self, confirmed: u64);
    /// It is stored, its hash matched (`send` returns what became of it,
    /// for the caller to report).
    fn done(&mut self);
    /// It failed (the error follows).
    fn abandon(&mut self);
}

/// A file the listener stored.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When the listener said it is in place.
    pub at: SystemTime,
    /// The file sent, as it was named (`--file PATH`).
    pub path: PathBuf,
    /// The name offered.
    pub name: String,
    pub size: u64,
    /// The sending process's random id (the listener shows it too).
    pub sender: u64,
    /// From the offer to the listener's word that it is in place.
    pub elapsed: Duration,
    pub hash: [u8; crate::wire::file::HASH_LEN],
}
