//! Hostile peers on a namespace LAN (`tests/common/lan.rs`), issue #12: a
//! ping flood cannot make a listener reflect more than its pong rate limit,
//! and nothing a peer chooses (names, texts, raw bytes) reaches a terminal
//! with the characters that drive it, reorder a line or break one — in
//! `listen`'s text and JSON output, `discover`'s table, JSON and `-v` trace.
//!
//! Every LAN test has its own tag (`hl1_`, `hl2_`; none a prefix of
//! another); sockets a test opens itself are created inside a host
//! (`Lan::enter`). The loopback test runs in a private namespace
//! (`common::isolate`).

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{BIN, Listener, WAIT, encoded, isolate, wait_for};
use lan::Lan;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;
use udpmsg::commands::listen::handler::{PONGS_PER_SOURCE, PONGS_TOTAL};
use udpmsg::wire::{self, Datagram, Message, Ping, Text};

/// The port the listeners of these tests use.
const PORT: u16 = 47474;

/// Starts `udpmsg listen <args>` in host `k` (ended by itself after a
/// minute should a test leak it), stdout and stderr read line by line.
fn listen_in(lan: &Lan, k: usize, args: &[&str]) -> Listener {
    let mut cmd = lan.cmd(k, BIN);
    cmd.args(["listen", "--timeout", "60s"])
        .args(args)
        .env_remove("UDPMSG_PORT")
        .env_remove("UDPMSG_NAME")
        .env_remove("UDPMSG_KEY_FILE");
    Listener::spawn_cmd(cmd, None, false, &format!("listen {args:?} in host {k}"))
}

/// `N <what>` from a listener's summary line (0 when not mentioned).
fn summary_count(lines: &[String], what: &str) -> u64 {
    let summary = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("udpmsg listen:"))
        .unwrap_or_else(|| panic!("no summary in {lines:#?}"));
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

fn ping(sender: u64, seq: u64) -> Vec<u8> {
    encoded(&Message::Ping(Ping {
        sender,
        seq,
        stamp: 0,
    }))
}

/// Pongs for `sender` waiting on `socket` (non-blocking), counted.
fn count_pongs(socket: &UdpSocket, sender: u64) -> u64 {
    let mut buf = [0u8; 256];
    let mut n = 0;
    while let Ok(len) = socket.recv(&mut buf) {
        if let Ok(Datagram::Message(Message::Pong(p))) = wire::classify(&buf[..len])
            && p.sender == sender
        {
            n += 1;
        }
    }
    n
}

#[test]
fn pongs_to_one_source_are_rate_limited() {
    let Some(lan) = Lan::up("hl1_", 3, &[]) else {
        return;
    };
    let mut listener = listen_in(&lan, 2, &["--port", &PORT.to_string()]);
    let to = SocketAddr::from((Ipv4Addr::new(10, 77, 0, 2), PORT));
    let flood = lan
        .enter(1, || UdpSocket::bind("10.77.0.1:0"))
        .expect("bind in host 1");
    // Room for every pong the listener could send, so none is lost here.
    let room: libc::c_int = 64 << 20;
    // SAFETY: setsockopt on a live socket with a c_int of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            flood.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&room as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());

    // Five bursts' worth of pings, as fast as they go, from one source.
    let sender = udpmsg::util::rng::random_id();
    let pings = 5 * u64::from(PONGS_PER_SOURCE);
    let start = Instant::now();
    for seq in 0..pings {
        flood.send_to(&ping(sender, seq), to).expect("send ping");
    }
    // Another host's ping, answered after the flood was handled: from its
    // own bucket, and it marks the end of the window the limit applied to.
    let marker = lan
        .enter(3, || UdpSocket::bind("10.77.0.3:0"))
        .expect("bind in host 3");
    marker.set_read_timeout(Some(WAIT)).expect("timeout");
    marker.send_to(&ping(sender ^ 1, 0), to).expect("send");
    let mut buf = [0u8; 256];
    let len = marker.recv(&mut buf).expect("host 3 gets its pong");
    assert!(matches!(
        wire::classify(&buf[..len]),
        Ok(Datagram::Message(Message::Pong(_)))
    ));
    let elapsed = start.elapsed().as_secs_f64();

    let (_, _, err) = listener.terminate();
    let answered = summary_count(&err, "pings answered");
    let ignored = summary_count(&err, "pings ignored");
    assert_eq!(
        answered + ignored,
        pings + 1,
        "every ping was counted: {err:#?}"
    );
    flood.set_nonblocking(true).expect("nonblocking");
    let mut heard = 0;
    wait_for(WAIT, "the pongs the listener sent", || {
        heard += count_pongs(&flood, sender);
        (heard + 1 >= answered).then_some(())
    });
    assert_eq!(heard + 1, answered, "{err:#?}");

    let rate = f64::from(PONGS_PER_SOURCE);
    let bound = rate + rate * elapsed + 2.0;
    assert!(
        (heard as f64) <= bound,
        "{heard} pongs to {pings} pings in {elapsed:.3} s: more than burst {rate} + {rate}/s"
    );
    assert!(
        heard >= u64::from(PONGS_PER_SOURCE),
        "{heard} pongs: the first burst of {PONGS_PER_SOURCE} is answered"
    );
}

#[test]
fn flood_ping_from_this_host_is_not_limited() {
    if !isolate("flood_ping_from_this_host_is_not_limited") {
        return;
    }
    let mut listener = Listener::start(&[]);
    // More than any limit would let through at once.
    let count = 2 * PONGS_TOTAL.max(PONGS_PER_SOURCE);
    let run = common::udpmsg(
        &[
            "ping",
            &listener.dest(),
            "--interval",
            "0",
            "-c",
            &count.to_string(),
            "--json",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last = run.stdout.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(summary["sent"], count, "{last}");
    assert_eq!(summary["received"], count, "{last}");
    let (_, _, err) = listener.terminate();
    assert_eq!(summary_count(&err, "pings answered"), u64::from(count));
    assert_eq!(summary_count(&err, "pings ignored"), 0);
}

// ---------------------------------------------------------------------------
// What a peer chooses cannot drive, reorder or break a terminal line.

/// Every character a peer must not get onto a terminal raw: C0 (NUL
/// included), DEL, C1, the bidi embeddings, overrides and isolates, and the
/// line and paragraph separators (issue #12).
fn forbidden() -> Vec<char> {
    let mut all: Vec<char> = (0u32..0x20)
        .chain(0x7f..=0x9f)
        .filter_map(char::from_u32)
        .collect();
    all.extend(['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}']);
    all.extend([
        '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
    ]);
    all
}

/// Asserts no line of `lines` holds a forbidden character raw (a text line
/// may keep a tab), naming `what`.
fn assert_clean(lines: &[String], what: &str) {
    for line in lines {
        let bad: Vec<char> = line
            .chars()
            .filter(|c| *c != '\t' && forbidden().contains(c))
            .collect();
        assert!(bad.is_empty(), "{what}: raw {bad:?} in {line:?}");
    }
}

#[test]
fn peer_chosen_characters_never_reach_the_terminal_raw() {
    let Some(lan) = Lan::up("hl2_", 2, &[]) else {
        return;
    };
    // Each forbidden character between two others. A listener's own name
    // (an argument, at most 255 bytes) takes them bare and without NUL.
    let evil: String = forbidden().iter().flat_map(|&c| ['<', c, '>']).collect();
    let evil_name: String = forbidden().into_iter().filter(|&c| c != '\0').collect();
    let text_port = PORT.to_string();
    let json_port = (PORT + 1).to_string();
    let mut text = listen_in(&lan, 2, &["--port", &text_port, "--count", "2"]);
    let mut json = listen_in(&lan, 2, &["--port", &json_port, "--json", "--count", "2"]);

    // A text message with the characters in its name and body, and a raw
    // datagram of them, to each listener.
    let socket = lan
        .enter(1, || UdpSocket::bind("10.77.0.1:0"))
        .expect("bind in host 1");
    let message = encoded(&Message::Text(Text {
        sender: 7,
        seq: 0,
        base: 0,
        flags: 0,
        name: &evil,
        body: evil.as_bytes(),
    }));
    for port in [PORT, PORT + 1] {
        let to = SocketAddr::from((Ipv4Addr::new(10, 77, 0, 2), port));
        socket.send_to(&message, to).expect("send text");
        socket.send_to(evil.as_bytes(), to).expect("send raw");
    }
    let (code, text_lines, _) = text.finish_lines();
    assert_eq!(code, 0);
    assert_eq!(text_lines.len(), 2, "{text_lines:#?}");
    assert_clean(&text_lines, "listen text output");
    assert!(
        text_lines
            .iter()
            .all(|l| l.contains("\\u202e") && l.contains("\\u2028")),
        "escaped, not dropped: {text_lines:#?}"
    );
    let (code, json_lines, _) = json.finish_lines();
    assert_eq!(code, 0);
    assert_eq!(json_lines.len(), 2, "{json_lines:#?}");
    assert_clean(&json_lines, "listen JSON output");
    for line in &json_lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(
            value["text"],
            evil.as_str(),
            "the escapes mean the same text"
        );
        assert!(
            line.contains("\\u202e") && line.contains("\\u0085"),
            "{line}"
        );
    }

    // The listener answers discovery with that name: the table, the -v
    // trace and the JSON of `discover` show it escaped.
    let mut found = Listener::spawn_cmd(
        {
            let mut c = lan.cmd(2, BIN);
            c.args(["listen", "--timeout", "60s", "--name", &evil_name]);
            c
        },
        None,
        false,
        "named listener",
    );
    for args in [
        &["discover", "-v", "--expect", "1", "--timeout", "5s"][..],
        &["discover", "--json", "--expect", "1", "--timeout", "5s"][..],
    ] {
        let mut cmd = lan.cmd(1, BIN);
        cmd.args(args);
        let run = common::run_captured(cmd, b"", WAIT, &format!("{args:?}"));
        assert_eq!(run.code, 0, "{run:?}");
        let stdout: Vec<String> = run.stdout.lines().map(String::from).collect();
        let stderr: Vec<String> = run.stderr.lines().map(String::from).collect();
        assert_clean(&stdout, &format!("{args:?} stdout"));
        assert_clean(&stderr, &format!("{args:?} stderr"));
        if args.contains(&"-v") {
            assert!(
                stderr
                    .iter()
                    .any(|l| l.contains("answer from") && l.contains("\\u202e")),
                "the -v trace names the peer, escaped: {stderr:#?}"
            );
        }
        assert!(
            stdout.iter().any(|l| l.contains("202e")),
            "{args:?} shows the peer, escaped: {stdout:#?}"
        );
    }
    found.assert_alive();
}
