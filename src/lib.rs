//! udpmsg: UDP datagram messaging and LAN peer discovery.
//!
//! Layers, each knowing only the ones below it:
//!
//! - [`cli`] and [`app`]: the command line, and running a parsed one;
//!   [`output`] is the only place that prints (text or JSON Lines).
//! - [`listen`], [`send`]: what each subcommand does; they return values
//!   and hand events to a sink, never print.
//! - [`event`]: the single-threaded `mio` loop — readiness, deadlines, signals.
//! - [`net`]: sockets and their options; [`addr`]: host and port arguments.
//! - [`wire`]: bytes <-> messages; no sockets, testable on literal bytes.
//! - [`error`]: the errors a command ends with and their exit codes.

pub mod addr;
pub mod app;
pub mod cli;
pub mod error;
pub mod event;
pub mod listen;
pub mod net;
pub mod output;
pub mod send;
pub mod wire;
