//! Stdin one line a message, read only when the event loop says a read
//! will not block (see the parent module).

use super::{CHUNK, Next, Source};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io::{self, Read};
use std::os::fd::RawFd;

/// A line without its `\n` or `\r\n`.
fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How a [`Lines`] input learns that a read will not block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
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

    pub(super) fn with(reader: R, readiness: Readiness) -> Self {
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
