//! The listener's side of file transfers: what to do with each file record
//! the ordering releases (in order, exactly once), and what to tell the
//! sender.
//!
//! An offer is checked before any content flows: a save directory, the
//! size limit, the number of transfers (per source address and in all)
//! and the free space (less what running transfers still need). Content
//! goes to a partial file in the save directory ([`Part`]); it is written
//! out before the acks of its batch go ([`Receiver::flush`]), so a
//! confirmed chunk is a written chunk. At the end the hash is compared,
//! and only then is the file put in place under a safe name. Any failure
//! (a full disk, a gap in the content, a silent sender, Ctrl-C) removes
//! the partial file and, where the sender can still hear it, says why.
//!
//! - here: the records' dispatch, what is known of each sender, the
//!   statuses owed and the outcomes;
//! - `offer`: checking an offer;
//! - `content`: chunks written and hashed, the end checked, the file placed;
//! - `ending`: transfers that end without a file.

mod content;
mod ending;
mod offer;

use super::store::{self, Part};
use crate::net::Local;
use crate::net::{Cred, PeerAddr};
use crate::reliable::order::Arrived;
use crate::wire::file::{
    self, FILE_BROKEN, FILE_NO_SPACE, FILE_WRITE_FAILED, FileRecord, HASH_LEN,
};
use hashlink::LinkedHashMap;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// Largest file taken unless `--max-file-size` says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;
/// How long a transfer waits for a silent sender before it is abandoned
/// (its partial file removed), unless `--file-wait` says otherwise.
pub const DEFAULT_FILE_WAIT: Duration = Duration::from_secs(30);
/// Transfers at once, in all.
pub const MAX_TRANSFERS: usize = 32;
/// Transfers at once from one source address.
pub const MAX_TRANSFERS_PER_SOURCE: usize = 4;
/// Content is written in pieces of up to this many bytes (and at every
/// batch's end, before its acks), and hashed in pieces of this many.
const WRITE_BUFFER: usize = 1 << 20;
/// Senders whose last status is remembered (to repeat it when asked).
const MAX_PEERS: usize = 4096;
/// How long a finished transfer's status is remembered.
const STATUS_MEMORY: Duration = Duration::from_secs(60);

/// What the listener does with files.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where files go; `None`: every offer is refused.
    pub dir: Option<PathBuf>,
    /// Largest file taken.
    pub max_size: u64,
    /// Replace an existing file of the same name.
    pub overwrite: bool,
    /// How long a silent sender's transfer waits.
    pub wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dir: None,
            max_size: DEFAULT_MAX_FILE_SIZE,
            overwrite: false,
            wait: DEFAULT_FILE_WAIT,
        }
    }
}

/// Where a sender's replies go: the address its latest datagram came
/// from, the local address it came to, the socket (index) it came by.
#[derive(Debug, Clone)]
pub struct Route {
    pub to: PeerAddr,
    pub local: Option<Local>,
    pub via: usize,
}

/// A status owed to a sender (a [`crate::wire::FileStatus`] to send).
#[derive(Debug, Clone)]
pub struct Status {
    pub sender: u64,
    /// The offer's seq.
    pub seq: u64,
    pub status: u8,
    pub detail: u64,
    pub route: Route,
}

/// A file that was stored.
#[derive(Debug)]
pub struct Saved {
    /// When it was complete.
    pub at: SystemTime,
    pub from: PeerAddr,
    /// A Unix-domain sender's credentials (of its offer).
    pub cred: Option<Cred>,
    pub sender: u64,
    /// The sender's name (as in its offer's Text).
    pub name: String,
    /// The file name the sender offered.
    pub offered: String,
    /// Where it is now.
    pub path: PathBuf,
    pub size: u64,
    pub hash: [u8; HASH_LEN],
    /// From the offer to the file in place.
    pub elapsed: Duration,
}

/// A file that was refused or not stored.
#[derive(Debug)]
pub struct Failed {
    pub from: PeerAddr,
    pub sender: u64,
    pub offered: String,
    /// A `FILE_*` status ([`FILE_BROKEN`] for a cancelled one).
    pub status: u8,
    pub detail: u64,
    /// The sender cancelled it.
    pub cancelled: bool,
    /// The I/O error behind [`FILE_WRITE_FAILED`] or [`FILE_NO_SPACE`].
    pub error: Option<io::Error>,
}

/// What became of an offered file, for the listener's output.
#[derive(Debug)]
pub enum Outcome {
    Saved(Saved),
    Failed(Failed),
}

/// One file being received.
#[derive(Debug)]
struct Transfer {
    offer_seq: u64,
    offered: String,
    sender_name: String,
    size: u64,
    /// Content bytes received (written or in `buf`).
    received: u64,
    part: Part,
    /// Content received and not hashed yet; its first `written` bytes are
    /// written.
    buf: Vec<u8>,
    written: usize,
    hasher: blake3::Hasher,
    started: Instant,
    from: PeerAddr,
    cred: Option<Cred>,
}

/// What is known of one file sender.
#[derive(Debug)]
struct Peer {
    route: Route,
    heard: Instant,
    transfer: Option<Transfer>,
    /// The last status: `(offer seq, status, detail)`.
    last: Option<(u64, u8, u64)>,
    /// The last status is owed (sent with the next acks).
    owed: bool,
}

/// Every file transfer of one listener.
#[derive(Debug)]
pub struct Receiver {
    config: Config,
    /// Least recently heard first.
    peers: LinkedHashMap<u64, Peer>,
    /// Senders with a transfer running (at most [`MAX_TRANSFERS`]).
    active: Vec<u64>,
    /// Senders owed their last status.
    owed: Vec<u64>,
    outcomes: Vec<Outcome>,
}

impl Receiver {
    pub fn new(config: Config) -> Self {
        Receiver {
            config,
            peers: LinkedHashMap::new(),
            active: Vec::new(),
            owed: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// A file record of `sender` arrived by `route` (before ordering): the
    /// sender is alive, and replies go where it came from.
    pub fn heard(&mut self, sender: u64, route: Route, now: Instant) {
        if let Some(peer) = self.peers.get_mut(&sender) {
            peer.route = route;
            peer.heard = now;
            self.peers.to_back(&sender);
            return;
        }
        if self.peers.len() >= MAX_PEERS {
            let idle = self
                .peers
                .iter()
                .find(|(_, p)| p.transfer.is_none())
                .map(|(&s, _)| s);
            if let Some(idle) = idle {
                self.peers.remove(&idle);
            } else {
                return;
            }
        }
        self.peers.insert(
            sender,
            Peer {
                route,
                heard: now,
                transfer: None,
                last: None,
                owed: false,
            },
        );
    }

    /// A record arrived again (a duplicate): its sender may have missed the
    /// status it caused, so the last one is sent again.
    pub fn repeat(&mut self, sender: u64) {
        self.owe(sender);
    }

    /// A record of a known sender arrived by `route` while the listener
    /// is stopping and takes no records: its last status is sent again
    /// (its transfer ended, and the sender may not know). Returns whether
    /// one is owed; an unknown sender gets nothing.
    pub fn answer_again(&mut self, sender: u64, route: Route) -> bool {
        let Some(peer) = self.peers.get_mut(&sender) else {
            return false;
        };
        if peer.last.is_none() {
            return false;
        }
        peer.route = route;
        self.owe(sender);
        true
    }

    /// The sender cancelled its transfer (acted on when the Cancel arrives,
    /// not when its turn comes).
    pub fn cancel(&mut self, sender: u64) {
        self.fail(sender, FILE_BROKEN, 0, None, true);
    }

    /// Content of `sender` never arrived (the ordering gave up a gap):
    /// returns whether that ended a transfer.
    pub fn gap(&mut self, sender: u64) -> bool {
        let running = self
            .peers
            .get(&sender)
            .is_some_and(|p| p.transfer.is_some());
        self.fail(sender, FILE_BROKEN, 0, None, false);
        running
    }

    /// Acts on a record the ordering released.
    pub fn record(&mut self, msg: &Arrived<'_>, now: Instant) {
        if !self.peers.contains_key(&msg.sender) {
            let route = Route {
                to: msg.from.clone(),
                local: None,
                via: 0,
            };
            self.heard(msg.sender, route, now);
        }
        match file::decode_record(msg.body) {
            Ok(FileRecord::Offer { size, name }) => self.offer(msg, size, name, now),
            Ok(FileRecord::Chunk { offset, data }) => self.chunk(msg.sender, offset, data),
            Ok(FileRecord::End { hash }) => self.end(msg.sender, hash, now),
            // Acted on at arrival; nothing left to do in order.
            Ok(FileRecord::Cancel) => {}
            Err(_) => self.fail(msg.sender, FILE_BROKEN, 0, None, false),
        }
    }

    fn owe(&mut self, sender: u64) {
        if let Some(peer) = self.peers.get_mut(&sender)
            && peer.last.is_some()
            && !peer.owed
        {
            peer.owed = true;
            self.owed.push(sender);
        }
    }

    /// Hands every owed status to `send`.
    pub fn take_statuses(&mut self, mut send: impl FnMut(Status)) {
        for sender in self.owed.drain(..) {
            let Some(peer) = self.peers.get_mut(&sender) else {
                continue;
            };
            peer.owed = false;
            if let Some((seq, status, detail)) = peer.last {
                send(Status {
                    sender,
                    seq,
                    status,
                    detail,
                    route: peer.route.clone(),
                });
            }
        }
    }

    /// True when statuses are owed.
    pub fn statuses_owed(&self) -> bool {
        !self.owed.is_empty()
    }

    /// Hands over what became of files since the last call.
    pub fn take_outcomes(&mut self) -> std::vec::Drain<'_, Outcome> {
        self.outcomes.drain(..)
    }

    /// When the next silent sender's transfer will be abandoned.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active
            .iter()
            .filter_map(|s| self.peers.get(s))
            .map(|p| p.heard + self.config.wait)
            .min()
    }

    /// Transfers running now.
    pub fn running(&self) -> usize {
        self.active.len()
    }
}

/// The status for a failed write: the disk is full, or something else.
fn write_status(e: &io::Error) -> u8 {
    if store::is_no_space(e) {
        FILE_NO_SPACE
    } else {
        FILE_WRITE_FAILED
    }
}
