//! A second network namespace beside the test thread's, joined to it by a
//! veth pair: a two-host LAN for tests that shape or filter one side.

use super::{owner, run_ok};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A second network namespace `B` beside this thread's, joined to it by a
/// veth pair (10.77.0.1 here, 10.77.0.2 there; each test thread has a
/// namespace of its own, so the addresses never meet). `B` is named
/// `udpmsg-<pid>-veth<n>` (see `owner.rs`). Dropping it kills what
/// still runs in `B` and deletes it.
pub struct Veth {
    /// The other namespace's name.
    pub ns: String,
    /// This side's end of the pair.
    pub dev: String,
}

impl Veth {
    pub fn new() -> Veth {
        // Tests of one file run at once in one process, and other processes
        // (another checkout's tests) at the same time: the namespace name
        // carries this process's token and a per-pair number. The interface
        // names need only the number (both ends live in namespaces of this
        // test; at most 15 bytes).
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % 100;
        owner::reap();
        let veth = Veth {
            ns: owner::prefix(&format!("veth{n}")),
            dev: format!("udpf{n}a"),
        };
        // A leftover of a crashed run whose pid this process now has.
        let _ = Command::new("ip")
            .args(["netns", "del", &veth.ns])
            .stderr(Stdio::null())
            .status();
        let (ns, dev) = (&veth.ns, &veth.dev);
        let setup = format!(
            "ip netns add {ns} && ip link add {dev} type veth peer name {dev}b netns {ns} && \
             ip addr add 10.77.0.1/24 dev {dev} && ip link set {dev} up && \
             ip -n {ns} addr add 10.77.0.2/24 dev {dev}b && ip -n {ns} link set {dev}b up && \
             ip -n {ns} link set lo up"
        );
        run_ok("sh", &["-c", &setup]);
        veth
    }

    /// `program args...` run in `B`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).args(args);
        cmd
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill has no memory-safety preconditions; only
                    // processes this test started run in its namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}
