//! Host and port arguments: every form a socket user expects, parsed without
//! touching the network, resolved only when a name needs it.

use super::peer::{MAX_UNIX_NAME, PeerAddr, UnixAddr};
use crate::util::words::IoWords;
use std::ffi::CString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// The port every subcommand uses unless told otherwise (not in IANA's
/// registry of well-known services; override with `--port` or `UDPMSG_PORT`).
pub const DEFAULT_PORT: u16 = 47474;

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

/// Which address family a command may use: `-4`, `-6`, or either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

impl Family {
    /// The family `-4` / `-6` ask for (clap refuses both at once).
    pub fn from_flags(v4: bool, v6: bool) -> Family {
        match (v4, v6) {
            (true, _) => Family::V4,
            (false, true) => Family::V6,
            (false, false) => Family::Any,
        }
    }

    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    /// Whether an address of `ip`'s family may be used.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    /// Both restrictions at once: `None` when they exclude each other.
    pub fn and(self, other: Family) -> Option<Family> {
        match (self, other) {
            (Family::Any, f) | (f, Family::Any) => Some(f),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }

    /// `IPv4`, `IPv6`, or `IPv4 or IPv6`.
    pub fn words(self) -> &'static str {
        match self {
            Family::Any => "IPv4 or IPv6",
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// The option that asks for this family (`-4` or `-6`).
    pub fn flag(self) -> &'static str {
        match self {
            Family::Any => "",
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }

    fn ai_family(self) -> libc::c_int {
        match self {
            Family::Any => libc::AF_UNSPEC,
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        }
    }
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

/// Why an address or port argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrError {
    /// The argument is not any accepted host form.
    BadHost { arg: String, why: &'static str },
    /// `%scope` names no interface.
    BadScope { scope: String },
    /// A port that is neither 1..=65535 nor a known UDP service.
    BadPort { arg: String },
    /// Port 0 cannot be a destination.
    ZeroPort,
    /// The resolver answered that the name has no address.
    UnknownHost { host: String },
    /// The resolver could not be asked, or did not answer (`EAI_AGAIN`):
    /// the name may well exist.
    ResolverUnreachable { host: String },
    /// The resolver failed in some other way (`why`, its own words).
    ResolverFailed { host: String, why: String },
    /// Only `family` is allowed, as `by` asks (`-4`, `-6`, or a `--from`
    /// address), and the argument is an address of the other family.
    WrongFamily {
        arg: String,
        family: Family,
        by: String,
    },
    /// The resolver knows the name, but no address of `family`.
    NoAddressOfFamily { host: String, family: Family },
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::BadHost { arg, why } => write!(f, "bad host '{arg}': {why}"),
            AddrError::BadScope { scope } => {
                write!(f, "bad IPv6 scope '%{scope}': no such interface")
            }
            AddrError::BadPort { arg } => write!(
                f,
                "bad port '{arg}': not a number from 0 to 65535 nor a UDP service name"
            ),
            AddrError::ZeroPort => write!(f, "port 0 is not a valid destination"),
            AddrError::UnknownHost { host } => {
                write!(
                    f,
                    "unknown host '{host}': the name resolver knows no address for it"
                )
            }
            AddrError::ResolverUnreachable { host } => write!(
                f,
                "cannot look up '{host}': the name resolver cannot be reached (temporary failure in name resolution)"
            ),
            AddrError::ResolverFailed { host, why } => write!(f, "cannot look up '{host}': {why}"),
            AddrError::WrongFamily { arg, family, by } => write!(
                f,
                "'{arg}' is not an {} address, and {by} asks for one",
                family.words()
            ),
            AddrError::NoAddressOfFamily { host, family } => write!(
                f,
                "unknown host '{host}': the name resolver knows no {} address for it",
                family.words()
            ),
        }
    }
}

impl std::error::Error for AddrError {}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn host(arg: &str) -> HostPort {
        parse_host(arg).unwrap()
    }

    #[test]
    fn parses_every_host_form() {
        assert_eq!(host("").host, Host::Any);
        assert_eq!(host("<broadcast>").host, Host::Broadcast);
        assert_eq!(
            host("2130706433").host,
            Host::Ip(Ipv4Addr::LOCALHOST.into(), 0)
        );
        assert_eq!(
            host("127.0.0.1").host,
            Host::Ip(Ipv4Addr::LOCALHOST.into(), 0)
        );
        assert_eq!(host("::1").host, Host::Ip(Ipv6Addr::LOCALHOST.into(), 0));
        assert_eq!(
            host("[::1]:99"),
            HostPort {
                host: Host::Ip(Ipv6Addr::LOCALHOST.into(), 0),
                port: Some(99)
            }
        );
        assert_eq!(
            host("fe80::1%7").host,
            Host::Ip("fe80::1".parse::<IpAddr>().unwrap(), 7)
        );
        assert_eq!(
            host("localhost:echo"),
            HostPort {
                host: Host::Name("localhost".into()),
                port: Some(7)
            }
        );
        assert_eq!(host(":5").port, Some(5));
    }

    #[test]
    fn rejects_bad_host_forms() {
        for arg in [
            "4294967296",
            "[::1",
            "[::1]x",
            "[1.2.3.4]",
            "a b",
            "fe80::1%nosuchif0",
            "host:",
            "host:99999",
            ":::x",
            "256.1.1.1",
            "256.1.1.1:80",
            "10.1",
            "010.0.0.1",
            "1.2.3.4.",
        ] {
            assert!(parse_host(arg).is_err(), "{arg} accepted");
        }
    }

    #[test]
    fn parses_unix_socket_arguments() {
        let unix = |arg: &str| parse_target(arg);
        assert_eq!(
            unix("unix:/run/x.sock"),
            Ok(Target::Unix(UnixAddr::path(b"/run/x.sock")))
        );
        assert_eq!(
            unix("unix:rel.sock"),
            Ok(Target::Unix(UnixAddr::path(b"rel.sock")))
        );
        assert_eq!(
            unix("unix:@name"),
            Ok(Target::Unix(UnixAddr::abstract_name(b"name")))
        );
        let longest = format!("unix:/{}", "x".repeat(MAX_UNIX_NAME - 1));
        assert!(unix(&longest).is_ok());
        let too_long = format!("unix:/{}", "x".repeat(MAX_UNIX_NAME));
        for arg in ["unix:", "unix:@", too_long.as_str(), "unix:/a\0b"] {
            assert!(unix(arg).is_err(), "{arg:?} accepted");
        }
        assert_eq!(parse_unix("unixhost:1"), None);
    }

    #[test]
    fn parses_ports_and_services() {
        assert_eq!(parse_port("7"), Ok(7));
        assert_eq!(parse_port("echo"), Ok(7));
        assert!(parse_port("65536").is_err());
        assert!(parse_port("no-such-service-x").is_err());
        assert!(parse_port("").is_err());
    }
}
