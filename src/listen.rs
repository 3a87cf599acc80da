//! `udpmsg listen`: receive datagrams, hand each to a sink, answer pings.
//!
//! The listener owns an already-bound socket and runs until a stop condition
//! (count, deadline, signal, or the sink refusing more output). It never
//! stops because of what a peer sent: malformed datagrams are counted and
//! skipped, and ICMP errors echoed onto the socket are ignored.

use crate::event::{EventLoop, Wake};
use crate::net;
use crate::wire::{self, Datagram, DecodeError, Message, Ping};
use mio::net::UdpSocket;
use mio::{Interest, Token};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

const SOCKET: Token = Token(0);

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
}

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
}

/// Something the listener refused or could not do; shown only with `-v`.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A datagram with the magic that did not decode.
    Malformed {
        from: SocketAddr,
        error: &'a DecodeError,
    },
    /// A sealed datagram this listener has no key for.
    Sealed { from: SocketAddr },
    /// A reply (pong, answer, ack) could not be sent.
    ReplyFailed {
        to: SocketAddr,
        error: &'a io::Error,
    },
}

/// Where the listener puts what it receives: the output layer implements it.
pub trait Sink {
    /// Shows one event. An error (a closed stdout) stops the listener.
    fn event(&mut self, event: &Event<'_>) -> io::Result<()>;
    /// Reports a refused datagram (the default ignores it).
    fn notice(&mut self, _notice: &Notice<'_>) -> io::Result<()> {
        Ok(())
    }
    /// The socket is drained and the loop is about to sleep: flush.
    fn idle(&mut self) -> io::Result<()> {
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
    /// Sealed datagrams this listener could not open.
    pub sealed: u64,
    /// Pings answered.
    pub pings: u64,
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

/// A listener over one bound socket.
pub struct Listener {
    socket: UdpSocket,
    config: Config,
    stats: Stats,
    buf: Vec<u8>,
    reply: Vec<u8>,
    /// Bound to an IPv6 address: IPv4 peers are addressed as IPv4-mapped.
    ipv6_socket: bool,
}

impl Listener {
    /// Wraps a bound, non-blocking socket (see [`net::bind_listener`]).
    pub fn new(socket: UdpSocket, config: Config) -> Self {
        let ipv6_socket = socket.local_addr().is_ok_and(|a| a.is_ipv6());
        Listener {
            ipv6_socket,
            socket,
            config,
            stats: Stats::default(),
            buf: vec![0; wire::MAX_DATAGRAM + 1],
            reply: Vec::with_capacity(256),
        }
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Runs until a stop condition; returns why, and what was seen.
    pub fn run(&mut self, sink: &mut dyn Sink) -> io::Result<(Stop, Stats)> {
        let mut events = EventLoop::new(self.config.catch_signals)?;
        events
            .registry()
            .register(&mut self.socket, SOCKET, Interest::READABLE)?;
        let deadline = self.config.timeout.map(|t| Instant::now() + t);
        let stop = loop {
            if let Some(stop) = self.drain(sink)? {
                break stop;
            }
            if sink.idle().is_err() {
                break Stop::OutputClosed;
            }
            match events.wait(deadline)? {
                Wake::Ready(_) => {}
                Wake::Timeout => break Stop::Timeout,
                Wake::Signal(s) => break Stop::Signal(s),
            }
        };
        // A closed pipe at the final flush changes nothing: we are stopping.
        let _ = sink.idle();
        self.stats.kernel_drops = net::kernel_drops(&self.socket);
        Ok((stop, self.stats.clone()))
    }

    /// Reads until the socket would block; returns a stop reason if one came up.
    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<Option<Stop>> {
        if self.count_reached() {
            return Ok(Some(Stop::Count));
        }
        loop {
            let (len, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The ICMP echo of a reply we sent to a port that closed since.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let from = crate::addr::display_addr(from);
            if self.handle(len, from, sink).is_err() {
                return Ok(Some(Stop::OutputClosed));
            }
            if self.count_reached() {
                return Ok(Some(Stop::Count));
            }
        }
    }

    fn count_reached(&self) -> bool {
        self.config
            .count
            .is_some_and(|count| self.stats.shown() >= count)
    }

    /// Handles one datagram of `len` bytes in `self.buf`.
    fn handle(&mut self, len: usize, from: SocketAddr, sink: &mut dyn Sink) -> io::Result<()> {
        let at = SystemTime::now();
        let bytes = &self.buf[..len];
        if len > wire::MAX_DATAGRAM {
            // Cannot happen on UDP, but a truncated read must not pass as whole.
            self.stats.malformed += 1;
            return sink.notice(&Notice::Malformed {
                from,
                error: &DecodeError::TooLong,
            });
        }
        match wire::classify(bytes) {
            Ok(Datagram::Raw(bytes)) => {
                self.stats.raw += 1;
                sink.event(&Event::Raw { at, from, bytes })
            }
            Ok(Datagram::Sealed(_)) => {
                self.stats.sealed += 1;
                sink.notice(&Notice::Sealed { from })
            }
            Ok(Datagram::Message(Message::Text(text))) => {
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
            Ok(Datagram::Message(Message::Ping(ping))) => {
                self.stats.pings += 1;
                let pong = Message::Pong(Ping { ..ping });
                self.reply(&pong, from, sink)
            }
            // Kinds a listener does not act on (another listener's answers,
            // pongs, acks meant for a sender) are ignored.
            Ok(Datagram::Message(_)) => Ok(()),
            Err(error) => {
                self.stats.malformed += 1;
                sink.notice(&Notice::Malformed {
                    from,
                    error: &error,
                })
            }
        }
    }

    fn reply(
        &mut self,
        message: &Message<'_>,
        to: SocketAddr,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        self.reply.clear();
        if wire::encode(message, wire::MAX_DATAGRAM_V4, &mut self.reply).is_err() {
            return Ok(());
        }
        let to = to_socket_family(to, self.ipv6_socket);
        if let Err(error) = self.socket.send_to(&self.reply, to) {
            self.stats.reply_errors += 1;
            return sink.notice(&Notice::ReplyFailed { to, error: &error });
        }
        Ok(())
    }
}

/// An IPv4 peer of a dual-stack socket must be addressed as IPv4-mapped IPv6.
fn to_socket_family(to: SocketAddr, ipv6_socket: bool) -> SocketAddr {
    match to {
        SocketAddr::V4(v4) if ipv6_socket => {
            SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
        }
        _ => to,
    }
}
