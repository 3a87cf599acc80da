//! `listen --announce`: hellos out of every interface, on a schedule, again
//! at once when the host's interfaces or addresses change, and a goodbye
//! when the listener stops. Nothing here reads: announcements are never
//! answered.
//!
//! Hellos go where discovery probes go (every IPv4 interface's directed
//! broadcast address, the IPv6 discovery group on every IPv6 interface),
//! to the presence port ([`crate::commands::presence::presence_port`]),
//! from sockets of their own (the listener's sockets have no SO_BROADCAST,
//! on purpose). Keyed, each copy is sealed for its destination.

use super::sink::{Notice, Sink};
use crate::commands::presence::{self, IFACE_POLL, send_everywhere, sending_socket};
use crate::net::addr::Family;
use crate::net::iface::{self, IfaceAddr, Target};
use crate::net::{self, Local};
use crate::seal::{Envelope, Key, Outgoing};
use crate::util::rng::XorShift;
use crate::wire::{self, Goodbye, Hello, Message};
use mio::net::UdpSocket;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Default time between hellos (`--announce-every`).
pub const DEFAULT_EVERY: Duration = Duration::from_secs(30);
/// Shortest `--announce-every`.
pub const MIN_EVERY: Duration = Duration::from_millis(100);
/// Longest `--announce-every`: its lifetime is then the most a watcher
/// trusts a hello for.
pub const MAX_EVERY: Duration = Duration::from_secs(20 * 60);
/// A hello is trusted for this many periods: one or two may be lost.
pub const LIFETIME_PERIODS: u32 = 3;
/// Hellos in the burst at start (and after an interface change).
pub const BURST: u32 = 3;
/// The first gap of the burst (it doubles), at most half the period.
pub const BURST_GAP: Duration = Duration::from_millis(250);
/// After the burst, each gap is the period less up to this fraction of
/// it, at random: listeners started together drift apart instead of
/// announcing in step, and no gap is longer than the period.
pub const JITTER: f64 = 0.1;
/// Goodbyes sent on the way out (back to back: a loss is independent).
pub const GOODBYES: u32 = 2;

/// How long a watcher may trust a hello sent every `every`.
pub fn lifetime(every: Duration) -> Duration {
    every.saturating_mul(LIFETIME_PERIODS)
}

/// The wait after hello number `sent` of a burst (1 after the first) before
/// the next: the burst's doubling gaps ([`BURST_GAP`], at most half of
/// `every`), then `every` shortened by up to [`JITTER`] of it; `random`
/// is in `0.0..1.0`.
pub fn gap_after(sent: u32, every: Duration, random: f64) -> Duration {
    if (1..BURST).contains(&sent) {
        return BURST_GAP.min(every / 2) * (1 << (sent - 1));
    }
    every.mul_f64(1.0 - JITTER * random.clamp(0.0, 1.0))
}

/// What to announce and how often.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time between hellos after the start burst.
    pub every: Duration,
    /// The port hellos go to (the listener's port + 1).
    pub to_port: u16,
    /// Announce on IPv4 (the listener has an IPv4 socket on every address).
    pub ipv4: bool,
    /// Announce on IPv6 (the listener has an IPv6 socket on every address).
    pub ipv6: bool,
    /// The opaque label hellos carry; empty for plain listeners.
    pub room: String,
    /// The listener's name (as in its answers).
    pub name: String,
    /// The listener's key: hellos and goodbyes are sealed with it.
    pub key: Option<Key>,
    /// `--interface`: announce on this interface only.
    pub interface: Option<String>,
}

/// The announcing half of a listener.
pub struct Announcer {
    every: Duration,
    to_port: u16,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    /// Where hellos go now, and the interface addresses they came from.
    targets: Vec<Target>,
    /// Only these interfaces (`--interface`); empty: all.
    only: Vec<String>,
    family: Family,
    seen: Vec<IfaceAddr>,
    outgoing: Outgoing,
    hello: Vec<u8>,
    goodbye: Vec<u8>,
    /// Hellos sent since the burst began.
    sent: u32,
    next_hello: Instant,
    next_poll: Instant,
    rng: XorShift,
}

impl Announcer {
    /// An announcer for the listener `instance` on `port`, whose first
    /// hello is due at once.
    pub fn new(config: &Config, instance: u64, port: u16) -> io::Result<Self> {
        let v4 = config.ipv4.then(|| sending_socket(false)).transpose()?;
        // A host without IPv6 announces over IPv4 alone.
        let v6 = config.ipv6.then(|| sending_socket(true).ok()).flatten();
        let lifetime_ms = u32::try_from(lifetime(config.every).as_millis()).unwrap_or(u32::MAX);
        let mut hello = Vec::new();
        let message = Message::Hello(Hello {
            instance,
            port,
            version: wire::VERSION,
            lifetime_ms,
            name: super::truncate_name(&config.name),
            room: &config.room,
        });
        wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut hello)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("hello: {e}")))?;
        let mut goodbye = Vec::new();
        let message = Message::Goodbye(Goodbye { instance });
        let _ = wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut goodbye);
        let now = Instant::now();
        let mut announcer = Announcer {
            every: config.every,
            to_port: config.to_port,
            v4,
            v6,
            targets: Vec::new(),
            only: config.interface.iter().cloned().collect(),
            family: match (config.ipv4, config.ipv6) {
                (true, false) => Family::V4,
                (false, true) => Family::V6,
                _ => Family::Any,
            },
            seen: Vec::new(),
            // Its own sealing id and counter, apart from the replies'.
            outgoing: Envelope::new(config.key.as_ref()).outgoing,
            hello,
            goodbye,
            sent: 0,
            next_hello: now,
            next_poll: now,
            rng: XorShift::from_entropy(),
        };
        announcer.look_at_interfaces(now);
        Ok(announcer)
    }

    /// When [`Self::tick`] has something to do.
    pub fn next_deadline(&self) -> Instant {
        self.next_hello.min(self.next_poll)
    }

    /// Sends the hello that is due, if one is; reads the interfaces when
    /// due, and starts a new burst on the new set when they changed.
    pub fn tick(&mut self, now: Instant, sink: &mut dyn Sink) -> io::Result<()> {
        if now >= self.next_poll && self.look_at_interfaces(now) {
            self.sent = 0;
            self.next_hello = now;
        }
        if now < self.next_hello {
            return Ok(());
        }
        self.send(Which::Hello, sink)?;
        self.sent = self.sent.saturating_add(1);
        let gap = gap_after(self.sent, self.every, self.rng.next_fraction());
        self.next_hello = now + gap;
        Ok(())
    }

    /// Says goodbye ([`GOODBYES`] times) on every interface.
    pub fn goodbye(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for _ in 0..GOODBYES {
            self.send(Which::Goodbye, sink)?;
        }
        Ok(())
    }

    /// Sends the hello to one address (sealed for it when keyed), at once
    /// and outside the schedule, out of interface `ifindex` (0: as routed):
    /// `chat` answers a newcomer's first hellos this way, through the
    /// interface they came in on, so it learns who is already there (and
    /// at which of this host's addresses) without waiting for their next
    /// period. Returns whether it went.
    pub fn hello_to(&mut self, to: SocketAddr, ifindex: u32) -> bool {
        let (socket, any) = match to {
            SocketAddr::V4(_) => (self.v4.as_ref(), IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            SocketAddr::V6(_) => (self.v6.as_ref(), IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        };
        let Some(socket) = socket else {
            return false;
        };
        // The kernel picks the source address on that interface.
        let from = (ifindex != 0).then_some(Local {
            addr: any,
            dest: to.ip(),
            ifindex,
        });
        net::send_from(
            socket,
            self.outgoing.seal(&self.hello, to),
            &to.into(),
            from,
        )
        .is_ok()
    }

    /// Reads the interface addresses; true when they changed since the
    /// last read (the targets are then those of the new set).
    fn look_at_interfaces(&mut self, now: Instant) -> bool {
        self.next_poll = now + IFACE_POLL;
        let Ok(addresses) = iface::addresses() else {
            return false;
        };
        if addresses == self.seen {
            return false;
        }
        self.seen = addresses;
        if let Ok(targets) = presence::targets(&self.only, self.family) {
            self.targets = targets;
        }
        true
    }

    fn send(&mut self, which: Which, sink: &mut dyn Sink) -> io::Result<()> {
        let open = match which {
            Which::Hello => &self.hello,
            Which::Goodbye => &self.goodbye,
        };
        let mut result = Ok(());
        send_everywhere(
            self.v4.as_ref(),
            self.v6.as_ref(),
            &self.targets,
            self.to_port,
            open,
            &mut self.outgoing,
            &mut |target, to, sent| {
                let notice = match &sent {
                    Ok(_) => Notice::Announced {
                        what: which.word(),
                        to,
                        interface: &target.interface,
                    },
                    Err(error) => Notice::AnnounceFailed {
                        what: which.word(),
                        to,
                        interface: &target.interface,
                        error,
                    },
                };
                if result.is_ok() {
                    result = sink.notice(&notice);
                }
            },
        );
        result
    }
}

#[derive(Clone, Copy)]
enum Which {
    Hello,
    Goodbye,
}

impl Which {
    fn word(self) -> &'static str {
        match self {
            Which::Hello => "hello",
            Which::Goodbye => "goodbye",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// When each of the first `n` hellos goes out, from the first.
    fn times(n: u32, every: Duration, random: f64) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        let mut out = vec![at];
        for sent in 1..n {
            at += gap_after(sent, every, random);
            out.push(at);
        }
        out
    }

    #[test]
    fn three_hellos_at_doubling_gaps_then_one_a_period() {
        let every = Duration::from_secs(30);
        assert_eq!(
            times(5, every, 0.0),
            [ms(0), ms(250), ms(750), ms(30_750), ms(60_750)]
        );
        // Jitter makes each period up to 10% shorter, never longer.
        let jittered = times(5, every, 0.999_999);
        assert_eq!(jittered[..3], [ms(0), ms(250), ms(750)]);
        for pair in jittered[2..].windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap > ms(27_000) && gap < ms(27_001), "{gap:?}");
        }
    }

    #[test]
    fn a_short_period_shortens_the_burst_too() {
        // Half the period at most: the burst never outlasts what it starts.
        assert_eq!(times(4, ms(300), 0.0), [ms(0), ms(150), ms(450), ms(750)]);
        for sent in 0..100 {
            for random in [0.0, 0.5, 0.99] {
                let gap = gap_after(sent, ms(300), random);
                assert!(gap <= ms(300) && gap >= ms(150), "{sent} {random}: {gap:?}");
            }
        }
    }

    #[test]
    fn a_hello_is_trusted_for_three_periods() {
        assert_eq!(lifetime(Duration::from_secs(30)), Duration::from_secs(90));
        assert_eq!(lifetime(MAX_EVERY), Duration::from_secs(3600));
    }
}
