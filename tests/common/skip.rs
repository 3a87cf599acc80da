//! What a test does when it cannot have its network namespace: it fails,
//! unless `UDPMSG_SKIP_NETNS=1` is set, and then it says SKIPPED on a line
//! the test harness does not capture. A test never passes silently.
//!
//! Shared by `common/mod.rs` and `common/lan.rs` (which is included on its
//! own), so it depends only on std.

use std::io::Write;

/// The variable that turns "cannot run" from a failure into a visible skip.
pub const SKIP_NETNS: &str = "UDPMSG_SKIP_NETNS";

/// Called when `test` cannot get the namespace it needs, for reason `why`:
/// with `UDPMSG_SKIP_NETNS=1` it reports the skip and returns false (the
/// test must then return at once); otherwise it fails the test.
pub fn without_netns(test: &str, why: &str) -> bool {
    if std::env::var_os(SKIP_NETNS).is_some_and(|v| v == "1") {
        shout(&format!("*** SKIPPED {test}: {why} ({SKIP_NETNS}=1) ***"));
        return false;
    }
    panic!(
        "{test}: {why}. Run the tests as root (scripts/test.sh), or set {SKIP_NETNS}=1 to skip \
         the tests that need a network namespace."
    );
}

/// Writes `line` where the person running the tests sees it. libtest
/// captures what `print!`/`eprint!` write (and shows it only for a failed
/// test), but not writes to the `std::io::stderr()` handle itself.
pub fn shout(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{line}");
}
