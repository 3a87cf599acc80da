//! Tests of the sender's outbox, driven without sockets.

use super::*;
use std::convert::Infallible;

const MS: Duration = Duration::from_millis(1);

/// What went on the wire: `(first byte, base)` of each datagram.
fn sink(log: &mut Vec<(u8, u64)>) -> impl FnMut(&mut [u8], u64) -> Result<(), Infallible> + '_ {
    |b, base| {
        log.push((b[0], base));
        Ok(())
    }
}

fn ack(next: u64, held: &[(u64, u64)]) -> AckInfo<'_> {
    AckInfo {
        instance: 1,
        next,
        held,
    }
}

fn outbox() -> Outbox {
    Outbox::new(Patience::default(), 1)
}

fn push(out: &mut Outbox, n: u8, now: Instant, wire: &mut Vec<(u8, u64)>) {
    let Ok(()) = out.push(vec![n; 100], now, &mut sink(wire));
}

#[test]
fn a_cumulative_ack_confirms_and_a_later_receipt_marks_the_earlier_lost() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    for i in 0..4 {
        push(&mut out, i, t0 + MS * u32::from(i), &mut wire);
    }
    assert_eq!(
        wire,
        [(0, 0), (1, 0), (2, 0), (3, 0)],
        "each carries base 0"
    );
    // 0 confirmed; 2 and 3 held: 1 was lost (sent before 2, which arrived).
    let t1 = t0 + 5 * MS;
    assert_eq!(out.on_ack(ack(1, &[(2, 3)]), t1), 1);
    let Ok(()) = out.resend_due(t1, &mut sink(&mut wire));
    assert_eq!(&wire[4..], [(1, 1)], "only 1 again, at once, with base 1");
    assert_eq!(out.on_ack(ack(4, &[]), t1 + MS), 3);
    assert!(out.is_empty());
    assert_eq!(out.tally().confirmed, 4);
    assert_eq!(out.tally().resent, 1);
}

#[test]
fn held_messages_are_not_resent_and_not_confirmed() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    for i in 0..3 {
        push(&mut out, i, t0, &mut wire);
    }
    out.on_ack(ack(0, &[(1, 2)]), t0 + MS);
    assert_eq!(out.tally().confirmed, 0);
    // Much later: only 0 is resent by its timer, never the held ones.
    let late = t0 + 100 * MS;
    let Ok(()) = out.resend_due(late, &mut sink(&mut wire));
    assert_eq!(&wire[3..], [(0, 0)]);
    assert_eq!(out.in_flight(), 3);
    // Its timer now runs from that resend, doubled.
    let due = out.next_due().unwrap();
    assert!(due > late, "{due:?}");
}

#[test]
fn giving_up_moves_the_base_and_nudges_the_listener() {
    let t0 = Instant::now();
    let mut out = Outbox::new(
        Patience {
            retries: Some(0),
            time: Duration::from_secs(60),
        },
        1,
    );
    let mut wire = Vec::new();
    for i in 0..3 {
        push(&mut out, i, t0, &mut wire);
    }
    out.on_ack(ack(0, &[(1, 2)]), t0 + MS);
    // 0 runs out of tries: given up; 1 goes again to carry base 1.
    let late = t0 + 100 * MS;
    let Ok(()) = out.resend_due(late, &mut sink(&mut wire));
    assert_eq!(&wire[3..], [(1, 1)]);
    assert_eq!(out.base(), 1);
    assert_eq!(out.tally().given_up, 1);
    assert_eq!(out.on_ack(ack(3, &[]), late + MS), 2);
    assert!(out.is_empty());
}

#[test]
fn a_new_listener_gets_everything_not_confirmed_again() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    for i in 0..3 {
        push(&mut out, i, t0, &mut wire);
    }
    out.on_ack(ack(1, &[(2, 2)]), t0 + MS);
    let restarted = AckInfo {
        instance: 2,
        next: 1,
        held: &[],
    };
    assert_eq!(out.on_ack(restarted, t0 + 2 * MS), 0);
    assert_eq!(out.tally().restarts, 1);
    let Ok(()) = out.resend_due(t0 + 2 * MS, &mut sink(&mut wire));
    assert_eq!(
        &wire[3..],
        [(1, 1), (2, 1)],
        "held by the old one, so sent again"
    );
}

#[test]
fn patience_gives_up_and_frees_the_window() {
    let t0 = Instant::now();
    let mut out = Outbox::new(
        Patience {
            retries: Some(1),
            time: Duration::from_secs(60),
        },
        1,
    );
    let mut wire = Vec::new();
    let mut pushed = 0;
    while out.has_room(100) {
        push(&mut out, 0, t0, &mut wire);
        pushed += 1;
    }
    assert_eq!(
        pushed as usize,
        INITIAL_CWND / (100 + DATAGRAM_COST),
        "the byte window binds first"
    );
    for step in 1..=2 {
        let Ok(()) = out.resend_due(t0 + Duration::from_secs(step), &mut sink(&mut wire));
    }
    assert!(
        out.is_empty(),
        "every message was given up on after one retry"
    );
    assert!(out.has_room(100));
    assert_eq!(out.tally().given_up, pushed);
    assert_eq!(wire.len() as u64, 2 * pushed);
}

#[test]
fn the_window_grows_with_acks_and_shrinks_on_loss() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    let mut now = t0;
    // Clean rounds: the window doubles (slow start).
    for _ in 0..3 {
        let start = out.next_seq();
        while out.has_room(1000) {
            let Ok(()) = out.push(vec![0; 1000], now, &mut sink(&mut wire));
        }
        now += MS;
        out.on_ack(ack(out.next_seq(), &[]), now);
        assert!(out.next_seq() > start);
    }
    let grown = out.cwnd();
    assert!(grown >= 4 * INITIAL_CWND, "{grown}");
    // A round with a loss and no queue (the round trip stays at its
    // least): the link's loss, not congestion; the window keeps its size.
    let lossy_round = |out: &mut Outbox, wire: &mut Vec<(u8, u64)>, now: &mut Instant, rtt| {
        let first = out.next_seq();
        let Ok(()) = out.push(vec![0; 1000], *now, &mut sink(wire));
        // Well before the rest: found lost whatever the reordering margin.
        *now += 5 * MS;
        while out.has_room(1000) {
            let Ok(()) = out.push(vec![0; 1000], *now, &mut sink(wire));
        }
        *now += rtt;
        out.on_ack(ack(first, &[(first + 1, out.next_seq() - 1)]), *now);
        let before = out.cwnd();
        let sent = wire.len();
        let Ok(()) = out.resend_due(*now, &mut sink(wire));
        assert_eq!(wire.len(), sent + 1, "the lost one went again, alone");
        let after = out.cwnd();
        // Confirm everything before the next round.
        *now += MS;
        out.on_ack(ack(out.next_seq(), &[]), *now);
        (before, after)
    };
    let (before, after) = lossy_round(&mut out, &mut wire, &mut now, MS);
    assert!(
        after >= before,
        "{after} < {before}: shrunk for a loss without a queue"
    );
    // With a queue (round trips ten times the least): congestion, and the
    // window shrinks once for the loss.
    let (before, after) = lossy_round(&mut out, &mut wire, &mut now, 10 * MS);
    assert_eq!(after, (before as f64 * LOSS_BACKOFF) as usize);
}

#[test]
fn a_message_bigger_than_the_window_still_goes_alone() {
    let mut out = outbox();
    assert!(out.has_room(MAX_CWND * 2), "nothing in flight: always room");
    let mut wire = Vec::new();
    let Ok(()) = out.push(vec![0; 60_000], Instant::now(), &mut sink(&mut wire));
    assert!(out.has_room(4_000));
    assert!(!out.has_room(60_000));
}

#[test]
fn a_queue_stops_the_growth_and_shrinks_the_window_once_per_round_trip() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    let mut now = t0;
    // Fast round trips, no queue: the window grows (slow start).
    for i in 0..20u64 {
        push(&mut out, i as u8, now, &mut wire);
        now += Duration::from_micros(100);
        out.on_ack(ack(i + 1, &[]), now);
    }
    let grown = out.cwnd();
    assert!(grown > INITIAL_CWND, "{grown}");
    // Round trips of 20 ms (a queue): no growth; a tenth less per round trip.
    let mut seq = 20u64;
    let mut last = grown;
    for round in 0..5 {
        for _ in 0..10 {
            push(&mut out, 0, now, &mut wire);
            seq += 1;
        }
        now += 20 * MS;
        out.on_ack(ack(seq, &[]), now);
        assert!(out.cwnd() < last || out.cwnd() == MIN_CWND, "round {round}");
        last = out.cwnd();
    }
    assert!(last <= (grown as f64 * DELAY_BACKOFF.powi(2)) as usize);
    assert!(last >= MIN_CWND);
}

/// A listener as the wire shows it: what arrived, acknowledged by `next`
/// and held ranges.
#[derive(Default)]
struct FakeListener {
    next: u64,
    held: std::collections::BTreeSet<u64>,
}

impl FakeListener {
    fn arrive(&mut self, seq: u64, base: u64) {
        if base > self.next {
            // The sender gave up below `base`.
            self.next = base;
        }
        if seq >= self.next {
            self.held.insert(seq);
        }
        while self.held.remove(&self.next) {
            self.next += 1;
        }
        self.held = self.held.split_off(&self.next);
    }

    /// As the real one: all held ranges if they fit in an ack, else the
    /// lowest quarter and the highest (where the recent arrivals are).
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &seq in &self.held {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == seq => *end = seq,
                _ => ranges.push((seq, seq)),
            }
        }
        let max = crate::wire::MAX_ACK_RANGES;
        if ranges.len() > max {
            let highest = ranges.split_off(ranges.len() - (max - max / 4));
            ranges.truncate(max / 4);
            ranges.extend(highest);
        }
        ranges
    }
}

type Ranges = Vec<(u64, u64)>;

/// `lines` messages through a path losing `loss` percent each way (one
/// ack per 50 µs tick with news, 50 µs each way), in virtual time: every
/// message is confirmed, none given up, within `limit`.
fn lossy_run(lines: u64, loss: u64, seed: u64, limit: Duration) -> Tally {
    let tick = Duration::from_micros(50);
    let t0 = Instant::now();
    let mut now = t0;
    let mut rng = XorShift::new(seed);
    let mut out = Outbox::new(Patience::default(), seed);
    let mut listener = FakeListener::default();
    // (arrival, seq, base) of datagrams, (arrival, next, ranges) of acks.
    let mut data: VecDeque<(Instant, u64, u64)> = VecDeque::new();
    let mut acks: VecDeque<(Instant, u64, Ranges)> = VecDeque::new();
    let mut pushed = 0;
    while pushed < lines || !out.is_empty() {
        assert!(
            now < t0 + limit,
            "{loss}% loss: stuck at {} of {lines} confirmed, {} in flight, tally {:?}",
            out.tally().confirmed,
            out.in_flight(),
            out.tally()
        );
        while acks.front().is_some_and(|a| a.0 <= now) {
            let Some((_, next, held)) = acks.pop_front() else {
                break;
            };
            out.on_ack(
                AckInfo {
                    instance: 1,
                    next,
                    held: &held,
                },
                now,
            );
        }
        let mut wire = |bytes: &mut [u8], base: u64| {
            if rng.below(100) >= loss {
                let seq = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
                data.push_back((now + tick, seq, base));
            }
            Ok::<(), Infallible>(())
        };
        let Ok(()) = out.resend_due(now, &mut wire);
        while pushed < lines && out.has_room(100) {
            let mut bytes = vec![0; 100];
            bytes[..8].copy_from_slice(&out.next_seq().to_le_bytes());
            let Ok(()) = out.push(bytes, now, &mut wire);
            pushed += 1;
        }
        let mut news = false;
        while data.front().is_some_and(|d| d.0 <= now) {
            let Some((_, seq, base)) = data.pop_front() else {
                break;
            };
            listener.arrive(seq, base);
            news = true;
        }
        if news && rng.below(100) >= loss {
            acks.push_back((now + tick, listener.next, listener.ranges()));
        }
        now += tick;
    }
    out.tally()
}

#[test]
fn every_message_gets_through_heavy_loss_both_ways() {
    for (loss, seed) in [(0, 1), (5, 2), (30, 3), (30, 4), (50, 5)] {
        let tally = lossy_run(20_000, loss, seed, Duration::from_secs(60));
        assert_eq!(tally.confirmed, 20_000, "{loss}%: {tally:?}");
        assert_eq!(tally.given_up, 0, "{loss}%: {tally:?}");
    }
}

#[test]
fn what_the_listener_holds_is_not_given_up_with_the_gap_below_it() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    for i in 0..13 {
        push(&mut out, i, t0, &mut wire);
    }
    // 2 never arrives; the listener shows 0 and 1 and holds 3..=12.
    out.on_ack(ack(2, &[(3, 12)]), t0 + MS);
    assert_eq!(out.tally().confirmed, 2);
    // Patience runs out for 2 (and, by their first send, for the held
    // ones too): only 2 is given up, and the oldest held one goes again
    // with base 3, so the listener releases what it holds at once.
    let late = t0 + MESSAGE_PATIENCE + MS;
    let sent = wire.len();
    let Ok(()) = out.resend_due(late, &mut sink(&mut wire));
    assert_eq!(out.tally().given_up, 1, "{:?}", out.tally());
    assert_eq!(&wire[sent..], [(3, 3)], "held 3 again, carrying base 3");
    assert_eq!(out.on_ack(ack(13, &[]), late + MS), 10);
    assert!(out.is_empty());
    assert_eq!(out.tally().confirmed, 12);
}

#[test]
fn a_nudge_that_is_lost_goes_again_and_a_silent_listener_ends_it() {
    let t0 = Instant::now();
    let mut out = outbox();
    let mut wire = Vec::new();
    for i in 0..5 {
        push(&mut out, i, t0, &mut wire);
    }
    out.on_ack(ack(0, &[(1, 4)]), t0 + MS);
    let late = t0 + MESSAGE_PATIENCE + MS;
    let Ok(()) = out.resend_due(late, &mut sink(&mut wire));
    assert_eq!(out.tally().given_up, 1);
    let nudges = wire.len();
    // The nudge is lost: its timer sends it again.
    let Ok(()) = out.resend_due(late + Duration::from_secs(1), &mut sink(&mut wire));
    assert!(wire.len() > nudges, "the nudge went again");
    assert_eq!(wire.last(), Some(&(1, 1)));
    // Nothing answers for a whole patience after the nudge: the listener
    // is gone, and what it held is given up too (the outbox empties).
    let Ok(()) = out.resend_due(late + MESSAGE_PATIENCE + MS, &mut sink(&mut wire));
    assert!(out.is_empty(), "{:?}", out.tally());
    assert_eq!(out.tally().given_up, 5);
    assert_eq!(out.next_due(), None);
}

#[test]
fn each_gap_given_up_nudges_the_listener_past_it() {
    let t0 = Instant::now();
    let mut out = Outbox::new(
        Patience {
            retries: Some(0),
            time: MESSAGE_PATIENCE,
        },
        1,
    );
    let mut wire = Vec::new();
    for i in 0..6 {
        push(&mut out, i, t0, &mut wire);
    }
    // 0 confirmed; 1 and 3 lost; 2, 4 and 5 held.
    out.on_ack(ack(1, &[(2, 2), (4, 5)]), t0 + MS);
    // Their timer: 1 and 3 are out of retries; 2 goes again with base 2.
    let t1 = t0 + Duration::from_secs(1);
    let sent = wire.len();
    let Ok(()) = out.resend_due(t1, &mut sink(&mut wire));
    assert_eq!(out.tally().given_up, 2);
    assert_eq!(&wire[sent..], [(2, 2)]);
    // The listener shows 2 and waits for 3 (base 2 cannot say 3 was given
    // up); once 2 is confirmed the base passes 3: 4 goes with base 4.
    assert_eq!(out.on_ack(ack(3, &[(4, 5)]), t1 + MS), 1);
    let sent = wire.len();
    let Ok(()) = out.resend_due(t1 + MS, &mut sink(&mut wire));
    assert_eq!(
        &wire[sent..],
        [(4, 4)],
        "nudged past the second gap at once"
    );
    assert_eq!(out.on_ack(ack(6, &[]), t1 + 2 * MS), 2);
    assert!(out.is_empty());
    assert_eq!(out.tally().confirmed, 4);
}
