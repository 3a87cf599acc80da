//! Who is in the room: presence's peer table ([`Table`]) fed with the
//! hellos and goodbyes heard on the presence port, narrowed to the peers
//! that announce this room.
//!
//! Socket-free and clock-free like the table it wraps: the loop feeds it
//! what it heard and the time, and hears of every change as a
//! [`Change`] of membership (joined, left, renamed, moved).
//!
//! - here: the members, as presence reports them;
//! - `names`: how each member's name is shown ([`Who`]), and which member
//!   a name means.

mod names;

pub use names::{Lookup, TAG_DIGITS, Who};

use crate::commands::watch::table::{self, Kind, Reason, Sighting, Table, Via};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Members at most (peers of the port in other rooms count against the
/// table's own bound, four times this); further newcomers are not members
/// until someone leaves, and [`Members::overflow`] counts them.
pub const MAX_MEMBERS: usize = 256;
/// A newcomer's hellos heard within this long of its first one are answered
/// with this member's hello, sent to it alone (its start burst spans
/// 750 ms): it learns who is already here at once, not a period later.
pub const WELCOME_WINDOW: Duration = Duration::from_secs(2);
/// Newcomers remembered for [`WELCOME_WINDOW`] at most (hellos are rate
/// limited before they get here, so this is never reached in practice).
const WELCOME_MAX: usize = 4096;

/// One member of the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub instance: u64,
    pub name: String,
    /// Where its messages go: its IPv4 address if it has one (the first
    /// heard), else its first address.
    pub addr: SocketAddr,
    /// Every address it announced itself from (its port).
    pub addrs: Vec<SocketAddr>,
    /// When it was last heard.
    pub heard: Instant,
    /// How long its hellos say to trust them.
    pub lifetime: Duration,
}

/// What happened to the membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Joined(Member),
    /// It left: said goodbye, or `expired` (not heard for its lifetime).
    Left {
        member: Member,
        expired: bool,
    },
    /// It took a new name.
    Renamed {
        member: Member,
        old: String,
    },
    /// It is now sent to at another address.
    Moved(Member),
}

/// The members of one room, from presence.
#[derive(Debug)]
pub struct Members {
    table: Table,
    room: String,
    /// This member's instance (its own hellos come back to it) and name.
    me: u64,
    my_name: String,
    members: BTreeMap<u64, Member>,
    /// Newcomers first heard within [`WELCOME_WINDOW`].
    newcomers: HashMap<u64, Instant>,
    /// Peers of the room not taken in because it was full.
    pub overflow: u64,
}

impl Members {
    /// The members of `room` as seen by `me` (named `my_name`).
    pub fn new(room: String, me: u64, my_name: String) -> Self {
        Members {
            // The table's probe window is never used: a chat does not probe.
            table: Table::new(Duration::from_secs(3600), MAX_MEMBERS * 4),
            room,
            me,
            my_name,
            members: BTreeMap::new(),
            newcomers: HashMap::new(),
            overflow: 0,
        }
    }

    /// This member's name.
    pub fn my_name(&self) -> &str {
        &self.my_name
    }

    /// Takes a new name (`/name`).
    pub fn rename_me(&mut self, name: String) {
        self.my_name = name;
    }

    /// The members, by instance.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Member `instance`, if it is one.
    pub fn get(&self, instance: u64) -> Option<&Member> {
        self.members.get(&instance)
    }

    /// Members now.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nobody else is in the room.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// When [`Self::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.table.next_deadline()
    }

    /// A hello from `hello.instance`, heard from `addr` (its source address
    /// and announced port). Returns whether to welcome it (answer with this
    /// member's hello): a member of this room within [`WELCOME_WINDOW`] of
    /// its first hello.
    pub fn hello(&mut self, hello: &Sighting<'_>, now: Instant, changes: &mut Vec<Change>) -> bool {
        if hello.instance == self.me {
            return false;
        }
        let room = match hello.via {
            Via::Hello { room, .. } => room,
            Via::Answer => return false,
        };
        self.heard(hello, now, changes);
        if room != self.room {
            return false;
        }
        if self.newcomers.len() >= WELCOME_MAX {
            self.newcomers
                .retain(|_, &mut first| now.saturating_duration_since(first) < WELCOME_WINDOW);
        }
        if self.newcomers.len() >= WELCOME_MAX {
            return false;
        }
        let first = *self.newcomers.entry(hello.instance).or_insert(now);
        now.saturating_duration_since(first) < WELCOME_WINDOW
    }

    /// An answer to this member's probe from `instance` (a member it asked
    /// whether it is still there): heard, as a hello would be.
    pub fn answered(&mut self, answer: &Sighting<'_>, now: Instant, changes: &mut Vec<Change>) {
        if !self.members.contains_key(&answer.instance) {
            // Only members are asked; anyone else's answer says nothing.
            return;
        }
        self.heard(answer, now, changes);
    }

    /// A hello or an answer from `sighting.instance`: the table told, and
    /// the member (if it is one) heard now.
    fn heard(&mut self, sighting: &Sighting<'_>, now: Instant, changes: &mut Vec<Change>) {
        let mut seen = Vec::new();
        self.table
            .heard(sighting, now, &mut |c| seen.push(Seen::of(&c, now)));
        self.apply(seen, changes);
        if let Some(member) = self.members.get_mut(&sighting.instance) {
            member.heard = now;
        }
    }

    /// The members to ask whether they are still there (probe): those not
    /// heard for half their lifetime, once the table says some member
    /// passed a refresh point (80% of its lifetime and later: as mDNS
    /// queries a record near the end of its TTL, a live member gets four
    /// more chances under loss before it is given up).
    pub fn to_ask(&mut self, now: Instant) -> Vec<SocketAddr> {
        if !self.table.take_refresh() {
            return Vec::new();
        }
        self.members
            .values()
            .filter(|m| now.saturating_duration_since(m.heard) >= m.lifetime / 2)
            .map(|m| m.addr)
            .collect()
    }

    /// A goodbye from `instance`.
    pub fn goodbye(&mut self, instance: u64, now: Instant, changes: &mut Vec<Change>) {
        let mut seen = Vec::new();
        self.table
            .goodbye(instance, now, &mut |c| seen.push(Seen::of(&c, now)));
        self.apply(seen, changes);
    }

    /// Does what is due: newcomers reported once settled, members not heard
    /// for their lifetime given up.
    pub fn tick(&mut self, now: Instant, changes: &mut Vec<Change>) {
        let mut seen = Vec::new();
        self.table.tick(now, &mut |c| seen.push(Seen::of(&c, now)));
        self.apply(seen, changes);
        if !self.newcomers.is_empty() {
            self.newcomers
                .retain(|_, &mut first| now.saturating_duration_since(first) < WELCOME_WINDOW);
        }
    }

    /// Turns the table's changes into the room's.
    fn apply(&mut self, seen: Vec<Seen>, changes: &mut Vec<Change>) {
        for s in seen {
            let in_room = s.room == self.room && s.kind != Kind::Down;
            if let (Some(old), Reason::Restarted) = (s.previous, s.reason) {
                // A new process at its address: the old one left unsaid.
                if let Some(member) = self.members.remove(&old) {
                    changes.push(Change::Left {
                        member,
                        expired: true,
                    });
                }
            }
            match (self.members.get_mut(&s.instance), in_room) {
                (None, true) => {
                    if self.members.len() >= MAX_MEMBERS {
                        self.overflow += 1;
                        continue;
                    }
                    let member = s.member();
                    self.members.insert(s.instance, member.clone());
                    changes.push(Change::Joined(member));
                }
                (Some(_), false) => {
                    if let Some(member) = self.members.remove(&s.instance) {
                        let expired = s.reason == Reason::Expired;
                        changes.push(Change::Left { member, expired });
                    }
                }
                (Some(member), true) => {
                    member.heard = s.heard;
                    member.lifetime = s.lifetime;
                    if member.name != s.name {
                        let old = std::mem::replace(&mut member.name, s.name.clone());
                        changes.push(Change::Renamed {
                            member: member.clone(),
                            old,
                        });
                    }
                    let fresh = s.member();
                    if fresh.addrs != member.addrs {
                        member.addrs = fresh.addrs;
                        if member.addr != fresh.addr {
                            member.addr = fresh.addr;
                            changes.push(Change::Moved(member.clone()));
                        }
                    }
                }
                (None, false) => {}
            }
        }
    }
}

/// A table change, owned (the table lends its peer only to the callback).
#[derive(Debug)]
struct Seen {
    kind: Kind,
    reason: Reason,
    instance: u64,
    previous: Option<u64>,
    name: String,
    room: String,
    addrs: Vec<SocketAddr>,
    heard: Instant,
    lifetime: Duration,
}

impl Seen {
    fn of(c: &table::Change<'_>, now: Instant) -> Self {
        // IPv4 first, each family in the order heard: the first is the one
        // messages go to, and `/who` lists them the same way every time.
        let mut addrs: Vec<SocketAddr> = c.peer.addrs.iter().map(|a| a.addr).collect();
        addrs.sort_by_key(|a| !a.is_ipv4());
        Seen {
            kind: c.kind,
            reason: c.reason,
            instance: c.peer.instance,
            previous: c.peer.previous,
            name: c.peer.name.clone(),
            room: c.peer.room.clone(),
            addrs,
            heard: now,
            lifetime: c.peer.lifetime.unwrap_or(table::MAX_LIFETIME),
        }
    }

    fn member(&self) -> Member {
        let addr = self
            .addrs
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Member {
            instance: self.instance,
            name: self.name.clone(),
            addr,
            addrs: self.addrs.clone(),
            heard: self.heard,
            lifetime: self.lifetime,
        }
    }
}

#[cfg(test)]
mod tests;
