//! `listen --echo`: every raw datagram goes back to its sender, byte for
//! byte, from the address it was sent to (a test server, as socat's
//! `UDP-RECVFROM,fork EXEC:cat`). What it never does:
//!
//! - reflect a flood: echoes are rate limited per source address and in
//!   all, as pongs are ([`ECHOES_PER_SOURCE`], [`ECHOES_TOTAL`]; this host
//!   itself excepted), and never go to a broadcast, multicast or
//!   unspecified address, nor to port 0;
//! - answer a datagram sent to a broadcast or multicast address from an
//!   off-link source (RFC 6762 §11, as discovery probes);
//! - keep a datagram bouncing between two echo servers. An echo server
//!   answers the source of what it receives, so a datagram sent to one
//!   with another's address and port as its source would go back and
//!   forth. Two rules stop that: no echo to a source using the listener's
//!   own port (two echo servers on the same port, the default one say,
//!   never echo each other at all; inetd's echo service has the same rule);
//!   and no echo of a datagram that is the same bytes from the same
//!   address and port as an echo sent there in the last [`BOUNCE_WINDOW`]:
//!   that is the echo coming back, shown but not echoed again. Between two
//!   echo servers on different ports a datagram is thus echoed twice (once
//!   by each) and stops. The price: a client repeating the same bytes from
//!   one port gets one echo per [`BOUNCE_WINDOW`].
//!
//! udpmsg datagrams are never echoed (a listener answers them as it always
//! does), so an echo server and a listener cannot loop either.
//!
//! On a Unix-domain socket the source is the sending socket's own name,
//! which the kernel reports and nobody can forge, and only this host can
//! send: no rate limit, no port rule (the bounce rule still holds). A
//! sender whose socket has no name cannot be answered at all.

use super::handler::{remote_ip, replyable};
use super::limit::RateLimiter;
use crate::net::PeerAddr;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// Echoes per second to one source address (and burst), except to this
/// host itself: as many as pongs ([`super::handler::PONGS_PER_SOURCE`]),
/// for the same reason (an echo is as large as its datagram: reflection,
/// not amplification).
pub const ECHOES_PER_SOURCE: u32 = super::handler::PONGS_PER_SOURCE;
/// Echoes per second over all sources (and burst), this host excepted.
pub const ECHOES_TOTAL: u32 = super::handler::PONGS_TOTAL;
/// A datagram identical to an echo sent to its source this recently is
/// that echo coming back, and is not echoed again.
pub const BOUNCE_WINDOW: Duration = Duration::from_secs(2);
/// Echoes remembered for [`BOUNCE_WINDOW`] at most: two seconds of
/// [`ECHOES_TOTAL`].
pub const BOUNCE_MEMORY: usize = 2 * ECHOES_TOTAL as usize;

/// The echo rules of one listener.
#[derive(Debug)]
pub struct Echo {
    /// The listener's own port: no echo to a source using it.
    port: u16,
    limiter: RateLimiter,
    /// Fingerprints of (destination, bytes) of the echoes sent lately.
    sent: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
    keys: RandomState,
}

/// An echo allowed by [`Echo::check`], to report with [`Echo::sent`].
#[derive(Debug, Clone, Copy)]
pub struct Allowed(u64);

impl Echo {
    /// The rules for a listener on `port`.
    pub fn new(port: u16, now: Instant) -> Self {
        Echo {
            port,
            limiter: RateLimiter::new(ECHOES_PER_SOURCE, ECHOES_TOTAL, now),
            sent: HashMap::new(),
            order: VecDeque::new(),
            keys: RandomState::new(),
        }
    }

    /// Whether `bytes` from `from` may be echoed: `Ok` (a rate-limit token
    /// taken) or why not. `on_link` says whether a datagram sent to a
    /// group may be answered (it is asked only when needed).
    pub fn check(
        &mut self,
        bytes: &[u8],
        from: &PeerAddr,
        on_link: impl FnOnce() -> bool,
        now: Instant,
    ) -> Result<Allowed, &'static str> {
        let port = from.inet().map(|a| a.port());
        if !replyable(from) || port == Some(0) {
            return Err("source is a broadcast, multicast or unspecified address");
        }
        if port == Some(self.port) {
            return Err("source uses this listener's own port (maybe another echo server)");
        }
        self.forget(now);
        let key = self.keys.hash_one((from, bytes));
        if self
            .sent
            .get(&key)
            .is_some_and(|&at| now.saturating_duration_since(at) < BOUNCE_WINDOW)
        {
            return Err("the same bytes were just echoed to it (an echo coming back)");
        }
        if !on_link() {
            return Err("sent to a broadcast or multicast address from an off-link source");
        }
        if let Some(ip) = remote_ip(from)
            && !self.limiter.allow(ip, now)
        {
            return Err("over the echo rate limit");
        }
        Ok(Allowed(key))
    }

    /// Remembers an echo that went out.
    pub fn sent(&mut self, echo: Allowed, now: Instant) {
        self.sent.insert(echo.0, now);
        self.order.push_back((now, echo.0));
    }

    /// Forgets echoes older than the window, and the oldest beyond the
    /// memory.
    fn forget(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.order.front() {
            if self.order.len() < BOUNCE_MEMORY && now.saturating_duration_since(at) < BOUNCE_WINDOW
            {
                break;
            }
            self.order.pop_front();
            if self.sent.get(&key).is_some_and(|&t| t == at) {
                self.sent.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> PeerAddr {
        PeerAddr::Inet(s.parse().unwrap())
    }

    #[test]
    fn an_echo_coming_back_is_not_echoed_again() {
        let t0 = Instant::now();
        let mut echo = Echo::new(7000, t0);
        let b = addr("127.0.0.1:7001");
        let first = echo.check(b"x", &b, || true, t0).expect("first echo");
        echo.sent(first, t0);
        assert!(echo.check(b"x", &b, || true, t0).is_err(), "bounce");
        assert!(echo.check(b"y", &b, || true, t0).is_ok(), "other bytes");
        let c = addr("127.0.0.1:7002");
        assert!(echo.check(b"x", &c, || true, t0).is_ok(), "other port");
        assert!(
            echo.check(b"x", &b, || true, t0 + BOUNCE_WINDOW).is_ok(),
            "after the window"
        );
    }

    #[test]
    fn no_echo_to_its_own_port_groups_or_off_link() {
        let t0 = Instant::now();
        let mut echo = Echo::new(7000, t0);
        for from in [
            "10.0.0.1:7000",
            "255.255.255.255:9",
            "224.0.0.1:9",
            "0.0.0.0:9",
            "[ff02::1]:9",
            "10.0.0.1:0",
        ] {
            assert!(
                echo.check(b"x", &addr(from), || true, t0).is_err(),
                "{from}"
            );
        }
        assert!(echo.check(b"x", &addr("10.0.0.1:9"), || false, t0).is_err());
        assert!(echo.check(b"x", &addr("10.0.0.1:9"), || true, t0).is_ok());
    }

    #[test]
    fn unix_senders_are_this_host_and_have_no_port() {
        use crate::net::UnixAddr;
        let t0 = Instant::now();
        // A listener on a Unix socket has port 0; IP senders are never that.
        let mut echo = Echo::new(0, t0);
        let named = PeerAddr::Unix(UnixAddr::abstract_name(b"0001f"));
        let allowed = (0..2 * ECHOES_PER_SOURCE)
            .filter(|n| echo.check(&n.to_le_bytes(), &named, || true, t0).is_ok())
            .count();
        assert_eq!(allowed, 2 * ECHOES_PER_SOURCE as usize, "no rate limit");
        let first = echo.check(b"x", &named, || true, t0).expect("echo");
        echo.sent(first, t0);
        assert!(echo.check(b"x", &named, || true, t0).is_err(), "bounce");
    }

    #[test]
    fn echoes_to_other_hosts_are_rate_limited_but_not_to_this_one() {
        let t0 = Instant::now();
        let mut echo = Echo::new(7000, t0);
        let far = addr("10.0.0.1:9");
        let allowed = (0..2 * ECHOES_PER_SOURCE)
            .filter(|n| echo.check(&n.to_le_bytes(), &far, || true, t0).is_ok())
            .count();
        assert_eq!(allowed, ECHOES_PER_SOURCE as usize);
        let near = addr("127.0.0.1:9");
        let allowed = (0..2 * ECHOES_PER_SOURCE)
            .filter(|n| echo.check(&n.to_le_bytes(), &near, || true, t0).is_ok())
            .count();
        assert_eq!(allowed, 2 * ECHOES_PER_SOURCE as usize);
    }
}
