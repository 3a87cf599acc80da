//! `udpmsg chat`'s lines: what a member shows in a terminal or writes to
//! a pipe (text), or its JSON Lines (kinds `message`, `joined`, `left`,
//! `renamed`, `delivered`, `not_delivered`, and listen's `gap`;
//! docs/JSON.md).
//!
//! Every name and text a peer chose is escaped ([`escape_into`], or JSON's
//! [`harden_json`]); a name that alone would not say who it is is shown
//! with `#` and the first digits of its id, the same on every screen.

use super::escape::{escape_into, harden_json};
use super::{Format, Timestamp, fmt_addr};
use crate::commands::chat::members::{TAG_DIGITS, Who};
use crate::commands::chat::room::{Sent, State};
use crate::commands::chat::{self, Event, Note, Sink};
use crate::util::hex::{Hex, Id};
use serde::Serialize;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

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

    fn text(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.line.clear();
        // Writing to a String cannot fail.
        let zone = &self.zone;
        let _ = text_line(&mut self.line, event, |at| clock(zone, at));
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
            self.line.clear();
            let zone = &self.zone;
            let _ = text_line(&mut self.line, event, |at| clock(zone, at));
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

/// A message's text, escaped: `/me waves` as an action.
fn says(s: &mut String, who: Who<'_>, to: Option<Who<'_>>, body: &[u8]) -> fmt::Result {
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text.strip_prefix("/me ") {
        write!(s, "* {}", Shown(who))?;
        if let Some(to) = to {
            write!(s, " (to {})", Shown(to))?;
        }
        s.push(' ');
        escape_into(s, action);
        return Ok(());
    }
    write!(s, "{}", Shown(who))?;
    if let Some(to) = to {
        write!(s, " → {}", Shown(to))?;
    }
    s.push_str(": ");
    escape_into(s, &text);
    Ok(())
}

/// The start of a message, quoted in its delivery line as it was shown:
/// `/me waves` by `me` as `* bob waves`.
fn quote(s: &mut String, me: Who<'_>, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    let text = match text.strip_prefix("/me ") {
        Some(action) => {
            let _ = write!(s, "* {} ", Shown(me));
            action
        }
        None => &text,
    };
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    escape_into(s, &head);
    if chars.next().is_some() {
        s.push('…');
    }
}

/// How long ago, for `/who`: `now`, `3s ago`, `2m ago`.
fn ago(d: Duration) -> String {
    match d.as_secs() {
        0 => "now".to_string(),
        s @ 1..=119 => format!("{s}s ago"),
        s => format!("{}m ago", s / 60),
    }
}

/// One event as a text line (empty for none).
fn text_line(
    s: &mut String,
    event: &Event<'_>,
    clock: impl Fn(SystemTime) -> String,
) -> fmt::Result {
    match event {
        Event::Message { at, who, body, .. } => {
            write!(s, "{} ", clock(*at))?;
            says(s, *who, None, body)?;
        }
        Event::Sent {
            at, me, to, body, ..
        } => {
            write!(s, "{} ", clock(*at))?;
            says(s, *me, *to, body)?;
        }
        Event::Gap {
            at,
            who,
            first,
            last,
            ..
        } => {
            let n = last - first + 1;
            let plural = if n == 1 { "" } else { "s" };
            write!(
                s,
                "{} * {n} message{plural} from {} never arrived",
                clock(*at),
                Shown(*who)
            )?;
        }
        Event::Resolved { sent, me, .. } => {
            write!(s, "{} ", clock(sent.at))?;
            let missing: Vec<&str> = sent
                .recipients
                .iter()
                .filter(|r| r.state != State::Confirmed)
                .map(|r| r.name.as_str())
                .collect();
            if sent.nobody() {
                s.push_str("not delivered: nobody else is here (");
                quote(s, *me, &sent.body);
                s.push(')');
            } else if missing.is_empty() {
                s.push_str("✓ ");
                quote(s, *me, &sent.body);
            } else {
                s.push_str("not delivered to: ");
                for (i, name) in missing.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    escape_into(s, name);
                }
                s.push_str(" (");
                quote(s, *me, &sent.body);
                s.push(')');
            }
        }
        Event::Joined { who, .. } => write!(s, "* {} joined", Shown(*who))?,
        Event::Left { who, expired, .. } => {
            write!(s, "* {} left", Shown(*who))?;
            if *expired {
                s.push_str(" (no longer heard)");
            }
        }
        Event::Renamed { old, who, .. } => {
            s.push_str("* ");
            escape_into(s, old);
            write!(s, " is now {}", Shown(*who))?;
        }
        Event::Members { me, members } => {
            write!(
                s,
                "* {} in the room: you ({})",
                members.len() + 1,
                Shown(*me)
            )?;
            for m in members.iter() {
                write!(s, "\n*   {}", Shown(m.who))?;
                for (i, a) in m.addrs.iter().enumerate() {
                    s.push_str(if i == 0 { "  " } else { ", " });
                    write!(s, "{}", fmt_addr(*a))?;
                }
                write!(s, "  heard {}", ago(m.ago))?;
            }
        }
        Event::Note(note) => note_line(s, note)?,
    }
    Ok(())
}

fn note_line(s: &mut String, note: &Note<'_>) -> fmt::Result {
    match note {
        Note::Unknown(word) => {
            s.push_str("* unknown command /");
            escape_into(s, &String::from_utf8_lossy(word));
            write!(s, ": try {}", chat::command::COMMANDS)
        }
        Note::Usage(usage) => write!(s, "* usage: {usage}"),
        Note::NoSuchMember { name, ambiguous } => {
            s.push_str("* ");
            if *ambiguous {
                s.push_str("several members are called ");
                escape_into(s, name);
                s.push_str(": name one with its #digits (see /who)");
            } else {
                s.push_str("no member is called ");
                escape_into(s, name);
                s.push_str(" (see /who)");
            }
            Ok(())
        }
        Note::TooLarge { len, max } => write!(
            s,
            "* message too long: {len} bytes, at most {max}: not sent"
        ),
        Note::BadName { len, max } => {
            write!(s, "* name too long: {len} bytes, at most {max}")
        }
        Note::Full { max } => write!(
            s,
            "* the room is full ({max} members): newcomers are not members until someone leaves"
        ),
    }
}

/// `ts` of a JSON line.
fn ts(at: SystemTime) -> String {
    Timestamp(at).to_string()
}

/// A message's text, or its bytes as hex when they are not UTF-8.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

impl<'a> Body<'a> {
    fn of(body: &'a [u8]) -> Self {
        match std::str::from_utf8(body) {
            Ok(text) => Body {
                text: Some(text),
                hex: None,
            },
            Err(_) => Body {
                text: None,
                hex: Some(Hex(body).to_string()),
            },
        }
    }
}

#[derive(Serialize)]
struct MessageLine<'a> {
    ts: String,
    kind: &'static str,
    from: String,
    name: String,
    #[serde(flatten)]
    body: Body<'a>,
    sender: String,
    seq: u64,
}

#[derive(Serialize)]
struct GapLine {
    ts: String,
    kind: &'static str,
    from: String,
    sender: String,
    first: u64,
    last: u64,
    missing: u64,
}

#[derive(Serialize)]
struct MemberLine {
    ts: String,
    kind: &'static str,
    name: String,
    instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct RenamedLine<'a> {
    ts: String,
    kind: &'static str,
    name: String,
    previous_name: &'a str,
    instance: String,
}

#[derive(Serialize)]
struct DeliveryLine<'a> {
    ts: String,
    kind: &'static str,
    number: u64,
    #[serde(flatten)]
    body: Body<'a>,
    members: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unconfirmed: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// One event as a JSON line; `None` for what is not one of the chat's
/// kinds (`/who`, hints, this member's own messages and renames).
fn json_line(event: &Event<'_>) -> Option<String> {
    let line = match event {
        Event::Message {
            at,
            from,
            who,
            body,
            sender,
            seq,
        } => serde_json::to_string(&MessageLine {
            ts: ts(*at),
            kind: "message",
            from: fmt_addr(*from).to_string(),
            name: Shown(*who).to_string(),
            body: Body::of(body),
            sender: Id(*sender).to_string(),
            seq: *seq,
        }),
        Event::Gap {
            at,
            from,
            sender,
            first,
            last,
            ..
        } => serde_json::to_string(&GapLine {
            ts: ts(*at),
            kind: "gap",
            from: fmt_addr(*from).to_string(),
            sender: Id(*sender).to_string(),
            first: *first,
            last: *last,
            missing: last - first + 1,
        }),
        Event::Joined { at, who, addr } => serde_json::to_string(&MemberLine {
            ts: ts(*at),
            kind: "joined",
            name: Shown(*who).to_string(),
            instance: Id(who.id).to_string(),
            from: Some(fmt_addr(*addr).to_string()),
            reason: None,
        }),
        Event::Left { at, who, expired } => serde_json::to_string(&MemberLine {
            ts: ts(*at),
            kind: "left",
            name: Shown(*who).to_string(),
            instance: Id(who.id).to_string(),
            from: None,
            reason: Some(if *expired { "expired" } else { "goodbye" }),
        }),
        Event::Renamed {
            at,
            old,
            who,
            mine: false,
        } => serde_json::to_string(&RenamedLine {
            ts: ts(*at),
            kind: "renamed",
            name: Shown(*who).to_string(),
            previous_name: old,
            instance: Id(who.id).to_string(),
        }),
        Event::Resolved { at, sent, .. } => serde_json::to_string(&delivery_line(*at, sent)),
        Event::Sent { .. }
        | Event::Renamed { mine: true, .. }
        | Event::Members { .. }
        | Event::Note(_) => {
            return None;
        }
    };
    // Serializing these plain structs cannot fail.
    line.ok()
}

fn delivery_line(at: SystemTime, sent: &Sent) -> DeliveryLine<'_> {
    let members = sent.recipients.iter().map(|r| r.name.as_str()).collect();
    let unconfirmed: Vec<&str> = sent
        .recipients
        .iter()
        .filter(|r| r.state != State::Confirmed)
        .map(|r| r.name.as_str())
        .collect();
    let delivered = sent.delivered();
    DeliveryLine {
        ts: ts(at),
        kind: if delivered {
            "delivered"
        } else {
            "not_delivered"
        },
        number: sent.number,
        body: Body::of(&sent.body),
        members,
        unconfirmed: (!delivered).then_some(unconfirmed),
        reason: (!delivered).then_some(if sent.nobody() {
            "nobody"
        } else {
            "unconfirmed"
        }),
    }
}
