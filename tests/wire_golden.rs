//! Golden bytes for the wire format, protocol version 2: every example of
//! `docs/PROTOCOL.md` written out by hand, checked both ways and against the
//! document's own text, plus one test per malformation (section 5) and a
//! deterministic fuzz loop over `classify`.

mod common;

use common::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};
use udpmsg::seal::{Key, Opener, Sealer};
use udpmsg::wire::file::{self, FileRecord};
use udpmsg::wire::{
    self, Ack, Acks, Answer, Datagram, DecodeError, EncodeError, FLAG_ACK, FLAG_BUNDLE, FLAG_FILE,
    FileStatus, Goodbye, Hello, MAGIC, MAX_ACK_RANGES, MAX_ACKS_ENTRIES, MAX_DATAGRAM,
    MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, Message, Ping, Probe, REFUSED_BUSY, Refuse, Text,
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
    55 44 50 4d 02 00           | header: UDPM, version 2, open
    00 00 00 00                 | tag 0: Text
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    05 00 00 00 00 00 00 00     | seq 5
    03 00 00 00 00 00 00 00     | base 3
    01                          | flags: FLAG_ACK
    03 00 00 00 00 00 00 00     | name length 3
    61 6e 6e                    | \"ann\"
    02 00 00 00 00 00 00 00     | body length 2
    68 69                       | \"hi\"
";

fn text_value() -> Message<'static> {
    Message::Text(Text {
        sender: 0x0123_4567_89ab_cdef,
        seq: 5,
        base: 3,
        flags: FLAG_ACK,
        name: "ann",
        body: b"hi",
    })
}

/// Byte offsets of the Text example's fields (PROTOCOL.md 4.1).
mod text_at {
    pub const BASE: usize = 26;
    pub const FLAGS: usize = 34;
    pub const NAME_LEN: usize = 35;
    pub const NAME: usize = 43;
    pub const BODY_LEN: usize = 46;
}

const ACK: &str = "
    55 44 50 4d 02 00           | header
    01 00 00 00                 | tag 1: Ack
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    04 00 00 00 00 00 00 00     | next 4
    10 00 00 00 00 00 00 00     | ranges length 16: one pair
    06 00 00 00 00 00 00 00     | first 6
    07 00 00 00 00 00 00 00     | last 7
";

/// The ranges of the Ack example: (6, 7).
const ACK_RANGES: [u8; 16] = [6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];

fn ack_value() -> Message<'static> {
    Message::Ack(Ack {
        instance: 0xfedc_ba98_7654_3210,
        sender: 0x0123_4567_89ab_cdef,
        next: 4,
        ranges: &ACK_RANGES,
    })
}

/// Byte offsets of the Ack example's fields (PROTOCOL.md 4.2).
mod ack_at {
    pub const NEXT: usize = 26;
    pub const RANGES_LEN: usize = 34;
    pub const RANGES: usize = 42;
}

const PROBE: &str = "
    55 44 50 4d 02 00           | header
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
    55 44 50 4d 02 00           | header
    03 00 00 00                 | tag 3: Answer
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    88 77 66 55 44 33 22 11     | token 0x1122334455667788
    72 b9                       | port 47474
    02                          | version 2
    03 00 00 00 00 00 00 00     | name length 3
    61 6e 6e                    | \"ann\"
";

fn answer_value() -> Message<'static> {
    Message::Answer(Answer {
        instance: 0xfedc_ba98_7654_3210,
        token: 0x1122_3344_5566_7788,
        port: 47474,
        version: 2,
        name: "ann",
    })
}

const PING: &str = "
    55 44 50 4d 02 00           | header
    04 00 00 00                 | tag 4: Ping
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    02 00 00 00 00 00 00 00     | seq 2
    08 07 06 05 04 03 02 01     | stamp 0x0102030405060708
";

const PONG: &str = "
    55 44 50 4d 02 00           | header
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

const REFUSE: &str = "
    55 44 50 4d 02 00           | header
    06 00 00 00                 | tag 6: Refuse
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    05 00 00 00 00 00 00 00     | seq 5
    01                          | reason 1: busy
";

fn refuse_value() -> Message<'static> {
    Message::Refuse(Refuse {
        instance: 0xfedc_ba98_7654_3210,
        sender: 0x0123_4567_89ab_cdef,
        seq: 5,
        reason: REFUSED_BUSY,
    })
}

const HELLO: &str = "
    55 44 50 4d 02 00           | header
    07 00 00 00                 | tag 7: Hello
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    72 b9                       | port 47474
    02                          | version 2
    90 5f 01 00                 | lifetime 90000 ms
    03 00 00 00 00 00 00 00     | name length 3
    61 6e 6e                    | \"ann\"
    00 00 00 00 00 00 00 00     | room length 0
";

fn hello_value() -> Message<'static> {
    Message::Hello(Hello {
        instance: 0xfedc_ba98_7654_3210,
        port: 47474,
        version: 2,
        lifetime_ms: 90_000,
        name: "ann",
        room: "",
    })
}

/// Byte offsets of the Hello example's fields (PROTOCOL.md 4.7).
mod hello_at {
    pub const PORT: usize = 18;
    pub const VERSION: usize = 20;
    pub const LIFETIME: usize = 21;
    pub const NAME_LEN: usize = 25;
    pub const ROOM_LEN: usize = 36;
}

const GOODBYE: &str = "
    55 44 50 4d 02 00           | header
    08 00 00 00                 | tag 8: Goodbye
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
";

const FILE_STATUS: &str = "
    55 44 50 4d 02 00           | header
    09 00 00 00                 | tag 9: FileStatus
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    05 00 00 00 00 00 00 00     | seq 5 (the offer)
    03                          | status 3: too large
    00 00 00 40 00 00 00 00     | detail: 1 GiB
";

fn file_status_value() -> Message<'static> {
    Message::FileStatus(FileStatus {
        instance: 0xfedc_ba98_7654_3210,
        sender: 0x0123_4567_89ab_cdef,
        seq: 5,
        status: file::FILE_TOO_LARGE,
        detail: 1 << 30,
    })
}

const ACKS: &str = "
    55 44 50 4d 02 00           | header
    0a 00 00 00                 | tag 10: Acks
    10 32 54 76 98 ba dc fe     | instance 0xfedcba9876543210
    40 00 00 00 00 00 00 00     | entries length 64
    ef cd ab 89 67 45 23 01     | sender 0x0123456789abcdef
    04 00 00 00 00 00 00 00     | next 4
    10 00 00 00 00 00 00 00     | ranges length 16: one pair
    06 00 00 00 00 00 00 00     | first 6
    07 00 00 00 00 00 00 00     | last 7
    11 11 11 11 11 11 11 11     | sender 0x1111111111111111
    09 00 00 00 00 00 00 00     | next 9
    00 00 00 00 00 00 00 00     | ranges length 0
";

/// The entries of the Acks example: the Ack example's from its sender on,
/// then sender 0x1111111111111111 with next 9 and no ranges.
const ACKS_ENTRIES: [u8; 64] = {
    let mut e = [0u8; 64];
    let first = [
        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 4, 0, 0, 0, 0, 0, 0, 0, 16,
    ];
    let mut i = 0;
    while i < first.len() {
        e[i] = first[i];
        i += 1;
    }
    e[24] = 6;
    e[32] = 7;
    let mut j = 40;
    while j < 48 {
        e[j] = 0x11;
        j += 1;
    }
    e[48] = 9;
    e
};

fn acks_value() -> Message<'static> {
    Message::Acks(Acks {
        instance: 0xfedc_ba98_7654_3210,
        entries: &ACKS_ENTRIES,
    })
}

/// The file records of PROTOCOL.md 4.10: the file "hello" as `a.txt`.
fn record_goldens() -> Vec<(Vec<u8>, FileRecord<'static>)> {
    vec![
        (
            hex("00 00 00 00 | Offer\n 05 00 00 00 00 00 00 00 | size 5\n
                 05 00 00 00 00 00 00 00 | name length\n 61 2e 74 78 74 | a.txt"),
            FileRecord::Offer {
                size: 5,
                name: "a.txt",
            },
        ),
        (
            hex("01 00 00 00 | Chunk\n 00 00 00 00 00 00 00 00 | offset 0\n
                 05 00 00 00 00 00 00 00 | length\n 68 65 6c 6c 6f | hello"),
            FileRecord::Chunk {
                offset: 0,
                data: b"hello",
            },
        ),
        (
            hex("02 00 00 00 | End\n
                 ea 8f 16 3d b3 86 82 92 5e 44 91 c5 e5 8d 4b b3 | hash
                 50 6e f8 c1 4e b7 8a 86 e9 08 c5 62 4a 67 20 0f | hash"),
            FileRecord::End {
                hash: *blake3::hash(b"hello").as_bytes(),
            },
        ),
        (hex("03 00 00 00 | Cancel"), FileRecord::Cancel),
    ]
}

/// A version 1 Text (the golden vector of the previous protocol: no
/// `base`), which version 2 must reject by its version byte alone.
const TEXT_V1: &str = "
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

/// Every golden vector with its value, in the order of PROTOCOL.md section 4.
fn goldens() -> Vec<(Vec<u8>, Message<'static>)> {
    vec![
        (hex(TEXT), text_value()),
        (hex(ACK), ack_value()),
        (hex(PROBE), probe_value()),
        (hex(ANSWER), answer_value()),
        (hex(PING), Message::Ping(PING_FIELDS)),
        (hex(PONG), Message::Pong(PING_FIELDS)),
        (hex(REFUSE), refuse_value()),
        (hex(HELLO), hello_value()),
        (
            hex(GOODBYE),
            Message::Goodbye(Goodbye {
                instance: 0xfedc_ba98_7654_3210,
            }),
        ),
        (hex(FILE_STATUS), file_status_value()),
        // 4.11, after the file records of 4.10.
        (hex(ACKS), acks_value()),
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

/// An open Ack written byte by byte as PROTOCOL.md 4.2 lays it out (not by
/// the encoder, which writes whatever ranges it is given): the example's
/// instance and sender, then `next` and `ranges` as the raw bytes field.
fn ack_bytes(next: u64, ranges: &[u8]) -> Vec<u8> {
    let mut d = hex(ACK)[..ack_at::NEXT].to_vec();
    d.extend_from_slice(&next.to_le_bytes());
    d.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
    d.extend_from_slice(ranges);
    d
}

/// `(first, last)` pairs as an Ack's ranges field: u64 LE each.
fn pairs(ranges: &[(u64, u64)]) -> Vec<u8> {
    ranges
        .iter()
        .flat_map(|(first, last)| first.to_le_bytes().into_iter().chain(last.to_le_bytes()))
        .collect()
}

// ---------------------------------------------------------------------------
// Both ways, per kind.

#[test]
fn text_golden_bytes_round_trip() {
    let bytes = hex(TEXT);
    assert_eq!(bytes.len(), 56);
    assert_golden(&bytes, &text_value());
}

#[test]
fn ack_golden_bytes_round_trip() {
    let bytes = hex(ACK);
    assert_eq!(bytes.len(), 58);
    assert_golden(&bytes, &ack_value());
    match wire::classify(&bytes) {
        Ok(Datagram::Message(Message::Ack(ack))) => {
            assert_eq!(ack.ranges().collect::<Vec<_>>(), [(6, 7)]);
            // The ranges borrow from the datagram: nothing was copied.
            assert_eq!(ack.ranges.as_ptr(), bytes[ack_at::RANGES..].as_ptr());
        }
        other => panic!("not an Ack: {other:?}"),
    }
}

#[test]
fn acks_golden_bytes_round_trip() {
    let bytes = hex(ACKS);
    assert_eq!(bytes.len(), 90);
    assert_golden(&bytes, &acks_value());
    let Ok(Datagram::Message(Message::Acks(acks))) = wire::classify(&bytes) else {
        panic!("not an Acks");
    };
    // Each entry is the Ack it stands for: the first is the Ack example.
    let entries: Vec<_> = acks.acks().collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(Message::Ack(entries[0]), ack_value());
    assert_eq!(
        (entries[1].instance, entries[1].sender, entries[1].next),
        (0xfedc_ba98_7654_3210, 0x1111_1111_1111_1111, 9)
    );
    assert_eq!(entries[1].ranges().count(), 0);
    // The same entry, written by put_acks_entry, and the same Ack bytes
    // from the entry on (an entry is an Ack from its sender on).
    let mut entry = Vec::new();
    wire::put_acks_entry(0x0123_4567_89ab_cdef, 4, &ACK_RANGES, &mut entry);
    assert_eq!(entry, &ACKS_ENTRIES[..40]);
    assert_eq!(entry, &hex(ACK)[18..]);
}

/// An open Acks with the example's instance and these entry bytes.
fn acks_bytes(entries: &[u8]) -> Vec<u8> {
    let mut d = hex(ACKS)[..18].to_vec();
    d.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    d.extend_from_slice(entries);
    d
}

#[test]
fn acks_with_malformed_entries_are_invalid() {
    let entry = |sender: u64, next: u64, ranges: &[u8]| {
        let mut e = Vec::new();
        wire::put_acks_entry(sender, next, ranges, &mut e);
        e
    };
    let max: Vec<u8> = (0..MAX_ACKS_ENTRIES as u64)
        .flat_map(|s| entry(s, 0, &[]))
        .collect();
    assert!(wire::classify(&acks_bytes(&max)).is_ok(), "64 entries");
    let one = entry(1, 0, &pairs(&[(2, 3)]));
    assert!(wire::classify(&acks_bytes(&one)).is_ok(), "one entry");
    let mut too_many = max.clone();
    too_many.extend(entry(99, 0, &[]));
    let mut cut = one.clone();
    cut.pop();
    let mut claims_more = entry(1, 0, &pairs(&[(2, 3)]));
    claims_more[16] = 32; // ranges length 32, 16 bytes follow
    let thirty_three: Vec<(u64, u64)> = (0..33).map(|k| (2 + 2 * k, 2 + 2 * k)).collect();
    let bad: [(&str, Vec<u8>); 7] = [
        ("no entry", Vec::new()),
        ("65 entries", too_many),
        ("an entry cut short", cut),
        ("ranges past the entries", claims_more),
        ("33 ranges", entry(1, 0, &pairs(&thirty_three))),
        ("a range at next", entry(1, 2, &pairs(&[(2, 3)]))),
        ("ranges that touch", entry(1, 0, &pairs(&[(2, 3), (4, 5)]))),
    ];
    for (why, entries) in bad {
        let bytes = acks_bytes(&entries);
        let (result, allocations) = allocations_during(|| wire::classify(&bytes));
        assert_eq!(result.map_err(|e| e.label()), Err("invalid"), "{why}");
        assert_eq!(allocations, 0, "{why}");
    }
    // Length prefixes that claim more than the datagram: rule 7.
    let mut long = acks_bytes(&one);
    long[18..26].copy_from_slice(&1000u64.to_le_bytes());
    assert_eq!(
        wire::classify(&long).map_err(|e| e.label()),
        Err("truncated")
    );
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
    // "the same 34 bytes with byte 6 changed from 04 to 05"
    let mut ping = hex(PING);
    ping[6] = 0x05;
    assert_eq!(ping, bytes);
}

#[test]
fn refuse_golden_bytes_round_trip() {
    let bytes = hex(REFUSE);
    assert_eq!(bytes.len(), 35);
    assert_golden(&bytes, &refuse_value());
}

#[test]
fn hello_golden_bytes_round_trip() {
    let bytes = hex(HELLO);
    assert_eq!(bytes.len(), 44);
    assert_golden(&bytes, &hello_value());
    assert_eq!(
        &bytes[hello_at::PORT..hello_at::PORT + 2],
        &47474u16.to_le_bytes()
    );
    assert_eq!(bytes[hello_at::VERSION], 2);
    assert_eq!(
        &bytes[hello_at::LIFETIME..hello_at::LIFETIME + 4],
        &90_000u32.to_le_bytes()
    );
    assert_eq!(bytes[hello_at::NAME_LEN], 3);
    assert_eq!(bytes[hello_at::ROOM_LEN], 0);
}

#[test]
fn hello_with_a_room_round_trips() {
    // The example with room "lab": its length, then its bytes, at the end.
    let mut bytes = hex(HELLO);
    bytes[hello_at::ROOM_LEN] = 3;
    bytes.extend_from_slice(b"lab");
    assert_golden(
        &bytes,
        &Message::Hello(Hello {
            instance: 0xfedc_ba98_7654_3210,
            port: 47474,
            version: 2,
            lifetime_ms: 90_000,
            name: "ann",
            room: "lab",
        }),
    );
    // A room that is not UTF-8 is refused like a name.
    bytes[hello_at::ROOM_LEN + 8] = 0xff;
    assert_eq!(wire::classify(&bytes), Err(DecodeError::BadUtf8));
    // And a Hello cut inside its room is truncated.
    bytes.truncate(bytes.len() - 1);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
}

#[test]
fn goodbye_golden_bytes_round_trip() {
    let bytes = hex(GOODBYE);
    assert_eq!(bytes.len(), 18);
    assert_golden(
        &bytes,
        &Message::Goodbye(Goodbye {
            instance: 0xfedc_ba98_7654_3210,
        }),
    );
}

#[test]
fn refuse_with_any_reason_is_accepted() {
    // "other values mean refused and MUST be accepted"
    for reason in [0u8, 2, 0x7f, 0xff] {
        let mut bytes = hex(REFUSE);
        bytes[34] = reason;
        match wire::classify(&bytes) {
            Ok(Datagram::Message(Message::Refuse(r))) => assert_eq!(r.reason, reason),
            other => panic!("reason {reason}: {other:?}"),
        }
    }
}

#[test]
fn text_with_empty_name_and_binary_body_round_trips() {
    let bytes = hex("
        55 44 50 4d 02 00           | header
        00 00 00 00                 | tag 0: Text
        ff ff ff ff ff ff ff ff     | sender u64::MAX
        00 00 00 00 00 00 00 00     | seq 0
        00 00 00 00 00 00 00 00     | base 0
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
fn text_base_may_be_anything_up_to_seq() {
    // With or without FLAG_ACK, 0 ..= seq is valid (udpmsg sends `seq`
    // without the flag; the receiver ignores it then).
    for flags in [0u8, FLAG_ACK] {
        for base in [0u64, 1, 4, 5] {
            let mut bytes = with_u64(&hex(TEXT), text_at::BASE, base);
            bytes[text_at::FLAGS] = flags;
            match wire::classify(&bytes) {
                Ok(Datagram::Message(Message::Text(t))) => {
                    assert_eq!((t.seq, t.base, t.flags), (5, base, flags));
                }
                other => panic!("base {base} flags {flags}: {other:?}"),
            }
        }
    }
    // base = seq = u64::MAX: the last possible Text without FLAG_ACK; with
    // it, invalid (it could never be confirmed).
    let mut bytes = with_u64(&with_u64(&hex(TEXT), 18, u64::MAX), text_at::BASE, u64::MAX);
    assert_eq!(
        wire::classify(&bytes).map(|_| ()),
        Err(DecodeError::Invalid("acknowledged seq 2^64 - 1"))
    );
    bytes[text_at::FLAGS] = 0;
    assert!(wire::classify(&bytes).is_ok());
}

#[test]
fn ack_without_ranges_and_with_32_ranges_round_trips() {
    // No ranges: 42 bytes, nothing held.
    let bare = ack_bytes(9, &[]);
    assert_eq!(bare.len(), 42);
    assert_golden(
        &bare,
        &Message::Ack(Ack {
            instance: 0xfedc_ba98_7654_3210,
            sender: 0x0123_4567_89ab_cdef,
            next: 9,
            ranges: &[],
        }),
    );
    // The most an Ack may carry: 32 ranges (512 bytes), each one Text,
    // one missing between each.
    let most: Vec<(u64, u64)> = (0..MAX_ACK_RANGES as u64)
        .map(|i| (10 + 2 * i, 10 + 2 * i))
        .collect();
    let ranges = pairs(&most);
    assert_eq!(ranges.len(), 512);
    let full = ack_bytes(8, &ranges);
    assert_eq!(full.len(), 42 + 512);
    assert_golden(
        &full,
        &Message::Ack(Ack {
            instance: 0xfedc_ba98_7654_3210,
            sender: 0x0123_4567_89ab_cdef,
            next: 8,
            ranges: &ranges,
        }),
    );
    match wire::classify(&full) {
        Ok(Datagram::Message(Message::Ack(ack))) => {
            assert_eq!(ack.ranges().collect::<Vec<_>>(), most);
        }
        other => panic!("{other:?}"),
    }
    // Ranges right after `next`'s successor and right below the largest
    // `last` allowed.
    let edge = ack_bytes(4, &pairs(&[(5, 5), (7, u64::MAX - 1)]));
    assert!(wire::classify(&edge).is_ok());
}

#[test]
fn name_length_counts_utf8_bytes_not_characters() {
    let bytes = hex("
        55 44 50 4d 02 00           | header
        03 00 00 00                 | tag 3: Answer
        01 00 00 00 00 00 00 00     | instance 1
        02 00 00 00 00 00 00 00     | token 2
        00 01                       | port 256
        02                          | version 2
        05 00 00 00 00 00 00 00     | name length 5 (bytes)
        c3 a9 e2 82 ac              | \"é€\": 2 characters
    ");
    assert_golden(
        &bytes,
        &Message::Answer(Answer {
            instance: 1,
            token: 2,
            port: 256,
            version: 2,
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
fn text_overhead_is_51_bytes_plus_name() {
    assert_eq!(wire::TEXT_OVERHEAD, 51);
    assert_eq!(hex(TEXT).len(), 51 + "ann".len() + "hi".len());
    // PROTOCOL.md section 6: 65456 - n over IPv4, 65476 - n over IPv6,
    // 40 bytes less when sealed.
    assert_eq!(wire::max_text_body("ann", MAX_DATAGRAM_V4), 65_456 - 3);
    assert_eq!(wire::max_text_body("ann", MAX_DATAGRAM_V6), 65_476 - 3);
    assert_eq!(wire::SEAL_OVERHEAD, 40);
    assert_eq!(
        wire::max_text_body("ann", MAX_DATAGRAM_V4 - wire::SEAL_OVERHEAD),
        65_456 - 40 - 3
    );
    assert_eq!(wire::max_text_body(&"x".repeat(70_000), MAX_DATAGRAM_V4), 0);
}

#[test]
fn fixed_sizes_are_the_documented_totals() {
    // PROTOCOL.md section 4: Ack 42 + r, Probe 34 + m, Answer 37 + n,
    // Ping and Pong 34, Refuse 35.
    assert_eq!(ack_bytes(0, &[]).len(), 42);
    assert_eq!(wire::PROBE_OVERHEAD, 34);
    assert_eq!(wire::ANSWER_OVERHEAD, 37);
    assert_eq!(hex(PING).len(), 34);
    assert_eq!(hex(REFUSE).len(), 35);
    // 4.7 and 4.8: Hello 41 + n + r, Goodbye 18.
    assert_eq!(wire::HELLO_OVERHEAD, 41);
    assert_eq!(wire::GOODBYE_LEN, 18);
    assert_eq!(hex(GOODBYE).len(), 18);
    assert_eq!(hex(FILE_STATUS).len(), 43);
    assert_eq!(MAX_ACK_RANGES, 32);
    assert_eq!(wire::ACK_RANGE_LEN, 16);
    // 4.11: Acks 26 + e, each entry 24 + r, 18 bytes less than its Ack.
    assert_eq!(wire::ACKS_OVERHEAD, 26);
    assert_eq!(wire::ACKS_ENTRY_OVERHEAD, 24);
    assert_eq!(wire::ACK_OVERHEAD - wire::ACKS_ENTRY_OVERHEAD, 18);
    assert_eq!(hex(ACKS).len(), 26 + 64);
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
// The document itself: its examples are the bytes pinned here.

/// The hex bytes each ```text block of `section` of docs/PROTOCOL.md
/// shows: on every line, the two-digit hex words before the first word
/// that is not one (the description).
fn doc_examples(section: &str, next_section: &str) -> Vec<Vec<u8>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    let start = doc.find(section).expect("the section");
    let end = start + doc[start..].find(next_section).expect("the next section");
    let mut blocks = Vec::new();
    let mut inside: Option<Vec<u8>> = None;
    for line in doc[start..end].lines() {
        match (line.trim(), inside.as_mut()) {
            ("```text", None) => inside = Some(Vec::new()),
            ("```", Some(_)) => blocks.extend(inside.take()),
            (line, Some(block)) => block.extend(line.split_whitespace().map_while(|w| {
                (w.len() == 2)
                    .then(|| u8::from_str_radix(w, 16).ok())
                    .flatten()
            })),
            _ => {}
        }
    }
    blocks
}

#[test]
fn the_protocol_document_shows_exactly_these_examples() {
    let mut shown = doc_examples("## 4. Messages", "### 4.10 ");
    shown.extend(doc_examples("### 4.11 ", "## 5. "));
    let pinned: Vec<Vec<u8>> = goldens().into_iter().map(|(bytes, _)| bytes).collect();
    assert_eq!(shown.len(), pinned.len(), "examples in section 4");
    for ((doc, golden), (_, value)) in shown.iter().zip(&pinned).zip(goldens()) {
        assert_eq!(
            doc, golden,
            "{value:?}: the document and this test disagree"
        );
    }
}

#[test]
fn file_records_are_the_documents_examples_both_ways() {
    let shown = doc_examples("### 4.10 ", "### 4.11 ");
    let pinned = record_goldens();
    assert_eq!(shown.len(), pinned.len(), "examples in section 4.10");
    for (doc, (bytes, record)) in shown.iter().zip(&pinned) {
        assert_eq!(
            doc, bytes,
            "{record:?}: the document and this test disagree"
        );
        assert_eq!(&file::decode_record(bytes).unwrap(), record);
        let mut out = Vec::new();
        file::encode_record(record, &mut out);
        assert_eq!(&out, bytes);
        // Every proper prefix and any trailing byte is malformed.
        for cut in 0..bytes.len() {
            assert!(file::decode_record(&bytes[..cut]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(file::decode_record(&long).is_err());
    }
}

#[test]
fn file_and_bundle_flags_need_the_ack_flag_and_kinds_past_acks_are_unknown() {
    let mut bytes = hex(TEXT);
    for flags in [FLAG_FILE, FLAG_BUNDLE, FLAG_FILE | FLAG_BUNDLE] {
        bytes[text_at::FLAGS] = FLAG_ACK | flags;
        assert!(wire::classify(&bytes).is_ok(), "flags {flags:#04x}");
        bytes[text_at::FLAGS] = flags;
        assert_eq!(
            wire::classify(&bytes).map_err(|e| e.label()),
            Err("invalid"),
            "flags {flags:#04x} without FLAG_ACK"
        );
    }
    for tag in [11u8, 12, 255] {
        let mut status = hex(FILE_STATUS);
        status[6] = tag;
        assert_eq!(
            wire::classify(&status),
            Err(DecodeError::UnknownKind(u32::from(tag)))
        );
    }
}

#[test]
fn the_sealed_example_of_the_document_is_what_seal_makes() {
    // Section 9: key 00 01 .. 1f, the open Ping `sender 1, seq 2, stamp 3`,
    // sealed by sender 0x1122334455667788, counter 7, at 1800000000000000
    // µs, for 192.0.2.7:47474. The document's block is hex words of any
    // length: join them.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    let section = &doc[doc.find("## 9. Sealed datagrams").expect("section 9")..];
    let block = section
        .split("Golden vector")
        .nth(1)
        .and_then(|rest| rest.split("```text").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the golden vector block");
    let digits: String = block.split_whitespace().collect();
    let shown: Vec<u8> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex"))
        .collect();

    let key = Key::from_bytes(std::array::from_fn(|i| i as u8));
    let mut open = Vec::new();
    let ping = Ping {
        sender: 1,
        seq: 2,
        stamp: 3,
    };
    wire::encode(&Message::Ping(ping), MAX_DATAGRAM, &mut open).expect("encode");
    let dest: SocketAddr = "192.0.2.7:47474".parse().expect("addr");
    let mut sealer = Sealer::with_ids(&key, 0x1122_3344_5566_7788, 7);
    let sealed = sealer.seal_at(&open, dest, 1_800_000_000_000_000).to_vec();
    assert_eq!(sealed.len(), open.len() + 40);
    assert_eq!(shown, sealed, "the document's sealed example");
    // It opens at its destination (at its own time), and nowhere else.
    let then = UNIX_EPOCH + Duration::from_micros(1_800_000_000_000_000);
    let mut plain = Vec::new();
    let other: SocketAddr = "192.0.2.7:47475".parse().expect("addr");
    assert!(
        Opener::new(&key, None)
            .open(&shown, &mut plain, then, other)
            .is_err()
    );
    Opener::new(&key, None)
        .open(&shown, &mut plain, then, dest)
        .expect("opens at 192.0.2.7:47474");
    assert_eq!(wire::decode_body(&plain), Ok(Message::Ping(ping)));
}

#[test]
fn the_presence_numbers_the_document_quotes_are_the_code_constants() {
    use udpmsg::commands::listen::announce::{
        BURST_GAP, DEFAULT_EVERY, GOODBYES, JITTER, LIFETIME_PERIODS,
    };
    use udpmsg::commands::presence::{HELLOS_PER_SOURCE, HELLOS_TOTAL, IFACE_POLL};
    use udpmsg::commands::watch::table::{
        ADDR_WINDOWS, MAX_LIFETIME, MIN_LIFETIME, PROBE_WINDOW_INTERVALS,
    };
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let times = |n: u32| match n {
        2 => "twice".to_string(),
        3 => "three".to_string(),
        n => n.to_string(),
    };
    for phrase in [
        format!(
            "(g = {} ms, or half the period if that is shorter)",
            BURST_GAP.as_millis()
        ),
        format!("default {} s)", DEFAULT_EVERY.as_secs()),
        format!("shortened by up to {}% at random", (JITTER * 100.0).round()),
        "(udpmsg reads them once a second)".to_string(),
        format!("a Goodbye, sent {}", times(GOODBYES)),
        format!("(udpmsg: {LIFETIME_PERIODS} periods)"),
        format!(
            "(udpmsg: at least {} ms, at most {} s)",
            MIN_LIFETIME.as_millis(),
            MAX_LIFETIME.as_secs()
        ),
        format!("(udpmsg: {HELLOS_PER_SOURCE} a second per source, {HELLOS_TOTAL} in all"),
        format!("({PROBE_WINDOW_INTERVALS} probe intervals for one that never sent a Hello)"),
        format!("not heard for {} its lifetime", times(ADDR_WINDOWS)),
        format!(
            "lifetime {} ms (`0x{:08x}`: {} s between hellos, times {})",
            90_000,
            90_000,
            DEFAULT_EVERY.as_secs(),
            times(LIFETIME_PERIODS)
        ),
    ] {
        assert!(doc.contains(&phrase), "PROTOCOL.md does not say: {phrase}");
    }
    assert_eq!(IFACE_POLL, Duration::from_secs(1));
    assert_eq!(
        udpmsg::commands::listen::announce::lifetime(DEFAULT_EVERY).as_millis(),
        90_000
    );
}

#[test]
fn the_numbers_the_document_quotes_are_the_code_constants() {
    use udpmsg::commands::listen::DEFAULT_GAP_WAIT;
    use udpmsg::reliable::dedup::{RECENT_FOR, RECENT_PAIRS};
    use udpmsg::reliable::order::{FORGET_AFTER, MAX_AHEAD, MAX_ORDER_SENDERS};
    use udpmsg::reliable::outbox::{MESSAGE_PATIENCE, WINDOW};
    use udpmsg::seal::{KEY_CONTEXT, MAX_REPLAY_SENDERS, MAX_SKEW, REPLAY_WINDOW};
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("read docs/PROTOCOL.md");
    // Lines wrap anywhere: compare with single spaces.
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let secs = |d: Duration| format!("{} s", d.as_secs());
    for phrase in [
        // Section 4.2.
        format!("a multiple of 16, at most {}", MAX_ACK_RANGES * 16),
        format!("at most {MAX_ACK_RANGES} ranges"),
        // Section 4.11.
        format!("one or more entries back to back, at most {MAX_ACKS_ENTRIES}"),
        format!("no entry at all or more than {MAX_ACKS_ENTRIES}"),
        format!("within **{} bytes**", wire::ACKS_MAX_LEN),
        // Section 7.
        format!(
            "(at most {MAX_ACKS_ENTRIES} entries and {} bytes a datagram",
            wire::ACKS_MAX_LEN
        ),
        // Section 7.
        format!(
            "remembers the last {RECENT_PAIRS} pairs for {}",
            secs(RECENT_FOR)
        ),
        format!("forgotten after {} of silence", secs(FORGET_AFTER)),
        format!("`seq` is later, by at most {MAX_AHEAD}: hold it"),
        format!("More than {MAX_AHEAD} ahead"),
        format!(
            "({MAX_ORDER_SENDERS}, none of them silent for {})",
            secs(FORGET_AFTER)
        ),
        format!("at most {} (unless `base` moves", secs(DEFAULT_GAP_WAIT)),
        format!(
            "gives up a Text after trying for {} (udpmsg; never longer than the \
             listener's {} gap wait nor its {} memory of silent senders)",
            secs(MESSAGE_PATIENCE),
            secs(DEFAULT_GAP_WAIT),
            secs(FORGET_AFTER)
        ),
        format!(
            "only when that resend goes unanswered for {}",
            secs(MESSAGE_PATIENCE)
        ),
        // Section 9.
        format!("context = \"{KEY_CONTEXT}\""),
        format!("within **{}** of the receiver's clock", secs(MAX_SKEW)),
        format!("a bitmap of the {REPLAY_WINDOW} counters below it"),
        format!("more than {} below the highest", REPLAY_WINDOW - 1),
        format!("The table holds {MAX_REPLAY_SENDERS} senders"),
        format!(
            "kept in one of {} buckets",
            udpmsg::seal::replay::HORIZON_BUCKETS
        ),
    ] {
        assert!(doc.contains(&phrase), "PROTOCOL.md does not say: {phrase}");
    }
    // What the document promises of these numbers.
    assert!(MESSAGE_PATIENCE < DEFAULT_GAP_WAIT && MESSAGE_PATIENCE < FORGET_AFTER);
    // A sender never runs further ahead than a listener holds.
    const { assert!(WINDOW <= MAX_AHEAD) };
}

// ---------------------------------------------------------------------------
// Not udpmsg, and sealed.

#[test]
fn datagram_without_magic_is_raw() {
    for bytes in [
        &b""[..],
        b"U",
        b"UDP",
        b"udpm\x02\x00",
        b"UDPX\x02\x00\x00\x00\x00\x00",
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
    let bytes = hex("55 44 50 4d 02 01 | header: sealed\n de ad be ef | envelope");
    assert_eq!(
        wire::classify(&bytes),
        Ok(Datagram::Sealed(&[0xde, 0xad, 0xbe, 0xef][..]))
    );
    assert_eq!(
        wire::classify(b"UDPM\x02\x01"),
        Ok(Datagram::Sealed(&b""[..]))
    );
}

// ---------------------------------------------------------------------------
// One test per malformation.

#[test]
fn decode_rejects_truncated_header() {
    assert_eq!(wire::classify(b"UDPM"), Err(DecodeError::Truncated));
    assert_eq!(wire::classify(b"UDPM\x02"), Err(DecodeError::Truncated));
}

#[test]
fn decode_rejects_truncated_text_at_every_field() {
    let text = hex(TEXT);
    // Cut points: no tag, inside the tag, before and inside sender, before
    // and inside base, before flags, before and inside the name length,
    // before and inside the name, before and inside the body length, before
    // and inside the body.
    for cut in [6, 8, 10, 14, 26, 30, 34, 35, 38, 43, 45, 46, 50, 54, 55] {
        assert_eq!(
            wire::classify(&text[..cut]),
            Err(DecodeError::Truncated),
            "Text cut to {cut} bytes"
        );
    }
}

#[test]
fn decode_rejects_truncated_ack_inside_its_ranges() {
    let ack = hex(ACK);
    // Before and inside the ranges length, before the ranges, inside the
    // first u64 of the pair, between first and last, inside last.
    for cut in [34, 38, 42, 46, 50, 57] {
        assert_eq!(
            wire::classify(&ack[..cut]),
            Err(DecodeError::Truncated),
            "Ack cut to {cut} bytes"
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
    let bytes = with_u64(&hex(TEXT), text_at::NAME_LEN, 40);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
    // A body length one past the end.
    let bytes = with_u64(&hex(TEXT), text_at::BODY_LEN, 3);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
    // Ranges of 32 bytes where 16 are left.
    let bytes = with_u64(&hex(ACK), ack_at::RANGES_LEN, 32);
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
    // The same boundary for the Ack's ranges, 36 bytes into the body.
    let fits = (MAX_DATAGRAM - 36) as u64;
    let bytes = with_u64(&hex(ACK), ack_at::RANGES_LEN, fits);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::Truncated));
    let bytes = with_u64(&hex(ACK), ack_at::RANGES_LEN, fits + 1);
    assert_eq!(wire::classify(&bytes), Err(DecodeError::TooLong));
}

#[test]
fn decode_rejects_oversized_length_prefix_without_allocating() {
    let text = hex(TEXT);
    let ack = hex(ACK);
    let probe = hex(PROBE);
    let answer = hex(ANSWER);
    let cases = [
        (
            "Text name 2^60",
            with_u64(&text, text_at::NAME_LEN, 1 << 60),
        ),
        (
            "Text name u64::MAX",
            with_u64(&text, text_at::NAME_LEN, u64::MAX),
        ),
        (
            "Text body 2^60",
            with_u64(&text, text_at::BODY_LEN, 1 << 60),
        ),
        (
            "Ack ranges 2^60",
            with_u64(&ack, ack_at::RANGES_LEN, 1 << 60),
        ),
        (
            "Ack ranges u64::MAX",
            with_u64(&ack, ack_at::RANGES_LEN, u64::MAX),
        ),
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
    // Nor does walking an Ack's ranges.
    let ack = ack_bytes(0, &pairs(&[(2, 3), (5, 9), (20, 20)]));
    let (ranges, allocations) = allocations_during(|| match wire::classify(&ack) {
        Ok(Datagram::Message(Message::Ack(a))) => a.ranges().fold(0, |n, (f, l)| n + l - f + 1),
        _ => 0,
    });
    assert_eq!(ranges, 2 + 5 + 1);
    assert_eq!(allocations, 0, "walking the ranges allocated");
}

#[test]
fn decode_rejects_unknown_version() {
    for version in [0u8, 1, 3, 0x80, 0xff] {
        let mut bytes = hex(PING);
        bytes[4] = version;
        assert_eq!(
            wire::classify(&bytes),
            Err(DecodeError::UnknownVersion(version))
        );
    }
    // The version is checked before the mode.
    assert_eq!(
        wire::classify(b"UDPM\x01\x07"),
        Err(DecodeError::UnknownVersion(1))
    );
}

#[test]
fn version_1_datagrams_are_rejected_by_their_version_byte() {
    // A whole, well-formed version 1 Text, and a version 1 sealed header:
    // "each rejects the other's datagrams by their version byte".
    let v1 = hex(TEXT_V1);
    assert_eq!(v1.len(), 48);
    let (result, allocations) = allocations_during(|| wire::classify(&v1));
    assert_eq!(result, Err(DecodeError::UnknownVersion(1)));
    assert_eq!(result.map_err(|e| e.label()), Err("unknown-version"));
    assert_eq!(allocations, 0);
    let mut sealed_v1 = v1.clone();
    sealed_v1[5] = 1;
    assert_eq!(
        wire::classify(&sealed_v1),
        Err(DecodeError::UnknownVersion(1))
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
    // Tag 11 (the first unused) alone, and tag 11 followed by a well-formed
    // Ping body, or a well-formed Refuse body.
    assert_eq!(
        wire::classify(&hex("55 44 50 4d 02 00 | header\n 0b 00 00 00 | tag 11")),
        Err(DecodeError::UnknownKind(11))
    );
    let mut bytes = hex(PING);
    bytes[6] = 11;
    assert_eq!(wire::classify(&bytes), Err(DecodeError::UnknownKind(11)));
    let mut refuse = hex(REFUSE);
    refuse[6] = 11;
    assert_eq!(wire::classify(&refuse), Err(DecodeError::UnknownKind(11)));
    assert_eq!(
        wire::classify(&refuse).map_err(|e| e.label()),
        Err("unknown-kind")
    );
    // Tags 6 to 9 are Refuse, Hello, Goodbye and FileStatus now: alone,
    // each is a message cut short.
    for tag in ["06", "07", "08", "09"] {
        assert_eq!(
            wire::classify(&hex(&format!(
                "55 44 50 4d 02 00 | header\n {tag} 00 00 00 | tag"
            ))),
            Err(DecodeError::Truncated)
        );
    }
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
    for flags in [0x08u8, 0x09, 0x0f, 0x80, 0xff] {
        bytes[text_at::FLAGS] = flags;
        let result = wire::classify(&bytes);
        assert!(
            matches!(&result, Err(DecodeError::Invalid(why)) if why.contains("reserved flag")),
            "flags {flags:#04x}: {result:?}"
        );
    }
    for flags in [0x00u8, FLAG_ACK] {
        bytes[text_at::FLAGS] = flags;
        assert!(wire::classify(&bytes).is_ok(), "flags {flags:#04x}");
    }
}

#[test]
fn decode_rejects_text_base_after_seq() {
    // seq is 5 in the example: base 6 and beyond are invalid, with the
    // flag or without.
    for flags in [0u8, FLAG_ACK] {
        for base in [6u64, 1 << 32, u64::MAX] {
            let mut bytes = with_u64(&hex(TEXT), text_at::BASE, base);
            bytes[text_at::FLAGS] = flags;
            let (result, allocations) = allocations_during(|| wire::classify(&bytes));
            assert_eq!(
                result.map_err(|e| e.label()),
                Err("invalid"),
                "base {base} flags {flags}"
            );
            assert_eq!(allocations, 0);
        }
    }
    // Rules 9 and 10 apply to an otherwise complete message: trailing
    // bytes are reported first.
    let mut bytes = with_u64(&hex(TEXT), text_at::BASE, 6);
    bytes.push(0);
    assert_eq!(
        wire::classify(&bytes),
        Err(DecodeError::TrailingBytes { extra: 1 })
    );
}

#[test]
fn decode_rejects_malformed_ack_ranges() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("8 bytes: not a multiple of 16", ack_bytes(4, &[6; 8])),
        (
            "17 bytes",
            ack_bytes(4, &[pairs(&[(6, 7)]), vec![0]].concat()),
        ),
        ("24 bytes", ack_bytes(4, &pairs(&[(6, 7), (9, 9)])[..24])),
        ("33 ranges", {
            let many: Vec<(u64, u64)> = (0..=MAX_ACK_RANGES as u64)
                .map(|i| (10 + 2 * i, 10 + 2 * i))
                .collect();
            ack_bytes(8, &pairs(&many))
        }),
        ("not ascending", ack_bytes(4, &pairs(&[(10, 11), (6, 7)]))),
        ("touching", ack_bytes(4, &pairs(&[(6, 7), (8, 9)]))),
        ("overlapping", ack_bytes(4, &pairs(&[(6, 9), (8, 10)]))),
        (
            "the same range twice",
            ack_bytes(4, &pairs(&[(6, 7), (6, 7)])),
        ),
        ("first = next", ack_bytes(4, &pairs(&[(4, 5)]))),
        ("first below next", ack_bytes(4, &pairs(&[(2, 7)]))),
        ("first above last", ack_bytes(4, &pairs(&[(7, 6)]))),
        ("last = u64::MAX", ack_bytes(4, &pairs(&[(6, u64::MAX)]))),
        (
            "a later last = u64::MAX",
            ack_bytes(4, &pairs(&[(6, 7), (9, u64::MAX)])),
        ),
        (
            "a range above next = u64::MAX",
            ack_bytes(u64::MAX, &pairs(&[(6, 7)])),
        ),
    ];
    for (what, bytes) in &cases {
        let (result, allocations) = allocations_during(|| wire::classify(bytes));
        assert!(
            matches!(result, Err(DecodeError::Invalid(_))),
            "{what}: {result:?}"
        );
        assert_eq!(result.map_err(|e| e.label()), Err("invalid"), "{what}");
        assert_eq!(allocations, 0, "{what}: classify allocated");
        // The body alone (as a keyed receiver decodes it) says the same.
        assert!(
            matches!(
                wire::decode_body(&bytes[wire::HEADER_LEN..]),
                Err(DecodeError::Invalid(_))
            ),
            "{what}"
        );
    }
    // Trailing bytes are reported before bad ranges (rule 9, then 10).
    let mut bytes = ack_bytes(4, &pairs(&[(7, 6)]));
    bytes.extend_from_slice(&[0; 3]);
    assert_eq!(
        wire::classify(&bytes),
        Err(DecodeError::TrailingBytes { extra: 3 })
    );
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
        text[text_at::NAME..text_at::NAME + 3].copy_from_slice(&name);
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
            let mut bytes = b"UDPM\x02\x00".to_vec();
            let len = rng.below(80);
            bytes.extend(rng.bytes(len));
            bytes
        }
        2 => {
            // A tag (every kind, and the first unknown one), then random
            // bytes with small length prefixes often enough that whole
            // messages come out.
            let mut bytes = b"UDPM\x02\x00".to_vec();
            bytes.extend((rng.below(10) as u32).to_le_bytes());
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
