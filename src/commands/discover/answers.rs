//! Collecting what arrives during a scan: answers to its probes, hellos
//! and goodbyes, each checked, and the bounded list of peers heard.

use super::{MAX_ADDRS, MAX_PEERS, Peer, Scanner, Trace};
use crate::commands::presence::{self, presence_port};
use crate::net::{self, Local};
use crate::seal::Opened;
use crate::wire::{self, Answer, Hello, Message};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl Scanner<'_> {
    /// Reads answers from the probe sockets, and hellos and goodbyes from
    /// the presence sockets, until they would block; true when `stop` said
    /// so for a listener heard for the first time.
    pub(super) fn read_answers(
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
                let interface = presence::cached_interface_name(&mut self.interface_names, ifindex);
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
pub(super) struct Found {
    /// Peers by instance, each with its addresses as a set (so an answer
    /// costs O(1) however many arrive).
    pub(super) peers: HashMap<u64, (Peer, HashSet<SocketAddr>)>,
    pub(super) overflow: u64,
    pub(super) addrs_overflow: u64,
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
