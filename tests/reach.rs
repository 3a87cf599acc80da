//! Reach (issue #14) on one host, with real programs on both ends: `send
//! --wait` asking socat and nc and showing udpmsg and raw replies (with and
//! without a key, text and JSON); `listen --echo` answering socat, nc and
//! udpmsg, and two echo servers that stop a bouncing datagram; `-4`/`-6`
//! for names and binding; `--from`; `--interface` refused when unknown.
//! Every test runs in a private network namespace (`common::isolate`);
//! multicast groups, interfaces and `@name` are in `reach_lan.rs`.

mod common;

use common::{
    BIN, Listener, Output, WAIT, command, isolate, line_reader, run_captured, run_ok, udp, udpmsg,
    udpmsg_within, wait_for, wait_until,
};
use common::{Dir, Running};
use serde_json::Value;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Instant;
use udpmsg::commands::listen::echo::BOUNCE_WINDOW;

// ---------------------------------------------------------------- helpers

fn assert_ok(run: &Output, what: &str) {
    assert_eq!(run.code, 0, "{what}: exit {}: {}", run.code, run.stderr);
}

/// Waits until some socket is bound to UDP `port` on 127.0.0.1.
fn wait_bound(port: u16) {
    wait_for(WAIT, "socket bound", || {
        let out = run_ok("ss", &["-Hnul", &format!("sport = :{port}")]);
        out.contains(&format!(":{port}")).then_some(())
    });
}

/// A socat UDP echo service on 127.0.0.1:`port`, as its manual writes it:
/// every datagram to `cat` and back (children end after a second idle).
fn socat_echo(port: u16) -> Running {
    let mut cmd = Command::new("socat");
    cmd.args([
        "-T",
        "1",
        &format!("UDP4-RECVFROM:{port},bind=127.0.0.1,fork"),
        "EXEC:cat",
    ]);
    let socat = Running::spawn(cmd, "socat (scripts/test.sh installs it)");
    wait_bound(port);
    socat
}

/// A free UDP port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    udp("127.0.0.1:0").local_addr().expect("addr").port()
}

// ---------------------------------------------------------------- send --wait

#[test]
fn send_wait_prints_what_socat_echoes_in_listen_formats() {
    if !isolate("send_wait_prints_what_socat_echoes_in_listen_formats") {
        return;
    }
    let port = free_port();
    let _socat = socat_echo(port);
    let dest = format!("127.0.0.1:{port}");

    let run = udpmsg(
        &["send", "--raw", &dest, "hello", "--wait", "5s", "-c", "1"],
        b"",
    );
    assert_ok(&run, "send --raw --wait");
    assert!(
        run.stdout
            .trim_end()
            .ends_with(&format!("{dest} [raw]: hello")),
        "{}",
        run.stdout
    );

    let run = udpmsg(
        &[
            "send",
            "--raw",
            "--hex",
            &dest,
            "de ad 00 ff",
            "--wait",
            "5s",
            "-c",
            "1",
            "--json",
        ],
        b"",
    );
    assert_ok(&run, "send --raw --hex --wait --json");
    let line: Value = serde_json::from_str(run.stdout.trim_end()).expect("one JSON line");
    assert_eq!(line["kind"], "raw");
    assert_eq!(line["from"], dest.as_str());
    assert_eq!(line["hex"], "dead00ff");
    assert!(line["name"].is_null());
    assert!(line["ts"].as_str().is_some_and(|t| t.ends_with('Z')));

    // A udpmsg text goes through cat unchanged: it comes back as a text.
    let run = udpmsg(
        &[
            "send", &dest, "-n", "me", "as text", "--wait", "5s", "-c", "1", "--json",
        ],
        b"",
    );
    assert_ok(&run, "send --wait (udpmsg)");
    let line: Value = serde_json::from_str(run.stdout.trim_end()).expect("one JSON line");
    assert_eq!(line["kind"], "text");
    assert_eq!(line["name"], "me");
    assert_eq!(line["text"], "as text");
}

#[test]
fn send_wait_count_ends_after_n_replies() {
    if !isolate("send_wait_count_ends_after_n_replies") {
        return;
    }
    let port = free_port();
    let _socat = socat_echo(port);
    let dest = format!("127.0.0.1:{port}");
    // Three datagrams, three echoes; --count 2 ends the run long before
    // the minute of --wait (the run itself is bounded by the test's wait).
    let run = udpmsg(
        &[
            "send", "--raw", "--lines", &dest, "--wait", "60s", "--count", "2",
        ],
        b"a\nb\nc\n",
    );
    assert_ok(&run, "--count 2");
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
}

#[test]
fn send_wait_asks_nc_and_prints_its_answer() {
    if !isolate("send_wait_asks_nc_and_prints_its_answer") {
        return;
    }
    let port = free_port();
    let mut nc = Running::spawn(
        {
            let mut c = Command::new("nc");
            c.args(["-u", "-l", "127.0.0.1", &port.to_string()]);
            c
        },
        "nc (scripts/test.sh installs it)",
    );
    wait_bound(port);
    let asker = Running::udpmsg(&[
        "send",
        "--raw",
        &format!("127.0.0.1:{port}"),
        "question\n",
        "--wait",
        "30s",
        "--count",
        "1",
    ]);
    assert_eq!(nc.line(), "question");
    nc.write(b"answer\n");
    let line = asker.line();
    assert!(
        line.ends_with(&format!("127.0.0.1:{port} [raw]: answer\\n")),
        "{line}"
    );
    let (code, _, err) = asker.finish();
    assert_eq!(code, 0, "{err:?}");
}

/// `send --wait` to a listener, answered by `udpmsg send` to the address
/// the listener saw the question come from; a raw datagram sent there
/// before the answer is shown without a key and refused with one.
fn udpmsg_answers(key: Option<&str>) {
    let keyed: Vec<&str> = key.map_or(vec![], |k| vec!["-k", k]);
    let mut listen_args = vec!["--json"];
    listen_args.extend(&keyed);
    let listener = Listener::start(&listen_args);
    let count = if key.is_some() { "1" } else { "2" };
    let mut ask = vec!["send", "--wait", "30s", "--count", count, "--json"];
    ask.extend(&keyed);
    let dest = listener.dest();
    ask.extend([dest.as_str(), "question"]);
    let asker = Running::udpmsg(&ask);
    let question = listener.json();
    assert_eq!(question["text"], "question");
    let asker_addr = question["from"].as_str().expect("from").to_string();

    let noise = udp("127.0.0.1:0");
    noise.send_to(b"noise", &asker_addr).expect("send noise");
    let mut answer = vec!["send", "-n", "server"];
    answer.extend(&keyed);
    answer.extend([asker_addr.as_str(), "the answer"]);
    assert_ok(&udpmsg(&answer, b""), "answer");

    if key.is_none() {
        let raw = asker.json();
        assert_eq!(raw["kind"], "raw");
        assert_eq!(raw["text"], "noise");
    }
    let text = asker.json();
    assert_eq!(text["kind"], "text", "{text}");
    assert_eq!(text["name"], "server");
    assert_eq!(text["text"], "the answer");
    let (code, out, err) = asker.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn send_wait_shows_udpmsg_replies_without_a_key() {
    if !isolate("send_wait_shows_udpmsg_replies_without_a_key") {
        return;
    }
    udpmsg_answers(None);
}

#[test]
fn send_wait_with_a_key_shows_only_sealed_replies() {
    if !isolate("send_wait_with_a_key_shows_only_sealed_replies") {
        return;
    }
    let dir = Dir::new("wait-key");
    udpmsg_answers(Some(&dir.key()));
}

#[test]
fn send_wait_without_enough_replies_exits_4() {
    if !isolate("send_wait_without_enough_replies_exits_4") {
        return;
    }
    // Something receives, nothing answers.
    let silent = udp("127.0.0.1:0");
    let dest = silent.local_addr().expect("addr").to_string();
    let run = udpmsg(&["send", &dest, "hi", "--wait", "200ms"], b"");
    let line = run.one_line_error(4, "no reply");
    assert!(line.contains("no reply came within 200ms"), "{line}");

    let port = free_port();
    let _socat = socat_echo(port);
    let run = udpmsg(
        &[
            "send",
            "--raw",
            &format!("127.0.0.1:{port}"),
            "x",
            "--wait",
            "1s",
            "-c",
            "2",
        ],
        b"",
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stderr.contains("1 of 2 replies"), "{}", run.stderr);
}

#[test]
fn send_wait_hears_a_refusal_from_its_destination_but_not_once_it_replied() {
    if !isolate("send_wait_hears_a_refusal_from_its_destination_but_not_once_it_replied") {
        return;
    }
    // IPv6 too: nothing on the port, exit 5 at once, as ping and --ack.
    let port = free_port();
    let dest = format!("[::1]:{port}");
    let run = udpmsg_within(&["send", "--raw", &dest, "q", "--wait", "60s"], b"", WAIT);
    let line = run.one_line_error(5, "closed IPv6 port");
    assert_eq!(line, format!("udpmsg: nothing is listening on {dest}"));

    // A service that answered and then went away: its refusal of a later
    // message does not end the wait (replies from anyone still count).
    let service = udp("127.0.0.1:0");
    let dest = service.local_addr().expect("addr").to_string();
    let mut ask = command(&[
        "send", "--raw", "--lines", &dest, "--wait", "500ms", "-c", "2",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn send --wait");
    let mut stdin = ask.stdin.take().expect("stdin");
    let out = line_reader(ask.stdout.take().expect("stdout"), None);
    stdin.write_all(b"one\n").expect("write");
    let mut buf = [0u8; 64];
    let (len, from) = service.recv_from(&mut buf).expect("the first question");
    assert_eq!(&buf[..len], b"one");
    service.send_to(b"answer", from).expect("reply");
    assert!(
        out.recv_timeout(WAIT)
            .expect("the reply shown")
            .ends_with("answer"),
        "the reply"
    );
    drop(service);
    stdin.write_all(b"two\n").expect("write");
    drop(stdin);
    let code = wait_until(&mut ask, WAIT, "send --wait");
    let err = String::from_utf8_lossy(&{
        let mut e = Vec::new();
        std::io::Read::read_to_end(&mut ask.stderr.take().expect("stderr"), &mut e)
            .expect("stderr");
        e
    })
    .into_owned();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("1 of 2 replies came"), "{err}");
}

/// A message `send --wait` cannot send (no route: this namespace has only
/// `lo`) fails as without `--wait`, at once (no hour is waited): the
/// arguments and all of stdin as one datagram are one message, with no
/// line number; stdin lines are each reported by number, then counted.
#[test]
fn send_wait_says_a_message_it_cannot_send_as_send_does() {
    if !isolate("send_wait_says_a_message_it_cannot_send_as_send_does") {
        return;
    }
    let plain = udpmsg(&["send", "10.9.9.9", "hi"], b"");
    let said = plain.one_line_error(1, "send without --wait");
    assert_eq!(
        said,
        "udpmsg: cannot send to 10.9.9.9:47474: network unreachable (no route)"
    );
    let one: [(&[&str], &[u8]); 2] = [
        (&["send", "--wait", "1s", "10.9.9.9", "hi"], b""),
        (
            &["send", "--raw", "--wait", "1h", "10.9.9.9"],
            b"all of stdin",
        ),
    ];
    for (args, stdin) in one {
        let run = udpmsg(args, stdin);
        assert_eq!(run.one_line_error(1, &format!("{args:?}")), said);
    }
    let run = udpmsg(&["send", "--wait", "1h", "10.9.9.9", "-"], b"a\nb\n");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [
            "udpmsg: line 1 not sent: network unreachable (no route)",
            "udpmsg: line 2 not sent: network unreachable (no route)",
            "udpmsg: 2 lines could not be sent (0 sent)",
        ]
    );
}

#[test]
fn send_wait_with_an_empty_input_ends_at_once() {
    if !isolate("send_wait_with_an_empty_input_ends_at_once") {
        return;
    }
    // Nothing to send, so nothing to wait an hour for (the test's own
    // deadline is far shorter).
    let run = udpmsg(&["send", "--wait", "1h", "127.0.0.1:9", "-"], b"");
    assert_eq!(
        run.one_line_error(4, "send --wait with an empty input"),
        "udpmsg: the input was empty: nothing was sent, so no reply came"
    );
}

#[test]
fn send_wait_does_not_go_with_ack() {
    if !isolate("send_wait_does_not_go_with_ack") {
        return;
    }
    let run = udpmsg(&["send", "--ack", "--wait", "1s", "127.0.0.1:9", "x"], b"");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--wait"), "{}", run.stderr);
}

/// `--resolve-timeout` says how long to look for a `@NAME`: given with any
/// other destination it is refused (exit 2, one line), by every subcommand
/// and mode that has it, rather than ignored; with a name it is the wait.
#[test]
fn resolve_timeout_is_refused_without_a_name_and_waits_with_one() {
    if !isolate("resolve_timeout_is_refused_without_a_name") {
        return;
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let said = |dest: &str| {
        format!(
            "udpmsg: --resolve-timeout is for @NAME destinations (a listener found by its name), and {dest} is not one"
        )
    };
    let cases: [(&[&str], &str); 7] = [
        (&["send", "127.0.0.1", "hi"], "127.0.0.1"),
        (&["send", "", "hi"], "'' (this host)"),
        (&["send", "--ack", "::1", "hi"], "::1"),
        (
            &["send", "--wait", "1s", "localhost:9", "hi"],
            "localhost:9",
        ),
        (&["send", "--file", file, "127.0.0.1"], "127.0.0.1"),
        (&["ping", "-c", "1", "127.0.0.1"], "127.0.0.1"),
        (&["ping", "-c", "1", "unix:@nobody"], "unix:@nobody"),
    ];
    for (args, dest) in cases {
        let mut args = args.to_vec();
        args.extend(["--resolve-timeout", "5s"]);
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(2, &format!("{args:?}"));
        assert_eq!(line, said(dest), "{args:?}");
    }
    // With a name it is taken, and is how long the scan looked.
    let run = udpmsg(
        &[
            "send",
            "-I",
            "lo",
            "--resolve-timeout",
            "100ms",
            "@nobody",
            "hi",
        ],
        b"",
    );
    let line = run.one_line_error(3, "send @nobody");
    assert!(
        line.starts_with("udpmsg: no listener named 'nobody' answered on port 47474 within 100ms"),
        "{line}"
    );
}

// ---------------------------------------------------------------- listen --echo

#[test]
fn listen_echo_sends_raw_datagrams_back_to_socat_nc_and_udpmsg() {
    if !isolate("listen_echo_sends_raw_datagrams_back_to_socat_nc_and_udpmsg") {
        return;
    }
    let mut listener = Listener::start(&["--echo", "--json"]);
    let dest = listener.dest();

    // socat as the client: a line in, the same line back.
    let mut socat = Running::spawn(
        {
            let mut c = Command::new("socat");
            c.args(["-", &format!("UDP4:{dest}")]);
            c
        },
        "socat",
    );
    socat.write(b"from socat\n");
    assert_eq!(socat.line(), "from socat");
    assert_eq!(listener.json()["text"], "from socat\n");

    // OpenBSD nc as the client.
    let mut nc = Running::spawn(
        {
            let mut c = Command::new("nc");
            c.args(["-u", "127.0.0.1", &listener.port().to_string()]);
            c
        },
        "nc",
    );
    nc.write(b"from nc\n");
    assert_eq!(nc.line(), "from nc");
    assert_eq!(listener.json()["text"], "from nc\n");

    // udpmsg as the client, bytes that are not UTF-8, every byte value.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let run = udpmsg(
        &[
            "send", "--raw", "--hex", &dest, &hex, "--wait", "5s", "-c", "1", "--json",
        ],
        b"",
    );
    assert_ok(&run, "send --raw --wait to the echo server");
    let echoed: Value = serde_json::from_str(run.stdout.trim_end()).expect("JSON");
    assert_eq!(echoed["hex"], hex.as_str());
    assert_eq!(echoed["from"], dest.as_str());

    // A udpmsg text is shown, not echoed (a listener answers udpmsg as it
    // always does).
    let run = udpmsg(&["send", &dest, "hi", "--wait", "300ms"], b"");
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(listener.json()["kind"], "raw");
    assert_eq!(listener.json()["text"], "hi");

    let (code, _, err) = listener.terminate();
    assert_eq!(code, 0);
    let summary = err.last().expect("summary");
    assert_eq!(count_of(summary, "echoed"), 3, "{summary}");
}

#[test]
fn listen_echo_cannot_have_a_key() {
    if !isolate("listen_echo_cannot_have_a_key") {
        return;
    }
    let dir = Dir::new("echo-key");
    let key = dir.key();
    let run = udpmsg(&["listen", "--echo", "-k", &key, "-p", "0"], b"");
    let line = run.one_line_error(2, "--echo with a key");
    assert!(line.contains("--echo"), "{line}");
}

/// Sends one UDP datagram from `src` to `dst` whatever `src` is, with a
/// raw socket (root): how a datagram "from" an echo server is injected.
fn inject(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
    let len = 20 + 8 + payload.len();
    let mut packet = Vec::with_capacity(len);
    packet.extend([
        0x45,
        0,
        (len >> 8) as u8,
        len as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    packet.extend(src.ip().octets());
    packet.extend(dst.ip().octets());
    packet.extend(src.port().to_be_bytes());
    packet.extend(dst.port().to_be_bytes());
    packet.extend(((8 + payload.len()) as u16).to_be_bytes());
    packet.extend([0, 0]); // no UDP checksum (allowed over IPv4)
    packet.extend(payload);
    // SAFETY: plain socket calls on a descriptor this function owns and
    // closes; the address and packet buffers outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let mut to: libc::sockaddr_in = std::mem::zeroed();
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_addr.s_addr = u32::from(*dst.ip()).to_be();
        let sent = libc::sendto(
            fd,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(sent, len as isize, "raw send: {error}");
    }
}

/// The summary line (the last stderr line) of a listener after SIGTERM.
fn summary(listener: &mut Listener) -> String {
    let (code, _, err) = listener.terminate();
    assert_eq!(code, 0, "{err:?}");
    err.last().cloned().expect("summary line")
}

/// The number a listener summary gives for `what` ("raw", "echoed", "not
/// echoed"...), 0 when it does not say (zero counts are left out).
fn count_of(summary: &str, what: &str) -> u64 {
    summary
        .split(": ")
        .last()
        .unwrap_or("")
        .split(", ")
        .find_map(|part| part.strip_suffix(what)?.strip_suffix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// Waits (deadline-bounded) for a `-v` line of `listener` containing `what`.
fn notice(listener: &Listener, what: &str) -> String {
    let end = Instant::now() + WAIT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match listener.err.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {what:?} within {WAIT:?}: {e}"),
        }
    }
}

#[test]
fn two_echo_servers_stop_a_bouncing_datagram() {
    if !isolate("two_echo_servers_stop_a_bouncing_datagram") {
        return;
    }
    let echo = ["--echo", "--bind", "127.0.0.1", "-v", "--json"];
    let mut a = Listener::start(&echo);
    let mut b = Listener::start(&echo);
    let local = |l: &Listener| SocketAddrV4::new(Ipv4Addr::LOCALHOST, l.port());
    // One datagram to A that seems to come from B: A echoes it to B, B
    // echoes it to A, and A knows it: the same bytes it just echoed there.
    inject(local(&b), local(&a), b"ball");
    let line = notice(&a, "an echo coming back");
    assert!(line.contains(&local(&b).to_string()), "{line}");
    assert_eq!(a.json()["text"], "ball");
    assert_eq!(a.json()["text"], "ball");
    assert_eq!(b.json()["text"], "ball");
    // Nothing bounces on (with the old behaviour the counts keep growing).
    let a_summary = summary(&mut a);
    assert_eq!(count_of(&a_summary, "raw"), 2, "{a_summary}");
    assert_eq!(count_of(&a_summary, "echoed"), 1, "{a_summary}");
    assert_eq!(count_of(&a_summary, "not echoed"), 1, "{a_summary}");
    let b_summary = summary(&mut b);
    assert_eq!(count_of(&b_summary, "raw"), 1, "{b_summary}");
    assert_eq!(count_of(&b_summary, "echoed"), 1, "{b_summary}");
    assert_eq!(count_of(&b_summary, "not echoed"), 0, "{b_summary}");
    assert!(BOUNCE_WINDOW.as_secs() >= 1);
}

#[test]
fn echo_servers_on_one_port_never_echo_each_other() {
    if !isolate("echo_servers_on_one_port_never_echo_each_other") {
        return;
    }
    let port = free_port().to_string();
    let mut a =
        Listener::start_raw(&["listen", "--echo", "-v", "--bind", "127.0.0.1", "-p", &port]);
    let mut b =
        Listener::start_raw(&["listen", "--echo", "-v", "--bind", "127.0.0.2", "-p", &port]);
    let p = a.port();
    inject(
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), p),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, p),
        b"ball",
    );
    notice(&a, "own port");
    let a_summary = summary(&mut a);
    assert_eq!(count_of(&a_summary, "raw"), 1, "{a_summary}");
    assert_eq!(count_of(&a_summary, "not echoed"), 1, "{a_summary}");
    assert_eq!(count_of(&a_summary, "echoed"), 0, "{a_summary}");
    let b_summary = summary(&mut b);
    assert_eq!(count_of(&b_summary, "raw"), 0, "{b_summary}");
}

// ---------------------------------------------------------------- -4 / -6

/// Runs `udpmsg args` in a private mount namespace whose /etc/hosts says
/// `dual` is 127.0.0.1 and ::1 (and hosts lookups read only files).
fn udpmsg_with_hosts(dir: &Dir, args: &[&str]) -> Output {
    let hosts = dir.path("hosts");
    std::fs::write(&hosts, "127.0.0.1 dual\n::1 dual\n").expect("hosts");
    let nsswitch = dir.path("nsswitch.conf");
    std::fs::write(&nsswitch, "hosts: files\n").expect("nsswitch");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        r#"mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@""#,
        &hosts,
        &nsswitch,
        BIN,
    ])
    .args(args)
    .env_remove("UDPMSG_PORT")
    .env_remove("UDPMSG_NAME")
    .env_remove("UDPMSG_KEY_FILE");
    run_captured(cmd, b"", WAIT * 3, &format!("udpmsg {args:?}"))
}

#[test]
fn family_flags_choose_the_address_of_a_name() {
    if !isolate("family_flags_choose_the_address_of_a_name") {
        return;
    }
    let dir = Dir::new("family");
    let listener = Listener::start(&["--json"]);
    let port = listener.port().to_string();
    for (flag, from, text) in [
        ("-6", "[::1]:", "six"),
        ("-4", "127.0.0.1:", "four"),
        ("--ipv6", "[::1]:", "long six"),
    ] {
        assert_ok(
            &udpmsg_with_hosts(&dir, &["send", flag, "dual", "-p", &port, text]),
            flag,
        );
        let line = listener.json();
        assert_eq!(line["text"], text);
        assert!(
            line["from"].as_str().is_some_and(|f| f.starts_with(from)),
            "{line}"
        );
    }
    // Without a flag a name prefers IPv4, as before.
    assert_ok(
        &udpmsg_with_hosts(&dir, &["send", "dual", "-p", &port, "any"]),
        "any",
    );
    assert!(
        listener.json()["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("127."))
    );
    // ping too.
    let run = udpmsg_with_hosts(
        &dir,
        &["ping", "-6", "dual", "-p", &port, "-c", "1", "--json"],
    );
    assert_ok(&run, "ping -6");
    assert!(run.stdout.contains("[::1]:"), "{}", run.stdout);
    // An address of the other family is refused before anything is sent.
    let run = udpmsg(&["send", "-4", "::1", "-p", &port, "x"], b"");
    let line = run.one_line_error(2, "-4 ::1");
    assert!(
        line.contains("'::1' is not an IPv4 address, and -4 asks for one"),
        "{line}"
    );
    let run = udpmsg(&["ping", "-6", "127.0.0.1", "-p", &port, "-c", "1"], b"");
    run.one_line_error(2, "ping -6 127.0.0.1");
    let run = udpmsg(&["send", "-6", "<broadcast>", "-p", &port, "x"], b"");
    run.one_line_error(2, "-6 <broadcast>");
}

#[test]
fn family_flags_bind_one_family() {
    if !isolate("family_flags_bind_one_family") {
        return;
    }
    let dir = Dir::new("bind-family");
    let key = dir.key();
    for (flag, shown, absent, keyed) in [
        ("-4", "0.0.0.0:", "[::]", false),
        ("-6", "[::]:", "0.0.0.0", false),
        ("-6", "[::]:", "0.0.0.0", true),
    ] {
        let k: Vec<&str> = if keyed { vec!["-k", &key] } else { vec![] };
        let mut listen = vec![flag, "--json"];
        listen.extend(&k);
        let mut listener = Listener::start(&listen);
        assert!(
            listener.addr.to_string().starts_with(shown),
            "{}",
            listener.addr
        );
        let port = listener.port().to_string();
        let (reached, missed) = if flag == "-4" {
            ("127.0.0.1", "::1")
        } else {
            ("::1", "127.0.0.1")
        };
        let mut send = vec!["send", flag, reached, "-p", &port, "in"];
        send.extend(&k);
        assert_ok(&udpmsg(&send, b""), "in");
        assert_eq!(listener.json()["text"], "in");
        // The other family's socket is not there: a confirmed send to it
        // learns that nothing listens.
        let mut send = vec!["send", "--ack", missed, "-p", &port, "out"];
        send.extend(&k);
        let run = udpmsg(&send, b"");
        assert_eq!(run.code, 5, "{flag}: {}", run.stderr);
        let (_, _, err) = listener.terminate();
        assert!(!err.iter().any(|l| l.contains(absent)), "{err:?}");
    }
    let run = udpmsg(&["listen", "-4", "--bind", "::1", "-p", "0"], b"");
    run.one_line_error(2, "listen -4 --bind ::1");
    let run = udpmsg(&["listen", "-4", "-6", "-p", "0"], b"");
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn discover_family_flags_probe_one_family() {
    if !isolate("discover_family_flags_probe_one_family") {
        return;
    }
    let listener = Listener::start(&[]);
    let port = listener.port().to_string();
    let run = udpmsg(
        &[
            "discover",
            "-4",
            "--interface",
            "lo",
            "-p",
            &port,
            "-v",
            "--json",
        ],
        b"",
    );
    assert_ok(&run, "discover -4");
    assert!(
        run.stderr.contains("probe sent to 127.255.255.255"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    // lo carries no IPv6 probe: with -6 there is nothing to probe.
    let run = udpmsg(
        &["discover", "-6", "--interface", "lo", "-p", &port, "-v"],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("probe sent"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

// ---------------------------------------------------------------- --from

#[test]
fn from_chooses_the_source_address_and_port() {
    if !isolate("from_chooses_the_source_address_and_port") {
        return;
    }
    let dir = Dir::new("from");
    let key = dir.key();
    for keyed in [false, true] {
        let k: Vec<&str> = if keyed { vec!["-k", &key] } else { vec![] };
        let mut args = vec!["--json"];
        args.extend(&k);
        let listener = Listener::start(&args);
        let dest = listener.dest();
        let port = free_port();
        let from = format!("127.0.0.2:{port}");

        let mut send = vec!["send", "--from", &from, &dest, "fixed"];
        send.extend(&k);
        assert_ok(&udpmsg(&send, b""), "send --from");
        let line = listener.json();
        assert_eq!(line["text"], "fixed");
        assert_eq!(line["from"], from.as_str());

        // Replies come back to the address and port asked for: sealed ones
        // too (they are bound to where they are sent, not to the source).
        let mut ack = vec!["send", "--ack", "--from", &from, &dest, "confirmed"];
        ack.extend(&k);
        assert_ok(&udpmsg(&ack, b""), "send --ack --from");
        assert_eq!(listener.json()["from"], from.as_str());

        let mut ping = vec!["ping", "--from", "127.0.0.3", &dest, "-c", "1", "--json"];
        ping.extend(&k);
        let run = udpmsg(&ping, b"");
        assert_ok(&run, "ping --from");
        assert!(run.stdout.contains("\"received\":1"), "{}", run.stdout);

        // Only the port: any address.
        let only_port = format!(":{}", free_port());
        let mut send = vec!["send", "--from", &only_port, &dest, "port"];
        send.extend(&k);
        assert_ok(&udpmsg(&send, b""), "send --from :port");
        let line = listener.json();
        assert!(
            line["from"]
                .as_str()
                .is_some_and(|f| f.ends_with(&only_port)),
            "{line}"
        );
    }
}

#[test]
fn from_a_busy_port_or_a_foreign_address_is_a_clear_error() {
    if !isolate("from_a_busy_port_or_a_foreign_address_is_a_clear_error") {
        return;
    }
    let busy = udp("127.0.0.1:0");
    let from = busy.local_addr().expect("addr").to_string();
    for cmd in ["send", "ping"] {
        let mut args = vec![cmd, "--from", &from, "127.0.0.1:9"];
        if cmd == "send" {
            args.push("x");
        }
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(1, "busy --from");
        assert!(
            line.contains(&format!(
                "cannot send from {from}: that port is already in use"
            )),
            "{line}"
        );
    }
    let run = udpmsg(&["send", "--from", "192.0.2.1", "127.0.0.1:9", "x"], b"");
    let line = run.one_line_error(1, "foreign --from");
    assert!(
        line.contains("no interface on this host has that address"),
        "{line}"
    );
    let run = udpmsg(&["send", "--from", "127.0.0.1", "::1", "-p", "9", "x"], b"");
    let line = run.one_line_error(2, "--from of the other family");
    assert!(line.contains("--from 127.0.0.1 asks for one"), "{line}");
}

// ---------------------------------------------------------------- --interface

#[test]
fn an_unknown_interface_is_exit_2_with_the_list() {
    if !isolate("an_unknown_interface_is_exit_2_with_the_list") {
        return;
    }
    for args in [
        &["send", "--interface", "nosuch0", "127.0.0.1:9", "x"][..],
        &["ping", "--interface", "nosuch0", "127.0.0.1:9"],
        &["listen", "--interface", "nosuch0", "-p", "0"],
        &["discover", "--interface", "nosuch0"],
    ] {
        let run = udpmsg(args, b"");
        let line = run.one_line_error(2, &format!("{args:?}"));
        assert!(
            line.contains("no interface 'nosuch0' on this host; it has: lo"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn listen_interface_lo_and_send_interface_lo_talk() {
    if !isolate("listen_interface_lo_and_send_interface_lo_talk") {
        return;
    }
    let dir = Dir::new("interface");
    let key = dir.key();
    for keyed in [false, true] {
        let k: Vec<&str> = if keyed { vec!["-k", &key] } else { vec![] };
        let mut listen = vec!["--interface", "lo", "--json"];
        listen.extend(&k);
        let listener = Listener::start(&listen);
        let dest = listener.dest();
        let mut send = vec!["send", "--interface", "lo", &dest, "via lo"];
        send.extend(&k);
        assert_ok(&udpmsg(&send, b""), "send");
        assert_eq!(listener.json()["text"], "via lo");
        let mut ping = vec!["ping", "--interface", "lo", &dest, "-c", "1"];
        ping.extend(&k);
        assert_ok(&udpmsg(&ping, b""), "ping --interface lo");
    }
}

#[test]
fn broadcast_without_a_default_route_points_to_interface_which_works() {
    if !isolate("broadcast_without_a_default_route_points_to_interface_which_works") {
        return;
    }
    // Only lo, no default route: 255.255.255.255 has no way out.
    let run = udpmsg(&["send", "<broadcast>", "hi"], b"");
    let line = run.one_line_error(1, "no route");
    assert_eq!(
        line,
        "udpmsg: cannot send to 255.255.255.255:47474: network unreachable (no default route for 255.255.255.255; name the interface with --interface)"
    );
    // Following the hint: out of lo, to a listener there.
    let l = Listener::start(&[]);
    let port = l.port().to_string();
    let run = udpmsg(
        &[
            "send",
            "<broadcast>",
            "-I",
            "lo",
            "-p",
            &port,
            "-n",
            "b",
            "hi",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(l.line().ends_with("b: hi"));
}

#[test]
fn a_name_with_no_interface_to_look_on_says_so() {
    if !isolate("a_name_with_no_interface_to_look_on_says_so") {
        return;
    }
    // Only lo is up here: a name scan has nothing to probe unless told to
    // use lo (and then finds the listener).
    let l = Listener::start(&["--json", "-n", "alice"]);
    let run = udpmsg(&["send", "@alice", "hi", "-p", &l.port().to_string()], b"");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("no interface to look for listeners on")
            && run.stderr.contains("--interface lo"),
        "{}",
        run.stderr
    );
    let run = udpmsg(
        &[
            "send",
            "@alice",
            "hi",
            "-p",
            &l.port().to_string(),
            "-I",
            "lo",
        ],
        b"",
    );
    assert_ok(&run, "send @alice -I lo");
    assert_eq!(l.json()["text"], "hi");
}
