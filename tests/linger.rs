//! A listener that stops by `--count` or `--timeout` lingers for the
//! senders it answered last: on a two-host LAN of namespaces (a veth pair), nftables drops the
//! listener's last file status or ack, and the sender still hears it (its
//! repeat is answered) and exits 0; and while it lingers the listener
//! takes nothing new.

mod common;

use common::veth::Veth;
use common::*;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use udpmsg::wire::file::FILE_DONE;
use udpmsg::wire::{self, Ack, FileStatus, Message};

/// The listener's address in `B`.
const B: &str = "10.77.0.2";

/// Starts `udpmsg listen` in `B` with `args`.
fn listener_in(veth: &Veth, args: &[&str]) -> Listener {
    let mut cmd = veth.command(&[BIN, "listen", "--port", "0", "--bind", B]);
    cmd.args(args);
    Listener::spawn_cmd(cmd, None, false, "listen in B")
}

/// Where `needle` starts in `hay`.
fn offset(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("marker in the encoding")
}

/// An nftables match (`@th,BITS,LEN VALUE ...`) for the bytes `fields`
/// give, at their offsets in the UDP payload: `(offset, bytes)`.
fn payload_match(fields: &[(usize, &[u8])]) -> String {
    fields
        .iter()
        .map(|(at, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            // The transport header (UDP's, 8 bytes) comes first.
            format!("@th,{},{} 0x{hex}", (8 + at) * 8, bytes.len() * 8)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drops, at this host's input, the first `times` datagrams from port
/// `port` that match `what`; [`dropped`] tells how many it did.
fn drop_first(port: u16, what: &str, times: u32) {
    let rules = format!(
        "table inet linger {{
  chain in {{ type filter hook input priority 0; udp sport {port} {what} numgen inc mod 1000000 < {times} counter drop; }}
}}\n"
    );
    nft_load(Command::new("nft"), &rules);
}

/// How many datagrams the rule of [`drop_first`] dropped.
fn dropped() -> u64 {
    let rules = run_ok("nft", &["list", "table", "inet", "linger"]);
    let (_, after) = rules.split_once("counter packets ").expect("a counter");
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("packets")
}

/// The FileStatus "done" datagrams (open): tag and status.
fn done_statuses() -> String {
    let marker = Message::FileStatus(FileStatus {
        instance: 0x1111_1111_1111_1111,
        sender: 0x2222_2222_2222_2222,
        seq: 0x3333_3333_3333_3333,
        status: FILE_DONE,
        detail: 0x4444_4444_4444_4444,
    });
    let bytes = encoded(&marker);
    let status_at = offset(&bytes, &[0x33; 8]) + 8;
    assert_eq!(bytes[status_at], FILE_DONE);
    let tag = &bytes[wire::HEADER_LEN..wire::HEADER_LEN + 4];
    payload_match(&[(wire::HEADER_LEN, tag), (status_at, &[FILE_DONE])])
}

/// The Ack datagrams (open) that confirm every message below `next`.
fn acks_up_to(next: u64) -> String {
    let marker = Message::Ack(Ack {
        instance: 0x1111_1111_1111_1111,
        sender: 0x2222_2222_2222_2222,
        next: 0x3333_3333_3333_3333,
        ranges: &[],
    });
    let bytes = encoded(&marker);
    let next_at = offset(&bytes, &[0x33; 8]);
    let tag = &bytes[wire::HEADER_LEN..wire::HEADER_LEN + 4];
    payload_match(&[(wire::HEADER_LEN, tag), (next_at, &next.to_le_bytes())])
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("udpmsg-linger-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn s(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_file_stored_at_count_is_confirmed_though_its_done_status_is_lost() {
    if !isolate("a_file_stored_at_count_is_confirmed_though_its_done_status_is_lost") {
        return;
    }
    let veth = Veth::new();
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let path = format!("{}/report.bin", src.s());
    fs::write(&path, &content).unwrap();
    let mut listener = listener_in(&veth, &["--count", "1", "--save-dir", dir.s(), "--json"]);
    // Its first two "done" never arrive: the sender asks twice more.
    drop_first(listener.port(), &done_statuses(), 2);
    let dest = format!("{B}:{}", listener.port());
    let out = udpmsg(&["send", "--file", &path, &dest], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(dropped(), 2, "the first two statuses were dropped");
    let line = listener.json();
    assert_eq!(line["kind"], "file", "{line}");
    let (code, _, err) = listener.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    assert!(fs::read(format!("{}/report.bin", dir.s())).unwrap() == content);
}

#[test]
fn the_last_ack_at_count_is_answered_again_when_lost() {
    if !isolate("the_last_ack_at_count_is_answered_again_when_lost") {
        return;
    }
    let veth = Veth::new();
    let mut listener = listener_in(&veth, &["--count", "3"]);
    // Every ack that confirms all three, the first two times.
    drop_first(listener.port(), &acks_up_to(3), 2);
    let dest = format!("{B}:{}", listener.port());
    let out = udpmsg(&["send", "--ack", &dest, "-"], b"a\nb\nc\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(dropped(), 2, "the first two final acks were dropped");
    let (code, lines, err) = listener.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    let texts: Vec<&str> = lines
        .iter()
        .map(|l| l.rsplit_once(": ").map_or(l.as_str(), |(_, t)| t))
        .collect();
    assert_eq!(texts, ["a", "b", "c"], "{lines:?}");
}

#[test]
fn a_listener_stopped_by_its_timeout_answers_a_sender_that_missed_every_ack() {
    if !isolate("a_listener_stopped_by_its_timeout_answers_a_sender_that_missed_every_ack") {
        return;
    }
    let veth = Veth::new();
    let timeout = std::time::Duration::from_secs(1);
    let mut listener = listener_in(&veth, &["--timeout", "1s"]);
    // Its deadline was set before it said it listens.
    let stopped_by = std::time::Instant::now() + timeout;
    // Every ack of the line is dropped until the listener's --timeout
    // stopped it: the sender keeps asking (its retries come far more often
    // than the linger's quiet time), and only the lingering listener can
    // answer. Without the linger the port is closed by then: exit 5.
    drop_first(listener.port(), &acks_up_to(1), 999_999);
    let dest = format!("{B}:{}", listener.port());
    let mut send = command(&["send", "--ack", &dest, "late"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send --ack");
    let err = drain(send.stderr.take().expect("stderr"));
    wait_for(timeout * 3, "the listener's --timeout to pass", || {
        (std::time::Instant::now() >= stopped_by).then_some(())
    });
    assert!(dropped() > 0, "an ack was dropped");
    run_ok("nft", &["delete", "table", "inet", "linger"]);
    let code = wait_until(&mut send, WAIT, "send --ack");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 0, "{err}");
    let (code, lines, err) = listener.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with(": late"), "{lines:?}");
}

#[test]
fn a_lingering_listener_takes_nothing_new() {
    if !isolate("a_lingering_listener_takes_nothing_new") {
        return;
    }
    let veth = Veth::new();
    let mut listener = listener_in(&veth, &["--count", "1", "--json"]);
    let dest = format!("{B}:{}", listener.port());
    // The first line stops it; the others keep coming (retried) while it
    // lingers, and are neither shown nor confirmed.
    let out = udpmsg(&["send", "--ack", &dest, "-"], b"first\nsecond\nthird\n");
    assert_ne!(out.code, 0, "only the first line can be confirmed");
    let (code, lines, err) = listener.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(line["text"], "first", "{line}");
}

#[test]
fn the_documented_linger_is_the_code_and_outlasts_a_senders_retries() {
    use std::time::Duration;
    use udpmsg::commands::files::send::{FIRST_ASK, MAX_ASK};
    use udpmsg::commands::listen::{LINGER_MAX, LINGER_QUIET};
    use udpmsg::reliable::rtt::{JITTER, MAX_RTO};
    let doc = |path: &str| {
        fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
    };
    let (readme, protocol) = (doc("README.md"), doc("docs/PROTOCOL.md"));
    assert_eq!(LINGER_QUIET, Duration::from_millis(400));
    assert_eq!(LINGER_MAX, Duration::from_secs(3));
    assert!(readme.contains("400 ms after its last answer"));
    assert!(readme.contains("3 s after the stop at the\nlatest"));
    assert!(protocol.contains("no repeat came for 400 ms"));
    assert!(protocol.contains("at most 3 s after it stopped"));
    assert_eq!(
        (FIRST_ASK, MAX_ASK),
        (Duration::from_millis(50), Duration::from_secs(1))
    );
    assert!(protocol.contains("udpmsg asks after\n  50 ms, doubling up to 1 s"));
    // A sender's first retry comes within the quiet time: a Text's after
    // its retransmission timeout (with jitter), a file status's after
    // FIRST_ASK.
    assert!(LINGER_QUIET > MAX_RTO.mul_f64(1.0 + JITTER));
    assert!(LINGER_QUIET > FIRST_ASK);
    // A file sender that missed five answers in a row (asking after 50,
    // 100, 200, 400 and 800 ms) asks a sixth time before the linger ends.
    assert!(LINGER_MAX > FIRST_ASK * (1 + 2 + 4 + 8 + 16));
}
