//! `udpmsg chat`: a room of members on one port, found by presence, each
//! message confirmed by every member present when it was sent.
//!
//! A member is a listener and a sender on one socket pair (the room's port
//! on every address, or, when another member of this host has that port,
//! a port of its own that its hellos announce): it shows the messages it
//! receives, in order and once each, and acknowledges them after they were
//! shown (by `listen`'s handler), answers pings and probes, and
//! sends its own messages to every
//! member through one confirmed-delivery stream each ([`room`]). Members
//! find each other by presence ([`members`]): each announces itself with
//! hellos carrying the room, on the port's presence port, and says goodbye
//! when it leaves.
//!
//! Chat messages are ordinary udpmsg messages: `udpmsg listen --announce`
//! on a member's port (in the default room, the port's own) is a member
//! that only listens, and `udpmsg send` to a member's address shows in its
//! chat.
//!
//! - here: the event loop ([`Chat`]): readiness, timers, stopping;
//! - `setup`: the sockets, presence ears and announcer a member starts with;
//! - `receive`: what arrives on the chat sockets (messages, acks, answers,
//!   welcomes);
//! - `heard`: what arrives on the presence port, and who came and went;
//! - `input`: input lines, and what each asks for;
//! - `transmit`: this member's datagrams on their way out, and its
//!   messages resolved;
//! - `sink`: what a member hands to its output;
//! - [`members`]: who is in the room, and how names are shown;
//! - [`room`]: which member confirmed which message;
//! - [`command`]: what an input line asks for.

pub mod command;
mod heard;
mod input;
pub mod members;
mod receive;
pub mod room;
mod setup;
mod sink;
mod transmit;

pub use sink::{Event, Note, Present, Sink, Stats};

use super::Error;
use super::listen::announce::{self, Announcer};
use super::listen::handler::Handler;
use super::listen::limit::RateLimiter;
use super::presence::{Ears, IFACE_POLL};
use super::source::Source;
use crate::event::{EventLoop, Wake, token};
use crate::net::{DatagramSocket, RecvBatch};
use crate::reliable::outbox::Patience;
use crate::seal::{Incoming, Key, Outgoing};
use crate::wire;
use members::{Change, Members};
use mio::{Token, Waker};
use room::Room;
use setup::ear_interfaces;
use sink::{Guarded, Quiet, Shown};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The chat sockets are tokens 0 and 1 (IPv4, IPv6).
const SOCKETS: usize = 2;
const EAR_V4: Token = token(2);
const EAR_V6: Token = token(3);
const INPUT: Token = token(4);

/// Default time between a member's hellos (its presence lasts three).
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5);
/// Messages taken per second from one address (and burst): more are
/// dropped unread, so a flooding sender's confirmed messages wait (its
/// retransmissions slow it down) and its others are lost. A member paces
/// what it sends each member below this ([`room::PACE`]).
pub const TEXTS_PER_SOURCE: u32 = 50;
/// Messages taken per second over all addresses (and burst).
pub const TEXTS_TOTAL: u32 = 1000;
/// Welcomes (this member's hello, sent to a newcomer alone) per second to
/// one address, and in all: a forged newcomer's source gets a few hellos.
pub const WELCOMES_PER_SOURCE: u32 = 4;
pub const WELCOMES_TOTAL: u32 = 50;
/// Datagrams read from one socket per turn before the others get theirs.
const READ_BUDGET: usize = 64;
/// A name a member takes is at most this long (as a listener's).
pub const MAX_NAME: usize = wire::MAX_NAME;
/// After its start burst of hellos, a member waits this long more for the
/// last welcomes before it reads input ([`start_wait`]).
pub const START_GRACE: Duration = Duration::from_millis(250);

/// How long after its start a member reads no input: its start burst of
/// hellos (each answered by every member with a welcome) and
/// [`START_GRACE`], so that its first message goes to the room as it is,
/// not to the nobody a member knows before it heard anyone.
pub fn start_wait(every: Duration) -> Duration {
    (1..announce::BURST)
        .map(|sent| announce::gap_after(sent, every, 0.0))
        .sum::<Duration>()
        + START_GRACE
}

/// How a member behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    /// The room's port: hellos go to the presence port after it. The
    /// member's sockets are bound to it, or to a port of their own when
    /// another member of this host has it.
    pub port: u16,
    /// The room label its hellos carry (empty: the port's room).
    pub room: String,
    pub key: Option<Key>,
    /// Time between hellos.
    pub every: Duration,
    /// When to give up on one message to one member.
    pub patience: Patience,
    /// How long a member's message waits for a missing earlier one.
    pub gap_wait: Duration,
    /// Stop cleanly (goodbye said) on SIGINT, SIGTERM and SIGHUP (the
    /// terminal went away).
    pub catch_signals: bool,
    /// `--interface`: members are heard, and hellos sent, on this
    /// interface only (the sockets given are bound to it).
    pub interface: Option<String>,
}

/// Where input lines come from.
pub enum Input<'a> {
    /// Typed in a line editor on another thread: each line arrives on the
    /// channel, which wakes the loop through [`Chat::waker`]; the channel
    /// closing ends the input.
    Typed(Receiver<Vec<u8>>),
    /// Lines of stdin, read through the loop.
    Piped(&'a mut dyn Source),
}

/// Why a chat ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `/quit`, or the input ended.
    Quit,
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// The output failed ([`Ended::output_error`]).
    Output,
}
/// How a chat ended.
#[derive(Debug)]
pub struct Ended {
    pub stop: Stop,
    pub stats: Stats,
    pub output_error: Option<io::Error>,
}

/// One member of a room: its sockets, its presence, its messages.
pub struct Chat {
    sockets: Vec<DatagramSocket>,
    /// The address each socket is bound to.
    locals: Vec<SocketAddr>,
    /// The port the sockets are bound to: the room's, or one of their own.
    port: u16,
    /// The room's port.
    room_port: u16,
    ears: Ears,
    /// `--interface`'s index: hellos that came in on another are not heard.
    only: Option<u32>,
    events: EventLoop,
    batch: RecvBatch,
    incoming: Incoming,
    presence_in: Incoming,
    /// Seals this member's messages.
    outgoing: Outgoing,
    handler: Handler,
    announce: announce::Config,
    announcer: Announcer,
    members: Members,
    room: Room,
    texts: RateLimiter,
    hellos: RateLimiter,
    welcomes: RateLimiter,
    patience: Patience,
    next_join: Instant,
    /// Input is not read before this ([`start_wait`]).
    settled_at: Instant,
    /// The token of this member's probes (members near expiry are asked).
    probe_token: u64,
    /// Set by `/quit` or the end of input: leave once every message is
    /// resolved, or at this time.
    leave_by: Option<Instant>,
    /// Input waits for the room's pacing ([`room::PACE`]) until then.
    paced: Option<Instant>,
    /// The room was said to be full (once).
    said_full: bool,
    stats: Stats,
    buf: Vec<u8>,
    changes: Vec<Change>,
}
impl Chat {
    /// This member's instance (its hellos, acks and messages carry it).
    pub fn instance(&self) -> u64 {
        self.handler.instance()
    }

    /// The addresses the chat sockets are bound to.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.locals
    }

    /// A waker for [`Input::Typed`]: the line editor's thread wakes the
    /// loop with it after each line it sends (and when it ends).
    pub fn waker(&self) -> io::Result<Arc<Waker>> {
        Ok(Arc::new(Waker::new(self.events.registry(), INPUT)?))
    }

    /// Runs until `/quit`, the end of the input, a signal or the output
    /// failing; says goodbye on the way out.
    pub fn run(&mut self, mut input: Input<'_>, sink: &mut dyn Sink) -> Result<Ended, Error> {
        let mut out = Guarded { sink, error: None };
        // The chat sockets (bits 0 and 1, those there are: one family may
        // be missing) and the presence sockets (2, 3) may hold datagrams.
        let mut unread: u64 = ((1 << self.sockets.len()) - 1) | (1 << EAR_V4.0) | (1 << EAR_V6.0);
        let mut input_ready = true;
        let stop = loop {
            let now = Instant::now();
            self.read(&mut unread, &mut out)?;
            self.presence(now, &mut out);
            let announced = self.announcer.tick(now, &mut Quiet);
            if announced.is_err() {
                break Stop::Output;
            }
            if now >= self.next_join {
                self.next_join = now + IFACE_POLL;
                let _ = self.ears.join(&ear_interfaces(self.only));
            }
            self.deliver(now, &mut out);
            let gaps = {
                let mut shown = Shown::new(&self.members, &mut out, &mut self.stats);
                self.handler.release_gaps(now, false, &mut shown)
            };
            if gaps.is_err() {
                break Stop::Output;
            }
            // Input waits for the room to be heard: a first message read
            // at once would go to nobody.
            let settling = now < self.settled_at;
            if input_ready && !settling {
                input_ready = self.input(&mut input, &mut out)?;
            }
            if out.error.is_some() {
                break Stop::Output;
            }
            if let Some(by) = self.leave_by
                && (self.room.is_idle() || now >= by)
            {
                break Stop::Quit;
            }
            let wake_at = [
                self.members.next_deadline(),
                Some(self.announcer.next_deadline()),
                self.room.next_due(),
                self.handler.next_deadline(),
                self.leave_by,
                self.paced,
                Some(self.next_join),
                settling.then_some(self.settled_at),
            ]
            .into_iter()
            .flatten()
            .min();
            let wake = if unread != 0 {
                self.events.poll_now()?
            } else {
                // About to sleep: what was shown is written out now.
                if let Err(e) = out.flush() {
                    out.error.get_or_insert(e);
                    break Stop::Output;
                }
                self.events.wait(wake_at)?
            };
            match wake {
                Wake::Ready(bits) => {
                    unread |= bits & 0b1111;
                    if bits & (1 << INPUT.0) != 0 {
                        if let Input::Piped(source) = &mut input {
                            source.readable();
                        }
                        input_ready = true;
                    }
                }
                Wake::Timeout => {}
                Wake::Signal(s) => break Stop::Signal(s),
            }
            // Room to send again may have come with acks, give-ups or time.
            input_ready |= self.room.has_room(Instant::now()) && self.leave_by.is_none();
        };
        if stop == Stop::Quit {
            // Out of time: what is still unconfirmed was not delivered.
            self.room.give_up_all();
            self.deliver(Instant::now(), &mut out);
        }
        {
            let mut shown = Shown::new(&self.members, &mut out, &mut self.stats);
            let _ = self.handler.release_gaps(Instant::now(), true, &mut shown);
        }
        let _ = self.announcer.goodbye(&mut Quiet);
        if let Err(e) = out.flush()
            && out.error.is_none()
        {
            out.error = Some(e);
        }
        let stop = if out.error.is_some() {
            Stop::Output
        } else {
            stop
        };
        Ok(Ended {
            stop,
            stats: self.stats.clone(),
            output_error: out.error,
        })
    }
}
