//! Answering pings and discovery probes without being made an amplifier
//! or a flood: rate limits, size and source checks.

use super::{Handler, Origin};
use crate::commands::listen::sink::{Notice, Sink};
use crate::net::PeerAddr;
use crate::net::iface::Links;
use crate::wire::{self, Answer, Message, Ping};
use std::io;
use std::net::IpAddr;
use std::time::Instant;

/// Discovery answers per second to one source address (and burst): a scan
/// costs up to six (three rounds, IPv4 and IPv6), so a few back-to-back
/// scans stay within it.
pub const ANSWERS_PER_SOURCE: u32 = 30;

/// Discovery answers per second over all sources (and burst).
pub const ANSWERS_TOTAL: u32 = 200;

/// Pongs per second to one source address (and burst), except to this
/// host itself. A pong is exactly as large as its ping, so a forged source
/// gains no amplification, only reflection: this bounds what one listener
/// can be made to send to someone else at 1,000 small datagrams a second.
/// It is well above what a real pinger asks across a router (`ping -i 0`
/// sends one ping per round trip, and a routed round trip takes a
/// millisecond or more); a LAN flood ping (`-i 0` at 5–30k/s) gets its first
/// thousand at full speed, then this rate. Loopback is exempt (see
/// `Handler::pong`), which keeps `udpmsg ping -i 0` on this host (tens of
/// thousands a second, the benchmark) unlimited.
pub const PONGS_PER_SOURCE: u32 = 1_000;

/// Pongs per second over all sources (and burst), loopback excepted: what a
/// flood of pings from many forged sources can make one listener send.
pub const PONGS_TOTAL: u32 = 10_000;

impl Handler {
    /// Answers a ping, within the pong rate limit. Pings from this host
    /// (a loopback source, or a Unix-domain socket) are exempt: Linux drops
    /// a datagram with a loopback source that arrives on any other
    /// interface (a martian), so only a local process can send one, and its
    /// pongs go back to this host; the limit exists to protect other hosts.
    pub(super) fn pong(
        &mut self,
        ping: Ping,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let from = origin.from;
        if let Some(ip) = remote_ip(from)
            && !self.pongs.allow(ip, origin.now)
        {
            self.stats.pings_ignored += 1;
            return sink.notice(&Notice::PingIgnored {
                from,
                why: "over the pong rate limit",
            });
        }
        self.stats.pings += 1;
        self.reply(&Message::Pong(ping), origin, sink).map(|_| ())
    }

    /// Answers a discovery probe, unless that would amplify or flood.
    pub(super) fn probe(
        &mut self,
        token: u64,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let from = origin.from;
        let name = truncate_name(&self.name);
        // Size first: a probe too small to answer must not use up the rate
        // limit that real probes share.
        let why = if from.is_unix() {
            // Discovery finds IP listeners; an Answer's port means nothing here.
            Some("a listener on a Unix socket is not found by discovery")
        } else if open_len < wire::ANSWER_OVERHEAD + name.len() {
            Some("probe smaller than the answer (not padded)")
        } else if !replyable(from) {
            Some("source is a broadcast or multicast address")
        } else if !on_link_if_group(&mut self.links, origin) {
            Some("sent to a broadcast or multicast address from an off-link source")
        } else if !from
            .inet()
            .is_some_and(|a| self.limiter.allow(a.ip(), Instant::now()))
        {
            Some("over the answer rate limit")
        } else {
            None
        };
        if let Some(why) = why {
            self.stats.probes_ignored += 1;
            return sink.notice(&Notice::ProbeIgnored { from, why });
        }
        let answer = Message::Answer(Answer {
            instance: self.instance,
            token,
            port: self.port,
            version: wire::VERSION,
            name,
        });
        // Never answer with more bytes than the probe had (checked above;
        // the encoder enforces it too).
        self.reply.clear();
        if wire::encode(&answer, open_len, &mut self.reply).is_err() {
            self.stats.probes_ignored += 1;
            return sink.notice(&Notice::ProbeIgnored {
                from,
                why: "probe smaller than the answer (not padded)",
            });
        }
        if self.send_reply(origin, sink)? {
            self.stats.answers += 1;
            sink.notice(&Notice::Answered { to: from })?;
        }
        Ok(())
    }
}

/// Whether a reply may go to `to`: never to a broadcast, multicast or
/// unspecified address (a forged source would make a reply reach every
/// host). Directed broadcasts are stopped by the socket itself, which has no
/// SO_BROADCAST. A Unix-domain sender cannot be forged (the kernel names
/// it); one without a name is refused where a reply would go, and counted.
pub(crate) fn replyable(to: &PeerAddr) -> bool {
    match to {
        PeerAddr::Inet(addr) => match addr.ip() {
            IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
            IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
        },
        PeerAddr::Unix(_) => true,
    }
}

/// The IP address of a sender on another host, whose replies are rate
/// limited: `None` for this host itself (a loopback source: Linux drops a
/// loopback source arriving on any other interface; a Unix-domain socket).
pub(crate) fn remote_ip(from: &PeerAddr) -> Option<IpAddr> {
    from.inet().map(|a| a.ip()).filter(|ip| !ip.is_loopback())
}

/// RFC 6762 §11's rule: a datagram sent to a broadcast or multicast
/// address is answered only when its source is on the link it arrived
/// on. Otherwise one probe with a forged, far-away source, sent to a
/// subnet's broadcast address, would make every listener there answer
/// that victim. A unicast probe reaches one listener and is answered
/// (rate limited) whatever its source. Without arrival information
/// (never, on a listener's IP sockets) the source must be on some link.
/// A Unix-domain datagram went to one socket.
pub(super) fn on_link_if_group(links: &mut Links, origin: Origin<'_>) -> bool {
    let PeerAddr::Inet(from) = origin.from else {
        return true;
    };
    let (group, ifindex) = origin
        .local
        .map_or((true, 0), |l| (l.sent_to_group(), l.ifindex));
    !group || links.is_on_link(ifindex, from.ip(), Instant::now())
}

/// The name cut to [`wire::MAX_NAME`] bytes at a character boundary.
pub fn truncate_name(name: &str) -> &str {
    if name.len() <= wire::MAX_NAME {
        return name;
    }
    let mut end = wire::MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}
