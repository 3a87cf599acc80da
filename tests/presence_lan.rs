//! Presence on a namespace LAN (`tests/common/lan.rs`): `listen
//! --announce` and `discover --watch` — who comes up, goes down and
//! changes, when, and why; under loss; with a key against forgeries; and
//! the one-shot `discover` listing what it hears announced.
//!
//! Short periods come through the flags (hellos every 300 ms, so a
//! lifetime of 900 ms), so each test takes a few seconds. Every LAN test
//! has its own tag (`pr1_`, `pr2_`, ...; none a prefix of another).
//! Times are compared only as lower bounds ("not given up before its
//! lifetime"); how fast things are seen is measured by
//! `scripts/bench-presence.sh`, not asserted.

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{
    BIN, WAIT, line_reader, listening_addr, nft_load, rest_of, run_captured, wait_status,
};
use lan::Lan;
use std::net::UdpSocket;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};
use udpmsg::wire::{self, Goodbye, Hello, Message};

/// The port listeners use (announcements go to the next one).
const PORT: u16 = 47474;
const PRESENCE: u16 = PORT + 1;

/// Hellos every 300 ms: trusted for 900 ms.
const EVERY: &str = "300ms";
const EVERY_MS: u64 = 300;
const LIFETIME_MS: u64 = 3 * EVERY_MS;

/// A process's safety net: it ends by itself even if a test leaks it.
const LIFETIME_CAP: &str = "60s";

// ---------------------------------------------------------------------------
// Listeners.

/// A `udpmsg listen` inside one host; killed on drop.
struct HostListener {
    child: Child,
    /// Its stderr lines (`-v` notices among them); kept open, as the
    /// listener writes its summary there when it stops.
    stderr: Receiver<String>,
}

impl HostListener {
    /// `udpmsg listen --name NAME <extra>` in host `k`, once it is listening.
    fn start(lan: &Lan, k: usize, name: &str, extra: &[&str]) -> HostListener {
        let mut command = lan.cmd(k, BIN);
        command.args(["listen", "--name", name]);
        if !extra.contains(&"--timeout") {
            command.args(["--timeout", LIFETIME_CAP]);
        }
        let mut child = command
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn udpmsg listen");
        let stderr = line_reader(child.stderr.take().expect("stderr"), None);
        // Killed on drop from here on, whatever happens.
        let listener = HostListener { child, stderr };
        let end = Instant::now() + WAIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = listener.stderr.recv_timeout(left).unwrap_or_else(|e| {
                panic!("listener {name} in host {k} did not start within {WAIT:?}: {e}")
            });
            if listening_addr(&line).is_some() {
                return listener;
            }
        }
    }

    /// `--announce --announce-every 300ms` and `extra`.
    fn announcing(lan: &Lan, k: usize, name: &str, extra: &[&str]) -> HostListener {
        let mut args = vec!["--announce", "--announce-every", EVERY];
        args.extend_from_slice(extra);
        Self::start(lan, k, name, &args)
    }

    /// Waits until it has printed `n` stderr lines containing `what`.
    fn wait_lines(&self, n: usize, what: &str) {
        let end = Instant::now() + WAIT;
        let mut seen = 0;
        while seen < n {
            let left = end.saturating_duration_since(Instant::now());
            let line = self
                .stderr
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("{n} lines with {what:?}: {e}"));
            seen += usize::from(line.contains(what));
        }
    }

    /// Sends `signal`; returns the wall-clock time it was sent.
    fn signal(&self, signal: i32) -> SystemTime {
        let at = SystemTime::now();
        // SAFETY: kill(2) on our own child's pid (`ip netns exec` execs it).
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
        at
    }

    /// SIGTERM, and the exit; returns when the signal went.
    fn terminate(mut self) -> SystemTime {
        let at = self.signal(libc::SIGTERM);
        wait_status(&mut self.child, WAIT, "listener after SIGTERM");
        at
    }

    /// SIGKILL, and the exit: no goodbye. Returns when the signal went.
    fn kill(mut self) -> SystemTime {
        let at = self.signal(libc::SIGKILL);
        wait_status(&mut self.child, WAIT, "listener after SIGKILL");
        at
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The watcher.

/// One line of `discover --watch --json`.
#[derive(Debug, Clone)]
struct Event {
    ts: SystemTime,
    kind: String,
    reason: String,
    name: String,
    instance: String,
    addrs: Vec<String>,
    previous: Option<String>,
}

impl Event {
    fn parse(line: &str) -> Event {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        let text = |key: &str| {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("no string {key} in {line}"))
                .to_string()
        };
        let ts = humantime::parse_rfc3339(&text("ts"))
            .unwrap_or_else(|e| panic!("bad ts in {line}: {e}"));
        Event {
            ts,
            kind: text("kind"),
            reason: text("reason"),
            name: text("name"),
            instance: text("instance"),
            addrs: v["addrs"]
                .as_array()
                .unwrap_or_else(|| panic!("no addrs in {line}"))
                .iter()
                .map(|a| a.as_str().expect("address text").to_string())
                .collect(),
            previous: v["previous"].as_str().map(str::to_string),
        }
    }

    fn is(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name == name
    }

    /// Its IPv4 addresses.
    fn v4(&self) -> Vec<&str> {
        self.addrs
            .iter()
            .filter(|a| !a.starts_with('['))
            .map(String::as_str)
            .collect()
    }
}

/// `udpmsg discover --watch --json` in one host; killed on drop.
struct Watch {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every event read so far, in order.
    seen: Vec<Event>,
}

impl Watch {
    fn start(lan: &Lan, k: usize, extra: &[&str]) -> Watch {
        let mut child = lan
            .cmd(k, BIN)
            .args(["discover", "--watch", "--json", "--timeout", LIFETIME_CAP])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn udpmsg discover --watch");
        let out = line_reader(child.stdout.take().expect("stdout"), None);
        let err = line_reader(child.stderr.take().expect("stderr"), None);
        let watch = Watch {
            child,
            out,
            err,
            seen: Vec::new(),
        };
        let end = Instant::now() + WAIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = watch
                .err
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("the watcher in host {k} did not start: {e}"));
            if line.starts_with("udpmsg: watching for listeners") {
                return watch;
            }
        }
    }

    /// Reads events until one satisfies `want` (returned); fails after
    /// `limit`, naming `what` and everything seen.
    fn until(&mut self, limit: Duration, what: &str, want: impl Fn(&Event) -> bool) -> Event {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => {
                    let event = Event::parse(&line);
                    self.seen.push(event.clone());
                    if want(&event) {
                        return event;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{what}: not within {limit:?}; seen: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let err: Vec<String> = self.err.try_iter().collect();
                    panic!(
                        "{what}: the watcher ended; seen {:#?}; stderr {err:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// The next event about `name`.
    fn next_about(&mut self, name: &str) -> Event {
        self.until(WAIT, &format!("an event about {name}"), |e| e.name == name)
    }

    /// Events seen so far about `name`.
    fn about(&self, name: &str) -> Vec<&Event> {
        self.seen.iter().filter(|e| e.name == name).collect()
    }

    /// SIGTERM and the exit; the events not read yet go to `seen`, and
    /// every stderr line comes back.
    fn stop(&mut self) -> Vec<String> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let status = wait_status(&mut self.child, WAIT, "watcher after SIGTERM");
        assert!(status.success(), "watcher exit: {status:?}");
        let rest: Vec<Event> = rest_of(&self.out).iter().map(|l| Event::parse(l)).collect();
        self.seen.extend(rest);
        rest_of(&self.err)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ms` milliseconds.
fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// How long after `earlier` `later` is (negative: before), in ms.
fn after_ms(later: SystemTime, earlier: SystemTime) -> i128 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

// ---------------------------------------------------------------------------
// Coming and going.

#[test]
fn watcher_sees_listeners_come_go_and_restart() {
    let Some(lan) = Lan::up("pr1_", 7, &[]) else {
        return;
    };
    let mut watch = Watch::start(&lan, 1, &["--interval", "300ms"]);
    // Five announcing listeners and one that does not announce.
    let mut listeners: Vec<Option<HostListener>> = (2..=6)
        .map(|k| Some(HostListener::announcing(&lan, k, &format!("h{k}"), &[])))
        .collect();
    let plain = HostListener::start(&lan, 7, "plain", &[]);
    let mut up = std::collections::HashMap::new();
    while up.len() < 6 {
        let e = watch.until(WAIT, "six listeners up", |e| e.kind == "up");
        assert!(
            up.insert(e.name.clone(), e.clone()).is_none(),
            "up twice: {:#?}",
            watch.seen
        );
    }
    for k in 2..=7 {
        let name = if k == 7 {
            "plain".to_string()
        } else {
            format!("h{k}")
        };
        let e = &up[&name];
        let own = format!("10.77.0.{k}:{PORT}");
        assert_eq!(e.v4(), [own.as_str()], "{e:?}");
        // Its IPv6 link-local address too, scoped by interface name.
        assert!(
            e.addrs
                .iter()
                .any(|a| a.starts_with("[fe80::") && a.contains("%eth0]")),
            "{e:?}"
        );
        assert_eq!(e.instance.len(), 16, "{e:?}");
    }
    assert_eq!(up["plain"].reason, "answer", "found by the probes");

    // SIGTERM: a goodbye.
    let h2 = listeners[0].take().expect("h2");
    h2.terminate();
    let down = watch.next_about("h2");
    assert!(down.is("down", "h2"), "{down:?}");
    assert_eq!(down.reason, "goodbye");
    assert_eq!(down.instance, up["h2"].instance);

    // kill -9: no goodbye; given up once its lifetime has passed since it
    // was last heard. (Its last hello went at most a period before the
    // kill, unless the machine stalled it: the bound checked here leaves a
    // second period of margin; the table's unit tests pin the exact one.)
    let h3 = listeners[1].take().expect("h3");
    let killed = h3.kill();
    let down = watch.next_about("h3");
    assert!(down.is("down", "h3"), "{down:?}");
    assert_eq!(down.reason, "expired");
    let waited = after_ms(down.ts, killed);
    assert!(
        waited >= (LIFETIME_MS - 2 * EVERY_MS) as i128,
        "given up {waited} ms after the kill, before its lifetime ({LIFETIME_MS} ms) could pass"
    );
    // Started again: a new instance, up.
    let _h3 = HostListener::announcing(&lan, 3, "h3", &[]);
    let again = watch.next_about("h3");
    assert!(again.is("up", "h3"), "{again:?}");
    assert_ne!(again.instance, up["h3"].instance);

    // kill -9 and restart at once: the watcher still holds it, so the new
    // instance is the old one restarted (or, on a machine slow enough that
    // the restart took longer than the lifetime, down and up again).
    let h4 = listeners[2].take().expect("h4");
    h4.kill();
    let _h4 = HostListener::announcing(&lan, 4, "h4", &[]);
    let next = watch.next_about("h4");
    if next.kind == "changed" {
        assert_eq!(next.reason, "restarted", "{next:?}");
        assert_ne!(next.instance, up["h4"].instance);
        assert_eq!(next.previous.as_ref(), Some(&up["h4"].instance), "{next:?}");
        assert_eq!(next.v4(), [format!("10.77.0.4:{PORT}").as_str()]);
    } else {
        assert!(
            next.is("down", "h4") && next.reason == "expired",
            "{next:?}"
        );
        let up_again = watch.next_about("h4");
        assert!(up_again.is("up", "h4"), "{up_again:?}");
    }

    // The listener that does not announce: given up after 3 intervals
    // without an answer (its last came about an interval before the kill;
    // the same margin as above).
    let killed = plain.kill();
    let down = watch.next_about("plain");
    assert!(down.is("down", "plain"), "{down:?}");
    assert_eq!(down.reason, "expired");
    let waited = after_ms(down.ts, killed);
    assert!(
        waited >= 300,
        "given up {waited} ms after the kill, before 3 intervals could pass"
    );

    // Nobody else went meanwhile.
    for k in 5..=6 {
        let name = format!("h{k}");
        assert!(
            watch.about(&name).iter().all(|e| e.kind != "down"),
            "{:#?}",
            watch.about(&name)
        );
    }
    let seen_before = watch.seen.len();
    let stderr = watch.stop();
    let rest = &watch.seen[seen_before..];
    assert!(rest.iter().all(|e| e.kind != "down"), "{rest:#?}");
    let summary = stderr.last().expect("a summary");
    assert!(
        summary.starts_with("udpmsg discover --watch: ") && summary.contains(" hellos, "),
        "{stderr:#?}"
    );
    drop(listeners);
}

#[test]
fn every_clean_exit_says_goodbye() {
    let Some(lan) = Lan::up("pr7_", 3, &[]) else {
        return;
    };
    let mut watch = Watch::start(&lan, 1, &["--interval", "10s"]);
    let _counted = HostListener::announcing(&lan, 2, "counted", &["--count", "1"]);
    let _timed = HostListener::announcing(&lan, 3, "timed", &["--timeout", "1500ms"]);
    for name in ["counted", "timed"] {
        if !watch.about(name).iter().any(|e| e.kind == "up") {
            watch.until(WAIT, &format!("{name} up"), |e| e.is("up", name));
        }
    }
    // One message ends the first (--count 1); the second times out.
    let sent = run_captured(
        {
            let mut c = lan.cmd(1, BIN);
            c.args(["send", "10.77.0.2", "bye"]);
            c
        },
        b"",
        WAIT,
        "send",
    );
    assert_eq!(sent.code, 0, "{sent:?}");
    for name in ["counted", "timed"] {
        let down = watch.until(WAIT, &format!("{name} down"), |e| e.is("down", name));
        assert_eq!(down.reason, "goodbye", "{down:?}");
    }
    // SIGHUP (its terminal closed): a goodbye too, and the summary.
    let mut hung = HostListener::announcing(&lan, 2, "hungup", &[]);
    watch.until(WAIT, "hungup up", |e| e.is("up", "hungup"));
    hung.signal(libc::SIGHUP);
    let status = wait_status(&mut hung.child, WAIT, "listener after SIGHUP");
    assert!(status.success(), "listener exit after SIGHUP: {status:?}");
    let down = watch.until(WAIT, "hungup down", |e| e.is("down", "hungup"));
    assert_eq!(down.reason, "goodbye", "{down:?}");
    let said = rest_of(&hung.stderr);
    assert!(
        said.last()
            .is_some_and(|l| l.starts_with("udpmsg listen: hung up: ")),
        "{said:#?}"
    );
    // The watcher itself ends on SIGHUP with its summary.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(watch.child.id() as libc::pid_t, libc::SIGHUP);
    }
    let status = wait_status(&mut watch.child, WAIT, "watcher after SIGHUP");
    assert!(status.success(), "watcher exit after SIGHUP: {status:?}");
    let said = rest_of(&watch.err);
    assert!(
        said.last()
            .is_some_and(|l| l.starts_with("udpmsg discover --watch: ")),
        "{said:#?}"
    );
}

#[test]
fn announcing_and_watching_keep_to_the_interface_and_family_asked() {
    let Some(lan) = Lan::up("pr8_", 3, &["--two-if", "2"]) else {
        return;
    };
    let mut watch = Watch::start(&lan, 1, &["--interval", "10s", "-6"]);
    // On eth1 only, IPv4 only.
    let narrow = HostListener::announcing(&lan, 2, "narrow", &["--interface", "eth1", "-4", "-v"]);
    let _wide = HostListener::announcing(&lan, 3, "wide", &[]);
    let mut hellos = Vec::new();
    let end = Instant::now() + WAIT;
    while hellos.len() < 3 {
        let left = end.saturating_duration_since(Instant::now());
        let line = narrow
            .stderr
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("three hellos: {e}; {hellos:#?}"));
        if line.contains("hello") {
            hellos.push(line);
        }
    }
    for line in &hellos {
        assert!(
            line.ends_with(&format!("hello sent to 10.77.255.255:{PRESENCE} on eth1")),
            "{hellos:#?}"
        );
    }
    // The IPv6 watcher hears the other listener by IPv6 alone.
    let up = watch.until(WAIT, "wide up", |e| e.is("up", "wide"));
    assert!(!up.addrs.is_empty(), "{up:?}");
    assert!(up.addrs.iter().all(|a| a.starts_with("[fe80::")), "{up:?}");
}

#[test]
fn no_flapping_under_loss() {
    let Some(lan) = Lan::up("pr2_", 6, &[]) else {
        return;
    };
    // 30% of the UDP datagrams every host receives are dropped (and counted).
    for k in 1..=6 {
        nft(
            &lan,
            k,
            "table inet loss {\n  chain in {\n    type filter hook input priority 0;\n    \
             meta l4proto udp numgen random mod 100 < 30 counter drop;\n  }\n}\n",
        );
    }
    let mut watch = Watch::start(&lan, 1, &["--interval", "1s"]);
    let listeners: Vec<HostListener> = (2..=6)
        .map(|k| HostListener::announcing(&lan, k, &format!("h{k}"), &[]))
        .collect();
    for k in 2..=6 {
        let name = format!("h{k}");
        if watch.about(&name).iter().any(|e| e.kind == "up") {
            continue;
        }
        watch.until(WAIT, &format!("{name} up"), |e| e.is("up", &name));
    }
    // Three lifetimes with every listener alive: nobody goes down.
    std::thread::sleep(ms(3 * LIFETIME_MS));
    watch.stop();
    let downs: Vec<&Event> = watch.seen.iter().filter(|e| e.kind == "down").collect();
    assert!(downs.is_empty(), "live listeners given up: {downs:#?}");
    // The loss was real: the watcher's host dropped datagrams.
    let dropped = nft_dropped(&lan, 1);
    assert!(dropped > 10, "only {dropped} datagrams dropped");
    drop(listeners);
}

#[test]
fn a_renumbered_listener_is_announced_at_once_with_its_new_address() {
    let Some(lan) = Lan::up("pr3_", 3, &[]) else {
        return;
    };
    // Probes and hellos far apart: only the announcement on the address
    // change can tell the watcher within the wait...
    let mut watch = Watch::start(&lan, 1, &["--interval", "30s"]);
    let slow = HostListener::start(
        &lan,
        2,
        "slow",
        &["--announce", "--announce-every", "20s", "-v"],
    );
    // ...and one announcing often, whose old address goes stale soon.
    let _fast = HostListener::announcing(&lan, 3, "fast", &[]);
    for name in ["slow", "fast"] {
        if !watch.about(name).iter().any(|e| e.kind == "up") {
            watch.until(WAIT, &format!("{name} up"), |e| e.is("up", name));
        }
    }
    // Its start burst is over: the next hello is 20 s away.
    slow.wait_lines(3, &format!("hello sent to 10.77.255.255:{PRESENCE}"));
    for k in [2, 3] {
        // Deleting the primary address first: a second one in its subnet
        // would go with it.
        lan.ip(
            k,
            &["addr", "del", &format!("10.77.0.{k}/16"), "dev", "eth0"],
        );
        lan.ip(
            k,
            &[
                "addr",
                "add",
                &format!("10.77.9.{k}/16"),
                "brd",
                "+",
                "dev",
                "eth0",
            ],
        );
    }
    let changed = watch.until(WAIT, "slow's new address", |e| {
        e.is("changed", "slow") && e.v4().contains(&format!("10.77.9.2:{PORT}").as_str())
    });
    assert_eq!(changed.reason, "addrs", "{changed:?}");
    let settled = watch.until(WAIT, "fast's address set without the old one", |e| {
        e.is("changed", "fast") && e.v4() == [format!("10.77.9.3:{PORT}").as_str()]
    });
    assert!(
        settled.addrs.iter().any(|a| a.starts_with("[fe80::")),
        "its link-local address stays: {settled:?}"
    );
    assert!(
        watch.seen.iter().all(|e| e.kind != "down"),
        "{:#?}",
        watch.seen
    );
}

// ---------------------------------------------------------------------------
// With a key.

/// A key file written by `udpmsg keygen`, removed on drop.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(tag: &str) -> KeyFile {
        let path = std::env::temp_dir().join(format!("udpmsg-{tag}-{}.key", std::process::id()));
        let key = KeyFile(path);
        // keygen only writes a file: no socket, so it may run anywhere.
        let out = std::process::Command::new(BIN)
            .args(["keygen", "--force", key.path()])
            .output()
            .expect("run keygen");
        assert!(out.status.success(), "keygen: {out:?}");
        key
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An open datagram.
fn encoded(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    wire::encode(message, wire::MAX_DATAGRAM, &mut out).expect("encode");
    out
}

/// A socket in host `k` that may broadcast.
fn broadcaster(lan: &Lan, k: usize) -> UdpSocket {
    let socket = lan
        .enter(k, || UdpSocket::bind("0.0.0.0:0"))
        .expect("bind in host");
    socket.set_broadcast(true).expect("SO_BROADCAST");
    socket
}

#[test]
fn keyed_watchers_take_only_keyed_announcements() {
    let Some(lan) = Lan::up("pr4_", 5, &[]) else {
        return;
    };
    let key = KeyFile::new("pr4");
    let mut keyed = Watch::start(
        &lan,
        1,
        &["--interval", "500ms", "-v", "--key-file", key.path()],
    );
    let mut keyless = Watch::start(&lan, 5, &["--interval", "500ms", "-v"]);
    let real = HostListener::announcing(&lan, 2, "real", &["--key-file", key.path()]);
    let _open = HostListener::announcing(&lan, 4, "open", &[]);
    let up = keyed.until(WAIT, "the keyed listener up", |e| e.is("up", "real"));
    keyless.until(WAIT, "the open listener up", |e| e.is("up", "open"));

    // Host 3 has no key: it announces a fake listener and says goodbye in
    // the real one's name, to the broadcast and to the watcher itself.
    let forger = broadcaster(&lan, 3);
    let instance = u64::from_str_radix(&up.instance, 16).expect("hex instance");
    let hello = encoded(&Message::Hello(Hello {
        instance: 0x0bad_0bad_0bad_0bad,
        port: PORT,
        version: wire::VERSION,
        lifetime_ms: 60_000,
        name: "fake",
        room: "",
    }));
    let goodbye = encoded(&Message::Goodbye(Goodbye { instance }));
    for to in ["10.77.255.255", "10.77.0.1"] {
        for d in [&hello, &goodbye] {
            forger
                .send_to(d, (to, PRESENCE))
                .expect("send forged datagram");
        }
    }
    // The real goodbye comes after them, on the same path.
    real.terminate();
    let down = keyed.until(WAIT, "the real goodbye", |e| e.kind == "down");
    assert!(
        down.is("down", "real") && down.reason == "goodbye",
        "{down:?}"
    );
    assert_eq!(down.instance, up.instance);
    let keyed_err = keyed.stop();
    let keyless_err = keyless.stop();

    // The keyed watcher: the forgeries (and the open listener's hellos)
    // were refused, nothing else happened.
    let names: Vec<&str> = keyed.seen.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["real", "real"], "{:#?}", keyed.seen);
    let refused_from = |err: &[String], who: &str, why: &str| {
        err.iter()
            .filter(|l| l.contains(&format!("from {who}:")) && l.ends_with(why))
            .count()
    };
    assert!(
        refused_from(&keyed_err, "10.77.0.3", "not sealed with a key") >= 4,
        "the forgeries arrived and were refused: {keyed_err:#?}"
    );
    assert!(
        refused_from(&keyed_err, "10.77.0.4", "not sealed with a key") >= 1,
        "{keyed_err:#?}"
    );
    // The keyless watcher never listed the keyed listener: its hellos are
    // sealed, and it does not answer open probes.
    let names: Vec<&str> = keyless.seen.iter().map(|e| e.name.as_str()).collect();
    assert!(!names.contains(&"real"), "{names:?}");
    assert!(
        refused_from(
            &keyless_err,
            "10.77.0.2",
            "sealed, and this watcher has no key"
        ) >= 1,
        "{keyless_err:#?}"
    );
}

// ---------------------------------------------------------------------------
// Floods.

#[test]
fn a_flood_of_hellos_is_rate_limited_and_the_watcher_stays_useful() {
    let Some(lan) = Lan::up("pr5_", 3, &[]) else {
        return;
    };
    let mut watch = Watch::start(&lan, 1, &["--interval", "1s"]);
    // 20,000 hellos with random instance ids from one host, as fast as it
    // sends them (well above 50 a second).
    let flooder = broadcaster(&lan, 2);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let start = Instant::now();
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Each a listener of its own (another name: not a restart).
        let name = format!("flood{i}");
        let hello = encoded(&Message::Hello(Hello {
            instance: x,
            port: PORT,
            version: wire::VERSION,
            lifetime_ms: 60_000,
            name: &name,
            room: "",
        }));
        let _ = flooder.send_to(&hello, ("10.77.0.1", PRESENCE));
    }
    let flood_for = start.elapsed();
    // A real listener after the flood is seen as ever.
    let _real = HostListener::announcing(&lan, 3, "real", &[]);
    watch.until(WAIT, "the real listener up", |e| e.is("up", "real"));
    let stderr = watch.stop();
    let flood_ups = watch
        .seen
        .iter()
        .filter(|e| e.name.starts_with("flood"))
        .count();
    // At most the burst and the rate for as long as the flood lasted.
    let allowed = 50 + 50 * (flood_for.as_secs() as usize + 1);
    assert!(
        (1..=allowed).contains(&flood_ups),
        "{flood_ups} flood listeners up in {flood_for:?}"
    );
    let summary = stderr.last().expect("summary");
    assert!(summary.contains("over the hello rate limit"), "{summary}");
}

// ---------------------------------------------------------------------------
// One-shot discover.

#[test]
fn discover_lists_listeners_it_hears_announcing() {
    let Some(lan) = Lan::up("pr6_", 3, &[]) else {
        return;
    };
    // Host 1 hears no answers (from port 47474): only hellos.
    nft(
        &lan,
        1,
        "table inet deaf {\n  chain in {\n    type filter hook input priority 0;\n    \
         udp sport 47474 drop;\n  }\n}\n",
    );
    let _announcing = HostListener::announcing(&lan, 2, "loud", &[]);
    let _quiet = HostListener::start(&lan, 3, "quiet", &[]);
    let out = run_captured(
        {
            let mut c = lan.cmd(1, BIN);
            c.args(["discover", "--json", "--timeout", "1s"]);
            c
        },
        b"",
        WAIT,
        "discover",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert_eq!(lines[0]["name"], "loud");
    assert!(
        lines[0].get("rtt_ms").is_none(),
        "no answer, no rtt: {out:?}"
    );
    let addrs = lines[0]["addrs"].as_array().expect("addrs");
    assert!(
        addrs.contains(&serde_json::Value::from(format!("10.77.0.2:{PORT}"))),
        "at its source address and announced port: {out:?}"
    );
}

// ---------------------------------------------------------------------------
// nftables inside a host.

fn nft(lan: &Lan, k: usize, rules: &str) {
    nft_load(lan.cmd(k, "nft"), rules);
}

/// Packets the `loss` table of host `k` dropped.
fn nft_dropped(lan: &Lan, k: usize) -> u64 {
    let out = lan
        .cmd(k, "nft")
        .args(["list", "table", "inet", "loss"])
        .output()
        .expect("nft list");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {text}"))
}
