//! `listen --group`: multicast groups parsed and joined.

use crate::error::Error;
use crate::net::addr::{self, Family, Host};
use crate::net::{self, iface};
use crate::util::words::IoWords;
use std::net::{IpAddr, SocketAddr};

/// A multicast group to join, and the interface its `%scope` names.
pub(super) struct Group {
    pub(super) ip: IpAddr,
    scope: Option<u32>,
}

/// Parses a `--group`: a multicast address of the family allowed, with a
/// `%scope` (IPv6) that agrees with `--interface`.
pub(super) fn parse_group(
    arg: &str,
    family: Family,
    interface: Option<u32>,
) -> Result<Group, Error> {
    let bad = |why: &str| Error::Usage(format!("bad --group '{arg}': {why}"));
    let parsed = addr::parse_host(arg)?;
    let (ip, scope) = match parsed.host {
        Host::Ip(ip, scope) if parsed.port.is_none() && ip.is_multicast() => (ip, scope),
        Host::Ip(..) | Host::Name(_) if parsed.port.is_none() => {
            return Err(bad(
                "not a multicast address (224.0.0.0/4, ff00::/8; the port is --port)",
            ));
        }
        _ => {
            return Err(bad(
                "a multicast address without a port (the port is --port)",
            ));
        }
    };
    if !family.allows(ip) {
        return Err(addr::AddrError::WrongFamily {
            arg: arg.to_string(),
            family,
            by: family.flag().to_string(),
        }
        .into());
    }
    let scope = (scope != 0).then_some(scope);
    if let (Some(scope), Some(interface)) = (scope, interface)
        && scope != interface
    {
        return Err(bad("its %interface is not the one --interface names"));
    }
    Ok(Group {
        ip,
        scope: scope.or(interface),
    })
}

impl Group {
    /// Joined on one interface (its `%scope` or `--interface`) only, once:
    /// not kept joined on interfaces that come up later.
    pub(super) fn is_fixed(&self) -> bool {
        self.scope.is_some()
    }
}

/// Joins `group` with the wildcard socket of its family: on the interface
/// its scope or `--interface` names, else on every up interface with an
/// address of its family. Returns the interfaces joined; a failure on some
/// is a warning, on all an error, and none up yet a warning (the group is
/// joined on each as it comes up).
pub(super) fn join(
    group: &Group,
    sockets: &[mio::net::UdpSocket],
    locals: &[SocketAddr],
) -> Result<Vec<String>, Error> {
    let v6 = group.ip.is_ipv6();
    let Some(socket) = sockets
        .iter()
        .zip(locals)
        .find(|(_, l)| l.is_ipv6() == v6 && l.ip().is_unspecified())
        .map(|(s, _)| s)
    else {
        let family = if v6 { "IPv6" } else { "IPv4" };
        return Err(Error::Usage(format!(
            "--group {} is {family}, and the listener has no {family} socket",
            group.ip
        )));
    };
    let interfaces = match group.scope {
        Some(index) => vec![(index, iface::interface_name(index))],
        None => iface::group_interfaces(v6).map_err(|source| Error::Io {
            doing: "listing the network interfaces",
            source,
        })?,
    };
    if interfaces.is_empty() {
        // Started before the network (at boot, before a VPN): the group
        // is joined on each interface as it comes up (`Memberships`).
        let family = if v6 { "IPv6" } else { "IPv4" };
        eprintln!(
            "udpmsg: warning: no interface but loopback is up with an {family} address: {} is joined on each as it comes up",
            group.ip
        );
        return Ok(Vec::new());
    }
    let mut joined = Vec::new();
    let mut failures = Vec::new();
    for (index, name) in interfaces {
        match net::join_group(socket, group.ip, index) {
            Ok(()) => joined.push(name),
            Err(e) => failures.push((name, e)),
        }
    }
    if joined.is_empty() {
        return Err(Error::Join {
            group: group.ip,
            failures,
        });
    }
    for (name, e) in &failures {
        eprintln!(
            "udpmsg: warning: cannot join {} on {name}: {}",
            group.ip,
            IoWords(e)
        );
    }
    Ok(joined)
}
