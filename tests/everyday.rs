//! Trustworthy everyday behaviour (#11): output that cannot be written is
//! reported. The real binary, real sockets, each test in its own network
//! namespace.

mod common;

use common::full::FullDisk;
use common::{
    Listener, Output, WAIT, command, drain, exit_code, isolate, line_reader, listening_addr, udp,
    wait_status, wait_until,
};
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a failed write to a full disk is reported as.
const DISK_FULL: &str = "udpmsg: cannot write output: No space left on device";

/// Runs `cmd` to completion with the given stdin and stdout, stderr
/// captured (stdout too when it is `Stdio::piped()`).
fn run_io(mut cmd: Command, stdin: Stdio, stdout: Stdio, what: &str) -> Output {
    let mut child = cmd
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let out = child.stdout.take().map(drain);
    let err = drain(child.stderr.take().expect("stderr"));
    let status = wait_status(&mut child, WAIT * 3, what);
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Output {
        code: exit_code(status),
        stdout: out.map_or_else(String::new, |h| text(h.join().unwrap_or_default())),
        stderr: text(err.join().unwrap_or_default()),
    }
}

/// A pipe whose reader is already gone: writing to it fails with EPIPE.
fn widowed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

/// A listener bound to 127.0.0.1 on a free port, with its `host:port`.
fn loopback_listener(extra: &[&str]) -> (Listener, String) {
    let mut args = vec!["--bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    let l = Listener::start(&args);
    let host = format!("127.0.0.1:{}", l.port());
    (l, host)
}

// ---------------------------------------------------------------- item 1

#[test]
fn listen_to_a_full_disk_prints_its_summary_then_the_write_error_and_exits_1() {
    if !isolate("listen_to_a_full_disk") {
        return;
    }
    let disk = FullDisk::new("listen");
    let mut child = command(&["listen", "--port", "0", "--count", "2"])
        .stdin(Stdio::null())
        .stdout(disk.file("out"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn listen");
    let err = line_reader(child.stderr.take().expect("stderr"), None);
    let first = err.recv_timeout(WAIT).expect("the listening line");
    let port = listening_addr(&first)
        .unwrap_or_else(|| panic!("{first}"))
        .port();
    let peer = udp("127.0.0.1:0");
    // The first line already cannot be written; the second may find the
    // listener gone, which is fine.
    for text in ["one", "two"] {
        peer.send_to(text.as_bytes(), ("127.0.0.1", port))
            .expect("send");
    }
    let code = wait_until(&mut child, WAIT, "listen > full disk");
    let lines = common::rest_of(&err);
    assert_eq!(code, 1, "{lines:?}");
    assert_eq!(lines.len(), 2, "summary, then the error: {lines:?}");
    assert!(lines[0].starts_with("udpmsg listen: "), "{lines:?}");
    assert_eq!(lines[1], DISK_FULL);
}

#[test]
fn ping_and_discover_to_a_full_disk_exit_1_saying_the_write_failed() {
    if !isolate("ping_and_discover_to_a_full_disk") {
        return;
    }
    let disk = FullDisk::new("ping");
    // On every address: discover's probe to 127.255.255.255 reaches it.
    let l = Listener::start(&[]);
    let host = l.dest();
    let r = run_io(
        command(&["ping", &host, "-c", "1"]),
        Stdio::null(),
        Stdio::from(disk.file("ping")),
        "ping > full disk",
    );
    assert_eq!(r.one_line_error(1, "ping > full disk"), DISK_FULL);

    let port = l.port().to_string();
    let r = run_io(
        command(&[
            "discover",
            "--interface",
            "lo",
            "--port",
            &port,
            "--expect",
            "1",
            "--timeout",
            "10s",
        ]),
        Stdio::null(),
        Stdio::from(disk.file("discover")),
        "discover > full disk",
    );
    assert_eq!(r.one_line_error(1, "discover > full disk"), DISK_FULL);
}

#[test]
fn a_closed_pipe_stays_quiet_with_exit_0_for_ping_and_discover() {
    if !isolate("a_closed_pipe_stays_quiet") {
        return;
    }
    // On every address: discover's probe to 127.255.255.255 reaches it.
    let l = Listener::start(&[]);
    let host = l.dest();
    let r = run_io(
        command(&["ping", &host, "-c", "2", "-i", "0"]),
        Stdio::null(),
        widowed_pipe(),
        "ping | (closed)",
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "ping");
    let port = l.port().to_string();
    let r = run_io(
        command(&[
            "discover", "-i", "lo", "-p", &port, "--expect", "1", "-t", "10s",
        ]),
        Stdio::null(),
        widowed_pipe(),
        "discover | (closed)",
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "discover");
}

#[test]
fn send_with_a_directory_on_stdin_says_it_cannot_read_stdin() {
    if !isolate("send_with_a_directory_on_stdin") {
        return;
    }
    let (l, host) = loopback_listener(&[]);
    let dir = File::open(std::env::temp_dir()).expect("open a directory");
    let r = run_io(
        command(&["send", &host, "-"]),
        Stdio::from(dir),
        Stdio::piped(),
        "send - < directory",
    );
    assert_eq!(
        r.one_line_error(1, "send - < directory"),
        "udpmsg: cannot read stdin: Is a directory"
    );
    assert!(l.try_line(Duration::from_millis(100)).is_none());
}
