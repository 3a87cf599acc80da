//! Tests of the listener's output: the summary's words, gap lines, and
//! every line pinned against char-by-char reference writers.

use super::*;
use crate::commands::listen::{Stats, Stop};
use crate::net::Cred;
use crate::output::addr::fmt_addr;
use crate::output::escape::tests::{body, reference_json, reference_text};
use crate::util::hex::Hex;
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
    let mut s = format!("{{\"ts\":\"{ts}\",\"kind\":\"{kind}\",\"from\":{from},\"name\":{name}");
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
