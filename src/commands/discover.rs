//! `udpmsg discover`: probe every interface's broadcast address (and the IPv6
//! link-local discovery group) and collect who answers, once per listener;
//! listeners that announce themselves (`listen --announce`) are listed too
//! when their hello is heard during the scan (and dropped on their goodbye).
//!
//! Without a key anyone who sees a probe can answer it, so everything a
//! scan keeps is bounded whatever arrives: names longer than a listener may
//! send are refused, each peer keeps at most [`MAX_ADDRS`] addresses, the
//! list at most [`MAX_PEERS`] peers. The order of preference is arrival:
//! a peer once listed is never pushed out, so listeners that answered before
//! a flood of forged answers stay listed (with a key only sealed answers
//! count, so only key holders can take a place).
//!
//! - here: what a scan is given and returns, and its sockets ([`Scanner`]);
//! - `rounds`: when probe rounds go out, and sending them;
//! - `answers`: reading and checking answers, hellos and goodbyes, and
//!   the bounded list of peers heard.

mod answers;
mod rounds;

pub use answers::hello_refused;
pub use rounds::{MAX_ROUND_GAP, ROUNDS, STEADY_EVERY, STEADY_UNTIL, round_at};

use crate::commands::presence::{self, Ears, presence_port};
use crate::event::{EventLoop, Wake, token};
use crate::net;
use crate::net::addr::Family;
use crate::net::iface::{self, Target};
use crate::seal::{Envelope, Key};
use crate::util::rng::random_id;
use crate::wire;
use answers::Found;
use mio::net::UdpSocket;
use mio::{Interest, Token};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

const V4: Token = token(0);
const V6: Token = token(1);
/// The presence port's sockets (hellos and goodbyes).
const HEAR_V4: Token = token(2);
const HEAR_V6: Token = token(3);

/// Default time to collect answers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Peers remembered at most; answers from further ones are counted, not
/// listed.
pub const MAX_PEERS: usize = 4096;
/// Addresses remembered per peer (a host rarely has more than a few;
/// answers from further ones still count for the peer).
pub const MAX_ADDRS: usize = 16;

/// The largest answer a listener can send: header, tag, instance, token,
/// port, version, name length and a name of [`wire::MAX_NAME`] bytes.
pub const MAX_ANSWER: usize = wire::ANSWER_OVERHEAD + wire::MAX_NAME;

/// What to probe and for how long.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub timeout: Duration,
    /// Stop as soon as this many distinct peers answered.
    pub expect: Option<usize>,
    /// Only these interfaces (`lo` uses 127.255.255.255); empty: all.
    pub interfaces: Vec<String>,
    /// Shared key: probes are sealed and only sealed answers count.
    pub key: Option<Key>,
    /// Probe only IPv4 broadcast addresses (`-4`), only the IPv6 group
    /// (`-6`), or both.
    pub family: Family,
}

/// One listener that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub instance: u64,
    pub name: String,
    /// Every `ip:port` it answered from, in the order heard (at most
    /// [`MAX_ADDRS`]).
    pub addrs: Vec<SocketAddr>,
    /// Time from the probe round to its first answer; none for a peer
    /// only heard announcing itself.
    pub rtt: Option<Duration>,
    /// Interfaces its answers arrived on, in the order heard.
    pub interfaces: Vec<String>,
    pub version: u8,
}

/// Something that happened during a scan, for `-v`.
#[derive(Debug)]
pub enum Trace<'a> {
    /// A probe went out.
    Sent { interface: &'a str, to: SocketAddr },
    /// A probe could not be sent.
    SendFailed {
        interface: &'a str,
        to: SocketAddr,
        error: &'a io::Error,
    },
    /// An answer arrived.
    Heard {
        from: SocketAddr,
        name: &'a str,
        interface: &'a str,
        rtt: Duration,
    },
    /// A hello arrived (a listener announcing itself); `from` is the
    /// listener's address (the source address, the announced port).
    Hello {
        from: SocketAddr,
        name: &'a str,
        interface: &'a str,
    },
    /// An answer to this scan, or a hello, was refused: it breaks the
    /// protocol, or is not for this port.
    Refused { from: SocketAddr, why: &'static str },
}

/// The outcome of a scan.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Peers, sorted by name then first address.
    pub peers: Vec<Peer>,
    /// The interfaces probed.
    pub probed: Vec<Target>,
    /// Answers from peers not listed because [`MAX_PEERS`] already were.
    pub overflow: u64,
    /// Answers whose address was not listed because their peer already had
    /// [`MAX_ADDRS`].
    pub addrs_overflow: u64,
}

/// Runs one scan.
pub fn discover(config: &Config, trace: &mut dyn FnMut(&Trace<'_>)) -> io::Result<Scan> {
    let mut scanner = Scanner::new(config)?;
    scanner.collect(None, trace, &mut |_| false)?;
    Ok(scanner.into_scan())
}

/// Why [`Scanner::collect`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collected {
    /// The time given (or the scan's timeout) passed.
    Deadline,
    /// `--expect` listeners answered.
    Expected,
    /// The caller's test said stop for a newly heard listener.
    Stopped,
}

/// One scan in progress: its sockets, the probe rounds sent, the peers
/// heard. [`discover`] runs one to its end; a caller looking for one
/// listener ([`super::resolve`]) stops it as soon as that one answers.
pub struct Scanner<'c> {
    config: &'c Config,
    targets: Vec<Target>,
    envelope: Envelope,
    v4: UdpSocket,
    v6: Option<UdpSocket>,
    /// The presence port, shared with watchers: hellos and goodbyes.
    ears: Ears,
    events: EventLoop,
    instance: u64,
    /// Tokens carry random high bits (to match answers to this scan) and
    /// the round number in the low byte (to time each answer).
    token_base: u64,
    start: Instant,
    deadline: Instant,
    /// When each round went out.
    sent_at: Vec<Instant>,
    found: Found,
    /// Interface names by index, looked up once each.
    interface_names: HashMap<u32, String>,
    buf: Vec<u8>,
}

impl<'c> Scanner<'c> {
    /// Opens the sockets of a scan (no probe is sent yet); its timeout
    /// starts now.
    pub fn new(config: &'c Config) -> io::Result<Self> {
        let targets = presence::targets(&config.interfaces, config.family)?;
        let mut v4 = bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))?;
        let mut v6 = if targets.iter().any(|t| t.ipv6) {
            bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)).ok()
        } else {
            None
        };
        let events = EventLoop::new(false)?;
        events
            .registry()
            .register(&mut v4, V4, Interest::READABLE)?;
        if let Some(v6) = v6.as_mut() {
            events.registry().register(v6, V6, Interest::READABLE)?;
        }
        // Best effort: without it, announcing listeners are still found
        // by their answers.
        let (mut ears, _) = match presence_port(config.port) {
            Some(port) => Ears::bind(port),
            None => (Ears::none(), Vec::new()),
        };
        match config.family {
            Family::Any => {}
            Family::V4 => ears.v6 = None,
            Family::V6 => ears.v4 = None,
        }
        let _ = ears.join(&iface::ipv6_interfaces().unwrap_or_default());
        if let Some(s) = ears.v4.as_mut() {
            events.registry().register(s, HEAR_V4, Interest::READABLE)?;
        }
        if let Some(s) = ears.v6.as_mut() {
            events.registry().register(s, HEAR_V6, Interest::READABLE)?;
        }
        let start = Instant::now();
        Ok(Scanner {
            config,
            targets,
            envelope: Envelope::new(config.key.as_ref()),
            v4,
            v6,
            ears,
            events,
            instance: random_id(),
            token_base: random_id() & !0xff,
            start,
            deadline: start + config.timeout,
            sent_at: Vec::new(),
            found: Found::default(),
            interface_names: HashMap::new(),
            buf: vec![0u8; wire::MAX_DATAGRAM + 1],
        })
    }

    /// Probes and collects answers until `until` (at most the scan's own
    /// deadline; `None`: that deadline), until `--expect` listeners
    /// answered, or until `stop` returns true for a listener heard for the
    /// first time. May be called again to go on where it stopped.
    pub fn collect(
        &mut self,
        until: Option<Instant>,
        trace: &mut dyn FnMut(&Trace<'_>),
        stop: &mut dyn FnMut(&Peer) -> bool,
    ) -> io::Result<Collected> {
        let deadline = until.map_or(self.deadline, |u| u.min(self.deadline));
        loop {
            let now = Instant::now();
            if self.next_round().is_some_and(|t| t <= now) {
                self.send_round(now, trace);
                continue;
            }
            if now >= deadline {
                return Ok(Collected::Deadline);
            }
            if self
                .config
                .expect
                .is_some_and(|n| self.found.peers.len() >= n)
            {
                return Ok(Collected::Expected);
            }
            let wake_at = self.next_round().map_or(deadline, |t| t.min(deadline));
            // The loop catches no signals: a signal ends the process.
            if let Wake::Signal(_) = self.events.wait(Some(wake_at))? {
                return Ok(Collected::Deadline);
            }
            if self.read_answers(trace, stop)? {
                return Ok(Collected::Stopped);
            }
        }
    }

    /// The scan's outcome so far: every listener heard.
    pub fn into_scan(self) -> Scan {
        let Found {
            peers,
            overflow,
            addrs_overflow,
        } = self.found;
        let mut peers: Vec<Peer> = peers.into_values().map(|(peer, _)| peer).collect();
        peers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.addrs.cmp(&b.addrs)));
        Scan {
            peers,
            probed: self.targets,
            overflow,
            addrs_overflow,
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = net::bind(
        addr,
        net::BindOptions {
            reuse_addr: false,
            recv_buffer: 1 << 20,
            broadcast: addr.is_ipv4(),
            ..net::BindOptions::default()
        },
    )?;
    // Without arrival information answers still count; only the
    // interface column stays empty.
    let _ = net::enable_pktinfo(&socket, addr.is_ipv6());
    Ok(socket)
}
