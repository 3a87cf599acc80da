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

mod hex_lines;
mod lines;
#[cfg(test)]
mod tests;
mod whole;

pub use hex_lines::{BadHexLine, HexLines};
pub use lines::Lines;
pub use whole::{WholeError, read_whole};

use mio::{Registry, Token};
use std::io;

/// How much one read of stdin asks for.
const CHUNK: usize = 64 * 1024;

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
