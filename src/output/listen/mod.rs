//! `udpmsg listen`'s output: the sink that writes each event as a text or
//! JSON line (buffered, flushed when idle), `-v` notices, and the summary.

//!
//! - `text`: text lines and the `-v` notices' words;
//! - `json`: `--json` lines;
//! - `lines`: the output buffer (big bodies written from where they are);
//! - `summary`: the summary line ([`listen_summary`]).

mod json;
mod lines;
mod summary;
mod text;

pub use summary::listen_summary;

use super::addr::{ScopeNames, write_addr};
use super::escape::write_json_str;
use super::files;
use super::{Format, Timestamp};
use crate::commands::files::receive::Outcome;
use crate::commands::listen::{Event, Notice, Sink};
use crate::net::PeerAddr;
use crate::util::hex::Id;
use json::write_json_event;
use lines::Lines;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime};
use text::{NoticeText, write_text_event};

/// During a flood, output is flushed at most this often (a quiet listener
/// flushes each message at once).
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// A listener sink that writes to stdout, buffered, flushed when idle.
pub struct ListenOutput<W: Write> {
    out: Lines<W>,
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
            out: Lines::new(out),
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
            Format::Text => write_text_event(&mut self.out, event, &self.ts, &self.from_text),
        }
    }

    fn file(&mut self, outcome: &Outcome) -> io::Result<()> {
        match (outcome, self.format) {
            (Outcome::Saved(saved), Format::Json) => {
                files::write_saved_json(self.out.buf(), saved)?;
                self.out.end_line()
            }
            (Outcome::Saved(saved), Format::Text) => {
                self.line.clear();
                let _ = files::write_saved_text(&mut self.line, saved);
                self.line.push('\n');
                self.out.buf().extend_from_slice(self.line.as_bytes());
                self.out.end_line()
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
        // A group that cannot be joined on an interface that came up is
        // a warning, as it is at start.
        let warning = matches!(notice, Notice::GroupJoinFailed { .. });
        if self.verbose || warning {
            // Notices go to stderr, interleaved correctly with stdout when both
            // are a terminal: flush what is pending first.
            self.out.flush()?;
            let prefix = if warning { "warning: " } else { "" };
            eprintln!("udpmsg: {prefix}{}", NoticeText(notice));
        }
        Ok(())
    }

    fn idle(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        if self.out.is_empty() {
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

#[cfg(test)]
mod tests;
