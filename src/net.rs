//! Sockets and their options: moves bytes, knows no message types.
//!
//! UDP error policy: `WouldBlock` means "wait for readiness"; `Interrupted`
//! means "try again"; `ConnectionRefused` on a receive is the ICMP echo of an
//! earlier send and is reported to the caller, which decides whether it
//! matters (a listener ignores it, a connected sender reports the closed port);
//! `ENOBUFS` on a send is transient (the queue is full) and retried.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

/// Receive buffer a listener asks for, so bursts are queued, not dropped.
pub const LISTEN_RCVBUF: usize = 8 << 20;

/// Options for a listening socket.
#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    /// SO_REUSEADDR, so several listeners on one host can share a port.
    pub reuse_addr: bool,
    /// Receive buffer to ask for (SO_RCVBUFFORCE when allowed, else SO_RCVBUF).
    pub recv_buffer: usize,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_addr: true,
            recv_buffer: LISTEN_RCVBUF,
        }
    }
}

/// Binds a non-blocking UDP socket for listening. Binding `[::]` gives a
/// dual-stack socket (IPv4 arrives as IPv4-mapped); where IPv6 is missing it
/// falls back to `0.0.0.0`.
pub fn bind_listener(addr: SocketAddr, options: BindOptions) -> io::Result<mio::net::UdpSocket> {
    let socket = match new_bound(addr, options) {
        Err(e)
            if addr.ip() == Ipv6Addr::UNSPECIFIED
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
                ) =>
        {
            new_bound(
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), addr.port()),
                options,
            )?
        }
        other => other?,
    };
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

fn new_bound(addr: SocketAddr, options: BindOptions) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if options.reuse_addr {
        socket.set_reuse_address(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(addr.ip() != Ipv6Addr::UNSPECIFIED)?;
    }
    // Broadcast answers and probes need it; harmless otherwise.
    if addr.is_ipv4() || addr.ip() == Ipv6Addr::UNSPECIFIED {
        let _ = socket.set_broadcast(true);
    }
    set_recv_buffer(&socket, options.recv_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket)
}

/// Asks for a receive buffer of `bytes`, past `rmem_max` when privileged.
/// Best effort: a smaller buffer only means bursts may be dropped (and counted).
pub fn set_recv_buffer(socket: &impl AsRawFd, bytes: usize) {
    let value = bytes.min(i32::MAX as usize) as libc::c_int;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid fd and a pointer to a c_int of the stated size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// A non-blocking socket for sending to `dest`, bound to an ephemeral port of
/// the same family.
pub fn sender_socket(dest: SocketAddr, broadcast: bool) -> io::Result<mio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))?;
    if broadcast {
        socket.set_broadcast(true)?;
    }
    socket.set_nonblocking(true)?;
    let any: SocketAddr = if dest.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    socket.bind(&SockAddr::from(any))?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// True for send errors that only mean "the queue is full right now".
pub fn is_transient_send_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || e.kind() == io::ErrorKind::Interrupted
        || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// Datagrams the kernel dropped on this socket because its receive queue was
/// full, read from `/proc/net/udp{,6}`; `None` where that is not available.
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
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
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

/// The receive buffer the kernel actually granted (it reports double the
/// requested size, for its own bookkeeping).
pub fn recv_buffer(socket: &impl AsRawFd) -> Option<usize> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid fd and a c_int-sized out buffer with its length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value as usize)
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
