//! `udpmsg chat`: a room of members on one port, found by presence, each
//! message confirmed by every member present when it was sent.
//!
//! A member is a listener and a sender on one socket pair (the room's port
//! on every address, or, when another member of this host has that port,
//! a port of its own that its hellos announce): it shows the messages it
//! receives, in order and once each, and acknowledges them after they were
//! shown ([`Handler`], as `listen` does), answers pings and probes, and
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
//! - here: the event loop ([`Chat`]): sockets, input lines, timers;
//! - [`members`]: who is in the room, and how names are shown;
//! - [`room`]: which member confirmed which message;
//! - [`command`]: what an input line asks for.

pub mod command;
pub mod members;
pub mod room;

use super::Error;
use super::discover::{MAX_ANSWER, hello_refused};
use super::listen::announce::{self, Announcer};
use super::listen::handler::{Handler, Origin};
use super::listen::limit::RateLimiter;
use super::listen::{self, truncate_name};
use super::presence::{Ears, HELLOS_PER_SOURCE, HELLOS_TOTAL, IFACE_POLL, presence_port};
use super::source::{Next, Source};
use crate::event::{EventLoop, Wake, token};
use crate::net::DatagramSocket;
use crate::net::{self, RecvBatch, iface};
use crate::reliable::outbox::Patience;
use crate::seal::{Envelope, Incoming, Key, Opened, Outgoing};
use crate::wire::{self, Message};
use command::Line;
use members::{Change, Lookup, Member, Members, Who};
use mio::net::UdpSocket;
use mio::{Interest, Token, Waker};
use room::{Room, Sent, Transmit};
use socket2::SockAddr;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

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

/// A member as `/who` shows it.
#[derive(Debug)]
pub struct Present<'a> {
    pub who: Who<'a>,
    pub addrs: &'a [SocketAddr],
    /// Since it was last heard.
    pub ago: Duration,
}

/// Something local to say: hints and refusals.
#[derive(Debug)]
pub enum Note<'a> {
    /// `/something` that is not a command.
    Unknown(&'a [u8]),
    /// A command used wrongly.
    Usage(&'static str),
    /// `/msg NAME`: nobody (or several members) has that name.
    NoSuchMember { name: &'a str, ambiguous: bool },
    /// A line longer than [`room::MAX_MESSAGE`]: not sent.
    TooLarge { len: usize, max: usize },
    /// `/name`: too long.
    BadName { len: usize, max: usize },
    /// The room is full: a newcomer is not a member.
    Full { max: usize },
}

/// One thing to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// A message from someone.
    Message {
        at: SystemTime,
        from: SocketAddr,
        who: Who<'a>,
        body: &'a [u8],
        sender: u64,
        seq: u64,
    },
    /// Messages of a sender that never arrived (it gave them up).
    Gap {
        at: SystemTime,
        from: SocketAddr,
        who: Who<'a>,
        sender: u64,
        first: u64,
        last: u64,
    },
    /// This member sent a message (to `to` only, for `/msg`).
    Sent {
        at: SystemTime,
        number: u64,
        me: Who<'a>,
        to: Option<Who<'a>>,
        body: &'a [u8],
    },
    /// A message this member sent was confirmed by every recipient, or
    /// not by all of them, or went to nobody: [`Sent::delivered`].
    Resolved {
        at: SystemTime,
        sent: &'a Sent,
        /// This member, under the name it sent it with.
        me: Who<'a>,
    },
    Joined {
        at: SystemTime,
        who: Who<'a>,
        addr: SocketAddr,
    },
    /// It left: said goodbye, or `expired` (no longer heard).
    Left {
        at: SystemTime,
        who: Who<'a>,
        expired: bool,
    },
    /// A member took a new name (`/name`); `mine`: this member did.
    Renamed {
        at: SystemTime,
        old: &'a str,
        who: Who<'a>,
        mine: bool,
    },
    /// `/who`'s answer.
    Members {
        me: Who<'a>,
        members: &'a [Present<'a>],
    },
    Note(Note<'a>),
}

/// Where a member's events go: the output layer implements it.
pub trait Sink {
    /// Shows one event. An error stops the chat.
    fn event(&mut self, event: &Event<'_>) -> io::Result<()>;
    /// Write out what was shown: acknowledgements follow.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

/// What a member did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent (each once, to however many members).
    pub sent: u64,
    /// Of those, confirmed by every recipient.
    pub delivered: u64,
    /// Of those, not confirmed by some recipient.
    pub not_delivered: u64,
    /// Messages received and shown.
    pub received: u64,
    /// Messages dropped over the per-address rate limit.
    pub rate_limited: u64,
    /// Hellos and goodbyes refused (key rules, malformed, rate limit).
    pub presence_refused: u64,
    /// Sends the system refused (counted as losses).
    pub send_errors: u64,
    /// Input lines refused (too long, an unknown command, a command used
    /// wrongly, `/msg` to nobody): said as a note, nothing sent.
    pub refused: u64,
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
    /// A member on already-bound, non-blocking sockets (one per address
    /// family, as [`net::bind_listeners`] makes them for `[::]`, with
    /// arrival information), all on one port: the room's
    /// ([`Config::port`], which has a presence port), or one of their own.
    /// It hears and announces on the families of those sockets only (and
    /// on [`Config::interface`] only, to which they are bound).
    /// Announces nothing until [`Self::run`].
    pub fn new(sockets: Vec<UdpSocket>, config: Config) -> io::Result<Self> {
        if sockets.is_empty() || sockets.len() > SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a chat takes one socket per address family",
            ));
        }
        let locals = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        // As the listener's handler takes them.
        let mut sockets: Vec<DatagramSocket> = sockets.into_iter().map(Into::into).collect();
        let events = if config.catch_signals {
            EventLoop::catching(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?
        } else {
            EventLoop::catching(&[])?
        };
        crate::event::precise_timers();
        for (i, socket) in sockets.iter_mut().enumerate() {
            events
                .registry()
                .register(socket, token(i), Interest::READABLE)?;
        }
        let port = locals.first().map_or(0, |a| a.port());
        let room_port = config.port;
        let ear_port = presence_port(room_port).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no presence port after 65535")
        })?;
        let only = match config.interface.as_deref() {
            Some(name) => Some(iface::interface_index(name).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no interface {name}"))
            })?),
            None => None,
        };
        let ipv4 = locals.iter().any(|a| a.is_ipv4());
        let ipv6 = locals.iter().any(|a| a.is_ipv6());
        let (mut ears, deaf) = Ears::bind(ear_port);
        // A family the member does not use is not listened to either.
        if !ipv4 {
            ears.v4 = None;
        }
        if !ipv6 {
            ears.v6 = None;
        }
        if let Some((addr, e)) = deaf
            .into_iter()
            .find(|(addr, _)| if addr.is_ipv6() { ipv6 } else { ipv4 })
        {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot hear presence on {addr}: {e}"),
            ));
        }
        let _ = ears.join(&ear_interfaces(only));
        if let Some(s) = ears.v4.as_mut() {
            events.registry().register(s, EAR_V4, Interest::READABLE)?;
        }
        if let Some(s) = ears.v6.as_mut() {
            events.registry().register(s, EAR_V6, Interest::READABLE)?;
        }
        let now = SystemTime::now();
        let listener = Envelope::for_listener(config.key.as_ref(), now);
        let handler = Handler::new(
            config.name.clone(),
            port,
            listener.outgoing,
            config.gap_wait,
            false,
            // A room takes no files: offers are refused.
            Default::default(),
        );
        let me = handler.instance();
        let announce = announce::Config {
            every: config.every,
            to_port: ear_port,
            ipv4,
            ipv6,
            room: config.room.clone(),
            name: config.name.clone(),
            key: config.key.clone(),
            interface: config.interface.clone(),
        };
        let announcer = Announcer::new(&announce, me, port)?;
        let start = Instant::now();
        Ok(Chat {
            sockets,
            locals,
            port,
            room_port,
            ears,
            only,
            events,
            batch: RecvBatch::new(net::RECV_BATCH, wire::MAX_DATAGRAM + 1),
            incoming: listener.incoming,
            presence_in: Envelope::for_listener(config.key.as_ref(), now).incoming,
            outgoing: Envelope::new(config.key.as_ref()).outgoing,
            handler,
            announce,
            announcer,
            members: Members::new(config.room, me, config.name),
            room: Room::new(me, config.patience),
            texts: RateLimiter::new(TEXTS_PER_SOURCE, TEXTS_TOTAL, start),
            hellos: RateLimiter::new(HELLOS_PER_SOURCE, HELLOS_TOTAL, start),
            welcomes: RateLimiter::new(WELCOMES_PER_SOURCE, WELCOMES_TOTAL, start),
            patience: config.patience,
            next_join: start + IFACE_POLL,
            settled_at: start + start_wait(config.every),
            probe_token: crate::util::rng::random_id(),
            leave_by: None,
            paced: None,
            said_full: false,
            stats: Stats::default(),
            buf: vec![0u8; wire::MAX_DATAGRAM + 1],
            changes: Vec::new(),
        })
    }

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

    /// Reads each chat socket marked in `unread` for a turn: messages are
    /// shown and, once the output is flushed, acknowledged; acks for this
    /// member's messages go to the room. Then the presence sockets.
    fn read(&mut self, unread: &mut u64, out: &mut Guarded<'_>) -> Result<(), Error> {
        let me = self.handler.instance();
        let mut answers = Vec::new();
        let mut welcomes = Vec::new();
        for via in 0..self.sockets.len() {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            let socket = &self.sockets[via];
            let bound = self.locals[via];
            for _ in 0..READ_BUDGET {
                let mut shown = Shown::new(&self.members, out, &mut self.stats);
                let count = match self.batch.recv(socket) {
                    Ok(count) => count,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *unread &= !bit;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // The echo of a send to a member that is gone.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(Error::Io(e)),
                };
                let at = SystemTime::now();
                let now = Instant::now();
                for i in 0..count {
                    let Some(received) = self.batch.get(i) else {
                        continue;
                    };
                    if received.truncated || received.bytes.len() > wire::MAX_DATAGRAM {
                        continue;
                    }
                    // The chat sockets are UDP (and the batch unmapped it).
                    let peer = &received.arrival.from;
                    let Some(from) = peer.inet() else {
                        continue;
                    };
                    let origin = Origin {
                        at,
                        from: peer,
                        cred: None,
                        local: received.arrival.local,
                        socket,
                        via,
                    };
                    let dest = received
                        .arrival
                        .local
                        .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
                    let overhead = self.incoming.overhead();
                    let _ = match self.incoming.open(received.bytes, at, dest) {
                        Ok(Opened::Message(Message::Ack(ack))) => {
                            if ack.sender == me {
                                self.room
                                    .on_ack(ack.instance, from, ack.next, ack.ranges(), now);
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(Message::Answer(a))) => {
                            if a.token == self.probe_token && a.name.len() <= wire::MAX_NAME {
                                answers.push((
                                    a.instance,
                                    a.name.to_string(),
                                    a.port,
                                    a.version,
                                    from,
                                ));
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(Message::Hello(h))) => {
                            // A welcome: a member's hello to this member
                            // alone, in answer to one of its own. Taken as
                            // a hello is, never answered.
                            if h.instance != me && hello_refused(&h).is_none() {
                                welcomes.push(Welcome::of(&h, from));
                            }
                            Ok(())
                        }
                        Ok(Opened::Message(message @ Message::Text(_))) => {
                            if self.texts.allow(from.ip(), now) {
                                let open_len = received.bytes.len() - overhead;
                                self.handler.message(message, open_len, origin, &mut shown)
                            } else {
                                shown.stats.rate_limited += 1;
                                Ok(())
                            }
                        }
                        Ok(Opened::Message(message)) => {
                            let open_len = received.bytes.len() - overhead;
                            self.handler.message(message, open_len, origin, &mut shown)
                        }
                        // Not a chat's business: another program's datagram.
                        Ok(Opened::Raw(_)) => Ok(()),
                        Err(why) => self.handler.refused(&why, peer, &mut shown),
                    };
                }
                // Shown, then confirmed: an ack means written out.
                if self.handler.acks_owed() && listen::Sink::flush(&mut shown).is_ok() {
                    let _ = self.handler.send_acks(&self.sockets, &mut shown);
                }
                if count < 2 {
                    *unread &= !bit;
                    break;
                }
            }
        }
        let now = Instant::now();
        for (instance, name, port, version, from) in answers {
            let sighting = crate::commands::watch::table::Sighting {
                instance,
                name: &name,
                port,
                version,
                addr: from,
                interface: "",
                via: crate::commands::watch::table::Via::Answer,
            };
            self.members.answered(&sighting, now, &mut self.changes);
        }
        for welcome in welcomes {
            if !self.hellos.allow(welcome.from.ip(), now) {
                self.stats.presence_refused += 1;
                continue;
            }
            let hello = welcome.hello();
            let addr = with_scope(SocketAddr::new(welcome.from.ip(), hello.port), welcome.from);
            let _ = self
                .members
                .hello(&watch_sighting(&hello, addr), now, &mut self.changes);
        }
        for (bit, ipv6) in [(1u64 << EAR_V4.0, false), (1u64 << EAR_V6.0, true)] {
            if *unread & bit != 0 && self.hear(ipv6, out) {
                *unread &= !bit;
            }
        }
        Ok(())
    }

    /// Reads one presence socket for a turn; true when it is empty.
    fn hear(&mut self, ipv6: bool, out: &mut Guarded<'_>) -> bool {
        for _ in 0..READ_BUDGET {
            let socket = if ipv6 {
                self.ears.v6.as_ref()
            } else {
                self.ears.v4.as_ref()
            };
            let Some(socket) = socket else {
                return true;
            };
            let bound = match socket.local_addr() {
                Ok(a) => a,
                Err(_) => return true,
            };
            let (len, arrival) =
                match net::nonblocking(|| net::recv_with_local(socket, &mut self.buf)) {
                    Ok(Some(got)) => got,
                    Ok(None) | Err(_) => return true,
                };
            // Presence sockets are UDP.
            let Some(from) = arrival.from.inet().map(net::addr::unmapped) else {
                continue;
            };
            let ifindex = arrival.local.map_or(0, |l| l.ifindex);
            if self.only.is_some_and(|only| only != ifindex) {
                continue;
            }
            let dest = arrival
                .local
                .map_or(bound, |l| SocketAddr::new(l.dest, bound.port()));
            let now = Instant::now();
            let overhead = self.presence_in.overhead();
            let opened = self
                .presence_in
                .open(&self.buf[..len], SystemTime::now(), dest);
            match opened {
                Ok(Opened::Message(Message::Hello(h))) => {
                    if hello_refused(&h).is_some() || !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    // At its source address, on the port it announces (the
                    // room's, or its own when it shares its host).
                    let addr = with_scope(SocketAddr::new(from.ip(), h.port), from);
                    let sighting = watch_sighting(&h, addr);
                    let welcome = self.members.hello(&sighting, now, &mut self.changes);
                    // The welcome goes to the newcomer's own port: the
                    // presence port may be shared by several members of
                    // its host, and a datagram to it reaches one of them.
                    if welcome && self.welcomes.allow(from.ip(), now) {
                        self.announcer.hello_to(addr, ifindex);
                    }
                }
                Ok(Opened::Message(Message::Probe(p))) => {
                    // A scan probes the presence port too, for the members
                    // not on the room's port: this member answers there
                    // only if it is one of them (else at the room's port).
                    if self.port == self.room_port || p.instance == self.handler.instance() {
                        continue;
                    }
                    if !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    let Some(via) = self.locals.iter().position(|l| l.is_ipv6() == ipv6) else {
                        continue;
                    };
                    let open_len = len - overhead;
                    let origin = Origin {
                        at: SystemTime::now(),
                        from: &arrival.from,
                        cred: None,
                        local: arrival.local,
                        socket: &self.sockets[via],
                        via,
                    };
                    let message = Message::Probe(p);
                    let _ = self.handler.message(message, open_len, origin, &mut Quiet);
                }
                Ok(Opened::Message(Message::Goodbye(g))) => {
                    if !self.hellos.allow(from.ip(), now) {
                        self.stats.presence_refused += 1;
                        continue;
                    }
                    self.members.goodbye(g.instance, now, &mut self.changes);
                }
                Ok(_) => {}
                Err(_) => self.stats.presence_refused += 1,
            }
        }
        let _ = out;
        false
    }

    /// Who came, went or changed (from what was heard, and from time
    /// passing): shown, and the room told.
    fn presence(&mut self, now: Instant, out: &mut Guarded<'_>) {
        self.members.tick(now, &mut self.changes);
        let ask = self.members.to_ask(now);
        if !ask.is_empty() {
            self.ask(&ask);
        }
        let at = SystemTime::now();
        for change in std::mem::take(&mut self.changes) {
            match change {
                Change::Joined(member) => {
                    // Shown as on its `left` line, should it be gone
                    // already (it came and went in one turn).
                    out.event(&Event::Joined {
                        at,
                        who: self.members.shown(&member),
                        addr: member.addr,
                    });
                }
                Change::Left { member, expired } => {
                    self.room.member_gone(member.instance);
                    let who = self.members.shown(&member);
                    out.event(&Event::Left { at, who, expired });
                }
                Change::Renamed { member, old } => {
                    if let Some(who) = self.members.who(member.instance) {
                        out.event(&Event::Renamed {
                            at,
                            old: &old,
                            who,
                            mine: false,
                        });
                    }
                }
                Change::Moved(member) => self.room.member_moved(member.instance, member.addr),
            }
        }
        if self.members.overflow > 0 && !self.said_full {
            self.said_full = true;
            out.event(&Event::Note(Note::Full {
                max: members::MAX_MEMBERS,
            }));
        }
    }

    /// Probes `members` (unicast, padded so the answer is no larger): a
    /// member near its expiry answers if it is still there.
    fn ask(&mut self, members: &[SocketAddr]) {
        let pad = [0u8; MAX_ANSWER - wire::PROBE_OVERHEAD];
        let probe = Message::Probe(wire::Probe {
            instance: self.handler.instance(),
            token: self.probe_token,
            pad: &pad,
        });
        let mut open = Vec::with_capacity(MAX_ANSWER);
        if wire::encode(&probe, wire::MAX_DATAGRAM_V4, &mut open).is_err() {
            return;
        }
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        for &to in members {
            net.send(to, &open);
        }
    }

    /// Resends what is due; shows every message now resolved.
    fn deliver(&mut self, now: Instant, out: &mut Guarded<'_>) {
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        self.room.tick(now, &mut net);
        let stats = &mut self.stats;
        let members = &self.members;
        let at = SystemTime::now();
        self.room.take_resolved(&mut |sent| {
            if sent.delivered() {
                stats.delivered += 1;
            } else {
                stats.not_delivered += 1;
            }
            let me = members.me_as(&sent.name);
            out.event(&Event::Resolved {
                at,
                sent: &sent,
                me,
            });
        });
    }

    /// Reads input lines while there is room to send them; false once the
    /// input has nothing more for now (or ended).
    fn input(&mut self, input: &mut Input<'_>, out: &mut Guarded<'_>) -> Result<bool, Error> {
        self.paced = None;
        loop {
            if self.leave_by.is_some() {
                return Ok(false);
            }
            let now = Instant::now();
            if !self.room.has_room(now) {
                // A line may be waiting (unread): look again when the
                // pacing allows, or when acks open the window.
                self.paced = self.room.paced_until(now);
                return Ok(false);
            }
            match input {
                Input::Typed(lines) => match lines.try_recv() {
                    Ok(line) => self.line(&line, out),
                    Err(TryRecvError::Empty) => return Ok(false),
                    Err(TryRecvError::Disconnected) => self.leave(),
                },
                Input::Piped(source) => match source.next().map_err(Error::Input)? {
                    Next::Message(line) => {
                        let line = line.to_vec();
                        self.line(&line, out);
                    }
                    Next::Pending => {
                        let registry = self.events.registry();
                        if source.arm(registry, INPUT).map_err(Error::Input)? {
                            return Ok(false);
                        }
                    }
                    Next::End => self.leave(),
                },
            }
        }
    }

    /// Leaves once every message in flight is resolved (at most a
    /// message's patience from now, and a second for the last acks).
    fn leave(&mut self) {
        self.leave_by = Some(Instant::now() + self.patience.time + Duration::from_secs(1));
    }

    /// Does what one input line asks.
    fn line(&mut self, line: &[u8], out: &mut Guarded<'_>) {
        match command::parse(line) {
            Line::Say(body) => self.say(body, None, out),
            Line::Msg { to, text } => match self.members.find(to) {
                Ok(member) => {
                    let instance = member.instance;
                    self.say(text, Some(instance), out);
                }
                Err(why) => self.refuse(
                    Note::NoSuchMember {
                        name: to,
                        ambiguous: why == Lookup::Ambiguous,
                    },
                    out,
                ),
            },
            Line::Who => self.who(out),
            Line::Name(name) => self.rename(name, out),
            Line::Quit => self.leave(),
            Line::Empty => {}
            Line::Usage(usage) => self.refuse(Note::Usage(usage), out),
            Line::Unknown(word) => self.refuse(Note::Unknown(word), out),
        }
    }

    /// An input line that asks for nothing this member can do: said, and
    /// counted ([`Stats::refused`]).
    fn refuse(&mut self, note: Note<'_>, out: &mut Guarded<'_>) {
        self.stats.refused += 1;
        out.event(&Event::Note(note));
    }

    /// Sends `body` to the room, or to member `to` alone.
    fn say(&mut self, body: &[u8], to: Option<u64>, out: &mut Guarded<'_>) {
        if body.len() > room::MAX_MESSAGE {
            let note = Note::TooLarge {
                len: body.len(),
                max: room::MAX_MESSAGE,
            };
            self.refuse(note, out);
            return;
        }
        let recipients: Vec<(u64, &str, SocketAddr)> = self
            .members
            .iter()
            .filter(|m| to.is_none_or(|t| t == m.instance))
            .map(|m: &Member| (m.instance, m.name.as_str(), m.addr))
            .collect();
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        let number = self.room.send(
            body,
            self.members.my_name(),
            &recipients,
            to.is_some(),
            Instant::now(),
            &mut net,
        );
        self.stats.sent += 1;
        out.event(&Event::Sent {
            at: SystemTime::now(),
            number,
            me: self.members.me(),
            to: to.and_then(|t| self.members.who(t)),
            body,
        });
    }

    /// `/who`.
    fn who(&mut self, out: &mut Guarded<'_>) {
        let now = Instant::now();
        let present: Vec<Present<'_>> = self
            .members
            .iter()
            .filter_map(|m| {
                Some(Present {
                    who: self.members.who(m.instance)?,
                    addrs: &m.addrs,
                    ago: now.saturating_duration_since(m.heard),
                })
            })
            .collect();
        out.event(&Event::Members {
            me: self.members.me(),
            members: &present,
        });
    }

    /// `/name NEW`: answers probes and announces itself with it from now
    /// on (a new burst of hellos, so the room hears it at once).
    fn rename(&mut self, name: &str, out: &mut Guarded<'_>) {
        if name.len() > MAX_NAME {
            let note = Note::BadName {
                len: name.len(),
                max: MAX_NAME,
            };
            self.refuse(note, out);
            return;
        }
        let old = self.members.my_name().to_string();
        self.members.rename_me(name.to_string());
        self.handler.set_name(name.to_string());
        self.announce.name = truncate_name(name).to_string();
        if let Ok(announcer) = Announcer::new(&self.announce, self.instance(), self.port) {
            self.announcer = announcer;
        }
        out.event(&Event::Renamed {
            at: SystemTime::now(),
            old: &old,
            who: self.members.me(),
            mine: true,
        });
    }
}

/// The interfaces whose IPv6 discovery group the presence socket joins:
/// every IPv6 interface, or `only`.
fn ear_interfaces(only: Option<u32>) -> Vec<u32> {
    let mut all = iface::ipv6_interfaces().unwrap_or_default();
    if let Some(only) = only {
        all.retain(|&i| i == only);
    }
    all
}

/// A hello that came to a chat socket (a welcome), kept until the
/// socket's turn is over.
struct Welcome {
    instance: u64,
    port: u16,
    version: u8,
    lifetime_ms: u32,
    name: String,
    room: String,
    from: SocketAddr,
}

impl Welcome {
    fn of(h: &wire::Hello<'_>, from: SocketAddr) -> Self {
        Welcome {
            instance: h.instance,
            port: h.port,
            version: h.version,
            lifetime_ms: h.lifetime_ms,
            name: h.name.to_string(),
            room: h.room.to_string(),
            from,
        }
    }

    fn hello(&self) -> wire::Hello<'_> {
        wire::Hello {
            instance: self.instance,
            port: self.port,
            version: self.version,
            lifetime_ms: self.lifetime_ms,
            name: &self.name,
            room: &self.room,
        }
    }
}

/// A hello as presence's table takes it.
fn watch_sighting<'a>(
    h: &wire::Hello<'a>,
    addr: SocketAddr,
) -> crate::commands::watch::table::Sighting<'a> {
    use crate::commands::watch::table::{Sighting, Via};
    Sighting {
        instance: h.instance,
        name: h.name,
        port: h.port,
        version: h.version,
        addr,
        interface: "",
        via: Via::Hello {
            lifetime: Duration::from_millis(u64::from(h.lifetime_ms)),
            room: h.room,
        },
    }
}

/// `addr` with the scope `from` arrived with (a link-local IPv6 address
/// means nothing without its interface).
fn with_scope(mut addr: SocketAddr, from: SocketAddr) -> SocketAddr {
    if let (SocketAddr::V6(a), SocketAddr::V6(f)) = (&mut addr, from) {
        a.set_scope_id(f.scope_id());
    }
    addr
}

/// The chat sockets as the room's way out: each datagram sealed for its
/// destination (when keyed) and sent from the socket of its family.
struct Net<'a> {
    sockets: &'a [DatagramSocket],
    locals: &'a [SocketAddr],
    outgoing: &'a mut Outgoing,
    errors: &'a mut u64,
}

impl Transmit for Net<'_> {
    fn send(&mut self, to: SocketAddr, open: &[u8]) {
        let Some(i) = self.locals.iter().position(|l| l.is_ipv6() == to.is_ipv6()) else {
            *self.errors += 1;
            return;
        };
        let sealed = self.outgoing.seal(open, to);
        if self.sockets[i]
            .send_to(sealed, &SockAddr::from(to))
            .is_err()
        {
            *self.errors += 1;
        }
    }
}

/// The chat's sink, keeping the first error (the loop stops on it) so the
/// code that shows things need not stop halfway.
struct Guarded<'a> {
    sink: &'a mut dyn Sink,
    error: Option<io::Error>,
}

impl Guarded<'_> {
    fn event(&mut self, event: &Event<'_>) {
        if self.error.is_none()
            && let Err(e) = self.sink.event(event)
        {
            self.error = Some(e);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        self.sink.flush()
    }
}

/// What the listener's handler shows, as the chat shows it: messages with
/// their sender's name as the room knows it.
struct Shown<'a, 'g> {
    members: &'a Members,
    out: &'a mut Guarded<'g>,
    stats: &'a mut Stats,
}

impl<'a, 'g> Shown<'a, 'g> {
    fn new(members: &'a Members, out: &'a mut Guarded<'g>, stats: &'a mut Stats) -> Self {
        Shown {
            members,
            out,
            stats,
        }
    }
}

impl listen::Sink for Shown<'_, '_> {
    fn event(&mut self, event: &listen::Event<'_>) -> io::Result<()> {
        match *event {
            listen::Event::Text {
                at,
                from,
                name,
                body,
                sender,
                seq,
                ..
            } => {
                // The chat sockets are UDP: every sender has an IP address.
                let Some(from) = from.inet() else {
                    return Ok(());
                };
                self.stats.received += 1;
                let who = self.members.sender(sender, name);
                self.out.event(&Event::Message {
                    at,
                    from,
                    who,
                    body,
                    sender,
                    seq,
                });
            }
            listen::Event::Gap {
                at,
                from,
                sender,
                first,
                last,
            } => {
                let Some(from) = from.inet() else {
                    return Ok(());
                };
                let who = self.members.sender(sender, "");
                self.out.event(&Event::Gap {
                    at,
                    from,
                    who,
                    sender,
                    first,
                    last,
                });
            }
            listen::Event::Raw { .. } => {}
        }
        match &self.out.error {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A listener sink that shows nothing (the announcer's notices).
struct Quiet;

impl listen::Sink for Quiet {
    fn event(&mut self, _event: &listen::Event<'_>) -> io::Result<()> {
        Ok(())
    }
}
