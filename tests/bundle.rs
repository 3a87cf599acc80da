//! Bundled acks (docs/PROTOCOL.md 4.11) at their limits, on the real
//! listener: 60 senders that share a socket and set FLAG_BUNDLE send one
//! Text each in a single GSO send, so the listener reads them as one run
//! and owes all 60 an ack at once. Their acks come back in Acks datagrams
//! that keep to 1200 bytes as sent, sealed or not (so to 48 entries or 47,
//! below the 64 the wire allows), and confirm every sender exactly once.

mod common;
use common::docs::{assert_says, doc};
use common::*;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Instant, SystemTime};
use udpmsg::seal::{Envelope, Key, Opened, Sealer};
use udpmsg::wire::{self, FLAG_ACK, FLAG_BUNDLE, Message, Text};

/// Senders, and Texts in the one GSO send (the kernel takes up to 64).
const SENDERS: u64 = 60;

/// The key of the keyed run, as a key file holds it.
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Sends `datagrams` (all of one size) in one `sendmsg` with UDP_SEGMENT,
/// so that they travel, and arrive, as one run.
fn send_as_one_run(socket: &UdpSocket, datagrams: &[Vec<u8>]) {
    let size = datagrams[0].len();
    assert!(datagrams.iter().all(|d| d.len() == size), "one size");
    let segment = size as libc::c_int;
    // SAFETY: setsockopt(2) on a socket we own, with a pointer to a live
    // c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&segment as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
    let all = datagrams.concat();
    assert_eq!(socket.send(&all).expect("the GSO send"), all.len());
}

/// The acks that came back: for each sender, every `next` it was told,
/// and for each reply datagram its size and how many senders it answered.
#[derive(Default)]
struct Heard {
    nexts: BTreeMap<u64, Vec<u64>>,
    datagrams: Vec<(usize, usize)>,
}

fn bundles_keep_their_limits(keyed: bool) {
    let dir = Dir::new("bundle");
    let key_file = dir.file("key", &format!("{KEY_HEX}\n"));
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let mut args = vec!["--bind", "127.0.0.1"];
    if keyed {
        args.extend(["--key-file", key_file.as_str()]);
    }
    let listener = Listener::start(&args);
    let to: SocketAddr = listener.dest().parse().expect("listener address");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(to).expect("connect");
    let from = socket.local_addr().expect("address");
    let key_bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key = Key::from_bytes(key_bytes);
    let mut sealer = Sealer::with_ids(&key, 0x5eed, 0);

    // Sender ids 1..=60, one Text each (seq 0), all of one size.
    let datagrams: Vec<Vec<u8>> = (1..=SENDERS)
        .map(|sender| {
            let body = format!("from {sender:02}");
            let mut open = Vec::new();
            let text = Message::Text(Text {
                sender,
                seq: 0,
                base: 0,
                flags: FLAG_ACK | FLAG_BUNDLE,
                name: "gw",
                body: body.as_bytes(),
            });
            wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut open).expect("encode");
            if keyed {
                sealer.seal(&open, to).to_vec()
            } else {
                open
            }
        })
        .collect();
    send_as_one_run(&socket, &datagrams);

    let mut incoming = Envelope::new(keyed.then_some(&key)).incoming;
    let mut heard = Heard::default();
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let deadline = Instant::now() + WAIT;
    while (heard.nexts.len() as u64) < SENDERS {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "acks for {} of {SENDERS} senders",
            heard.nexts.len()
        );
        socket.set_read_timeout(Some(left)).expect("timeout");
        let Ok(len) = socket.recv(&mut buf) else {
            continue;
        };
        let opened = incoming.open(&buf[..len], SystemTime::now(), from);
        let acks: Vec<(u64, u64)> = match opened {
            Ok(Opened::Message(Message::Ack(a))) => vec![(a.sender, a.next)],
            Ok(Opened::Message(Message::Acks(b))) => b.acks().map(|a| (a.sender, a.next)).collect(),
            other => panic!("a reply that is no ack: {other:?}"),
        };
        heard.datagrams.push((len, acks.len()));
        for (sender, next) in acks {
            heard.nexts.entry(sender).or_default().push(next);
        }
    }

    // Every sender confirmed once: seq 0 shown, nothing else owed.
    let want: BTreeMap<u64, Vec<u64>> = (1..=SENDERS).map(|s| (s, vec![1])).collect();
    assert_eq!(heard.nexts, want, "replies {:?}", heard.datagrams);
    // Within the limits, as sent (sealed ones with their 40 bytes) ...
    for &(len, entries) in &heard.datagrams {
        assert!(
            len <= wire::ACKS_MAX_LEN,
            "{len} bytes: {:?}",
            heard.datagrams
        );
        assert!(entries <= wire::MAX_ACKS_ENTRIES, "{:?}", heard.datagrams);
    }
    // ... and as full as they may be: 48 entries of 24 bytes fill 1200
    // open bytes (26 + 48 * 24 = 1178), 47 when sealed (+ 40 = 1194). The
    // run arrived whole, so the first Acks is full.
    let seal = if keyed { wire::SEAL_OVERHEAD } else { 0 };
    let fill = (wire::ACKS_MAX_LEN - seal - wire::ACKS_OVERHEAD) / wire::ACKS_ENTRY_OVERHEAD;
    assert_eq!(fill, if keyed { 47 } else { 48 });
    let fullest = heard.datagrams.iter().map(|&(_, n)| n).max();
    assert_eq!(fullest, Some(fill), "replies {:?}", heard.datagrams);
    assert_eq!(heard.datagrams.len(), 2, "replies {:?}", heard.datagrams);

    // The listener showed each sender's Text once.
    let mut shown: Vec<String> = (0..SENDERS)
        .map(|_| {
            let line = listener.line();
            line.split_once(" gw: ")
                .map(|(_, text)| text.to_string())
                .unwrap_or(line)
        })
        .collect();
    shown.sort();
    shown.dedup();
    let want: Vec<String> = (1..=SENDERS).map(|s| format!("from {s:02}")).collect();
    assert_eq!(shown, want);
}

#[test]
fn acks_for_many_senders_at_one_address_fill_datagrams_up_to_1200_bytes() {
    if !isolate("acks_for_many_senders_at_one_address_fill_datagrams_up_to_1200_bytes") {
        return;
    }
    bundles_keep_their_limits(false);
}

#[test]
fn sealed_acks_for_many_senders_keep_to_1200_bytes_with_the_seal() {
    if !isolate("sealed_acks_for_many_senders_keep_to_1200_bytes_with_the_seal") {
        return;
    }
    bundles_keep_their_limits(true);
}

#[test]
fn the_documents_quote_the_limits_of_bundled_acks() {
    let (entries, bytes, seal) = (
        wire::MAX_ACKS_ENTRIES,
        wire::ACKS_MAX_LEN,
        wire::SEAL_OVERHEAD,
    );
    let fill = |seal: usize| (bytes - seal - wire::ACKS_OVERHEAD) / wire::ACKS_ENTRY_OVERHEAD;
    let decisions = doc("docs/DECISIONS.md");
    assert_says(
        &decisions,
        "DECISIONS.md",
        &format!("most {entries} entries and {bytes} bytes as sent, the seal's {seal} included"),
    );
    assert_says(
        &decisions,
        "DECISIONS.md",
        &format!("{} entries without ranges, {} sealed", fill(0), fill(seal)),
    );
    let protocol = doc("docs/PROTOCOL.md");
    assert_says(
        &protocol,
        "PROTOCOL.md",
        &format!("within **{bytes} bytes** as sent, sealed or not (section 9 adds {seal})"),
    );
    let readme = doc("README.md");
    assert_says(
        &readme,
        "README.md",
        &format!("answers up to {entries} such senders"),
    );
}

/// An acknowledged, flagged Text `seq` of `sender` (base 0), open.
fn flagged(sender: u64, seq: u64) -> Vec<u8> {
    let mut open = Vec::new();
    let body = format!("{sender}:{seq}");
    let text = Message::Text(Text {
        sender,
        seq,
        base: 0,
        flags: FLAG_ACK | FLAG_BUNDLE,
        name: "gw",
        body: body.as_bytes(),
    });
    wire::encode(&text, wire::MAX_DATAGRAM_V4, &mut open).expect("encode");
    open
}

/// The next reply, open: each sender it answers with its `next`, in the
/// order given, and whether it was an Acks.
fn reply_acks(bytes: &[u8]) -> (bool, Vec<(u64, u64)>) {
    match wire::classify(bytes) {
        Ok(wire::Datagram::Message(Message::Acks(b))) => {
            (true, b.acks().map(|a| (a.sender, a.next)).collect())
        }
        Ok(wire::Datagram::Message(Message::Ack(a))) => (false, vec![(a.sender, a.next)]),
        other => panic!("a reply that is no ack: {other:?}"),
    }
}

/// Sorted, for comparing what came in any order.
fn sorted(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    v
}

#[test]
fn senders_on_one_unix_socket_get_one_acks() {
    if !isolate("senders_on_one_unix_socket_get_one_acks") {
        return;
    }
    let dir = Dir::short("bundle-unix");
    let listener = Running::udpmsg(&["listen", "--bind", &dir.unix("l.sock")]);
    let bound = listener.err_line();
    assert!(bound.contains("listening on unix:"), "{bound}");
    let client = UnixDatagram::bind(dir.path("c.sock")).expect("bind");
    client.set_read_timeout(Some(WAIT)).expect("timeout");
    // Stopped while the three arrive: one batch, one Acks.
    listener.signal(libc::SIGSTOP);
    for sender in [11, 12, 13] {
        client
            .send_to(&flagged(sender, 0), dir.path("l.sock"))
            .expect("send");
    }
    listener.signal(libc::SIGCONT);
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let len = client.recv(&mut buf).expect("a reply");
    let (bundled, acks) = reply_acks(&buf[..len]);
    assert!(bundled, "{acks:?}");
    assert_eq!(sorted(acks), [(11, 1), (12, 1), (13, 1)]);
    for _ in 0..3 {
        let line = listener.line();
        assert!(line.contains(" gw: 1"), "{line}");
    }
    listener.signal(libc::SIGTERM);
    let (code, _, err) = listener.finish();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn a_lingering_listener_answers_repeats_of_flagged_senders_with_one_acks() {
    if !isolate("a_lingering_listener_answers_repeats_of_flagged_senders_with_one_acks") {
        return;
    }
    let listener = Listener::start(&["--bind", "127.0.0.1", "--count", "3"]);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(listener.dest()).expect("connect");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let want = [(21, 1), (22, 1), (23, 1)];
    // The three (the listener's count), then the same three again while it
    // lingers, as senders that lost the Acks would: each time one batch,
    // one Acks.
    for round in ["first", "repeated"] {
        listener.signal(libc::SIGSTOP);
        for (sender, _) in want {
            socket.send(&flagged(sender, 0)).expect("send");
        }
        listener.signal(libc::SIGCONT);
        let len = socket.recv(&mut buf).expect("a reply");
        let (bundled, acks) = reply_acks(&buf[..len]);
        assert!(bundled, "{round}: {acks:?}");
        assert_eq!(sorted(acks), want, "{round}");
    }
    let mut listener = listener;
    let (code, out, err) = listener.finish_lines();
    assert_eq!(code, 0, "{err:?}");
    assert!(out.len() <= 3, "shown again: {out:?}");
}
