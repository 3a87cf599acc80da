//! Sending many datagrams per `sendmmsg`: a queue to one destination,
//! and replies to many, each from the address its request came to.

use super::SEND_BATCH;
use crate::net::cmsg::{Control, Local, set_source};
use crate::net::peer::PeerAddr;
use socket2::SockAddr;
use std::io;
use std::os::fd::AsRawFd;

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
    /// An empty batch for `dest` (as the kernel takes it: see
    /// [`PeerAddr::to_sockaddr`]).
    pub fn new(dest: SockAddr) -> Self {
        SendBatch {
            dest,
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

    /// Forgets the first unsent datagram (the kernel refused it for good).
    pub fn skip_one(&mut self) {
        if self.unsent() > 0 {
            self.sent += 1;
            self.reset_if_done();
        }
    }

    fn reset_if_done(&mut self) {
        if self.sent == self.ends.len() {
            self.data.clear();
            self.ends.clear();
            self.sent = 0;
        }
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
        self.reset_if_done();
        Ok(n)
    }
}

/// Replies to many destinations, each from the address its request came to,
/// sent with one system call per [`SEND_BATCH`] (`sendmmsg`): a listener's
/// acknowledgements to every sender of a batch of datagrams.
#[derive(Default)]
pub struct ReplyBatch {
    data: Vec<u8>,
    replies: Vec<Reply>,
}

struct Reply {
    end: usize,
    to: PeerAddr,
    /// `to` as the kernel takes it.
    name: SockAddr,
    local: Option<Local>,
}

impl ReplyBatch {
    /// Queues `datagram` for `to`, from `local` when given; an address the
    /// kernel cannot take (an unnamed Unix socket) is refused (`InvalidInput`).
    pub fn push(&mut self, datagram: &[u8], to: &PeerAddr, local: Option<Local>) -> io::Result<()> {
        let name = to.to_sockaddr()?;
        self.data.extend_from_slice(datagram);
        self.replies.push(Reply {
            end: self.data.len(),
            to: to.clone(),
            name,
            local,
        });
        Ok(())
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    /// Sends everything queued on `socket` (of the destinations' family),
    /// as many per call as it takes; a reply the kernel refuses is handed to
    /// `failed` and the rest still go. Returns how many went; the batch is
    /// empty afterwards.
    pub fn send(
        &mut self,
        socket: &impl AsRawFd,
        mut failed: impl FnMut(&PeerAddr, io::Error),
    ) -> usize {
        let mut sent = 0;
        let mut start_at = 0;
        let mut first = 0;
        while first < self.replies.len() {
            let count = (self.replies.len() - first).min(SEND_BATCH);
            let chunk = &self.replies[first..first + count];
            let mut controls: Vec<Control> = (0..count).map(|_| Control::new()).collect();
            let mut iovs = [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; SEND_BATCH];
            let mut start = start_at;
            for (iov, reply) in iovs.iter_mut().zip(chunk) {
                *iov = libc::iovec {
                    iov_base: self.data[start..reply.end].as_ptr() as *mut libc::c_void,
                    iov_len: reply.end - start,
                };
                start = reply.end;
            }
            // SAFETY: all-zero bytes are a valid mmsghdr.
            let mut msgs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
            for i in 0..count {
                let hdr = &mut msgs[i].msg_hdr;
                hdr.msg_name = chunk[i].name.as_ptr() as *mut libc::c_void;
                hdr.msg_namelen = chunk[i].name.len();
                hdr.msg_iov = &mut iovs[i];
                hdr.msg_iovlen = 1;
                if let (Some(local), PeerAddr::Inet(to)) = (chunk[i].local, &chunk[i].to) {
                    set_source(hdr, &mut controls[i], to.is_ipv6(), local);
                }
            }
            // SAFETY: the first `count` headers point at the replies' names,
            // `iovs` (into `self.data`) and `controls`, all alive and
            // untouched for the call.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    count as libc::c_uint,
                    0,
                )
            };
            // No count: the first one failed (the kernel reports an error
            // only when nothing went); skip it and go on after it.
            let went = if n <= 0 {
                let error = if n < 0 {
                    io::Error::last_os_error()
                } else {
                    io::Error::new(io::ErrorKind::WriteZero, "sendmmsg sent nothing")
                };
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                failed(&chunk[0].to, error);
                1
            } else {
                sent += n as usize;
                n as usize
            };
            start_at = self.replies[first + went - 1].end;
            first += went;
        }
        self.data.clear();
        self.replies.clear();
        sent
    }
}
