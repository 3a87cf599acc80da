//! Where outgoing messages come from: the command line, or stdin one line a
//! message, read without ever blocking the event loop.
//!
//! Readiness of stdin comes from the event loop alone: a pollable input (a
//! pipe, a terminal) is registered with it ([`Source::arm`]), read once per
//! readiness event ([`Source::readable`]), and re-armed when its buffered
//! lines run out; re-arming reports it ready again at once if more data is
//! waiting, so nothing is left unread and nothing blocks. A regular file
//! cannot be polled and is always ready.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
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
}
