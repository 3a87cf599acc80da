//! `send --ack`: confirmed delivery. Messages from a source go out through
//! a [`Sender`] and wait in an [`Outbox`] until the listener acknowledges
//! them or they are given up on; the event loop wakes for acks, for input,
//! and for the next retransmission timer.

use super::Error;
use super::send::{Reply, Sender};
use super::source::{Next, Source};
use crate::event::{EventLoop, token};
use crate::reliable::outbox::{Outbox, Patience};
use crate::wire::{self, FLAG_ACK, Message};
use mio::Token;
use std::time::{Duration, Instant};

const SOCKET: Token = token(0);
const INPUT: Token = token(1);

/// Default deadline for a whole `send --ack`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Deadline for the whole send.
    pub timeout: Duration,
    /// When to give up on one message.
    pub patience: Patience,
}

/// How a confirmed send went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages put on the wire at least once.
    pub sent: u64,
    /// Messages the listener acknowledged.
    pub confirmed: u64,
    /// Messages given up on (retries or deadline).
    pub unconfirmed: u64,
    /// The deadline passed before the input was all read.
    pub input_left: bool,
}

/// One confirmed send in progress.
pub struct Delivery<'s> {
    sender: Sender,
    source: &'s mut dyn Source,
    outbox: Outbox,
    events: EventLoop,
    deadline: Instant,
    /// The source said it has no more messages.
    input_done: bool,
    /// The source has nothing now; it is armed with the event loop.
    input_pending: bool,
    /// An encoded message, and a received datagram.
    open: Vec<u8>,
    buf: Vec<u8>,
}

impl<'s> Delivery<'s> {
    /// Prepares to send every message of `source` through `sender` (which
    /// must be connected, so a closed port is reported).
    pub fn new(
        mut sender: Sender,
        source: &'s mut dyn Source,
        config: Config,
    ) -> Result<Self, Error> {
        let events = EventLoop::new(false)?;
        sender.register(events.registry(), SOCKET)?;
        let seed = sender.id() | 1;
        Ok(Delivery {
            sender,
            source,
            outbox: Outbox::new(config.patience, seed),
            events,
            deadline: Instant::now() + config.timeout,
            input_done: false,
            input_pending: false,
            open: Vec::with_capacity(2048),
            buf: vec![0; wire::MAX_DATAGRAM + 1],
        })
    }

    /// Runs until every message was confirmed or given up on, or the
    /// deadline passed.
    pub fn run(mut self) -> Result<Report, Error> {
        while Instant::now() < self.deadline {
            self.fill()?;
            if self.finished() {
                break;
            }
            self.resend_due()?;
            if self.finished() {
                break;
            }
            // Giving up may have made room in the window: fill it now rather
            // than sleep (nothing else may come to wake us).
            if !self.input_done && !self.input_pending && self.outbox.has_room() {
                continue;
            }
            self.wait()?;
            self.read_acks()?;
        }
        let tally = self.outbox.tally();
        Ok(Report {
            sent: tally.sent,
            confirmed: tally.confirmed,
            unconfirmed: tally.given_up + self.outbox.in_flight(),
            input_left: !self.input_done,
        })
    }

    fn finished(&self) -> bool {
        self.input_done && self.outbox.is_empty()
    }

    /// Sends new messages from the source while the window has room.
    fn fill(&mut self) -> Result<(), Error> {
        self.input_pending = false;
        while !self.input_done && self.outbox.has_room() {
            let body = match self.source.next().map_err(Error::Input)? {
                Next::Message(body) => body,
                Next::Pending => {
                    self.source
                        .arm(self.events.registry(), INPUT)
                        .map_err(Error::Input)?;
                    self.input_pending = true;
                    return Ok(());
                }
                Next::End => {
                    self.input_done = true;
                    return Ok(());
                }
            };
            self.open.clear();
            self.sender
                .encode_text(body, self.outbox.next_seq(), FLAG_ACK, &mut self.open)?;
            let sender = &mut self.sender;
            self.outbox
                .push(self.open.clone(), Instant::now(), &mut |bytes| {
                    sender.send_open(bytes)
                })?;
        }
        Ok(())
    }

    /// Resends what is due; gives up on what ran out of patience.
    fn resend_due(&mut self) -> Result<(), Error> {
        let sender = &mut self.sender;
        Ok(self
            .outbox
            .resend_due(Instant::now(), &mut |bytes| sender.send_open(bytes))?)
    }

    /// Sleeps until an ack or input arrives, or the next timer.
    fn wait(&mut self) -> Result<(), Error> {
        let wake_at = self
            .outbox
            .next_due()
            .map_or(self.deadline, |d| d.min(self.deadline));
        if self.events.wait(Some(wake_at))?.is_ready(INPUT) {
            self.source.readable();
        }
        Ok(())
    }

    /// Reads acknowledgements until the socket would block.
    fn read_acks(&mut self) -> Result<(), Error> {
        let id = self.sender.id();
        while let Some(reply) = self.sender.recv_reply(&mut self.buf)? {
            if let Reply::Message(Message::Ack(ack)) = reply
                && ack.sender == id
            {
                self.outbox.on_ack(ack.seq, Instant::now());
            }
        }
        Ok(())
    }
}
