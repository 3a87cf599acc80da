//! `udpmsg ping`: round-trip times to a listener, like `ping` over udpmsg.

use super::Error;
use super::send::{Reply, Sender};
use crate::event::{EventLoop, Wake, token};
use crate::net::{self, PeerAddr, SendFailure};
use crate::util::rng::XorShift;
use crate::wire::{self, Message, Ping};
use mio::Token;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

const SOCKET: Token = token(0);

/// RTT samples kept for percentiles; later samples replace random ones
/// (reservoir sampling), so memory stays bounded on an endless ping.
const MAX_SAMPLES: usize = 1 << 20;

/// How to ping.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Pings to send; `None` until interrupted.
    pub count: Option<u64>,
    /// Time between pings; zero sends the next as soon as the last is
    /// answered (or lost).
    pub interval: Duration,
    /// How long to wait for each reply before counting it lost.
    pub wait: Duration,
    /// Stop cleanly on SIGINT/SIGTERM/SIGHUP with a summary.
    pub catch_signals: bool,
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub seq: u64,
    pub rtt: Duration,
    pub from: PeerAddr,
}

/// What a ping run reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// A reply arrived.
    Reply(Pong),
    /// Ping `seq` could not leave this host (a firewall rule, no route for
    /// now: [`SendFailure::Local`]); it counts as sent and lost.
    NotSent { seq: u64, error: &'a io::Error },
}

/// What a ping run measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Pings sent, those this host refused to send included.
    pub sent: u64,
    pub received: u64,
    /// Pings this host refused to send ([`Event::NotSent`]), counted as lost.
    pub local_errors: u64,
    /// RTTs in microseconds (a uniform sample when there were very many).
    pub rtts_us: Vec<u64>,
    pub min_us: Option<u64>,
    pub max_us: Option<u64>,
}

impl Summary {
    /// Percent of pings without a reply.
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            100.0 * (self.sent - self.received.min(self.sent)) as f64 / self.sent as f64
        }
    }

    /// The `p`th percentile (nearest rank) of the RTTs, in microseconds.
    pub fn percentile_us(&self, p: f64) -> Option<u64> {
        if self.rtts_us.is_empty() {
            return None;
        }
        let mut sorted = self.rtts_us.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    /// Counts one reply's round trip.
    fn record(&mut self, rtt: Duration, rng: &mut XorShift) {
        let us = rtt.as_micros() as u64;
        self.received += 1;
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = Some(self.max_us.map_or(us, |m| m.max(us)));
        if self.rtts_us.len() < MAX_SAMPLES {
            self.rtts_us.push(us);
        } else if let Some(s) = self.rtts_us.get_mut(rng.below(self.received) as usize) {
            *s = us;
        }
    }
}

/// A ping run in progress.
pub struct Pinger {
    sender: Sender,
    /// Where the pings go (IPv4-mapped addresses unmapped): the pongs'
    /// source, on a connected socket.
    dest: PeerAddr,
    config: Config,
    events: EventLoop,
    start: Instant,
    next_send: Instant,
    /// (seq, sent at) of pings still waiting for a reply, oldest first.
    waiting: VecDeque<(u64, Instant)>,
    summary: Summary,
    rng: XorShift,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Pinger {
    /// Prepares to ping `dest` through `sender` (connected to it).
    pub fn new(mut sender: Sender, dest: PeerAddr, config: Config) -> Result<Self, Error> {
        let events = EventLoop::new(config.catch_signals)?;
        sender.register(events.registry(), SOCKET)?;
        let now = Instant::now();
        let rng = XorShift::new(sender.id());
        Ok(Pinger {
            sender,
            dest: dest.unmapped(),
            config,
            events,
            start: now,
            next_send: now,
            waiting: VecDeque::new(),
            summary: Summary::default(),
            rng,
            out: Vec::with_capacity(64),
            buf: vec![0; wire::MAX_DATAGRAM + 1],
        })
    }

    /// Pings until the count is reached and the last reply came or timed
    /// out, or a signal; calls `on_event` for each reply and each ping that
    /// could not be sent (an error it returns ends the run as
    /// [`Error::Output`]).
    pub fn run(
        mut self,
        on_event: &mut dyn FnMut(&Event<'_>) -> io::Result<()>,
    ) -> Result<Summary, Error> {
        loop {
            let now = Instant::now();
            self.forget_overdue(now);
            let more = self.config.count.is_none_or(|c| self.summary.sent < c);
            if !more && self.waiting.is_empty() {
                break;
            }
            if more && self.may_send(now) {
                self.send_ping(now, on_event)?;
                continue;
            }
            if let Wake::Signal(_) = self.events.wait(self.wake_at(more))? {
                break;
            }
            self.read_pongs(on_event)?;
        }
        Ok(self.summary)
    }

    /// Forgets pings whose reply is overdue: they are lost.
    fn forget_overdue(&mut self, now: Instant) {
        while self
            .waiting
            .front()
            .is_some_and(|&(_, t)| now >= t + self.config.wait)
        {
            self.waiting.pop_front();
        }
    }

    /// With interval 0, the next ping waits for the last reply (or loss).
    fn may_send(&self, now: Instant) -> bool {
        now >= self.next_send && (!self.config.interval.is_zero() || self.waiting.is_empty())
    }

    fn wake_at(&self, more: bool) -> Option<Instant> {
        let mut wake_at = self.waiting.front().map(|&(_, t)| t + self.config.wait);
        if more && (!self.config.interval.is_zero() || self.waiting.is_empty()) {
            wake_at = Some(wake_at.map_or(self.next_send, |w| w.min(self.next_send)));
        }
        wake_at
    }

    /// Sends the next ping. One this host refuses for now is reported and
    /// then treated exactly as one the network lost: it waits for its reply
    /// like any other (so with interval 0 a firewall that drops every ping
    /// paces the run at one per `wait`, instead of spinning) and counts as
    /// lost when none comes.
    fn send_ping(
        &mut self,
        now: Instant,
        on_event: &mut dyn FnMut(&Event<'_>) -> io::Result<()>,
    ) -> Result<(), Error> {
        let seq = self.summary.sent;
        self.out.clear();
        let ping = Message::Ping(Ping {
            sender: self.sender.id(),
            seq,
            stamp: now.duration_since(self.start).as_micros() as u64,
        });
        // A ping is a few dozen bytes: it always fits.
        let _ = wire::encode(&ping, wire::MAX_DATAGRAM_V4, &mut self.out);
        if let Err(error) = self.sender.send_open(&self.out) {
            if net::classify_send_error(&error) != SendFailure::Local {
                return Err(error.into());
            }
            self.summary.local_errors += 1;
            on_event(&Event::NotSent { seq, error: &error }).map_err(Error::Output)?;
        }
        self.summary.sent += 1;
        self.waiting.push_back((seq, now));
        self.next_send = now + self.config.interval;
        Ok(())
    }

    /// Reads pongs until the socket would block.
    fn read_pongs(
        &mut self,
        on_event: &mut dyn FnMut(&Event<'_>) -> io::Result<()>,
    ) -> Result<(), Error> {
        let id = self.sender.id();
        while let Some(reply) = self.sender.recv_reply(&mut self.buf)? {
            let now = Instant::now();
            let Reply::Message(Message::Pong(pong)) = reply else {
                continue;
            };
            if pong.sender != id {
                continue;
            }
            // A duplicate, or a reply after its wait ran out, is not there.
            let Some(pos) = self.waiting.iter().position(|&(seq, _)| seq == pong.seq) else {
                continue;
            };
            let Some((seq, sent_at)) = self.waiting.remove(pos) else {
                continue;
            };
            let rtt = now.duration_since(sent_at);
            self.summary.record(rtt, &mut self.rng);
            on_event(&Event::Reply(Pong {
                seq,
                rtt,
                from: self.dest.clone(),
            }))
            .map_err(Error::Output)?;
        }
        Ok(())
    }
}
