//! Receiving many datagrams per `recvmmsg` into fixed buffers, and
//! splitting a buffer of coalesced (`UDP_GRO`) datagrams.

use super::RECV_HOT_BYTES;
use crate::net::cmsg::{Arrival, Control, parse_control};
use crate::net::peer::{PeerAddr, UnixAddr};
use socket2::SockAddr;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// Buffers for receiving many datagrams in one system call (`recvmmsg`),
/// each with its sender and arrival addresses.
///
/// Invariant: the headers in `msgs` point into `data`, `names`, `controls`
/// and `iovs`. Those are boxed slices, set up once in [`RecvBatch::new`] and
/// never resized or replaced (no method can), so their heap storage never
/// moves, even when the batch itself is moved.
pub struct RecvBatch {
    slot: usize,
    data: Box<[u8]>,
    names: Box<[libc::sockaddr_storage]>,
    controls: Box<[Control]>,
    iovs: Box<[libc::iovec]>,
    msgs: Box<[libc::mmsghdr]>,
    /// Datagrams the last [`Self::recv`] filled.
    len: usize,
    /// Datagrams the next [`Self::recv`] asks for: all entries, or fewer
    /// after a batch with a big one (see [`RECV_HOT_BYTES`]).
    want: usize,
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
            data: vec![0; count * slot].into_boxed_slice(),
            names: names.into_boxed_slice(),
            controls: (0..count).map(|_| Control::new()).collect(),
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                count
            ]
            .into_boxed_slice(),
            msgs: msgs.into_boxed_slice(),
            len: 0,
            want: count,
        };
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

    /// Receives up to [`Self::asked`] datagrams without blocking; returns
    /// how many arrived (`WouldBlock` when none). Fewer than asked means the
    /// queue is empty.
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        let count = self.want;
        // Only the entries the last call used (and the one after, which it
        // may have touched) need their lengths restored.
        for i in 0..(self.len + 1).min(self.msgs.len()) {
            self.reset(i);
        }
        // SAFETY: every msghdr points into buffers owned by self, which
        // never move (see the type's invariant), with the lengths stated.
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
        let biggest = self.msgs[..self.len]
            .iter()
            .map(|m| m.msg_len as usize)
            .max()
            .unwrap_or(0);
        self.want =
            (RECV_HOT_BYTES / biggest.max(1)).clamp(2.min(self.msgs.len()), self.msgs.len());
        Ok(self.len)
    }

    /// How many datagrams the next [`Self::recv`] asks for.
    pub fn asked(&self) -> usize {
        self.want
    }

    /// Datagram `i` of the last [`Self::recv`].
    pub fn get(&self, i: usize) -> Option<Received<'_>> {
        if i >= self.len {
            return None;
        }
        let msg = &self.msgs[i];
        let len = (msg.msg_len as usize).min(self.slot);
        let bytes = &self.data[i * self.slot..i * self.slot + len];
        let from = sender(&self.names[i], msg.msg_hdr.msg_namelen)?;
        let truncated = msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        // SAFETY: the kernel filled msg_control/msg_controllen for this
        // message; the walk stays inside them.
        let (mut cred, mut segment) = (None, None);
        let local = unsafe { parse_control(&msg.msg_hdr, &mut cred, &mut segment) };
        Some(Received {
            bytes,
            arrival: Arrival { from, local, cred },
            truncated,
            segment,
        })
    }
}

/// The sender the kernel wrote into `name` (`namelen` bytes of it): an
/// IP address read directly (the flood path; an IPv4-mapped IPv6 address
/// as the IPv4 one it stands for), anything else through
/// [`PeerAddr::from_sockaddr`]. `None` for a family udpmsg does not use.
fn sender(name: &libc::sockaddr_storage, namelen: libc::socklen_t) -> Option<PeerAddr> {
    let len = namelen as usize;
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the kernel wrote a sockaddr_in (its family says so, and
            // it is that long) into storage sized and aligned for any.
            let sin =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(PeerAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            ))))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(PeerAddr::Inet(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
                None => SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )),
            }))
        }
        // No address at all (length 0): an unnamed Unix socket; the
        // storage may still hold an earlier sender's family.
        _ if len == 0 => Some(PeerAddr::Unix(UnixAddr::Unnamed)),
        _ => {
            let copy = *name;
            // SAFETY: the kernel wrote a sender address of `namelen` bytes
            // (at most the storage's size) into `name`; try_init's storage
            // has the same size and type, and we copy exactly that.
            let (_, addr) = unsafe {
                SockAddr::try_init(|storage, len| {
                    *storage.cast::<libc::sockaddr_storage>() = copy;
                    *len = namelen;
                    Ok(())
                })
            }
            .ok()?;
            PeerAddr::from_sockaddr(&addr)
        }
    }
}

/// One buffer of a [`RecvBatch`]: one datagram, or with `UDP_GRO`
/// ([`crate::net::gso::enable_gro`]) several of one sender coalesced by the
/// kernel; [`Received::datagrams`] tells them apart.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub bytes: &'a [u8],
    /// Where it came from (an IPv4-mapped sender unmapped) and arrived.
    pub arrival: Arrival,
    /// It was longer than the slot and was cut.
    pub truncated: bool,
    /// Coalesced datagrams: each is this long but the last, which may be
    /// shorter. `None`: `bytes` is one datagram.
    pub segment: Option<usize>,
}

impl<'a> Received<'a> {
    /// The datagrams in this buffer, in the order they arrived, each with
    /// whether it was cut (only the last can be, when the buffer was).
    pub fn datagrams(&self) -> Datagrams<'a> {
        Datagrams {
            rest: self.bytes,
            size: self.segment.unwrap_or(self.bytes.len()).max(1),
            coalesced: self.segment.is_some(),
            truncated: self.truncated,
            first: true,
        }
    }
}

/// The datagrams of one [`Received`] buffer: `(bytes, truncated)`.
#[derive(Debug, Clone)]
pub struct Datagrams<'a> {
    rest: &'a [u8],
    size: usize,
    coalesced: bool,
    truncated: bool,
    /// Nothing was handed out yet (an empty datagram is still one).
    first: bool,
}

impl<'a> Iterator for Datagrams<'a> {
    type Item = (&'a [u8], bool);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() && !self.first {
            return None;
        }
        self.first = false;
        let (datagram, rest) = self.rest.split_at(self.size.min(self.rest.len()));
        self.rest = rest;
        // A cut buffer of coalesced datagrams: those before the cut are
        // whole, the one the cut went through is not (those after it are
        // lost, as if the network had dropped them).
        let cut = match self.coalesced {
            true => self.truncated && rest.is_empty() && datagram.len() < self.size,
            false => self.truncated,
        };
        Some((datagram, cut))
    }
}
