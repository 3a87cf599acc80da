//! Unix-domain datagram sockets (issue #14), with real programs on both
//! ends: `listen --bind unix:/path` and `unix:@name`, `send`, `send --ack`,
//! `send --wait` and `ping` to them, with and without a key, text and JSON
//! (`from` and the sender's `pid`/`uid`); raw interop both ways with socat
//! (`UNIX-SENDTO`, `UNIX-RECVFROM`) and OpenBSD nc (`nc -U -u`, which binds
//! a path of its own for replies); `listen --echo`; a sender without a name
//! (socat's), which cannot be answered; the socket file: created with the
//! umask or `--mode`, removed on SIGTERM, SIGINT, SIGHUP, `--timeout` and `--count`, a stale
//! one replaced, a live one or anything that is not a socket never; sealed
//! datagrams bound to the socket they were sent to.
//!
//! Every test runs in a private network namespace (`common::isolate`),
//! which also gives it an abstract namespace of its own; socket files are
//! made in a temporary directory.

mod common;

use common::docs::doc;

use common::{BIN, WAIT, command, encoded, isolate, run_captured, udpmsg, wait_for};
use common::{Dir, Running};
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::Path;
use std::process::{Command, Stdio};
use udpmsg::net::peer::MAX_UNIX_NAME;
use udpmsg::seal::{SealDest, Sealer};
use udpmsg::wire::{Message, Ping};

// ---------------------------------------------------------------- helpers

/// `udpmsg listen args...` on a Unix socket, once it said it is listening.
fn listen(args: &[&str]) -> Running {
    let mut all = vec!["listen"];
    all.extend_from_slice(args);
    let listener = Running::udpmsg(&all);
    let line = listener.err_line();
    assert!(line.contains("listening on unix:"), "{line}");
    listener
}

fn assert_ok(run: &common::Output, what: &str) {
    assert_eq!(run.code, 0, "{what}: exit {}: {}", run.code, run.stderr);
}

/// This process's user id (the senders' too).
fn uid() -> u64 {
    // SAFETY: geteuid has no preconditions.
    u64::from(unsafe { libc::geteuid() })
}

/// Asserts a listen JSON line has the credentials of a process of ours.
fn assert_ours(line: &Value) {
    assert!(line["pid"].as_u64().is_some_and(|p| p > 0), "{line}");
    assert_eq!(line["uid"].as_u64(), Some(uid()), "{line}");
}

/// True when `s` is `unix:@` and five lowercase hex digits: the name
/// Linux's autobind gives.
fn autobound(s: &str) -> bool {
    s.strip_prefix("unix:@").is_some_and(|name| {
        name.len() == 5
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_socket(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// What `listen` says when it stops (its last stderr line).
fn summary(err: &[String]) -> &str {
    err.iter()
        .rev()
        .find(|l| l.starts_with("udpmsg listen:"))
        .map_or("", String::as_str)
}

// ---------------------------------------------------------------- udpmsg to udpmsg

/// Text, `--ack` and `ping` to a listener at `target` (a path or an
/// abstract name), with `key` when given: JSON lines with `from` (the name
/// the kernel bound the sender to) and the sender's credentials, pongs
/// from the listener's address.
fn udpmsg_to_udpmsg(target: &str, key: Option<&str>) {
    let keyed: Vec<&str> = key.map_or(vec![], |k| vec!["-k", k]);
    let mut args = vec!["--bind", target, "--json", "-v"];
    args.extend(&keyed);
    let listener = listen(&args);

    let mut send = vec!["send", target, "-n", "app", "hello"];
    send.extend(&keyed);
    assert_ok(&udpmsg(&send, b""), "send");
    let line = listener.json();
    assert_eq!(line["kind"], "text", "{line}");
    assert_eq!(line["text"], "hello");
    assert_eq!(line["name"], "app");
    let from = line["from"].as_str().expect("from");
    assert!(autobound(from), "udpmsg binds an abstract name: {line}");
    assert_ours(&line);

    let mut ack = vec!["send", "--ack", target, "-n", "app"];
    ack.extend(&keyed);
    let run = udpmsg(&ack, b"one\ntwo\n");
    assert_ok(&run, "send --ack");
    for text in ["one", "two"] {
        let line = listener.json();
        assert_eq!(line["text"], text, "{line}");
        let from = line["from"].as_str().expect("from");
        assert!(autobound(from), "{line}");
        assert_ours(&line);
    }

    let mut ping = vec!["ping", target, "-c", "3", "-i", "0.05", "--json"];
    ping.extend(&keyed);
    let run = udpmsg(&ping, b"");
    assert_ok(&run, "ping");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "three pongs and the summary: {}",
        run.stdout
    );
    for pong in &lines[..3] {
        assert_eq!(pong["kind"], "pong");
        assert_eq!(pong["from"], target);
    }
    assert_eq!(lines[3]["to"], target);
    assert_eq!(lines[3]["received"], 3);

    let mut text_ping = vec!["ping", target, "-c", "1"];
    text_ping.extend(&keyed);
    let run = udpmsg(&text_ping, b"");
    assert_ok(&run, "ping (text)");
    assert!(
        run.stdout
            .starts_with(&format!("reply from {target}: seq=0")),
        "{}",
        run.stdout
    );

    listener.signal(libc::SIGTERM);
    let (code, out, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.is_empty(), "{out:?}");
    let summary = summary(&err);
    assert!(summary.contains("3 received"), "{summary}");
    assert!(summary.contains("4 pings answered"), "{summary}");
    assert!(summary.contains("0 dropped by the kernel"), "{summary}");
}

#[test]
fn send_ack_and_ping_reach_a_listener_on_a_socket_file() {
    if !isolate("send_ack_and_ping_reach_a_listener_on_a_socket_file") {
        return;
    }
    let dir = Dir::short("file");
    udpmsg_to_udpmsg(&dir.unix("l.sock"), None);
    udpmsg_to_udpmsg(&dir.unix("k.sock"), Some(&dir.key()));
}

#[test]
fn send_ack_and_ping_reach_a_listener_on_an_abstract_name() {
    if !isolate("send_ack_and_ping_reach_a_listener_on_an_abstract_name") {
        return;
    }
    let dir = Dir::short("abstract");
    udpmsg_to_udpmsg("unix:@udpmsg-test", None);
    udpmsg_to_udpmsg("unix:@udpmsg-keyed", Some(&dir.key()));
}

#[test]
fn a_keyed_listener_refuses_what_is_not_sealed_for_it() {
    if !isolate("a_keyed_listener_refuses_what_is_not_sealed_for_it") {
        return;
    }
    let dir = Dir::short("sealed");
    let key_path = dir.key();
    let key = udpmsg::seal::read_key_file(Path::new(&key_path))
        .expect("key")
        .0;
    let (a, b) = (dir.path("a.sock"), dir.path("b.sock"));
    let listener_a = listen(&["--bind", &dir.unix("a.sock"), "-k", &key_path, "--json"]);
    let listener_b = listen(&["--bind", &dir.unix("b.sock"), "-k", &key_path, "-v"]);

    // Unkeyed: refused.
    assert_ok(
        &udpmsg(&["send", &dir.unix("a.sock"), "plain"], b""),
        "send",
    );
    // A Ping sealed for a.sock, sent to a.sock (opens) and to b.sock (not).
    let open = encoded(&Message::Ping(Ping {
        sender: 1,
        seq: 0,
        stamp: 0,
    }));
    let real_a = std::fs::canonicalize(&a).expect("canonical");
    let for_a = SealDest::unix_path(real_a.as_os_str().as_encoded_bytes());
    let mut sealer = Sealer::new(&key);
    let client = UnixDatagram::unbound().expect("socket");
    client
        .send_to(sealer.seal(&open, for_a), &b)
        .expect("send to b");
    // A sealed text for a.sock, which a.sock shows.
    let text = encoded(&Message::Text(udpmsg::wire::Text {
        sender: 7,
        seq: 0,
        base: 0,
        flags: 0,
        name: "py",
        body: b"sealed for a",
    }));
    client
        .send_to(sealer.seal(&text, for_a), &a)
        .expect("send to a");
    let line = listener_a.json();
    assert_eq!(line["text"], "sealed for a", "{line}");
    assert_eq!(line["from"], "unix:");

    let notice = listener_b.err_line();
    assert!(
        notice.contains("sealed for another destination"),
        "{notice}"
    );
    for listener in [listener_a, listener_b] {
        listener.signal(libc::SIGTERM);
        let (code, _, err) = listener.finish();
        assert_eq!(code, 0, "{err:?}");
        let summary = summary(&err).to_string();
        assert!(
            summary.contains("1 unsealed refused") || summary.contains("1 forged or wrong key"),
            "{summary}"
        );
    }
}

#[test]
fn a_symlink_or_relative_path_to_the_socket_is_the_same_destination() {
    if !isolate("a_symlink_or_relative_path_to_the_socket_is_the_same_destination") {
        return;
    }
    let dir = Dir::short("canon");
    let key = dir.key();
    let listener = listen(&["--bind", &dir.unix("real.sock"), "-k", &key, "--json"]);
    std::os::unix::fs::symlink(dir.path("real.sock"), dir.path("link.sock")).expect("symlink");
    let run = udpmsg(
        &["send", "--ack", "unix:link.sock", "-k", &key, "via link"],
        b"",
    );
    // Relative to the sender's working directory.
    let mut cmd = command(&["send", "--ack", "unix:link.sock", "-k", &key, "via link"]);
    cmd.current_dir(dir.root());
    let relative = run_captured(cmd, b"", WAIT * 3, "send --ack (relative)");
    assert_ok(&relative, "send --ack to a relative symlink");
    assert_eq!(listener.json()["text"], "via link");
    let mut cmd = command(&["ping", "-c", "1", "unix:./real.sock", "-k", &key]);
    cmd.current_dir(dir.root());
    assert_ok(
        &run_captured(cmd, b"", WAIT * 3, "ping"),
        "ping ./real.sock",
    );
    // From elsewhere that relative path names nothing: nothing listens.
    assert_eq!(run.code, 5, "{}", run.stderr);
}

/// A Unix socket is connected to the listener's socket, not to its path:
/// `send --ack` reconnects when a new listener took the path (as over UDP,
/// where the port stays the same), and everything is confirmed.
#[test]
fn send_ack_goes_on_when_the_listener_restarts() {
    if !isolate("send_ack_goes_on_when_the_listener_restarts") {
        return;
    }
    let dir = Dir::short("restart");
    let target = dir.unix("l.sock");
    let first = listen(&["--bind", &target, "--json"]);
    let mut sender = Running::udpmsg(&["send", "--ack", &target, "--timeout", "20s", "-"]);
    sender.write(b"before\n");
    assert_eq!(first.json()["text"], "before");
    first.signal(libc::SIGTERM);
    let (code, _, err) = first.finish();
    assert_eq!(code, 0, "{err:?}");
    // Sent while nothing listens: waits, and goes to the next listener.
    sender.write(b"between\n");
    let second = listen(&["--bind", &target, "--json"]);
    sender.write(b"after\n");
    let mut shown = vec![
        second.json()["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        second.json()["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    shown.sort();
    assert_eq!(shown, ["after", "between"]);
    let (code, _, err) = sender.finish();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn send_file_goes_over_a_unix_socket_keyed_or_not() {
    if !isolate("send_file_goes_over_a_unix_socket_keyed_or_not") {
        return;
    }
    let dir = Dir::short("files");
    let key = dir.key();
    let inbox = dir.path("in");
    std::fs::create_dir(&inbox).expect("inbox");
    // Larger than many chunks, bytes of every value.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    let file = dir.path("data.bin");
    std::fs::write(&file, &content).expect("write");
    for (target, keyed) in [
        (dir.unix("f.sock"), false),
        ("unix:@files".to_string(), true),
    ] {
        let mut args = vec![
            "--bind",
            target.as_str(),
            "--save-dir",
            &inbox,
            "--json",
            "--overwrite",
        ];
        if keyed {
            args.extend(["-k", key.as_str()]);
        }
        let listener = listen(&args);
        let mut send = vec!["send", "--file", file.as_str(), target.as_str()];
        if keyed {
            send.extend(["-k", key.as_str()]);
        }
        let run = udpmsg(&send, b"");
        assert_ok(&run, "send --file");
        assert!(
            run.stderr.contains(&format!("to {target}")),
            "{}",
            run.stderr
        );
        let line = listener.json();
        assert_eq!(line["kind"], "file", "{line}");
        assert_eq!(line["size"], content.len());
        assert!(autobound(line["from"].as_str().expect("from")), "{line}");
        assert_ours(&line);
        let stored = std::fs::read(Path::new(&inbox).join("data.bin")).expect("stored");
        assert!(stored == content, "the stored file differs");
    }
}

// ---------------------------------------------------------------- raw interop

#[test]
fn socat_and_nc_send_to_a_unix_listener_and_nc_gets_its_echo() {
    if !isolate("socat_and_nc_send_to_a_unix_listener_and_nc_gets_its_echo") {
        return;
    }
    let dir = Dir::short("raw-in");
    let path = dir.path("l.sock");
    let listener = listen(&["--bind", &dir.unix("l.sock"), "--json", "--echo"]);

    // socat sends unnamed: shown, not echoed (nothing can reach it).
    let run = run_captured(
        {
            let mut c = Command::new("socat");
            c.args(["-", &format!("UNIX-SENDTO:{path}")]);
            c
        },
        b"from socat",
        WAIT,
        "socat UNIX-SENDTO",
    );
    assert_eq!(run.code, 0, "socat: {}", run.stderr);
    let line = listener.json();
    assert_eq!(line["kind"], "raw");
    assert_eq!(line["text"], "from socat");
    assert_eq!(line["from"], "unix:");
    assert!(line["name"].is_null());
    assert_ours(&line);

    // nc binds a path of its own: it gets the echo.
    let mut nc = Running::program("nc", &["-U", "-u", &path]);
    nc.write(b"from nc\n");
    assert_eq!(nc.line(), "from nc");
    let line = listener.json();
    assert_eq!(line["text"], "from nc\n");
    let from = line["from"].as_str().expect("from");
    assert!(
        from.starts_with("unix:/") && from.ends_with(".sock"),
        "nc's own socket file: {line}"
    );
    assert_ours(&line);

    // socat bound to a path gets its echo too, bytes that are not UTF-8.
    let client = dir.path("c.sock");
    let mut socat = Running::program(
        "socat",
        &["-", &format!("UNIX-SENDTO:{path},bind={client}")],
    );
    socat.write(b"\xff\xfe bytes\n");
    let line = listener.json();
    assert_eq!(line["hex"], "fffe2062797465730a", "{line}");
    assert_eq!(line["from"], format!("unix:{client}"));
    wait_for(WAIT, "socat's echo", || {
        socat.out.try_recv().ok().filter(|l| l.contains("bytes"))
    });
    drop(socat);
    drop(nc);

    listener.signal(libc::SIGTERM);
    let (code, _, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    let summary = summary(&err);
    assert!(summary.contains("3 raw"), "{summary}");
    assert!(summary.contains("2 echoed"), "{summary}");
    assert!(
        summary.contains("1 not answered (sender without a name)"),
        "{summary}"
    );
    assert!(!is_socket(&path), "the socket file was left behind");
}

#[test]
fn send_wait_asks_socat_and_nc_over_unix_sockets() {
    if !isolate("send_wait_asks_socat_and_nc_over_unix_sockets") {
        return;
    }
    let dir = Dir::short("raw-out");
    // socat's echo service on a socket file, as its manual writes it.
    let echo = dir.path("echo.sock");
    let _socat = Running::program(
        "socat",
        &["-T", "1", &format!("UNIX-RECVFROM:{echo},fork"), "EXEC:cat"],
    );
    wait_for(WAIT, "socat bound", || is_socket(&echo).then_some(()));
    let target = format!("unix:{echo}");
    let run = udpmsg(
        &["send", "--raw", &target, "hello", "--wait", "5s", "-c", "1"],
        b"",
    );
    assert_ok(&run, "send --raw --wait to socat");
    assert!(
        run.stdout
            .trim_end()
            .ends_with(&format!("{target} [raw]: hello")),
        "{}",
        run.stdout
    );
    // JSON, a udpmsg text through cat: a text, with socat's credentials.
    let run = udpmsg(
        &[
            "send", &target, "-n", "me", "as text", "--wait", "5s", "-c", "1", "--json",
        ],
        b"",
    );
    assert_ok(&run, "send --wait --json to socat");
    let line: Value = serde_json::from_str(run.stdout.trim_end()).expect("JSON");
    assert_eq!(line["kind"], "text");
    assert_eq!(line["text"], "as text");
    assert_eq!(line["from"], target.as_str());
    assert_ours(&line);

    // nc listening on a socket file answers the sender's abstract name.
    let ncl = dir.path("nc.sock");
    let mut nc = Running::program("nc", &["-U", "-u", "-l", &ncl]);
    wait_for(WAIT, "nc bound", || is_socket(&ncl).then_some(()));
    let asker = Running::udpmsg(&[
        "send",
        "--raw",
        &format!("unix:{ncl}"),
        "question\n",
        "--wait",
        "30s",
        "-c",
        "1",
    ]);
    assert_eq!(nc.line(), "question");
    nc.write(b"answer\n");
    let line = asker.line();
    assert!(
        line.ends_with(&format!("unix:{ncl} [raw]: answer\\n")),
        "{line}"
    );
    let (code, _, err) = asker.finish();
    assert_eq!(code, 0, "{err:?}");
}

/// socat as a plain receiver. (`nc -U -u -l` answers its first sender
/// before it shows anything, so it needs a sender that is still there:
/// `send --wait`, above.)
#[test]
fn udpmsg_sends_raw_to_a_socat_receiver() {
    if !isolate("udpmsg_sends_raw_to_a_socat_receiver") {
        return;
    }
    let dir = Dir::short("raw-recv");
    let path = dir.path("r.sock");
    // It stops after a second without datagrams.
    let socat = Running::program(
        "socat",
        &["-u", "-T", "1", &format!("UNIX-RECV:{path}"), "-"],
    );
    wait_for(WAIT, "socat bound", || is_socket(&path).then_some(()));
    assert_ok(
        &udpmsg(
            &["send", "--raw", &format!("unix:{path}"), "to socat\n"],
            b"",
        ),
        "send --raw",
    );
    assert_eq!(socat.line(), "to socat");
    // Lines, one datagram each (without their newlines).
    assert_ok(
        &udpmsg(
            &["send", "--raw", "--lines", &format!("unix:{path}")],
            b"one\ntwo\n",
        ),
        "send --raw --lines",
    );
    let (_, out, _) = socat.finish();
    assert_eq!(out, ["onetwo"]);
}

#[test]
fn listen_echo_on_a_unix_socket_answers_udpmsg_send_wait() {
    if !isolate("listen_echo_on_a_unix_socket_answers_udpmsg_send_wait") {
        return;
    }
    let listener = listen(&["--bind", "unix:@echo", "--echo"]);
    let run = udpmsg(
        &[
            "send",
            "--raw",
            "unix:@echo",
            "ping me",
            "--wait",
            "5s",
            "-c",
            "1",
            "--json",
        ],
        b"",
    );
    assert_ok(&run, "send --raw --wait");
    let line: Value = serde_json::from_str(run.stdout.trim_end()).expect("JSON");
    assert_eq!(line["text"], "ping me");
    assert_eq!(line["from"], "unix:@echo");
    assert_ours(&line);
    let shown = listener.line();
    assert!(shown.contains("[raw]: ping me"), "{shown}");
}

#[test]
fn an_unnamed_sender_is_counted_never_answered() {
    if !isolate("an_unnamed_sender_is_counted_never_answered") {
        return;
    }
    let dir = Dir::short("unnamed");
    let path = dir.path("l.sock");
    let listener = listen(&["--bind", &dir.unix("l.sock"), "-v", "--echo"]);
    let unnamed = UnixDatagram::unbound().expect("socket");
    let ping = encoded(&Message::Ping(Ping {
        sender: 1,
        seq: 0,
        stamp: 0,
    }));
    let acked = encoded(&Message::Text(udpmsg::wire::Text {
        sender: 2,
        seq: 0,
        base: 0,
        flags: udpmsg::wire::FLAG_ACK,
        name: "n",
        body: b"ack me",
    }));
    unnamed.send_to(&ping, &path).expect("ping");
    unnamed.send_to(&acked, &path).expect("text");
    unnamed.send_to(b"echo me", &path).expect("raw");
    let mut notices = Vec::new();
    for _ in 0..3 {
        notices.push(listener.err_line());
    }
    for what in ["a ping", "a message that asks for an ack", "a datagram"] {
        assert!(
            notices.iter().any(|n| n.contains(&format!(
                "did not answer {what} from a Unix socket without a name"
            ))),
            "{what}: {notices:?}"
        );
    }
    // Still listening, still answering named senders.
    assert_ok(
        &udpmsg(&["ping", "-c", "1", &dir.unix("l.sock")], b""),
        "ping",
    );
    listener.signal(libc::SIGTERM);
    let (code, out, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.iter().any(|l| l.contains("ack me")), "{out:?}");
    let summary = summary(&err);
    assert!(summary.contains("3 not answered"), "{summary}");
    assert!(summary.contains("1 ping answered"), "{summary}");
}

// ---------------------------------------------------------------- the socket file

#[test]
fn the_socket_file_goes_on_every_signal_timeout_and_count() {
    if !isolate("the_socket_file_goes_on_every_signal_timeout_and_count") {
        return;
    }
    let dir = Dir::short("cleanup");
    let path = dir.path("l.sock");
    let target = dir.unix("l.sock");

    let listener = listen(&["--bind", &target]);
    assert!(is_socket(&path));
    listener.signal(libc::SIGTERM);
    let (code, _, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(!is_socket(&path), "left after SIGTERM");

    let listener = listen(&["--bind", &target, "--timeout", "300ms"]);
    let (code, _, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(summary(&err).contains("timeout"), "{err:?}");
    assert!(!is_socket(&path), "left after --timeout");

    let listener = listen(&["--bind", &target, "--count", "1"]);
    assert_ok(&udpmsg(&["send", &target, "one"], b""), "send");
    let (code, out, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(!is_socket(&path), "left after --count");

    // SIGINT too.
    let listener = listen(&["--bind", &target]);
    listener.signal(libc::SIGINT);
    let (code, _, _) = listener.finish();
    assert_eq!(code, 0);
    assert!(!is_socket(&path), "left after SIGINT");

    // And SIGHUP: its terminal closed.
    let listener = listen(&["--bind", &target]);
    listener.signal(libc::SIGHUP);
    let (code, _, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
    assert!(summary(&err).contains("hung up"), "{err:?}");
    assert!(!is_socket(&path), "left after SIGHUP");
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_never() {
    if !isolate("a_stale_socket_is_replaced_a_live_one_never") {
        return;
    }
    let dir = Dir::short("stale");
    let path = dir.path("l.sock");
    let target = dir.unix("l.sock");
    // A socket whose process is gone leaves its file behind.
    drop(UnixDatagram::bind(&path).expect("bind"));
    assert!(is_socket(&path));
    let listener = listen(&["--bind", &target, "--json"]);

    // A second listener on the live socket: refused, and the first one
    // keeps its file and its senders.
    let run = udpmsg(&["listen", "--bind", &target, "--timeout", "5s"], b"");
    let line = run.one_line_error(1, "live socket");
    assert!(line.contains("already in use"), "{line}");
    assert!(line.ends_with("pick another path"), "{line}");
    assert_ok(&udpmsg(&["send", &target, "still here"], b""), "send");
    assert_eq!(listener.json()["text"], "still here");

    // A live stream socket (another program's) is live too.
    let stream = dir.path("stream.sock");
    let _server = UnixListener::bind(&stream).expect("stream socket");
    let run = udpmsg(
        &[
            "listen",
            "--bind",
            &format!("unix:{stream}"),
            "--timeout",
            "5s",
        ],
        b"",
    );
    let line = run.one_line_error(1, "live stream socket");
    assert!(line.contains("already in use"), "{line}");
    assert!(is_socket(&stream));

    // So is an abstract name in use.
    let _abstract = listen(&["--bind", "unix:@taken"]);
    let run = udpmsg(&["listen", "--bind", "unix:@taken", "--timeout", "5s"], b"");
    let line = run.one_line_error(1, "abstract name in use");
    assert!(line.contains("unix:@taken is already in use"), "{line}");
    // It is a name, not a path.
    assert!(line.ends_with("pick another name"), "{line}");
}

#[test]
fn anything_but_a_socket_is_never_replaced() {
    if !isolate("anything_but_a_socket_is_never_replaced") {
        return;
    }
    let dir = Dir::short("notsock");
    let file = dir.path("file");
    std::fs::write(&file, b"precious").expect("write");
    let fifo = dir.path("fifo");
    let c = std::ffi::CString::new(fifo.clone()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let directory = dir.path("dir");
    std::fs::create_dir(&directory).expect("mkdir");
    let target = dir.path("target");
    std::fs::write(&target, b"also precious").expect("write");
    let link = dir.path("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dangling = dir.path("dangling");
    std::os::unix::fs::symlink(dir.path("nothing"), &dangling).expect("symlink");
    for (path, kind) in [
        (&file, "a regular file"),
        (&fifo, "a FIFO"),
        (&directory, "a directory"),
        (&link, "a symbolic link"),
        (&dangling, "a symbolic link"),
    ] {
        let run = udpmsg(
            &[
                "listen",
                "--bind",
                &format!("unix:{path}"),
                "--timeout",
                "5s",
            ],
            b"",
        );
        let line = run.one_line_error(2, path);
        assert!(line.contains(&format!("{path} is {kind}")), "{line}");
        assert!(line.contains("not a socket"), "{line}");
    }
    assert_eq!(std::fs::read(&file).expect("file"), b"precious");
    assert_eq!(std::fs::read(&target).expect("target"), b"also precious");
    let fifo_meta = std::fs::symlink_metadata(&fifo).expect("fifo");
    assert!(fifo_meta.file_type().is_fifo());
    assert!(Path::new(&directory).is_dir());
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    assert!(std::fs::symlink_metadata(&dangling).is_ok());
    assert!(!Path::new(&dir.path("nothing")).exists());
}

#[test]
fn the_file_has_the_umask_mode_or_mode() {
    if !isolate("the_file_has_the_umask_mode_or_mode") {
        return;
    }
    let dir = Dir::short("mode");
    let path = dir.path("l.sock");
    let mode_of = |args: &[&str], umask: &str| {
        let mut cmd = Command::new("sh");
        let mut script = format!("umask {umask}; exec {BIN} listen --bind unix:{path}");
        for arg in args {
            script.push(' ');
            script.push_str(arg);
        }
        cmd.args(["-c", &script])
            .env_remove("UDPMSG_PORT")
            .env_remove("UDPMSG_KEY_FILE");
        let listener = Running::spawn(cmd, "listen");
        let line = listener.err_line();
        assert!(line.contains("listening on"), "{line}");
        let mode = std::fs::symlink_metadata(&path)
            .expect("socket file")
            .permissions()
            .mode();
        listener.signal(libc::SIGTERM);
        let (code, _, err) = listener.finish();
        assert_eq!(code, 0, "{err:?}");
        mode & 0o7777
    };
    assert_eq!(mode_of(&[], "022"), 0o755);
    assert_eq!(mode_of(&[], "077"), 0o700);
    assert_eq!(mode_of(&["--mode", "0660"], "022"), 0o660);
    assert_eq!(mode_of(&["--mode", "0606"], "077"), 0o606);
    assert_eq!(mode_of(&["--mode", "600"], "000"), 0o600);
}

// ---------------------------------------------------------------- errors

#[test]
fn nothing_listening_on_a_unix_socket_is_exit_5() {
    if !isolate("nothing_listening_on_a_unix_socket_is_exit_5") {
        return;
    }
    let dir = Dir::short("none");
    let stale = dir.path("stale.sock");
    drop(UnixDatagram::bind(&stale).expect("bind"));
    for target in [
        dir.unix("missing.sock"),
        format!("unix:{stale}"),
        "unix:@nobody".into(),
    ] {
        for args in [
            vec!["send", target.as_str(), "hi"],
            vec!["send", "--ack", target.as_str(), "hi"],
            vec!["ping", "-c", "1", target.as_str()],
        ] {
            let run = udpmsg(&args, b"");
            let line = run.one_line_error(5, &format!("{args:?}"));
            assert!(
                line.contains(&format!("nothing is listening on {target}")),
                "{line}"
            );
        }
    }
}

#[test]
fn options_for_ip_are_refused_for_unix_sockets() {
    if !isolate("options_for_ip_are_refused_for_unix_sockets") {
        return;
    }
    let dir = Dir::short("opts");
    let target = dir.unix("x.sock");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["send", &target, "hi", "-p", "9"], "--port is for IP"),
        (vec!["send", &target, "hi", "-4"], "-4 is for IP"),
        (
            vec!["send", &target, "hi", "--from", ":5000"],
            "--from is for IP",
        ),
        (vec!["send", &target, "hi", "--ttl", "2"], "--ttl is for IP"),
        (
            vec!["send", &target, "hi", "--broadcast"],
            "--broadcast is for IP",
        ),
        (vec!["ping", &target, "-6"], "-6 is for IP"),
        (
            vec!["ping", &target, "--interface", "lo"],
            "--interface is for IP",
        ),
        (
            vec!["listen", "--bind", &target, "-p", "9"],
            "--port is for IP",
        ),
        (
            vec!["listen", "--bind", &target, "--group", "239.1.2.3"],
            "--group is for IP",
        ),
        (
            vec!["listen", "--bind", &target, "--share-port"],
            "--share-port is for IP",
        ),
        (
            vec!["listen", "--bind", "unix:@x", "--mode", "0600"],
            "an abstract name",
        ),
        (vec!["listen", "--mode", "0600"], "--bind unix:/path"),
        (
            vec!["send", "unix:", "hi"],
            "must be followed by a socket path",
        ),
        (vec!["send", "unix:@", "hi"], "abstract socket name"),
    ];
    for (args, says) in cases {
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(2, &format!("{args:?}"));
        assert!(line.contains(says), "{args:?}: {line}");
    }
    let long = format!("unix:/{}", "x".repeat(MAX_UNIX_NAME));
    let run = udpmsg(&["send", &long, "hi"], b"");
    let line = run.one_line_error(2, "too long");
    assert!(
        line.ends_with(": a Unix socket path is at most 107 bytes"),
        "{line}"
    );
    // Nothing was created.
    assert!(!Path::new(&dir.path("x.sock")).exists());
}

#[test]
fn udpmsg_port_does_not_apply_to_unix_sockets() {
    if !isolate("udpmsg_port_does_not_apply_to_unix_sockets") {
        return;
    }
    let listener = listen(&["--bind", "unix:@env"]);
    let mut cmd = command(&["send", "unix:@env", "despite UDPMSG_PORT"]);
    cmd.env("UDPMSG_PORT", "9");
    assert_ok(
        &run_captured(cmd, b"", WAIT, "send"),
        "send with UDPMSG_PORT",
    );
    assert!(listener.line().contains("despite UDPMSG_PORT"));
}

// ---------------------------------------------------------------- the documents

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_documents_quote_what_the_code_does_for_unix_sockets() {
    use udpmsg::seal::dest::{UNIX_ABSTRACT_KIND, UNIX_PATH_KIND};
    let protocol = doc("docs/PROTOCOL.md");
    let says = |phrase: &str| assert!(protocol.contains(phrase), "PROTOCOL.md: {phrase:?}");
    says(&format!(
        "BLAKE3.derive_key(context = \"{}\"",
        udpmsg::seal::UNIX_DEST_CONTEXT
    ));
    says(&format!("`kind` is the byte `{UNIX_PATH_KIND:02x}`"));
    says(&format!(
        "`{UNIX_ABSTRACT_KIND:02x}` and the name for an abstract name"
    ));
    says(&format!(
        "the IPv6 limit, **{} bytes**",
        udpmsg::wire::MAX_DATAGRAM
    ));
    for (dest, shown) in [
        (SealDest::unix_path(b"/run/udpmsg.sock"), "socket file"),
        (SealDest::unix_abstract(b"udpmsg"), "abstract name"),
    ] {
        let b = dest.bytes();
        says(&format!("`{} {}`", hex(&b[..16]), hex(&b[16..])));
        assert_eq!(&b[16..], [0, 0], "{shown}: port 0");
    }
    // The sealed vector, as the golden one is made (src/seal/aead.rs).
    let bytes: [u8; 32] = (0..32).collect::<Vec<u8>>().try_into().expect("32 bytes");
    let key = udpmsg::seal::Key::from_bytes(bytes);
    let open = encoded(&Message::Ping(Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    }));
    let mut sealer = Sealer::with_ids(&key, 0x1122_3344_5566_7788, 7);
    let sealed = sealer.seal_at(
        &open,
        SealDest::unix_path(b"/run/udpmsg.sock"),
        1_800_000_000_000_000,
    );
    let squeezed: String = protocol.split(' ').collect();
    assert!(
        squeezed.contains(&hex(sealed)),
        "PROTOCOL.md: the Unix vector"
    );

    let readme = doc("README.md");
    for phrase in [
        format!("(any path, relative ones too, at most {MAX_UNIX_NAME} bytes)"),
        "exit 5".to_string(),
    ] {
        assert!(readme.contains(&phrase), "README.md: {phrase:?}");
    }
}

/// The Python of docs/PROTOCOL.md section 9, unchanged, seals a Ping for a
/// listener's socket file (through a symbolic link: the canonical path is
/// what counts) and for its abstract name, from sockets bound to a path
/// and to an abstract name, and opens the sealed Pongs with the same
/// function for its own addresses; and the same over UDP with the
/// section's `seal` and `unseal`, for an IP listener. Needs PyNaCl and
/// blake3 for python3 (`scripts/test.sh` installs them): without them it
/// fails, saying so, as the namespace tests do without root.
#[test]
fn the_documents_python_seals_for_unix_and_udp_listeners_and_opens_their_pongs() {
    let test = "the_documents_python_seals_for_unix_and_udp_listeners_and_opens_their_pongs";
    let modules = Command::new("python3")
        .args(["-c", "import blake3, nacl"])
        .stderr(Stdio::null())
        .status();
    if !isolate(test) {
        return;
    }
    assert!(
        modules.is_ok_and(|s| s.success()),
        "{test}: python3 with PyNaCl and blake3 is needed (scripts/test.sh installs them)"
    );
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    let section = &text[text.find("## 9. Sealed datagrams").expect("section 9")..];
    let start = section.find("```python\n").expect("the example") + "```python\n".len();
    let example = &section[start..start + section[start..].find("```").expect("its end")];
    let dir = Dir::short("py");
    let key = dir.key();
    let listener = listen(&["--bind", &dir.unix("l.sock"), "-k", &key]);
    let abstract_listener = listen(&["--bind", "unix:@pylisten", "-k", &key]);
    let ip_listener = Running::udpmsg(&["listen", "--port", "47480", "-k", &key]);
    assert!(ip_listener.err_line().contains("listening on"));
    std::os::unix::fs::symlink(dir.path("l.sock"), dir.path("link")).expect("symlink");
    let script = format!(
        r#"import socket, struct, time
K = bytes.fromhex(open({key:?}).read().strip())
{example}
for to, me in [({link:?}.encode(), {client:?}.encode()), (b"\0pylisten", b"\0pyclient")]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(me)
    s.settimeout(10)
    ping = b"UDPM\x02\x00" + struct.pack("<IQQQ", 4, 77, 0, 1234)
    head = b"UDPM\x02\x01" + struct.pack("<QQQ", 99, 0, time.time_ns() // 1000)
    s.sendto(head + seal_(ping[6:], head + unix_destination(to), head[6:30], DK), to)
    reply = s.recv(70000)
    body = open_(reply[30:], reply[:30] + unix_destination(me), reply[6:30], DK)
    kind, sender, seq, stamp = struct.unpack("<IQQQ", body)
    print("pong" if kind == 5 else "kind %d" % kind, sender, seq, stamp)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(10)
ping = b"UDPM\x02\x00" + struct.pack("<IQQQ", 4, 78, 1, 4321)
u.sendto(seal(ping, 99, 1, "127.0.0.1", 47480), ("127.0.0.1", 47480))
body = unseal(u.recv(70000), "127.0.0.1", u.getsockname()[1])
kind, sender, seq, stamp = struct.unpack("<IQQQ", body)
print("pong" if kind == 5 else "kind %d" % kind, sender, seq, stamp)
"#,
        link = dir.path("link"),
        client = dir.path("py.sock"),
    );
    let run = run_captured(
        {
            let mut c = Command::new("python3");
            c.args(["-c", &script]);
            c
        },
        b"",
        WAIT * 3,
        "python3",
    );
    assert_eq!(run.code, 0, "python: {}", run.stderr);
    assert_eq!(
        run.stdout,
        "pong 77 0 1234\npong 77 0 1234\npong 78 1 4321\n"
    );
    for listener in [listener, abstract_listener, ip_listener] {
        listener.signal(libc::SIGTERM);
        let (code, _, err) = listener.finish();
        assert_eq!(code, 0, "{err:?}");
        assert!(summary(&err).contains("1 ping answered"), "{err:?}");
    }
}
