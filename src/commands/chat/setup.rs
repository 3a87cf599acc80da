//! A member's start: its sockets registered, the presence port's sockets
//! bound and joined, its handler and announcer made ([`Chat::new`]).

use super::members::Members;
use super::room::Room;
use super::{
    Chat, Config, EAR_V4, EAR_V6, SOCKETS, Stats, TEXTS_PER_SOURCE, TEXTS_TOTAL,
    WELCOMES_PER_SOURCE, WELCOMES_TOTAL, start_wait,
};
use crate::commands::listen::announce::{self, Announcer};
use crate::commands::listen::handler::Handler;
use crate::commands::listen::limit::RateLimiter;
use crate::commands::presence::{Ears, HELLOS_PER_SOURCE, HELLOS_TOTAL, IFACE_POLL, presence_port};
use crate::event::{EventLoop, token};
use crate::net::{self, DatagramSocket, RecvBatch, iface};
use crate::seal::Envelope;
use crate::wire;
use mio::Interest;
use mio::net::UdpSocket;
use std::io;
use std::time::{Instant, SystemTime};

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
}

/// The interfaces whose IPv6 discovery group the presence socket joins:
/// every IPv6 interface, or `only`.
pub(super) fn ear_interfaces(only: Option<u32>) -> Vec<u32> {
    let mut all = iface::ipv6_interfaces().unwrap_or_default();
    if let Some(only) = only {
        all.retain(|&i| i == only);
    }
    all
}
