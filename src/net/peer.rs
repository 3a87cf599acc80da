//! Where a datagram comes from or goes to: an IP address and port, or a
//! Unix-domain socket (a path, a Linux abstract name, or no name at all),
//! and the credentials the kernel reports for a Unix-domain sender.

use crate::seal::SealDest;
use socket2::SockAddr;
use std::ffi::OsStr;
use std::io;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// The longest Unix-domain socket path or abstract name, in bytes:
/// `sun_path` is 108 bytes, one of them the path's terminating NUL or the
/// abstract name's leading one.
pub const MAX_UNIX_NAME: usize = 107;

/// A peer's address: what a datagram's sender is, or where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// An IP address and port.
    Inet(SocketAddr),
    /// A Unix-domain datagram socket.
    Unix(UnixAddr),
}

/// A Unix-domain socket address. The names are shared (`Arc`), so the
/// address is cheap to keep with each held message and each reply owed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A socket file: its path's bytes, without the terminating NUL.
    Path(Arc<[u8]>),
    /// A Linux abstract-namespace name: the bytes after the leading NUL
    /// (any bytes, NULs included).
    Abstract(Arc<[u8]>),
    /// A socket that never bound a name: it can send, but nothing can be
    /// sent back to it.
    Unnamed,
}

/// A Unix-domain sender's credentials, as the kernel reports them
/// (`SCM_CREDENTIALS`, with `SO_PASSCRED` on the receiving socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cred {
    /// The sending process (in the receiver's PID namespace; 0 when it has none there).
    pub pid: u32,
    /// Its user id (in the receiver's user namespace).
    pub uid: u32,
}

impl UnixAddr {
    /// A socket file at `path`.
    pub fn path(path: &[u8]) -> Self {
        UnixAddr::Path(path.into())
    }

    /// The abstract name `name` (without the leading NUL).
    pub fn abstract_name(name: &[u8]) -> Self {
        UnixAddr::Abstract(name.into())
    }

    /// The address as the kernel takes it (`sockaddr_un`); an unnamed
    /// address cannot be one (`InvalidInput`).
    pub fn to_sockaddr(&self) -> io::Result<SockAddr> {
        match self {
            UnixAddr::Path(path) => SockAddr::unix(OsStr::from_bytes(path)),
            UnixAddr::Abstract(name) => {
                let mut bytes = Vec::with_capacity(name.len() + 1);
                bytes.push(0);
                bytes.extend_from_slice(name);
                SockAddr::unix(OsStr::from_bytes(&bytes))
            }
            UnixAddr::Unnamed => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix socket has no address to send to",
            )),
        }
    }

    /// The address a `sockaddr_un` holds (`None` for another family).
    pub fn from_sockaddr(addr: &SockAddr) -> Option<UnixAddr> {
        if !addr.is_unix() {
            return None;
        }
        if addr.is_unnamed() {
            return Some(UnixAddr::Unnamed);
        }
        if let Some(name) = addr.as_abstract_namespace() {
            return Some(UnixAddr::abstract_name(name));
        }
        let path = addr.as_pathname()?.as_os_str().as_bytes();
        // The kernel reports a path with its NUL; a peer may have bound
        // one with more: the name ends at the first.
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        Some(UnixAddr::path(&path[..end]))
    }

    /// What a sealed datagram to this address is bound to: an abstract
    /// name as it is, a path as the socket file's canonical path (so
    /// `./x.sock`, `x.sock` and a symbolic link to it are one destination;
    /// a path that does not resolve is taken as written). `None` when
    /// unnamed.
    pub fn seal_dest(&self) -> Option<SealDest> {
        match self {
            UnixAddr::Path(path) => Some(match std::fs::canonicalize(OsStr::from_bytes(path)) {
                Ok(real) => SealDest::unix_path(real.as_os_str().as_bytes()),
                Err(_) => SealDest::unix_path(path),
            }),
            UnixAddr::Abstract(name) => Some(SealDest::unix_abstract(name)),
            UnixAddr::Unnamed => None,
        }
    }
}

impl PeerAddr {
    /// The IP address and port, for an IP peer.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Inet(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }

    /// The Unix-domain address, for a Unix peer.
    pub fn unix(&self) -> Option<&UnixAddr> {
        match self {
            PeerAddr::Unix(addr) => Some(addr),
            PeerAddr::Inet(_) => None,
        }
    }

    /// True for a Unix-domain peer.
    pub fn is_unix(&self) -> bool {
        matches!(self, PeerAddr::Unix(_))
    }

    /// True for a Unix-domain socket without a name: nothing can answer it.
    pub fn is_unnamed(&self) -> bool {
        matches!(self, PeerAddr::Unix(UnixAddr::Unnamed))
    }

    /// The address with an IPv4-mapped IPv6 address turned back into the
    /// IPv4 one it stands for ([`super::addr::unmapped`]).
    pub fn unmapped(self) -> PeerAddr {
        match self {
            PeerAddr::Inet(addr) => PeerAddr::Inet(super::addr::unmapped(addr)),
            unix => unix,
        }
    }

    /// The address a socket address holds (`None` for a family udpmsg
    /// does not use). One of no bytes is what the kernel reports for a
    /// sender that has no address: an unnamed Unix socket.
    pub fn from_sockaddr(addr: &SockAddr) -> Option<PeerAddr> {
        if addr.len() == 0 {
            return Some(PeerAddr::Unix(UnixAddr::Unnamed));
        }
        match addr.as_socket() {
            Some(inet) => Some(PeerAddr::Inet(inet)),
            None => UnixAddr::from_sockaddr(addr).map(PeerAddr::Unix),
        }
    }

    /// The address as the kernel takes it; an unnamed Unix address cannot
    /// be one (`InvalidInput`).
    pub fn to_sockaddr(&self) -> io::Result<SockAddr> {
        match self {
            PeerAddr::Inet(addr) => Ok(SockAddr::from(*addr)),
            PeerAddr::Unix(addr) => addr.to_sockaddr(),
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        PeerAddr::Inet(addr)
    }
}

impl From<&PeerAddr> for PeerAddr {
    fn from(addr: &PeerAddr) -> Self {
        addr.clone()
    }
}

impl From<UnixAddr> for PeerAddr {
    fn from(addr: UnixAddr) -> Self {
        PeerAddr::Unix(addr)
    }
}

impl From<&PeerAddr> for SealDest {
    /// See [`UnixAddr::seal_dest`]; an unnamed address (never a
    /// destination) binds to the abstract name of no bytes.
    fn from(addr: &PeerAddr) -> Self {
        match addr {
            PeerAddr::Inet(addr) => SealDest::from(*addr),
            PeerAddr::Unix(unix) => unix
                .seal_dest()
                .unwrap_or_else(|| SealDest::unix_abstract(b"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_addresses_go_through_sockaddr_unchanged() {
        for addr in [
            UnixAddr::path(b"/tmp/x.sock"),
            UnixAddr::path(b"rel.sock"),
            UnixAddr::abstract_name(b"name"),
            UnixAddr::abstract_name(b"a\0b"),
        ] {
            let sock = addr.to_sockaddr().expect("sockaddr");
            assert_eq!(UnixAddr::from_sockaddr(&sock), Some(addr));
        }
        assert!(UnixAddr::Unnamed.to_sockaddr().is_err());
        let inet: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let sock = PeerAddr::from(inet).to_sockaddr().unwrap();
        assert_eq!(PeerAddr::from_sockaddr(&sock), Some(PeerAddr::Inet(inet)));
    }

    #[test]
    fn a_path_is_bound_by_its_canonical_form() {
        let dir = std::env::temp_dir().join(format!("udpmsg-peer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s");
        std::fs::write(&file, b"").unwrap();
        let link = dir.join("l");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let real = file.canonicalize().unwrap();
        let by_link = UnixAddr::path(link.as_os_str().as_bytes()).seal_dest();
        let dotted = dir.join(".").join("s");
        let by_dots = UnixAddr::path(dotted.as_os_str().as_bytes()).seal_dest();
        let want = Some(SealDest::unix_path(real.as_os_str().as_bytes()));
        assert_eq!(by_link, want);
        assert_eq!(by_dots, want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
