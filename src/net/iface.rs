//! Network interfaces: where discovery probes go, which multicast groups
//! a listener joins, and which source addresses are on-link.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

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

/// The index of the interface called `name`, if this host has one.
pub fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// Where a listener joins a multicast group of one family (`v6`) when no
/// interface is named: every up interface with an address of that family,
/// loopback excepted (a group's datagrams from this host arrive on the
/// interface they were sent by, `--loop` included). Index and name, in
/// index order.
pub fn group_interfaces(v6: bool) -> io::Result<Vec<(u32, String)>> {
    let mut out: Vec<(u32, String)> = Vec::new();
    for iface in if_addrs::get_if_addrs()? {
        let family_ok = matches!(
            (&iface.addr, v6),
            (if_addrs::IfAddr::V4(_), false) | (if_addrs::IfAddr::V6(_), true)
        );
        if !family_ok || iface.is_loopback() || !iface.is_oper_up() {
            continue;
        }
        if let Some(index) = iface.index
            && !out.iter().any(|(i, _)| *i == index)
        {
            out.push((index, iface.name.clone()));
        }
    }
    out.sort();
    Ok(out)
}

/// One address of one interface, as the kernel lists it. Two
/// [`addresses`] lists differ exactly when an interface came, went or
/// changed state, or an address was added, removed or renumbered: what
/// announcing listeners and watchers poll for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IfaceAddr {
    pub index: u32,
    pub name: String,
    /// Operationally up (or loopback, which reports no carrier state).
    pub up: bool,
    pub ip: IpAddr,
    pub netmask: IpAddr,
}

/// Every address of every interface, sorted (see [`IfaceAddr`]).
pub fn addresses() -> io::Result<Vec<IfaceAddr>> {
    let mut out: Vec<IfaceAddr> = if_addrs::get_if_addrs()?
        .into_iter()
        .map(|iface| {
            let (ip, netmask) = match &iface.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), IpAddr::V4(v4.netmask)),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), IpAddr::V6(v6.netmask)),
            };
            IfaceAddr {
                index: iface.index.unwrap_or(0),
                up: iface.is_oper_up() || iface.is_loopback(),
                name: iface.name,
                ip,
                netmask,
            }
        })
        .collect();
    out.sort();
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

/// How long the interface addresses behind [`Links`] are trusted.
pub const LINKS_REFRESH: Duration = Duration::from_secs(1);

/// The shortest time between two reads of the interface addresses, even
/// for an interface not seen before (a datagram can arrive on an interface
/// with no address at all, and must not cost a `getifaddrs` each time).
const LINKS_MIN_REFRESH: Duration = Duration::from_millis(100);

/// Which source addresses are on-link for each interface (RFC 6762 §11's
/// test for answering a multicast query): a link-local address (IPv4
/// 169.254/16 or IPv6 fe80::/10), or one inside a subnet of the arrival
/// interface's addresses. The interface
/// addresses are read with `getifaddrs` at most once per [`LINKS_REFRESH`]
/// (and again, at most every 100 ms, when a datagram arrives on an
/// interface not seen before), so the check per datagram is a hash lookup
/// and a few masks.
#[derive(Debug, Default)]
pub struct Links {
    subnets: HashMap<u32, Vec<Subnet>>,
    loaded: Option<Instant>,
}

/// One interface address and its netmask, as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subnet {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl Subnet {
    fn of(ip: IpAddr, netmask: IpAddr) -> Option<Subnet> {
        match (ip, netmask) {
            (IpAddr::V4(ip), IpAddr::V4(mask)) => {
                let mask = u32::from(mask);
                Some(Subnet::V4 {
                    net: u32::from(ip) & mask,
                    mask,
                })
            }
            (IpAddr::V6(ip), IpAddr::V6(mask)) => {
                let mask = u128::from(mask);
                Some(Subnet::V6 {
                    net: u128::from(ip) & mask,
                    mask,
                })
            }
            _ => None,
        }
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Subnet::V4 { net, mask }, IpAddr::V4(ip)) => u32::from(ip) & mask == net,
            (Subnet::V6 { net, mask }, IpAddr::V6(ip)) => u128::from(ip) & mask == net,
            _ => false,
        }
    }
}

impl Links {
    /// An empty table: the first check reads the interfaces.
    pub fn new() -> Self {
        Links::default()
    }

    /// Whether `source` is on the link of interface `ifindex` (0: of any
    /// interface, for a datagram whose arrival interface is unknown).
    pub fn is_on_link(&mut self, ifindex: u32, source: IpAddr, now: Instant) -> bool {
        let link_local = match source {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_unicast_link_local(),
        };
        if link_local {
            // Routers never forward a link-local source (RFC 3927 §7,
            // RFC 4291 §2.5.6): it was sent on the link it arrived on.
            return true;
        }
        let age = self.loaded.map(|t| now.saturating_duration_since(t));
        let unknown = ifindex != 0 && !self.subnets.contains_key(&ifindex);
        if age.is_none_or(|a| a >= LINKS_REFRESH || (unknown && a >= LINKS_MIN_REFRESH)) {
            self.refresh(now);
        }
        self.contains(ifindex, source)
    }

    /// Reads the interface addresses again. On failure the old table is
    /// kept (and not retried before the next refresh is due).
    fn refresh(&mut self, now: Instant) {
        self.loaded = Some(now);
        let Ok(interfaces) = if_addrs::get_if_addrs() else {
            return;
        };
        self.subnets.clear();
        for iface in interfaces {
            let (ip, netmask) = match &iface.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), IpAddr::V4(v4.netmask)),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), IpAddr::V6(v6.netmask)),
            };
            if let Some(index) = iface.index {
                self.insert(index, ip, netmask);
            }
        }
    }

    fn insert(&mut self, ifindex: u32, ip: IpAddr, netmask: IpAddr) {
        if let Some(subnet) = Subnet::of(ip, netmask) {
            let subnets = self.subnets.entry(ifindex).or_default();
            if !subnets.contains(&subnet) {
                subnets.push(subnet);
            }
        }
    }

    fn contains(&self, ifindex: u32, source: IpAddr) -> bool {
        if ifindex == 0 {
            return self.subnets.values().flatten().any(|s| s.contains(source));
        }
        self.subnets
            .get(&ifindex)
            .is_some_and(|subnets| subnets.iter().any(|s| s.contains(source)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Links {
        let mut links = Links {
            subnets: HashMap::new(),
            // Fresh: no refresh during the test.
            loaded: Some(Instant::now()),
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        links.insert(2, ip("10.77.0.2"), ip("255.255.0.0"));
        links.insert(2, ip("2001:db8:1::2"), ip("ffff:ffff:ffff:ffff::"));
        links.insert(3, ip("192.168.5.9"), ip("255.255.255.0"));
        links
    }

    #[test]
    fn sources_inside_the_arrival_interface_subnets_are_on_link() {
        let mut links = table();
        let now = links.loaded.unwrap();
        let on = |links: &mut Links, i: u32, s: &str| links.is_on_link(i, s.parse().unwrap(), now);
        assert!(on(&mut links, 2, "10.77.200.1"));
        assert!(on(&mut links, 2, "2001:db8:1::99"));
        assert!(!on(&mut links, 2, "10.78.0.1"), "outside the /16");
        assert!(
            !on(&mut links, 2, "192.168.5.1"),
            "another interface's subnet"
        );
        assert!(!on(&mut links, 2, "2001:db8:2::1"));
        assert!(on(&mut links, 3, "192.168.5.1"));
        assert!(!on(&mut links, 3, "10.77.0.1"));
        // Link-local is on-link everywhere; unknown interface 0 means any
        // interface's subnets.
        assert!(on(&mut links, 3, "fe80::1"));
        assert!(on(&mut links, 3, "169.254.7.7"));
        assert!(on(&mut links, 0, "10.77.0.1"));
        assert!(!on(&mut links, 0, "172.16.0.1"));
    }
}
