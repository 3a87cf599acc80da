//! Trustworthy everyday behaviour (issue #11), proved on the real binary:
//! `keygen` replaces nothing but a regular file; `--raw` sends stdin's bytes
//! exactly and `--hex` gives bytes as hex digits; an empty `UDPMSG_*`
//! variable is unset and a bad one is named; the nc habit (`send host 9000
//! hi`) gets a note; discover's exit codes serve scripts; messages use
//! plain words (no Rust notation, no "(os error N)", hints only for options
//! the command has, no lookup for a mistyped address, an unreachable
//! resolver told apart from an unknown name); shell completions and a man
//! page. Every test runs in a private network namespace (`common::isolate`);
//! name lookups only go to a resolver inside it, or to none.

mod common;

use common::Dir;
use common::{
    BIN, Listener, Output, WAIT, command, isolate, run_captured, run_ok, udp, udpmsg, wait_for,
};
use std::net::UdpSocket;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use udpmsg::error::exit;
use udpmsg::net::addr::DEFAULT_PORT;
use udpmsg::wire;

/// How long to watch for a datagram that must not come.
const QUIET: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- helpers

/// `udpmsg args...` with `env` set (the udpmsg variables otherwise cleared).
fn udpmsg_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = command(args);
    cmd.envs(env.iter().copied());
    run_captured(cmd, stdin, WAIT * 3, &format!("{env:?} udpmsg {args:?}"))
}

/// Asserts a run succeeded with nothing on stderr.
fn assert_ok(run: &Output, what: &str) {
    assert_eq!(run.code, 0, "{what}: exit {}: {}", run.code, run.stderr);
    assert!(run.stderr.is_empty(), "{what}: stderr: {}", run.stderr);
}

/// A plain UDP socket on 127.0.0.1 and its address as `send` takes it.
fn sink() -> (UdpSocket, String) {
    let socket = udp("127.0.0.1:0");
    let dest = socket.local_addr().expect("local addr").to_string();
    (socket, dest)
}

/// Receives one datagram (deadline-bounded).
fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 70_000];
    let (len, _) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no datagram within {WAIT:?}: {e}"));
    buf.truncate(len);
    buf
}

/// Asserts nothing (more) arrives on `socket` for a short while.
fn assert_no_more(socket: &UdpSocket) {
    socket.set_read_timeout(Some(QUIET)).expect("set timeout");
    let mut buf = [0u8; 2048];
    if let Ok((len, _)) = socket.recv_from(&mut buf) {
        panic!("unexpected datagram: {:?}", &buf[..len]);
    }
    socket.set_read_timeout(Some(WAIT)).expect("set timeout");
}

/// The body of the udpmsg text message in `datagram`.
fn text_body(datagram: &[u8]) -> (String, Vec<u8>) {
    match wire::classify(datagram) {
        Ok(wire::Datagram::Message(wire::Message::Text(t))) => {
            (t.name.to_string(), t.body.to_vec())
        }
        other => panic!("not a udpmsg text message: {other:?}"),
    }
}

/// A veth pair v0/v1 (both ends in this test's namespace) with
/// 192.0.2.1/24 on v0 and a default route through it: 192.0.2.255 is then
/// a directed broadcast address.
fn veth_with_default_route() {
    run_ok(
        "ip",
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    );
    run_ok(
        "ip",
        &["addr", "add", "192.0.2.1/24", "brd", "+", "dev", "v0"],
    );
    run_ok("ip", &["link", "set", "v0", "up"]);
    run_ok("ip", &["link", "set", "v1", "up"]);
    run_ok("ip", &["route", "add", "default", "dev", "v0"]);
}

// ---------------------------------------------------------------- keygen

/// Asserts `keygen [--force] path` is refused with exit 2 and one line that
/// names the path and what is there.
fn assert_keygen_refuses(path: &str, kind: &str) {
    for force in [None, Some("--force")] {
        let mut args = vec!["keygen"];
        args.extend(force);
        args.push(path);
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(2, &format!("{args:?} over {kind}"));
        assert!(
            line.contains(path) && line.contains(kind) && line.contains("regular file"),
            "{line}"
        );
    }
}

#[test]
fn keygen_refuses_fifos_sockets_symlinks_and_directories_even_with_force() {
    if !isolate("keygen_refuses_fifos_sockets_symlinks_and_directories_even_with_force") {
        return;
    }
    let dir = Dir::new("special");
    let fifo = dir.path("fifo");
    run_ok("mkfifo", &[&fifo]);
    let socket = dir.path("socket");
    let _bound = std::os::unix::net::UnixListener::bind(&socket).expect("bind unix socket");
    let target = dir.file("target", "not a key\n");
    let link = dir.path("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dangling = dir.path("dangling");
    std::os::unix::fs::symlink(dir.path("nowhere"), &dangling).expect("symlink");
    let subdir = dir.path("subdir");
    std::fs::create_dir(&subdir).expect("mkdir");

    assert_keygen_refuses(&fifo, "FIFO");
    assert_keygen_refuses(&socket, "socket");
    assert_keygen_refuses(&link, "symbolic link");
    assert_keygen_refuses(&dangling, "symbolic link");
    assert_keygen_refuses(&subdir, "directory");

    // All still what they were; nothing written through the link.
    let kind = |p: &str| {
        std::fs::symlink_metadata(p)
            .expect("still there")
            .file_type()
    };
    assert!(kind(&fifo).is_fifo());
    assert!(kind(&socket).is_socket());
    assert!(kind(&link).is_symlink() && kind(&dangling).is_symlink());
    assert!(kind(&subdir).is_dir());
    assert_eq!(
        std::fs::read_link(&link).expect("readlink"),
        Path::new(&target)
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "not a key\n"
    );
    assert!(!Path::new(&dir.path("nowhere")).exists());
    assert_eq!(
        std::fs::read_dir(dir.root()).expect("list").count(),
        6,
        "no temporary file left behind"
    );

    // A regular file is still replaced with --force.
    let run = udpmsg(&["keygen", "--force", &target], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&target).expect("read").len(), 65);
}

#[test]
fn keygen_refuses_a_device_node_even_with_force() {
    if !isolate("keygen_refuses_a_device_node_even_with_force") {
        return;
    }
    // Made by this test in its own temporary directory, never under /dev:
    // a character device 1,7 is what /dev/full is.
    let dir = Dir::new("device");
    let node = dir.path("full");
    let c_node = std::ffi::CString::new(node.clone()).expect("path");
    // SAFETY: a NUL-terminated path and plain mode and device numbers.
    let rc = unsafe { libc::mknod(c_node.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 7)) };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());

    assert_keygen_refuses(&node, "character device");
    let meta = std::fs::symlink_metadata(&node).expect("still there");
    assert!(meta.file_type().is_char_device(), "the node was replaced");
    assert_eq!(meta.rdev(), libc::makedev(1, 7));
}

// ---------------------------------------------------------------- --raw, --lines, --hex

#[test]
fn raw_stdin_is_one_datagram_holding_every_byte() {
    if !isolate("raw_stdin_is_one_datagram_holding_every_byte") {
        return;
    }
    let (socket, dest) = sink();
    for input in [&b"l1\nl2\n"[..], b"\x00\x0a\x01\x0a", b"no newline", b""] {
        let run = udpmsg(&["send", &dest, "--raw"], input);
        assert_ok(&run, &format!("--raw with stdin {input:?}"));
        assert_eq!(recv(&socket), input);
        assert_no_more(&socket);
    }
}

#[test]
fn raw_stdin_larger_than_a_datagram_exits_2_and_sends_nothing() {
    if !isolate("raw_stdin_larger_than_a_datagram_exits_2_and_sends_nothing") {
        return;
    }
    let (socket, dest) = sink();
    let max = wire::MAX_DATAGRAM_V4;
    let full = vec![b'x'; max];
    assert_ok(
        &udpmsg(&["send", &dest, "--raw"], &full),
        "largest --raw stdin",
    );
    assert_eq!(recv(&socket).len(), max);

    let run = udpmsg(&["send", &dest, "--raw"], &vec![b'x'; max + 1]);
    let line = run.one_line_error(2, "--raw stdin one byte too large");
    assert!(
        line.contains(&max.to_string()) && line.contains("--lines"),
        "{line}"
    );
    assert_no_more(&socket);
}

#[test]
fn raw_lines_sends_one_datagram_per_line_without_its_newline() {
    if !isolate("raw_lines_sends_one_datagram_per_line_without_its_newline") {
        return;
    }
    let (socket, dest) = sink();
    let run = udpmsg(
        &["send", &dest, "--raw", "--lines"],
        b"l1\nl2\r\n\x00\nlast",
    );
    assert_ok(&run, "--raw --lines");
    for want in [&b"l1"[..], b"l2", b"\x00", b"last"] {
        assert_eq!(recv(&socket), want);
    }
    assert_no_more(&socket);

    let run = udpmsg(&["send", &dest, "--lines", "words"], b"");
    let line = run.one_line_error(2, "--lines with a message");
    assert!(line.contains("--lines"), "{line}");
}

#[test]
fn hex_gives_a_message_as_bytes_with_and_without_raw() {
    if !isolate("hex_gives_a_message_as_bytes_with_and_without_raw") {
        return;
    }
    let (socket, dest) = sink();
    assert_ok(
        &udpmsg(&["send", &dest, "--raw", "--hex", "de ad be ef"], b""),
        "--raw --hex",
    );
    assert_eq!(recv(&socket), [0xde, 0xad, 0xbe, 0xef]);
    // Words are joined first: any spacing works.
    assert_ok(
        &udpmsg(&["send", &dest, "--raw", "--hex", "00", "0A", "ff"], b""),
        "--raw --hex words",
    );
    assert_eq!(recv(&socket), [0x00, 0x0a, 0xff]);
    // Without --raw the bytes are a udpmsg message's text (any bytes).
    assert_ok(
        &udpmsg(&["send", &dest, "-n", "bin", "--hex", "00ff0a"], b""),
        "--hex",
    );
    assert_eq!(
        text_body(&recv(&socket)),
        ("bin".into(), vec![0, 0xff, 0x0a])
    );

    // Stdin: all of it one datagram with --raw; one message a line without.
    assert_ok(
        &udpmsg(&["send", &dest, "--raw", "--hex"], b"de ad\nbe ef\n"),
        "--raw --hex stdin",
    );
    assert_eq!(recv(&socket), [0xde, 0xad, 0xbe, 0xef]);
    assert_ok(
        &udpmsg(&["send", &dest, "--raw", "--lines", "--hex"], b"0001\nff\n"),
        "--raw --lines --hex stdin",
    );
    assert_eq!(recv(&socket), [0x00, 0x01]);
    assert_eq!(recv(&socket), [0xff]);
    assert_ok(
        &udpmsg(&["send", &dest, "-n", "bin", "--hex"], b"6869\n\n"),
        "--hex stdin lines",
    );
    assert_eq!(text_body(&recv(&socket)).1, b"hi");
    assert_eq!(text_body(&recv(&socket)).1, b"");
    assert_no_more(&socket);
}

#[test]
fn bad_hex_exits_2_naming_where() {
    if !isolate("bad_hex_exits_2_naming_where") {
        return;
    }
    let (socket, dest) = sink();
    let run = udpmsg(&["send", &dest, "--raw", "--hex", "de ad be eg"], b"");
    let line = run.one_line_error(2, "bad hex argument");
    assert!(line.contains("not hex") && line.contains("11"), "{line}");
    let run = udpmsg(&["send", &dest, "--raw", "--hex", "abc"], b"");
    run.one_line_error(2, "odd hex argument");
    let run = udpmsg(&["send", &dest, "--raw", "--hex"], b"00 1");
    let line = run.one_line_error(2, "odd hex stdin");
    assert!(line.contains("stdin"), "{line}");
    assert_no_more(&socket);

    // Lines before the bad one were sent; the bad one ends the input.
    let run = udpmsg(
        &["send", &dest, "--raw", "--lines", "--hex"],
        b"01\n0x02\n03\n",
    );
    let line = run.one_line_error(2, "bad hex line");
    assert!(
        line.contains("line 2") && line.contains("not hex"),
        "{line}"
    );
    assert_eq!(recv(&socket), [0x01]);
    assert_no_more(&socket);
}

#[test]
fn hex_works_with_ack() {
    if !isolate("hex_works_with_ack") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let dest = l.dest();
    for (args, stdin) in [
        (vec!["send", &dest, "--ack", "--hex", "6f 6e 65"], &b""[..]),
        (vec!["send", &dest, "--ack", "--hex"], b"74776f\n"),
    ] {
        assert_ok(&udpmsg(&args, stdin), &format!("{args:?}"));
    }
    assert_eq!(l.json()["text"], "one");
    assert_eq!(l.json()["text"], "two");
}

/// A `socat` that receives one datagram on 127.0.0.1:`port` and writes
/// exactly its bytes to stdout, then exits.
fn socat_receiving(port: u16) -> std::process::Child {
    let child = Command::new("socat")
        .args([
            "-u",
            &format!("UDP4-RECVFROM:{port},bind=127.0.0.1"),
            "STDOUT",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run socat (scripts/test.sh installs it)");
    wait_for(WAIT, "socat bound", || {
        let out = run_ok("ss", &["-Hnul", &format!("sport = :{port}")]);
        out.contains(&format!("127.0.0.1:{port}")).then_some(())
    });
    child
}

#[test]
fn socat_receives_raw_stdin_byte_for_byte() {
    if !isolate("socat_receives_raw_stdin_byte_for_byte") {
        return;
    }
    for (port, input) in [(47210, &b"l1\nl2\n"[..]), (47211, b"\x00\x0a\x01\x0a")] {
        let socat = socat_receiving(port);
        let dest = format!("127.0.0.1:{port}");
        assert_ok(&udpmsg(&["send", &dest, "--raw"], input), "send --raw");
        let out = socat.wait_with_output().expect("socat output");
        assert!(out.status.success(), "socat: {out:?}");
        assert_eq!(out.stdout, input);
    }
}

// ---------------------------------------------------------------- environment

#[test]
fn empty_udpmsg_variables_count_as_unset() {
    if !isolate("empty_udpmsg_variables_count_as_unset") {
        return;
    }
    let empty = [
        ("UDPMSG_PORT", ""),
        ("UDPMSG_NAME", ""),
        ("UDPMSG_KEY_FILE", ""),
    ];
    // listen: the default port, no key.
    let mut listen = command(&["listen", "--json"]);
    listen.envs(empty);
    let l = Listener::spawn_cmd(listen, None, false, "listen with empty variables");
    assert_eq!(l.port(), udpmsg::net::addr::DEFAULT_PORT);
    // send: the default port, the host name, no key.
    assert_ok(
        &udpmsg_env(&["send", "127.0.0.1", "empty env"], &empty, b""),
        "send with empty variables",
    );
    let v = l.json();
    assert_eq!(v["text"], "empty env");
    assert_eq!(v["name"], udpmsg::net::hostname().as_str());
    // ping and discover too.
    let run = udpmsg_env(&["ping", "127.0.0.1", "-c", "1"], &empty, b"");
    assert_eq!(run.code, 0, "ping: {}", run.stderr);
    let run = udpmsg_env(&["discover", "-I", "lo", "--expect", "1"], &empty, b"");
    assert_eq!(run.code, 0, "discover: {}", run.stderr);
}

#[test]
fn bad_udpmsg_variables_are_named_in_the_error() {
    if !isolate("bad_udpmsg_variables_are_named_in_the_error") {
        return;
    }
    let long = "a".repeat(300);
    for args in [
        &["send", "127.0.0.1", "hi"][..],
        &["listen"],
        &["ping", "127.0.0.1", "-c", "1"],
        &["discover", "-I", "lo"],
    ] {
        let run = udpmsg_env(args, &[("UDPMSG_PORT", "x")], b"");
        let line = run.one_line_error(2, &format!("UDPMSG_PORT=x {args:?}"));
        assert!(
            line.starts_with("udpmsg: UDPMSG_PORT='x': not a port"),
            "{line}"
        );

        let run = udpmsg_env(args, &[("UDPMSG_KEY_FILE", "/nonexistent/k")], b"");
        let line = run.one_line_error(1, &format!("UDPMSG_KEY_FILE {args:?}"));
        assert!(
            line.starts_with("udpmsg: UDPMSG_KEY_FILE='/nonexistent/k': cannot read key file"),
            "{line}"
        );
    }
    for args in [&["send", "127.0.0.1", "hi"][..], &["listen"]] {
        let run = udpmsg_env(args, &[("UDPMSG_NAME", &long)], b"");
        let line = run.one_line_error(2, &format!("UDPMSG_NAME {args:?}"));
        assert!(
            line.starts_with("udpmsg: UDPMSG_NAME='aaa") && line.contains("at most 255"),
            "{line}"
        );
    }
}

#[test]
fn explicit_port_and_no_key_win_over_the_variables() {
    if !isolate("explicit_port_and_no_key_win_over_the_variables") {
        return;
    }
    let dir = Dir::new("nokey");
    let key = dir.path("k");
    let run = udpmsg(&["keygen", &key], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let env = [("UDPMSG_PORT", "9"), ("UDPMSG_KEY_FILE", key.as_str())];
    let (socket, dest) = sink();
    // --no-key makes --raw possible despite UDPMSG_KEY_FILE; host:port wins
    // over UDPMSG_PORT, which is only a default.
    assert_ok(
        &udpmsg_env(&["send", &dest, "--no-key", "--raw", "plain"], &env, b""),
        "--no-key --raw",
    );
    assert_eq!(recv(&socket), b"plain");
    let port = socket.local_addr().expect("addr").port().to_string();
    assert_ok(
        &udpmsg_env(
            &["send", "127.0.0.1", "-p", &port, "--no-key", "--raw", "p"],
            &env,
            b"",
        ),
        "--port over UDPMSG_PORT",
    );
    assert_eq!(recv(&socket), b"p");
    // A listener with --no-key shows unsealed messages.
    let mut listen = command(&["listen", "--port", "0", "--json", "--no-key"]);
    listen.envs(env);
    let l = Listener::spawn_cmd(listen, None, false, "listen --no-key");
    assert_ok(
        &udpmsg_env(&["send", &l.dest(), "--no-key", "open"], &env, b""),
        "send --no-key",
    );
    assert_eq!(l.json()["text"], "open");

    let run = udpmsg(&["send", &dest, "--no-key", "--key-file", &key, "x"], b"");
    assert_eq!(run.code, 2, "--no-key with --key-file: {}", run.stderr);
    assert_no_more(&socket);
}

// ---------------------------------------------------------------- the nc habit

#[test]
fn a_port_number_as_first_word_gets_a_note_and_is_sent_as_asked() {
    if !isolate("a_port_number_as_first_word_gets_a_note_and_is_sent_as_asked") {
        return;
    }
    let default = udp(&format!("127.0.0.1:{}", udpmsg::net::addr::DEFAULT_PORT));
    let run = udpmsg(&["send", "127.0.0.1", "9000", "hello"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "udpmsg: note: sending \"9000 hello\" to port 47474; for port 9000 write 127.0.0.1:9000 or -p 9000\n"
    );
    assert_eq!(text_body(&recv(&default)).1, b"9000 hello");
    let run = udpmsg(&["send", "localhost", "--raw", "53"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("write localhost:53 or -p 53"),
        "{}",
        run.stderr
    );
    assert_eq!(recv(&default), b"53");

    // No note when a port was given, or the first word is no port.
    let port = udpmsg::net::addr::DEFAULT_PORT.to_string();
    let silent: [&[&str]; 5] = [
        &["send", "127.0.0.1", "-p", &port, "9000", "hello"],
        &["send", "127.0.0.1:47474", "9000", "hello"],
        &["send", "127.0.0.1", "hello", "9000"],
        &["send", "127.0.0.1", "99999", "hello"],
        &["send", "127.0.0.1", "--raw", "--hex", "9000"],
    ];
    for args in silent {
        assert_ok(&udpmsg(args, b""), &format!("{args:?}"));
        recv(&default);
    }
    let run = udpmsg_env(
        &["send", "127.0.0.1", "9000", "x"],
        &[("UDPMSG_PORT", &port)],
        b"",
    );
    assert_ok(&run, "UDPMSG_PORT names the port");
    recv(&default);
}

// ---------------------------------------------------------------- discover

#[test]
fn discover_unknown_interface_exits_2_naming_the_interfaces_that_exist() {
    if !isolate("discover_unknown_interface_exits_2_naming_the_interfaces_that_exist") {
        return;
    }
    // Both ends stay down: they exist, but cannot be probed.
    run_ok(
        "ip",
        &["link", "add", "v7a", "type", "veth", "peer", "name", "v7b"],
    );
    let run = udpmsg(
        &["discover", "--interface", "lo", "--interface", "nosuch0"],
        b"",
    );
    let line = run.one_line_error(2, "unknown interface");
    assert!(line.contains("'nosuch0'"), "{line}");
    assert!(
        line.contains("lo, v7a") || line.contains("lo, v7b"),
        "{line}"
    );
    assert!(line.contains("v7a") && line.contains("v7b"), "{line}");
    // An interface that exists but is down cannot be probed: a warning,
    // not an error.
    let run = udpmsg(&["discover", "--interface", "v7a", "-t", "100ms"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("'v7a' not probed"), "{}", run.stderr);
}

#[test]
fn discover_expect_more_than_answer_exits_6_saying_how_many() {
    if !isolate("discover_expect_more_than_answer_exits_6_saying_how_many") {
        return;
    }
    let l = Listener::start(&["-n", "only"]);
    let port = l.port().to_string();
    let probe = |expect: &str| {
        udpmsg(
            &[
                "discover", "-I", "lo", "-p", &port, "-t", "500ms", "--expect", expect,
            ],
            b"",
        )
    };
    let run = probe("2");
    assert_eq!(run.code, i32::from(exit::NOT_ALL_FOUND), "{}", run.stderr);
    assert_eq!(exit::NOT_ALL_FOUND, 6);
    assert!(run.stdout.contains("only"), "{}", run.stdout);
    assert_eq!(
        run.stderr.lines().last(),
        Some("udpmsg: found 1 of 2 expected listeners")
    );
    let run = probe("1");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn a_count_of_zero_is_refused_without_rust_notation() {
    if !isolate("a_count_of_zero_is_refused_without_rust_notation") {
        return;
    }
    for args in [
        &["discover", "--expect", "0"][..],
        &["ping", "127.0.0.1", "-c", "0"],
        &["listen", "-c", "0"],
        &["send", "127.0.0.1", "x", "-W", "1s", "--count", "0"],
    ] {
        let run = udpmsg(args, b"");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("at least 1"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains(".."), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_ping_wait_of_zero_is_refused() {
    if !isolate("a_ping_wait_of_zero_is_refused") {
        return;
    }
    let run = udpmsg(&["ping", "127.0.0.1", "-c", "1", "-W", "0"], b"");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("longer than 0"), "{}", run.stderr);
}

#[test]
fn exit_codes_in_readme_and_help_match_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("an exit code section");
    let rows: Vec<(u8, &str)> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            Some((cells.next()?.parse().ok()?, cells.next()?))
        })
        .collect();
    let codes: Vec<u8> = rows.iter().map(|r| r.0).collect();
    assert_eq!(
        codes,
        [
            exit::OK,
            exit::FAILURE,
            exit::USAGE,
            exit::NO_HOST,
            exit::UNCONFIRMED,
            exit::NOT_LISTENING,
            exit::NOT_ALL_FOUND,
            exit::REFUSED,
            exit::NO_SPACE,
            exit::HASH_MISMATCH
        ]
    );
    assert!(rows[8].1.contains("no space"), "{:?}", rows[8]);
    assert!(rows[9].1.contains("hash"), "{:?}", rows[9]);
    assert!(rows[6].1.contains("--expect"), "{:?}", rows[6]);
    assert!(rows[1].1.contains("resolver"), "{:?}", rows[1]);

    let help = udpmsg::cli::Cli::command().render_help().to_string();
    assert!(
        help.contains("6 discover found fewer than --expect"),
        "{help}"
    );
    assert!(help.contains("8 no space on the listener's disk"), "{help}");
    assert!(help.contains("9 hash mismatch"), "{help}");
}

#[test]
fn readme_quotes_the_defaults_the_code_uses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let flush = udpmsg::output::listen::FLUSH_EVERY.as_millis();
    for phrase in [
        format!("Every subcommand uses port {DEFAULT_PORT} unless"),
        format!("on port {DEFAULT_PORT}"),
        format!("the sender's name (at most {} bytes)", wire::MAX_NAME),
        format!("flushed at once when {flush} ms have passed since the last flush"),
        format!("so never more than {flush} ms late"),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
}

#[test]
fn readme_says_why_each_dependency_is_there() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let table = readme
        .split("## Dependencies and why")
        .nth(1)
        .expect("a dependency section");
    let mut in_deps = false;
    let mut checked = 0;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]" || line == "[dev-dependencies]";
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if !in_deps || line.starts_with('#') {
            continue;
        }
        let name = name.trim();
        assert!(
            table
                .lines()
                .any(|row| row.starts_with('|') && row.contains(&format!("`{name}`"))),
            "README.md's dependency table does not say why {name} is there"
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} dependencies found in Cargo.toml"
    );
}

// ---------------------------------------------------------------- words

#[test]
fn errors_say_the_words_without_os_error_numbers() {
    if !isolate("errors_say_the_words_without_os_error_numbers") {
        return;
    }
    let dir = Dir::new("words");
    let missing = dir.path("missing/k");
    for (args, code) in [
        (vec!["keygen", missing.as_str()], 1),
        (vec!["send", "127.0.0.1:9", "-k", &missing, "x"], 1),
        (vec!["listen", "-p", "0", "-k", &missing], 1),
    ] {
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(code, &format!("{args:?}"));
        assert!(line.contains("No such file or directory"), "{line}");
        assert!(!line.contains("os error"), "{line}");
    }
}

#[test]
fn permission_hints_name_only_options_the_command_has() {
    if !isolate("permission_hints_name_only_options_the_command_has") {
        return;
    }
    veth_with_default_route();
    let run = udpmsg(&["ping", "192.0.2.255", "-c", "1"], b"");
    let line = run.one_line_error(1, "ping a broadcast address");
    assert!(line.contains("permission denied"), "{line}");
    assert!(line.contains("ping needs one listener"), "{line}");
    assert!(
        !line.contains("--broadcast") && !line.contains("os error"),
        "{line}"
    );

    let run = udpmsg(&["send", "--ack", "192.0.2.255", "x"], b"");
    let line = run.one_line_error(1, "send --ack to a broadcast address");
    assert!(line.contains("--ack needs one listener"), "{line}");
    assert!(
        !line.contains("--broadcast") && !line.contains("os error"),
        "{line}"
    );

    // Plain send has --broadcast, and its hint names it.
    let run = udpmsg(&["send", "192.0.2.255", "x"], b"");
    let line = run.one_line_error(1, "send to a broadcast address");
    assert!(line.contains("--broadcast"), "{line}");
}

#[test]
fn digits_and_dots_that_are_no_ipv4_address_exit_2_without_a_lookup() {
    if !isolate("digits_and_dots_that_are_no_ipv4_address_exit_2_without_a_lookup") {
        return;
    }
    // In this namespace a lookup could not reach any resolver (exit 1):
    // exit 2 shows none was tried.
    for host in ["256.1.1.1", "256.1.1.1:80", "10.1", "010.0.0.1", "1.2.3.4."] {
        let run = udpmsg(&["send", host, "hi"], b"");
        let line = run.one_line_error(2, host);
        let address = host.trim_end_matches(":80");
        assert!(line.contains(address) && line.contains("IPv4"), "{line}");
    }
    let run = udpmsg(&["listen", "--bind", "300.0.0.1"], b"");
    run.one_line_error(2, "listen --bind 300.0.0.1");
}

/// A name server on 127.0.0.1:53 (in this test's namespace) that answers
/// every query "no such name" (NXDOMAIN).
struct FakeDns {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDns {
    fn start() -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(answer) = nxdomain(&buf[..len]) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        FakeDns {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The NXDOMAIN answer to DNS `query`: its id and question, QR and RA set,
/// RD copied, RCODE 3, no records.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    let question = query.get(12..)?;
    let mut at = 0;
    while *question.get(at)? != 0 {
        at += usize::from(question[at]) + 1;
    }
    let question = question.get(..at + 5)?;
    let mut answer = query[..2].to_vec();
    answer.extend([0x80 | (query[2] & 0x01), 0x83, 0, 1, 0, 0, 0, 0, 0, 0]);
    answer.extend_from_slice(question);
    Some(answer)
}

/// Runs `udpmsg args` in a private mount namespace whose /etc/resolv.conf
/// holds `resolv_conf` (and whose hosts lookups are "files dns").
fn udpmsg_with_resolver(dir: &Dir, resolv_conf: &str, args: &[&str]) -> Output {
    let conf = dir.file("resolv.conf", resolv_conf);
    let nsswitch = dir.file("nsswitch.conf", "hosts: files dns\n");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        r#"mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@""#,
        &conf,
        &nsswitch,
        BIN,
    ])
    .args(args)
    .env_remove("UDPMSG_PORT")
    .env_remove("UDPMSG_NAME")
    .env_remove("UDPMSG_KEY_FILE");
    run_captured(
        cmd,
        b"",
        WAIT * 3,
        &format!("udpmsg {args:?} with {resolv_conf:?}"),
    )
}

#[test]
fn unknown_host_exits_3_and_an_unreachable_resolver_is_said_so() {
    if !isolate("unknown_host_exits_3_and_an_unreachable_resolver_is_said_so") {
        return;
    }
    let dir = Dir::new("resolver");
    // The name server answers: the name does not exist.
    let _dns = FakeDns::start();
    let run = udpmsg_with_resolver(
        &dir,
        "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n",
        &["send", "no-such-host.invalid", "-p", "9", "hi"],
    );
    let line = run.one_line_error(3, "unknown host");
    assert!(
        line.contains("unknown host 'no-such-host.invalid'"),
        "{line}"
    );

    // No route to the name server (192.0.2.53, TEST-NET-1: this namespace
    // has only lo): the name may exist, so it is not called unknown.
    let run = udpmsg_with_resolver(
        &dir,
        "nameserver 192.0.2.53\noptions attempts:1 timeout:1\n",
        &["send", "no-such-host.invalid", "-p", "9", "hi"],
    );
    let line = run.one_line_error(1, "resolver unreachable");
    assert!(
        line.contains("no-such-host.invalid") && line.contains("cannot be reached"),
        "{line}"
    );
    assert!(!line.contains("unknown host"), "{line}");
}

#[test]
fn name_limit_is_the_same_for_listen_and_send() {
    if !isolate("name_limit_is_the_same_for_listen_and_send") {
        return;
    }
    let (socket, dest) = sink();
    let max = wire::MAX_NAME;
    let longest = "n".repeat(max);
    assert_ok(
        &udpmsg(&["send", &dest, "-n", &longest, "x"], b""),
        "255-byte name",
    );
    assert_eq!(text_body(&recv(&socket)).0, longest);

    let long = "n".repeat(max + 1);
    let lines: Vec<String> = [
        &["send", dest.as_str(), "-n", &long, "x"][..],
        &["listen", "-p", "0", "-n", &long],
    ]
    .into_iter()
    .map(|args| udpmsg(args, b"").one_line_error(2, &format!("{args:?}")))
    .collect();
    assert_eq!(lines[0], lines[1], "the same words for both");
    assert_eq!(lines[0], "udpmsg: name too long: 256 bytes, at most 255");
    assert_no_more(&socket);
}

// ---------------------------------------------------------------- completions, man

#[test]
fn bash_completion_script_completes_li_to_listen() {
    if !isolate("bash_completion_script_completes_li_to_listen") {
        return;
    }
    let run = udpmsg(&["completions", "bash"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // As bash's `complete -F` calls it: command name, word, previous word.
    let script = format!(
        "source <({BIN} completions bash)
         spec=$(complete -p udpmsg) || exit 9
         fn=${{spec#*-F }}; fn=${{fn%% *}}
         COMP_WORDS=(udpmsg li); COMP_CWORD=1; COMP_LINE='udpmsg li'; COMP_POINT=9
         \"$fn\" udpmsg li udpmsg
         echo \"${{COMPREPLY[@]}}\"
         COMP_WORDS=(udpmsg send --he); COMP_CWORD=2; COMP_LINE='udpmsg send --he'; COMP_POINT=16
         \"$fn\" udpmsg --he send
         echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"listen"), "{stdout}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.split(' ').any(|w| w == "--hex")),
        "{stdout}"
    );
}

#[test]
fn every_shell_gets_a_completion_script() {
    if !isolate("every_shell_gets_a_completion_script") {
        return;
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = udpmsg(&["completions", shell], b"");
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        // Deferred subcommand arguments are in it too.
        for word in ["listen", "discover", "expect", "key-file"] {
            assert!(run.stdout.contains(word), "{shell} script lacks {word}");
        }
    }
    let run = udpmsg(&["completions", "tcsh"], b"");
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn man_page_renders_without_warnings_and_covers_every_subcommand() {
    if !isolate("man_page_renders_without_warnings_and_covers_every_subcommand") {
        return;
    }
    let run = udpmsg(&["man"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = run.stdout;
    assert!(page.contains(".TH udpmsg 1"), "{page}");

    let mut man = Command::new("man");
    man.args(["-l", "-"]).env("MANWIDTH", "80");
    let shown = run_captured(man, page.as_bytes(), WAIT, "man -l -");
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(shown.stderr, "", "man warns");
    // Justified text: compare with single spaces.
    let text = shown
        .stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "udpmsg listen",
        "udpmsg send",
        "udpmsg discover",
        "udpmsg ping",
        "udpmsg keygen",
        "udpmsg completions",
        "--hex",
        "--expect",
        "--key-file",
        "--force",
        "--no-key",
        "UDPMSG_PORT",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "man page lacks {needle}: {text}");
    }

    let mut groff = Command::new("groff");
    groff.args(["-man", "-Tutf8", "-ww", "-z"]);
    let checked = run_captured(groff, page.as_bytes(), WAIT, "groff -ww");
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert_eq!(checked.stderr, "", "groff warns");
}

/// The subcommands `udpmsg --help` lists, each with its one-line description.
fn listed_subcommands() -> Vec<(String, String)> {
    let run = udpmsg(&["--help"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Vec<(String, String)> = run
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(listed.len() >= 8, "{}", run.stdout);
    listed
}

#[test]
fn each_subcommand_help_and_man_section_begin_with_its_own_description() {
    if !isolate("each_subcommand_help_and_man_section_begin_with_its_own_description") {
        return;
    }
    let listed = listed_subcommands();
    for (name, about) in &listed {
        for flag in ["--help", "-h"] {
            let run = udpmsg(&[name, flag], b"");
            assert_eq!(run.code, 0, "{name} {flag}: {}", run.stderr);
            assert_eq!(
                run.stdout.lines().next(),
                Some(about.as_str()),
                "{name} {flag}"
            );
        }
    }
    let run = udpmsg(&["man"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (name, about) in &listed {
        let heading = format!(".SS \"udpmsg {name}\"");
        let at = lines
            .iter()
            .position(|l| *l == heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let first = lines.get(at + 1).map(|l| l.replace("\\-", "-"));
        assert_eq!(first.as_deref(), Some(about.as_str()), "man: udpmsg {name}");
    }
    // The description of a group of options shared by several subcommands
    // is nobody's description.
    assert!(!run.stdout.contains("one address family"), "{}", run.stdout);
}
