//! What README.md says the listener's sender table costs at most, measured
//! with a counting allocator: a full table of compact senders.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use udpmsg::net::PeerAddr;
use udpmsg::reliable::order::{Arrived, MAX_ORDER_SENDERS, Streams};

/// Live heap bytes of the whole process (this test runs alone in its binary).
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: forwards every call to the system allocator unchanged and only
// adds up sizes in an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_full_table_of_senders_costs_about_ten_megabytes() {
    let before = LIVE.load(Ordering::Relaxed);
    let mut streams = Streams::new(Duration::from_secs(6));
    let now = Instant::now();
    let at = SystemTime::now();
    let from = PeerAddr::Inet("127.0.0.1:1".parse().expect("addr"));
    for sender in 0..MAX_ORDER_SENDERS as u64 {
        let msg = Arrived {
            sender,
            seq: 0,
            base: 0,
            flags: udpmsg::wire::FLAG_ACK,
            name: "a one-shot sender",
            body: b"hello",
            from: &from,
            cred: None,
            at,
        };
        let Ok(_) = streams.accept(msg, now, &mut |_| Ok::<(), Infallible>(()));
    }
    assert_eq!(streams.len(), MAX_ORDER_SENDERS);
    let used = LIVE.load(Ordering::Relaxed) - before;
    // README.md: "about 10 MB when all are there".
    eprintln!("a full table of {MAX_ORDER_SENDERS} senders: {used} bytes");
    assert!(used < 12_000_000, "{used} bytes");
    assert!(used > 4_000_000, "{used} bytes: the claim would be stale");
}
