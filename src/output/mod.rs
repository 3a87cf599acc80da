//! Presenting results: the only place that turns command results into text
//! or JSON (the binary's `main` and `app` print only errors and the lines
//! that say what is being done).
//!
//! - [`listen`]: the listener's sink (text or JSON Lines) and summary;
//! - [`ping`], [`discover`]: their lines and tables; [`send`]: the `--ack` summary;
//! - [`chat`]: `udpmsg chat`'s lines;
//! - [`watch`]: `discover --watch`'s lines;
//! - [`files`]: `send --file`'s progress and lines, `listen`'s file lines;
//! - [`escape`]: control characters and JSON strings;
//! - [`addr`]: how every output shows an address ([`fmt_addr`]).
//!
//! Every JSON line follows one vocabulary, documented in docs/JSON.md:
//! `ts` and `kind` first, addresses as [`fmt_addr`] shows them, round
//! trips as [`rtt_ms`], optional fields omitted rather than null.

pub mod addr;
pub mod chat;
pub mod discover;
pub mod escape;
pub mod files;
pub mod listen;
pub mod ping;
pub mod send;
pub mod watch;

pub use addr::fmt_addr;
pub use listen::{ListenOutput, listen_summary};

use std::fmt;
use std::time::{Duration, SystemTime};

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

/// A round-trip time as JSON shows it (`rtt_ms` and the like): milliseconds
/// to the microsecond (`0.123`).
pub fn rtt_ms(rtt: Duration) -> f64 {
    us_as_ms(rtt.as_micros().min(u128::from(u64::MAX)) as u64)
}

/// Microseconds as milliseconds with three decimals.
pub fn us_as_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}
