//! Parsing `<host>`, `host:port`, port, `@name` and `unix:` arguments:
//! every form a socket user expects, without touching the network.

use super::AddrError;
use crate::net::peer::{MAX_UNIX_NAME, UnixAddr};
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed `<host>` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `<broadcast>`: 255.255.255.255, needs SO_BROADCAST.
    Broadcast,
    /// `''`: all interfaces when binding, this host when sending.
    Any,
    /// A literal address (IPv6 with its scope id, 0 when none).
    Ip(IpAddr, u32),
    /// A name for the system resolver.
    Name(String),
}

/// A destination argument of `send` or `ping`: a host, a listener by
/// the name it answers discovery with, or a Unix-domain socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host, with the port it may carry.
    Host(HostPort),
    /// `@name`: the one listener whose discovery answers carry this name.
    Peer(String),
    /// `unix:/path` or `unix:@name` ([`parse_unix`]).
    Unix(UnixAddr),
}

/// The prefix of a Unix-domain socket argument.
pub const UNIX_PREFIX: &str = "unix:";

/// Parses `unix:/path/to/sock` (a socket file; any path, relative ones
/// too) or `unix:@name` (a Linux abstract name): `None` when `arg` does
/// not start with `unix:`, an error when what follows is no socket name.
pub fn parse_unix(arg: &str) -> Option<Result<UnixAddr, AddrError>> {
    let rest = arg.strip_prefix(UNIX_PREFIX)?;
    let bad = |why| {
        Err(AddrError::BadHost {
            arg: arg.to_string(),
            why,
        })
    };
    Some(match rest.strip_prefix('@') {
        Some("") => bad("'unix:@' must be followed by an abstract socket name"),
        Some(name) if name.len() > MAX_UNIX_NAME => bad("a Unix socket name is at most 107 bytes"),
        Some(name) => Ok(UnixAddr::abstract_name(name.as_bytes())),
        None if rest.is_empty() => bad("'unix:' must be followed by a socket path or @name"),
        None if rest.len() > MAX_UNIX_NAME => bad("a Unix socket path is at most 107 bytes"),
        None if rest.contains('\0') => bad("a NUL byte in a socket path"),
        None => Ok(UnixAddr::path(rest.as_bytes())),
    })
}

/// Parses a destination argument: `unix:...`, `@name`, or any `<host>`
/// form ([`parse_host`]). Never does DNS, never probes.
pub fn parse_target(arg: &str) -> Result<Target, AddrError> {
    if let Some(unix) = parse_unix(arg) {
        return unix.map(Target::Unix);
    }
    match arg.strip_prefix('@') {
        Some("") => Err(AddrError::BadHost {
            arg: arg.to_string(),
            why: "'@' must be followed by a listener's name",
        }),
        Some(name) if name.len() > crate::wire::MAX_NAME => Err(AddrError::BadHost {
            arg: arg.to_string(),
            why: "listener names are at most 255 bytes",
        }),
        Some(name) => Ok(Target::Peer(name.to_string())),
        None => parse_host(arg).map(Target::Host),
    }
}

/// A `<host>` argument with the port it may carry (`host:port`, `[v6]:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: Host,
    pub port: Option<u16>,
}

/// Parses a `<host>` argument. Never does DNS.
pub fn parse_host(arg: &str) -> Result<HostPort, AddrError> {
    let bad = |why| AddrError::BadHost {
        arg: arg.to_string(),
        why,
    };
    if arg.is_empty() {
        return Ok(HostPort {
            host: Host::Any,
            port: None,
        });
    }
    if arg == "<broadcast>" {
        return Ok(HostPort {
            host: Host::Broadcast,
            port: None,
        });
    }
    if arg.bytes().all(|b| b.is_ascii_digit()) {
        // A bare integer is a 32-bit IPv4 address in host byte order, as
        // inet_aton accepts it (2130706433 is 127.0.0.1).
        let n: u32 = arg
            .parse()
            .map_err(|_| bad("a bare number must fit in 32 bits (an IPv4 address)"))?;
        return Ok(HostPort {
            host: Host::Ip(IpAddr::V4(Ipv4Addr::from(n)), 0),
            port: None,
        });
    }
    if let Some(rest) = arg.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("'[' without a closing ']'"))?;
        let (ip, scope) = parse_v6(inside).ok_or_else(|| bad("not an IPv6 address inside [ ]"))?;
        let scope = scope_id(scope)?;
        let port = match after {
            "" => None,
            p => Some(parse_port(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected ':port' after ']'"))?,
            )?),
        };
        return Ok(HostPort {
            host: Host::Ip(IpAddr::V6(ip), scope),
            port,
        });
    }
    match arg.matches(':').count() {
        0 => Ok(HostPort {
            host: host_or_name(arg)?,
            port: None,
        }),
        1 => {
            let (host, port) = arg.split_once(':').ok_or_else(|| bad("bad host:port"))?;
            let host = if host.is_empty() {
                Host::Any
            } else {
                parse_host(host)?.host
            };
            Ok(HostPort {
                host,
                port: Some(parse_port(port)?),
            })
        }
        _ => {
            let (ip, scope) = parse_v6(arg).ok_or_else(|| {
                bad("not an IPv6 address (write [addr]:port to give a port with IPv6)")
            })?;
            Ok(HostPort {
                host: Host::Ip(IpAddr::V6(ip), scope_id(scope)?),
                port: None,
            })
        }
    }
}

fn host_or_name(arg: &str) -> Result<Host, AddrError> {
    if let Ok(v4) = arg.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4), 0));
    }
    // Digits and dots that are not a dotted quad (256.1.1.1, 10.1, 010.0.0.1)
    // are a mistyped address, not a name: refused here, before any lookup
    // (the resolver would take 10.1 for 10.0.0.1, and 010 as octal).
    if arg.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(AddrError::BadHost {
            arg: arg.to_string(),
            why: "not an IPv4 address (four numbers from 0 to 255, like 192.0.2.7)",
        });
    }
    let valid = arg.len() <= 253
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err(AddrError::BadHost {
            arg: arg.to_string(),
            why: "not an address, and not a host name (letters, digits, '-', '.', '_')",
        });
    }
    Ok(Host::Name(arg.to_string()))
}

fn parse_v6(s: &str) -> Option<(Ipv6Addr, Option<&str>)> {
    let (addr, scope) = match s.split_once('%') {
        Some((a, sc)) => (a, Some(sc)),
        None => (s, None),
    };
    addr.parse::<Ipv6Addr>().ok().map(|ip| (ip, scope))
}

fn scope_id(scope: Option<&str>) -> Result<u32, AddrError> {
    let Some(scope) = scope else { return Ok(0) };
    if let Ok(n) = scope.parse::<u32>() {
        return Ok(n);
    }
    let bad = || AddrError::BadScope {
        scope: scope.to_string(),
    };
    let name = CString::new(scope).map_err(|_| bad())?;
    // SAFETY: `name` is a valid NUL-terminated string for the call's duration.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 { Err(bad()) } else { Ok(index) }
}

/// Parses a port: a number (0 allowed; destinations check it) or a service
/// name from the system's services database (`echo` is 7/udp). The services
/// database is read only for names.
pub fn parse_port(arg: &str) -> Result<u16, AddrError> {
    let bad = || AddrError::BadPort {
        arg: arg.to_string(),
    };
    if arg.is_empty() {
        return Err(bad());
    }
    if arg.bytes().all(|b| b.is_ascii_digit()) {
        return arg.parse::<u16>().map_err(|_| bad());
    }
    let name = CString::new(arg).map_err(|_| bad())?;
    // getservbyname returns static storage: one caller at a time.
    static SERVICES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _lock = SERVICES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // SAFETY: both arguments are valid C strings; getservbyname returns a
    // pointer to static storage or NULL, read while the lock is held.
    unsafe {
        let entry = libc::getservbyname(name.as_ptr(), c"udp".as_ptr());
        if entry.is_null() {
            return Err(bad());
        }
        Ok(u16::from_be((*entry).s_port as u16))
    }
}
