//! Host and port arguments: every form a socket user expects, parsed without
//! touching the network, resolved only when a name needs it.
//!
//! - here: the address family asked for ([`Family`]) and why an argument
//!   was refused ([`AddrError`]);
//! - `parse`: host, port, `@name` and `unix:` arguments, no network;
//! - `resolve`: parsed hosts to socket addresses (the system resolver).

mod parse;
mod resolve;
#[cfg(test)]
mod tests;

pub use parse::{
    Host, HostPort, Target, UNIX_PREFIX, parse_host, parse_port, parse_target, parse_unix,
};
pub use resolve::{Destination, resolve_bind, resolve_destination, resolve_source, unmapped};

use std::fmt;
use std::net::IpAddr;

/// The port every subcommand uses unless told otherwise (not in IANA's
/// registry of well-known services; override with `--port` or `UDPMSG_PORT`).
pub const DEFAULT_PORT: u16 = 47474;

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
