//! `udpmsg chat`'s lines: what a member shows in a terminal or writes to
//! a pipe (text), or its JSON Lines (kinds `message`, `joined`, `left`,
//! `renamed`, `delivered`, `not_delivered`, and listen's `gap`;
//! docs/JSON.md).
//!
//! Every name and text a peer chose is escaped ([`escape_into`], or JSON's
//! [`harden_json`]); a name that alone would not say who it is is shown
//! with `#` and the first digits of its id, the same on every screen.
//!
//! - here: where the lines go ([`Screen`]), the sink ([`ChatOutput`]) and
//!   how a name is shown ([`Shown`]);
//! - `text`: each event as a text line;
//! - `json`: each event as a JSON line.

mod json;
mod text;

use super::Format;
use super::escape::{escape_into, harden_json};
use crate::commands::chat::members::{TAG_DIGITS, Who};
use crate::commands::chat::room::{Sent, State};
use crate::commands::chat::{Event, Sink};
use crate::util::hex::Id;
use json::json_line;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::SystemTime;
use text::text_line;

/// How many characters of a message a delivery line quotes.
pub const QUOTE_CHARS: usize = 40;

/// Where a member's lines go: a terminal's line editor (printed above the
/// line being typed), or a writer.
pub trait Screen {
    /// One line, without its line ending.
    fn line(&mut self, line: &str) -> io::Result<()>;
    /// Write out what was given.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer as a [`Screen`] (stdout, buffered: flushed when the chat
/// flushes, before its acknowledgements).
pub struct Writer<W: Write>(pub W);

impl<W: Write> Screen for Writer<W> {
    fn line(&mut self, line: &str) -> io::Result<()> {
        self.0.write_all(line.as_bytes())?;
        self.0.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The chat's output: its events as text lines or JSON Lines on `screen`;
/// with JSON, what is not an event (`/who`, hints) goes to stderr as text.
pub struct ChatOutput<S: Screen> {
    screen: S,
    format: Format,
    zone: jiff::tz::TimeZone,
    line: String,
}

impl<S: Screen> ChatOutput<S> {
    pub fn new(screen: S, format: Format) -> Self {
        ChatOutput {
            screen,
            format,
            zone: jiff::tz::TimeZone::system(),
            line: String::with_capacity(256),
        }
    }

    /// `event` as a text line, in `self.line` (empty for none).
    fn render_text(&mut self, event: &Event<'_>) {
        self.line.clear();
        // Writing to a String cannot fail.
        let zone = &self.zone;
        let _ = text_line(&mut self.line, event, |at| clock(zone, at));
    }

    fn text(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.render_text(event);
        if self.line.is_empty() {
            return Ok(());
        }
        self.screen.line(&self.line)
    }

    fn json(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::Sent { .. } = event {
            // A program knows what it sent: its delivery line says the rest.
            return Ok(());
        }
        let Some(line) = json_line(event) else {
            // Not an event a program reads: said on stderr, as text.
            self.render_text(event);
            if !self.line.is_empty() {
                eprintln!("{}", self.line);
            }
            return Ok(());
        };
        self.screen.line(&harden_json(&line))
    }
}

impl<S: Screen> Sink for ChatOutput<S> {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        match self.format {
            Format::Text => self.text(event),
            Format::Json => self.json(event),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.screen.flush()
    }
}

/// `[12:04:31]`: the local time of day of `at`.
fn clock(zone: &jiff::tz::TimeZone, at: SystemTime) -> String {
    match jiff::Timestamp::try_from(at) {
        Ok(ts) => ts
            .to_zoned_datetime(zone.clone())
            .strftime("[%H:%M:%S]")
            .to_string(),
        Err(_) => "[--:--:--]".to_string(),
    }
}

/// A name as the room shows it: escaped, tagged when it must be.
pub struct Shown<'a>(pub Who<'a>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        escape_into(&mut s, self.0.name);
        if self.0.tagged {
            let id = Id(self.0.id).to_string();
            let _ = write!(s, "#{}", &id[..TAG_DIGITS]);
        }
        f.write_str(&s)
    }
}

/// The names of the recipients of `sent` that did not confirm it.
fn unconfirmed(sent: &Sent) -> Vec<&str> {
    sent.recipients
        .iter()
        .filter(|r| r.state != State::Confirmed)
        .map(|r| r.name.as_str())
        .collect()
}
