//! A program started by a test, its output read line by line and its
//! stdin open (for programs that answer what they are told); killed when
//! the test ends.

use super::{WAIT, command, line_reader, rest_of, wait_until};
use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;

/// A running program with stdout and stderr read line by line and stdin
/// open; killed on drop.
pub struct Running {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub out: Receiver<String>,
    pub err: Receiver<String>,
}

impl Running {
    pub fn spawn(mut cmd: Command, what: &str) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let out = line_reader(child.stdout.take().expect("stdout"), None);
        let err = line_reader(child.stderr.take().expect("stderr"), None);
        Running {
            stdin: child.stdin.take(),
            child,
            out,
            err,
        }
    }

    pub fn program(program: &str, args: &[&str]) -> Running {
        let mut cmd = Command::new(program);
        cmd.args(args);
        Self::spawn(cmd, &format!("{program} (scripts/test.sh installs it)"))
    }

    /// `udpmsg args...`, running.
    pub fn udpmsg(args: &[&str]) -> Running {
        Self::spawn(command(args), &format!("udpmsg {args:?}"))
    }

    pub fn line(&self) -> String {
        self.out
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no output line within {WAIT:?}: {e}"))
    }

    pub fn err_line(&self) -> String {
        self.err
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no stderr line within {WAIT:?}: {e}"))
    }

    pub fn json(&self) -> serde_json::Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the exit; the code and the remaining lines.
    pub fn finish(mut self) -> (i32, Vec<String>, Vec<String>) {
        drop(self.stdin.take());
        let code = wait_until(&mut self.child, WAIT * 3, "program");
        (code, rest_of(&self.out), rest_of(&self.err))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
