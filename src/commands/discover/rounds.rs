//! Probe rounds: when each goes out, and sending one to every target.

use super::{MAX_ANSWER, Scanner, Trace};
use crate::commands::presence::{presence_port, send_everywhere};
use crate::wire::{self, Message, Probe};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// When each probe round goes out, from the start: repeats survive loss.
pub const ROUNDS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(500),
];
/// After [`ROUNDS`], a longer scan keeps probing (for listeners whose
/// probe or answer was lost): every this long until [`STEADY_UNTIL`]...
pub const STEADY_EVERY: Duration = Duration::from_millis(100);
/// ...and from then on at doubling gaps, at most [`MAX_ROUND_GAP`] apart.
pub const STEADY_UNTIL: Duration = Duration::from_secs(3);
/// The longest gap between two probe rounds.
pub const MAX_ROUND_GAP: Duration = Duration::from_secs(5);

/// When probe round `round` goes out, from the start of the scan: the
/// fixed [`ROUNDS`], then every [`STEADY_EVERY`] until [`STEADY_UNTIL`],
/// then backing off. At 30% loss each way a listener is heard in a round
/// about half the time, so a 3 s scan gets 27 chances at each.
pub fn round_at(round: usize) -> Duration {
    if let Some(&at) = ROUNDS.get(round) {
        return at;
    }
    let last_fixed = ROUNDS[ROUNDS.len() - 1];
    let steady = (round - ROUNDS.len() + 1) as u32;
    let at = last_fixed + STEADY_EVERY * steady;
    if at <= STEADY_UNTIL {
        return at;
    }
    // Past the steady phase: gaps double from STEADY_EVERY.
    let steady_rounds = ((STEADY_UNTIL - last_fixed).as_millis() / STEADY_EVERY.as_millis()) as u32;
    let mut at = last_fixed + STEADY_EVERY * steady_rounds;
    let mut gap = STEADY_EVERY;
    for _ in steady_rounds..steady {
        gap = (gap * 2).min(MAX_ROUND_GAP);
        at += gap;
    }
    at
}

impl Scanner<'_> {
    /// When the next probe round is due, if one is left before the deadline.
    pub(super) fn next_round(&self) -> Option<Instant> {
        Some(self.start + round_at(self.sent_at.len())).filter(|t| *t < self.deadline)
    }

    /// Sends one probe to every target (see [`send_everywhere`]).
    pub(super) fn send_round(&mut self, now: Instant, trace: &mut dyn FnMut(&Trace<'_>)) {
        let pad = [0u8; MAX_ANSWER];
        let mut probe = Vec::with_capacity(MAX_ANSWER);
        let message = Message::Probe(Probe {
            instance: self.instance,
            token: self.token_base | self.sent_at.len() as u64,
            pad: &pad[..MAX_ANSWER - wire::PROBE_OVERHEAD],
        });
        let _ = wire::encode(&message, wire::MAX_DATAGRAM_V4, &mut probe);
        self.sent_at.push(now);
        // The port, and its presence port: chat members that share their
        // host with another one answer there (PROTOCOL.md 7, Chat).
        for port in [Some(self.config.port), presence_port(self.config.port)]
            .into_iter()
            .flatten()
        {
            send_everywhere(
                Some(&self.v4),
                self.v6.as_ref(),
                &self.targets,
                port,
                &probe,
                &mut self.envelope.outgoing,
                &mut |target, to, sent| report(sent, &target.interface, to, trace),
            );
        }
    }
}

fn report(
    result: io::Result<usize>,
    interface: &str,
    to: SocketAddr,
    trace: &mut dyn FnMut(&Trace<'_>),
) {
    match result {
        Ok(_) => trace(&Trace::Sent { interface, to }),
        Err(error) => trace(&Trace::SendFailed {
            interface,
            to,
            error: &error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_coming_until_the_deadline_then_back_off() {
        let ms = |n| Duration::from_millis(n);
        let firsts: Vec<Duration> = (0..6).map(round_at).collect();
        assert_eq!(firsts, [ms(0), ms(100), ms(500), ms(600), ms(700), ms(800)]);
        let within_3s = (0..100).take_while(|&r| round_at(r) < ms(3000)).count();
        assert_eq!(within_3s, 27);
        // Then the gaps double, up to MAX_ROUND_GAP.
        let after: Vec<Duration> = (28..34).map(round_at).collect();
        assert_eq!(
            after,
            [ms(3200), ms(3600), ms(4400), ms(6000), ms(9200), ms(14200)]
        );
        assert!((0..200).all(|r| round_at(r + 1) > round_at(r)));
    }
}
