//! The whole listener under arbitrary datagram sequences (issue #12's fuzz
//! target), protocol version 2: `commands::listen::Listener` driven as a
//! library in a private namespace, bound to 127.0.0.1 or to 0.0.0.0 (and
//! sent to 127.0.0.1 or 127.0.0.2), with every kind of message, open and
//! sealed (with the key, with another key, for another destination, dated
//! before the listener started, stale), mutated, truncated, repeated, raw
//! and garbage. Texts come mostly from a few senders with small,
//! overlapping sequence numbers and bases, so that acknowledged ones are
//! held, released, repeated and skipped past by base jumps, and
//! unacknowledged ones repeat. A model of `docs/PROTOCOL.md` (sections 5, 7
//! and 9) says what the listener must do with each sequence, keyed or not,
//! and the test checks that:
//!
//! - it neither panics nor stops, and answers two final pings;
//! - it shows exactly what the model shows, in order: raw datagrams, each
//!   unacknowledged text once per `(sender, seq)`, each sender's
//!   acknowledged texts once and in `seq` order from its first `base`, and
//!   a gap as soon as a `base` moves past missing texts;
//! - its counters are exactly the model's, so every datagram is accounted
//!   for;
//! - every reply comes from the address the datagrams were sent to, opens
//!   and decodes: a pong per ping, an answer per answerable probe, and acks
//!   that match the model. Each ack carries its sender's state (`next`,
//!   held ranges) after some datagram that asked for one; the last one
//!   after the last such datagram; and none arrives before the output it
//!   confirms was flushed (the sink reads the replies each time it is
//!   called, before it counts anything as written).
//!
//! Gaps are given up here only by base jumps: the gap wait, the one rule
//! that depends on time, is set out of reach. A case slower than the
//! listener's memory of shown pairs (5 s) is not judged.
//!
//! The number of sequences is bounded (`FUZZ_CASES`, or the environment's
//! `UDPMSG_FUZZ_CASES`) so the test runs in `scripts/test.sh` in about
//! 10–20 s.

mod common;

use common::{WAIT, isolate};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use udpmsg::commands::listen::{self, ANSWERS_PER_SOURCE, Event, Listener, Sink, Stats, Stop};
use udpmsg::net::{BindOptions, bind_listeners};
use udpmsg::reliable::dedup::RECENT_FOR;
use udpmsg::reliable::order::MAX_AHEAD;
use udpmsg::seal::{Envelope, Incoming, Key, MAX_SKEW, Opened, Sealer};
use udpmsg::wire::{
    self, Ack, Answer, Datagram, FLAG_ACK, FLAG_BUNDLE, FLAG_FILE, MAX_ACK_RANGES, Message, Ping,
    Probe, Refuse, Text,
};

/// Sequences tried by default.
const FUZZ_CASES: u32 = 2500;
/// Datagrams in one sequence, at most.
const MAX_DATAGRAMS: usize = 48;
/// The final pings' sender, and the stop marker's text.
const FINAL: u64 = 0xf1a1_f1a1_f1a1_f1a1;
const STOP: &[u8] = b"\xffudpmsg-fuzz-stop";
/// The listener's name (in its answers).
const NAME: &str = "fuzz";
/// The senders of most texts: few, so that their sequence numbers meet.
const SENDERS: [u64; 3] = [0x5e1d_0001, 0x5e1d_0002, 0x5e1d_0003];
/// Given-up ranges a listener remembers per sender (`MAX_SKIPPED` in
/// `src/reliable/order.rs`); the model has no such bound, and a case that
/// goes past it (none the strategy makes, in practice) is not judged.
const REMEMBERED_GAPS: usize = 64;
/// Longest wait for a missing gap here: never, within a case.
const GAP_WAIT: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------- inputs

/// A Text's fields, owned so a strategy can make them.
#[derive(Debug, Clone)]
struct TextSpec {
    sender: u64,
    seq: u64,
    base: u64,
    flags: u8,
    name: String,
    body: Vec<u8>,
}

/// A message of any kind, owned so a strategy can make it.
#[derive(Debug, Clone)]
enum Kind {
    Text(TextSpec),
    Ack {
        instance: u64,
        sender: u64,
        next: u64,
        ranges: Vec<u8>,
    },
    Refuse {
        instance: u64,
        sender: u64,
        seq: u64,
        reason: u8,
    },
    Probe {
        instance: u64,
        token: u64,
        pad: usize,
    },
    Answer(u64, String),
    Ping(Ping),
    Pong(Ping),
    /// Bytes as they are (raw, or garbage after the magic).
    Bytes(Vec<u8>),
}

impl Kind {
    /// The open datagram.
    fn encode(&self) -> Vec<u8> {
        let pad = [0u8; 400];
        let message = match self {
            Kind::Text(t) => Message::Text(Text {
                sender: t.sender,
                seq: t.seq,
                base: t.base,
                flags: t.flags,
                name: &t.name,
                body: &t.body,
            }),
            Kind::Ack {
                instance,
                sender,
                next,
                ranges,
            } => Message::Ack(Ack {
                instance: *instance,
                sender: *sender,
                next: *next,
                ranges,
            }),
            Kind::Refuse {
                instance,
                sender,
                seq,
                reason,
            } => Message::Refuse(Refuse {
                instance: *instance,
                sender: *sender,
                seq: *seq,
                reason: *reason,
            }),
            Kind::Probe {
                instance,
                token,
                pad: len,
            } => Message::Probe(Probe {
                instance: *instance,
                token: *token,
                pad: &pad[..*len],
            }),
            Kind::Answer(instance, name) => Message::Answer(Answer {
                instance: *instance,
                token: 2,
                port: 3,
                version: wire::VERSION,
                name,
            }),
            Kind::Ping(p) => Message::Ping(*p),
            Kind::Pong(p) => Message::Pong(*p),
            Kind::Bytes(bytes) => return bytes.clone(),
        };
        let mut out = Vec::new();
        wire::encode(&message, wire::MAX_DATAGRAM, &mut out).expect("encode");
        out
    }
}

/// How a datagram is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrap {
    Open,
    /// With the case's key (the keyed listener's), for the listener.
    Sealed,
    /// With another key.
    WrongKey,
    /// With the case's key, for another port (true) or another address of
    /// this host (127.0.0.9).
    Elsewhere(bool),
    /// With the case's key, dated this many seconds before the listener
    /// started: refused while its sealer is unknown to the listener.
    Early(u64),
    /// With the case's key, dated more than the allowed skew ahead (true)
    /// or behind: this many seconds beyond it.
    Stale(bool, u64),
}

/// What happens to the bytes on the way.
#[derive(Debug, Clone)]
enum Change {
    None,
    Flip(Index, u8),
    Truncate(Index),
    Append(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Item {
    Fresh(Kind, Wrap, Change),
    /// Sends an earlier datagram of the sequence again, byte for byte.
    Repeat(Index),
    /// Acknowledged texts `1, 3, 5, ...` (this many) from one sender, from
    /// base 0, wrapped as given: more held ranges than an ack carries.
    Spread(u64, usize, Wrap),
}

fn text() -> impl Strategy<Value = TextSpec> {
    let sender = prop_oneof![
        5 => Just(SENDERS[0]),
        2 => Just(SENDERS[1]),
        1 => Just(SENDERS[2]),
        1 => any::<u64>(),
    ];
    let seq = prop_oneof![
        12 => 0u64..8,
        // Around the farthest a sender may run ahead (from a small next).
        1 => (0u64..8).prop_map(|d| MAX_AHEAD + d),
        // The end of the sequence space (an acknowledged 2^64 - 1 is invalid).
        1 => (0u64..3).prop_map(|d| u64::MAX - d),
        1 => any::<u64>(),
    ];
    // The base: a little below the seq (often moving past missing texts),
    // 0, or anything (mostly above the seq: invalid).
    let back = prop_oneof![
        6 => (0u64..4).prop_map(Some),
        1 => Just(Some(u64::MAX)),
        1 => Just(None),
    ];
    let flags = prop_oneof![
        4 => Just(FLAG_ACK),
        2 => Just(FLAG_ACK | FLAG_BUNDLE),
        4 => Just(0u8),
        1 => any::<u8>()
    ];
    (
        sender,
        seq,
        back,
        any::<u64>(),
        flags,
        ".{0,12}",
        prop::collection::vec(any::<u8>(), 0..48),
    )
        .prop_map(
            |(sender, seq, back, any_base, flags, name, body)| TextSpec {
                sender,
                seq,
                base: back.map_or(any_base, |b| seq.saturating_sub(b)),
                flags,
                name,
                body,
            },
        )
}

fn kind() -> impl Strategy<Value = Kind> {
    let name = ".{0,12}";
    let body = prop::collection::vec(any::<u8>(), 0..48);
    // Held ranges as an ack carries them: often well-formed, sometimes not.
    let ranges = prop_oneof![
        3 => prop::collection::vec((0u64..24, 0u64..3), 0..4).prop_map(|pairs| {
            pairs
                .into_iter()
                .flat_map(|(first, len)| [first, first + len])
                .flat_map(u64::to_le_bytes)
                .collect()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ];
    let ping = (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(sender, seq, stamp)| Ping {
        sender,
        seq,
        stamp,
    });
    prop_oneof![
        12 => text().prop_map(Kind::Text),
        1 => (any::<u64>(), prop::sample::select(SENDERS.to_vec()), 0u64..12, ranges).prop_map(
            |(instance, sender, next, ranges)| Kind::Ack { instance, sender, next, ranges }
        ),
        1 => (any::<u64>(), any::<u64>(), any::<u64>(), any::<u8>()).prop_map(
            |(instance, sender, seq, reason)| Kind::Refuse { instance, sender, seq, reason }
        ),
        1 => (any::<u64>(), any::<u64>(), 0usize..400)
            .prop_map(|(instance, token, pad)| Kind::Probe { instance, token, pad }),
        1 => (any::<u64>(), name).prop_map(|(i, n)| Kind::Answer(i, n)),
        2 => ping.clone().prop_map(Kind::Ping),
        1 => ping.prop_map(Kind::Pong),
        // Raw datagrams (text, or any bytes), and garbage after the magic,
        // with a valid header or any.
        2 => prop_oneof![".{0,40}".prop_map(String::into_bytes), body.clone()]
            .prop_map(Kind::Bytes),
        1 => (prop::collection::vec(any::<u8>(), 0..4), body.clone()).prop_map(|(head, rest)| {
            let mut b = wire::MAGIC.to_vec();
            b.extend(head);
            b.extend(rest);
            Kind::Bytes(b)
        }),
        1 => body.prop_map(|rest| {
            let mut b = wire::MAGIC.to_vec();
            b.extend([wire::VERSION, wire::MODE_OPEN]);
            b.extend(rest);
            Kind::Bytes(b)
        }),
    ]
}

/// A datagram: mostly what the listener accepts (open without a key,
/// sealed with one), then anything else.
fn item(keyed: bool) -> impl Strategy<Value = Item> {
    let skew = MAX_SKEW.as_secs();
    let (open, sealed) = if keyed { (2, 8) } else { (8, 2) };
    let wrap = prop_oneof![
        open => Just(Wrap::Open),
        sealed => Just(Wrap::Sealed),
        1 => Just(Wrap::WrongKey),
        1 => any::<bool>().prop_map(Wrap::Elsewhere),
        1 => (1u64..30).prop_map(Wrap::Early),
        1 => (any::<bool>(), skew..skew * 60).prop_map(|(ahead, s)| Wrap::Stale(ahead, s)),
    ];
    let change = prop_oneof![
        8 => Just(Change::None),
        2 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Change::Flip(i, x)),
        1 => any::<Index>().prop_map(Change::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(Change::Append),
    ];
    let accepted = if keyed { Wrap::Sealed } else { Wrap::Open };
    let spread = MAX_ACK_RANGES + 1..MAX_ACK_RANGES + 8;
    prop_oneof![
        270 => (kind(), wrap, change).prop_map(|(k, w, c)| Item::Fresh(k, w, c)),
        30 => any::<Index>().prop_map(Item::Repeat),
        1 => (prop::sample::select(SENDERS.to_vec()), spread)
            .prop_map(move |(sender, n)| Item::Spread(sender, n, accepted)),
    ]
}

/// Where a case's listener listens and is sent to.
#[derive(Debug, Clone, Copy)]
struct Setup {
    keyed: bool,
    /// Bound to 0.0.0.0 (replies leave from the address each datagram was
    /// sent to, which sealed datagrams are bound to) rather than 127.0.0.1.
    wildcard: bool,
    /// Sent to 127.0.0.2 (wildcard only) rather than 127.0.0.1.
    second: bool,
}

impl Setup {
    fn bind(self) -> SocketAddr {
        let ip = if self.wildcard {
            Ipv4Addr::UNSPECIFIED
        } else {
            Ipv4Addr::LOCALHOST
        };
        SocketAddr::new(ip.into(), 0)
    }

    fn dest(self, port: u16) -> SocketAddr {
        let ip = if self.wildcard && self.second {
            Ipv4Addr::new(127, 0, 0, 2)
        } else {
            Ipv4Addr::LOCALHOST
        };
        SocketAddr::new(ip.into(), port)
    }

    fn key(self, key: &Key) -> Option<&Key> {
        self.keyed.then_some(key)
    }
}

fn case() -> impl Strategy<Value = (Setup, Vec<Item>)> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_flat_map(|(keyed, wildcard, second)| {
        let setup = Setup {
            keyed,
            wildcard,
            second,
        };
        (
            Just(setup),
            prop::collection::vec(item(keyed), 0..MAX_DATAGRAMS),
        )
    })
}

// ---------------------------------------------------------------- sealing

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// When a datagram sealed with the case's key for the listener is dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dated {
    /// Now, after the listener started.
    Fresh,
    /// Before the listener started (within the allowed skew).
    Early,
    /// Beyond the allowed skew.
    Stale,
}

/// A datagram sealed with the case's key for the listener and not changed
/// since: what a keyed listener may accept.
#[derive(Debug, Clone)]
struct Pristine {
    counter: u64,
    dated: Dated,
    /// The open datagram inside.
    open: Vec<u8>,
}

/// One datagram of a sequence.
#[derive(Debug, Clone)]
struct Sent {
    bytes: Vec<u8>,
    pristine: Option<Pristine>,
}

/// Seals a case's datagrams for the listener at `to`, which started
/// between `before` and `after` (microseconds since the epoch).
struct Sealing {
    right: Sealer,
    wrong: Sealer,
    to: SocketAddr,
    before: u64,
    after: u64,
}

impl Sealing {
    /// A time after the listener started (however coarse the clock).
    fn fresh(&self) -> u64 {
        micros(SystemTime::now()).max(self.after + 1)
    }

    /// The bytes for `open` wrapped as asked, and how they are dated when
    /// they are sealed with the case's key for the listener.
    fn wrap(&mut self, open: &[u8], wrap: Wrap) -> (Vec<u8>, Option<Dated>) {
        let now = self.fresh();
        let to = self.to;
        let skew = MAX_SKEW.as_micros() as u64;
        let (bytes, dated) = match wrap {
            Wrap::Open => return (open.to_vec(), None),
            Wrap::Sealed => (self.right.seal_at(open, to, now), Some(Dated::Fresh)),
            Wrap::WrongKey => (self.wrong.seal_at(open, to, now), None),
            Wrap::Elsewhere(port) => {
                let dest = if port {
                    SocketAddr::new(to.ip(), to.port() ^ 1)
                } else {
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), to.port())
                };
                (self.right.seal_at(open, dest, now), None)
            }
            Wrap::Early(secs) => (
                self.right.seal_at(open, to, self.before - secs * 1_000_000),
                Some(Dated::Early),
            ),
            Wrap::Stale(ahead, secs) => {
                let by = skew + secs * 1_000_000;
                let at = if ahead { now + by } else { now - by };
                (self.right.seal_at(open, to, at), Some(Dated::Stale))
            }
        };
        (bytes.to_vec(), dated)
    }

    /// The final pings and the marker: sealed when keyed.
    fn final_datagram(&mut self, keyed: bool, open: &[u8]) -> Vec<u8> {
        if !keyed {
            return open.to_vec();
        }
        let now = self.fresh();
        self.right.seal_at(open, self.to, now).to_vec()
    }
}

/// Applies `change`; returns whether it changed anything.
fn mutate(bytes: &mut Vec<u8>, change: &Change) -> bool {
    match change {
        Change::None => false,
        Change::Flip(at, x) if !bytes.is_empty() => {
            let at = at.index(bytes.len());
            bytes[at] ^= x;
            true
        }
        Change::Truncate(at) if !bytes.is_empty() => {
            bytes.truncate(at.index(bytes.len()));
            true
        }
        Change::Append(more) => {
            bytes.extend(more);
            true
        }
        Change::Flip(..) | Change::Truncate(_) => false,
    }
}

/// The datagrams of a sequence, sealed where asked.
fn datagrams(items: &[Item], sealing: &mut Sealing) -> Vec<Sent> {
    let mut sent: Vec<Sent> = Vec::new();
    for item in items {
        let datagram = match item {
            Item::Repeat(i) if !sent.is_empty() => sent[i.index(sent.len())].clone(),
            Item::Repeat(_) => continue,
            Item::Spread(sender, n, wrap) => {
                for i in 0..*n as u64 {
                    let text = Kind::Text(TextSpec {
                        sender: *sender,
                        seq: 2 * i + 1,
                        base: 0,
                        flags: FLAG_ACK,
                        name: String::new(),
                        body: i.to_le_bytes().to_vec(),
                    });
                    let item = Item::Fresh(text, *wrap, Change::None);
                    sent.extend(datagrams(&[item], sealing));
                }
                continue;
            }
            Item::Fresh(kind, wrap, change) => {
                let open = kind.encode();
                let (mut bytes, dated) = sealing.wrap(&open, *wrap);
                let counter = wire::read_u64(&bytes, wire::field::COUNTER);
                let mutated = mutate(&mut bytes, change);
                let pristine = match (dated, counter) {
                    (Some(dated), Some(counter)) if !mutated => Some(Pristine {
                        counter,
                        dated,
                        open,
                    }),
                    _ => None,
                };
                Sent { bytes, pristine }
            }
        };
        sent.push(datagram);
    }
    sent
}

// ---------------------------------------------------------------- outputs

/// One thing shown, comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Text {
        sender: u64,
        seq: u64,
        name: String,
        body: Vec<u8>,
    },
    Raw(Vec<u8>),
    Gap {
        sender: u64,
        first: u64,
        last: u64,
    },
    /// A file record (FLAG_FILE): ordered and acknowledged like a text,
    /// handed to the file receiver (without a save directory: refused),
    /// never shown.
    File,
}

fn is_marker(shown: &Shown) -> bool {
    match shown {
        Shown::Raw(b) => b == STOP,
        Shown::Text { body, .. } => body == STOP,
        Shown::Gap { .. } | Shown::File => false,
    }
}

/// A reply as it arrived, with how much output had been written by then.
struct Heard {
    bytes: Vec<u8>,
    from: SocketAddr,
    written: usize,
}

/// Collects what the listener shows, and refuses more output (stopping the
/// listener) at the stop marker. Output counts as written when the
/// listener flushes it (or idles, or finishes). Every call first reads the
/// replies that reached the sending socket, noting how much was written
/// then: a reply read before a flush was sent before it.
struct Collect {
    shown: Vec<(Shown, SocketAddr)>,
    written: usize,
    /// The sending socket (non-blocking).
    replies: UdpSocket,
    heard: Vec<Heard>,
    buf: Vec<u8>,
}

impl Collect {
    fn new(replies: UdpSocket) -> Self {
        Collect {
            shown: Vec::new(),
            written: 0,
            replies,
            heard: Vec::new(),
            buf: vec![0u8; wire::MAX_DATAGRAM + 1],
        }
    }

    fn hear(&mut self) {
        while let Ok((len, from)) = self.replies.recv_from(&mut self.buf) {
            self.heard.push(Heard {
                bytes: self.buf[..len].to_vec(),
                from,
                written: self.written,
            });
        }
    }

    fn write(&mut self) {
        self.hear();
        self.written = self.shown.len();
    }
}

impl Sink for Collect {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.hear();
        let (shown, from) = match event {
            Event::Text {
                sender,
                seq,
                name,
                body,
                from,
                ..
            } => (
                Shown::Text {
                    sender: *sender,
                    seq: *seq,
                    name: name.to_string(),
                    body: body.to_vec(),
                },
                from,
            ),
            Event::Raw { bytes, from, .. } => (Shown::Raw(bytes.to_vec()), from),
            Event::Gap {
                sender,
                first,
                last,
                from,
                ..
            } => (
                Shown::Gap {
                    sender: *sender,
                    first: *first,
                    last: *last,
                },
                from,
            ),
        };
        let stop = is_marker(&shown);
        let from = from.inet().expect("the fuzzed listener is on UDP");
        self.shown.push((shown, from));
        // A closed pipe: the one output error that ends a listener quietly.
        if stop {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stop marker"));
        }
        Ok(())
    }

    fn idle(&mut self, _now: Instant) -> io::Result<Option<Instant>> {
        self.write();
        Ok(None)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write();
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.write();
        Ok(())
    }
}

// ---------------------------------------------------------------- the model

/// What an ack for one sender says: `next` and the held ranges.
type AckState = (u64, Vec<(u64, u64)>);

/// One sender of acknowledged texts, as section 7 describes it.
#[derive(Debug, Default)]
struct Stream {
    next: u64,
    held: BTreeMap<u64, Shown>,
    given_up: Vec<(u64, u64)>,
}

impl Stream {
    fn ack_state(&self) -> AckState {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &seq in self.held.keys() {
            match ranges.last_mut() {
                Some((_, last)) if *last + 1 == seq => *last = seq,
                _ => ranges.push((seq, seq)),
            }
        }
        // All of them: which ones an ack carries when there are more than
        // fit is checked by `ack_fits`.
        (self.next, ranges)
    }

    fn given_up(&self, seq: u64) -> bool {
        self.given_up.iter().any(|&(a, b)| a <= seq && seq <= b)
    }
}

/// Where one sender's acknowledged texts and gaps go.
struct Out<'a> {
    sender: u64,
    shown: &'a mut Vec<Shown>,
    stats: &'a mut Stats,
}

impl Out<'_> {
    /// Gives up `stream.next..=last`: reported at once.
    fn gap(&mut self, stream: &mut Stream, last: u64) {
        let first = stream.next;
        stream.given_up.push((first, last));
        stream.next = last + 1;
        self.stats.missing = self
            .stats
            .missing
            .saturating_add(last - first)
            .saturating_add(1);
        self.shown.push(Shown::Gap {
            sender: self.sender,
            first,
            last,
        });
    }

    /// Shows the held texts that are now in order.
    fn release(&mut self, stream: &mut Stream) {
        while let Some(text) = stream.held.remove(&stream.next) {
            if text != Shown::File {
                self.stats.received += 1;
                self.shown.push(text);
            }
            stream.next += 1;
        }
    }
}

/// The listener's state after one datagram.
struct Step {
    /// Things shown so far.
    shown: usize,
    /// The ack state of every sender of acknowledged texts.
    acks: HashMap<u64, AckState>,
}

/// What the listener must do with a sequence.
#[derive(Default)]
struct Model {
    keyed: bool,
    /// Shown, in order (the marker aside).
    shown: Vec<Shown>,
    /// Counted (the final pings, the marker and the acks sent aside).
    stats: Stats,
    streams: HashMap<u64, Stream>,
    /// `(sender, seq)` of unacknowledged texts shown.
    recent: HashSet<(u64, u64)>,
    /// Pings answered, in order.
    pongs: Vec<Ping>,
    /// Tokens of the probes answered, in order.
    answered: Vec<u64>,
    /// After each datagram.
    steps: Vec<Step>,
    /// `(datagram, sender)`: the datagram owes its sender an ack.
    owed: Vec<(usize, u64)>,
    /// Keyed: counters of the case's sealer the listener accepted.
    accepted: HashSet<u64>,
    /// Keyed: the listener knows the case's sealer (accepted one of its
    /// datagrams), so it takes those dated before it started.
    sealer_known: bool,
    /// A sender gave up more ranges than the listener remembers.
    beyond_memory: bool,
    /// Senders with an acknowledged Text that set FLAG_BUNDLE: only they may
    /// have entries in an Acks (PROTOCOL.md 4.11).
    bundling: HashSet<u64>,
}

fn shown_text(t: &Text<'_>) -> Shown {
    if t.flags & FLAG_FILE != 0 {
        return Shown::File;
    }
    Shown::Text {
        sender: t.sender,
        seq: t.seq,
        name: t.name.to_string(),
        body: t.body.to_vec(),
    }
}

impl Model {
    fn new(keyed: bool, sent: &[Sent]) -> Self {
        let mut model = Model {
            keyed,
            ..Model::default()
        };
        for d in sent {
            model.datagram(d);
        }
        model
    }

    fn datagram(&mut self, d: &Sent) {
        let k = self.steps.len();
        if self.keyed {
            self.keyed_datagram(d, k);
        } else {
            self.open_datagram(d, k);
        }
        let acks = self
            .streams
            .iter()
            .map(|(s, stream)| (*s, stream.ack_state()))
            .collect();
        self.steps.push(Step {
            shown: self.shown.len(),
            acks,
        });
    }

    /// Sections 5 and 9 without a key: sealed datagrams are dropped, raw
    /// ones shown.
    fn open_datagram(&mut self, d: &Sent, k: usize) {
        match wire::classify(&d.bytes) {
            Err(_) => self.stats.malformed += 1,
            Ok(Datagram::Sealed(_)) => self.stats.sealed += 1,
            Ok(Datagram::Raw(raw)) => {
                self.stats.raw += 1;
                self.shown.push(Shown::Raw(raw.to_vec()));
            }
            Ok(Datagram::Message(m)) => self.message(&m, d.bytes.len(), k),
        }
    }

    /// Section 9 with a key, in its order: only what was sealed with the
    /// key for this listener, unchanged, within the time window, and not
    /// seen before is opened; a sealer the listener has not heard from must
    /// have sealed it after the listener started.
    fn keyed_datagram(&mut self, d: &Sent, k: usize) {
        match wire::classify(&d.bytes) {
            Err(_) => self.stats.malformed += 1,
            Ok(Datagram::Raw(_)) => self.stats.raw_refused += 1,
            Ok(Datagram::Message(_)) => self.stats.unsealed += 1,
            Ok(Datagram::Sealed(_)) => match &d.pristine {
                None => self.stats.forged += 1,
                Some(p) if p.dated == Dated::Stale => self.stats.stale += 1,
                Some(p)
                    if self.accepted.contains(&p.counter)
                        || (p.dated == Dated::Early && !self.sealer_known) =>
                {
                    self.stats.replayed += 1
                }
                Some(p) => {
                    self.accepted.insert(p.counter);
                    self.sealer_known = true;
                    let body = p.open.get(wire::HEADER_LEN..).unwrap_or_default();
                    match wire::decode_body(body) {
                        Err(_) => self.stats.malformed += 1,
                        Ok(m) => self.message(&m, d.bytes.len() - wire::SEAL_OVERHEAD, k),
                    }
                }
            },
        }
    }

    /// Section 7, for a message of `open_len` bytes (unsealed) that
    /// datagram `k` carried.
    fn message(&mut self, m: &Message<'_>, open_len: usize, k: usize) {
        match m {
            Message::Text(t) if t.flags & FLAG_ACK != 0 => self.acked_text(t, k),
            Message::Text(t) => {
                // Once per (sender, seq); the base is ignored.
                if self.recent.insert((t.sender, t.seq)) {
                    self.stats.received += 1;
                    self.shown.push(shown_text(t));
                } else {
                    self.stats.duplicates += 1;
                }
            }
            Message::Ping(p) => {
                self.stats.pings += 1;
                self.pongs.push(*p);
            }
            // Answered when the answer is no larger than the probe.
            Message::Probe(p) if open_len >= wire::ANSWER_OVERHEAD + NAME.len() => {
                self.stats.answers += 1;
                self.answered.push(p.token);
            }
            Message::Probe(_) => self.stats.probes_ignored += 1,
            // Announcements are never answered (section 7, Presence).
            Message::Ack(_)
            | Message::Acks(_)
            | Message::Answer(_)
            | Message::Pong(_)
            | Message::Refuse(_)
            | Message::Hello(_)
            | Message::Goodbye(_)
            | Message::FileStatus(_) => {}
        }
    }

    /// An acknowledged text: exactly once, in `seq` order, per sender.
    fn acked_text(&mut self, t: &Text<'_>, k: usize) {
        if t.flags & FLAG_BUNDLE != 0 {
            self.bundling.insert(t.sender);
        }
        let mut out = Out {
            sender: t.sender,
            shown: &mut self.shown,
            stats: &mut self.stats,
        };
        // A sender not known starts at its base.
        let stream = self.streams.entry(t.sender).or_insert_with(|| Stream {
            next: t.base,
            ..Stream::default()
        });
        // A base past the next expected: the texts between were given up.
        // Missing ones are reported at once, held ones shown, in seq order.
        while stream.next < t.base {
            let held = stream
                .held
                .keys()
                .next()
                .copied()
                .filter(|&seq| seq < t.base);
            let until = held.unwrap_or(t.base);
            if until > stream.next {
                out.gap(stream, until - 1);
            }
            out.release(stream);
        }
        let owed = if t.seq < stream.next {
            // Already shown, or given up before this sender was heard (so
            // below its first base): a duplicate. In a gap given up: never
            // shown, not acknowledged.
            let duplicate = !stream.given_up(t.seq);
            if duplicate {
                out.stats.duplicates += 1;
            }
            duplicate
        } else if t.seq == stream.next {
            if t.flags & FLAG_FILE == 0 {
                out.stats.received += 1;
                out.shown.push(shown_text(t));
            }
            stream.next += 1;
            out.release(stream);
            true
        } else if stream.held.contains_key(&t.seq) {
            out.stats.duplicates += 1;
            true
        } else if t.seq - stream.next > MAX_AHEAD {
            // Too far ahead: not acknowledged (its sender retries).
            false
        } else {
            stream.held.insert(t.seq, shown_text(t));
            true
        };
        if stream.given_up.len() > REMEMBERED_GAPS {
            self.beyond_memory = true;
        }
        if owed {
            self.owed.push((k, t.sender));
        }
    }

    /// Sender `s`'s ack state after datagram `k`.
    fn ack_state(&self, k: usize, s: u64) -> Option<&AckState> {
        self.steps.get(k)?.acks.get(&s)
    }
}

// ---------------------------------------------------------------- replies

/// An ack as it arrived.
#[derive(Debug)]
struct AckSeen {
    sender: u64,
    state: AckState,
    /// Output written when it was read.
    written: usize,
}

/// The replies to the sending socket, opened and sorted.
struct Replies {
    incoming: Incoming,
    /// Where they were sent (the sending socket): what sealed ones are
    /// bound to.
    dest: SocketAddr,
    pongs: Vec<Ping>,
    answers: Vec<u64>,
    acks: Vec<AckSeen>,
    instances: HashSet<u64>,
    /// Senders that set FLAG_BUNDLE (the model's): only they may have
    /// entries in an Acks.
    bundling: HashSet<u64>,
    /// Ack and Acks datagrams.
    ack_datagrams: u64,
}

impl Replies {
    fn new(key: Option<&Key>, dest: SocketAddr, bundling: HashSet<u64>) -> Self {
        Replies {
            incoming: Envelope::new(key).incoming,
            dest,
            pongs: Vec::new(),
            answers: Vec::new(),
            acks: Vec::new(),
            instances: HashSet::new(),
            bundling,
            ack_datagrams: 0,
        }
    }

    /// Every reply comes from where the datagrams went, opens and decodes,
    /// and is one a listener sends.
    fn take(&mut self, heard: &Heard, to: SocketAddr) -> Result<(), TestCaseError> {
        prop_assert_eq!(heard.from, to, "a reply from elsewhere");
        let opened = self
            .incoming
            .open(&heard.bytes, SystemTime::now(), self.dest);
        match opened {
            Ok(Opened::Message(Message::Pong(p))) => self.pongs.push(p),
            Ok(Opened::Message(Message::Answer(a))) => {
                prop_assert_eq!(
                    (a.port, a.version, a.name),
                    (to.port(), wire::VERSION, NAME)
                );
                self.instances.insert(a.instance);
                self.answers.push(a.token);
            }
            Ok(Opened::Message(Message::Ack(a))) => {
                self.ack_datagrams += 1;
                self.instances.insert(a.instance);
                self.acks.push(AckSeen {
                    sender: a.sender,
                    state: (a.next, a.ranges().collect()),
                    written: heard.written,
                });
            }
            // Several senders' acks at once (4.11): each entry is an Ack.
            // Only senders that set FLAG_BUNDLE get one, and only two or
            // more at a time.
            Ok(Opened::Message(Message::Acks(bundle))) => {
                self.ack_datagrams += 1;
                self.instances.insert(bundle.instance);
                prop_assert!(bundle.acks().count() >= 2, "an Acks of one");
                for a in bundle.acks() {
                    prop_assert!(
                        self.bundling.contains(&a.sender),
                        "an Acks entry for a sender that never set FLAG_BUNDLE"
                    );
                    self.acks.push(AckSeen {
                        sender: a.sender,
                        state: (a.next, a.ranges().collect()),
                        written: heard.written,
                    });
                }
            }
            // What became of an offered file (here: refused, no save dir).
            Ok(Opened::Message(Message::FileStatus(f))) => {
                self.instances.insert(f.instance);
            }
            other => prop_assert!(false, "a reply the listener never sends: {:?}", other),
        }
        prop_assert!(
            self.instances.len() <= 1,
            "one instance: {:?}",
            self.instances
        );
        Ok(())
    }
}

/// Whether the acks received are the ones the model owes, as far as they
/// have arrived.
enum Acks {
    Complete,
    /// Some sender has not had the ack for its last datagram yet.
    Missing(String),
}

/// Checks the acks against the model. The listener sends one ack per
/// sender per batch of datagrams, after the batch, with the sender's state
/// then. Batches are not seen from here, so for each sender the acks must
/// match states after datagrams `j1 < j2 < ...`, each `j` after one more
/// datagram that owed the sender an ack, and the last `j` after the last
/// such datagram. The earliest such `j` is taken for each ack (the real one
/// is no earlier): everything shown up to it must have been written before
/// the ack was read.
/// Whether an ack's state is what PROTOCOL.md 4.2 lets a listener send for
/// the model's state: the same `next`; held ranges that the model holds, at
/// most `MAX_ACK_RANGES` (fewer when the texts it answers were small: an
/// ack is never larger than they were); all of them when they fit, else
/// the lowest quarter of those it lists among them (the rest are those of
/// recent arrivals and the highest).
fn ack_fits(model: &AckState, ack: &AckState) -> bool {
    let (next, held) = model;
    let listed = ack.1.len();
    if ack.0 != *next || listed > MAX_ACK_RANGES {
        return false;
    }
    if listed >= held.len() {
        return ack.1 == *held;
    }
    let lowest = listed.div_ceil(4);
    ack.1[..lowest] == held[..lowest] && ack.1.iter().all(|r| held.binary_search(r).is_ok())
}

fn check_acks(model: &Model, acks: &[AckSeen]) -> Result<Acks, TestCaseError> {
    let mut senders: Vec<u64> = model.owed.iter().map(|&(_, s)| s).collect();
    senders.extend(acks.iter().map(|a| a.sender));
    senders.sort_unstable();
    senders.dedup();
    let n = model.steps.len();
    for s in senders {
        let points: Vec<usize> = model
            .owed
            .iter()
            .filter(|&&(_, o)| o == s)
            .map(|&(k, _)| k)
            .collect();
        let seen: Vec<&AckSeen> = acks.iter().filter(|a| a.sender == s).collect();
        let matches = |from: usize, ack: &AckSeen| {
            (from..n).find(|&j| {
                model
                    .ack_state(j, s)
                    .is_some_and(|m| ack_fits(m, &ack.state))
            })
        };
        let mut prev: Option<usize> = None;
        let mut complete = points.is_empty();
        for (t, ack) in seen.iter().enumerate() {
            let Some(&first) = points.iter().find(|&&k| prev.is_none_or(|p| k > p)) else {
                return Err(TestCaseError::fail(format!(
                    "an ack for sender {s:#x} with nothing to acknowledge after datagram \
                     {prev:?}: {ack:?}"
                )));
            };
            let Some(j) = matches(first, ack) else {
                let states: Vec<_> = (first..n).map(|j| model.ack_state(j, s)).collect();
                return Err(TestCaseError::fail(format!(
                    "an ack for sender {s:#x} that no state matches: {ack:?}; states after \
                     datagram {first} on: {states:?}"
                )));
            };
            prop_assert!(
                model.steps[j].shown <= ack.written,
                "an ack read before what it confirms was written: {:?} (at the earliest after \
                 datagram {}, when {} things were shown)",
                ack,
                j,
                model.steps[j].shown
            );
            if t + 1 == seen.len()
                && let Some(&last) = points.last()
            {
                complete = matches(first.max(last), ack).is_some();
            }
            prev = Some(j);
        }
        if !complete {
            let last = points.last().copied().unwrap_or_default();
            let states: Vec<_> = (last..n).map(|j| model.ack_state(j, s)).collect();
            return Ok(Acks::Missing(format!(
                "sender {s:#x} owed acks after datagrams {points:?}, the last one with a state \
                 from after datagram {last} on: {states:?}; got {seen:?}"
            )));
        }
    }
    Ok(Acks::Complete)
}

// ---------------------------------------------------------------- one case

fn config(keyed: bool, key: &Key) -> listen::Config {
    listen::Config {
        name: NAME.into(),
        count: None,
        // A safety net only: the stop marker ends every run.
        timeout: Some(WAIT * 3),
        catch_signals: false,
        gap_wait: GAP_WAIT,
        key: keyed.then(|| key.clone()),
        echo: false,
        files: Default::default(),
    }
}

/// Waits for the pong to final ping `seq` on `pinger`; returns where it
/// came from.
fn pong(pinger: &UdpSocket, incoming: &mut Incoming, seq: u64) -> Option<SocketAddr> {
    let dest = pinger.local_addr().expect("pinger address");
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    loop {
        let (len, from) = pinger.recv_from(&mut buf).ok()?;
        if let Ok(Opened::Message(Message::Pong(p))) =
            incoming.open(&buf[..len], SystemTime::now(), dest)
            && p.sender == FINAL
            && p.seq == seq
        {
            return Some(from);
        }
    }
}

/// What a run of the listener left.
struct Run {
    ended: listen::Ended,
    collect: Collect,
    sent: Vec<Sent>,
    /// Where the datagrams went.
    to: SocketAddr,
    /// Where the final pongs came from (`None`: one never came).
    pongs_from: Vec<Option<SocketAddr>>,
    /// From the first datagram sent to the last pong.
    took: Duration,
}

/// Starts a listener, sends it the sequence (sealed for it once it is up),
/// then two final pings from another socket (the second pong comes after
/// the acks of every batch before), and the stop marker.
fn run(setup: Setup, items: &[Item], key: &Key, other: &Key, peer: &UdpSocket) -> Run {
    let keyed = setup.keyed;
    let pinger = UdpSocket::bind("127.0.0.1:0").expect("pinger");
    pinger.set_read_timeout(Some(WAIT)).expect("timeout");
    let replies = peer.try_clone().expect("clone");
    // Only the sink reads this socket. Sends from it stay blocking in
    // effect: loopback hands a datagram over at once (or drops it).
    replies.set_nonblocking(true).expect("non-blocking");
    std::thread::scope(|s| {
        let before = micros(SystemTime::now());
        // The listener is made on its own thread (it is not Send), which
        // shares this thread's namespace, and says where it listens.
        let (tx, rx) = std::sync::mpsc::channel();
        let running = s.spawn(move || {
            let sockets = bind_listeners(setup.bind(), BindOptions::default()).expect("bind");
            let mut listener = Listener::new(sockets, config(keyed, key)).expect("listener");
            tx.send(listener.local_addrs()[0].inet().expect("a UDP listener"))
                .expect("send the address");
            let mut collect = Collect::new(replies);
            let ended = listener.run(&mut collect).expect("run");
            (ended, collect)
        });
        let bound: SocketAddr = rx.recv_timeout(WAIT).expect("the listener's address");
        let to = setup.dest(bound.port());
        let mut sealing = Sealing {
            right: Sealer::new(key),
            wrong: Sealer::new(other),
            to,
            before,
            after: micros(SystemTime::now()),
        };
        let sent = datagrams(items, &mut sealing);
        let started = Instant::now();
        for d in &sent {
            peer.send_to(&d.bytes, to).expect("send");
        }
        let mut incoming = Envelope::new(setup.key(key)).incoming;
        let mut pongs_from = Vec::new();
        for seq in 0..2 {
            let ping = Kind::Ping(Ping {
                sender: FINAL,
                seq,
                stamp: 0,
            });
            let ping = sealing.final_datagram(keyed, &ping.encode());
            pinger.send_to(&ping, to).expect("send");
            pongs_from.push(pong(&pinger, &mut incoming, seq));
        }
        let took = started.elapsed();
        let marker = if keyed {
            let text = Kind::Text(TextSpec {
                sender: FINAL,
                seq: 0,
                base: 0,
                flags: 0,
                name: String::new(),
                body: STOP.to_vec(),
            });
            sealing.final_datagram(keyed, &text.encode())
        } else {
            STOP.to_vec()
        };
        pinger.send_to(&marker, to).expect("send");
        let (ended, collect) = running.join().expect("the listener thread panicked");
        Run {
            ended,
            collect,
            sent,
            to,
            pongs_from,
            took,
        }
    })
}

fn run_case(setup: Setup, items: &[Item], key: &Key, other: &Key) -> Result<(), TestCaseError> {
    let keyed = setup.keyed;
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    let mut run = run(setup, items, key, other, &peer);
    let model = Model::new(keyed, &run.sent);
    prop_assert_eq!(
        &run.pongs_from,
        &[Some(run.to); 2],
        "pongs to the final pings"
    );
    if run.took >= RECENT_FOR || model.beyond_memory {
        return Err(TestCaseError::reject(
            "beyond what the listener remembers (shown pairs, given-up ranges)",
        ));
    }
    prop_assert_eq!(
        run.ended.stop,
        Stop::OutputClosed,
        "stopped by the marker only"
    );
    prop_assert!(run.ended.output_error.is_none());
    let peer_addr = peer.local_addr().expect("peer address");

    // The marker is the last thing shown; before it, exactly the model's,
    // all from the sending socket.
    let (marker, shown) = run
        .collect
        .shown
        .split_last()
        .expect("the marker was shown");
    prop_assert!(
        is_marker(&marker.0),
        "the marker is shown last: {:?}",
        marker
    );
    let wrong_source: Vec<_> = shown.iter().filter(|(_, f)| *f != peer_addr).collect();
    prop_assert!(
        wrong_source.is_empty(),
        "from elsewhere: {:?}",
        wrong_source
    );
    let shown: Vec<&Shown> = shown.iter().map(|(s, _)| s).collect();
    let want: Vec<&Shown> = model.shown.iter().collect();
    prop_assert_eq!(shown, want);

    // Every reply, read by the sink while the listener ran and here after.
    let mut replies = Replies::new(setup.key(key), peer_addr, model.bundling.clone());
    let written = run.collect.written;
    run.collect.write();
    for heard in &run.collect.heard {
        replies.take(heard, run.to)?;
    }
    // Acks normally all come before the last pong; wait for any that a
    // loaded machine delivered late.
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    while let Acks::Missing(why) = check_acks(&model, &replies.acks)? {
        let left = deadline.saturating_duration_since(Instant::now());
        prop_assert!(!left.is_zero(), "acks missing: {}", why);
        peer.set_nonblocking(false).expect("blocking");
        peer.set_read_timeout(Some(left)).expect("timeout");
        if let Ok((len, from)) = peer.recv_from(&mut buf) {
            let heard = Heard {
                bytes: buf[..len].to_vec(),
                from,
                written,
            };
            replies.take(&heard, run.to)?;
        }
    }
    prop_assert_eq!(&replies.pongs, &model.pongs);

    // The counters account for every datagram.
    let stats = &run.ended.stats;
    let mut want = model.stats.clone();
    want.pings += 2;
    if keyed {
        want.received += 1;
    } else {
        want.raw += 1;
    }
    // The listener counts ack datagrams: an Acks is one.
    want.acks = replies.ack_datagrams;
    want.kernel_drops = stats.kernel_drops.map(|_| 0);
    let answerable = model.answered.len();
    if answerable > ANSWERS_PER_SOURCE as usize {
        // More than the rate limit's burst: some may be refused.
        prop_assert!(
            (u64::from(ANSWERS_PER_SOURCE)..=want.answers).contains(&stats.answers),
            "{} answers to {} answerable probes",
            stats.answers,
            want.answers
        );
        want.probes_ignored += want.answers - stats.answers;
        want.answers = stats.answers;
    } else {
        prop_assert_eq!(&replies.answers, &model.answered);
    }
    prop_assert_eq!(replies.answers.len() as u64, stats.answers);
    prop_assert_eq!(stats, &want);
    Ok(())
}

#[test]
fn listener_survives_and_accounts_for_arbitrary_datagram_sequences() {
    if !isolate("listener_survives_and_accounts_for_arbitrary_datagram_sequences") {
        return;
    }
    let cases = std::env::var("UDPMSG_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(FUZZ_CASES);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        // Failures print the shrunk input; no regression files in the tree.
        failure_persistence: None,
        // A listener that stops answering makes every failing case wait
        // for the final pong: bound the search for a smaller one.
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    });
    let key = Key::from_bytes([7; 32]);
    let other = Key::from_bytes([8; 32]);
    let result = runner.run(&case(), |(setup, items)| {
        run_case(setup, &items, &key, &other)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// PROTOCOL.md 4.2: a listener holding more than 32 ranges of a sender
/// lists the lowest 8, then those holding the texts that arrived since its
/// last ack, then the highest. Texts 1, 3, ..., 67 (34 ranges; 0 missing)
/// are held; after their acks, text 69 arrives alone, and its ack lists
/// 1, 3, ..., 15 (the lowest), 69 (the newest) and 67 down to 23 (the
/// highest). (Found by the fuzz target when the rule changed and the
/// document did not.)
#[test]
fn an_ack_for_more_held_ranges_than_fit_lists_the_lowest_the_newest_and_the_highest() {
    if !isolate("an_ack_for_more_held_ranges_than_fit") {
        return;
    }
    let sender = SENDERS[0];
    let text_of = |seq: u64, body: usize| {
        Kind::Text(TextSpec {
            sender,
            seq,
            base: 0,
            flags: FLAG_ACK,
            name: String::new(),
            body: vec![b'x'; body],
        })
        .encode()
    };
    let text = |seq: u64| text_of(seq, 0);
    let ping = |seq: u64| {
        Kind::Ping(Ping {
            sender: FINAL,
            seq,
            stamp: 0,
        })
        .encode()
    };
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    peer.set_read_timeout(Some(WAIT)).expect("timeout");
    // The sink reads replies from a socket nobody sends to: here they are
    // read by this thread.
    let idle = UdpSocket::bind("127.0.0.1:0").expect("idle");
    idle.set_nonblocking(true).expect("non-blocking");
    let key = Key::from_bytes([7; 32]);
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    // The next reply that is an ack, or a pong to final ping `seq`.
    let mut reply = |until_pong: Option<u64>| loop {
        let len = peer.recv(&mut buf).expect("a reply");
        match wire::classify(&buf[..len]) {
            Ok(Datagram::Message(Message::Pong(p))) if Some(p.seq) == until_pong => {
                return None;
            }
            Ok(Datagram::Message(Message::Ack(a))) if until_pong.is_none() => {
                return Some((a.sender, a.next, a.ranges().collect::<Vec<_>>()));
            }
            _ => {}
        }
    };
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let running = s.spawn(move || {
            let bind = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
            let sockets = bind_listeners(bind, BindOptions::default()).expect("bind");
            let mut listener = Listener::new(sockets, config(false, &key)).expect("listener");
            tx.send(listener.local_addrs()[0].inet().expect("a UDP listener"))
                .expect("send the address");
            listener.run(&mut Collect::new(idle)).expect("run")
        });
        let to = rx.recv_timeout(WAIT).expect("the listener's address");
        for seq in (1..=67).step_by(2) {
            peer.send_to(&text(seq), to).expect("send");
        }
        // Two pings: the second pong comes after every ack for the texts.
        for seq in 0..2 {
            peer.send_to(&ping(seq), to).expect("send");
            reply(Some(seq));
        }
        // Large enough that its ack may carry all 32 ranges (an ack is
        // never larger than the texts it answers).
        peer.send_to(&text_of(69, 600), to).expect("send");
        let ack = reply(None);
        peer.send_to(STOP, to).expect("send");
        let ended = running.join().expect("the listener thread panicked");
        assert_eq!(ended.stop, Stop::OutputClosed);
        let listed: Vec<(u64, u64)> = (1..=15)
            .step_by(2)
            .chain((23..=69).step_by(2))
            .map(|s| (s, s))
            .collect();
        assert_eq!(listed.len(), MAX_ACK_RANGES);
        assert_eq!(ack, Some((sender, 0, listed)));
    });
}
