//! Names for the network namespaces tests create: unique to this test
//! process, and telling which process owns them, so that two checkouts
//! testing at once never share one and the leftovers of a crashed run can be
//! deleted without touching a live run's (`scripts/lan.sh prefix` and
//! `reap` are the other half of the same rule).
//!
//! Shared by `common/mod.rs` and `common/lan.rs` (which is included on its
//! own), so it depends only on std.

use std::process::{Command, Stdio};

/// The script that defines the naming rule and reaps leftovers.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lan.sh");

/// What every owned namespace name starts with.
pub const OWNED: &str = "udpmsg-";

/// `n` in base36, lowercase (a pid fits in 5 digits).
pub fn base36(mut n: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The prefix of the namespaces process `pid` owns for `tag`:
/// `udpmsg-<pid in base36>-<tag>` (`lan.sh prefix TAG PID` prints the same).
pub fn prefix_of(pid: u32, tag: &str) -> String {
    format!("{OWNED}{}-{tag}", base36(pid))
}

/// The prefix of this test process's namespaces for `tag`. Tags must be
/// unique within a test file (tests of one file run at once in one process)
/// and none a prefix of another.
pub fn prefix(tag: &str) -> String {
    prefix_of(std::process::id(), tag)
}

/// Runs `lan.sh reap`: deletes the namespaces of owners that are no longer
/// running (never a live run's). Failure is reported, not fatal: a leftover
/// is untidy, not a reason to fail the test that happened to notice it.
pub fn reap() {
    match Command::new("bash")
        .args([SCRIPT, "reap"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "lan.sh reap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("cannot run {SCRIPT}: {e}"),
    }
}
