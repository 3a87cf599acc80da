//! udpmsg: UDP datagram messaging and LAN peer discovery.
//!
//! Layers, each importing only the ones below it:
//!
//! - [`cli`] (clap definitions) and [`app`] (running a parsed command line:
//!   arguments to configs, results to [`output`], errors to exit codes
//!   with [`error`]). [`output`] turns results into text or JSON Lines;
//!   besides it, only `app` and `main` print (errors, and the lines that
//!   say what a command is doing).
//! - [`commands`]: what each subcommand does (`listen`, `send`, `send
//!   --ack`, `ping`, `discover`, `discover --watch`); they return values
//!   or hand events to a sink, never print, and know nothing of the
//!   command line.
//! - [`reliable`]: confirmed delivery as socket-free state machines (the
//!   sender's outbox and timers, the receiver's ordering).
//! - [`event`]: the single-threaded `mio` loop — readiness, deadlines, signals.
//! - [`net`]: sockets (UDP and Unix-domain), their options, batched I/O,
//!   peer and arrival addresses, interfaces, host arguments. All
//!   system-call `unsafe` lives here (and in the binary's C entry point).
//! - [`seal`]: the shared-key envelope and replay protection, bytes in and
//!   out (its `key` module also reads and writes key files).
//! - [`wire`]: bytes <-> messages; no sockets, testable on literal bytes.
//! - [`util`]: hex, random numbers, words for I/O errors; used everywhere.

pub mod app;
pub mod cli;
pub mod commands;
pub mod error;
pub mod event;
pub mod net;
pub mod output;
pub mod reliable;
pub mod seal;
pub mod util;
pub mod wire;
