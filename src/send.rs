//! `udpmsg send`: encode messages and put them on the wire without dropping
//! any on the sending side.

use crate::addr::Destination;
use crate::event::{EventLoop, Wake};
use crate::net;
use crate::seal::{Envelope, Key};
use crate::source::{Next, Source};
use crate::wire::{self, Message, Text};
use mio::net::UdpSocket;
use mio::{Interest, Token};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SOCKET: Token = Token(0);

/// How long to back off when the kernel says its queues are full (ENOBUFS).
const FULL_QUEUE_BACKOFF: Duration = Duration::from_millis(1);

/// Why a message was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The message is `len` bytes; at most `max` fit in one datagram.
    TooLarge { len: usize, max: usize },
    /// The socket refused it.
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::TooLarge { len, max } => write!(
                f,
                "message too large: {len} bytes, at most {max} fit in one datagram"
            ),
            SendError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Io(e)
    }
}

/// Sends udpmsg text or raw datagrams to one destination.
pub struct Sender {
    socket: UdpSocket,
    dest: SocketAddr,
    /// Created the first time the socket's queue is full.
    waiter: Option<EventLoop>,
    buf: Vec<u8>,
    id: u64,
    next_seq: u64,
    name: String,
    max: usize,
    envelope: Envelope,
    /// Datagrams queued by [`Sender::queue_text`] and [`Sender::queue_raw`];
    /// made on first use (a one-shot send never needs it).
    batch: Option<net::SendBatch>,
}

impl Sender {
    /// A sender with a fresh random sender id.
    pub fn new(dest: Destination, name: String, key: Option<&Key>) -> io::Result<Self> {
        let envelope = Envelope::new(key);
        let socket = net::sender_socket(dest.addr, dest.broadcast)?;
        Ok(Sender {
            socket,
            dest: dest.addr,
            waiter: None,
            buf: Vec::with_capacity(2048),
            id: crate::id::random(),
            next_seq: 0,
            name,
            max: wire::max_datagram(dest.addr.is_ipv6()) - envelope.overhead(),
            envelope,
            batch: None,
        })
    }

    /// Largest body a text message can carry to this destination.
    pub fn max_body(&self) -> usize {
        wire::max_text_body(&self.name, self.max)
    }

    /// Sends one udpmsg text message, at once (nothing may be queued).
    pub fn text(&mut self, body: &[u8]) -> Result<(), SendError> {
        debug_assert_eq!(self.queued(), 0, "flush queued datagrams first");
        self.encode_text(body)?;
        self.transmit()?;
        self.next_seq += 1;
        Ok(())
    }

    /// Queues one udpmsg text message for [`Self::flush`].
    pub fn queue_text(&mut self, body: &[u8]) -> Result<(), SendError> {
        self.encode_text(body)?;
        // Sealed here, once: a retry after a full queue resends these bytes.
        let out = self.envelope.outgoing(&self.buf);
        self.batch
            .get_or_insert_with(|| net::SendBatch::new(self.dest))
            .push(out);
        self.next_seq += 1;
        Ok(())
    }

    /// Queues `bytes` exactly as given, no header, for [`Self::flush`].
    pub fn queue_raw(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.check_raw(bytes)?;
        self.batch
            .get_or_insert_with(|| net::SendBatch::new(self.dest))
            .push(bytes);
        Ok(())
    }

    /// How many queued datagrams wait for [`Self::flush`].
    pub fn queued(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.unsent())
    }

    /// True when no more datagrams should be queued before a flush.
    pub fn queue_full(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| b.is_full())
    }

    /// Sends every queued datagram (`sendmmsg`, as many per call as the
    /// socket takes), waiting while the socket's queue is full; returns how
    /// many went.
    pub fn flush(&mut self) -> Result<u64, SendError> {
        let Some(batch) = self.batch.as_mut() else {
            return Ok(0);
        };
        let mut sent = 0;
        while batch.unsent() > 0 {
            match batch.send(&self.socket) {
                Ok(n) => sent += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient_send_error(&e) => {
                    wait_writable(&mut self.socket, &mut self.waiter, &e)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }

    /// Encodes a text message with the next sequence number into `self.buf`.
    fn encode_text(&mut self, body: &[u8]) -> Result<(), SendError> {
        let max = self.max_body();
        if body.len() > max {
            return Err(SendError::TooLarge {
                len: body.len(),
                max,
            });
        }
        self.buf.clear();
        let message = Message::Text(Text {
            sender: self.id,
            seq: self.next_seq,
            flags: 0,
            name: &self.name,
            body,
        });
        wire::encode(&message, self.max, &mut self.buf).map_err(|e| match e {
            // Checked above; kept for safety should the overhead ever change.
            wire::EncodeError::TooLarge { .. } => SendError::TooLarge {
                len: body.len(),
                max,
            },
        })?;
        Ok(())
    }

    /// Sends `bytes` exactly as given, no header, at once (nothing may be
    /// queued; never sealed: the caller refuses raw sends with a key).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        debug_assert_eq!(self.queued(), 0, "flush queued datagrams first");
        self.check_raw(bytes)?;
        send_waiting(&mut self.socket, &mut self.waiter, self.dest, bytes)?;
        Ok(())
    }

    fn check_raw(&self, bytes: &[u8]) -> Result<(), SendError> {
        if bytes.len() > self.max {
            return Err(SendError::TooLarge {
                len: bytes.len(),
                max: self.max,
            });
        }
        Ok(())
    }

    /// Sends `self.buf`, sealed when keyed (once: a retry after a full queue
    /// resends the same bytes).
    fn transmit(&mut self) -> io::Result<()> {
        let out = self.envelope.outgoing(&self.buf);
        send_waiting(&mut self.socket, &mut self.waiter, self.dest, out)
    }
}

/// Sends one datagram, waiting while the socket's queue is full. `waiter`
/// is created the first time that happens.
fn send_waiting(
    socket: &mut UdpSocket,
    waiter: &mut Option<EventLoop>,
    dest: SocketAddr,
    bytes: &[u8],
) -> io::Result<()> {
    loop {
        match socket.send_to(bytes, dest) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if net::is_transient_send_error(&e) => wait_writable(socket, waiter, &e)?,
            Err(e) => return Err(e),
        }
    }
}

fn wait_writable(
    socket: &mut UdpSocket,
    waiter: &mut Option<EventLoop>,
    cause: &io::Error,
) -> io::Result<()> {
    if waiter.is_none() {
        let new = EventLoop::new(false)?;
        new.registry()
            .register(socket, SOCKET, Interest::WRITABLE)?;
        *waiter = Some(new);
    }
    let Some(waiter) = waiter.as_mut() else {
        return Ok(());
    };
    // ENOBUFS raises no readiness event: back off briefly instead. For a
    // full socket buffer, wait for writability (with a cap, in case the
    // edge was consumed before we registered).
    let backoff = if cause.kind() == io::ErrorKind::WouldBlock {
        Duration::from_millis(50)
    } else {
        FULL_QUEUE_BACKOFF
    };
    match waiter.wait(Some(Instant::now() + backoff))? {
        Wake::Ready(_) | Wake::Timeout | Wake::Signal(_) => Ok(()),
    }
}

/// Sends each message of `input` (udpmsg text, or raw bytes with `raw`), in
/// order. A message too large for a datagram is refused and reported through
/// `refused` with its 1-based number, and the rest still go; an I/O error
/// stops the stream.
///
/// Messages already at hand go out together, up to [`net::SEND_BATCH`] per
/// system call; the input is never waited on while some are queued, so
/// `tail -f log | udpmsg send host -` sends each line as it comes.
pub fn send_all(
    sender: &mut Sender,
    input: &mut dyn Source,
    raw: bool,
    mut refused: impl FnMut(u64, &SendError),
) -> Result<u64, SendError> {
    let mut number = 0u64;
    let mut sent = 0u64;
    loop {
        let mut ended = false;
        while !sender.queue_full() {
            // With datagrams queued, only what is already in memory.
            let next = if sender.queued() == 0 {
                input.next()?
            } else {
                match input.buffered() {
                    Some(next) => next,
                    None => break,
                }
            };
            let body = match next {
                Next::Message(body) => body,
                // Only pollable sources are pending; this loop reads blocking.
                Next::Pending => continue,
                Next::End => {
                    ended = true;
                    break;
                }
            };
            number += 1;
            let result = if raw {
                sender.queue_raw(body)
            } else {
                sender.queue_text(body)
            };
            match result {
                Ok(()) => {}
                Err(e @ SendError::TooLarge { .. }) => refused(number, &e),
                Err(e) => return Err(e),
            }
        }
        sent += sender.flush()?;
        if ended {
            return Ok(sent);
        }
    }
}
