//! What a listener does with one opened datagram: show it, order it,
//! answer it. The receive loop (`super::Listener`) owns the sockets and
//! hands each datagram here with the socket to reply on.
//!
//! Acknowledgements wait: the handler notes which senders are owed one,
//! and the loop sends them (`Handler::send_acks`) only after the output
//! was flushed, so "confirmed" means written. One ack per sender covers
//! everything that arrived from it in the batch.
//!
//! - here: the handler's state, the dispatch of each message, replies;
//! - `raw`: raw datagrams, shown once and echoed;
//! - `answer`: pongs and discovery answers, and the rules that keep
//!   them from amplifying or flooding;
//! - `acks`: texts that ask for an ack, owed acks and file statuses;
//! - `release`: what ordering releases, shown or handed to files.

mod acks;
mod answer;
mod raw;
mod release;

pub use answer::{ANSWERS_PER_SOURCE, ANSWERS_TOTAL, PONGS_PER_SOURCE, PONGS_TOTAL, truncate_name};
pub(super) use answer::{remote_ip, replyable};

use super::echo::Echo;
use super::limit::RateLimiter;
use super::sink::{Notice, Sink, Stats};
use crate::commands::files::receive::{self, Receiver};
use crate::net::iface::Links;
use crate::net::{self, Cred, DatagramSocket, Local, PeerAddr, ReplyBatch};
use crate::reliable::dedup::{GroupCopies, Recent};
use crate::reliable::order::{Arrived, Release, Streams};
use crate::seal::{Outgoing, Refusal, Reject};
use crate::wire::{self, MAX_ACK_RANGES, Message};
use acks::Owed;
use release::{message_of, show_release};
use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant, SystemTime};

/// Where a datagram came from and how to answer it.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// When its batch arrived.
    pub at: SystemTime,
    /// The same moment on the monotonic clock (for timers and memories:
    /// one clock read per batch, not per datagram).
    pub now: Instant,
    /// The sender, IPv4-mapped addresses unmapped.
    pub from: &'a PeerAddr,
    /// The sender's credentials (Unix-domain senders).
    pub cred: Option<Cred>,
    /// The address and interface it arrived on, when the kernel said (IP).
    pub local: Option<Local>,
    /// The socket it arrived on: replies leave by it.
    pub socket: &'a DatagramSocket,
    /// That socket's index in the listener's list (for deferred acks).
    pub via: usize,
}

/// The per-datagram logic of a listener and the state it keeps.
pub(crate) struct Handler {
    /// Name given in discovery answers.
    name: String,
    /// Random id of this listener process (one peer, however many addresses).
    instance: u64,
    port: u16,
    outgoing: Outgoing,
    streams: Streams,
    /// Limits discovery answers.
    limiter: RateLimiter,
    /// Texts without FLAG_ACK shown lately, so a copy is not shown again.
    recent: Recent,
    /// Raw datagrams sent to a group lately, so one heard on two
    /// interfaces is shown once.
    group_copies: GroupCopies,
    /// `--echo`: raw datagrams go back to their source.
    echo: Option<Echo>,
    /// Senders owed an acknowledgement once the output is flushed.
    owed: HashMap<u64, Owed>,
    /// Acks being gathered into Acks datagrams, by destination.
    bundles: Vec<(acks::BundleKey, acks::Bundle)>,
    /// Limits pongs.
    pongs: RateLimiter,
    /// Which sources are on-link, for broadcast and multicast probes.
    links: Links,
    /// The reply being built.
    reply: Vec<u8>,
    /// Held ranges for an ack being built.
    ranges: Vec<u8>,
    /// Acks to send, one batch per socket.
    acks: Vec<ReplyBatch>,
    /// File transfers (`--save-dir`).
    files: Receiver,
    /// Stopping ([`Self::close`]): only repeats of what was acknowledged
    /// are answered; nothing new is taken.
    closing: bool,
    /// Senders whose repeats were answered while closing, since the last
    /// [`Self::take_repeats`].
    repeats: Vec<u64>,
    /// When acknowledgements (or file statuses) last went out.
    last_ack: Option<Instant>,
    pub stats: Stats,
}

impl Handler {
    pub fn new(
        name: String,
        port: u16,
        outgoing: Outgoing,
        gap_wait: Duration,
        echo: bool,
        files: receive::Config,
    ) -> Self {
        Handler {
            name,
            instance: crate::util::rng::random_id(),
            port,
            outgoing,
            streams: Streams::new(gap_wait),
            limiter: RateLimiter::new(ANSWERS_PER_SOURCE, ANSWERS_TOTAL, Instant::now()),
            recent: Recent::default(),
            group_copies: GroupCopies::default(),
            echo: echo.then(|| Echo::new(port, Instant::now())),
            owed: HashMap::new(),
            bundles: Vec::new(),
            pongs: RateLimiter::new(PONGS_PER_SOURCE, PONGS_TOTAL, Instant::now()),
            links: Links::new(),
            reply: Vec::with_capacity(512),
            ranges: Vec::with_capacity(MAX_ACK_RANGES * wire::ACK_RANGE_LEN),
            acks: Vec::new(),
            files: Receiver::new(files),
            closing: false,
            repeats: Vec::new(),
            last_ack: None,
            stats: Stats::default(),
        }
    }

    /// The listener is stopping but lingers (see `super::Listener`): from
    /// now on only repeats of acknowledged messages and file records are
    /// answered (their sender may have lost the last ack or file status),
    /// and nothing new is shown, stored or answered.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// The senders whose repeats were answered since the last call (a
    /// sender once per repeat).
    pub fn take_repeats(&mut self) -> std::vec::Drain<'_, u64> {
        self.repeats.drain(..)
    }

    /// When acknowledgements or file statuses last went out, if ever.
    pub fn last_ack(&self) -> Option<Instant> {
        self.last_ack
    }

    /// This listener process's random id (in answers, acks and hellos).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Answers discovery probes with `name` from now on (`chat`'s `/name`).
    pub fn set_name(&mut self, name: String) {
        self.name = name;
    }

    /// When the oldest held message's gap will be given up, or a silent
    /// sender's file transfer abandoned, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.streams.next_deadline(), self.files.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A datagram the key rules or the decoder refused: counted, and shown
    /// to `-v`.
    pub fn refused(
        &mut self,
        why: &Refusal,
        from: &PeerAddr,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let counter = match why {
            Refusal::Malformed(_) => &mut self.stats.malformed,
            Refusal::NoKey => &mut self.stats.sealed,
            Refusal::Unsealed => &mut self.stats.unsealed,
            Refusal::RawWithKey => &mut self.stats.raw_refused,
            Refusal::Rejected(Reject::Replay) => &mut self.stats.replayed,
            Refusal::Rejected(Reject::Stale) => &mut self.stats.stale,
            Refusal::Rejected(Reject::Auth | Reject::Truncated) => &mut self.stats.forged,
        };
        *counter += 1;
        match why {
            Refusal::Malformed(error) => sink.notice(&Notice::Malformed { from, error }),
            why => sink.notice(&Notice::Refused { from, why }),
        }
    }

    /// Acts on one accepted message of `open_len` bytes (its unsealed size:
    /// answers are compared with it, sealed or not).
    pub fn message(
        &mut self,
        message: Message<'_>,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if self.closing {
            return self.repeated(message, open_len, origin, sink);
        }
        match message {
            Message::Text(text) if text.flags & wire::FLAG_ACK != 0 => {
                self.acked_text(&text, open_len, origin, sink)
            }
            Message::Text(text) => {
                if !self.recent.first_time(text.sender, text.seq, origin.now) {
                    self.stats.duplicates += 1;
                    return Ok(());
                }
                self.show(message_of(&text, origin), sink)
            }
            Message::Ping(_) if !replyable(origin.from) => Ok(()),
            Message::Ping(_) if origin.from.is_unnamed() => self.unanswerable("ping", sink),
            Message::Ping(ping) => self.pong(ping, origin, sink),
            Message::Probe(probe) if probe.instance != self.instance => {
                self.probe(probe.token, open_len, origin, sink)
            }
            // Kinds a listener does not act on (its own probes, another
            // listener's answers, pongs and acks meant for a sender), and
            // announcements, which nobody answers (no storms).
            Message::Probe(_)
            | Message::Ack(_)
            | Message::Acks(_)
            | Message::Answer(_)
            | Message::Pong(_)
            | Message::Refuse(_)
            | Message::Hello(_)
            | Message::Goodbye(_)
            | Message::FileStatus(_) => Ok(()),
        }
    }

    /// Shows one text message and counts it.
    fn show(&mut self, message: Arrived<'_>, sink: &mut dyn Sink) -> io::Result<()> {
        show_release(
            Release::Message(message),
            None,
            &mut self.stats,
            &mut self.files,
            sink,
        )
    }

    /// Encodes `message` as the reply and sends it; returns whether it went.
    fn reply(
        &mut self,
        message: &Message<'_>,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<bool> {
        self.reply.clear();
        if wire::encode(message, wire::MAX_DATAGRAM_V4, &mut self.reply).is_err() {
            return Ok(false);
        }
        self.send_reply(origin, sink)
    }

    /// A reply (`what` names what it would answer) cannot go: its sender's
    /// Unix socket has no name. Counted, and shown to `-v`.
    fn unanswerable(&mut self, what: &'static str, sink: &mut dyn Sink) -> io::Result<()> {
        self.stats.unanswerable += 1;
        sink.notice(&Notice::Unanswerable { what })
    }

    /// Sends the reply buffer to the datagram's sender from the address the
    /// datagram came to. Returns whether it went out.
    fn send_reply(&mut self, origin: Origin<'_>, sink: &mut dyn Sink) -> io::Result<bool> {
        if origin.from.is_unnamed() {
            self.unanswerable("request", sink)?;
            return Ok(false);
        }
        let out = self.outgoing.seal(&self.reply, origin.from);
        match net::send_from(origin.socket, out, origin.from, origin.local) {
            Ok(_) => Ok(true),
            Err(error) => {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: origin.from,
                    error: &error,
                })?;
                Ok(false)
            }
        }
    }
}
