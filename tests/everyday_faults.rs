//! Trustworthy everyday behaviour (#11): output that cannot be written is
//! reported, a busy port is refused unless sharing is asked for, a datagram
//! this host refuses to send is a loss and not the end, and `-q` silences
//! only the informational lines. The real binary, real sockets, a real
//! firewall rule, each test in its own network namespace.

mod common;

use common::full::FullDisk;
use common::{
    BIN, Listener, Output, WAIT, command, drain, exit_code, isolate, line_reader, listening_addr,
    poll, run_ok, udp, udpmsg, udpmsg_within, wait_status, wait_until,
};
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;
use udpmsg::net::{self, BindOptions};

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

/// Replaces this namespace's firewall with one output rule on UDP to
/// `port`: `rule` is what follows `udp dport PORT` (a match and a verdict).
/// A `drop` on output fails the sender's system call with EPERM.
fn firewall(port: u16, rule: &str) {
    run_ok("nft", &["flush", "ruleset"]);
    run_ok("nft", &["add", "table", "inet", "t"]);
    run_ok(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "t",
            "out",
            "{ type filter hook output priority 0; }",
        ],
    );
    let rule = format!("add rule inet t out udp dport {port} {rule}");
    let args: Vec<&str> = rule.split(' ').collect();
    run_ok("nft", &args);
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
fn send_wait_and_send_file_json_to_a_full_disk_exit_1_saying_the_write_failed() {
    if !isolate("send_to_a_full_disk") {
        return;
    }
    let disk = FullDisk::new("send");
    let (_echo, host) = loopback_listener(&["--echo"]);
    let r = run_io(
        command(&["send", "--raw", "--wait", "10s", "-c", "1", &host, "ping"]),
        Stdio::null(),
        Stdio::from(disk.file("wait")),
        "send --wait > full disk",
    );
    assert_eq!(r.one_line_error(1, "send --wait > full disk"), DISK_FULL);

    let files = common::Dir::new("send-full-disk");
    let saved = common::Dir::new("send-full-disk-saved");
    let path = files.path("a.txt");
    std::fs::write(&path, b"hello").expect("write the file to send");
    let (_l, host) = loopback_listener(&["--save-dir", &saved.path("")]);
    let r = run_io(
        command(&["send", "--json", "--file", &path, &host]),
        Stdio::null(),
        Stdio::from(disk.file("file")),
        "send --file --json > full disk",
    );
    assert_eq!(
        r.one_line_error(1, "send --file --json > full disk"),
        DISK_FULL
    );
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
            "discover", "-I", "lo", "-p", &port, "--expect", "1", "-t", "10s",
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

// ---------------------------------------------------------------- item 3

#[test]
fn second_listener_on_a_busy_port_exits_1_and_the_first_keeps_receiving() {
    if !isolate("second_listener_on_a_busy_port") {
        return;
    }
    let first = Listener::start(&["--name", "first"]);
    let port = first.port().to_string();
    // Before, this one started "listening" (and stole the unicast
    // datagrams); the timeout lets that old behaviour end, and fail.
    let r = udpmsg(&["listen", "--port", &port, "--timeout", "3s"], b"");
    assert_eq!(
        r.one_line_error(1, "second listener"),
        format!("udpmsg: port {port} is already in use; pick another with --port")
    );
    let peer = udp("127.0.0.1:0");
    peer.send_to(b"still here", first.dest()).expect("send");
    assert!(first.line().ends_with("[raw]: still here"));
}

#[test]
fn listen_refuses_a_port_held_by_a_socket_that_allows_sharing() {
    if !isolate("listen_refuses_a_port_held_by_a_socket_that_allows_sharing") {
        return;
    }
    // Another program's socket with SO_REUSEADDR: sharing used to happen
    // silently, because udpmsg set it too.
    let shared = BindOptions {
        reuse_addr: true,
        ..BindOptions::default()
    };
    let holder = net::bind("0.0.0.0:0".parse().expect("addr"), shared).expect("bind");
    let port = holder.local_addr().expect("local").port().to_string();
    let r = udpmsg(&["listen", "--port", &port, "--timeout", "3s"], b"");
    assert_eq!(
        r.one_line_error(1, "port held with SO_REUSEADDR"),
        format!("udpmsg: port {port} is already in use; pick another with --port")
    );
    // A holder that does not share refuses even --share-port, and says so.
    let holder = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = holder.local_addr().expect("local").port().to_string();
    let r = udpmsg(
        &["listen", "--port", &port, "--share-port", "--timeout", "3s"],
        b"",
    );
    let line = r.one_line_error(1, "--share-port on an unshared port");
    assert_eq!(
        line,
        format!(
            "udpmsg: port {port} is already in use by a socket that does not share it; pick another with --port"
        )
    );
}

#[test]
fn share_port_listeners_both_start_warn_once_and_are_both_discovered() {
    if !isolate("share_port_listeners") {
        return;
    }
    let start = |name: &str| {
        Listener::spawn_cmd(
            command(&["listen", "--port", "47211", "--share-port", "--name", name]),
            None,
            true,
            name,
        )
    };
    let a = start("a");
    let b = start("b");
    assert_eq!((a.port(), b.port()), (47211, 47211));
    // A third, quiet: the warning is all it prints before it stops.
    let r = udpmsg(
        &[
            "listen",
            "--port",
            "47211",
            "--share-port",
            "-q",
            "--timeout",
            "100ms",
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "udpmsg: warning: port 47211 is shared (--share-port): unicast datagrams reach only one \
         of the listeners sharing it; broadcasts and discovery probes reach all\n"
    );

    let r = udpmsg(
        &[
            "discover", "-I", "lo", "-p", "47211", "--json", "--expect", "2", "-t", "60s",
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut names: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["name"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"], "{}", r.stdout);
}

// ---------------------------------------------------------------- item 5

/// `ping -c 6` through a rule that drops every other ping on output: the
/// refused ones are reported, counted, and the run goes on.
fn ping_through_every_other_drop(json: bool) -> (Output, String) {
    let (_l, host) = loopback_listener(&[]);
    let port: u16 = host
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    firewall(port, "numgen inc mod 2 == 0 drop");
    // -W: a lost ping is waited for as long as a real one; generous, so a
    // slow machine's replies still count.
    let mut args = vec!["ping", &host, "-c", "6", "-i", "50ms", "-W", "5s"];
    if json {
        args.push("--json");
    }
    let r = udpmsg(&args, b"");
    assert_eq!(r.code, 0, "{r:?}");
    let not_sent: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        not_sent,
        [0, 2, 4].map(|seq| format!("udpmsg: ping seq={seq} not sent: Operation not permitted")),
        "{r:?}"
    );
    (r, host)
}

#[test]
fn ping_counts_pings_the_firewall_refuses_as_lost_and_goes_on() {
    if !isolate("ping_counts_pings_the_firewall_refuses") {
        return;
    }
    let (r, host) = ping_through_every_other_drop(false);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", r.stdout);
    for (line, seq) in lines.iter().zip([1, 3, 5]) {
        let want = format!("reply from {host}: seq={seq} rtt=");
        assert!(line.starts_with(&want), "{line}");
    }
    assert_eq!(lines[3], format!("--- {host} udpmsg ping ---"));
    assert_eq!(
        lines[4],
        "6 sent, 3 received, 50.0% loss, 3 not sent (local errors)"
    );
}

#[test]
fn ping_json_summary_counts_local_errors() {
    if !isolate("ping_json_summary_counts_local_errors") {
        return;
    }
    let (r, _) = ping_through_every_other_drop(true);
    let objs: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objs.len(), 4, "{}", r.stdout);
    let s = &objs[3];
    assert_eq!(s["kind"], "summary", "{s}");
    assert_eq!(
        (&s["sent"], &s["received"], &s["local_errors"]),
        (&Value::from(6), &Value::from(3), &Value::from(3)),
        "{s}"
    );
    assert_eq!(s["loss_pct"].as_f64(), Some(50.0), "{s}");
}

#[test]
fn ping_without_local_errors_reports_zero_in_json() {
    if !isolate("ping_without_local_errors_reports_zero_in_json") {
        return;
    }
    let (_l, host) = loopback_listener(&[]);
    let r = udpmsg(&["ping", &host, "-c", "1", "--json"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    let last = r.stdout.lines().last().expect("summary");
    let s: Value = serde_json::from_str(last).expect("json");
    assert_eq!(s["local_errors"], 0, "{s}");
}

#[test]
fn send_reports_each_line_the_firewall_refuses_and_sends_the_rest() {
    if !isolate("send_reports_each_line_the_firewall_refuses") {
        return;
    }
    let (l, host) = loopback_listener(&[]);
    // Drops every datagram whose first four bytes are "DROP".
    firewall(l.port(), "@th,64,32 0x44524f50 drop");
    let r = udpmsg(
        &["send", "--raw", "--lines", &host, "-"],
        b"one\nDROP two\nthree\nDROP four\nfive\n",
    );
    assert_eq!(r.code, 1, "{r:?}");
    let err: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        err,
        [
            "udpmsg: line 2 not sent: Operation not permitted",
            "udpmsg: line 4 not sent: Operation not permitted",
            "udpmsg: 2 lines could not be sent (3 sent)",
        ],
        "{r:?}"
    );
    for text in ["one", "three", "five"] {
        let line = l.line();
        assert!(line.ends_with(&format!("[raw]: {text}")), "{line}");
    }
    assert!(l.try_line(Duration::from_millis(200)).is_none());
}

// ---------------------------------------------------------------- item 12

#[test]
fn listen_prints_its_summary_when_it_stops_on_count() {
    if !isolate("listen_prints_its_summary_when_it_stops_on_count") {
        return;
    }
    let mut l = Listener::start(&["--count", "1"]);
    udp("127.0.0.1:0").send_to(b"hi", l.dest()).expect("send");
    let (code, out, err) = l.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].starts_with("udpmsg listen: count reached: 0 received, 1 raw, 0 malformed"),
        "{err:?}"
    );
}

#[test]
fn quiet_listen_prints_its_results_and_nothing_on_stderr() {
    if !isolate("quiet_listen_prints_its_results") {
        return;
    }
    // No "listening on" line says when it is ready: send until it has
    // shown one datagram and stopped.
    let mut child = command(&["listen", "-q", "--port", "47221", "--count", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let peer = udp("127.0.0.1:0");
    let exited = poll(WAIT, || {
        peer.send_to(b"quiet", "127.0.0.1:47221").expect("send");
        child.try_wait().expect("try_wait")
    });
    let status = exited.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("listen -q --count 1 did not stop");
    });
    assert_eq!(exit_code(status), 0);
    let out = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert!(
        out.ends_with("[raw]: quiet\n") && out.lines().count() == 1,
        "{out}"
    );
    assert_eq!(err, "", "stderr with -q");
}

#[test]
fn quiet_silences_hints_and_notes_but_not_warnings_or_errors() {
    if !isolate("quiet_silences_hints_and_notes") {
        return;
    }
    // discover: the hints when nobody answered go; before or after the
    // subcommand alike.
    let nobody = ["-I", "lo", "-p", "47231", "-t", "100ms"];
    let r = udpmsg(&[&["discover"][..], &nobody].concat(), b"");
    assert!(r.stderr.contains("no listener answered"), "{r:?}");
    for args in [
        [&["discover", "-q"][..], &nobody].concat(),
        [&["-q", "discover"][..], &nobody].concat(),
    ] {
        let r = udpmsg(&args, b"");
        assert_eq!((r.code, r.stderr.as_str(), r.stdout.as_str()), (0, "", ""));
    }
    // A warning stays: an interface that exists but is down cannot be probed.
    run_ok(
        "ip",
        &[
            "link", "add", "qdown0", "type", "veth", "peer", "name", "qdown1",
        ],
    );
    let r = udpmsg(
        &[
            "discover", "-q", "-I", "qdown0", "-p", "47231", "-t", "100ms",
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("interface 'qdown0' not probed"), "{r:?}");

    // keygen: the "wrote" line goes.
    let dir = std::env::temp_dir().join(format!("udpmsg-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("k");
    let key = key.to_str().expect("utf-8");
    let r = udpmsg(&["keygen", "-q", key], b"");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert!(std::fs::metadata(key).is_ok_and(|m| m.len() > 0));
    let r = udpmsg(&["keygen", key, "--force"], b"");
    assert!(r.stderr.contains("wrote a new key"), "{r:?}");
    // An error stays.
    let r = udpmsg(&["keygen", "-q", key], b"");
    assert!(
        r.one_line_error(2, "keygen -q over a file")
            .contains("already exists"),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // listen: the error for a busy port stays.
    let holder = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = holder.local_addr().expect("local").port().to_string();
    let r = udpmsg(&["listen", "-q", "--port", &port], b"");
    assert!(
        r.one_line_error(1, "listen -q, busy port")
            .contains("already in use"),
        "{r:?}"
    );
}

/// A pseudo-terminal: the controller, and the terminal end to give a child
/// as its stdin.
fn pty() -> (File, File) {
    // SAFETY: plain libc calls on a descriptor we own; ptsname's static
    // buffer is copied out at once, on this thread.
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(controller >= 0, "posix_openpt");
        let controller = OwnedFd::from_raw_fd(controller);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(controller.as_raw_fd()), 0, "grantpt");
        assert_eq!(libc::unlockpt(controller.as_raw_fd()), 0, "unlockpt");
        let name = libc::ptsname(controller.as_raw_fd());
        assert!(!name.is_null(), "ptsname");
        let name = std::ffi::CStr::from_ptr(name)
            .to_str()
            .expect("utf-8")
            .to_owned();
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&name)
            .expect("open the terminal end");
        (File::from(controller), terminal)
    }
}

/// `udpmsg send <extra> HOST` reading a terminal that holds one line and
/// then end-of-file: its stderr.
fn send_from_a_terminal(host: &str, extra: &[&str]) -> String {
    let (mut controller, terminal) = pty();
    let mut args = vec!["send"];
    args.extend_from_slice(extra);
    args.push(host);
    let mut child = Command::new(BIN)
        .args(&args)
        .env_remove("UDPMSG_KEY_FILE")
        .stdin(terminal)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let err = drain(child.stderr.take().expect("stderr"));
    // A line, then Ctrl-D (end of file at the start of a line).
    controller.write_all(b"typed\n\x04").expect("type");
    let code = wait_until(&mut child, WAIT, "send from a terminal");
    assert_eq!(code, 0);
    // The terminal echoes what was typed: read it so nothing blocks.
    let _ = controller.read(&mut [0u8; 64]);
    String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned()
}

#[test]
fn quiet_send_from_a_terminal_drops_the_hint_line() {
    if !isolate("quiet_send_from_a_terminal") {
        return;
    }
    let (l, host) = loopback_listener(&[]);
    let err = send_from_a_terminal(&host, &[]);
    assert_eq!(
        err,
        format!("udpmsg: sending each line you type to {host}; Ctrl-D ends\n")
    );
    assert!(l.line().ends_with(": typed"));
    let err = send_from_a_terminal(&host, &["-q"]);
    assert_eq!(err, "");
    assert!(l.line().ends_with(": typed"));
}

/// Moves this test thread into a private mount namespace (after
/// `isolate()`): what it mounts is seen by it and its children only.
fn private_mounts() {
    // SAFETY: unshare(CLONE_NEWNS) moves only this thread into a copy of
    // the mount namespace; the harness gives every test its own thread.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
    assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
    run_ok("mount", &["--make-rprivate", "/"]);
}

#[test]
fn a_save_dir_that_cannot_take_files_is_refused_at_start() {
    if !isolate("a_save_dir_that_cannot_take_files_is_refused_at_start") {
        return;
    }
    private_mounts();
    let dir = std::env::temp_dir().join(format!("udpmsg-savedir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the save dir");
    // root's, writable by root alone, whatever the umask.
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&dir, mode).expect("chmod 755");
    let path = dir.to_str().expect("utf-8 temp path").to_string();
    let refused = |cmd: Command, why: &str| {
        let run = run_io(cmd, Stdio::null(), Stdio::piped(), "listen --save-dir");
        let line = run.one_line_error(2, why);
        assert_eq!(
            line,
            format!("udpmsg: --save-dir {path}: cannot write files there: {why}")
        );
        assert_eq!(run.stdout, "", "{why}");
    };
    let listen = ["listen", "--save-dir", &path, "-p", "0", "-t", "100ms"];

    // Writable: it starts (and runs out its time), leaving nothing behind
    // of its trial.
    let run = run_io(command(&listen), Stdio::null(), Stdio::piped(), "listen");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left = || std::fs::read_dir(&dir).expect("read dir").count();
    assert_eq!(left(), 0);

    // Not writable by the user it runs as (a root-owned 0755 directory,
    // the listener as nobody): said at start, not at the first offer.
    let mut nobody = Command::new("setpriv");
    nobody.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
    nobody.args(listen).env_remove("UDPMSG_KEY_FILE");
    refused(nobody, "Permission denied");

    // Read-only (a read-only bind mount of it in this namespace).
    run_ok("mount", &["--bind", &path, &path]);
    run_ok("mount", &["-o", "remount,bind,ro", &path]);
    refused(command(&listen), "Read-only file system");
    run_ok("umount", &[&path]);

    // A file system that makes no files at all (a proc mounted on it).
    run_ok("mount", &["-t", "proc", "proc", &path]);
    refused(command(&listen), "its file system takes no new files");
    run_ok("umount", &[&path]);
    assert_eq!(left(), 0);
    std::fs::remove_dir(&dir).expect("remove the save dir");
}

#[test]
fn file_wait_is_bounded_as_the_other_periods_are() {
    if !isolate("file_wait_is_bounded_as_the_other_periods_are") {
        return;
    }
    let dir = std::env::temp_dir();
    let dir = dir.to_str().expect("utf-8 temp dir");
    // 0 would abandon every transfer at its first pause.
    for wait in ["0", "999ms", "25h"] {
        let run = udpmsg(
            &["listen", "-p", "0", "--save-dir", dir, "--file-wait", wait],
            b"",
        );
        let line = run.one_line_error(2, wait);
        assert_eq!(line, "udpmsg: --file-wait must be between 1s and 24h");
    }
    // The help and the README say the same bounds.
    let readme = include_str!("../README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(readme.contains("(`--file-wait`, 1s to 24h)"));
    let help = udpmsg(&["listen", "--help"], b"");
    assert!(
        help.stdout.contains("sent nothing for DUR, 1s to 24h"),
        "{}",
        help.stdout
    );
    for wait in ["1s", "24h"] {
        let run = udpmsg(
            &[
                "listen",
                "-p",
                "0",
                "--save-dir",
                dir,
                "--file-wait",
                wait,
                "-t",
                "1ms",
            ],
            b"",
        );
        assert_eq!(run.code, 0, "{wait}: {}", run.stderr);
    }
}

#[test]
fn send_file_of_a_fifo_or_directory_is_a_bad_argument() {
    if !isolate("send_file_of_a_fifo_or_directory_is_a_bad_argument") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("udpmsg-notfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let fifo = dir.join("fifo");
    run_ok("mkfifo", &[fifo.to_str().expect("utf-8")]);
    let mut l = Listener::start(&["--save-dir", dir.to_str().expect("utf-8")]);
    // A FIFO nobody writes to: refused before it is opened (which would
    // wait for a writer forever); a directory alike.
    for (path, kind) in [(&fifo, "a FIFO (named pipe)"), (&dir, "a directory")] {
        let path = path.to_str().expect("utf-8");
        let run = udpmsg_within(&["send", "--file", path, &l.dest()], b"", WAIT);
        let line = run.one_line_error(2, kind);
        assert!(
            line.starts_with(&format!(
                "udpmsg: --file {path}: {kind}, not a regular file;"
            )),
            "{line}"
        );
    }
    l.assert_alive();
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}
