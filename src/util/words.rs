//! Words for an I/O error (what the system says, without Rust's
//! "(os error N)" suffix, which repeats the words as a number), for the
//! signal that ended a command, and for a count of things.

use std::fmt;
use std::io;

/// Shows an [`io::Error`] as its words alone, as the system says them:
/// "No such file or directory", not "No such file or directory (os error 2)".
#[derive(Debug, Clone, Copy)]
pub struct IoWords<'a>(pub &'a io::Error);

impl fmt::Display for IoWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The routing errors in the words every send failure uses.
        match self.0.raw_os_error() {
            Some(libc::ENETUNREACH) => return f.write_str("network unreachable (no route)"),
            Some(libc::EHOSTUNREACH) => return f.write_str("host unreachable"),
            _ => {}
        }
        let text = self.0.to_string();
        let text = match self.0.raw_os_error() {
            Some(code) => text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text),
            None => &text,
        };
        f.write_str(text)
    }
}

/// What a signal that ended a command did, in a summary's words: Ctrl-C
/// "interrupted", SIGTERM "terminated", SIGHUP (the terminal closed) "hung
/// up".
pub fn signal_words(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "interrupted",
        libc::SIGTERM => "terminated",
        libc::SIGHUP => "hung up",
        _ => "stopped by a signal",
    }
}

/// `one` for a count of 1, `many` for any other: "1 file stored",
/// "0 files stored", "2 files stored".
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(plural(1, "file", "files"), "file");
        for n in [0, 2, 11, u64::MAX] {
            assert_eq!(plural(n, "file", "files"), "files");
        }
    }

    #[test]
    fn os_errors_lose_the_number() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert!(e.to_string().ends_with("(os error 2)"), "{e}");
        assert_eq!(IoWords(&e).to_string(), "No such file or directory");
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(IoWords(&e).to_string(), "Permission denied");
        let e = io::Error::other("IPv6 is off");
        assert_eq!(IoWords(&e).to_string(), "IPv6 is off");
    }
}
