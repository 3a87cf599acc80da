//! udpmsg: UDP datagram messaging and LAN peer discovery.
//!
//! Layers, each knowing only the ones below it:
//!
//! - [`cli`] and [`app`]: the command line, and running a parsed one;
//!   [`output`] is the only place that prints (text or JSON Lines).
//! - [`listen`], [`send`], [`deliver`] (`send --ack`), [`ping`], [`discover`]: what each
//!   subcommand does; they return values and hand events to a sink, never
//!   print. [`source`]: messages from arguments or stdin.
//! - [`event`]: the single-threaded `mio` loop — readiness, deadlines, signals.
//! - [`order`]: exactly-once, in-order display of acknowledged messages.
//! - [`net`]: sockets and their options; [`iface`]: interfaces;
//!   [`addr`]: host and port arguments.
//! - [`wire`]: bytes <-> messages; no sockets, testable on literal bytes.
//!   [`seal`]: the shared-key envelope and replay protection, bytes only.
//!   [`id`]: random ids.
//! - [`error`]: the errors a command ends with and their exit codes.

pub mod addr;
pub mod app;
pub mod cli;
pub mod deliver;
pub mod discover;
pub mod error;
pub mod event;
pub mod id;
pub mod iface;
pub mod listen;
pub mod net;
pub mod order;
pub mod output;
pub mod ping;
pub mod seal;
pub mod send;
pub mod source;
pub mod wire;
