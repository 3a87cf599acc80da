//! `udpmsg listen`: receive datagrams on bound sockets and hand each to the
//! [`handler`], which shows it and answers pings, discovery probes and
//! acknowledged messages.
//!
//! The listener owns already-bound sockets and runs until a stop condition
//! (count, deadline, signal, or the sink failing to take more output). It never
//! stops because of what a peer sent: malformed datagrams are counted and
//! skipped, and ICMP errors echoed onto the socket are ignored.
//!
//! - here: the receive loop ([`Listener`]): readiness, batches, stopping;
//! - [`handler`]: what one datagram does;
//! - [`sink`]: what the listener hands to its output;
//! - [`limit`]: the rate limits on answers, pongs and echoes;
//! - [`echo`]: `--echo`, raw datagrams sent back;
//! - [`announce`]: `--announce`, hellos and goodbyes.

pub mod announce;
pub mod echo;
pub mod handler;
pub mod limit;
pub mod sink;

pub use handler::{ANSWERS_PER_SOURCE, ANSWERS_TOTAL, truncate_name};
pub use sink::{Event, Notice, Sink, Stats};

use crate::event::{EventLoop, Wake, token};
use crate::net::{self, DatagramSocket, PeerAddr, RecvBatch};
use crate::seal::{Envelope, Incoming, Key, Opened, SealDest};
use crate::wire::{self, DecodeError};
use announce::Announcer;
use handler::{Handler, Origin};
use mio::Interest;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// At most this many sockets per listener (`listen` opens one or two).
pub const MAX_SOCKETS: usize = 64;

/// Full batches (as many datagrams as `recvmmsg` asked for) read from one
/// socket in a row before signals, timers, output and the other socket get
/// a turn: a flood cannot make Ctrl-C or `--timeout` wait.
const DRAIN_BUDGET: usize = 64;

/// The pause after a batch of several datagrams, but not a full one, before
/// reading again. A listener that keeps up with a fast sender otherwise
/// wakes for every two or three datagrams, and each wake (epoll_wait plus
/// recvmmsg) costs more than handling them; after the pause, a stream of
/// 250,000 datagrams/s comes in batches of 12 or more (the timer slack makes
/// the pause 50–100 µs). A lone datagram (ping, interactive messages,
/// discovery) is handled at once and never waits, and so is a batch that
/// holds [`net::RECV_BATCH`] datagrams or more in coalesced runs (UDP_GRO):
/// the kernel gathered them already, and a pause would only lengthen the
/// sender's round trip (a file transfer's window shrinks with it).
const GATHER: Duration = Duration::from_micros(50);

/// After a stop no signal asked for (`--count`, `--timeout`), a listener
/// that acknowledged something lately lingers, as TCP's TIME_WAIT does: a
/// sender whose last ack or file status was lost asks again (it resends
/// the message, or repeats the file record), and a listener already gone
/// would leave it with a closed port ("nothing is listening") although
/// its message was shown or its file stored. While lingering, only such
/// repeats are answered; nothing new is shown, stored or acknowledged.
/// It ends once no repeat came for this long since the last ack went
/// (longer than a sender's first retry: its retransmission timeout, at
/// most 250 ms plus jitter, or the 50 ms before a file sender asks for
/// its status again)...
pub const LINGER_QUIET: Duration = Duration::from_millis(400);
/// ...or for three times the gap between a sender's last two repeats (a
/// sender that keeps missing the answer waits twice as long each time),
/// and at the latest this long after the stop.
pub const LINGER_MAX: Duration = Duration::from_secs(3);

/// Default for [`Config::gap_wait`]: longer than a sender's default
/// patience, so a gap is only given up once its sender has stopped retrying.
pub const DEFAULT_GAP_WAIT: Duration = Duration::from_secs(6);

/// How a listener behaves and when it stops.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name given in discovery answers.
    pub name: String,
    /// Stop after this many datagrams were shown (raw included).
    pub count: Option<u64>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// Stop cleanly on SIGINT/SIGTERM/SIGHUP (off in tests that drive the loop).
    pub catch_signals: bool,
    /// Shared key: only sealed datagrams are accepted and replies are sealed.
    pub key: Option<Key>,
    /// How long an acknowledged message waits for a missing earlier one.
    pub gap_wait: Duration,
    /// Send every raw datagram back to its source (`--echo`; see [`echo`]).
    pub echo: bool,
    /// Where files go and what is taken (no directory: files are refused).
    pub files: crate::commands::files::receive::Config,
}

/// Why the listener stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `--count` datagrams were shown.
    Count,
    /// `--timeout` passed.
    Timeout,
    /// SIGINT, SIGTERM or SIGHUP (the signal number).
    Signal(i32),
    /// The output was closed (a pipe whose reader left: `| head`).
    OutputClosed,
    /// Writing the output failed otherwise (a full disk, an I/O error):
    /// [`Ended::output_error`] says why.
    OutputFailed,
}

/// How a listener run ended.
#[derive(Debug)]
pub struct Ended {
    /// Why it stopped.
    pub stop: Stop,
    /// What it saw.
    pub stats: Stats,
    /// The first output error that was not a closed pipe: the reason for
    /// [`Stop::OutputFailed`], or the final flush failing after another
    /// stop (`--count` reached, and the last lines could not be written).
    pub output_error: Option<io::Error>,
}

/// True when an output error means the reader went away (`| head`): a quiet
/// end, not a failure.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// How reading one socket ended.
enum Drained {
    /// The queue is empty.
    Empty,
    /// The budget ran out, or a pause let more gather: more may wait.
    Budget,
    /// A stop condition came up.
    Stop(Stop),
}

/// A listener over its bound sockets (one, or one per address family; or
/// one Unix-domain socket).
pub struct Listener {
    /// Socket `i` is registered as `Token(i)`.
    sockets: Vec<DatagramSocket>,
    /// The address each socket is bound to.
    locals: Vec<PeerAddr>,
    /// What sealed datagrams to each socket are bound to when the arrival
    /// information has no address (a Unix socket: always; its path resolved).
    bound: Vec<SealDest>,
    count: Option<u64>,
    timeout: Option<Duration>,
    batch: RecvBatch,
    incoming: Incoming,
    handler: Handler,
    /// Set when output fails (not a closed pipe); taken by [`Self::run`].
    output_error: Option<io::Error>,
    /// Made (signal handlers installed, sockets registered) with the
    /// listener, so SIGINT/SIGTERM/SIGHUP are caught from the moment `listen`
    /// says it is listening.
    events: EventLoop,
    /// `--announce`: hellos while running, goodbyes when stopping.
    announcer: Option<Announcer>,
    /// Stopped, and lingering for repeats (see [`LINGER_QUIET`]): the
    /// stop conditions are behind.
    lingering: bool,
}

impl Listener {
    /// Wraps bound, non-blocking sockets (see [`net::bind_listeners`]),
    /// all on one port, at most [`MAX_SOCKETS`] of them, or one Unix-domain
    /// socket ([`net::unix::bind_listener`]); with `config.catch_signals`,
    /// SIGINT, SIGTERM and SIGHUP are caught from now on.
    pub fn new(sockets: Vec<impl Into<DatagramSocket>>, config: Config) -> io::Result<Self> {
        let mut sockets: Vec<DatagramSocket> = sockets.into_iter().map(Into::into).collect();
        if sockets.len() > MAX_SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a listener takes at most {MAX_SOCKETS} sockets"),
            ));
        }
        let events = EventLoop::new(config.catch_signals)?;
        crate::event::precise_timers();
        for socket in &sockets {
            // Runs of one sender's datagrams may then come as one buffer
            // (a file's chunks: one system call per 64 KiB, not per
            // chunk), split again in `drain_socket`. Best effort: before
            // Linux 5.0 (and on a Unix socket) each datagram comes on its
            // own, as always.
            let _ = net::gso::enable_gro(socket);
        }
        for (i, socket) in sockets.iter_mut().enumerate() {
            events
                .registry()
                .register(socket, token(i), Interest::READABLE)?;
        }
        let locals = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let bound = locals.iter().map(SealDest::from).collect();
        // A Unix socket has no port (0: no UDP source uses it).
        let port = locals
            .first()
            .and_then(PeerAddr::inet)
            .map_or(0, |a| a.port());
        let envelope = Envelope::for_listener(config.key.as_ref(), SystemTime::now());
        Ok(Listener {
            sockets,
            locals,
            bound,
            count: config.count,
            timeout: config.timeout,
            // One byte more than any datagram, so an oversized read shows.
            batch: RecvBatch::new(net::RECV_BATCH, wire::MAX_DATAGRAM + 1),
            incoming: envelope.incoming,
            handler: Handler::new(
                config.name,
                port,
                envelope.outgoing,
                config.gap_wait,
                config.echo,
                config.files,
            ),
            output_error: None,
            events,
            announcer: None,
            lingering: false,
        })
    }

    /// Announces this listener from now on (`listen --announce`): hellos
    /// while it runs, goodbyes when it stops, whatever stops it.
    pub fn announce(&mut self, config: &announce::Config) -> io::Result<()> {
        let port = self
            .locals
            .first()
            .and_then(PeerAddr::inet)
            .map_or(0, |a| a.port());
        self.announcer = Some(Announcer::new(config, self.handler.instance(), port)?);
        Ok(())
    }

    /// The addresses the sockets are bound to.
    pub fn local_addrs(&self) -> Vec<PeerAddr> {
        self.locals.clone()
    }

    /// Runs until a stop condition; returns why, what was seen, and how
    /// output failed if it did. An `Err` is a receive or event-loop error.
    pub fn run(&mut self, sink: &mut dyn Sink) -> io::Result<Ended> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
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
            if let Err(e) = self.handler.release_gaps(Instant::now(), false, sink) {
                break output_stop(&mut self.output_error, e);
            }
            if self.count_reached() {
                break Stop::Count;
            }
            if let Some(announcer) = self.announcer.as_mut()
                && let Err(e) = announcer.tick(Instant::now(), sink)
            {
                break output_stop(&mut self.output_error, e);
            }
            let flush_at = match sink.idle(Instant::now()) {
                Ok(at) => at,
                Err(e) => break output_stop(&mut self.output_error, e),
            };
            let wake = if unread == 0 {
                let announce_at = self.announcer.as_ref().map(Announcer::next_deadline);
                let wake_at = [
                    deadline,
                    self.handler.next_deadline(),
                    flush_at,
                    announce_at,
                ]
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
        // Leaving, however it stops: watchers need not wait for the hellos
        // to expire. (Only -v notices can fail here, and they are moot now.)
        if let Some(announcer) = self.announcer.as_mut() {
            let _ = announcer.goodbye(sink);
        }
        let output_ok = !matches!(stop, Stop::OutputClosed | Stop::OutputFailed);
        // Transfers still running end here: partial files go, senders are told.
        if let Err(e) = self.handler.stop_files(&self.sockets, sink) {
            output_stop(&mut self.output_error, e);
        }
        // Messages held for a gap were accepted (acknowledged): show them
        // before stopping, unless output is what failed.
        if output_ok && stop != Stop::Count {
            let released = self.handler.release_gaps(Instant::now(), true, sink);
            if let Err(e) = released.and_then(|()| sink.finish()) {
                output_stop(&mut self.output_error, e);
            }
        } else if output_ok && let Err(e) = sink.finish() {
            // The last lines, written out at the end, count as much as the
            // first: a full disk here is reported too. (A closed pipe at
            // this point changes nothing: we are stopping.)
            output_stop(&mut self.output_error, e);
        }
        if matches!(stop, Stop::Count | Stop::Timeout) && self.output_error.is_none() {
            self.linger(sink)?;
        }
        let mut stats = self.handler.stats.clone();
        stats.kernel_drops = self
            .sockets
            .iter()
            .map(|socket| match socket {
                // A full Unix-domain queue makes the sender wait: nothing
                // is dropped.
                DatagramSocket::Unix(_) => Some(0),
                DatagramSocket::Udp(_) => net::kernel_drops(socket),
            })
            .try_fold(0, |sum, d| d.map(|d| sum + d));
        Ok(Ended {
            stop,
            stats,
            output_error: self.output_error.take(),
        })
    }

    /// After a stop no signal asked for: answers repeats of what was
    /// acknowledged, and takes nothing new, until none came for a while
    /// (see [`LINGER_QUIET`]), [`LINGER_MAX`] passed, or a signal came.
    /// Returns at once when nothing was acknowledged lately.
    fn linger(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        let Some(last_ack) = self.handler.last_ack() else {
            return Ok(());
        };
        let start = Instant::now();
        let latest = start + LINGER_MAX;
        let mut quiet_until = last_ack + LINGER_QUIET;
        if quiet_until <= start {
            return Ok(());
        }
        self.handler.close();
        self.lingering = true;
        // When each sender's latest repeat came (its first one: since the
        // last ack went).
        let mut heard: HashMap<u64, Instant> = HashMap::new();
        let all = match self.sockets.len() {
            0 => 0,
            n => u64::MAX >> (64 - n),
        };
        let mut unread = all;
        loop {
            if let Some(_stop) = self.drain(&mut unread, sink)? {
                // Output failed (kept in `output_error`): nothing to wait for.
                return Ok(());
            }
            let now = Instant::now();
            for sender in self.handler.take_repeats() {
                let previous = heard.insert(sender, now).unwrap_or(last_ack);
                let gap = now.saturating_duration_since(previous);
                quiet_until = quiet_until.max(now + LINGER_QUIET.max(gap * 3));
            }
            let end = quiet_until.min(latest);
            if now >= end {
                return Ok(());
            }
            let wake = if unread == 0 {
                self.events.wait(Some(end))?
            } else {
                self.events.poll_now()?
            };
            match wake {
                Wake::Ready(ready) => unread |= ready & all,
                Wake::Timeout => {}
                Wake::Signal(_) => return Ok(()),
            }
        }
    }

    /// Reads each socket marked in `unread` until it would block, and
    /// unmarks it; returns a stop reason if one came up.
    fn drain(&mut self, unread: &mut u64, sink: &mut dyn Sink) -> io::Result<Option<Stop>> {
        if self.count_reached() {
            return Ok(Some(Stop::Count));
        }
        for via in 0..self.sockets.len() {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            match self.drain_socket(via, sink)? {
                Drained::Empty => *unread &= !bit,
                Drained::Budget => {}
                Drained::Stop(stop) => return Ok(Some(stop)),
            }
        }
        Ok(None)
    }

    /// Reads socket `via` until it is empty, a stop condition comes up, or
    /// [`DRAIN_BUDGET`] batches were read.
    fn drain_socket(&mut self, via: usize, sink: &mut dyn Sink) -> io::Result<Drained> {
        let socket = &self.sockets[via];
        for _ in 0..DRAIN_BUDGET {
            let asked = self.batch.asked();
            let count = match self.batch.recv(socket) {
                Ok(count) => count,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drained::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The ICMP echo of a reply we sent to a port that closed since.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            // One clock read per batch: its datagrams arrived together.
            let at = SystemTime::now();
            let mut datagrams = 0;
            for i in 0..count {
                let Some(received) = self.batch.get(i) else {
                    continue;
                };
                let origin = Origin {
                    at,
                    from: &received.arrival.from,
                    cred: received.arrival.cred,
                    local: received.arrival.local,
                    socket,
                    via,
                };
                let dest = match (received.arrival.local, &self.locals[via]) {
                    (Some(l), PeerAddr::Inet(bound)) => {
                        Dest::Arrival(SocketAddr::new(l.dest, bound.port()))
                    }
                    _ => Dest::Bound(self.bound[via]),
                };
                // Usually one datagram; a run of them when the kernel
                // coalesced a sender's datagrams (UDP_GRO).
                for (bytes, cut) in received.datagrams() {
                    datagrams += 1;
                    let handled = if cut || bytes.len() > wire::MAX_DATAGRAM {
                        // Cannot happen on UDP (a Unix datagram can be larger),
                        // but a cut read must not pass as whole.
                        let why = crate::seal::Refusal::Malformed(DecodeError::TooLong);
                        self.handler.refused(&why, origin.from, sink)
                    } else {
                        let overhead = self.incoming.overhead();
                        match self.incoming.open(bytes, at, dest) {
                            Ok(Opened::Raw(bytes)) => self.handler.raw(bytes, origin, sink),
                            Ok(Opened::Message(message)) => {
                                let open_len = bytes.len() - overhead;
                                self.handler.message(message, open_len, origin, sink)
                            }
                            Err(why) => self.handler.refused(&why, origin.from, sink),
                        }
                    };
                    if let Err(e) = handled {
                        return Ok(Drained::Stop(output_stop(&mut self.output_error, e)));
                    }
                    if self.count_reached() {
                        let stop = acknowledge(
                            &mut self.handler,
                            &self.sockets,
                            sink,
                            &mut self.output_error,
                        )
                        .err();
                        return Ok(Drained::Stop(stop.unwrap_or(Stop::Count)));
                    }
                }
                // A coalesced run is up to 64 KiB of one sender's stream:
                // acknowledged on its own, as TCP acks each coalesced
                // segment. One ack for a whole batch of them could stand
                // for a sender's whole window, and its loss would leave
                // the sender nothing to go on but its timer.
                if received.segment.is_some()
                    && let Err(stop) = acknowledge(
                        &mut self.handler,
                        &self.sockets,
                        sink,
                        &mut self.output_error,
                    )
                {
                    return Ok(Drained::Stop(stop));
                }
            }
            if let Err(stop) = acknowledge(
                &mut self.handler,
                &self.sockets,
                sink,
                &mut self.output_error,
            ) {
                return Ok(Drained::Stop(stop));
            }
            if count < 2 {
                // A short batch means the queue was empty: new datagrams
                // will raise a new readiness event.
                return Ok(Drained::Empty);
            }
            if count < asked {
                // Several arrived while the last batch was handled: a
                // stream. Let the next ones gather rather than wake for
                // every two (unless the kernel gathered them), then give
                // signals, timers and output a turn.
                if datagrams < net::RECV_BATCH {
                    std::thread::sleep(GATHER);
                }
                return Ok(Drained::Budget);
            }
        }
        Ok(Drained::Budget)
    }

    fn count_reached(&self) -> bool {
        !self.lingering
            && self
                .count
                .is_some_and(|count| self.handler.stats.shown() >= count)
    }
}

/// Where a datagram was sent to, for opening it when sealed: converted
/// only then.
#[derive(Clone, Copy)]
enum Dest {
    /// The address the arrival information gave, with the bound port.
    Arrival(SocketAddr),
    /// What the socket's own address binds to.
    Bound(SealDest),
}

impl From<Dest> for SealDest {
    fn from(dest: Dest) -> SealDest {
        match dest {
            Dest::Arrival(addr) => SealDest::from(addr),
            Dest::Bound(dest) => dest,
        }
    }
}

/// Flushes the output and then sends the acknowledgements owed, so that
/// every message they confirm was written. A failed flush sends none and
/// stops the listener (the error kept in `kept`, as [`output_stop`] does).
fn acknowledge(
    handler: &mut Handler,
    sockets: &[DatagramSocket],
    sink: &mut dyn Sink,
    kept: &mut Option<io::Error>,
) -> Result<(), Stop> {
    if !handler.acks_owed() {
        return Ok(());
    }
    sink.flush().map_err(|e| output_stop(kept, e))?;
    handler
        .send_acks(sockets, sink)
        .map_err(|e| output_stop(kept, e))
}

/// The stop for an output error: a closed pipe ends quietly; any other
/// error is kept in `kept` (the first one only) to be reported.
fn output_stop(kept: &mut Option<io::Error>, e: io::Error) -> Stop {
    if is_closed_pipe(&e) {
        return Stop::OutputClosed;
    }
    kept.get_or_insert(e);
    Stop::OutputFailed
}
