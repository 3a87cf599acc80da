//! What arrives on the chat sockets, a turn each: messages (shown, then
//! acknowledged, through the listener's [`Handler`]), acks of this
//! member's messages (to the room), answers to its probes and welcomes
//! (to the members).
//!
//! [`Handler`]: crate::commands::listen::handler::Handler

use super::heard::watch_sighting;
use super::sink::{Guarded, Shown};
use super::{Chat, EAR_V4, EAR_V6, READ_BUDGET};
use crate::commands::Error;
use crate::commands::discover::hello_refused;
use crate::commands::listen::{self, handler::Origin};
use crate::commands::presence;
use crate::seal::Opened;
use crate::wire::{self, Message};
use std::io;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

impl Chat {
    /// Reads each chat socket marked in `unread` for a turn: messages are
    /// shown and, once the output is flushed, acknowledged; acks for this
    /// member's messages go to the room. Then the presence sockets.
    pub(super) fn read(&mut self, unread: &mut u64, out: &mut Guarded<'_>) -> Result<(), Error> {
        let me = self.handler.instance();
        let mut answers = Vec::new();
        let mut welcomes = Vec::new();
        for via in 0..self.sockets.len() {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            let socket = &self.sockets[via];
            let bound = self.locals[via];
            for _ in 0..READ_BUDGET {
                let mut shown = Shown::new(&self.members, out, &mut self.stats);
                let count = match self.batch.recv(socket) {
                    Ok(count) => count,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *unread &= !bit;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // The echo of a send to a member that is gone.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(Error::Io(e)),
                };
                let at = SystemTime::now();
                let now = Instant::now();
                for i in 0..count {
                    let Some(received) = self.batch.get(i) else {
                        continue;
                    };
                    if received.truncated || received.bytes.len() > wire::MAX_DATAGRAM {
                        continue;
                    }
                    // The chat sockets are UDP (and the batch unmapped it).
                    let peer = &received.arrival.from;
                    let Some(from) = peer.inet() else {
                        continue;
                    };
                    let origin = Origin {
                        at,
                        now,
                        from: peer,
                        cred: None,
                        local: received.arrival.local,
                        socket,
                        via,
                    };
                    let dest = received
                        .arrival
                        .local
                        .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
                    let overhead = self.incoming.overhead();
                    let _ = match self.incoming.open(received.bytes, at, dest) {
                        Ok(Opened::Message(Message::Ack(ack))) => {
                            if ack.sender == me {
                                self.room
                                    .on_ack(ack.instance, from, ack.next, ack.ranges(), now);
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(Message::Answer(a))) => {
                            if a.token == self.probe_token && a.name.len() <= wire::MAX_NAME {
                                answers.push((
                                    a.instance,
                                    a.name.to_string(),
                                    a.port,
                                    a.version,
                                    from,
                                ));
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(Message::Hello(h))) => {
                            // A welcome: a member's hello to this member
                            // alone, in answer to one of its own. Taken as
                            // a hello is, never answered.
                            if h.instance != me && hello_refused(&h).is_none() {
                                welcomes.push(Welcome::of(&h, from));
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(message @ Message::Text(_))) => {
                            if self.texts.allow(from.ip(), now) {
                                let open_len = received.bytes.len() - overhead;
                                self.handler.message(message, open_len, origin, &mut shown)
                            } else {
                                shown.stats.rate_limited += 1;
                                Ok(())
                            }
                        }
                        Ok(Opened::Message(message)) => {
                            let open_len = received.bytes.len() - overhead;
                            self.handler.message(message, open_len, origin, &mut shown)
                        }
                        // Not a chat's business: another program's datagram.
                        Ok(Opened::Raw(_)) => Ok(()),
                        Err(why) => self.handler.refused(&why, peer, &mut shown),
                    };
                }
                // Shown, then confirmed: an ack means written out.
                if self.handler.acks_owed() && listen::Sink::flush(&mut shown).is_ok() {
                    let _ = self.handler.send_acks(&self.sockets, &mut shown);
                }
                if count < 2 {
                    *unread &= !bit;
                    break;
                }
            }
        }
        let now = Instant::now();
        for (instance, name, port, version, from) in answers {
            let sighting = crate::commands::watch::table::Sighting {
                instance,
                name: &name,
                port,
                version,
                addr: from,
                interface: "",
                via: crate::commands::watch::table::Via::Answer,
            };
            self.members.answered(&sighting, now, &mut self.changes);
        }
        for welcome in welcomes {
            if !self.hellos.allow(welcome.from.ip(), now) {
                self.stats.presence_refused += 1;
                continue;
            }
            let hello = welcome.hello();
            let addr = presence::with_scope_of(
                SocketAddr::new(welcome.from.ip(), hello.port),
                welcome.from,
            );
            let _ = self
                .members
                .hello(&watch_sighting(&hello, addr), now, &mut self.changes);
        }
        for (bit, ipv6) in [(1u64 << EAR_V4.0, false), (1u64 << EAR_V6.0, true)] {
            if *unread & bit != 0 && self.hear(ipv6, out) {
                *unread &= !bit;
            }
        }
        Ok(())
    }
}

/// A hello that came to a chat socket (a welcome), kept until the
/// socket's turn is over.
struct Welcome {
    instance: u64,
    port: u16,
    version: u8,
    lifetime_ms: u32,
    name: String,
    room: String,
    from: SocketAddr,
}

impl Welcome {
    fn of(h: &wire::Hello<'_>, from: SocketAddr) -> Self {
        Welcome {
            instance: h.instance,
            port: h.port,
            version: h.version,
            lifetime_ms: h.lifetime_ms,
            name: h.name.to_string(),
            room: h.room.to_string(),
            from,
        }
    }

    fn hello(&self) -> wire::Hello<'_> {
        wire::Hello {
            instance: self.instance,
            port: self.port,
            version: self.version,
            lifetime_ms: self.lifetime_ms,
            name: &self.name,
            room: &self.room,
        }
    }
}
