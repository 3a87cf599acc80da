//! The test LAN itself: three hosts on one bridge, host 2 with two
//! interfaces, host 3 IPv6-only. Checks reachability, that a directed
//! broadcast reaches both interfaces of host 2, and clean teardown.

#[path = "common/lan.rs"]
mod lan;

use lan::{BROADCAST, Lan, namespaces_with_prefix, which};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::Stdio;

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
    const PREFIX: &str = "ut_smoke_";
    let Some(lan) = Lan::up(PREFIX, 3, &["--two-if", "2", "--v6only", "3"]) else {
        return;
    };
    if which("python3").is_none() {
        lan::shout("*** SKIPPED lan_smoke: needs python3 ***");
        return;
    }

    // What the script reported.
    assert_eq!(lan.ns(1), "ut_smoke_h1");
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
    assert_eq!(namespaces_with_prefix(PREFIX).len(), 4);
    lan.down();
    assert!(namespaces_with_prefix(PREFIX).is_empty());
}
