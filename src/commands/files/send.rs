//! `send --file`: each file offered, streamed and confirmed in turn, over
//! the `send --ack` engine (an [`Outbox`] of acknowledged Texts with
//! [`FLAG_FILE`]).
//!
//! Per file: the offer goes first and nothing else until the listener
//! accepted it (a [`FileStatus`]), so a refusal (too large, no space, no
//! save directory) costs no content. Then the content in chunks that fit
//! the path MTU, as many in flight as the congestion window allows, hashed
//! (BLAKE3) as read; then the end with the hash. The file is delivered when
//! the listener says it is in place. A status that went missing is asked
//! for again by repeating the record it answers (the listener repeats its
//! last status for a duplicate).
//!
//! A transfer never times out while it makes progress; `timeout` bounds
//! the time without any (no ack confirming more, no status).
//!
//! - here: [`FileSend`], one file's run from offer to "in place", giving up;
//! - `content`: reading, hashing and chunking the content, the end;
//! - `transmit`: records through the outbox onto the wire, the Cancel;
//! - `replies`: acks and file statuses.
//!
//! [`FLAG_FILE`]: wire::FLAG_FILE
//! [`FileStatus`]: wire::FileStatus

mod content;
mod replies;
mod transmit;

use super::{FileFailure, Progress, Sent};
use crate::commands::Error;
use crate::commands::send::Sender;
use crate::event::{EventLoop, Wake, token};
use crate::reliable::outbox::{Outbox, Patience};
use crate::wire;
use crate::wire::file::{FileRecord, HASH_LEN, chunk_len, encode_record};
use mio::Token;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use transmit::{SendFlags, transmit};

const SOCKET: Token = token(0);

/// Default bound on the time without progress.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Content is read (and hashed) in blocks of this size.
const READ_BLOCK: usize = 1 << 20;

/// First wait for a status after the record it answers was confirmed,
/// before that record is sent again to ask; doubled up to [`MAX_ASK`].
pub const FIRST_ASK: Duration = Duration::from_millis(50);

pub const MAX_ASK: Duration = Duration::from_secs(1);

/// Copies of a Cancel sent on Ctrl-C (it is not waited for).
const CANCEL_COPIES: usize = 3;

/// How to send.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Longest time without progress before a file is given up.
    pub timeout: Duration,
    /// Stop cleanly on SIGINT/SIGTERM (cancelling the transfer).
    pub catch_signals: bool,
}

/// A file to send: where it is, and the name to offer.
#[derive(Debug)]
pub struct Offer {
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    pub file: File,
}

impl Offer {
    /// Opens `path` for sending: a regular file, named by its last component.
    pub fn open(path: &Path) -> Result<Offer, FileFailure> {
        let read_error = |error| FileFailure::Read {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(read_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Offer {
            path: path.to_path_buf(),
            name,
            size: meta.len(),
            file,
        })
    }
}

/// Where one file's transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The offer is out; content waits for the listener's yes.
    Offered,
    /// Content flows.
    Streaming,
    /// Everything is out, the end too: waiting for "in place".
    Ended,
}

/// Sends files to one listener, one after the other.
pub struct FileSend<'p> {
    sender: Sender,
    outbox: Outbox,
    events: EventLoop,
    config: Config,
    chunk: usize,
    progress: &'p mut dyn Progress,
    buf: Vec<u8>,
    held: Vec<(u64, u64)>,
    record: Vec<u8>,
    open: Vec<u8>,
    flags: SendFlags,
}

/// The state of the file being sent.
struct Current {
    offer: Offer,
    phase: Phase,
    offer_seq: u64,
    /// Seq of the end record, once sent.
    end_seq: Option<u64>,
    /// The open datagram of the record whose status is awaited (offer or
    /// end), to repeat when the status is late.
    asking: Vec<u8>,
    ask_at: Option<Instant>,
    ask_wait: Duration,
    block: Vec<u8>,
    /// Position in `block` of the next chunk.
    pos: usize,
    /// Content bytes read (and hashed) so far.
    read: u64,
    /// Content bytes put in chunks so far.
    sent: u64,
    hasher: blake3::Hasher,
    hash: Option<[u8; HASH_LEN]>,
    started: Instant,
    progress_at: Instant,
    restarts: u64,
}

impl<'p> FileSend<'p> {
    /// Prepares to send through `sender` (connected, so a closed port is
    /// reported), reporting to `progress`.
    pub fn new(
        mut sender: Sender,
        config: Config,
        progress: &'p mut dyn Progress,
    ) -> Result<Self, Error> {
        let events = EventLoop::new(config.catch_signals)?;
        sender.register(events.registry(), SOCKET)?;
        // Over a Unix socket, IPv6's limit (as a sender's datagrams).
        let ipv6 = sender.dest().inet().is_none_or(|a| a.is_ipv6());
        // The route's MTU; an unknown one counts as Ethernet's.
        let mtu = sender.path_mtu().unwrap_or(1500);
        let chunk = chunk_len(mtu, ipv6, sender.seal_overhead(), wire::max_datagram(ipv6));
        // Chunks of one size go out in runs (UDP GSO) where the kernel can.
        sender.segment_sends();
        let seed = sender.id() | 1;
        let patience = Patience {
            retries: None,
            time: config.timeout,
        };
        Ok(FileSend {
            sender,
            outbox: Outbox::new(patience, seed),
            events,
            config,
            chunk,
            progress,
            buf: vec![0; wire::MAX_DATAGRAM + 1],
            held: Vec::with_capacity(wire::MAX_ACK_RANGES),
            record: Vec::with_capacity(2048),
            open: Vec::with_capacity(2048),
            flags: SendFlags::default(),
        })
    }

    /// Content bytes per chunk (from the path MTU).
    pub fn chunk_len(&self) -> usize {
        self.chunk
    }

    /// Sends `offer` and waits until the listener has it in place.
    pub fn send(&mut self, offer: Offer) -> Result<Sent, Error> {
        let now = Instant::now();
        let mut cur = Current {
            offer,
            phase: Phase::Offered,
            offer_seq: self.outbox.next_seq(),
            end_seq: None,
            asking: Vec::new(),
            ask_at: None,
            ask_wait: FIRST_ASK,
            block: Vec::with_capacity(READ_BLOCK),
            pos: 0,
            read: 0,
            sent: 0,
            hasher: blake3::Hasher::new(),
            hash: None,
            started: now,
            progress_at: now,
            restarts: self.outbox.tally().restarts,
        };
        self.progress.start(&cur.offer.name, cur.offer.size);
        let result = self.run(&mut cur);
        if result.is_err() {
            self.progress.abandon();
        }
        result
    }

    fn run(&mut self, cur: &mut Current) -> Result<Sent, Error> {
        self.record.clear();
        encode_record(
            &FileRecord::Offer {
                size: cur.offer.size,
                name: &cur.offer.name,
            },
            &mut self.record,
        );
        let name = self.sender.name().to_string();
        cur.asking = self.push_record(&name, Instant::now())?;
        loop {
            if cur.phase == Phase::Streaming {
                self.fill(cur)?;
            }
            self.flush()?;
            if let Some(sent) = self.read_replies(cur)? {
                return Ok(sent);
            }
            self.resend_due()?;
            let now = Instant::now();
            self.check(cur, now)?;
            self.ask_again(cur, now)?;
            self.flush()?;
            if cur.phase == Phase::Streaming && self.outbox.has_room(self.chunk) {
                continue;
            }
            let wake_at = [
                self.outbox.next_due(),
                cur.ask_at,
                Some(cur.progress_at + self.config.timeout),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Wake::Signal(signal) = self.events.wait(wake_at)? {
                self.cancel();
                return Err(self.failure(
                    cur,
                    FileFailure::Interrupted {
                        file: cur.offer.name.clone(),
                        signal,
                    },
                ));
            }
        }
    }

    /// Ends in failure `why` (the listener is told to drop what it has,
    /// unless it already ended the transfer).
    fn failure(&mut self, _cur: &Current, why: FileFailure) -> Error {
        Error::File(why)
    }

    /// Gives up when nothing moved for the timeout, a message ran out of
    /// patience, or another listener process took over.
    fn check(&mut self, cur: &mut Current, now: Instant) -> Result<(), Error> {
        let tally = self.outbox.tally();
        if tally.restarts > cur.restarts {
            self.cancel();
            return Err(Error::File(FileFailure::ListenerChanged {
                file: cur.offer.name.clone(),
            }));
        }
        if tally.given_up > 0 || now >= cur.progress_at + self.config.timeout {
            self.cancel();
            return Err(Error::File(FileFailure::NoProgress {
                file: cur.offer.name.clone(),
                waited: self.config.timeout,
            }));
        }
        Ok(())
    }

    /// Repeats the offer or the end when its status is late (its Text was
    /// confirmed, or at least sent, and nothing came).
    fn ask_again(&mut self, cur: &mut Current, now: Instant) -> Result<(), Error> {
        let awaited = match cur.phase {
            Phase::Offered => Some(cur.offer_seq),
            Phase::Ended => cur.end_seq,
            Phase::Streaming => None,
        };
        let Some(seq) = awaited else {
            cur.ask_at = None;
            return Ok(());
        };
        // Still in the outbox: its own retransmissions carry it.
        if self.outbox.base() <= seq {
            cur.ask_at = None;
            return Ok(());
        }
        match cur.ask_at {
            None => cur.ask_at = Some(now + cur.ask_wait),
            Some(at) if now >= at => {
                // Confirmed, so the base is past it; a Text's base may not
                // be (PROTOCOL.md section 5, rule 10): its own seq says
                // the same to the listener, which has it already.
                wire::set_text_base(&mut cur.asking, seq);
                transmit(&mut self.sender, &mut self.flags, &cur.asking)?;
                cur.ask_wait = (cur.ask_wait * 2).min(MAX_ASK);
                cur.ask_at = Some(now + cur.ask_wait);
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Sends refused by this host (a firewall rule), counted as losses.
    pub fn local_errors(&self) -> u64 {
        self.flags.local_errors
    }
}
