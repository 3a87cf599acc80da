//! Properties of the wire format and the sealed envelope on untrusted input:
//! no panic, no allocation beyond the datagram, exact round trips, and no
//! mutated sealed datagram ever accepted. Pure: no sockets, no namespace.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use proptest::prelude::*;
use proptest::sample::Index;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use udpmsg::seal::{
    self, Envelope, Key, Opened, Opener, Refusal, Reject, SEAL_OVERHEAD, SEALED_HEADER_LEN, Sealer,
    TAG_LEN,
};
use udpmsg::wire::{
    self, Ack, Answer, Datagram, DecodeError, FLAG_ACK, HEADER_LEN, MAX_DATAGRAM, Message, Ping,
    Probe, Text,
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
        base: 0,
        flags: u8,
        name: String,
        body: Vec<u8>,
    },
    Ack(Ack),
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
}

impl Owned {
    fn message(&self) -> Message<'_> {
        match self {
            Owned::Text {
                sender,
                seq,
                base: 0,
                flags,
                name,
                body,
            } => Message::Text(Text {
                sender: *sender,
                seq: *seq,
                base: 0,
                flags: *flags,
                name,
                body,
            }),
            Owned::Ack(ack) => Message::Ack(*ack),
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

/// Every kind of message, with arbitrary fields (flags only as the wire
/// allows: reserved bits are a decode error).
fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        3 => (any::<u64>(), any::<u64>(), prop_oneof![Just(0), Just(FLAG_ACK)], name(), payload())
            .prop_map(|(sender, seq, flags, name, body)| Owned::Text {
                sender,
                seq,
                base: 0,
                flags,
                name,
                body
            }),
        1 => (any::<u64>(), any::<u64>()).prop_map(|(sender, seq)| Owned::Ack(Ack { sender, seq })),
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
    (0u32..8, prop::collection::vec(any::<u8>(), 0..256)).prop_map(|(tag, tail)| {
        let mut d = b"UDPM\x01\x00".to_vec();
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
            let mut d = b"UDPM\x01\x01".to_vec();
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
        let o = Owned::Text { sender: 1, seq: 2, flags: 0, name: name.clone(), body: body.clone() };
        prop_assert_eq!(o.encoded().len(), wire::TEXT_OVERHEAD + name.len() + body.len());
        let max = wire::max_text_body(&name, wire::MAX_DATAGRAM_V4);
        let fits = Owned::Text { sender: 1, seq: 2, flags: 0, name: name.clone(), body: vec![0; max] };
        prop_assert_eq!(fits.encoded().len(), wire::MAX_DATAGRAM_V4);
    }
}

#[test]
fn hostile_length_prefixes_are_refused_without_allocating() {
    // Text: tag 0, sender, seq, flags, then the name's u64 length prefix.
    let mut base = b"UDPM\x01\x00".to_vec();
    base.extend_from_slice(&0u32.to_le_bytes());
    base.extend_from_slice(&7u64.to_le_bytes());
    base.extend_from_slice(&9u64.to_le_bytes());
    base.push(0);
    for claim in [
        1u64 << 60,
        u64::MAX,
        1 << 32,
        MAX_DATAGRAM as u64 + 1,
        MAX_DATAGRAM as u64,
        1000,
    ] {
        for tail in [0usize, 8, 100] {
            let mut d = base.clone();
            d.extend_from_slice(&claim.to_le_bytes());
            d.extend(std::iter::repeat_n(b'a', tail));
            let (result, allocs) = measure(|| wire::classify(&d));
            let err = result.expect_err("a lying name length");
            assert!(
                matches!(err, DecodeError::TooLong | DecodeError::Truncated),
                "claim {claim}: {err:?}"
            );
            assert_eq!(allocs.total, 0, "claim {claim}: {allocs:?}");
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
    let mut d = b"UDPM\x01\x00".to_vec();
    d.extend_from_slice(&2u32.to_le_bytes());
    d.extend_from_slice(&[0; 16]);
    d.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let (result, allocs) = measure(|| wire::classify(&d));
    assert_eq!(result, Err(DecodeError::TooLong));
    assert_eq!(allocs.total, 0, "{allocs:?}");
}

#[test]
fn every_decode_error_allocates_nothing() {
    let text = |flags: u8| {
        let mut d = Vec::new();
        let m = Message::Text(Text {
            sender: 1,
            seq: 2,
            base: 0,
            flags,
            name: "n",
            body: b"b",
        });
        wire::encode(&m, usize::MAX, &mut d).expect("encode");
        d
    };
    let big = {
        let mut d = b"UDPM\x01\x00".to_vec();
        d.resize(MAX_DATAGRAM + 1, 0);
        d
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("reserved flags", text(0xfe)),
        ("unknown kind", {
            let mut d = b"UDPM\x01\x00".to_vec();
            d.extend_from_slice(&6u32.to_le_bytes());
            d
        }),
        ("largest kind", {
            let mut d = b"UDPM\x01\x00".to_vec();
            d.extend_from_slice(&u32::MAX.to_le_bytes());
            d.extend_from_slice(&[0; 64]);
            d
        }),
        ("bad utf-8 name", {
            let mut d = text(0);
            let at = d.len() - 8 - 1 - 1;
            d[at] = 0xff;
            d
        }),
        ("trailing bytes", {
            let mut d = text(0);
            d.extend_from_slice(&[0; 1000]);
            d
        }),
        ("ends inside a field", text(0)[..20].to_vec()),
        ("no tag", b"UDPM\x01\x00\x01".to_vec()),
        ("version", b"UDPM\x02\x00".to_vec()),
        ("mode", b"UDPM\x01\x07".to_vec()),
        ("short", b"UDPM\x01".to_vec()),
        ("larger than a datagram", big),
    ];
    for (what, d) in cases {
        let (result, allocs) = measure(|| wire::classify(&d));
        assert!(result.is_err(), "{what}: {result:?}");
        assert_eq!(allocs.total, 0, "{what}: {result:?} allocated {allocs:?}");
        let (result, allocs) = measure(|| {
            Envelope::new(None)
                .incoming
                .open(&d, SystemTime::now())
                .map(|_| ())
        });
        assert!(
            matches!(result, Err(Refusal::Malformed(_))),
            "{what}: {result:?}"
        );
        assert_eq!(allocs.total, 0, "{what}: {allocs:?}");
    }
}

// ---------------------------------------------------------------- sealed envelope

/// A fixed key, so a failure reproduces.
fn key() -> Key {
    Key::parse(&"5a".repeat(32)).expect("key")
}

fn sealed(sealer: &mut Sealer, o: &Owned) -> Vec<u8> {
    sealer.seal(&o.encoded()).to_vec()
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn opener_refuses_arbitrary_bytes_without_panicking(d in hostile()) {
        let mut opener = Opener::new(&key());
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&d, &mut plain, SystemTime::now()));
        prop_assert!(result.is_err(), "arbitrary bytes opened: {result:?}");
        prop_assert!(plain.is_empty(), "a refused datagram leaves no plaintext");
        prop_assert!(allocs.total <= d.len(), "{} bytes: {allocs:?}", d.len());
        prop_assert_eq!(opener.senders(), 0);

        // The whole receive path, keyed and not.
        let mut keyed = Envelope::new(Some(&key()));
        let (result, allocs) = measure(|| {
            keyed.incoming.open(&d, SystemTime::now()).map(|_| ())
        });
        prop_assert!(result.is_err(), "keyed envelope accepted arbitrary bytes");
        prop_assert!(allocs.total <= d.len() + INCOMING_SLACK, "{allocs:?}");
        let mut open = Envelope::new(None);
        let (_, allocs) = measure(|| {
            let _ = open.incoming.open(&d, SystemTime::now());
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
        let mut opener = Opener::new(&key());
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&bad, &mut plain, now));
        prop_assert!(result.is_err(), "a mutated datagram opened: {ms:?}");
        prop_assert!(
            matches!(result, Err(Reject::Auth | Reject::Truncated)),
            "{result:?}"
        );
        prop_assert!(plain.is_empty());
        prop_assert!(allocs.total <= bad.len(), "{allocs:?}");
        let mut envelope = Envelope::new(Some(&key()));
        let refused = envelope.incoming.open(&bad, now).map(|_| ());
        prop_assert!(refused.is_err(), "the envelope accepted a mutated datagram");
        // A forgery leaves no replay state behind: the real one still opens.
        prop_assert_eq!(opener.senders(), 0);
        prop_assert!(opener.open(&good, &mut plain, now).is_ok());
        prop_assert_eq!(&plain[..], &o.encoded()[HEADER_LEN..]);
    }

    #[test]
    fn a_sealed_datagram_opens_once_then_is_a_replay(o in small_owned()) {
        let now = SystemTime::now();
        let mut sealer = Sealer::new(&key());
        let first = sealed(&mut sealer, &o);
        let second = sealed(&mut sealer, &o);
        prop_assert!(first != second, "every seal uses a fresh counter");
        prop_assert!(first.starts_with(b"UDPM\x01\x01"));
        let open = o.encoded();
        if open.len() >= HEADER_LEN + 16 {
            let start = &open[HEADER_LEN..HEADER_LEN + 16];
            prop_assert!(
                !first.windows(16).any(|w| w == start),
                "plaintext visible in the sealed datagram"
            );
        }

        let mut opener = Opener::new(&key());
        let mut plain = Vec::new();
        // First datagram of a sender: the replay table may grow (measured
        // and bounded in `replay_table_allocation_is_bounded`).
        let (result, allocs) = measure(|| opener.open(&first, &mut plain, now));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(allocs.largest <= first.len().max(FIRST_SENDER_TABLE), "{allocs:?}");
        prop_assert_eq!(&plain[..], &open[HEADER_LEN..]);
        // A known sender: only the plaintext buffer, here a fresh one.
        let mut plain = Vec::new();
        let (result, allocs) = measure(|| opener.open(&second, &mut plain, now));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert!(allocs.total <= second.len() - SEALED_HEADER_LEN - TAG_LEN, "{allocs:?}");
        // With a buffer that already holds a datagram: nothing at all.
        let mut plain = Vec::with_capacity(MAX_DATAGRAM);
        let (result, allocs) = measure(|| opener.open(&first, &mut plain, now));
        prop_assert_eq!(result, Err(Reject::Replay));
        prop_assert_eq!(allocs.total, 0);
        prop_assert!(plain.is_empty());
        prop_assert_eq!(opener.open(&second, &mut plain, now), Err(Reject::Replay));
        prop_assert_eq!(opener.senders(), 1);

        // The whole receive path gives back the message, once.
        let mut envelope = Envelope::new(Some(&key()));
        match envelope.incoming.open(&first, now) {
            Ok(Opened::Message(m)) => prop_assert_eq!(m, o.message()),
            other => prop_assert!(false, "not a message: {other:?}"),
        }
        prop_assert_eq!(
            envelope.incoming.open(&first, now).map(|_| ()),
            Err(Refusal::Rejected(Reject::Replay))
        );
        // Another key, and no key, never see the message.
        let other = Key::parse(&"a5".repeat(32)).expect("key");
        prop_assert_eq!(
            Envelope::new(Some(&other)).incoming.open(&second, now).map(|_| ()),
            Err(Refusal::Rejected(Reject::Auth))
        );
        prop_assert_eq!(
            Envelope::new(None).incoming.open(&second, now).map(|_| ()),
            Err(Refusal::NoKey)
        );
    }
}

/// The largest allocation the first datagram of a sender may cause on an
/// empty table: hashbrown's first table (4 buckets of sender id and window,
/// plus control bytes), measured at about 660 bytes.
const FIRST_SENDER_TABLE: usize = 1024;

#[test]
fn replay_table_allocation_is_bounded() {
    let now = SystemTime::now();
    let open = Owned::Ping(Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    })
    .encoded();
    let mut opener = Opener::new(&key());
    let mut plain = Vec::with_capacity(MAX_DATAGRAM);
    let mut largest = 0;
    let mut total = 0;
    let mut after_full = Allocs {
        largest: 0,
        total: 0,
        calls: 0,
    };
    for n in 0..seal::MAX_REPLAY_SENDERS + 2000 {
        // A new sender id each time: a new process, or a key holder
        // making up senders to fill the table.
        let d = Sealer::new(&key()).seal(&open).to_vec();
        let (result, allocs) = measure(|| opener.open(&d, &mut plain, now));
        assert!(result.is_ok(), "sender {n}: {result:?}");
        if n == 0 {
            eprintln!("first sender: {allocs:?}");
            assert!(allocs.largest <= FIRST_SENDER_TABLE, "{allocs:?}");
        }
        largest = largest.max(allocs.largest);
        total += allocs.total;
        if n >= seal::MAX_REPLAY_SENDERS {
            after_full.largest = after_full.largest.max(allocs.largest);
            after_full.total += allocs.total;
            after_full.calls += allocs.calls;
        }
        assert!(opener.senders() <= seal::MAX_REPLAY_SENDERS);
    }
    eprintln!(
        "{} senders: largest single allocation {largest} bytes, {total} bytes in all; \
         once full: {after_full:?}",
        seal::MAX_REPLAY_SENDERS
    );
    assert_eq!(opener.senders(), seal::MAX_REPLAY_SENDERS);
    // The table doubles up to 8192 buckets of (u64, window) for 4096
    // senders: about 1.3 MB at most, once.
    assert!(largest <= 2 << 20, "largest allocation {largest}");
    assert!(total <= 4 << 20, "all allocations {total}");
    // Once full, the least recently heard sender is evicted: no growth.
    assert_eq!(after_full.total, 0, "{after_full:?}");
}

// ---------------------------------------------------------------- replay windows

/// Seals like docs/PROTOCOL.md section 9, with any sender, counter and
/// time: the crate's `Sealer` only counts up from 0.
fn seal_by_the_spec(open: &[u8], sender: u64, counter: u64, micros: u64) -> Vec<u8> {
    let derived = blake3::derive_key(seal::KEY_CONTEXT, &[0x5a; 32]);
    let cipher = XChaCha20Poly1305::new(&derived.into());
    let mut head = b"UDPM\x01\x01".to_vec();
    head.extend_from_slice(&sender.to_le_bytes());
    head.extend_from_slice(&counter.to_le_bytes());
    head.extend_from_slice(&micros.to_le_bytes());
    let mut body = open[HEADER_LEN..].to_vec();
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(&head[HEADER_LEN..]), &head, &mut body)
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
        let mut opener = Opener::new(&key());
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
            let d = seal_by_the_spec(&open, sender, counter, micros(now));
            let got = opener.open(&d, &mut plain, now);
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
    let mut opener = Opener::new(&key());
    let mut plain = Vec::new();
    let victim = Sealer::new(&key()).seal(&open).to_vec();
    assert!(opener.open(&victim, &mut plain, now).is_ok());
    assert_eq!(opener.open(&victim, &mut plain, now), Err(Reject::Replay));
    // MAX_SENDERS other senders within a second: busy, but every `udpmsg
    // send`, `ping` and `discover` run is a new sender.
    for i in 0..seal::MAX_REPLAY_SENDERS {
        let at = now + Duration::from_micros(100 + i as u64 * 100);
        let d = Sealer::new(&key()).seal(&open).to_vec();
        assert!(opener.open(&d, &mut plain, at).is_ok());
    }
    // Well within MAX_SKEW of its time: the captured datagram is accepted again.
    let later = now + Duration::from_secs(1);
    assert_eq!(
        opener.open(&victim, &mut plain, later),
        Err(Reject::Replay),
        "a replay got through once its sender's window was evicted"
    );
}
