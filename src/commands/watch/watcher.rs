//! The watcher's loop: its sockets, probe rounds, interface changes, and
//! reading what arrives (what it means is [`super::arrival`]'s job).

use super::arrival::report;
use super::table::{self, Table};
use super::{
    Config, Ended, JITTER, MIN_REFRESH_GAP, READ_BUDGET, SOCKETS, Sink, Stats, Stop, Trace,
};
use crate::commands::discover::{MAX_ANSWER, ROUNDS};
use crate::commands::listen::limit::RateLimiter;
use crate::commands::presence::{
    self, Ears, HELLOS_PER_SOURCE, HELLOS_TOTAL, IFACE_POLL, presence_port, send_everywhere,
    sending_socket,
};
use crate::event::{EventLoop, Wake, token};
use crate::net::addr::Family;
use crate::net::iface::{self, IfaceAddr, Target};
use crate::net::{self, Local};
use crate::seal::Envelope;
use crate::util::rng::{XorShift, random_id};
use crate::wire::{self, Message, Probe};
use mio::Interest;
use mio::net::UdpSocket;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

/// A watcher: its sockets, its probing schedule, its table.
pub struct Watcher {
    pub(super) config: Config,
    /// Probe sockets (tokens 0: IPv4, 1: IPv6).
    probes: [Option<UdpSocket>; 2],
    /// Presence sockets (tokens 2: IPv4, 3: IPv6).
    ears: Ears,
    pub(super) envelope: Envelope,
    events: EventLoop,
    pub(super) table: Table,
    targets: Vec<Target>,
    seen: Vec<IfaceAddr>,
    instance: u64,
    pub(super) token_base: u64,
    /// Probe rounds: the start rounds ([`ROUNDS`]) from `phase_start`,
    /// then one per interval.
    phase_start: Instant,
    phase_rounds: usize,
    next_round: Instant,
    last_round: Option<Instant>,
    next_poll: Instant,
    pub(super) limiter: RateLimiter,
    pub(super) interface_names: HashMap<u32, String>,
    /// Only these interface indexes (from `--interface`); empty: all.
    only: Vec<u32>,
    rng: XorShift,
    pub(super) buf: Vec<u8>,
    pub(super) stats: Stats,
    full_said: bool,
    output_error: Option<io::Error>,
}

impl Watcher {
    /// Binds the sockets. The presence port may fail (held by another
    /// program without sharing): those failures come back, and peers are
    /// then tracked by probes alone on that family.
    pub fn new(config: Config) -> io::Result<(Self, Vec<(SocketAddr, io::Error)>)> {
        let to = presence_port(config.port).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no presence port after 65535")
        })?;
        let events = EventLoop::new(config.catch_signals)?;
        let v4 = config.family != Family::V6;
        let v6 = config.family != Family::V4;
        let mut probes = [
            v4.then(|| sending_socket(false)).transpose()?,
            v6.then(|| sending_socket(true).ok()).flatten(),
        ];
        for socket in probes.iter_mut().flatten() {
            // Sealed answers are bound to the address they arrive at.
            let _ = net::enable_pktinfo(socket, socket.local_addr()?.is_ipv6());
        }
        let (mut ears, mut deaf) = Ears::bind(to);
        if !v4 {
            ears.v4 = None;
        }
        if !v6 {
            ears.v6 = None;
        }
        deaf.retain(|(addr, _)| if addr.is_ipv4() { v4 } else { v6 });
        let [p4, p6] = &mut probes;
        let all = [p4, p6, &mut ears.v4, &mut ears.v6];
        for (i, socket) in all.into_iter().enumerate() {
            if let Some(socket) = socket {
                events
                    .registry()
                    .register(socket, token(i), Interest::READABLE)?;
            }
        }
        let now = Instant::now();
        let interval = config.interval;
        let watcher = Watcher {
            probes,
            ears,
            envelope: Envelope::for_listener(config.key.as_ref(), SystemTime::now()),
            events,
            table: Table::new(interval, table::MAX_PEERS),
            targets: Vec::new(),
            seen: Vec::new(),
            instance: random_id(),
            token_base: random_id() & !0xff,
            phase_start: now,
            phase_rounds: 0,
            next_round: now,
            last_round: None,
            next_poll: now,
            limiter: RateLimiter::new(HELLOS_PER_SOURCE, HELLOS_TOTAL, now),
            interface_names: HashMap::new(),
            only: Vec::new(),
            rng: XorShift::from_entropy(),
            buf: vec![0u8; wire::MAX_DATAGRAM + 1],
            stats: Stats::default(),
            full_said: false,
            output_error: None,
            config,
        };
        Ok((watcher, deaf))
    }

    /// Runs until the timeout, a signal, or the sink failing.
    pub fn run(&mut self, sink: &mut dyn Sink) -> io::Result<Ended> {
        let deadline = self.config.timeout.map(|t| Instant::now() + t);
        self.look_at_interfaces(Instant::now(), sink)?;
        // Bit i: socket i may hold datagrams (edge-triggered readiness).
        let mut unread: u64 = (1 << SOCKETS) - 1;
        let stop = loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break Stop::Timeout;
            }
            if self.step(now, &mut unread, sink).is_err() {
                break Stop::Output;
            }
            let wake = if unread != 0 {
                self.events.poll_now()?
            } else {
                let wake_at = [
                    Some(self.next_round),
                    Some(self.next_poll),
                    self.table.next_deadline(),
                    deadline,
                ]
                .into_iter()
                .flatten()
                .min();
                self.events.wait(wake_at)?
            };
            match wake {
                Wake::Ready(ready) => unread |= ready & ((1 << SOCKETS) - 1),
                Wake::Timeout => {}
                Wake::Signal(s) => break Stop::Signal(s),
            }
        };
        if stop != Stop::Output
            && let Err(e) = sink.flush()
        {
            self.output_error.get_or_insert(e);
        }
        let mut stats = self.stats.clone();
        stats.tracking = self.table.len();
        stats.untracked = self.table.overflow;
        let stop = if self.output_error.is_some() {
            Stop::Output
        } else {
            stop
        };
        Ok(Ended {
            stop,
            stats,
            output_error: self.output_error.take(),
        })
    }

    /// One turn: read what arrived, send what is due, give up who expired,
    /// flush. An `Err` means the sink failed (kept in `output_error`).
    fn step(&mut self, now: Instant, unread: &mut u64, sink: &mut dyn Sink) -> Result<(), ()> {
        let mut result = self.read(unread, sink);
        if result.is_ok() && now >= self.next_poll {
            result = self.look_at_interfaces(now, sink);
        }
        if result.is_ok() && now >= self.next_round {
            result = self.send_round(now, sink);
            self.schedule_next_round(now);
        }
        if result.is_ok() {
            let mut failed = None;
            let stats = &mut self.stats;
            self.table.tick(now, &mut |change| {
                if failed.is_none() {
                    failed = report(change, stats, sink).err();
                }
            });
            result = failed.map_or(Ok(()), Err);
        }
        if result.is_ok()
            && self.table.take_refresh()
            && self
                .last_round
                .is_none_or(|t| now.saturating_duration_since(t) >= MIN_REFRESH_GAP)
        {
            result = self.send_round(now, sink);
        }
        if result.is_ok() && !self.full_said && self.table.overflow > 0 {
            self.full_said = true;
            result = sink.trace(&Trace::Full {
                max: table::MAX_PEERS,
            });
        }
        if result.is_ok() {
            result = sink.flush();
        }
        result.map_err(|e| {
            self.output_error.get_or_insert(e);
        })
    }

    /// The next regular round: the start rounds, then every interval less
    /// a random jitter.
    fn schedule_next_round(&mut self, now: Instant) {
        self.phase_rounds += 1;
        self.next_round = match ROUNDS.get(self.phase_rounds) {
            Some(&at) => self.phase_start + at,
            None => {
                now + self
                    .config
                    .interval
                    .mul_f64(1.0 - JITTER * self.rng.next_fraction())
            }
        };
    }

    /// Reads the interface list; when it changed, probes again from the
    /// start rounds on the new targets, and joins the discovery group on
    /// new IPv6 interfaces.
    fn look_at_interfaces(&mut self, now: Instant, sink: &mut dyn Sink) -> io::Result<()> {
        self.next_poll = now + IFACE_POLL;
        let Ok(addresses) = iface::addresses() else {
            return Ok(());
        };
        if addresses == self.seen {
            return Ok(());
        }
        let first = self.seen.is_empty();
        self.seen = addresses;
        self.targets =
            presence::targets(&self.config.interfaces, self.config.family).unwrap_or_default();
        self.interface_names.clear();
        self.only = if self.config.interfaces.is_empty() {
            Vec::new()
        } else {
            self.targets.iter().map(|t| t.index).collect()
        };
        let _ = self
            .ears
            .join(&iface::ipv6_interfaces().unwrap_or_default());
        self.phase_start = now;
        self.phase_rounds = 0;
        self.next_round = now;
        if !first {
            sink.trace(&Trace::InterfacesChanged)?;
        }
        Ok(())
    }

    /// Sends one probe round to every target.
    fn send_round(&mut self, now: Instant, sink: &mut dyn Sink) -> io::Result<()> {
        let pad = [0u8; MAX_ANSWER];
        let mut probe = Vec::with_capacity(MAX_ANSWER);
        let message = Message::Probe(Probe {
            instance: self.instance,
            token: self.token_base | (self.stats.rounds & 0xff),
            pad: &pad[..MAX_ANSWER - wire::PROBE_OVERHEAD],
        });
        let _ = wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut probe);
        self.stats.rounds += 1;
        self.last_round = Some(now);
        let mut result = Ok(());
        // The port, and its presence port: chat members that share their
        // host with another one answer there (PROTOCOL.md 7, Chat).
        for port in [Some(self.config.port), presence_port(self.config.port)]
            .into_iter()
            .flatten()
        {
            send_everywhere(
                self.probes[0].as_ref(),
                self.probes[1].as_ref(),
                &self.targets,
                port,
                &probe,
                &mut self.envelope.outgoing,
                &mut |target, to, sent| {
                    if let (Err(error), true) = (sent, result.is_ok()) {
                        result = sink.trace(&Trace::SendFailed {
                            to,
                            interface: &target.interface,
                            error: &error,
                        });
                    }
                },
            );
        }
        result
    }

    /// Reads each socket marked in `unread` (until it would block, or for
    /// [`READ_BUDGET`] datagrams) and acts on what came.
    fn read(&mut self, unread: &mut u64, sink: &mut dyn Sink) -> io::Result<()> {
        for via in 0..SOCKETS {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            let Some(socket) = socket_of(&self.probes, &self.ears, via) else {
                *unread &= !bit;
                continue;
            };
            let bound = socket.local_addr()?;
            for _ in 0..READ_BUDGET {
                let Some(socket) = socket_of(&self.probes, &self.ears, via) else {
                    break;
                };
                let received = net::nonblocking(|| net::recv_with_local(socket, &mut self.buf));
                let (len, arrival) = match received {
                    Ok(Some(got)) => got,
                    Ok(None) => {
                        *unread &= !bit;
                        break;
                    }
                    // ICMP errors from a probe: nothing to read.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    // Any other receive error is this socket's, not ours to stop for.
                    Err(_) => {
                        *unread &= !bit;
                        break;
                    }
                };
                // Its sockets are UDP: every sender has an IP address.
                let Some(from) = arrival.from.inet().map(net::addr::unmapped) else {
                    continue;
                };
                let ifindex = arrival.local.map_or(0, |l: Local| l.ifindex);
                if !self.only.is_empty() && !self.only.contains(&ifindex) {
                    continue;
                }
                let dest = arrival
                    .local
                    .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
                self.arrived(len, from, ifindex, dest, via >= 2, sink)?;
            }
        }
        Ok(())
    }
}

/// Socket `i` (its token): probes 0 and 1, presence 2 and 3. A function of
/// the two fields, not of the watcher, so the receive buffer can be
/// borrowed beside it.
fn socket_of<'a>(
    probes: &'a [Option<UdpSocket>; 2],
    ears: &'a Ears,
    i: usize,
) -> Option<&'a UdpSocket> {
    match i {
        0 | 1 => probes[i].as_ref(),
        2 => ears.v4.as_ref(),
        _ => ears.v6.as_ref(),
    }
}
