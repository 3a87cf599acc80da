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

use super::rtt::{self, Rtt};
use crate::util::rng::XorShift;
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
/// The congestion window at the start, in bytes.
pub const INITIAL_CWND: usize = 64 << 10;
/// The congestion window never shrinks below this (nor below one message).
pub const MIN_CWND: usize = 16 << 10;
/// Nor grows beyond this: a listener's receive queue must hold it.
pub const MAX_CWND: usize = 8 << 20;
/// On loss the window keeps this fraction of itself.
pub const LOSS_BACKOFF: f64 = 0.7;
/// While the round trip shows a queue, the window keeps this fraction of
/// itself per round trip.
pub const DELAY_BACKOFF: f64 = 0.9;
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

/// The congestion window (bytes), AIMD with slow start.
#[derive(Debug)]
struct Cwnd {
    bytes: usize,
    ssthresh: usize,
    /// Losses of messages sent before this one count as the same event.
    recover_at: u64,
    /// When the window last shrank for delay.
    delayed_at: Option<Instant>,
}

impl Cwnd {
    /// `acked` bytes got through; `queueing`: the round trip says a queue
    /// is building (see [`Rtt::queueing`]), which stops the growth.
    fn grow(&mut self, acked: usize, queueing: bool) {
        if queueing {
            // Delay is the first sign of congestion: more would only
            // lengthen the queue (and take a share from others' flows).
            return;
        }
        let step = if self.bytes < self.ssthresh {
            acked
        } else {
            (1500 * acked / self.bytes.max(1)).max(1)
        };
        self.bytes = (self.bytes + step).min(MAX_CWND);
    }

    /// The round trip says a queue is building: the window gives up
    /// [`DELAY_BACKOFF`] of itself, once per round trip, so a flow that
    /// keeps a queue full (TCP) gets the link's share it asks for, and our
    /// own queue stays short.
    fn delayed(&mut self, now: Instant, srtt: Duration) {
        if self.delayed_at.is_some_and(|t| now < t + srtt) {
            return;
        }
        self.delayed_at = Some(now);
        self.bytes = ((self.bytes as f64 * DELAY_BACKOFF) as usize).max(MIN_CWND);
        self.ssthresh = self.ssthresh.min(self.bytes);
    }

    /// A message sent as `seq` was lost; `queueing`: the round trip says a
    /// queue is building (see [`Rtt::queueing`]). Only such a loss is
    /// congestion: loss on a path without a queue is the link's own, and
    /// backing off for it would only starve the sender.
    fn lost(&mut self, seq: u64, next_seq: u64, queueing: bool) {
        if seq < self.recover_at || !queueing {
            return;
        }
        self.bytes = ((self.bytes as f64 * LOSS_BACKOFF) as usize).max(MIN_CWND);
        self.ssthresh = self.bytes;
        self.recover_at = next_seq;
    }
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
            cwnd: Cwnd {
                bytes: INITIAL_CWND,
                ssthresh: MAX_CWND,
                recover_at: 0,
                delayed_at: None,
            },
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

    /// Resends what is known lost (received-after, or the timer ran out),
    /// and gives up on messages out of patience.
    pub fn resend_due<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let gave_up = self.give_up_impatient(now);
        let reorder = self.rtt.srtt().map_or(Duration::from_millis(1), |s| s / 4);
        // After a listener change everything on the wire goes again now;
        // otherwise, when the timer ran out, whatever was sent a timeout ago.
        let restarted = std::mem::take(&mut self.resend_all);
        let timer = restarted || self.timer_due().is_some_and(|t| t <= now);
        if timer && !restarted {
            self.timeouts += 1;
            self.progress_at = now;
        }
        let rto = if restarted {
            Duration::ZERO
        } else {
            self.rtt.rto()
        };
        // Transmissions lost by the acks' word, or by the timer: all sent
        // a timeout ago and not heard of. Only those made before this pass:
        // a resend goes to the back of the queue.
        let before = self.transmissions;
        while let Some((sending, index)) = self.oldest_sending() {
            if sending.number >= before {
                break;
            }
            let (sent, seq) = (sending.at, sending.seq);
            let by_ack = self.latest_received.is_some_and(|t| sent + reorder < t);
            let by_timer = timer && sent + rto <= now;
            if !by_ack && !by_timer {
                break;
            }
            self.sendings.pop_front();
            if by_ack {
                self.cwnd.lost(seq, self.next_seq, self.rtt.queueing());
            }
            let flight = &self.flights[index];
            if self.patience.retries.is_some_and(|r| flight.tries > r) {
                self.finish(index, false);
                continue;
            }
            self.transmit(index, now, send)?;
        }
        if gave_up || self.flights.front().is_some_and(|f| f.state == State::Done) {
            self.pop_done();
            self.nudge(now, send)?;
        }
        Ok(())
    }

    /// Gives up on every message that has been tried for as long as the
    /// patience allows; true if any.
    fn give_up_impatient(&mut self, now: Instant) -> bool {
        let mut any = false;
        for index in 0..self.flights.len() {
            let flight = &self.flights[index];
            if now.saturating_duration_since(flight.first_sent) < self.patience.time {
                // Later messages were first sent later still.
                break;
            }
            if flight.state != State::Done {
                self.finish(index, false);
                any = true;
            }
        }
        any
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
        for index in 0..upto {
            if self.flights[index].state == State::Done {
                continue;
            }
            newly += self.received(index, now);
            self.finish(index, true);
            confirmed += 1;
        }
        let last = self.flights.len() as u64 - 1;
        for &(first, end) in ack.held {
            let (Some(a), Some(b)) = (first.checked_sub(front), end.checked_sub(front)) else {
                continue;
            };
            for index in a..=b.min(last) {
                let index = index as usize;
                if self.flights[index].state == State::Sent {
                    newly += self.received(index, now);
                    self.in_flight -= self.flights[index].cost();
                    self.flights[index].state = State::Held;
                }
            }
        }
        if newly > 0 {
            let queueing = self.rtt.queueing();
            self.cwnd.grow(newly, queueing);
            if queueing {
                self.cwnd.delayed(now, self.rtt.srtt().unwrap_or_default());
            }
        }
        if newly > 0 || confirmed > 0 {
            // Progress: the timer starts over.
            self.progress_at = now;
            self.timeouts = 0;
        }
        self.pop_done();
        confirmed
    }

    /// Flight `index` got to the listener: samples the round trip when that
    /// is unambiguous (Karn's rule: sent once) and returns its cost if it
    /// was in flight.
    fn received(&mut self, index: usize, now: Instant) -> usize {
        let flight = &self.flights[index];
        if flight.state != State::Sent {
            return 0;
        }
        if flight.tries == 1 {
            let sent = flight.last_sent;
            self.latest_received = Some(self.latest_received.map_or(sent, |t| t.max(sent)));
            self.rtt
                .sample(now.saturating_duration_since(flight.first_sent));
        }
        flight.cost()
    }

    /// Another listener process answers now: it has none of what the old
    /// one held, so everything not confirmed goes again, at once.
    fn listener_changed(&mut self, now: Instant) {
        self.tally.restarts += 1;
        let mut held_again = Vec::new();
        for flight in self.flights.iter_mut() {
            if flight.state == State::Held {
                flight.state = State::Sent;
                self.in_flight += flight.bytes.len() + DATAGRAM_COST;
                // Stands for it again as of now.
                held_again.push((flight.seq, flight.tries));
            }
        }
        for (seq, tries) in held_again {
            self.record(now, seq, tries);
        }
        // Everything not confirmed goes again on the next pass.
        self.resend_all = true;
        self.latest_received = None;
    }

    /// When the retransmission timer runs out, if anything is on the wire.
    fn timer_due(&mut self) -> Option<Instant> {
        let (Sending { at: sent, .. }, _) = self.oldest_sending()?;
        let rto = rtt::backoff(self.rtt.rto(), self.timeouts + 1, &mut self.rng);
        Some(sent.max(self.progress_at) + rto)
    }

    /// When something is next due: the timer, or the oldest message's
    /// patience running out.
    pub fn next_due(&mut self) -> Option<Instant> {
        let patience = self
            .flights
            .iter()
            .find(|f| f.state != State::Done)
            .map(|f| f.first_sent + self.patience.time);
        [self.timer_due(), patience].into_iter().flatten().min()
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
