//! The sender's side of confirmed delivery: messages in flight to one
//! listener, each resent until it is confirmed (the listener wrote it out)
//! or given up on.
//!
//! Acknowledgements are cumulative and selective: `next` confirms every
//! message below it; ranges say which later ones the listener holds (it
//! received them but waits for an earlier one), so those are not resent.
//! Loss is found two ways: a message sent clearly before one the listener
//! received was lost, and is resent at once (as TCP's RACK does), so loss
//! never stalls new sends; and each message has a retransmission timer
//! (RFC 6298 estimate with backoff and jitter) for the last ones of a
//! burst. How much is in flight is bounded in messages (below the
//! listener's look-ahead) and in bytes by a congestion window that grows
//! while messages get through and shrinks when they are lost (AIMD).

use super::rtt::{self, Rtt};
use crate::util::rng::XorShift;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Messages in flight at once, counted from the oldest one not done: below
/// the listener's look-ahead ([`super::order::MAX_AHEAD`]).
pub const WINDOW: u64 = 1000;
/// How long one message is retransmitted before it is given up on (unless
/// `retries` stops it sooner). Shorter than the listener's gap wait (6 s)
/// and its memory of idle senders (10 s), so a listener never skips, or
/// forgets, a message its sender is still trying to deliver.
pub const MESSAGE_PATIENCE: Duration = Duration::from_secs(4);
/// The congestion window at the start, in bytes.
pub const INITIAL_CWND: usize = 64 << 10;
/// The congestion window never shrinks below this (nor below one message).
pub const MIN_CWND: usize = 16 << 10;
/// Nor grows beyond this: a listener's receive queue must hold it.
pub const MAX_CWND: usize = 8 << 20;
/// On loss the window keeps this fraction of itself.
pub const LOSS_BACKOFF: f64 = 0.7;

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
    /// On the wire; resent when lost or when its timer runs out.
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
    due: Instant,
    tries: u32,
    state: State,
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

/// The congestion window (bytes), AIMD with slow start.
#[derive(Debug)]
struct Cwnd {
    bytes: usize,
    ssthresh: usize,
    /// Losses of messages sent before this one count as the same event.
    recover_at: u64,
}

impl Cwnd {
    fn grow(&mut self, acked: usize, largest: usize) {
        let step = if self.bytes < self.ssthresh {
            acked
        } else {
            (largest.max(1200) * acked / self.bytes.max(1)).max(1)
        };
        self.bytes = (self.bytes + step).min(MAX_CWND);
    }

    fn lost(&mut self, seq: u64, next_seq: u64) {
        if seq < self.recover_at {
            return;
        }
        self.bytes = ((self.bytes as f64 * LOSS_BACKOFF) as usize).max(MIN_CWND);
        self.ssthresh = self.bytes;
        self.recover_at = next_seq;
    }
}

/// Messages in flight to one listener, oldest first.
#[derive(Debug)]
pub struct Outbox {
    flights: VecDeque<Flight>,
    next_seq: u64,
    rtt: Rtt,
    rng: XorShift,
    patience: Patience,
    cwnd: Cwnd,
    /// Bytes of messages in state `Sent`.
    in_flight: usize,
    largest: usize,
    /// The listener process heard from, once an ack came.
    listener: Option<u64>,
    /// Send time of the latest-sent message received on its first try:
    /// anything sent clearly before it and still `Sent` was lost.
    latest_received: Option<Instant>,
    tally: Tally,
}

impl Outbox {
    /// An empty outbox; `seed` seeds the retransmission jitter.
    pub fn new(patience: Patience, seed: u64) -> Self {
        Outbox {
            flights: VecDeque::new(),
            next_seq: 0,
            rtt: Rtt::default(),
            rng: XorShift::new(seed),
            patience,
            cwnd: Cwnd {
                bytes: INITIAL_CWND,
                ssthresh: MAX_CWND,
                recover_at: 0,
            },
            in_flight: 0,
            largest: 0,
            listener: None,
            latest_received: None,
            tally: Tally::default(),
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
            && (self.in_flight == 0 || self.in_flight + len <= self.cwnd.bytes)
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

    /// The congestion window now, in bytes.
    pub fn cwnd(&self) -> usize {
        self.cwnd.bytes
    }

    /// Adds message [`Self::next_seq`] (its datagram `bytes`) and sends it
    /// through `send` at once. `send` gets the datagram with its current
    /// base (it reports local failures as losses by returning `Ok`).
    pub fn push<E>(
        &mut self,
        bytes: Vec<u8>,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let len = bytes.len();
        self.largest = self.largest.max(len);
        self.flights.push_back(Flight {
            seq: self.next_seq,
            bytes,
            first_sent: now,
            last_sent: now,
            due: now,
            tries: 0,
            state: State::Sent,
        });
        self.next_seq += 1;
        self.tally.sent += 1;
        self.in_flight += len;
        let base = self.base();
        let timing = Timing {
            rto: self.rtt.rto(),
            rng: &mut self.rng,
            tally: &mut self.tally,
        };
        match self.flights.back_mut() {
            Some(flight) => transmit(flight, base, timing, now, send),
            None => Ok(()),
        }
    }

    /// Resends every message whose timer ran out or that is known lost, and
    /// gives up on those out of patience.
    pub fn resend_due<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let reorder = self.rtt.srtt().map_or(Duration::from_millis(1), |s| s / 4);
        let latest = self.latest_received;
        let patience = self.patience;
        let mut gave_up = false;
        for i in 0..self.flights.len() {
            let flight = &self.flights[i];
            let (state, seq, len) = (flight.state, flight.seq, flight.bytes.len());
            let lost =
                state == State::Sent && latest.is_some_and(|t| flight.last_sent + reorder < t);
            let timer = state != State::Done && flight.due <= now;
            if !lost && !timer {
                continue;
            }
            // A held message is not retransmitted: only time runs out for it.
            let out_of_tries = (state == State::Sent
                && patience.retries.is_some_and(|r| flight.tries > r))
                || now.saturating_duration_since(flight.first_sent) >= patience.time;
            if out_of_tries {
                if state == State::Sent {
                    self.in_flight -= len;
                }
                self.flights[i].state = State::Done;
                self.tally.given_up += 1;
                gave_up = true;
                continue;
            }
            if state == State::Held {
                // Held by the listener: its timer only checks back (the
                // nudge below carries the base to it).
                self.flights[i].due = now + self.rtt.rto() * 4;
                continue;
            }
            if lost {
                self.cwnd.lost(seq, self.next_seq);
            }
            let base = self.base();
            let timing = Timing {
                rto: self.rtt.rto(),
                rng: &mut self.rng,
                tally: &mut self.tally,
            };
            transmit(&mut self.flights[i], base, timing, now, send)?;
        }
        if gave_up {
            self.nudge(now, send)?;
        }
        self.pop_done();
        Ok(())
    }

    /// After giving up on a message, sends the oldest message the listener
    /// holds again: it carries the new base, so the listener stops waiting
    /// for what was given up and releases (and confirms) what it holds now,
    /// not after its gap wait.
    fn nudge<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let base = self.base();
        let Some(flight) = self.flights.iter_mut().find(|f| f.state == State::Held) else {
            return Ok(());
        };
        send(&mut flight.bytes, base)?;
        self.tally.resent += 1;
        flight.last_sent = now;
        Ok(())
    }

    /// Records an acknowledgement; returns how many messages it confirmed.
    pub fn on_ack(&mut self, ack: AckInfo<'_>, now: Instant) -> u64 {
        if self.listener.is_some_and(|l| l != ack.instance) {
            self.listener_changed(now);
        }
        self.listener = Some(ack.instance);
        let Some(front) = self.flights.front().map(|f| f.seq) else {
            return 0;
        };
        let mut confirmed = 0;
        let mut newly = 0usize;
        let upto = ack
            .next
            .saturating_sub(front)
            .min(self.flights.len() as u64) as usize;
        for i in 0..upto {
            let flight = &mut self.flights[i];
            if flight.state == State::Done {
                continue;
            }
            newly += self.received(i, now);
            self.flights[i].state = State::Done;
            self.tally.confirmed += 1;
            confirmed += 1;
        }
        for &(first, last) in ack.held {
            let (Some(a), Some(b)) = (first.checked_sub(front), last.checked_sub(front)) else {
                continue;
            };
            for i in a..=b.min(self.flights.len() as u64 - 1) {
                let i = i as usize;
                if self.flights[i].state == State::Sent {
                    newly += self.received(i, now);
                    self.flights[i].state = State::Held;
                    // Its timer now only checks that the listener still
                    // holds it (or brings the base to it).
                    self.flights[i].due = now + self.rtt.rto() * 4;
                }
            }
        }
        if newly > 0 {
            self.cwnd.grow(newly, self.largest);
        }
        self.pop_done();
        confirmed
    }

    /// Flight `i` got to the listener: takes it out of the bytes in flight,
    /// samples the round trip when that is unambiguous (Karn's rule: sent
    /// once), and returns its size if it was counted in flight.
    fn received(&mut self, i: usize, now: Instant) -> usize {
        let flight = &self.flights[i];
        let counted = if flight.state == State::Sent {
            self.in_flight -= flight.bytes.len();
            flight.bytes.len()
        } else {
            0
        };
        if flight.tries == 1 && flight.state == State::Sent {
            let sent = flight.last_sent;
            self.latest_received = Some(self.latest_received.map_or(sent, |t| t.max(sent)));
            self.rtt
                .sample(now.saturating_duration_since(flight.first_sent));
        }
        counted
    }

    /// Another listener process answers now: it has none of what the old
    /// one held, so everything not confirmed goes again, at once.
    fn listener_changed(&mut self, now: Instant) {
        self.tally.restarts += 1;
        for flight in self.flights.iter_mut() {
            if flight.state == State::Held {
                flight.state = State::Sent;
                self.in_flight += flight.bytes.len();
            }
            if flight.state == State::Sent {
                flight.due = now;
            }
        }
        self.latest_received = None;
    }

    /// When the next timer runs out, if anything is in flight.
    pub fn next_due(&self) -> Option<Instant> {
        self.flights
            .iter()
            .filter(|f| f.state != State::Done)
            .map(|f| f.due)
            .min()
    }

    fn pop_done(&mut self) {
        while self.flights.front().is_some_and(|f| f.state == State::Done) {
            self.flights.pop_front();
        }
    }
}

/// What transmitting needs besides the flight.
struct Timing<'a> {
    rto: Duration,
    rng: &'a mut XorShift,
    tally: &'a mut Tally,
}

/// Sends (or resends) one message with the current base and schedules its
/// next try.
fn transmit<E>(
    flight: &mut Flight,
    base: u64,
    timing: Timing<'_>,
    now: Instant,
    send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
) -> Result<(), E> {
    send(&mut flight.bytes, base)?;
    if flight.tries > 0 {
        timing.tally.resent += 1;
    }
    flight.tries += 1;
    flight.last_sent = now;
    flight.due = now + rtt::backoff(timing.rto, flight.tries, timing.rng);
    Ok(())
}

#[cfg(test)]
mod tests;
