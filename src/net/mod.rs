//! Sockets and their options: moves bytes, knows no message types.
//!
//! - here: creating and binding sockets, their options, multicast joins;
//! - [`batch`]: many datagrams per system call (`recvmmsg`, `sendmmsg`);
//! - [`cmsg`]: arrival addresses and reply source addresses (pktinfo);
//! - [`errqueue`]: ICMP errors for an unconnected socket (IP_RECVERR);
//! - [`gso`]: many equal-sized datagrams per send (`UDP_SEGMENT`), and
//!   coalesced arrivals (`UDP_GRO`);
//! - [`iface`]: interfaces; [`addr`]: host and port arguments;
//! - [`peer`]: a peer's address, IP or Unix-domain ([`PeerAddr`]);
//! - [`socket`]: a datagram socket of either kind ([`DatagramSocket`]);
//! - [`unix`]: Unix-domain sockets: binding, socket files, autobind.
//!
//! Every system call that needs `unsafe` lives in this folder.
//!
//! UDP error policy: `WouldBlock` means "wait for readiness"; `Interrupted`
//! means "try again"; `ConnectionRefused` on a receive is the ICMP echo of an
//! earlier send and is reported to the caller, which decides whether it
//! matters (a listener ignores it, a connected sender reports the closed port).
//! Send errors are sorted by [`classify_send_error`]: a full queue is waited
//! out, a transient local refusal (firewall, no route for now) loses that one
//! datagram, anything else ends the command.

pub mod addr;
pub mod batch;
pub mod cmsg;
pub mod errqueue;
pub mod gso;
pub mod iface;
pub mod peer;
pub mod socket;
pub mod unix;

pub use batch::{Datagrams, RECV_BATCH, Received, RecvBatch, ReplyBatch, SEND_BATCH, SendBatch};
pub use cmsg::{Arrival, Local, enable_pktinfo, recv_with_local, send_from};
pub use peer::{Cred, PeerAddr, UnixAddr};
pub use socket::DatagramSocket;

use crate::util::words::IoWords;
use addr::{Destination, Family};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockRef, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

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

/// Asks for a receive buffer of `bytes`, past `rmem_max` when privileged
/// (SO_RCVBUFFORCE, which socket2 does not offer). Best effort: a smaller
/// buffer only means bursts may be dropped (and counted).
pub fn set_recv_buffer(socket: &Socket, bytes: usize) {
    let value = bytes.min(i32::MAX as usize) as libc::c_int;
    if set_int_option(socket, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value).is_err() {
        let _ = socket.set_recv_buffer_size(bytes);
    }
}

/// Sets an integer socket option socket2 has no method for.
pub(crate) fn set_int_option(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a valid fd and a pointer to a c_int of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
fn bind_device(socket: &Socket, index: u32) -> io::Result<()> {
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

/// Linux's MTU of the loopback interface: what one datagram on this host
/// takes over IP, and what a Unix-domain socket (no path, no MTU) is taken
/// to have.
pub const LOOPBACK_MTU: usize = 65536;

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

/// The path MTU the kernel knows for a connected socket's destination
/// (`IP_MTU` / `IPV6_MTU`: the route's MTU, or the interface's when the
/// route has none, lowered as ICMP "too big" messages arrive).
pub fn path_mtu(socket: &impl AsRawFd, ipv6: bool) -> io::Result<usize> {
    let (level, name) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_MTU)
    } else {
        (libc::IPPROTO_IP, libc::IP_MTU)
    };
    let mut mtu: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `mtu`, an int we
    // own, and updates `len`; the fd is valid for the borrow.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}

/// What a failed send means for the datagram and for the command; see
/// [`classify_send_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The queue is full right now (`EAGAIN`/`EWOULDBLOCK`, `ENOBUFS`), or a
    /// signal interrupted the call (`EINTR`): nothing was lost. Send the
    /// same datagram again, after waiting for room (a full socket buffer
    /// raises a writable event; `ENOBUFS` raises none, so back off briefly).
    QueueFull,
    /// This host refused this one datagram, for now: a firewall rule on
    /// output (`EPERM`), or no route while an interface flaps
    /// (`ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN`, `EHOSTDOWN`). The datagram
    /// is lost, as if the network had dropped it, and the next one may
    /// well go: count it as lost and go on (a retransmitting sender
    /// retries it as it would any loss; a fire-and-forget sender reports
    /// it and sends the next; `ping` counts it as a lost ping).
    Local,
    /// Anything else, e.g. `EACCES` (a broadcast address without
    /// SO_BROADCAST: every later send would fail the same way),
    /// `EMSGSIZE`, `ECONNREFUSED` (the ICMP echo of an earlier send: nothing
    /// listens), `EBADF`: retrying cannot help; end the command with it.
    Fatal,
}

/// Sorts a send error (`send`, `send_to`, `sendmmsg`) into what to do about
/// it: the one place the sending commands (`send`, `send --ack`, `ping`)
/// take this decision from.
///
/// `EPERM` counts as [`SendFailure::Local`] because netfilter's `drop` (and
/// `reject`) on the output path is reported to the sender as `EPERM`; it may
/// apply to some datagrams only (a rate limit, `numgen`), and a command
/// that stopped at the first one would lose all the others. A rule that
/// drops everything then shows as 100% loss, with every error counted.
pub fn classify_send_error(e: &io::Error) -> SendFailure {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) {
        return SendFailure::QueueFull;
    }
    match e.raw_os_error() {
        Some(libc::ENOBUFS) => SendFailure::QueueFull,
        Some(
            libc::EPERM | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN,
        ) => SendFailure::Local,
        _ => SendFailure::Fatal,
    }
}

/// True for send errors that only mean "the queue is full right now"
/// ([`SendFailure::QueueFull`]).
pub fn is_transient_send_error(e: &io::Error) -> bool {
    classify_send_error(e) == SendFailure::QueueFull
}

/// Datagrams the kernel dropped on this socket because its receive queue was
/// full, read from `/proc/thread-self/net/udp{,6}`; `None` where that is not available.
pub fn kernel_drops(socket: &impl AsRawFd) -> Option<u64> {
    // SAFETY: fstat on a valid fd into a zeroed stat buffer.
    let inode = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(socket.as_raw_fd(), &mut st) != 0 {
            return None;
        }
        st.st_ino
    };
    let inode = inode.to_string();
    // The calling thread's network namespace (a test thread may have its own).
    for table in ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:tm retr uid timeout inode ref pointer drops
            if fields.len() >= 13 && fields[9] == inode {
                return fields[12].parse().ok();
            }
        }
    }
    None
}

/// This machine's host name, the default sender name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // when the name fits, and we stop at the first NUL or the buffer's end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Runs a non-blocking socket operation: `Ok(None)` when it would block,
/// retried when a signal interrupted it, any other error returned. The one
/// home of the read-until-`WouldBlock` policy (`while let Some(..)`).
pub fn nonblocking<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<Option<T>> {
    loop {
        match op() {
            Ok(value) => return Ok(Some(value)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_errors_are_sorted_into_wait_lose_or_stop() {
        let class = |errno| classify_send_error(&io::Error::from_raw_os_error(errno));
        for errno in [libc::EAGAIN, libc::ENOBUFS, libc::EINTR] {
            assert_eq!(class(errno), SendFailure::QueueFull, "{errno}");
        }
        for errno in [
            libc::EPERM,
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::ENETDOWN,
            libc::EHOSTDOWN,
        ] {
            assert_eq!(class(errno), SendFailure::Local, "{errno}");
        }
        for errno in [
            libc::EACCES,
            libc::EMSGSIZE,
            libc::ECONNREFUSED,
            libc::EBADF,
        ] {
            assert_eq!(class(errno), SendFailure::Fatal, "{errno}");
        }
        assert!(is_transient_send_error(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        )));
        assert!(!is_transient_send_error(&io::Error::from_raw_os_error(
            libc::EPERM
        )));
    }
}
