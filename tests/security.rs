//! Shared-key security, proved on the real binary: `keygen` writes a private
//! key and never clobbers one; a keyed listener shows only datagrams sealed
//! with its key, counts everything else (no key, another key, raw, tampered,
//! replayed, stale) and survives a flood of them with bounded memory; keyed
//! send, `--ack`, ping and discovery work only between holders of the same
//! key; a sealed stream captured on its way to one listener (by a sniffer,
//! as an eavesdropper would) shows nothing at another listener with the
//! key, nor at the same listener once restarted (issue #12). Every test
//! runs in a private network namespace (`common::isolate`); every wait has
//! a deadline and every sending loop is bounded.

mod common;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use common::Dir;
use common::{
    Listener, Output, Rng, WAIT, command, drain, exit_code, isolate, udp, udpmsg, wait_for,
    wait_until,
};
use serde_json::Value;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use udpmsg::seal::{self, Key, Opener, SEAL_OVERHEAD, Sealer};
use udpmsg::wire::{self, Datagram, Message, Ping, Probe, Text};

/// How long to watch for output that must not come.
const QUIET: Duration = Duration::from_millis(300);
/// Fixed seed: a failing flood reproduces.
const SEED: u64 = 0x5eed_0fc0_ffee_1100;

// ---------------------------------------------------------------- helpers

/// Asserts `udpmsg args...` succeeded.
fn run_ok(args: &[&str], stdin: &[u8]) -> Output {
    let run = udpmsg(args, stdin);
    assert_eq!(run.code, 0, "udpmsg {args:?}: {}", run.stderr);
    run
}

/// A running `udpmsg listen --port 0 --json ...` (on every address: in the
/// test's namespace that is only `lo`).
type Listen = Listener;

impl Listener {
    fn start_json(args: &[&str]) -> Listen {
        let mut all = vec!["listen", "--port", "0", "--json"];
        all.extend_from_slice(args);
        // A key file readable by others warns before the listener binds.
        Listener::spawn_cmd(command(&all), None, true, "udpmsg listen")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:port`: where the test sends, so what sealed datagrams
    /// for this listener are sealed for.
    fn to(&self) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.port())
    }

    /// The next output line must be the text message `text`.
    fn expect_text(&self, text: &str) -> Value {
        let v = self.json();
        assert_eq!(v["kind"], "text", "{v}");
        assert_eq!(v["text"], text, "{v}");
        v
    }

    fn assert_quiet(&self) {
        if let Ok(line) = self.out.recv_timeout(QUIET) {
            panic!("unexpected output: {line}");
        }
    }

    /// SIGTERM, then the summary line, checked for a clean exit and no
    /// output after what the test already read.
    fn summary(&mut self) -> String {
        let (code, out, err) = self.terminate();
        assert_eq!(code, 0, "exit after SIGTERM; stderr: {err:?}");
        assert!(out.is_empty(), "unexpected output: {out:?}");
        assert!(!err.iter().any(|l| l.contains("panicked")), "{err:?}");
        let summaries: Vec<&String> = err
            .iter()
            .filter(|l| l.starts_with("udpmsg listen: "))
            .collect();
        assert_eq!(summaries.len(), 1, "one summary line: {err:?}");
        assert_eq!(err.last(), Some(summaries[0]), "the summary is last");
        assert!(
            summaries[0].starts_with("udpmsg listen: terminated: "),
            "{}",
            summaries[0]
        );
        summaries[0].clone()
    }
}

/// The number before `what` in a summary (`... 12 replayed, ...`); 0 when
/// the summary leaves it out (it lists only counters above zero).
fn count_in(summary: &str, what: &str) -> u64 {
    // A count of 1 is said in the singular ("1 ping answered").
    let Some(at) = summary.find(&format!(" {what}")).or_else(|| {
        summary
            .find(&format!(" 1 {}", common::singular(what)))
            .map(|at| at + 2)
    }) else {
        return 0;
    };
    summary[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before '{what}' in: {summary}"))
}

/// What a keyed listener's summary says, counter by counter.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Counts {
    received: u64,
    raw: u64,
    malformed: u64,
    sealed_no_key: u64,
    unsealed: u64,
    raw_refused: u64,
    forged: u64,
    replayed: u64,
    stale: u64,
}

impl Counts {
    fn of(summary: &str) -> Counts {
        Counts {
            received: count_in(summary, "received"),
            raw: count_in(summary, "raw,"),
            malformed: count_in(summary, "malformed"),
            sealed_no_key: count_in(summary, "sealed (no key)"),
            unsealed: count_in(summary, "unsealed refused"),
            raw_refused: count_in(summary, "raw refused"),
            forged: count_in(summary, "forged or wrong key"),
            replayed: count_in(summary, "replayed"),
            stale: count_in(summary, "stale"),
        }
    }

    /// What a keyed listener must make of a datagram that is not a valid,
    /// fresh one sealed with its key, by the wire format's rules alone.
    fn add_refused(&mut self, d: &[u8]) {
        match wire::classify(d) {
            Ok(Datagram::Raw(_)) => self.raw_refused += 1,
            Ok(Datagram::Message(_)) => self.unsealed += 1,
            // Too short to open, or a tag that does not verify.
            Ok(Datagram::Sealed(_)) => self.forged += 1,
            Err(_) => self.malformed += 1,
        }
    }
}

/// Reads the key a key file holds.
fn read_key(path: &str) -> Key {
    let (key, _) = seal::read_key_file(Path::new(path)).expect("key file");
    key
}

/// The open datagram of a text message (no FLAG_ACK: its base is its seq).
fn open_text(seq: u64, name: &str, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    let text = Message::Text(Text {
        sender: 0x5ec0_0000_0000_0001,
        seq,
        base: seq,
        flags: 0,
        name,
        body,
    });
    wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
    d
}

/// The datagram key, derived as docs/PROTOCOL.md section 9 says, without
/// the crate's `seal` module.
fn datagram_key(key_file: &str) -> XChaCha20Poly1305 {
    let text = std::fs::read_to_string(key_file).expect("read key file");
    let text = text.trim();
    assert_eq!(text.len(), 64);
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let derived = blake3::derive_key("udpmsg 2026-11-21 datagram key v1", &key);
    XChaCha20Poly1305::new(&derived.into())
}

/// The associated data of a sealed datagram with header `head` sent to
/// `dest`, by PROTOCOL.md section 9: the 30 header bytes, the destination
/// address as 16 bytes (IPv4 as `::ffff:a.b.c.d`, the unspecified address
/// as the loopback address of its family) and the port, u16 LE.
fn associated_data(head: &[u8], dest: SocketAddr) -> Vec<u8> {
    let ip = match dest.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) if v6.is_unspecified() => Ipv6Addr::LOCALHOST,
        IpAddr::V6(v6) => v6,
    };
    let mut ad = head[..30].to_vec();
    ad.extend_from_slice(&ip.octets());
    ad.extend_from_slice(&dest.port().to_le_bytes());
    ad
}

/// Seals an open datagram for `dest` by the protocol document, with any time.
fn seal_by_the_spec(
    cipher: &XChaCha20Poly1305,
    open: &[u8],
    sender: u64,
    counter: u64,
    micros: u64,
    dest: SocketAddr,
) -> Vec<u8> {
    let mut head = b"UDPM\x02\x01".to_vec();
    head.extend_from_slice(&sender.to_le_bytes());
    head.extend_from_slice(&counter.to_le_bytes());
    head.extend_from_slice(&micros.to_le_bytes());
    let mut body = open[wire::HEADER_LEN..].to_vec();
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&head[6..30]),
            &associated_data(&head, dest),
            &mut body,
        )
        .expect("encrypt");
    head.extend_from_slice(&body);
    head.extend_from_slice(&tag);
    head
}

/// Opens a sealed datagram that was sent to `dest` by the protocol
/// document: (sender, counter, time in microseconds, open body).
fn open_by_the_spec(
    cipher: &XChaCha20Poly1305,
    d: &[u8],
    dest: SocketAddr,
) -> (u64, u64, u64, Vec<u8>) {
    assert!(d.len() >= 46, "{} bytes", d.len());
    let (head, rest) = d.split_at(30);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut body = body.to_vec();
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(&head[6..30]),
            &associated_data(head, dest),
            &mut body,
            Tag::from_slice(tag),
        )
        .expect("the tag verifies with the datagram key, for this destination");
    let field = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
    (field(6), field(14), field(22), body)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as u64
}

/// Catches what `udpmsg send args...` sends to a plain socket: one datagram
/// (sealed, with a key, for the catcher's address: not for any listener).
fn capture_send(args: &[&str]) -> Vec<u8> {
    let catcher = udp("127.0.0.1:0");
    let dest = catcher.local_addr().expect("local addr").to_string();
    let mut all = vec!["send", &dest];
    all.extend_from_slice(args);
    run_ok(&all, b"");
    let mut buf = vec![0u8; 70_000];
    let (len, _) = catcher
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("udpmsg {all:?} sent nothing: {e}"));
    catcher
        .set_read_timeout(Some(QUIET))
        .expect("set read timeout");
    assert!(
        catcher.recv_from(&mut [0; 64]).is_err(),
        "one datagram only"
    );
    buf.truncate(len);
    buf
}

/// An eavesdropper on this namespace's traffic: a raw IPv4 socket, which
/// gets a copy of every UDP datagram delivered here (needs root, which a
/// test in its own namespace has). It sees what a sender sends on its way
/// to a listener, as someone on the path would.
struct Sniffer {
    socket: Socket,
    seen: Vec<Seen>,
}

/// One UDP datagram the sniffer saw.
#[derive(Debug, Clone)]
struct Seen {
    to: SocketAddr,
    payload: Vec<u8>,
}

impl Sniffer {
    /// Starts capturing now (datagrams delivered before are not seen).
    fn new() -> Sniffer {
        let socket = Socket::new(
            Domain::IPV4,
            Type::from(libc::SOCK_RAW),
            Some(Protocol::UDP),
        )
        .expect("a raw socket (root in the test's namespace)");
        // Room for a whole exchange, read only once it is over.
        let _ = socket.set_recv_buffer_size(8 << 20);
        socket.set_nonblocking(true).expect("non-blocking");
        Sniffer {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads every copy queued so far.
    fn read_queued(&mut self) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let len = match self.socket.read(&mut buf) {
                Ok(len) => len,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("sniffer: {e}"),
            };
            // An IPv4 header (IHL words), then the UDP header and payload.
            let packet = &buf[..len];
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let to = IpAddr::from([packet[16], packet[17], packet[18], packet[19]]);
            let port = u16::from_be_bytes([packet[ihl + 2], packet[ihl + 3]]);
            self.seen.push(Seen {
                to: SocketAddr::new(to, port),
                payload: packet[ihl + 8..].to_vec(),
            });
        }
    }

    /// The datagrams seen so far for which `wanted` holds, in order, once
    /// at least `at_least` of them were (waiting for them, within the
    /// deadline).
    fn seen(&mut self, at_least: usize, wanted: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        wait_for(WAIT, &format!("{at_least} datagrams seen"), || {
            self.read_queued();
            let seen: Vec<Seen> = self.seen.iter().filter(|s| wanted(s)).cloned().collect();
            (seen.len() >= at_least).then_some(seen)
        })
    }

    /// The payloads seen so far that were sent to `to`, in order, once at
    /// least `at_least` of them were.
    fn sent_to(&mut self, to: SocketAddr, at_least: usize) -> Vec<Vec<u8>> {
        self.seen(at_least, |s| s.to == to)
            .into_iter()
            .map(|s| s.payload)
            .collect()
    }
}

/// Waits until nothing comes to `socket` for [`QUIET`]: asserts no reply.
fn assert_no_reply(socket: &UdpSocket, what: &str) {
    socket.set_read_timeout(Some(QUIET)).expect("timeout");
    let mut buf = [0u8; 2048];
    if let Ok((len, from)) = socket.recv_from(&mut buf) {
        panic!("{what}: a reply of {len} bytes from {from}");
    }
}

/// Resident and peak memory of a process, in KiB (VmRSS, VmHWM).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ---------------------------------------------------------------- keygen and key files

#[test]
fn keygen_writes_a_private_hex_key_and_replaces_it_only_with_force() {
    if !isolate("keygen_writes_a_private_hex_key_and_replaces_it_only_with_force") {
        return;
    }
    let dir = Dir::new("keygen");
    let path = dir.path("k");
    let mode = |p: &str| {
        std::fs::metadata(p)
            .expect("key file exists")
            .permissions()
            .mode()
            & 0o777
    };
    let is_key_text = |text: &str| {
        text.len() == 65
            && text.ends_with('\n')
            && text[..64]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };

    let first = udpmsg(&["keygen", &path], b"");
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.is_empty(), "{:?}", first.stdout);
    let key1 = std::fs::read_to_string(&path).expect("read key");
    assert!(is_key_text(&key1), "64 hex digits and a newline: {key1:?}");
    assert_eq!(mode(&path), 0o600);

    // No --force: refused, one line that names the way out, file untouched.
    let again = udpmsg(&["keygen", &path], b"");
    assert_ne!(again.code, 0);
    let line = again.one_line_error(again.code, "keygen over a key");
    assert!(line.contains("--force"), "{line}");
    assert!(line.contains(&path), "{line}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), key1);

    // --force replaces it, and makes a readable file private again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let forced = udpmsg(&["keygen", "--force", &path], b"");
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let key2 = std::fs::read_to_string(&path).expect("read key");
    assert!(is_key_text(&key2), "{key2:?}");
    assert_ne!(key1, key2, "a new random key");
    assert_eq!(mode(&path), 0o600);
    // Spelt out: -f is send's --file (docs/DECISIONS.md, short options).
    let short = udpmsg(&["keygen", "-f", &path], b"");
    assert_eq!(short.code, 2, "{}", short.stderr);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), key2);

    // Keys are random: a handful never repeat.
    let mut seen = std::collections::HashSet::new();
    for i in 0..5 {
        let p = dir.key_named(&format!("r{i}"));
        assert!(seen.insert(std::fs::read_to_string(&p).expect("read")));
    }

    // Nowhere to write: one line, exit 1, no file.
    let nowhere = dir.path("missing-dir/k");
    let failed = udpmsg(&["keygen", &nowhere], b"");
    failed.one_line_error(1, "keygen into a missing directory");
    assert!(!Path::new(&nowhere).exists());
}

#[test]
fn key_file_readable_by_others_warns_but_works() {
    if !isolate("key_file_readable_by_others_warns_but_works") {
        return;
    }
    let dir = Dir::new("readable");
    let key = dir.key_named("k");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut l = Listen::start_json(&["--key-file", &key]);
    let sent = run_ok(
        &["send", &l.dest(), "--key-file", &key, "still", "works"],
        b"",
    );
    let warning = sent.stderr.trim_end();
    assert_eq!(warning.lines().count(), 1, "{:?}", sent.stderr);
    assert!(
        warning.starts_with("udpmsg: warning: ") && warning.contains("readable by others"),
        "{warning}"
    );
    assert!(
        warning.contains(&key) && warning.contains("chmod 600"),
        "{warning}"
    );
    l.expect_text("still works");
    let summary = l.summary();
    assert_eq!(Counts::of(&summary).received, 1, "{summary}");
}

#[test]
fn malformed_or_missing_key_files_are_one_clear_error() {
    if !isolate("malformed_or_missing_key_files_are_one_clear_error") {
        return;
    }
    let dir = Dir::new("malformed");
    let good = std::fs::read_to_string(dir.key_named("good")).expect("read");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("short", b"abc\n".to_vec()),
        ("63 digits", format!("{}\n", &good[..63]).into_bytes()),
        ("65 digits", format!("{}a\n", &good[..64]).into_bytes()),
        ("two keys", format!("{}{}", good, good).into_bytes()),
        ("not hex", format!("{}\n", "g".repeat(64)).into_bytes()),
        (
            "spaced",
            format!("{} {}\n", &good[..32], &good[32..63]).into_bytes(),
        ),
        ("binary", {
            let mut b = vec![0xff, 0xfe, 0x00, 0x80];
            b.extend(Rng(SEED).bytes(60));
            b
        }),
        ("64 non-ASCII bytes", "é".repeat(32).into_bytes()),
        ("large", vec![b'a'; 5000]),
    ];
    for (what, content) in &cases {
        let path = dir.path(&what.replace(' ', "-"));
        std::fs::write(&path, content).expect("write key file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        for args in [
            vec!["listen", "--port", "0", "--key-file", &path],
            vec!["send", "127.0.0.1:9", "--key-file", &path, "hi"],
            vec!["send", "127.0.0.1:9", "--ack", "--key-file", &path, "hi"],
            vec!["ping", "127.0.0.1:9", "--key-file", &path, "-c", "1"],
            vec!["discover", "--interface", "lo", "--key-file", &path],
        ] {
            let run = udpmsg(&args, b"");
            let line = run.one_line_error(2, &format!("{what}: {args:?}"));
            assert!(
                line.contains("malformed key file") && line.contains(&path),
                "{what}: {line}"
            );
            assert!(
                line.contains("64 hex digits"),
                "{what}: says what is expected: {line}"
            );
        }
    }
    // A good key with white space around it is accepted.
    let padded = dir.path("padded");
    std::fs::write(&padded, format!("  \n{}  \n\n", good.trim())).expect("write");
    std::fs::set_permissions(&padded, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(read_key(&padded), read_key(&dir.path("good")));

    let missing = dir.path("does-not-exist");
    for args in [
        vec!["listen", "--port", "0", "--key-file", &missing],
        vec!["send", "127.0.0.1:9", "--key-file", &missing, "hi"],
        vec!["ping", "127.0.0.1:9", "--key-file", &missing, "-c", "1"],
        vec!["discover", "--interface", "lo", "--key-file", &missing],
    ] {
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(1, &format!("missing: {args:?}"));
        assert!(
            line.contains("cannot read key file") && line.contains(&missing),
            "{line}"
        );
    }
    // UDPMSG_KEY_FILE is read like --key-file.
    let out = command(&["send", "127.0.0.1:9", "hi"])
        .env("UDPMSG_KEY_FILE", &missing)
        .output()
        .expect("run udpmsg");
    assert_eq!(exit_code(out.status), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read key file"));
}

#[test]
fn endless_key_file_is_refused_without_reading_it_all() {
    if !isolate("endless_key_file_is_refused_without_reading_it_all") {
        return;
    }
    // The size check uses metadata, which is 0 for /dev/zero, a FIFO or
    // `<(...)`: the key file is then read to the end, however long.
    let mut cmd = command(&["send", "127.0.0.1:9", "--key-file", "/dev/zero", "hi"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: setrlimit in the child between fork and exec is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 512 << 20,
                rlim_max: 512 << 20,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    let err = drain(child.stderr.take().expect("stderr"));
    // Reading it all would never end (or end in an allocation failure
    // under the limit): the deadline and the exit code tell.
    let code = wait_until(&mut child, WAIT, "udpmsg send --key-file /dev/zero");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("malformed key file"), "{err}");
}

#[test]
fn raw_with_a_key_is_a_usage_error() {
    if !isolate("raw_with_a_key_is_a_usage_error") {
        return;
    }
    let dir = Dir::new("raw");
    let key = dir.key_named("k");
    let catcher = udp("127.0.0.1:0");
    catcher
        .set_read_timeout(Some(QUIET))
        .expect("set read timeout");
    let dest = catcher.local_addr().expect("addr").to_string();
    for (args, stdin) in [
        (
            vec!["send", &dest, "--raw", "--key-file", &key, "PING"],
            &b""[..],
        ),
        (
            vec!["send", &dest, "--key-file", &key, "--raw", "-"],
            b"a\nb\n",
        ),
        (vec!["send", &dest, "--key-file", &key, "--raw"], b"a\n"),
    ] {
        let run = udpmsg(&args, stdin);
        let line = run.one_line_error(2, &format!("{args:?}"));
        assert!(line.contains("--raw") && line.contains("key"), "{line}");
    }
    let out = command(&["send", &dest, "--raw", "x"])
        .env("UDPMSG_KEY_FILE", &key)
        .output()
        .expect("run udpmsg");
    assert_eq!(exit_code(out.status), 2, "UDPMSG_KEY_FILE counts as a key");
    assert!(
        catcher.recv_from(&mut [0; 64]).is_err(),
        "nothing may be sent"
    );
}

// ---------------------------------------------------------------- keyed listen and send

#[test]
fn same_key_message_is_shown() {
    if !isolate("same_key_message_is_shown") {
        return;
    }
    let dir = Dir::new("same");
    let key = dir.key_named("k");
    let mut l = Listen::start_json(&["--key-file", &key]);
    run_ok(
        &[
            "send",
            &l.dest(),
            "-n",
            "alice",
            "--key-file",
            &key,
            "hello",
            "sealed",
        ],
        b"",
    );
    let v = l.expect_text("hello sealed");
    assert_eq!(v["name"], "alice", "{v}");
    assert_eq!(v["seq"], 0, "{v}");
    // A body as large as a sealed datagram allows, and stdin lines.
    let big = "b".repeat(wire::max_text_body(
        "alice",
        wire::MAX_DATAGRAM_V4 - SEAL_OVERHEAD,
    ));
    run_ok(&["send", &l.dest(), "-n", "alice", "-k", &key, &big], b"");
    l.expect_text(&big);
    let too_big = format!("{big}b");
    let refused = udpmsg(
        &["send", &l.dest(), "-n", "alice", "-k", &key, &too_big],
        b"",
    );
    refused.one_line_error(2, "a body 1 byte too large once sealed");
    run_ok(
        &["send", &l.dest(), "-n", "alice", "-k", &key, "-"],
        b"one\ntwo\n",
    );
    l.expect_text("one");
    l.expect_text("two");
    l.assert_quiet();
    let summary = l.summary();
    let counts = Counts::of(&summary);
    assert_eq!(
        counts,
        Counts {
            received: 4,
            ..Counts::default()
        },
        "{summary}"
    );
}

#[test]
fn keyed_listener_shows_only_its_key_and_counts_the_rest() {
    if !isolate("keyed_listener_shows_only_its_key_and_counts_the_rest") {
        return;
    }
    let dir = Dir::new("counts");
    let key = dir.key_named("k");
    let other = dir.key_named("other");

    let mut l = Listen::start_json(&["--key-file", &key, "-v"]);
    let peer = udp("127.0.0.1:0");
    let mut expected = Counts::default();

    // A real sealed datagram, captured on its way to the listener.
    let mut sniffer = Sniffer::new();
    run_ok(
        &[
            "send",
            &l.dest(),
            "--key-file",
            &key,
            "-n",
            "capture",
            "secret",
        ],
        b"",
    );
    let v = l.expect_text("secret");
    assert_eq!(v["name"], "capture", "{v}");
    expected.received += 1;
    let captured = sniffer.sent_to(l.to(), 1);
    assert_eq!(captured.len(), 1, "one datagram");
    let sealed = captured[0].clone();
    assert!(sealed.starts_with(b"UDPM\x02\x01"), "{sealed:02x?}");
    let open_len = open_text(0, "capture", b"secret").len();
    assert_eq!(sealed.len(), open_len + SEAL_OVERHEAD);
    for plain in [&b"secret"[..], b"capture", b"ecre"] {
        assert!(
            !sealed.windows(plain.len()).any(|w| w == plain),
            "{plain:?} visible in the sealed datagram"
        );
    }
    // It is what the protocol document says: opened without `seal`, with
    // the address and port it was sent to...
    let (_, counter, micros, body) = open_by_the_spec(&datagram_key(&key), &sealed, l.to());
    assert_eq!(counter, 0, "a new process counts from 0");
    assert!(now_micros().abs_diff(micros) < 30_000_000, "time {micros}");
    match wire::decode_body(&body) {
        Ok(Message::Text(t)) => {
            assert_eq!((t.name, t.body), ("capture", &b"secret"[..]));
        }
        other => panic!("not a text: {other:?}"),
    }
    // ...and with no other.
    let k = read_key(&key);
    let mut plain = Vec::new();
    for elsewhere in [
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), l.port() ^ 1),
        SocketAddr::new(Ipv4Addr::new(127, 0, 0, 2).into(), l.port()),
        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), l.port()),
    ] {
        assert_eq!(
            Opener::new(&k, None).open(&sealed, &mut plain, SystemTime::now(), elsewhere),
            Err(seal::Reject::Auth),
            "opened at {elsewhere}"
        );
    }

    run_ok(&["send", &l.dest(), "without", "key"], b"");
    expected.unsealed += 1;
    run_ok(&["send", &l.dest(), "-k", &other, "another", "key"], b"");
    expected.forged += 1;
    peer.send_to(b"raw bytes from a plain socket", l.dest())
        .expect("send raw");
    expected.raw_refused += 1;

    // Sent again as captured: a replay.
    peer.send_to(&sealed, l.dest()).expect("replay");
    expected.replayed += 1;

    // Every single-bit flip, and every interesting truncation.
    for i in 0..sealed.len() * 8 {
        let mut d = sealed.clone();
        d[i / 8] ^= 1 << (i % 8);
        peer.send_to(&d, l.dest()).expect("send flipped");
        expected.add_refused(&d);
    }
    for len in [
        0,
        3,
        4,
        5,
        6,
        7,
        30,
        45,
        46,
        sealed.len() - 16,
        sealed.len() - 1,
    ] {
        let d = &sealed[..len];
        peer.send_to(d, l.dest()).expect("send truncated");
        expected.add_refused(d);
    }
    // Extended, and the tag moved: both fail to authenticate.
    let mut longer = sealed.clone();
    longer.push(0);
    peer.send_to(&longer, l.dest()).expect("send");
    expected.add_refused(&longer);
    assert!(
        expected.forged > (sealed.len() as u64 - 6) * 8,
        "{expected:?}"
    );
    // Once more after the forgeries: still a replay.
    peer.send_to(&sealed, l.dest()).expect("replay");
    expected.replayed += 1;

    run_ok(&["send", &l.dest(), "-k", &key, "after"], b"");
    l.expect_text("after");
    expected.received += 1;
    l.assert_quiet();
    let (code, out, err) = l.terminate();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.is_empty(), "shown: {out:?}");
    let summary = err.last().expect("a summary").clone();
    eprintln!("{summary}");
    assert_eq!(Counts::of(&summary), expected, "{summary}");
    // -v says why each one was dropped, one line each.
    let dropped = err
        .iter()
        .filter(|l| l.starts_with("udpmsg: dropped"))
        .count() as u64;
    assert_eq!(
        dropped,
        expected.unsealed
            + expected.forged
            + expected.raw_refused
            + expected.replayed
            + expected.malformed,
        "{summary}"
    );
    let replays = err.iter().filter(|l| l.contains(": replayed (")).count();
    assert_eq!(replays as u64, expected.replayed);
}

#[test]
fn stale_and_future_sealed_datagrams_are_refused() {
    if !isolate("stale_and_future_sealed_datagrams_are_refused") {
        return;
    }
    let dir = Dir::new("stale");
    let key = dir.key_named("k");
    let cipher = datagram_key(&key);
    let mut l = Listen::start_json(&["--key-file", &key]);
    let peer = udp("127.0.0.1:0");
    let now = now_micros();
    let minute = 60_000_000;
    let to = l.to();
    // Sealed by the protocol document (not by `seal`): accepted when fresh.
    let fresh = seal_by_the_spec(&cipher, &open_text(0, "spec", b"fresh"), 77, 0, now, to);
    peer.send_to(&fresh, l.dest()).expect("send");
    l.expect_text("fresh");
    let mut stale = 0;
    for (n, micros) in [
        now - 2 * minute,
        now + 2 * minute,
        now - minute - 5_000_000,
        0,
        u64::MAX,
    ]
    .into_iter()
    .enumerate()
    {
        // New senders, so only the time can refuse them.
        let d = seal_by_the_spec(
            &cipher,
            &open_text(0, "spec", b"old"),
            100 + n as u64,
            0,
            micros,
            to,
        );
        peer.send_to(&d, l.dest()).expect("send");
        stale += 1;
    }
    // Within the minute (either side): accepted from a sender the listener
    // knows, and from a new one whose clock is ahead.
    let behind = seal_by_the_spec(
        &cipher,
        &open_text(1, "spec", b"skewed"),
        77,
        1,
        now - 30_000_000,
        to,
    );
    // (Each its own seq: a listener shows one Text per `(sender, seq)`.)
    let ahead = seal_by_the_spec(
        &cipher,
        &open_text(2, "spec", b"skewed"),
        201,
        0,
        now + 30_000_000,
        to,
    );
    for d in [behind, ahead] {
        peer.send_to(&d, l.dest()).expect("send");
        l.expect_text("skewed");
    }
    // A new sender whose clock is behind, by more than the listener has
    // been running: sealed "before the listener started", refused as a
    // possible replay of a previous run (PROTOCOL.md section 9, step 4).
    let new_behind = seal_by_the_spec(
        &cipher,
        &open_text(3, "spec", b"behind"),
        202,
        0,
        now - 30_000_000,
        to,
    );
    peer.send_to(&new_behind, l.dest()).expect("send");
    l.assert_quiet();
    let summary = l.summary();
    let counts = Counts::of(&summary);
    assert_eq!(counts.stale, stale, "{summary}");
    assert_eq!(counts.received, 3, "{summary}");
    assert_eq!(counts.replayed, 1, "{summary}");
    assert_eq!(counts.forged, 0, "{summary}");
}

#[test]
fn keyless_listener_counts_sealed_datagrams_and_never_shows_them() {
    if !isolate("keyless_listener_counts_sealed_datagrams_and_never_shows_them") {
        return;
    }
    let dir = Dir::new("keyless");
    let key = dir.key_named("k");
    let sealed = capture_send(&["--key-file", &key, "secret"]);
    let mut l = Listen::start_json(&[]);
    let peer = udp("127.0.0.1:0");
    run_ok(&["send", &l.dest(), "-k", &key, "hidden"], b"");
    peer.send_to(&sealed, l.dest()).expect("send");
    // Short sealed-looking datagrams: not shown as raw either.
    peer.send_to(b"UDPM\x02\x01", l.dest()).expect("send");
    peer.send_to(&sealed[..40], l.dest()).expect("send");
    // Keyed --ack and ping get nothing back from a keyless listener.
    let acked = udpmsg(
        &["send", "--ack", "-t", "1s", "-k", &key, &l.dest(), "acked"],
        b"",
    );
    assert_eq!(acked.code, 4, "{}", acked.stderr);
    let ping = udpmsg(
        &["ping", &l.dest(), "-k", &key, "-c", "1", "-W", "300ms"],
        b"",
    );
    assert_eq!(ping.code, 4, "{}", ping.stdout);
    run_ok(&["send", &l.dest(), "visible"], b"");
    let v = l.expect_text("visible");
    assert_eq!(v["kind"], "text", "{v}");
    l.assert_quiet();
    let summary = l.summary();
    let mut counts = Counts::of(&summary);
    // The acked text was sent at least once (retransmitted until the
    // deadline), the ping once.
    assert!(counts.sealed_no_key >= 6, "{summary}");
    counts.sealed_no_key = 0;
    assert_eq!(
        counts,
        Counts {
            received: 1,
            ..Counts::default()
        },
        "{summary}"
    );
    assert_eq!(count_in(&summary, "pings answered"), 0, "{summary}");
    assert_eq!(count_in(&summary, "acks sent"), 0, "{summary}");
}

// ---------------------------------------------------------------- ack, ping, discovery

#[test]
fn acknowledged_send_with_a_key_shows_200_lines_once_in_order() {
    if !isolate("acknowledged_send_with_a_key_shows_200_lines_once_in_order") {
        return;
    }
    let dir = Dir::new("ack");
    let key = dir.key_named("k");
    let other = dir.key_named("other");
    let mut l = Listen::start_json(&["--key-file", &key]);
    let lines: Vec<String> = (0..200).map(|i| format!("line {i:03}")).collect();
    let stdin = format!("{}\n", lines.join("\n"));
    let mut sniffer = Sniffer::new();
    let sent = run_ok(
        &["send", "--ack", "-k", &key, "-n", "acker", &l.dest(), "-"],
        stdin.as_bytes(),
    );
    assert!(sent.stdout.is_empty(), "{:?}", sent.stdout);
    let mut sender = None;
    for (i, line) in lines.iter().enumerate() {
        let v = l.expect_text(line);
        assert_eq!(v["seq"], i as u64, "{v}");
        assert_eq!(v["name"], "acker", "{v}");
        let id = v["sender"].as_str().expect("sender").to_string();
        assert_eq!(sender.get_or_insert(id.clone()), &id, "one sender");
    }
    let sender = u64::from_str_radix(&sender.expect("a sender"), 16).expect("hex sender");
    l.assert_quiet();
    let texts = sniffer.sent_to(l.to(), lines.len()).len();

    // Another key, or none: nothing confirmed, nothing shown.
    let wrong = udpmsg(
        &[
            "send",
            "--ack",
            "-t",
            "1s",
            "-k",
            &other,
            &l.dest(),
            "wrong key",
        ],
        b"",
    );
    assert_eq!(wrong.code, 4, "{}", wrong.stderr);
    let none = udpmsg(&["send", "--ack", "-t", "1s", &l.dest(), "no key"], b"");
    assert_eq!(none.code, 4, "{}", none.stderr);
    l.assert_quiet();
    let summary = l.summary();
    let counts = Counts::of(&summary);
    assert_eq!(counts.received, 200, "{summary}");
    assert_eq!(
        counts.replayed, 0,
        "retransmissions are sealed afresh: {summary}"
    );
    assert!(counts.forged >= 1 && counts.unsealed >= 1, "{summary}");

    // The Acks (PROTOCOL.md section 7): each sealed for the sender's own
    // address and port, each the listener's state for that sender (`next`,
    // the held ranges), sent after the output, one per batch of Texts read:
    // at least one, at most one per Text datagram, the last saying all 200
    // were shown. Only the first sender got any.
    let acks_sent = count_in(&summary, "acks sent");
    eprintln!("{acks_sent} acks for {texts} Text datagrams of 200 lines");
    assert!(
        (1..=texts as u64).contains(&acks_sent),
        "{acks_sent} acks for {texts} Text datagrams: {summary}"
    );
    let to_listener = l.to();
    let replies = sniffer.seen(acks_sent as usize, |s| s.to != to_listener);
    assert_eq!(replies.len() as u64, acks_sent, "{summary}");
    let dk = datagram_key(&key);
    let mut highest = 0;
    for reply in &replies {
        let (_, _, _, body) = open_by_the_spec(&dk, &reply.payload, reply.to);
        match wire::decode_body(&body) {
            Ok(Message::Ack(ack)) => {
                assert_eq!(ack.sender, sender, "{ack:?}");
                assert!(ack.next <= 200, "{ack:?}");
                assert!(ack.ranges().all(|(_, last)| last < 200), "{ack:?}");
                highest = highest.max(ack.next);
            }
            other => panic!("not an Ack: {other:?}"),
        }
    }
    assert_eq!(highest, 200, "the last Ack confirms everything");
}

#[test]
fn keyed_ping_gets_sealed_replies_and_others_get_none() {
    if !isolate("keyed_ping_gets_sealed_replies_and_others_get_none") {
        return;
    }
    let dir = Dir::new("ping");
    let key = dir.key_named("k");
    let other = dir.key_named("other");
    let mut l = Listen::start_json(&["--key-file", &key]);
    let ok = run_ok(
        &["ping", &l.dest(), "-k", &key, "-c", "3", "-i", "100ms"],
        b"",
    );
    let replies = ok
        .stdout
        .lines()
        .filter(|l| l.starts_with("reply from"))
        .count();
    assert_eq!(replies, 3, "{}", ok.stdout);
    assert!(ok.stdout.contains("3 sent, 3 received"), "{}", ok.stdout);
    for args in [
        vec!["ping", &l.dest(), "-c", "2", "-i", "100ms", "-W", "300ms"],
        vec![
            "ping",
            &l.dest(),
            "-k",
            &other,
            "-c",
            "2",
            "-i",
            "100ms",
            "-W",
            "300ms",
        ],
    ] {
        let none = udpmsg(&args, b"");
        assert_eq!(none.code, 4, "{args:?}: {} {}", none.stdout, none.stderr);
        assert!(
            none.stdout.contains("2 sent, 0 received"),
            "{}",
            none.stdout
        );
        assert!(!none.stdout.contains("reply from"), "{}", none.stdout);
    }

    // The pong itself is sealed, opens with the key and echoes the ping.
    let k = read_key(&key);
    let mut sealer = Sealer::new(&k);
    let mut open = Vec::new();
    let ping = Ping {
        sender: 0xfeed,
        seq: 42,
        stamp: 0x0123_4567_89ab_cdef,
    };
    wire::encode(&Message::Ping(ping), wire::MAX_DATAGRAM_V4, &mut open).expect("encode");
    let peer = udp("127.0.0.1:0");
    let me = peer.local_addr().expect("local addr");
    peer.send_to(sealer.seal(&open, l.to()), l.dest())
        .expect("send");
    let mut buf = [0u8; 2048];
    let (len, from) = peer.recv_from(&mut buf).expect("a pong");
    assert_eq!(from.port(), l.port());
    let pong = &buf[..len];
    assert!(pong.starts_with(b"UDPM\x02\x01"), "{pong:02x?}");
    assert!(
        !pong.windows(8).any(|w| w == ping.stamp.to_le_bytes()),
        "stamp in clear"
    );
    // Sealed for the pinger's own address and port, and no other.
    let mut plain = Vec::new();
    assert_eq!(
        Opener::new(&k, None).open(pong, &mut plain, SystemTime::now(), l.to()),
        Err(seal::Reject::Auth)
    );
    Opener::new(&k, None)
        .open(pong, &mut plain, SystemTime::now(), me)
        .expect("the pong opens with the key, at the pinger's address");
    assert_eq!(wire::decode_body(&plain), Ok(Message::Pong(ping)));
    // A ping sealed for another port of this host: refused, not answered.
    let elsewhere = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), l.port() ^ 1);
    peer.send_to(sealer.seal(&open, elsewhere), l.dest())
        .expect("send");
    assert_no_reply(&peer, "a ping sealed for another port");
    let summary = l.summary();
    let counts = Counts::of(&summary);
    assert_eq!(count_in(&summary, "pings answered"), 4, "{summary}");
    assert_eq!((counts.unsealed, counts.forged), (2, 3), "{summary}");
}

/// Runs `udpmsg discover --interface lo -p port --json ...`; the JSON lines.
fn discover(port: u16, extra: &[&str]) -> Vec<Value> {
    let port = port.to_string();
    let mut args = vec!["discover", "--interface", "lo", "-p", &port, "--json"];
    args.extend_from_slice(extra);
    let run = run_ok(&args, b"");
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn keyed_discovery_finds_only_listeners_with_the_same_key() {
    if !isolate("keyed_discovery_finds_only_listeners_with_the_same_key") {
        return;
    }
    let dir = Dir::new("discover");
    let key = dir.key_named("k");
    let other = dir.key_named("other");
    // Bound to every address: discovery on lo goes to 127.255.255.255.
    let mut l = Listen::start_json(&["--bind", "", "-n", "keyed-peer", "--key-file", &key]);
    let found = discover(l.port(), &["-k", &key, "-t", "3s", "--expect", "1"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "keyed-peer", "{}", found[0]);
    let addrs = found[0]["addrs"].as_array().expect("addrs");
    assert!(
        addrs
            .iter()
            .any(|a| a == format!("127.0.0.1:{}", l.port()).as_str()),
        "{}",
        found[0]
    );
    assert!(discover(l.port(), &["-t", "700ms"]).is_empty(), "keyless");
    assert!(
        discover(l.port(), &["-k", &other, "-t", "700ms"]).is_empty(),
        "another key"
    );

    // A sealed probe by hand: the sealed answer is never larger than it.
    let k = read_key(&key);
    let mut sealer = Sealer::new(&k);
    let peer = udp("127.0.0.1:0");
    let mut open = Vec::new();
    let pad = [0u8; 300];
    let probe = Probe {
        instance: 1,
        token: 0xabcd,
        pad: &pad,
    };
    wire::encode(&Message::Probe(probe), wire::MAX_DATAGRAM_V4, &mut open).expect("encode");
    let sealed_probe = sealer.seal(&open, l.to()).to_vec();
    peer.send_to(&sealed_probe, l.dest()).expect("send probe");
    let mut buf = [0u8; 2048];
    let (len, _) = peer.recv_from(&mut buf).expect("an answer");
    assert!(
        len <= sealed_probe.len(),
        "answer {len} > probe {}",
        sealed_probe.len()
    );
    let mut plain = Vec::new();
    let me = peer.local_addr().expect("local addr");
    Opener::new(&k, None)
        .open(&buf[..len], &mut plain, SystemTime::now(), me)
        .expect("a sealed answer, for the prober's address");
    match wire::decode_body(&plain) {
        Ok(Message::Answer(a)) => {
            assert_eq!((a.token, a.name, a.port), (0xabcd, "keyed-peer", l.port()));
        }
        other => panic!("not an answer: {other:?}"),
    }
    // An unpadded sealed probe gets nothing back.
    open.clear();
    let bare = Probe {
        instance: 2,
        token: 1,
        pad: &[],
    };
    wire::encode(&Message::Probe(bare), wire::MAX_DATAGRAM_V4, &mut open).expect("encode");
    peer.send_to(sealer.seal(&open, l.to()), l.dest())
        .expect("send probe");
    peer.set_read_timeout(Some(QUIET)).expect("timeout");
    assert!(
        peer.recv_from(&mut buf).is_err(),
        "an unpadded probe was answered"
    );

    // Keyless discovery still finds a keyless listener on another port.
    let plain_listener = Listen::start_json(&["--bind", "", "-n", "plain-peer"]);
    let found = discover(plain_listener.port(), &["-t", "3s", "--expect", "1"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "plain-peer");
    assert!(
        discover(plain_listener.port(), &["-k", &key, "-t", "700ms"]).is_empty(),
        "a keyed scan counts only sealed answers"
    );
    l.assert_quiet();
    let summary = l.summary();
    let counts = Counts::of(&summary);
    assert!(count_in(&summary, "probes answered") >= 2, "{summary}");
    assert!(counts.unsealed >= 1 && counts.forged >= 1, "{summary}");
}

// ---------------------------------------------------------------- captured streams (issue #12)

/// Lines of the acknowledged stream the replay tests capture.
const STREAM: usize = 20;

/// Runs `udpmsg send --ack` of [`STREAM`] lines to `x` (which shows them
/// all) and returns every datagram the sender sent to it, captured on the
/// way: Texts sealed for `x`'s address and port, retransmissions included.
fn capture_acked_stream(x: &Listen, key: &str) -> Vec<Vec<u8>> {
    let lines: Vec<String> = (0..STREAM).map(|i| format!("victim {i:02}")).collect();
    let stdin = format!("{}\n", lines.join("\n"));
    let mut sniffer = Sniffer::new();
    run_ok(
        &["send", "--ack", "-k", key, "-n", "victim", &x.dest(), "-"],
        stdin.as_bytes(),
    );
    for line in &lines {
        x.expect_text(line);
    }
    x.assert_quiet();
    let stream = sniffer.sent_to(x.to(), STREAM);
    for d in &stream {
        assert!(d.starts_with(b"UDPM\x02\x01"), "sealed: {d:02x?}");
    }
    stream
}

/// Starts `udpmsg listen --json --bind ip --port port --key-file key`.
fn listen_at(ip: &str, port: u16, key: &str) -> Listen {
    Listener::start_raw(&[
        "listen",
        "--bind",
        ip,
        "--port",
        &port.to_string(),
        "--json",
        "--key-file",
        key,
    ])
}

#[test]
fn a_captured_acked_stream_replayed_to_another_listener_shows_nothing() {
    if !isolate("a_captured_acked_stream_replayed_to_another_listener_shows_nothing") {
        return;
    }
    let dir = Dir::new("replay-elsewhere");
    let key = dir.key_named("k");
    // X is the victim's listener. Y and Z hold the same key: Y on another
    // port of the same address, Z on the same port of another address of
    // the host. Both run before the capture, so the start rule cannot be
    // what refuses it: only the destination can.
    let mut x = listen_at("127.0.0.1", 0, &key);
    let mut y = listen_at("127.0.0.1", 0, &key);
    let mut z = listen_at("127.0.0.2", x.port(), &key);
    assert_ne!(x.port(), y.port());
    let stream = capture_acked_stream(&x, &key);

    let attacker = udp("127.0.0.1:0");
    for d in &stream {
        attacker.send_to(d, y.dest()).expect("replay to Y");
        attacker.send_to(d, z.addr).expect("replay to Z");
    }
    // Nothing shown, nothing acknowledged.
    y.assert_quiet();
    z.assert_quiet();
    assert_no_reply(&attacker, "replays to another listener");
    // Both still take the real thing.
    run_ok(&["send", "-k", &key, &y.dest(), "fresh for Y"], b"");
    y.expect_text("fresh for Y");
    run_ok(
        &["send", "-k", &key, &z.addr.to_string(), "fresh for Z"],
        b"",
    );
    z.expect_text("fresh for Z");
    for (name, listener) in [("Y", &mut y), ("Z", &mut z)] {
        let summary = listener.summary();
        assert_eq!(
            Counts::of(&summary),
            Counts {
                received: 1,
                forged: stream.len() as u64,
                ..Counts::default()
            },
            "{name}: every replayed datagram fails to authenticate: {summary}"
        );
    }

    // The same datagrams were good for X, which took each once: sent to it
    // again, every one is a replay (the counters), shown and acknowledged
    // nothing.
    for d in &stream {
        attacker.send_to(d, x.dest()).expect("replay to X");
    }
    x.assert_quiet();
    assert_no_reply(&attacker, "replays to the listener they were for");
    let summary = x.summary();
    let counts = Counts::of(&summary);
    assert_eq!(counts.received, STREAM as u64, "{summary}");
    assert_eq!(counts.replayed, stream.len() as u64, "{summary}");
    assert_eq!(counts.forged, 0, "{summary}");
}

#[test]
fn a_captured_acked_stream_replayed_after_its_listener_restarted_shows_nothing() {
    if !isolate("a_captured_acked_stream_replayed_after_its_listener_restarted_shows_nothing") {
        return;
    }
    let dir = Dir::new("replay-restart");
    let key = dir.key_named("k");
    let mut x = listen_at("127.0.0.1", 0, &key);
    let stream = capture_acked_stream(&x, &key);
    let port = x.port();
    let summary = x.summary();
    assert_eq!(Counts::of(&summary).received, STREAM as u64, "{summary}");
    drop(x);

    // The same listener again: same address, port and key, a new process
    // that remembers nothing of what the last one accepted.
    let mut restarted = listen_at("127.0.0.1", port, &key);
    // How old the capture is when replayed: well within the 60 s that the
    // time check allows, so only the start rule can refuse it.
    let dk = datagram_key(&key);
    let oldest = stream
        .iter()
        .map(|d| open_by_the_spec(&dk, d, restarted.to()).2)
        .min()
        .expect("a datagram");
    let age = Duration::from_micros(now_micros().saturating_sub(oldest));
    let attacker = udp("127.0.0.1:0");
    for d in &stream {
        attacker.send_to(d, restarted.dest()).expect("replay");
    }
    restarted.assert_quiet();
    assert_no_reply(&attacker, "replays to the restarted listener");
    run_ok(
        &["send", "-k", &key, &restarted.dest(), "after the restart"],
        b"",
    );
    restarted.expect_text("after the restart");
    let summary = restarted.summary();
    let mut counts = Counts::of(&summary);
    eprintln!(
        "replayed {} datagrams {age:?} after capture: {summary}",
        stream.len()
    );
    if age > Duration::from_secs(50) {
        // Only a machine stalled for most of a minute gets here: the
        // replays may be stale by then, refused all the same.
        counts.replayed += counts.stale;
        counts.stale = 0;
    }
    assert_eq!(
        counts,
        Counts {
            received: 1,
            replayed: stream.len() as u64,
            ..Counts::default()
        },
        "every replayed datagram is refused as sealed before the listener started: {summary}"
    );
}

// ---------------------------------------------------------------- flood

/// Hostile datagrams in the flood.
const FLOOD: usize = 30_000;
/// Datagrams between two markers (the listener's queue holds far more).
const BATCH: usize = 500;
/// Largest growth of the listener's peak memory the flood may cause.
const MAX_GROWTH_KIB: u64 = 16 * 1024;

#[test]
fn flood_of_forged_and_replayed_sealed_datagrams_is_survived_in_bounded_memory() {
    if !isolate("flood_of_forged_and_replayed_sealed_datagrams_is_survived_in_bounded_memory") {
        return;
    }
    let started = Instant::now();
    let dir = Dir::new("flood");
    let key = dir.key_named("k");
    let other = dir.key_named("other");
    let k = read_key(&key);
    let mut l = Listen::start_json(&["--key-file", &key]);
    let peer = udp("127.0.0.1:0");
    let mut rng = Rng(SEED);
    let mut expected = Counts::default();

    // Shown once each: a first real message, captured on its way, and the
    // markers, sealed by the library as `udpmsg send` would (all replayed
    // later).
    let mut markers = Sealer::new(&k);
    let mut sniffer = Sniffer::new();
    run_ok(&["send", &l.dest(), "-k", &key, "first"], b"");
    l.expect_text("first");
    expected.received += 1;
    let first = sniffer.sent_to(l.to(), 1).remove(0);
    drop(sniffer);
    let mut shown: Vec<Vec<u8>> = vec![first];
    let to = l.to();
    // Sources of forgeries: real sealed datagrams never sent as they are.
    let mut sources = Sealer::new(&k);
    let mut strangers = Sealer::new(&read_key(&other));
    let (rss_before, hwm_before) = memory_kib(l.pid());

    let mut sent = 0usize;
    let mut batch_no = 0u64;
    while sent < FLOOD {
        for _ in 0..BATCH.min(FLOOD - sent) {
            let d = match rng.below(8) {
                // Random bytes: raw.
                0 => {
                    let len = rng.below(1500);
                    rng.bytes(len)
                }
                // The sealed header, then anything.
                1 => {
                    let mut d = b"UDPM\x02\x01".to_vec();
                    let max = if rng.below(100) == 0 { 60_000 } else { 1200 };
                    let len = rng.below(max);
                    d.extend(rng.bytes(len));
                    d
                }
                // A real sealed datagram, truncated.
                2 => {
                    let len = rng.below(300);
                    let body = rng.bytes(len);
                    let mut d = sources.seal(&open_text(0, "src", &body), to).to_vec();
                    d.truncate(rng.below(d.len()));
                    d
                }
                // A real sealed datagram with 1 to 3 bits flipped.
                3 | 4 => {
                    let len = rng.below(300);
                    let body = rng.bytes(len);
                    let mut d = sources.seal(&open_text(0, "src", &body), to).to_vec();
                    // Distinct bits, so the flips never cancel out.
                    let mut bits = Vec::new();
                    for _ in 0..=rng.below(3) {
                        let bit = rng.below(d.len() * 8);
                        if !bits.contains(&bit) {
                            bits.push(bit);
                            d[bit / 8] ^= 1 << (bit % 8);
                        }
                    }
                    d
                }
                // Sealed with another key.
                5 => strangers.seal(&open_text(0, "stranger", b"x"), to).to_vec(),
                // A replay of something already shown.
                _ => {
                    let d = shown[rng.below(shown.len())].clone();
                    peer.send_to(&d, l.dest()).expect("send replay");
                    expected.replayed += 1;
                    sent += 1;
                    continue;
                }
            };
            peer.send_to(&d, l.dest()).expect("send flood datagram");
            expected.add_refused(&d);
            sent += 1;
        }
        let text = format!("marker {batch_no}");
        let marker = markers
            .seal(&open_text(batch_no, "marker", text.as_bytes()), to)
            .to_vec();
        peer.send_to(&marker, l.dest()).expect("send marker");
        let v = l.json();
        assert_eq!(v["text"], text.as_str(), "only markers are shown: {v}");
        expected.received += 1;
        shown.push(marker);
        batch_no += 1;
    }
    l.assert_alive();
    let (rss_after, hwm_after) = memory_kib(l.pid());
    eprintln!(
        "flood of {sent} in {batch_no} batches, {:?}: VmRSS {rss_before} -> {rss_after} KiB, \
         VmHWM {hwm_before} -> {hwm_after} KiB; expected {expected:?}",
        started.elapsed()
    );
    assert!(
        hwm_after.saturating_sub(rss_before) < MAX_GROWTH_KIB,
        "memory grew from {rss_before} KiB to a peak of {hwm_after} KiB"
    );

    // Still listening to the real thing.
    run_ok(
        &["send", &l.dest(), "-k", &key, "after", "the", "flood"],
        b"",
    );
    l.expect_text("after the flood");
    expected.received += 1;
    l.assert_quiet();
    let summary = l.summary();
    eprintln!("{summary}");
    let mut counts = Counts::of(&summary);
    // Only a run slower than a minute could make replays stale.
    counts.replayed += counts.stale;
    counts.stale = 0;
    assert_eq!(counts, expected, "{summary}");
    if summary.contains("dropped by the kernel") {
        assert_eq!(count_in(&summary, "dropped by the kernel"), 0, "{summary}");
    }
}

#[test]
fn send_ack_and_ping_that_nothing_answered_hint_at_the_key() {
    if !isolate("send_ack_and_ping_that_nothing_answered_hint_at_the_key") {
        return;
    }
    let dir = Dir::new("hint");
    let key = dir.key_named("k");
    let other = dir.key_named("other");
    let keyed = Listener::start(&["-k", &key]);
    let dest = keyed.dest();
    let no_key = "udpmsg: hint: a listener started with --key-file answers only datagrams sealed with its key: give the same --key-file here";
    let wrong_key = "udpmsg: hint: a listener answers sealed datagrams only when its --key-file holds the same key";
    for (extra, hint) in [(vec![], no_key), (vec!["-k", other.as_str()], wrong_key)] {
        let mut ack = vec!["send", "--ack", "-t", "300ms", &dest];
        ack.extend(&extra);
        ack.push("hi");
        let run = udpmsg(&ack, b"");
        assert_eq!(run.code, 4, "{ack:?}: {}", run.stderr);
        let err: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(
            err[0].starts_with("udpmsg: 0 of 1 messages confirmed"),
            "{err:?}"
        );
        assert_eq!(err[1], hint);

        let mut ping = vec!["ping", &dest, "-c", "1", "-W", "200ms"];
        ping.extend(&extra);
        let run = udpmsg(&ping, b"");
        assert_eq!(run.code, 4, "{ping:?}: {}", run.stdout);
        assert_eq!(run.stderr.trim_end(), hint, "{ping:?}");
        // A hint, so -q silences it.
        ping.push("-q");
        let run = udpmsg(&ping, b"");
        assert_eq!((run.code, run.stderr.as_str()), (4, ""), "{ping:?}");
    }
    // With the key: answered, no hint.
    let run = run_ok(&["send", "--ack", &keyed.dest(), "-k", &key, "hi"], b"");
    assert_eq!(run.stderr, "");
    let run = run_ok(&["ping", &keyed.dest(), "-k", &key, "-c", "1"], b"");
    assert_eq!(run.stderr, "");
}
