//! Socket options and counters that need a raw system call: integer
//! options socket2 lacks, the receive buffer, the path MTU, kernel drops.

use socket2::Socket;
use std::io;
use std::os::fd::AsRawFd;

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

/// Linux's MTU of the loopback interface: what one datagram on this host
/// takes over IP, and what a Unix-domain socket (no path, no MTU) is taken
/// to have.
pub const LOOPBACK_MTU: usize = 65536;

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
