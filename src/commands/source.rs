//! Where outgoing messages come from: the command line, stdin one line a
//! message (read without ever blocking the event loop), or all of stdin as
//! one message ([`read_whole`]); `--hex` text decoded ([`HexLines`]).
//!
//! Readiness of stdin comes from the event loop alone: a pollable input (a
//! pipe, a terminal) is registered with it ([`Source::arm`]), read once per
//! readiness event ([`Source::readable`]), and re-armed when its buffered
//! lines run out; re-arming reports it ready again at once if more data is
//! waiting, so nothing is left unread and nothing blocks. A regular file
//! cannot be polled and is always ready.

use crate::util::hex::{self, HexError};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::RawFd;

/// What a source has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// One message (a line without its line ending), valid until the next call.
    Message(&'a [u8]),
    /// Nothing ready now; [`Source::arm`] it and wait for the event loop.
    Pending,
    /// No more messages.
    End,
}

/// A supply of messages.
pub trait Source {
    /// The next message; never blocks on a pollable input that the event
    /// loop has not reported readable.
    fn next(&mut self) -> io::Result<Next<'_>>;
    /// The next message if it is already in memory (a message, or the
    /// end), taking it; `None` when finding out would need a read.
    fn next_buffered(&mut self) -> Option<Next<'_>> {
        None
    }
    /// Registers (or re-arms) the input with the event loop under `token`,
    /// after [`Next::Pending`]. Returns false when there is nothing to wait
    /// for: the input turned out to be always ready (a regular file cannot
    /// be polled), so the caller reads again at once.
    fn arm(&mut self, _registry: &Registry, _token: Token) -> io::Result<bool> {
        Ok(false)
    }
    /// The event loop reported the input readable.
    fn readable(&mut self) {}
}

/// Messages given up front (the command line).
pub struct Fixed {
    messages: Vec<Vec<u8>>,
    next: usize,
}

impl Fixed {
    pub fn new(messages: Vec<Vec<u8>>) -> Self {
        Fixed { messages, next: 0 }
    }

    fn take(&mut self) -> Next<'_> {
        let Some(message) = self.messages.get(self.next) else {
            return Next::End;
        };
        self.next += 1;
        Next::Message(message)
    }
}

impl Source for Fixed {
    fn next(&mut self) -> io::Result<Next<'_>> {
        Ok(self.take())
    }

    fn next_buffered(&mut self) -> Option<Next<'_>> {
        Some(self.take())
    }
}

/// A line without its `\n` or `\r\n`.
fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How a [`Lines`] input learns that a read will not block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    /// Reads may block and that is fine (no event loop, or a regular file).
    Always,
    /// A pollable fd, not registered yet.
    Unregistered(RawFd),
    /// Registered; `ready` since the last event, until read once.
    Polled { fd: RawFd, ready: bool },
}

/// Lines of a readable fd (stdin).
pub struct Lines<R: Read> {
    reader: R,
    readiness: Readiness,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

const CHUNK: usize = 64 * 1024;

impl<R: Read> Lines<R> {
    /// Lines read blocking: for a command without an event loop, and tests.
    pub fn blocking(reader: R) -> Self {
        Self::with(reader, Readiness::Always)
    }

    /// Lines of `reader`, whose descriptor is `fd`, read only when the event
    /// loop says so (see the module documentation).
    pub fn polled(reader: R, fd: RawFd) -> Self {
        Self::with(reader, Readiness::Unregistered(fd))
    }

    fn with(reader: R, readiness: Readiness) -> Self {
        Lines {
            reader,
            readiness,
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            eof: false,
        }
    }

    /// Takes the next message if it is already in the buffer.
    fn take_held(&mut self) -> Option<Buffered> {
        if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
            let start = self.start;
            self.start += pos + 1;
            return Some(Buffered::Line(start, self.start));
        }
        if !self.eof {
            return None;
        }
        if self.start < self.buf.len() {
            let start = self.start;
            self.start = self.buf.len();
            return Some(Buffered::Last(start));
        }
        Some(Buffered::End)
    }

    fn held(&self, held: Buffered) -> Next<'_> {
        match held {
            Buffered::Line(start, end) => Next::Message(strip_newline(&self.buf[start..end])),
            Buffered::Last(start) => Next::Message(&self.buf[start..]),
            Buffered::End => Next::End,
        }
    }

    /// Whether a read now cannot block (and uses up the readiness event).
    fn may_read(&mut self) -> bool {
        match &mut self.readiness {
            Readiness::Always => true,
            Readiness::Unregistered(_) => false,
            Readiness::Polled { ready, .. } => std::mem::replace(ready, false),
        }
    }
}

/// A message found in [`Lines::buf`], by position.
enum Buffered {
    /// `buf[start..end]`, a line with its line ending.
    Line(usize, usize),
    /// `buf[start..]`, the last line, without a line ending.
    Last(usize),
    End,
}

impl<R: Read> Source for Lines<R> {
    fn next(&mut self) -> io::Result<Next<'_>> {
        loop {
            if let Some(held) = self.take_held() {
                return Ok(self.held(held));
            }
            if !self.may_read() {
                return Ok(Next::Pending);
            }
            // Compact before reading more.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let old = self.buf.len();
            self.buf.resize(old + CHUNK, 0);
            let read = self.reader.read(&mut self.buf[old..]);
            self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn next_buffered(&mut self) -> Option<Next<'_>> {
        let held = self.take_held()?;
        Some(self.held(held))
    }

    fn arm(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        match self.readiness {
            Readiness::Always => Ok(false),
            Readiness::Unregistered(fd) => {
                match registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
                    Ok(()) => {
                        self.readiness = Readiness::Polled { fd, ready: false };
                        Ok(true)
                    }
                    // A regular file cannot be polled: it is always ready.
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        self.readiness = Readiness::Always;
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            }
            // Re-arming an edge-triggered registration reports the fd at
            // once if data is already waiting.
            Readiness::Polled { fd, .. } => registry
                .reregister(&mut SourceFd(&fd), token, Interest::READABLE)
                .map(|()| true),
        }
    }

    fn readable(&mut self) {
        if let Readiness::Polled { ready, .. } = &mut self.readiness {
            *ready = true;
        }
    }
}

/// Why all of stdin could not become one message.
#[derive(Debug)]
pub enum WholeError {
    /// More than `max` bytes (decoded, for hex).
    TooLarge { max: usize },
    /// `--hex` text that is not hex.
    Hex(HexError),
    /// Reading failed.
    Io(io::Error),
}

/// All of `reader` as one message of at most `max` bytes, read blocking;
/// with `hex`, the text is hex digits (white space between them ignored)
/// and `max` counts the bytes they stand for. Reading stops one byte past
/// `max` (or one hex chunk), so an endless input costs bounded memory.
pub fn read_whole(mut reader: impl Read, max: usize, hex: bool) -> Result<Vec<u8>, WholeError> {
    let mut out = Vec::new();
    if !hex {
        (&mut reader)
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(WholeError::Io)?;
    } else {
        let mut decoder = hex::Decoder::default();
        let mut chunk = vec![0u8; CHUNK];
        while out.len() <= max {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(WholeError::Io(e)),
            };
            decoder
                .feed(&chunk[..n], &mut out)
                .map_err(WholeError::Hex)?;
        }
        if out.len() <= max {
            decoder.finish().map_err(WholeError::Hex)?;
        }
    }
    if out.len() > max {
        return Err(WholeError::TooLarge { max });
    }
    Ok(out)
}

/// A `--hex` stdin line that is not hex: the input error [`HexLines`]
/// ends with (carried inside an [`io::Error`] of kind `InvalidData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadHexLine {
    /// 1-based.
    pub line: u64,
    pub error: HexError,
}

impl fmt::Display for BadHexLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stdin line {} is not hex: {}", self.line, self.error)
    }
}

impl std::error::Error for BadHexLine {}

/// Each message of another source given as hex digits (`--hex`), decoded.
/// A message that is not hex ends the input with a [`BadHexLine`] error.
pub struct HexLines<S: Source> {
    inner: S,
    decoded: Vec<u8>,
    line: u64,
    /// A bad line found by [`Source::next_buffered`], reported by the next
    /// [`Source::next`] (where errors can be returned).
    failed: Option<BadHexLine>,
}

impl<S: Source> HexLines<S> {
    pub fn new(inner: S) -> Self {
        HexLines {
            inner,
            decoded: Vec::new(),
            line: 0,
            failed: None,
        }
    }

    /// Decodes a message of the inner source into `decoded`.
    fn decode(decoded: &mut Vec<u8>, line: &mut u64, text: &[u8]) -> Result<(), BadHexLine> {
        *line += 1;
        decoded.clear();
        let mut decoder = hex::Decoder::default();
        decoder
            .feed(text, decoded)
            .and_then(|()| decoder.finish())
            .map_err(|error| BadHexLine { line: *line, error })
    }
}

impl<S: Source> Source for HexLines<S> {
    fn next(&mut self) -> io::Result<Next<'_>> {
        if let Some(bad) = self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, bad));
        }
        match self.inner.next()? {
            Next::Message(text) => {
                Self::decode(&mut self.decoded, &mut self.line, text)
                    .map_err(|bad| io::Error::new(io::ErrorKind::InvalidData, bad))?;
                Ok(Next::Message(&self.decoded))
            }
            Next::Pending => Ok(Next::Pending),
            Next::End => Ok(Next::End),
        }
    }

    fn next_buffered(&mut self) -> Option<Next<'_>> {
        if self.failed.is_some() {
            return None;
        }
        match self.inner.next_buffered()? {
            Next::Message(text) => match Self::decode(&mut self.decoded, &mut self.line, text) {
                Ok(()) => Some(Next::Message(&self.decoded)),
                Err(bad) => {
                    self.failed = Some(bad);
                    None
                }
            },
            other => Some(other),
        }
    }

    fn arm(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        self.inner.arm(registry, token)
    }

    fn readable(&mut self) {
        self.inner.readable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
