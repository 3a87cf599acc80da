//! What arrives on the presence port (hellos, probes, goodbyes), and who
//! came, went or changed because of it or of time passing: shown, and the
//! room told; members near their expiry probed.

use super::members::{self, Change};
use super::room::Transmit;
use super::sink::{Event, Guarded, Note, Quiet};
use super::transmit::Net;
use super::{Chat, READ_BUDGET};
use crate::commands::discover::{MAX_ANSWER, hello_refused};
use crate::commands::listen::handler::Origin;
use crate::commands::presence;
use crate::net;
use crate::seal::Opened;
use crate::wire::{self, Message};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

impl Chat {
    /// Reads one presence socket for a turn; true when it is empty.
    pub(super) fn hear(&mut self, ipv6: bool, out: &mut Guarded<'_>) -> bool {
        for _ in 0..READ_BUDGET {
            let socket = if ipv6 {
                self.ears.v6.as_ref()
            } else {
                self.ears.v4.as_ref()
            };
            let Some(socket) = socket else {
                return true;
            };
            let bound = match socket.local_addr() {
                Ok(a) => a,
                Err(_) => return true,
            };
            let (len, arrival) =
                match net::nonblocking(|| net::recv_with_local(socket, &mut self.buf)) {
                    Ok(Some(got)) => got,
                    Ok(None) | Err(_) => return true,
                };
            // Presence sockets are UDP.
            let Some(from) = arrival.from.inet().map(net::addr::unmapped) else {
                continue;
            };
            let ifindex = arrival.local.map_or(0, |l| l.ifindex);
            if self.only.is_some_and(|only| only != ifindex) {
                continue;
            }
            let dest = arrival
                .local
                .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
            let now = Instant::now();
            let overhead = self.presence_in.overhead();
            let opened = self
                .presence_in
                .open(&self.buf[..len], SystemTime::now(), dest);
            match opened {
                Ok(Opened::Message(Message::Hello(h))) => {
                    if hello_refused(&h).is_some() || !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    // At its source address, on the port it announces (the
                    // room's, or its own when it shares its host).
                    let addr = presence::with_scope_of(SocketAddr::new(from.ip(), h.port), from);
                    let sighting = watch_sighting(&h, addr);
                    let welcome = self.members.hello(&sighting, now, &mut self.changes);
                    // The welcome goes to the newcomer's own port: the
                    // presence port may be shared by several members of
                    // its host, and a datagram to it reaches one of them.
                    if welcome && self.welcomes.allow(from.ip(), now) {
                        self.announcer.hello_to(addr, ifindex);
                    }
                }
                Ok(Opened::Message(Message::Probe(p))) => {
                    // A scan probes the presence port too, for the members
                    // not on the room's port: this member answers there
                    // only if it is one of them (else at the room's port).
                    if self.port == self.room_port || p.instance == self.handler.instance() {
                        continue;
                    }
                    if !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    let Some(via) = self.locals.iter().position(|l| l.is_ipv6() == ipv6) else {
                        continue;
                    };
                    let open_len = len - overhead;
                    let origin = Origin {
                        at: SystemTime::now(),
                        now,
                        from: &arrival.from,
                        cred: None,
                        local: arrival.local,
                        socket: &self.sockets[via],
                        via,
                    };
                    let message = Message::Probe(p);
                    let _ = self.handler.message(message, open_len, origin, &mut Quiet);
                }
                Ok(Opened::Message(Message::Goodbye(g))) => {
                    if !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    self.members.goodbye(g.instance, now, &mut self.changes);
                }
                Ok(_) => {}
                Err(_) => self.stats.presence_refused += 1,
            }
        }
        let _ = out;
        false
    }

    /// Who came, went or changed (from what was heard, and from time
    /// passing): shown, and the room told.
    pub(super) fn presence(&mut self, now: Instant, out: &mut Guarded<'_>) {
        self.members.tick(now, &mut self.changes);
        let ask = self.members.to_ask(now);
        if !ask.is_empty() {
            self.ask(&ask);
        }
        let at = SystemTime::now();
        for change in std::mem::take(&mut self.changes) {
            match change {
                Change::Joined(member) => {
                    // Shown as on its `left` line, should it be gone
                    // already (it came and went in one turn).
                    out.event(&Event::Joined {
                        at,
                        who: self.members.shown(&member),
                        addr: member.addr,
                    });
                }
                Change::Left { member, expired } => {
                    self.room.member_gone(member.instance);
                    let who = self.members.shown(&member);
                    out.event(&Event::Left { at, who, expired });
                }
                Change::Renamed { member, old } => {
                    if let Some(who) = self.members.who(member.instance) {
                        out.event(&Event::Renamed {
                            at,
                            old: &old,
                            who,
                            mine: false,
                        });
                    }
                }
                Change::Moved(member) => self.room.member_moved(member.instance, member.addr),
            }
        }
        if self.members.overflow > 0 && !self.said_full {
            self.said_full = true;
            out.event(&Event::Note(Note::Full {
                max: members::MAX_MEMBERS,
            }));
        }
    }

    /// Probes `members` (unicast, padded so the answer is no larger): a
    /// member near its expiry answers if it is still there.
    fn ask(&mut self, members: &[SocketAddr]) {
        let pad = [0u8; MAX_ANSWER - wire::PROBE_OVERHEAD];
        let probe = Message::Probe(wire::Probe {
            instance: self.handler.instance(),
            token: self.probe_token,
            pad: &pad,
        });
        let mut open = Vec::with_capacity(MAX_ANSWER);
        if wire::encode(&probe, wire::MAX_DATAGRAM_V4, &mut open).is_err() {
            return;
        }
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        for &to in members {
            net.send(to, &open);
        }
    }
}

/// A hello as presence's table takes it.
pub(super) fn watch_sighting<'a>(
    h: &wire::Hello<'a>,
    addr: SocketAddr,
) -> crate::commands::watch::table::Sighting<'a> {
    use crate::commands::watch::table::{Sighting, Via};
    Sighting {
        instance: h.instance,
        name: h.name,
        port: h.port,
        version: h.version,
        addr,
        interface: "",
        via: Via::Hello {
            lifetime: Duration::from_millis(u64::from(h.lifetime_ms)),
            room: h.room,
        },
    }
}
