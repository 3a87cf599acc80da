//! Finding loss and giving up: what the outbox resends, and when (by the
//! acks' word or by its retransmission timer), and the messages out of
//! patience.

use super::{Outbox, Sending, State};
use crate::reliable::rtt;
use std::time::{Duration, Instant};

impl Outbox {
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
}
