//! Finding loss and giving up: what the outbox resends, and when (by the
//! acks' word or by its retransmission timer), and the messages out of
//! patience.

use super::{Outbox, Sending, State};
use crate::reliable::rtt;
use std::time::{Duration, Instant};

impl Outbox {
    /// Resends what is known lost (received-after, or the timer ran out),
    /// gives up on messages out of patience or tries, and nudges the
    /// listener past what was given up.
    pub fn resend_due<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut gave_up = self.give_up_impatient(now);
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
                self.give_up(index);
                gave_up = true;
                continue;
            }
            self.transmit(index, now, send)?;
        }
        if gave_up || self.flights.front().is_some_and(|f| f.state == State::Done) {
            self.pop_done();
        }
        self.nudge(now, send)
    }

    /// Gives up on every message that has been tried for as long as the
    /// patience allows; true if any. A message the listener holds is not
    /// given up (it is shown once the base passes the gap below it, see
    /// [`Self::nudge`]) unless the listener stopped answering.
    fn give_up_impatient(&mut self, now: Instant) -> bool {
        let mut any = false;
        for index in 0..self.flights.len() {
            let flight = &self.flights[index];
            let nudged = flight.nudged_at.is_some();
            let since = flight.nudged_at.unwrap_or(flight.first_sent);
            if now.saturating_duration_since(since) < self.patience.time {
                if nudged {
                    continue;
                }
                // Later messages were first sent later still.
                break;
            }
            if flight.state == State::Sent {
                self.give_up(index);
                any = true;
            }
        }
        any
    }

    /// Gives up on flight `index`. If it was a nudge, the listener has not
    /// answered for a whole patience: what it holds is given up too (it
    /// will not be confirmed, and the outbox must empty).
    fn give_up(&mut self, index: usize) {
        let nudged = self.flights[index].nudged_at.is_some();
        self.finish(index, false);
        if nudged {
            for index in 0..self.flights.len() {
                if self.flights[index].state == State::Held {
                    self.finish(index, false);
                }
            }
        }
    }

    /// When the oldest message not done is one the listener holds (what
    /// was below it was given up), sends it again: it carries the new
    /// base, so the listener stops waiting for what was given up and
    /// releases (and confirms) what it holds now, not after its gap wait.
    /// It goes back on the wire, resent by its timer until confirmed, with
    /// a patience of its own from now.
    fn nudge<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&mut [u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(flight) = self.flights.front_mut() else {
            return Ok(());
        };
        if flight.state != State::Held {
            return Ok(());
        }
        flight.state = State::Sent;
        flight.nudged_at = Some(now);
        self.in_flight += flight.cost();
        self.transmit(0, now, send)
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
        // The first message on the wire sets it (held ones wait for the
        // base; later ones were sent later), or a nudge before it.
        let mut patience: Option<Instant> = None;
        for flight in &self.flights {
            if flight.state != State::Sent {
                continue;
            }
            let due = flight.nudged_at.unwrap_or(flight.first_sent) + self.patience.time;
            patience = Some(patience.map_or(due, |p| p.min(due)));
            if flight.nudged_at.is_none() {
                break;
            }
        }
        [self.timer_due(), patience].into_iter().flatten().min()
    }
}
