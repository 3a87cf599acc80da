//! `udpmsg discover` against real listeners on a namespace LAN
//! (`tests/common/lan.rs`): who is found, with which addresses, how fast,
//! with and without a shared key, and that answering probes can neither
//! flood a source nor amplify.
//!
//! Every LAN test has its own tag (`dl1_`, `dl2_`, ...; none a prefix of
//! another) and its namespaces are deleted by `Lan`'s Drop, even on failure.
//! Sockets a test opens itself are created inside a host's namespace (see
//! [`in_host`]) and stay there. The two loopback tests run in a private
//! namespace of their own (`common::isolate`).

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{
    BIN, WAIT, line_reader, listening_addr, parse_shown_addr, rest_of, run_captured, wait_status,
};
use lan::Lan;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use udpmsg::commands::discover::MAX_ANSWER;
use udpmsg::commands::listen::ANSWERS_PER_SOURCE;
use udpmsg::net::iface::DISCOVERY_GROUP_V6;
use udpmsg::wire::{self, Datagram, Message, Probe};

/// The port listeners use unless a test says otherwise.
const PORT: u16 = 47474;

/// A listener's safety net: it ends by itself even if a test leaks it.
const LISTEN_LIFETIME: &str = "60s";

// ---------------------------------------------------------------------------
// Processes inside the LAN.

/// A `udpmsg listen` running inside one host; killed on drop.
struct HostListener {
    child: Child,
    addr: SocketAddr,
    stderr: Receiver<String>,
}

impl HostListener {
    /// Starts `udpmsg listen --name NAME <extra>` in host `k` and waits until
    /// it reports its bound address.
    fn start(lan: &Lan, k: usize, name: &str, extra: &[&str]) -> HostListener {
        let mut child = lan
            .cmd(k, BIN)
            .args(["listen", "--name", name, "--timeout", LISTEN_LIFETIME])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn udpmsg listen");
        let stderr = line_reader(child.stderr.take().expect("stderr"), None);
        let mut listener = HostListener {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stderr,
        };
        let end = Instant::now() + WAIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = listener.stderr.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "listener {name} in host {k} did not report its address within {WAIT:?}: {e}"
                )
            });
            if line.contains("listening on ") {
                listener.addr = listening_addr(&line)
                    .unwrap_or_else(|| panic!("unexpected listening line: {line}"));
                return listener;
            }
        }
    }

    /// SIGTERM, then every stderr line it printed after the ready line
    /// (the last is its summary).
    fn stop(mut self) -> Vec<String> {
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        wait_status(&mut self.child, WAIT, "listener after SIGTERM");
        rest_of(&self.stderr)
    }

    /// Stderr lines printed so far (without waiting).
    fn lines_so_far(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished `udpmsg discover`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// From spawning `ip netns exec` to the exit (a few ms more than the
    /// scan), for checking that a scan was not cut short.
    elapsed: Duration,
}

/// Runs `udpmsg discover <args>` in host `k`, killed (failing the test) if
/// it has not finished within [`WAIT`].
fn discover(lan: &Lan, k: usize, args: &[&str]) -> Run {
    let mut cmd = lan.cmd(k, BIN);
    cmd.arg("discover").args(args);
    finish(cmd, args)
}

/// Runs `udpmsg discover <args>` in this thread's namespace.
fn discover_here(args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("discover").args(args);
    finish(cmd, args)
}

fn finish(cmd: Command, args: &[&str]) -> Run {
    let start = Instant::now();
    let out = run_captured(cmd, b"", WAIT, &format!("udpmsg discover {args:?}"));
    Run {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
        elapsed: start.elapsed(),
    }
}

// ---------------------------------------------------------------------------
// `discover --json` output.

/// One line of `discover --json`.
#[derive(Debug)]
struct Peer {
    name: String,
    /// Without their scopes, which are in `scopes`.
    addrs: Vec<SocketAddr>,
    /// Each address's scope: an interface name for a link-local address.
    scopes: Vec<Option<String>>,
    rtt_ms: f64,
    interface: Option<String>,
    interfaces: Vec<String>,
    instance: String,
    version: u64,
}

impl Peer {
    fn v4(&self) -> Vec<SocketAddr> {
        self.addrs.iter().filter(|a| a.is_ipv4()).copied().collect()
    }
}

/// Parses the peers of a successful `discover --json`.
fn parse_peers(run: &Run) -> Vec<Peer> {
    assert_eq!(run.code, 0, "discover failed: {run:?}");
    run.stdout
        .lines()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            let text = |key: &str| {
                v[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("no string {key} in {line}"))
                    .to_string()
            };
            let list = |key: &str| -> Vec<String> {
                v[key]
                    .as_array()
                    .unwrap_or_else(|| panic!("no array {key} in {line}"))
                    .iter()
                    .map(|s| s.as_str().expect("string in list").to_string())
                    .collect()
            };
            let (addrs, scopes) = list("addrs")
                .iter()
                .map(|a| parse_shown_addr(a).unwrap_or_else(|| panic!("bad addr {a}")))
                .unzip();
            Peer {
                name: text("name"),
                addrs,
                scopes,
                rtt_ms: v["rtt_ms"].as_f64().expect("rtt_ms"),
                interface: v["interface"].as_str().map(str::to_string),
                interfaces: list("interfaces"),
                instance: text("instance"),
                version: v["version"].as_u64().expect("version"),
            }
        })
        .collect()
}

/// The one peer called `name`; fails if it is missing or listed twice.
fn one<'a>(peers: &'a [Peer], name: &str) -> &'a Peer {
    let found: Vec<&Peer> = peers.iter().filter(|p| p.name == name).collect();
    assert_eq!(found.len(), 1, "want exactly one peer {name:?}: {peers:#?}");
    found[0]
}

fn v4(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(addr.into(), port)
}

/// Asserts that every IPv6 address of `peer` is one of host `k`'s link-local
/// addresses, with a scope and the listener's port.
fn assert_v6_addrs_belong_to(lan: &Lan, k: usize, peer: &Peer) {
    let own: Vec<Ipv6Addr> = lan
        .host(k)
        .ifaces
        .iter()
        .flat_map(|i| i.v6.iter().copied())
        .collect();
    for (a, scope) in peer.addrs.iter().zip(&peer.scopes) {
        let SocketAddr::V6(a6) = a else {
            continue;
        };
        assert!(own.contains(a6.ip()), "{a} is not host {k}'s: {peer:?}");
        assert_scope_is_a_name(scope, peer);
        assert_eq!(a.port(), PORT, "{peer:?}");
    }
}

/// A link-local address's scope is shown by the interface's name.
fn assert_scope_is_a_name(scope: &Option<String>, peer: &Peer) {
    let scope = scope
        .as_deref()
        .unwrap_or_else(|| panic!("link-local address without a scope: {peer:?}"));
    assert!(
        scope.starts_with("eth"),
        "scope {scope:?} is not the interface's name: {peer:?}"
    );
}

// ---------------------------------------------------------------------------
// Hand-made probes from sockets inside the LAN.

/// Runs `f` on a thread that has joined host `k`'s network namespace: what
/// it creates (sockets) belongs to that host, even when used elsewhere.
fn in_host<T: Send>(lan: &Lan, k: usize, f: impl FnOnce() -> T + Send) -> T {
    lan.enter(k, f)
}

/// A UDP socket on `0.0.0.0:port` in host `k`, with a short read timeout.
fn host_socket(lan: &Lan, k: usize, port: u16) -> UdpSocket {
    let socket = in_host(lan, k, || UdpSocket::bind(("0.0.0.0", port))).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    socket
}

/// An encoded probe of exactly `len` bytes (its padding makes up the size).
fn probe(instance: u64, token: u64, len: usize) -> Vec<u8> {
    let encode = |pad: &[u8]| {
        let mut out = Vec::new();
        wire::encode(
            &Message::Probe(Probe {
                instance,
                token,
                pad,
            }),
            wire::MAX_DATAGRAM_V4,
            &mut out,
        )
        .expect("encode probe");
        out
    };
    let base = encode(&[]).len();
    assert!(len >= base, "a probe has at least {base} bytes");
    let out = encode(&vec![0u8; len - base]);
    assert_eq!(out.len(), len);
    out
}

/// The smallest probe: no padding at all.
fn bare_probe_len() -> usize {
    let mut out = Vec::new();
    let bare = Message::Probe(Probe {
        instance: 0,
        token: 0,
        pad: &[],
    });
    wire::encode(&bare, wire::MAX_DATAGRAM_V4, &mut out).expect("encode probe");
    out.len()
}

/// An answer as received.
#[derive(Debug, Clone)]
struct Heard {
    len: usize,
    from: SocketAddr,
    instance: u64,
    token: u64,
    name: String,
}

/// Reads answers from `socket` until `until` or until `done` says enough.
fn answers(socket: &UdpSocket, until: Instant, done: impl Fn(&[Heard]) -> bool) -> Vec<Heard> {
    let mut heard = Vec::new();
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    while Instant::now() < until && !done(&heard) {
        if let Some(h) = recv_answer(socket, &mut buf) {
            heard.push(h);
        }
    }
    heard
}

/// One answer if one arrives within the socket's read timeout.
fn recv_answer(socket: &UdpSocket, buf: &mut [u8]) -> Option<Heard> {
    let (len, from) = match socket.recv_from(buf) {
        Ok(got) => got,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return None;
        }
        Err(e) => panic!("recv: {e}"),
    };
    match wire::classify(&buf[..len]) {
        Ok(Datagram::Message(Message::Answer(a))) => Some(Heard {
            len,
            from,
            instance: a.instance,
            token: a.token,
            name: a.name.to_string(),
        }),
        other => panic!("not an answer from {from}: {other:?}"),
    }
}

/// `N <what>` from a listener summary line (0 when not mentioned).
fn summary_count(summary: &str, what: &str) -> u64 {
    summary
        .split(", ")
        .find_map(|part| {
            part.strip_suffix(what)
                .or_else(|| part.strip_suffix(common::singular(what).as_str()))?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn summary_of(lines: &[String]) -> &str {
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("udpmsg listen:"))
        .unwrap_or_else(|| panic!("no summary in {lines:#?}"))
}

// ---------------------------------------------------------------------------
// Who is found.

#[test]
fn discover_finds_every_listener_exactly_once() {
    let Some(lan) = Lan::up("dl1_", 6, &[]) else {
        return;
    };
    let listeners: Vec<HostListener> = (2..=6)
        .map(|k| HostListener::start(&lan, k, &format!("h{k}"), &[]))
        .collect();
    assert!(listeners.iter().all(|l| l.addr.port() == PORT));

    let run = discover(&lan, 1, &["--json", "--timeout", "1s"]);
    let peers = parse_peers(&run);
    let mut names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["h2", "h3", "h4", "h5", "h6"], "{run:?}");
    let instances: HashSet<&str> = peers.iter().map(|p| p.instance.as_str()).collect();
    assert_eq!(instances.len(), 5, "instances not distinct: {peers:#?}");
    for k in 2..=6 {
        let peer = one(&peers, &format!("h{k}"));
        assert_eq!(peer.instance.len(), 16, "{peer:?}");
        assert!(peer.instance.chars().all(|c| c.is_ascii_hexdigit()));
        let own = v4(lan.host(k).v4().expect("IPv4"), PORT);
        assert_eq!(peer.v4(), [own], "host {k}: {peer:?}");
        assert_v6_addrs_belong_to(&lan, k, peer);
        assert_eq!(peer.interface.as_deref(), Some("eth0"), "{peer:?}");
        assert_eq!(peer.interfaces, ["eth0"], "{peer:?}");
        assert_eq!(peer.version, u64::from(wire::VERSION));
        assert!((0.0..1000.0).contains(&peer.rtt_ms), "{peer:?}");
    }
    drop(listeners);
}

#[test]
fn two_interface_host_is_listed_once_with_both_addresses() {
    let Some(lan) = Lan::up("dl2_", 3, &["--two-if", "2"]) else {
        return;
    };
    let _h2 = HostListener::start(&lan, 2, "h2", &[]);
    let _h3 = HostListener::start(&lan, 3, "h3", &[]);

    let run = discover(&lan, 1, &["--json", "--timeout", "1s", "-v"]);
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 2, "{run:?}");
    let h3 = one(&peers, "h3");
    assert_eq!(h3.v4(), [v4(Ipv4Addr::new(10, 77, 0, 3), PORT)], "{h3:?}");
    let h2 = one(&peers, "h2");
    let mut got = h2.v4();
    got.sort();
    let want = [
        v4(Ipv4Addr::new(10, 77, 0, 2), PORT),
        v4(Ipv4Addr::new(10, 77, 128, 2), PORT),
    ];
    assert_eq!(
        got, want,
        "host 2 answers on eth0 and on eth1, each from that interface's address: {h2:?}\n{}",
        run.stderr
    );
    assert_v6_addrs_belong_to(&lan, 2, h2);
}

#[test]
fn two_interface_prober_hears_a_peer_on_both_interfaces() {
    let Some(lan) = Lan::up("dl3_", 3, &["--two-if", "1"]) else {
        return;
    };
    let _h3 = HostListener::start(&lan, 3, "h3", &[]);

    let run = discover(&lan, 1, &["--json", "--timeout", "1s", "-v"]);
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    let h3 = one(&peers, "h3");
    assert_eq!(h3.v4(), [v4(Ipv4Addr::new(10, 77, 0, 3), PORT)], "{h3:?}");
    let mut interfaces = h3.interfaces.clone();
    interfaces.sort();
    assert_eq!(interfaces, ["eth0", "eth1"], "{h3:?}\n{}", run.stderr);
    for i in ["eth0", "eth1"] {
        assert!(
            run.stderr
                .contains(&format!("probe sent to 10.77.255.255:{PORT} on {i}")),
            "no probe out of {i}: {}",
            run.stderr
        );
    }
}

#[test]
fn listeners_sharing_a_port_in_one_host_are_both_found() {
    let Some(lan) = Lan::up("dl4_", 2, &[]) else {
        return;
    };
    let first = HostListener::start(&lan, 2, "first", &["--share-port"]);
    let second = HostListener::start(&lan, 2, "second", &["--share-port"]);
    assert_eq!(first.addr, second.addr, "both bind the default port");

    let run = discover(&lan, 1, &["--json", "--expect", "2", "--timeout", "2s"]);
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 2, "{run:?}");
    let a = one(&peers, "first");
    let b = one(&peers, "second");
    assert_ne!(a.instance, b.instance);
    let addr = v4(Ipv4Addr::new(10, 77, 0, 2), PORT);
    assert_eq!(a.v4(), [addr], "{a:?}");
    assert_eq!(b.v4(), [addr], "{b:?}");
}

#[test]
fn ipv6_only_host_is_found_by_its_link_local_address() {
    let Some(lan) = Lan::up("dl5_", 2, &["--v6only", "2"]) else {
        return;
    };
    let _v6 = HostListener::start(&lan, 2, "v6", &[]);
    let _dual = HostListener::start(&lan, 1, "dual", &[]);
    let h1_ll = lan.host(1).v6().expect("h1 link-local");
    let h2_ll = lan.host(2).v6().expect("h2 link-local");

    // From the dual-stack host: the IPv6-only one answers the group probe.
    let run = discover(&lan, 1, &["--json", "--timeout", "1s", "-v"]);
    let peers = parse_peers(&run);
    let found = peers.iter().find(|p| p.name == "v6");
    let Some(peer) = found else {
        panic!(
            "IPv6-only host 2 ({h2_ll}) not found: {peers:#?}\n{}",
            run.stderr
        );
    };
    one(&peers, "v6");
    assert!(peer.v4().is_empty(), "{peer:?}");
    assert!(!peer.addrs.is_empty());
    for (a, scope) in peer.addrs.iter().zip(&peer.scopes) {
        let SocketAddr::V6(a6) = a else {
            unreachable!()
        };
        assert_eq!(*a6.ip(), h2_ll, "{peer:?}");
        assert_eq!(scope.as_deref(), Some("eth0"), "{peer:?}");
        assert_eq!(a.port(), PORT);
    }
    assert_eq!(peer.interface.as_deref(), Some("eth0"));

    // From the IPv6-only host: the other host over link-local.
    let run = discover(&lan, 2, &["--json", "--timeout", "1s", "-v"]);
    let peers = parse_peers(&run);
    let dual = peers
        .iter()
        .find(|p| p.name == "dual")
        .unwrap_or_else(|| panic!("host 1 not found from the IPv6-only host: {run:?}"));
    one(&peers, "dual");
    assert!(dual.v4().is_empty(), "{dual:?}");
    assert!(!dual.addrs.is_empty(), "{dual:?}");
    for (a, scope) in dual.addrs.iter().zip(&dual.scopes) {
        assert_eq!(a.ip(), IpAddr::V6(h1_ll), "{dual:?}");
        assert_eq!(scope.as_deref(), Some("eth0"), "{dual:?}");
    }
}

#[test]
fn isolated_host_is_not_found_and_nobody_answering_gives_hints() {
    let Some(lan) = Lan::up("dl6_", 3, &["--isolated", "3"]) else {
        return;
    };
    let _iso = HostListener::start(&lan, 3, "iso", &[]);

    // Host 1 probes the LAN; only the unconnected host 3 listens.
    let run = discover(&lan, 1, &["--json", "--timeout", "500ms"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "--json prints only peers: {run:?}");
    assert!(
        run.stderr
            .contains(&format!("no listener answered on port {PORT}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("probed: eth0 (10.77.255.255"),
        "the hint names the probed interface and address: {}",
        run.stderr
    );
    assert!(run.stderr.contains("hints:"), "{}", run.stderr);

    // Text output with nobody: no table either.
    let run = discover(&lan, 1, &["--timeout", "300ms"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");

    // The isolated host itself has nothing to probe but lo, which only
    // `--interface lo` covers; that finds its own listener.
    let run = discover(&lan, 3, &["--json", "--timeout", "300ms"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("no interface to probe"),
        "{}",
        run.stderr
    );
    let run = discover(
        &lan,
        3,
        &[
            "--json",
            "--interface",
            "lo",
            "--expect",
            "1",
            "--timeout",
            "2s",
        ],
    );
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    assert_eq!(peers[0].name, "iso");
    assert_eq!(peers[0].addrs, [v4(Ipv4Addr::LOCALHOST, PORT)]);
}

#[test]
fn expect_returns_as_soon_as_enough_listeners_answered() {
    let Some(lan) = Lan::up("dl7_", 4, &[]) else {
        return;
    };
    let _listeners: Vec<HostListener> = (2..=4)
        .map(|k| HostListener::start(&lan, k, &format!("h{k}"), &[]))
        .collect();

    // A timeout far past the run's deadline (WAIT): only --expect can end
    // the scan in time.
    let run = discover(&lan, 1, &["--json", "--expect", "3", "--timeout", "60s"]);
    let found = parse_peers(&run);
    assert_eq!(found.len(), 3, "{run:?}");

    // Expecting more than exist: the whole timeout, all that answered, and
    // exit 6 with how many of how many.
    let run = discover(&lan, 1, &["--json", "--expect", "4", "--timeout", "700ms"]);
    assert!(
        run.elapsed >= Duration::from_millis(700),
        "stopped before the timeout: {:?}",
        run.elapsed
    );
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr
            .ends_with("udpmsg: found 3 of 4 expected listeners\n"),
        "{run:?}"
    );
    let found = parse_peers(&Run { code: 0, ..run });
    assert_eq!(found.len(), 3);
}

/// A key file written by `udpmsg keygen`, removed on drop.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(tag: &str) -> KeyFile {
        let path = std::env::temp_dir().join(format!("udpmsg-{tag}-{}.key", std::process::id()));
        let key = KeyFile(path);
        let path = key.path();
        // keygen only writes a file: no socket, so it may run anywhere.
        let out = Command::new(BIN)
            .args(["keygen", "--force", path])
            .output()
            .expect("run keygen");
        assert!(out.status.success(), "keygen: {out:?}");
        key
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn keyed_discovery_finds_keyed_listeners_on_every_interface() {
    let Some(lan) = Lan::up("dl12_", 3, &["--two-if", "1"]) else {
        return;
    };
    let key = KeyFile::new("dl12");
    let keyed = HostListener::start(&lan, 2, "keyed", &["-v", "--key-file", key.path()]);
    let _open = HostListener::start(&lan, 3, "open", &[]);

    // Without the key only the open listener answers, and the other way round.
    let run = discover(&lan, 1, &["--json", "--timeout", "700ms"]);
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    let open = one(&peers, "open");
    let mut interfaces = open.interfaces.clone();
    interfaces.sort();
    assert_eq!(interfaces, ["eth0", "eth1"], "{open:?}");

    let run = discover(
        &lan,
        1,
        &["--json", "--timeout", "700ms", "--key-file", key.path()],
    );
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    let found = one(&peers, "keyed");
    assert_eq!(found.v4(), [v4(Ipv4Addr::new(10, 77, 0, 2), PORT)]);

    // The prober probes out of eth0 and eth1; a sealed probe is as
    // welcome on each as an open one.
    let mut interfaces = found.interfaces.clone();
    interfaces.sort();
    let said = keyed.lines_so_far();
    assert_eq!(
        interfaces,
        ["eth0", "eth1"],
        "the keyed listener answered the probe on one interface only: {found:?}; it said {said:#?}"
    );
}

// ---------------------------------------------------------------------------
// Answering is safe: rate limited, never larger than the probe.

#[test]
fn answers_to_one_source_are_rate_limited() {
    let Some(lan) = Lan::up("dl8_", 3, &[]) else {
        return;
    };
    let listener = HostListener::start(&lan, 2, "h2", &[]);
    let socket = host_socket(&lan, 1, 0);
    socket.set_nonblocking(true).expect("nonblocking");
    let to = v4(Ipv4Addr::new(10, 77, 0, 2), PORT);
    let instance = udpmsg::util::rng::random_id();
    let token = udpmsg::util::rng::random_id();
    let storm = probe(instance, token, MAX_ANSWER);

    // 500 valid probes, one every millisecond; answers are read meanwhile.
    const PROBES: u32 = 500;
    let mut heard = Vec::new();
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let start = Instant::now();
    let mut sent = 0u32;
    while sent < PROBES {
        socket.send_to(&storm, to).expect("send probe");
        sent += 1;
        while let Some(h) = recv_answer(&socket, &mut buf) {
            heard.push(h);
        }
        let next = start + Duration::from_millis(u64::from(sent));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let elapsed = start.elapsed().as_secs_f64();
    socket.set_nonblocking(false).expect("blocking");
    heard.extend(answers(
        &socket,
        Instant::now() + Duration::from_millis(300),
        |_| false,
    ));
    assert!(heard.iter().all(|h| h.token == token && h.name == "h2"));
    assert!(heard.iter().all(|h| h.len <= storm.len()));

    let n = heard.len() as f64;
    let rate = f64::from(ANSWERS_PER_SOURCE);
    let bound = rate + rate * elapsed + 2.0;
    assert!(
        n <= bound,
        "{n} answers to {PROBES} probes in {elapsed:.3} s: more than burst {rate} + {rate}/s (+2)"
    );
    assert!(
        n >= rate,
        "{n} answers: the first burst of {rate} should be answered"
    );

    // Another source is not limited by the first one's storm.
    let other = host_socket(&lan, 3, 0);
    other
        .send_to(&probe(instance, token + 1, MAX_ANSWER), to)
        .expect("send");
    let got = answers(&other, Instant::now() + WAIT, |h| !h.is_empty());
    assert_eq!(got.len(), 1, "host 3 not answered after host 1's storm");

    // The listener counts what it did the same way.
    let lines = listener.stop();
    let summary = summary_of(&lines);
    let answered = summary_count(summary, "probes answered");
    let ignored = summary_count(summary, "probes ignored");
    assert_eq!(answered, heard.len() as u64 + 1, "{summary}");
    assert_eq!(answered + ignored, u64::from(PROBES) + 1, "{summary}");
}

#[test]
fn answers_are_never_larger_than_their_probe() {
    let Some(lan) = Lan::up("dl9_", 2, &[]) else {
        return;
    };
    let short = HostListener::start(&lan, 2, "h2", &["-v"]);
    // The longest name allowed, in two-byte characters plus one ASCII byte.
    let long_name = format!("{}x", "é".repeat(127));
    assert_eq!(long_name.len(), udpmsg::wire::MAX_NAME);
    let long = HostListener::start(&lan, 2, &long_name, &["-v", "--port", "47475"]);
    let socket = host_socket(&lan, 1, 0);
    let instance = udpmsg::util::rng::random_id();

    // Answer of "h2": 37 + 2 bytes. Probes from bare to large; the token
    // is the probe's length.
    let answer_len = 39;
    let bare = bare_probe_len();
    let sizes = [bare, answer_len - 1, answer_len, MAX_ANSWER, 1200];
    let short_addr = v4(Ipv4Addr::new(10, 77, 0, 2), PORT);
    for len in sizes {
        socket
            .send_to(&probe(instance, len as u64, len), short_addr)
            .expect("send");
    }
    let want: HashSet<u64> = [answer_len, MAX_ANSWER, 1200]
        .iter()
        .map(|&l| l as u64)
        .collect();
    let heard = answers(&socket, Instant::now() + WAIT, |h| h.len() >= want.len());
    // Anything late would show up here.
    let late = answers(&socket, Instant::now() + Duration::from_millis(200), |_| {
        false
    });
    let all: Vec<&Heard> = heard.iter().chain(&late).collect();
    for h in &all {
        assert!(
            h.len <= h.token as usize,
            "answer of {} bytes to a probe of {}",
            h.len,
            h.token
        );
        assert_eq!(h.len, answer_len, "{h:?}");
        assert_eq!(h.from, short_addr);
    }
    let answered: HashSet<u64> = all.iter().map(|h| h.token).collect();
    assert_eq!(
        answered,
        want,
        "probes smaller than the answer (bare {bare} bytes, {} bytes) get none; the others one each",
        answer_len - 1
    );
    assert_eq!(all.len(), want.len(), "one answer per probe: {all:#?}");

    // The longest name: the standard probe is exactly big enough.
    let long_addr = v4(Ipv4Addr::new(10, 77, 0, 2), 47475);
    socket
        .send_to(&probe(instance, 1, MAX_ANSWER - 1), long_addr)
        .expect("send");
    socket
        .send_to(&probe(instance, 2, MAX_ANSWER), long_addr)
        .expect("send");
    let mut heard = answers(&socket, Instant::now() + WAIT, |h| !h.is_empty());
    heard.extend(answers(
        &socket,
        Instant::now() + Duration::from_millis(200),
        |_| false,
    ));
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].token, 2, "only the full-size probe is answered");
    assert_eq!(heard[0].len, MAX_ANSWER, "{:?}", heard[0]);
    assert_eq!(heard[0].name, long_name);
    let run = discover(
        &lan,
        1,
        &[
            "--json",
            "--port",
            "47475",
            "--expect",
            "1",
            "--timeout",
            "2s",
        ],
    );
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    assert_eq!(peers[0].name, long_name);

    // The listeners said why.
    let lines = short.stop();
    let small = lines
        .iter()
        .filter(|l| l.contains("ignored discovery probe") && l.contains("smaller than the answer"))
        .count();
    assert_eq!(small, 2, "{lines:#?}");
    let lines = long.stop();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ignored discovery probe") && l.contains("smaller")),
        "{lines:#?}"
    );
}

#[test]
fn unpadded_probes_do_not_use_up_the_answer_budget() {
    let Some(lan) = Lan::up("dl10_", 2, &[]) else {
        return;
    };
    let listener = HostListener::start(&lan, 2, "h2", &["-v"]);
    let socket = host_socket(&lan, 1, 0);
    let to = v4(Ipv4Addr::new(10, 77, 0, 2), PORT);
    let instance = udpmsg::util::rng::random_id();
    // As many unanswerable probes as the burst, then one valid probe: the
    // limiter counts answers, so the valid one must still be answered.
    for token in 0..u64::from(ANSWERS_PER_SOURCE) {
        socket
            .send_to(&probe(instance, token, bare_probe_len()), to)
            .expect("send");
    }
    socket
        .send_to(&probe(instance, 999, MAX_ANSWER), to)
        .expect("send");
    let heard = answers(&socket, Instant::now() + WAIT, |h| !h.is_empty());
    let said = listener.lines_so_far();
    assert_eq!(
        heard.iter().map(|h| h.token).collect::<Vec<_>>(),
        [999],
        "a valid probe after {ANSWERS_PER_SOURCE} unpadded ones (never answered) was refused; listener said: {said:#?}"
    );
}

#[test]
fn listener_does_not_answer_a_broadcast_source_address() {
    let Some(lan) = Lan::up("dl11_", 3, &[]) else {
        return;
    };
    let listener = HostListener::start(&lan, 2, "h2", &["-v"]);
    // Host 3 watches one port; a forged probe claims to come from the LAN's
    // broadcast address on that port. Answering it would broadcast the
    // answer to every host (and, sent to every listener, N² deliveries).
    let watch = host_socket(&lan, 3, 0);
    let watch_port = watch.local_addr().expect("local addr").port();
    let raw = in_host(&lan, 1, || {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });
    let instance = udpmsg::util::rng::random_id();
    let forged = probe(instance, 1, MAX_ANSWER);
    send_forged(
        &raw,
        SocketAddrV4::new(lan::BROADCAST, watch_port),
        SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 2), PORT),
        &forged,
    );
    // Then a genuine probe from host 3 itself: its answer comes after any
    // answer to the forged one.
    let genuine = probe(instance, 2, MAX_ANSWER);
    watch
        .send_to(&genuine, v4(Ipv4Addr::new(10, 77, 0, 2), PORT))
        .expect("send");
    let heard = answers(&watch, Instant::now() + WAIT, |h| {
        h.iter().any(|h| h.token == 2)
    });
    let late = answers(&watch, Instant::now() + Duration::from_millis(200), |_| {
        false
    });
    let tokens: Vec<u64> = heard.iter().chain(&late).map(|h| h.token).collect();
    let said = listener.lines_so_far();
    assert!(tokens.contains(&2), "genuine probe not answered: {said:#?}");
    assert_eq!(
        tokens,
        [2],
        "a probe from source {}:{watch_port} was answered by broadcast; listener said: {said:#?}",
        lan::BROADCAST
    );
}

/// Sends `payload` in a UDP datagram with a made-up source, over a raw socket.
fn send_forged(raw: &OwnedFd, from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut packet = Vec::with_capacity(total);
    packet.extend_from_slice(&[0x45, 0]);
    packet.extend_from_slice(&(total as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 64, libc::IPPROTO_UDP as u8, 0, 0]);
    packet.extend_from_slice(&from.ip().octets());
    packet.extend_from_slice(&to.ip().octets());
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]); // no UDP checksum (allowed on IPv4)
    packet.extend_from_slice(payload);
    let dest = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the packet and the address are live locals of the given sizes.
    let n = unsafe {
        libc::sendto(
            raw.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&dest as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(
        n,
        packet.len() as isize,
        "raw send: {}",
        std::io::Error::last_os_error()
    );
}

// ---------------------------------------------------------------------------
// On this machine only: loopback, in a private namespace.

#[test]
fn listener_ignores_probes_carrying_its_own_instance() {
    if !common::isolate("listener_ignores_probes_carrying_its_own_instance") {
        return;
    }
    let listener = common::Listener::start(&["--name", "self", "-v"]);
    let to = v4(Ipv4Addr::LOCALHOST, listener.port());
    let socket = common::udp("127.0.0.1:0");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");

    // Learn the listener's instance from an ordinary answer.
    socket
        .send_to(&probe(udpmsg::util::rng::random_id(), 1, MAX_ANSWER), to)
        .expect("send");
    let first = answers(&socket, Instant::now() + WAIT, |h| !h.is_empty());
    assert_eq!(first.len(), 1, "no answer to a plain probe");
    let own = first[0].instance;
    assert_eq!(first[0].name, "self");

    // A probe claiming that instance is the listener's own: no answer. The
    // next, from another instance, is answered (and comes after it).
    socket
        .send_to(&probe(own, 2, MAX_ANSWER), to)
        .expect("send");
    socket
        .send_to(&probe(udpmsg::util::rng::random_id(), 3, MAX_ANSWER), to)
        .expect("send");
    let heard = answers(&socket, Instant::now() + WAIT, |h| {
        h.iter().any(|h| h.token == 3)
    });
    let late = answers(&socket, Instant::now() + Duration::from_millis(200), |_| {
        false
    });
    let tokens: Vec<u64> = heard.iter().chain(&late).map(|h| h.token).collect();
    assert_eq!(tokens, [3], "own-instance probe answered");
    assert!(heard.iter().all(|h| h.instance == own));
}

#[test]
fn loopback_discovery_finds_a_local_listener() {
    if !common::isolate("loopback_discovery_finds_a_local_listener") {
        return;
    }
    let listener = common::Listener::start(&["--name", "local"]);
    let port = listener.port().to_string();

    // Only --expect 1 ends this scan before the run's deadline (WAIT).
    let run = discover_here(&[
        "--interface",
        "lo",
        "--port",
        &port,
        "--json",
        "--expect",
        "1",
        "--timeout",
        "60s",
    ]);
    let peers = parse_peers(&run);
    assert_eq!(peers.len(), 1, "{run:?}");
    let peer = &peers[0];
    assert_eq!(peer.name, "local");
    assert_eq!(
        peer.addrs,
        [SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            listener.port()
        )]
    );
    assert_eq!(peer.interface.as_deref(), Some("lo"));

    // Without --interface lo there is nothing to probe here, and an unknown
    // interface is named in the hint.
    let run = discover_here(&["--port", &port, "--json", "--timeout", "200ms"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("no interface to probe"),
        "{}",
        run.stderr
    );
    let run = discover_here(&[
        "--interface",
        "nosuch0",
        "--port",
        &port,
        "--json",
        "--timeout",
        "200ms",
    ]);
    // An interface this host does not have is a usage error that names the
    // ones it has.
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "udpmsg: no interface 'nosuch0' on this host; it has: lo\n"
    );
}

// ---------------------------------------------------------------------------
// Attacks from inside the LAN (issue #12): forged sources, forged answers.

/// Host `k`'s eth0 index, for IPv6 scopes.
fn eth0_index(lan: &Lan, k: usize) -> u32 {
    in_host(lan, k, || {
        // SAFETY: a NUL-terminated literal.
        unsafe { libc::if_nametoindex(c"eth0".as_ptr()) }
    })
}

/// A socket in host `k` bound to `addr`, allowed to broadcast, with a
/// short read timeout.
fn bound_in_host(lan: &Lan, k: usize, addr: SocketAddr) -> UdpSocket {
    let socket = in_host(lan, k, || UdpSocket::bind(addr))
        .unwrap_or_else(|e| panic!("bind {addr} in host {k}: {e}"));
    socket.set_broadcast(addr.is_ipv4()).expect("SO_BROADCAST");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    socket
}

/// The tokens answered on `socket` once `last` was (and 200 ms more).
fn tokens_until(socket: &UdpSocket, last: u64) -> Vec<u64> {
    let heard = answers(socket, Instant::now() + WAIT, |h| {
        h.iter().any(|h| h.token == last)
    });
    let late = answers(socket, Instant::now() + Duration::from_millis(200), |_| {
        false
    });
    heard.iter().chain(&late).map(|h| h.token).collect()
}

#[test]
fn broadcast_and_multicast_probes_from_off_link_sources_are_not_answered() {
    let Some(lan) = Lan::up("dl13_", 2, &[]) else {
        return;
    };
    // Host 1 also holds addresses of another network, 10.99.0.1 and
    // fd00:99::1, which host 2 reaches through a route via host 1: for host
    // 2 they are off-link sources whose answers would still arrive, like a
    // far-away victim's.
    lan.ip(1, &["addr", "add", "10.99.0.1/32", "dev", "eth0"]);
    lan.ip(
        1,
        &["addr", "add", "fd00:99::1/128", "dev", "eth0", "nodad"],
    );
    lan.ip(2, &["route", "add", "10.99.0.0/24", "via", "10.77.0.1"]);
    let h1_ll = lan.host(1).v6().expect("h1 link-local").to_string();
    lan.ip(
        2,
        &["route", "add", "fd00:99::/64", "via", &h1_ll, "dev", "eth0"],
    );
    let listener = HostListener::start(&lan, 2, "h2", &["-v"]);
    let instance = udpmsg::util::rng::random_id();
    let probe_of = |token: u64| probe(instance, token, MAX_ANSWER);
    let scope = eth0_index(&lan, 1);
    let group = SocketAddr::V6(SocketAddrV6::new(DISCOVERY_GROUP_V6, PORT, 0, scope));
    let broadcast = v4(lan::BROADCAST, PORT);
    let h2_v4 = v4(Ipv4Addr::new(10, 77, 0, 2), PORT);
    let h2_ll = SocketAddr::V6(SocketAddrV6::new(
        lan.host(2).v6().expect("h2 link-local"),
        PORT,
        0,
        scope,
    ));

    // Off-link sources: the broadcast and the group probe get no answer; a
    // unicast probe reaches one listener only and is answered (and, sent
    // after, shows that anything answered earlier has arrived).
    let off4 = bound_in_host(&lan, 1, "10.99.0.1:0".parse().expect("addr"));
    off4.send_to(&probe_of(1), broadcast).expect("send");
    off4.send_to(&probe_of(2), h2_v4).expect("send");
    let off6 = bound_in_host(&lan, 1, "[fd00:99::1]:0".parse().expect("addr"));
    off6.send_to(&probe_of(3), group).expect("send");
    off6.send_to(&probe_of(4), h2_ll).expect("send");
    let said = || listener.lines_so_far();
    let got4 = tokens_until(&off4, 2);
    let got6 = tokens_until(&off6, 4);
    assert_eq!(
        (got4.as_slice(), got6.as_slice()),
        ([2].as_slice(), [4].as_slice()),
        "from off-link sources only the unicast probes may be answered; listener said {:#?}",
        said()
    );

    // On-link sources: both are answered.
    let on4 = bound_in_host(&lan, 1, "10.77.0.1:0".parse().expect("addr"));
    on4.send_to(&probe_of(5), broadcast).expect("send");
    let on6 = bound_in_host(
        &lan,
        1,
        SocketAddr::V6(SocketAddrV6::new(
            lan.host(1).v6().expect("h1 link-local"),
            0,
            0,
            scope,
        )),
    );
    on6.send_to(&probe_of(6), group).expect("send");
    assert_eq!(tokens_until(&on4, 5), [5], "{:#?}", said());
    assert_eq!(tokens_until(&on6, 6), [6], "{:#?}", said());

    let lines = listener.stop();
    let off_link = lines
        .iter()
        .filter(|l| l.contains("ignored discovery probe") && l.contains("off-link source"))
        .count();
    assert_eq!(off_link, 2, "{lines:#?}");
    let summary = summary_of(&lines);
    assert_eq!(summary_count(summary, "probes answered"), 4, "{summary}");
    assert_eq!(summary_count(summary, "probes ignored"), 2, "{summary}");
}

/// Waits for `child` (deadline-bounded, killed and failing at the deadline)
/// and returns its exit code and its peak resident memory in KiB.
fn wait_with_peak_rss(child: &mut Child, limit: Duration, what: &str) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let done = common::poll(limit, || {
        let mut status = 0;
        // SAFETY: all-zero bytes are a valid rusage.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, with pointers to live locals.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(rc >= 0, "wait4: {}", std::io::Error::last_os_error());
        (rc == pid).then(|| {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -libc::WTERMSIG(status)
            };
            (code, usage.ru_maxrss)
        })
    });
    done.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not finish within {limit:?}");
    })
}

#[test]
fn forged_answers_cannot_push_out_listeners_or_grow_discover() {
    use udpmsg::commands::discover::{MAX_ADDRS, MAX_PEERS};
    let Some(lan) = Lan::up("dl14_", 3, &[]) else {
        return;
    };
    let _real = HostListener::start(&lan, 2, "real", &[]);
    // Host 3 forges: it hears the probes on the listeners' port and answers
    // them with the scan's token, from its own and from made-up addresses.
    let sniff = host_socket(&lan, 3, PORT);
    let raw = in_host(&lan, 3, || {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });

    let scan = in_host(&lan, 1, || {
        Command::new(BIN)
            .args(["discover", "--json", "--timeout", "6s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn discover")
    });
    let mut scan = scan;
    let stdout = common::drain(scan.stdout.take().expect("stdout"));
    let stderr = common::drain(scan.stderr.take().expect("stderr"));

    // Wait for the second round's probe, so the real listener has answered
    // the first; then every forged answer arrives after it.
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let (token, prober) = common::wait_for(WAIT, "the scan's second probe", || {
        let (len, from) = sniff.recv_from(&mut buf).ok()?;
        match wire::classify(&buf[..len]) {
            Ok(Datagram::Message(Message::Probe(p))) if p.token & 0xff == 1 => {
                Some((p.token, from))
            }
            _ => None,
        }
    });
    let SocketAddr::V4(prober) = prober else {
        panic!("an IPv4 probe came from {prober}");
    };
    let answer = |instance: u64, name: &str| {
        let mut out = Vec::new();
        wire::encode(
            &Message::Answer(wire::Answer {
                instance,
                token,
                port: PORT,
                version: wire::VERSION,
                name,
            }),
            wire::MAX_DATAGRAM_V4,
            &mut out,
        )
        .expect("encode answer");
        out
    };
    let mut rng = common::Rng(0x5eed_d15c_0bad_0001);
    let to = SocketAddr::V4(prober);
    // Pause now and then: the flood is bounded, and the prober's receive
    // queue should see most of it rather than drop it.
    let pace = |i: usize| {
        if i % 256 == 255 {
            std::thread::sleep(Duration::from_millis(2));
        }
    };

    // 1. Names of 60,000 bytes (the protocol allows 255).
    let huge = "x".repeat(60_000);
    for i in 0..1_000 {
        sniff.send_to(&answer(rng.next(), &huge), to).expect("send");
        pace(i);
    }
    // 2. One instance from 2,000 made-up addresses of the LAN.
    let spoofy = answer(rng.next(), "spoofy");
    for i in 0..2_000u16 {
        let [hi, lo] = i.to_be_bytes();
        let from = SocketAddrV4::new(Ipv4Addr::new(10, 77, 100 + hi, lo), PORT);
        send_forged(&raw, from, prober, &spoofy);
        pace(usize::from(i));
    }
    // 3. More made-up listeners than a scan lists.
    for i in 0..MAX_PEERS + 1_000 {
        sniff
            .send_to(&answer(rng.next(), &format!("fake{i}")), to)
            .expect("send");
        pace(i);
    }

    let (code, peak_kib) = wait_with_peak_rss(&mut scan, WAIT * 2, "discover");
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    let run = Run {
        code,
        stdout,
        stderr,
        elapsed: Duration::ZERO,
    };
    let bytes = run.stdout.len();
    let summary = format!(
        "exit {code}, {bytes} bytes of output, peak RSS {peak_kib} KiB, stderr: {}",
        run.stderr
    );
    let peers = parse_peers(&run);

    // The real listener answered first and stays listed.
    let real = one(&peers, "real");
    assert_eq!(
        real.v4(),
        [v4(Ipv4Addr::new(10, 77, 0, 2), PORT)],
        "{summary}"
    );
    // Everything is bounded: the list, each name, each address list.
    assert!(peers.len() <= MAX_PEERS, "{} peers: {summary}", peers.len());
    assert!(
        peers.iter().all(|p| p.name.len() <= wire::MAX_NAME),
        "a name longer than {} bytes was listed: {summary}",
        wire::MAX_NAME
    );
    if let Some(spoofed) = peers.iter().find(|p| p.name == "spoofy") {
        assert!(
            spoofed.addrs.len() <= MAX_ADDRS,
            "one peer listed with {} addresses: {summary}",
            spoofed.addrs.len()
        );
    }
    // A line is at most a 255-byte name, MAX_ADDRS addresses and a few
    // short fields: 2 KiB is generous.
    assert!(bytes <= MAX_PEERS * 2048, "{summary}");
    // The binary itself takes a few MiB; 1,000 names of 60 kB would take 60.
    assert!(peak_kib < 48 * 1024, "{summary}");
    assert!(
        run.stderr.contains("answers from listeners not listed"),
        "the overflow is reported: {summary}"
    );
}
