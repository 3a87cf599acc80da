//! The whole listener under arbitrary datagram sequences (issue #12's fuzz
//! target): `commands::listen::Listener` driven as a library, on a socket on
//! 127.0.0.1 in a private namespace, with every kind of message, open and
//! sealed (with the key and with another), mutated, truncated, repeated,
//! raw and garbage. For each sequence, keyed or not:
//!
//! - the listener neither panics nor stops, and answers a final ping;
//! - what it shows is exactly what was valid, in order (an acknowledged
//!   text whose sequence number a mutation changed may be held for its gap:
//!   those are checked only to be shown at most once);
//! - its counters account for every datagram.
//!
//! The number of sequences is bounded (`FUZZ_CASES`, or the environment's
//! `UDPMSG_FUZZ_CASES`) so the test runs in `scripts/test.sh` in about
//! 20–40 s.

mod common;

use common::{WAIT, isolate};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::SystemTime;
use udpmsg::commands::listen::{self, Event, Listener, Sink, Stats, Stop};
use udpmsg::net::{BindOptions, bind_listeners};
use udpmsg::seal::{Envelope, Key, Opened, Sealer};
use udpmsg::wire::{self, Ack, Answer, Datagram, FLAG_ACK, Message, Ping, Probe, Text};

/// Sequences tried by default.
const FUZZ_CASES: u32 = 3000;
/// Datagrams in one sequence, at most.
const MAX_DATAGRAMS: usize = 48;
/// The final ping's sender, and the stop marker's text.
const FINAL: u64 = 0xf1a1_f1a1_f1a1_f1a1;
const STOP: &[u8] = b"\xffudpmsg-fuzz-stop";

// ---------------------------------------------------------------- inputs

/// A message of any kind, owned so a strategy can make it.
#[derive(Debug, Clone)]
enum Kind {
    /// A text; acknowledged ones come from a fresh sender with seq 0.
    Text {
        ack: bool,
        sender: u64,
        seq: u64,
        name: String,
        body: Vec<u8>,
    },
    Ack(u64, u64),
    Probe(u64, usize),
    Answer(u64, String),
    Ping(u64, u64),
    Pong(u64, u64),
    /// Bytes as they are (raw, or garbage after the magic).
    Bytes(Vec<u8>),
}

impl Kind {
    /// The open datagram.
    fn encode(&self) -> Vec<u8> {
        let pad = [0u8; 400];
        let message = match self {
            Kind::Text {
                ack,
                sender,
                seq,
                name,
                body,
            } => Message::Text(Text {
                sender: *sender,
                seq: if *ack { 0 } else { *seq },
                flags: if *ack { FLAG_ACK } else { 0 },
                name,
                body,
            }),
            Kind::Ack(sender, seq) => Message::Ack(Ack {
                sender: *sender,
                seq: *seq,
            }),
            Kind::Probe(instance, pad_len) => Message::Probe(Probe {
                instance: *instance,
                token: 1,
                pad: &pad[..*pad_len],
            }),
            Kind::Answer(instance, name) => Message::Answer(Answer {
                instance: *instance,
                token: 2,
                port: 3,
                version: wire::VERSION,
                name,
            }),
            Kind::Ping(sender, seq) => Message::Ping(Ping {
                sender: *sender,
                seq: *seq,
                stamp: 0,
            }),
            Kind::Pong(sender, seq) => Message::Pong(Ping {
                sender: *sender,
                seq: *seq,
                stamp: 0,
            }),
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
    /// With the case's key (the keyed listener's).
    Sealed,
    /// With another key.
    WrongKey,
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
}

fn kind() -> impl Strategy<Value = Kind> {
    let name = ".{0,12}";
    let body = prop::collection::vec(any::<u8>(), 0..48);
    prop_oneof![
        4 => (any::<bool>(), any::<u64>(), any::<u64>(), name, body.clone()).prop_map(
            |(ack, sender, seq, name, body)| Kind::Text { ack, sender, seq, name, body }
        ),
        1 => (any::<u64>(), any::<u64>()).prop_map(|(s, q)| Kind::Ack(s, q)),
        1 => (any::<u64>(), 0usize..400).prop_map(|(i, p)| Kind::Probe(i, p)),
        1 => (any::<u64>(), name).prop_map(|(i, n)| Kind::Answer(i, n)),
        2 => (any::<u64>(), any::<u64>()).prop_map(|(s, q)| Kind::Ping(s, q)),
        1 => (any::<u64>(), any::<u64>()).prop_map(|(s, q)| Kind::Pong(s, q)),
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

fn item() -> impl Strategy<Value = Item> {
    let wrap = prop_oneof![
        3 => Just(Wrap::Open),
        3 => Just(Wrap::Sealed),
        1 => Just(Wrap::WrongKey),
    ];
    let change = prop_oneof![
        6 => Just(Change::None),
        2 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Change::Flip(i, x)),
        1 => any::<Index>().prop_map(Change::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(Change::Append),
    ];
    prop_oneof![
        9 => (kind(), wrap, change).prop_map(|(k, w, c)| Item::Fresh(k, w, c)),
        1 => any::<Index>().prop_map(Item::Repeat),
    ]
}

fn case() -> impl Strategy<Value = (bool, Vec<Item>)> {
    (
        any::<bool>(),
        prop::collection::vec(item(), 0..MAX_DATAGRAMS),
    )
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
    Gap(u64),
}

/// Collects what the listener shows; refuses more output (stopping the
/// listener) at the stop marker.
#[derive(Default)]
struct Collect(Vec<Shown>);

impl Sink for Collect {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        let shown = match event {
            Event::Text {
                sender,
                seq,
                name,
                body,
                ..
            } => Shown::Text {
                sender: *sender,
                seq: *seq,
                name: name.to_string(),
                body: body.to_vec(),
            },
            Event::Raw { bytes, .. } => Shown::Raw(bytes.to_vec()),
            Event::Gap { sender, .. } => Shown::Gap(*sender),
        };
        let stop = match &shown {
            Shown::Raw(b) => b == STOP,
            Shown::Text { body, .. } => body == STOP,
            Shown::Gap(_) => false,
        };
        self.0.push(shown);
        // A closed pipe: the one output error that ends a listener quietly.
        if stop {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stop marker"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- the model

/// What the listener must do with a sequence.
#[derive(Debug, Default)]
struct Expect {
    /// Shown, in order (texts of `relaxed` senders aside).
    shown: Vec<Shown>,
    /// Senders of acknowledged texts a mutation made: such a text may be
    /// held for its gap, or refused as too far ahead, so what these senders
    /// show is only checked against `candidates`.
    relaxed: HashSet<u64>,
    /// Every text that could be shown, with whether it is acknowledged.
    candidates: Vec<(bool, Shown)>,
    /// Datagrams whose fate depends on ordering (the relaxed ones).
    relaxed_datagrams: u64,
    malformed: u64,
    /// Keyless: sealed datagrams. Keyed: every refused datagram.
    refused: u64,
    replayed: u64,
    pings: u64,
    probes: u64,
    duplicates: u64,
    /// Acks, answers and pongs: ignored without a count.
    silent: u64,
}

fn shown_text(t: &Text<'_>) -> Shown {
    Shown::Text {
        sender: t.sender,
        seq: t.seq,
        name: t.name.to_string(),
        body: t.body.to_vec(),
    }
}

impl Expect {
    /// Accounts for a message the listener accepted (open, or opened).
    fn message(&mut self, m: &Message<'_>, mutated: bool, acked: &mut HashSet<(u64, u64)>) {
        match m {
            Message::Text(t) => {
                let ack = t.flags & FLAG_ACK != 0;
                self.candidates.push((ack, shown_text(t)));
                if !ack {
                    self.shown.push(shown_text(t));
                } else if mutated || self.relaxed.contains(&t.sender) {
                    self.relaxed.insert(t.sender);
                    self.relaxed_datagrams += 1;
                } else if !acked.insert((t.sender, t.seq)) {
                    self.duplicates += 1;
                } else {
                    self.shown.push(shown_text(t));
                }
            }
            Message::Ping(_) => self.pings += 1,
            Message::Probe(_) => self.probes += 1,
            Message::Ack(_) | Message::Answer(_) | Message::Pong(_) => self.silent += 1,
        }
    }

    /// Whether `shown` is exempt from the exact comparison.
    fn is_relaxed(&self, shown: &Shown) -> bool {
        match shown {
            Shown::Text { sender, .. } | Shown::Gap(sender) => self.relaxed.contains(sender),
            Shown::Raw(_) => false,
        }
    }
}

/// One datagram of a sequence.
#[derive(Clone)]
struct Sent {
    bytes: Vec<u8>,
    /// The open datagram inside, when sealed with the case's key unchanged
    /// (what a keyed listener accepts, once).
    valid: Option<Vec<u8>>,
    mutated: bool,
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

/// The datagrams of a sequence (sealed with `right` or `wrong` where asked)
/// and what a listener, keyed with `right`'s key or not, must make of them.
fn datagrams(
    keyed: bool,
    items: &[Item],
    right: &mut Sealer,
    wrong: &mut Sealer,
) -> (Vec<Vec<u8>>, Expect) {
    let mut sent: Vec<Sent> = Vec::new();
    let mut expect = Expect::default();
    let mut acked = HashSet::new();
    let mut opened = HashSet::new();
    for item in items {
        let datagram = match item {
            Item::Repeat(i) if !sent.is_empty() => sent[i.index(sent.len())].clone(),
            Item::Repeat(_) => continue,
            Item::Fresh(kind, wrap, change) => {
                let open = kind.encode();
                let mut bytes = match wrap {
                    Wrap::Open => open.clone(),
                    Wrap::Sealed => right.seal(&open).to_vec(),
                    Wrap::WrongKey => wrong.seal(&open).to_vec(),
                };
                let mutated = mutate(&mut bytes, change);
                let valid = (*wrap == Wrap::Sealed && !mutated).then_some(open);
                Sent {
                    bytes,
                    valid,
                    mutated,
                }
            }
        };
        if keyed {
            // Only what was sealed with the key, unchanged, is accepted,
            // and only the first time: a copy is a replay.
            match &datagram.valid {
                Some(open) if opened.insert(datagram.bytes.clone()) => {
                    // The plaintext is the open datagram's body; one that
                    // does not decode (sealed garbage) is refused.
                    match wire::classify(open) {
                        Ok(Datagram::Message(m)) => expect.message(&m, false, &mut acked),
                        _ => expect.refused += 1,
                    }
                }
                Some(_) => {
                    expect.replayed += 1;
                    expect.refused += 1;
                }
                None => expect.refused += 1,
            }
        } else {
            match wire::classify(&datagram.bytes) {
                Err(_) => expect.malformed += 1,
                Ok(Datagram::Sealed(_)) => expect.refused += 1,
                Ok(Datagram::Raw(raw)) => expect.shown.push(Shown::Raw(raw.to_vec())),
                Ok(Datagram::Message(m)) => expect.message(&m, datagram.mutated, &mut acked),
            }
        }
        sent.push(datagram);
    }
    (sent.into_iter().map(|d| d.bytes).collect(), expect)
}

// ---------------------------------------------------------------- one case

fn config(keyed: bool, key: &Key) -> listen::Config {
    listen::Config {
        name: "fuzz".into(),
        count: None,
        // A safety net only: the stop marker ends every run.
        timeout: Some(WAIT * 3),
        catch_signals: false,
        gap_wait: listen::DEFAULT_GAP_WAIT,
        key: keyed.then(|| key.clone()),
    }
}

/// Sends the sequence to a fresh listener, then a final ping (whose pong
/// proves it is alive and has handled everything before) and the stop
/// marker; returns what it showed and counted.
fn run_case(keyed: bool, items: &[Item], key: &Key, other: &Key) -> Result<(), TestCaseError> {
    let mut right = Sealer::new(key);
    let mut wrong = Sealer::new(other);
    let (sent, expect) = datagrams(keyed, items, &mut right, &mut wrong);

    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    peer.set_read_timeout(Some(WAIT)).expect("timeout");

    let (stop, stats, shown) = std::thread::scope(|s| {
        // The listener is made on its own thread (it is not Send), which
        // shares this thread's namespace, and says where it listens.
        let (tx, rx) = std::sync::mpsc::channel();
        let running = s.spawn(move || {
            let bind: SocketAddr = "127.0.0.1:0".parse().expect("addr");
            let sockets = bind_listeners(bind, BindOptions::default()).expect("bind");
            let mut listener = Listener::new(sockets, config(keyed, key)).expect("listener");
            tx.send(listener.local_addrs().expect("local")[0])
                .expect("send the address");
            let mut sink = Collect::default();
            let ended = listener.run(&mut sink).expect("run");
            (ended.stop, ended.stats, sink.0)
        });
        let to = rx.recv_timeout(WAIT).expect("the listener's address");
        for d in &sent {
            peer.send_to(d, to).expect("send");
        }
        let mut seal = |open: Vec<u8>| {
            if keyed {
                right.seal(&open).to_vec()
            } else {
                open
            }
        };
        peer.send_to(&seal(Kind::Ping(FINAL, 0).encode()), to)
            .expect("send");
        let mut incoming = Envelope::new(keyed.then_some(key)).incoming;
        let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
        let alive = loop {
            let Ok(len) = peer.recv(&mut buf) else {
                break false;
            };
            if let Ok(Opened::Message(Message::Pong(p))) =
                incoming.open(&buf[..len], SystemTime::now())
                && p.sender == FINAL
            {
                break true;
            }
        };
        let marker = if keyed {
            seal(
                Kind::Text {
                    ack: false,
                    sender: FINAL,
                    seq: 0,
                    name: String::new(),
                    body: STOP.to_vec(),
                }
                .encode(),
            )
        } else {
            STOP.to_vec()
        };
        peer.send_to(&marker, to).expect("send");
        let result = running.join().expect("the listener thread panicked");
        assert!(alive, "no pong to the final ping");
        result
    });
    prop_assert_eq!(stop, Stop::OutputClosed, "stopped by the marker only");
    check(keyed, &sent, &expect, &stats, &shown)
}

fn check(
    keyed: bool,
    sent: &[Vec<u8>],
    expect: &Expect,
    stats: &Stats,
    shown: &[Shown],
) -> Result<(), TestCaseError> {
    // The marker is the last thing shown.
    let (marker, shown) = shown.split_last().expect("the marker was shown");
    let is_marker = match marker {
        Shown::Raw(b) => b == STOP,
        Shown::Text { body, .. } => body == STOP,
        Shown::Gap(_) => false,
    };
    prop_assert!(is_marker, "the marker is shown last: {:?}", marker);

    // Exactly what was valid, in order.
    let strict: Vec<&Shown> = shown.iter().filter(|s| !expect.is_relaxed(s)).collect();
    let want: Vec<&Shown> = expect
        .shown
        .iter()
        .filter(|s| !expect.is_relaxed(s))
        .collect();
    prop_assert_eq!(strict, want);
    // Relaxed senders show only what was sent to them, an acknowledged
    // text at most once.
    let mut nonack: Vec<&Shown> = expect
        .candidates
        .iter()
        .filter(|(a, _)| !a)
        .map(|(_, s)| s)
        .collect();
    let mut once = HashSet::new();
    for s in shown.iter().filter(|s| expect.is_relaxed(s)) {
        if let Shown::Gap(_) = s {
            continue;
        }
        if let Some(i) = nonack.iter().position(|c| *c == s) {
            nonack.remove(i);
            continue;
        }
        let Shown::Text { sender, seq, .. } = s else {
            unreachable!()
        };
        prop_assert!(
            expect.candidates.iter().any(|(a, c)| *a && c == s),
            "never sent: {:?}",
            s
        );
        prop_assert!(once.insert((*sender, *seq)), "shown twice: {:?}", s);
    }

    // The counters account for every datagram.
    let texts = shown
        .iter()
        .filter(|s| matches!(s, Shown::Text { .. }))
        .count() as u64;
    let raws = shown.iter().filter(|s| matches!(s, Shown::Raw(_))).count() as u64;
    prop_assert_eq!(stats.pings, expect.pings + 1, "the final ping too");
    prop_assert_eq!(stats.pings_ignored, 0, "loopback pings are never limited");
    prop_assert_eq!(stats.answers + stats.probes_ignored, expect.probes);
    prop_assert_eq!(stats.stale, 0);
    let (marker_text, marker_raw) = if keyed { (1, 0) } else { (0, 1) };
    prop_assert_eq!(stats.received, texts + marker_text);
    prop_assert_eq!(stats.raw, raws + marker_raw);
    let refused = stats.malformed
        + stats.sealed
        + stats.unsealed
        + stats.raw_refused
        + stats.forged
        + stats.replayed;
    if keyed {
        prop_assert_eq!(refused, expect.refused);
        prop_assert_eq!(stats.replayed, expect.replayed);
        prop_assert_eq!(stats.sealed, 0);
        prop_assert_eq!(stats.raw, 0);
        prop_assert_eq!(stats.duplicates, expect.duplicates);
    } else {
        prop_assert_eq!(stats.malformed, expect.malformed);
        prop_assert_eq!(stats.sealed, expect.refused);
        prop_assert_eq!(
            stats.unsealed + stats.raw_refused + stats.forged + stats.replayed,
            0
        );
        prop_assert!(stats.duplicates >= expect.duplicates);
    }
    let accounted =
        refused + texts + raws + stats.duplicates + expect.pings + expect.probes + expect.silent;
    let total = sent.len() as u64;
    prop_assert!(
        accounted <= total && total - accounted <= expect.relaxed_datagrams,
        "{} datagrams, {} accounted for ({} relaxed): {:?}",
        total,
        accounted,
        expect.relaxed_datagrams,
        stats
    );
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
        ..ProptestConfig::default()
    });
    let key = Key::from_bytes([7; 32]);
    let other = Key::from_bytes([8; 32]);
    let result = runner.run(&case(), |(keyed, items)| {
        run_case(keyed, &items, &key, &other)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
