//! `udpmsg send`: the one sender type every sending command uses (text or
//! raw, sealed when keyed, batched with `sendmmsg`), and fire-and-forget
//! sending of a stream of messages without dropping any on this side.
//!
//! - here: [`Sender`], its setup, queues, and what comes back to it;
//! - `link`: the socket and destination, one send or a batch, waiting
//!   while the queue is full;
//! - `segmented`: runs of datagrams sent as one segmented send (UDP GSO);
//! - `encode`: text messages into bytes;
//! - `stream`: [`send_all`], a stream of messages fire-and-forget.

mod encode;
mod link;
mod segmented;
mod stream;

pub use stream::send_all;

use super::Error;
use crate::net::{self, Cred, PeerAddr, SendBatch, SendOptions, SetupError, addr::Destination};
use crate::seal::{Envelope, Incoming, Key, Opened, Outgoing, Refusal, SealDest};
use crate::wire::{self, Message};
use encode::{Encoder, encode_text};
use link::Link;
use mio::{Interest, Registry, Token};
use segmented::Segmented;
use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

/// Sends udpmsg text or raw datagrams to one destination, and receives what
/// comes back to its socket (acks, pongs).
pub struct Sender {
    link: Link,
    encoder: Encoder,
    next_seq: u64,
    outgoing: Outgoing,
    incoming: Incoming,
    /// Datagrams queued by [`Sender::queue_text`] and [`Sender::queue_raw`];
    /// made on first use (a one-shot send never needs it).
    batch: Option<SendBatch>,
    /// Sealed datagrams queued by [`Sender::queue_open`].
    segmented: Segmented,
}

/// Queued datagrams that did not go ([`Sender::queue_open`],
/// [`Sender::flush_open`]): lost, for the caller to count or retry.
#[derive(Debug)]
pub struct Unsent {
    /// Why (the first error).
    pub error: io::Error,
    /// How many did not go.
    pub datagrams: usize,
}

impl Sender {
    /// A sender with a fresh random sender id, its socket set up with
    /// `options`. `connected`: replies are expected from `dest` alone, so
    /// the socket is connected to it (an ICMP port unreachable, or a Unix
    /// socket nobody listens on, then comes back as [`Error::NotListening`]).
    /// A Unix-domain socket binds an abstract name first.
    pub fn new(
        dest: Destination,
        options: &SendOptions,
        name: String,
        key: Option<&Key>,
        connected: bool,
    ) -> Result<Self, SetupError> {
        let envelope = Envelope::new(key);
        let socket = net::sender_socket(&dest, options)?;
        let to = dest.addr.to_sockaddr()?;
        if connected {
            socket.connect(&to)?;
        }
        let local = socket.local_addr()?;
        // Over a Unix socket, as much as over IPv6: the most a receiver reads.
        let ipv6 = dest.addr.inet().is_none_or(|a| a.is_ipv6());
        // Once: a Unix path is resolved to its canonical form.
        let seal_dest = SealDest::from(&dest.addr);
        Ok(Sender {
            link: Link {
                socket,
                to,
                connected,
                dest: dest.addr,
                seal_dest,
                local,
                local_dest: None,
            },
            encoder: Encoder {
                id: crate::util::rng::random_id(),
                name,
                max: wire::max_datagram(ipv6) - envelope.outgoing.overhead(),
                buf: Vec::with_capacity(2048),
            },
            next_seq: 0,
            outgoing: envelope.outgoing,
            incoming: envelope.incoming,
            batch: None,
            segmented: Segmented::default(),
        })
    }

    /// This sender's id.
    pub fn id(&self) -> u64 {
        self.encoder.id
    }

    /// Registers the socket for readable events (replies) with `registry`.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.link.socket, token, Interest::READABLE)
    }

    /// Largest body a text message can carry to this destination.
    pub fn max_body(&self) -> usize {
        self.encoder.max_body()
    }

    /// Largest raw datagram to this destination.
    pub fn max_raw(&self) -> usize {
        self.encoder.max
    }

    /// Encodes text message `seq` with `flags` into `out` (open, unsealed),
    /// for a caller that keeps it to resend ([`Self::send_open`]).
    pub fn encode_text(
        &self,
        body: &[u8],
        seq: u64,
        flags: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.encoder.text_into(body, seq, flags, out)
    }

    /// Encodes text message `seq` with `flags` and the sender name `name`
    /// (file records carry none but the offer) into `out`, open.
    pub fn encode_text_named(
        &self,
        body: &[u8],
        seq: u64,
        flags: u8,
        name: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        encode_text(
            self.encoder.id,
            name,
            self.encoder.max,
            body,
            seq,
            flags,
            out,
        )
    }

    /// The sender name its messages carry.
    pub fn name(&self) -> &str {
        &self.encoder.name
    }

    /// Bytes sealing adds to each datagram (0 without a key).
    pub fn seal_overhead(&self) -> usize {
        self.outgoing.overhead()
    }

    /// The path MTU to the destination (a connected sender only). A Unix
    /// socket has no path: loopback's MTU, what a datagram on this host
    /// takes over IP.
    pub fn path_mtu(&self) -> io::Result<usize> {
        match &self.link.dest {
            PeerAddr::Inet(dest) => net::path_mtu(&self.link.socket, dest.is_ipv6()),
            PeerAddr::Unix(_) => Ok(net::LOOPBACK_MTU),
        }
    }

    /// The destination.
    pub fn dest(&self) -> &PeerAddr {
        &self.link.dest
    }

    /// Sends one udpmsg text message, at once (nothing may be queued).
    pub fn text(&mut self, body: &[u8]) -> Result<(), Error> {
        debug_assert_eq!(self.queued(), 0, "flush queued datagrams first");
        let open = self.encoder.text(body, self.next_seq, 0)?;
        self.link
            .send(self.outgoing.seal(open, self.link.seal_dest))?;
        self.next_seq += 1;
        Ok(())
    }

    /// Sends `bytes` exactly as given, no header, at once (nothing may be
    /// queued; never sealed: the caller refuses raw sends with a key).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        debug_assert_eq!(self.queued(), 0, "flush queued datagrams first");
        self.check_raw(bytes)?;
        Ok(self.link.send(bytes)?)
    }

    /// Seals (when keyed; afresh on every call, so a retransmission is a
    /// new sealed datagram) and sends an open datagram, waiting while the
    /// socket's queue is full.
    pub fn send_open(&mut self, open: &[u8]) -> io::Result<()> {
        self.link
            .send(self.outgoing.seal(open, self.link.seal_dest))
    }

    /// From now on [`Self::queue_open`] hands runs of equal-sized
    /// datagrams to the kernel in one send (UDP GSO) where it can; returns
    /// whether this kernel can.
    pub fn segment_sends(&mut self) -> bool {
        self.segmented.gso = net::gso::supported(&self.link.socket);
        self.segmented.gso
    }

    /// Seals `open` (as [`Self::send_open`] does) and queues it to go out
    /// with the datagrams queued before it, in one system call: the queue
    /// is sent first when `open` cannot join it (another size), and as
    /// soon as nothing more can join. Call [`Self::flush_open`] before
    /// waiting. An error is about earlier datagrams that did not go (this
    /// one is queued either way).
    pub fn queue_open(&mut self, open: &[u8]) -> Result<(), Unsent> {
        let sealed = self.outgoing.seal(open, self.link.seal_dest);
        self.segmented.queue(&mut self.link, sealed)
    }

    /// Sends what [`Self::queue_open`] queued.
    pub fn flush_open(&mut self) -> Result<(), Unsent> {
        self.segmented.flush(&mut self.link)
    }

    /// Queues one udpmsg text message for [`Self::flush`].
    pub fn queue_text(&mut self, body: &[u8]) -> Result<(), Error> {
        let open = self.encoder.text(body, self.next_seq, 0)?;
        // Sealed here, once: a retry after a full queue resends these bytes.
        let to = &self.link.to;
        self.batch
            .get_or_insert_with(|| SendBatch::new(to.clone()))
            .push(self.outgoing.seal(open, self.link.seal_dest));
        self.next_seq += 1;
        Ok(())
    }

    /// Queues `bytes` exactly as given, no header, for [`Self::flush`].
    pub fn queue_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.check_raw(bytes)?;
        let to = &self.link.to;
        self.batch
            .get_or_insert_with(|| SendBatch::new(to.clone()))
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

    /// Sends every queued datagram (`sendmmsg`), waiting while the socket's
    /// queue is full; returns how many went. A datagram this host refused
    /// for now ([`SendFailure::Local`]: a firewall rule, no route) is lost:
    /// `lost` gets its index among the queued ones and the error, and the
    /// rest still go.
    ///
    /// [`SendFailure::Local`]: net::SendFailure::Local
    pub fn flush(&mut self, lost: &mut dyn FnMut(usize, io::Error)) -> Result<u64, Error> {
        match self.batch.as_mut() {
            Some(batch) => Ok(self.link.send_batch(batch, lost)?),
            None => Ok(0),
        }
    }

    fn check_raw(&self, bytes: &[u8]) -> Result<(), Error> {
        let max = self.encoder.max;
        if bytes.len() > max {
            return Err(Error::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        Ok(())
    }

    /// Reads one datagram that came back to the socket, whatever it is:
    /// `None` once the socket is empty, else who sent it and what it
    /// turned out to be (a udpmsg message, opened and checked when keyed;
    /// raw bytes; or why it is refused). Sealed datagrams are opened for
    /// the address they arrived at: the socket's own when it is connected,
    /// else the arrival address (`SendOptions::arrival_info`). `buf` must
    /// hold [`wire::MAX_DATAGRAM`] bytes. Call until `None`.
    pub fn recv_any<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Option<Came<'a>>, Error> {
        if matches!(self.link.local, PeerAddr::Inet(a) if a.port() == 0) {
            // Unconnected and not bound at creation: the first send bound it.
            self.link.local = self.link.socket.local_addr()?;
            self.link.local_dest = None;
        }
        let socket = &self.link.socket;
        let unconnected_udp = !self.link.connected && !socket.is_unix();
        let Some((len, arrival)) = net::nonblocking(|| {
            loop {
                match net::recv_with_local(socket, buf) {
                    // An unconnected socket's pending ICMP error, cleared by
                    // this call: [`Self::refused`] reads where it came from.
                    Err(e) if unconnected_udp && e.kind() == io::ErrorKind::ConnectionRefused => {
                        continue;
                    }
                    other => return other,
                }
            }
        })?
        else {
            return Ok(None);
        };
        let dest = match (arrival.local, &self.link.local) {
            (Some(l), PeerAddr::Inet(local)) => {
                SealDest::from(SocketAddr::new(l.dest, local.port()))
            }
            _ => self.link.local_dest(),
        };
        Ok(Some(Came {
            from: arrival.from.unmapped(),
            cred: arrival.cred,
            opened: self.incoming.open(&buf[..len], SystemTime::now(), dest),
        }))
    }

    /// Whether the destination said that nothing listens on its port (an
    /// ICMP port unreachable for a datagram sent to it), read from the
    /// socket's error queue, which this empties. Only a socket set up with
    /// [`SendOptions::icmp_errors`] is told; a connected one is told by its
    /// calls instead ([`Error::NotListening`]).
    pub fn refused(&mut self) -> Result<bool, Error> {
        let mut refused = false;
        let dest = self.link.dest.inet();
        while let Some(bounced) = net::errqueue::recv_error(&self.link.socket)? {
            refused |= bounced.refused()
                && dest.is_some_and(|d| {
                    net::addr::unmapped(d).ip() == net::addr::unmapped(bounced.to).ip()
                        && d.port() == bounced.to.port()
                });
        }
        Ok(refused)
    }

    /// Reads one datagram that came back to the socket: `None` once the
    /// socket is empty, else the udpmsg message it holds (opened and
    /// checked when keyed) or [`Reply::Ignored`]. `buf` must hold
    /// [`wire::MAX_DATAGRAM`] bytes. Call until `None` (edge-triggered).
    pub fn recv_reply<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Option<Reply<'a>>, Error> {
        let socket = &self.link.socket;
        let Some(len) = net::nonblocking(|| socket.recv(buf))? else {
            return Ok(None);
        };
        let local = self.link.local_dest();
        Ok(Some(
            match self.incoming.open(&buf[..len], SystemTime::now(), local) {
                Ok(Opened::Message(message)) => Reply::Message(message),
                Ok(Opened::Raw(_)) | Err(_) => Reply::Ignored,
            },
        ))
    }
}

/// Any datagram that came back to a sender's socket ([`Sender::recv_any`]).
#[derive(Debug)]
pub struct Came<'a> {
    /// Who sent it.
    pub from: PeerAddr,
    /// Its sender's credentials (a Unix-domain socket reports them).
    pub cred: Option<Cred>,
    /// What it turned out to be, or why it is refused.
    pub opened: Result<Opened<'a>, Refusal>,
}

/// A datagram that came back to a sender's socket.
#[derive(Debug)]
pub enum Reply<'a> {
    /// A udpmsg message (an ack, a pong...).
    Message(Message<'a>),
    /// Anything else: raw, malformed, forged, replayed.
    Ignored,
}
