//! Files: `send --file`'s progress bar and closing line per file (text or
//! JSON), and the line `listen` shows for each file stored (text or JSON)
//! or not stored.

use super::addr::fmt_addr;
use super::escape::{escape_into, write_json_str};
use super::{Format, Timestamp};
use crate::commands::files::receive::{Failed, Saved};
use crate::commands::files::{Progress, Sent, Size};
use crate::net::PeerAddr;
use crate::util::hex::{Hex, Id};
use crate::util::words::{IoWords, plural};
use crate::wire::file::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::Duration;

/// The progress bar's look: bytes, rate, time left.
const BAR_TEMPLATE: &str =
    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

/// Draws `send --file`'s bar on stderr while a file goes (only when asked:
/// a terminal and not `--quiet`); [`SentReport`] says each file sent.
pub struct SendProgress {
    show_bar: bool,
    bar: Option<ProgressBar>,
}

impl SendProgress {
    pub fn new(show_bar: bool) -> Self {
        SendProgress {
            show_bar,
            bar: None,
        }
    }
}

/// Says each file `send --file` delivered to `dest`: a line on stderr
/// ([`SentLine`]), or with `--json` a `sent` line on stdout (docs/JSON.md).
pub struct SentReport {
    dest: PeerAddr,
    format: Format,
}

impl SentReport {
    pub fn new(dest: PeerAddr, format: Format) -> Self {
        SentReport { dest, format }
    }

    /// Says `sent`; an error is stdout's (JSON), which cannot take it.
    pub fn sent(&self, sent: &Sent) -> io::Result<()> {
        match self.format {
            Format::Text => {
                eprintln!("udpmsg: {}", SentLine(sent, &self.dest));
                Ok(())
            }
            Format::Json => {
                let mut out = io::stdout().lock();
                write_sent_json(&mut out, sent, &self.dest)?;
                // A line a file: each as soon as it is known.
                out.flush()
            }
        }
    }
}

/// Writes `send --file --json`'s line for a file delivered to `dest`,
/// newline included (docs/JSON.md, kind `sent`).
pub fn write_sent_json(out: &mut impl Write, sent: &Sent, dest: &PeerAddr) -> io::Result<()> {
    write!(
        out,
        "{{\"ts\":\"{}\",\"kind\":\"sent\",\"to\":",
        Timestamp(sent.at)
    )?;
    write_json_str(out, &fmt_addr(dest).to_string())?;
    out.write_all(b",\"file\":")?;
    write_json_str(out, &sent.name)?;
    out.write_all(b",\"path\":")?;
    write_json_str(out, &sent.path.to_string_lossy())?;
    writeln!(
        out,
        ",\"size\":{},\"blake3\":\"{}\",\"sender\":\"{}\",\"ms\":{:.3}}}",
        sent.size,
        Hex(&sent.hash),
        Id(sent.sender),
        millis(sent.elapsed)
    )
}

impl Progress for SendProgress {
    fn start(&mut self, name: &str, size: u64) {
        if !self.show_bar {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        let mut shown = String::new();
        escape_into(&mut shown, name);
        bar.set_message(shown);
        self.bar = Some(bar);
    }

    fn advance(&mut self, confirmed: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(confirmed);
        }
    }

    fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// `sent NAME (SIZE) to DEST in 1.23 s, 45.6 MB/s, blake3 HEX`.
pub struct SentLine<'a>(pub &'a Sent, pub &'a PeerAddr);

impl fmt::Display for SentLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SentLine(sent, dest) = self;
        let mut name = String::new();
        escape_into(&mut name, &sent.name);
        let secs = sent.elapsed.as_secs_f64();
        let dest = fmt_addr(*dest);
        let n = sent.size;
        write!(f, "sent {name} ({n} {}", plural(n, "byte", "bytes"))?;
        // The size in larger units only where it says more than the bytes.
        if n >= 1024 {
            write!(f, ", {}", Size(n))?;
        }
        write!(
            f,
            ") to {dest} in {secs:.3} s, {:.1} MB/s, blake3 {}",
            mb_per_sec(n, sent.elapsed),
            Hex(&sent.hash)
        )
    }
}

/// Megabytes (10^6 bytes) a second.
pub fn mb_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    }
}

/// Writes `listen`'s text line for a stored file (no newline):
/// `TS FROM NAME [file]: OFFERED saved as PATH (SIZE bytes, MS ms, blake3 HEX)`.
pub fn write_saved_text(s: &mut String, saved: &Saved) -> fmt::Result {
    write!(s, "{} {} ", Timestamp(saved.at), fmt_addr(&saved.from))?;
    escape_into(s, &saved.name);
    s.push_str(" [file]: ");
    escape_into(s, &saved.offered);
    s.push_str(" saved as ");
    escape_into(s, &saved.path.to_string_lossy());
    write!(
        s,
        " ({} bytes, {:.3} ms, blake3 {})",
        saved.size,
        millis(saved.elapsed),
        Hex(&saved.hash)
    )
}

/// Writes `listen --json`'s line for a stored file, newline included
/// (docs/JSON.md, kind `file`).
pub fn write_saved_json(out: &mut impl Write, saved: &Saved) -> io::Result<()> {
    write!(
        out,
        "{{\"ts\":\"{}\",\"kind\":\"file\",\"from\":",
        Timestamp(saved.at)
    )?;
    // A Unix socket's path may hold quotes and backslashes.
    write_json_str(out, &fmt_addr(&saved.from).to_string())?;
    out.write_all(b",\"name\":")?;
    write_json_str(out, &saved.name)?;
    out.write_all(b",\"file\":")?;
    write_json_str(out, &saved.offered)?;
    out.write_all(b",\"path\":")?;
    write_json_str(out, &saved.path.to_string_lossy())?;
    write!(
        out,
        ",\"size\":{},\"blake3\":\"{}\",\"sender\":\"{}\",\"ms\":{:.3}",
        saved.size,
        Hex(&saved.hash),
        Id(saved.sender),
        millis(saved.elapsed)
    )?;
    if let Some(cred) = saved.cred {
        write!(out, ",\"pid\":{},\"uid\":{}", cred.pid, cred.uid)?;
    }
    out.write_all(b"}\n")
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `listen`'s stderr line (without `udpmsg: `) for a file not stored.
pub struct FailedLine<'a>(pub &'a Failed);

impl fmt::Display for FailedLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.0;
        let mut name = String::new();
        escape_into(&mut name, &failed.offered);
        write!(
            f,
            "file {name} from {} not stored: ",
            fmt_addr(&failed.from)
        )?;
        if failed.cancelled {
            return write!(f, "the sender cancelled it");
        }
        match failed.status {
            FILE_NO_SAVE_DIR => write!(f, "refused (no --save-dir)")?,
            FILE_TOO_LARGE => write!(f, "refused: larger than {}", Size(failed.detail))?,
            FILE_BUSY => write!(f, "refused: as many transfers as allowed are running")?,
            FILE_NO_SPACE => write!(f, "no space left")?,
            FILE_HASH_MISMATCH => write!(f, "hash mismatch")?,
            FILE_WRITE_FAILED => write!(f, "write failed")?,
            FILE_STOPPED => write!(f, "the listener stopped")?,
            _ => write!(
                f,
                "the transfer broke (content lost or out of place, or the sender silent too long)"
            )?,
        }
        if let Some(e) = &failed.error {
            write!(f, " ({})", IoWords(e))?;
        }
        Ok(())
    }
}

/// Partial files named in a warning at most (then how many more).
const LEFTOVERS_NAMED: usize = 8;

/// What `listen --save-dir DIR` says about the partial files killed
/// listeners left in DIR: `(note, warnings)`. The note (files removed) is
/// informational; the warnings (files kept because another listener uses
/// DIR, with the command that removes them, and files that could not be
/// removed) always print.
pub fn leftovers_lines(
    dir: &std::path::Path,
    found: &crate::commands::files::store::Leftovers,
) -> (Option<String>, Vec<String>) {
    let dir_shown = dir.display();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let note = (!found.removed.is_empty()).then(|| {
        let n = found.removed.len();
        format!(
            "udpmsg: removed {n} partial file{} a killed listener left in {dir_shown}",
            plural(n)
        )
    });
    let mut warnings = Vec::new();
    if !found.kept.is_empty() {
        let n = found.kept.len();
        let mut line = format!(
            "udpmsg: warning: {n} partial file{} in {dir_shown} belong{} to no running transfer (a listener was killed); another listener uses the directory, so they stay; to remove them: rm --",
            plural(n),
            if n == 1 { "s" } else { "" }
        );
        for path in found.kept.iter().take(LEFTOVERS_NAMED) {
            line.push(' ');
            line.push_str(&shell_quoted(&path.to_string_lossy()));
        }
        if n > LEFTOVERS_NAMED {
            let _ = write!(line, " (and {} more)", n - LEFTOVERS_NAMED);
        }
        warnings.push(line);
    }
    for (path, error) in &found.failed {
        warnings.push(format!(
            "udpmsg: warning: cannot remove the partial file {}: {}",
            path.display(),
            IoWords(error)
        ));
    }
    (note, warnings)
}

/// `s` as one word for a POSIX shell, in single quotes.
fn shell_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::escape::harden_json;
    use std::path::PathBuf;

    #[test]
    fn the_sent_line_says_the_size_once_unless_a_unit_adds_to_it() {
        let dest = PeerAddr::Inet(([127, 0, 0, 1], 47474).into());
        let line = |size: u64| {
            let sent = Sent {
                at: SystemTime::UNIX_EPOCH,
                path: PathBuf::from("a.txt"),
                name: "a.txt".into(),
                size,
                sender: 1,
                elapsed: Duration::from_secs(1),
                hash: [0xab; crate::wire::file::HASH_LEN],
            };
            SentLine(&sent, &dest).to_string()
        };
        let hash = "ab".repeat(crate::wire::file::HASH_LEN);
        assert_eq!(
            line(3),
            format!("sent a.txt (3 bytes) to 127.0.0.1:47474 in 1.000 s, 0.0 MB/s, blake3 {hash}")
        );
        assert!(
            line(1).starts_with("sent a.txt (1 byte) to "),
            "{}",
            line(1)
        );
        assert!(line(1023).starts_with("sent a.txt (1023 bytes) to "));
        assert!(line(1536).starts_with("sent a.txt (1536 bytes, 1.5 KiB) to "));
    }
    use std::time::SystemTime;

    fn saved() -> Saved {
        Saved {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123),
            from: PeerAddr::Inet("[fe80::1%3]:47474".parse().unwrap()),
            cred: None,
            sender: 0xab,
            name: "al\u{202e}ice".into(),
            offered: "../x\u{1b}.txt".into(),
            path: PathBuf::from("/in/x_.txt"),
            size: 12,
            hash: [0x5a; 32],
            elapsed: Duration::from_micros(1_234_567),
        }
    }

    #[test]
    fn the_json_file_line_is_what_serde_makes() {
        let s = saved();
        let mut composed = Vec::new();
        write_saved_json(&mut composed, &s).unwrap();
        let expected = serde_json::json!({
            "ts": Timestamp(s.at).to_string(),
            "from": fmt_addr(&s.from).to_string(),
            "kind": "file",
            "name": s.name,
            "file": s.offered,
            "path": "/in/x_.txt",
            "size": 12,
            "blake3": Hex(&s.hash).to_string(),
            "sender": "00000000000000ab",
            "ms": 1234.567,
        });
        let line = String::from_utf8(composed).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed, expected);
        // Peer-chosen strings are escaped as everywhere else.
        let plain = serde_json::to_string(&s.name).unwrap();
        let hardened = harden_json(&plain);
        assert!(line.contains(hardened.as_ref()), "{line}");
        assert!(line.ends_with("}\n"));
        assert!(line.starts_with("{\"ts\":") && line.contains("\",\"kind\":\"file\","));
    }

    #[test]
    fn the_json_sent_line_is_what_serde_makes() {
        let sent = Sent {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123),
            path: PathBuf::from("dir/\"x\u{1b}\".txt"),
            name: "\"x\u{1b}\".txt".into(),
            size: 12,
            sender: 0xab,
            elapsed: Duration::from_micros(1_234_567),
            hash: [0x5a; 32],
        };
        let dest = PeerAddr::Unix(crate::net::UnixAddr::abstract_name(b"a\"b"));
        let mut composed = Vec::new();
        write_sent_json(&mut composed, &sent, &dest).unwrap();
        let line = String::from_utf8(composed).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        let expected = serde_json::json!({
            "ts": Timestamp(sent.at).to_string(),
            "kind": "sent",
            "to": fmt_addr(&dest).to_string(),
            "file": sent.name,
            "path": "dir/\"x\u{1b}\".txt",
            "size": 12,
            "blake3": Hex(&sent.hash).to_string(),
            "sender": "00000000000000ab",
            "ms": 1234.567,
        });
        assert_eq!(parsed, expected);
        assert!(!line.contains('\u{1b}'), "{line}");
        assert!(line.ends_with("}\n"));
        assert!(line.starts_with("{\"ts\":") && line.contains("\",\"kind\":\"sent\","));
    }

    #[test]
    fn the_text_file_line_escapes_what_peers_chose() {
        let mut line = String::new();
        write_saved_text(&mut line, &saved()).unwrap();
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{202e}'),
            "{line}"
        );
        assert!(
            line.contains(
                "[file]: ../x\\x1b.txt saved as /in/x_.txt (12 bytes, 1234.567 ms, blake3 5a5a"
            ),
            "{line}"
        );
    }

    #[test]
    fn leftovers_are_told_with_a_command_that_removes_them() {
        use crate::commands::files::store::Leftovers;
        use std::path::{Path, PathBuf};
        let dir = Path::new("/in/it's");
        let found = Leftovers {
            removed: vec![PathBuf::from("/in/it's/.udpmsg-a.part")],
            kept: (0..10)
                .map(|i| PathBuf::from(format!("/in/it's/.udpmsg-{i}.part")))
                .collect(),
            failed: Vec::new(),
        };
        let (note, warnings) = leftovers_lines(dir, &found);
        assert_eq!(
            note.as_deref(),
            Some("udpmsg: removed 1 partial file a killed listener left in /in/it's")
        );
        assert_eq!(warnings.len(), 1);
        let w = &warnings[0];
        assert!(
            w.starts_with(
                "udpmsg: warning: 10 partial files in /in/it's belong to no running transfer"
            ),
            "{w}"
        );
        assert!(w.contains(r"rm -- '/in/it'\''s/.udpmsg-0.part' "), "{w}");
        assert!(
            w.ends_with(r"'/in/it'\''s/.udpmsg-7.part' (and 2 more)"),
            "{w}"
        );
    }
}
