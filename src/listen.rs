//! `udpmsg listen`: receive datagrams, hand each to a sink; answer pings,
//! discovery probes and acknowledged messages.
//!
//! The listener owns already-bound sockets and runs until a stop condition
//! (count, deadline, signal, or the sink refusing more output). It never
//! stops because of what a peer sent: malformed datagrams are counted and
//! skipped, and ICMP errors echoed onto the socket are ignored.

use crate::event::{EventLoop, Wake};
use crate::net::{self, Local};
use crate::order::{self, Streams, Verdict};
use crate::seal::{Envelope, Key, Opened, Refusal, Reject};
use crate::wire::{self, Ack, Answer, DecodeError, Message, Ping, Text};
use mio::net::UdpSocket;
use mio::{Interest, Token};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// At most this many sockets per listener (`listen` opens one or two).
pub const MAX_SOCKETS: usize = 64;

/// Full batches (of [`net::RECV_BATCH`]) read from one socket in a row
/// before signals, timers, output and the other socket get a turn: a flood
/// cannot make Ctrl-C or `--timeout` wait.
const DRAIN_BUDGET: usize = 64;

/// The pause after a batch of several datagrams, but not a full one, before
/// reading again. A listener that keeps up with a fast sender otherwise
/// wakes for every two or three datagrams, and each wake (epoll_wait plus
/// recvmmsg) costs more than handling them; after the pause, a stream of
/// 250,000 datagrams/s comes in batches of 12 or more (the timer slack makes
/// the pause 50–100 µs). A lone datagram (ping, interactive messages,
/// discovery) is handled at once and never waits.
const GATHER: Duration = Duration::from_micros(50);

/// How reading one socket ended.
enum Drained {
    /// The queue is empty.
    Empty,
    /// The budget ran out, or a pause let more gather: more may wait.
    Budget,
    /// A stop condition came up.
    Stop(Stop),
}

/// Sockets get tokens 0, 1, ... in the order given.
fn socket_token(index: usize) -> Token {
    Token(index)
}

/// How a listener behaves and when it stops.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name given in discovery answers.
    pub name: String,
    /// Stop after this many datagrams were shown (raw included).
    pub count: Option<u64>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// Stop cleanly on SIGINT/SIGTERM (off in tests that drive the loop).
    pub catch_signals: bool,
    /// Shared key: only sealed datagrams are accepted and replies are sealed.
    pub key: Option<Key>,
    /// How long an acknowledged message waits for a missing earlier one.
    pub gap_wait: Duration,
}

/// Default for [`Config::gap_wait`]: longer than a sender's default deadline,
/// so a gap is only given up once its sender has stopped retrying.
pub const DEFAULT_GAP_WAIT: Duration = Duration::from_secs(6);

pub use crate::wire::MAX_NAME;

/// Discovery answers per second to one source address (and burst): a scan
/// costs up to six (three rounds, IPv4 and IPv6), so a few back-to-back
/// scans stay within it.
pub const ANSWERS_PER_SOURCE: u32 = 30;
/// Discovery answers per second over all sources (and burst).
pub const ANSWERS_TOTAL: u32 = 200;
/// Source addresses the answer rate limiter remembers.
const RATE_TABLE: usize = 256;

/// One thing the listener shows.
#[derive(Debug)]
pub enum Event<'a> {
    /// A udpmsg text message.
    Text {
        at: SystemTime,
        from: SocketAddr,
        name: &'a str,
        body: &'a [u8],
        sender: u64,
        seq: u64,
    },
    /// A datagram without the udpmsg magic.
    Raw {
        at: SystemTime,
        from: SocketAddr,
        bytes: &'a [u8],
    },
    /// Acknowledged messages `first..=last` of a sender never arrived; the
    /// listener stopped waiting for them and shows the later ones.
    Gap {
        at: SystemTime,
        from: SocketAddr,
        sender: u64,
        first: u64,
        last: u64,
    },
}

/// Something the listener refused or could not do; shown only with `-v`.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A datagram with the magic that did not decode.
    Malformed {
        from: SocketAddr,
        error: &'a DecodeError,
    },
    /// A datagram refused by the key rules: sealed without a key, open or
    /// raw with a key, or a sealed one that failed to open or was replayed.
    Refused { from: SocketAddr, why: &'a Refusal },
    /// A reply (pong, answer, ack) could not be sent.
    ReplyFailed {
        to: SocketAddr,
        error: &'a io::Error,
    },
    /// A discovery probe was answered.
    Answered { to: SocketAddr },
    /// A discovery probe was not answered: over the rate limit, or too
    /// small to answer without amplifying.
    ProbeIgnored { from: SocketAddr, why: &'static str },
}

/// Where the listener puts what it receives: the output layer implements it.
pub trait Sink {
    /// Shows one event. An error (a closed stdout) stops the listener.
    fn event(&mut self, event: &Event<'_>) -> io::Result<()>;
    /// Reports a refused datagram (the default ignores it).
    fn notice(&mut self, _notice: &Notice<'_>) -> io::Result<()> {
        Ok(())
    }
    /// The socket is drained and the loop is about to sleep: flush, or
    /// return when to be woken to flush (output is batched during floods).
    fn idle(&mut self, _now: Instant) -> io::Result<Option<Instant>> {
        Ok(None)
    }
    /// The listener stops: write out everything.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why the listener stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `--count` datagrams were shown.
    Count,
    /// `--timeout` passed.
    Timeout,
    /// SIGINT or SIGTERM (the signal number).
    Signal(i32),
    /// The sink could not take more output (a closed pipe).
    OutputClosed,
}

/// What the listener saw, reported when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// udpmsg text messages shown.
    pub received: u64,
    /// Raw (non-udpmsg) datagrams shown.
    pub raw: u64,
    /// Datagrams with the magic that failed to decode.
    pub malformed: u64,
    /// Sealed datagrams at a listener without a key.
    pub sealed: u64,
    /// Keyed listener: open udpmsg datagrams refused.
    pub unsealed: u64,
    /// Keyed listener: raw datagrams refused (never shown).
    pub raw_refused: u64,
    /// Keyed listener: sealed datagrams that failed authentication
    /// (forged, tampered, another key) or were truncated.
    pub forged: u64,
    /// Keyed listener: replayed datagrams.
    pub replayed: u64,
    /// Keyed listener: datagrams whose time is too far from ours.
    pub stale: u64,
    /// Pings answered.
    pub pings: u64,
    /// Discovery probes answered.
    pub answers: u64,
    /// Discovery probes not answered (rate limit, too small).
    pub probes_ignored: u64,
    /// Acknowledgements sent.
    pub acks: u64,
    /// Acknowledged-mode duplicates suppressed.
    pub duplicates: u64,
    /// Acknowledged-mode messages given up on (gaps reported).
    pub missing: u64,
    /// Replies that could not be sent.
    pub reply_errors: u64,
    /// Datagrams the kernel dropped (full receive queue), where known.
    pub kernel_drops: Option<u64>,
}

impl Stats {
    /// Datagrams shown (what `--count` counts).
    pub fn shown(&self) -> u64 {
        self.received + self.raw
    }
}

/// A listener over its bound sockets (one, or one per address family).
pub struct Listener {
    sockets: Vec<UdpSocket>,
    /// The socket the datagram being handled came on (replies leave by it).
    via: usize,
    config: Config,
    stats: Stats,
    batch: net::RecvBatch,
    reply: Vec<u8>,
    /// Random id of this listener process (one peer, however many addresses).
    instance: u64,
    port: u16,
    streams: Streams,
    evicted: Vec<order::Held>,
    limiter: RateLimiter,
    envelope: Envelope,
    /// Opened bodies of sealed datagrams.
    plain: Vec<u8>,
    /// Made (signal handlers installed, sockets registered) with the
    /// listener, so SIGINT/SIGTERM are caught from the moment `listen`
    /// says it is listening.
    events: EventLoop,
}

impl Listener {
    /// Wraps bound, non-blocking sockets (see [`net::bind_listeners`]),
    /// all on one port, at most [`MAX_SOCKETS`] of them; with
    /// `config.catch_signals`, SIGINT and SIGTERM are caught from now on.
    pub fn new(mut sockets: Vec<UdpSocket>, config: Config) -> io::Result<Self> {
        if sockets.len() > MAX_SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a listener takes at most {MAX_SOCKETS} sockets"),
            ));
        }
        let events = EventLoop::new(config.catch_signals)?;
        for (i, socket) in sockets.iter_mut().enumerate() {
            events
                .registry()
                .register(socket, socket_token(i), Interest::READABLE)?;
        }
        let locals: Vec<Option<SocketAddr>> = sockets.iter().map(|s| s.local_addr().ok()).collect();
        for (socket, local) in sockets.iter().zip(&locals) {
            if let Some(local) = local {
                net::enable_pktinfo(socket, local.is_ipv6());
            }
        }
        let local = locals.first().copied().flatten();
        let gap_wait = config.gap_wait;
        let envelope = Envelope::new(config.key.as_ref());
        Ok(Listener {
            sockets,
            via: 0,
            config,
            stats: Stats::default(),
            // One byte more than any datagram, so an oversized read shows.
            batch: net::RecvBatch::new(net::RECV_BATCH, wire::MAX_DATAGRAM + 1),
            reply: Vec::with_capacity(512),
            instance: crate::id::random(),
            port: local.map_or(0, |a| a.port()),
            streams: Streams::new(gap_wait),
            evicted: Vec::new(),
            limiter: RateLimiter::new(),
            envelope,
            plain: Vec::with_capacity(2048),
            events,
        })
    }

    /// The addresses the sockets are bound to.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(|s| s.local_addr()).collect()
    }

    /// Runs until a stop condition; returns why, and what was seen.
    pub fn run(&mut self, sink: &mut dyn Sink) -> io::Result<(Stop, Stats)> {
        let deadline = self.config.timeout.map(|t| Instant::now() + t);
        // Bit i: socket i may hold datagrams. Every one may before the first
        // wait; after that, only those the poll reported, until drained
        // (mio is edge-triggered). Reading only those saves a recvmmsg that
        // would find nothing on every wake when listening on both families.
        let all = match self.sockets.len() {
            0 => 0,
            n => u64::MAX >> (64 - n),
        };
        let mut unread = all;
        let stop = loop {
            if let Some(stop) = self.drain(&mut unread, sink)? {
                break stop;
            }
            if self.release_gaps(Instant::now(), false, sink).is_err() {
                break Stop::OutputClosed;
            }
            if self.count_reached() {
                break Stop::Count;
            }
            let flush_at = match sink.idle(Instant::now()) {
                Ok(at) => at,
                Err(_) => break Stop::OutputClosed,
            };
            let wake = if unread == 0 {
                let wake_at = [deadline, self.streams.next_deadline(), flush_at]
                    .into_iter()
                    .flatten()
                    .min();
                self.events.wait(wake_at)?
            } else {
                // A socket still holds datagrams (its read budget ran out):
                // look for signals and the other sockets, without sleeping.
                self.events.poll_now()?
            };
            match wake {
                Wake::Ready(ready) => unread |= ready & all,
                Wake::Timeout => {}
                Wake::Signal(s) => break Stop::Signal(s),
            }
            // Checked after every wake, not only on a timeout: a flood never
            // lets the poll time out.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break Stop::Timeout;
            }
        };
        // Messages held for a gap were accepted (acknowledged): show them
        // before stopping, unless output is what failed.
        if stop != Stop::OutputClosed && stop != Stop::Count {
            let _ = self.release_gaps(Instant::now(), true, sink);
        }
        // A closed pipe at the final flush changes nothing: we are stopping.
        let _ = sink.finish();
        self.stats.kernel_drops = self
            .sockets
            .iter()
            .map(net::kernel_drops)
            .try_fold(0, |sum, d| d.map(|d| sum + d));
        Ok((stop, self.stats.clone()))
    }

    /// Reads each socket marked in `unread` until it would block, and
    /// unmarks it; returns a stop reason if one came up.
    fn drain(&mut self, unread: &mut u64, sink: &mut dyn Sink) -> io::Result<Option<Stop>> {
        if self.count_reached() {
            return Ok(Some(Stop::Count));
        }
        // The batch's buffers stay borrowed while datagrams are handled.
        let mut batch = std::mem::take(&mut self.batch);
        let mut result = Ok(None);
        for via in 0..self.sockets.len() {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            self.via = via;
            match self.drain_batches(&mut batch, sink) {
                Ok(Drained::Empty) => *unread &= !bit,
                Ok(Drained::Budget) => {}
                Ok(Drained::Stop(stop)) => {
                    result = Ok(Some(stop));
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.batch = batch;
        result
    }

    /// Reads one socket until it is empty, a stop condition comes up, or
    /// [`DRAIN_BUDGET`] batches were read.
    fn drain_batches(
        &mut self,
        batch: &mut net::RecvBatch,
        sink: &mut dyn Sink,
    ) -> io::Result<Drained> {
        for _ in 0..DRAIN_BUDGET {
            let count = match batch.recv(&self.sockets[self.via]) {
                Ok(count) => count,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drained::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The ICMP echo of a reply we sent to a port that closed since.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            // One clock read per batch: its datagrams arrived together.
            let at = SystemTime::now();
            for i in 0..count {
                let Some((bytes, arrival, truncated)) = batch.get(i) else {
                    continue;
                };
                let from = crate::addr::display_addr(arrival.from);
                let shown = if truncated || bytes.len() > wire::MAX_DATAGRAM {
                    // Cannot happen on UDP, but a cut read must not pass as whole.
                    self.stats.malformed += 1;
                    sink.notice(&Notice::Malformed {
                        from,
                        error: &DecodeError::TooLong,
                    })
                } else {
                    self.dispatch(bytes, at, from, arrival.local, sink)
                };
                if shown.is_err() {
                    return Ok(Drained::Stop(Stop::OutputClosed));
                }
                if self.count_reached() {
                    return Ok(Drained::Stop(Stop::Count));
                }
            }
            if count < 2 {
                // A short batch means the queue was empty: new datagrams
                // will raise a new readiness event.
                return Ok(Drained::Empty);
            }
            if count < net::RECV_BATCH {
                // Several arrived while the last batch was handled: a
                // stream. Let the next ones gather rather than wake for
                // every two, then give signals, timers and output a turn.
                std::thread::sleep(GATHER);
                return Ok(Drained::Budget);
            }
        }
        Ok(Drained::Budget)
    }

    fn count_reached(&self) -> bool {
        self.config
            .count
            .is_some_and(|count| self.stats.shown() >= count)
    }

    fn dispatch(
        &mut self,
        bytes: &[u8],
        at: SystemTime,
        from: SocketAddr,
        local: Option<Local>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let mut plain = std::mem::take(&mut self.plain);
        let result = match self.envelope.incoming(bytes, &mut plain, at) {
            Ok(Opened::Raw(bytes)) => {
                self.stats.raw += 1;
                sink.event(&Event::Raw { at, from, bytes })
            }
            Ok(Opened::Message(message)) => {
                // The size the message had before sealing: answers are
                // compared with it, sealed or not.
                let open_len = bytes.len() - self.envelope.overhead();
                self.message(message, open_len, at, from, local, sink)
            }
            Err(why) => {
                match &why {
                    Refusal::Malformed(_) => self.stats.malformed += 1,
                    Refusal::NoKey => self.stats.sealed += 1,
                    Refusal::Unsealed => self.stats.unsealed += 1,
                    Refusal::RawWithKey => self.stats.raw_refused += 1,
                    Refusal::Rejected(Reject::Replay) => self.stats.replayed += 1,
                    Refusal::Rejected(Reject::Stale) => self.stats.stale += 1,
                    Refusal::Rejected(Reject::Auth | Reject::Truncated) => self.stats.forged += 1,
                }
                match &why {
                    Refusal::Malformed(error) => sink.notice(&Notice::Malformed { from, error }),
                    why => sink.notice(&Notice::Refused { from, why }),
                }
            }
        };
        self.plain = plain;
        result
    }

    /// Acts on one accepted message of `open_len` bytes (unsealed size).
    fn message(
        &mut self,
        message: Message<'_>,
        open_len: usize,
        at: SystemTime,
        from: SocketAddr,
        local: Option<Local>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        match message {
            Message::Text(text) if text.flags & wire::FLAG_ACK != 0 => {
                self.acked_text(&text, at, from, local, sink)
            }
            Message::Text(text) => self.show_text(&text, at, from, sink),
            Message::Ping(_) if !replyable(from.ip()) => Ok(()),
            Message::Ping(ping) => {
                self.stats.pings += 1;
                self.reply(&Message::Pong(Ping { ..ping }), from, local, sink)
                    .map(|_| ())
            }
            Message::Probe(probe) => {
                if probe.instance == self.instance {
                    return Ok(());
                }
                let name = truncate_name(&self.config.name);
                // Size first: a probe too small to answer must not use up
                // the rate limit that real probes share.
                if open_len < wire::ANSWER_OVERHEAD + name.len() {
                    self.stats.probes_ignored += 1;
                    return sink.notice(&Notice::ProbeIgnored {
                        from,
                        why: "probe smaller than the answer (not padded)",
                    });
                }
                if !replyable(from.ip()) {
                    self.stats.probes_ignored += 1;
                    return sink.notice(&Notice::ProbeIgnored {
                        from,
                        why: "source is a broadcast or multicast address",
                    });
                }
                if !self.limiter.allow(from.ip(), Instant::now()) {
                    self.stats.probes_ignored += 1;
                    return sink.notice(&Notice::ProbeIgnored {
                        from,
                        why: "over the answer rate limit",
                    });
                }
                let answer = Message::Answer(Answer {
                    instance: self.instance,
                    token: probe.token,
                    port: self.port,
                    version: wire::VERSION,
                    name,
                });
                // Never answer with more bytes than the probe had.
                self.reply.clear();
                if wire::encode(&answer, open_len, &mut self.reply).is_err() {
                    self.stats.probes_ignored += 1;
                    return sink.notice(&Notice::ProbeIgnored {
                        from,
                        why: "probe smaller than the answer (not padded)",
                    });
                }
                if self.send_reply(from, local, sink)? {
                    self.stats.answers += 1;
                    sink.notice(&Notice::Answered { to: from })?;
                }
                Ok(())
            }
            // Kinds a listener does not act on (another listener's answers,
            // pongs, acks meant for a sender) are ignored.
            Message::Ack(_) | Message::Answer(_) | Message::Pong(_) => Ok(()),
        }
    }

    /// A message that wants an ack: exactly once, in order, per sender.
    fn acked_text(
        &mut self,
        text: &Text<'_>,
        at: SystemTime,
        from: SocketAddr,
        local: Option<Local>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let verdict = self.streams.accept(
            text.sender,
            text.seq,
            text.name,
            text.body,
            from,
            at,
            Instant::now(),
            &mut self.evicted,
        );
        self.show_evicted(sink)?;
        match verdict {
            Verdict::Refused | Verdict::Skipped => return Ok(()),
            Verdict::Duplicate => self.stats.duplicates += 1,
            Verdict::Held => {}
            Verdict::ShowNow => self.show_text(text, at, from, sink)?,
        }
        let ack = Message::Ack(Ack {
            sender: text.sender,
            seq: text.seq,
        });
        if self.reply(&ack, from, local, sink)? {
            self.stats.acks += 1;
        }
        if verdict == Verdict::ShowNow {
            self.show_ready(text.sender, sink)?;
        }
        Ok(())
    }

    /// Shows one text message and counts it.
    fn show_text(
        &mut self,
        text: &Text<'_>,
        at: SystemTime,
        from: SocketAddr,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        self.stats.received += 1;
        sink.event(&Event::Text {
            at,
            from,
            name: text.name,
            body: text.body,
            sender: text.sender,
            seq: text.seq,
        })
    }

    /// Shows a message that was held for a gap (or pushed out of the table).
    fn show_held(&mut self, held: &order::Held, sink: &mut dyn Sink) -> io::Result<()> {
        self.stats.received += 1;
        sink.event(&Event::Text {
            at: held.at,
            from: held.from,
            name: &held.name,
            body: &held.body,
            sender: held.sender,
            seq: held.seq,
        })
    }

    /// Shows the held messages of `sender` that are now in order.
    fn show_ready(&mut self, sender: u64, sink: &mut dyn Sink) -> io::Result<()> {
        while let Some(held) = self.streams.pop_ready(sender, Instant::now()) {
            self.show_held(&held, sink)?;
        }
        Ok(())
    }

    /// Shows messages of senders pushed out of the bounded table.
    fn show_evicted(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for held in std::mem::take(&mut self.evicted) {
            self.show_held(&held, sink)?;
        }
        Ok(())
    }

    /// Gives up gaps that waited long enough (all of them with `force`),
    /// reporting each and showing what followed it.
    fn release_gaps(&mut self, now: Instant, force: bool, sink: &mut dyn Sink) -> io::Result<()> {
        while let Some(gap) = self.streams.expire(now, force) {
            self.stats.missing += gap.last - gap.first + 1;
            sink.event(&Event::Gap {
                at: SystemTime::now(),
                from: gap.from,
                sender: gap.sender,
                first: gap.first,
                last: gap.last,
            })?;
            self.show_ready(gap.sender, sink)?;
        }
        Ok(())
    }

    /// Encodes `message` into the reply buffer, at most `max` bytes.
    fn reply_into(&mut self, message: &Message<'_>, max: usize) -> Result<(), wire::EncodeError> {
        self.reply.clear();
        wire::encode(message, max, &mut self.reply)
    }

    fn reply(
        &mut self,
        message: &Message<'_>,
        to: SocketAddr,
        local: Option<Local>,
        sink: &mut dyn Sink,
    ) -> io::Result<bool> {
        if self.reply_into(message, wire::MAX_DATAGRAM_V4).is_err() {
            return Ok(false);
        }
        self.send_reply(to, local, sink)
    }

    /// Sends the reply buffer to `to` from the address the request came to.
    /// Returns whether it went out.
    fn send_reply(
        &mut self,
        to: SocketAddr,
        local: Option<Local>,
        sink: &mut dyn Sink,
    ) -> io::Result<bool> {
        let out = self.envelope.outgoing(&self.reply);
        let result = net::send_from(&self.sockets[self.via], out, to, local);
        match result {
            Ok(_) => Ok(true),
            Err(error) => {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed { to, error: &error })?;
                Ok(false)
            }
        }
    }
}

/// Whether a reply may go to `ip`: never to a broadcast, multicast or
/// unspecified address (a forged source would make a reply reach every
/// host). Directed broadcasts are stopped by the socket itself, which has no
/// SO_BROADCAST.
fn replyable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// The name cut to [`MAX_NAME`] bytes at a character boundary.
pub fn truncate_name(name: &str) -> &str {
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut end = MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Token buckets for discovery answers: one per source address (bounded
/// table, oldest evicted) and one overall.
#[derive(Debug)]
struct RateLimiter {
    sources: HashMap<IpAddr, Bucket>,
    total: Bucket,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(now: Instant, burst: u32) -> Self {
        Bucket {
            tokens: f64::from(burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant, rate: u32) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(rate));
        self.last = now;
    }
}

impl RateLimiter {
    fn new() -> Self {
        RateLimiter {
            sources: HashMap::new(),
            total: Bucket::new(Instant::now(), ANSWERS_TOTAL),
        }
    }

    fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if !self.sources.contains_key(&source) && self.sources.len() >= RATE_TABLE {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.sources.remove(&ip);
            }
        }
        let bucket = self
            .sources
            .entry(source)
            .or_insert_with(|| Bucket::new(now, ANSWERS_PER_SOURCE));
        bucket.refill(now, ANSWERS_PER_SOURCE);
        self.total.refill(now, ANSWERS_TOTAL);
        if bucket.tokens < 1.0 || self.total.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        self.total.tokens -= 1.0;
        true
    }
}
