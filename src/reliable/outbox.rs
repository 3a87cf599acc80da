//! The sender's side of confirmed delivery: a window of messages in flight,
//! each resent until acknowledged or given up on. Loss is detected two
//! ways: by acknowledgement (a message sent clearly before one that was
//! acknowledged is resent at once, as TCP's RACK does) and by its own
//! retransmission timer (RFC 6298 estimate with backoff and jitter).

use super::rtt::{self, Rtt};
use crate::util::rng::XorShift;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Messages in flight at once (below the listener's look-ahead window).
pub const WINDOW: u64 = 512;
/// How long one message is retransmitted before it is given up on (unless
/// `retries` stops it sooner). Shorter than the listener's gap wait (6 s),
/// so a listener never skips a message its sender is still trying to deliver.
pub const MESSAGE_PATIENCE: Duration = Duration::from_secs(4);

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

#[derive(Debug)]
struct Flight {
    seq: u64,
    /// The datagram to (re)send, as the caller encoded it.
    bytes: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    due: Instant,
    tries: u32,
    done: bool,
}

/// Counts of what happened to the messages pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages pushed (put on the wire at least once, or about to be).
    pub sent: u64,
    /// Messages acknowledged.
    pub confirmed: u64,
    /// Messages given up on (patience ran out).
    pub given_up: u64,
    /// Retransmissions.
    pub resent: u64,
}

/// Messages in flight to one receiver, oldest first.
#[derive(Debug)]
pub struct Outbox {
    flights: VecDeque<Flight>,
    next_seq: u64,
    rtt: Rtt,
    rng: XorShift,
    patience: Patience,
    /// Send time of the latest-sent message that was acknowledged on its
    /// first try: anything sent clearly before it and still unacknowledged
    /// was lost.
    latest_acked_sent: Option<Instant>,
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
            latest_acked_sent: None,
            tally: Tally::default(),
        }
    }

    /// The sequence number the next pushed message must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// True while the window has room for another message.
    pub fn has_room(&self) -> bool {
        self.flights.front().map_or(0, |f| self.next_seq - f.seq) < WINDOW
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.flights.is_empty()
    }

    /// Messages neither acknowledged nor given up on.
    pub fn in_flight(&self) -> u64 {
        self.flights.iter().filter(|f| !f.done).count() as u64
    }

    /// What happened so far.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Adds message [`Self::next_seq`] (its datagram `bytes`) and sends it
    /// through `send` at once.
    pub fn push<E>(
        &mut self,
        bytes: Vec<u8>,
        now: Instant,
        send: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut flight = Flight {
            seq: self.next_seq,
            bytes,
            first_sent: now,
            last_sent: now,
            due: now,
            tries: 0,
            done: false,
        };
        self.next_seq += 1;
        self.tally.sent += 1;
        transmit(
            &mut flight,
            &self.rtt,
            &mut self.rng,
            &mut self.tally,
            now,
            send,
        )?;
        self.flights.push_back(flight);
        Ok(())
    }

    /// Resends every message whose timer ran out or that is known lost, and
    /// gives up on those out of patience.
    pub fn resend_due<E>(
        &mut self,
        now: Instant,
        send: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let reorder = self.rtt.srtt().map_or(Duration::from_millis(1), |s| s / 4);
        let latest = self.latest_acked_sent;
        let patience = self.patience;
        for flight in self.flights.iter_mut() {
            let lost = latest.is_some_and(|t| flight.last_sent + reorder < t);
            if flight.done || (flight.due > now && !lost) {
                continue;
            }
            let out_of_tries = patience.retries.is_some_and(|r| flight.tries > r)
                || now.saturating_duration_since(flight.first_sent) >= patience.time;
            if out_of_tries {
                flight.done = true;
                self.tally.given_up += 1;
                continue;
            }
            transmit(flight, &self.rtt, &mut self.rng, &mut self.tally, now, send)?;
        }
        self.pop_done();
        Ok(())
    }

    /// Records the acknowledgement of `seq`; true when it confirmed a
    /// message still in flight.
    pub fn on_ack(&mut self, seq: u64, now: Instant) -> bool {
        let Some(base) = self.flights.front().map(|f| f.seq) else {
            return false;
        };
        let Some(flight) = seq
            .checked_sub(base)
            .and_then(|i| self.flights.get_mut(i as usize))
        else {
            return false;
        };
        if flight.done {
            return false;
        }
        flight.done = true;
        self.tally.confirmed += 1;
        // Only an ack of a message sent once says for sure which copy
        // arrived (Karn's rule); others could make sound ones look lost.
        if flight.tries == 1 {
            let sent = flight.last_sent;
            self.latest_acked_sent = Some(self.latest_acked_sent.map_or(sent, |t| t.max(sent)));
            self.rtt
                .sample(now.saturating_duration_since(flight.first_sent));
        }
        self.pop_done();
        true
    }

    /// When the next timer runs out, if anything is in flight.
    pub fn next_due(&self) -> Option<Instant> {
        self.flights.iter().filter(|f| !f.done).map(|f| f.due).min()
    }

    fn pop_done(&mut self) {
        while self.flights.front().is_some_and(|f| f.done) {
            self.flights.pop_front();
        }
    }
}

/// Sends (or resends) one message and schedules its next try.
fn transmit<E>(
    flight: &mut Flight,
    rtt: &Rtt,
    rng: &mut XorShift,
    tally: &mut Tally,
    now: Instant,
    send: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    send(&flight.bytes)?;
    if flight.tries > 0 {
        tally.resent += 1;
    }
    flight.tries += 1;
    flight.last_sent = now;
    flight.due = now + rtt::backoff(rtt.rto(), flight.tries, rng);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn sink(log: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8]) -> Result<(), Infallible> + '_ {
        |b| {
            log.push(b.to_vec());
            Ok(())
        }
    }

    #[test]
    fn acked_messages_leave_and_timers_resend_the_rest() {
        let t0 = Instant::now();
        let mut out = Outbox::new(Patience::default(), 1);
        let mut wire = Vec::new();
        for i in 0..3u8 {
            let Ok(()) = out.push(vec![i], t0, &mut sink(&mut wire));
        }
        assert_eq!(wire, [[0], [1], [2]]);
        assert!(out.on_ack(1, t0 + Duration::from_millis(2)));
        assert!(!out.on_ack(1, t0), "a second ack confirms nothing");
        // 0 was sent before 1, which was acknowledged on its first try: lost,
        // resent at once; 2 went out at the same instant as 1, so it waits.
        let Ok(()) = out.resend_due(t0 + Duration::from_millis(2), &mut sink(&mut wire));
        assert_eq!(
            wire.len(),
            3,
            "sent together with the acked one: not known lost"
        );
        // Long after every timer (30 ms before a sample, jittered).
        let late = t0 + Duration::from_millis(100);
        let Ok(()) = out.resend_due(late, &mut sink(&mut wire));
        assert_eq!(&wire[3..], [[0], [2]]);
        assert_eq!(out.tally().resent, 2);
        assert!(out.on_ack(0, late));
        assert!(out.on_ack(2, late));
        assert!(out.is_empty());
        assert_eq!(out.tally().confirmed, 3);
    }

    #[test]
    fn patience_gives_up_and_frees_the_window() {
        let t0 = Instant::now();
        let mut out = Outbox::new(
            Patience {
                retries: Some(1),
                time: Duration::from_secs(60),
            },
            1,
        );
        let mut wire = Vec::new();
        for i in 0..WINDOW {
            let Ok(()) = out.push(i.to_le_bytes().to_vec(), t0, &mut sink(&mut wire));
        }
        assert!(!out.has_room());
        for step in 1..=2 {
            let now = t0 + Duration::from_secs(step);
            let Ok(()) = out.resend_due(now, &mut sink(&mut wire));
        }
        assert!(
            out.is_empty(),
            "every message was given up on after one retry"
        );
        assert!(out.has_room());
        assert_eq!(out.tally().given_up, WINDOW);
        assert_eq!(wire.len() as u64, 2 * WINDOW);
    }
}
