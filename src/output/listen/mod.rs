//! `udpmsg listen`'s output: the sink that writes each event as a text or
//! JSON line (buffered, flushed when idle), `-v` notices, and the summary.

mod json;

use super::addr::{ScopeNames, fmt_addr, write_addr};
use super::escape::{escape_into, write_json_str};
use super::files;
use super::{Format, Timestamp};
use crate::commands::files::receive::Outcome;
use crate::commands::listen::{Event, Notice, Sink, Stats, Stop};
use crate::net::PeerAddr;
use crate::seal::Refusal;
use crate::util::hex::{Hex, Id};
use crate::util::words::{IoWords, plural};
use json::write_json_event;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime};

/// Output buffer: large enough that a flood costs one write per 64 KiB.
const OUT_BUFFER: usize = 64 * 1024;
/// During a flood, output is flushed at most this often (a quiet listener
/// flushes each message at once).
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// A listener sink that writes to stdout, buffered, flushed when idle.
pub struct ListenOutput<W: Write> {
    out: io::BufWriter<W>,
    format: Format,
    verbose: bool,
    line: String,
    /// The millisecond of the last timestamp formatted: the text shows
    /// milliseconds, so every datagram of that millisecond shares it.
    ts_at: Option<u128>,
    ts: String,
    /// The last sender address and id formatted: floods come from one.
    from: Option<PeerAddr>,
    from_text: String,
    /// `from_text` as a JSON string, quotes included.
    from_json: Vec<u8>,
    /// Link-local scopes' interface names, so even a flood from several
    /// link-local addresses costs no system call per line.
    scopes: ScopeNames,
    sender: Option<u64>,
    sender_text: String,
    last_flush: Instant,
}

impl<W: Write> ListenOutput<W> {
    pub fn new(out: W, format: Format, verbose: bool) -> Self {
        ListenOutput {
            out: io::BufWriter::with_capacity(OUT_BUFFER, out),
            format,
            verbose,
            line: String::with_capacity(256),
            ts_at: None,
            ts: String::with_capacity(32),
            from: None,
            from_text: String::with_capacity(48),
            from_json: Vec::with_capacity(48),
            scopes: ScopeNames::default(),
            sender: None,
            sender_text: String::with_capacity(16),
            last_flush: Instant::now(),
        }
    }
}

impl<W: Write> Sink for ListenOutput<W> {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        let at = match event {
            Event::Text { at, .. } | Event::Raw { at, .. } | Event::Gap { at, .. } => *at,
        };
        let millis = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        if self.ts_at != Some(millis) {
            self.ts.clear();
            let _ = write!(self.ts, "{}", Timestamp(at));
            self.ts_at = Some(millis);
        }
        let (from, sender) = match event {
            Event::Text { from, sender, .. } => (*from, Some(*sender)),
            Event::Raw { from, .. } => (*from, None),
            Event::Gap { from, sender, .. } => (*from, Some(*sender)),
        };
        // A flood comes from few addresses: format each once, not per line.
        if self.from.as_ref() != Some(from) {
            self.from_text.clear();
            let scopes = &mut self.scopes;
            let _ = write_addr(&mut self.from_text, from, |i| scopes.name(i, millis));
            self.from_json.clear();
            write_json_str(&mut self.from_json, &self.from_text)?;
            self.from = Some(from.clone());
        }
        match self.format {
            Format::Json => {
                if let Some(sender) = sender
                    && self.sender != Some(sender)
                {
                    self.sender_text.clear();
                    let _ = write!(self.sender_text, "{}", Id(sender));
                    self.sender = Some(sender);
                }
                write_json_event(
                    &mut self.out,
                    event,
                    &self.ts,
                    &self.from_text,
                    &self.from_json,
                    &self.sender_text,
                )
            }
            Format::Text => {
                self.line.clear();
                // Writing to a String cannot fail.
                let _ = write_text_event(&mut self.line, event, &self.ts, &self.from_text);
                self.line.push('\n');
                self.out.write_all(self.line.as_bytes())
            }
        }
    }

    fn file(&mut self, outcome: &Outcome) -> io::Result<()> {
        match (outcome, self.format) {
            (Outcome::Saved(saved), Format::Json) => files::write_saved_json(&mut self.out, saved),
            (Outcome::Saved(saved), Format::Text) => {
                self.line.clear();
                let _ = files::write_saved_text(&mut self.line, saved);
                self.line.push('\n');
                self.out.write_all(self.line.as_bytes())
            }
            // Not a result on stdout: said on stderr, whatever the format.
            (Outcome::Failed(failed), _) => {
                self.out.flush()?;
                eprintln!("udpmsg: {}", files::FailedLine(failed));
                Ok(())
            }
        }
    }

    fn notice(&mut self, notice: &Notice<'_>) -> io::Result<()> {
        if self.verbose {
            // Notices go to stderr, interleaved correctly with stdout when both
            // are a terminal: flush what is pending first.
            self.out.flush()?;
            eprintln!("udpmsg: {}", NoticeText(notice));
        }
        Ok(())
    }

    fn idle(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        if self.out.buffer().is_empty() {
            return Ok(None);
        }
        let due = self.last_flush + FLUSH_EVERY;
        if now < due {
            return Ok(Some(due));
        }
        self.last_flush = now;
        self.out.flush()?;
        Ok(None)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_text_event(s: &mut String, event: &Event<'_>, ts: &str, from: &str) -> fmt::Result {
    match event {
        Event::Text { name, body, .. } => {
            write!(s, "{ts} {from} ")?;
            escape_into(s, name);
            match std::str::from_utf8(body) {
                Ok(text) => {
                    s.push_str(": ");
                    escape_into(s, text);
                }
                Err(_) => write!(s, " [hex]: {}", Hex(body))?,
            }
        }
        Event::Raw { bytes, .. } => {
            write!(s, "{ts} {from} ")?;
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    s.push_str("[raw]: ");
                    escape_into(s, text);
                }
                Err(_) => write!(s, "[raw hex]: {}", Hex(bytes))?,
            }
        }
        Event::Gap {
            sender,
            first,
            last,
            ..
        } => {
            let n = last - first + 1;
            write!(
                s,
                "{ts} {from} [gap]: {n} message(s) never arrived (sender {}, seq {first}",
                Id(*sender)
            )?;
            if last != first {
                write!(s, "-{last}")?;
            }
            s.push(')');
        }
    }
    Ok(())
}

struct NoticeText<'a, 'b>(&'a Notice<'b>);

impl fmt::Display for NoticeText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Notice::Malformed { from, error } => {
                write!(
                    f,
                    "dropped malformed datagram from {}: {error} [{}]",
                    fmt_addr(&**from),
                    error.label()
                )
            }
            Notice::Refused { from, why } => {
                write!(f, "dropped datagram from {}: ", fmt_addr(&**from))?;
                match why {
                    Refusal::RawWithKey => {
                        write!(f, "not sealed (raw; a keyed listener shows none)")
                    }
                    Refusal::Unsealed => write!(f, "not sealed with a key"),
                    Refusal::NoKey => write!(f, "sealed, and this listener has no key"),
                    Refusal::Malformed(e) => write!(f, "malformed: {e}"),
                    Refusal::Rejected(r) => write!(f, "{}", r.label()),
                }
            }
            Notice::ReplyFailed { to, error } => {
                write!(
                    f,
                    "could not reply to {}: {}",
                    fmt_addr(&**to),
                    IoWords(error)
                )
            }
            Notice::Answered { to } => {
                write!(f, "answered discovery probe from {}", fmt_addr(&**to))
            }
            Notice::ProbeIgnored { from, why } => {
                write!(
                    f,
                    "ignored discovery probe from {}: {why}",
                    fmt_addr(&**from)
                )
            }
            Notice::PingIgnored { from, why } => {
                write!(f, "ignored ping from {}: {why}", fmt_addr(&**from))
            }
            Notice::EchoIgnored { from, why } => {
                write!(f, "did not echo datagram from {}: {why}", fmt_addr(&**from))
            }
            Notice::Announced {
                what,
                to,
                interface,
            } => write!(f, "{what} sent to {} on {interface}", fmt_addr(*to)),
            Notice::AnnounceFailed {
                what,
                to,
                interface,
                error,
            } => write!(
                f,
                "{what} to {} on {interface} failed: {}",
                fmt_addr(*to),
                IoWords(error)
            ),
            Notice::Unanswerable { what } => write!(
                f,
                "did not answer a {what} from a Unix socket without a name (it never bound one: nothing can reach it)"
            ),
        }
    }
}

/// The one-line summary a listener prints on stderr when it stops.
pub fn listen_summary(stop: Stop, stats: &Stats) -> String {
    let why = match stop {
        Stop::Count => "count reached".to_string(),
        Stop::Timeout => "timeout".to_string(),
        Stop::Signal(n @ (libc::SIGINT | libc::SIGTERM | libc::SIGHUP)) => {
            crate::util::words::signal_words(n).to_string()
        }
        Stop::Signal(n) => format!("signal {n}"),
        Stop::OutputClosed => "output closed".to_string(),
        Stop::OutputFailed => "output failed".to_string(),
    };
    let mut s = format!(
        "udpmsg listen: {why}: {} received, {} raw, {} malformed",
        stats.received, stats.raw, stats.malformed
    );
    for (n, one, many) in [
        (stats.sealed, "sealed (no key)", "sealed (no key)"),
        (stats.unsealed, "unsealed refused", "unsealed refused"),
        (stats.raw_refused, "raw refused", "raw refused"),
        (stats.forged, "forged or wrong key", "forged or wrong key"),
        (stats.replayed, "replayed", "replayed"),
        (stats.stale, "stale", "stale"),
        (stats.pings, "ping answered", "pings answered"),
        (stats.pings_ignored, "ping ignored", "pings ignored"),
        (stats.answers, "probe answered", "probes answered"),
        (stats.probes_ignored, "probe ignored", "probes ignored"),
        (stats.acks, "ack sent", "acks sent"),
        (stats.echoed, "echoed", "echoed"),
        (stats.echoes_ignored, "not echoed", "not echoed"),
        (
            stats.duplicates,
            "duplicate suppressed",
            "duplicates suppressed",
        ),
        (
            stats.missing,
            "message missing (gaps)",
            "messages missing (gaps)",
        ),
        (stats.files, "file stored", "files stored"),
        (stats.files_failed, "file not stored", "files not stored"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {}", plural(n, one, many));
        }
    }
    if stats.reply_errors > 0 {
        let n = stats.reply_errors;
        let _ = write!(s, ", {n} {} failed", plural(n, "reply", "replies"));
    }
    if stats.unanswerable > 0 {
        let _ = write!(
            s,
            ", {} not answered (sender without a name)",
            stats.unanswerable
        );
    }
    match stats.kernel_drops {
        Some(n) => {
            let _ = write!(s, ", {n} dropped by the kernel");
        }
        None => s.push_str(", kernel drops unknown"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_one_is_said_in_the_singular() {
        let one = Stats {
            received: 1,
            pings: 1,
            files: 1,
            files_failed: 1,
            reply_errors: 1,
            kernel_drops: Some(0),
            ..Stats::default()
        };
        assert_eq!(
            listen_summary(Stop::Timeout, &one),
            "udpmsg listen: timeout: 1 received, 0 raw, 0 malformed, 1 ping answered, \
             1 file stored, 1 file not stored, 1 reply failed, 0 dropped by the kernel"
        );
        let two = Stats {
            files: 2,
            files_failed: 2,
            ..one
        };
        let said = listen_summary(Stop::Timeout, &two);
        assert!(
            said.contains(", 2 files stored, 2 files not stored, "),
            "{said}"
        );
    }

    fn gap_line(first: u64, last: u64) -> String {
        let mut s = String::new();
        let from = PeerAddr::Inet(([127, 0, 0, 1], 9).into());
        let event = Event::Gap {
            at: SystemTime::UNIX_EPOCH,
            from: &from,
            sender: 0xab,
            first,
            last,
        };
        write_text_event(&mut s, &event, "TS", "127.0.0.1:9").expect("write to a String");
        s
    }

    #[test]
    fn gap_line_shows_a_range_as_first_dash_last() {
        assert_eq!(
            gap_line(5, 8),
            "TS 127.0.0.1:9 [gap]: 4 message(s) never arrived (sender 00000000000000ab, seq 5-8)"
        );
        assert_eq!(
            gap_line(7, 7),
            "TS 127.0.0.1:9 [gap]: 1 message(s) never arrived (sender 00000000000000ab, seq 7)"
        );
    }
}
