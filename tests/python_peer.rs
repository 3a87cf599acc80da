//! Interoperability with `tests/pypeer.py`, a Python peer written from
//! `docs/PROTOCOL.md` (version 2) alone: Texts both ways, acknowledged
//! Texts both ways (section 7: held ranges, `next`, `base`), and the two
//! decoders agreeing datagram for datagram. If the document is wrong or
//! incomplete, these fail. Skipped (loudly) when `python3` is missing.

mod common;
use common::*;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use udpmsg::wire::{self, Datagram, Message, Ping, Text};

/// The peer script, found from the crate root whatever the working directory.
const PYPEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pypeer.py");

/// True when `python3` runs; otherwise says loudly that `test` is skipped.
fn have_python(test: &str) -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        shout(&format!("*** SKIPPED {test}: python3 is not installed ***"));
    }
    ok
}

/// `python3 tests/pypeer.py args...`, UTF-8 whatever the locale.
fn pypeer(args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(PYPEER)
        .args(args)
        .env("PYTHONUTF8", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A child that is killed if the test ends early (a failed assertion).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = r.read_to_string(&mut text);
        text
    })
}

/// Runs pypeer to completion with `stdin`, killed (failing the test) at
/// the deadline.
fn run_pypeer(args: &[&str], stdin: &[u8]) -> Output {
    run_captured(pypeer(args), stdin, WAIT, &format!("pypeer {args:?}"))
}

#[test]
fn python_peer_text_reaches_udpmsg_listener() {
    if !have_python("python_peer_text_reaches_udpmsg_listener")
        || !isolate("python_peer_text_reaches_udpmsg_listener")
    {
        return;
    }
    let listener = Listener::start(&["--bind", "127.0.0.1", "--json", "--count", "1"]);
    let port = listener.port().to_string();
    let sent = run_pypeer(
        &[
            "send",
            "127.0.0.1",
            &port,
            "pyfriend",
            "héllo",
            "from",
            "python",
        ],
        b"",
    );
    assert_eq!(sent.code, 0, "pypeer send failed: {}", sent.stderr);

    let Some(line) = listener.try_line(WAIT) else {
        let (code, out, err) = listener.wait();
        panic!("listener showed nothing: exit {code}, stdout {out:?}, stderr {err:?}");
    };
    let json: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
    assert_eq!(json["kind"], "text", "{line}");
    assert_eq!(json["name"], "pyfriend", "{line}");
    assert_eq!(json["text"], "héllo from python", "{line}");
    assert_eq!(json["seq"], 0, "{line}");
    let sender = json["sender"].as_str().unwrap_or_default();
    assert_eq!(sender.len(), 16, "{line}");
    let (code, _, _) = listener.wait();
    assert_eq!(code, 0);
}

#[test]
fn python_announcements_reach_a_watcher() {
    if !have_python("python_announcements_reach_a_watcher")
        || !isolate("python_announcements_reach_a_watcher")
    {
        return;
    }
    // Only `lo` here: nothing to probe, so only announcements are heard.
    let mut watcher = Reaped(
        command(&["discover", "--watch", "--json", "--timeout", "30s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn udpmsg discover --watch"),
    );
    let out = line_reader(watcher.0.stdout.take().expect("stdout"), None);
    let err = line_reader(watcher.0.stderr.take().expect("stderr"), None);
    let ready = err.recv_timeout(WAIT).expect("the watcher's first line");
    assert!(
        ready.starts_with("udpmsg: watching for listeners on port 47474"),
        "{ready}"
    );

    let mut peer = Reaped(
        pypeer(&["announce", "127.0.0.1", "47474", "py é", "60000", "lab"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn python3"),
    );
    let lines = line_reader(peer.0.stdout.take().expect("stdout"), None);
    let instance = lines.recv_timeout(WAIT).expect("pypeer's instance");
    let json = |line: String| -> serde_json::Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let up = json(out.recv_timeout(WAIT).expect("an up line"));
    assert_eq!(up["kind"], "up", "{up}");
    assert_eq!(up["reason"], "hello", "{up}");
    assert_eq!(up["name"], "py é", "{up}");
    assert_eq!(up["instance"], instance.as_str(), "{up}");
    assert_eq!(up["addrs"], serde_json::json!(["127.0.0.1:47474"]), "{up}");
    assert_eq!(up["interface"], "lo", "{up}");
    assert_eq!(up["room"], "lab", "{up}");
    assert_eq!(up["version"], 2, "{up}");

    // Its stdin closes: it says goodbye.
    drop(peer.0.stdin.take());
    assert_eq!(wait_until(&mut peer.0, WAIT, "pypeer announce"), 0);
    let down = json(out.recv_timeout(WAIT).expect("a down line"));
    assert_eq!(down["kind"], "down", "{down}");
    assert_eq!(down["reason"], "goodbye", "{down}");
    assert_eq!(down["instance"], instance.as_str(), "{down}");
}

#[test]
fn udpmsg_text_reaches_python_peer() {
    if !have_python("udpmsg_text_reaches_python_peer")
        || !isolate("udpmsg_text_reaches_python_peer")
    {
        return;
    }
    let mut peer = Reaped(
        pypeer(&["listen", "127.0.0.1", "0"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn python3"),
    );
    let lines = line_reader(peer.0.stdout.take().expect("stdout"), None);
    let stderr = read_all(peer.0.stderr.take().expect("stderr"));
    let first = lines
        .recv_timeout(WAIT)
        .expect("pypeer did not report its address");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from pypeer: {first}"))
        .to_string();

    let sent = udpmsg(&["send", &addr, "--name", "rusty", "hello"], b"");
    assert_eq!(sent.code, 0, "udpmsg send failed: {}", sent.stderr);

    let got = lines.recv_timeout(WAIT);
    let code = wait_until(&mut peer.0, WAIT, "pypeer listen");
    let stderr = stderr.join().unwrap_or_default();
    assert_eq!(
        got.as_deref(),
        Ok("rusty: hello"),
        "pypeer stderr: {stderr}"
    );
    assert_eq!(code, 0, "pypeer stderr: {stderr}");
}

#[test]
fn python_acked_sender_sees_held_ranges_then_everything_confirmed() {
    if !have_python("python_acked_sender_sees_held_ranges_then_everything_confirmed")
        || !isolate("python_acked_sender_sees_held_ranges_then_everything_confirmed")
    {
        return;
    }
    let listener = Listener::start(&["--bind", "127.0.0.1", "--json", "--count", "3"]);
    let port = listener.port().to_string();
    // Texts 2, then 1, then 0, each once, each waiting for its Ack.
    let sent = run_pypeer(
        &[
            "send-acked",
            "127.0.0.1",
            &port,
            "pyacker",
            "one",
            "two",
            "three",
        ],
        b"",
    );
    assert_eq!(sent.code, 0, "pypeer send-acked failed: {}", sent.stderr);
    // PROTOCOL.md section 7: a sender it does not know starts at the Text's
    // base (0), so 2 and then 1 are held (listed in the ranges, `next`
    // still 0); 0 shows all three, and one Ack says so. One Ack per Text:
    // each came alone.
    let acks: Vec<&str> = sent.stdout.lines().collect();
    assert_eq!(
        acks,
        [
            "ack next=0 ranges=2-2",
            "ack next=0 ranges=1-2",
            "ack next=3 ranges="
        ],
        "pypeer stderr: {}",
        sent.stderr
    );
    for (seq, text) in ["one", "two", "three"].into_iter().enumerate() {
        let line = listener
            .try_line(WAIT)
            .unwrap_or_else(|| panic!("listener did not show {text}"));
        let json: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        assert_eq!(json["kind"], "text", "{line}");
        assert_eq!(json["text"], text, "{line}");
        assert_eq!(json["seq"], seq, "{line}");
        assert_eq!(json["name"], "pyacker", "{line}");
    }
    let (code, out, err) = listener.wait();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.is_empty(), "shown more than once: {out:?}");
}

#[test]
fn udpmsg_acked_send_reaches_python_listener_in_order() {
    if !have_python("udpmsg_acked_send_reaches_python_listener_in_order")
        || !isolate("udpmsg_acked_send_reaches_python_listener_in_order")
    {
        return;
    }
    let lines: Vec<String> = (0..40).map(|i| format!("line {i:02}")).collect();
    let mut peer = Reaped(
        pypeer(&[
            "listen-acked",
            "127.0.0.1",
            "0",
            &lines.len().to_string(),
            "20",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn python3"),
    );
    let out = line_reader(peer.0.stdout.take().expect("stdout"), None);
    let stderr = read_all(peer.0.stderr.take().expect("stderr"));
    let first = out
        .recv_timeout(WAIT)
        .expect("pypeer did not report its address");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from pypeer: {first}"))
        .to_string();

    // udpmsg sends base and seq, reads the Python Acks' `next` and ranges,
    // and exits 0 only once every line is confirmed.
    let stdin = format!("{}\n", lines.join("\n"));
    let sent = udpmsg(
        &["send", "--ack", &addr, "--name", "rusty", "-"],
        stdin.as_bytes(),
    );
    let code = wait_until(&mut peer.0, WAIT * 3, "pypeer listen-acked");
    let stderr = stderr.join().unwrap_or_default();
    assert_eq!(
        sent.code, 0,
        "udpmsg send --ack: {}; pypeer: {stderr}",
        sent.stderr
    );
    let shown = rest_of(&out);
    let want: Vec<String> = lines.iter().map(|l| format!("rusty: {l}")).collect();
    assert_eq!(shown, want, "pypeer stderr: {stderr}");
    assert_eq!(code, 0, "pypeer stderr: {stderr}");
}

#[test]
fn python_senders_sharing_a_socket_get_one_acks_datagram_when_they_ask() {
    let test = "python_senders_sharing_a_socket_get_one_acks_datagram_when_they_ask";
    if !have_python(test) || !isolate(test) {
        return;
    }
    let mut listener = Listener::start(&["--bind", "127.0.0.1", "--json"]);
    let port = listener.port().to_string();
    // PROTOCOL.md 4.11 and section 7: three senders on one socket send
    // Texts 0, 1 and 2 each while the listener is stopped, so it reads all
    // nine in one batch. With FLAG_BUNDLE one Acks answers all three; without,
    // each sender gets an Ack of its own.
    for (mode, want) in [
        ("bundle", vec!["acks 0:3 1:3 2:3"]),
        ("plain", vec!["ack 0:3", "ack 1:3", "ack 2:3"]),
    ] {
        listener.signal(libc::SIGSTOP);
        let mut peer = Reaped(
            pypeer(&[
                "send-many",
                "127.0.0.1",
                &port,
                "py",
                "3",
                mode,
                "a",
                "b",
                "c",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn python3"),
        );
        let lines = line_reader(peer.0.stdout.take().expect("stdout"), None);
        let stderr = read_all(peer.0.stderr.take().expect("stderr"));
        let first = lines.recv_timeout(WAIT);
        listener.signal(libc::SIGCONT);
        assert_eq!(first.as_deref(), Ok("sent 9"), "{mode}");
        let code = wait_until(&mut peer.0, WAIT, "pypeer send-many");
        let stderr = stderr.join().unwrap_or_default();
        assert_eq!(code, 0, "{mode}: pypeer stderr: {stderr}");
        // Entries and Acks in any order: sort the words of each line, then
        // the lines.
        let mut got: Vec<String> = lines
            .try_iter()
            .map(|line| {
                let mut words: Vec<&str> = line.split(' ').collect();
                words[1..].sort_unstable();
                words.join(" ")
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{mode}: pypeer stderr: {stderr}");
    }
    // Each sender's three, in order, once.
    let mut shown: std::collections::HashMap<u64, Vec<String>> = Default::default();
    for _ in 0..18 {
        let json = listener.json();
        let sender = u64::from_str_radix(json["sender"].as_str().unwrap_or(""), 16);
        let text = json["text"].as_str().unwrap_or("").to_string();
        shown
            .entry(sender.expect("sender in hex"))
            .or_default()
            .push(text);
    }
    assert_eq!(shown.len(), 6);
    assert!(
        shown.values().all(|texts| texts == &["a", "b", "c"]),
        "{shown:?}"
    );
    let (code, out, err) = listener.terminate();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.is_empty(), "shown more than once: {out:?}");
    // Four ack datagrams in all: one Acks, then three Acks.
    assert!(
        err.iter().any(|line| line.contains(", 4 acks sent")),
        "{err:?}"
    );
}

#[test]
fn the_python_peer_codec_is_section_10_of_the_document_unchanged() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    let section = &doc[doc
        .find("## 10. Python reference encoder and decoder")
        .expect("section 10")..];
    let code = section
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the reference code");
    let code = code
        .strip_prefix("import struct\n\n")
        .expect("the code starts with its import");
    let peer = std::fs::read_to_string(PYPEER).expect("read pypeer.py");
    assert!(
        peer.contains(code),
        "tests/pypeer.py does not hold section 10 of docs/PROTOCOL.md unchanged"
    );
}

// ---------------------------------------------------------------------------
// The Python decoder and `wire::classify` agree, datagram for datagram. No
// sockets: bytes go in as hex on stdin.

/// What `pypeer.py check` prints for a datagram, computed from `classify`:
/// the same verdict, down to the rejection label of PROTOCOL.md section 5.
fn verdict(bytes: &[u8]) -> String {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    match wire::classify(bytes) {
        Ok(Datagram::Raw(_)) => "raw".to_string(),
        Ok(Datagram::Sealed(rest)) => format!("sealed {}", rest.len()),
        Err(e) => format!("reject {}", e.label()),
        Ok(Datagram::Message(message)) => match message {
            Message::Text(t) => format!(
                "text sender={} seq={} base={} flags={} name={} body={}",
                t.sender,
                t.seq,
                t.base,
                t.flags,
                hex(t.name.as_bytes()),
                hex(t.body)
            ),
            Message::Ack(a) => format!(
                "ack instance={} sender={} next={} ranges={}",
                a.instance,
                a.sender,
                a.next,
                a.ranges()
                    .map(|(first, last)| format!("{first}-{last}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Message::Probe(p) => format!(
                "probe instance={} token={} pad={}",
                p.instance,
                p.token,
                hex(p.pad)
            ),
            Message::Answer(a) => format!(
                "answer instance={} token={} port={} version={} name={}",
                a.instance,
                a.token,
                a.port,
                a.version,
                hex(a.name.as_bytes())
            ),
            Message::Ping(p) => format!("ping sender={} seq={} stamp={}", p.sender, p.seq, p.stamp),
            Message::Pong(p) => format!("pong sender={} seq={} stamp={}", p.sender, p.seq, p.stamp),
            Message::Refuse(r) => format!(
                "refuse instance={} sender={} seq={} reason={}",
                r.instance, r.sender, r.seq, r.reason
            ),
            Message::Hello(h) => format!(
                "hello instance={} port={} version={} lifetime_ms={} name={} room={}",
                h.instance,
                h.port,
                h.version,
                h.lifetime_ms,
                hex(h.name.as_bytes()),
                hex(h.room.as_bytes())
            ),
            Message::Goodbye(g) => format!("goodbye instance={}", g.instance),
            Message::FileStatus(f) => format!(
                "file_status instance={} sender={} seq={} status={} detail={}",
                f.instance, f.sender, f.seq, f.status, f.detail
            ),
            Message::Acks(a) => format!(
                "acks instance={} entries={}",
                a.instance,
                a.acks()
                    .map(|e| format!(
                        "{}/{}/{}",
                        e.sender,
                        e.next,
                        e.ranges()
                            .map(|(first, last)| format!("{first}-{last}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ))
                    .collect::<Vec<_>>()
                    .join(";")
            ),
        },
    }
}

/// An Acks whose entries are these bytes, as they are.
fn acks_raw(entries: &[u8]) -> Vec<u8> {
    encoded(&Message::Acks(wire::Acks {
        instance: 0xfedc_ba98_7654_3210,
        entries,
    }))
}

/// The first 24 bytes of an entry: sender, next and a ranges length that
/// need not be what follows.
fn entry_head(sender: u64, next: u64, ranges_len: u64) -> Vec<u8> {
    [sender, next, ranges_len]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// One entry of an Acks: sender, next and the held ranges.
type Entry<'a> = (u64, u64, &'a [(u64, u64)]);

/// An Acks with these entries.
fn acks(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (sender, next, held) in entries {
        wire::put_acks_entry(*sender, *next, &ranges(held), &mut bytes);
    }
    encoded(&Message::Acks(wire::Acks {
        instance: 0xfedc_ba98_7654_3210,
        entries: &bytes,
    }))
}

/// Held ranges as an Ack carries them.
fn ranges(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::put_ack_ranges(pairs.iter().copied(), &mut out);
    out
}

/// An Ack with any ranges bytes (the encoder does not check them).
fn ack(next: u64, ranges: &[u8]) -> Vec<u8> {
    encoded(&Message::Ack(wire::Ack {
        instance: 0xfedc_ba98_7654_3210,
        sender: 9,
        next,
        ranges,
    }))
}

#[test]
fn python_decoder_agrees_with_classify() {
    if !have_python("python_decoder_agrees_with_classify") {
        return;
    }
    let ping = Ping {
        sender: 7,
        seq: 8,
        stamp: u64::MAX,
    };
    let text = |seq: u64, base: u64, flags: u8| {
        encoded(&Message::Text(Text {
            sender: 0x0123_4567_89ab_cdef,
            seq,
            base,
            flags,
            name: "ann é",
            body: b"hi\xff",
        }))
    };
    let valid = [
        text(1, 0, wire::FLAG_ACK),
        text(5, 5, 0),
        text(u64::MAX, u64::MAX, wire::FLAG_ACK),
        ack(4, &ranges(&[(6, 7)])),
        ack(0, &[]),
        ack(
            100,
            &ranges(
                &(0..32)
                    .map(|i| (102 + 3 * i, 103 + 3 * i))
                    .collect::<Vec<_>>(),
            ),
        ),
        ack(1, &ranges(&[(3, 3), (5, u64::MAX - 1)])),
        encoded(&Message::Probe(wire::Probe {
            instance: 3,
            token: 4,
            pad: &[0; 9],
        })),
        encoded(&Message::Answer(wire::Answer {
            instance: 5,
            token: 6,
            port: 47474,
            version: 2,
            name: "listener",
        })),
        encoded(&Message::Ping(ping)),
        encoded(&Message::Pong(ping)),
        encoded(&Message::Refuse(wire::Refuse {
            instance: 10,
            sender: 11,
            seq: 12,
            reason: wire::REFUSED_BUSY,
        })),
        encoded(&Message::Hello(wire::Hello {
            instance: 13,
            port: 47474,
            version: 2,
            lifetime_ms: 90_000,
            name: "ann é",
            room: "",
        })),
        encoded(&Message::Hello(wire::Hello {
            instance: u64::MAX,
            port: 1,
            version: 2,
            lifetime_ms: u32::MAX,
            name: "",
            room: "lab",
        })),
        encoded(&Message::Goodbye(wire::Goodbye { instance: 14 })),
        text(1, 0, wire::FLAG_ACK | wire::FLAG_BUNDLE),
        acks(&[
            (7, 4, &[(6, 7)][..]),
            (8, 0, &[]),
            (u64::MAX, 1, &[(3, 3), (5, 9)]),
        ]),
        acks(&[(9, 100, &[])]),
        acks(&(0..64).map(|s| (s, 0, &[][..])).collect::<Vec<_>>()),
        acks(&[(7, 4, &[(6, 7)][..]), (7, 4, &[(6, 7)][..])]),
        b"UDPM\x02\x01sealed".to_vec(),
        b"not udpmsg".to_vec(),
    ];
    // The malformations of version 2, each made on purpose (the random
    // damage below rarely builds bad ranges that are otherwise whole).
    let malformed = [
        text(5, 6, wire::FLAG_ACK),
        text(5, u64::MAX, 0),
        text(1, 0, 0x02),
        text(1, 0, wire::FLAG_BUNDLE),
        text(1, 0, 0x08 | wire::FLAG_ACK),
        acks(&[]),
        acks(&(0..65).map(|s| (s, 0, &[][..])).collect::<Vec<_>>()),
        acks(&[(7, 4, &[(4, 5)][..])]),
        acks(&[(
            7,
            0,
            &(0..33).map(|k| (2 + 2 * k, 2 + 2 * k)).collect::<Vec<_>>()[..],
        )]),
        acks_raw(&[&entry_head(7, 0, 8)[..], &[0; 8]].concat()),
        acks_raw(&[&entry_head(7, 0, 16)[..], &[0; 8]].concat()),
        acks_raw(&[&entry_head(7, 0, 0)[..], &[0; 23]].concat()),
        {
            let mut d = acks(&[(7, 4, &[(6, 7)][..]), (8, 0, &[])]);
            d.pop(); // the last entry cut short, the length prefix one too many
            d
        },
        ack(4, &[0; 8]),
        ack(4, &[ranges(&[(6, 7)]), vec![0]].concat()),
        ack(
            4,
            &ranges(&(0..33).map(|i| (6 + 2 * i, 6 + 2 * i)).collect::<Vec<_>>()),
        ),
        ack(4, &[ranges(&[(10, 11)]), ranges(&[(6, 7)])].concat()),
        ack(4, &ranges(&[(6, 7), (8, 9)])),
        ack(4, &ranges(&[(6, 9), (8, 10)])),
        ack(4, &ranges(&[(4, 5)])),
        ack(4, &ranges(&[(7, 6)])),
        ack(4, &ranges(&[(6, u64::MAX)])),
        ack(u64::MAX, &ranges(&[(6, 7)])),
        {
            let mut d = encoded(&Message::Ping(ping));
            d[6] = 0xc8; // a tag no kind has
            d
        },
        b"UDPM\x02\x00\xc8\x00\x00\x00".to_vec(),
        {
            let mut d = text(1, 0, wire::FLAG_ACK);
            d[4] = 1;
            d
        },
        b"UDPM\x01\x01sealed v1".to_vec(),
    ];
    let mut cases: Vec<Vec<u8>> = valid.iter().chain(&malformed).cloned().collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..4_000 {
        let mut bytes = valid[rng.below(valid.len())].clone();
        match rng.below(5) {
            0 => bytes.truncate(rng.below(bytes.len() + 1)),
            1 => {
                let bit = rng.below(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            2 => {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            3 if bytes.len() >= 14 => {
                // A small number over any 8 bytes after the header: seqs,
                // bases, nexts and range bounds that break their order.
                let at = 6 + rng.below(bytes.len() - 13);
                let small = rng.below(12) as u64;
                bytes[at..at + 8].copy_from_slice(&small.to_le_bytes());
            }
            _ => bytes.push(rng.next() as u8),
        }
        cases.push(bytes);
    }

    let input: String = cases
        .iter()
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    let out = run_pypeer(&["check"], input.as_bytes());
    assert_eq!(out.code, 0, "pypeer check failed: {}", out.stderr);
    let python: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(python.len(), cases.len(), "pypeer stderr: {}", out.stderr);
    let mut decoded = std::collections::BTreeMap::new();
    for (case, python) in cases.iter().zip(python) {
        let rust = verdict(case);
        assert_eq!(python, rust, "datagram {case:02x?}");
        let what = rust
            .split(' ')
            .take(if rust.starts_with("reject") { 2 } else { 1 });
        *decoded
            .entry(what.collect::<Vec<_>>().join(" "))
            .or_insert(0u32) += 1;
    }
    eprintln!("verdicts: {decoded:?}");
    // Every kind decoded and every label of section 5 reached, or the
    // comparison proves little.
    for verdict in [
        "text",
        "ack",
        "probe",
        "answer",
        "ping",
        "pong",
        "refuse",
        "hello",
        "goodbye",
        "sealed",
        "raw",
        "reject truncated",
        "reject too-long",
        "reject unknown-version",
        "reject unknown-mode",
        "reject unknown-kind",
        "reject bad-utf8",
        "reject trailing-bytes",
        "reject invalid",
    ] {
        assert!(
            decoded.get(verdict).is_some_and(|&n| n > 0),
            "no case came out as {verdict}: {decoded:?}"
        );
    }
    let accepted: u32 = decoded
        .iter()
        .filter(|(k, _)| !k.starts_with("reject"))
        .map(|(_, n)| n)
        .sum();
    assert!(accepted > 100, "only {accepted} datagrams decoded");
}
