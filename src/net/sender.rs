//! Sending sockets: one set up for a destination (broadcast, multicast
//! TTL and loop, interface, `--from`), and why that can fail.

use super::addr::Destination;
use super::bind::bind_device;
use super::{DatagramSocket, PeerAddr, enable_pktinfo, errqueue, unix};
use crate::util::words::IoWords;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// The TTL (IPv6: hop limit) of datagrams sent to a multicast group unless
/// `--ttl` says otherwise: 1, this link only, as every multicast tool's.
pub const GROUP_TTL: u32 = 1;

/// How a sending socket is set up beyond its destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Bind to this address and port first (`--from`; port 0: any).
    pub from: Option<SocketAddr>,
    /// Send only through this interface (by index; `--interface`), and
    /// receive only what arrives on it.
    pub interface: Option<u32>,
    /// The IP TTL (IPv6: hop limit): to a multicast group the multicast
    /// one, [`GROUP_TTL`] when `None`; to anything else the unicast one,
    /// the system's default when `None`.
    pub ttl: Option<u32>,
    /// To a multicast group: this host's own members get a copy too
    /// (IP_MULTICAST_LOOP, on by default in Linux, off here).
    pub multicast_loop: bool,
    /// Report each received datagram's arrival address (pktinfo): replies
    /// to an unconnected socket are sealed for the address they went to.
    /// (A Unix-domain socket reports its senders' credentials instead.)
    pub arrival_info: bool,
    /// Queue the ICMP errors of what is sent ([`errqueue`]): an
    /// unconnected socket then learns that its destination's port is
    /// closed. (A Unix-domain socket is told at once, by the send.)
    pub icmp_errors: bool,
}

/// Why a sending socket could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// Binding to the `--from` address failed (in use, not ours...).
    Source { addr: SocketAddr, error: io::Error },
    /// Anything else (an option refused, connecting).
    Socket(io::Error),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Source { addr, error } => {
                write!(f, "cannot send from {addr}: {}", IoWords(error))
            }
            SetupError::Socket(e) => write!(f, "{}", IoWords(e)),
        }
    }
}

impl std::error::Error for SetupError {}

impl From<io::Error> for SetupError {
    fn from(e: io::Error) -> Self {
        SetupError::Socket(e)
    }
}

/// A non-blocking socket for sending to `dest` with `options`. A UDP one
/// is bound by the kernel to an ephemeral port of the right family on the
/// first send or connect, unless `--from` binds it. A Unix-domain one is
/// bound to an abstract name (see [`unix::sender_socket`]), and reports
/// each reply's sender's credentials with `options.arrival_info`; the IP
/// options do not apply.
pub fn sender_socket(
    dest: &Destination,
    options: &SendOptions,
) -> Result<DatagramSocket, SetupError> {
    let dest_addr = match &dest.addr {
        PeerAddr::Inet(addr) => *addr,
        PeerAddr::Unix(_) => return Ok(unix::sender_socket(options.arrival_info)?),
    };
    let socket = Socket::new(
        Domain::for_address(dest_addr),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if dest.broadcast {
        socket.set_broadcast(true)?;
    }
    if let Some(index) = options.interface {
        bind_device(&socket, index)?;
        if dest_addr.is_ipv6() && dest_addr.ip().is_multicast() {
            socket.set_multicast_if_v6(index)?;
        }
    }
    match (dest_addr.ip(), options.ttl) {
        (IpAddr::V4(ip), ttl) if ip.is_multicast() => {
            socket.set_multicast_ttl_v4(ttl.unwrap_or(GROUP_TTL))?;
            socket.set_multicast_loop_v4(options.multicast_loop)?;
        }
        (IpAddr::V6(ip), ttl) if ip.is_multicast() => {
            socket.set_multicast_hops_v6(ttl.unwrap_or(GROUP_TTL))?;
            socket.set_multicast_loop_v6(options.multicast_loop)?;
        }
        (IpAddr::V4(_), Some(ttl)) => socket.set_ttl_v4(ttl)?,
        (IpAddr::V6(_), Some(ttl)) => socket.set_unicast_hops_v6(ttl)?,
        (_, None) => {}
    }
    if options.arrival_info {
        enable_pktinfo(&socket, dest_addr.is_ipv6())?;
    }
    if options.icmp_errors {
        errqueue::enable(&socket, dest_addr.is_ipv6())?;
    }
    socket.set_nonblocking(true)?;
    if let Some(from) = options.from {
        socket
            .bind(&SockAddr::from(from))
            .map_err(|error| SetupError::Source { addr: from, error })?;
    }
    Ok(mio::net::UdpSocket::from_std(socket.into()).into())
}
