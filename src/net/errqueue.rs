//! ICMP errors for an unconnected UDP socket (IP_RECVERR / IPV6_RECVERR):
//! which destination refused a datagram, read from the socket's error
//! queue (`MSG_ERRQUEUE`).
//!
//! A connected socket is told of an ICMP "port unreachable" as
//! `ECONNREFUSED` on its next call; an unconnected one is told nothing,
//! unless it asks for the error queue. Then every ICMP error for a datagram
//! it sent is queued with the address that datagram went to, and the
//! socket's pending error (`ECONNREFUSED`) is set too, which the next
//! `send` or `recv` returns once (it says nothing of which destination).

use super::cmsg::{Control, recvmsg_into};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// Asks the kernel to queue the ICMP errors of what `socket` sends (of
/// its family), so that [`recv_error`] can read them.
pub fn enable(socket: &impl AsRawFd, ipv6: bool) -> io::Result<()> {
    let (level, name) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    };
    super::set_int_option(socket, level, name, 1)
}

/// An ICMP error for a datagram the socket sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounced {
    /// Where the datagram was going.
    pub to: SocketAddr,
    /// What the error means: `ECONNREFUSED` for a port unreachable,
    /// `EHOSTUNREACH`, `ENETUNREACH`, `EMSGSIZE`...
    pub errno: i32,
}

impl Bounced {
    /// Whether it says nothing listens on the port it was sent to.
    pub fn refused(&self) -> bool {
        self.errno == libc::ECONNREFUSED
    }
}

/// Reads the next error queued on `socket` ([`enable`]): `None` when there
/// is none. Errors that did not come from an ICMP message (a local one)
/// come back too, with the address the datagram was going to; an entry
/// that names no address or no error is passed over.
pub fn recv_error(socket: &impl AsRawFd) -> io::Result<Option<Bounced>> {
    loop {
        match recv_entry(socket)? {
            None => return Ok(None),
            Some((Some(to), Some(errno))) => return Ok(Some(Bounced { to, errno })),
            Some(_) => continue,
        }
    }
}

/// Reads one entry of the error queue: `None` when it is empty, else the
/// address the datagram was going to and the error, when it says them.
fn recv_entry(socket: &impl AsRawFd) -> io::Result<Option<(Option<SocketAddr>, Option<i32>)>> {
    let mut control = Control::new();
    // The datagram that bounced comes back too; its bytes are not needed.
    let mut payload = [0u8; 1];
    let flags = libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT;
    let result = recvmsg_into(socket, &mut payload, &mut control, flags, |msg| {
        // SAFETY: `recvmsg_into` passes a header a successful recvmsg
        // filled, its control buffer alive.
        unsafe { extended_errno(msg) }
    });
    match result {
        Ok((_, errno, to)) => Ok(Some((to.as_socket(), errno))),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some((None, None))),
        Err(e) => Err(e),
    }
}

/// The error number of the `sock_extended_err` in a message read from the
/// error queue.
///
/// # Safety
/// `msg` must be a msghdr filled by a successful recvmsg whose msg_control
/// buffer is still alive.
unsafe fn extended_errno(msg: &libc::msghdr) -> Option<i32> {
    // SAFETY: per the function's contract; CMSG_* stay inside msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let hdr = std::ptr::read_unaligned(cmsg);
            let ours = (hdr.cmsg_level == libc::IPPROTO_IP && hdr.cmsg_type == libc::IP_RECVERR)
                || (hdr.cmsg_level == libc::IPPROTO_IPV6 && hdr.cmsg_type == libc::IPV6_RECVERR);
            let len = libc::CMSG_LEN(std::mem::size_of::<libc::sock_extended_err>() as u32);
            if ours && hdr.cmsg_len as usize >= len as usize {
                let err: libc::sock_extended_err =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return i32::try_from(err.ee_errno).ok();
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}
