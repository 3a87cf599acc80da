//! Tests of per-sender ordering, driven without sockets.

use super::*;
use std::convert::Infallible;
use std::time::Instant;

/// Drives a [`Streams`] and records what it releases: `(sender, seq)` of
/// messages, `(first, last)` of gaps.
struct Harness {
    streams: Streams,
    from: PeerAddr,
    at: SystemTime,
    shown: Vec<(u64, u64)>,
    gaps: Vec<(u64, u64)>,
}

impl Harness {
    fn new(gap_wait: Duration) -> Self {
        Harness {
            streams: Streams::new(gap_wait),
            from: PeerAddr::Inet("127.0.0.1:1".parse().unwrap()),
            at: SystemTime::now(),
            shown: Vec::new(),
            gaps: Vec::new(),
        }
    }

    fn record<'a>(
        shown: &'a mut Vec<(u64, u64)>,
        gaps: &'a mut Vec<(u64, u64)>,
    ) -> impl FnMut(Release<'_>) -> Result<(), Infallible> + 'a {
        move |r| {
            match r {
                Release::Message(m) => shown.push((m.sender, m.seq)),
                Release::Gap(g) => gaps.push((g.first, g.last)),
            }
            Ok(())
        }
    }

    /// Message `seq` of `sender` whose base is 0 (nothing given up).
    fn accept(&mut self, sender: u64, seq: u64, now: Instant) -> Verdict {
        self.accept_based(sender, seq, 0, b"x", now)
    }

    fn accept_based(
        &mut self,
        sender: u64,
        seq: u64,
        base: u64,
        body: &[u8],
        now: Instant,
    ) -> Verdict {
        let msg = Arrived {
            sender,
            seq,
            base,
            flags: crate::wire::FLAG_ACK,
            name: "a",
            body,
            from: &self.from,
            cred: None,
            at: self.at,
        };
        let mut show = Self::record(&mut self.shown, &mut self.gaps);
        let Ok(v) = self.streams.accept(msg, now, &mut show);
        v
    }

    fn expire(&mut self, now: Instant, force: bool) {
        let mut show = Self::record(&mut self.shown, &mut self.gaps);
        let Ok(()) = self.streams.expire(now, force, &mut show);
    }

    fn seqs(&self) -> Vec<u64> {
        self.shown.iter().map(|&(_, s)| s).collect()
    }
}

#[test]
fn in_order_duplicates_and_reordering() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(1));
    assert_eq!(h.accept(7, 0, now), Verdict::Shown);
    assert_eq!(h.accept(7, 0, now), Verdict::Duplicate);
    assert_eq!(h.accept(7, 2, now), Verdict::Held);
    assert_eq!(h.accept(7, 2, now), Verdict::Duplicate);
    assert_eq!(h.seqs(), [0]);
    assert_eq!(h.streams.ack_state(7, 8, &[]), Some((1, vec![(2, 2)])));
    assert_eq!(h.accept(7, 1, now), Verdict::Shown);
    assert_eq!(h.seqs(), [0, 1, 2], "1 releases the held 2");
    assert_eq!(h.streams.ack_state(7, 8, &[]), Some((3, vec![])));
    assert_eq!(h.streams.next_deadline(), None);
}

#[test]
fn ack_state_gives_held_ranges_lowest_first_and_bounded() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(1));
    for seq in [2, 3, 4, 6, 9, 10] {
        h.accept(1, seq, now);
    }
    assert_eq!(
        h.streams.ack_state(1, 8, &[]),
        Some((0, vec![(2, 4), (6, 6), (9, 10)]))
    );
    // Bounded: the lowest quarter, then the ranges of recent arrivals,
    // then the highest.
    assert_eq!(
        h.streams.ack_state(1, 2, &[]),
        Some((0, vec![(2, 4), (9, 10)]))
    );
    assert_eq!(
        h.streams.ack_state(1, 2, &[6]),
        Some((0, vec![(2, 4), (6, 6)]))
    );
    assert_eq!(h.streams.ack_state(1, 1, &[6]), Some((0, vec![(2, 4)])));
    assert_eq!(h.streams.ack_state(99, 8, &[]), None);
}

#[test]
fn gap_is_released_after_wait_and_late_copy_is_skipped() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_millis(100));
    assert_eq!(h.accept(1, 3, now), Verdict::Held);
    h.expire(now, false);
    assert!(h.gaps.is_empty());
    let later = now + Duration::from_millis(150);
    h.expire(later, false);
    assert_eq!(h.gaps, [(0, 2)]);
    assert_eq!(h.seqs(), [3]);
    assert_eq!(h.accept(1, 1, later), Verdict::Skipped);
    assert_eq!(h.accept(1, 3, later), Verdict::Duplicate);
    assert_eq!(h.accept(1, 4, later), Verdict::Shown);
    assert!(!Verdict::Skipped.acknowledged() && !Verdict::Refused.acknowledged());
}

#[test]
fn a_base_past_a_gap_releases_it_at_once() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(60));
    h.accept(1, 0, now);
    assert_eq!(h.accept(1, 3, now), Verdict::Held);
    // The sender gave up 1 (its base is now 2): 1 is reported missing at
    // once, 2 is still awaited, and 3 waits for it.
    assert_eq!(h.accept_based(1, 4, 2, b"x", now), Verdict::Held);
    assert_eq!(h.gaps, [(1, 1)]);
    assert_eq!(h.seqs(), [0]);
    // Then it gives up 2 as well: 3 and 4 are shown without any wait.
    assert_eq!(h.accept_based(1, 5, 5, b"x", now), Verdict::Shown);
    assert_eq!(h.gaps, [(1, 1), (2, 2)]);
    assert_eq!(h.seqs(), [0, 3, 4, 5]);
    assert_eq!(h.streams.next_deadline(), None);
    assert_eq!(
        h.accept(1, 1, now),
        Verdict::Skipped,
        "a late copy stays hidden"
    );
}

#[test]
fn an_unknown_sender_starts_at_its_base() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(60));
    // A listener that restarted (or forgot the sender) hears message 7,
    // whose sender still wants 5 and up: 5 and 6 are awaited, not reported.
    assert_eq!(h.accept_based(1, 7, 5, b"x", now), Verdict::Held);
    assert!(h.gaps.is_empty());
    assert_eq!(h.accept_based(1, 5, 5, b"x", now), Verdict::Shown);
    assert_eq!(h.accept_based(1, 6, 5, b"x", now), Verdict::Shown);
    assert_eq!(h.seqs(), [5, 6, 7]);
}

#[test]
fn far_ahead_is_refused_and_a_full_table_of_active_senders_is_busy() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(1));
    assert_eq!(h.accept(1, MAX_AHEAD + 5, now), Verdict::Refused);
    for sender in 0..MAX_ORDER_SENDERS as u64 {
        h.accept(sender + 100, 0, now);
    }
    assert_eq!(h.streams.len(), MAX_ORDER_SENDERS);
    // A full table of recent senders refuses a new one, explicitly...
    assert_eq!(h.accept(7, 0, now), Verdict::Busy);
    // ...until the oldest is idle long enough to be forgotten.
    let later = now + FORGET_AFTER;
    assert_eq!(h.accept(7, 0, later), Verdict::Shown);
    assert_eq!(h.streams.len(), MAX_ORDER_SENDERS);
}

#[test]
fn forgetting_a_sender_shows_what_it_held_first() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(600));
    h.accept(1, 1, now);
    for sender in 0..MAX_ORDER_SENDERS as u64 - 1 {
        h.accept(sender + 100, 0, now + FORGET_AFTER / 2);
    }
    let later = now + FORGET_AFTER;
    assert_eq!(h.accept(7, 0, later), Verdict::Shown);
    let n = h.shown.len();
    assert_eq!(
        h.shown[n - 2..],
        [(1, 1), (7, 0)],
        "the held message was shown, not lost, before the newcomer's"
    );
}

#[test]
fn each_gap_waits_the_full_gap_wait() {
    let wait = Duration::from_secs(6);
    let t0 = Instant::now();
    let mut h = Harness::new(wait);
    h.accept(9, 0, t0);
    // 1 is missing: 2 waits from t0.
    h.accept(9, 2, t0);
    // Just before that wait ends, 4 arrives (3 is missing too), then 1:
    // 1 and 2 are shown, and 4 has waited for 3 only since `late`.
    let late = t0 + Duration::from_millis(5900);
    h.accept(9, 4, late);
    h.accept(9, 1, late);
    assert_eq!(h.seqs(), [0, 1, 2]);
    h.expire(t0 + Duration::from_millis(6100), false);
    assert!(
        h.gaps.is_empty(),
        "gap 3..=3 given up after 200 ms instead of {wait:?}"
    );
    assert_eq!(h.streams.next_deadline(), Some(late + wait));
}

#[test]
fn a_sender_is_not_pushed_out_of_the_table_by_a_flood_of_new_ids() {
    let t0 = Instant::now();
    let mut h = Harness::new(Duration::from_secs(6));
    assert_eq!(h.accept(1, 0, t0), Verdict::Shown);
    // One datagram each from MAX_ORDER_SENDERS other ids (a spoofer can
    // send them in a second) must not push sender 1 out of the table.
    let later = t0 + Duration::from_millis(1);
    for other in 0..MAX_ORDER_SENDERS as u64 {
        h.accept(1000 + other, 0, later);
    }
    // Sender 1 retransmits 0 because the ack was lost: it was already shown.
    assert_eq!(
        h.accept(1, 0, later),
        Verdict::Duplicate,
        "message 0 shown twice"
    );
}

#[test]
fn forced_expiry_releases_everything_held() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(60));
    h.accept(5, 2, now);
    h.accept(5, 5, now);
    h.expire(now, true);
    assert_eq!(h.gaps, [(0, 1), (3, 4)]);
    assert_eq!(h.seqs(), [2, 5]);
    assert_eq!(h.streams.next_deadline(), None);
}

#[test]
fn held_messages_cost_their_records_too() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(60));
    // Empty messages, each held: without a per-message cost they would be
    // free and unbounded in number.
    let mut held = 0;
    for sender in 0..100_000u64 {
        for seq in 1..=MAX_AHEAD {
            if h.accept_based(sender, seq, 0, b"", now) != Verdict::Held {
                break;
            }
            held += 1;
        }
        if h.streams.held_bytes() + HELD_OVERHEAD + 1 > MAX_HELD_BYTES {
            break;
        }
    }
    assert!(held <= MAX_HELD_BYTES / HELD_OVERHEAD, "{held} held");
    assert!(h.streams.held_bytes() <= MAX_HELD_BYTES);
    assert_eq!(h.accept_based(999_999, 1, 0, b"", now), Verdict::Refused);
}

#[test]
fn repeats_are_what_was_accepted_before() {
    let now = Instant::now();
    let mut h = Harness::new(Duration::from_secs(6));
    assert!(!h.streams.is_repeat(1, 0, 0), "an unknown sender");
    assert_eq!(h.accept(1, 0, now), Verdict::Shown);
    assert_eq!(h.accept(1, 1, now), Verdict::Shown);
    assert_eq!(h.accept(1, 3, now), Verdict::Held);
    assert!(h.streams.is_repeat(1, 0, 0));
    assert!(h.streams.is_repeat(1, 1, 0));
    assert!(h.streams.is_repeat(1, 3, 0), "held");
    assert!(!h.streams.is_repeat(1, 2, 0), "the missing one is new");
    assert!(!h.streams.is_repeat(1, 4, 0), "so is the next");
    assert!(
        !h.streams.is_repeat(1, 3, 3),
        "a base past the gap releases it"
    );
    // Given up (the base moved past it): a late copy is not a repeat.
    assert_eq!(h.accept_based(1, 4, 3, b"x", now), Verdict::Shown);
    assert_eq!(h.gaps, vec![(2, 2)]);
    assert!(!h.streams.is_repeat(1, 2, 3));
    assert!(h.streams.is_repeat(1, 4, 3));
}
