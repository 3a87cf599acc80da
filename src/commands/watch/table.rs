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
//!
//! - here: the limits, the table's indexes and schedule, and the upkeep
//!   that keeps them in step;
//! - `peer`: what the table holds and reports ([`Peer`], [`Change`]);
//! - `update`: how sightings, goodbyes and time change the table.

mod peer;
mod update;

pub use peer::{Change, Kind, Peer, PeerAddr, Reason, Sighting, Via};

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

/// The moments, after it was last heard, at which `peer` is probed for.
fn refresh_points(peer: &Peer, window: Duration) -> impl Iterator<Item = Instant> + '_ {
    REFRESH_AT
        .iter()
        .map(move |&pct| peer.last_heard + window * pct / 100)
}

#[cfg(test)]
mod tests;
