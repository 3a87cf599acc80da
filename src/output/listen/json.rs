//! `listen --json` lines: composed directly on the flood path, and pinned
//! byte for byte against serde's serialization of [`JsonEvent`] (with the
//! characters serde_json leaves raw escaped, see `escape`).

use super::lines::Lines;
use crate::commands::listen::Event;
use crate::net::Cred;
use crate::output::escape::{Shown, push_json_escaped, shown_json};
use crate::util::hex::Hex;
use serde::Serialize;
use serde::ser::Serializer;
use std::fmt;
use std::io::{self, Write};

/// Writes one JSON line. Text and raw events, the flood path, are composed
/// here: the fields udpmsg formats itself (time, id, numbers) never need
/// escaping, the address (`from`) comes as a JSON string too (`from_json`,
/// quotes included: made once per address, as its scope's interface name
/// may need escaping), and the strings a peer chose (name, text) are
/// escaped as `escape::push_json_escaped` says. A text that needs no
/// escaping is found in one scan and written as it is, a big one from
/// where it is ([`Lines::end_with`]). The bytes are exactly what
/// serializing [`JsonEvent`] gives, hardened by `escape::harden_json` (a
/// test pins it).
pub(super) fn write_json_event<W: Write>(
    out: &mut Lines<W>,
    event: &Event<'_>,
    ts: &str,
    from: &str,
    from_json: &[u8],
    sender: &str,
) -> io::Result<()> {
    let (kind, name, body, seq, cred) = match event {
        Event::Text {
            name,
            body,
            seq,
            cred,
            ..
        } => ("text", Some(*name), *body, Some(*seq), *cred),
        Event::Raw { bytes, cred, .. } => ("raw", None, *bytes, None, *cred),
        Event::Gap { .. } => {
            // Rare, and without a peer's string: serde_json as it is.
            let buf = out.buf();
            serde_json::to_writer(&mut *buf, &JsonEvent::new(event, ts, from, sender))?;
            buf.push(b'\n');
            return out.end_line();
        }
    };
    let buf = out.buf();
    buf.extend_from_slice(b"{\"ts\":\"");
    buf.extend_from_slice(ts.as_bytes());
    buf.extend_from_slice(b"\",\"kind\":\"");
    buf.extend_from_slice(kind.as_bytes());
    buf.extend_from_slice(b"\",\"from\":");
    buf.extend_from_slice(from_json);
    buf.extend_from_slice(b",\"name\":");
    match name {
        Some(name) => {
            buf.push(b'"');
            push_json_escaped(buf, name);
            buf.push(b'"');
        }
        None => buf.extend_from_slice(b"null"),
    }
    let rest = |tail: &mut Vec<u8>| write_json_rest(tail, seq, sender, cred);
    match shown_json(body) {
        Shown::AsIs => {
            buf.extend_from_slice(b",\"text\":\"");
            return out.end_with(body, |tail| {
                tail.push(b'"');
                rest(tail);
            });
        }
        Shown::Escaped { head, rest: text } => {
            buf.extend_from_slice(b",\"text\":\"");
            buf.extend_from_slice(head);
            push_json_escaped(buf, text);
            buf.push(b'"');
        }
        Shown::NotUtf8 => write!(buf, ",\"hex\":\"{}\"", Hex(body))?,
    }
    rest(buf);
    out.end_line()
}

/// The fields after the text or hex, and the end of the line.
fn write_json_rest(out: &mut Vec<u8>, seq: Option<u64>, sender: &str, cred: Option<Cred>) {
    // Writing to a Vec cannot fail.
    if let Some(seq) = seq {
        out.extend_from_slice(b",\"sender\":\"");
        out.extend_from_slice(sender.as_bytes());
        let _ = write!(out, "\",\"seq\":{seq}");
    }
    if let Some(cred) = cred {
        let _ = write!(out, ",\"pid\":{},\"uid\":{}", cred.pid, cred.uid);
    }
    out.extend_from_slice(b"}\n");
}

/// One JSON line of `listen --json`, as docs/JSON.md documents it (the
/// vocabulary every subcommand shares: `ts` and `kind` first).
#[derive(Serialize)]
struct JsonEvent<'a> {
    ts: &'a str,
    kind: &'static str,
    from: &'a str,
    /// A string for text, null for raw (a raw datagram has no sender
    /// name), absent for a gap.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt"
    )]
    hex: Option<Hex<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<u64>,
    /// A Unix-domain sender's credentials, when the kernel reported them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
}

impl<'a> JsonEvent<'a> {
    /// `from` and `sender` come preformatted (the sender is used only by
    /// kinds that have one).
    fn new(event: &'a Event<'a>, ts: &'a str, from: &'a str, sender: &'a str) -> Self {
        match event {
            Event::Text {
                name,
                body,
                seq,
                cred,
                ..
            } => {
                let text = std::str::from_utf8(body).ok();
                JsonEvent {
                    ts,
                    from,
                    kind: "text",
                    name: Some(Some(name)),
                    text,
                    hex: text.is_none().then_some(Hex(body)),
                    sender: Some(sender),
                    seq: Some(*seq),
                    first: None,
                    last: None,
                    missing: None,
                    pid: cred.map(|c| c.pid),
                    uid: cred.map(|c| c.uid),
                }
            }
            Event::Raw { bytes, cred, .. } => {
                let text = std::str::from_utf8(bytes).ok();
                JsonEvent {
                    ts,
                    from,
                    kind: "raw",
                    name: Some(None),
                    text,
                    hex: text.is_none().then_some(Hex(bytes)),
                    sender: None,
                    seq: None,
                    first: None,
                    last: None,
                    missing: None,
                    pid: cred.map(|c| c.pid),
                    uid: cred.map(|c| c.uid),
                }
            }
            Event::Gap { first, last, .. } => JsonEvent {
                ts,
                from,
                kind: "gap",
                name: None,
                text: None,
                hex: None,
                sender: Some(sender),
                seq: None,
                first: Some(*first),
                last: Some(*last),
                missing: Some(last - first + 1),
                pid: None,
                uid: None,
            },
        }
    }
}

fn display_opt<T: fmt::Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{PeerAddr, UnixAddr};
    use crate::output::Timestamp;
    use crate::output::addr::{fmt_addr, write_addr};
    use crate::output::escape::{harden_json, write_json_str};
    use crate::util::hex::Id;
    use std::time::{Duration, SystemTime};

    #[test]
    fn composed_json_lines_equal_serialized_ones() {
        for from in [
            "192.0.2.7:47474",
            "[2001:db8::1]:9",
            "[fe80::1%1]:47474",
            "[fe80::1%4294967295]:1",
        ] {
            let from = PeerAddr::Inet(from.parse().unwrap());
            let from_text = fmt_addr(&from).to_string();
            composed_lines_equal_serialized_ones(&from, &from_text, None);
        }
        // An interface name may hold quotes and backslashes.
        let from = PeerAddr::Inet("[fe80::1%3]:47474".parse().unwrap());
        let mut from_text = String::new();
        write_addr(&mut from_text, &from, |_| "a\"b\\\u{1b}").unwrap();
        composed_lines_equal_serialized_ones(&from, &from_text, None);
        // Unix-domain senders, with their credentials; names with quotes,
        // backslashes, controls and bytes that are not UTF-8.
        let cred = Some(Cred { pid: 4242, uid: 0 });
        for from in [
            UnixAddr::abstract_name(b"0001f"),
            UnixAddr::path(b"/tmp/a \"b\\\x1b\xff.sock"),
            UnixAddr::Unnamed,
        ] {
            let from = PeerAddr::Unix(from);
            let from_text = fmt_addr(&from).to_string();
            composed_lines_equal_serialized_ones(&from, &from_text, cred);
        }
    }

    fn composed_lines_equal_serialized_ones(from: &PeerAddr, from_text: &str, cred: Option<Cred>) {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let mut from_json = Vec::new();
        write_json_str(&mut from_json, from_text).unwrap();
        let events = [
            Event::Text {
                at,
                from,
                cred,
                name: "a\"b\\c\u{1}é\u{202e}",
                body: "line\nwith \u{7f}, \u{85}, \u{2066} and \u{2028}".as_bytes(),
                sender: 0xdead_beef,
                seq: u64::MAX,
            },
            Event::Text {
                at,
                from,
                cred,
                name: "",
                body: &[0xff, 0x00, 0x10],
                sender: 1,
                seq: 0,
            },
            Event::Raw {
                at,
                from,
                cred,
                bytes: b"plain",
            },
            Event::Raw {
                at,
                from,
                cred,
                bytes: &[0xc3],
            },
            Event::Gap {
                at,
                from,
                sender: 7,
                first: 3,
                last: 9,
            },
        ];
        for event in &events {
            let ts = Timestamp(at).to_string();
            let sender = match event {
                Event::Text { sender, .. } | Event::Gap { sender, .. } => Id(*sender).to_string(),
                _ => String::new(),
            };
            let mut composed = Lines::new(Vec::new());
            write_json_event(&mut composed, event, &ts, from_text, &from_json, &sender).unwrap();
            composed.flush().unwrap();
            let serialized =
                serde_json::to_string(&JsonEvent::new(event, &ts, from_text, &sender)).unwrap();
            assert_eq!(
                String::from_utf8(composed.get_ref().clone()).unwrap(),
                format!("{}\n", harden_json(&serialized))
            );
        }
    }
}
