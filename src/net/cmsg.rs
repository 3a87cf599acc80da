//! Control messages: where a datagram arrived (IP_PKTINFO / IPV6_PKTINFO),
//! which address a reply leaves from, and who sent a Unix-domain datagram
//! (SCM_CREDENTIALS).

use super::peer::{Cred, PeerAddr};
use socket2::SockAddr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

/// Where a datagram arrived: the local address to answer from and the
/// interface it came in on (from IP_PKTINFO / IPV6_PKTINFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// The address a reply should come from; unspecified lets the kernel pick
    /// one on `ifindex` (the datagram went to a broadcast or multicast address).
    pub addr: IpAddr,
    /// The address the datagram was sent to (a unicast, broadcast or group address).
    pub dest: IpAddr,
    /// The arrival interface (0 when unknown).
    pub ifindex: u32,
}

impl Local {
    /// Whether the datagram was sent to a broadcast or multicast address
    /// (to every host of a link) rather than to one of this host's own.
    pub fn sent_to_group(&self) -> bool {
        match self.dest {
            // A directed broadcast (10.77.255.255) is known by its reply
            // address: for it the kernel's is not the destination, so
            // `parse_control` left `addr` unspecified.
            IpAddr::V4(dest) => {
                dest.is_broadcast() || dest.is_multicast() || self.addr.is_unspecified()
            }
            IpAddr::V6(dest) => dest.is_multicast(),
        }
    }
}

/// A received datagram's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The sender.
    pub from: PeerAddr,
    /// Where it arrived, when the kernel said (IP only).
    pub local: Option<Local>,
    /// The sender's credentials (Unix-domain sockets with SO_PASSCRED).
    pub cred: Option<Cred>,
}

/// Control-message buffer, aligned for `cmsghdr`; room for one pktinfo of
/// either family, or one set of credentials, or one `sock_extended_err`
/// with the offender's address (an IPv6 one at most), with room to spare.
#[repr(C, align(8))]
pub(super) struct Control(pub(super) [u8; 128]);

impl Control {
    pub(super) const fn new() -> Self {
        Control([0; 128])
    }
}

/// Asks the kernel to report each datagram's destination and interface.
/// Without it replies leave from the kernel's choice of address, so the
/// caller reports a failure.
pub fn enable_pktinfo(socket: &impl AsRawFd, ipv6: bool) -> io::Result<()> {
    let (level, name) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
    } else {
        (libc::IPPROTO_IP, libc::IP_PKTINFO)
    };
    super::set_int_option(socket, level, name, 1)
}

/// Receives one datagram with its arrival addresses and its sender's
/// credentials, when the socket reports them (`recvmsg`).
pub fn recv_with_local(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, Arrival)> {
    let mut control = Control::new();
    let mut cred = None;
    let (n, local, from) = recvmsg_into(socket, buf, &mut control, 0, |msg| {
        // SAFETY: `recvmsg_into` passes a header a successful recvmsg
        // filled, its control buffer alive. No UDP_GRO on the sockets read
        // here: one datagram each.
        unsafe { parse_control(msg, &mut cred, &mut None) }
    })?;
    let from = PeerAddr::from_sockaddr(&from).ok_or_else(super::socket::unknown_family)?;
    Ok((n, Arrival { from, local, cred }))
}

/// One `recvmsg` with `flags` of a datagram into `buf` and its control
/// messages into `control`; `read` looks at the filled header (its control
/// messages are valid while it runs) only when recvmsg succeeded. Returns
/// the byte count, what `read` returned, and the header's address (the
/// sender's; on the error queue, where the datagram was going).
pub(super) fn recvmsg_into<T>(
    socket: &impl AsRawFd,
    buf: &mut [u8],
    control: &mut Control,
    flags: libc::c_int,
    read: impl FnOnce(&libc::msghdr) -> T,
) -> io::Result<(usize, T, SockAddr)> {
    // SAFETY: `try_init` hands us zeroed storage for the address and its
    // length; every pointer given to recvmsg points into a live buffer of
    // the stated length (`buf`, `control`, the storage), all borrowed for
    // the whole call; `read` sees the header only after recvmsg filled it.
    let ((n, value), addr) = unsafe {
        SockAddr::try_init(|name, namelen| {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = name.cast();
            msg.msg_namelen = *namelen;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len();
            let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, flags);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            *namelen = msg.msg_namelen;
            Ok((n as usize, read(&msg)))
        })?
    };
    Ok((n, value, addr))
}

/// Sends `buf` to `to`, from `local` when given (so a host with two
/// interfaces answers from the one the question came in on). The socket is
/// of `to`'s family (sockets are one family each); an unnamed Unix-domain
/// address cannot be sent to (`InvalidInput`).
pub fn send_from(
    socket: &impl AsRawFd,
    buf: &[u8],
    to: &PeerAddr,
    local: Option<Local>,
) -> io::Result<usize> {
    let dest = to.to_sockaddr()?;
    let mut control = Control::new();
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: all-zero bytes are a valid msghdr (no name, no data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = dest.as_ptr() as *mut libc::c_void;
    msg.msg_namelen = dest.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let (Some(local), Some(to)) = (local, to.inet()) {
        set_source(&mut msg, &mut control, to.is_ipv6(), local);
    }
    // SAFETY: `msg` points at `dest`, `iov` (which points into `buf`) and
    // `control`, all alive for the call and of the stated lengths.
    let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Makes `local` the source of the datagram `msg` describes: its one
/// control message, written into `control` (`msg` then points at it).
pub(super) fn set_source(msg: &mut libc::msghdr, control: &mut Control, ipv6: bool, local: Local) {
    msg.msg_control = control.0.as_mut_ptr().cast();
    if ipv6 {
        let addr = match local.addr {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: addr.octets(),
            },
            ipi6_ifindex: local.ifindex,
        };
        // SAFETY: msg_control points at `control`, aligned and large
        // enough for CMSG_SPACE of an in6_pktinfo.
        unsafe { put_cmsg(msg, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info) };
    } else {
        let spec = match local.addr {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        let info = libc::in_pktinfo {
            ipi_ifindex: local.ifindex as libc::c_int,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(spec).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        // SAFETY: as above, for an in_pktinfo.
        unsafe { put_cmsg(msg, libc::IPPROTO_IP, libc::IP_PKTINFO, info) };
    }
}

/// Makes `value` the one control message of `msg`.
///
/// # Safety
///
/// `msg.msg_control` must point at an aligned buffer of at least
/// `CMSG_SPACE(size_of::<T>())` bytes.
pub(super) unsafe fn put_cmsg<T>(
    msg: &mut libc::msghdr,
    level: libc::c_int,
    kind: libc::c_int,
    value: T,
) {
    let size = std::mem::size_of::<T>() as u32;
    // SAFETY: the caller's buffer holds CMSG_SPACE(size) bytes, so the
    // first header and its data fit in it; the data is written unaligned.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(size) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), value);
    }
}

/// Reads IP_PKTINFO / IPV6_PKTINFO (returned), SCM_CREDENTIALS (put in
/// `cred`) and UDP_GRO's segment size (put in `segment`: the buffer holds
/// datagrams of that size, the last maybe shorter, coalesced by the
/// kernel) from a received message's control data.
///
/// # Safety
/// `msg` must be a msghdr filled by a successful recvmsg/recvmmsg, whose
/// msg_control buffer is still alive.
pub(super) unsafe fn parse_control(
    msg: &libc::msghdr,
    cred: &mut Option<Cred>,
    segment: &mut Option<usize>,
) -> Option<Local> {
    let mut found: Option<Local> = None;
    // SAFETY: per the function's contract; CMSG_* stay inside msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let hdr = std::ptr::read_unaligned(cmsg);
            let data = libc::CMSG_DATA(cmsg);
            if hdr.cmsg_level == libc::IPPROTO_IP && hdr.cmsg_type == libc::IP_PKTINFO {
                let info: libc::in_pktinfo = std::ptr::read_unaligned(data.cast());
                // For a unicast datagram, answer from the address it was
                // sent to. For a broadcast, ipi_spec_dst is the preferred
                // source of the route back (on a host with two interfaces in
                // one subnet, always the first one's): leave the source to
                // the kernel's choice on the arrival interface instead.
                let spec = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
                let dst = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                let addr = if spec == dst {
                    spec
                } else {
                    Ipv4Addr::UNSPECIFIED
                };
                found = Some(Local {
                    addr: addr.into(),
                    dest: dst.into(),
                    ifindex: info.ipi_ifindex as u32,
                });
            } else if hdr.cmsg_level == libc::IPPROTO_IPV6 && hdr.cmsg_type == libc::IPV6_PKTINFO {
                let info: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                let dst = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                let addr = if dst.is_multicast() {
                    Ipv6Addr::UNSPECIFIED
                } else {
                    dst
                };
                found = Some(Local {
                    addr: addr.into(),
                    dest: dst.into(),
                    ifindex: info.ipi6_ifindex,
                });
            } else if hdr.cmsg_level == libc::SOL_SOCKET
                && hdr.cmsg_type == libc::SCM_CREDENTIALS
                && hdr.cmsg_len as usize >= libc::CMSG_LEN(CRED_LEN) as usize
            {
                let ucred: libc::ucred = std::ptr::read_unaligned(data.cast());
                *cred = Some(Cred {
                    pid: ucred.pid.max(0) as u32,
                    uid: ucred.uid,
                });
            } else if hdr.cmsg_level == libc::SOL_UDP && hdr.cmsg_type == libc::UDP_GRO {
                // The kernel writes the segment size as an int.
                let size: libc::c_int = std::ptr::read_unaligned(data.cast());
                *segment = usize::try_from(size).ok().filter(|&s| s > 0);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    // A socket is of one family: pktinfo of one kind, or credentials.
    found
}

/// Bytes of a `ucred` (pid, uid, gid).
const CRED_LEN: u32 = std::mem::size_of::<libc::ucred>() as u32;
