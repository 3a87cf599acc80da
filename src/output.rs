//! Presenting results: the only place that turns values into text or JSON.

use crate::listen::{Event, Notice, Sink, Stats, Stop};
use serde::Serialize;
use serde::ser::Serializer;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::SystemTime;

/// Output buffer: large enough that a flood costs one write per 64 KiB.
const OUT_BUFFER: usize = 64 * 1024;

/// Text or JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// A listener sink that writes to stdout, buffered, flushed when idle.
pub struct ListenOutput<W: Write> {
    out: io::BufWriter<W>,
    format: Format,
    verbose: bool,
    line: String,
}

impl<W: Write> ListenOutput<W> {
    pub fn new(out: W, format: Format, verbose: bool) -> Self {
        ListenOutput {
            out: io::BufWriter::with_capacity(OUT_BUFFER, out),
            format,
            verbose,
            line: String::with_capacity(256),
        }
    }
}

impl<W: Write> Sink for ListenOutput<W> {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.out, &JsonEvent::from(event))?;
                self.out.write_all(b"\n")
            }
            Format::Text => {
                self.line.clear();
                // Writing to a String cannot fail.
                let _ = write_text_event(&mut self.line, event);
                self.line.push('\n');
                self.out.write_all(self.line.as_bytes())
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

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_text_event(s: &mut String, event: &Event<'_>) -> fmt::Result {
    match event {
        Event::Text {
            at,
            from,
            name,
            body,
            ..
        } => {
            write!(s, "{} {} ", Timestamp(*at), from)?;
            escape_into(s, name);
            match std::str::from_utf8(body) {
                Ok(text) => {
                    s.push_str(": ");
                    escape_into(s, text);
                }
                Err(_) => write!(s, " [hex]: {}", Hex(body))?,
            }
        }
        Event::Raw { at, from, bytes } => {
            write!(s, "{} {} ", Timestamp(*at), from)?;
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    s.push_str("[raw]: ");
                    escape_into(s, text);
                }
                Err(_) => write!(s, "[raw hex]: {}", Hex(bytes))?,
            }
        }
    }
    Ok(())
}

/// Appends `text` with control characters escaped (`\n`, `\u{1b}`), so a peer
/// cannot break lines or drive the terminal.
fn escape_into(s: &mut String, text: &str) {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        s.push_str(text);
        return;
    }
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
}

/// One JSON line of `listen --json`; the schema is documented in the README.
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(serialize_with = "display")]
    ts: Timestamp,
    #[serde(serialize_with = "display")]
    from: SocketAddr,
    kind: &'static str,
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt"
    )]
    hex: Option<Hex<'a>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt"
    )]
    sender: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

impl<'a> From<&'a Event<'a>> for JsonEvent<'a> {
    fn from(event: &'a Event<'a>) -> Self {
        match event {
            Event::Text {
                at,
                from,
                name,
                body,
                sender,
                seq,
            } => {
                let text = std::str::from_utf8(body).ok();
                JsonEvent {
                    ts: Timestamp(*at),
                    from: *from,
                    kind: "text",
                    name: Some(name),
                    text,
                    hex: text.is_none().then_some(Hex(body)),
                    sender: Some(Id(*sender)),
                    seq: Some(*seq),
                }
            }
            Event::Raw { at, from, bytes } => {
                let text = std::str::from_utf8(bytes).ok();
                JsonEvent {
                    ts: Timestamp(*at),
                    from: *from,
                    kind: "raw",
                    name: None,
                    text,
                    hex: text.is_none().then_some(Hex(bytes)),
                    sender: None,
                    seq: None,
                }
            }
        }
    }
}

fn display<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn display_opt<T: fmt::Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// RFC 3339 UTC with milliseconds: `2026-11-21T23:41:02.123Z`.
#[derive(Clone, Copy)]
pub struct Timestamp(pub SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.0))
    }
}

/// Lowercase hex of a byte string.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut chunk = [0u8; 128];
        for part in self.0.chunks(chunk.len() / 2) {
            for (i, b) in part.iter().enumerate() {
                chunk[2 * i] = DIGITS[usize::from(b >> 4)];
                chunk[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
            }
            // Only ASCII hex digits were written.
            f.write_str(std::str::from_utf8(&chunk[..2 * part.len()]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// A 64-bit id as 16 hex digits.
#[derive(Clone, Copy)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

struct NoticeText<'a, 'b>(&'a Notice<'b>);

impl fmt::Display for NoticeText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Notice::Malformed { from, error } => {
                write!(f, "dropped malformed datagram from {from}: {error}")
            }
            Notice::Sealed { from } => write!(
                f,
                "dropped sealed datagram from {from}: this listener has no key"
            ),
            Notice::ReplyFailed { to, error } => write!(f, "could not reply to {to}: {error}"),
        }
    }
}

/// The one-line summary a listener prints on stderr when it stops.
pub fn listen_summary(stop: Stop, stats: &Stats) -> String {
    let why = match stop {
        Stop::Count => "count reached".to_string(),
        Stop::Timeout => "timeout".to_string(),
        Stop::Signal(libc::SIGINT) => "interrupted".to_string(),
        Stop::Signal(libc::SIGTERM) => "terminated".to_string(),
        Stop::Signal(n) => format!("signal {n}"),
        Stop::OutputClosed => "output closed".to_string(),
    };
    let mut s = format!(
        "udpmsg listen: {why}: {} received, {} raw, {} malformed",
        stats.received, stats.raw, stats.malformed
    );
    if stats.sealed > 0 {
        let _ = write!(s, ", {} sealed (no key)", stats.sealed);
    }
    if stats.pings > 0 {
        let _ = write!(s, ", {} pings answered", stats.pings);
    }
    if stats.reply_errors > 0 {
        let _ = write!(s, ", {} replies failed", stats.reply_errors);
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
    fn hex_is_lowercase_and_complete() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = Hex(&bytes).to_string();
        assert_eq!(text.len(), 512);
        assert!(text.starts_with("000102"));
        assert!(text.ends_with("fdfeff"));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\nb\x1b[2Jc\td");
        assert_eq!(s, "a\\nb\\u{1b}[2Jc\td");
    }
}
