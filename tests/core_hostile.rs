//! A hostile peer cannot stop, confuse or blind `udpmsg listen`: thousands of
//! truncated, bit-flipped and random datagrams (derived from real `udpmsg
//! send` output) are counted and dropped, the output stays one well-formed
//! line per datagram, and a good message still gets through. Each test runs
//! in a private network namespace (`common::isolate`); every loop is bounded.

mod common;

use common::Listener as Listen;
use common::{Rng, WAIT, isolate, rest_of, udp, udpmsg};
use serde_json::Value;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use udpmsg::wire::{
    self, Ack, Answer, Datagram, FLAG_ACK, Message, Ping, Probe, REFUSED_BUSY, Refuse, Text,
};

/// Mutated datagrams per storm.
const STORM: usize = 4000;
/// Datagrams sent between two checks that the listener kept up.
const BATCH: usize = 200;
/// Fixed seed: a failure reproduces.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

// ---------------------------------------------------------------- helpers

/// Runs `udpmsg send args...` with `stdin`, asserting it succeeded.
fn send_ok(args: &[&str], stdin: &[u8]) {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    let done = udpmsg(&all, stdin);
    assert_eq!(done.code, 0, "udpmsg {all:?}: {}", done.stderr);
}

/// Output lines by kind, as the listener showed them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shown {
    text: u64,
    raw: u64,
    other: u64,
}

impl Shown {
    /// Counts one `--json` line, which must be a JSON object with a kind.
    fn count(&mut self, line: &str) -> Value {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        match v["kind"].as_str() {
            Some("text") => self.text += 1,
            Some("raw") => self.raw += 1,
            Some(_) => self.other += 1,
            None => panic!("no kind: {line}"),
        }
        v
    }
}

/// Sends `datagrams` in batches, each followed by a raw marker the listener
/// must show before the next batch goes: nothing piles up in the kernel, and
/// every output line is checked as it comes.
fn send_in_batches(l: &Listen, peer: &UdpSocket, datagrams: &[Vec<u8>], shown: &mut Shown) {
    for (n, batch) in datagrams.chunks(BATCH).enumerate() {
        for d in batch {
            peer.send_to(d, l.dest()).expect("send storm datagram");
        }
        let marker = format!("marker {n}");
        peer.send_to(marker.as_bytes(), l.dest())
            .expect("send marker");
        let end = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < end, "marker {n} not shown in time");
            let v = shown.count(&l.line());
            if v["kind"] == "raw" && v["text"] == marker.as_str() {
                break;
            }
        }
    }
}

/// What the listener must make of each datagram, by the wire format's rules.
#[derive(Debug, Default)]
struct Expected {
    /// Texts: each shown, or suppressed as a copy of one shown (PROTOCOL.md
    /// section 7: each `(sender, seq)` is shown once, copies within a few
    /// seconds dropped).
    text: u64,
    /// The distinct `(sender, seq)` among them: each shown at least once.
    pairs: std::collections::HashSet<(u64, u64)>,
    raw: u64,
    malformed: u64,
    /// Strict prefixes (4 bytes or more) of valid datagrams: malformed
    /// whatever the decoder says.
    truncated: u64,
}

impl Expected {
    fn add(&mut self, d: &[u8]) {
        match wire::classify(d) {
            Ok(Datagram::Raw(_)) => self.raw += 1,
            Ok(Datagram::Message(Message::Text(t))) => {
                self.text += 1;
                self.pairs.insert((t.sender, t.seq));
            }
            Ok(_) => {}
            Err(_) => self.malformed += 1,
        }
    }
}

/// True for a datagram the listener delivers by the acknowledged-mode rules
/// (held, deduplicated, acknowledged) rather than one line per datagram.
fn is_acked_text(d: &[u8]) -> bool {
    matches!(
        wire::classify(d),
        Ok(Datagram::Message(Message::Text(t))) if t.flags & FLAG_ACK != 0
    )
}

/// Real datagrams: `udpmsg send` output caught on a plain socket, plus one
/// of every other message kind.
fn valid_datagrams() -> Vec<Vec<u8>> {
    let catcher = udp("127.0.0.1:0");
    let dest = catcher.local_addr().expect("local addr").to_string();
    let input: &[u8] =
        b"\nhi\n\xc3\xbcn\xc3\xafcode \xe2\x9c\x93\n\xff\xfe not utf-8\ntab\tand\x1b escape\n";
    let long = format!("{}\n", "x".repeat(300));
    let mut stdin = input.to_vec();
    stdin.extend_from_slice(long.as_bytes());
    send_ok(&[&dest, "-n", "hostile-peer"], &stdin);
    let mut valid = Vec::new();
    let mut buf = vec![0u8; 70_000];
    for _ in 0..6 {
        let (len, _) = catcher
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("udpmsg send output not caught: {e}"));
        assert!(
            matches!(
                wire::classify(&buf[..len]),
                Ok(Datagram::Message(Message::Text(_)))
            ),
            "udpmsg send sent something that is not a text message"
        );
        valid.push(buf[..len].to_vec());
    }
    let ping = Ping {
        sender: 7,
        seq: 1,
        stamp: 99,
    };
    // Held ranges (6, 7) and (9, 12), as an Ack carries them.
    let mut ranges = Vec::new();
    wire::put_ack_ranges([(6, 7), (9, 12)], &mut ranges);
    for message in [
        Message::Ack(Ack {
            instance: 8,
            sender: 1,
            next: 4,
            ranges: &ranges,
        }),
        Message::Probe(Probe {
            instance: 3,
            token: 4,
            pad: &[0; 64],
        }),
        Message::Answer(Answer {
            instance: 5,
            token: 6,
            port: 47474,
            version: wire::VERSION,
            name: "peer",
        }),
        Message::Ping(ping),
        Message::Pong(ping),
        Message::Refuse(Refuse {
            instance: 9,
            sender: 10,
            seq: 11,
            reason: REFUSED_BUSY,
        }),
    ] {
        let mut d = Vec::new();
        wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
        valid.push(d);
    }
    valid
}

/// `count` datagrams that are truncated, bit-flipped, extended or random
/// versions of `valid`, or random bytes after the open-mode header.
fn mutants(
    valid: &[Vec<u8>],
    rng: &mut Rng,
    count: usize,
    expected: &mut Expected,
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    // Bounded: nearly every try yields a datagram.
    for _ in 0..count * 4 {
        if out.len() == count {
            break;
        }
        let base = &valid[rng.below(valid.len())];
        let mut d = base.clone();
        let mut truncated = false;
        match rng.below(8) {
            0 => {
                d.truncate(rng.below(base.len()));
                truncated = d.len() >= 4;
            }
            1 => {
                for _ in 0..=rng.below(3) {
                    let bit = rng.below(d.len() * 8);
                    d[bit / 8] ^= 1 << (bit % 8);
                }
            }
            2 => {
                // The header, tag, ids, base, flags and first length prefix.
                let bit = rng.below(d.len().min(44) * 8);
                d[bit / 8] ^= 1 << (bit % 8);
            }
            3 => {
                d = b"UDPM\x02\x00".to_vec();
                let len = rng.below(300);
                d.extend(rng.bytes(len));
            }
            4 => {
                // Every kind's tag, and the first unknown one.
                d = b"UDPM\x02\x00".to_vec();
                d.extend_from_slice(&(rng.below(10) as u32).to_le_bytes());
                let len = rng.below(64);
                d.extend(rng.bytes(len));
            }
            5 => {
                let len = 1 + rng.below(16);
                d.extend(rng.bytes(len));
            }
            6 => {
                // The same datagram from a version 1 peer.
                d[4] = 1;
            }
            _ => {
                // A length prefix (or any 8 bytes) that lies.
                if d.len() >= 14 {
                    let at = 6 + rng.below(d.len() - 13);
                    let lie = [u64::MAX, 1 << 32, 65_528, d.len() as u64, 1 << 63][rng.below(5)];
                    d[at..at + 8].copy_from_slice(&lie.to_le_bytes());
                }
            }
        }
        if is_acked_text(&d) {
            continue;
        }
        expected.truncated += u64::from(truncated);
        expected.add(&d);
        out.push(d);
    }
    assert_eq!(out.len(), count, "could not make enough mutants");
    out
}

/// The number before `what` in a summary line (`... 12 malformed, ...`).
fn count_in(summary: &str, what: &str) -> u64 {
    let at =
        find_count(summary, what).unwrap_or_else(|| panic!("no '{what}' in summary: {summary}"));
    number_before(summary, at, what)
}

/// [`count_in`] for a counter the summary leaves out when it is zero.
fn count_or_zero(summary: &str, what: &str) -> u64 {
    find_count(summary, what).map_or(0, |at| number_before(summary, at, what))
}

/// Where `what` follows its count in `summary`; a count of 1 is said in
/// the singular ("1 duplicate suppressed").
fn find_count(summary: &str, what: &str) -> Option<usize> {
    summary.find(&format!(" {what}")).or_else(|| {
        summary
            .find(&format!(" 1 {}", common::singular(what)))
            .map(|at| at + 2)
    })
}

fn number_before(summary: &str, at: usize, what: &str) -> u64 {
    summary[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before '{what}' in: {summary}"))
}

/// The summary line among the listener's last stderr lines.
fn summary(err: &[String]) -> &str {
    let summaries: Vec<&String> = err
        .iter()
        .filter(|l| l.starts_with("udpmsg listen: "))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary line: {summaries:?}");
    assert_eq!(
        err.last(),
        Some(summaries[0]),
        "the summary is the last line"
    );
    summaries[0]
}

// ---------------------------------------------------------------- tests

#[test]
fn storm_of_malformed_datagrams_is_counted_and_survived() {
    if !isolate("storm_of_malformed_datagrams_is_counted_and_survived") {
        return;
    }
    let mut l = Listen::start(&["--json", "-v"]);
    let valid = valid_datagrams();
    let mut rng = Rng(SEED);
    let mut expected = Expected::default();
    let mut storm = mutants(&valid, &mut rng, STORM, &mut expected);
    // A few as large as a datagram gets: magic and random, and random only.
    for _ in 0..3 {
        let mut d = b"UDPM\x02\x00".to_vec();
        d.extend(rng.bytes(wire::MAX_DATAGRAM_V4 - 6));
        expected.add(&d);
        storm.push(d);
        let d = rng.bytes(wire::MAX_DATAGRAM_V4);
        expected.add(&d);
        storm.push(d);
    }
    assert!(
        expected.malformed >= 2000,
        "the storm is mostly malformed: {expected:?}"
    );
    assert!(expected.truncated > 0 && expected.malformed >= expected.truncated);

    eprintln!("storm of {}: {expected:?}", storm.len());
    let peer = udp("127.0.0.1:0");
    let mut shown = Shown::default();
    send_in_batches(&l, &peer, &storm, &mut shown);
    let markers = storm.len().div_ceil(BATCH) as u64;
    l.assert_alive();
    // Mutants of one sender's Texts often keep its `(sender, seq)`: the
    // first of each pair is shown, copies are suppressed (all of them, when
    // the storm is quicker than the listener's memory of 5 s).
    assert!(
        shown.text >= expected.pairs.len() as u64 && shown.text <= expected.text,
        "text lines: {} for {} texts of {} pairs",
        shown.text,
        expected.text,
        expected.pairs.len()
    );
    assert_eq!(shown.raw, expected.raw + markers, "raw lines: {expected:?}");
    assert_eq!(shown.other, 0, "unexpected kinds of output");

    // Still listening: a good message gets through, and is the next line.
    send_ok(&[&l.dest(), "-n", "good-peer", "still", "alive"], b"");
    let v = shown.count(&l.line());
    assert_eq!(v["kind"], "text", "{v}");
    assert_eq!(v["name"], "good-peer", "{v}");
    assert_eq!(v["text"], "still alive", "{v}");

    let (code, out, err) = l.terminate();
    assert_eq!(code, 0, "exit after SIGTERM; stderr tail: {:?}", err.last());
    assert!(out.is_empty(), "output after the good message: {out:?}");
    assert!(
        err.iter().all(|l| l.starts_with("udpmsg")),
        "a stderr line not from udpmsg (line injection?): {:?}",
        err.iter().find(|l| !l.starts_with("udpmsg"))
    );
    assert!(!err.iter().any(|l| l.contains("panicked")));
    let reported: Vec<&String> = err
        .iter()
        .filter(|l| l.starts_with("udpmsg: dropped malformed datagram from 127.0.0.1:"))
        .collect();
    assert_eq!(
        reported.len() as u64,
        expected.malformed,
        "-v reports each malformed one"
    );
    // Each with its PROTOCOL.md section 5 label, in brackets.
    const LABELS: [&str; 8] = [
        "truncated",
        "unknown-version",
        "unknown-mode",
        "unknown-kind",
        "too-long",
        "bad-utf8",
        "trailing-bytes",
        "invalid",
    ];
    for line in &reported {
        assert!(
            LABELS.iter().any(|l| line.ends_with(&format!("[{l}]"))),
            "no section 5 label: {line}"
        );
    }

    let summary = summary(&err);
    assert!(
        summary.starts_with("udpmsg listen: terminated: "),
        "{summary}"
    );
    assert_eq!(count_in(summary, "received"), shown.text, "{summary}");
    assert_eq!(
        shown.text - 1 + count_or_zero(summary, "duplicates suppressed"),
        expected.text,
        "every text shown or suppressed as a copy: {summary}"
    );
    assert_eq!(
        count_in(summary, "raw"),
        expected.raw + markers,
        "{summary}"
    );
    assert_eq!(
        count_in(summary, "malformed"),
        expected.malformed,
        "{summary}"
    );
    if summary.contains("dropped by the kernel") {
        assert_eq!(count_in(summary, "dropped by the kernel"), 0, "{summary}");
    }
}

#[test]
fn random_bytes_after_the_magic_never_stop_the_listener() {
    if !isolate("random_bytes_after_the_magic_never_stop_the_listener") {
        return;
    }
    let mut l = Listen::start(&["--json", "-v"]);
    let mut rng = Rng(SEED ^ 0xabcd);
    let mut expected = Expected::default();
    let storm: Vec<Vec<u8>> = (0..STORM)
        .map(|i| {
            let mut d = b"UDPM\x02\x00".to_vec();
            // Every message tag (and the first unknown one), with short
            // random tails, then anything.
            if i % 2 == 0 {
                d.extend_from_slice(&((i / 2) as u32 % 8).to_le_bytes());
            }
            let len = rng.below(if i % 3 == 0 { 2000 } else { 48 });
            d.extend(rng.bytes(len));
            d
        })
        .filter(|d| !is_acked_text(d))
        .inspect(|d| expected.add(d))
        .collect();
    let peer = udp("127.0.0.1:0");
    let mut shown = Shown::default();
    send_in_batches(&l, &peer, &storm, &mut shown);
    l.assert_alive();
    send_ok(&[&l.dest(), "-n", "good-peer", "after random"], b"");
    let v = shown.count(&l.line());
    assert_eq!(v["text"], "after random", "{v}");
    let (code, _, err) = l.terminate();
    assert_eq!(code, 0, "stderr tail: {:?}", err.last());
    let summary = summary(&err);
    assert_eq!(
        count_in(summary, "malformed"),
        expected.malformed,
        "{summary}"
    );
    assert_eq!(
        count_in(summary, "received"),
        expected.text + 1,
        "{summary}"
    );
}

#[test]
fn hostile_control_bytes_cannot_break_text_output_lines() {
    if !isolate("hostile_control_bytes_cannot_break_text_output_lines") {
        return;
    }
    let mut l = Listen::start(&[]);
    let peer = udp("127.0.0.1:0");
    let mut rng = Rng(SEED ^ 0x1234);
    let mut datagrams = Vec::new();
    for i in 0..1000 {
        // ASCII only, so UTF-8 and shown as text: newlines, escapes, bells.
        let len = 1 + rng.below(40);
        let mut body: Vec<u8> = (0..len).map(|_| rng.next() as u8 & 0x7f).collect();
        if i % 2 == 0 {
            // Never the magic: these must be raw.
            body[0] = b'x';
            datagrams.push(body);
        } else {
            let name: String = (0..1 + rng.below(12))
                .map(|_| char::from(rng.next() as u8 & 0x3f))
                .collect();
            let mut d = Vec::new();
            let text = Message::Text(Text {
                sender: rng.next(),
                seq: 0,
                base: 0,
                flags: 0,
                name: &name,
                body: &body,
            });
            wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
            datagrams.push(d);
        }
    }
    let mut lines = 0u64;
    for (n, batch) in datagrams.chunks(BATCH).enumerate() {
        for d in batch {
            peer.send_to(d, l.dest()).expect("send");
        }
        let marker = format!("marker {n}");
        peer.send_to(marker.as_bytes(), l.dest()).expect("send");
        let end = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < end, "marker {n} not shown in time");
            let line = l.line();
            lines += 1;
            let (ts, rest) = line.split_once(' ').expect("a timestamp first");
            assert!(
                humantime::parse_rfc3339(ts).is_ok(),
                "line does not start with a timestamp (injected line?): {line:?}"
            );
            assert!(rest.starts_with("127.0.0.1:"), "{line:?}");
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\t'),
                "raw control character in {line:?}"
            );
            if line.ends_with(&format!("[raw]: {marker}")) {
                break;
            }
        }
    }
    let markers = datagrams.len().div_ceil(BATCH);
    assert_eq!(
        lines,
        (datagrams.len() + markers) as u64,
        "one line per datagram"
    );
    let (code, out, _) = l.terminate();
    assert_eq!(code, 0);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn acknowledged_mode_junk_cannot_stop_the_listener() {
    if !isolate("acknowledged_mode_junk_cannot_stop_the_listener") {
        return;
    }
    let mut l = Listen::start(&["--json", "-v"]);
    let peer = udp("127.0.0.1:0");
    let mut rng = Rng(SEED ^ 0x77);
    // An acknowledged Text of `sender`, whose lowest unconfirmed is `base`.
    let acked = |sender: u64, seq: u64, base: u64, body: &[u8]| {
        let mut d = Vec::new();
        let text = Message::Text(Text {
            sender,
            seq,
            base,
            flags: FLAG_ACK,
            name: "acker",
            body,
        });
        wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
        d
    };
    let mut storm = Vec::new();
    // Many senders, each one message ahead of its base (held).
    for _ in 0..1500 {
        storm.push(acked(rng.next(), 1, 0, b"held"));
    }
    // One sender: duplicates, far-ahead and extreme sequence numbers, all
    // from base 0 (a sender still waiting for its first).
    let one = rng.next();
    for seq in [0, 0, 0, 5, 5, 3, 600, u64::MAX, u64::MAX - 1, 1 << 63, 2, 1] {
        storm.push(acked(one, seq, 0, b"seq"));
    }
    // One sender whose base jumps: a gap given up at once, a Text held
    // past it, a late copy from inside the gap, a base going back.
    let jumper = rng.next();
    for (seq, base) in [
        (0, 0),
        (5000, 4990),
        (1000, 0),
        (4995, 100),
        (4990, 4990),
        (1 << 40, 1 << 40),
        (1 << 40, 0),
    ] {
        storm.push(acked(jumper, seq, base, b"jump"));
    }
    // A first Text far into the sequence space: a new sender starts at its base.
    storm.push(acked(rng.next(), 1 << 62, 1 << 62, b"late start"));
    // Held bodies past any byte budget.
    let big = rng.next();
    let body = vec![b'b'; 60_000];
    for seq in 1..=160 {
        storm.push(acked(big, seq, 0, &body));
    }
    // What only a listener sends, sent to it: Acks with held ranges for the
    // senders above, Refuses, Answers and Pongs. All ignored.
    let mut ranges = Vec::new();
    wire::put_ack_ranges([(2, 3), (7, 7)], &mut ranges);
    for sender in [one, jumper, big, rng.next()] {
        let ping = Ping {
            sender,
            seq: 0,
            stamp: 1,
        };
        for message in [
            Message::Ack(Ack {
                instance: rng.next(),
                sender,
                next: 1,
                ranges: &ranges,
            }),
            Message::Refuse(Refuse {
                instance: rng.next(),
                sender,
                seq: 1,
                reason: REFUSED_BUSY,
            }),
            Message::Answer(Answer {
                instance: rng.next(),
                token: 1,
                port: 1,
                version: wire::VERSION,
                name: "not me",
            }),
            Message::Pong(ping),
        ] {
            let mut d = Vec::new();
            wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
            storm.push(d);
        }
    }
    let mut shown = Shown::default();
    send_in_batches(&l, &peer, &storm, &mut shown);
    l.assert_alive();
    send_ok(&[&l.dest(), "-n", "good-peer", "acks survived"], b"");
    let end = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < end, "good message not shown");
        let v = shown.count(&l.line());
        if v["text"] == "acks survived" {
            break;
        }
    }
    let (code, out, err) = l.terminate();
    assert_eq!(code, 0, "stderr tail: {:?}", err.last());
    for line in &out {
        shown.count(line);
    }
    assert!(!err.iter().any(|l| l.contains("panicked")), "{err:?}");
    let summary = summary(&err);
    // The one acknowledged Text with seq 2^64 - 1 is malformed (it could
    // never be confirmed); everything else decodes.
    assert_eq!(count_in(summary, "malformed"), 1, "{summary}");
    let markers = storm.len().div_ceil(BATCH) as u64;
    assert_eq!(count_in(summary, "raw"), markers, "{summary}");
}

#[test]
fn acknowledged_texts_at_the_end_of_the_sequence_space_cannot_stop_the_listener() {
    if !isolate("acknowledged_texts_at_the_end_of_the_sequence_space_cannot_stop_the_listener") {
        return;
    }
    let mut l = Listen::start(&["--json", "-v"]);
    let peer = udp("127.0.0.1:0");
    let acked = |sender: u64, seq: u64, base: u64| {
        let mut d = Vec::new();
        let text = Message::Text(Text {
            sender,
            seq,
            base,
            flags: FLAG_ACK,
            name: "edge",
            body: b"edge",
        });
        wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut d).expect("encode");
        d
    };
    const MAX: u64 = u64::MAX;
    // Every one of these is a well-formed Text (base <= seq), each on its
    // own sender: valid input a listener must survive.
    let storm = [
        // A new sender's first Text is the last possible one.
        ("sender 1: seq MAX, base MAX", acked(1, MAX, MAX)),
        // The last two, in order.
        (
            "sender 2: seq MAX-1, base MAX-1",
            acked(2, MAX - 1, MAX - 1),
        ),
        ("sender 2: seq MAX, base MAX-1", acked(2, MAX, MAX - 1)),
        // The last one held (the one before it missing), then the gap filled.
        (
            "sender 3: seq MAX-2, base MAX-2",
            acked(3, MAX - 2, MAX - 2),
        ),
        ("sender 3: seq MAX, base MAX-2", acked(3, MAX, MAX - 2)),
        (
            "sender 3: seq MAX-1, base MAX-2",
            acked(3, MAX - 1, MAX - 2),
        ),
        // Two senders each giving up nearly 2^64 Texts at once: the
        // listener's count of missing Texts must not overflow.
        ("sender 4: seq 0", acked(4, 0, 0)),
        (
            "sender 4: seq MAX-1, base MAX-1",
            acked(4, MAX - 1, MAX - 1),
        ),
        ("sender 5: seq 0", acked(5, 0, 0)),
        (
            "sender 5: seq MAX-1, base MAX-1",
            acked(5, MAX - 1, MAX - 1),
        ),
    ];
    // One at a time, each followed by a raw marker, so a listener that
    // dies is caught at the datagram that killed it.
    let mut shown = Shown::default();
    for (n, (what, d)) in storm.iter().enumerate() {
        peer.send_to(d, l.dest()).expect("send");
        let marker = format!("marker {n}");
        peer.send_to(marker.as_bytes(), l.dest())
            .expect("send marker");
        loop {
            let Some(line) = l.try_line(WAIT) else {
                let err: Vec<String> = l.err.try_iter().filter(|l| !l.is_empty()).take(3).collect();
                panic!("the listener stopped at {what}: {err:?}");
            };
            let v = shown.count(&line);
            if v["kind"] == "raw" && v["text"] == marker.as_str() {
                break;
            }
        }
    }
    l.assert_alive();
    send_ok(&[&l.dest(), "-n", "good-peer", "edges survived"], b""); // Whatever the listener answered is well-formed by the rules it
    // enforces itself (PROTOCOL.md 4.2: no held range ends at 2^64 - 1).
    peer.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = vec![0u8; 70_000];
    while let Ok(len) = peer.recv(&mut buf) {
        let reply = &buf[..len];
        assert!(
            matches!(wire::classify(reply), Ok(Datagram::Message(_))),
            "the listener sent a datagram it would reject itself: {:?} {reply:02x?}",
            wire::classify(reply)
        );
    }
    let (code, _, err) = l.terminate();
    assert!(!err.iter().any(|l| l.contains("panicked")), "{err:?}");
    assert_eq!(code, 0, "stderr tail: {:?}", err.last());
}

/// Sends raw datagrams to `port` from three threads as fast as they go,
/// until `stop` is set (or `3 * WAIT` at most, longer than a test waits for
/// the listener to end); returns how many were sent.
fn flood(port: u16, stop: &AtomicBool) -> u64 {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let peer = udp("127.0.0.1:0");
                    let end = Instant::now() + 3 * WAIT;
                    let mut sent = 0u64;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                        for _ in 0..64 {
                            if peer
                                .send_to(b"flood flood flood", ("127.0.0.1", port))
                                .is_ok()
                            {
                                sent += 1;
                            }
                        }
                    }
                    sent
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("flood thread"))
            .sum()
    })
}

/// Sets the flag when dropped, so a flood stops also when the test fails.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Lines shown before the listener is told to stop: proof that the flood
/// reached it.
const FLOOD_SHOWN: usize = 1000;

#[test]
fn a_flood_cannot_hold_off_timeout_or_sigint() {
    if !isolate("a_flood_cannot_hold_off_timeout_or_sigint") {
        return;
    }
    for how in ["--timeout", "SIGINT"] {
        let mut l = if how == "--timeout" {
            Listen::start(&["--bind", "127.0.0.1", "--timeout", "1s"])
        } else {
            Listen::start(&["--bind", "127.0.0.1"])
        };
        let stop = AtomicBool::new(false);
        let port = l.port();
        let (sent, (code, lines)) = std::thread::scope(|s| {
            let flooder = s.spawn(|| flood(port, &stop));
            let _stop = StopOnDrop(&stop);
            // The flood is on: the listener is showing it (or, with
            // --timeout, has already ended with what it showed).
            let mut lines = 0usize;
            while lines < FLOOD_SHOWN && l.out.recv_timeout(WAIT).is_ok() {
                lines += 1;
            }
            if how == "SIGINT" {
                l.signal(libc::SIGINT);
            }
            // A listener stuck reading the flood would run until the flood
            // ends, long after this deadline.
            let code = common::wait_until(&mut l.child, WAIT, "flooded listener");
            stop.store(true, Ordering::Relaxed);
            lines += rest_of(&l.out).len();
            (flooder.join().expect("flooder"), (code, lines))
        });
        eprintln!("{how}: flood of {sent} datagrams, {lines} lines shown");
        assert_eq!(code, 0, "{how}: exit code");
        assert!(
            lines >= FLOOD_SHOWN,
            "{how}: the flood reached the listener ({lines} lines)"
        );
    }
}

/// The labels docs/PROTOCOL.md section 5 gives (`` [`truncated`] ``), in
/// the order it first names them.
fn section_5_labels() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).expect("read docs/PROTOCOL.md");
    let section = doc
        .split("## 5. ")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a section 5");
    let mut labels = Vec::new();
    for piece in section.split("[`").skip(1) {
        let label = piece.split("`]").next().expect("a closing `]").to_string();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
}

#[test]
fn listen_v_reports_every_section_5_label_in_brackets() {
    if !isolate("listen_v_reports_every_section_5_label_in_brackets") {
        return;
    }
    let text = |name: &str, flags: u8| {
        common::encoded(&Message::Text(Text {
            sender: 1,
            seq: 0,
            base: 0,
            flags,
            name,
            body: b"x",
        }))
    };
    // Where the name "ab" and its 8-byte length prefix are.
    let plain = text("ab", 0);
    let name_at = plain.windows(2).position(|w| w == b"ab").expect("the name");
    let mut too_long = plain.clone();
    too_long[name_at - 8..name_at].copy_from_slice(&[0xff; 8]);
    let mut bad_utf8 = plain.clone();
    bad_utf8[name_at..name_at + 2].copy_from_slice(&[0xff, 0xfe]);
    let mut trailing = common::encoded(&Message::Ping(Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    }));
    trailing.push(0);
    let cases: [(&str, Vec<u8>); 8] = [
        ("truncated", b"UDPM\x02".to_vec()),
        ("unknown-version", b"UDPM\x09\x00".to_vec()),
        ("unknown-mode", b"UDPM\x02\x07".to_vec()),
        ("unknown-kind", b"UDPM\x02\x00\x63\x00\x00\x00".to_vec()),
        ("too-long", too_long),
        ("bad-utf8", bad_utf8),
        ("trailing-bytes", trailing),
        ("invalid", text("ab", 0x02)),
    ];
    let mut documented = section_5_labels();
    let mut ours: Vec<String> = cases.iter().map(|(l, _)| l.to_string()).collect();
    documented.sort();
    ours.sort();
    assert_eq!(
        ours, documented,
        "one case per label of PROTOCOL.md section 5"
    );

    let l = Listen::start(&["-v", "--bind", "127.0.0.1"]);
    let peer = udp("127.0.0.1:0");
    let from = peer.local_addr().expect("addr");
    for (label, datagram) in &cases {
        let decoded = wire::classify(datagram).map(|_| ()).map_err(|e| e.label());
        assert_eq!(decoded, Err(*label), "the case for {label}");
        peer.send_to(datagram, l.dest()).expect("send");
        let line = l
            .try_err_line(WAIT)
            .unwrap_or_else(|| panic!("no -v line for {label}"));
        assert!(
            line.starts_with(&format!("udpmsg: dropped malformed datagram from {from}: ")),
            "{line}"
        );
        assert!(line.ends_with(&format!(" [{label}]")), "{label}: {line}");
    }
}
