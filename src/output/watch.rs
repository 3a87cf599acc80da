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

use super::Timestamp;
use super::escape::{escape_into, harden_json};
use crate::commands::watch::table::{Change, Kind, Peer, PeerAddr, Reason};
use crate::commands::watch::{Sink, Stats, Trace};
use crate::util::hex::Id;
use crate::util::words::IoWords;
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

/// One JSON line (without its newline): the vocabulary of the other JSON
/// output (`ts`, `kind`, names, ids and addresses written the same way).
pub fn json_line(out: &mut String, change: &Change<'_>, at: SystemTime) {
    let peer = change.peer;
    let mut value = serde_json::json!({
        "ts": Timestamp(at).to_string(),
        "kind": kind_word(change.kind),
        "reason": change.reason.word(),
        "name": peer.name,
        "instance": Id(peer.instance).to_string(),
        "addrs": addrs(peer),
        "interfaces": peer.interfaces(),
        "version": peer.version,
    });
    if let Some(object) = value.as_object_mut() {
        if let Some(first) = peer.interfaces().first() {
            object.insert("interface".into(), (*first).into());
        }
        if !peer.room.is_empty() {
            object.insert("room".into(), peer.room.clone().into());
        }
        if let Some(previous) = peer.previous.filter(|_| change.reason == Reason::Restarted) {
            object.insert("previous".into(), Id(previous).to_string().into());
        }
    }
    // Names and rooms are the peer's choice: escaped like listen's JSON.
    out.push_str(&harden_json(&value.to_string()));
}

fn addrs(peer: &Peer) -> Vec<String> {
    peer.addrs
        .iter()
        .map(|a| {
            let mut s = String::new();
            push_addr(&mut s, a);
            s
        })
        .collect()
}

/// `ip:port`, IPv6 in brackets, a link-local scope as the interface name
/// it was heard on (a number only when the interface has none).
fn push_addr(out: &mut String, a: &PeerAddr) {
    match a.addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 && !a.interface.is_empty() => {
            let _ = write!(out, "[{}%", v6.ip());
            field(out, &a.interface);
            let _ = write!(out, "]:{}", v6.port());
        }
        addr => {
            let _ = write!(out, "{addr}");
        }
    }
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
        } => format!("probe to {to} on {interface} failed: {}", IoWords(error)),
        Trace::Full { max } => format!(
            "warning: tracking {max} listeners, as many as there is room for; further ones are counted, not tracked"
        ),
        Trace::Refused { from, why } => format!("ignored datagram from {from}: {why}"),
        Trace::InterfacesChanged => "interfaces changed: probing them again".to_string(),
    }
}

/// The line `discover --watch` prints on stderr when it stops.
pub fn watch_summary(stats: &Stats) -> String {
    let mut s = format!(
        "udpmsg discover --watch: {} listeners up at the end; {} up, {} down, {} changed; \
         heard {} hellos, {} goodbyes, {} answers to {} probe rounds",
        stats.tracking,
        stats.ups,
        stats.downs,
        stats.changes,
        stats.hellos,
        stats.goodbyes,
        stats.answers,
        stats.rounds
    );
    for (n, what) in [
        (stats.untracked, "from listeners not tracked (table full)"),
        (stats.rate_limited, "over the hello rate limit"),
        (stats.refused, "refused (key or malformed)"),
        (stats.ignored, "ignored (another port, too long)"),
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
    fn fields_never_hold_the_separator() {
        let mut s = String::new();
        field(&mut s, "a;b\\c\nd\u{202e}");
        assert_eq!(s, "a\\x3bb\\x5cc\\nd\\u202e");
        assert!(!s.contains(';'));
    }
}
