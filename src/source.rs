//! Where outgoing messages come from: the command line, or stdin one line a
//! message, read without blocking the event loop.

use std::io::{self, Read};
use std::os::fd::RawFd;

/// What a source has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// One message (a line without its line ending), valid until the next call.
    Message(&'a [u8]),
    /// Nothing ready now; wait for the fd to become readable.
    Pending,
    /// No more messages.
    End,
}

/// A supply of messages.
pub trait Source {
    /// The next message, without blocking when the source is pollable.
    fn next(&mut self) -> io::Result<Next<'_>>;
    /// The file descriptor to wait on when [`Next::Pending`] was returned.
    fn fd(&self) -> Option<RawFd> {
        None
    }
    /// What [`Source::next`] would answer, when it can answer from what is
    /// already in memory (a message, or the end); `None` when finding out
    /// would take a read.
    fn buffered(&mut self) -> Option<Next<'_>> {
        None
    }
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
}

impl Source for Fixed {
    fn next(&mut self) -> io::Result<Next<'_>> {
        Ok(self.take())
    }

    fn buffered(&mut self) -> Option<Next<'_>> {
        Some(self.take())
    }
}

impl Fixed {
    fn take(&mut self) -> Next<'_> {
        let Some(message) = self.messages.get(self.next) else {
            return Next::End;
        };
        self.next += 1;
        Next::Message(message)
    }
}

/// A line without its `\n` or `\r\n`.
fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Lines of a readable fd (stdin). When the fd is pollable (a pipe or a
/// terminal) it is read only when `poll` says data is there, so the event
/// loop never blocks on it; regular files are always ready.
pub struct Lines<R: Read> {
    reader: R,
    fd: Option<RawFd>,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

const CHUNK: usize = 64 * 1024;

impl<R: Read> Lines<R> {
    /// `fd`: the descriptor behind `reader`, for readiness checks; `None`
    /// reads blocking (fine for files and tests).
    pub fn new(reader: R, fd: Option<RawFd>) -> Self {
        Lines {
            reader,
            fd,
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            eof: false,
        }
    }

    fn readable_now(&self) -> bool {
        let Some(fd) = self.fd else { return true };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
        // On error, say ready: the read will report what is wrong.
        rc != 0
    }
}

/// A message found in [`Lines::buf`], by position.
enum Held {
    /// `buf[start..end]`, a line with its line ending.
    Line(usize, usize),
    /// `buf[start..]`, the last line, without a line ending.
    Last(usize),
    End,
}

impl<R: Read> Lines<R> {
    /// Takes the next message if it is already in the buffer.
    fn take_held(&mut self) -> Option<Held> {
        if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
            let start = self.start;
            self.start += pos + 1;
            return Some(Held::Line(start, self.start));
        }
        if !self.eof {
            return None;
        }
        if self.start < self.buf.len() {
            let start = self.start;
            self.start = self.buf.len();
            return Some(Held::Last(start));
        }
        Some(Held::End)
    }

    fn held(&self, held: Held) -> Next<'_> {
        match held {
            Held::Line(start, end) => Next::Message(strip_newline(&self.buf[start..end])),
            Held::Last(start) => Next::Message(&self.buf[start..]),
            Held::End => Next::End,
        }
    }
}

impl<R: Read> Source for Lines<R> {
    fn next(&mut self) -> io::Result<Next<'_>> {
        loop {
            if let Some(held) = self.take_held() {
                return Ok(self.held(held));
            }
            if !self.readable_now() {
                return Ok(Next::Pending);
            }
            // Compact before reading more.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let old = self.buf.len();
            self.buf.resize(old + CHUNK, 0);
            match self.reader.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
    }

    fn fd(&self) -> Option<RawFd> {
        self.fd
    }

    fn buffered(&mut self) -> Option<Next<'_>> {
        let held = self.take_held()?;
        Some(self.held(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_only_when_next_needs_no_read() {
        let mut lines = Lines::new(&b"a\nb\nlast"[..], None);
        assert_eq!(lines.buffered(), None, "nothing read yet");
        assert_eq!(lines.next().unwrap(), Next::Message(b"a"));
        assert_eq!(
            lines.buffered(),
            Some(Next::Message(b"b")),
            "b\\n is buffered"
        );
        assert_eq!(lines.buffered(), None, "'last' may go on: a read must tell");
        assert_eq!(lines.next().unwrap(), Next::Message(b"last"));
        assert_eq!(lines.buffered(), Some(Next::End), "the end is known");
        assert_eq!(lines.next().unwrap(), Next::End);
    }

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        let mut lines = Lines::new(&b"a\r\n\nb\nlast"[..], None);
        let mut got = Vec::new();
        while let Next::Message(m) = lines.next().unwrap() {
            got.push(m.to_vec());
        }
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec(), b"last".to_vec()]
        );
    }
}
