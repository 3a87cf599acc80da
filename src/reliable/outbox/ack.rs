//! Acknowledgements: what the listener confirmed or holds, the round trips
//! they measure, and a listener that changed (restarted).

use super::{AckInfo, DATAGRAM_COST, Outbox, State};
use std::time::Instant;

impl Outbox {
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
}
