//! Tests of the watcher's table, driven without sockets or clocks.

use super::*;

const INTERVAL: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn hello<'a>(instance: u64, name: &'a str, from: &str, lifetime: Duration) -> Sighting<'a> {
    Sighting {
        instance,
        name,
        port: 47474,
        version: 2,
        addr: addr(from),
        interface: "eth0",
        via: Via::Hello { lifetime, room: "" },
    }
}

fn answer<'a>(instance: u64, name: &'a str, from: &str) -> Sighting<'a> {
    Sighting {
        via: Via::Answer,
        ..hello(instance, name, from, Duration::ZERO)
    }
}

/// What a call emitted: (kind, reason, instance, addresses).
type Seen = Vec<(Kind, Reason, u64, Vec<SocketAddr>)>;

fn record(seen: &mut Seen) -> impl FnMut(Change<'_>) + '_ {
    |c: Change<'_>| {
        seen.push((
            c.kind,
            c.reason,
            c.peer.instance,
            c.peer.addrs.iter().map(|a| a.addr).collect(),
        ))
    }
}

fn heard(table: &mut Table, s: Sighting<'_>, at: Instant) -> Seen {
    let mut seen = Vec::new();
    table.heard(&s, at, &mut record(&mut seen));
    seen
}

fn tick(table: &mut Table, at: Instant) -> Seen {
    let mut seen = Vec::new();
    table.tick(at, &mut record(&mut seen));
    seen
}

fn goodbye(table: &mut Table, instance: u64, at: Instant) -> Seen {
    let mut seen = Vec::new();
    table.goodbye(instance, at, &mut record(&mut seen));
    seen
}

fn kinds(seen: &Seen) -> Vec<(Kind, Reason, u64)> {
    seen.iter().map(|(k, r, i, _)| (*k, *r, *i)).collect()
}

#[test]
fn a_newcomer_is_up_once_settled_with_what_came_with_it() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    assert!(heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(900)), t0).is_empty());
    assert!(
        heard(
            &mut table,
            hello(1, "a", "10.0.0.1:47474", ms(900)),
            t0 + ms(10)
        )
        .is_empty()
    );
    // Its IPv6 copy, within the settling time: no change of its own.
    assert!(heard(&mut table, answer(1, "a", "[fe80::1%2]:47474"), t0 + ms(20)).is_empty());
    assert_eq!(table.next_deadline(), Some(t0 + SETTLE));
    assert!(tick(&mut table, t0 + SETTLE - ms(1)).is_empty());
    let seen = tick(&mut table, t0 + SETTLE);
    assert_eq!(kinds(&seen), [(Kind::Up, Reason::Hello, 1)]);
    assert_eq!(
        seen[0].3,
        [addr("10.0.0.1:47474"), addr("[fe80::1%2]:47474")]
    );
    // A new address after that is a change.
    let seen = heard(&mut table, answer(1, "a", "10.0.128.1:47474"), t0 + ms(60));
    assert_eq!(kinds(&seen), [(Kind::Changed, Reason::Addrs, 1)]);
    assert_eq!(seen[0].3.len(), 3);
    heard(&mut table, answer(2, "b", "10.0.0.2:47474"), t0 + ms(70));
    let seen = tick(&mut table, t0 + ms(70) + SETTLE);
    assert_eq!(kinds(&seen), [(Kind::Up, Reason::Answer, 2)]);
    assert_eq!(table.len(), 2);
}

#[test]
fn an_announcing_peer_expires_after_its_lifetime_not_before() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(900)), t0);
    assert_eq!(
        kinds(&tick(&mut table, t0 + SETTLE)),
        [(Kind::Up, Reason::Hello, 1)]
    );
    // Heard again at 500 ms: the lifetime counts from there.
    heard(
        &mut table,
        hello(1, "a", "10.0.0.1:47474", ms(900)),
        t0 + ms(500),
    );
    assert!(tick(&mut table, t0 + ms(1399)).is_empty());
    assert!(table.take_refresh(), "80% of the lifetime passed unheard");
    assert!(!table.take_refresh(), "once");
    assert_eq!(table.next_deadline(), Some(t0 + ms(1400)));
    let seen = tick(&mut table, t0 + ms(1400));
    assert_eq!(kinds(&seen), [(Kind::Down, Reason::Expired, 1)]);
    assert!(table.is_empty());
    assert_eq!(table.next_deadline(), None);
}

#[test]
fn refresh_points_come_at_80_85_90_and_95_percent() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(1000)), t0);
    let mut points = Vec::new();
    while let Some(at) = table.next_deadline() {
        let seen = tick(&mut table, at);
        if table.take_refresh() {
            points.push(at - t0);
        }
        if seen.iter().any(|(kind, ..)| *kind == Kind::Down) {
            assert_eq!(at - t0, ms(1000));
            break;
        }
    }
    assert_eq!(points, [ms(800), ms(850), ms(900), ms(950)]);
}

#[test]
fn a_peer_that_does_not_announce_expires_after_three_intervals() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, answer(7, "p", "10.0.0.7:47474"), t0);
    assert_eq!(
        kinds(&tick(&mut table, t0 + ms(2999))),
        [(Kind::Up, Reason::Answer, 7)]
    );
    assert_eq!(
        kinds(&tick(&mut table, t0 + ms(3000))),
        [(Kind::Down, Reason::Expired, 7)]
    );
}

#[test]
fn lifetimes_are_clamped() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(0)), t0);
    heard(
        &mut table,
        hello(2, "b", "10.0.0.2:47474", Duration::MAX),
        t0,
    );
    assert_eq!(table.get(1).unwrap().lifetime, Some(MIN_LIFETIME));
    assert_eq!(table.get(2).unwrap().lifetime, Some(MAX_LIFETIME));
}

#[test]
fn goodbye_is_down_and_a_late_answer_does_not_bring_it_back() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(900)), t0);
    tick(&mut table, t0 + SETTLE);
    let seen = goodbye(&mut table, 1, t0 + ms(100));
    assert_eq!(kinds(&seen), [(Kind::Down, Reason::Goodbye, 1)]);
    assert_eq!(seen[0].3, [addr("10.0.0.1:47474")], "as it was");
    assert!(
        goodbye(&mut table, 1, t0 + ms(101)).is_empty(),
        "the second copy"
    );
    assert!(heard(&mut table, answer(1, "a", "10.0.0.1:47474"), t0 + ms(200)).is_empty());
    assert!(table.is_empty());
    // Long after, the same id is a peer again (ids are random: a new one);
    // gone within the settling time, it was up and down.
    heard(
        &mut table,
        answer(1, "a", "10.0.0.1:47474"),
        t0 + GONE_FOR + ms(100),
    );
    let seen = goodbye(&mut table, 1, t0 + GONE_FOR + ms(110));
    assert_eq!(
        kinds(&seen),
        [
            (Kind::Up, Reason::Answer, 1),
            (Kind::Down, Reason::Goodbye, 1)
        ]
    );
    heard(
        &mut table,
        answer(5, "e", "10.0.0.5:47474"),
        t0 + GONE_FOR + ms(120),
    );
    // A goodbye from a stranger changes nothing.
    assert!(goodbye(&mut table, 99, t0 + GONE_FOR + ms(200)).is_empty());
    assert_eq!(table.len(), 1);
}

#[test]
fn a_new_instance_at_a_held_peers_address_is_a_restart() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(900)), t0);
    heard(&mut table, hello(1, "a", "[fe80::1%2]:47474", ms(900)), t0);
    tick(&mut table, t0 + SETTLE);
    let seen = heard(
        &mut table,
        hello(2, "a", "10.0.0.1:47474", ms(900)),
        t0 + ms(50),
    );
    assert_eq!(kinds(&seen), [(Kind::Changed, Reason::Restarted, 2)]);
    // Its other address comes along (until it goes stale).
    assert_eq!(
        seen[0].3,
        [addr("10.0.0.1:47474"), addr("[fe80::1%2]:47474")]
    );
    assert_eq!(table.get(2).unwrap().previous, Some(1));
    assert!(table.get(1).is_none());
    assert_eq!(table.len(), 1);
    // Another name at that address is another listener.
    heard(
        &mut table,
        hello(3, "b", "10.0.0.1:47474", ms(900)),
        t0 + ms(60),
    );
    let seen = tick(&mut table, t0 + ms(60) + SETTLE);
    assert_eq!(kinds(&seen), [(Kind::Up, Reason::Hello, 3)]);
    // The replaced instance heard again: it was a second listener sharing
    // the port, not a restart; both are kept from now on.
    heard(&mut table, answer(1, "a", "10.0.0.1:47474"), t0 + ms(120));
    let seen = tick(&mut table, t0 + ms(120) + SETTLE);
    assert_eq!(kinds(&seen), [(Kind::Up, Reason::Answer, 1)]);
    assert!(heard(&mut table, answer(2, "a", "10.0.0.1:47474"), t0 + ms(180)).is_empty());
    assert!(heard(&mut table, answer(1, "a", "10.0.0.1:47474"), t0 + ms(190)).is_empty());
    assert_eq!(table.len(), 3);
    // A restart within the settling time is the newcomer alone.
    heard(
        &mut table,
        hello(4, "d", "10.0.0.4:47474", ms(900)),
        t0 + ms(200),
    );
    assert!(
        heard(
            &mut table,
            hello(5, "d", "10.0.0.4:47474", ms(900)),
            t0 + ms(210)
        )
        .is_empty()
    );
    let seen = tick(&mut table, t0 + ms(210) + SETTLE);
    assert_eq!(kinds(&seen), [(Kind::Up, Reason::Hello, 5)]);
}

#[test]
fn an_address_not_heard_for_two_windows_leaves_the_set() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(1000)), t0);
    // The host was renumbered: only the new address is heard from now on.
    let mut at = t0;
    let mut changes = Vec::new();
    for _ in 0..25 {
        at += ms(100);
        changes.extend(tick(&mut table, at));
        changes.extend(heard(
            &mut table,
            hello(1, "a", "10.0.0.9:47474", ms(1000)),
            at,
        ));
    }
    assert_eq!(
        changes,
        [
            (Kind::Up, Reason::Hello, 1, vec![addr("10.0.0.1:47474")]),
            (
                Kind::Changed,
                Reason::Addrs,
                1,
                vec![addr("10.0.0.1:47474"), addr("10.0.0.9:47474")]
            ),
            (
                Kind::Changed,
                Reason::Addrs,
                1,
                vec![addr("10.0.0.9:47474")]
            ),
        ]
    );
}

#[test]
fn a_full_table_counts_newcomers_and_keeps_who_it_has() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, 100);
    for i in 0..100 {
        let name = format!("x{i}");
        heard(&mut table, answer(i, &name, "10.0.0.1:47474"), t0);
    }
    assert_eq!(table.len(), 100);
    // A flood of hellos with random ids from random addresses.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for n in 0..100_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let from = format!("10.1.{}.{}:47474", (x >> 8) as u8, x as u8);
        let at = t0 + Duration::from_micros(n);
        assert!(heard(&mut table, hello(x | 1 << 63, "flood", &from, ms(900)), at).is_empty());
    }
    assert_eq!(table.len(), 100);
    assert_eq!(table.overflow, 100_000);
    assert_eq!(table.schedule.len(), 100, "one schedule entry per peer");
    assert!(table.by_addr.len() <= 100 * MAX_ADDRS);
    for i in 0..100 {
        assert!(table.get(i).is_some());
    }
}

#[test]
fn state_stays_one_entry_per_peer_through_churn() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    let mut at = t0;
    for round in 0..2_000u64 {
        at += ms(7);
        let id = round % 50;
        let from = format!("10.0.0.{}:47474", id % 10);
        heard(&mut table, hello(id, "n", &from, ms(300)), at);
        if round % 3 == 0 {
            goodbye(&mut table, (round / 3) % 50, at);
        }
        tick(&mut table, at);
        assert_eq!(table.schedule.len(), table.len());
        let indexed: usize = table.by_addr.values().map(Vec::len).sum();
        let addrs: usize = table.peers.values().map(|p| p.addrs.len()).sum();
        assert!(indexed <= addrs);
        assert!(table.gone.len() <= GONE_MAX && table.gone.len() == table.gone_set.len());
    }
}

#[test]
fn a_changed_name_or_room_is_reported() {
    let t0 = Instant::now();
    let mut table = Table::new(INTERVAL, MAX_PEERS);
    heard(&mut table, hello(1, "a", "10.0.0.1:47474", ms(900)), t0);
    tick(&mut table, t0 + SETTLE);
    let seen = heard(&mut table, hello(1, "b", "10.0.0.1:47474", ms(900)), t0);
    assert_eq!(kinds(&seen), [(Kind::Changed, Reason::Name, 1)]);
    let mut s = hello(1, "b", "10.0.0.1:47474", ms(900));
    s.via = Via::Hello {
        lifetime: ms(900),
        room: "lobby",
    };
    let seen = heard(&mut table, s, t0);
    assert_eq!(kinds(&seen), [(Kind::Changed, Reason::Room, 1)]);
    assert_eq!(table.get(1).unwrap().room, "lobby");
    // An answer carries no room: it does not clear it.
    assert!(heard(&mut table, answer(1, "b", "10.0.0.1:47474"), t0).is_empty());
    assert_eq!(table.get(1).unwrap().room, "lobby");
}
