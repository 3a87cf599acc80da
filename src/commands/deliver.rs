//! `send --ack`: confirmed delivery. Messages from a source go out through
//! a [`Sender`] and wait in an [`Outbox`] until the listener confirms them
//! (it wrote them out) or they are given up on; the event loop wakes for
//! acks, for input, for the next retransmission timer and for Ctrl-C.
//!
//! The input is followed as long as it lasts (`tail -f log | udpmsg send
//! --ack host -` runs until EOF or Ctrl-C); the timeout bounds only the wait
//! for confirmations after the last message was read. A listener whose port
//! closes after it answered may be restarting: the send goes on for
//! [`GONE_AFTER`], then takes it for gone and stops.

use super::Error;
use super::send::{Reply, Sender};
use super::source::{Next, Source};
use crate::event::{EventLoop, Wake, token};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Outbox, Patience};
use crate::wire::{self, FLAG_ACK, Message};
use mio::Token;
use std::time::{Duration, Instant};

mod link;
pub(super) use link::on_ack;
use link::{Counts, transmit};

const SOCKET: Token = token(0);
const INPUT: Token = token(1);

/// Default wait for confirmations after the last message was read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the port of a listener that had answered may stay closed
/// (sends refused, no ack since the first refusal) before the send stops
/// and reports the listener gone. A message is retried as long: a listener
/// restarted within it loses nothing, and one that stays gone is reported
/// then, not after every line left was sent and tried for as long.
pub const GONE_AFTER: Duration = MESSAGE_PATIENCE;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How long to wait for confirmations once the input has ended.
    pub timeout: Duration,
    /// When to give up on one message.
    pub patience: Patience,
    /// Stop cleanly on SIGINT/SIGTERM/SIGHUP, with a report.
    pub catch_signals: bool,
}

/// How a confirmed send went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages read and put on the wire at least once.
    pub sent: u64,
    /// Messages the listener confirmed (wrote out).
    pub confirmed: u64,
    /// Messages given up on, or still unconfirmed at the end.
    pub unconfirmed: u64,
    /// Retransmissions.
    pub resent: u64,
    /// Sends the local system refused (a firewall rule, a route gone):
    /// counted as losses and retried.
    pub local_errors: u64,
    /// Times another listener process took over the port mid-stream.
    pub restarts: u64,
    /// Sends or receives refused because nothing listened on the port for a
    /// while (after a listener had answered: a restart in progress).
    pub port_closed: u64,
    /// [`GONE_AFTER`] when that ended the send: the listener's port had
    /// been closed (refused after the listener had answered) that long,
    /// nothing answering since. `None` when anything else ended it (the
    /// input and the wait after it, a signal, everything confirmed).
    pub closed_for: Option<Duration>,
    /// Ctrl-C, SIGTERM or SIGHUP ended the send (the signal number).
    pub interrupted: Option<i32>,
    /// The input had not ended when the send stopped.
    pub input_left: bool,
    /// Messages read but not sent: too large for one datagram (each was
    /// handed to the caller's `skipped` with its number).
    pub too_large: u64,
}

impl Report {
    /// How long the listener's port had been closed when the send ended,
    /// if it went away (closed, nothing answering since, and messages left
    /// unconfirmed).
    pub fn listener_gone(&self) -> Option<Duration> {
        self.closed_for.filter(|_| self.unconfirmed > 0)
    }
}

/// One confirmed send in progress.
pub struct Delivery<'s> {
    sender: Sender,
    source: &'s mut dyn Source,
    outbox: Outbox,
    events: EventLoop,
    timeout: Duration,
    /// Set when the input ends: then confirmations are waited for until it.
    deadline: Option<Instant>,
    /// The source said it has no more messages.
    input_done: bool,
    /// The source has nothing now; it is armed with the event loop.
    input_pending: bool,
    /// Messages read so far (for reporting one that cannot go).
    number: u64,
    /// Messages too large to send, skipped.
    too_large: u64,
    /// Told of each message that cannot go, with its 1-based number.
    skipped: &'s mut dyn FnMut(u64, &Error),
    local_errors: u64,
    /// ICMP port unreachable after a listener had answered.
    port_closed: u64,
    /// The first refusal since the last ack (while messages were out): the
    /// listener is taken for gone [`GONE_AFTER`] from then.
    closed_since: Option<Instant>,
    /// A send or read was refused (ICMP port unreachable) before any ack
    /// was read: nothing listens, unless an ack waits in the receive queue
    /// behind the error (the kernel reports the error first), in which
    /// case a listener answered and then went away.
    refused_unheard: bool,
    interrupted: Option<i32>,
    /// An encoded message, a received datagram, held ranges of an ack.
    open: Vec<u8>,
    buf: Vec<u8>,
    held: Vec<(u64, u64)>,
}

impl<'s> Delivery<'s> {
    /// Prepares to send every message of `source` through `sender` (which
    /// must be connected, so a closed port is reported). A message too
    /// large for one datagram is handed to `skipped` with its 1-based
    /// number, and the rest still go (as `send` without `--ack` does).
    pub fn new(
        mut sender: Sender,
        source: &'s mut dyn Source,
        config: Config,
        skipped: &'s mut dyn FnMut(u64, &Error),
    ) -> Result<Self, Error> {
        let events = EventLoop::new(config.catch_signals)?;
        sender.register(events.registry(), SOCKET)?;
        let seed = sender.id() | 1;
        Ok(Delivery {
            sender,
            source,
            outbox: Outbox::new(config.patience, seed),
            events,
            timeout: config.timeout,
            deadline: None,
            input_done: false,
            input_pending: false,
            number: 0,
            too_large: 0,
            skipped,
            local_errors: 0,
            port_closed: 0,
            closed_since: None,
            refused_unheard: false,
            interrupted: None,
            open: Vec::with_capacity(2048),
            buf: vec![0; wire::MAX_DATAGRAM + 1],
            held: Vec::with_capacity(wire::MAX_ACK_RANGES),
        })
    }

    /// Runs until every message was confirmed or given up on, the deadline
    /// after the input's end passed, or a signal.
    pub fn run(mut self) -> Result<Report, Error> {
        let mut gone = false;
        loop {
            let now = Instant::now();
            if self.interrupted.is_some() || self.deadline.is_some_and(|d| now >= d) {
                break;
            }
            if self.gone_at().is_some_and(|g| now >= g) {
                gone = true;
                break;
            }
            self.fill()?;
            if self.finished() {
                break;
            }
            // Acks that came while sending tell what is lost and restart
            // the timer: read them before deciding what to resend.
            self.read_replies()?;
            self.resend_due()?;
            if self.refused_unheard {
                // A resend was refused: the replies decide, now.
                self.read_replies()?;
            }
            if self.finished() {
                break;
            }
            // Giving up may have made room in the window: fill it now rather
            // than sleep (nothing else may come to wake us).
            if !self.input_done && !self.input_pending && self.outbox.has_room(1) {
                continue;
            }
            self.wait()?;
            self.read_replies()?;
        }
        let tally = self.outbox.tally();
        // What is still in flight is given up with the listener (nothing
        // is told: nothing listens) and counted as not confirmed.
        let closed_for = gone.then_some(GONE_AFTER);
        Ok(Report {
            sent: tally.sent,
            confirmed: tally.confirmed,
            unconfirmed: tally.given_up + self.outbox.in_flight(),
            resent: tally.resent,
            local_errors: self.local_errors,
            restarts: tally.restarts,
            port_closed: self.port_closed,
            closed_for,
            interrupted: self.interrupted,
            input_left: !self.input_done,
            too_large: self.too_large,
        })
    }

    fn finished(&self) -> bool {
        self.input_done && self.outbox.is_empty()
    }

    /// When the listener is taken for gone, if its port is closed now.
    fn gone_at(&self) -> Option<Instant> {
        self.closed_since.map(|t| t + GONE_AFTER)
    }

    /// Sends new messages from the source while the window has room.
    fn fill(&mut self) -> Result<(), Error> {
        self.input_pending = false;
        // Refused: nothing more goes until the replies say who answered.
        while !self.input_done && !self.refused_unheard {
            // A message's size is known only once read: the window may be
            // overshot by one message, as TCP's may by one segment.
            if !self.outbox.has_room(1) {
                return Ok(());
            }
            let body = match self.source.next().map_err(Error::Input)? {
                Next::Message(body) => body,
                Next::Pending => {
                    let wait = self
                        .source
                        .arm(self.events.registry(), INPUT)
                        .map_err(Error::Input)?;
                    if !wait {
                        continue;
                    }
                    self.input_pending = true;
                    return Ok(());
                }
                Next::End => {
                    self.input_done = true;
                    self.deadline = Some(Instant::now() + self.timeout);
                    return Ok(());
                }
            };
            self.number += 1;
            self.open.clear();
            match self
                .sender
                .encode_text(body, self.outbox.next_seq(), FLAG_ACK, &mut self.open)
            {
                Ok(()) => {}
                Err(e @ Error::TooLarge { .. }) => {
                    self.too_large += 1;
                    (self.skipped)(self.number, &e);
                    continue;
                }
                Err(e) => return Err(e),
            }
            let datagram = self.open.clone();
            let (outbox, mut send) = self.outbox_and_link();
            outbox.push(datagram, Instant::now(), &mut send)?;
        }
        Ok(())
    }

    /// Resends what is due; gives up on what ran out of patience.
    fn resend_due(&mut self) -> Result<(), Error> {
        let (outbox, mut send) = self.outbox_and_link();
        outbox.resend_due(Instant::now(), &mut send)
    }

    /// The outbox, and how it sends a (re)transmission: through the sender,
    /// with local failures and a restarting listener's closed port counted
    /// as losses.
    fn outbox_and_link(
        &mut self,
    ) -> (
        &mut Outbox,
        impl FnMut(&mut [u8], u64) -> Result<(), Error> + '_,
    ) {
        let heard = self.outbox.heard_listener();
        let Delivery {
            outbox,
            sender,
            local_errors,
            port_closed,
            closed_since,
            refused_unheard,
            ..
        } = self;
        let mut counts = Counts {
            local_errors,
            port_closed,
            closed_since,
            refused_unheard,
            heard,
        };
        (outbox, move |bytes, base| {
            transmit(sender, &mut counts, bytes, base)
        })
    }

    /// Sleeps until an ack, input or a signal arrives, or the next timer.
    fn wait(&mut self) -> Result<(), Error> {
        let wake_at = [self.outbox.next_due(), self.deadline, self.gone_at()]
            .into_iter()
            .flatten()
            .min();
        match self.events.wait(wake_at)? {
            Wake::Signal(signal) => self.interrupted = Some(signal),
            wake if wake.is_ready(INPUT) => self.source.readable(),
            _ => {}
        }
        Ok(())
    }

    /// Once the receive queue is empty: a refusal before any ack means
    /// nothing listens (reported at once), unless the queue held an ack
    /// after all, which makes it a listener that answered and went away
    /// (a restart, perhaps: the messages wait, for at most GONE_AFTER).
    fn refusal_read(&mut self) -> Result<(), Error> {
        if !std::mem::take(&mut self.refused_unheard) {
            return Ok(());
        }
        if !self.outbox.heard_listener() {
            return Err(Error::NotListening);
        }
        self.port_refused();
        Ok(())
    }

    /// The port refused after a listener had answered: counted, and the
    /// wait for it to come back starts (while messages are out).
    fn port_refused(&mut self) {
        self.port_closed += 1;
        if !self.outbox.is_empty() {
            self.closed_since.get_or_insert_with(Instant::now);
        }
    }

    /// Reads acknowledgements (and refusals) until the socket would block.
    fn read_replies(&mut self) -> Result<(), Error> {
        let id = self.sender.id();
        loop {
            let reply = match self.sender.recv_reply(&mut self.buf) {
                Ok(Some(reply)) => reply,
                Ok(None) => return self.refusal_read(),
                // The echo of a send to a closed port: before any listener
                // answered, nothing listens (reported at once); after, a
                // listener may be restarting: the messages wait and are
                // resent, for at most GONE_AFTER.
                Err(Error::NotListening) if self.outbox.heard_listener() => {
                    self.port_refused();
                    continue;
                }
                // Read on: an ack may wait behind the error.
                Err(Error::NotListening) => {
                    self.refused_unheard = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match reply {
                Reply::Message(Message::Ack(ack)) if ack.sender == id => {
                    // Something listens: a restart, if any, is over.
                    self.closed_since = None;
                    on_ack(&mut self.outbox, &mut self.held, &ack, Instant::now());
                }
                Reply::Message(Message::Refuse(refuse)) if refuse.sender == id => {
                    return Err(Error::Refused {
                        reason: refuse.reason,
                    });
                }
                _ => {}
            }
        }
    }
}
