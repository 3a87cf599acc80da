//! `udpmsg discover --watch`'s lines: one per change, as text fields or
//! JSON Lines, its `-v` trace and its summary.
//!
//! Text, in the spirit of `avahi-browse -p`: `;`-separated fields, so
//! `cut -d';'` and `awk -F';'` work:
//!
//! ```text
//! EVENT;TIME;REASON;NAME;INSTANCE;ADDRESSES;INTERFACES;ROOM
//! +;2026-11-21T23:46:42.518Z;hello;ann;0123456789abcdef;10.77.0.2:47474,[fe80::1%eth0]:47474;eth0;
//! ```
//!
//! EVENT is `+` (up), `-` (down) or `=` (changed); lists are
//! `,`-separated. Names and rooms are escaped as everywhere in udpmsg, and
//! `;` and `\` as `\x3b` and `\x5c`, so a field never holds the separator.

use super::addr::write_addr;
use super::escape::{escape_into, harden_json};
use super::{Timestamp, fmt_addr};
use crate::commands::watch::table::{Change, Kind, PeerAddr, Reason};
use crate::commands::watch::{Sink, Stats, Trace};
use crate::net::iface;
use crate::util::hex::Id;
use crate::util::words::{IoWords, plural};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::SystemTime;

/// The watcher's sink: lines to `out`, trace and warnings to stderr.
pub struct WatchOutput<W: Write> {
    out: io::BufWriter<W>,
    json: bool,
    verbose: bool,
    line: String,
}

impl<W: Write> WatchOutput<W> {
    pub fn new(out: W, json: bool, verbose: bool) -> Self {
        WatchOutput {
            out: io::BufWriter::new(out),
            json,
            verbose,
            line: String::with_capacity(256),
        }
    }
}

impl<W: Write> Sink for WatchOutput<W> {
    fn change(&mut self, change: &Change<'_>, at: SystemTime) -> io::Result<()> {
        self.line.clear();
        if self.json {
            json_line(&mut self.line, change, at);
        } else {
            text_line(&mut self.line, change, at);
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    fn trace(&mut self, trace: &Trace<'_>) -> io::Result<()> {
        // A full table is worth a warning; the rest only with -v.
        if self.verbose || matches!(trace, Trace::Full { .. }) {
            self.out.flush()?;
            eprintln!("udpmsg: {}", trace_text(trace));
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn sign(kind: Kind) -> char {
    match kind {
        Kind::Up => '+',
        Kind::Down => '-',
        Kind::Changed => '=',
    }
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Up => "up",
        Kind::Down => "down",
        Kind::Changed => "changed",
    }
}

/// One text line (without its newline).
pub fn text_line(out: &mut String, change: &Change<'_>, at: SystemTime) {
    let peer = change.peer;
    let _ = write!(
        out,
        "{};{};{};",
        sign(change.kind),
        Timestamp(at),
        change.reason.word()
    );
    field(out, &peer.name);
    let _ = write!(out, ";{};", Id(peer.instance));
    for (i, a) in peer.addrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_addr(out, a);
    }
    out.push(';');
    for (i, name) in peer.interfaces().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, name);
    }
    out.push(';');
    field(out, &peer.room);
}

/// `discover --watch --json`'s line per change (docs/JSON.md, kinds `up`,
/// `down`, `changed`): `ts` and `kind` first, as every JSON line.
#[derive(Serialize)]
struct ChangeLine<'a> {
    ts: String,
    kind: &'static str,
    reason: &'static str,
    name: &'a str,
    instance: String,
    addrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<&'a str>,
    interfaces: Vec<&'a str>,
    version: u8,
    #[serde(skip_serializing_if = "str::is_empty")]
    room: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

/// One JSON line (without its newline).
pub fn json_line(out: &mut String, change: &Change<'_>, at: SystemTime) {
    let peer = change.peer;
    let interfaces = peer.interfaces();
    let line = ChangeLine {
        ts: Timestamp(at).to_string(),
        kind: kind_word(change.kind),
        reason: change.reason.word(),
        name: &peer.name,
        instance: Id(peer.instance).to_string(),
        addrs: peer
            .addrs
            .iter()
            .map(|a| {
                let mut s = String::new();
                let _ = write_addr(&mut s, &a.addr.into(), |_| scope_name(a));
                s
            })
            .collect(),
        interface: interfaces.first().copied(),
        interfaces,
        version: peer.version,
        room: &peer.room,
        previous: peer
            .previous
            .filter(|_| change.reason == Reason::Restarted)
            .map(|p| Id(p).to_string()),
    };
    // Serializing this plain struct cannot fail. Names and rooms are the
    // peer's choice: escaped like every JSON line.
    let line = serde_json::to_string(&line).unwrap_or_default();
    out.push_str(&harden_json(&line));
}

/// The name of the scope of a peer's link-local address: the interface it
/// was heard on (its index is the scope), else looked up as
/// [`super::fmt_addr`] does.
fn scope_name(a: &PeerAddr) -> String {
    match (a.addr, a.interface.is_empty()) {
        (SocketAddr::V6(v6), true) => iface::interface_name(v6.scope_id()),
        _ => a.interface.clone(),
    }
}

/// `ip:port` as every output shows it ([`super::fmt_addr`]), the scope
/// named by the interface the address was heard on, and the name escaped
/// as a field.
fn push_addr(out: &mut String, a: &PeerAddr) {
    let mut shown = String::new();
    let _ = write_addr(&mut shown, &a.addr.into(), |_| scope_name(a));
    field(out, &shown);
}

/// A peer-chosen text as one field: escaped as everywhere, and the field
/// separator and the escape character escaped too.
fn field(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find([';', '\\']) {
        escape_into(out, &rest[..at]);
        out.push_str(if rest.as_bytes()[at] == b';' {
            "\\x3b"
        } else {
            "\\x5c"
        });
        rest = &rest[at + 1..];
    }
    escape_into(out, rest);
}

/// One `-v` (or warning) line, without the `udpmsg: ` prefix.
pub fn trace_text(trace: &Trace<'_>) -> String {
    match trace {
        Trace::SendFailed {
            to,
            interface,
            error,
        } => format!(
            "probe to {} on {interface} failed: {}",
            fmt_addr(*to),
            IoWords(error)
        ),
        Trace::Full { max } => format!(
            "warning: tracking {max} listeners, as many as there is room for; further ones are counted, not tracked"
        ),
        Trace::Refused { from, why } => {
            format!("ignored datagram from {}: {why}", fmt_addr(*from))
        }
        Trace::InterfacesChanged => "interfaces changed: probing them again".to_string(),
    }
}

/// The line `discover --watch` prints on stderr when it stops.
pub fn watch_summary(stats: &Stats) -> String {
    let count = |n: u64, one: &str, many: &str| format!("{n} {}", plural(n, one, many));
    let mut s = format!(
        "udpmsg discover --watch: {} up at the end; {} up, {} down, {} changed; \
         heard {}, {}, {} to {}",
        count(stats.tracking as u64, "listener", "listeners"),
        stats.ups,
        stats.downs,
        stats.changes,
        count(stats.hellos, "hello", "hellos"),
        count(stats.goodbyes, "goodbye", "goodbyes"),
        count(stats.answers, "answer", "answers"),
        count(stats.rounds, "probe round", "probe rounds"),
    );
    for (n, what) in [
        (stats.untracked, "from listeners not tracked (table full)"),
        (stats.rate_limited, "over the hello rate limit"),
        (stats.refused, "refused (key or malformed)"),
        (stats.ignored, "ignored (no port, too long)"),
    ] {
        if n > 0 {
            let _ = write!(s, "; {n} {what}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_one_listener_and_two_hellos() {
        let stats = Stats {
            tracking: 1,
            hellos: 2,
            goodbyes: 1,
            answers: 0,
            rounds: 1,
            ..Stats::default()
        };
        assert_eq!(
            watch_summary(&stats),
            "udpmsg discover --watch: 1 listener up at the end; 0 up, 0 down, 0 changed; \
             heard 2 hellos, 1 goodbye, 0 answers to 1 probe round"
        );
    }

    #[test]
    fn fields_never_hold_the_separator() {
        let mut s = String::new();
        field(&mut s, "a;b\\c\nd\u{202e}");
        assert_eq!(s, "a\\x3bb\\x5cc\\nd\\u202e");
        assert!(!s.contains(';'));
    }
}
