//! `udpmsg listen`'s output: the sink that writes each event as a text or
//! JSON line (buffered, flushed when idle), `-v` notices, and the summary.

mod json;
mod lines;

use super::addr::{ScopeNames, fmt_addr, write_addr};
use super::escape::{Shown, push_text_escaped, shown_text, write_json_str};
use super::files;
use super::{Format, Timestamp};
use crate::commands::files::receive::Outcome;
use crate::commands::listen::{Event, Notice, Sink, Stats, Stop};
use crate::net::PeerAddr;
use crate::seal::Refusal;
use crate::util::hex::{Hex, Id};
use crate::util::words::{IoWords, plural};
use json::write_json_event;
use lines::Lines;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime};

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
        if self.verbose {
            // Notices go to stderr, interleaved correctly with stdout when both
            // are a terminal: flush what is pending first.
            self.out.flush()?;
            eprintln!("udpmsg: {}", NoticeText(notice));
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

/// Writes one text line: `TS FROM NAME: TEXT` (`TS FROM [raw]: TEXT` for a
/// raw datagram), the text escaped, or ` [hex]: ` (`[raw hex]: `) and its
/// bytes when it is not UTF-8; or a gap's line. A body that needs no
/// escaping is found in one scan and written as it is, a big one from
/// where it is ([`Lines::end_with`]).
fn write_text_event<W: Write>(
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

struct NoticeText<'a, 'b>(&'a Notice<'b>);

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
            Notice::Unanswerable { what } => write!(
                f,
                "did not answer a {what} from a Unix socket without a name (it never bound one: nothing can reach it)"
            ),
        }
    }
}

/// The one-line summary a listener prints on stderr when it stops.
pub fn listen_summary(stop: Stop, stats: &Stats) -> String {
    let why = match stop {
        Stop::Count => "count reached".to_string(),
        Stop::Timeout => "timeout".to_string(),
        Stop::Signal(n @ (libc::SIGINT | libc::SIGTERM | libc::SIGHUP)) => {
            crate::util::words::signal_words(n).to_string()
        }
        Stop::Signal(n) => format!("signal {n}"),
        Stop::OutputClosed => "output closed".to_string(),
        Stop::OutputFailed => "output failed".to_string(),
    };
    let mut s = format!(
        "udpmsg listen: {why}: {} received, {} raw, {} malformed",
        stats.received, stats.raw, stats.malformed
    );
    for (n, one, many) in [
        (stats.sealed, "sealed (no key)", "sealed (no key)"),
        (stats.unsealed, "unsealed refused", "unsealed refused"),
        (stats.raw_refused, "raw refused", "raw refused"),
        (stats.forged, "forged or wrong key", "forged or wrong key"),
        (stats.replayed, "replayed", "replayed"),
        (stats.stale, "stale", "stale"),
        (stats.pings, "ping answered", "pings answered"),
        (stats.pings_ignored, "ping ignored", "pings ignored"),
        (stats.answers, "probe answered", "probes answered"),
        (stats.probes_ignored, "probe ignored", "probes ignored"),
        (stats.acks, "ack sent", "acks sent"),
        (stats.echoed, "echoed", "echoed"),
        (stats.echoes_ignored, "not echoed", "not echoed"),
        (
            stats.duplicates,
            "duplicate suppressed",
            "duplicates suppressed",
        ),
        (
            stats.missing,
            "message missing (gaps)",
            "messages missing (gaps)",
        ),
        (stats.files, "file stored", "files stored"),
        (stats.files_failed, "file not stored", "files not stored"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {}", plural(n, one, many));
        }
    }
    if stats.reply_errors > 0 {
        let n = stats.reply_errors;
        let _ = write!(s, ", {n} {} failed", plural(n, "reply", "replies"));
    }
    if stats.unanswerable > 0 {
        let _ = write!(
            s,
            ", {} not answered (sender without a name)",
            stats.unanswerable
        );
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
    use crate::net::Cred;
    use crate::output::escape::tests::{body, reference_json, reference_text};
    use lines::IN_PLACE;
    use proptest::prelude::*;

    #[test]
    fn a_count_of_one_is_said_in_the_singular() {
        let one = Stats {
            received: 1,
            pings: 1,
            files: 1,
            files_failed: 1,
            reply_errors: 1,
            kernel_drops: Some(0),
            ..Stats::default()
        };
        assert_eq!(
            listen_summary(Stop::Timeout, &one),
            "udpmsg listen: timeout: 1 received, 0 raw, 0 malformed, 1 ping answered, \
             1 file stored, 1 file not stored, 1 reply failed, 0 dropped by the kernel"
        );
        let two = Stats {
            files: 2,
            files_failed: 2,
            ..one
        };
        let said = listen_summary(Stop::Timeout, &two);
        assert!(
            said.contains(", 2 files stored, 2 files not stored, "),
            "{said}"
        );
    }

    fn gap_line(first: u64, last: u64) -> String {
        let mut lines = Lines::new(Vec::new());
        let from = PeerAddr::Inet(([127, 0, 0, 1], 9).into());
        let event = Event::Gap {
            at: SystemTime::UNIX_EPOCH,
            from: &from,
            sender: 0xab,
            first,
            last,
        };
        write_text_event(&mut lines, &event, "TS", "127.0.0.1:9").expect("write to a Vec");
        lines.flush().expect("write to a Vec");
        let line = String::from_utf8(lines.get_ref().clone()).expect("UTF-8");
        line.strip_suffix('\n').expect("a whole line").to_string()
    }

    #[test]
    fn gap_line_shows_a_range_as_first_dash_last() {
        assert_eq!(
            gap_line(5, 8),
            "TS 127.0.0.1:9 [gap]: 4 message(s) never arrived (sender 00000000000000ab, seq 5-8)"
        );
        assert_eq!(
            gap_line(7, 7),
            "TS 127.0.0.1:9 [gap]: 1 message(s) never arrived (sender 00000000000000ab, seq 7)"
        );
    }

    /// A text line as the listener wrote it before the one-pass writer:
    /// the whole body checked as UTF-8, then escaped a character at a time
    /// into a String.
    fn reference_text_line(event: &Event<'_>, ts: &str, from: &str) -> String {
        let mut s = format!("{ts} {from} ");
        match event {
            Event::Text { name, body, .. } => {
                s += &reference_text(name);
                match std::str::from_utf8(body) {
                    Ok(text) => s += &format!(": {}", reference_text(text)),
                    Err(_) => s += &format!(" [hex]: {}", Hex(body)),
                }
            }
            Event::Raw { bytes, .. } => match std::str::from_utf8(bytes) {
                Ok(text) => s += &format!("[raw]: {}", reference_text(text)),
                Err(_) => s += &format!("[raw hex]: {}", Hex(bytes)),
            },
            Event::Gap { .. } => unreachable!("not generated"),
        }
        s + "\n"
    }

    /// A JSON line as serde_json writes it, hardened (what
    /// `json::tests` pins the composed lines to), with the text escaped
    /// a character at a time.
    fn reference_json_line(event: &Event<'_>, ts: &str, from: &str) -> String {
        let (name, body, seq, sender, cred) = match event {
            Event::Text {
                name,
                body,
                seq,
                sender,
                cred,
                ..
            } => (Some(*name), *body, Some(*seq), Some(*sender), *cred),
            Event::Raw { bytes, cred, .. } => (None, *bytes, None, None, *cred),
            Event::Gap { .. } => unreachable!("not generated"),
        };
        let kind = if name.is_some() { "text" } else { "raw" };
        let from = format!("\"{}\"", reference_json(from));
        let name = name.map_or("null".to_string(), |n| format!("\"{}\"", reference_json(n)));
        let mut s =
            format!("{{\"ts\":\"{ts}\",\"kind\":\"{kind}\",\"from\":{from},\"name\":{name}");
        match std::str::from_utf8(body) {
            Ok(text) => s += &format!(",\"text\":\"{}\"", reference_json(text)),
            Err(_) => s += &format!(",\"hex\":\"{}\"", Hex(body)),
        }
        if let (Some(seq), Some(sender)) = (seq, sender) {
            s += &format!(",\"sender\":\"{}\",\"seq\":{seq}", Id(sender));
        }
        if let Some(cred) = cred {
            s += &format!(",\"pid\":{},\"uid\":{}", cred.pid, cred.uid);
        }
        s + "}\n"
    }

    /// A writer that takes at most `max` bytes a call and is interrupted
    /// every third call, as a pipe or a signal may make any writer.
    struct Stingy {
        written: Vec<u8>,
        max: usize,
        calls: usize,
    }

    impl Stingy {
        fn interrupted(&mut self) -> bool {
            self.calls += 1;
            self.calls.is_multiple_of(3)
        }
    }

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.max);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.max - n);
                self.written.extend_from_slice(&buf[..take]);
                n += take;
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A body: a small one, or one of at least [`IN_PLACE`] bytes (a
    /// small one inside printable filler, which the listener writes from
    /// where it is when nothing in it needs escaping, up to a block
    /// boundary of the output: two or three of them cross one).
    fn any_body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => body(),
            1 => (body(), IN_PLACE..4 * IN_PLACE, any::<prop::sample::Index>()).prop_map(
                |(inner, len, at)| {
                    let mut big: Vec<u8> = (0..len).map(|i| b' ' + (i % 95) as u8).collect();
                    let at = at.index(big.len());
                    big.splice(at..at, inner);
                    big
                }
            ),
        ]
    }

    /// Events as [`any_event`] makes them: (text or raw, name, body, cred).
    type EventSpec = (bool, String, Vec<u8>, bool);

    fn any_event() -> impl Strategy<Value = EventSpec> {
        let name = body().prop_map(|b| String::from_utf8_lossy(&b).into_owned());
        (any::<bool>(), name, any_body(), any::<bool>())
    }

    /// Everything `ListenOutput` writes for `specs`, and what the reference
    /// writers make of them.
    fn written_and_reference<W: Write>(
        out: W,
        format: Format,
        specs: &[EventSpec],
        written: impl Fn(&ListenOutput<W>) -> Vec<u8>,
    ) -> (Vec<u8>, Vec<u8>) {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let from = PeerAddr::Inet("[2001:db8::1]:47474".parse().expect("an address"));
        let ts = Timestamp(at).to_string();
        let from_text = fmt_addr(&from).to_string();
        let mut sink = ListenOutput::new(out, format, false);
        let mut reference = String::new();
        for (i, (text, name, body, cred)) in specs.iter().enumerate() {
            let cred = cred.then_some(Cred { pid: 42, uid: 7 });
            let event = if *text {
                Event::Text {
                    at,
                    from: &from,
                    cred,
                    name,
                    body,
                    sender: 0xfeed,
                    seq: i as u64,
                }
            } else {
                Event::Raw {
                    at,
                    from: &from,
                    cred,
                    bytes: body,
                }
            };
            sink.event(&event).expect("write to a Vec");
            reference += &match format {
                Format::Text => reference_text_line(&event, &ts, &from_text),
                Format::Json => reference_json_line(&event, &ts, &from_text),
            };
        }
        sink.finish().expect("write to a Vec");
        (written(&sink), reference.into_bytes())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn listener_lines_are_the_char_by_char_ones_whatever_the_writer(
            specs in prop::collection::vec(any_event(), 1..6),
            max in prop_oneof![Just(usize::MAX), 1..5000usize],
        ) {
            for format in [Format::Text, Format::Json] {
                let (got, want) = written_and_reference(Vec::new(), format, &specs, |s| {
                    s.out.get_ref().clone()
                });
                prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
                prop_assert_eq!(got, want);
                // Short writes and interruptions, under a line buffer
                // (which cuts the output's blocks at line ends).
                let stingy = io::LineWriter::new(Stingy { written: Vec::new(), max, calls: 0 });
                let (got, want) = written_and_reference(stingy, format, &specs, |s| {
                    s.out.get_ref().get_ref().written.clone()
                });
                prop_assert_eq!(got, want);
            }
        }
    }
}
