//! Multicast groups kept joined while a listener runs (`--group`, and the
//! IPv6 discovery group): the interface list is read every [`IFACE_POLL`],
//! and on a change each group is joined on the interfaces that came up
//! since and left on those that went, so a VPN or a cable that comes
//! after the listener is joined as if it had been there at start.

use super::sink::{Notice, Sink};
use crate::commands::presence::IFACE_POLL;
use crate::net::iface::{self, IfaceAddr};
use crate::net::{self, DatagramSocket, PeerAddr};
use mio::net::UdpSocket;
use std::io;
use std::net::IpAddr;
use std::time::Instant;

/// The interfaces a group belongs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Every up interface with an address of the group's family, loopback
    /// excepted ([`iface::group_interfaces`]): a `--group`.
    Addressed,
    /// Every interface with an IPv6 link-local address
    /// ([`iface::ipv6_interfaces`]): the discovery group.
    LinkLocal,
}

/// One membership: a group on one interface (its index, and its name as
/// it was when joined, for saying so once it is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    group: IpAddr,
    index: u32,
    name: String,
}

/// The groups a listener keeps joined, and where it has joined them.
pub struct Memberships {
    groups: Vec<(IpAddr, Over)>,
    joined: Vec<Member>,
    /// Joins that failed, said once each (until the interface goes).
    failed: Vec<(IpAddr, u32)>,
    /// The interface list at the last read (none before the first).
    seen: Option<Vec<IfaceAddr>>,
    next_poll: Instant,
}

impl Memberships {
    /// Keeps `groups` joined from `now` on. The first [`Self::tick`] joins
    /// each on every interface it belongs on: the joins made before (the
    /// listener's start, which reports its own) are refused as already
    /// made (EADDRINUSE), which counts as joined.
    pub fn new(groups: Vec<(IpAddr, Over)>, now: Instant) -> Self {
        Memberships {
            groups,
            joined: Vec::new(),
            failed: Vec::new(),
            seen: None,
            next_poll: now,
        }
    }

    /// When [`Self::tick`] reads the interfaces next.
    pub fn next_deadline(&self) -> Instant {
        self.next_poll
    }

    /// Reads the interfaces when due; when they changed, joins and leaves
    /// to match, with the listener's wildcard socket of each family (from
    /// `sockets`, bound to `locals`). Each join or leave is a `-v` notice.
    pub fn tick(
        &mut self,
        now: Instant,
        sockets: &[DatagramSocket],
        locals: &[PeerAddr],
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if now < self.next_poll {
            return Ok(());
        }
        self.next_poll = now + IFACE_POLL;
        let Ok(addresses) = iface::addresses() else {
            return Ok(());
        };
        if self.seen.as_ref() == Some(&addresses) {
            return Ok(());
        }
        // The first read adopts the joins made at start, whose failures
        // were said then.
        let first = self.seen.is_none();
        self.seen = Some(addresses);
        for (group, over) in self.groups.clone() {
            let Some(socket) = wildcard(sockets, locals, group.is_ipv6()) else {
                continue;
            };
            let wanted = match over {
                Over::Addressed => iface::group_interfaces(group.is_ipv6()),
                Over::LinkLocal => iface::ipv6_interfaces()
                    .map(|all| all.into_iter().map(|i| (i, String::new())).collect()),
            };
            // Unreadable this time: as they were, until the next change.
            let Ok(wanted) = wanted else {
                continue;
            };
            self.update(socket, group, &wanted, first, sink)?;
        }
        Ok(())
    }

    /// Leaves `group` where it was joined and is no longer `wanted` (index
    /// and name; an empty name is looked up), and joins it where it is
    /// wanted and not joined yet.
    fn update(
        &mut self,
        socket: &UdpSocket,
        group: IpAddr,
        wanted: &[(u32, String)],
        first: bool,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let is_wanted = |index: u32| wanted.iter().any(|(i, _)| *i == index);
        let (stay, gone): (Vec<Member>, Vec<Member>) = std::mem::take(&mut self.joined)
            .into_iter()
            .partition(|m| m.group != group || is_wanted(m.index));
        self.joined = stay;
        for member in gone {
            // Down or gone: a gone interface's membership is only the
            // socket's record of it, freed here whatever the answer.
            let _ = net::leave_group(socket, group, member.index);
            sink.notice(&Notice::GroupLeft {
                group,
                interface: &member.name,
            })?;
        }
        self.failed.retain(|&(g, i)| g != group || is_wanted(i));
        for (index, name) in wanted {
            let index = *index;
            if self
                .joined
                .iter()
                .any(|m| m.group == group && m.index == index)
            {
                continue;
            }
            let name = if name.is_empty() {
                iface::interface_name(index)
            } else {
                name.clone()
            };
            match net::join_group(socket, group, index) {
                Ok(()) => {
                    sink.notice(&Notice::GroupJoined {
                        group,
                        interface: &name,
                    })?;
                    self.failed.retain(|&f| f != (group, index));
                    self.joined.push(Member { group, index, name });
                }
                // Joined already (at start, or a join that raced this one).
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                    self.failed.retain(|&f| f != (group, index));
                    self.joined.push(Member { group, index, name });
                }
                Err(error) => {
                    if !self.failed.contains(&(group, index)) {
                        self.failed.push((group, index));
                        if first {
                            continue;
                        }
                        sink.notice(&Notice::GroupJoinFailed {
                            group,
                            interface: &name,
                            error: &error,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The UDP socket of `sockets` bound to every address of a family (IPv6
/// when `v6`), which is the one that joins that family's groups.
fn wildcard<'a>(
    sockets: &'a [DatagramSocket],
    locals: &[PeerAddr],
    v6: bool,
) -> Option<&'a UdpSocket> {
    sockets.iter().zip(locals).find_map(|(socket, local)| {
        let local = local.inet()?;
        (local.is_ipv6() == v6 && local.ip().is_unspecified())
            .then(|| socket.udp())
            .flatten()
    })
}
