//! Listening sockets: binding one or both families on a port, with their
//! options (buffer, sharing, interface), and joining multicast groups.

use super::addr::Family;
use super::enable_pktinfo;
use super::iface;
use super::sockopt::set_recv_buffer;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockRef, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Receive buffer a listener asks for, so bursts are queued, not dropped
/// (kernel memory, used only while a backlog exists; the kernel doubles it).
pub const LISTEN_RCVBUF: usize = 32 << 20;

/// Options for a listening socket.
#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    /// SO_REUSEADDR, so several listeners on one host can share a port
    /// (`listen --share-port`). Off by default: a port already bound is
    /// then refused (EADDRINUSE) instead of silently taking the unicast
    /// datagrams away from the listener that was there first.
    ///
    /// SO_REUSEPORT is deliberately not set. On Linux it makes the kernel
    /// spread unicast datagrams over the sharing sockets by a hash of the
    /// sender's address, so which listener a given sender reaches becomes
    /// an accident of that hash; it only works between sockets of the same
    /// user; and it is not needed for what sharing is for here (every
    /// SO_REUSEADDR socket on the port gets each broadcast and multicast
    /// datagram, so discovery finds all of them).
    pub reuse_addr: bool,
    /// Receive buffer to ask for (SO_RCVBUFFORCE when allowed, else SO_RCVBUF).
    pub recv_buffer: usize,
    /// SO_BROADCAST: allow sending to broadcast addresses. Off for
    /// listeners, so a forged broadcast source address cannot make a reply
    /// reach every host (the send fails with EACCES instead).
    pub broadcast: bool,
    /// For the wildcard `[::]`: both families' sockets, or only one
    /// (`listen -4`, `-6`).
    pub family: Family,
    /// SO_BINDTODEVICE (`listen --interface`): only datagrams that arrived
    /// on this interface (by index) reach the sockets, and replies leave
    /// by it. Sockets bound to different interfaces may share a port.
    pub interface: Option<u32>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_addr: false,
            recv_buffer: LISTEN_RCVBUF,
            broadcast: false,
            family: Family::Any,
            interface: None,
        }
    }
}

/// Binds one non-blocking UDP socket; an IPv6 one is IPv6-only (each
/// address family gets its own socket, and so its own arrival information).
pub fn bind(addr: SocketAddr, options: BindOptions) -> io::Result<mio::net::UdpSocket> {
    Ok(mio::net::UdpSocket::from_std(
        new_bound(addr, options)?.into(),
    ))
}

/// Binds the sockets of a listener, each reporting every datagram's
/// arrival address and interface (pktinfo: replies leave from the address
/// a request came to, and sealed datagrams are checked against it; a
/// kernel that refuses it fails the bind). `[::]` (all interfaces) becomes two
/// sockets on one port, `0.0.0.0` and an IPv6-only `[::]`, so each family
/// gets only its own arrival information (one control message per datagram,
/// not two); where IPv6 is missing, just the IPv4 one; with
/// `options.family`, only that family's. Any other address is one socket.
///
/// A wildcard socket receives multicast datagrams only for the groups it
/// joined itself (IP_MULTICAST_ALL off; Linux's default would also hand
/// it the groups any other program on the host joined).
pub fn bind_listeners(
    addr: SocketAddr,
    options: BindOptions,
) -> io::Result<Vec<mio::net::UdpSocket>> {
    let sockets = bind_families(addr, options)?;
    for socket in &sockets {
        let local = socket.local_addr()?;
        enable_pktinfo(socket, local.is_ipv6())?;
        if local.ip().is_unspecified() {
            // Best effort: a kernel without the option (before 4.20 for
            // IPv6) keeps its default.
            let sock = SockRef::from(socket);
            let _ = if local.is_ipv6() {
                sock.set_multicast_all_v6(false)
            } else {
                sock.set_multicast_all_v4(false)
            };
        }
    }
    Ok(sockets)
}

fn bind_families(addr: SocketAddr, options: BindOptions) -> io::Result<Vec<mio::net::UdpSocket>> {
    if addr.ip() != Ipv6Addr::UNSPECIFIED || options.family == Family::V6 {
        return Ok(vec![bind(addr, options)?]);
    }
    // With port 0 the kernel picks the IPv4 port; in the rare case that
    // port is taken for IPv6, try again with another.
    let mut attempts = 0;
    loop {
        let v4 = new_bound(
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), addr.port()),
            options,
        )?;
        let port = v4
            .local_addr()?
            .as_socket()
            .map_or(addr.port(), |a| a.port());
        let v4 = mio::net::UdpSocket::from_std(v4.into());
        match bind(SocketAddr::new(addr.ip(), port), options) {
            Ok(v6) => return Ok(vec![v4, v6]),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
                ) =>
            {
                return Ok(vec![v4]);
            }
            Err(e) if addr.port() == 0 && attempts < 8 => {
                attempts += 1;
                let _ = e;
            }
            Err(e) => return Err(e),
        }
    }
}

fn new_bound(addr: SocketAddr, options: BindOptions) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if options.reuse_addr {
        socket.set_reuse_address(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if options.broadcast {
        socket.set_broadcast(true)?;
    }
    if let Some(index) = options.interface {
        bind_device(&socket, index)?;
    }
    set_recv_buffer(&socket, options.recv_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket)
}

/// Joins the IPv6 discovery group on each of `interfaces` (indexes) with an
/// IPv6 socket; returns the joins that failed, for the caller to report.
pub fn join_discovery_group(
    socket: &mio::net::UdpSocket,
    interfaces: &[u32],
) -> Vec<(u32, io::Error)> {
    interfaces
        .iter()
        .filter_map(|&index| {
            socket
                .join_multicast_v6(&iface::DISCOVERY_GROUP_V6, index)
                .err()
                .map(|e| (index, e))
        })
        .collect()
}

/// Binds `socket` to interface `index` (SO_BINDTODEVICE): it receives only
/// what arrives on that interface, and sends only through it (unicast,
/// broadcast and multicast alike, with or without a route).
pub(super) fn bind_device(socket: &Socket, index: u32) -> io::Result<()> {
    socket.bind_device(Some(iface::interface_name(index).as_bytes()))
}

/// Joins multicast `group` on interface `index` with `socket` (of the
/// group's family).
pub fn join_group(socket: &mio::net::UdpSocket, group: IpAddr, index: u32) -> io::Result<()> {
    match group {
        IpAddr::V4(group) => SockRef::from(socket)
            .join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index)),
        IpAddr::V6(group) => socket.join_multicast_v6(&group, index),
    }
}

/// Leaves multicast `group` on interface `index` with `socket`: also when
/// the interface is gone, which frees the socket's record of the
/// membership (IPv4 allows a socket 20 by default: an interface that comes
/// and goes with a new index each time would use them up).
pub fn leave_group(socket: &mio::net::UdpSocket, group: IpAddr, index: u32) -> io::Result<()> {
    match group {
        IpAddr::V4(group) => SockRef::from(socket)
            .leave_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index)),
        IpAddr::V6(group) => socket.leave_multicast_v6(&group, index),
    }
}
