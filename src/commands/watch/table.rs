//! The watcher's table of peers: who is up, at which addresses, and when
//! each is to be given up. Socket-free and clock-free: the loop (`super`)
//! feeds it what it heard and the time, and hears of every change.
//!
//! Bounded whatever arrives: at most [`MAX_PEERS`] peers (a newcomer that
//! finds the table full is counted, not stored: those already listed stay),
//! [`MAX_ADDRS`] addresses each; every sighting costs a hash lookup and an
//! O(log n) reschedule. Each peer has exactly one entry in the schedule (an
//! ordered set, so a peer that leaves takes its entry with it), at the
//! next moment something may happen to it: a refresh point, an address
//! going stale, or its expiry.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Peers tracked at most; sightings of further ones are counted.
pub const MAX_PEERS: usize = 4096;
/// Addresses kept per peer.
pub const MAX_ADDRS: usize = 16;
/// The most a hello's lifetime is trusted for (a longer one is cut to it).
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// The least (a shorter one is raised to it).
pub const MIN_LIFETIME: Duration = Duration::from_millis(100);
/// A peer that does not announce is given up after this many probe
/// intervals without an answer.
pub const PROBE_WINDOW_INTERVALS: u32 = 3;
/// When a peer has not been heard for these fractions (percent) of its
/// window, the loop probes again at once: under loss, a live peer gets
/// four more chances before it is given up (as mDNS queries a record at
/// 80, 85, 90 and 95% of its TTL).
pub const REFRESH_AT: [u32; 4] = [80, 85, 90, 95];
/// An address of a peer not heard from for this many windows is dropped
/// from its set (the peer itself goes after one): twice, so that loss does
/// not make address sets flap.
pub const ADDR_WINDOWS: u32 = 2;
/// A peer that said goodbye is not taken back on a late datagram for this
/// long (an answer overtaken by the goodbye)...
pub const GONE_FOR: Duration = Duration::from_secs(2);
/// ...and at most this many such peers are remembered.
pub const GONE_MAX: usize = 256;
/// A newcomer is reported this long after it was first heard, so that
/// what arrives with it (its other address family, the answer on its
/// second interface) is in its `up` line rather than in `changed` lines
/// right after.
pub const SETTLE: Duration = Duration::from_millis(50);
/// Peers indexed per address, for telling a restart (a new instance at a
/// held peer's address, port and name).
const PER_ADDR: usize = 8;

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
    last: Instant,
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
    last_heard: Instant,
    /// Its `up` was reported; until [`SETTLE`] has passed it was not, and
    /// changes to it are not either (they will be in the `up`).
    reported: bool,
    /// When its `up` is reported, and why.
    settle_at: Instant,
    up_reason: Reason,
    /// Its entry in the schedule.
    due: Instant,
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

/// The table.
#[derive(Debug)]
pub struct Table {
    peers: HashMap<u64, Peer>,
    /// `(due, instance)`: one entry per peer.
    schedule: BTreeSet<(Instant, u64)>,
    /// Instances by address (at most [`PER_ADDR`] each).
    by_addr: HashMap<SocketAddr, Vec<u64>>,
    /// Instances that said goodbye lately, oldest first.
    gone: VecDeque<(Instant, u64)>,
    gone_set: HashSet<u64>,
    /// The window of a peer that does not announce.
    probe_window: Duration,
    max_peers: usize,
    /// Sightings of peers not tracked because the table was full.
    pub overflow: u64,
    /// Addresses not kept because their peer had [`MAX_ADDRS`].
    pub addrs_overflow: u64,
    /// Some peer passed a refresh point since the last [`Self::take_refresh`].
    refresh: bool,
}

impl Table {
    /// A table for a watcher probing every `interval`, holding at most
    /// `max_peers` (normally [`MAX_PEERS`]).
    pub fn new(interval: Duration, max_peers: usize) -> Self {
        Table {
            peers: HashMap::new(),
            schedule: BTreeSet::new(),
            by_addr: HashMap::new(),
            gone: VecDeque::new(),
            gone_set: HashSet::new(),
            probe_window: interval.saturating_mul(PROBE_WINDOW_INTERVALS),
            max_peers,
            overflow: 0,
            addrs_overflow: 0,
            refresh: false,
        }
    }

    /// Peers tracked.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when nobody is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer `instance`, if tracked.
    pub fn get(&self, instance: u64) -> Option<&Peer> {
        self.peers.get(&instance)
    }

    /// When [`Self::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.schedule.first().map(|&(at, _)| at)
    }

    /// True (once) when some peer passed a refresh point: probe now.
    pub fn take_refresh(&mut self) -> bool {
        std::mem::take(&mut self.refresh)
    }

    /// How long `peer` may go unheard.
    fn window(&self, peer: &Peer) -> Duration {
        peer.lifetime.unwrap_or(self.probe_window)
    }

    /// A datagram from a peer arrived at `now`.
    pub fn heard(&mut self, s: &Sighting<'_>, now: Instant, emit: &mut dyn FnMut(Change<'_>)) {
        self.forget_gone(now);
        if self.gone_set.contains(&s.instance) {
            return;
        }
        if self.peers.contains_key(&s.instance) {
            self.refreshed(s, now, emit);
            return;
        }
        if let Some(old) = self.restart_of(s) {
            self.restarted(old, s, now, emit);
            return;
        }
        if self.peers.len() >= self.max_peers {
            self.overflow += 1;
            return;
        }
        let mut peer = Peer {
            instance: s.instance,
            name: s.name.to_string(),
            port: s.port,
            version: s.version,
            room: String::new(),
            addrs: Vec::new(),
            lifetime: None,
            previous: None,
            last_heard: now,
            reported: false,
            settle_at: now + SETTLE,
            up_reason: match s.via {
                Via::Answer => Reason::Answer,
                Via::Hello { .. } => Reason::Hello,
            },
            due: now,
        };
        apply_via(&mut peer, s.via);
        self.add_addr(&mut peer, s, now);
        self.insert(peer, now);
    }

    /// A goodbye from `instance`: it is down, and not taken back on a
    /// late datagram for [`GONE_FOR`].
    pub fn goodbye(&mut self, instance: u64, now: Instant, emit: &mut dyn FnMut(Change<'_>)) {
        self.forget_gone(now);
        if let Some(peer) = self.remove(instance) {
            if !peer.reported {
                // It came and went within the settling time: both happened.
                emit(Change {
                    kind: Kind::Up,
                    reason: peer.up_reason,
                    peer: &peer,
                });
            }
            emit(Change {
                kind: Kind::Down,
                reason: Reason::Goodbye,
                peer: &peer,
            });
        }
        if self.gone_set.insert(instance) {
            if self.gone.len() >= GONE_MAX
                && let Some((_, oldest)) = self.gone.pop_front()
            {
                self.gone_set.remove(&oldest);
            }
            self.gone.push_back((now, instance));
        }
    }

    /// Does what is due by `now`: newcomers reported once settled, stale
    /// addresses dropped, peers not heard for their window given up,
    /// refresh points noted.
    pub fn tick(&mut self, now: Instant, emit: &mut dyn FnMut(Change<'_>)) {
        while let Some(&(at, instance)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.schedule.pop_first();
            let Some(mut peer) = self.peers.remove(&instance) else {
                continue;
            };
            if !peer.reported && now >= peer.settle_at {
                peer.reported = true;
                emit(Change {
                    kind: Kind::Up,
                    reason: peer.up_reason,
                    peer: &peer,
                });
            }
            let window = self.window(&peer);
            if now >= peer.last_heard + window {
                self.unindex(&peer);
                emit(Change {
                    kind: Kind::Down,
                    reason: Reason::Expired,
                    peer: &peer,
                });
                continue;
            }
            let stale_after = window.saturating_mul(ADDR_WINDOWS);
            let before = peer.addrs.len();
            let (kept, stale): (Vec<PeerAddr>, Vec<PeerAddr>) = std::mem::take(&mut peer.addrs)
                .into_iter()
                .partition(|a| now < a.last + stale_after);
            peer.addrs = kept;
            for a in &stale {
                self.unindex_addr(a.addr, instance);
            }
            if refresh_points(&peer, window).any(|t| t <= now) {
                self.refresh = true;
            }
            let changed = peer.reported && peer.addrs.len() != before;
            self.insert(peer, now);
            if changed {
                self.emit(instance, Kind::Changed, Reason::Addrs, emit);
            }
        }
    }

    /// A tracked peer heard again.
    fn refreshed(&mut self, s: &Sighting<'_>, now: Instant, emit: &mut dyn FnMut(Change<'_>)) {
        let Some(mut peer) = self.peers.remove(&s.instance) else {
            return;
        };
        self.schedule.remove(&(peer.due, peer.instance));
        let mut reason = None;
        if peer.name != s.name {
            peer.name = s.name.to_string();
            reason.get_or_insert(Reason::Name);
        }
        if peer.port != s.port {
            peer.port = s.port;
            for a in std::mem::take(&mut peer.addrs) {
                self.unindex_addr(a.addr, peer.instance);
            }
            reason.get_or_insert(Reason::Port);
        }
        if let Via::Hello { room, .. } = s.via
            && peer.room != room
        {
            reason.get_or_insert(Reason::Room);
        }
        apply_via(&mut peer, s.via);
        peer.version = s.version;
        if self.add_addr(&mut peer, s, now) {
            reason.get_or_insert(Reason::Addrs);
        }
        peer.last_heard = now;
        let reported = peer.reported;
        self.insert(peer, now);
        if let (Some(reason), true) = (reason, reported) {
            self.emit(s.instance, Kind::Changed, reason, emit);
        }
    }

    /// A held peer that `s` (an instance not tracked) is a restart of: one
    /// at its address with its port and name, unless `s` is the one that
    /// peer replaced (two listeners sharing a port and a name: the second
    /// is taken for a restart of the first once, then both are kept).
    fn restart_of(&self, s: &Sighting<'_>) -> Option<u64> {
        self.by_addr.get(&s.addr)?.iter().copied().find(|id| {
            self.peers.get(id).is_some_and(|p| {
                p.port == s.port && p.name == s.name && p.previous != Some(s.instance)
            })
        })
    }

    /// `s` is a new instance of `old`: it takes its place (and, until they
    /// go stale, its other addresses).
    fn restarted(
        &mut self,
        old: u64,
        s: &Sighting<'_>,
        now: Instant,
        emit: &mut dyn FnMut(Change<'_>),
    ) {
        let Some(mut peer) = self.remove(old) else {
            return;
        };
        peer.instance = s.instance;
        peer.previous = Some(old);
        peer.version = s.version;
        peer.last_heard = now;
        apply_via(&mut peer, s.via);
        let addrs = std::mem::take(&mut peer.addrs);
        for a in addrs {
            if peer.addrs.len() < MAX_ADDRS {
                self.index_addr(a.addr, s.instance);
                peer.addrs.push(a);
            }
        }
        self.add_addr(&mut peer, s, now);
        // A restart within the settling time is just the newcomer.
        let reported = peer.reported;
        self.insert(peer, now);
        if reported {
            self.emit(s.instance, Kind::Changed, Reason::Restarted, emit);
        }
    }

    /// Adds or refreshes the sighting's address; true when it is new.
    fn add_addr(&mut self, peer: &mut Peer, s: &Sighting<'_>, now: Instant) -> bool {
        if let Some(a) = peer.addrs.iter_mut().find(|a| a.addr == s.addr) {
            a.last = now;
            if a.interface != s.interface && !s.interface.is_empty() {
                a.interface = s.interface.to_string();
            }
            return false;
        }
        if peer.addrs.len() >= MAX_ADDRS {
            self.addrs_overflow += 1;
            return false;
        }
        peer.addrs.push(PeerAddr {
            addr: s.addr,
            interface: s.interface.to_string(),
            last: now,
        });
        self.index_addr(s.addr, peer.instance);
        true
    }

    fn index_addr(&mut self, addr: SocketAddr, instance: u64) {
        let ids = self.by_addr.entry(addr).or_default();
        if ids.len() < PER_ADDR && !ids.contains(&instance) {
            ids.push(instance);
        }
    }

    fn unindex_addr(&mut self, addr: SocketAddr, instance: u64) {
        if let Some(ids) = self.by_addr.get_mut(&addr) {
            ids.retain(|&i| i != instance);
            if ids.is_empty() {
                self.by_addr.remove(&addr);
            }
        }
    }

    fn unindex(&mut self, peer: &Peer) {
        for a in &peer.addrs {
            self.unindex_addr(a.addr, peer.instance);
        }
    }

    /// Puts `peer` (not in the table) in, scheduled for its next event.
    fn insert(&mut self, mut peer: Peer, now: Instant) {
        let window = self.window(&peer);
        let expires = peer.last_heard + window;
        let refresh = refresh_points(&peer, window).find(|&t| t > now);
        let stale = peer
            .addrs
            .iter()
            .map(|a| a.last + window.saturating_mul(ADDR_WINDOWS))
            .min();
        let settle = (!peer.reported).then_some(peer.settle_at);
        peer.due = [Some(expires), refresh, stale, settle]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(expires);
        self.schedule.insert((peer.due, peer.instance));
        self.peers.insert(peer.instance, peer);
    }

    /// Takes `instance` out of the table, schedule and index.
    fn remove(&mut self, instance: u64) -> Option<Peer> {
        let peer = self.peers.remove(&instance)?;
        self.schedule.remove(&(peer.due, instance));
        self.unindex(&peer);
        Some(peer)
    }

    fn emit(&self, instance: u64, kind: Kind, reason: Reason, emit: &mut dyn FnMut(Change<'_>)) {
        if let Some(peer) = self.peers.get(&instance) {
            emit(Change { kind, reason, peer });
        }
    }

    fn forget_gone(&mut self, now: Instant) {
        while let Some(&(at, instance)) = self.gone.front() {
            if now.saturating_duration_since(at) < GONE_FOR {
                break;
            }
            self.gone.pop_front();
            self.gone_set.remove(&instance);
        }
    }
}

/// What a sighting says about the peer beyond its address: a hello's
/// lifetime (clamped) and room.
fn apply_via(peer: &mut Peer, via: Via<'_>) {
    if let Via::Hello { lifetime, room } = via {
        peer.lifetime = Some(lifetime.clamp(MIN_LIFETIME, MAX_LIFETIME));
        if peer.room != room {
            peer.room = room.to_string();
        }
    }
}

/// The moments, after it was last heard, at which `peer` is probed for.
fn refresh_points(peer: &Peer, window: Duration) -> impl Iterator<Item = Instant> + '_ {
    REFRESH_AT
        .iter()
        .map(move |&pct| peer.last_heard + window * pct / 100)
}

#[cfg(test)]
mod tests;
