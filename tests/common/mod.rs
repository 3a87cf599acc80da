//! Test support: a private network namespace per test, the real binary, and
//! waits that always have a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_udpmsg");

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Moves the calling test thread into a new, empty network namespace with
/// only `lo` up. Every socket the test opens and every process it starts
/// lives there, so nothing can reach a real interface. Returns false (after a
/// loud message) when not root; the test must then return early.
#[must_use]
pub fn isolate(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n*** SKIPPED {test}: needs root for a private network namespace (unshare CLONE_NEWNET); CI runs as root ***\n"
        );
        return false;
    }
    // SAFETY: unshare with CLONE_NEWNET moves only this thread; the test
    // harness gives every test its own thread, which ends with the test.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET) failed: {}",
        std::io::Error::last_os_error()
    );
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

/// A finished run of the binary.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `udpmsg args...` to completion with `stdin` as input, killing it at
/// the deadline (which fails the test).
pub fn udpmsg(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn udpmsg");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let status = wait_deadline(&mut child, WAIT * 3, args);
    let _ = writer.join();
    Output {
        code: status,
        stdout: String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn wait_deadline(child: &mut Child, limit: Duration, args: &[&str]) -> i32 {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("udpmsg {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A running `udpmsg listen` with its output read line by line.
pub struct Listener {
    pub child: Child,
    pub addr: SocketAddr,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Listener {
    /// Starts `udpmsg listen --port 0 <args>` and waits until it is bound.
    pub fn start(args: &[&str]) -> Listener {
        let mut all = vec!["listen", "--port", "0"];
        all.extend_from_slice(args);
        Self::start_raw(&all)
    }

    /// Starts `udpmsg <args>` (which must be a listen) as given.
    pub fn start_raw(args: &[&str]) -> Listener {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn udpmsg listen");
        let lines = lines_of(child.stdout.take().expect("stdout"));
        let stderr = lines_of_err(child.stderr.take().expect("stderr"));
        let first = stderr
            .recv_timeout(WAIT)
            .expect("listener did not report its address");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first stderr line: {first}"));
        Listener {
            child,
            addr,
            lines,
            stderr,
        }
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next stdout line, or panics after the deadline.
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no output line from the listener within {WAIT:?}: {e}"))
    }

    /// The next stdout line if one comes within `wait`.
    pub fn try_line(&self, wait: Duration) -> Option<String> {
        match self.lines.recv_timeout(wait) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next stderr line if one comes within `wait`.
    pub fn try_err_line(&self, wait: Duration) -> Option<String> {
        self.stderr.recv_timeout(wait).ok()
    }

    /// Waits for the listener to exit (deadline-bounded) and returns its code.
    pub fn wait(mut self) -> (i32, Vec<String>, Vec<String>) {
        let code = wait_deadline(&mut self.child, WAIT, &["listen"]);
        let rest: Vec<String> = self.lines.try_iter().collect();
        let err: Vec<String> = self.stderr.try_iter().collect();
        (code, rest, err)
    }

    /// Sends SIGTERM/SIGINT.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(out: ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn lines_of_err(out: ChildStderr) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A plain UDP socket with a receive deadline.
pub fn udp(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).expect("bind test socket");
    s.set_read_timeout(Some(WAIT)).expect("set timeout");
    s
}
