//! Segmentation offload: a run of equal-sized datagrams to one destination
//! in one `sendmsg` (`UDP_SEGMENT`, "GSO"), and datagrams the kernel
//! coalesced on arrival (`UDP_GRO`) told apart again by their size.
//!
//! With GSO the kernel builds one large packet and cuts it into datagrams
//! as late as it can (in the network card, or just before the device): one
//! system call and one pass through the stack per 64 KiB instead of per
//! datagram. With GRO a listener gets a run of datagrams of one flow as one
//! buffer plus their size ([`super::Received::segment`]). On the wire
//! nothing changes: every datagram is an ordinary one, and a peer that does
//! neither sees no difference.
//!
//! Both are optional kernel features (Linux 4.18 and 5.0). Missing ones
//! are skipped: [`supported`] says whether sends may be segmented, and a
//! device or path that refuses a segmented send ([`is_refusal`]) is the
//! caller's cue to go back to one datagram per send.

use super::cmsg::{Control, put_cmsg};
use socket2::SockAddr;
use std::io;
use std::os::fd::AsRawFd;

/// Datagrams in one segmented send, at most (the kernel's own limit is 64
/// on the oldest kernels that have GSO).
pub const MAX_SEGMENTS: usize = 64;
/// Bytes in one segmented send, at most: what one UDP datagram may hold
/// over IPv4 and IPv6 alike, with room to spare for IPv6 extension headers.
pub const MAX_BYTES: usize = 65_000;

/// Whether this kernel can segment sends on `socket` (it knows the
/// `UDP_SEGMENT` option). Setting it to 0 changes nothing: each send says
/// its own segment size.
pub fn supported(socket: &impl AsRawFd) -> bool {
    super::set_int_option(socket, libc::SOL_UDP, libc::UDP_SEGMENT, 0).is_ok()
}

/// Asks the kernel to hand over runs of datagrams of one flow coalesced
/// (`UDP_GRO`); each such buffer then carries its segment size. Without it
/// (an old kernel) the kernel splits them itself before queueing.
pub fn enable_gro(socket: &impl AsRawFd) -> io::Result<()> {
    super::set_int_option(socket, libc::SOL_UDP, libc::UDP_GRO, 1)
}

/// True for the errors with which a kernel, device or path refuses a
/// segmented send that plain sends may pass: `EIO` (the path cannot
/// segment it: IPsec, some drivers), `EMSGSIZE` (a segment larger than
/// the path's MTU, which plain sends fragment) and `EINVAL` (the segment
/// size or count not taken, by older kernels).
pub fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE)
    )
}

/// Datagrams queued to go out together: all of one size but the last,
/// which may be shorter, within [`MAX_SEGMENTS`] and [`MAX_BYTES`].
#[derive(Debug, Default)]
pub struct Segments {
    data: Vec<u8>,
    /// The size of each (the first one's).
    size: usize,
    count: usize,
    /// A shorter datagram went last: nothing may follow it.
    closed: bool,
}

impl Segments {
    /// Queues `datagram` if it can go in the same send as those queued;
    /// returns false (and queues nothing) when it cannot: send first.
    pub fn push(&mut self, datagram: &[u8]) -> bool {
        let len = datagram.len();
        if self.count > 0
            && (self.closed
                || self.size == 0
                || len == 0
                || len > self.size
                || self.count == MAX_SEGMENTS
                || self.data.len() + len > MAX_BYTES)
        {
            return false;
        }
        if self.count == 0 {
            self.size = len;
        } else if len < self.size {
            self.closed = true;
        }
        self.data.extend_from_slice(datagram);
        self.count += 1;
        true
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no other datagram can join.
    pub fn is_full(&self) -> bool {
        self.count > 0
            && (self.count == MAX_SEGMENTS
                || self.closed
                || self.size == 0
                || self.data.len() + self.size > MAX_BYTES)
    }

    /// The queued datagrams one by one (to send them without offload).
    pub fn each(&self) -> impl Iterator<Item = &[u8]> {
        // An empty datagram queued alone is one datagram, not none.
        let size = self.size.max(1);
        let empty = (self.count == 1 && self.data.is_empty()).then_some(&self.data[..]);
        self.data.chunks(size).chain(empty)
    }

    /// Forgets what is queued.
    pub fn clear(&mut self) {
        self.data.clear();
        self.count = 0;
        self.size = 0;
        self.closed = false;
    }

    /// Sends everything queued in one `sendmsg` that asks the kernel to cut
    /// it into datagrams of the first one's size; to `to`, or to the
    /// socket's peer when `None` (a connected socket: no route lookup per
    /// send). Nothing is taken off the queue: [`Self::clear`] once it went.
    /// An error means nothing went.
    pub fn send(&self, socket: &impl AsRawFd, to: Option<&SockAddr>) -> io::Result<()> {
        let mut control = Control::new();
        let mut iov = libc::iovec {
            iov_base: self.data.as_ptr() as *mut libc::c_void,
            iov_len: self.data.len(),
        };
        // SAFETY: all-zero bytes are a valid msghdr (no name, no data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        if let Some(dest) = to {
            msg.msg_name = dest.as_ptr() as *mut libc::c_void;
            msg.msg_namelen = dest.len();
        }
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if self.count > 1 {
            msg.msg_control = control.0.as_mut_ptr().cast();
            let size =
                u16::try_from(self.size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: msg_control points at `control`, aligned and far
            // larger than CMSG_SPACE of a u16.
            unsafe { put_cmsg(&mut msg, libc::SOL_UDP, libc::UDP_SEGMENT, size) };
        }
        // SAFETY: `msg` points at `dest`, `iov` (into `self.data`) and
        // `control`, all alive and untouched for the call.
        let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sizes_join_and_a_shorter_one_ends_the_run() {
        let mut s = Segments::default();
        assert!(s.push(&[1; 100]));
        assert!(s.push(&[2; 100]));
        assert!(!s.push(&[3; 101]), "a longer one never joins");
        assert!(s.push(&[4; 30]));
        assert!(s.is_full());
        assert!(!s.push(&[5; 30]), "nothing follows a shorter one");
        let each: Vec<&[u8]> = s.each().collect();
        assert_eq!(each, vec![&[1; 100][..], &[2; 100][..], &[4; 30][..]]);
        s.clear();
        assert!(s.is_empty());
        assert!(s.push(&[]));
        assert_eq!(s.each().collect::<Vec<_>>(), vec![&[0u8; 0][..]]);
        assert!(!s.push(&[]), "empty datagrams go one by one");
    }

    #[test]
    fn a_run_is_bounded_in_count_and_bytes() {
        let mut s = Segments::default();
        for _ in 0..MAX_SEGMENTS {
            assert!(s.push(&[0; 10]));
        }
        assert!(s.is_full());
        assert!(!s.push(&[0; 10]));
        s.clear();
        let big = vec![0; 1472];
        let fit = MAX_BYTES / big.len();
        for _ in 0..fit {
            assert!(s.push(&big));
        }
        assert!(s.is_full());
        assert!(!s.push(&big));
        assert_eq!(s.len(), fit);
    }
}
