//! Confirmed delivery without sockets: the sender's window of messages in
//! flight and its timers, and the receiver's per-sender ordering. The
//! commands drive these state machines with real sockets and clocks.
//!
//! - [`outbox`]: messages a sender has in flight, what to resend and when.
//! - [`rtt`]: round-trip estimate, retransmission timeout, backoff, jitter.
//! - [`order`]: exactly-once, in-order release of acknowledged messages.
//! - [`dedup`]: recently shown messages, so a copy is not shown twice.
//! - [`ranges`]: sets of numbers as ranges (held messages, for acks).

pub mod dedup;
pub mod order;
pub mod outbox;
pub mod ranges;
pub mod rtt;
