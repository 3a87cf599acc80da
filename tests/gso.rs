//! Segmentation offload on real sockets, inside private network namespaces:
//! a run of equal-sized datagrams leaves in one send (`UDP_SEGMENT`) and
//! reaches a socket that asked for coalesced arrivals (`UDP_GRO`) as one
//! buffer that splits into exactly what was sent, and any other socket as
//! the datagrams themselves; a path that refuses a segmented send gets the
//! datagrams one by one; and the listener takes such runs apart and
//! acknowledges each on its own.

mod common;

use common::*;
use std::net::SocketAddr;
use udpmsg::commands::send::{Reply, Sender};
use udpmsg::net::{self, RecvBatch, SendOptions, addr::Destination};
use udpmsg::wire::{self, FLAG_ACK, Message};

/// A connected sender to `to` that segments its sends.
fn segmenting_sender(to: SocketAddr) -> Sender {
    let dest = Destination {
        addr: net::PeerAddr::Inet(to),
        broadcast: false,
    };
    let mut sender = Sender::new(dest, &SendOptions::default(), "gso".into(), None, true)
        .expect("sender socket");
    assert!(
        sender.segment_sends(),
        "this kernel has no UDP_SEGMENT (Linux 4.18+)"
    );
    sender
}

/// Datagrams `i` of `count`, `len` bytes each (the last `last` bytes).
fn run_of(count: usize, len: usize, last: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let n = if i + 1 == count { last } else { len };
            (0..n).map(|j| (i * 7 + j) as u8).collect()
        })
        .collect()
}

#[test]
fn a_run_goes_in_one_send_and_arrives_as_sent() {
    if !isolate("a_run_goes_in_one_send_and_arrives_as_sent") {
        return;
    }
    let run = run_of(11, 1000, 300);
    // A socket that takes coalesced runs gets one buffer: one send.
    let gro = net::bind("127.0.0.1:0".parse().unwrap(), net::BindOptions::default()).expect("bind");
    net::gso::enable_gro(&gro).expect("UDP_GRO (Linux 5.0+)");
    let mut sender = segmenting_sender(gro.local_addr().unwrap());
    for datagram in &run {
        sender.queue_open(datagram).expect("queued");
    }
    sender.flush_open().expect("sent");
    let mut batch = RecvBatch::new(net::RECV_BATCH, wire::MAX_DATAGRAM + 1);
    let count = wait_for(WAIT, "the run", || match batch.recv(&gro) {
        Ok(n) => Some(n),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("recv: {e}"),
    });
    assert_eq!(count, 1, "one buffer for the whole run");
    let buffer = batch.get(0).expect("buffer");
    assert_eq!(buffer.segment, Some(1000));
    let got: Vec<Vec<u8>> = buffer
        .datagrams()
        .map(|(d, cut)| {
            assert!(!cut);
            d.to_vec()
        })
        .collect();
    assert_eq!(got, run);
    // Any other socket gets the datagrams themselves, as sent.
    let plain = udp("127.0.0.1:0");
    let mut sender = segmenting_sender(plain.local_addr().unwrap());
    for datagram in &run {
        sender.queue_open(datagram).expect("queued");
    }
    sender.flush_open().expect("sent");
    let mut buf = [0u8; 2048];
    for datagram in &run {
        let n = plain.recv(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], &datagram[..]);
    }
}

#[test]
fn a_path_that_refuses_segmented_sends_gets_the_datagrams_one_by_one() {
    if !isolate("a_path_that_refuses_segmented_sends_gets_the_datagrams_one_by_one") {
        return;
    }
    // Segments larger than the MTU: Linux refuses the segmented send
    // (EMSGSIZE; EINVAL on older kernels), and fragments plain ones.
    run_ok("ip", &["link", "set", "lo", "mtu", "1500"]);
    let plain = udp("127.0.0.1:0");
    let mut sender = segmenting_sender(plain.local_addr().unwrap());
    let run = run_of(4, 2000, 2000);
    for datagram in &run {
        sender.queue_open(datagram).expect("queued");
    }
    sender.flush_open().expect("sent one by one");
    let mut buf = [0u8; 4096];
    for datagram in &run {
        let n = plain.recv(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], &datagram[..]);
    }
}

/// The process state letter of `pid` (`T` when stopped).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn the_listener_splits_runs_and_acknowledges_each() {
    if !isolate("the_listener_splits_runs_and_acknowledges_each") {
        return;
    }
    const RUNS: u64 = 3;
    const PER_RUN: u64 = 10;
    let mut listener = Listener::start(&["--json"]);
    let mut sender = segmenting_sender(listener.addr);
    // Stopped, so that all three runs wait in its queue and come in one
    // read: one ack for that read would do, yet each run gets its own.
    listener.signal(libc::SIGSTOP);
    let pid = listener.child.id();
    wait_for(WAIT, "the listener stopped", || {
        (state(pid) == Some('T')).then_some(())
    });
    let mut open = Vec::new();
    for run in 0..RUNS {
        for i in 0..PER_RUN {
            let seq = run * PER_RUN + i;
            // Equal sizes: the bodies are all 8 digits.
            let body = format!("{seq:08}");
            open.clear();
            sender
                .encode_text(body.as_bytes(), seq, FLAG_ACK, &mut open)
                .expect("encode");
            // Base 0: the listener starts this sender at its first message.
            wire::set_text_base(&mut open, 0);
            sender.queue_open(&open).expect("queued");
        }
        // One run per send.
        sender.flush_open().expect("sent");
    }
    listener.signal(libc::SIGCONT);
    for seq in 0..RUNS * PER_RUN {
        let line = listener.json();
        assert_eq!(line["text"], format!("{seq:08}"), "{line}");
    }
    let mut acked = Vec::new();
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    wait_for(WAIT, "acks up to the last message", || {
        while let Some(reply) = sender.recv_reply(&mut buf).expect("recv") {
            if let Reply::Message(Message::Ack(ack)) = reply {
                acked.push(ack.next);
            }
        }
        (acked.last() == Some(&(RUNS * PER_RUN))).then_some(())
    });
    assert_eq!(
        acked,
        (1..=RUNS).map(|r| r * PER_RUN).collect::<Vec<_>>(),
        "one ack per run"
    );
    listener.assert_alive();
}

#[test]
fn the_documented_run_limits_are_the_code_constants() {
    let decisions =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DECISIONS.md"))
            .expect("read docs/DECISIONS.md");
    assert_eq!((net::gso::MAX_SEGMENTS, net::gso::MAX_BYTES), (64, 65_000));
    assert!(decisions.contains("at most 64 datagrams or 65,000 bytes"));
}
