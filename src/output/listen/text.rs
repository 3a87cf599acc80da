//! `udpmsg listen`'s text lines: one per event (the body escaped, or as
//! hex when it is not UTF-8) and the `-v` notices' words.

use super::lines::Lines;
use crate::commands::listen::{Event, Notice};
use crate::output::addr::fmt_addr;
use crate::output::escape::{Shown, push_text_escaped, shown_text};
use crate::seal::Refusal;
use crate::util::hex::{Hex, Id};
use crate::util::words::IoWords;
use std::fmt;
use std::io::{self, Write};

/// Writes one text line: `TS FROM NAME: TEXT` (`TS FROM [raw]: TEXT` for a
/// raw datagram), the text escaped, or ` [hex]: ` (`[raw hex]: `) and its
/// bytes when it is not UTF-8; or a gap's line. A body that needs no
/// escaping is found in one scan and written as it is, a big one from
/// where it is ([`Lines::end_with`]).
pub(super) fn write_text_event<W: Write>(
    out: &mut Lines<W>,
    event: &Event<'_>,
    ts: &str,
    from: &str,
) -> io::Result<()> {
    let buf = out.buf();
    buf.extend_from_slice(ts.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(from.as_bytes());
    buf.push(b' ');
    let (label, hex_label, body) = match event {
        Event::Text { name, body, .. } => {
            push_text_escaped(buf, name);
            (": ", " [hex]: ", body)
        }
        Event::Raw { bytes, .. } => ("[raw]: ", "[raw hex]: ", bytes),
        Event::Gap {
            sender,
            first,
            last,
            ..
        } => {
            let n = last - first + 1;
            write!(
                buf,
                "[gap]: {n} message(s) never arrived (sender {}, seq {first}",
                Id(*sender)
            )?;
            if last != first {
                write!(buf, "-{last}")?;
            }
            buf.extend_from_slice(b")\n");
            return out.end_line();
        }
    };
    match shown_text(body) {
        Shown::AsIs => {
            buf.extend_from_slice(label.as_bytes());
            return out.end_with(body, |tail| tail.push(b'\n'));
        }
        Shown::Escaped { head, rest } => {
            buf.extend_from_slice(label.as_bytes());
            buf.extend_from_slice(head);
            push_text_escaped(buf, rest);
        }
        Shown::NotUtf8 => write!(buf, "{hex_label}{}", Hex(body))?,
    }
    buf.push(b'\n');
    out.end_line()
}

/// A `-v` notice in words (said on stderr).
pub(super) struct NoticeText<'a, 'b>(pub(super) &'a Notice<'b>);

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
            Notice::GroupJoined { group, interface } => {
                write!(f, "joined group {group} on {interface}, which came up")
            }
            Notice::GroupLeft { group, interface } => {
                write!(
                    f,
                    "left group {group} on {interface}, which went down or away"
                )
            }
            Notice::GroupJoinFailed {
                group,
                interface,
                error,
            } => write!(
                f,
                "cannot join group {group} on {interface}: {}",
                IoWords(error)
            ),
            Notice::Unanswerable { what } => write!(
                f,
                "did not answer a {what} from a Unix socket without a name (it never bound one: nothing can reach it)"
            ),
        }
    }
}
