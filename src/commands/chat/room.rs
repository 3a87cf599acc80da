//! The room's delivery tracking: each message goes to every member present
//! when it was sent, through one confirmed-delivery [`Outbox`] per member,
//! and is resolved once each of them confirmed it (shown it) or was given
//! up on (its retry budget ran out, or it left the room).
//!
//! Each member takes at most [`super::TEXTS_PER_SOURCE`] messages a second
//! from one address and drops the rest unread, so the datagrams to each
//! member are paced below that ([`PACE`], retransmissions included): a
//! member that sends faster than the room takes waits for its turn instead
//! of losing messages to the limit and resending them into it.
//!
//! Socket-free: datagrams leave through a [`Transmit`] the loop provides,
//! and acknowledgements come in through [`Room::on_ack`]. Every member gets
//! its own stream of numbered messages from this member (a private message
//! goes into one stream only), so each member's ordering and
//! acknowledgements are the ordinary ones of `send --ack`.

use crate::reliable::outbox::{AckInfo, Outbox, Patience};
use crate::wire::{self, FLAG_ACK, Message, Text};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Longest message a member sends, in bytes: a line longer than this is
/// refused with a local error (it would fit in a datagram, but a chat line
/// that long is a mistake, and every pending one is kept until resolved).
pub const MAX_MESSAGE: usize = 4096;
/// Messages waiting to be resolved at most; input is not read while this
/// many wait (a bot that pipes faster than the room confirms is slowed).
pub const MAX_PENDING: usize = 1024;

/// Datagrams a member sends to one member per second at most, and in a
/// burst, retransmissions included: four fifths of what a member takes from
/// one address, so a burst that arrives bunched up and the other things
/// that member hears from this address still fit.
pub const PACE: u32 = super::TEXTS_PER_SOURCE * 4 / 5;
const _: () = assert!(PACE >= 1 && PACE < super::TEXTS_PER_SOURCE);

/// Where datagrams leave: the loop's sockets, sealed when keyed.
pub trait Transmit {
    /// Sends an open datagram to `to`; a failure is a loss (resent later).
    fn send(&mut self, to: SocketAddr, open: &[u8]);
}

/// One recipient of a message, and whether it confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub instance: u64,
    /// Its name when the message was sent.
    pub name: String,
    pub state: State,
}

/// Where one recipient is with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Waiting,
    Confirmed,
    Missed,
}

/// A message this member sent, until every recipient resolved it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its number among this member's messages, from 1.
    pub number: u64,
    pub at: SystemTime,
    /// The name it was sent under (its sender may take another since).
    pub name: String,
    pub body: Vec<u8>,
    /// Sent to one member only (`/msg`).
    pub private: bool,
    /// The members present when it was sent (none: nobody else was there).
    pub recipients: Vec<Recipient>,
}

impl Sent {
    /// True when it went to someone, and every recipient confirmed it. A
    /// message to nobody was delivered to nobody: not delivered.
    pub fn delivered(&self) -> bool {
        !self.nobody() && self.recipients.iter().all(|r| r.state == State::Confirmed)
    }

    /// True when nobody else was in the room when it was sent.
    pub fn nobody(&self) -> bool {
        self.recipients.is_empty()
    }

    fn resolved(&self) -> bool {
        self.recipients.iter().all(|r| r.state != State::Waiting)
    }
}

/// The stream to one member.
#[derive(Debug)]
struct Link {
    outbox: Outbox,
    addr: SocketAddr,
    pace: Pace,
}

/// A token bucket of the datagrams sent to one member: [`PACE`] a second,
/// at most [`PACE`] saved up. Every transmission takes a token, and a
/// retransmission that finds none goes anyway (the bucket owes it), so
/// new messages wait while retransmissions use the member's allowance.
#[derive(Debug, Clone, Copy)]
struct Pace {
    tokens: f64,
    at: Instant,
}

impl Pace {
    /// Tokens a new message needs; a hair under one, so float rounding
    /// never leaves a waiting loop a nanosecond short of its token.
    const NEEDED: f64 = 1.0 - 1e-6;
    /// The most the bucket owes: a second of datagrams.
    const DEBT: f64 = -(PACE as f64);

    fn full(now: Instant) -> Self {
        Pace {
            tokens: f64::from(PACE),
            at: now,
        }
    }

    fn tokens(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * f64::from(PACE)).min(f64::from(PACE))
    }

    fn ready(&self, now: Instant) -> bool {
        self.tokens(now) >= Self::NEEDED
    }

    /// When [`Self::ready`] becomes true (now or later).
    fn ready_at(&self, now: Instant) -> Instant {
        let missing = Self::NEEDED - self.tokens(now);
        if missing <= 0.0 {
            return now;
        }
        now + Duration::from_secs_f64(missing / f64::from(PACE))
    }

    fn take(&mut self, now: Instant) {
        self.tokens = (self.tokens(now) - 1.0).max(Self::DEBT);
        self.at = now;
    }
}

/// This member's messages in flight to the room.
#[derive(Debug)]
pub struct Room {
    /// This member's instance: the `sender` of its messages.
    me: u64,
    patience: Patience,
    links: HashMap<u64, Link>,
    /// Unresolved messages by number.
    pending: BTreeMap<u64, Sent>,
    /// `(member, seq)` -> message number.
    by_seq: HashMap<(u64, u64), u64>,
    next_number: u64,
    outcomes: Vec<(u64, bool)>,
    open: Vec<u8>,
    held: Vec<(u64, u64)>,
}

impl Room {
    pub fn new(me: u64, patience: Patience) -> Self {
        Room {
            me,
            patience,
            links: HashMap::new(),
            pending: BTreeMap::new(),
            by_seq: HashMap::new(),
            next_number: 1,
            outcomes: Vec::new(),
            open: Vec::with_capacity(2048),
            held: Vec::new(),
        }
    }

    /// True when another message may be sent now: fewer than
    /// [`MAX_PENDING`] wait, every member's window has room, and no member
    /// was sent its [`PACE`] for now.
    pub fn has_room(&self, now: Instant) -> bool {
        self.window_open() && self.links.values().all(|l| l.pace.ready(now))
    }

    /// When [`Self::has_room`] turns true by time passing alone: `None`
    /// when it is true now, or when it waits for acknowledgements (or give-ups).
    pub fn paced_until(&self, now: Instant) -> Option<Instant> {
        if !self.window_open() {
            return None;
        }
        let at = self.links.values().map(|l| l.pace.ready_at(now)).max()?;
        (at > now).then_some(at)
    }

    /// Fewer than [`MAX_PENDING`] wait, and every member's window has room.
    fn window_open(&self) -> bool {
        self.pending.len() < MAX_PENDING && self.links.values().all(|l| l.outbox.has_room(1))
    }

    /// True when no message waits to be resolved.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Sends `body` as `name` to each of `to` (instance, name, address):
    /// the members present now, or the one of a private message. Returns
    /// its number.
    pub fn send(
        &mut self,
        body: &[u8],
        name: &str,
        to: &[(u64, &str, SocketAddr)],
        private: bool,
        now: Instant,
        net: &mut dyn Transmit,
    ) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        let mut recipients = Vec::with_capacity(to.len());
        for &(instance, member_name, addr) in to {
            let seed = (self.me ^ instance) | 1;
            let patience = self.patience;
            let link = self.links.entry(instance).or_insert_with(|| Link {
                outbox: Outbox::new(patience, seed).with_outcomes(),
                addr,
                pace: Pace::full(now),
            });
            link.addr = addr;
            let seq = link.outbox.next_seq();
            self.open.clear();
            let text = Message::Text(Text {
                sender: self.me,
                seq,
                base: seq,
                flags: FLAG_ACK,
                name,
                body,
            });
            if wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut self.open).is_err() {
                // Cannot happen for a body within MAX_MESSAGE.
                continue;
            }
            let pace = &mut link.pace;
            let _ = link
                .outbox
                .push(self.open.clone(), now, &mut |bytes, base| {
                    wire::set_text_base(bytes, base);
                    pace.take(now);
                    net.send(addr, bytes);
                    Ok::<(), std::convert::Infallible>(())
                });
            self.by_seq.insert((instance, seq), number);
            recipients.push(Recipient {
                instance,
                name: member_name.to_string(),
                state: State::Waiting,
            });
        }
        self.pending.insert(
            number,
            Sent {
                number,
                at: SystemTime::now(),
                name: name.to_string(),
                body: body.to_vec(),
                private,
                recipients,
            },
        );
        number
    }

    /// An acknowledgement from member `instance`, which came from `from`
    /// (it must be the address its messages go to).
    pub fn on_ack(
        &mut self,
        instance: u64,
        from: SocketAddr,
        next: u64,
        ranges: impl Iterator<Item = (u64, u64)>,
        now: Instant,
    ) {
        let Some(link) = self.links.get_mut(&instance) else {
            return;
        };
        if link.addr != from {
            return;
        }
        self.held.clear();
        self.held.extend(ranges);
        let info = AckInfo {
            instance,
            next,
            held: &self.held,
        };
        link.outbox.on_ack(info, now);
    }

    /// Resends what is due and gives up what ran out of patience.
    pub fn tick(&mut self, now: Instant, net: &mut dyn Transmit) {
        for link in self.links.values_mut() {
            let addr = link.addr;
            let pace = &mut link.pace;
            let _ = link.outbox.resend_due(now, &mut |bytes, base| {
                wire::set_text_base(bytes, base);
                pace.take(now);
                net.send(addr, bytes);
                Ok::<(), std::convert::Infallible>(())
            });
        }
    }

    /// When [`Self::tick`] next has something to do.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.links
            .values_mut()
            .filter_map(|l| l.outbox.next_due())
            .min()
    }

    /// Member `instance` left: it will confirm nothing more. What it has
    /// not confirmed is missed.
    pub fn member_gone(&mut self, instance: u64) {
        if self.links.remove(&instance).is_none() {
            return;
        }
        for sent in self.pending.values_mut() {
            for r in &mut sent.recipients {
                if r.instance == instance && r.state == State::Waiting {
                    r.state = State::Missed;
                }
            }
        }
        self.by_seq.retain(|&(member, _), _| member != instance);
    }

    /// Member `instance` is now sent to at `addr`.
    pub fn member_moved(&mut self, instance: u64, addr: SocketAddr) {
        if let Some(link) = self.links.get_mut(&instance) {
            link.addr = addr;
        }
    }

    /// Hands `resolved` every message now confirmed or given up by all its
    /// recipients, in the order they were sent.
    pub fn take_resolved(&mut self, resolved: &mut dyn FnMut(Sent)) {
        for (&instance, link) in self.links.iter_mut() {
            link.outbox.take_outcomes(&mut self.outcomes);
            for (seq, confirmed) in self.outcomes.drain(..) {
                let Some(number) = self.by_seq.remove(&(instance, seq)) else {
                    continue;
                };
                let Some(sent) = self.pending.get_mut(&number) else {
                    continue;
                };
                if let Some(r) = sent
                    .recipients
                    .iter_mut()
                    .find(|r| r.instance == instance && r.state == State::Waiting)
                {
                    r.state = if confirmed {
                        State::Confirmed
                    } else {
                        State::Missed
                    };
                }
            }
        }
        // Resolved in order: a later message is reported after the
        // earlier ones (they resolve in that order nearly always).
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().resolved() {
                break;
            }
            resolved(entry.remove());
        }
    }

    /// Gives up every message still waiting (the member is leaving).
    pub fn give_up_all(&mut self) {
        for sent in self.pending.values_mut() {
            for r in &mut sent.recipients {
                if r.state == State::Waiting {
                    r.state = State::Missed;
                }
            }
        }
        self.links.clear();
        self.by_seq.clear();
    }
}

#[cfg(test)]
mod tests;
