//! `udpmsg listen`: receive datagrams on bound sockets and hand each to the
//! [`handler`], which shows it and answers pings, discovery probes and
//! acknowledged messages.
//!
//! The listener owns already-bound sockets and runs until a stop condition
//! (count, deadline, signal, or the sink failing to take more output). It never
//! stops because of what a peer sent: malformed datagrams are counted and
//! skipped, and ICMP errors echoed onto the socket are ignored.
//!
//! - here: the receive loop ([`Listener`]): readiness, stopping;
//! - `drain`: reading the sockets in batches, acks after each flush;
//! - `linger`: after a stop, repeats answered for a while (TIME_WAIT);
//! - [`handler`]: what one datagram does;
//! - [`sink`]: what the listener hands to its output;
//! - [`limit`]: the rate limits on answers, pongs and echoes;
//! - [`echo`]: `--echo`, raw datagrams sent back;
//! - [`announce`]: `--announce`, hellos and goodbyes;
//! - [`memberships`]: multicast groups joined on interfaces that come up.

pub mod announce;
mod drain;
pub mod echo;
pub mod handler;
pub mod limit;
mod linger;
pub mod memberships;
pub mod sink;

pub use handler::{ANSWERS_PER_SOURCE, ANSWERS_TOTAL, truncate_name};
pub use linger::{LINGER_MAX, LINGER_QUIET};
pub use sink::{Event, Notice, Sink, Stats};

use crate::event::{EventLoop, Wake, token};
use crate::net::{self, DatagramSocket, PeerAddr, RecvBatch};
use crate::seal::{Envelope, Incoming, Key, SealDest};
use crate::wire;
use announce::Announcer;
use handler::Handler;
use memberships::{Memberships, Over};
use mio::Interest;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// At most this many sockets per listener (`listen` opens one or two).
pub const MAX_SOCKETS: usize = 64;

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
    /// Multicast groups kept joined on interfaces that come up.
    memberships: Option<Memberships>,
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
            memberships: None,
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

    /// Keeps `groups` joined from now on, with the wildcard socket of
    /// each group's family, on the interfaces each belongs on: also on
    /// those that come up while the listener runs (the interfaces are
    /// read every [`crate::commands::presence::IFACE_POLL`]).
    pub fn keep_joined(&mut self, groups: Vec<(IpAddr, Over)>) {
        if !groups.is_empty() {
            self.memberships = Some(Memberships::new(groups, Instant::now()));
        }
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
        let all = self.all_sockets();
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
            if let Some(memberships) = self.memberships.as_mut()
                && let Err(e) = memberships.tick(Instant::now(), &self.sockets, &self.locals, sink)
            {
                break output_stop(&mut self.output_error, e);
            }
            let flush_at = match sink.idle(Instant::now()) {
                Ok(at) => at,
                Err(e) => break output_stop(&mut self.output_error, e),
            };
            let wake = if unread == 0 {
                let announce_at = self.announcer.as_ref().map(Announcer::next_deadline);
                let poll_at = self.memberships.as_ref().map(Memberships::next_deadline);
                let wake_at = [
                    deadline,
                    self.handler.next_deadline(),
                    flush_at,
                    announce_at,
                    poll_at,
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

    /// Bit i set for every socket i (the mask of `unread`).
    fn all_sockets(&self) -> u64 {
        match self.sockets.len() {
            0 => 0,
            n => u64::MAX >> (64 - n),
        }
    }

    fn count_reached(&self) -> bool {
        !self.lingering
            && self
                .count
                .is_some_and(|count| self.handler.stats.shown() >= count)
    }
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
