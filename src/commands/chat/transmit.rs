//! This member's datagrams on their way out: sealed for their destination
//! and sent from the chat socket of its family ([`Net`]); its messages
//! resent when due and shown once resolved.

use super::Chat;
use super::room::Transmit;
use super::sink::{Event, Guarded};
use crate::net::DatagramSocket;
use crate::seal::Outgoing;
use socket2::SockAddr;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

impl Chat {
    /// Resends what is due; shows every message now resolved.
    pub(super) fn deliver(&mut self, now: Instant, out: &mut Guarded<'_>) {
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        self.room.tick(now, &mut net);
        let stats = &mut self.stats;
        let members = &self.members;
        let at = SystemTime::now();
        self.room.take_resolved(&mut |sent| {
            if sent.delivered() {
                stats.delivered += 1;
            } else {
                stats.not_delivered += 1;
            }
            let me = members.me_as(&sent.name);
            out.event(&Event::Resolved {
                at,
                sent: &sent,
                me,
            });
        });
    }
}

/// The chat sockets as the room's way out: each datagram sealed for its
/// destination (when keyed) and sent from the socket of its family.
pub(super) struct Net<'a> {
    pub(super) sockets: &'a [DatagramSocket],
    pub(super) locals: &'a [SocketAddr],
    pub(super) outgoing: &'a mut Outgoing,
    pub(super) errors: &'a mut u64,
}

impl Transmit for Net<'_> {
    fn send(&mut self, to: SocketAddr, open: &[u8]) {
        let Some(i) = self.locals.iter().position(|l| l.is_ipv6() == to.is_ipv6()) else {
            *self.errors += 1;
            return;
        };
        let sealed = self.outgoing.seal(open, to);
        if self.sockets[i]
            .send_to(sealed, &SockAddr::from(to))
            .is_err()
        {
            *self.errors += 1;
        }
    }
}
