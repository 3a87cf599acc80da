//! `udpmsg ping`: round-trip times to a listener, like `ping` over udpmsg.

use crate::event::{EventLoop, Wake};
use crate::net;
use crate::seal::{Envelope, Key, Opened};
use crate::wire::{self, Message, Ping};
use mio::{Interest, Token};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SOCKET: Token = Token(0);

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
    /// Stop cleanly on SIGINT/SIGTERM with a summary.
    pub catch_signals: bool,
}

/// One reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub seq: u64,
    pub rtt: Duration,
    pub from: SocketAddr,
}

/// What a ping run measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: u64,
    pub received: u64,
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
}

/// Why pinging stopped early.
#[derive(Debug)]
pub enum Error {
    /// ICMP port unreachable: nothing listens there.
    NotListening,
    Io(io::Error),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            Error::NotListening
        } else {
            Error::Io(e)
        }
    }
}

/// Pings `dest`, calling `on_reply` for each reply, and returns the summary.
pub fn ping(
    dest: SocketAddr,
    config: Config,
    key: Option<&Key>,
    on_reply: &mut dyn FnMut(&Reply) -> io::Result<()>,
) -> Result<Summary, Error> {
    let mut envelope = Envelope::new(key);
    let mut plain = Vec::new();
    let mut socket = net::sender_socket(dest, false)?;
    socket.connect(dest)?;
    let mut events = EventLoop::new(config.catch_signals)?;
    events
        .registry()
        .register(&mut socket, SOCKET, Interest::READABLE)?;
    let id = crate::id::random();
    let start = Instant::now();
    let mut summary = Summary::default();
    // (seq, sent at) of pings still waiting for a reply, oldest first.
    let mut waiting: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut next_send = start;
    let mut out = Vec::with_capacity(64);
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let mut rng = id | 1;
    loop {
        let now = Instant::now();
        // Forget pings whose reply is overdue: they are lost.
        while waiting
            .front()
            .is_some_and(|&(_, t)| now >= t + config.wait)
        {
            waiting.pop_front();
        }
        let more = config.count.is_none_or(|c| summary.sent < c);
        if !more && waiting.is_empty() {
            break;
        }
        let may_send =
            more && now >= next_send && (!config.interval.is_zero() || waiting.is_empty());
        if may_send {
            let seq = summary.sent;
            let stamp = now.duration_since(start).as_micros() as u64;
            out.clear();
            let ping = Message::Ping(Ping {
                sender: id,
                seq,
                stamp,
            });
            // A ping is a few dozen bytes: it always fits.
            let _ = wire::encode(&ping, wire::MAX_DATAGRAM_V4, &mut out);
            match socket.send(envelope.outgoing(&out)) {
                Ok(_) => {}
                Err(e) if net::is_transient_send_error(&e) => {}
                Err(e) => return Err(e.into()),
            }
            summary.sent += 1;
            waiting.push_back((seq, now));
            next_send = now + config.interval;
            continue;
        }
        let mut wake_at = waiting.front().map(|&(_, t)| t + config.wait);
        if more && (!config.interval.is_zero() || waiting.is_empty()) {
            wake_at = Some(wake_at.map_or(next_send, |w| w.min(next_send)));
        }
        match events.wait(wake_at)? {
            Wake::Signal(_) => break,
            Wake::Ready(_) | Wake::Timeout => {}
        }
        loop {
            let len = match socket.recv(&mut buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let now = Instant::now();
            let Ok(Opened::Message(Message::Pong(pong))) =
                envelope.incoming(&buf[..len], &mut plain, std::time::SystemTime::now())
            else {
                continue;
            };
            if pong.sender != id {
                continue;
            }
            let Some(pos) = waiting.iter().position(|&(seq, _)| seq == pong.seq) else {
                continue; // a duplicate or a reply after its wait ran out
            };
            let Some((seq, sent_at)) = waiting.remove(pos) else {
                continue;
            };
            let rtt = now.duration_since(sent_at);
            let us = rtt.as_micros() as u64;
            summary.received += 1;
            summary.min_us = Some(summary.min_us.map_or(us, |m| m.min(us)));
            summary.max_us = Some(summary.max_us.map_or(us, |m| m.max(us)));
            if summary.rtts_us.len() < MAX_SAMPLES {
                summary.rtts_us.push(us);
            } else {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let slot = rng % summary.received;
                if let Some(s) = summary.rtts_us.get_mut(slot as usize) {
                    *s = us;
                }
            }
            on_reply(&Reply {
                seq,
                rtt,
                from: crate::addr::display_addr(dest),
            })?;
        }
    }
    Ok(summary)
}
