//! Round-trip estimation and retransmission timing: RFC 6298's estimator
//! (fed only by unambiguous samples, Karn's rule), doubling backoff with a
//! LAN-sized ceiling, and jitter so senders that lost the same datagrams do
//! not retry in lockstep.

use crate::util::rng::XorShift;
use std::time::Duration;

/// Retransmission timeout before any round trip was measured.
pub const INITIAL_RTO: Duration = Duration::from_millis(30);
/// Lower bound of the retransmission timeout (before backoff): losses are
/// mostly found by acks (RACK); the timer is for the last messages of a
/// burst, and must not fire while a busy listener (or a busy machine) is
/// merely slow.
pub const MIN_RTO: Duration = Duration::from_millis(10);
/// Upper bound of the retransmission timeout (before backoff).
pub const MAX_RTO: Duration = Duration::from_millis(250);
/// Largest backed-off wait between two tries of one message: on a LAN, loss
/// is rarely congestion, and a long wait on the oldest message stalls the
/// whole window.
pub const MAX_BACKOFF: Duration = Duration::from_millis(50);
/// Jitter added to each backed-off wait: up to this fraction of it.
pub const JITTER: f64 = 0.25;
/// How much a round trip may exceed twice the least one before a queue is
/// assumed (scheduling noise on a busy host is about this large).
pub const QUEUE_SLACK: Duration = Duration::from_millis(1);
/// A smoothed round trip above this means a queue whatever the least one
/// seen: no LAN hop takes this long without one, and a queue that another
/// flow (a TCP transfer) keeps full from before our first sample raises
/// the least round trip too, so the relative test alone never sees it.
pub const QUEUE_RTT: Duration = Duration::from_millis(10);

/// Round-trip estimate (RFC 6298), and the least round trip seen (the
/// path without queues).
#[derive(Debug, Default, Clone)]
pub struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
    min: Option<Duration>,
}

impl Rtt {
    /// Adds one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The smoothed round trip, once one was measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// True when the smoothed round trip is well above the least one seen,
    /// or above [`QUEUE_RTT`]: a queue is building somewhere on the path.
    /// Loss without a queue is the link's (radio, a bad cable, a lossy
    /// hop), not congestion.
    pub fn queueing(&self) -> bool {
        match (self.srtt, self.min) {
            (Some(srtt), Some(min)) => srtt > min * 2 + QUEUE_SLACK || srtt > QUEUE_RTT,
            _ => false,
        }
    }

    /// The retransmission timeout: SRTT + 4·RTTVAR, clamped to
    /// [`MIN_RTO`]..=[`MAX_RTO`]; [`INITIAL_RTO`] before any sample.
    pub fn rto(&self) -> Duration {
        match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => (srtt + self.rttvar * 4).clamp(MIN_RTO, MAX_RTO),
        }
    }
}

/// How long to wait after try number `tries` (1 for the first send) before
/// the next: the timeout doubled per try, at most [`MAX_BACKOFF`] (or the
/// timeout itself on a path slower than a LAN), plus up to [`JITTER`].
pub fn backoff(rto: Duration, tries: u32, rng: &mut XorShift) -> Duration {
    let doubled = rto
        .saturating_mul(1 << tries.saturating_sub(1).min(16))
        .min(MAX_BACKOFF.max(rto));
    doubled + doubled.mul_f64(rng.next_fraction() * JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn estimator_follows_rfc_6298() {
        let mut rtt = Rtt::default();
        assert_eq!(rtt.rto(), INITIAL_RTO);
        rtt.sample(10 * MS);
        // First sample: SRTT = R, RTTVAR = R/2, RTO = R + 4·R/2 = 30 ms.
        assert_eq!(rtt.srtt(), Some(10 * MS));
        assert_eq!(rtt.rto(), 30 * MS);
        rtt.sample(18 * MS);
        // RTTVAR = 3/4·5 + 1/4·8 = 5.75; SRTT = 7/8·10 + 1/8·18 = 11.
        assert_eq!(rtt.srtt(), Some(11 * MS));
        assert_eq!(rtt.rto(), 11 * MS + Duration::from_micros(5750) * 4);
    }

    #[test]
    fn a_round_trip_well_above_the_least_means_a_queue() {
        let mut rtt = Rtt::default();
        assert!(!rtt.queueing());
        for _ in 0..20 {
            rtt.sample(Duration::from_micros(100));
        }
        assert!(!rtt.queueing());
        for _ in 0..20 {
            rtt.sample(5 * MS);
        }
        assert!(rtt.queueing(), "{:?}", rtt.srtt());
    }

    #[test]
    fn rto_is_clamped() {
        let mut fast = Rtt::default();
        fast.sample(Duration::from_micros(10));
        assert_eq!(fast.rto(), MIN_RTO);
        let mut slow = Rtt::default();
        slow.sample(Duration::from_secs(2));
        assert_eq!(slow.rto(), MAX_RTO);
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_bounded_jitter() {
        let mut rng = XorShift::new(7);
        for _ in 0..200 {
            let first = backoff(10 * MS, 1, &mut rng);
            assert!((10 * MS..=(10 * MS).mul_f64(1.0 + JITTER)).contains(&first));
            let third = backoff(10 * MS, 3, &mut rng);
            assert!((40 * MS..=(40 * MS).mul_f64(1.0 + JITTER)).contains(&third));
            let many = backoff(10 * MS, 30, &mut rng);
            assert!((MAX_BACKOFF..=MAX_BACKOFF.mul_f64(1.0 + JITTER)).contains(&many));
            // On a slow path the ceiling is the timeout itself.
            let slow = backoff(200 * MS, 5, &mut rng);
            assert!((200 * MS..=(200 * MS).mul_f64(1.0 + JITTER)).contains(&slow));
        }
        // Jitter really varies.
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| backoff(10 * MS, 1, &mut rng)).collect();
        assert!(spread.len() > 10);
    }
}
