//! Network interfaces: where discovery probes go and which multicast groups
//! a listener joins.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Link-local multicast group for IPv6 discovery ("udpm" in the low 32 bits).
pub const DISCOVERY_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x7564, 0x706d);

/// Loopback's broadcast address, used when `--interface lo` is asked for.
pub const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// Where to send probes on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub interface: String,
    pub index: u32,
    /// IPv4 directed broadcast addresses of the interface.
    pub broadcasts: Vec<Ipv4Addr>,
    /// The interface has an IPv6 link-local address (multicast probes work).
    pub ipv6: bool,
}

/// Up interfaces that can carry probes: those with an IPv4 broadcast address
/// or an IPv6 link-local address. Loopback only when named in `only`
/// (it cannot broadcast, so 127.255.255.255 stands in). With a non-empty
/// `only`, just those interfaces.
pub fn probe_targets(only: &[String]) -> io::Result<Vec<Target>> {
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for iface in if_addrs::get_if_addrs()? {
        let named = only.iter().any(|n| n == &iface.name);
        if !only.is_empty() && !named {
            continue;
        }
        if !iface.is_oper_up() && !iface.is_loopback() {
            continue;
        }
        let loopback = iface.is_loopback();
        if loopback && !named {
            continue;
        }
        let entry = targets.entry(iface.name.clone()).or_insert_with(|| Target {
            interface: iface.name.clone(),
            index: iface.index.unwrap_or(0),
            broadcasts: Vec::new(),
            ipv6: false,
        });
        match &iface.addr {
            if_addrs::IfAddr::V4(v4) => {
                let broadcast = if loopback {
                    Some(LOOPBACK_BROADCAST)
                } else {
                    v4.broadcast
                };
                if let Some(b) = broadcast
                    && !entry.broadcasts.contains(&b)
                {
                    entry.broadcasts.push(b);
                }
            }
            if_addrs::IfAddr::V6(v6) => {
                if !loopback && v6.ip.is_unicast_link_local() {
                    entry.ipv6 = true;
                }
            }
        }
    }
    Ok(targets
        .into_values()
        .filter(|t| !t.broadcasts.is_empty() || t.ipv6)
        .collect())
}

/// Indexes of up, non-loopback interfaces with an IPv6 link-local address:
/// where a listener joins [`DISCOVERY_GROUP_V6`].
pub fn ipv6_interfaces() -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for iface in if_addrs::get_if_addrs()? {
        if let if_addrs::IfAddr::V6(v6) = &iface.addr
            && v6.ip.is_unicast_link_local()
            && !iface.is_loopback()
            && let Some(index) = iface.index
            && !out.contains(&index)
        {
            out.push(index);
        }
    }
    Ok(out)
}

/// The name of interface `index`, or its number when it has none.
pub fn interface_name(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer is IF_NAMESIZE long as if_indextoname requires; on
    // success it holds a NUL-terminated name.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return index.to_string();
    }
    // SAFETY: if_indextoname succeeded, so buf is NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The names of every interface of this host (in the caller's network
/// namespace), up or down, with addresses or without; in index order.
pub fn interface_names() -> io::Result<Vec<String>> {
    // SAFETY: if_nameindex has no preconditions; it returns NULL or an
    // array ended by an entry with index 0, freed below.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut names = Vec::new();
    let mut entry = list;
    // SAFETY: every entry up to the one with index 0 is valid, with a
    // NUL-terminated name; the array is freed once, after the last read.
    unsafe {
        while (*entry).if_index != 0 {
            names.push(
                std::ffi::CStr::from_ptr((*entry).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(names)
}
