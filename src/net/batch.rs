//! Many datagrams per system call: `recvmmsg` into fixed buffers, `sendmmsg`
//! from a queue. The only place that hands the kernel arrays of headers.
//!
//! - `send`: [`SendBatch`] (one destination) and [`ReplyBatch`] (many);
//! - `recv`: [`RecvBatch`] and the [`Received`] buffers it fills.

mod recv;
mod send;

pub use recv::{Datagrams, Received, RecvBatch};
pub use send::{ReplyBatch, SendBatch};

/// Datagrams sent per `sendmmsg` call.
pub const SEND_BATCH: usize = 32;
/// Datagrams received per `recvmmsg` call (fewer while they are big: see
/// [`RECV_HOT_BYTES`]).
pub const RECV_BATCH: usize = 32;
/// While datagrams are big, a `recvmmsg` asks for only as many as fit in
/// this many bytes (but at least 2: callers take a batch of fewer than 2
/// for an empty queue), so the buffers it fills are the same few, still in
/// the cache when the kernel copies into them and when they are read.
/// Filling 32 slots of 64 KiB (2 MiB) instead made the kernel's copy cost
/// twice the C receiver's and the listener's scan of each body read
/// memory: 60 KB datagrams cost 1.47x the CPU of a C `recvfrom` loop
/// with one buffer, 1.34x with this (BENCHMARKS.md, "Goal 5 again").
pub const RECV_HOT_BYTES: usize = 128 * 1024;

#[cfg(test)]
mod tests;
