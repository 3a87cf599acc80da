//! Resolving parsed hosts to socket addresses: destinations, bind and
//! source addresses, asking the system resolver only when a name needs it.

use super::{AddrError, Family, Host, HostPort};
use crate::net::peer::PeerAddr;
use crate::util::words::IoWords;
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Where a `send` (or `ping`) goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub addr: PeerAddr,
    /// The socket needs SO_BROADCAST (`<broadcast>`).
    pub broadcast: bool,
}

/// Turns a parsed host into a destination address of `family`, asking the
/// system resolver only for names, and whether it is `<broadcast>` (the
/// socket needs SO_BROADCAST).
pub fn resolve_destination(
    host: &Host,
    port: u16,
    family: Family,
) -> Result<(SocketAddr, bool), AddrError> {
    if port == 0 {
        return Err(AddrError::ZeroPort);
    }
    let (addr, broadcast) = match host {
        Host::Broadcast => {
            let addr = SocketAddr::new(Ipv4Addr::BROADCAST.into(), port);
            (checked(addr, "<broadcast>", family)?, true)
        }
        // The kernel delivers to 0.0.0.0 (::) as to this host.
        Host::Any => (SocketAddr::new(unspecified(family), port), false),
        Host::Ip(ip, scope) => {
            let addr = with_scope(*ip, port, *scope);
            (checked(addr, &ip.to_string(), family)?, false)
        }
        Host::Name(name) => (resolve_name(name, port, family)?, false),
    };
    Ok((addr, broadcast))
}

/// The address to bind a listener to: `''` is every interface of
/// `family` (`[::]` stands for both).
pub fn resolve_bind(host: &Host, port: u16, family: Family) -> Result<SocketAddr, AddrError> {
    Ok(match host {
        Host::Any => match family {
            Family::V4 => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
            Family::Any | Family::V6 => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
        },
        Host::Broadcast => checked(
            SocketAddr::new(Ipv4Addr::BROADCAST.into(), port),
            "<broadcast>",
            family,
        )?,
        Host::Ip(ip, scope) => checked(with_scope(*ip, port, *scope), &ip.to_string(), family)?,
        Host::Name(name) => resolve_name(name, port, family)?,
    })
}

/// The source address `--from` asks for, for a destination of `family`
/// (which must be V4 or V6): `''` (`:port`) is any address of it, port 0
/// (none given) a port the kernel picks.
pub fn resolve_source(from: &HostPort, family: Family, arg: &str) -> Result<SocketAddr, AddrError> {
    let port = from.port.unwrap_or(0);
    match &from.host {
        Host::Any => Ok(SocketAddr::new(unspecified(family), port)),
        Host::Broadcast => Err(AddrError::BadHost {
            arg: arg.to_string(),
            why: "a datagram cannot come from a broadcast address",
        }),
        Host::Ip(ip, scope) => checked(with_scope(*ip, port, *scope), arg, family),
        Host::Name(name) => resolve_name(name, port, family),
    }
}

/// The unspecified address of `family` (IPv4 for either).
fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::V6 => Ipv6Addr::UNSPECIFIED.into(),
        Family::Any | Family::V4 => Ipv4Addr::UNSPECIFIED.into(),
    }
}

/// `addr`, if `family` allows it.
fn checked(addr: SocketAddr, arg: &str, family: Family) -> Result<SocketAddr, AddrError> {
    if family.allows(addr.ip()) {
        Ok(addr)
    } else {
        Err(AddrError::WrongFamily {
            arg: arg.to_string(),
            family,
            by: family.flag().to_string(),
        })
    }
}

fn with_scope(ip: IpAddr, port: u16, scope: u32) -> SocketAddr {
    match ip {
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)),
        IpAddr::V4(_) => SocketAddr::new(ip, port),
    }
}

fn resolve_name(name: &str, port: u16, family: Family) -> Result<SocketAddr, AddrError> {
    let addrs = lookup(name, port, family)?;
    // Prefer IPv4, as most LAN peers listen there; fall back to the first.
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| match family {
            Family::Any => AddrError::UnknownHost {
                host: name.to_string(),
            },
            family => AddrError::NoAddressOfFamily {
                host: name.to_string(),
                family,
            },
        })
}

/// glibc's "the host has no address of the family asked for" (defined
/// only under `_GNU_SOURCE`, so not in `libc`).
const EAI_ADDRFAMILY: libc::c_int = -9;

/// The addresses of `family` the system resolver (`getaddrinfo`) gives for
/// `name`, with `port`. Called directly rather than through `ToSocketAddrs`, which turns
/// every failure into the same error: here "no such name" (`EAI_NONAME`)
/// and "no answer" (`EAI_AGAIN`) must be told apart.
fn lookup(name: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>, AddrError> {
    let host = || name.to_string();
    let c_name = CString::new(name).map_err(|_| AddrError::BadHost {
        arg: host(),
        why: "a NUL byte in a host name",
    })?;
    // SAFETY: an all-zero addrinfo is a valid value (null pointers, zeros).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family.ai_family();
    hints.ai_socktype = libc::SOCK_DGRAM;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `c_name` is NUL-terminated, the service may be null, `hints`
    // and `list` are valid for the call; on success `list` is freed below.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Err(match rc {
            // With a family asked for, glibc says EAI_NONAME (or
            // EAI_ADDRFAMILY) for a name that has only the other one.
            libc::EAI_NONAME | libc::EAI_NODATA | EAI_ADDRFAMILY if family != Family::Any => {
                AddrError::NoAddressOfFamily {
                    host: host(),
                    family,
                }
            }
            libc::EAI_NONAME | libc::EAI_NODATA => AddrError::UnknownHost { host: host() },
            libc::EAI_AGAIN => AddrError::ResolverUnreachable { host: host() },
            libc::EAI_SYSTEM => AddrError::ResolverFailed {
                host: host(),
                why: IoWords(&std::io::Error::last_os_error()).to_string(),
            },
            _ => AddrError::ResolverFailed {
                host: host(),
                // SAFETY: gai_strerror returns a static NUL-terminated string.
                why: unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) }
                    .to_string_lossy()
                    .into_owned(),
            },
        });
    }
    let mut addrs = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getaddrinfo returned, not
        // freed yet; its `ai_addr` holds `ai_addrlen` bytes of the family
        // `ai_family` names, so the casts below read inside it.
        unsafe {
            let ai = &*entry;
            let len = ai.ai_addrlen as usize;
            if ai.ai_family == libc::AF_INET && len >= std::mem::size_of::<libc::sockaddr_in>() {
                let sin = &*(ai.ai_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                addrs.push(SocketAddr::new(ip.into(), port));
            } else if ai.ai_family == libc::AF_INET6
                && len >= std::mem::size_of::<libc::sockaddr_in6>()
            {
                let sin6 = &*(ai.ai_addr as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                addrs.push(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    0,
                    sin6.sin6_scope_id,
                )));
            }
            entry = ai.ai_next;
        }
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(addrs)
}

/// The address with an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) turned
/// back into the IPv4 one it stands for; any other address as it is.
pub fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}
