//! How the table changes: a peer heard (new, again, or restarted), a
//! goodbye, and the passing of time (settling, stale addresses, expiry).

use super::{
    ADDR_WINDOWS, Change, GONE_MAX, Kind, MAX_ADDRS, MAX_LIFETIME, MIN_LIFETIME, Peer, PeerAddr,
    Reason, SETTLE, Sighting, Table, Via, refresh_points,
};
use std::time::Instant;

impl Table {
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
    /// late datagram for [`super::GONE_FOR`].
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
