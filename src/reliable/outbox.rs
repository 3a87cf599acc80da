//! The sender's side of confirmed delivery: messages in flight to one
//! listener, each resent until it is confirmed (the listener wrote it out)
//! or given up on.
//!
//! Acknowledgements are cumulative and selective: `next` confirms every
//! message below it; ranges say which later ones the listener holds (it
//! received them but waits for an earlier one), so those are not resent.
//!
//! Loss is found two ways. By acknowledgement, as TCP's RACK does: a
//! message sent clearly before one the listener received was lost, and is
//! resent at once, so loss never stalls new sends. By timer, for the last
//! messages of a burst: one retransmission timer for the whole outbox
//! (RFC 6298: restarted whenever an ack makes progress, doubled on each
//! timeout), so a long queue at the listener does not look like loss while
//! acks keep coming. Both walk the messages in the order they were sent,
//! so each costs O(1) per transmission.
//!
//! How much is in flight is bounded in messages (below the listener's
//! look-ahead) and in bytes by a congestion window: AIMD with slow start,
//! and delay-aware. It grows while messages get through and no queue builds
//! on the path; while the round trip shows a queue it stops growing and
//! gives up a tenth of itself per round trip (so a TCP flow sharing a slow
//! link keeps its share, and our own queue stays short); it shrinks by 30%
//! when messages are lost while a queue builds. Loss on a path without a
//! queue is taken as the link's, not congestion: a lossy LAN keeps its
//! throughput.
//!
//! - here: the messages in flight, pushing and sending them, the counts;
//! - `ack`: what an acknowledgement confirms or says is held;
//! - `resend`: what is found lost and resent, when, and giving up;
//! - `cwnd`: the congestion window.

mod ack;
mod cwnd;
mod resend;

pub use cwnd::{DELAY_BACKOFF, INITIAL_CWND, LOSS_BACKOFF, MAX_CWND, MIN_CWND};

use super::rtt::Rtt;
use crate::util::rng::XorShift;
use cwnd::Cwnd;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Messages in flight at once, counted from the oldest one not done: below
/// the listener's look-ahead ([`super::order::MAX_AHEAD`]).
pub const WINDOW: u64 = 8000;
/// How long one message is retransmitted before it is given up on (unless
/// `retries` stops it sooner). Shorter than the listener's gap wait (6 s)
/// and its memory of idle senders (10 s), so a listener never skips, or
/// forgets, a message its sender is still trying to deliver.
pub const MESSAGE_PATIENCE: Duration = Duration::from_secs(4);
/// What each message counts in the window beyond its bytes: the kernel's
/// cost of a datagram in a queue, so that a window of tiny messages is not
/// thousands of datagrams.
pub const DATAGRAM_COST: usize = 256;

/// When to give up on one message.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Retransmissions after the first try; `None`: as many as fit in `time`.
    pub retries: Option<u32>,
    /// How long after its first try a message is given up on.
    pub time: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            retries: None,
            time: MESSAGE_PATIENCE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// On the wire; resent when found lost.
    Sent,
    /// The listener holds it (a selective ack): not resent, not confirmed.
    Held,
    /// Confirmed or given up on.
    Done,
}

#[derive(Debug)]
struct Flight {
    seq: u64,
    /// The datagram to (re)send, as the caller encoded it.
    bytes: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    tries: u32,
    state: State,
    /// When it was sent again to carry a new base past a message given up
    /// below it (the listener held it): its patience runs from then.
    nudged_at: Option<Instant>,
}

impl Flight {
    fn cost(&self) -> usize {
        self.bytes.len() + DATAGRAM_COST
    }
}

/// Counts of what happened to the messages pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages pushed.
    pub sent: u64,
    /// Messages confirmed (written out by the listener).
    pub confirmed: u64,
    /// Messages given up on (patience ran out).
    pub given_up: u64,
    /// Retransmissions.
    pub resent: u64,
    /// Times the listener was seen to change (a restart, or another
    /// process on the port): what it held was sent again.
    pub restarts: u64,
}

/// What one acknowledgement says (see [`crate::wire::Ack`]).
#[derive(Debug, Clone, Copy)]
pub struct AckInfo<'a> {
    /// The listener process that sent it.
    pub instance: u64,
    /// Every message below this is confirmed.
    pub next: u64,
    /// Held ranges `(first, last)`.
    pub held: &'a [(u64, u64)],
}

/// One transmission, in the order they happened. It still stands for its
/// message while that is `Sent` and was last sent by this try (later tries
/// add entries of their own).
#[derive(Debug, Clone, Copy)]
struct Sending {
    at: Instant,
    seq: u64,
    tries: u32,
    /// Counts transmissions: a pass over the queue stops at those it made.
    number: u64,
}

/// Messages in flight to one listener, oldest first.
#[derive(Debug)]
pub struct Outbox {
    flights: VecDeque<Flight>,
    /// Transmissions in time order (lazily pruned, see [`Sending`]).
    sendings: VecDeque<Sending>,
    /// Transmissions so far (the next one's number).
    transmissions: u64,
    next_seq: u64,
    rtt: Rtt,
    rng: XorShift,
    patience: Patience,
    cwnd: Cwnd,
    /// What the messages in state `Sent` cost the window.
    in_flight: usize,
    /// The listener process heard from, once an ack came.
    listener: Option<u64>,
    /// Send time of the latest-sent message received on its first try:
    /// anything sent clearly before it and still `Sent` was lost.
    latest_received: Option<Instant>,
    /// When an ack last made progress (or the first send after a quiet
    /// time): the retransmission timer runs from here.
    progress_at: Instant,
    /// Timeouts in a row since the last progress (the timer's backoff).
    timeouts: u32,
    /// A new listener process answered: everything on the wire goes again.
    resend_all: bool,
    tally: Tally,
    /// `(seq, confirmed)` of each message done, in the order they were
    /// done, for a caller that tracks messages one by one
    /// ([`Self::with_outcomes`]); `None`: not kept.
    outcomes: Option<Vec<(u64, bool)>>,
}

impl Outbox {
    /// An empty outbox; `seed` seeds the retransmission jitter.
    pub fn new(patience: Patience, seed: u64) -> Self {
        Outbox {
            flights: VecDeque::new(),
            sendings: VecDeque::new(),
            transmissions: 0,
            next_seq: 0,
            rtt: Rtt::default(),
            rng: XorShift::new(seed),
            patience,
            cwnd: Cwnd::new(),
            in_flight: 0,
            listener: None,
            latest_received: None,
            progress_at: Instant::now(),
            timeouts: 0,
            resend_all: false,
            tally: Tally::default(),
            outcomes: None,
        }
    }

    /// Keeps what happened to each message, for [`Self::take_outcomes`]
    /// (a chat tells who confirmed which message; `send --ack` only counts).
    pub fn with_outcomes(mut self) -> Self {
        self.outcomes = Some(Vec::new());
        self
    }

    /// `(seq, confirmed)` of every message done since the last call, in the
    /// order they were done (confirmed, or given up on); empty unless made
    /// [`Self::with_outcomes`].
    pub fn take_outcomes(&mut self, out: &mut Vec<(u64, bool)>) {
        if let Some(outcomes) = self.outcomes.as_mut() {
            out.append(outcomes);
        }
    }

    /// The sequence number the next pushed message must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The lowest message neither confirmed nor given up on (what the
    /// listener need not wait below): every datagram carries it.
    pub fn base(&self) -> u64 {
        self.flights
            .iter()
            .find(|f| f.state != State::Done)
            .map_or(self.next_seq, |f| f.seq)
    }

    /// True while another message of `len` bytes may go out now.
    pub fn has_room(&self, len: usize) -> bool {
        let oldest = self.flights.front().map_or(self.next_seq, |f| f.seq);
        self.next_seq - oldest < WINDOW
            && (self.in_flight == 0 || self.in_flight + len + DATAGRAM_COST <= self.cwnd.bytes)
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.flights.is_empty()
    }

    /// Messages neither confirmed nor given up on.
    pub fn in_flight(&self) -> u64 {
        self.flights
            .iter()
            .filter(|f| f.state != State::Done)
            .count() as u64
    }

    /// What happened so far.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// True once some listener process acknowledged something.
    pub fn heard_listener(&self) -> bool {
        self.listener.is_some()
    }

    /// The congestion window now, in bytes.
    pub fn cwnd(&self) -> usize {
        self.cwnd.bytes
    }

    /// Adds message [`Self::next_seq`] (its datagram `bytes`) and sends it
    /// through `send` at once. `send` gets the datagram and the base to
    /// write into it (it reports local failures as losses by returning `Ok`).
    pub fn push<E>(
        &mut self,
        bytes: Vec<u8>,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.sendings.is_empty() {
            // Nothing was on the wire: the timer starts with this message.
            self.progress_at = now;
        }
        let flight = Flight {
            seq: self.next_seq,
            bytes,
            first_sent: now,
            last_sent: now,
            tries: 0,
            state: State::Sent,
            nudged_at: None,
        };
        self.in_flight += flight.cost();
        self.flights.push_back(flight);
        self.next_seq += 1;
        self.tally.sent += 1;
        let index = self.flights.len() - 1;
        self.transmit(index, now, send)
    }

    /// Sends flight `index` (again) with the current base.
    fn transmit<E>(
        &mut self,
        index: usize,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let base = self.base();
        let flight = &mut self.flights[index];
        send(&mut flight.bytes, base)?;
        if flight.tries > 0 {
            self.tally.resent += 1;
        }
        flight.tries += 1;
        flight.last_sent = now;
        let (seq, tries) = (flight.seq, flight.tries);
        self.record(now, seq, tries);
        Ok(())
    }

    /// Queues a transmission of `seq` (try `tries`) made at `at`.
    fn record(&mut self, at: Instant, seq: u64, tries: u32) {
        self.sendings.push_back(Sending {
            at,
            seq,
            tries,
            number: self.transmissions,
        });
        self.transmissions += 1;
    }

    /// The index of the flight a transmission stands for, if it still does.
    fn standing(&self, sending: Sending) -> Option<usize> {
        let front = self.flights.front()?.seq;
        let index = usize::try_from(sending.seq.checked_sub(front)?).ok()?;
        let flight = self.flights.get(index)?;
        (flight.state == State::Sent && flight.tries == sending.tries).then_some(index)
    }

    /// The oldest transmission that still stands, dropping stale ones.
    fn oldest_sending(&mut self) -> Option<(Sending, usize)> {
        while let Some(&sending) = self.sendings.front() {
            if let Some(index) = self.standing(sending) {
                return Some((sending, index));
            }
            self.sendings.pop_front();
        }
        None
    }

    /// Marks flight `index` done: confirmed, or given up on.
    fn finish(&mut self, index: usize, confirmed: bool) {
        let flight = &mut self.flights[index];
        if flight.state == State::Sent {
            self.in_flight -= flight.cost();
        }
        flight.state = State::Done;
        if let Some(outcomes) = self.outcomes.as_mut() {
            outcomes.push((flight.seq, confirmed));
        }
        if confirmed {
            self.tally.confirmed += 1;
        } else {
            self.tally.given_up += 1;
        }
    }

    fn pop_done(&mut self) {
        while self.flights.front().is_some_and(|f| f.state == State::Done) {
            self.flights.pop_front();
        }
        if self.flights.is_empty() {
            self.sendings.clear();
        }
    }
}

#[cfg(test)]
mod tests;
