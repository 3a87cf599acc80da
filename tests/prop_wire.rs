//! Properties of the wire format (protocol version 2) and the sealed
//! envelope on untrusted input: no panic, no allocation beyond the
//! datagram, exact round trips of every kind, Ack ranges accepted exactly
//! by the documented rules, no mutated sealed datagram ever accepted, none
//! opened at another destination, and a listener's start rule. Pure: no
//! sockets, no namespace.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use proptest::prelude::*;
use proptest::sample::Index;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use udpmsg::seal::{
    self, Envelope, Key, Opened, Opener, Refusal, Reject, SEAL_OVERHEAD, SEALED_HEADER_LEN, Sealer,
    TAG_LEN,
};
use udpmsg::wire::{
    self, Ack, Answer, Datagram, DecodeError, FLAG_ACK, Goodbye, HEADER_LEN, Hello, MAX_ACK_RANGES,
    MAX_DATAGRAM, Message, Ping, Probe, Refuse, Text,
};

// ---------------------------------------------------------------- allocations

/// Counts the allocations of the calling thread while [`measure`] runs;
/// every other thread (and this one outside `measure`) is not counted.
struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize, grown_by: usize) {
    // try_with: the allocator also runs while thread locals are torn down.
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            LARGEST.with(|l| l.set(l.get().max(size)));
            TOTAL.with(|t| t.set(t.get() + grown_by));
            CALLS.with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain thread-local cells, which neither allocate nor re-enter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, new_size.saturating_sub(layout.size()));
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one measured call allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Allocs {
    /// Largest single allocation (or size a reallocation grew to).
    largest: usize,
    /// Bytes allocated in all (growth only, for reallocations).
    total: usize,
    /// Allocation and reallocation calls.
    calls: usize,
}

/// Runs `f` with this thread's allocations counted.
fn measure<R>(f: impl FnOnce() -> R) -> (R, Allocs) {
    LARGEST.with(|l| l.set(0));
    TOTAL.with(|t| t.set(0));
    CALLS.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    let result = f();
    ACTIVE.with(|a| a.set(false));
    let allocs = Allocs {
        largest: LARGEST.with(Cell::get),
        total: TOTAL.with(Cell::get),
        calls: CALLS.with(Cell::get),
    };
    (result, allocs)
}

/// What `Incoming::open` may allocate beyond the datagram: nothing
/// (the opened body goes into its own reused buffer, at most the ciphertext,
/// and `classify`/`decode_body` allocate nothing at all). Kept as a named
/// constant so a change in policy is one edit with a reason.
const INCOMING_SLACK: usize = 0;

// ---------------------------------------------------------------- messages

/// A message with owned fields, so a strategy can generate it.
#[derive(Debug, Clone)]
enum Owned {
    Text {
        sender: u64,
        seq: u64,
        /// At most `seq` (a larger one is a decode error).
        base: u64,
        flags: u8,
        name: String,
        body: Vec<u8>,
    },
    Ack {
        instance: u64,
        sender: u64,
        next: u64,
        /// Valid held ranges (see [`ack_ranges`]), as the bytes field.
        ranges: Vec<u8>,
    },
    Probe {
        instance: u64,
        token: u64,
        pad: Vec<u8>,
    },
    Answer {
        instance: u64,
        token: u64,
        port: u16,
        version: u8,
        name: String,
    },
    Ping(Ping),
    Pong(Ping),
    Refuse(Refuse),
    Hello {
        instance: u64,
        port: u16,
        version: u8,
        lifetime_ms: u32,
        name: String,
        room: String,
    },
    Goodbye(Goodbye),
}

impl Owned {
    fn message(&self) -> Message<'_> {
        match self {
            Owned::Text {
                sender,
                seq,
                base,
                flags,
                name,
                body,
            } => Message::Text(Text {
                sender: *sender,
                seq: *seq,
                base: *base,
                flags: *flags,
                name,
                body,
            }),
            Owned::Ack {
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
            Owned::Probe {
                instance,
                token,
                pad,
            } => Message::Probe(Probe {
                instance: *instance,
                token: *token,
                pad,
            }),
            Owned::Answer {
                instance,
                token,
                port,
                version,
                name,
            } => Message::Answer(Answer {
                instance: *instance,
                token: *token,
                port: *port,
                version: *version,
                name,
            }),
            Owned::Ping(ping) => Message::Ping(*ping),
            Owned::Pong(ping) => Message::Pong(*ping),
            Owned::Refuse(refuse) => Message::Refuse(*refuse),
            Owned::Hello {
                instance,
                port,
                version,
                lifetime_ms,
                name,
                room,
            } => Message::Hello(Hello {
                instance: *instance,
                port: *port,
                version: *version,
                lifetime_ms: *lifetime_ms,
                name,
                room,
            }),
            Owned::Goodbye(goodbye) => Message::Goodbye(*goodbye),
        }
    }

    /// The open datagram.
    fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        wire::encode(&self.message(), usize::MAX, &mut out).expect("no limit");
        out
    }
}

/// Any name: Unicode of any kind, short or long (a listener truncates only
/// what it sends; the wire carries any length).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,24}",
        1 => ".{0,600}",
        1 => Just(String::new()),
    ]
}

/// Any bytes, mostly short, sometimes close to a whole datagram.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..64),
        3 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => prop::collection::vec(any::<u8>(), 60_000..65_400),
    ]
}

fn ping() -> impl Strategy<Value = Ping> {
    (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(sender, seq, stamp)| Ping {
        sender,
        seq,
        stamp,
    })
}

/// A Text's `seq` and `base`, with `base <= seq` as the wire requires:
/// equal (a sender with nothing outstanding, and every Text without
/// FLAG_ACK that udpmsg sends), 0, or anything between.
fn seq_and_base() -> impl Strategy<Value = (u64, u64)> {
    (any::<u64>(), any::<u64>(), 0u8..3).prop_map(|(a, b, how)| match how {
        0 => (a, a),
        1 => (a, 0),
        _ => (a.max(b), a.min(b)),
    })
}

/// A valid `next` and held ranges of an Ack (PROTOCOL.md 4.2): up to
/// [`MAX_ACK_RANGES`] ascending ranges, each starting more than one past
/// the previous one's end (and past `next`), none ending at `u64::MAX`.
/// `next` is small, near the top of the u64 range, or anything; ranges
/// that would not fit below `u64::MAX` are left out.
fn ack_ranges() -> impl Strategy<Value = (u64, Vec<u8>)> {
    let next = prop_oneof![0u64..100, (u64::MAX - 5000)..=u64::MAX, any::<u64>()];
    let step = prop_oneof![4 => 0u64..4, 1 => 0u64..100_000, 1 => any::<u64>()];
    (
        next,
        prop::collection::vec((step.clone(), step), 0..=MAX_ACK_RANGES),
    )
        .prop_map(|(next, steps)| {
            let mut ranges = Vec::new();
            let mut floor = next;
            for (gap, len) in steps {
                // first > floor, last >= first, last < u64::MAX.
                let Some(first) = floor.checked_add(1).and_then(|f| f.checked_add(gap)) else {
                    break;
                };
                let Some(last) = first.checked_add(len).filter(|&l| l < u64::MAX) else {
                    break;
                };
                wire::put_ack_ranges([(first, last)], &mut ranges);
                floor = last + 1;
            }
            (next, ranges)
        })
}

/// Every kind of message, with arbitrary fields as far as the wire allows
/// (reserved flag bits, a base after seq and bad ranges are decode errors).
fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        3 => (any::<u64>(), seq_and_base(), prop_oneof![Just(0), Just(FLAG_ACK)], name(), payload())
            .prop_map(|(sender, (seq, base), flags, name, body)| Owned::Text {
                sender,
                seq,
                base,
                flags,
                name,
                body
            }),
        2 => (any::<u64>(), any::<u64>(), ack_ranges()).prop_map(
            |(instance, sender, (next, ranges))| Owned::Ack { instance, sender, next, ranges }
        ),
        1 => (any::<u64>(), any::<u64>(), payload()).prop_map(|(instance, token, pad)| {
            Owned::Probe {
                instance,
                token,
                pad,
            }
        }),
        1 => (any::<u64>(), any::<u64>(), any::<u16>(), any::<u8>(), name()).prop_map(
            |(instance, token, port, version, name)| Owned::Answer {
                instance,
                token,
                port,
                version,
                name,
            }
        ),
        1 => ping().prop_map(Owned::Ping),
        1 => ping().prop_map(Owned::Pong),
        1 => (any::<u64>(), any::<u64>(), any::<u64>(), any::<u8>()).prop_map(
            |(instance, sender, seq, reason)| {
                Owned::Refuse(Refuse { instance, sender, seq, reason })
            }
        ),
        1 => (any::<u64>(), any::<u16>(), any::<u8>(), any::<u32>(), name(), name()).prop_map(
            |(instance, port, version, lifetime_ms, name, room)| Owned::Hello {
                instance,
                port,
                version,
                lifetime_ms,
                name,
                room,
            }
        ),
        1 => any::<u64>().prop_map(|instance| Owned::Goodbye(Goodbye { instance })),
    ]
}

/// Small messages of every kind: mutations of these reach every field.
fn small_owned() -> impl Strategy<Value = Owned> {
    owned().prop_filter("small", |o| o.encoded().len() <= 4096)
}

// ---------------------------------------------------------------- mutations

#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Keep only a prefix.
    Truncate(Index),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Replace one byte.
    Replace(Index, u8),
    /// Write 8 bytes at any offset: a length prefix or id that lies.
    Lie(Index, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let lie = prop_oneof![
        Just(u64::MAX),
        Just(1u64 << 60),
        Just(1u64 << 32),
        Just(MAX_DATAGRAM as u64 + 1),
        Just(MAX_DATAGRAM as u64),
        0u64..256,
        any::<u64>(),
    ];
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..32).prop_map(Mutation::Extend),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        2 => (any::<Index>(), lie).prop_map(|(i, v)| Mutation::Lie(i, v)),
    ]
}

fn mutate(d: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, bit) if !d.is_empty() => {
            let at = i.index(d.len());
            d[at] ^= 1 << bit;
        }
        Mutation::Truncate(i) if !d.is_empty() => {
            let len = i.index(d.len());
            d.truncate(len);
        }
        Mutation::Extend(tail) => d.extend_from_slice(tail),
        Mutation::Replace(i, b) if !d.is_empty() => {
            let at = i.index(d.len());
            d[at] = *b;
        }
        Mutation::Lie(i, v) if d.len() >= 8 => {
            let at = i.index(d.len() - 7);
            d[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ => {}
    }
}

/// Bytes that start like an open datagram: header, a message tag (known or
/// not), then anything.
fn open_looking() -> impl Strategy<Value = Vec<u8>> {
    (0u32..10, prop::collection::vec(any::<u8>(), 0..256)).prop_map(|(tag, tail)| {
        let mut d = b"UDPM\x02\x00".to_vec();
        d.extend_from_slice(&tag.to_le_bytes());
        d.extend_from_slice(&tail);
        d
    })
}

/// Any input a socket could deliver, biased towards the interesting.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..512),
        3 => open_looking(),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|tail| {
            let mut d = b"UDPM\x02\x01".to_vec();
            d.extend_from_slice(&tail);
            d
        }),
        // Version 1, open or sealed: never accepted by version 2.
        1 => (0u8..2, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(mode, tail)| {
            let mut d = vec![b'U', b'D', b'P', b'M', 1, mode];
            d.extend_from_slice(&tail);
            d
        }),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(|tail| {
            let mut d = b"UDPM".to_vec();
            d.extend_from_slice(&tail);
            d
        }),
    ]
}

/// A checked classify: no panic, no allocation beyond the input, and any
/// decoded message re-encodes to exactly the input.
fn check_classify(d: &[u8]) -> Result<(), TestCaseError> {
    let (result, allocs) = measure(|| wire::classify(d));
    // Documented in `wire`: classify never allocates, errors included.
    prop_assert_eq!(
        allocs.total,
        0,
        "classify of {} bytes allocated {:?}: {:?}",
        d.len(),
        allocs,
        result
    );
    if let Ok(Datagram::Message(m)) = &result {
        let mut again = Vec::new();
        wire::encode(m, usize::MAX, &mut again).expect("no limit");
        prop_assert_eq!(&again[..], d, "decode -> encode changed the bytes");
        prop_assert!(d.len() <= HEADER_LEN + MAX_DATAGRAM);
    }
    // The body alone, as a keyed receiver decodes an opened datagram.
    let (body, allocs) = measure(|| wire::decode_body(d));
    prop_assert_eq!(
        allocs.total,
        0,
        "decode_body allocated {:?}: {:?}",
        allocs,
        body
    );
    if let Ok(m) = &body {
        let mut again = Vec::new();
        wire::encode_body(m, &mut again);
        prop_assert_eq!(
            &again[..],
            d,
            "decode_body -> encode_body changed the bytes"
        );
    }
    if let Ok(Datagram::Raw(raw)) = &result {
        prop_assert_eq!(*raw, d);
        prop_assert!(!d.starts_with(&wire::MAGIC));
    }
    if let Ok(Datagram::Sealed(body)) = &result {
        prop_assert_eq!(*body, &d[HEADER_LEN..]);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures print the shrunk input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- wire properties

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn classify_never_panics_or_allocates_on_arbitrary_bytes(d in hostile()) {
        check_classify(&d)?;
    }

    #[test]
    fn mutated_datagrams_of_every_kind_never_panic_and_round_trip(
        o in small_owned(),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut d = o.encoded();
        for m in &ms {
            mutate(&mut d, m);
        }
        check_classify(&d)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn generated_messages_encode_and_decode_to_equal_values(
        o in owned(),
        prefix in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let message = o.message();
        let mut out = prefix.clone();
        let result = wire::encode(&message, MAX_DATAGRAM, &mut out);
        let mut unlimited = Vec::new();
        wire::encode(&message, usize::MAX, &mut unlimited).expect("no limit");
        match result {
            Ok(()) => {
                prop_assert_eq!(&out[..prefix.len()], &prefix[..], "encode appends");
                let d = &out[prefix.len()..];
                prop_assert_eq!(d, &unlimited[..]);
                prop_assert!(d.len() <= MAX_DATAGRAM);
                let (decoded, allocs) = measure(|| wire::classify(d));
                prop_assert_eq!(allocs.total, 0, "decoding borrows: {:?}", allocs);
                prop_assert_eq!(decoded, Ok(Datagram::Message(message.clone())));
                prop_assert_eq!(wire::decode_body(&d[HEADER_LEN..]), Ok(message));
            }
            Err(wire::EncodeError::TooLarge { len, max }) => {
                prop_assert_eq!(max, MAX_DATAGRAM);
                prop_assert_eq!(len, unlimited.len());
                prop_assert!(len > MAX_DATAGRAM);
                prop_assert_eq!(out, prefix, "a refused encode leaves the buffer as it was");
            }
        }
    }

    #[test]
    fn text_overhead_is_exact_for_any_name(
        name in name(),
        body in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let text = |body: Vec<u8>| Owned::Text {
            sender: 1,
            seq: 2,
            base: 2,
            flags: 0,
            name: name.clone(),
            body,
        };
        let o = text(body.clone());
        prop_assert_eq!(o.encoded().len(), wire::TEXT_OVERHEAD + name.len() + body.len());
        let max = wire::max_text_body(&name, wire::MAX_DATAGRAM_V4);
        let fits = text(vec![0; max]);
        prop_assert_eq!(fits.encoded().len(), wire::MAX_DATAGRAM_V4);
    }
}

#[test]
fn hostile_length_prefixes_are_refused_without_allocating() {
    // Text: tag 0, sender, seq, base, flags, then the name's u64 length prefix.
    let mut base = b"UDPM\x02\x00".to_vec();
    base.extend_from_slice(&0u32.to_le_bytes());
    base.extend_from_slice(&7u64.to_le_bytes());
    base.extend_from_slice(&9u64.to_le_bytes());
    base.extend_from_slice(&9u64.to_le_bytes());
    base.push(0);
    // Ack: tag 1, instance, sender, next, then the ranges' length prefix.
    let mut ack = b"UDPM\x02\x00".to_vec();
    ack.extend_from_slice(&1u32.to_le_bytes());
    ack.extend_from_slice(&[0; 24]);
    for claim in [
        1u64 << 60,
        u64::MAX,
        1 << 32,
        MAX_DATAGRAM as u64 + 1,
        MAX_DATAGRAM as u64,
        1000,
    ] {
        for tail in [0usize, 8, 100] {
            for (kind, head) in [("name", &base), ("ranges", &ack)] {
                let mut d = head.clone();
                d.extend_from_slice(&claim.to_le_bytes());
                d.extend(std::iter::repeat_n(b'a', tail));
                let (result, allocs) = measure(|| wire::classify(&d));
                let err = result.expect_err("a lying length");
                assert!(
                    matches!(err, DecodeError::TooLong | DecodeError::Truncated),
                    "{kind} claim {claim}: {err:?}"
                );
                assert_eq!(allocs.total, 0, "{kind} claim {claim}: {allocs:?}");
            }
        }
    }
    // The body's prefix lies, after a well-formed name.
    let mut d = base.clone();
    d.extend_from_slice(&1u64.to_le_bytes());
    d.push(b'n');
    d.extend_from_slice(&(1u64 << 60).to_le_bytes());
    d.extend_from_slice(b"body");
    let (result, allocs) = measure(|| wire::classify(&d));
    assert_eq!(result, Err(DecodeError::TooLong));
    assert_eq!(allocs.total, 0, "{allocs:?}");
    // Probe pad: tag 2, instance, token, pad length.
    let mut d = b"UDPM\x02\x00".to_vec();
    d.extend_from_slice(&2u32.to_le_bytes());
    d.extend_from_slice(&[0; 16]);
    d.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let (result, allocs) = measure(|| wire::classify(&d));
    assert_eq!(result, Err(DecodeError::TooLong));
    assert_eq!(allocs.total, 0, "{allocs:?}");
}

/// An open Ack of `next` and `ranges` (any bytes), as PROTOCOL.md 4.2 lays
/// it out, written without the encoder.
fn ack_datagram(next: u64, ranges: &[u8]) -> Vec<u8> {
    let mut d = b"UDPM\x02\x00".to_vec();
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&0xfeedu64.to_le_bytes());
    d.extend_from_slice(&0xbeefu64.to_le_bytes());
    d.extend_from_slice(&next.to_le_bytes());
    d.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
    d.extend_from_slice(ranges);
    d
}

#[test]
fn every_decode_error_allocates_nothing() {
    let text = |seq: u64, base: u64, flags: u8| {
        let mut d = Vec::new();
        let m = Message::Text(Text {
            sender: 1,
            seq,
            base,
            flags,
            name: "n",
            body: b"b",
        });
        wire::encode(&m, usize::MAX, &mut d).expect("encode");
        d
    };
    let pairs = |ranges: &[(u64, u64)]| {
        let mut out = Vec::new();
        wire::put_ack_ranges(ranges.iter().copied(), &mut out);
        out
    };
    let big = {
        let mut d = b"UDPM\x02\x00".to_vec();
        d.resize(MAX_DATAGRAM + 1, 0);
        d
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("reserved flags", text(2, 2, 0xfe)),
        ("base after seq", text(2, 3, FLAG_ACK)),
        ("ranges of 8 bytes", ack_datagram(4, &[0; 8])),
        (
            "touching ranges",
            ack_datagram(4, &pairs(&[(6, 7), (8, 9)])),
        ),
        ("range at next", ack_datagram(4, &pairs(&[(4, 4)]))),
        (
            "range ending at u64::MAX",
            ack_datagram(4, &pairs(&[(6, u64::MAX)])),
        ),
        ("33 ranges", {
            let many: Vec<(u64, u64)> = (0..33).map(|i| (10 + 2 * i, 10 + 2 * i)).collect();
            let mut ranges = Vec::new();
            for (first, last) in many {
                ranges.extend_from_slice(&first.to_le_bytes());
                ranges.extend_from_slice(&last.to_le_bytes());
            }
            ack_datagram(4, &ranges)
        }),
        ("unknown kind", {
            let mut d = b"UDPM\x02\x00".to_vec();
            d.extend_from_slice(&0xc8u32.to_le_bytes());
            d
        }),
        ("largest kind", {
            let mut d = b"UDPM\x02\x00".to_vec();
            d.extend_from_slice(&u32::MAX.to_le_bytes());
            d.extend_from_slice(&[0; 64]);
            d
        }),
        ("bad utf-8 name", {
            let mut d = text(2, 2, 0);
            let at = d.len() - 8 - 1 - 1;
            d[at] = 0xff;
            d
        }),
        ("trailing bytes", {
            let mut d = text(2, 2, 0);
            d.extend_from_slice(&[0; 1000]);
            d
        }),
        ("ends inside a field", text(2, 2, 0)[..20].to_vec()),
        ("refuse cut short", {
            let mut d = b"UDPM\x02\x00".to_vec();
            d.extend_from_slice(&6u32.to_le_bytes());
            d.extend_from_slice(&[0; 24]);
            d
        }),
        ("no tag", b"UDPM\x02\x00\x01".to_vec()),
        ("version 1", {
            let mut d = text(2, 2, 0);
            d[4] = 1;
            d
        }),
        ("version 3", b"UDPM\x03\x00".to_vec()),
        ("mode", b"UDPM\x02\x07".to_vec()),
        ("short", b"UDPM\x02".to_vec()),
        ("larger than a datagram", big),
    ];
    let dest: SocketAddr = "127.0.0.1:47474".parse().expect("addr");
    for (what, d) in cases {
        let (result, allocs) = measure(|| wire::classify(&d));
        assert!(result.is_err(), "{what}: {result:?}");
        assert_eq!(allocs.total, 0, "{what}: {result:?} allocated {allocs:?}");
        let (result, allocs) = measure(|| {
            Envelope::new(None)
                .incoming
                .open(&d, SystemTime::now(), dest)
                .map(|_| ())
        });
        assert!(
            matches!(result, Err(Refusal::Malformed(_))),
            "{what}: {result:?}"
        );
        assert_eq!(allocs.total, 0, "{what}: {allocs:?}");
    }
}

/// The rule of PROTOCOL.md 4.2 for an Ack's ranges, written from the
/// document (its Python `_ranges`), not from the crate.
fn ranges_follow_the_rules(next: u64, ranges: &[u8]) -> bool {
    if !ranges.len().is_multiple_of(16) || ranges.len() > 16 * 32 {
        return false;
    }
    let mut floor = u128::from(next);
    for pair in ranges.chunks(16) {
        let first = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
        let last = u64::from_le_bytes(pair[8..].try_into().expect("8 bytes"));
        if u128::from(first) <= floor || last < first || last == u64::MAX {
            return false;
        }
        floor = u128::from(last) + 1;
    }
    true
}

/// Ranges as a sender might see them: mostly valid ones damaged a little
/// (a bound moved by a few, a pair dropped or swapped, a byte added or
/// removed), sometimes any bytes at all.
fn near_valid_ranges() -> impl Strategy<Value = (u64, Vec<u8>)> {
    let damage = 0u8..6;
    prop_oneof![
        4 => (ack_ranges(), damage, any::<Index>(), -3i64..4).prop_map(
            |((next, mut ranges), damage, at, by)| {
                let n = ranges.len() / 16;
                match damage {
                    // A bound (first or last of some pair) moved by a few.
                    1 if n > 0 => {
                        let off = at.index(2 * n) * 8;
                        let v = u64::from_le_bytes(ranges[off..off + 8].try_into().expect("8"));
                        let moved = v.wrapping_add_signed(by);
                        ranges[off..off + 8].copy_from_slice(&moved.to_le_bytes());
                    }
                    // Two pairs swapped (no longer ascending).
                    2 if n > 1 => {
                        let i = at.index(n - 1) * 16;
                        let (a, b) = ranges.split_at_mut(i + 16);
                        a[i..i + 16].swap_with_slice(&mut b[..16]);
                    }
                    // A byte more or less: no longer a multiple of 16.
                    3 => ranges.push(0),
                    4 if n > 0 => {
                        ranges.pop();
                    }
                    // next moved by a few.
                    5 => return (next.wrapping_add_signed(by), ranges),
                    _ => {}
                }
                (next, ranges)
            }
        ),
        1 => (any::<u64>(), prop::collection::vec(any::<u8>(), 0..80)),
        // More than 32 valid ranges.
        1 => (0u64..10, 33usize..40).prop_map(|(next, n)| {
            let mut ranges = Vec::new();
            for i in 0..n as u64 {
                let first = next + 2 + 2 * i;
                ranges.extend_from_slice(&first.to_le_bytes());
                ranges.extend_from_slice(&first.to_le_bytes());
            }
            (next, ranges)
        }),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn an_ack_decodes_exactly_when_its_ranges_follow_the_documented_rules(
        (next, ranges) in near_valid_ranges(),
    ) {
        let d = ack_datagram(next, &ranges);
        let want = ranges_follow_the_rules(next, &ranges);
        let (got, allocs) = measure(|| wire::classify(&d));
        prop_assert_eq!(allocs.total, 0, "{:?}", allocs);
        match got {
            Ok(Datagram::Message(Message::Ack(a))) => {
                prop_assert!(want, "accepted against the rules: next {} {:02x?}", next, ranges);
                prop_assert_eq!(a.next, next);
                prop_assert_eq!(a.ranges, &ranges[..]);
                // The ranges borrow from the datagram.
                prop_assert_eq!(a.ranges.as_ptr(), d[42..].as_ptr());
                let listed: Vec<u8> = a
                    .ranges()
                    .flat_map(|(f, l)| f.to_le_bytes().into_iter().chain(l.to_le_bytes()))
                    .collect();
                prop_assert_eq!(listed, ranges);
            }
            Err(DecodeError::Invalid(_)) => {
                prop_assert!(!want, "refused within the rules: next {} {:02x?}", next, ranges);
            }
            other => prop_assert!(false, "neither an Ack nor invalid: {:?}", other),
        }
    }
}

// ---------------------------------------------------------------- sealed envelope

/// A fixed key, so a failure reproduces.
fn key() -> Key {
    Key::parse(&"5a".repeat(32)).expect("key")
}

/// Where the property tests send their sealed datagrams.
fn dest() -> SocketAddr {
    "127.0.0.1:47474".parse().expect("addr")
}

fn sealed(sealer: &mut Sealer, o: &Owned) -> Vec<u8> {
    sealer.seal(&o.encoded(), dest()).to_vec()
}

/// What a destination means in a sealed datagram's associated data
/// (PROTOCOL.md section 9), written from the document: IPv4 as the
/// IPv4-mapped IPv6 address, the unspecified address as the loopback
/// address of its family, no scope id; and the port.
fn as_bound(dest: SocketAddr) -> ([u8; 16], u16) {
    let ip = match dest.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) if v6.is_unspecified() => Ipv6Addr::LOCALHOST,
        IpAddr::V6(v6) => v6,
    };
    (ip.octets(), dest.port())
}

/// Destinations: the ones a listener sees (loopback, wildcard, broadcast,
/// the discovery group, IPv4-mapped forms of the same) and any at all.
fn destination() -> impl Strategy<Value = SocketAddr> {
    let ip = prop_oneof![
        Just(IpAddr::from([127, 0, 0, 1])),
        Just(IpAddr::from([127, 0, 0, 2])),
        Just(IpAddr::from([0, 0, 0, 0])),
        Just(IpAddr::from([255, 255, 255, 255])),
        Just(IpAddr::from([192, 0, 2, 7])),
        Just(IpAddr::from([192, 0, 2, 255])),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        Just(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())),
        Just(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped())),
        Just(IpAddr::V6(Ipv6Addr::new(
            0xff02, 0, 0, 0, 0, 0, 0x7564, 0x706d
        ))),
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ];
    let port = prop_oneof![Just(47474u16), Just(47475), Just(0), any::<u16>()];
    (ip, port).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn opener_refuses_arbitrary_bytes_without_panicking(d in hostile()) {
        let mut opener = Opener::new(&key(), None);
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&d, &mut plain, SystemTime::now(), dest()));
        prop_assert!(result.is_err(), "arbitrary bytes opened: {result:?}");
        prop_assert!(plain.is_empty(), "a refused datagram leaves no plaintext");
        prop_assert!(allocs.total <= d.len(), "{} bytes: {allocs:?}", d.len());
        prop_assert_eq!(opener.senders(), 0);

        // The whole receive path, keyed and not, client and listener.
        for mut keyed in [
            Envelope::new(Some(&key())),
            Envelope::for_listener(Some(&key()), SystemTime::now()),
        ] {
            let (result, allocs) = measure(|| {
                keyed.incoming.open(&d, SystemTime::now(), dest()).map(|_| ())
            });
            prop_assert!(result.is_err(), "keyed envelope accepted arbitrary bytes");
            prop_assert!(allocs.total <= d.len() + INCOMING_SLACK, "{allocs:?}");
        }
        let mut open = Envelope::new(None);
        let (_, allocs) = measure(|| {
            let _ = open.incoming.open(&d, SystemTime::now(), dest());
        });
        prop_assert_eq!(allocs.total, 0, "{:?}", allocs);
    }

    #[test]
    fn mutated_sealed_datagrams_are_never_accepted(
        o in small_owned(),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut sealer = Sealer::new(&key());
        let good = sealed(&mut sealer, &o);
        prop_assert_eq!(good.len(), o.encoded().len() + SEAL_OVERHEAD);
        let mut bad = good.clone();
        for m in &ms {
            mutate(&mut bad, m);
        }
        prop_assume!(bad != good);
        let now = SystemTime::now();
        let mut opener = Opener::new(&key(), None);
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&bad, &mut plain, now, dest()));
        prop_assert!(result.is_err(), "a mutated datagram opened: {ms:?}");
        prop_assert!(
            matches!(result, Err(Reject::Auth | Reject::Truncated)),
            "{result:?}"
        );
        prop_assert!(plain.is_empty());
        prop_assert!(allocs.total <= bad.len(), "{allocs:?}");
        let mut envelope = Envelope::new(Some(&key()));
        let refused = envelope.incoming.open(&bad, now, dest()).map(|_| ());
        prop_assert!(refused.is_err(), "the envelope accepted a mutated datagram");
        // A forgery leaves no replay state behind: the real one still opens.
        prop_assert_eq!(opener.senders(), 0);
        prop_assert!(opener.open(&good, &mut plain, now, dest()).is_ok());
        prop_assert_eq!(&plain[..], &o.encoded()[HEADER_LEN..]);
    }

    #[test]
    fn a_sealed_datagram_opens_once_then_is_a_replay(o in small_owned()) {
        let now = SystemTime::now();
        let mut sealer = Sealer::new(&key());
        let first = sealed(&mut sealer, &o);
        let second = sealed(&mut sealer, &o);
        prop_assert!(first != second, "every seal uses a fresh counter");
        prop_assert!(first.starts_with(b"UDPM\x02\x01"));
        let open = o.encoded();
        if open.len() >= HEADER_LEN + 16 {
            let start = &open[HEADER_LEN..HEADER_LEN + 16];
            prop_assert!(
                !first.windows(16).any(|w| w == start),
                "plaintext visible in the sealed datagram"
            );
        }

        let mut opener = Opener::new(&key(), None);
        let mut plain = Vec::new();
        // First datagram of a sender: the replay table may grow (measured
        // and bounded in `replay_table_allocation_is_bounded`).
        let (result, allocs) = measure(|| opener.open(&first, &mut plain, now, dest()));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(allocs.largest <= first.len().max(FIRST_SENDER_TABLE), "{allocs:?}");
        prop_assert_eq!(&plain[..], &open[HEADER_LEN..]);
        // A known sender: only the plaintext buffer, here a fresh one.
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&second, &mut plain, now, dest()));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(allocs.total <= second.len() - SEALED_HEADER_LEN - TAG_LEN, "{allocs:?}");
        // With a buffer that already holds a datagram: nothing at all.
        let mut plain = Vec::with_capacity(MAX_DATAGRAM);
        let (result, allocs) = measure(|| opener.open(&first, &mut plain, now, dest()));
        prop_assert_eq!(result, Err(Reject::Replay));
        prop_assert_eq!(allocs.total, 0);
        prop_assert!(plain.is_empty());
        prop_assert_eq!(opener.open(&second, &mut plain, now, dest()), Err(Reject::Replay));
        prop_assert_eq!(opener.senders(), 1);

        // The whole receive path gives back the message, once.
        let mut envelope = Envelope::new(Some(&key()));
        match envelope.incoming.open(&first, now, dest()) {
            Ok(Opened::Message(m)) => prop_assert_eq!(m, o.message()),
            other => prop_assert!(false, "not a message: {other:?}"),
        }
        prop_assert_eq!(
            envelope.incoming.open(&first, now, dest()).map(|_| ()),
            Err(Refusal::Rejected(Reject::Replay))
        );
        // Another key, and no key, never see the message.
        let other = Key::parse(&"a5".repeat(32)).expect("key");
        prop_assert_eq!(
            Envelope::new(Some(&other)).incoming.open(&second, now, dest()).map(|_| ()),
            Err(Refusal::Rejected(Reject::Auth))
        );
        prop_assert_eq!(
            Envelope::new(None).incoming.open(&second, now, dest()).map(|_| ()),
            Err(Refusal::NoKey)
        );
    }

    #[test]
    fn a_datagram_sealed_for_one_destination_never_opens_at_another(
        o in small_owned(),
        a in destination(),
        b in destination(),
    ) {
        let now = SystemTime::now();
        let sealed = Sealer::new(&key()).seal(&o.encoded(), a).to_vec();
        let mut plain = Vec::new();
        let mut opener = Opener::new(&key(), None);
        let at_b = opener.open(&sealed, &mut plain, now, b);
        if as_bound(a) == as_bound(b) {
            // The same destination by the document's rules (the same
            // address written another way, or the wildcard for loopback).
            prop_assert!(at_b.is_ok(), "{} sealed, {} refused: {:?}", a, b, at_b);
        } else {
            prop_assert_eq!(at_b, Err(Reject::Auth), "sealed for {}, opened at {}", a, b);
            prop_assert!(plain.is_empty());
            // Refusing it changed nothing: it still opens where it was sent,
            // through the listener's whole receive path too.
            prop_assert_eq!(opener.senders(), 0);
            let mut listener = Envelope::for_listener(
                Some(&key()),
                now - Duration::from_secs(1),
            );
            prop_assert_eq!(
                listener.incoming.open(&sealed, now, b).map(|_| ()),
                Err(Refusal::Rejected(Reject::Auth))
            );
            match listener.incoming.open(&sealed, now, a) {
                Ok(Opened::Message(m)) => prop_assert_eq!(m, o.message()),
                other => prop_assert!(false, "not opened at {}: {:?}", a, other),
            }
        }
    }
}

/// The largest allocation the first datagram of a sender may cause on an
/// empty table: hashbrown's first table (4 buckets of sender id and window,
/// plus control bytes), measured at about 660 bytes.
const FIRST_SENDER_TABLE: usize = 1024;

/// What evicting senders may allocate once the table is full: the
/// horizon buckets of PROTOCOL.md section 9 (a u64 time per bucket), made
/// on the first eviction of a sender heard within the time window, once.
const HORIZONS: usize = seal::replay::HORIZON_BUCKETS * 8;

#[test]
fn replay_table_allocation_is_bounded() {
    let now = SystemTime::now();
    let open = Owned::Ping(Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    })
    .encoded();
    let mut opener = Opener::new(&key(), None);
    let mut plain = Vec::with_capacity(MAX_DATAGRAM);
    let mut largest = 0;
    let mut total = 0;
    let zero = Allocs {
        largest: 0,
        total: 0,
        calls: 0,
    };
    // The first evictions, then as many again.
    let (mut evicting, mut evicting_more) = (zero, zero);
    for n in 0..seal::MAX_REPLAY_SENDERS + 2000 {
        // A new sender id each time: a new process, or a key holder
        // making up senders to fill the table.
        let d = Sealer::new(&key()).seal(&open, dest()).to_vec();
        let (result, allocs) = measure(|| opener.open(&d, &mut plain, now, dest()));
        assert!(result.is_ok(), "sender {n}: {result:?}");
        if n == 0 {
            eprintln!("first sender: {allocs:?}");
            assert!(allocs.largest <= FIRST_SENDER_TABLE, "{allocs:?}");
        }
        if n < seal::MAX_REPLAY_SENDERS {
            largest = largest.max(allocs.largest);
            total += allocs.total;
        } else {
            let phase = if n < seal::MAX_REPLAY_SENDERS + 1000 {
                &mut evicting
            } else {
                &mut evicting_more
            };
            phase.largest = phase.largest.max(allocs.largest);
            phase.total += allocs.total;
            phase.calls += allocs.calls;
        }
        assert!(opener.senders() <= seal::MAX_REPLAY_SENDERS);
    }
    eprintln!(
        "{} senders: largest single allocation {largest} bytes, {total} bytes in all; \
         first evictions: {evicting:?}; more: {evicting_more:?}",
        seal::MAX_REPLAY_SENDERS
    );
    assert_eq!(opener.senders(), seal::MAX_REPLAY_SENDERS);
    // Filling the table: its hash table doubles up to 32768 buckets for
    // 16384 senders, plus a node per sender (measured: 3.5 MB in all).
    assert!(largest <= 2 << 20, "largest allocation {largest}");
    assert!(total <= 4 << 20, "all allocations {total}");
    // Once full, the least recently heard sender is evicted: its slot is
    // reused, and the horizons are made once (every sender here was heard
    // within the time window, so it is needed at the first eviction).
    assert!(
        evicting.calls <= 1 && evicting.total <= HORIZONS,
        "{evicting:?}"
    );
    assert_eq!(evicting_more, zero, "no growth once evicting");
}

// ---------------------------------------------------------------- replay windows

/// Seals like docs/PROTOCOL.md section 9, with any sender, counter and
/// time, for `dest`: the crate's `Sealer` only counts up from 0 at the
/// current time. The associated data is the 30-byte header, then the
/// destination address as 16 bytes and its port, u16 LE (see [`as_bound`]).
fn seal_by_the_spec(
    open: &[u8],
    sender: u64,
    counter: u64,
    micros: u64,
    dest: SocketAddr,
) -> Vec<u8> {
    let derived = blake3::derive_key(seal::KEY_CONTEXT, &[0x5a; 32]);
    let cipher = XChaCha20Poly1305::new(&derived.into());
    let mut head = b"UDPM\x02\x01".to_vec();
    head.extend_from_slice(&sender.to_le_bytes());
    head.extend_from_slice(&counter.to_le_bytes());
    head.extend_from_slice(&micros.to_le_bytes());
    let (ip, port) = as_bound(dest);
    let mut ad = head.clone();
    ad.extend_from_slice(&ip);
    ad.extend_from_slice(&port.to_le_bytes());
    let mut body = open[HEADER_LEN..].to_vec();
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(&head[HEADER_LEN..]), &ad, &mut body)
        .expect("encrypt");
    head.extend_from_slice(&body);
    head.extend_from_slice(&tag);
    head
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as u64
}

/// The replay rule of docs/PROTOCOL.md, written the obvious way: per
/// sender, the highest counter and the set of counters seen; a counter is
/// fresh when unseen and less than `REPLAY_WINDOW` below the highest.
#[derive(Default)]
struct ReplayModel {
    senders: HashMap<u64, (u64, HashSet<u64>)>,
}

impl ReplayModel {
    fn accept(&mut self, sender: u64, counter: u64) -> bool {
        let (highest, seen) = self
            .senders
            .entry(sender)
            .or_insert_with(|| (counter, HashSet::new()));
        if seen.contains(&counter) {
            return false;
        }
        if counter < *highest && *highest - counter >= seal::REPLAY_WINDOW {
            return false;
        }
        *highest = (*highest).max(counter);
        seen.insert(counter);
        true
    }
}

/// Steps of a sender's counter: small, across a 64-bit word, across the
/// whole window, or anywhere; and going back.
fn counter_step() -> impl Strategy<Value = i128> {
    prop_oneof![
        4 => -3i128..4,
        2 => 60i128..70,
        2 => -70i128..-60,
        2 => 1000i128..1100,
        2 => -1100i128..-1000,
        1 => 1i128..1 << 40,
        1 => -(1i128 << 40)..0,
    ]
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn replay_windows_follow_the_documented_rule(
        start in prop_oneof![Just(0u64), Just(u64::MAX - 2000), any::<u64>()],
        steps in prop::collection::vec((0u64..3, counter_step(), any::<bool>()), 1..120),
    ) {
        let now = SystemTime::now();
        let open = Owned::Ping(Ping { sender: 1, seq: 2, stamp: 3 }).encoded();
        // A client, and a listener that started a second ago: every
        // datagram here is sealed after that, so only the windows decide.
        let mut opener = Opener::new(&key(), None);
        let mut listener = Opener::new(&key(), Some(now - Duration::from_secs(1)));
        let mut model = ReplayModel::default();
        let mut plain = Vec::new();
        let mut counters = [start; 3];
        let mut history: Vec<(u64, u64)> = Vec::new();
        for (sender, step, repeat) in steps {
            // Sometimes an exact earlier datagram again, else a new counter.
            let (sender, counter) = match history.last() {
                Some(&earlier) if repeat => earlier,
                _ => {
                    let c = &mut counters[sender as usize];
                    *c = (i128::from(*c) + step).clamp(0, i128::from(u64::MAX)) as u64;
                    (sender, *c)
                }
            };
            history.push((sender, counter));
            let d = seal_by_the_spec(&open, sender, counter, micros(now), dest());
            let got = opener.open(&d, &mut plain, now, dest());
            prop_assert_eq!(listener.open(&d, &mut plain, now, dest()), got);
            let want = model.accept(sender, counter);
            prop_assert_eq!(
                got.is_ok(),
                want,
                "sender {} counter {} after {:?}: {:?}",
                sender,
                counter,
                &history,
                got
            );
            if !want {
                prop_assert_eq!(got, Err(Reject::Replay));
            }
        }
    }
}

#[test]
fn replay_is_refused_even_after_its_sender_was_evicted() {
    let now = SystemTime::now();
    let open = Owned::Ping(Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    })
    .encoded();
    let mut opener = Opener::new(&key(), None);
    let mut plain = Vec::new();
    let victim = Sealer::new(&key()).seal(&open, dest()).to_vec();
    assert!(opener.open(&victim, &mut plain, now, dest()).is_ok());
    assert_eq!(
        opener.open(&victim, &mut plain, now, dest()),
        Err(Reject::Replay)
    );
    // MAX_SENDERS other senders within a second: busy, but every `udpmsg
    // send`, `ping` and `discover` run is a new sender.
    for i in 0..seal::MAX_REPLAY_SENDERS {
        let at = now + Duration::from_micros(100 + i as u64 * 100);
        let d = Sealer::new(&key()).seal(&open, dest()).to_vec();
        assert!(opener.open(&d, &mut plain, at, dest()).is_ok());
    }
    // Well within MAX_SKEW of its time: the captured datagram is accepted again.
    let later = now + Duration::from_secs(1);
    assert_eq!(
        opener.open(&victim, &mut plain, later, dest()),
        Err(Reject::Replay),
        "a replay got through once its sender's window was evicted"
    );
}

// ---------------------------------------------------------------- the listener-start rule

/// PROTOCOL.md section 9, step 4, for one receiver: a sender not in the
/// table passes only with a datagram sealed after the listener started
/// (`started`; `None`, a client, has no such rule); once accepted it is in
/// the table, and its later datagrams (fresh counters) pass whatever their
/// time within the skew.
fn start_rule(started: Option<u64>, datagrams: &[(u64, u64)]) -> Vec<bool> {
    let mut known = HashSet::new();
    datagrams
        .iter()
        .map(|&(sender, sealed_at)| {
            let pass = known.contains(&sender) || started.is_none_or(|s| sealed_at > s);
            if pass {
                known.insert(sender);
            }
            pass
        })
        .collect()
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn a_listener_refuses_new_senders_sealed_before_it_started_even_after_a_restart(
        started_ago in 0u64..40_000_000,
        // (sender, when it was sealed relative to now in µs): captured
        // datagrams from the last 50 s, and clocks up to 20 s ahead.
        sent in prop::collection::vec((0u64..4, -50_000_000i64..20_000_000), 1..40),
    ) {
        let now = SystemTime::now();
        let at = micros(now);
        let open = Owned::Ping(Ping { sender: 1, seq: 2, stamp: 3 }).encoded();
        // Never exactly at a start time: "before" and "after" are clear.
        let started = at - started_ago;
        let datagrams: Vec<(u64, u64)> = sent
            .iter()
            .map(|&(sender, offset)| (sender, at.saturating_add_signed(offset)))
            .filter(|&(_, t)| t != started && t != at)
            .collect();
        prop_assume!(!datagrams.is_empty());
        // Counter i for the i-th datagram: no two alike, all in the window.
        let sealed: Vec<Vec<u8>> = datagrams
            .iter()
            .enumerate()
            .map(|(i, &(sender, t))| seal_by_the_spec(&open, sender, i as u64, t, dest()))
            .collect();
        let run = |started: Option<u64>| -> Vec<bool> {
            let mut opener = Opener::new(
                &key(),
                started.map(|s| UNIX_EPOCH + Duration::from_micros(s)),
            );
            let mut plain = Vec::new();
            sealed
                .iter()
                .map(|d| match opener.open(d, &mut plain, now, dest()) {
                    Ok(_) => true,
                    Err(Reject::Replay) => false,
                    Err(other) => panic!("refused for another reason: {other:?}"),
                })
                .collect()
        };
        // A listener that started `started_ago` before now.
        prop_assert_eq!(
            run(Some(started)),
            start_rule(Some(started), &datagrams),
            "{:?}",
            datagrams
        );
        // A client (a sender waiting for acks, a pinger) has no start rule.
        prop_assert!(run(None).iter().all(|&ok| ok));
        // The same listener restarted now: the very same datagrams again.
        let restarted = run(Some(at));
        prop_assert_eq!(&restarted, &start_rule(Some(at), &datagrams));
        // A datagram sealed before the restart opens after it only once its
        // sender got in with one sealed after the restart (a clock ahead).
        for (i, &(sender, t)) in datagrams.iter().enumerate() {
            if restarted[i] && t <= at {
                let let_in = (0..i).any(|j| {
                    restarted[j] && datagrams[j].0 == sender && datagrams[j].1 > at
                });
                prop_assert!(
                    let_in,
                    "datagram {} sealed before the restart opened: {:?}",
                    i,
                    datagrams
                );
            }
        }
    }
}
