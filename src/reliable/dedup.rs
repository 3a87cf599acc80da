//! Recently shown `(sender, seq)` pairs, so one message that arrives twice
//! (a broadcast heard on two interfaces, a duplicating network) is shown
//! once; and recent raw datagrams sent to a group, so one heard on two
//! interfaces is shown once. Bounded in count and in time.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Pairs remembered at most; the oldest is forgotten first.
pub const RECENT_PAIRS: usize = 4096;
/// How long a pair is remembered: copies of one datagram arrive within
/// milliseconds of each other.
pub const RECENT_FOR: Duration = Duration::from_secs(5);

/// A bounded, time-limited set of `(sender, seq)` pairs.
#[derive(Debug, Default)]
pub struct Recent {
    set: HashSet<(u64, u64)>,
    order: VecDeque<(Instant, (u64, u64))>,
}

impl Recent {
    /// True the first time `(sender, seq)` is seen (within the bounds),
    /// false for a copy.
    pub fn first_time(&mut self, sender: u64, seq: u64, now: Instant) -> bool {
        while let Some(&(at, pair)) = self.order.front() {
            if self.order.len() < RECENT_PAIRS && now.saturating_duration_since(at) < RECENT_FOR {
                break;
            }
            self.order.pop_front();
            self.set.remove(&pair);
        }
        if !self.set.insert((sender, seq)) {
            return false;
        }
        self.order.push_back((now, (sender, seq)));
        true
    }
}

/// Raw group datagrams remembered at most; the oldest is forgotten first.
pub const GROUP_COPIES: usize = 4096;
/// How long a raw group datagram is remembered: the copies a host with
/// several interfaces on one link receives arrive within microseconds.
pub const GROUP_COPIES_FOR: Duration = Duration::from_secs(1);

/// Raw datagrams sent to a broadcast or multicast address, lately, each
/// with the interface it arrived on. A raw datagram carries no id, so a
/// copy is known by what it is: the same bytes from the same address and
/// port to the same group, arriving on *another* interface within
/// [`GROUP_COPIES_FOR`] (the same datagram heard on two interfaces of one
/// link). The same bytes again on the same interface are a new datagram (a
/// program that repeats itself), and are shown.
#[derive(Debug, Default)]
pub struct GroupCopies {
    /// Fingerprint -> (interface, when).
    seen: HashMap<u64, (u32, Instant)>,
    order: VecDeque<(Instant, u64)>,
    /// Random keys: a peer cannot make two datagrams look alike.
    keys: RandomState,
}

impl GroupCopies {
    /// True unless `bytes` from `from` to `group` is a copy, arrived on
    /// interface `ifindex`, of one seen lately on another interface.
    pub fn first_copy(
        &mut self,
        from: SocketAddr,
        group: IpAddr,
        ifindex: u32,
        bytes: &[u8],
        now: Instant,
    ) -> bool {
        while let Some(&(at, key)) = self.order.front() {
            if self.order.len() < GROUP_COPIES
                && now.saturating_duration_since(at) < GROUP_COPIES_FOR
            {
                break;
            }
            self.order.pop_front();
            // Only if not seen again since (then a later entry owns it).
            if self.seen.get(&key).is_some_and(|&(_, t)| t == at) {
                self.seen.remove(&key);
            }
        }
        let key = self.keys.hash_one((from, group, bytes));
        if let Some(&(first_on, _)) = self.seen.get(&key)
            && first_on != ifindex
        {
            return false;
        }
        self.seen.insert(key, (ifindex, now));
        self.order.push_back((now, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_copy_on_another_interface_is_caught_a_repeat_on_the_same_is_not() {
        let t0 = Instant::now();
        let mut copies = GroupCopies::default();
        let from: SocketAddr = "10.77.0.1:5000".parse().unwrap();
        let group: IpAddr = "239.1.2.3".parse().unwrap();
        assert!(copies.first_copy(from, group, 2, b"hi", t0));
        assert!(
            !copies.first_copy(from, group, 3, b"hi", t0),
            "copy on eth1"
        );
        assert!(copies.first_copy(from, group, 2, b"hi", t0), "sent again");
        assert!(copies.first_copy(from, group, 3, b"ho", t0), "other bytes");
        let other: SocketAddr = "10.77.0.9:5000".parse().unwrap();
        assert!(
            copies.first_copy(other, group, 3, b"hi", t0),
            "other source"
        );
        assert!(
            copies.first_copy(from, group, 3, b"hi", t0 + GROUP_COPIES_FOR),
            "forgotten after its time"
        );
        for n in 0..GROUP_COPIES as u32 {
            copies.first_copy(from, group, 2, &n.to_le_bytes(), t0 + GROUP_COPIES_FOR);
        }
        assert!(copies.seen.len() <= GROUP_COPIES);
    }

    #[test]
    fn a_copy_is_caught_within_the_bounds_and_forgotten_after() {
        let t0 = Instant::now();
        let mut recent = Recent::default();
        assert!(recent.first_time(1, 0, t0));
        assert!(!recent.first_time(1, 0, t0));
        assert!(recent.first_time(1, 1, t0));
        assert!(recent.first_time(2, 0, t0));
        assert!(
            recent.first_time(1, 0, t0 + RECENT_FOR),
            "forgotten after its time"
        );
        for seq in 0..RECENT_PAIRS as u64 {
            recent.first_time(9, seq, t0 + RECENT_FOR);
        }
        assert!(recent.set.len() <= RECENT_PAIRS);
        assert!(
            recent.first_time(1, 0, t0 + RECENT_FOR),
            "pushed out by newer pairs"
        );
    }
}
