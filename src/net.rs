//! Sockets and their options: moves bytes, knows no message types.
//!
//! UDP error policy: `WouldBlock` means "wait for readiness"; `Interrupted`
//! means "try again"; `ConnectionRefused` on a receive is the ICMP echo of an
//! earlier send and is reported to the caller, which decides whether it
//! matters (a listener ignores it, a connected sender reports the closed port);
//! `ENOBUFS` on a send is transient (the queue is full) and retried.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

/// Receive buffer a listener asks for, so bursts are queued, not dropped
/// (kernel memory, used only while a backlog exists; the kernel doubles it).
pub const LISTEN_RCVBUF: usize = 32 << 20;

/// Options for a listening socket.
#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    /// SO_REUSEADDR, so several listeners on one host can share a port.
    pub reuse_addr: bool,
    /// Receive buffer to ask for (SO_RCVBUFFORCE when allowed, else SO_RCVBUF).
    pub recv_buffer: usize,
    /// SO_BROADCAST: allow sending to broadcast addresses. Off for
    /// listeners, so a forged broadcast source address cannot make a reply
    /// reach every host (the send fails with EACCES instead).
    pub broadcast: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_addr: true,
            recv_buffer: LISTEN_RCVBUF,
            broadcast: false,
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

/// Binds the sockets of a listener. `[::]` (all interfaces) becomes two
/// sockets on one port, `0.0.0.0` and an IPv6-only `[::]`, so each family
/// gets only its own arrival information (one control message per datagram,
/// not two); where IPv6 is missing, just the IPv4 one. Any other address is
/// one socket.
pub fn bind_listeners(
    addr: SocketAddr,
    options: BindOptions,
) -> io::Result<Vec<mio::net::UdpSocket>> {
    if addr.ip() != Ipv6Addr::UNSPECIFIED {
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

/// A non-blocking socket for sending to `dest` (the kernel binds an
/// ephemeral port of the right family on the first send or connect).
pub fn sender_socket(dest: SocketAddr, broadcast: bool) -> io::Result<mio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))?;
    if broadcast {
        socket.set_broadcast(true)?;
    }
    socket.set_nonblocking(true)?;
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

/// Where a datagram arrived: the local address to answer from and the
/// interface it came in on (from IP_PKTINFO / IPV6_PKTINFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// The address a reply should come from; unspecified lets the kernel pick
    /// one on `ifindex` (the datagram went to a broadcast or multicast address).
    pub addr: IpAddr,
    /// The arrival interface (0 when unknown).
    pub ifindex: u32,
}

/// A received datagram's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The sender.
    pub from: SocketAddr,
    /// Where it arrived, when the kernel said.
    pub local: Option<Local>,
}

/// Asks the kernel to report each datagram's destination and interface.
/// Best effort: without it, replies leave from the kernel's choice of address.
pub fn enable_pktinfo(socket: &impl AsRawFd, ipv6: bool) {
    let one: libc::c_int = 1;
    let set = |level, name| {
        // SAFETY: a valid fd and a pointer to a c_int of the stated size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    if ipv6 {
        set(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO);
    } else {
        set(libc::IPPROTO_IP, libc::IP_PKTINFO);
    }
}

/// Control-message buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 128]);

/// Receives one datagram with its arrival addresses (`recvmsg`).
pub fn recv_with_local(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, Arrival)> {
    // SAFETY: every pointer handed to recvmsg points into a live local buffer
    // of the stated length; the control messages are walked with the CMSG_*
    // macros, which stay inside msg_controllen, and read unaligned.
    unsafe {
        let mut name: libc::sockaddr_storage = std::mem::zeroed();
        let mut control = Control([0; 128]);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len();
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let from = sockaddr_to_std(&name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "datagram from an unknown address family",
            )
        })?;
        let local = parse_pktinfo(&msg);
        Ok((n as usize, Arrival { from, local }))
    }
}

/// Sends `buf` to `to`, from `local` when given (so a host with two
/// interfaces answers from the one the question came in on). The socket is
/// of `to`'s family (sockets are one family each).
pub fn send_from(
    socket: &impl AsRawFd,
    buf: &[u8],
    to: SocketAddr,
    local: Option<Local>,
) -> io::Result<usize> {
    let dest = SockAddr::from(to);
    // SAFETY: the pointers reference live locals of the stated sizes; the
    // control message is built with CMSG_* inside an aligned buffer sized by
    // CMSG_SPACE.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: buf.as_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = dest.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = dest.len();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let mut control = Control([0; 128]);
        if let Some(local) = local {
            msg.msg_control = control.0.as_mut_ptr().cast();
            if to.is_ipv6() {
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
                put_cmsg(&mut msg, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info);
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
                put_cmsg(&mut msg, libc::IPPROTO_IP, libc::IP_PKTINFO, info);
            }
        }
        let n = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Makes `value` the one control message of `msg`.
///
/// # Safety
///
/// `msg.msg_control` must point at an aligned buffer of at least
/// `CMSG_SPACE(size_of::<T>())` bytes.
unsafe fn put_cmsg<T>(msg: &mut libc::msghdr, level: libc::c_int, kind: libc::c_int, value: T) {
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

fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin: libc::sockaddr_in = unsafe {
                std::ptr::read_unaligned((storage as *const libc::sockaddr_storage).cast())
            };
            Some(SocketAddr::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).into(),
                u16::from_be(sin.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6: libc::sockaddr_in6 = unsafe {
                std::ptr::read_unaligned((storage as *const libc::sockaddr_storage).cast())
            };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Datagrams sent per `sendmmsg` call.
pub const SEND_BATCH: usize = 32;

/// Datagrams to one destination, queued to go out in one system call
/// (`sendmmsg`). [`SendBatch::send`] sends what has not gone yet; the
/// batch is empty again once everything went.
pub struct SendBatch {
    dest: SockAddr,
    data: Vec<u8>,
    /// Where each queued datagram ends in `data`.
    ends: Vec<usize>,
    /// How many of the queued datagrams went already.
    sent: usize,
}

impl SendBatch {
    pub fn new(dest: SocketAddr) -> Self {
        SendBatch {
            dest: SockAddr::from(dest),
            data: Vec::with_capacity(SEND_BATCH * 256),
            ends: Vec::with_capacity(SEND_BATCH),
            sent: 0,
        }
    }

    /// Queues one datagram.
    pub fn push(&mut self, datagram: &[u8]) {
        self.data.extend_from_slice(datagram);
        self.ends.push(self.data.len());
    }

    /// True when [`SEND_BATCH`] datagrams are queued.
    pub fn is_full(&self) -> bool {
        self.ends.len() >= SEND_BATCH
    }

    /// Datagrams queued and not sent yet.
    pub fn unsent(&self) -> usize {
        self.ends.len() - self.sent
    }

    /// Sends the unsent datagrams (up to [`SEND_BATCH`] of them), as many as
    /// the socket takes; returns how many went (an error means none did).
    /// Once all went, the batch is empty again.
    pub fn send(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        let pending = &self.ends[self.sent..];
        let count = pending.len().min(SEND_BATCH);
        if count == 0 {
            return Ok(0);
        }
        let mut start = match self.sent {
            0 => 0,
            n => self.ends[n - 1],
        };
        // The headers live on the stack for this one call: nothing raw is
        // kept in the batch between calls.
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; SEND_BATCH];
        for (iov, &end) in iovs.iter_mut().zip(&pending[..count]) {
            *iov = libc::iovec {
                iov_base: self.data[start..end].as_ptr() as *mut libc::c_void,
                iov_len: end - start,
            };
            start = end;
        }
        // SAFETY: all-zero bytes are a valid mmsghdr.
        let mut msgs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
        for (msg, iov) in msgs.iter_mut().zip(&mut iovs[..count]) {
            msg.msg_hdr.msg_name = self.dest.as_ptr() as *mut libc::c_void;
            msg.msg_hdr.msg_namelen = self.dest.len();
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `count` headers point at `self.dest` and at one
        // iovec each of `iovs`, which point into `self.data`; all of them
        // outlive the call and none is touched during it.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            // Never seen; without it a caller looping until all went would spin.
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "sendmmsg sent nothing",
            ));
        }
        let n = n as usize;
        self.sent += n;
        if self.sent == self.ends.len() {
            self.data.clear();
            self.ends.clear();
            self.sent = 0;
        }
        Ok(n)
    }
}

/// Datagrams received per `recvmmsg` call.
pub const RECV_BATCH: usize = 32;

/// Buffers for receiving many datagrams in one system call (`recvmmsg`),
/// each with its sender and arrival addresses.
#[derive(Default)]
pub struct RecvBatch {
    slot: usize,
    data: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    controls: Vec<Control>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    len: usize,
}

impl RecvBatch {
    /// Room for `count` datagrams of up to `slot` bytes each. Pages are only
    /// touched as datagrams fill them, so small datagrams cost little memory.
    pub fn new(count: usize, slot: usize) -> Self {
        // SAFETY: sockaddr_storage and mmsghdr are plain C structs for which
        // all-zero bytes are a valid value.
        let (names, msgs) = unsafe {
            (
                vec![std::mem::zeroed::<libc::sockaddr_storage>(); count],
                vec![std::mem::zeroed::<libc::mmsghdr>(); count],
            )
        };
        let mut batch = RecvBatch {
            slot,
            data: vec![0; count * slot],
            names,
            controls: (0..count).map(|_| Control([0; 128])).collect(),
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                count
            ],
            msgs,
            len: 0,
        };
        // The headers point into the vectors' heap buffers, which stay put
        // when the batch itself is moved: set them up once.
        for i in 0..count {
            batch.iovs[i] = libc::iovec {
                iov_base: batch.data[i * slot..].as_mut_ptr().cast(),
                iov_len: slot,
            };
            let hdr = &mut batch.msgs[i].msg_hdr;
            hdr.msg_name = (&mut batch.names[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_iov = &mut batch.iovs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = batch.controls[i].0.as_mut_ptr().cast();
            batch.reset(i);
        }
        batch
    }

    /// Restores the lengths the kernel overwrote in entry `i`.
    fn reset(&mut self, i: usize) {
        let hdr = &mut self.msgs[i].msg_hdr;
        hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_controllen = self.controls[i].0.len();
        hdr.msg_flags = 0;
        self.msgs[i].msg_len = 0;
    }

    /// Receives up to the batch size without blocking; returns how many
    /// arrived (`WouldBlock` when none).
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        let count = self.msgs.len();
        // Only the entries the last call used (and the one after, which it
        // may have touched) need their lengths restored.
        for i in 0..(self.len + 1).min(count) {
            self.reset(i);
        }
        // SAFETY: every msghdr points into buffers owned by self (set up in
        // `new`, stable on the heap) with the lengths stated.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.len = 0;
            return Err(io::Error::last_os_error());
        }
        self.len = n as usize;
        Ok(self.len)
    }

    /// Datagram `i` of the last [`Self::recv`]: its bytes, addresses, and
    /// whether it was cut to the slot size.
    pub fn get(&self, i: usize) -> Option<(&[u8], Arrival, bool)> {
        if i >= self.len {
            return None;
        }
        let msg = &self.msgs[i];
        let len = (msg.msg_len as usize).min(self.slot);
        let bytes = &self.data[i * self.slot..i * self.slot + len];
        let from = sockaddr_to_std(&self.names[i])?;
        let truncated = msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        // SAFETY: the kernel filled msg_control/msg_controllen for this
        // message; the walk stays inside them.
        let local = unsafe { parse_pktinfo(&msg.msg_hdr) };
        Some((bytes, Arrival { from, local }, truncated))
    }
}

/// Reads IP_PKTINFO / IPV6_PKTINFO from a received message's control data.
///
/// # Safety
/// `msg` must be a msghdr filled by a successful recvmsg/recvmmsg, whose
/// msg_control buffer is still alive.
unsafe fn parse_pktinfo(msg: &libc::msghdr) -> Option<Local> {
    let mut v4: Option<Local> = None;
    let mut v6: Option<Local> = None;
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
                v4 = Some(Local {
                    addr: addr.into(),
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
                v6 = Some(Local {
                    addr: addr.into(),
                    ifindex: info.ipi6_ifindex,
                });
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    // A socket is of one family, so at most one of the two is present.
    v4.or(v6)
}
