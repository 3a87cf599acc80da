//! `udpmsg discover --watch`: who is on the LAN right now. Probes every
//! interface at start and every `--interval` (so listeners that do not
//! announce are tracked too), hears hellos and goodbyes on the presence
//! port, and hands each change (up, down, changed) to a sink as it
//! happens.
//!
//! - here: what a watcher is given, what it reports, and to what ([`Sink`]);
//! - [`Watcher`] (`watcher`): the loop: sockets, probe rounds, interface
//!   changes, reading what arrives;
//! - `arrival`: what one datagram means: checking it (key rules, lengths,
//!   rate limits) and handing it to the table;
//! - [`table`]: the peers, their addresses and deadlines, as a
//!   socket-free state machine.

mod arrival;
pub mod table;
mod watcher;

pub use watcher::Watcher;

use crate::net::addr::Family;
use crate::seal::Key;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use table::Change;

/// Default time between probe rounds (`--interval`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Shortest `--interval`.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Probe rounds are `--interval` apart less up to this fraction of it, at
/// random, so watchers started together do not probe in step.
pub const JITTER: f64 = 0.1;
/// Extra probe rounds for peers near their expiry (see
/// [`table::REFRESH_AT`]) are at least this far apart, whatever asks for
/// them (a listener answers one source 30 times a second, in bursts of 30:
/// a few extra rounds fit, a flood of them would not).
pub const MIN_REFRESH_GAP: Duration = Duration::from_millis(25);
/// Datagrams read from one socket per wake before signals, timers and the
/// other sockets get a turn.
const READ_BUDGET: usize = 256;

/// Probe sockets and presence sockets: tokens 0..4.
const SOCKETS: usize = 4;

/// What to watch.
#[derive(Debug, Clone)]
pub struct Config {
    /// The listeners' port (hellos come to the next one).
    pub port: u16,
    /// Time between probe rounds.
    pub interval: Duration,
    /// Stop after this long (none: until a signal).
    pub timeout: Option<Duration>,
    /// Only these interfaces (probed, and heard on); empty: all.
    pub interfaces: Vec<String>,
    /// Only this address family (`-4`, `-6`), probed and heard.
    pub family: Family,
    /// Shared key: probes are sealed, only sealed answers, hellos and
    /// goodbyes count.
    pub key: Option<Key>,
    /// Stop cleanly on SIGINT/SIGTERM/SIGHUP.
    pub catch_signals: bool,
}

/// Something that happened, for `-v` and warnings.
#[derive(Debug)]
pub enum Trace<'a> {
    /// A probe could not be sent.
    SendFailed {
        to: SocketAddr,
        interface: &'a str,
        error: &'a io::Error,
    },
    /// The table became full: further listeners are counted, not tracked.
    Full { max: usize },
    /// A datagram was refused (key rules, malformed, rate limit, too long).
    Refused { from: SocketAddr, why: &'a str },
    /// The interfaces changed: probing again, at once.
    InterfacesChanged,
}

/// Where the watcher puts what it sees: the output layer implements it.
pub trait Sink {
    /// One change, at `at`. An error stops the watcher.
    fn change(&mut self, change: &Change<'_>, at: SystemTime) -> io::Result<()>;
    /// A trace line (the default ignores it).
    fn trace(&mut self, _trace: &Trace<'_>) -> io::Result<()> {
        Ok(())
    }
    /// Write out what was given: the watcher is about to sleep.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why the watcher stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Timeout,
    Signal(i32),
    /// The sink failed (a closed pipe, a full disk): [`Ended::output_error`].
    Output,
}

/// What the watcher saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Peers tracked at the end.
    pub tracking: usize,
    pub ups: u64,
    pub downs: u64,
    pub changes: u64,
    pub hellos: u64,
    pub goodbyes: u64,
    pub answers: u64,
    /// Probe rounds sent.
    pub rounds: u64,
    /// Sightings of listeners not tracked (the table was full).
    pub untracked: u64,
    /// Hellos and goodbyes over the rate limit.
    pub rate_limited: u64,
    /// Datagrams refused by the key rules or the decoder.
    pub refused: u64,
    /// Hellos and answers with names or rooms longer than any listener
    /// sends, or hellos without a port.
    pub ignored: u64,
}

/// How a watcher run ended.
#[derive(Debug)]
pub struct Ended {
    pub stop: Stop,
    pub stats: Stats,
    pub output_error: Option<io::Error>,
}
