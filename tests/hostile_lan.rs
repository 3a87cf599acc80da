//! Hostile peers on a namespace LAN (`tests/common/lan.rs`), issue #12: a
//! ping flood cannot make a listener reflect more than its pong rate limit.
//!
//! Every LAN test has its own prefix (`hl1_`, ...; none a prefix of
//! another); sockets a test opens itself are created inside a host
//! (`Lan::enter`). The loopback test runs in a private namespace
//! (`common::isolate`).

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{BIN, Listener, WAIT, encoded, isolate, wait_for};
use lan::Lan;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;
use udpmsg::commands::listen::handler::{PONGS_PER_SOURCE, PONGS_TOTAL};
use udpmsg::wire::{self, Datagram, Message, Ping};

/// The port the listeners of these tests use.
const PORT: u16 = 47474;

/// Starts `udpmsg listen <args>` in host `k` (ended by itself after a
/// minute should a test leak it), stdout and stderr read line by line.
fn listen_in(lan: &Lan, k: usize, args: &[&str]) -> Listener {
    let mut cmd = lan.cmd(k, BIN);
    cmd.args(["listen", "--timeout", "60s"])
        .args(args)
        .env_remove("UDPMSG_PORT")
        .env_remove("UDPMSG_NAME")
        .env_remove("UDPMSG_KEY_FILE");
    Listener::spawn_cmd(cmd, None, false, &format!("listen {args:?} in host {k}"))
}

/// `N <what>` from a listener's summary line (0 when not mentioned).
fn summary_count(lines: &[String], what: &str) -> u64 {
    let summary = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("udpmsg listen:"))
        .unwrap_or_else(|| panic!("no summary in {lines:#?}"));
    summary
        .split(", ")
        .find_map(|part| {
            part.strip_suffix(what)?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn ping(sender: u64, seq: u64) -> Vec<u8> {
    encoded(&Message::Ping(Ping {
        sender,
        seq,
        stamp: 0,
    }))
}

/// Pongs for `sender` waiting on `socket` (non-blocking), counted.
fn count_pongs(socket: &UdpSocket, sender: u64) -> u64 {
    let mut buf = [0u8; 256];
    let mut n = 0;
    while let Ok(len) = socket.recv(&mut buf) {
        if let Ok(Datagram::Message(Message::Pong(p))) = wire::classify(&buf[..len])
            && p.sender == sender
        {
            n += 1;
        }
    }
    n
}

#[test]
fn pongs_to_one_source_are_rate_limited() {
    let Some(lan) = Lan::up("hl1_", 3, &[]) else {
        return;
    };
    let mut listener = listen_in(&lan, 2, &["--port", &PORT.to_string()]);
    let to = SocketAddr::from((Ipv4Addr::new(10, 77, 0, 2), PORT));
    let flood = lan
        .enter(1, || UdpSocket::bind("10.77.0.1:0"))
        .expect("bind in host 1");
    // Room for every pong the listener could send, so none is lost here.
    let room: libc::c_int = 64 << 20;
    // SAFETY: setsockopt on a live socket with a c_int of the stated size.
    let rc = unsafe {
        libc::setsockopt(
            flood.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&room as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());

    // Five bursts' worth of pings, as fast as they go, from one source.
    let sender = udpmsg::util::rng::random_id();
    let pings = 5 * u64::from(PONGS_PER_SOURCE);
    let start = Instant::now();
    for seq in 0..pings {
        flood.send_to(&ping(sender, seq), to).expect("send ping");
    }
    // Another host's ping, answered after the flood was handled: from its
    // own bucket, and it marks the end of the window the limit applied to.
    let marker = lan
        .enter(3, || UdpSocket::bind("10.77.0.3:0"))
        .expect("bind in host 3");
    marker.set_read_timeout(Some(WAIT)).expect("timeout");
    marker.send_to(&ping(sender ^ 1, 0), to).expect("send");
    let mut buf = [0u8; 256];
    let len = marker.recv(&mut buf).expect("host 3 gets its pong");
    assert!(matches!(
        wire::classify(&buf[..len]),
        Ok(Datagram::Message(Message::Pong(_)))
    ));
    let elapsed = start.elapsed().as_secs_f64();

    let (_, _, err) = listener.terminate();
    let answered = summary_count(&err, "pings answered");
    let ignored = summary_count(&err, "pings ignored");
    assert_eq!(
        answered + ignored,
        pings + 1,
        "every ping was counted: {err:#?}"
    );
    flood.set_nonblocking(true).expect("nonblocking");
    let mut heard = 0;
    wait_for(WAIT, "the pongs the listener sent", || {
        heard += count_pongs(&flood, sender);
        (heard + 1 >= answered).then_some(())
    });
    assert_eq!(heard + 1, answered, "{err:#?}");

    let rate = f64::from(PONGS_PER_SOURCE);
    let bound = rate + rate * elapsed + 2.0;
    assert!(
        (heard as f64) <= bound,
        "{heard} pongs to {pings} pings in {elapsed:.3} s: more than burst {rate} + {rate}/s"
    );
    assert!(
        heard >= u64::from(PONGS_PER_SOURCE),
        "{heard} pongs: the first burst of {PONGS_PER_SOURCE} is answered"
    );
}

#[test]
fn flood_ping_from_this_host_is_not_limited() {
    if !isolate("flood_ping_from_this_host_is_not_limited") {
        return;
    }
    let mut listener = Listener::start(&[]);
    // More than any limit would let through at once.
    let count = 2 * PONGS_TOTAL.max(PONGS_PER_SOURCE);
    let run = common::udpmsg(
        &[
            "ping",
            &listener.dest(),
            "--interval",
            "0",
            "-c",
            &count.to_string(),
            "--json",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last = run.stdout.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(summary["sent"], count, "{last}");
    assert_eq!(summary["received"], count, "{last}");
    let (_, _, err) = listener.terminate();
    assert_eq!(summary_count(&err, "pings answered"), u64::from(count));
    assert_eq!(summary_count(&err, "pings ignored"), 0);
}
