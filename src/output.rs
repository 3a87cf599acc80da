//! Presenting results: the only place that turns values into text or JSON.

use crate::listen::{Event, Notice, Sink, Stats, Stop};
use crate::seal::Refusal;
use serde::Serialize;
use serde::ser::Serializer;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Output buffer: large enough that a flood costs one write per 64 KiB.
const OUT_BUFFER: usize = 64 * 1024;
/// During a flood, output is flushed at most this often (a quiet listener
/// flushes each message at once).
const FLUSH_EVERY: Duration = Duration::from_millis(10);

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
    /// The millisecond of the last timestamp formatted: the text shows
    /// milliseconds, so every datagram of that millisecond shares it.
    ts_at: Option<u128>,
    ts: String,
    /// The last sender address and id formatted: floods come from one.
    from: Option<SocketAddr>,
    from_text: String,
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
        if self.from != Some(from) {
            self.from_text.clear();
            let _ = write!(self.from_text, "{from}");
            self.from = Some(from);
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

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes one JSON line. Text and raw events, the flood path, are composed
/// here: the fields udpmsg formats itself (time, address, id, numbers) never
/// need escaping, and serde_json escapes the ones a peer chose (name, text).
/// The bytes are exactly what serializing [`JsonEvent`] gives (a test pins it).
fn write_json_event(
    out: &mut impl Write,
    event: &Event<'_>,
    ts: &str,
    from: &str,
    sender: &str,
) -> io::Result<()> {
    let (kind, name, body, seq) = match event {
        Event::Text {
            name, body, seq, ..
        } => ("text", Some(*name), *body, Some(*seq)),
        Event::Raw { bytes, .. } => ("raw", None, *bytes, None),
        Event::Gap { .. } => {
            serde_json::to_writer(&mut *out, &JsonEvent::new(event, ts, from, sender))?;
            return out.write_all(b"\n");
        }
    };
    out.write_all(b"{\"ts\":\"")?;
    out.write_all(ts.as_bytes())?;
    out.write_all(b"\",\"from\":\"")?;
    out.write_all(from.as_bytes())?;
    out.write_all(b"\",\"kind\":\"")?;
    out.write_all(kind.as_bytes())?;
    out.write_all(b"\",\"name\":")?;
    match name {
        Some(name) => write_json_str(out, name)?,
        None => out.write_all(b"null")?,
    }
    match std::str::from_utf8(body) {
        Ok(text) => {
            out.write_all(b",\"text\":")?;
            write_json_str(out, text)?;
        }
        Err(_) => write!(out, ",\"hex\":\"{}\"", Hex(body))?,
    }
    if let Some(seq) = seq {
        out.write_all(b",\"sender\":\"")?;
        out.write_all(sender.as_bytes())?;
        out.write_all(b"\",\"seq\":")?;
        serde_json::to_writer(&mut *out, &seq)?;
    }
    out.write_all(b"}\n")
}

/// Writes `s` as a JSON string. Most text needs no escaping, and finding
/// that out a chunk at a time is several times faster than serde_json's
/// byte-by-byte escaping loop (which was 40% of a flooded listener's
/// instructions); text that does need it goes through serde_json.
fn write_json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    // serde_json escapes exactly these: C0 controls, '"' and '\'.
    if none_of(s.as_bytes(), |b| (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        Ok(serde_json::to_writer(&mut *out, s)?)
    }
}

/// True when no byte of `bytes` is `bad`. Scans 16 bytes at a time without
/// stopping early inside a chunk, which the compiler turns into SIMD.
fn none_of(bytes: &[u8], bad: impl Fn(u8) -> bool) -> bool {
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |found, &b| found | bad(b)) {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| bad(b))
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
                "{ts} {from} [gap]: {n} message(s) never arrived (sender {}, seq {first}..={last})",
                Id(*sender)
            )?;
        }
    }
    Ok(())
}

/// Appends `text` with control characters escaped (`\n`, `\u{1b}`), so a peer
/// cannot break lines or drive the terminal.
fn escape_into(s: &mut String, text: &str) {
    // Control characters are C0, DEL and C1 (U+0080..=U+009F, which UTF-8
    // encodes as 0xC2 0x80..=0x9F): without those bytes there are none.
    if none_of(text.as_bytes(), |b| (b < 0x20) | (b == 0x7f) | (b == 0xc2)) {
        s.push_str(text);
        return;
    }
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
    ts: &'a str,
    from: &'a str,
    kind: &'static str,
    name: Option<&'a str>,
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
}

impl<'a> JsonEvent<'a> {
    /// `from` and `sender` come preformatted (the sender is used only by
    /// kinds that have one).
    fn new(event: &'a Event<'a>, ts: &'a str, from: &'a str, sender: &'a str) -> Self {
        match event {
            Event::Text {
                name, body, seq, ..
            } => {
                let text = std::str::from_utf8(body).ok();
                JsonEvent {
                    ts,
                    from,
                    kind: "text",
                    name: Some(name),
                    text,
                    hex: text.is_none().then_some(Hex(body)),
                    sender: Some(sender),
                    seq: Some(*seq),
                    first: None,
                    last: None,
                    missing: None,
                }
            }
            Event::Raw { bytes, .. } => {
                let text = std::str::from_utf8(bytes).ok();
                JsonEvent {
                    ts,
                    from,
                    kind: "raw",
                    name: None,
                    text,
                    hex: text.is_none().then_some(Hex(bytes)),
                    sender: None,
                    seq: None,
                    first: None,
                    last: None,
                    missing: None,
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
            Notice::Refused { from, why } => {
                write!(f, "dropped datagram from {from}: ")?;
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
            Notice::ReplyFailed { to, error } => write!(f, "could not reply to {to}: {error}"),
            Notice::Answered { to } => write!(f, "answered discovery probe from {to}"),
            Notice::ProbeIgnored { from, why } => {
                write!(f, "ignored discovery probe from {from}: {why}")
            }
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
    for (n, what) in [
        (stats.sealed, "sealed (no key)"),
        (stats.unsealed, "unsealed refused"),
        (stats.raw_refused, "raw refused"),
        (stats.forged, "forged or wrong key"),
        (stats.replayed, "replayed"),
        (stats.stale, "stale"),
        (stats.pings, "pings answered"),
        (stats.answers, "probes answered"),
        (stats.probes_ignored, "probes ignored"),
        (stats.acks, "acks sent"),
        (stats.duplicates, "duplicates suppressed"),
        (stats.missing, "messages missing (gaps)"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {what}");
        }
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

/// One line per ping reply.
pub fn ping_reply(reply: &crate::ping::Reply, json: bool) -> String {
    let us = reply.rtt.as_micros() as u64;
    if json {
        serde_json::json!({
            "from": reply.from.to_string(),
            "seq": reply.seq,
            "rtt_us": us,
        })
        .to_string()
    } else {
        format!(
            "reply from {}: seq={} rtt={:.3} ms",
            reply.from,
            reply.seq,
            us as f64 / 1000.0
        )
    }
}

/// The summary after pinging: text lines, or one JSON object.
pub fn ping_summary(dest: SocketAddr, summary: &crate::ping::Summary, json: bool) -> String {
    let p50 = summary.percentile_us(50.0);
    let p99 = summary.percentile_us(99.0);
    if json {
        return serde_json::json!({
            "summary": true,
            "to": dest.to_string(),
            "sent": summary.sent,
            "received": summary.received,
            "loss_pct": (summary.loss_pct() * 100.0).round() / 100.0,
            "min_us": summary.min_us,
            "p50_us": p50,
            "p99_us": p99,
            "max_us": summary.max_us,
        })
        .to_string();
    }
    let ms = |us: Option<u64>| us.map_or("-".to_string(), |u| format!("{:.3}", u as f64 / 1000.0));
    format!(
        "--- {dest} udpmsg ping ---\n{} sent, {} received, {:.1}% loss\nrtt min/p50/p99/max = {}/{}/{}/{} ms",
        summary.sent,
        summary.received,
        summary.loss_pct(),
        ms(summary.min_us),
        ms(p50),
        ms(p99),
        ms(summary.max_us)
    )
}

/// Discovery results: a table, or one JSON object per peer.
pub fn discover_peers(scan: &crate::discover::Scan, json: bool) -> String {
    let mut out = String::new();
    if json {
        for peer in &scan.peers {
            let line = serde_json::json!({
                "name": peer.name,
                "addrs": peer.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "rtt_ms": (peer.rtt.as_secs_f64() * 1e6).round() / 1e3,
                "interface": peer.interfaces.first(),
                "interfaces": peer.interfaces,
                "instance": Id(peer.instance).to_string(),
                "version": peer.version,
            });
            let _ = writeln!(out, "{line}");
        }
        return out;
    }
    if scan.peers.is_empty() {
        return out;
    }
    let rows: Vec<[String; 4]> = scan
        .peers
        .iter()
        .map(|p| {
            let mut name = String::new();
            escape_into(&mut name, &p.name);
            [
                name,
                p.addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{:.3} ms", p.rtt.as_secs_f64() * 1e3),
                p.interfaces.join(", "),
            ]
        })
        .collect();
    let header = ["NAME", "ADDRESSES", "RTT", "INTERFACE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    out
}

/// Hints when nobody answered a scan.
pub fn discover_nobody(scan: &crate::discover::Scan, port: u16) -> String {
    let probed: Vec<String> = scan
        .probed
        .iter()
        .map(|t| {
            let mut what: Vec<String> = t.broadcasts.iter().map(|b| b.to_string()).collect();
            if t.ipv6 {
                what.push(format!(
                    "{}%{}",
                    crate::iface::DISCOVERY_GROUP_V6,
                    t.interface
                ));
            }
            format!("{} ({})", t.interface, what.join(", "))
        })
        .collect();
    if probed.is_empty() {
        return "udpmsg discover: no interface to probe: none is up with an IPv4 broadcast or IPv6 link-local address (use --interface lo for this machine)".to_string();
    }
    format!(
        "udpmsg discover: no listener answered on port {port}.\n  probed: {}\n  hints: is 'udpmsg listen' running there, on this port? A firewall may drop UDP {port};\n  Wi-Fi client isolation blocks traffic between clients; a VPN may capture the route;
  listeners with --key-file answer only probes sealed with the same key.",
        probed.join("; ")
    )
}

/// One `-v` line about a scan.
pub fn discover_trace(trace: &crate::discover::Trace<'_>) -> String {
    match trace {
        crate::discover::Trace::Sent { interface, to } => {
            format!("udpmsg: probe sent to {to} on {interface}")
        }
        crate::discover::Trace::SendFailed {
            interface,
            to,
            error,
        } => format!("udpmsg: probe to {to} on {interface} failed: {error}"),
        crate::discover::Trace::Heard {
            from,
            name,
            interface,
            rtt,
        } => {
            let mut n = String::new();
            escape_into(&mut n, name);
            format!(
                "udpmsg: answer from {from} '{n}' on {interface} after {:.3} ms",
                rtt.as_secs_f64() * 1e3
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_json_lines_equal_serialized_ones() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let from: SocketAddr = "[fe80::1%3]:47474".parse().unwrap();
        let events = [
            Event::Text {
                at,
                from,
                name: "a\"b\\c\u{1}é",
                body: "line\nwith \u{7f} and \u{2028}".as_bytes(),
                sender: 0xdead_beef,
                seq: u64::MAX,
            },
            Event::Text {
                at,
                from,
                name: "",
                body: &[0xff, 0x00, 0x10],
                sender: 1,
                seq: 0,
            },
            Event::Raw {
                at,
                from,
                bytes: b"plain",
            },
            Event::Raw {
                at,
                from,
                bytes: &[0xc3],
            },
        ];
        for event in &events {
            let ts = Timestamp(at).to_string();
            let from_text = from.to_string();
            let sender = match event {
                Event::Text { sender, .. } => Id(*sender).to_string(),
                _ => String::new(),
            };
            let mut composed = Vec::new();
            write_json_event(&mut composed, event, &ts, &from_text, &sender).unwrap();
            let mut serialized =
                serde_json::to_vec(&JsonEvent::new(event, &ts, &from_text, &sender)).unwrap();
            serialized.push(b'\n');
            assert_eq!(
                String::from_utf8(composed).unwrap(),
                String::from_utf8(serialized).unwrap()
            );
        }
    }

    /// Strings of every length from 1 to 39 with one special character at each
    /// position, and pseudo-random mixes of ASCII, controls and non-ASCII.
    fn tricky_strings() -> Vec<String> {
        let specials = [
            '"', '\\', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', 'é',
            '\u{2028}', '😀',
        ];
        let mut all = vec![String::new()];
        for len in 1..40 {
            for pos in 0..len {
                for &c in &specials {
                    let mut t: String = (0..len)
                        .map(|i| char::from(b'a' + (i % 26) as u8))
                        .collect();
                    t.replace_range(pos..=pos, c.encode_utf8(&mut [0; 4]));
                    all.push(t);
                }
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let len = (x % 70) as usize;
            let t: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(5) {
                        specials[(x / 5 % specials.len() as u64) as usize]
                    } else {
                        char::from(b' ' + (x % 95) as u8)
                    }
                })
                .collect();
            all.push(t);
        }
        all
    }

    #[test]
    fn json_strings_are_written_exactly_as_serde_json_writes_them() {
        for t in tricky_strings() {
            let mut fast = Vec::new();
            write_json_str(&mut fast, &t).unwrap();
            assert_eq!(fast, serde_json::to_vec(&t).unwrap(), "{t:?}");
        }
    }

    #[test]
    fn text_escaping_fast_path_agrees_with_the_char_by_char_one() {
        for t in tricky_strings() {
            let mut fast = String::new();
            escape_into(&mut fast, &t);
            let slow: String = t
                .chars()
                .flat_map(|c| {
                    let escape = c.is_control() && c != '\t';
                    let e: Vec<char> = if escape {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    e
                })
                .collect();
            assert_eq!(fast, slow, "{t:?}");
        }
    }

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
