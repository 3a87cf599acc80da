//! Test support: a private network namespace per test, the real binary, and
//! waits that always have a deadline.
#![allow(dead_code)]

mod dir;
pub mod docs;
pub mod full;
pub mod owner;
mod running;
mod skip;
pub mod veth;
#[allow(unused_imports)] // not every test file uses them
pub use dir::Dir;
#[allow(unused_imports)]
pub use running::Running;
#[allow(unused_imports)] // not every test file uses both
pub use skip::{SKIP_NETNS, shout};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_udpmsg");

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Moves the calling test thread into a new, empty network namespace with
/// only `lo` up. Every socket the test opens and every process it starts
/// lives there, so nothing can reach a real interface. Without the privilege
/// to do so the test fails, unless `UDPMSG_SKIP_NETNS=1` is set: then it
/// returns false after a SKIPPED line the harness shows, and the test must
/// return at once.
#[must_use]
pub fn isolate(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip::without_netns(
            test,
            "needs root for a private network namespace (unshare CLONE_NEWNET)",
        );
    }
    // SAFETY: unshare with CLONE_NEWNET moves only this thread; the test
    // harness gives every test its own thread, which ends with the test.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let err = std::io::Error::last_os_error();
        return skip::without_netns(test, &format!("unshare(CLONE_NEWNET) failed: {err}"));
    }
    run_ok("ip", &["link", "set", "lo", "up"]);
    true
}

/// Runs a command (in this thread's namespace) and asserts it succeeded.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- processes

/// `udpmsg args...` with the udpmsg variables (`UDPMSG_PORT`,
/// `UDPMSG_NAME`, `UDPMSG_KEY_FILE`) cleared.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("UDPMSG_PORT")
        .env_remove("UDPMSG_NAME")
        .env_remove("UDPMSG_KEY_FILE");
    cmd
}

/// The exit code, or minus the signal that killed the process.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

// ---------------------------------------------------------------- waiting

/// How often [`poll`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Calls `check` every few milliseconds until it returns a value, which is
/// returned, or until `limit` has passed (None). `check` runs at least once,
/// and once more at the deadline.
pub fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        let last = Instant::now() >= end;
        if let Some(value) = check() {
            return Some(value);
        }
        if last {
            return None;
        }
        thread::sleep(POLL_EVERY.min(end.saturating_duration_since(Instant::now())));
    }
}

/// [`poll`] that fails the test, naming `what`, when `limit` passes first.
pub fn wait_for<T>(limit: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll(limit, check).unwrap_or_else(|| panic!("{what}: not within {limit:?}"))
}

/// Waits for `child` to exit, killing it (and failing) at the deadline.
pub fn wait_status(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    if let Some(status) = poll(limit, || child.try_wait().expect("try_wait")) {
        return status;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what} did not finish within {limit:?}");
}

/// [`wait_status`] as an [`exit_code`].
pub fn wait_until(child: &mut Child, limit: Duration, what: &str) -> i32 {
    exit_code(wait_status(child, limit, what))
}

// ---------------------------------------------------------------- runs

/// Reads all of `r` on a thread.
pub fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// A finished process: its [`exit_code`] and what it wrote (lossily decoded).
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the run failed with `code`, exactly one `udpmsg: ` line on
    /// stderr (never a panic) and nothing on stdout; returns that line.
    pub fn one_line_error(&self, code: i32, what: &str) -> String {
        assert_eq!(
            self.code, code,
            "{what}: expected exit {code}, got {}; stderr: {}",
            self.code, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{what}: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{what}: expected one stderr line: {}",
            self.stderr
        );
        assert!(
            lines[0].starts_with("udpmsg: "),
            "{what}: stderr line without the program name: {}",
            lines[0]
        );
        assert!(
            self.stdout.is_empty(),
            "{what}: unexpected stdout: {}",
            self.stdout
        );
        lines[0].to_string()
    }
}

/// Loads an nftables ruleset: `cmd` is `nft` (or `ip netns exec NS nft`),
/// given the rules on stdin (`-f -`); fails the test if nft refuses them.
pub fn nft_load(mut cmd: Command, rules: &str) {
    cmd.args(["-f", "-"]);
    let out = run_captured(cmd, rules.as_bytes(), WAIT, "nft -f -");
    assert_eq!(out.code, 0, "nft failed: {}\n{rules}", out.stderr);
}

/// Runs `cmd` to completion with `stdin` as its input and both outputs
/// captured, killing it (and failing) after `limit`.
pub fn run_captured(mut cmd: Command, stdin: &[u8], limit: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let status = wait_status(&mut child, limit, what);
    let _ = writer.join();
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Output {
        code: exit_code(status),
        stdout: text(stdout.join().unwrap_or_default()),
        stderr: text(stderr.join().unwrap_or_default()),
    }
}

/// Runs `udpmsg args...` (see [`command`]) to completion with `stdin` as
/// input, killing it at a generous deadline (which fails the test).
pub fn udpmsg(args: &[&str], stdin: &[u8]) -> Output {
    udpmsg_within(args, stdin, WAIT * 3)
}

/// [`udpmsg`] that fails unless the run has ended within `limit`.
pub fn udpmsg_within(args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    run_captured(command(args), stdin, limit, &format!("udpmsg {args:?}"))
}

// ---------------------------------------------------------------- lines

/// Reads `out` line by line (lossily decoded, without the newline) into a
/// channel; stops (closing the pipe) after `limit` lines when given, like
/// `head -n`. The channel disconnects when the reader ends.
pub fn line_reader(out: impl Read + Send + 'static, limit: Option<usize>) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(out);
        let mut read = 0usize;
        loop {
            if limit.is_some_and(|limit| read >= limit) {
                return;
            }
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            read += 1;
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Every line until the writer closed its end (deadline-bounded).
pub fn rest_of(rx: &Receiver<String>) -> Vec<String> {
    rest_until(rx, Instant::now() + WAIT)
}

/// Every line until the writer closed its end, failing at `end`.
pub fn rest_until(rx: &Receiver<String>, end: Instant) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(RecvTimeoutError::Disconnected) => return lines,
            Err(RecvTimeoutError::Timeout) => panic!("output did not end in time"),
        }
    }
}

/// An address as udpmsg shows it (`192.0.2.7:9`, `[::1]:9`,
/// `[fe80::1%eth0]:9`): the address, without its scope, and the scope (an
/// interface name) when it has one. `None` when it is not such an address.
pub fn parse_shown_addr(text: &str) -> Option<(SocketAddr, Option<String>)> {
    let Some((inside, port)) = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("]:"))
    else {
        return text
            .parse()
            .ok()
            .filter(SocketAddr::is_ipv4)
            .map(|a| (a, None));
    };
    let (ip, scope) = match inside.split_once('%') {
        Some((ip, scope)) if !scope.is_empty() => (ip, Some(scope.to_string())),
        Some(_) => return None,
        None => (inside, None),
    };
    let ip: std::net::Ipv6Addr = ip.parse().ok()?;
    let port: u16 = port.parse().ok()?;
    Some((SocketAddr::new(ip.into(), port), scope))
}

/// The address in a listener's `... listening on ADDR ...` line.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|a| a.parse().ok())
}

// ---------------------------------------------------------------- listener

/// A running `udpmsg listen` with its output read line by line.
pub struct Listener {
    pub child: Child,
    pub addr: SocketAddr,
    pub out: Receiver<String>,
    pub err: Receiver<String>,
}

impl Listener {
    /// Starts `udpmsg listen --port 0 <args>` and waits until it is bound.
    pub fn start(args: &[&str]) -> Listener {
        let mut all = vec!["listen", "--port", "0"];
        all.extend_from_slice(args);
        Self::start_raw(&all)
    }

    /// Starts `udpmsg <args>` (which must be a listen) as given, with the
    /// udpmsg variables cleared.
    pub fn start_raw(args: &[&str]) -> Listener {
        Self::spawn_cmd(command(args), None, false, &format!("udpmsg {args:?}"))
    }

    /// Spawns `cmd` (a listen) with stdout and stderr read line by line
    /// (stdout closed after `stdout_limit` lines when given) and waits until
    /// it reports its address. Stderr lines before that fail the test unless
    /// `allow_warnings` and they are warnings.
    pub fn spawn_cmd(
        mut cmd: Command,
        stdout_limit: Option<usize>,
        allow_warnings: bool,
        what: &str,
    ) -> Listener {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let out = line_reader(child.stdout.take().expect("stdout"), stdout_limit);
        let err = line_reader(child.stderr.take().expect("stderr"), None);
        let end = Instant::now() + WAIT;
        let addr = loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = match err.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{what} did not report its address: {e}");
                }
            };
            if let Some(addr) = listening_addr(&line) {
                break addr;
            }
            if !(allow_warnings && line.contains("warning")) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: unexpected stderr line: {line}");
            }
        };
        Listener {
            child,
            addr,
            out,
            err,
        }
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:port`, for `send`.
    pub fn dest(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The next stdout line, or panics after the deadline.
    pub fn line(&self) -> String {
        self.out
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no output line from the listener within {WAIT:?}: {e}"))
    }

    /// The next stdout line (deadline-bounded) as JSON.
    pub fn json(&self) -> serde_json::Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// The next stdout line if one comes within `wait`.
    pub fn try_line(&self, wait: Duration) -> Option<String> {
        self.out.recv_timeout(wait).ok()
    }

    /// The next stderr line if one comes within `wait`.
    pub fn try_err_line(&self, wait: Duration) -> Option<String> {
        self.err.recv_timeout(wait).ok()
    }

    /// Asserts the listener is still running.
    pub fn assert_alive(&mut self) {
        let status = self.child.try_wait().expect("try_wait");
        assert!(status.is_none(), "listener died: {status:?}");
    }

    /// Sends `sig` (SIGTERM, SIGINT, ...), asserting kill(2) worked.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the exit (deadline-bounded), then for every line still to
    /// come on stdout and stderr until they close (deadline-bounded too).
    pub fn finish_lines(&mut self) -> (i32, Vec<String>, Vec<String>) {
        let code = wait_until(&mut self.child, WAIT, "udpmsg listen");
        (code, rest_of(&self.out), rest_of(&self.err))
    }

    /// SIGTERM, then [`Listener::finish_lines`].
    pub fn terminate(&mut self) -> (i32, Vec<String>, Vec<String>) {
        self.signal(libc::SIGTERM);
        self.finish_lines()
    }

    /// Waits for the listener to exit and returns its code with the stdout
    /// and stderr lines not read yet.
    pub fn wait(mut self) -> (i32, Vec<String>, Vec<String>) {
        self.finish_lines()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- misc

/// A plain UDP socket with a receive deadline.
pub fn udp(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).expect("bind test socket");
    s.set_read_timeout(Some(WAIT)).expect("set timeout");
    s
}

/// xorshift64*: small, deterministic (a failure reproduces from its seed),
/// good enough to pick cases and mutate datagrams.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// `message` encoded as one datagram.
pub fn encoded(message: &udpmsg::wire::Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    udpmsg::wire::encode(message, udpmsg::wire::MAX_DATAGRAM, &mut out).expect("encode");
    out
}

/// The words a summary uses for a count of 1 in place of `what`, its
/// words for any other count: "ping answered" for "pings answered",
/// "reply failed" for "replies failed"; words that do not change come
/// back as they are ("stale", "raw refused").
pub fn singular(what: &str) -> String {
    let (first, rest) = what.split_once(' ').unwrap_or((what, ""));
    let one = if let Some(stem) = first.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = first.strip_suffix('s') {
        stem.to_string()
    } else {
        first.to_string()
    };
    if rest.is_empty() {
        one
    } else {
        format!("{one} {rest}")
    }
}
