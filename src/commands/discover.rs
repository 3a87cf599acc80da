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

use crate::commands::presence::{self, Ears, presence_port, send_everywhere};
use crate::event::{EventLoop, Wake, token};
use crate::net::addr::Family;
use crate::net::iface::{self, Target};
use crate::net::{self, Local};
use crate::seal::{Envelope, Key, Opened};
use crate::util::rng::random_id;
use crate::wire::{self, Answer, Hello, Message, Probe};
use mio::net::UdpSocket;
use mio::{Interest, Token};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

const V4: Token = token(0);
const V6: Token = token(1);
/// The presence port's sockets (hellos and goodbyes).
const HEAR_V4: Token = token(2);
const HEAR_V6: Token = token(3);

/// When each probe round goes out, from the start: repeats survive loss.
pub const ROUNDS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(500),
];
/// After [`ROUNDS`], a longer scan keeps probing (for listeners whose
/// probe or answer was lost): every this long until [`STEADY_UNTIL`]...
pub const STEADY_EVERY: Duration = Duration::from_millis(100);
/// ...and from then on at doubling gaps, at most [`MAX_ROUND_GAP`] apart.
pub const STEADY_UNTIL: Duration = Duration::from_secs(3);
/// The longest gap between two probe rounds.
pub const MAX_ROUND_GAP: Duration = Duration::from_secs(5);

/// When probe round `round` goes out, from the start of the scan: the
/// fixed [`ROUNDS`], then every [`STEADY_EVERY`] until [`STEADY_UNTIL`],
/// then backing off. At 30% loss each way a listener is heard in a round
/// about half the time, so a 3 s scan gets 27 chances at each.
pub fn round_at(round: usize) -> Duration {
    if let Some(&at) = ROUNDS.get(round) {
        return at;
    }
    let last_fixed = ROUNDS[ROUNDS.len() - 1];
    let steady = (round - ROUNDS.len() + 1) as u32;
    let at = last_fixed + STEADY_EVERY * steady;
    if at <= STEADY_UNTIL {
        return at;
    }
    // Past the steady phase: gaps double from STEADY_EVERY.
    let steady_rounds = ((STEADY_UNTIL - last_fixed).as_millis() / STEADY_EVERY.as_millis()) as u32;
    let mut at = last_fixed + STEADY_EVERY * steady_rounds;
    let mut gap = STEADY_EVERY;
    for _ in steady_rounds..steady {
        gap = (gap * 2).min(MAX_ROUND_GAP);
        at += gap;
    }
    at
}
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

    /// When the next probe round is due, if one is left before the deadline.
    fn next_round(&self) -> Option<Instant> {
        Some(self.start + round_at(self.sent_at.len())).filter(|t| *t < self.deadline)
    }

    /// Sends one probe to every target (see [`send_everywhere`]).
    fn send_round(&mut self, now: Instant, trace: &mut dyn FnMut(&Trace<'_>)) {
        let pad = [0u8; MAX_ANSWER];
        let mut probe = Vec::with_capacity(MAX_ANSWER);
        let message = Message::Probe(Probe {
            instance: self.instance,
            token: self.token_base | self.sent_at.len() as u64,
            pad: &pad[..MAX_ANSWER - wire::PROBE_OVERHEAD],
        });
        let _ = wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut probe);
        self.sent_at.push(now);
        // The port, and its presence port: chat members that share their
        // host with another one answer there (PROTOCOL.md 7, Chat).
        for port in [Some(self.config.port), presence_port(self.config.port)]
            .into_iter()
            .flatten()
        {
            send_everywhere(
                Some(&self.v4),
                self.v6.as_ref(),
                &self.targets,
                port,
                &probe,
                &mut self.envelope.outgoing,
                &mut |target, to, sent| report(sent, &target.interface, to, trace),
            );
        }
    }

    /// Reads answers from the probe sockets, and hellos and goodbyes from
    /// the presence sockets, until they would block; true when `stop` said
    /// so for a listener heard for the first time.
    fn read_answers(
        &mut self,
        trace: &mut dyn FnMut(&Trace<'_>),
        stop: &mut dyn FnMut(&Peer) -> bool,
    ) -> io::Result<bool> {
        let mut stopped = false;
        for which in 0..4 {
            let presence = which >= 2;
            loop {
                let socket = match which {
                    0 => Some(&self.v4),
                    1 => self.v6.as_ref(),
                    2 => self.ears.v4.as_ref(),
                    _ => self.ears.v6.as_ref(),
                };
                let Some(socket) = socket else {
                    break;
                };
                let bound = socket.local_addr()?;
                let received = net::nonblocking(|| net::recv_with_local(socket, &mut self.buf));
                let (len, arrival) = match received {
                    Ok(Some(got)) => got,
                    Ok(None) => break,
                    // ICMP errors from a probe (unreachable): nothing to read.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    // The presence port is a bonus: its errors end no scan.
                    Err(_) if presence => break,
                    Err(e) => return Err(e),
                };
                let now = std::time::SystemTime::now();
                // Sealed datagrams are bound to the address they were sent to.
                let dest = arrival
                    .local
                    .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
                // Its sockets are UDP: every sender has an IP address.
                let Some(from) = arrival.from.inet().map(net::addr::unmapped) else {
                    continue;
                };
                let ifindex = arrival.local.map_or(0, |l: Local| l.ifindex);
                let interface = match ifindex {
                    0 => "",
                    i => self
                        .interface_names
                        .entry(i)
                        .or_insert_with(|| iface::interface_name(i))
                        .as_str(),
                };
                let opened = self.envelope.incoming.open(&self.buf[..len], now, dest);
                match opened {
                    Ok(Opened::Message(Message::Answer(answer))) if !presence => {
                        let Some(rtt) = answer_rtt(&answer, self.token_base, &self.sent_at) else {
                            continue;
                        };
                        // A listener on the presence port itself is not one
                        // of the port's (it answered a probe sent there for
                        // chat members).
                        if Some(from.port()) == presence_port(self.config.port) {
                            continue;
                        }
                        if answer.name.len() > wire::MAX_NAME {
                            // A listener answers with at most MAX_NAME bytes; a
                            // longer name only costs memory and screen.
                            trace(&Trace::Refused {
                                from,
                                why: "answer with a name longer than 255 bytes",
                            });
                            continue;
                        }
                        trace(&Trace::Heard {
                            from,
                            name: answer.name,
                            interface,
                            rtt,
                        });
                        let peer = (answer.instance, answer.name, answer.version);
                        if let Some(new) = self.found.record(peer, from, interface, Some(rtt)) {
                            stopped |= stop(new);
                        }
                    }
                    Ok(Opened::Message(Message::Hello(hello))) if presence => {
                        if let Some(why) = hello_refused(&hello) {
                            trace(&Trace::Refused { from, why });
                            continue;
                        }
                        // Heard at its source address, on the port it announces.
                        let mut addr = from;
                        addr.set_port(hello.port);
                        trace(&Trace::Hello {
                            from: addr,
                            name: hello.name,
                            interface,
                        });
                        let peer = (hello.instance, hello.name, hello.version);
                        if let Some(new) = self.found.record(peer, addr, interface, None) {
                            stopped |= stop(new);
                        }
                    }
                    Ok(Opened::Message(Message::Goodbye(goodbye))) if presence => {
                        self.found.peers.remove(&goodbye.instance);
                    }
                    _ => {}
                }
            }
        }
        Ok(stopped)
    }
}

/// The round-trip time of an answer to this scan (its token's high bits
/// are the scan's, its low byte a round that was sent), or `None`.
fn answer_rtt(answer: &Answer<'_>, token_base: u64, sent_at: &[Instant]) -> Option<Duration> {
    if answer.token & !0xff != token_base {
        return None;
    }
    let round_at = sent_at.get((answer.token & 0xff) as usize)?;
    Some(Instant::now().saturating_duration_since(*round_at))
}

/// Why a hello is not taken (no port, or longer than any listener
/// sends), if it is not. Its `port` need not be the one watched: a hello
/// that came to a port's presence port is about that port's listeners,
/// and a chat member that shares its host with another one listens on a
/// port of its own, which its hellos announce.
pub fn hello_refused(hello: &Hello<'_>) -> Option<&'static str> {
    if hello.port == 0 {
        Some("hello without a port")
    } else if hello.name.len() > wire::MAX_NAME || hello.room.len() > wire::MAX_ROOM {
        Some("name or room longer than 255 bytes")
    } else {
        None
    }
}

/// The peers of a scan, bounded ([`MAX_PEERS`], [`MAX_ADDRS`]).
#[derive(Default)]
struct Found {
    /// Peers by instance, each with its addresses as a set (so an answer
    /// costs O(1) however many arrive).
    peers: HashMap<u64, (Peer, HashSet<SocketAddr>)>,
    overflow: u64,
    addrs_overflow: u64,
}

impl Found {
    /// Peer `(instance, name, version)` heard from `from` on `interface`;
    /// the peer when it is new.
    fn record(
        &mut self,
        (instance, name, version): (u64, &str, u8),
        from: SocketAddr,
        interface: &str,
        rtt: Option<Duration>,
    ) -> Option<&Peer> {
        let new = !self.peers.contains_key(&instance);
        if new && self.peers.len() >= MAX_PEERS {
            self.overflow += 1;
            return None;
        }
        let (peer, addrs) = self.peers.entry(instance).or_insert_with(|| {
            let peer = Peer {
                instance,
                name: name.to_string(),
                addrs: Vec::new(),
                rtt,
                interfaces: Vec::new(),
                version,
            };
            (peer, HashSet::new())
        });
        // Announced first, answered later: the answer gives the time.
        peer.rtt = peer.rtt.or(rtt);
        if !addrs.contains(&from) {
            if addrs.len() < MAX_ADDRS {
                addrs.insert(from);
                peer.addrs.push(from);
            } else {
                self.addrs_overflow += 1;
            }
        }
        // At most one per interface of this host: a short list.
        if !interface.is_empty() && !peer.interfaces.iter().any(|i| i == interface) {
            peer.interfaces.push(interface.to_string());
        }
        new.then_some(&*peer)
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

fn report(
    result: io::Result<usize>,
    interface: &str,
    to: SocketAddr,
    trace: &mut dyn FnMut(&Trace<'_>),
) {
    match result {
        Ok(_) => trace(&Trace::Sent { interface, to }),
        Err(error) => trace(&Trace::SendFailed {
            interface,
            to,
            error: &error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_coming_until_the_deadline_then_back_off() {
        let ms = |n| Duration::from_millis(n);
        let firsts: Vec<Duration> = (0..6).map(round_at).collect();
        assert_eq!(firsts, [ms(0), ms(100), ms(500), ms(600), ms(700), ms(800)]);
        let within_3s = (0..100).take_while(|&r| round_at(r) < ms(3000)).count();
        assert_eq!(within_3s, 27);
        // Then the gaps double, up to MAX_ROUND_GAP.
        let after: Vec<Duration> = (28..34).map(round_at).collect();
        assert_eq!(
            after,
            [ms(3200), ms(3600), ms(4400), ms(6000), ms(9200), ms(14200)]
        );
        assert!((0..200).all(|r| round_at(r + 1) > round_at(r)));
    }
}
