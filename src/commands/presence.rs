//! What announcing listeners and watchers share: the presence port that
//! hellos and goodbyes go to, the sockets that hear them, and sending one
//! datagram out of every interface (as discovery probes are sent).
//!
//! Announcements go to the listener's port + 1, not to the port itself:
//! a watcher must bind the port announcements go to, and the listener's
//! own port is held exclusively by a listener unless `--share-port` (a
//! watcher there would lock listeners out, or steal their unicast
//! datagrams). Watchers share the presence port among themselves
//! (SO_REUSEADDR): each broadcast or multicast reaches all of them.

use crate::net::addr::Family;
use crate::net::iface::{self, DISCOVERY_GROUP_V6, Target};
use crate::net::{self, Local};
use crate::seal::Outgoing;
use mio::net::UdpSocket;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

/// The port a listener on `port` announces itself to, and watchers of
/// `port` listen on: `port + 1` (none for 65535).
pub fn presence_port(port: u16) -> Option<u16> {
    port.checked_add(1).filter(|_| port != 0)
}

/// How often announcing listeners and watchers read the interface list to
/// notice new or changed interfaces and addresses.
pub const IFACE_POLL: Duration = Duration::from_secs(1);

/// Hellos and goodbyes taken per second from one source address (and
/// burst), after opening: a listener sends a few per second at most (its
/// start burst, one per interface and family), several sharing a host's
/// address a few times that.
pub const HELLOS_PER_SOURCE: u32 = 50;
/// Hellos and goodbyes taken per second over all sources (and burst): a
/// hundred listeners starting at once stay within it.
pub const HELLOS_TOTAL: u32 = 2_000;

/// Where probes and announcements go: [`iface::probe_targets`] for the
/// interfaces named in `only` (all when empty), limited to `family`.
pub fn targets(only: &[String], family: Family) -> io::Result<Vec<Target>> {
    let mut targets = iface::probe_targets(only)?;
    for target in &mut targets {
        match family {
            Family::Any => {}
            Family::V4 => target.ipv6 = false,
            Family::V6 => target.broadcasts.clear(),
        }
    }
    targets.retain(|t| !t.broadcasts.is_empty() || t.ipv6);
    Ok(targets)
}

/// `addr` (a port a hello or welcome named, at the address it came from)
/// with the scope `from` arrived with: a link-local IPv6 address means
/// nothing without its interface.
pub fn with_scope_of(mut addr: SocketAddr, from: SocketAddr) -> SocketAddr {
    if let (SocketAddr::V6(to), SocketAddr::V6(from)) = (&mut addr, from) {
        to.set_scope_id(from.scope_id());
    }
    addr
}

/// The name of interface `index` (empty for 0: not known), looked up once
/// per index and kept in `names`: a scan or a watcher hears many datagrams
/// on each interface.
pub fn cached_interface_name(names: &mut HashMap<u32, String>, index: u32) -> &str {
    match index {
        0 => "",
        i => names
            .entry(i)
            .or_insert_with(|| iface::interface_name(i))
            .as_str(),
    }
}

/// Sends `open` (an encoded datagram, sealed afresh for each destination
/// when keyed: one sealed datagram sent to two destinations would reach a
/// receiver twice, and the second would be a replay) to `port` on every
/// target: each IPv4 broadcast address out of its own interface (from
/// `v4`, which needs SO_BROADCAST), and the IPv6 discovery group on each
/// IPv6 interface (from `v6`). `report` hears of every send.
pub fn send_everywhere(
    v4: Option<&UdpSocket>,
    v6: Option<&UdpSocket>,
    targets: &[Target],
    port: u16,
    open: &[u8],
    outgoing: &mut Outgoing,
    report: &mut dyn FnMut(&Target, SocketAddr, io::Result<usize>),
) {
    for target in targets {
        if let Some(v4) = v4 {
            for &broadcast in &target.broadcasts {
                let to = SocketAddr::new(broadcast.into(), port);
                let local = Local {
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    dest: IpAddr::V4(broadcast),
                    ifindex: target.index,
                };
                let sealed = outgoing.seal(open, to);
                report(
                    target,
                    to,
                    net::send_from(v4, sealed, &to.into(), Some(local)),
                );
            }
        }
        if let (true, Some(v6)) = (target.ipv6, v6) {
            let to = SocketAddr::V6(SocketAddrV6::new(DISCOVERY_GROUP_V6, port, 0, target.index));
            report(target, to, v6.send_to(outgoing.seal(open, to), to));
        }
    }
}

/// A socket for [`send_everywhere`]: an ephemeral port of the family, with
/// SO_BROADCAST for IPv4. It never needs to read much (only what comes
/// back to its own port), so its receive buffer stays small.
pub fn sending_socket(ipv6: bool) -> io::Result<UdpSocket> {
    let addr = if ipv6 {
        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
    } else {
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
    };
    net::bind(
        addr,
        net::BindOptions {
            reuse_addr: false,
            recv_buffer: 1 << 20,
            broadcast: !ipv6,
            ..net::BindOptions::default()
        },
    )
}

/// The sockets that hear announcements: the presence port on every IPv4
/// address and on every IPv6 address (joined to the discovery group on
/// each IPv6 interface), shared with other watchers (SO_REUSEADDR), with
/// arrival information (sealed hellos are bound to where they were sent).
pub struct Ears {
    pub v4: Option<UdpSocket>,
    pub v6: Option<UdpSocket>,
    /// Interfaces whose discovery group `v6` joined.
    joined: Vec<u32>,
}

impl Ears {
    /// Binds what it can on `port`; the errors of the rest (a port held
    /// exclusively by another program) come back with their address.
    pub fn bind(port: u16) -> (Ears, Vec<(SocketAddr, io::Error)>) {
        let mut failed = Vec::new();
        let mut one = |ip: IpAddr| {
            let addr = SocketAddr::new(ip, port);
            let bound = net::bind(
                addr,
                net::BindOptions {
                    reuse_addr: true,
                    recv_buffer: 1 << 20,
                    broadcast: false,
                    ..net::BindOptions::default()
                },
            )
            .and_then(|s| net::enable_pktinfo(&s, addr.is_ipv6()).map(|()| s));
            match bound {
                Ok(socket) => Some(socket),
                Err(e) => {
                    failed.push((addr, e));
                    None
                }
            }
        };
        let v4 = one(Ipv4Addr::UNSPECIFIED.into());
        let v6 = one(Ipv6Addr::UNSPECIFIED.into());
        // A host without IPv6 is not a failure.
        failed
            .retain(|(addr, e)| !(addr.is_ipv6() && e.raw_os_error() == Some(libc::EAFNOSUPPORT)));
        let ears = Ears {
            v4,
            v6,
            joined: Vec::new(),
        };
        (ears, failed)
    }

    /// No sockets (a port with no presence port).
    pub fn none() -> Ears {
        Ears {
            v4: None,
            v6: None,
            joined: Vec::new(),
        }
    }

    /// Joins the discovery group on each of `interfaces` not joined yet;
    /// returns the joins that failed.
    pub fn join(&mut self, interfaces: &[u32]) -> Vec<(u32, io::Error)> {
        let Some(v6) = self.v6.as_ref() else {
            return Vec::new();
        };
        // An interface that went away took its membership with it.
        self.joined.retain(|i| interfaces.contains(i));
        let new: Vec<u32> = interfaces
            .iter()
            .copied()
            .filter(|i| !self.joined.contains(i))
            .collect();
        let failed = net::join_discovery_group(v6, &new);
        for index in new {
            // Already a member (a join that raced an earlier one) counts as joined.
            let failed_here = failed
                .iter()
                .any(|(i, e)| *i == index && e.raw_os_error() != Some(libc::EADDRINUSE));
            if !failed_here {
                self.joined.push(index);
            }
        }
        failed
            .into_iter()
            .filter(|(_, e)| e.raw_os_error() != Some(libc::EADDRINUSE))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_go_to_the_next_port() {
        assert_eq!(presence_port(47474), Some(47475));
        assert_eq!(presence_port(1), Some(2));
        assert_eq!(presence_port(65535), None);
        assert_eq!(presence_port(0), None);
    }
}
