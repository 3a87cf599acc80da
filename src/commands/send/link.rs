//! A sender's socket and its destination: sending one datagram or a batch,
//! and waiting (boundedly) while the socket's queue is full.

use crate::net::{self, DatagramSocket, PeerAddr, SendBatch, SendFailure};
use crate::seal::SealDest;
use socket2::SockAddr;
use std::io;
use std::time::Duration;

/// How long to back off when the kernel's queues are full: ENOBUFS raises
/// no readiness event, so it is waited out; a full socket buffer is waited
/// for (at most this long).
const FULL_QUEUE_BACKOFF: Duration = Duration::from_millis(1);
const FULL_SOCKET_WAIT: Duration = Duration::from_millis(50);

/// The socket, its destination, and waiting while its queue is full.
pub(super) struct Link {
    pub(super) socket: DatagramSocket,
    /// `dest` as the kernel takes it.
    pub(super) to: SockAddr,
    /// The socket is connected to the destination.
    pub(super) connected: bool,
    /// The destination.
    pub(super) dest: PeerAddr,
    /// What sealed datagrams to the destination are bound to.
    pub(super) seal_dest: SealDest,
    /// Where replies arrive (the connected socket's own address): sealed
    /// replies are bound to it.
    pub(super) local: PeerAddr,
    /// What `local` binds sealed replies to, once asked.
    pub(super) local_dest: Option<SealDest>,
}

impl Link {
    /// Sends one datagram, waiting while the socket's queue is full; any
    /// other error (a [`SendFailure::Local`] one too) is returned.
    pub(super) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // One more try after a refusal that was about an earlier datagram.
        let mut retried = false;
        loop {
            let sent = if self.connected {
                self.socket.send(bytes)
            } else {
                self.socket.send_to(bytes, &self.to)
            };
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient_send_error(&e) => self.wait_for_room(&e)?,
                // The pending error of an unconnected UDP socket that asked
                // for ICMP errors: an earlier datagram bounced (the error
                // queue says where it went), and this one was not sent.
                // Reading the error cleared it: send again, once.
                Err(e)
                    if !self.connected
                        && !retried
                        && !self.socket.is_unix()
                        && e.kind() == io::ErrorKind::ConnectionRefused =>
                {
                    retried = true;
                }
                Err(e) if self.peer_gone(&e) => {
                    // A Unix socket is connected to the listener's socket,
                    // not to its address: when that socket closes (the
                    // kernel says so once, then the connection is gone),
                    // connect to whatever listens at the address now (it
                    // restarted), or report that nothing does.
                    if retried || self.socket.connect(&self.to).is_err() {
                        return Err(io::ErrorKind::ConnectionRefused.into());
                    }
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a send error on a connected Unix-domain socket means its
    /// peer's socket is gone (refused the first time, not connected after).
    fn peer_gone(&self, e: &io::Error) -> bool {
        self.connected
            && self.socket.is_unix()
            && matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOTCONN))
    }

    /// Sends what `batch` holds, as many per call as the socket takes,
    /// waiting while its queue is full. A datagram this host refused
    /// ([`SendFailure::Local`]) is skipped and handed to `lost` with its
    /// index in the batch and the error; the others still go. Returns how
    /// many went.
    pub(super) fn send_batch(
        &mut self,
        batch: &mut SendBatch,
        lost: &mut dyn FnMut(usize, io::Error),
    ) -> io::Result<u64> {
        let mut sent = 0;
        let mut index = 0;
        while batch.unsent() > 0 {
            match batch.send(&self.socket) {
                Ok(n) => {
                    sent += n as u64;
                    index += n;
                }
                Err(e) => match net::classify_send_error(&e) {
                    SendFailure::QueueFull if e.kind() == io::ErrorKind::Interrupted => {}
                    SendFailure::QueueFull => self.wait_for_room(&e)?,
                    // sendmmsg reports an error only when the first datagram
                    // of the call failed (a later one's error is dropped and
                    // that datagram is simply tried again by the next call).
                    SendFailure::Local => {
                        batch.skip_one();
                        lost(index, e);
                        index += 1;
                    }
                    SendFailure::Fatal => return Err(e),
                },
            }
        }
        Ok(sent)
    }

    /// What sealed replies to this socket are bound to (computed once: a
    /// Unix name is hashed).
    pub(super) fn local_dest(&mut self) -> SealDest {
        let local = &self.local;
        *self.local_dest.get_or_insert_with(|| SealDest::from(local))
    }

    /// Waits (boundedly) until the socket's queue has room again.
    pub(super) fn wait_for_room(&mut self, cause: &io::Error) -> io::Result<()> {
        let wait = if cause.kind() == io::ErrorKind::WouldBlock {
            FULL_SOCKET_WAIT
        } else {
            FULL_QUEUE_BACKOFF
        };
        if cause.kind() == io::ErrorKind::WouldBlock {
            self.socket.wait_writable(wait)
        } else {
            // The queue is full below the socket (ENOBUFS): nothing to
            // wait on but time.
            std::thread::sleep(wait);
            Ok(())
        }
    }
}
