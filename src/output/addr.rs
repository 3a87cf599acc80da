//! How every output, text and JSON, shows a peer's address: `ip:port`,
//! IPv6 in brackets, a link-local scope by its interface's name
//! (`[fe80::1%eth0]:47474`), a Unix-domain socket as `unix:/path` or
//! `unix:@name`: as users write them to `send`.

use super::escape::{disruptive, escape_into, escaped};
use crate::net::{PeerAddr, UnixAddr, addr::UNIX_PREFIX, iface};
use std::fmt;
use std::net::{SocketAddr, SocketAddrV6};

/// `addr` as udpmsg shows it (see the module doc): [`fmt::Display`]s as
/// `192.0.2.7:47474`, `[::1]:5353` or `[fe80::1%eth0]:47474`;
/// `unix:/run/x.sock`, `unix:@name` (an abstract name), or `unix:` alone
/// (a Unix socket that has no name). An IPv4-mapped IPv6 address is shown
/// as the IPv4 address it stands for. A scope whose interface has no name
/// (it is gone) is shown as its number. In a Unix name, bytes that are not
/// UTF-8 are shown as `\xNN`, and characters that would drive a terminal
/// are escaped as in peers' text.
pub fn fmt_addr(addr: impl Into<PeerAddr>) -> Addr {
    Addr(addr.into())
}

/// A peer's address to display; see [`fmt_addr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr(pub PeerAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_addr(f, &self.0, iface::interface_name)
    }
}

/// Writes `addr` as [`fmt_addr`] shows it, asking `scope_name` for the
/// name of a link-local scope (the only case that needs a system call, so
/// a caller on a hot path can cache it, as [`ScopeNames`] does).
pub fn write_addr<W, S>(
    out: &mut W,
    addr: &PeerAddr,
    scope_name: impl FnOnce(u32) -> S,
) -> fmt::Result
where
    W: fmt::Write + ?Sized,
    S: AsRef<str>,
{
    match addr {
        PeerAddr::Inet(addr) => write_inet(out, *addr, scope_name),
        PeerAddr::Unix(unix) => write_unix(out, unix),
    }
}

/// A Unix-domain address: `unix:` and the path, `@` and the abstract name,
/// or nothing more.
fn write_unix<W: fmt::Write + ?Sized>(out: &mut W, addr: &UnixAddr) -> fmt::Result {
    out.write_str(UNIX_PREFIX)?;
    let name = match addr {
        UnixAddr::Path(path) => path,
        UnixAddr::Abstract(name) => {
            out.write_char('@')?;
            name
        }
        UnixAddr::Unnamed => return Ok(()),
    };
    let mut shown = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        escape_into(&mut shown, chunk.valid());
        for b in chunk.invalid() {
            use fmt::Write as _;
            write!(shown, "\\x{b:02x}")?;
        }
    }
    out.write_str(&shown)
}

fn write_inet<W, S>(out: &mut W, addr: SocketAddr, scope_name: impl FnOnce(u32) -> S) -> fmt::Result
where
    W: fmt::Write + ?Sized,
    S: AsRef<str>,
{
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => write!(out, "{v4}:{}", v6.port()),
            None if v6.scope_id() != 0 => write_scoped(out, v6, scope_name),
            None => write!(out, "[{}]:{}", v6.ip(), v6.port()),
        },
        SocketAddr::V4(v4) => write!(out, "{v4}"),
    }
}

fn write_scoped<W, S>(
    out: &mut W,
    v6: SocketAddrV6,
    scope_name: impl FnOnce(u32) -> S,
) -> fmt::Result
where
    W: fmt::Write + ?Sized,
    S: AsRef<str>,
{
    let name = scope_name(v6.scope_id());
    let name = name.as_ref();
    // Linux allows any byte but '/', ':' and white space in an interface
    // name: escaped as peers' text is, so an address never drives a terminal.
    if name.chars().any(disruptive) {
        write!(out, "[{}%{}]:{}", v6.ip(), escaped(name), v6.port())
    } else {
        write!(out, "[{}%{name}]:{}", v6.ip(), v6.port())
    }
}

/// Interface names by index, for a caller that formats many addresses
/// (the listener's flood path): each looked up once, and again after
/// [`ScopeNames::REFRESH_MS`], so a renamed interface is shown by its new
/// name soon.
#[derive(Debug, Default)]
pub struct ScopeNames {
    /// (index, name, when looked up in ms since the epoch); a host has few
    /// interfaces.
    names: Vec<(u32, String, u128)>,
}

impl ScopeNames {
    /// How long a name is trusted, in milliseconds.
    pub const REFRESH_MS: u128 = 1000;

    /// The name of interface `index` (its number when it has none), as of
    /// at most [`Self::REFRESH_MS`] before `now_ms`.
    pub fn name(&mut self, index: u32, now_ms: u128) -> &str {
        let at = match self.names.iter().position(|(i, ..)| *i == index) {
            Some(at) => at,
            None => {
                self.names.push((index, String::new(), 0));
                self.names.len() - 1
            }
        };
        let entry = &mut self.names[at];
        if entry.1.is_empty() || now_ms.saturating_sub(entry.2) >= Self::REFRESH_MS {
            entry.1 = iface::interface_name(index);
            entry.2 = now_ms;
        }
        &self.names[at].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(addr: &str) -> String {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut s = String::new();
        write_addr(&mut s, &addr.into(), |i| format!("if{i}")).unwrap();
        s
    }

    #[test]
    fn unix_addresses_are_shown_as_send_takes_them_escaped() {
        let shown = |a: UnixAddr| fmt_addr(a).to_string();
        assert_eq!(shown(UnixAddr::path(b"/run/x.sock")), "unix:/run/x.sock");
        assert_eq!(shown(UnixAddr::abstract_name(b"0001f")), "unix:@0001f");
        assert_eq!(shown(UnixAddr::Unnamed), "unix:");
        assert_eq!(
            shown(UnixAddr::abstract_name(b"a\0b\x1b[2J\xff\xe2\x80\xaec")),
            "unix:@a\\x00b\\x1b[2J\\xff\\u202ec"
        );
    }

    #[test]
    fn addresses_are_ip_port_with_ipv6_in_brackets_and_scopes_by_name() {
        assert_eq!(shown("192.0.2.7:47474"), "192.0.2.7:47474");
        assert_eq!(shown("[::1]:5353"), "[::1]:5353");
        assert_eq!(shown("[2001:db8::7]:1"), "[2001:db8::7]:1");
        assert_eq!(shown("[fe80::1%3]:47474"), "[fe80::1%if3]:47474");
        assert_eq!(shown("[::ffff:192.0.2.7]:9"), "192.0.2.7:9");
    }

    #[test]
    fn a_scope_name_is_escaped_as_peers_text_is() {
        let addr: SocketAddr = "[fe80::1%3]:9".parse().unwrap();
        let mut s = String::new();
        write_addr(&mut s, &addr.into(), |_| "e\u{1b}[2J\u{202e}").unwrap();
        assert_eq!(s, "[fe80::1%e\\x1b[2J\\u202e]:9");
    }

    #[test]
    fn a_scope_is_the_interface_name_or_its_number_when_it_has_none() {
        // Index 1 is loopback in every network namespace; no interface
        // has index u32::MAX.
        let lo: SocketAddr = "[fe80::1%1]:9".parse().unwrap();
        assert_eq!(fmt_addr(lo).to_string(), "[fe80::1%lo]:9");
        let gone = SocketAddr::V6(SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            9,
            0,
            u32::MAX,
        ));
        assert_eq!(
            fmt_addr(gone).to_string(),
            format!("[fe80::1%{}]:9", u32::MAX)
        );
    }

    #[test]
    fn scope_names_are_looked_up_again_after_a_while() {
        let mut names = ScopeNames::default();
        assert_eq!(names.name(1, 5), "lo");
        names.names[0].1 = "stale".into();
        assert_eq!(names.name(1, 5 + ScopeNames::REFRESH_MS - 1), "stale");
        assert_eq!(names.name(1, 5 + ScopeNames::REFRESH_MS), "lo");
    }
}
