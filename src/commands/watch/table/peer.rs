//! What the table holds and reports: a sighting of a peer, the peer with
//! its addresses, and a change to it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How a peer was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'a> {
    /// An answer to a probe.
    Answer,
    /// A hello: trust it for `lifetime`.
    Hello { lifetime: Duration, room: &'a str },
}

/// One datagram from a peer.
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    pub instance: u64,
    pub name: &'a str,
    pub port: u16,
    pub version: u8,
    /// Its address: the datagram's source address and the peer's port.
    pub addr: SocketAddr,
    /// The interface it arrived on (empty when unknown).
    pub interface: &'a str,
    pub via: Via<'a>,
}

/// What happened to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Up,
    Down,
    Changed,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Up: first heard in a hello.
    Hello,
    /// Up: first heard in an answer to a probe.
    Answer,
    /// Down: it said goodbye.
    Goodbye,
    /// Down: not heard for its window.
    Expired,
    /// Changed: a new instance at its address, port and name.
    Restarted,
    /// Changed: its name.
    Name,
    /// Changed: its port.
    Port,
    /// Changed: its room.
    Room,
    /// Changed: its address set (one added, or one gone stale).
    Addrs,
}

impl Reason {
    /// The word output uses.
    pub fn word(self) -> &'static str {
        match self {
            Reason::Hello => "hello",
            Reason::Answer => "answer",
            Reason::Goodbye => "goodbye",
            Reason::Expired => "expired",
            Reason::Restarted => "restarted",
            Reason::Name => "name",
            Reason::Port => "port",
            Reason::Room => "room",
            Reason::Addrs => "addrs",
        }
    }
}

/// One address of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    /// The interface it was last heard on.
    pub interface: String,
    pub(super) last: Instant,
}

/// A peer as the table holds it.
#[derive(Debug, Clone)]
pub struct Peer {
    pub instance: u64,
    pub name: String,
    pub port: u16,
    pub version: u8,
    /// Its room (from its hellos; empty when none or not announcing).
    pub room: String,
    /// Its addresses, in the order first heard.
    pub addrs: Vec<PeerAddr>,
    /// Its hellos' lifetime; `None` for a peer only heard by probes.
    pub lifetime: Option<Duration>,
    /// The instance it replaced (restarted), if any.
    pub previous: Option<u64>,
    pub(super) last_heard: Instant,
    /// Its `up` was reported; until [`super::SETTLE`] has passed it was not, and
    /// changes to it are not either (they will be in the `up`).
    pub(super) reported: bool,
    /// When its `up` is reported, and why.
    pub(super) settle_at: Instant,
    pub(super) up_reason: Reason,
    /// Its entry in the schedule.
    pub(super) due: Instant,
}

impl Peer {
    /// The interfaces its addresses were heard on, each once, in order.
    pub fn interfaces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in &self.addrs {
            if !a.interface.is_empty() && !out.contains(&a.interface.as_str()) {
                out.push(&a.interface);
            }
        }
        out
    }
}

/// A change to report, with the peer as it is now (as it was, for down).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub kind: Kind,
    pub reason: Reason,
    pub peer: &'a Peer,
}
