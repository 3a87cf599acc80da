//! The test LAN itself: three hosts on one bridge, host 2 with two
//! interfaces, host 3 IPv6-only. Checks reachability, that a directed
//! broadcast reaches both interfaces of host 2, and clean teardown; and that
//! another process running the same test at once keeps its own LAN.

#[path = "common/lan.rs"]
mod lan;

use lan::{BROADCAST, Lan, namespaces_with_prefix, owner, which};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};

/// `python3 -c RX PORT FIRST_WAIT`: binds 0.0.0.0:PORT, prints `ready`, then
/// one `got IFNAME SRC TEXT` line per datagram (interface from IP_PKTINFO),
/// until no datagram came for FIRST_WAIT seconds (1 s after the first).
const PY_RX: &str = r#"
import socket, struct, sys
PKTINFO = getattr(socket, "IP_PKTINFO", 8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, PKTINFO, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(float(sys.argv[2]))
try:
    while True:
        data, anc, _, src = s.recvmsg(2048, 256)
        ifname = "?"
        for level, kind, val in anc:
            if level == socket.IPPROTO_IP and kind == PKTINFO:
                ifname = socket.if_indextoname(struct.unpack("=i", val[:4])[0])
        print("got", ifname, src[0], data.decode(), flush=True)
        s.settimeout(1.0)
except socket.timeout:
    pass
"#;

/// `python3 -c TX ADDR PORT TEXT`: one broadcast-enabled UDP datagram.
const PY_TX: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"#;

#[test]
fn lan_smoke() {
    let Some(lan) = Lan::up("ut_smoke_", 3, &["--two-if", "2", "--v6only", "3"]) else {
        return;
    };
    if which("python3").is_none() {
        lan::shout("*** SKIPPED lan_smoke: needs python3 ***");
        return;
    }

    // What the script reported.
    let prefix = lan.prefix().to_string();
    assert_eq!(prefix, owner::prefix("ut_smoke_"));
    assert_eq!(lan.ns(1), format!("{prefix}h1"));
    assert_eq!(lan.host(1).v4s(), [Ipv4Addr::new(10, 77, 0, 1)]);
    assert_eq!(
        lan.host(2).v4s(),
        [Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(10, 77, 128, 2)]
    );
    assert!(lan.host(3).v4s().is_empty(), "{:?}", lan.host(3));
    for k in 1..=3 {
        for iface in &lan.host(k).ifaces {
            assert_eq!(iface.v6.len(), 1, "host {k}: {iface:?}");
            assert!(iface.v6[0].is_unicast_link_local(), "host {k}: {iface:?}");
        }
    }
    assert_eq!(lan.host(2).ifaces.len(), 2);

    // No way off the LAN.
    for k in 1..=3 {
        for family in ["-4", "-6"] {
            let out = lan
                .cmd(k, "ip")
                .args([family, "route", "show", "default"])
                .output()
                .expect("ip route");
            assert!(out.status.success());
            assert!(out.stdout.is_empty(), "host {k} has a default route");
        }
    }

    // Reachability: host 2 on both IPv4 addresses, host 3 over link-local.
    for a in lan.host(2).v4s() {
        assert!(lan.ping(1, &a.to_string()), "h1 cannot reach h2 at {a}");
    }
    let h3 = lan
        .host(3)
        .iface("eth0")
        .unwrap()
        .v6_scoped("eth0")
        .unwrap();
    assert!(lan.ping(1, &h3), "h1 cannot reach h3 at {h3}");
    assert!(!lan.ping(1, "10.77.0.3"), "v6-only h3 answered on IPv4");

    // A directed broadcast from host 1 arrives at host 2 once per interface.
    let mut rx = lan
        .cmd(2, "timeout")
        .args(["10", "python3", "-c", PY_RX, "47999", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn receiver");
    let mut lines = BufReader::new(rx.stdout.take().unwrap()).lines();
    // Bounded: `timeout` ends the receiver, which closes the pipe.
    let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    assert_eq!(first, "ready");
    let brd = BROADCAST.to_string();
    let tx = lan
        .cmd(1, "timeout")
        .args(["5", "python3", "-c", PY_TX, &brd, "47999", "hello-lan"])
        .status()
        .expect("run sender");
    assert!(tx.success(), "broadcast send failed: {tx}");
    let got: Vec<String> = lines.map_while(Result::ok).collect();
    let status = rx.wait().expect("wait receiver");
    assert!(status.success(), "receiver: {status}, output {got:?}");
    let mut ifaces: Vec<&str> = got
        .iter()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            assert_eq!(w.len(), 4, "{l}");
            assert_eq!(w[0], "got", "{l}");
            assert_eq!(w[2], "10.77.0.1", "{l}");
            assert_eq!(w[3], "hello-lan", "{l}");
            w[1]
        })
        .collect();
    ifaces.sort();
    assert_eq!(ifaces, ["eth0", "eth1"], "{got:?}");

    // Teardown removes every namespace.
    assert_eq!(namespaces_with_prefix(&prefix).len(), 4);
    lan.down();
    assert!(namespaces_with_prefix(&prefix).is_empty());
}

/// A process that stands in for another run's test process; killed (if
/// still running) when dropped.
struct OtherRun(Child);

impl OtherRun {
    fn start() -> OtherRun {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        OtherRun(child)
    }

    /// Ends it as a crash would: no chance to tear anything down.
    fn crash(&mut self) {
        let _ = self.0.kill();
        self.0.wait().expect("wait for sleep");
    }
}

impl Drop for OtherRun {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two runs of one test at once (two checkouts, or one test binary started
/// twice) each get their own LAN: the other live run's LAN with the same tag
/// survives this run's `up`, `down` and reaping, and is reaped only once its
/// process is gone.
#[test]
fn a_concurrent_run_keeps_its_lan_until_its_process_is_gone() {
    const TAG: &str = "ut_twin_";
    let mut other = OtherRun::start();
    let Some(theirs) = Lan::up_owned_by(other.0.id(), TAG, 2, &[]) else {
        return;
    };
    // The other run's namespaces, by name and identity (the inode of the
    // namespace behind the name: a namespace deleted and made again under
    // the same name has a new one).
    let theirs_prefix = theirs.prefix().to_string();
    let namespaces = || -> Vec<(String, u64)> {
        namespaces_with_prefix(&theirs_prefix)
            .into_iter()
            .filter_map(|n| {
                let ino = std::fs::metadata(format!("{}/{n}", lan::NETNS_DIR))
                    .ok()?
                    .ino();
                Some((n, ino))
            })
            .collect()
    };
    let before = namespaces();
    assert_eq!(before.len(), 3, "switch and two hosts: {before:?}");

    let ours = Lan::up(TAG, 2, &[]).expect("the other run's LAN built, so ours can");
    assert_eq!(namespaces(), before, "our up replaced the other run's LAN");
    // Both LANs work, each on its own bridge with the same addresses.
    assert!(ours.ping(1, "10.77.0.2"), "ping across our LAN");
    assert!(
        theirs.ping(1, "10.77.0.2"),
        "ping across the other run's LAN"
    );
    ours.down();
    assert_eq!(namespaces(), before, "our down deleted the other run's LAN");
    owner::reap();
    assert_eq!(namespaces(), before, "reap deleted the LAN of a live run");

    // The other run dies without tearing down: its LAN is now a leftover,
    // and the next reap (as every `up` does first) deletes it.
    other.crash();
    owner::reap();
    assert_eq!(namespaces(), [], "reap left a dead run's LAN");
}
