//! Where `send` and `ping` go, and from where: the destination argument
//! (a host, `@name`, found by a discovery scan, or a Unix-domain socket),
//! `-4`/`-6`, `--from` and `--interface`, turned into a destination and
//! the options of the socket that sends to it.

use super::pick_port;
use crate::cli::{FamilyArgs, ReachArgs};
use crate::commands::discover::{self, Peer};
use crate::commands::resolve::{self, NothingKnown, Resolved};
use crate::error::Error;
use crate::net::addr::{self, AddrError, Destination, Family, Host, Target};
use crate::net::{PeerAddr, SendOptions, UnixAddr, iface};
use crate::seal::Key;
use std::net::SocketAddr;

/// A destination and how to reach it.
#[derive(Debug)]
pub(super) struct Reach {
    pub dest: Destination,
    /// The destination as messages show it (IPv4-mapped unmapped).
    pub shown: PeerAddr,
    /// How the sending socket is set up (`--from`, `--interface`; the
    /// caller adds its own: TTL, loop, arrival information).
    pub options: SendOptions,
    /// A port was named (`host:port`, `--port`, `UDPMSG_PORT`).
    pub port_named: bool,
}

/// Resolves `host` (with `--port`'s `port`) and the options of `reach`
/// and `family`. A `@name` is looked up by a discovery scan on `--port`,
/// sealed with `key` when there is one (then only key holders answer).
pub(super) fn reach(
    host: &str,
    port: Option<&str>,
    reach: &ReachArgs,
    family: FamilyArgs,
    key: Option<&Key>,
) -> Result<Reach, Error> {
    let flags = Family::from_flags(family.ipv4, family.ipv6);
    let target = addr::parse_target(host)?;
    if reach.resolve_timeout.is_some() && !matches!(target, Target::Peer(_)) {
        return Err(not_a_name("--resolve-timeout", host));
    }
    let mut family = flags;
    let interface = named_interface(reach.interface.as_deref())?;
    let from = reach
        .from
        .as_deref()
        .map(|arg| addr::parse_host(arg).map(|hp| (arg, hp)))
        .transpose()?;
    // A literal source address decides the family, as -4/-6 do.
    let mut by_from = None;
    if let Some((arg, from)) = &from
        && let Host::Ip(ip, _) = from.host
    {
        family = family.and(Family::of(ip)).ok_or(AddrError::WrongFamily {
            arg: arg.to_string(),
            family,
            by: family.flag().to_string(),
        })?;
        if flags == Family::Any {
            by_from = Some(format!("--from {arg}"));
        }
    }
    // A destination of the other family: say which option asked for this one.
    let blame = |e: AddrError| match (e, &by_from) {
        (AddrError::WrongFamily { arg, family, .. }, Some(by)) => AddrError::WrongFamily {
            arg,
            family,
            by: by.clone(),
        },
        (e, _) => e,
    };
    let (dest, broadcast, port_named) = match target {
        Target::Unix(unix) => return reach_unix(host, unix, port, reach, flags),
        Target::Host(hp) => {
            let chosen = pick_port(hp.port, port)?;
            let (dest, broadcast) =
                addr::resolve_destination(&hp.host, chosen, family).map_err(blame)?;
            (dest, broadcast, super::port_given(hp.port, port))
        }
        Target::Peer(name) => {
            let chosen = pick_port(None, port)?;
            let addr = find_peer(&name, chosen, reach, family, key)?;
            (addr, false, true)
        }
    };
    let from = from
        .map(|(arg, hp)| addr::resolve_source(&hp, Family::of(dest.ip()), arg))
        .transpose()?;
    Ok(Reach {
        dest: Destination {
            addr: PeerAddr::Inet(dest),
            broadcast,
        },
        shown: PeerAddr::Inet(addr::unmapped(dest)),
        options: SendOptions {
            from,
            interface,
            ..SendOptions::default()
        },
        port_named,
    })
}

/// A Unix-domain destination (`arg`, parsed as `unix`): the options that
/// choose an IP address, port or interface are refused (`UDPMSG_PORT`, a
/// default, does not apply).
fn reach_unix(
    arg: &str,
    unix: UnixAddr,
    port: Option<&str>,
    reach: &ReachArgs,
    family: Family,
) -> Result<Reach, Error> {
    let option = if port.is_some() {
        Some("--port")
    } else if family != Family::Any {
        Some(family.flag())
    } else if reach.from.is_some() {
        Some("--from")
    } else if reach.interface.is_some() {
        Some("--interface")
    } else {
        None
    };
    if let Some(option) = option {
        return Err(not_for_unix(option, arg));
    }
    let addr = PeerAddr::Unix(unix);
    Ok(Reach {
        dest: Destination {
            addr: addr.clone(),
            broadcast: false,
        },
        shown: addr,
        options: SendOptions::default(),
        port_named: true,
    })
}

/// The usage error for an IP `option` given with the Unix socket `arg`.
pub(super) fn not_for_unix(option: &str, arg: &str) -> Error {
    Error::Usage(format!(
        "{option} is for IP; {} is a Unix socket",
        crate::output::escape::escaped(arg)
    ))
}

/// The usage error for `option`, which only a `@NAME` destination takes,
/// given with the destination `arg`.
fn not_a_name(option: &str, arg: &str) -> Error {
    let shown = if arg.is_empty() {
        "'' (this host)".to_string()
    } else {
        crate::output::escape::escaped(arg)
    };
    Error::Usage(format!(
        "{option} is for @NAME destinations (a listener found by its name), and {shown} is not one"
    ))
}

/// The index of interface `name`; one this host does not have is a usage
/// error naming those it has.
pub(super) fn interface_index(name: &str) -> Result<u32, Error> {
    match iface::interface_index(name) {
        Some(index) => Ok(index),
        None => Err(unknown_interface(name)),
    }
}

/// The index of `--interface`'s interface, when one was named.
pub(super) fn named_interface(name: Option<&str>) -> Result<Option<u32>, Error> {
    name.map(interface_index).transpose()
}

/// The error for an interface this host does not have.
pub(super) fn unknown_interface(name: &str) -> Error {
    match iface::interface_names() {
        Ok(existing) => Error::UnknownInterface {
            name: name.to_string(),
            existing,
        },
        Err(source) => Error::Io {
            doing: "listing the network interfaces",
            source,
        },
    }
}

/// The address of the one listener answering to `name` on `port`.
fn find_peer(
    name: &str,
    port: u16,
    reach: &ReachArgs,
    family: Family,
    key: Option<&Key>,
) -> Result<SocketAddr, Error> {
    if port == 0 {
        return Err(AddrError::ZeroPort.into());
    }
    let waited = reach.resolve_timeout.unwrap_or(resolve::DEFAULT_TIMEOUT);
    let config = discover::Config {
        port,
        timeout: waited,
        expect: None,
        interfaces: reach.interface.iter().cloned().collect(),
        key: key.cloned(),
        family,
    };
    let resolved = resolve::resolve(name, &config, &NothingKnown).map_err(|source| Error::Io {
        doing: "looking for the listener by its name",
        source,
    })?;
    match resolved {
        Resolved::One(peer) => address_of(&peer).ok_or_else(|| Error::NoSuchPeer {
            name: name.to_string(),
            port,
            waited,
            heard: Vec::new(),
            unprobed: false,
        }),
        Resolved::Ambiguous(peers) => Err(Error::AmbiguousPeer {
            name: name.to_string(),
            addrs: peers.into_iter().map(|p| p.addrs).collect(),
        }),
        Resolved::Nobody { heard, unprobed } => Err(Error::NoSuchPeer {
            name: name.to_string(),
            port,
            waited,
            heard,
            unprobed,
        }),
    }
}

/// Where to send to a listener that answered from several addresses: its
/// first IPv4 one, as names resolve (most LAN peers listen there), else
/// the first it answered from. The scan probed only the family asked for.
/// (A listener is heard with at least one address.)
fn address_of(peer: &Peer) -> Option<SocketAddr> {
    peer.addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| peer.addrs.first())
        .copied()
}
