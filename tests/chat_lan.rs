//! `udpmsg chat` on a namespace LAN (`tests/common/lan.rs`): members in
//! real terminals (tmux: `new-session`, `send-keys`, `capture-pane`), each
//! in its own host's namespace; the same under 20% loss with a key and a
//! keyless intruder; the JSON mode driven by a pipe, with a member that
//! vanishes (`kill -9`).
//!
//! Short periods come through the flags (hellos every 300 ms, a lifetime
//! of 900 ms; a message given up after 1 s), so each test takes seconds.
//! Every wait is on what a screen or a pipe shows, with a deadline.

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{BIN, WAIT, line_reader, nft_load, wait_status};
use lan::Lan;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const EVERY: &str = "300ms";
/// Waits under loss are longer: a message may need several tries.
const SLOW: Duration = Duration::from_secs(30);

/// A tmux server of its own (`-L`), killed on drop.
struct Term {
    socket: String,
}

impl Term {
    fn new(prefix: &str) -> Term {
        assert!(
            lan::which("tmux").is_some(),
            "tmux is not installed (scripts/test.sh installs it)"
        );
        Term {
            socket: format!("udpmsg-{prefix}{}", std::process::id()),
        }
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).stdin(Stdio::null());
        c
    }

    /// Starts `udpmsg chat --name NAME ARGS` in a terminal of its own (a
    /// tmux session called NAME, 160 columns), inside host `k`.
    fn start(&self, lan: &Lan, k: usize, name: &str, args: &[&str]) {
        let line = format!(
            "ip netns exec {} {BIN} chat --name {name} --announce-every {EVERY} {}; sleep 600",
            lan.ns(k),
            args.join(" ")
        );
        let out = self
            .tmux()
            .args(["new-session", "-d", "-s", name, "-x", "160", "-y", "50"])
            .arg(line)
            .env("TERM", "xterm")
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux new-session: {out:?}");
    }

    /// Starts a shell (`sh`) in a terminal of its own (a tmux session
    /// called `name`); returns the shell's process id.
    fn shell(&self, name: &str) -> u32 {
        let out = self
            .tmux()
            .args(["new-session", "-d", "-s", name, "-x", "160", "-y", "50"])
            .args(["-P", "-F", "#{pane_pid}", "sh"])
            .env("TERM", "xterm")
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux new-session: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("the shell's pid: {e}: {out:?}"))
    }

    /// What `name`'s terminal shows, wrapped lines joined, history included.
    fn screen(&self, name: &str) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-S", "-1000", "-t", name])
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` into `name`'s terminal (Enter after it with `enter`).
    fn keys(&self, name: &str, text: &str, enter: bool) {
        let out = self
            .tmux()
            .args(["send-keys", "-t", name, "-l", text])
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "send-keys: {out:?}");
        if enter {
            let out = self
                .tmux()
                .args(["send-keys", "-t", name, "Enter"])
                .output()
                .expect("run tmux");
            assert!(out.status.success(), "send-keys Enter: {out:?}");
        }
    }

    /// Sends `keys` to `name`'s terminal in one go (tmux key names:
    /// `Enter`), as fast as a paste.
    fn burst(&self, name: &str, keys: &[&str]) {
        let out = self
            .tmux()
            .args(["send-keys", "-t", name])
            .args(keys)
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    /// Pastes `text` into `name`'s terminal: as bracketed paste (the
    /// terminal asked for it) with `bracketed`, else as typed keys.
    fn paste(&self, name: &str, text: &str, bracketed: bool) {
        let out = self
            .tmux()
            .args(["set-buffer", "--", text])
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "set-buffer: {out:?}");
        let mut paste = self.tmux();
        paste.args(["paste-buffer", "-t", name]);
        if bracketed {
            paste.arg("-p");
        }
        let out = paste.output().expect("run tmux");
        assert!(out.status.success(), "paste-buffer: {out:?}");
    }

    /// Waits until `name`'s screen shows `what` (`limit` at most); returns it.
    fn until(&self, name: &str, what: &str, limit: Duration) -> String {
        common::poll(limit, || {
            let screen = self.screen(name);
            screen.contains(what).then_some(screen)
        })
        .unwrap_or_else(|| {
            panic!(
                "{name}'s screen not showing {what:?} within {limit:?}:\n{}",
                self.screen(name)
            )
        })
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// The first process found among the descendants of `pid` whose command
/// name is `comm`.
fn descendant(pid: u32, comm: &str) -> Option<u32> {
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, not ')'.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            if ppid != Some(parent) {
                continue;
            }
            if head.split_once('(').is_some_and(|(_, c)| c == comm) {
                return Some(child);
            }
            parents.push(child);
        }
    }
    None
}

/// How many lines of `screen` end with `suffix` (a message line is
/// `[hh:mm:ss] NAME: TEXT`).
fn lines_ending(screen: &str, suffix: &str) -> usize {
    screen.lines().filter(|l| l.ends_with(suffix)).count()
}

/// The line numbers of the lines ending with each of `suffixes`, each
/// there exactly once.
fn once_each(screen: &str, suffixes: &[String], who: &str) -> Vec<usize> {
    suffixes
        .iter()
        .map(|s| {
            let at: Vec<usize> = screen
                .lines()
                .enumerate()
                .filter(|(_, l)| l.ends_with(s.as_str()))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                at.len(),
                1,
                "{who} shows {s:?} {} times:\n{screen}",
                at.len()
            );
            at[0]
        })
        .collect()
}

/// Runs nft rules in host `k`.
fn nft(lan: &Lan, k: usize, rules: &str) {
    nft_load(lan.cmd(k, "nft"), rules);
}

#[test]
fn three_members_in_terminals() {
    let Some(lan) = Lan::up("ch1_", 4, &[]) else {
        return;
    };
    let term = Term::new("ch1_");
    for (k, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        term.start(&lan, k, name, &[]);
    }
    // Every member sees the other two join.
    for (name, others) in [
        ("alice", ["bob", "carol"]),
        ("bob", ["alice", "carol"]),
        ("carol", ["alice", "bob"]),
    ] {
        for other in others {
            term.until(name, &format!("* {other} joined"), WAIT);
        }
    }
    // bob is typing when alice's message comes.
    term.keys("bob", "half typed", false);
    term.until("bob", "> half typed", WAIT);
    term.keys("alice", "hello room", true);
    for name in ["bob", "carol"] {
        term.until(name, "] alice: hello room", WAIT);
    }
    term.until("alice", "] ✓ hello room", WAIT);
    let bob = term.screen("bob");
    assert_eq!(lines_ending(&bob, "] alice: hello room"), 1, "{bob}");
    assert_eq!(
        bob.lines().rfind(|l| !l.trim().is_empty()),
        Some("> half typed"),
        "the typed line survives below the message:\n{bob}"
    );
    assert_eq!(
        lines_ending(&term.screen("carol"), "] alice: hello room"),
        1
    );
    // The typed line is still bob's: finishing it sends it whole.
    term.keys("bob", " now sent", true);
    term.until("alice", "] bob: half typed now sent", WAIT);
    term.until("carol", "] bob: half typed now sent", WAIT);
    // A private message reaches its target only.
    term.keys("carol", "/msg bob psst", true);
    term.until("bob", "] carol: psst", WAIT);
    term.until("carol", "] ✓ psst", WAIT);
    term.keys("carol", "after the secret", true);
    term.until("alice", "] carol: after the secret", WAIT);
    assert!(
        !term.screen("alice").contains("psst"),
        "alice saw carol's private message:\n{}",
        term.screen("alice")
    );
    // Unknown commands get a hint; /who lists the others with addresses.
    term.keys("alice", "/frobnicate", true);
    term.until("alice", "* unknown command /frobnicate: try /who", WAIT);
    term.keys("alice", "/who", true);
    let who = term.until("alice", "* 3 in the room: you (alice)", WAIT);
    for (k, name) in [(2, "bob"), (3, "carol")] {
        let ip = lan.host(k).v4().expect("ipv4").to_string();
        assert!(
            who.lines()
                .any(|l| l.starts_with(&format!("*   {name}  {ip}:47474"))),
            "{who}"
        );
    }
    // A fourth member takes bob's name: every screen tags both bobs.
    let mut impostor = lan
        .cmd(4, BIN)
        .args(["chat", "--name", "bob", "--announce-every", EVERY])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the impostor");
    let tagged = term.until("alice", "* bob#", WAIT);
    let tag = tagged
        .lines()
        .find_map(|l| l.strip_prefix("* bob#")?.strip_suffix(" joined"))
        .expect("the impostor's join line")
        .to_string();
    let mut stdin = impostor.stdin.take().expect("stdin");
    writeln!(stdin, "i am bob").expect("write");
    for name in ["alice", "carol", "bob"] {
        term.until(name, &format!("] bob#{tag}: i am bob"), WAIT);
    }
    // The real bob is tagged too from now on, on its own screen as well.
    term.keys("bob", "the real one", true);
    for name in ["alice", "carol"] {
        let screen = term.until(name, ": the real one", WAIT);
        let line = screen
            .lines()
            .find(|l| l.ends_with(": the real one"))
            .expect("line");
        assert!(line.contains("] bob#"), "{line}");
        assert!(!line.contains(&format!("bob#{tag}")), "{line}");
    }
    drop(stdin);
    let _ = wait_status(&mut impostor, WAIT, "the impostor leaving at EOF");
    // /quit: the others see alice leave (a goodbye, not an expiry).
    term.keys("alice", "/quit", true);
    for name in ["bob", "carol"] {
        let screen = term.until(name, "* alice left", WAIT);
        assert!(
            !screen.contains("* alice left (no longer heard)"),
            "{screen}"
        );
    }
    term.until("alice", "udpmsg: left the room", WAIT);
}

#[test]
fn lossy_keyed_room_in_terminals() {
    let Some(lan) = Lan::up("ch2_", 4, &[]) else {
        return;
    };
    let key = std::env::temp_dir().join(format!("udpmsg-ch2-{}.key", std::process::id()));
    let key_path = key.to_str().expect("UTF-8 path").to_string();
    let out = Command::new(BIN)
        .args(["keygen", "--force", &key_path])
        .output()
        .expect("keygen");
    assert!(out.status.success(), "{out:?}");
    // 20% of the UDP datagrams each member's host receives, and 20% of
    // those it sends, are dropped.
    for k in 1..=3 {
        nft(
            &lan,
            k,
            "table inet loss {\n  chain in {\n    type filter hook input priority 0;\n    \
             meta l4proto udp numgen random mod 100 < 20 counter drop;\n  }\n  \
             chain out {\n    type filter hook output priority 0;\n    \
             meta l4proto udp numgen random mod 100 < 20 counter drop;\n  }\n}\n",
        );
    }
    let term = Term::new("ch2_");
    let keyed = ["-k", key_path.as_str()];
    for (k, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        term.start(&lan, k, name, &keyed);
    }
    for (name, others) in [
        ("alice", ["bob", "carol"]),
        ("bob", ["alice", "carol"]),
        ("carol", ["alice", "bob"]),
    ] {
        for other in others {
            term.until(name, &format!("* {other} joined"), SLOW);
        }
    }
    // A keyless intruder on host 4: a member of its own, and plain sends.
    let mut intruder = lan
        .cmd(4, BIN)
        .args(["chat", "--name", "alice", "--announce-every", EVERY])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the intruder");
    let mut intruder_in = intruder.stdin.take().expect("stdin");
    writeln!(intruder_in, "intruder speaking").expect("write");
    let alice_ip = lan.host(1).v4().expect("ipv4").to_string();
    let sent = lan
        .cmd(4, BIN)
        .args(["send", &format!("{alice_ip}:47474"), "intruder sending"])
        .output()
        .expect("send");
    assert!(sent.status.success(), "{sent:?}");
    // alice and bob each send four lines; every member shows each line
    // of the others once, in the order it was sent.
    let lines = |who: &str| -> Vec<String> { (1..=4).map(|i| format!("{who} line {i}")).collect() };
    for i in 0..4 {
        term.keys("alice", &lines("alice")[i], true);
        term.keys("bob", &lines("bob")[i], true);
    }
    for (sender, receivers) in [("alice", ["bob", "carol"]), ("bob", ["alice", "carol"])] {
        let expected: Vec<String> = lines(sender)
            .iter()
            .map(|l| format!("] {sender}: {l}"))
            .collect();
        for name in receivers {
            let last = expected.last().expect("a line");
            term.until(name, last, SLOW);
            // Earlier lines are shown before later ones: all there now.
            let at = once_each(&term.screen(name), &expected, name);
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{name}: out of order");
        }
        // The sender saw every line confirmed by both others.
        for l in lines(sender) {
            term.until(sender, &format!("] ✓ {l}"), SLOW);
        }
    }
    let _ = intruder.kill();
    let _ = intruder.wait();
    drop(intruder_in);
    for name in ["alice", "bob", "carol"] {
        let screen = term.screen(name);
        assert!(
            !screen.contains("intruder") && !screen.contains("not delivered"),
            "{name}:\n{screen}"
        );
    }
    let _ = std::fs::remove_file(&key);
}

/// A piped member's JSON lines.
struct Piped {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<serde_json::Value>,
}

impl Piped {
    fn start(lan: &Lan, k: usize, name: &str, extra: &[&str]) -> Piped {
        Piped::every(lan, k, name, EVERY, extra)
    }

    /// [`Piped::start`] with hellos `every` apart.
    fn every(lan: &Lan, k: usize, name: &str, every: &str, extra: &[&str]) -> Piped {
        let mut child = lan
            .cmd(k, BIN)
            .args(["chat", "--json", "--name", name, "--announce-every", every])
            .args(["--patience", "1s"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chat");
        let stdin = child.stdin.take();
        let lines = line_reader(child.stdout.take().expect("stdout"), None);
        Piped {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write");
    }

    /// The first line (seen before or arriving within `limit`) for which
    /// `pred` holds.
    fn until(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{what}: not within {limit:?}; saw {:#?}", self.seen));
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            self.seen.push(v.clone());
            if pred(&v) {
                return v;
            }
        }
    }
}

/// Waits until something answers pings at host `k`'s room port, asked
/// from host `from`.
fn answering(lan: &Lan, from: usize, k: usize) {
    let ip = lan.host(k).v4().expect("ipv4").to_string();
    common::poll(WAIT, || {
        let out = lan
            .cmd(from, BIN)
            .args(["ping", "--count", "1", "--wait", "1s", &ip])
            .output()
            .expect("ping");
        out.status.success().then_some(())
    })
    .unwrap_or_else(|| panic!("nothing answering pings at {ip}"));
}

fn is(v: &serde_json::Value, kind: &str, name: &str) -> bool {
    v["kind"] == kind && v["name"] == name
}

#[test]
fn json_mode_driven_by_a_pipe() {
    let Some(lan) = Lan::up("ch3_", 4, &[]) else {
        return;
    };
    let mut alice = Piped::start(&lan, 1, "alice", &[]);
    let mut bob = Piped::start(&lan, 2, "bob", &[]);
    let mut carol = Piped::start(&lan, 3, "carol", &[]);
    for (who, others) in [
        (&mut alice, ["bob", "carol"]),
        (&mut bob, ["alice", "carol"]),
        (&mut carol, ["alice", "bob"]),
    ] {
        for other in others {
            who.until(&format!("{other} joined"), WAIT, |v| is(v, "joined", other));
        }
    }
    bob.say("hello from a pipe");
    for who in [&mut alice, &mut carol] {
        let m = who.until("bob's message", WAIT, |v| is(v, "message", "bob"));
        assert_eq!(m["text"], "hello from a pipe");
        assert_eq!(m["seq"], 0);
    }
    let d = bob.until("delivered", WAIT, |v| v["kind"] == "delivered");
    assert_eq!(d["number"], 1);
    let mut members: Vec<&str> = d["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["alice", "carol"]);
    // `//` sends a literal slash; an oversized line is refused locally.
    bob.say("//not a command");
    alice.until("the literal slash", WAIT, |v| v["text"] == "/not a command");
    bob.say(&"x".repeat(udpmsg::commands::chat::room::MAX_MESSAGE + 1));
    bob.say("after the long one");
    alice.until("the next line", WAIT, |v| v["text"] == "after the long one");
    assert!(
        !alice
            .seen
            .iter()
            .any(|v| v["text"].as_str().is_some_and(|t| t.starts_with("xxxx"))),
        "the oversized line was sent"
    );
    // A plain `udpmsg send` to alice's address shows in her chat, tagged.
    let alice_ip = lan.host(1).v4().expect("ipv4").to_string();
    let out = lan
        .cmd(4, BIN)
        .args([
            "send",
            "--name",
            "bob",
            &format!("{alice_ip}:47474"),
            "from a shell",
        ])
        .output()
        .expect("send");
    assert!(out.status.success(), "{out:?}");
    let m = alice.until("the shell's message", WAIT, |v| v["text"] == "from a shell");
    let name = m["name"].as_str().expect("name");
    assert!(name.starts_with("bob#") && name.len() == 8, "{m}");
    // carol vanishes: bob's next message is not delivered to her, and she
    // is given up once her presence expires.
    let _ = carol.child.kill();
    let _ = carol.child.wait();
    bob.say("are you there");
    let n = bob.until("not delivered", SLOW, |v| v["kind"] == "not_delivered");
    assert_eq!(n["text"], "are you there");
    assert_eq!(n["unconfirmed"], serde_json::json!(["carol"]));
    bob.until("carol expired", SLOW, |v| {
        is(v, "left", "carol") && v["reason"] == "expired"
    });
    alice.until("carol expired", SLOW, |v| {
        is(v, "left", "carol") && v["reason"] == "expired"
    });
    // /name: alice gets a line for it, bob none for its own.
    let bob_id = alice.until("bob joined", WAIT, |v| is(v, "joined", "bob"))["instance"].clone();
    bob.say("/name robert");
    let renamed = alice.until("bob's new name", WAIT, |v| v["kind"] == "renamed");
    assert_eq!(renamed["name"], "robert", "{renamed}");
    assert_eq!(renamed["previous_name"], "bob", "{renamed}");
    assert_eq!(renamed["instance"], bob_id, "{renamed}");
    // /quit: a goodbye; bob exits 2: a line it read was refused (the
    // oversized one), which a script learns before that a message was
    // not delivered (4).
    bob.say("/quit");
    alice.until("robert's goodbye", WAIT, |v| {
        is(v, "left", "robert") && v["reason"] == "goodbye"
    });
    let status = wait_status(&mut bob.child, WAIT, "bob after /quit");
    assert_eq!(status.code(), Some(2));
    while let Ok(line) = bob.lines.recv_timeout(WAIT) {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        bob.seen.push(v);
    }
    assert!(
        !bob.seen.iter().any(|v| v["kind"] == "renamed"),
        "a line for bob's own rename: {:#?}",
        bob.seen
    );
    // alice ends at EOF, everything delivered: exit 0.
    drop(alice.stdin.take());
    let status = wait_status(&mut alice.child, WAIT, "alice at EOF");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_bot_faster_than_the_room_takes_is_paced_and_loses_nothing() {
    let Some(lan) = Lan::up("ch4_", 2, &[]) else {
        return;
    };
    let mut bot = Piped::start(&lan, 1, "bot", &[]);
    let mut bob = Piped::start(&lan, 2, "bob", &[]);
    bot.until("bob joined", WAIT, |v| is(v, "joined", "bob"));
    bob.until("bot joined", WAIT, |v| is(v, "joined", "bot"));
    // Far more lines at once than bob takes from one address in the
    // second each may be retried (--patience 1s): sent as fast as the
    // room takes them, every one arrives.
    const LINES: usize = 120;
    assert!(LINES > 2 * udpmsg::commands::chat::TEXTS_PER_SOURCE as usize);
    let all: String = (0..LINES).map(|i| format!("line {i}\n")).collect();
    let stdin = bot.stdin.as_mut().expect("stdin");
    stdin.write_all(all.as_bytes()).expect("write");
    drop(bot.stdin.take());
    let status = wait_status(&mut bot.child, SLOW, "the bot at EOF");
    let outcomes: Vec<&serde_json::Value> = {
        while let Ok(line) = bot.lines.recv_timeout(WAIT) {
            bot.seen
                .push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
        bot.seen
            .iter()
            .filter(|v| v["kind"] == "delivered" || v["kind"] == "not_delivered")
            .collect()
    };
    assert_eq!(outcomes.len(), LINES, "{outcomes:#?}");
    assert!(
        outcomes.iter().all(|v| v["kind"] == "delivered"),
        "{outcomes:#?}"
    );
    assert_eq!(status.code(), Some(0));
    let last = format!("line {}", LINES - 1);
    bob.until("the last line", WAIT, |v| v["text"] == last.as_str());
    let texts: Vec<&str> = bob
        .seen
        .iter()
        .filter(|v| v["kind"] == "message")
        .filter_map(|v| v["text"].as_str())
        .collect();
    let expected: Vec<String> = (0..LINES).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, expected, "each line once, in order");
}

#[test]
fn a_member_keeps_to_the_interface_and_family_asked() {
    // Host 1 has eth0 (10.77.0.1) and eth1 (10.77.128.1) on the LAN.
    let Some(lan) = Lan::up("ch5_", 4, &["--two-if", "1"]) else {
        return;
    };
    let eth1 = lan.host(1).iface("eth1").expect("eth1").v4[0].to_string();
    let eth0 = lan.host(1).v4().expect("eth0").to_string();
    let mut one = Piped::start(&lan, 1, "one", &["--interface", "eth1", "-4"]);
    let mut two = Piped::start(&lan, 2, "two", &[]);
    let mut six = Piped::start(&lan, 3, "six", &["-6"]);
    // one is heard at its eth1 address only; it hears over IPv4 only.
    let joined = two.until("one joined", WAIT, |v| is(v, "joined", "one"));
    assert_eq!(joined["from"], format!("{eth1}:47474"), "{joined}");
    let joined = one.until("two joined", WAIT, |v| is(v, "joined", "two"));
    assert_eq!(joined["from"], "10.77.0.2:47474", "{joined}");
    one.say("through eth1");
    let m = two.until("one's message", WAIT, |v| is(v, "message", "one"));
    assert_eq!(m["text"], "through eth1");
    assert_eq!(m["from"], format!("{eth1}:47474"), "{m}");
    one.until("delivered", WAIT, |v| v["kind"] == "delivered");
    // A newcomer that hears no broadcast hellos learns of one from its
    // welcome (its answer to the newcomer's hellos): that too leaves by eth1.
    nft(
        &lan,
        4,
        "table ip deaf {\n  chain in {\n    type filter hook input priority 0;\n    \
         ip daddr 10.77.255.255 udp dport 47475 drop;\n  }\n}\n",
    );
    let mut late = Piped::start(&lan, 4, "late", &["-4"]);
    let joined = late.until("one joined", WAIT, |v| is(v, "joined", "one"));
    assert_eq!(joined["from"], format!("{eth1}:47474"), "{joined}");
    let _ = late.child.kill();
    let _ = late.child.wait();
    // What arrives on eth0 is not taken: a message to eth0's address is
    // not shown, the same sender's next one, to eth1's, is.
    for (to, text) in [(&eth0, "to eth0"), (&eth1, "to eth1")] {
        let out = lan
            .cmd(4, BIN)
            .args(["send", &format!("{to}:47474"), text])
            .output()
            .expect("send");
        assert!(out.status.success(), "{out:?}");
    }
    one.until("the datagram to eth1", WAIT, |v| v["text"] == "to eth1");
    assert!(
        !one.seen.iter().any(|v| v["text"] == "to eth0"),
        "{:#?}",
        one.seen
    );
    // six announces, hears and sends over IPv6 alone.
    let joined = two.until("six joined", WAIT, |v| is(v, "joined", "six"));
    assert!(
        joined["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("[fe80::")),
        "{joined}"
    );
    let joined = six.until("two joined", WAIT, |v| is(v, "joined", "two"));
    assert!(
        joined["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("[fe80::")),
        "{joined}"
    );
    six.say("over ipv6");
    let m = two.until("six's message", WAIT, |v| is(v, "message", "six"));
    assert!(
        m["from"].as_str().is_some_and(|f| f.starts_with("[fe80::")),
        "{m}"
    );
    // one (IPv4 only) and six (IPv6 only) share no family: neither is a
    // member for the other, so six's message went to two alone.
    let d = six.until("delivered", WAIT, |v| v["kind"] == "delivered");
    assert_eq!(d["members"], serde_json::json!(["two"]), "{d}");
}

#[test]
fn a_signal_from_outside_leaves_the_terminal_as_it_was() {
    let Some(lan) = Lan::up("ch6_", 2, &[]) else {
        return;
    };
    let mut watcher = Piped::start(&lan, 2, "watcher", &[]);
    let term = Term::new("ch6_");
    let shell = term.shell("pane");
    for (round, signal) in ["TERM", "HUP", "INT"].into_iter().enumerate() {
        let name = format!("victim{round}");
        term.keys(
            "pane",
            &format!(
                "ip netns exec {} {BIN} chat --name {name} --announce-every {EVERY}",
                lan.ns(1)
            ),
            true,
        );
        // It greets through the line editor: the terminal is raw now.
        term.until("pane", &format!("* you are '{name}'"), WAIT);
        watcher.until(&format!("{name} joined"), WAIT, |v| is(v, "joined", &name));
        let pid = common::poll(WAIT, || descendant(shell, "udpmsg"))
            .unwrap_or_else(|| panic!("no chat under the shell {shell}"));
        let out = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .output()
            .expect("kill");
        assert!(out.status.success(), "kill -{signal}: {out:?}");
        // It says goodbye, and what it did, as on /quit.
        watcher.until(&format!("{name}'s goodbye after SIG{signal}"), WAIT, |v| {
            is(v, "left", &name) && v["reason"] == "goodbye"
        });
        common::poll(WAIT, || {
            (term.screen("pane").matches("udpmsg: left the room").count() > round).then_some(())
        })
        .unwrap_or_else(|| panic!("no summary after SIG{signal}:\n{}", term.screen("pane")));
        // The shell's terminal echoes and edits lines again: a typed
        // command runs (Enter is a line end), and stty says so.
        let done = format!("done{}", 1000 + round);
        term.keys(
            "pane",
            &format!("stty -a; echo done$((1000 + {round}))"),
            true,
        );
        let screen = term.until("pane", &format!("\n{done}"), WAIT);
        let stty = screen
            .rsplit(&format!("echo done$((1000 + {round}))"))
            .next()
            .expect("the command line");
        let words: Vec<&str> = stty.split_whitespace().collect();
        for mode in ["icanon", "echo", "icrnl", "isig"] {
            assert!(
                words.contains(&mode) && !words.contains(&format!("-{mode}").as_str()),
                "{mode} not back after SIG{signal}:\n{stty}"
            );
        }
    }
    // Ctrl-Z: the shell gets its modes back while the chat is stopped
    // (this shell, sh, does not put them back itself), and the chat reads
    // keys again once continued.
    term.keys(
        "pane",
        &format!(
            "ip netns exec {} {BIN} chat --name stopped --announce-every {EVERY}",
            lan.ns(1)
        ),
        true,
    );
    term.until("pane", "* you are 'stopped'", WAIT);
    term.burst("pane", &["C-z"]);
    // Keys typed before the shell has the terminal back would go to the
    // chat as it stops.
    term.until("pane", "Stopped", WAIT);
    term.keys("pane", "stty -a; echo done2000", true);
    let screen = term.until("pane", "\ndone2000", WAIT);
    let stty = screen
        .rsplit("echo done2000")
        .next()
        .expect("the command line");
    let words: Vec<&str> = stty.split_whitespace().collect();
    for mode in ["icanon", "echo", "icrnl", "isig"] {
        assert!(
            words.contains(&mode) && !words.contains(&format!("-{mode}").as_str()),
            "{mode} not back while the chat is stopped:\n{stty}"
        );
    }
    term.keys("pane", "fg", true);
    watcher.until("stopped joined", WAIT, |v| is(v, "joined", "stopped"));
    term.keys("pane", "after fg", true);
    watcher.until("its message after fg", WAIT, |v| v["text"] == "after fg");
    term.keys("pane", "/quit", true);
    watcher.until("its goodbye", WAIT, |v| {
        is(v, "left", "stopped") && v["reason"] == "goodbye"
    });
}

#[test]
fn typed_ahead_and_pasted_lines_are_each_sent_in_order() {
    let Some(lan) = Lan::up("ch7_", 2, &[]) else {
        return;
    };
    let term = Term::new("ch7_");
    term.start(&lan, 1, "alice", &[]);
    term.start(&lan, 2, "bob", &[]);
    term.until("alice", "* bob joined", WAIT);
    term.until("bob", "* alice joined", WAIT);
    let sent_by = |who: &str, lines: &[&str]| -> Vec<String> {
        lines.iter().map(|l| format!("] {who}: {l}")).collect()
    };
    let in_order = |name: &str, expected: &[String]| {
        term.until(name, expected.last().expect("a line"), WAIT);
        let at = once_each(&term.screen(name), expected, name);
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "{name}: out of order:\n{}",
            term.screen(name)
        );
    };
    // Three lines typed ahead, faster than the editor takes a line.
    term.burst(
        "bob",
        &["line1", "Enter", "line2", "Enter", "line3", "Enter"],
    );
    let typed = ["line1", "line2", "line3"];
    in_order("alice", &sent_by("bob", &typed));
    in_order("bob", &sent_by("bob", &typed));
    for l in typed {
        term.until("bob", &format!("] ✓ {l}"), WAIT);
    }
    // Lines pasted as keys (each line end an Enter): many, so that the
    // chat prints (its own lines, confirmations) while the editor takes
    // the next Enter (the two once waited for each other forever).
    let pasted: Vec<String> = (1..=30).map(|i| format!("p{i}")).collect();
    let block: String = pasted.iter().map(|l| format!("{l}\n")).collect();
    term.paste("alice", &block, false);
    let pasted: Vec<&str> = pasted.iter().map(String::as_str).collect();
    in_order("bob", &sent_by("alice", &pasted));
    // A bracketed paste of three lines, then Enter: three messages, and
    // nothing of the pasted block left on alice's screen.
    term.paste("alice", "b1\nb2\nb3", true);
    term.keys("alice", "", true);
    let block = ["b1", "b2", "b3"];
    in_order("bob", &sent_by("alice", &block));
    in_order("alice", &sent_by("alice", &block));
    for l in block {
        term.until("alice", &format!("] ✓ {l}"), WAIT);
    }
    let screen = term.screen("alice");
    for l in block {
        assert!(
            screen
                .lines()
                .filter(|line| line.contains(l))
                .all(|line| line.ends_with(&format!("] alice: {l}"))
                    || line.ends_with(&format!("] ✓ {l}"))),
            "a stale row of the pasted block:\n{screen}"
        );
    }
    // An action is confirmed as it was shown.
    term.keys("alice", "/me waves", true);
    term.until("bob", "] * alice waves", WAIT);
    term.until("alice", "] ✓ * alice waves", WAIT);
}

#[test]
fn the_readme_bot_hears_the_room_before_its_first_line() {
    let Some(lan) = Lan::up("ch8_", 3, &[]) else {
        return;
    };
    let mut bot1 = Piped::start(&lan, 1, "bot1", &[]);
    // bot1 is there before bot2 starts.
    answering(&lan, 2, 1);
    // README: printf 'hello\n/quit\n' | udpmsg chat --json
    let out = lan
        .cmd(2, "sh")
        .arg("-c")
        .arg(format!("printf 'hello\\n/quit\\n' | {BIN} chat --json"))
        .output()
        .expect("the README's bot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let delivered = lines
        .iter()
        .find(|v| v["text"] == "hello")
        .unwrap_or_else(|| panic!("no line for its message: {stdout}"));
    assert_eq!(delivered["kind"], "delivered", "{stdout}");
    assert_eq!(
        delivered["members"],
        serde_json::json!(["bot1"]),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let m = bot1.until("the bot's message", WAIT, |v| v["kind"] == "message");
    assert_eq!(m["text"], "hello", "{m}");
    // In a room nobody else is in, its message goes to nobody: not
    // delivered, and the bot says so with exit 4.
    let out = lan
        .cmd(3, "sh")
        .arg("-c")
        .arg(format!(
            "printf 'anyone?\\n' | {BIN} chat --json --room empty"
        ))
        .output()
        .expect("a bot alone");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no line: {out:?}"));
    assert_eq!(v["kind"], "not_delivered", "{v}");
    assert_eq!(v["reason"], "nobody", "{v}");
    assert_eq!(v["members"], serde_json::json!([]), "{v}");
    assert_eq!(v["unconfirmed"], serde_json::json!([]), "{v}");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}

#[test]
fn members_share_a_host() {
    let Some(lan) = Lan::up("ch9_", 3, &[]) else {
        return;
    };
    // a1 and a2 on host 1, b on host 2. Their hellos after the start
    // burst are 20 minutes apart: what they know of each other comes from
    // that burst (and its welcomes), and discover finds them by probes.
    let every = "20m";
    let mut a1 = Piped::every(&lan, 1, "a1", every, &[]);
    // a1 has the room's port before a2 starts.
    answering(&lan, 2, 1);
    let mut a2 = Piped::every(&lan, 1, "a2", every, &[]);
    let mut b = Piped::every(&lan, 2, "b", every, &[]);
    for (who, others) in [
        (&mut a1, ["a2", "b"]),
        (&mut a2, ["a1", "b"]),
        (&mut b, ["a1", "a2"]),
    ] {
        for other in others {
            who.until(&format!("{other} joined"), WAIT, |v| is(v, "joined", other));
        }
    }
    // a2 has a port of its own, which the others send to.
    let ip1 = lan.host(1).v4().expect("ipv4").to_string();
    let joined = b.until("a2 joined", WAIT, |v| is(v, "joined", "a2"));
    let a2_at = joined["from"].as_str().expect("from").to_string();
    assert!(
        a2_at.starts_with(&format!("{ip1}:")) && !a2_at.ends_with(":47474"),
        "{joined}"
    );
    // Messages flow all ways: each member's reaches the other two.
    for (i, name) in ["a1", "a2", "b"].into_iter().enumerate() {
        let text = format!("from {name}");
        [&mut a1, &mut a2, &mut b][i].say(&text);
        for (j, other) in [&mut a1, &mut a2, &mut b].into_iter().enumerate() {
            if i == j {
                let d = other.until("delivered", WAIT, |v| v["text"] == text.as_str());
                assert_eq!(d["kind"], "delivered", "{d}");
                assert_eq!(d["members"].as_array().map(Vec::len), Some(2), "{d}");
            } else {
                let m = other.until(&text, WAIT, |v| {
                    v["kind"] == "message" && v["text"] == text.as_str()
                });
                assert_eq!(m["name"], name, "{m}");
            }
        }
    }
    // discover finds both members of host 1, each at its port; and
    // `send @a2` reaches a2.
    let out = lan
        .cmd(3, BIN)
        .args(["discover", "--json", "--expect", "3", "--timeout", "5s"])
        .output()
        .expect("discover");
    let found = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for (name, at) in [("a1", format!("{ip1}:47474")), ("a2", a2_at.clone())] {
        assert!(
            found.lines().any(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                v["name"] == name
                    && v["addrs"]
                        .as_array()
                        .is_some_and(|a| a.contains(&at.as_str().into()))
            }),
            "{name} at {at}:\n{found}"
        );
    }
    // A watcher started now (no hello for 20 minutes) finds both by its
    // probes too.
    let out = lan
        .cmd(3, BIN)
        .args(["discover", "--watch", "--json", "--timeout", "3s"])
        .output()
        .expect("discover --watch");
    let watched = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for (name, at) in [("a1", format!("{ip1}:47474")), ("a2", a2_at.clone())] {
        assert!(
            watched.lines().any(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                v["kind"] == "up"
                    && v["name"] == name
                    && v["addrs"]
                        .as_array()
                        .is_some_and(|a| a.contains(&at.as_str().into()))
            }),
            "{name} up at {at}:\n{watched}"
        );
    }
    let out = lan
        .cmd(3, BIN)
        .args(["send", "--ack", "@a2", "by name"])
        .output()
        .expect("send @a2");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    a2.until("the message by name", WAIT, |v| v["text"] == "by name");
    assert!(
        !a1.seen.iter().any(|v| v["text"] == "by name"),
        "{:#?}",
        a1.seen
    );
}
