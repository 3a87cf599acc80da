//! Presenting results: the only place that turns command results into text
//! or JSON (the binary's `main` and `app` print only errors and the lines
//! that say what is being done).
//!
//! - [`listen`]: the listener's sink (text or JSON Lines) and summary;
//! - [`ping`], [`discover`]: their lines and tables; [`send`]: the `--ack` summary;
//! - [`escape`]: control characters and JSON strings.

pub mod discover;
pub mod escape;
pub mod listen;
pub mod ping;
pub mod send;

pub use listen::{ListenOutput, listen_summary};

use std::fmt;
use std::time::SystemTime;

/// Text or JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// RFC 3339 UTC with milliseconds: `2026-11-21T23:41:02.123Z`.
#[derive(Clone, Copy)]
pub struct Timestamp(pub SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.0))
    }
}
