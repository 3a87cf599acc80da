//! Presence on one host (a private namespace with only `lo`): a listener
//! never answers announcements, `discover --watch`'s lines (fields,
//! escaping, JSON, restarts, a closed pipe), and the options' limits. The
//! LAN behaviour is in `tests/presence_lan.rs`.

mod common;

use common::*;
use std::net::UdpSocket;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use udpmsg::wire::{self, Goodbye, Hello, Message, Ping};

/// A Hello for a listener on `port` (sent to `port + 1`).
fn hello(instance: u64, name: &str, room: &str, port: u16) -> Vec<u8> {
    encoded(&Message::Hello(Hello {
        instance,
        port,
        version: wire::VERSION,
        lifetime_ms: 60_000,
        name,
        room,
    }))
}

fn goodbye(instance: u64) -> Vec<u8> {
    encoded(&Message::Goodbye(Goodbye { instance }))
}

#[test]
fn a_listener_never_answers_announcements() {
    if !isolate("a_listener_never_answers_announcements") {
        return;
    }
    let mut listener = Listener::start(&["--bind", "127.0.0.1", "-v"]);
    let socket = udp("127.0.0.1:0");
    let to = listener.dest();
    for d in [hello(1, "h", "", listener.port()), goodbye(1)] {
        socket.send_to(&d, &to).expect("send");
    }
    // A ping after them: its pong is the first thing to come back.
    let ping = Ping {
        sender: 7,
        seq: 0,
        stamp: 0,
    };
    socket
        .send_to(&encoded(&Message::Ping(ping)), &to)
        .expect("send ping");
    let mut buf = [0u8; 2048];
    let (len, _) = socket.recv_from(&mut buf).expect("a pong");
    assert_eq!(
        wire::classify(&buf[..len]),
        Ok(wire::Datagram::Message(Message::Pong(ping)))
    );
    let (code, out, err) = listener.terminate();
    assert_eq!(code, 0);
    assert!(out.is_empty(), "nothing shown: {out:?}");
    // Taken as what they are (not malformed, not shown, not answered).
    let summary = err.last().expect("summary");
    assert!(summary.contains(" 0 malformed"), "{err:#?}");
    assert!(
        err.iter().all(|l| !l.starts_with("udpmsg: dropped")),
        "nothing refused: {err:#?}"
    );
}

/// `udpmsg discover --watch <args>` with stdout read line by line (closed
/// after `limit` lines), once it says it is watching.
fn watcher(args: &[&str], limit: Option<usize>) -> (Child, Receiver<String>, Receiver<String>) {
    let mut all = vec!["discover", "--watch", "--timeout", "30s"];
    all.extend_from_slice(args);
    let mut child = command(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn udpmsg discover --watch");
    let out = line_reader(child.stdout.take().expect("stdout"), limit);
    let err = line_reader(child.stderr.take().expect("stderr"), None);
    let first = err.recv_timeout(WAIT);
    if !first
        .as_deref()
        .is_ok_and(|l| l.starts_with("udpmsg: watching for listeners on port 47474"))
    {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the watcher did not start: {first:?}");
    }
    (child, out, err)
}

/// The `;`-separated fields of a text line, checked to be eight.
fn fields(line: &str) -> Vec<&str> {
    let f: Vec<&str> = line.split(';').collect();
    assert_eq!(f.len(), 8, "{line:?}");
    f
}

#[test]
fn watch_lines_are_fields_with_names_escaped_and_a_closed_pipe_ends_quietly() {
    if !isolate("watch_lines_are_fields_with_names_escaped_and_a_closed_pipe_ends_quietly") {
        return;
    }
    // Like `| head -n 3`: the reader leaves after three lines.
    let (mut child, out, err) = watcher(&[], Some(3));
    let from_1 = udp("127.0.0.1:0");
    let from_2 = udp("127.0.0.2:0");
    // A name with the field separator, a backslash, a line break and a
    // bidi override; and a room.
    from_1
        .send_to(
            &hello(0xab, "a;b\\c\nd\u{202e}", "r;1", 47474),
            "127.0.0.1:47475",
        )
        .expect("send");
    let up = out.recv_timeout(WAIT).expect("an up line");
    let f = fields(&up);
    assert_eq!(f[0], "+", "{up}");
    assert!(humantime::parse_rfc3339(f[1]).is_ok(), "{up}");
    assert_eq!(f[2], "hello");
    assert_eq!(f[3], "a\\x3bb\\x5cc\\nd\\u202e");
    assert_eq!(f[4], "00000000000000ab");
    assert_eq!(f[5], "127.0.0.1:47474");
    assert_eq!(f[6], "lo");
    assert_eq!(f[7], "r\\x3b1");
    // Heard from a second address: changed.
    from_2
        .send_to(
            &hello(0xab, "a;b\\c\nd\u{202e}", "r;1", 47474),
            "127.0.0.1:47475",
        )
        .expect("send");
    let changed = out.recv_timeout(WAIT).expect("a changed line");
    let f = fields(&changed);
    assert_eq!((f[0], f[2]), ("=", "addrs"), "{changed}");
    assert_eq!(f[5], "127.0.0.1:47474,127.0.0.2:47474");
    from_1
        .send_to(&goodbye(0xab), "127.0.0.1:47475")
        .expect("send");
    let down = out.recv_timeout(WAIT).expect("a down line");
    let f = fields(&down);
    assert_eq!(
        (f[0], f[2], f[4]),
        ("-", "goodbye", "00000000000000ab"),
        "{down}"
    );

    // The reader is gone: the next line ends the watcher, quietly.
    from_1
        .send_to(&hello(0xcd, "late", "", 47474), "127.0.0.1:47475")
        .expect("send");
    let code = wait_until(&mut child, WAIT, "watcher after its reader left");
    assert_eq!(code, 0);
    let err = rest_of(&err);
    assert!(err.is_empty(), "{err:#?}");
}

#[test]
fn watch_json_names_a_restarted_listeners_previous_instance() {
    if !isolate("watch_json_names_a_restarted_listeners_previous_instance") {
        return;
    }
    let (mut child, out, err) = watcher(&["--json"], None);
    let socket = udp("127.0.0.1:0");
    let json = |line: String| -> serde_json::Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    socket
        .send_to(&hello(1, "ann", "", 47474), "127.0.0.1:47475")
        .expect("send");
    let up = json(out.recv_timeout(WAIT).expect("up"));
    assert_eq!(up["kind"], "up");
    assert!(up.get("room").is_none(), "no room, no field: {up}");
    assert!(up.get("previous").is_none(), "{up}");
    // A hello without a port says nowhere to find its listener.
    socket
        .send_to(&hello(3, "other", "", 0), "127.0.0.1:47475")
        .expect("send");
    // A new instance at ann's address, port and name: restarted.
    socket
        .send_to(&hello(2, "ann", "", 47474), "127.0.0.1:47475")
        .expect("send");
    let restarted = json(out.recv_timeout(WAIT).expect("changed"));
    assert_eq!(restarted["kind"], "changed", "{restarted}");
    assert_eq!(restarted["reason"], "restarted", "{restarted}");
    assert_eq!(restarted["instance"], "0000000000000002", "{restarted}");
    assert_eq!(restarted["previous"], "0000000000000001", "{restarted}");
    assert_eq!(restarted["addrs"], serde_json::json!(["127.0.0.1:47474"]));
    let keys: Vec<&String> = restarted.as_object().expect("object").keys().collect();
    for key in [
        "ts",
        "kind",
        "reason",
        "name",
        "instance",
        "addrs",
        "interface",
    ] {
        assert!(keys.iter().any(|k| *k == key), "no {key}: {restarted}");
    }
    // A hello to this port's presence port with a port of its own (a chat
    // member whose host has the port taken): a listener there.
    socket
        .send_to(&hello(4, "second", "", 40123), "127.0.0.1:47475")
        .expect("send");
    let up = json(out.recv_timeout(WAIT).expect("up"));
    assert_eq!(up["kind"], "up", "{up}");
    assert_eq!(up["addrs"], serde_json::json!(["127.0.0.1:40123"]), "{up}");
    // SIGTERM: exit 0 with the summary.
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    assert_eq!(wait_until(&mut child, WAIT, "watcher"), 0);
    let summary = rest_of(&err);
    let summary = summary.last().expect("summary");
    assert!(summary.contains("2 listeners up at the end"), "{summary}");
    assert!(
        summary.contains("1 ignored"),
        "the hello without a port: {summary}"
    );
    let rest = rest_of(&out);
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn presence_options_are_checked() {
    if !isolate("presence_options_are_checked") {
        return;
    }
    let usage = |args: &[&str], says: &str| {
        let out = udpmsg_within(args, b"", WAIT);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    };
    usage(
        &["listen", "--announce", "--bind", "127.0.0.1"],
        "--announce needs a listener on every address",
    );
    usage(
        &["listen", "--announce", "--announce-every", "10ms"],
        "--announce-every must be between 100ms and 20m",
    );
    usage(
        &["listen", "--announce", "--port", "65535"],
        "port 65535 has none",
    );
    usage(&["listen", "--announce-every", "1s"], "--announce");
    usage(
        &["discover", "--watch", "--expect", "1"],
        "cannot be used with",
    );
    usage(&["discover", "--interval", "1s"], "--watch");
    usage(
        &["discover", "--watch", "--interval", "10ms"],
        "--interval must be at least 100ms",
    );
    usage(&["discover", "--watch", "--port", "65535"], "no next port");
    // A watcher whose presence port is held by a listener (without
    // sharing) still runs, tracked by probes, and says so.
    let _holder = UdpSocket::bind("0.0.0.0:47475").expect("hold the presence port");
    let out = udpmsg_within(&["discover", "--watch", "--timeout", "200ms"], b"", WAIT);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("warning: cannot bind 0.0.0.0:47475"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_numbers_the_readme_quotes_are_the_code_constants() {
    use udpmsg::commands::listen::announce::{
        self, BURST_GAP, DEFAULT_EVERY, GOODBYES, JITTER, LIFETIME_PERIODS, MAX_EVERY, MIN_EVERY,
    };
    use udpmsg::commands::presence::{HELLOS_PER_SOURCE, HELLOS_TOTAL, IFACE_POLL};
    use udpmsg::commands::watch::table::{
        ADDR_WINDOWS, MAX_ADDRS, MAX_PEERS, PROBE_WINDOW_INTERVALS, REFRESH_AT, SETTLE,
    };
    use udpmsg::commands::watch::{DEFAULT_INTERVAL, JITTER as PROBE_JITTER, MIN_REFRESH_GAP};
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let word = |n: u32| match n {
        2 => "twice".to_string(),
        3 => "three".to_string(),
        n => n.to_string(),
    };
    let pct = |f: f64| format!("{}%", (f * 100.0).round());
    // The start burst, from the schedule itself.
    let second = announce::gap_after(1, DEFAULT_EVERY, 0.0);
    let third = second + announce::gap_after(2, DEFAULT_EVERY, 0.0);
    assert_eq!(second, BURST_GAP);
    assert_eq!(IFACE_POLL, std::time::Duration::from_secs(1));
    for phrase in [
        format!(
            "The line comes {} ms after the first datagram",
            SETTLE.as_millis()
        ),
        format!(
            "the lifetime its hellos gave ({LIFETIME_PERIODS} announcement periods), or for \
             {PROBE_WINDOW_INTERVALS} probe intervals"
        ),
        format!("has not been heard for {} that time", word(ADDR_WINDOWS)),
        format!(
            "every `--interval` (default {} s, up to {} shorter at random)",
            DEFAULT_INTERVAL.as_secs(),
            pct(PROBE_JITTER)
        ),
        format!(
            "not been heard for {}% of its time, it probes again at once, and at {}, {} and {}%",
            REFRESH_AT[0], REFRESH_AT[1], REFRESH_AT[2], REFRESH_AT[3]
        ),
        format!(
            "three times at start (at 0, {} and {} ms)",
            second.as_millis(),
            third.as_millis()
        ),
        format!(
            "every `--announce-every` (default {} s, {} ms to {} min, up to {} shorter at random)",
            DEFAULT_EVERY.as_secs(),
            MIN_EVERY.as_millis(),
            MAX_EVERY.as_secs() / 60,
            pct(JITTER)
        ),
        "(it looks once a second)".to_string(),
        format!("a goodbye, {}, on a clean exit", word(GOODBYES)),
        format!(
            "at most {HELLOS_PER_SOURCE} hellos and goodbyes a second from one source address \
             and {HELLOS_TOTAL} in all, tracks at most {MAX_PEERS} listeners"
        ),
        format!("with at most {MAX_ADDRS} addresses each"),
    ] {
        assert!(readme.contains(&phrase), "README.md does not say: {phrase}");
    }
    let decisions =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DECISIONS.md"))
            .expect("read docs/DECISIONS.md");
    let decisions = decisions.split_whitespace().collect::<Vec<_>>().join(" ");
    for phrase in [
        format!(
            "silent for {}, {}, {} and {}% of its time (rounds at least {} ms apart",
            REFRESH_AT[0],
            REFRESH_AT[1],
            REFRESH_AT[2],
            REFRESH_AT[3],
            MIN_REFRESH_GAP.as_millis()
        ),
        format!("after {} its time, not once", word(ADDR_WINDOWS)),
        format!("A newcomer's `up` waits {} ms", SETTLE.as_millis()),
        format!("({PROBE_WINDOW_INTERVALS} intervals) would be given up"),
        "(`getifaddrs`, through if-addrs) once a second".to_string(),
    ] {
        assert!(
            decisions.contains(&phrase),
            "DECISIONS.md does not say: {phrase}"
        );
    }
}

#[test]
fn an_announcing_listener_warns_once_of_a_random_port_and_no_interface() {
    if !isolate("an_announcing_listener_warns_once_of_a_random_port_and_no_interface") {
        return;
    }
    // Only lo is up (left out unless named) and the port is picked at
    // random: each said once, after the listening line.
    let mut l = Listener::start(&["--announce", "--announce-every", "100ms"]);
    let port = l.port();
    let warnings = [
        format!(
            "udpmsg: warning: --announce on a port picked at random (-p 0): hellos go to port {}, which only 'discover --watch -p {port}' hears",
            port + 1
        ),
        "udpmsg: warning: --announce: no interface to announce on now (loopback only with --interface lo); hellos go out once one is up".to_string(),
    ];
    for want in &warnings {
        assert_eq!(l.try_err_line(WAIT).as_ref(), Some(want));
    }
    // Not again at the next periods: only the summary is left.
    let _ = udpmsg(&["ping", &l.dest(), "-c", "3", "-i", "100ms"], b"");
    let (code, _, err) = l.terminate();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].starts_with("udpmsg listen: terminated: "), "{err:?}");

    // A port of its own and lo named: nothing to warn of, and the line says
    // the interface and where files go.
    let dir = std::env::temp_dir();
    let dir = dir.to_str().expect("utf-8 temp dir");
    let run = udpmsg(
        &[
            "listen",
            "--announce",
            "-n",
            "here",
            "-p",
            "47474",
            "-I",
            "lo",
            "--save-dir",
            dir,
            "-t",
            "300ms",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "udpmsg: listening on [::]:47474 and 0.0.0.0:47474 as 'here', on lo only, saving files in {dir}"
        )
    );
}
