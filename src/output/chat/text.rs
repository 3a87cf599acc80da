//! `udpmsg chat`'s events as text lines: messages, deliveries, who came
//! and went, `/who`'s answer and the notes, names and texts escaped.

use super::{QUOTE_CHARS, Shown, unconfirmed};
use crate::commands::chat::command::COMMANDS;
use crate::commands::chat::members::Who;
use crate::commands::chat::{Event, Note};
use crate::output::escape::escape_into;
use crate::output::fmt_addr;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

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
pub(super) fn text_line(
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
            let missing = unconfirmed(sent);
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
            write!(s, ": try {}", COMMANDS)
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
