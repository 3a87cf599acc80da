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

use super::name::safe_name;
use super::store::{self, Part};
use crate::net::Local;
use crate::net::{Cred, PeerAddr};
use crate::reliable::order::Arrived;
use crate::wire::file::{
    self, FILE_ACCEPTED, FILE_BROKEN, FILE_BUSY, FILE_DONE, FILE_HASH_MISMATCH, FILE_NO_SAVE_DIR,
    FILE_NO_SPACE, FILE_STOPPED, FILE_TOO_LARGE, FILE_WRITE_FAILED, FileRecord, HASH_LEN,
};
use hashlink::LinkedHashMap;
use std::io::{self, Write};
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

    fn offer(&mut self, msg: &Arrived<'_>, size: u64, name: &str, now: Instant) {
        // A new offer while one runs: the sender gave the old one up.
        self.fail(msg.sender, FILE_BROKEN, 0, None, false);
        let refuse = |status: u8, detail: u64, error: Option<io::Error>| (status, detail, error);
        let decision = match &self.config.dir {
            None => Err(refuse(FILE_NO_SAVE_DIR, 0, None)),
            Some(_) if size > self.config.max_size => {
                Err(refuse(FILE_TOO_LARGE, self.config.max_size, None))
            }
            Some(_) if self.busy(msg.from) => Err(refuse(FILE_BUSY, 0, None)),
            Some(dir) => match store::free_space(dir) {
                Err(e) => Err(refuse(FILE_WRITE_FAILED, 0, Some(e))),
                Ok(free) => {
                    let free = free.saturating_sub(self.reserved());
                    if size > free {
                        Err(refuse(FILE_NO_SPACE, free, None))
                    } else {
                        Part::create(dir, msg.sender).map_err(|e| {
                            let status = if store::is_no_space(&e) {
                                FILE_NO_SPACE
                            } else {
                                FILE_WRITE_FAILED
                            };
                            refuse(status, 0, Some(e))
                        })
                    }
                }
            },
        };
        let Some(peer) = self.peers.get_mut(&msg.sender) else {
            return;
        };
        match decision {
            Ok(part) => {
                peer.transfer = Some(Transfer {
                    offer_seq: msg.seq,
                    offered: name.to_string(),
                    sender_name: msg.name.to_string(),
                    size,
                    received: 0,
                    part,
                    buf: Vec::new(),
                    written: 0,
                    hasher: blake3::Hasher::new(),
                    started: now,
                    from: msg.from.clone(),
                    cred: msg.cred,
                });
                peer.last = Some((msg.seq, FILE_ACCEPTED, 0));
                self.active.push(msg.sender);
                self.owe(msg.sender);
            }
            Err((status, detail, error)) => {
                peer.last = Some((msg.seq, status, detail));
                self.owe(msg.sender);
                self.outcomes.push(Outcome::Failed(Failed {
                    from: msg.from.clone(),
                    sender: msg.sender,
                    offered: name.to_string(),
                    status,
                    detail,
                    cancelled: false,
                    error,
                }));
            }
        }
    }

    /// Whether another transfer from `from` would be one too many (all
    /// Unix-domain senders are this host: one source).
    fn busy(&self, from: &PeerAddr) -> bool {
        if self.active.len() >= MAX_TRANSFERS {
            return true;
        }
        let same = self
            .active
            .iter()
            .filter_map(|s| self.peers.get(s))
            .filter_map(|p| p.transfer.as_ref())
            .filter(|t| t.from.inet().map(|a| a.ip()) == from.inet().map(|a| a.ip()))
            .count();
        same >= MAX_TRANSFERS_PER_SOURCE
    }

    /// What the running transfers still need of the disk.
    fn reserved(&self) -> u64 {
        self.active
            .iter()
            .filter_map(|s| self.peers.get(s))
            .filter_map(|p| p.transfer.as_ref())
            .map(|t| t.size - t.received)
            .sum()
    }

    fn chunk(&mut self, sender: u64, offset: u64, data: &[u8]) {
        let Some(t) = self
            .peers
            .get_mut(&sender)
            .and_then(|p| p.transfer.as_mut())
        else {
            // Content of a transfer that ended: its sender may not know.
            self.owe(sender);
            return;
        };
        if offset != t.received || data.len() as u64 > t.size - t.received {
            self.fail(sender, FILE_BROKEN, 0, None, false);
            return;
        }
        t.buf.extend_from_slice(data);
        t.received += data.len() as u64;
        if t.buf.len() >= WRITE_BUFFER
            && let Err(e) = write_out(t)
        {
            self.fail_io(sender, e);
        }
    }

    fn end(&mut self, sender: u64, hash: [u8; HASH_LEN], now: Instant) {
        let Some(peer) = self.peers.get_mut(&sender) else {
            return;
        };
        let Some(mut t) = peer.transfer.take() else {
            self.owe(sender);
            return;
        };
        self.active.retain(|&s| s != sender);
        if let Err(e) = write_out(&mut t) {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail_io(sender, e);
            return;
        }
        if t.received != t.size {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail(sender, FILE_BROKEN, 0, None, false);
            return;
        }
        t.hasher.update(&t.buf);
        t.buf.clear();
        let got = *t.hasher.finalize().as_bytes();
        if got != hash {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail(sender, FILE_HASH_MISMATCH, 0, None, false);
            return;
        }
        let Some(dir) = self.config.dir.as_deref() else {
            return;
        };
        let name = safe_name(&t.offered);
        match t.part.place(dir, &name, self.config.overwrite) {
            Ok(path) => {
                peer.last = Some((t.offer_seq, FILE_DONE, t.size));
                self.owe(sender);
                self.outcomes.push(Outcome::Saved(Saved {
                    at: SystemTime::now(),
                    from: t.from,
                    cred: t.cred,
                    sender,
                    name: t.sender_name,
                    offered: t.offered,
                    path,
                    size: t.size,
                    hash: got,
                    elapsed: now.saturating_duration_since(t.started),
                }));
            }
            Err(e) => {
                let status = if store::is_no_space(&e) {
                    FILE_NO_SPACE
                } else {
                    FILE_WRITE_FAILED
                };
                peer.last = Some((t.offer_seq, status, 0));
                self.owe(sender);
                self.outcomes.push(Outcome::Failed(Failed {
                    from: t.from,
                    sender,
                    offered: t.offered,
                    status,
                    detail: 0,
                    cancelled: false,
                    error: Some(e),
                }));
            }
        }
    }

    /// Writes out what every transfer has buffered: call before the acks
    /// that confirm it go out.
    pub fn flush(&mut self) {
        for i in (0..self.active.len()).rev() {
            let Some(&sender) = self.active.get(i) else {
                continue;
            };
            let Some(t) = self
                .peers
                .get_mut(&sender)
                .and_then(|p| p.transfer.as_mut())
            else {
                continue;
            };
            if let Err(e) = write_out(t) {
                self.fail_io(sender, e);
            }
        }
    }

    fn fail_io(&mut self, sender: u64, e: io::Error) {
        let status = if store::is_no_space(&e) {
            FILE_NO_SPACE
        } else {
            FILE_WRITE_FAILED
        };
        self.fail(sender, status, 0, Some(e), false);
    }

    /// Ends `sender`'s running transfer, if any, with `status`: its partial
    /// file is removed and the sender told (unless it cancelled).
    fn fail(
        &mut self,
        sender: u64,
        status: u8,
        detail: u64,
        error: Option<io::Error>,
        cancelled: bool,
    ) {
        let Some(peer) = self.peers.get_mut(&sender) else {
            return;
        };
        let Some(t) = peer.transfer.take() else {
            return;
        };
        self.active.retain(|&s| s != sender);
        peer.last = Some((t.offer_seq, status, detail));
        // Dropping the transfer removes its partial file.
        let Transfer { from, offered, .. } = t;
        if !cancelled {
            self.owe(sender);
        }
        self.outcomes.push(Outcome::Failed(Failed {
            from,
            sender,
            offered,
            status,
            detail,
            cancelled,
            error,
        }));
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

    /// Abandons the transfers of senders silent for the configured wait
    /// and forgets statuses older than [`STATUS_MEMORY`].
    pub fn expire(&mut self, now: Instant) {
        let wait = self.config.wait;
        let silent: Vec<u64> = self
            .active
            .iter()
            .copied()
            .filter(|s| {
                self.peers
                    .get(s)
                    .is_some_and(|p| now.saturating_duration_since(p.heard) >= wait)
            })
            .collect();
        for sender in silent {
            self.fail(sender, FILE_BROKEN, 0, None, false);
        }
        while let Some((&sender, peer)) = self.peers.front() {
            if peer.transfer.is_some()
                || peer.owed
                || now.saturating_duration_since(peer.heard) < STATUS_MEMORY
            {
                break;
            }
            self.peers.remove(&sender);
        }
    }

    /// The listener stops: every running transfer ends ([`FILE_STOPPED`]).
    pub fn stop(&mut self) {
        for sender in self.active.clone() {
            self.fail(sender, FILE_STOPPED, 0, None, false);
        }
    }

    /// Transfers running now.
    pub fn running(&self) -> usize {
        self.active.len()
    }
}

/// Writes what a transfer buffered and did not write yet to its partial
/// file. The buffer is hashed (and emptied) only once it holds
/// [`WRITE_BUFFER`] bytes, not at every write: BLAKE3 hashes large pieces
/// several chunks at a time, and a piece ending mid-chunk costs extra.
fn write_out(t: &mut Transfer) -> io::Result<()> {
    if t.written < t.buf.len() {
        t.part.file.write_all(&t.buf[t.written..])?;
        t.written = t.buf.len();
    }
    if t.buf.len() >= WRITE_BUFFER {
        t.hasher.update(&t.buf);
        t.buf.clear();
        t.written = 0;
    }
    Ok(())
}
