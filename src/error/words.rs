//! The words each error is said in (its `Display`), with hints that
//! name only options the failed command has.

use super::{Error, Sending, bad_hex_line};
use crate::commands::{self, files::FileFailure};
use crate::net::addr::AddrError;
use crate::net::{PeerAddr, UnixAddr};
use crate::output::fmt_addr;
use crate::seal::{KeyError, WriteKeyError};
use crate::util::words::{IoWords, plural};
use std::fmt;

/// Most characters of a variable's value an error line shows.
const MAX_SHOWN_VALUE: usize = 64;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(text) => write!(f, "{text}"),
            Error::Addr(e) => write!(f, "{e}"),
            Error::LinesRefused { refused, sent } => write!(
                f,
                "{refused} {} too large for one datagram {} not sent ({sent} sent)",
                plural(*refused, "line", "lines"),
                plural(*refused, "was", "were")
            ),
            Error::LinesNotSent {
                failed,
                refused,
                sent,
            } => {
                write!(
                    f,
                    "{failed} {} could not be sent",
                    plural(*failed, "line", "lines")
                )?;
                if *refused > 0 {
                    write!(
                        f,
                        " and {refused} {} too large for one datagram",
                        plural(*refused, "was", "were")
                    )?;
                }
                write!(f, " ({sent} sent)")
            }
            Error::PortInUse {
                port,
                shared: false,
            } => write!(f, "port {port} is already in use; pick another with --port"),
            Error::PortInUse { port, shared: true } => write!(
                f,
                "port {port} is already in use by a socket that does not share it; pick another with --port"
            ),
            Error::Bind { addr, source } => {
                write!(f, "cannot listen on {}: ", fmt_addr(addr))?;
                match (source.raw_os_error(), addr.is_unix()) {
                    (Some(libc::EACCES), false) => {
                        write!(f, "permission denied (ports below 1024 need privileges)")
                    }
                    (Some(libc::EADDRNOTAVAIL), false) => {
                        write!(f, "no interface on this host has that address")
                    }
                    _ => write!(f, "{}", IoWords(source)),
                }
            }
            Error::UnixInUse { addr } => {
                // An abstract socket has a name, not a path.
                let other = match addr {
                    PeerAddr::Unix(UnixAddr::Abstract(_)) => "name",
                    _ => "path",
                };
                write!(
                    f,
                    "{} is already in use (a listener answers there); stop it, or pick another {other}",
                    fmt_addr(addr)
                )
            }
            Error::NotASocket { addr, kind } => {
                let path = fmt_addr(addr).to_string();
                let path = path.strip_prefix("unix:").unwrap_or(&path);
                let kind = kind.map_or("a regular file".to_string(), |k| k.to_string());
                write!(
                    f,
                    "{path} is {kind}, not a socket; listen replaces only a stale socket file (one nobody answers on), never anything else"
                )
            }
            Error::Command { dest, by, error } => command_words(f, dest, *by, error),
            Error::Output(e) => write!(f, "cannot write output: {}", IoWords(e)),
            Error::Io { doing, source } => write!(f, "{doing}: {}", IoWords(source)),
            Error::Key(e) => write!(f, "{e}"),
            Error::Keygen { path, source } => match source {
                WriteKeyError::Exists => {
                    write!(f, "{path} already exists; use --force to replace it")
                }
                WriteKeyError::NotRegular(kind) => write!(
                    f,
                    "{path} is {kind}, not a regular file; keygen replaces only regular files, even with --force"
                ),
                WriteKeyError::Io(e) => write!(f, "cannot write key file {path}: {}", IoWords(e)),
            },
            Error::Env { var, value, error } => {
                let mut shown = crate::output::escape::escaped(value);
                if let Some((cut, _)) = shown.char_indices().nth(MAX_SHOWN_VALUE) {
                    shown.truncate(cut);
                    shown.push('…');
                }
                write!(f, "{var}='{shown}': ")?;
                match &**error {
                    Error::Addr(AddrError::BadPort { .. }) => write!(
                        f,
                        "not a port (a number up to 65535, or a UDP service name)"
                    ),
                    Error::Key(KeyError::Read { source, .. }) => {
                        write!(f, "cannot read key file: {}", IoWords(source))
                    }
                    Error::Key(KeyError::Malformed { why, .. }) => write!(
                        f,
                        "malformed key file: {why} (expected 64 hex digits, as 'udpmsg keygen' writes)"
                    ),
                    other => write!(f, "{other}"),
                }
            }
            Error::NameTooLong { len, max } => {
                write!(f, "name too long: {len} bytes, at most {max}")
            }
            Error::BadHex { what, error } => write!(f, "{what} is not hex: {error}"),
            Error::StdinTooLarge { max } => write!(
                f,
                "stdin holds more than {max} bytes, but at most {max} fit in one UDP datagram to this address (--lines sends one datagram per line)"
            ),
            Error::UnknownInterface { name, existing } => write!(
                f,
                "no interface '{name}' on this host; it has: {}",
                existing.join(", ")
            ),
            Error::NoSuchPeer { unprobed: true, .. } => write!(
                f,
                "no interface to look for listeners on: none is up with an IPv4 broadcast or IPv6 link-local address (use --interface lo for this machine)"
            ),
            Error::NoSuchPeer {
                name,
                port,
                waited,
                heard,
                ..
            } => {
                let name = crate::output::escape::escaped(name);
                write!(
                    f,
                    "no listener named '{name}' answered on port {port} within {}",
                    humantime::format_duration(*waited)
                )?;
                if heard.is_empty() {
                    write!(f, "; no listener answered at all")
                } else {
                    let heard: Vec<String> = heard
                        .iter()
                        .map(|n| format!("'{}'", crate::output::escape::escaped(n)))
                        .collect();
                    write!(f, "; these did: {}", heard.join(", "))
                }
            }
            Error::AmbiguousPeer { name, addrs } => {
                let name = crate::output::escape::escaped(name);
                let each: Vec<String> = addrs
                    .iter()
                    .map(|a| {
                        a.iter()
                            .map(|a| fmt_addr(*a).to_string())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    })
                    .collect();
                write!(
                    f,
                    "{} listeners are named '{name}': {}; give an address instead",
                    addrs.len(),
                    each.join("; ")
                )
            }
            Error::Source { addr, source } => {
                write!(f, "cannot send from {}: ", fmt_addr(*addr))?;
                match source.raw_os_error() {
                    Some(libc::EADDRINUSE) => write!(f, "that port is already in use"),
                    Some(libc::EADDRNOTAVAIL) => {
                        write!(f, "no interface on this host has that address")
                    }
                    Some(libc::EACCES) => {
                        write!(f, "permission denied (ports below 1024 need privileges)")
                    }
                    _ => write!(f, "{}", IoWords(source)),
                }
            }
            Error::Join { group, failures } => {
                if failures.is_empty() {
                    return write!(
                        f,
                        "cannot join {group}: no interface but loopback is up with an address of its family (name one with --interface, lo too)"
                    );
                }
                let each: Vec<String> = failures
                    .iter()
                    .map(|(i, e)| format!("on {i}: {}", IoWords(e)))
                    .collect();
                write!(f, "cannot join {group} {}", each.join("; "))
            }
        }
    }
}

/// Words for a failed send, with hints only for options `by` has.
fn command_words(
    f: &mut fmt::Formatter<'_>,
    dest: &PeerAddr,
    by: Sending,
    error: &commands::Error,
) -> fmt::Result {
    match error {
        commands::Error::NotListening => {
            write!(f, "nothing is listening on {}", fmt_addr(dest))
        }
        commands::Error::TooLarge { len, max } => write!(
            f,
            "message too large: {len} bytes, but at most {max} fit in one UDP datagram to this address"
        ),
        commands::Error::Refused { reason } => write!(
            f,
            "{} refused the messages: {}",
            fmt_addr(dest),
            commands::refusal_words(*reason)
        ),
        commands::Error::Input(e) => match bad_hex_line(e) {
            Some(bad) => write!(f, "{bad}"),
            None => write!(f, "cannot read stdin: {}", IoWords(e)),
        },
        commands::Error::Output(e) => write!(f, "cannot write output: {}", IoWords(e)),
        commands::Error::File(e @ FileFailure::Read { .. }) => write!(f, "{}: {e}", e.file()),
        commands::Error::File(e) => write!(f, "{} to {}: {e}", e.file(), fmt_addr(dest)),
        commands::Error::Io(source) => {
            write!(f, "cannot send to {}: ", fmt_addr(dest))?;
            let multicast = dest.inet().is_some_and(|a| a.ip().is_multicast());
            match source.raw_os_error() {
                Some(libc::EACCES | libc::EPERM) if dest.is_unix() => write!(
                    f,
                    "permission denied (the socket file's mode, or its directory's, does not let you write to it)"
                ),
                Some(libc::EACCES) => match by {
                    Sending::Send => write!(
                        f,
                        "permission denied (a broadcast address needs --broadcast, or use '<broadcast>')"
                    ),
                    Sending::SendAck => write!(
                        f,
                        "permission denied (is it a broadcast address? --ack needs one listener)"
                    ),
                    Sending::Ping => write!(
                        f,
                        "permission denied (is it a broadcast address? ping needs one listener)"
                    ),
                },
                Some(libc::ENETUNREACH) if multicast => write!(
                    f,
                    "network unreachable (no route to the group; name the interface with --interface)"
                ),
                // '<broadcast>' leaves by the default route unless bound
                // to an interface.
                Some(libc::ENETUNREACH)
                    if dest.inet().is_some_and(|a| match a.ip() {
                        std::net::IpAddr::V4(ip) => ip.is_broadcast(),
                        std::net::IpAddr::V6(_) => false,
                    }) =>
                {
                    write!(
                        f,
                        "network unreachable (no default route for 255.255.255.255; name the interface with --interface)"
                    )
                }
                Some(libc::EMSGSIZE) => write!(f, "message too long for the path"),
                _ => write!(f, "{}", IoWords(source)),
            }
        }
    }
}
