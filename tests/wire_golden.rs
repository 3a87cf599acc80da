//! Golden bytes for the wire format: every example of `docs/PROTOCOL.md`
//! written out by hand, checked both ways, plus one test per malformation
//! and a deterministic fuzz loop over `classify`.

mod common;

use common::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use udpmsg::wire::{
    self, Ack, Answer, Datagram, DecodeError, EncodeError, FLAG_ACK, MAGIC, MAX_DATAGRAM,
    MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, Message, Ping, Probe, Text,
};

// ---------------------------------------------------------------------------
// Allocation counting, so "rejected without allocating" is checked, not hoped.

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the counter
// is a const-initialised thread-local without a destructor, so touching it
// never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the number of allocations this
/// thread made meanwhile.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = f();
    let after = ALLOCATIONS.with(Cell::get);
    (result, after - before)
}

// ---------------------------------------------------------------------------
// Golden vectors, transcribed from docs/PROTOCOL.md section 4. Each line is
// hex bytes, then `|` and what they are.

/// Parses the golden-vector notation: on each line, the hex bytes before `|`.
fn hex(text: &str) -> Vec<u8> {
    text.lines()
        .flat_map(|line| line.split('|').next().unwrap_or("").split_whitespace())
        .map(|byte| {
            u8::from_str_radix(byte, 16).unwrap_or_else(|_| panic!("not a hex byte: {byte:?}"))
        })
        .collect()
}

const TEXT: &str = "
    55 44 50 4d 01 00           | header: UDPM, version 1, open
    00 00 00 00                 | tag 0: Text
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    01 00 00 00 00 00 00 00     | seq 1
    01                          | flags: FLAG_ACK
    03 00 00 00 00 00 00 00     | name length 3
    61 6e 6e                    | \"ann\"
    02 00 00 00 00 00 00 00     | body length 2
    68 69                       | \"hi\"
";

fn text_value() -> Message<'static> {
    Message::Text(Text {
        sender: 0x0123_4567_89ab_cdef,
        seq: 1,
        base: 0,
        flags: FLAG_ACK,
        name: "ann",
        body: b"hi",
    })
}

const ACK: &str = "
    55 44 50 4d 01 00           | header
    01 00 00 00                 | tag 1: Ack
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    01 00 00 00 00 00 00 00     | seq 1
";

fn ack_value() -> Message<'static> {
    Message::Ack(Ack {
        sender: 0x0123_4567_89ab_cdef,
        seq: 1,
    })
}

const PROBE: &str = "
    55 44 50 4d 01 00           | header
    02 00 00 00                 | tag 2: Probe
    01 02 03 04 05 06 07 08     | instance 0x0807060504030201
    88 77 66 55 44 33 22 11     | token 0x1122334455667788
    06 00 00 00 00 00 00 00     | pad length 6
    00 00 00 00 00 00           | pad
";

fn probe_value() -> Message<'static> {
    Message::Probe(Probe {
        instance: 0x0807_0605_0403_0201,
        token: 0x1122_3344_5566_7788,
        pad: &[0; 6],
    })
}

const ANSWER: &str = "
    55 44 50 4d 01 00           | header
    03 00 00 00                 | tag 3: Answer
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    88 77 66 55 44 33 22 11     | token 0x1122334455667788
    72 b9                       | port 47474
    01                          | version 1
    03 00 00 00 00 00 00 00     | name length 3
    61 6e 6e                    | \"ann\"
";

fn answer_value() -> Message<'static> {
    Message::Answer(Answer {
        instance: 0xfedc_ba98_7654_3210,
        token: 0x1122_3344_5566_7788,
        port: 47474,
        version: 1,
        name: "ann",
    })
}

const PING: &str = "
    55 44 50 4d 01 00           | header
    04 00 00 00                 | tag 4: Ping
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    02 00 00 00 00 00 00 00     | seq 2
    08 07 06 05 04 03 02 01     | stamp 0x0102030405060708
";

const PONG: &str = "
    55 44 50 4d 01 00           | header
    05 00 00 00                 | tag 5: Pong
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    02 00 00 00 00 00 00 00     | seq 2
    08 07 06 05 04 03 02 01     | stamp 0x0102030405060708
";

const PING_FIELDS: Ping = Ping {
    sender: 0x0123_4567_89ab_cdef,
    seq: 2,
    stamp: 0x0102_0304_0506_0708,
};

/// Every golden vector with its value.
fn goldens() -> Vec<(Vec<u8>, Message<'static>)> {
    vec![
        (hex(TEXT), text_value()),
        (hex(ACK), ack_value()),
        (hex(PROBE), probe_value()),
        (hex(ANSWER), answer_value()),
        (hex(PING), Message::Ping(PING_FIELDS)),
        (hex(PONG), Message::Pong(PING_FIELDS)),
    ]
}

/// The bytes decode to the value, and the value encodes to the bytes.
fn assert_golden(bytes: &[u8], value: &Message<'_>) {
    assert_eq!(
        wire::classify(bytes),
        Ok(Datagram::Message(value.clone())),
        "decoding {bytes:02x?}"
    );
    let mut out = Vec::new();
    wire::encode(value, MAX_DATAGRAM, &mut out).expect("encode");
    assert_eq!(out, bytes, "encoding {value:?}");
    let mut body = Vec::new();
    wire::encode_body(value, &mut body);
    assert_eq!(
        body,
        &bytes[wire::HEADER_LEN..],
        "encoding the body of {value:?}"
    );
}

/// `bytes` with the 8-byte little-endian `value` written at `offset`.
fn with_u64(bytes: &[u8], offset: usize, value: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------
// Both ways, per kind.

#[test]
fn text_golden_bytes_round_trip() {
    let bytes = hex(TEXT);
    assert_eq!(bytes.len(), 48);
    assert_golden(&bytes, &text_value());
}

#[test]
fn ack_golden_bytes_round_trip() {
    let bytes = hex(ACK);
    assert_eq!(bytes.len(), 26);
    assert_golden(&bytes, &ack_value());
}

#[test]
fn probe_golden_bytes_round_trip() {
    let bytes = hex(PROBE);
    assert_eq!(bytes.len(), 40);
    assert_golden(&bytes, &probe_value());
}

#[test]
fn answer_golden_bytes_round_trip() {
    let bytes = hex(ANSWER);
    assert_eq!(bytes.len(), 40);
    assert_golden(&bytes, &answer_value());
}

#[test]
fn ping_golden_bytes_round_trip() {
    let bytes = hex(PING);
    assert_eq!(bytes.len(), 34);
    assert_golden(&bytes, &Message::Ping(PING_FIELDS));
}

#[test]
fn pong_golden_bytes_round_trip() {
    let bytes = hex(PONG);
    assert_eq!(bytes.len(), 34);
    assert_golden(&bytes, &Message::Pong(PING_FIELDS));
}

#[test]
fn text_with_empty_name_and_binary_body_round_trips() {
    let bytes = hex("
        55 44 50 4d 01 00           | header
        00 00 00 00                 | tag 0: Text
        ff ff ff ff ff ff ff ff     | sender u64::MAX
        00 00 00 00 00 00 00 00     | seq 0
        00                          | flags: none
        00 00 00 00 00 00 00 00     | name length 0
        03 00 00 00 00 00 00 00     | body length 3
        ff 00 fe                    | not UTF-8, and that is fine for a body
    ");
    assert_golden(
        &bytes,
        &Message::Text(Text {
            sender: u64::MAX,
            seq: 0,
            base: 0,
            flags: 0,
            name: "",
            body: &[0xff, 0x00, 0xfe],
        }),
    );
}

#[test]
fn name_length_counts_utf8_bytes_not_characters() {
    let bytes = hex("
        55 44 50 4d 01 00           | header
        03 00 00 00                 | tag 3: Answer
        01 00 00 00 00 00 00 00     | instance 1
        02 00 00 00 00 00 00 00     | token 2
        00 01                       | port 256
        01                          | version 1
        05 00 00 00 00 00 00 00     | name length 5 (bytes)
        c3 a9 e2 82 ac              | \"é€\": 2 characters
    ");
    assert_golden(
        &bytes,
        &Message::Answer(Answer {
            instance: 1,
            token: 2,
            port: 256,
            version: 1,
            name: "é€",
        }),
    );
}

#[test]
fn answer_example_is_no_larger_than_probe_example() {
    // The documented examples show the anti-amplification rule at its limit.
    assert_eq!(hex(ANSWER).len(), hex(PROBE).len());
}

#[test]
fn text_overhead_is_43_bytes_plus_name() {
    assert_eq!(wire::TEXT_OVERHEAD, 43);
    assert_eq!(hex(TEXT).len(), 43 + "ann".len() + "hi".len());
    assert_eq!(wire::max_text_body("ann", MAX_DATAGRAM_V4), 65_507 - 43 - 3);
    assert_eq!(wire::max_text_body("ann", MAX_DATAGRAM_V6), 65_527 - 43 - 3);
    assert_eq!(wire::max_text_body(&"x".repeat(70_000), MAX_DATAGRAM_V4), 0);
}

#[test]
fn encode_refuses_datagrams_over_the_limit_and_leaves_the_buffer() {
    let body = vec![b'x'; wire::max_text_body("ann", MAX_DATAGRAM_V4)];
    let fits = Message::Text(Text {
        sender: 1,
        seq: 0,
        base: 0,
        flags: 0,
        name: "ann",
        body: &body,
    });
    let mut out = b"kept".to_vec();
    wire::encode(&fits, MAX_DATAGRAM_V4, &mut out).expect("largest IPv4 Text fits");
    assert_eq!(out.len(), 4 + MAX_DATAGRAM_V4);

    let body = vec![b'x'; body.len() + 1];
    let too_big = Message::Text(Text {
        sender: 1,
        seq: 0,
        base: 0,
        flags: 0,
        name: "ann",
        body: &body,
    });
    let mut out = b"kept".to_vec();
    assert_eq!(
        wire::encode(&too_big, MAX_DATAGRAM_V4, &mut out),
        Err(EncodeError::TooLarge {
            len: MAX_DATAGRAM_V4 + 1,
            max: MAX_DATAGRAM_V4
        })
    );
    assert_eq!(out, b"kept");
}

// ---------------------------------------------------------------------------
// Not udpmsg, and sealed.

#[test]
fn datagram_without_magic_is_raw() {
    for bytes in [
        &b""[..],
        b"U",
        b"UDP",
        b"udpm\x01\x00",
        b"UDPX\x01\x00\x00\x00\x00\x00",
        b"hello world",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        assert_eq!(
            wire::classify(bytes),
            Ok(Datagram::Raw(bytes)),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn mode_one_is_sealed_and_carries_the_rest() {
    let bytes = hex("55 44 50 4d 01 01 | header: sealed\n de ad be ef | envelope");
    assert_eq!(
        wire::classify(&bytes),
        Ok(Datagram::Sealed(&[0xde, 0xad, 0xbe, 0xef][..]))
    );
    assert_eq!(
        wire::classify(b"UDPM\x01\x01"),
        Ok(Datagram::Sealed(&b""[..]))
    );
}

// ---------------------------------------------------------------------------
// One test per malformation.

#[test]
fn decode_rejects_truncated_header() {
    assert_eq!(wire::classify(b"UDPM"), Err(DecodeError::Truncated));
    assert_eq!(wire::classify(b"UDPM\x01"), Err(DecodeError::Truncated));
}

#[test]
fn decode_rejects_truncated_text_at_every_field() {
    let text = hex(TEXT);
    // Cut points: no tag, inside the tag, inside sender, before flags, before
    // the name length, inside the name length, inside the name, inside the
    // body length, before the body, inside the body.
    for cut in [6, 8, 10, 14, 26, 27, 30, 35, 37, 38, 42, 46, 47] {
        assert_eq!(
            wire::classify(&text[..cut]),
            Err(DecodeError::Truncated),
            "Text cut to {cut} bytes"
        );
    }
}

#[test]
fn decode_rejects_every_proper_prefix_of_every_golden() {
    for (bytes, value) in goldens() {
        for cut in MAGIC.len()..bytes.len() {
            assert_eq!(
                wire::classify(&bytes[..cut]),
                Err(DecodeError::Truncated),
                "{value:?} cut to {cut} bytes"
            );
        }
    }
}

#[test]
fn decode_rejects_length_prefix_past_the_end_as_truncated() {
    // A name length of 40 where 13 bytes are left.
    let bytes = with_u64(&hex(TEXT), 27, 40);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
    // A body length one past the end.
    let bytes = with_u64(&hex(TEXT), 38, 3);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
}

#[test]
fn length_prefix_is_too_long_once_the_field_would_end_past_any_datagram() {
    // The Probe's pad starts 28 bytes into the body (tag, instance, token,
    // pad length). A pad ending exactly 65527 bytes into the body could still
    // be a real (if impossible over IPv4) datagram cut short; one byte more
    // cannot be anything. PROTOCOL.md rule 7 documents this boundary.
    let fits = (MAX_DATAGRAM - 28) as u64;
    let bytes = with_u64(&hex(PROBE), 26, fits);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
    let bytes = with_u64(&hex(PROBE), 26, fits + 1);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::TooLong));
}

#[test]
fn decode_rejects_oversized_length_prefix_without_allocating() {
    let text = hex(TEXT);
    let probe = hex(PROBE);
    let answer = hex(ANSWER);
    let cases = [
        ("Text name 2^60", with_u64(&text, 27, 1 << 60)),
        ("Text name u64::MAX", with_u64(&text, 27, u64::MAX)),
        ("Text body 2^60", with_u64(&text, 38, 1 << 60)),
        ("Probe pad 2^60", with_u64(&probe, 26, 1 << 60)),
        (
            "Probe pad one over",
            with_u64(&probe, 26, MAX_DATAGRAM as u64 + 1),
        ),
        ("Answer name 2^63", with_u64(&answer, 29, 1 << 63)),
    ];
    for (what, bytes) in &cases {
        let (result, allocations) = allocations_during(|| wire::classify(bytes));
        assert_eq!(result, Err(DecodeError::TooLong), "{what}");
        assert_eq!(allocations, 0, "{what}: classify allocated");
    }
}

#[test]
fn decode_of_valid_datagram_does_not_allocate() {
    for (bytes, value) in goldens() {
        let (result, allocations) = allocations_during(|| wire::classify(&bytes).is_ok());
        assert!(result, "{value:?}");
        assert_eq!(allocations, 0, "decoding {value:?} allocated");
    }
}

#[test]
fn decode_rejects_unknown_version() {
    for version in [0u8, 2, 0x80, 0xff] {
        let mut bytes = hex(PING);
        bytes[4] = version;
        assert_eq!(
            wire::classify(&bytes),
            Err(DecodeError::UnknownVersion(version))
        );
    }
    // The version is checked before the mode.
    assert_eq!(
        wire::classify(b"UDPM\x02\x07"),
        Err(DecodeError::UnknownVersion(2))
    );
}

#[test]
fn decode_rejects_unknown_mode() {
    for mode in [2u8, 3, 0x80, 0xff] {
        let mut bytes = hex(PING);
        bytes[5] = mode;
        assert_eq!(wire::classify(&bytes), Err(DecodeError::UnknownMode(mode)));
    }
}

#[test]
fn decode_rejects_unknown_kind_tag() {
    // Tag 6 alone, and tag 6 followed by a well-formed Ping body.
    assert_eq!(
        wire::classify(&hex("55 44 50 4d 01 00 | header\n 06 00 00 00 | tag 6")),
        Err(DecodeError::UnknownKind(6))
    );
    let mut bytes = hex(PING);
    bytes[6] = 6;
    assert_eq!(wire::classify(&bytes), Err(DecodeError::UnknownKind(6)));
    // The tag is little-endian: 00 01 00 00 is 256, not 1.
    bytes[6..10].copy_from_slice(&[0x00, 0x01, 0x00, 0x00]);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::UnknownKind(256)));
    bytes[6..10].copy_from_slice(&[0xff; 4]);
    assert_eq!(
        wire::classify(&bytes),
        Err(DecodeError::UnknownKind(u32::MAX))
    );
}

#[test]
fn decode_rejects_trailing_bytes() {
    for (bytes, value) in goldens() {
        for extra in [1usize, 7, 100] {
            let mut long = bytes.clone();
            long.extend(std::iter::repeat_n(0u8, extra));
            assert_eq!(
                wire::classify(&long),
                Err(DecodeError::TrailingBytes { extra }),
                "{value:?} + {extra} bytes"
            );
        }
    }
}

#[test]
fn decode_rejects_reserved_text_flag_bits() {
    let mut bytes = hex(TEXT);
    for flags in [0x02u8, 0x03, 0x80, 0xff] {
        bytes[26] = flags;
        let result = wire::classify(&bytes);
        assert!(
            matches!(&result, Err(DecodeError::Invalid(why)) if why.contains("reserved flag")),
            "flags {flags:#04x}: {result:?}"
        );
    }
    for flags in [0x00u8, FLAG_ACK] {
        bytes[26] = flags;
        assert!(wire::classify(&bytes).is_ok(), "flags {flags:#04x}");
    }
}

#[test]
fn decode_rejects_invalid_utf8_in_a_name() {
    // A lone continuation byte, a bad second byte, an overlong '/', and an
    // encoded UTF-16 surrogate: each as a 3-byte name.
    for name in [
        [0x80u8, b'n', b'n'],
        [0xc3, 0x28, b'n'],
        [0xc0, 0xaf, b'n'],
        [0xed, 0xa0, 0x80],
    ] {
        let mut text = hex(TEXT);
        text[35..38].copy_from_slice(&name);
        assert_eq!(
            wire::classify(&text),
            Err(DecodeError::BadUtf8),
            "Text name {name:02x?}"
        );
        let mut answer = hex(ANSWER);
        answer[37..40].copy_from_slice(&name);
        assert_eq!(
            wire::classify(&answer),
            Err(DecodeError::BadUtf8),
            "Answer name {name:02x?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Fuzz: random and damaged datagrams never panic, and whatever decodes
// re-encodes to exactly the same bytes (the encoding is canonical).

/// One fuzz input: random bytes, or a golden vector damaged somehow.
fn fuzz_case(rng: &mut Rng, goldens: &[(Vec<u8>, Message<'static>)]) -> Vec<u8> {
    let golden = &goldens[rng.below(goldens.len())].0;
    match rng.below(7) {
        0 => {
            let len = rng.below(64);
            rng.bytes(len)
        }
        1 => {
            let mut bytes = b"UDPM\x01\x00".to_vec();
            let len = rng.below(80);
            bytes.extend(rng.bytes(len));
            bytes
        }
        2 => {
            // A valid tag, then random bytes with small length prefixes often
            // enough that whole messages come out.
            let mut bytes = b"UDPM\x01\x00".to_vec();
            bytes.extend((rng.below(7) as u32).to_le_bytes());
            for _ in 0..rng.below(6) {
                if rng.below(2) == 0 {
                    bytes.extend((rng.below(6) as u64).to_le_bytes());
                } else {
                    let len = rng.below(9);
                    bytes.extend(rng.bytes(len));
                }
            }
            bytes
        }
        3 => {
            let mut bytes = golden.clone();
            for _ in 0..=rng.below(3) {
                let bit = rng.below(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            bytes
        }
        4 => golden[..rng.below(golden.len() + 1)].to_vec(),
        5 => {
            let mut bytes = golden.clone();
            let len = rng.below(4);
            bytes.extend(rng.bytes(len));
            bytes
        }
        _ => {
            // Overwrite one random byte with a random value: length prefixes,
            // tags and flags all get hit.
            let mut bytes = golden.clone();
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
            bytes
        }
    }
}

#[test]
fn classify_survives_random_and_damaged_datagrams() {
    let goldens = goldens();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut decoded, mut rejected, mut raw, mut sealed) = (0u32, 0u32, 0u32, 0u32);
    let mut out = Vec::new();
    for round in 0..50_000 {
        let bytes = fuzz_case(&mut rng, &goldens);
        match wire::classify(&bytes) {
            Ok(Datagram::Message(message)) => {
                decoded += 1;
                out.clear();
                wire::encode(&message, MAX_DATAGRAM, &mut out).expect("re-encode");
                assert_eq!(
                    out, bytes,
                    "round {round}: {message:?} re-encodes differently"
                );
            }
            Ok(Datagram::Raw(rest)) => {
                raw += 1;
                assert_eq!(rest, &bytes[..], "round {round}");
                assert!(
                    !bytes.starts_with(&MAGIC),
                    "round {round}: magic taken as raw"
                );
            }
            Ok(Datagram::Sealed(rest)) => {
                sealed += 1;
                assert_eq!(rest, &bytes[wire::HEADER_LEN..], "round {round}");
                assert_eq!(bytes[5], wire::MODE_SEALED, "round {round}");
            }
            Err(error) => {
                rejected += 1;
                assert!(
                    bytes.starts_with(&MAGIC),
                    "round {round}: {error} without magic"
                );
                assert!(!error.label().is_empty());
            }
        }
    }
    // The generator must actually reach every outcome, or the loop proves little.
    assert!(decoded > 1_000, "only {decoded} decoded");
    assert!(rejected > 10_000, "only {rejected} rejected");
    assert!(raw > 1_000, "only {raw} raw");
    assert!(sealed > 10, "only {sealed} sealed");
}
