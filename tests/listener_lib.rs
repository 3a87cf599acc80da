//! The listener as a library: driven from a test with a socket bound to
//! 127.0.0.1:0 and a sink that collects events, no binary and no stdout.

mod common;

use common::{encoded, isolate};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use udpmsg::commands::listen::{self, Event, Listener, Sink, Stop};
use udpmsg::net::{BindOptions, bind_listeners};
use udpmsg::wire::{self, Message, Ping, Text};

/// Collects what the listener shows, as (kind, text) pairs.
#[derive(Default)]
struct Collect(Vec<(String, String)>);

impl Sink for Collect {
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        let item = match event {
            Event::Text { name, body, .. } => {
                (format!("text:{name}"), String::from_utf8_lossy(body).into())
            }
            Event::Raw { bytes, .. } => ("raw".into(), String::from_utf8_lossy(bytes).into()),
            Event::Gap { first, last, .. } => ("gap".into(), format!("{first}..={last}")),
        };
        self.0.push(item);
        Ok(())
    }
}

fn config(count: u64) -> listen::Config {
    listen::Config {
        name: "lib".into(),
        count: Some(count),
        timeout: Some(Duration::from_secs(10)),
        catch_signals: false,
        gap_wait: listen::DEFAULT_GAP_WAIT,
        key: None,
        echo: false,
        files: Default::default(),
    }
}

#[test]
fn listener_driven_from_a_test_shows_text_and_raw_and_answers_pings() {
    if !isolate("listener_driven_from_a_test") {
        return;
    }
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sockets = bind_listeners(bind, BindOptions::default()).expect("bind");
    let mut listener = Listener::new(sockets, config(3)).expect("listener");
    let to = listener.local_addrs()[0].inet().expect("a UDP listener");

    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Queued before the loop starts: the first drain must read them.
    let ping = Ping {
        sender: 7,
        seq: 1,
        stamp: 99,
    };
    peer.send_to(&encoded(&Message::Ping(ping)), to)
        .expect("send");
    peer.send_to(b"hello from nc", to).expect("send");
    let text = Message::Text(Text {
        sender: 1,
        seq: 0,
        base: 0,
        flags: 0,
        name: "alice",
        body: b"hi",
    });
    peer.send_to(&encoded(&text), to).expect("send");
    peer.send_to(b"UDPM\x02\x00\x09\x00\x00\x00", to)
        .expect("send");
    peer.send_to(b"last", to).expect("send");

    let mut sink = Collect::default();
    let ended = listener.run(&mut sink).expect("run");
    assert_eq!(ended.stop, Stop::Count);
    assert!(ended.output_error.is_none(), "{:?}", ended.output_error);
    let stats = ended.stats;
    assert_eq!(
        sink.0,
        vec![
            ("raw".to_string(), "hello from nc".to_string()),
            ("text:alice".to_string(), "hi".to_string()),
            ("raw".to_string(), "last".to_string()),
        ]
    );
    assert_eq!(
        (stats.received, stats.raw, stats.malformed, stats.pings),
        (1, 2, 1, 1)
    );

    let mut buf = [0u8; 256];
    let (len, from) = peer.recv_from(&mut buf).expect("pong");
    assert_eq!(from, to);
    assert_eq!(
        wire::classify(&buf[..len]),
        Ok(wire::Datagram::Message(Message::Pong(ping)))
    );
}

/// Takes every event, and fails the way it is told: on each event, or
/// only at the final flush.
struct Failing {
    on_event: Option<io::ErrorKind>,
    on_finish: Option<i32>,
    events: usize,
}

impl Sink for Failing {
    fn event(&mut self, _event: &Event<'_>) -> io::Result<()> {
        self.events += 1;
        match self.on_event {
            Some(kind) => Err(io::Error::from(kind)),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.on_finish {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }
}

/// Runs a listener for `count` datagrams into `sink`, with `count` raw
/// datagrams already queued.
fn run_into(sink: &mut Failing, count: u64) -> listen::Ended {
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sockets = bind_listeners(bind, BindOptions::default()).expect("bind");
    let mut listener = Listener::new(sockets, config(count)).expect("listener");
    let to = listener.local_addrs()[0].inet().expect("a UDP listener");
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    for i in 0..count {
        peer.send_to(format!("d{i}").as_bytes(), to).expect("send");
    }
    listener.run(sink).expect("run")
}

#[test]
fn a_final_flush_that_fails_is_reported_with_the_count_stop() {
    if !isolate("a_final_flush_that_fails_is_reported") {
        return;
    }
    let mut sink = Failing {
        on_event: None,
        on_finish: Some(libc::ENOSPC),
        events: 0,
    };
    let ended = run_into(&mut sink, 2);
    assert_eq!((ended.stop, sink.events), (Stop::Count, 2));
    let e = ended.output_error.expect("the final flush's error");
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
}

#[test]
fn a_closed_pipe_stops_quietly_and_any_other_write_error_is_kept() {
    if !isolate("a_closed_pipe_stops_quietly") {
        return;
    }
    let mut sink = Failing {
        on_event: Some(io::ErrorKind::BrokenPipe),
        on_finish: Some(libc::EPIPE),
        events: 0,
    };
    let ended = run_into(&mut sink, 2);
    assert_eq!((ended.stop, sink.events), (Stop::OutputClosed, 1));
    assert!(ended.output_error.is_none(), "{:?}", ended.output_error);

    let mut sink = Failing {
        on_event: Some(io::ErrorKind::StorageFull),
        on_finish: None,
        events: 0,
    };
    let ended = run_into(&mut sink, 2);
    assert_eq!((ended.stop, sink.events), (Stop::OutputFailed, 1));
    let e = ended.output_error.expect("the write error");
    assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
}

/// A peer that sends with UDP segmentation offload (`UDP_SEGMENT`): the
/// kernel splits the buffer into datagrams for a socket without `UDP_GRO`
/// (the listener's); the listener shows each datagram on its own.
#[test]
fn datagrams_sent_with_segmentation_offload_are_shown_one_by_one() {
    if !isolate("datagrams_sent_with_segmentation_offload") {
        return;
    }
    use std::os::fd::AsRawFd;
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sockets = bind_listeners(bind, BindOptions::default()).expect("bind");
    let mut listener = Listener::new(sockets, config(3)).expect("listener");
    let to = listener.local_addrs()[0].inet().expect("a UDP listener");

    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
    let segment: libc::c_int = 5;
    // SAFETY: a valid fd and a pointer to a c_int of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            peer.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&segment as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
    peer.send_to(b"aaaaabbbbbccc", to).expect("send");

    let mut sink = Collect::default();
    let ended = listener.run(&mut sink).expect("run");
    assert_eq!(ended.stop, Stop::Count);
    assert_eq!(
        sink.0,
        vec![
            ("raw".to_string(), "aaaaa".to_string()),
            ("raw".to_string(), "bbbbb".to_string()),
            ("raw".to_string(), "ccc".to_string()),
        ]
    );
    assert_eq!(ended.stats.raw, 3);
}
