//! One datagram socket of either kind udpmsg uses, UDP or Unix-domain,
//! registered with the event loop and used through its file descriptor
//! (batched I/O and control messages work on both).

use super::peer::PeerAddr;
use mio::event::Source;
use mio::net::{UdpSocket, UnixDatagram};
use mio::{Interest, Registry, Token};
use socket2::{SockAddr, SockRef};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// A non-blocking datagram socket: UDP or Unix-domain.
#[derive(Debug)]
pub enum DatagramSocket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl DatagramSocket {
    /// Waits until the socket can take another datagram, `limit` at most
    /// (`poll(2)`, not the event loop: the socket stays registered with one
    /// loop only, as mio requires). A signal ends the wait early; the
    /// caller just tries again.
    pub fn wait_writable(&self, limit: Duration) -> io::Result<()> {
        let mut fd = libc::pollfd {
            fd: self.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = libc::c_int::try_from(limit.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one pollfd, a live local, and its count.
        if unsafe { libc::poll(&mut fd, 1, ms) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<PeerAddr> {
        let addr = SockRef::from(self).local_addr()?;
        PeerAddr::from_sockaddr(&addr).ok_or_else(unknown_family)
    }

    /// The UDP socket, for IP-only options (groups).
    pub fn udp(&self) -> Option<&UdpSocket> {
        match self {
            DatagramSocket::Udp(socket) => Some(socket),
            DatagramSocket::Unix(_) => None,
        }
    }

    /// True for a Unix-domain socket.
    pub fn is_unix(&self) -> bool {
        matches!(self, DatagramSocket::Unix(_))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            DatagramSocket::Udp(socket) => socket.send(buf),
            DatagramSocket::Unix(socket) => socket.send(buf),
        }
    }

    /// Sends to `to`.
    pub fn send_to(&self, buf: &[u8], to: &SockAddr) -> io::Result<usize> {
        SockRef::from(self).send_to(buf, to)
    }

    /// Receives one datagram (from the connected peer, when connected).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            DatagramSocket::Udp(socket) => socket.recv(buf),
            DatagramSocket::Unix(socket) => socket.recv(buf),
        }
    }

    /// Connects to `to`: only datagrams from it are received, and an
    /// unreachable peer is reported on a later send or receive.
    pub fn connect(&self, to: &SockAddr) -> io::Result<()> {
        SockRef::from(self).connect(to)
    }
}

/// The error for a socket address of a family udpmsg does not use.
pub(super) fn unknown_family() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "an address of an unknown family",
    )
}

impl From<UdpSocket> for DatagramSocket {
    fn from(socket: UdpSocket) -> Self {
        DatagramSocket::Udp(socket)
    }
}

impl From<UnixDatagram> for DatagramSocket {
    fn from(socket: UnixDatagram) -> Self {
        DatagramSocket::Unix(socket)
    }
}

impl AsRawFd for DatagramSocket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            DatagramSocket::Udp(socket) => socket.as_raw_fd(),
            DatagramSocket::Unix(socket) => socket.as_raw_fd(),
        }
    }
}

impl AsFd for DatagramSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DatagramSocket::Udp(socket) => socket.as_fd(),
            DatagramSocket::Unix(socket) => socket.as_fd(),
        }
    }
}

impl Source for DatagramSocket {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            DatagramSocket::Udp(socket) => socket.register(registry, token, interests),
            DatagramSocket::Unix(socket) => socket.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            DatagramSocket::Udp(socket) => socket.reregister(registry, token, interests),
            DatagramSocket::Unix(socket) => socket.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            DatagramSocket::Udp(socket) => socket.deregister(registry),
            DatagramSocket::Unix(socket) => socket.deregister(registry),
        }
    }
}
