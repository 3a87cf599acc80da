//! What a listener does with one opened datagram: show it, order it,
//! answer it. The receive loop (`super::Listener`) owns the sockets and
//! hands each datagram here with the socket to reply on.
//!
//! Acknowledgements wait: the handler notes which senders are owed one,
//! and the loop sends them ([`Handler::send_acks`]) only after the output
//! was flushed, so "confirmed" means written. One ack per sender covers
//! everything that arrived from it in the batch.

use super::echo::Echo;
use super::limit::RateLimiter;
use super::sink::{Event, Notice, Sink, Stats};
use crate::commands::files::receive::{self, Outcome, Receiver, Route};
use crate::net::iface::Links;
use crate::net::{self, Cred, DatagramSocket, Local, PeerAddr, ReplyBatch};
use crate::reliable::dedup::{GroupCopies, Recent};
use crate::reliable::order::{Arrived, Release, Streams, Verdict};
use crate::seal::{Outgoing, Refusal, Reject};
use crate::wire::file::{self as file_wire, FileRecord};
use crate::wire::{self, Ack, Answer, FileStatus, MAX_ACK_RANGES, Message, Ping, Refuse, Text};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// Discovery answers per second to one source address (and burst): a scan
/// costs up to six (three rounds, IPv4 and IPv6), so a few back-to-back
/// scans stay within it.
pub const ANSWERS_PER_SOURCE: u32 = 30;
/// Discovery answers per second over all sources (and burst).
pub const ANSWERS_TOTAL: u32 = 200;

/// Pongs per second to one source address (and burst), except to this
/// host itself. A pong is exactly as large as its ping, so a forged source
/// gains no amplification, only reflection: this bounds what one listener
/// can be made to send to someone else at 1,000 small datagrams a second.
/// It is well above what a real pinger asks across a router (`ping -i 0`
/// sends one ping per round trip, and a routed round trip takes a
/// millisecond or more); a LAN flood ping (`-i 0` at 5–30k/s) gets its first
/// thousand at full speed, then this rate. Loopback is exempt (see
/// [`Handler::pong`]), which keeps `udpmsg ping -i 0` on this host (tens of
/// thousands a second, the benchmark) unlimited.
pub const PONGS_PER_SOURCE: u32 = 1_000;
/// Pongs per second over all sources (and burst), loopback excepted: what a
/// flood of pings from many forged sources can make one listener send.
pub const PONGS_TOTAL: u32 = 10_000;

/// Where a datagram came from and how to answer it.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// When its batch arrived.
    pub at: SystemTime,
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

/// An acknowledgement owed to a sender, sent after the output is flushed.
#[derive(Debug, Clone)]
struct Owed {
    to: PeerAddr,
    local: Option<Local>,
    via: usize,
    /// The seqs that arrived since the last ack (the first few): their held
    /// ranges go into the ack first.
    recent: Vec<u64>,
    /// Bytes of the texts the ack answers (open size): the ack is never
    /// larger, so a forged source cannot make a listener an amplifier.
    budget: usize,
}

/// Recent arrivals an [`Owed`] remembers (as many as an ack's ranges).
const OWED_RECENT: usize = MAX_ACK_RANGES;

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

    /// A datagram without the magic, at a listener without a key: shown
    /// (once, if sent to a group and heard on several interfaces), and
    /// echoed with `--echo`.
    pub fn raw(&mut self, bytes: &[u8], origin: Origin<'_>, sink: &mut dyn Sink) -> io::Result<()> {
        if self.closing {
            return Ok(());
        }
        if let (Some(local), PeerAddr::Inet(from)) = (origin.local, origin.from)
            && local.sent_to_group()
            && !self.group_copies.first_copy(
                *from,
                local.dest,
                local.ifindex,
                bytes,
                Instant::now(),
            )
        {
            self.stats.duplicates += 1;
            return Ok(());
        }
        if self.echo.is_some() {
            self.echo_back(bytes, origin, sink)?;
        }
        self.stats.raw += 1;
        sink.event(&Event::Raw {
            at: origin.at,
            from: origin.from,
            cred: origin.cred,
            bytes,
        })
    }

    /// `--echo`: sends `bytes` back to their source, from the address they
    /// came to, unless the echo rules say not to (see [`super::echo`]).
    fn echo_back(
        &mut self,
        bytes: &[u8],
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if origin.from.is_unnamed() {
            return self.unanswerable("datagram", sink);
        }
        let Some(echo) = self.echo.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        let links = &mut self.links;
        let from = origin.from;
        let allowed = match echo.check(bytes, from, || on_link_if_group(links, origin), now) {
            Ok(allowed) => allowed,
            Err(why) => {
                self.stats.echoes_ignored += 1;
                return sink.notice(&Notice::EchoIgnored { from, why });
            }
        };
        match net::send_from(origin.socket, bytes, from, origin.local) {
            Ok(_) => {
                echo.sent(allowed, now);
                self.stats.echoed += 1;
                Ok(())
            }
            Err(error) => {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: from,
                    error: &error,
                })
            }
        }
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
                if !self
                    .recent
                    .first_time(text.sender, text.seq, Instant::now())
                {
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
            | Message::Answer(_)
            | Message::Pong(_)
            | Message::Refuse(_)
            | Message::Hello(_)
            | Message::Goodbye(_)
            | Message::FileStatus(_) => Ok(()),
        }
    }

    /// While closing: answers a repeat of an acknowledged message (its ack
    /// again, and a file record's status) and, for a file record that is
    /// not one, the status of that sender's last transfer (it ended while
    /// the sender kept sending); ignores everything else.
    fn repeated(
        &mut self,
        message: Message<'_>,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let Message::Text(text) = message else {
            return Ok(());
        };
        if text.flags & wire::FLAG_ACK == 0 {
            return Ok(());
        }
        if self.streams.is_repeat(text.sender, text.seq, text.base) {
            self.repeats.push(text.sender);
            return self.acked_text(&text, open_len, origin, sink);
        }
        if text.flags & wire::FLAG_FILE == 0 {
            return Ok(());
        }
        let route = Route {
            to: origin.from.clone(),
            local: origin.local,
            via: origin.via,
        };
        if self.files.answer_again(text.sender, route) {
            self.repeats.push(text.sender);
        }
        Ok(())
    }

    /// Answers a ping, within the pong rate limit. Pings from this host
    /// (a loopback source, or a Unix-domain socket) are exempt: Linux drops
    /// a datagram with a loopback source that arrives on any other
    /// interface (a martian), so only a local process can send one, and its
    /// pongs go back to this host; the limit exists to protect other hosts.
    fn pong(&mut self, ping: Ping, origin: Origin<'_>, sink: &mut dyn Sink) -> io::Result<()> {
        let from = origin.from;
        if let Some(ip) = remote_ip(from)
            && !self.pongs.allow(ip, Instant::now())
        {
            self.stats.pings_ignored += 1;
            return sink.notice(&Notice::PingIgnored {
                from,
                why: "over the pong rate limit",
            });
        }
        self.stats.pings += 1;
        self.reply(&Message::Pong(ping), origin, sink).map(|_| ())
    }

    /// Answers a discovery probe, unless that would amplify or flood.
    fn probe(
        &mut self,
        token: u64,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let from = origin.from;
        let name = truncate_name(&self.name);
        // Size first: a probe too small to answer must not use up the rate
        // limit that real probes share.
        let why = if from.is_unix() {
            // Discovery finds IP listeners; an Answer's port means nothing here.
            Some("a listener on a Unix socket is not found by discovery")
        } else if open_len < wire::ANSWER_OVERHEAD + name.len() {
            Some("probe smaller than the answer (not padded)")
        } else if !replyable(from) {
            Some("source is a broadcast or multicast address")
        } else if !on_link_if_group(&mut self.links, origin) {
            Some("sent to a broadcast or multicast address from an off-link source")
        } else if !from
            .inet()
            .is_some_and(|a| self.limiter.allow(a.ip(), Instant::now()))
        {
            Some("over the answer rate limit")
        } else {
            None
        };
        if let Some(why) = why {
            self.stats.probes_ignored += 1;
            return sink.notice(&Notice::ProbeIgnored { from, why });
        }
        let answer = Message::Answer(Answer {
            instance: self.instance,
            token,
            port: self.port,
            version: wire::VERSION,
            name,
        });
        // Never answer with more bytes than the probe had (checked above;
        // the encoder enforces it too).
        self.reply.clear();
        if wire::encode(&answer, open_len, &mut self.reply).is_err() {
            self.stats.probes_ignored += 1;
            return sink.notice(&Notice::ProbeIgnored {
                from,
                why: "probe smaller than the answer (not padded)",
            });
        }
        if self.send_reply(origin, sink)? {
            self.stats.answers += 1;
            sink.notice(&Notice::Answered { to: from })?;
        }
        Ok(())
    }

    /// A message that wants an ack: exactly once, in order, per sender.
    /// The ack is owed, and sent after the output is flushed.
    fn acked_text(
        &mut self,
        text: &Text<'_>,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let now = Instant::now();
        let file = text.flags & wire::FLAG_FILE != 0;
        if file {
            let route = Route {
                to: origin.from.clone(),
                local: origin.local,
                via: origin.via,
            };
            self.files.heard(text.sender, route, now);
            // A Cancel is acted on as it arrives, not in its turn.
            if let Ok(FileRecord::Cancel) = file_wire::decode_record(text.body) {
                self.files.cancel(text.sender);
            }
        }
        let (stats, files) = (&mut self.stats, &mut self.files);
        let verdict = self
            .streams
            .accept(message_of(text, origin), now, &mut |release| {
                show_release(release, Some(now), stats, files, sink)
            });
        show_files(&mut self.files, &mut self.stats, sink)?;
        let verdict = verdict?;
        match verdict {
            Verdict::Duplicate if file => {
                self.stats.duplicates += 1;
                self.files.repeat(text.sender);
            }
            Verdict::Duplicate => self.stats.duplicates += 1,
            Verdict::Busy => {
                self.stats.refused += 1;
                let refuse = Message::Refuse(Refuse {
                    instance: self.instance,
                    sender: text.sender,
                    seq: text.seq,
                    reason: wire::REFUSED_BUSY,
                });
                self.reply(&refuse, origin, sink)?;
            }
            _ => {}
        }
        if verdict.acknowledged() && origin.from.is_unnamed() {
            return self.unanswerable("message that asks for an ack", sink);
        }
        if verdict.acknowledged() {
            let owed = self.owed.entry(text.sender).or_insert_with(|| Owed {
                to: origin.from.clone(),
                local: origin.local,
                via: origin.via,
                recent: Vec::new(),
                budget: 0,
            });
            owed.budget += open_len;
            // The ack goes where the latest datagram came from.
            if owed.to != *origin.from {
                owed.to = origin.from.clone();
            }
            owed.local = origin.local;
            owed.via = origin.via;
            if owed.recent.len() < OWED_RECENT {
                owed.recent.push(text.seq);
            }
        }
        Ok(())
    }

    /// True when some sender is owed an acknowledgement (or a file status).
    pub fn acks_owed(&self) -> bool {
        !self.owed.is_empty() || self.files.statuses_owed()
    }

    /// Sends every owed acknowledgement (call only once the output is
    /// flushed): the sender's stream state, cumulative and selective.
    pub fn send_acks(&mut self, sockets: &[DatagramSocket], sink: &mut dyn Sink) -> io::Result<()> {
        // File content confirmed by these acks is written out first.
        self.files.flush();
        show_files(&mut self.files, &mut self.stats, sink)?;
        self.acks.resize_with(sockets.len(), ReplyBatch::default);
        for (sender, owed) in self.owed.drain() {
            // Never larger than what it answers: as many ranges as fit.
            let room = owed.budget.saturating_sub(wire::ACK_OVERHEAD) / wire::ACK_RANGE_LEN;
            let max_ranges = room.min(MAX_ACK_RANGES);
            let Some((next, held)) = self.streams.ack_state(sender, max_ranges, &owed.recent)
            else {
                continue;
            };
            let Some(batch) = self.acks.get_mut(owed.via) else {
                continue;
            };
            self.ranges.clear();
            wire::put_ack_ranges(held, &mut self.ranges);
            let ack = Message::Ack(Ack {
                instance: self.instance,
                sender,
                next,
                ranges: &self.ranges,
            });
            self.reply.clear();
            if wire::encode(&ack, wire::MAX_DATAGRAM_V4, &mut self.reply).is_err() {
                continue;
            }
            let sealed = self.outgoing.seal(&self.reply, &owed.to);
            // Never fails: unnamed senders are owed nothing (acked_text).
            if let Err(error) = batch.push(sealed, &owed.to, owed.local) {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: &owed.to,
                    error: &error,
                })?;
            }
        }
        self.queue_statuses();
        // One sendmmsg per socket for every ack of the batch.
        for (batch, socket) in self.acks.iter_mut().zip(sockets) {
            if batch.is_empty() {
                continue;
            }
            let mut failures = Vec::new();
            self.stats.acks +=
                batch.send(socket, |to, error| failures.push((to.clone(), error))) as u64;
            self.last_ack = Some(Instant::now());
            for (to, error) in failures {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: &to,
                    error: &error,
                })?;
            }
        }
        Ok(())
    }

    /// Queues the file statuses owed, after the acks of each socket.
    fn queue_statuses(&mut self) {
        let (acks, reply, outgoing, instance, unanswerable) = (
            &mut self.acks,
            &mut self.reply,
            &mut self.outgoing,
            self.instance,
            &mut self.stats.unanswerable,
        );
        self.files.take_statuses(|status| {
            let Some(batch) = acks.get_mut(status.route.via) else {
                return;
            };
            let message = Message::FileStatus(FileStatus {
                instance,
                sender: status.sender,
                seq: status.seq,
                status: status.status,
                detail: status.detail,
            });
            reply.clear();
            if wire::encode(&message, wire::MAX_DATAGRAM_V4, reply).is_err() {
                return;
            }
            let to = &status.route.to;
            // A Unix socket without a name cannot be told.
            if batch
                .push(outgoing.seal(reply, to), to, status.route.local)
                .is_err()
            {
                *unanswerable += 1;
            }
        });
    }

    /// Gives up gaps that waited long enough (all of them with `force`),
    /// reporting each and showing what followed it; abandons the file
    /// transfers of senders silent too long.
    pub fn release_gaps(
        &mut self,
        now: Instant,
        force: bool,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let (stats, files) = (&mut self.stats, &mut self.files);
        let released = self.streams.expire(now, force, &mut |release| {
            show_release(release, Some(now), stats, files, sink)
        });
        self.files.expire(now);
        show_files(&mut self.files, &mut self.stats, sink)?;
        released
    }

    /// The listener stops: every file transfer still running ends, its
    /// partial file removed, its sender told.
    pub fn stop_files(
        &mut self,
        sockets: &[DatagramSocket],
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if self.files.running() == 0 {
            return Ok(());
        }
        self.files.stop();
        show_files(&mut self.files, &mut self.stats, sink)?;
        self.send_acks(sockets, sink)
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

fn message_of<'a>(text: &Text<'a>, origin: Origin<'a>) -> Arrived<'a> {
    Arrived {
        sender: text.sender,
        seq: text.seq,
        base: text.base,
        flags: text.flags,
        name: text.name,
        body: text.body,
        from: origin.from,
        cred: origin.cred,
        at: origin.at,
    }
}

/// Shows what ordering released: a message (counted) or a gap; a file
/// record goes to the file receiver instead (at `now`, read when `None`:
/// the caller's reading saves one per datagram).
fn show_release(
    release: Release<'_>,
    now: Option<Instant>,
    stats: &mut Stats,
    files: &mut Receiver,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    match release {
        Release::Message(m) if m.flags & wire::FLAG_FILE != 0 => {
            files.record(&m, now.unwrap_or_else(Instant::now));
            Ok(())
        }
        // A gap in a file's content ends that transfer (shown as a failed
        // file, not as missing messages).
        Release::Gap(gap) if files.gap(gap.sender) => Ok(()),
        Release::Message(m) => {
            stats.received += 1;
            sink.event(&Event::Text {
                at: m.at,
                from: m.from,
                cred: m.cred,
                name: m.name,
                body: m.body,
                sender: m.sender,
                seq: m.seq,
            })
        }
        Release::Gap(gap) => {
            stats.missing = stats
                .missing
                .saturating_add(gap.last - gap.first)
                .saturating_add(1);
            sink.event(&Event::Gap {
                at: SystemTime::now(),
                from: gap.from,
                sender: gap.sender,
                first: gap.first,
                last: gap.last,
            })
        }
    }
}

/// Hands what became of files to the sink, counted.
fn show_files(files: &mut Receiver, stats: &mut Stats, sink: &mut dyn Sink) -> io::Result<()> {
    for outcome in files.take_outcomes() {
        match &outcome {
            Outcome::Saved(_) => stats.files += 1,
            Outcome::Failed(_) => stats.files_failed += 1,
        }
        sink.file(&outcome)?;
    }
    Ok(())
}

/// Whether a reply may go to `to`: never to a broadcast, multicast or
/// unspecified address (a forged source would make a reply reach every
/// host). Directed broadcasts are stopped by the socket itself, which has no
/// SO_BROADCAST. A Unix-domain sender cannot be forged (the kernel names
/// it); one without a name is refused where a reply would go, and counted.
pub(super) fn replyable(to: &PeerAddr) -> bool {
    match to {
        PeerAddr::Inet(addr) => match addr.ip() {
            IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
            IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
        },
        PeerAddr::Unix(_) => true,
    }
}

/// The IP address of a sender on another host, whose replies are rate
/// limited: `None` for this host itself (a loopback source: Linux drops a
/// loopback source arriving on any other interface; a Unix-domain socket).
pub(super) fn remote_ip(from: &PeerAddr) -> Option<IpAddr> {
    from.inet().map(|a| a.ip()).filter(|ip| !ip.is_loopback())
}

/// RFC 6762 §11's rule: a datagram sent to a broadcast or multicast
/// address is answered only when its source is on the link it arrived
/// on. Otherwise one probe with a forged, far-away source, sent to a
/// subnet's broadcast address, would make every listener there answer
/// that victim. A unicast probe reaches one listener and is answered
/// (rate limited) whatever its source. Without arrival information
/// (never, on a listener's IP sockets) the source must be on some link.
/// A Unix-domain datagram went to one socket.
fn on_link_if_group(links: &mut Links, origin: Origin<'_>) -> bool {
    let PeerAddr::Inet(from) = origin.from else {
        return true;
    };
    let (group, ifindex) = origin
        .local
        .map_or((true, 0), |l| (l.sent_to_group(), l.ifindex));
    !group || links.is_on_link(ifindex, from.ip(), Instant::now())
}

/// The name cut to [`wire::MAX_NAME`] bytes at a character boundary.
pub fn truncate_name(name: &str) -> &str {
    if name.len() <= wire::MAX_NAME {
        return name;
    }
    let mut end = wire::MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}
