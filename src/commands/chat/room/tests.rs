use super::*;
use crate::wire::decode_body;
use std::time::Duration;

/// Records what was sent.
#[derive(Default)]
struct Wire(Vec<(SocketAddr, Vec<u8>)>);

impl Transmit for Wire {
    fn send(&mut self, to: SocketAddr, open: &[u8]) {
        self.0.push((to, open.to_vec()));
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn patience() -> Patience {
    Patience {
        retries: None,
        time: std::time::Duration::from_secs(1),
    }
}

#[test]
fn a_message_is_delivered_once_every_recipient_confirmed_it() {
    let (b, c) = (addr("10.0.0.2:47474"), addr("10.0.0.3:47474"));
    let mut room = Room::new(1, patience());
    let mut wire = Wire::default();
    let t0 = Instant::now();
    let n = room.send(
        b"hi",
        "me",
        &[(2, "bob", b), (3, "carol", c)],
        false,
        t0,
        &mut wire,
    );
    assert_eq!(n, 1);
    assert_eq!(wire.0.len(), 2);
    for (to, bytes) in &wire.0 {
        let Ok(Message::Text(text)) = decode_body(&bytes[wire::HEADER_LEN..]) else {
            panic!("not a text")
        };
        assert_eq!((text.sender, text.seq, text.body), (1, 0, &b"hi"[..]));
        assert!(*to == b || *to == c);
    }
    let mut done = Vec::new();
    room.on_ack(2, b, 1, std::iter::empty(), t0);
    room.take_resolved(&mut |s| done.push(s));
    assert!(done.is_empty(), "carol has not confirmed");
    // An ack from the wrong address counts for nothing.
    room.on_ack(3, b, 1, std::iter::empty(), t0);
    room.take_resolved(&mut |s| done.push(s));
    assert!(done.is_empty());
    room.on_ack(3, c, 1, std::iter::empty(), t0);
    room.take_resolved(&mut |s| done.push(s));
    assert_eq!(done.len(), 1);
    assert!(done[0].delivered());
    assert!(room.is_idle());
}

#[test]
fn a_member_that_leaves_or_never_confirms_did_not_get_it() {
    let (b, c) = (addr("10.0.0.2:47474"), addr("10.0.0.3:47474"));
    let mut room = Room::new(1, patience());
    let mut wire = Wire::default();
    let t0 = Instant::now();
    room.send(
        b"one",
        "me",
        &[(2, "bob", b), (3, "carol", c)],
        false,
        t0,
        &mut wire,
    );
    room.send(b"two", "me", &[(2, "bob", b)], true, t0, &mut wire);
    room.on_ack(2, b, 2, std::iter::empty(), t0);
    room.member_gone(3);
    let mut done = Vec::new();
    room.take_resolved(&mut |s| done.push(s));
    assert_eq!(done.len(), 2);
    assert!(!done[0].delivered());
    let missed: Vec<&str> = done[0]
        .recipients
        .iter()
        .filter(|r| r.state == State::Missed)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(missed, ["carol"]);
    assert!(done[1].delivered() && done[1].private);
    // Patience runs out: given up, and said so.
    room.send(b"three", "me", &[(2, "bob", b)], false, t0, &mut wire);
    room.tick(t0 + std::time::Duration::from_secs(2), &mut wire);
    let mut done = Vec::new();
    room.take_resolved(&mut |s| done.push(s));
    assert_eq!(done.len(), 1);
    assert!(!done[0].delivered());
}

#[test]
fn nobody_present_resolves_at_once() {
    let mut room = Room::new(1, patience());
    let mut wire = Wire::default();
    room.send(b"alone", "me", &[], false, Instant::now(), &mut wire);
    let mut done = Vec::new();
    room.take_resolved(&mut |s| done.push(s));
    assert_eq!(done.len(), 1);
    assert!(done[0].recipients.is_empty());
    // Delivered to nobody is not delivered.
    assert!(done[0].nobody() && !done[0].delivered());
    assert!(wire.0.is_empty());
}

#[test]
fn messages_to_a_member_are_paced_below_what_it_takes() {
    let b = addr("10.0.0.2:47474");
    let mut room = Room::new(1, patience());
    let mut wire = Wire::default();
    let t0 = Instant::now();
    assert!(room.has_room(t0));
    assert_eq!(room.paced_until(t0), None, "nobody to pace for");
    let mut sent = 0;
    while room.has_room(t0) {
        room.send(b"x", "me", &[(2, "bob", b)], false, t0, &mut wire);
        sent += 1;
        assert!(sent <= PACE, "more than a burst at once");
    }
    assert_eq!(sent, PACE, "a burst of PACE, then a wait");
    assert_eq!(wire.0.len(), PACE as usize);
    // The next token comes after a PACEth of a second, not before.
    let next = room.paced_until(t0).expect("paced");
    let gap = next - t0;
    let period = Duration::from_secs(1) / PACE;
    assert!(gap <= period && gap > period * 99 / 100, "{gap:?}");
    assert!(!room.has_room(t0 + period * 98 / 100));
    assert!(room.has_room(next));
    assert_eq!(room.paced_until(next), None);
    // Over a second, PACE more and no more.
    let mut later = 0;
    for i in 1..=1000u32 {
        let now = next + Duration::from_millis(u64::from(i));
        if room.has_room(now) {
            room.send(b"y", "me", &[(2, "bob", b)], false, now, &mut wire);
            later += 1;
        }
    }
    assert!((PACE..=PACE + 1).contains(&later), "{later}");
}

#[test]
fn retransmissions_use_up_the_pace_of_new_messages() {
    let b = addr("10.0.0.2:47474");
    let mut room = Room::new(1, patience());
    let mut wire = Wire::default();
    let t0 = Instant::now();
    for _ in 0..PACE - 2 {
        room.send(b"x", "me", &[(2, "bob", b)], false, t0, &mut wire);
    }
    assert!(room.has_room(t0), "two tokens left");
    // Nothing was acknowledged: once the retransmission timer runs out
    // (well before 300 ms), every message goes again, and those datagrams
    // count: far more than the 12 tokens 300 ms bring.
    assert!(room.next_due().is_some(), "a retransmission timer");
    let due = t0 + Duration::from_millis(300);
    room.tick(due, &mut wire);
    let resent = wire.0.len() - (PACE as usize - 2);
    assert_eq!(resent, PACE as usize - 2);
    assert!(!room.has_room(due), "retransmissions took the tokens");
    let at = room.paced_until(due).expect("paced");
    assert!(at > due);
    assert!(room.has_room(at));
}
