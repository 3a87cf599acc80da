//! The congestion window: how many bytes may be in flight, grown and shrunk
//! by what the acks and round trips say (AIMD with slow start, delay-aware).

use std::time::{Duration, Instant};

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

/// The congestion window (bytes), AIMD with slow start.
#[derive(Debug)]
pub(super) struct Cwnd {
    pub(super) bytes: usize,
    ssthresh: usize,
    /// Losses of messages sent before this one count as the same event.
    recover_at: u64,
    /// When the window last shrank for delay.
    delayed_at: Option<Instant>,
}

impl Cwnd {
    /// The window at the start: [`INITIAL_CWND`], in slow start.
    pub(super) fn new() -> Self {
        Cwnd {
            bytes: INITIAL_CWND,
            ssthresh: MAX_CWND,
            recover_at: 0,
            delayed_at: None,
        }
    }

    /// `acked` bytes got through; `queueing`: the round trip says a queue
    /// is building (see [`Rtt::queueing`](crate::reliable::rtt::Rtt::queueing)), which stops the growth.
    pub(super) fn grow(&mut self, acked: usize, queueing: bool) {
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
    pub(super) fn delayed(&mut self, now: Instant, srtt: Duration) {
        if self.delayed_at.is_some_and(|t| now < t + srtt) {
            return;
        }
        self.delayed_at = Some(now);
        self.bytes = ((self.bytes as f64 * DELAY_BACKOFF) as usize).max(MIN_CWND);
        self.ssthresh = self.ssthresh.min(self.bytes);
    }

    /// A message sent as `seq` was lost; `queueing`: the round trip says a
    /// queue is building (see [`Rtt::queueing`](crate::reliable::rtt::Rtt::queueing)). Only such a loss is
    /// congestion: loss on a path without a queue is the link's own, and
    /// backing off for it would only starve the sender.
    pub(super) fn lost(&mut self, seq: u64, next_seq: u64, queueing: bool) {
        if seq < self.recover_at || !queueing {
            return;
        }
        self.bytes = ((self.bytes as f64 * LOSS_BACKOFF) as usize).max(MIN_CWND);
        self.ssthresh = self.bytes;
        self.recover_at = next_seq;
    }
}
