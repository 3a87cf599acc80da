//! Where outgoing messages come from: the command line, or stdin one line a
//! message, read without blocking the event loop.

use std::io::{self, Read};
use std::os::fd::RawFd;

/// What a source has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// One message (a line without its line ending).
    Message(Vec<u8>),
    /// Nothing ready now; wait for the fd to become readable.
    Pending,
    /// No more messages.
    End,
}

/// A supply of messages.
pub trait Source {
    /// The next message, without blocking when the source is pollable.
    fn next(&mut self) -> io::Result<Next>;
    /// The file descriptor to wait on when [`Next::Pending`] was returned.
    fn fd(&self) -> Option<RawFd> {
        None
    }
}

/// Messages given up front (the command line).
pub struct Fixed(pub std::collections::VecDeque<Vec<u8>>);

impl Source for Fixed {
    fn next(&mut self) -> io::Result<Next> {
        Ok(self.0.pop_front().map_or(Next::End, Next::Message))
    }
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

impl<R: Read> Source for Lines<R> {
    fn next(&mut self) -> io::Result<Next> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let end = self.start + pos;
                let line = crate::send::strip_newline(&self.buf[self.start..=end]).to_vec();
                self.start = end + 1;
                return Ok(Next::Message(line));
            }
            if self.eof {
                if self.start < self.buf.len() {
                    let line = self.buf[self.start..].to_vec();
                    self.start = self.buf.len();
                    return Ok(Next::Message(line));
                }
                return Ok(Next::End);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        let mut lines = Lines::new(&b"a\r\n\nb\nlast"[..], None);
        let mut got = Vec::new();
        while let Next::Message(m) = lines.next().unwrap() {
            got.push(m);
        }
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec(), b"last".to_vec()]
        );
    }
}
