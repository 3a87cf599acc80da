//! Tests of the message sources: line splitting, readiness, whole
//! input, hex decoding.

use super::lines::Readiness;
use super::*;
use crate::util::hex::HexError;

#[test]
fn next_buffered_only_when_next_needs_no_read() {
    let mut lines = Lines::blocking(&b"a\nb\nlast"[..]);
    assert_eq!(lines.next_buffered(), None, "nothing read yet");
    assert_eq!(lines.next().unwrap(), Next::Message(b"a"));
    assert_eq!(
        lines.next_buffered(),
        Some(Next::Message(b"b")),
        "b\\n is buffered"
    );
    assert_eq!(
        lines.next_buffered(),
        None,
        "'last' may go on: a read must tell"
    );
    assert_eq!(lines.next().unwrap(), Next::Message(b"last"));
    assert_eq!(lines.next_buffered(), Some(Next::End), "the end is known");
    assert_eq!(lines.next().unwrap(), Next::End);
}

#[test]
fn splits_lines_and_keeps_a_last_line_without_newline() {
    let mut lines = Lines::blocking(&b"a\r\n\nb\nlast"[..]);
    let mut got = Vec::new();
    while let Next::Message(m) = lines.next().unwrap() {
        got.push(m.to_vec());
    }
    assert_eq!(
        got,
        vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec(), b"last".to_vec()]
    );
}

#[test]
fn a_polled_input_is_read_once_per_readiness_event() {
    let mut lines = Lines::with(
        &b"one\ntwo\n"[..],
        Readiness::Polled {
            fd: 0,
            ready: false,
        },
    );
    assert_eq!(lines.next().unwrap(), Next::Pending, "no event yet");
    lines.readable();
    assert_eq!(lines.next().unwrap(), Next::Message(b"one"));
    assert_eq!(lines.next().unwrap(), Next::Message(b"two"));
    assert_eq!(
        lines.next().unwrap(),
        Next::Pending,
        "the event was used up"
    );
    lines.readable();
    assert_eq!(lines.next().unwrap(), Next::End);
}

#[test]
fn read_whole_keeps_every_byte_and_stops_past_the_limit() {
    let bytes = b"l1\nl2\n\x00\x0a\x01\x0a";
    assert_eq!(read_whole(&bytes[..], 10, false).unwrap(), bytes);
    assert_eq!(read_whole(&b""[..], 10, false).unwrap(), b"");
    assert!(matches!(
        read_whole(&bytes[..], 9, false),
        Err(WholeError::TooLarge { max: 9 })
    ));
    // An endless input is not read to its end.
    assert!(matches!(
        read_whole(io::repeat(b'x'), 100, false),
        Err(WholeError::TooLarge { max: 100 })
    ));
}

#[test]
fn read_whole_hex_counts_decoded_bytes() {
    assert_eq!(
        read_whole(&b"de ad\nbe ef\n"[..], 4, true).unwrap(),
        [0xde, 0xad, 0xbe, 0xef]
    );
    assert!(matches!(
        read_whole(&b"de ad be ef 00"[..], 4, true),
        Err(WholeError::TooLarge { max: 4 })
    ));
    assert!(matches!(
        read_whole(&b"de a"[..], 4, true),
        Err(WholeError::Hex(HexError::OddLength))
    ));
    assert!(matches!(
        read_whole(io::repeat(b'a'), 100, true),
        Err(WholeError::TooLarge { max: 100 })
    ));
}

#[test]
fn hex_lines_decode_each_line_and_stop_at_a_bad_one() {
    let mut lines = HexLines::new(Lines::blocking(&b"6869\n\nde ad\nxyz\nff\n"[..]));
    assert_eq!(lines.next().unwrap(), Next::Message(b"hi"));
    assert_eq!(lines.next_buffered(), Some(Next::Message(&b""[..])));
    assert_eq!(
        lines.next_buffered(),
        Some(Next::Message(&[0xde, 0xad][..]))
    );
    // The bad line is found while buffered, and reported by next().
    assert_eq!(lines.next_buffered(), None);
    let err = lines.next().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let bad = err.get_ref().and_then(|e| e.downcast_ref::<BadHexLine>());
    assert_eq!(
        bad,
        Some(&BadHexLine {
            line: 4,
            error: HexError::NotHex { at: 0 }
        })
    );
}
