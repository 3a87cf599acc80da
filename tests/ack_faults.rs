//! `send --ack`, `listen` and `ping` under faults — loss, duplication, a
//! black hole, a closed port, a gap — on the real binary. Nothing leaves a
//! private network namespace: either `common::isolate` (only `lo`) or two
//! named namespaces joined by a veth pair, with faults from nftables.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use udpmsg::commands::deliver::GONE_AFTER;
use udpmsg::commands::listen::DEFAULT_GAP_WAIT;
use udpmsg::wire::{self, Datagram, FLAG_ACK, Message, Text};

/// Two network namespaces, `<prefix>a` (10.88.NET.1) and `<prefix>b`
/// (10.88.NET.2), joined by a veth pair and nothing else. Dropping it kills
/// whatever still runs inside and deletes both, also when the test panics.
struct Pair {
    a: String,
    b: String,
    net: u8,
}

impl Pair {
    /// Builds the pair; `tag` must be unique per test. The namespaces carry
    /// this process's token (`common::owner`), so concurrent runs of this
    /// file do not collide; the veth ends live inside them and need none.
    fn new(tag: &str, net: u8) -> Pair {
        owner::reap();
        let prefix = owner::prefix(tag);
        let pair = Pair {
            a: format!("{prefix}a"),
            b: format!("{prefix}b"),
            net,
        };
        // A leftover of a crashed run whose pid this process now has would
        // make `add` fail.
        for ns in [&pair.a, &pair.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let (va, vb) = (format!("{tag}va"), format!("{tag}vb"));
        let (ip_a, ip_b) = (format!("10.88.{net}.1/24"), format!("10.88.{net}.2/24"));
        run_ok("ip", &["netns", "add", &pair.a]);
        run_ok("ip", &["netns", "add", &pair.b]);
        run_ok(
            "ip",
            &[
                "-n", &pair.a, "link", "add", &va, "type", "veth", "peer", "name", &vb, "netns",
                &pair.b,
            ],
        );
        run_ok("ip", &["-n", &pair.a, "addr", "add", &ip_a, "dev", &va]);
        run_ok("ip", &["-n", &pair.b, "addr", "add", &ip_b, "dev", &vb]);
        for (ns, dev) in [(&pair.a, &va), (&pair.b, &vb)] {
            run_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
            run_ok("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }

    /// The listener side's address.
    fn ip_b(&self) -> String {
        format!("10.88.{}.2", self.net)
    }

    /// Drops `loss`% of arriving UDP and duplicates `dup`% of what leaves
    /// for the pair's subnet, in both namespaces.
    fn faults(&self, loss: u32, dup: u32) {
        for ns in [&self.a, &self.b] {
            nft(Some(ns), &fault_rules(self.net, loss, dup));
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            // Only processes this test started can be in its namespaces.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: kill has no memory-safety preconditions.
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The fault ruleset for one host of the pair (100% loss: a black hole).
fn fault_rules(net: u8, loss: u32, dup: u32) -> String {
    let chance = |pct: u32| match pct {
        100.. => String::new(),
        _ => format!("numgen random mod 100 < {pct} "),
    };
    let mut rules = String::from("table ip fault {\n");
    if dup > 0 {
        rules += &format!(
            "  chain out {{ type filter hook output priority 0; ip daddr 10.88.{net}.0/24 {}dup to ip daddr; }}\n",
            chance(dup)
        );
    }
    if loss > 0 {
        rules += &format!(
            "  chain in {{ type filter hook input priority 0; udp dport 1-65535 {}drop; }}\n",
            chance(loss)
        );
    }
    rules + "}\n"
}

/// Loads an nftables ruleset into `ns` (None: this thread's namespace).
fn nft(ns: Option<&str>, rules: &str) {
    let cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "nft"]);
            c
        }
        None => Command::new("nft"),
    };
    nft_load(cmd, rules);
}

/// Moves this test thread into the named namespace: sockets it opens and
/// processes it starts from now on live there.
fn enter(ns: &str) {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("open namespace");
    // SAFETY: setns on a valid namespace fd; it affects only this thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "setns({ns}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Leaves the host namespace at once (so nothing can touch eth0), then
/// builds a pair. None when not root (the test must return).
fn pair(test: &str, tag: &str, net: u8) -> Option<Pair> {
    if !isolate(test) {
        return None;
    }
    Some(Pair::new(tag, net))
}

/// Parses one `listen --json` line.
fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Listener lines until `n` were read or `limit` passed.
fn lines(l: &Listener, n: usize, limit: Duration) -> Vec<Value> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match l.try_line(left) {
            Some(line) => got.push(json(&line)),
            None => break,
        }
    }
    got
}

/// The next listener line as JSON, within `limit`.
fn next_json(l: &Listener, limit: Duration) -> Value {
    let line = l
        .try_line(limit)
        .unwrap_or_else(|| panic!("no listener line within {limit:?}"));
    json(&line)
}

/// An acknowledged-mode text datagram, as `send --ack` builds it, from a
/// sender that has given up nothing (base 0).
fn acked_text(sender: u64, seq: u64, body: &str) -> Vec<u8> {
    acked_text_based(sender, seq, 0, body)
}

/// [`acked_text`] from a sender whose lowest message still wanted is `base`.
fn acked_text_based(sender: u64, seq: u64, base: u64, body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let text = Message::Text(Text {
        sender,
        seq,
        base,
        flags: FLAG_ACK,
        name: "faults",
        body: body.as_bytes(),
    });
    wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut out).expect("encode");
    out
}

/// An acknowledgement as received: its sender, `next` and held ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GotAck {
    sender: u64,
    next: u64,
    held: Vec<(u64, u64)>,
}

/// The next acknowledgement on `sock` within `limit` (other datagrams are
/// skipped).
fn recv_ack(sock: &UdpSocket, limit: Duration) -> Option<GotAck> {
    let end = Instant::now() + limit;
    let mut buf = [0u8; 2048];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).expect("set timeout");
        let Ok(len) = sock.recv(&mut buf) else {
            return None;
        };
        if let Ok(Datagram::Message(Message::Ack(ack))) = wire::classify(&buf[..len]) {
            return Some(GotAck {
                sender: ack.sender,
                next: ack.next,
                held: ack.ranges().collect(),
            });
        }
    }
}

/// Asserts the next acknowledgement of `sender` says `next` and `held`.
fn expect_ack(sock: &UdpSocket, sender: u64, next: u64, held: &[(u64, u64)]) {
    let ack = recv_ack(sock, WAIT).unwrap_or_else(|| panic!("no ack (expected next {next})"));
    let want = GotAck {
        sender,
        next,
        held: held.to_vec(),
    };
    assert_eq!(ack, want, "unexpected ack");
}

/// A `text` event's seq, or a panic naming what came instead.
fn text_seq(v: &Value) -> u64 {
    assert_eq!(v["kind"], "text", "expected a text event: {v}");
    v["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {v}"))
}

/// A socket talking to the listener at `to` from loopback.
fn peer(to: SocketAddr) -> UdpSocket {
    let sock = udp("127.0.0.1:0");
    sock.connect(to).expect("connect");
    sock
}

/// A loopback port nobody listens on (in a private namespace nothing else
/// can take it).
fn closed_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// Runs `udpmsg args` and returns its output and how long it took.
fn timed(args: &[&str], stdin: &[u8]) -> (Output, Duration) {
    let start = Instant::now();
    let out = udpmsg(args, stdin);
    (out, start.elapsed())
}

/// `n` stdin lines `m0`..: what a sender reads.
fn numbered(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("m{i}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn hundreds_of_lines_through_loss_and_duplication_are_shown_once_in_order() {
    let Some(pair) = pair("hundreds_of_lines", "af1_", 1) else {
        return;
    };
    pair.faults(30, 10);
    enter(&pair.b);
    let l = Listener::start(&["--json", "--bind", &pair.ip_b()]);
    enter(&pair.a);
    const N: usize = 500;
    let host = format!("{}:{}", pair.ip_b(), l.port());
    // A retry cap well above what 30% loss each way needs (about one try in
    // two fails): this test is about exactly-once order, not give-ups.
    let out = udpmsg(
        &[
            "send",
            "--ack",
            &host,
            "--timeout",
            "25s",
            "--retries",
            "40",
        ],
        &numbered(N),
    );
    assert_eq!(out.code, 0, "sender failed: {}", out.stderr);
    assert_eq!(out.stderr, "", "a confirmed send prints nothing");
    // Every message was acknowledged, so all are shown or about to be.
    let got = lines(&l, N, WAIT);
    let gaps: Vec<&Value> = got.iter().filter(|v| v["kind"] == "gap").collect();
    assert!(gaps.is_empty(), "gap events: {gaps:?}");
    let texts: Vec<&str> = got.iter().filter_map(|v| v["text"].as_str()).collect();
    let want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, want, "not each line once, in order");
    for (i, v) in got.iter().enumerate() {
        assert_eq!(text_seq(v), i as u64, "{v}");
        let from = v["from"].as_str().unwrap_or_default();
        assert!(from.starts_with(&format!("10.88.{}.1:", pair.net)), "{v}");
    }
    // Nothing more: duplicates and retransmissions stay hidden.
    if let Some(extra) = l.try_line(Duration::from_millis(500)) {
        panic!("extra line after all {N}: {extra}");
    }
}

#[test]
fn single_acked_message_through_loss_is_shown_exactly_once() {
    let Some(pair) = pair("single_acked_message", "af2_", 2) else {
        return;
    };
    pair.faults(30, 10);
    enter(&pair.b);
    let l = Listener::start(&["--json", "--bind", &pair.ip_b()]);
    enter(&pair.a);
    let host = format!("{}:{}", pair.ip_b(), l.port());
    for i in 0..5 {
        let body = format!("only once {i}");
        let out = udpmsg(&["send", "--ack", &host, &body, "--retries", "40"], b"");
        assert_eq!(out.code, 0, "send {i}: {}", out.stderr);
        let v = l.json();
        assert_eq!(v["text"], body.as_str(), "{v}");
        assert_eq!(text_seq(&v), 0, "each send is a new sender from seq 0");
    }
    if let Some(extra) = l.try_line(Duration::from_millis(500)) {
        panic!("a message was shown twice: {extra}");
    }
}

#[test]
fn black_hole_gives_up_at_the_timeout_with_a_summary() {
    let Some(pair) = pair("black_hole", "af3_", 3) else {
        return;
    };
    // Everything arriving at the listener's host vanishes: no ack, no ICMP.
    nft(Some(&pair.b), &fault_rules(pair.net, 100, 0));
    enter(&pair.b);
    let l = Listener::start(&["--json", "--bind", &pair.ip_b()]);
    enter(&pair.a);
    let host = format!("{}:{}", pair.ip_b(), l.port());
    for (args, stdin, n) in [
        (
            vec!["send", "--ack", &host, "--timeout", "1s", "hello"],
            vec![],
            1,
        ),
        (
            vec!["send", "--ack", &host, "--timeout", "1s"],
            numbered(50),
            50,
        ),
    ] {
        let (out, took) = timed(&args, &stdin);
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert!(
            took >= Duration::from_millis(900),
            "{args:?} gave up after {took:?}, before its --timeout 1s"
        );
        let err: Vec<&str> = out.stderr.lines().collect();
        // The summary, and the hint that a keyed listener would be silent.
        assert_eq!(err.len(), 2, "a summary line and a hint: {:?}", out.stderr);
        assert!(err[1].starts_with("udpmsg: hint: "), "{}", err[1]);
        assert!(
            err[0].starts_with(&format!("udpmsg: 0 of {n} messages confirmed by {host}")),
            "{}",
            err[0]
        );
        assert!(err[0].contains(&format!("{n} not confirmed")), "{}", err[0]);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert!(l.try_line(Duration::from_millis(100)).is_none());
}

#[test]
fn closed_port_is_reported_at_once_by_send_ack_send_wait_and_ping() {
    if !isolate("closed_port_is_reported_at_once") {
        return;
    }
    let port = closed_port().to_string();
    let dest = format!("127.0.0.1:{port}");
    // Each waits 60 s for an answer that cannot come, far past the deadline
    // of the run: only the ICMP error can end it in time.
    let runs: [(&[&str], Vec<u8>); 5] = [
        (
            &[
                "send",
                "--ack",
                "127.0.0.1",
                "-p",
                &port,
                "--timeout",
                "60s",
                "hi",
            ],
            vec![],
        ),
        (&["send", "--ack", &dest, "--timeout", "60s"], numbered(20)),
        (
            &["ping", "127.0.0.1", "-p", &port, "-c", "3", "-W", "60s"],
            vec![],
        ),
        // send --wait takes replies from anyone (its socket is not
        // connected), yet hears the destination's refusal.
        (&["send", "--raw", &dest, "q", "--wait", "60s"], vec![]),
        (
            &["send", &dest, "--wait", "60s", "--count", "2"],
            numbered(3),
        ),
    ];
    for (args, stdin) in runs {
        let out = udpmsg_within(args, &stdin, WAIT);
        assert_eq!(out.code, 5, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("nothing is listening on {dest}")),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn released_gap_lets_later_messages_through_and_late_copies_stay_hidden() {
    if !isolate("released_gap_lets_later_messages_through") {
        return;
    }
    let l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let sock = peer(l.addr);
    let id = 0x5eed_0000_0000_0001;
    let send = |seq: u64| {
        sock.send(&acked_text(id, seq, &format!("m{seq}")))
            .expect("send");
    };
    send(0);
    let v = l.json();
    assert_eq!((text_seq(&v), v["text"].as_str()), (0, Some("m0")));
    assert_eq!(v["sender"], format!("{id:016x}"));
    expect_ack(&sock, id, 1, &[]);
    // 1 never comes: 2 and 3 are held, and the acks say so (not confirmed).
    let held_at = Instant::now();
    send(2);
    expect_ack(&sock, id, 1, &[(2, 2)]);
    send(3);
    expect_ack(&sock, id, 1, &[(2, 3)]);
    let gap = next_json(&l, DEFAULT_GAP_WAIT + WAIT);
    let waited = held_at.elapsed();
    assert_eq!(gap["kind"], "gap", "expected the gap first: {gap}");
    assert_eq!(
        (gap["first"].as_u64(), gap["last"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(gap["missing"], 1);
    assert_eq!(gap["sender"], format!("{id:016x}"));
    assert!(
        waited + Duration::from_millis(300) >= DEFAULT_GAP_WAIT,
        "gap given up after {waited:?}, before the {DEFAULT_GAP_WAIT:?} wait"
    );
    assert_eq!(text_seq(&l.json()), 2);
    assert_eq!(text_seq(&l.json()), 3);
    // A late copy of the given-up message: neither shown nor acknowledged.
    send(1);
    if let Some(ack) = recv_ack(&sock, Duration::from_millis(500)) {
        panic!("late copy of a skipped message was acknowledged: {ack:?}");
    }
    // A duplicate of a shown one: acknowledged again, not shown.
    send(2);
    expect_ack(&sock, id, 4, &[]);
    send(4);
    expect_ack(&sock, id, 5, &[]);
    let v = l.json();
    assert_eq!(text_seq(&v), 4, "1 or 2 shown again before 4: {v}");
}

#[test]
fn duplicate_datagrams_are_shown_once_and_acked_each_time() {
    if !isolate("duplicate_datagrams_are_shown_once") {
        return;
    }
    let l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let sock = peer(l.addr);
    let id = 0xd0d0_0000_0000_0002;
    let first = acked_text(id, 0, "same");
    for _ in 0..3 {
        sock.send(&first).expect("send");
        expect_ack(&sock, id, 1, &[]);
    }
    sock.send(&acked_text(id, 1, "next")).expect("send");
    expect_ack(&sock, id, 2, &[]);
    let v = l.json();
    assert_eq!((text_seq(&v), v["text"].as_str()), (0, Some("same")));
    let v = l.json();
    assert_eq!(
        (text_seq(&v), v["text"].as_str()),
        (1, Some("next")),
        "a duplicate was shown"
    );
    // The same datagram again, after it was shown: acked, still not shown.
    sock.send(&first).expect("send");
    expect_ack(&sock, id, 2, &[]);
    assert!(l.try_line(Duration::from_millis(300)).is_none());
}

#[test]
fn a_gap_its_sender_gave_up_is_released_at_once() {
    if !isolate("a_gap_its_sender_gave_up_is_released_at_once") {
        return;
    }
    let l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let sock = peer(l.addr);
    let id = 0xba5e_0000_0000_0003;
    sock.send(&acked_text(id, 0, "m0")).expect("send");
    expect_ack(&sock, id, 1, &[]);
    sock.send(&acked_text(id, 2, "m2")).expect("send");
    expect_ack(&sock, id, 1, &[(2, 2)]);
    // The sender gave up 1 (its base is now 2): the listener reports the
    // gap and shows 2 and 3 now, long before its gap wait would end.
    let sent = Instant::now();
    sock.send(&acked_text_based(id, 3, 2, "m3")).expect("send");
    expect_ack(&sock, id, 4, &[]);
    assert_eq!(text_seq(&l.json()), 0);
    let gap = l.json();
    assert_eq!(
        (
            gap["kind"].as_str(),
            gap["first"].as_u64(),
            gap["last"].as_u64()
        ),
        (Some("gap"), Some(1), Some(1))
    );
    assert_eq!(text_seq(&l.json()), 2);
    assert_eq!(text_seq(&l.json()), 3);
    assert!(
        sent.elapsed() < DEFAULT_GAP_WAIT,
        "the gap waited for the gap wait instead of following the sender's base"
    );
}

/// Ping output is `--json` reply objects, then a summary object.
fn ping_json(out: &Output) -> (Vec<Value>, Value) {
    let mut objs: Vec<Value> = out.stdout.lines().map(json).collect();
    let summary = objs.pop().expect("no output");
    assert_eq!(summary["kind"], "summary", "last line: {summary}");
    for reply in &objs {
        assert_eq!(reply["kind"], "pong", "{reply}");
    }
    (objs, summary)
}

fn us(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

/// A `_ms` field: milliseconds to the microsecond.
fn ms(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

#[test]
fn ping_json_has_every_reply_and_a_consistent_summary() {
    if !isolate("ping_json_has_every_reply") {
        return;
    }
    let l = Listener::start(&["--bind", "127.0.0.1"]);
    let host = format!("127.0.0.1:{}", l.port());
    // Twenty pings a second apart (the default) would outlast the deadline.
    let out = udpmsg_within(
        &["ping", &host, "-c", "20", "--interval", "0", "--json"],
        b"",
        WAIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (replies, s) = ping_json(&out);
    assert_eq!(replies.len(), 20, "{}", out.stdout);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(us(r, "seq"), i as u64, "{r}");
        assert_eq!(r["from"], host.as_str(), "{r}");
        assert!(ms(r, "rtt_ms") < 1000.0, "{r}");
    }
    assert_eq!((us(&s, "sent"), us(&s, "received")), (20, 20), "{s}");
    assert_eq!(s["loss_pct"].as_f64(), Some(0.0), "{s}");
    assert_eq!(s["to"], host.as_str(), "{s}");
    let (min, p50, p99, max) = (
        ms(&s, "min_ms"),
        ms(&s, "p50_ms"),
        ms(&s, "p99_ms"),
        ms(&s, "max_ms"),
    );
    assert!(min <= p50 && p50 <= p99 && p99 <= max, "{s}");
    let rtts: Vec<f64> = replies.iter().map(|r| ms(r, "rtt_ms")).collect();
    assert_eq!(rtts.iter().copied().reduce(f64::min), Some(min), "{s}");
    assert_eq!(rtts.iter().copied().reduce(f64::max), Some(max), "{s}");
}

#[test]
fn ping_text_output_has_reply_lines_and_a_summary() {
    if !isolate("ping_text_output") {
        return;
    }
    let l = Listener::start(&["--bind", "127.0.0.1"]);
    let host = format!("127.0.0.1:{}", l.port());
    let out = udpmsg(&["ping", &host, "-c", "5", "-i", "0"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{}", out.stdout);
    let ms = |text: &str| -> f64 {
        let (whole, frac) = text.split_once('.').unwrap_or_else(|| panic!("{text}"));
        assert_eq!(frac.len(), 3, "three decimals: {text}");
        assert!(whole.chars().all(|c| c.is_ascii_digit()), "{text}");
        text.parse()
            .unwrap_or_else(|_| panic!("not a number: {text}"))
    };
    for (i, line) in lines[..5].iter().enumerate() {
        let rest = line
            .strip_prefix(&format!("reply from {host}: seq={i} rtt="))
            .and_then(|r| r.strip_suffix(" ms"))
            .unwrap_or_else(|| panic!("reply line: {line}"));
        ms(rest);
    }
    assert_eq!(lines[5], format!("--- {host} udpmsg ping ---"));
    assert_eq!(lines[6], "5 sent, 5 received, 0.0% loss");
    let rtts: Vec<f64> = lines[7]
        .strip_prefix("rtt min/p50/p99/max = ")
        .and_then(|r| r.strip_suffix(" ms"))
        .unwrap_or_else(|| panic!("rtt line: {}", lines[7]))
        .split('/')
        .map(ms)
        .collect();
    assert_eq!(rtts.len(), 4, "{}", lines[7]);
    assert!(rtts.windows(2).all(|w| w[0] <= w[1]), "{}", lines[7]);
}

#[test]
fn ping_through_loss_reports_lost_replies() {
    let Some(pair) = pair("ping_through_loss", "af4_", 4) else {
        return;
    };
    pair.faults(30, 10);
    enter(&pair.b);
    let l = Listener::start(&["--bind", &pair.ip_b()]);
    enter(&pair.a);
    let host = format!("{}:{}", pair.ip_b(), l.port());
    let out = udpmsg(
        &[
            "ping", &host, "-c", "200", "-W", "100ms", "-i", "0", "--json",
        ],
        b"",
    );
    assert_eq!(out.code, 0, "some replies came: {}", out.stderr);
    let (replies, s) = ping_json(&out);
    let (sent, received) = (us(&s, "sent"), us(&s, "received"));
    assert_eq!(sent, 200, "{s}");
    assert!(received < sent, "no loss through 30% loss each way: {s}");
    // Duplicated pongs must not count twice.
    assert_eq!(replies.len() as u64, received, "{s}");
    let seqs: BTreeSet<u64> = replies.iter().map(|r| us(r, "seq")).collect();
    assert_eq!(seqs.len(), replies.len(), "a reply shown twice");
    let loss = s["loss_pct"].as_f64().expect("loss_pct");
    // Expected about 51% (one minus 0.7 squared, a bit less with dup).
    assert!((20.0..=80.0).contains(&loss), "loss {loss}% ({s})");
    let want = 100.0 * (sent - received) as f64 / sent as f64;
    assert!((loss - want).abs() < 0.01, "loss_pct {loss} vs {want}");
}

#[test]
fn ack_with_raw_or_broadcast_is_a_usage_error() {
    if !isolate("ack_with_raw_or_broadcast") {
        return;
    }
    let runs: [&[&str]; 4] = [
        &["send", "--ack", "--raw", "127.0.0.1", "-p", "9", "x"],
        &["send", "--ack", "<broadcast>", "-p", "9", "x"],
        &["send", "--ack", "-b", "127.255.255.255", "-p", "9", "x"],
        // --timeout and --retries only make sense with --ack.
        &["send", "127.0.0.1", "-p", "9", "--timeout", "1s", "x"],
    ];
    for args in runs {
        let out = udpmsg(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("--ack"), "{args:?}: {}", out.stderr);
    }
}

// ---------------------------------------------------------------------------
// Regressions: bugs found while writing these tests, each fixed since.

/// Drops every udpmsg text with seq 0 that arrives for `port`, in this
/// thread's namespace (seq sits 18 bytes into the payload: header 6, kind
/// tag 4, sender 8; plus the 8-byte UDP header, 208 bits).
fn drop_seq0(port: u16) {
    nft(
        None,
        &format!(
            "table ip fault {{\n  chain in {{ type filter hook input priority 0; udp dport {port} @th,208,64 0 drop; }}\n}}\n"
        ),
    );
}

#[test]
fn giving_up_on_the_first_message_of_a_full_window_does_not_stall_the_rest() {
    if !isolate("giving_up_on_the_first_message") {
        return;
    }
    let l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    drop_seq0(l.port());
    let host = format!("127.0.0.1:{}", l.port());
    // 300 lines: more than the 256-message window. Message 0 never arrives,
    // 1..=255 are acknowledged (held by the listener), 0 is given up after
    // 4 tries; then the window is free and 256..=299 should go out at once.
    let out = udpmsg(
        &["send", "--ack", &host, "--timeout", "10s", "--retries", "3"],
        &numbered(300),
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    // A stalled window would leave 256..=299 unconfirmed at the timeout.
    assert_eq!(
        out.stderr.trim_end(),
        format!("udpmsg: 299 of 300 messages confirmed by {host}, 1 not confirmed"),
    );
}

#[test]
fn what_the_listener_holds_is_confirmed_when_the_gaps_below_are_given_up() {
    if !isolate("what_the_listener_holds_is_confirmed") {
        return;
    }
    let l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    // Every copy of seq 2 and of seq 7 is dropped (seq is little-endian:
    // its first byte is the low one).
    nft(
        None,
        &format!(
            "table ip fault {{\n  chain in {{ type filter hook input priority 0; udp dport {} @th,208,64 {{ 0x0200000000000000, 0x0700000000000000 }} drop; }}\n}}\n",
            l.port()
        ),
    );
    let host = format!("127.0.0.1:{}", l.port());
    let out = udpmsg(&["send", "--ack", &host, "--timeout", "20s"], &numbered(13));
    // 2 and 7 are given up after their patience; everything the listener
    // held above them is shown and confirmed, not given up with them.
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        format!("udpmsg: 11 of 13 messages confirmed by {host}, 2 not confirmed"),
    );
    let got = lines(&l, 13, WAIT);
    let texts: Vec<u64> = got
        .iter()
        .filter(|v| v["kind"] == "text")
        .map(text_seq)
        .collect();
    assert_eq!(texts, [0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
    let gaps: Vec<(Option<u64>, Option<u64>)> = got
        .iter()
        .filter(|v| v["kind"] == "gap")
        .map(|v| (v["first"].as_u64(), v["last"].as_u64()))
        .collect();
    assert_eq!(gaps, [(Some(2), Some(2)), (Some(7), Some(7))]);
}

/// Kills (SIGKILL) and reaps `l`: its port is closed once this returns.
fn kill(l: &mut Listener) {
    l.child.kill().expect("kill -9");
    l.child.wait().expect("reap");
}

/// `udpmsg: ` and what a sender says of a listener at `host` that went
/// away (its port closed for GONE_AFTER).
fn gone_line(host: &str) -> String {
    format!(
        "udpmsg: the listener at {host} went away: its port has been closed for {:.1} s and nothing answered",
        GONE_AFTER.as_secs_f64()
    )
}

/// The counts of a `send --ack` summary line: (confirmed, sent).
fn summary_counts(line: &str, host: &str) -> (u64, u64) {
    let counts = line
        .strip_prefix("udpmsg: ")
        .and_then(|l| l.split_once(&format!(" messages confirmed by {host}, ")))
        .and_then(|(counts, _)| counts.split_once(" of "))
        .and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)));
    counts.unwrap_or_else(|| panic!("not a summary: {line}"))
}

#[test]
fn a_listener_killed_mid_stream_is_reported_gone_instead_of_trying_every_line_left() {
    if !isolate("a_listener_killed_mid_stream_is_reported_gone") {
        return;
    }
    const LINES: usize = 50_000;
    const FIRST: usize = 200;
    let mut l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let host = l.dest();
    let mut sender = command(&["send", "--ack", &host, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sender");
    let err = drain(sender.stderr.take().expect("stderr"));
    let mut stdin = sender.stdin.take().expect("stdin");
    let line = |i: usize| format!("m{i}\n");
    // The first lines in two halves, the second written once the first was
    // shown: the listener answered the first (it acks a batch before it
    // reads the next) before it dies.
    for half in [0..FIRST / 2, FIRST / 2..FIRST] {
        let bytes: String = half.clone().map(line).collect();
        stdin.write_all(bytes.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        for i in half {
            assert_eq!(l.json()["text"], format!("m{i}"));
        }
    }
    kill(&mut l);
    // The rest of the stream, for as long as the sender takes it: it stops
    // reading when it gives up (and the write fails then).
    let rest: String = (FIRST..LINES).map(line).collect();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(rest.as_bytes());
    });
    // Trying every line left (4 s each window) would take minutes.
    let code = wait_until(
        &mut sender,
        GONE_AFTER + WAIT,
        "send --ack after its listener died",
    );
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 4, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "the reason and the summary: {err}");
    assert_eq!(lines[0], gone_line(&host));
    let (confirmed, sent) = summary_counts(lines[1], &host);
    assert!(
        (FIRST as u64 / 2..=FIRST as u64).contains(&confirmed),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(&format!(
            ", {} not confirmed; the input did not end",
            sent - confirmed
        )),
        "{}",
        lines[1]
    );
    assert!(sent < LINES as u64, "every line was read: {}", lines[1]);
    writer.join().expect("writer");
}

#[test]
fn a_live_pipe_does_not_keep_a_sender_whose_listener_went_away() {
    if !isolate("a_live_pipe_does_not_keep_a_sender") {
        return;
    }
    let mut l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let host = l.dest();
    let mut sender = Running::udpmsg(&["send", "--ack", &host, "-"]);
    sender.write(b"one\n");
    assert_eq!(l.json()["text"], "one");
    sender.write(b"two\n");
    assert_eq!(l.json()["text"], "two");
    kill(&mut l);
    // Refused: a restart may be in progress; none comes. Stdin stays open,
    // so only the listener's absence can end the send.
    sender.write(b"three\n");
    let code = wait_until(
        &mut sender.child,
        GONE_AFTER + WAIT,
        "send --ack from an open pipe after its listener died",
    );
    let err = rest_of(&sender.err);
    assert_eq!(code, 4, "{err:?}");
    assert_eq!(err.len(), 2, "the reason and the summary: {err:?}");
    assert_eq!(err[0], gone_line(&host));
    // "two" is confirmed if its ack came before the kill.
    let (confirmed, sent) = summary_counts(&err[1], &host);
    assert_eq!(sent, 3, "{}", err[1]);
    assert!(
        err[1].ends_with(&format!(
            ", {} not confirmed; the input did not end",
            3 - confirmed
        )) && (1..=2).contains(&confirmed),
        "{}",
        err[1]
    );
}

#[test]
fn a_listener_back_within_the_wait_resets_it() {
    if !isolate("a_listener_back_within_the_wait_resets_it") {
        return;
    }
    let mut a = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let (host, port) = (a.dest(), a.port().to_string());
    let mut sender = Running::udpmsg(&["send", "--ack", &host, "-"]);
    sender.write(b"0\n");
    assert_eq!(a.json()["text"], "0");
    sender.write(b"1\n");
    assert_eq!(a.json()["text"], "1");
    kill(&mut a);
    let killed = Instant::now();
    // Refused (the port is closed from here on), then sent to the new
    // listener.
    sender.write(b"2\n");
    let b = Listener::start_raw(&["listen", "--json", "--bind", "127.0.0.1", "--port", &port]);
    // "1" again first if the old listener died before its ack went out.
    let mut first = b.json();
    if first["text"] == "1" {
        first = b.json();
    }
    assert_eq!(first["text"], "2");
    // On past the wait counted from the first refusal: the new listener's
    // acks ended it.
    let mut n = 3;
    while killed.elapsed() < GONE_AFTER + Duration::from_secs(1) {
        sender.write(format!("{n}\n").as_bytes());
        assert_eq!(b.json()["text"], n.to_string());
        n += 1;
        // Pacing only: a line every tenth of a second.
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, err) = sender.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.contains("the listener changed 1 time")),
        "{err:?}"
    );
}

/// The kernel reports a refusal (ICMP port unreachable) before the
/// datagrams queued behind it. A sender whose listener acked and then went
/// away may so meet the refusal before that ack: it must read on, find the
/// ack, and take the refusal for a listener gone (or restarting), not for
/// "nothing is listening". Set up by hand: the ack is queued on the
/// sender's socket, then a datagram to the closed port leaves a refusal
/// pending, and only then does the send begin.
#[test]
fn an_ack_queued_behind_a_refusal_is_read_before_nothing_listens_is_concluded() {
    use udpmsg::commands::deliver::{Config, Delivery};
    use udpmsg::commands::send::Sender;
    use udpmsg::commands::source::Fixed;
    use udpmsg::net::{PeerAddr, SendOptions, addr::Destination};
    use udpmsg::reliable::outbox::Patience;
    if !isolate("an_ack_queued_behind_a_refusal_is_read_before_nothing_listens") {
        return;
    }
    let fake = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = fake.local_addr().expect("address");
    let dest = Destination {
        addr: PeerAddr::Inet(to),
        broadcast: false,
    };
    let mut sender =
        Sender::new(dest, &SendOptions::default(), "t".into(), None, true).expect("sender");
    // Where the sender is: from a raw datagram it sends.
    sender.raw(b"hello").expect("send");
    let mut buf = [0u8; 64];
    let (_, from) = fake.recv_from(&mut buf).expect("the raw datagram");
    // The listener's ack of message 0, queued and not read ...
    let mut ack = Vec::new();
    let message = Message::Ack(wire::Ack {
        instance: 0xa11ce,
        sender: sender.id(),
        next: 1,
        ranges: &[],
    });
    wire::encode(&message, wire::MAX_DATAGRAM, &mut ack).expect("encode");
    fake.send_to(&ack, from).expect("send the ack");
    // ... then the listener is gone, and a datagram to its port leaves a
    // refusal pending on the sender's socket, ahead of the ack.
    drop(fake);
    sender.raw(b"anyone?").expect("send");
    let mut source = Fixed::new(vec![b"0".to_vec()]);
    let config = Config {
        timeout: WAIT,
        patience: Patience::default(),
        catch_signals: false,
    };
    let mut skipped = |_: u64, e: &udpmsg::commands::Error| panic!("skipped: {e}");
    let report = Delivery::new(sender, &mut source, config, &mut skipped)
        .and_then(Delivery::run)
        .expect("a listener answered: not 'nothing is listening'");
    assert_eq!((report.sent, report.confirmed), (1, 1), "{report:?}");
    assert_eq!(report.unconfirmed, 0, "{report:?}");
}

/// Only the wait for a closed port ends a send as "went away": when the
/// input ended and `--timeout` (1 s, shorter than that wait) ran out
/// first, the summary says the port was closed for a while, as before.
#[test]
fn a_timeout_that_ends_the_send_first_does_not_call_the_listener_gone() {
    if !isolate("a_timeout_that_ends_the_send_first_does_not_call_the_listener_gone") {
        return;
    }
    let mut l = Listener::start(&["--json", "--bind", "127.0.0.1"]);
    let host = l.dest();
    let mut sender = Running::udpmsg(&["send", "--ack", &host, "-", "--timeout", "1s"]);
    sender.write(b"one\n");
    assert_eq!(l.json()["text"], "one");
    kill(&mut l);
    // Refused from here on; the input ends with it.
    sender.write(b"two\n");
    let (code, _, err) = sender.finish();
    assert_eq!(code, 4, "{err:?}");
    assert!(
        !err.iter().any(|line| line.contains("went away")),
        "the timeout ended it: {err:?}"
    );
    let summary = err
        .iter()
        .find(|line| line.contains(" messages confirmed by "))
        .unwrap_or_else(|| panic!("no summary: {err:?}"));
    assert!(
        summary.contains("; the port was closed for a while ("),
        "{summary}"
    );
}
