//! Interoperability with `tests/pypeer.py`, a Python peer written from
//! `docs/PROTOCOL.md` alone: if the document is wrong or incomplete, these
//! fail. Skipped (loudly) when `python3` is missing.

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
                "text sender={} seq={} flags={} name={} body={}",
                t.sender,
                t.seq,
                t.flags,
                hex(t.name.as_bytes()),
                hex(t.body)
            ),
            Message::Ack(a) => format!("ack sender={} seq={}", a.sender, a.seq),
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
        },
    }
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
    let valid = [
        encoded(&Message::Text(Text {
            sender: 0x0123_4567_89ab_cdef,
            seq: 1,
            base: 0,
            flags: wire::FLAG_ACK,
            name: "ann é",
            body: b"hi\xff",
        })),
        encoded(&Message::Ack(wire::Ack { sender: 1, seq: 2 })),
        encoded(&Message::Probe(wire::Probe {
            instance: 3,
            token: 4,
            pad: &[0; 9],
        })),
        encoded(&Message::Answer(wire::Answer {
            instance: 5,
            token: 6,
            port: 47474,
            version: 1,
            name: "listener",
        })),
        encoded(&Message::Ping(ping)),
        encoded(&Message::Pong(ping)),
        b"UDPM\x01\x01sealed".to_vec(),
        b"not udpmsg".to_vec(),
    ];
    let mut cases: Vec<Vec<u8>> = valid.to_vec();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..3_000 {
        let mut bytes = valid[rng.below(valid.len())].clone();
        match rng.below(4) {
            0 => bytes.truncate(rng.below(bytes.len() + 1)),
            1 => {
                let bit = rng.below(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            2 => {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
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
    let mut decoded = 0;
    for (case, python) in cases.iter().zip(python) {
        let rust = verdict(case);
        assert_eq!(python, rust, "datagram {case:02x?}");
        if !rust.starts_with("reject") {
            decoded += 1;
        }
    }
    assert!(decoded > 100, "only {decoded} datagrams decoded");
}
