//! What a sealed datagram is bound to: its destination, as the 18 bytes
//! of associated data after the header (docs/PROTOCOL.md section 9), for
//! an IP address and port or a Unix-domain socket.

use crate::wire::SEALED_DEST_LEN;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// blake3 context of a Unix-domain destination's 16 address bytes (never
/// change: it is the protocol).
pub const UNIX_DEST_CONTEXT: &str = "udpmsg 2026-11-21 unix destination v1";
/// Kind byte before a socket file's path in what [`UNIX_DEST_CONTEXT`] hashes.
pub const UNIX_PATH_KIND: u8 = 0x01;
/// Kind byte before an abstract name in what [`UNIX_DEST_CONTEXT`] hashes.
pub const UNIX_ABSTRACT_KIND: u8 = 0x02;

/// A destination as a sealed datagram's associated data holds it: 16
/// address bytes and a port, u16 LE. Both ends compute it; it is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealDest([u8; SEALED_DEST_LEN]);

impl SealDest {
    /// A Unix-domain socket file, by its canonical absolute path (symlinks
    /// resolved, as `realpath(3)` gives it; no NUL): the first 16 bytes of
    /// `blake3::derive_key(UNIX_DEST_CONTEXT, [0x01] + path)`, port 0.
    pub fn unix_path(canonical: &[u8]) -> Self {
        Self::unix(UNIX_PATH_KIND, canonical)
    }

    /// A Linux abstract socket name (the bytes after the leading NUL): as
    /// [`Self::unix_path`] with kind byte 0x02.
    pub fn unix_abstract(name: &[u8]) -> Self {
        Self::unix(UNIX_ABSTRACT_KIND, name)
    }

    fn unix(kind: u8, name: &[u8]) -> Self {
        let hash = blake3::Hasher::new_derive_key(UNIX_DEST_CONTEXT)
            .update(&[kind])
            .update(name)
            .finalize();
        let mut dest = [0u8; SEALED_DEST_LEN];
        // No IP destination has port 0 (udpmsg refuses to send to it), so
        // a Unix destination never encodes like an IP one.
        dest[..16].copy_from_slice(&hash.as_bytes()[..16]);
        SealDest(dest)
    }

    /// The 18 bytes.
    pub fn bytes(&self) -> &[u8; SEALED_DEST_LEN] {
        &self.0
    }
}

impl From<SocketAddr> for SealDest {
    /// The address as 16 bytes (an IPv4 address as `::ffff:a.b.c.d`; the
    /// unspecified address stands for the loopback address of its family,
    /// where the kernel delivers it; an IPv6 scope is not part of it) and
    /// the port, u16 LE.
    fn from(dest: SocketAddr) -> Self {
        let ip = match dest.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) if v6.is_unspecified() => Ipv6Addr::LOCALHOST,
            IpAddr::V6(v6) => v6,
        };
        let mut out = [0u8; SEALED_DEST_LEN];
        out[..16].copy_from_slice(&ip.octets());
        out[16..].copy_from_slice(&dest.port().to_le_bytes());
        SealDest(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python (the blake3 package's
    /// `derive_key_context`) from docs/PROTOCOL.md section 9.
    #[test]
    fn unix_destinations_match_an_independent_implementation() {
        let hex = |d: SealDest| crate::util::hex::Hex(d.bytes()).to_string();
        assert_eq!(
            hex(SealDest::unix_path(b"/run/udpmsg.sock")),
            UNIX_PATH_GOLDEN
        );
        assert_eq!(
            hex(SealDest::unix_abstract(b"udpmsg")),
            UNIX_ABSTRACT_GOLDEN
        );
    }

    const UNIX_PATH_GOLDEN: &str = "59ad43432f94796bfb6d99e5138a45120000";
    const UNIX_ABSTRACT_GOLDEN: &str = "6a1a301c35130b1714857a1fa862eefa0000";

    #[test]
    fn a_path_and_an_abstract_name_of_the_same_bytes_differ() {
        assert_ne!(SealDest::unix_path(b"x"), SealDest::unix_abstract(b"x"));
        assert_ne!(SealDest::unix_path(b"/a"), SealDest::unix_path(b"/b"));
    }
}
