//! A real multi-host Ethernet LAN for tests, built by `scripts/lan.sh`: a
//! switch namespace `<prefix>sw` with bridge `br0`, and hosts `<prefix>h1` ..
//! `<prefix>hN`, each a network namespace with `eth0` on the bridge
//! (10.77.0.0/16 with broadcast 10.77.255.255, IPv6 link-local, no default
//! route). Nothing touches a real interface.
//!
//! Include it with `#[path = "common/lan.rs"] mod lan;`. It depends only on
//! std, libc, `common/skip.rs` and `common/owner.rs`. Hosts are numbered from
//! 1, as in the namespace names and the script's options (`--two-if 2` is
//! `lan.host(2)`).
//!
//! Every test must use its own tag built from its name, e.g. `"ut_smoke_"`,
//! and no tag may be a prefix of another test's: teardown deletes every
//! namespace starting with it (so not `"ut_a_"` next to `"ut_a_b_"`). The
//! namespaces are named `udpmsg-<pid in base36>-<tag>sw`, `..h1`, ... (see
//! `owner.rs`): another process running the same test at the same time (a
//! second checkout) builds its own LAN beside this one, and the leftovers of
//! a run that died are deleted by the next `up` only once their process is
//! gone.
#![allow(dead_code)]

// A test file that also includes `common/mod.rs` loads skip.rs twice; each
// copy is private to its module, so the two cannot disagree.
#[allow(clippy::duplicate_mod)]
#[path = "skip.rs"]
mod skip;
#[allow(unused_imports)] // only some LAN tests skip for other reasons
pub use skip::shout;

#[allow(clippy::duplicate_mod)]
#[path = "owner.rs"]
pub mod owner;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The script that builds and removes the LAN.
pub use owner::SCRIPT;

/// Where `ip netns` keeps its namespace names.
pub const NETNS_DIR: &str = "/run/netns";

/// The LAN's directed broadcast address.
pub const BROADCAST: Ipv4Addr = Ipv4Addr::new(10, 77, 255, 255);

/// One interface of a host, as the kernel reported it after `up`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    /// `eth0` or `eth1`.
    pub name: String,
    /// IPv4 addresses (empty for a `--v6only` host).
    pub v4: Vec<Ipv4Addr>,
    /// IPv6 link-local addresses (usable: DAD is off).
    pub v6: Vec<Ipv6Addr>,
}

impl Iface {
    /// The first link-local address with its scope, `fe80::...%eth0`, the
    /// form `ping -6` and `getaddrinfo` accept inside this host's peers
    /// (whose own interface is also called `eth0`).
    pub fn v6_scoped(&self, scope: &str) -> Option<String> {
        self.v6.first().map(|a| format!("{a}%{scope}"))
    }
}

/// One host: its namespace and interfaces (none for `--isolated`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// Namespace name, `<prefix>h<k>`.
    pub ns: String,
    pub ifaces: Vec<Iface>,
}

impl Host {
    /// The interface called `name`.
    pub fn iface(&self, name: &str) -> Option<&Iface> {
        self.ifaces.iter().find(|i| i.name == name)
    }

    /// Every IPv4 address of the host, eth0's first.
    pub fn v4s(&self) -> Vec<Ipv4Addr> {
        self.ifaces
            .iter()
            .flat_map(|i| i.v4.iter().copied())
            .collect()
    }

    /// eth0's first IPv4 address.
    pub fn v4(&self) -> Option<Ipv4Addr> {
        self.iface("eth0").and_then(|i| i.v4.first().copied())
    }

    /// eth0's link-local address.
    pub fn v6(&self) -> Option<Ipv6Addr> {
        self.iface("eth0").and_then(|i| i.v6.first().copied())
    }
}

/// A running LAN; dropping it runs `lan.sh down <prefix>`, which also kills
/// any process still running inside its namespaces.
#[derive(Debug)]
pub struct Lan {
    /// `udpmsg-<owner pid in base36>-<tag>`.
    prefix: String,
    /// `hosts[0]` is host 1 (`<prefix>h1`).
    pub hosts: Vec<Host>,
}

impl Lan {
    /// Runs `lan.sh up <prefix> <hosts> <opts...>` (options: `--two-if K`,
    /// `--v6only K`, `--isolated K`), the prefix being `tag` owned by this
    /// process, and parses the addresses it prints. Without root or `ip` the
    /// test fails, unless `UDPMSG_SKIP_NETNS=1` is set: then it returns None
    /// after a SKIPPED line the harness shows, and the test must return at
    /// once. Panics if the script fails.
    #[must_use]
    pub fn up(tag: &str, hosts: usize, opts: &[&str]) -> Option<Lan> {
        Lan::up_owned_by(std::process::id(), tag, hosts, opts)
    }

    /// [`Lan::up`] on behalf of process `owner`: the LAN another run (whose
    /// test process is `owner`) would build. Dropping it still deletes it.
    #[must_use]
    pub fn up_owned_by(owner: u32, tag: &str, hosts: usize, opts: &[&str]) -> Option<Lan> {
        if !can_run(tag) {
            return None;
        }
        let prefix = owner::prefix_of(owner, tag);
        let count = hosts.to_string();
        let mut args = vec!["up", prefix.as_str(), count.as_str()];
        args.extend_from_slice(opts);
        // From here on a Drop cleans up even if parsing panics.
        let mut lan = Lan {
            prefix: prefix.clone(),
            hosts: Vec::new(),
        };
        let out = script(&args).unwrap_or_else(|e| panic!("cannot run {SCRIPT}: {e}"));
        assert!(
            out.status.success(),
            "lan.sh {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        lan.hosts = parse_hosts(&stdout);
        assert_eq!(
            lan.hosts.len(),
            hosts,
            "lan.sh printed an unexpected host list:\n{stdout}"
        );
        Some(lan)
    }

    /// The prefix every namespace of this LAN starts with,
    /// `udpmsg-<owner pid in base36>-<tag>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Host `k` (1-based).
    pub fn host(&self, k: usize) -> &Host {
        assert!(
            (1..=self.hosts.len()).contains(&k),
            "host {k} out of range 1..={}",
            self.hosts.len()
        );
        &self.hosts[k - 1]
    }

    /// Namespace name of host `k` (1-based).
    pub fn ns(&self, k: usize) -> &str {
        &self.host(k).ns
    }

    /// Namespace name of the switch (holds `br0` and the host ports).
    pub fn switch_ns(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// `ip netns exec <ns of host k> <program>`: add arguments, stdio, and
    /// run it. Bound its run time yourself (e.g. program `timeout`).
    pub fn cmd(&self, k: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns(k)]).arg(program);
        c
    }

    /// Runs `f` on a thread that has joined host `k`'s network namespace:
    /// the sockets it creates and the processes it spawns belong to that
    /// host, even when used from elsewhere afterwards.
    pub fn enter<T: Send>(&self, k: usize, f: impl FnOnce() -> T + Send) -> T {
        use std::os::fd::AsRawFd;
        let path = format!("{NETNS_DIR}/{}", self.ns(k));
        std::thread::scope(|s| {
            s.spawn(move || {
                let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns on a namespace fd we hold; it moves only
                // this thread, which ends with the scope.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Runs `ip <args>` in host `k` and asserts it succeeded.
    pub fn ip(&self, k: usize, args: &[&str]) {
        let out = self
            .cmd(k, "ip")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
        assert!(
            out.status.success(),
            "ip {args:?} in host {k} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether host `k` gets an ICMP echo reply from `dst` (an IPv4 address
    /// or an IPv6 one, link-local with `%eth0`) within about a second. Uses
    /// `ping` when installed, else a python3 raw-socket ping.
    pub fn ping(&self, k: usize, dst: &str) -> bool {
        let mut c = self.cmd(k, "timeout");
        c.arg("5");
        if which("ping").is_some() {
            c.arg("ping");
            if dst.contains(':') {
                c.arg("-6");
            }
            c.args(["-n", "-c1", "-W1", dst]);
        } else {
            c.args(["python3", "-c", PY_PING, dst, "1"]);
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Runs `lan.sh down` now and asserts that no namespace of this LAN is
    /// left (dropping does the same without the check).
    pub fn down(self) {
        let prefix = self.prefix.clone();
        drop(self);
        let left = namespaces_with_prefix(&prefix);
        assert!(left.is_empty(), "namespaces left after down: {left:?}");
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        match script(&["down", &self.prefix]) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "lan.sh down {} failed: {}",
                self.prefix,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("cannot run lan.sh down {}: {e}", self.prefix),
        }
    }
}

/// Names of the namespaces (of any LAN) that start with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Parses `up`/`show` output: `host=NS [if=IF v4=A,..|- v6=B,..|-]...`.
/// Lines not starting with `host=` are ignored.
pub fn parse_hosts(text: &str) -> Vec<Host> {
    let mut hosts = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(ns) = words.next().and_then(|w| w.strip_prefix("host=")) else {
            continue;
        };
        let mut host = Host {
            ns: ns.to_string(),
            ifaces: Vec::new(),
        };
        for word in words {
            let (key, value) = word
                .split_once('=')
                .unwrap_or_else(|| panic!("bad word {word:?} in lan.sh line {line:?}"));
            if key == "if" {
                host.ifaces.push(Iface {
                    name: value.to_string(),
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                continue;
            }
            let iface = host
                .ifaces
                .last_mut()
                .unwrap_or_else(|| panic!("{key}= before if= in lan.sh line {line:?}"));
            let items = value.split(',').filter(|v| *v != "-" && !v.is_empty());
            match key {
                "v4" => iface
                    .v4
                    .extend(items.map(|v| parse_addr::<Ipv4Addr>(v, line))),
                "v6" => iface
                    .v6
                    .extend(items.map(|v| parse_addr::<Ipv6Addr>(v, line))),
                _ => panic!("unknown key {key:?} in lan.sh line {line:?}"),
            }
        }
        hosts.push(host);
    }
    hosts
}

fn parse_addr<T: std::str::FromStr>(v: &str, line: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| panic!("bad address {v:?} in lan.sh line {line:?}"))
}

fn script(args: &[&str]) -> std::io::Result<Output> {
    Command::new("bash")
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::null())
        .output()
}

/// Whether this process may build a LAN. When it may not, the test fails,
/// unless `UDPMSG_SKIP_NETNS=1` is set (see `skip.rs`).
fn can_run(tag: &str) -> bool {
    let test = format!("LAN test {tag}");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip::without_netns(&test, "needs root for network namespaces (ip netns)");
    }
    if which("ip").is_none() {
        return skip::without_netns(
            &test,
            "needs `ip` (iproute2), which is not installed; scripts/test.sh installs it",
        );
    }
    true
}

/// The path of `program` on PATH, if any.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `python3 -c PY_PING DST [SECONDS]`: one ICMP/ICMPv6 echo over a raw socket
/// (root); exit 0 on a reply. DST may be `fe80::...%eth0`.
pub const PY_PING: &str = r#"
import os, select, socket, struct, sys, time
dst = sys.argv[1]
v6 = ":" in dst
if v6:
    fam, proto, req, rep = socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129
else:
    fam, proto, req, rep = socket.AF_INET, socket.IPPROTO_ICMP, 8, 0
addr = socket.getaddrinfo(dst, None, fam, socket.SOCK_RAW, proto)[0][4]
s = socket.socket(fam, socket.SOCK_RAW, proto)
ident = os.getpid() & 0xFFFF
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
body = b"udpmsg-lan-ping"
pkt = struct.pack("!BBHHH", req, 0, 0, ident, 1) + body
if not v6:
    pkt = struct.pack("!BBHHH", req, 0, csum(pkt), ident, 1) + body
s.sendto(pkt, addr)
end = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 1)
while True:
    left = end - time.monotonic()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        sys.exit(1)
    data, src = s.recvfrom(2048)
    if not v6:
        data = data[(data[0] & 15) * 4:]
    if len(data) >= 8:
        t, _, _, i, _ = struct.unpack("!BBHHH", data[:8])
        if t == rep and i == ident:
            sys.exit(0)
"#;
