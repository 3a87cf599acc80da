//! Reach (issue #14) across a namespace LAN (`tests/common/lan.rs`):
//! multicast groups (members receive, a host that did not join does not;
//! the TTL on the wire is `--ttl`'s, counted by nftables; a copy heard on
//! two interfaces is shown once; this host's copy only with `--loop`; an
//! echo server answers a group question), `--interface` on a host with two
//! interfaces, listeners found by `@name` (with and without a key, one,
//! none, two), and `discover -4`/`-6`.
//!
//! Every test has its own LAN tag (`rl1_`, `rl2_`, ...; none a prefix
//! of another), deleted by `Lan`'s Drop even on failure. "Did not arrive"
//! is shown without waiting: a unicast marker sent after the datagram
//! that must not arrive, over the same link, must be the first line.

mod common;
#[path = "common/lan.rs"]
mod lan;

use common::{BIN, Listener, Output, WAIT, nft_load, run_captured};
use lan::Lan;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use udpmsg::net::GROUP_TTL;

/// The port every listener here uses.
const PORT: &str = "5000";

// ---------------------------------------------------------------- helpers

/// `udpmsg args...` in host `k`, with the udpmsg variables cleared.
fn udpmsg_cmd(lan: &Lan, k: usize, args: &[&str]) -> Command {
    let mut cmd = lan.cmd(k, BIN);
    cmd.args(args)
        .env_remove("UDPMSG_PORT")
        .env_remove("UDPMSG_NAME")
        .env_remove("UDPMSG_KEY_FILE");
    cmd
}

/// Runs `udpmsg args...` in host `k` to completion.
fn run(lan: &Lan, k: usize, args: &[&str], stdin: &[u8]) -> Output {
    run_captured(
        udpmsg_cmd(lan, k, args),
        stdin,
        WAIT * 3,
        &format!("udpmsg {args:?} in host {k}"),
    )
}

/// Runs `udpmsg args...` in host `k` and asserts exit 0.
fn ok(lan: &Lan, k: usize, args: &[&str]) -> Output {
    let out = run(lan, k, args, b"");
    assert_eq!(out.code, 0, "{args:?} in host {k}: {}", out.stderr);
    out
}

/// `udpmsg listen -p 5000 <args>` in host `k` (a minute at most), once it
/// says it listens.
fn listen(lan: &Lan, k: usize, args: &[&str]) -> Listener {
    let mut all = vec!["listen", "-p", PORT, "--timeout", "60s"];
    all.extend_from_slice(args);
    Listener::spawn_cmd(
        udpmsg_cmd(lan, k, &all),
        None,
        false,
        &format!("listen {args:?} in host {k}"),
    )
}

/// The `text` of a `--json` line.
fn text_of(line: &Value) -> &str {
    line["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {line}"))
}

/// A key file (from `udpmsg keygen`) in a directory removed on drop.
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(test: &str) -> KeyFile {
        let dir =
            std::env::temp_dir().join(format!("udpmsg-reach-lan-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("key");
        let out = run_captured(
            {
                let mut c = Command::new(BIN);
                c.args(["keygen", "-q", "--force"]).arg(&path);
                c
            },
            b"",
            WAIT,
            "keygen",
        );
        assert_eq!(out.code, 0, "keygen: {}", out.stderr);
        KeyFile(dir)
    }

    fn path(&self) -> String {
        self.0.join("key").display().to_string()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- groups

#[test]
fn group_members_receive_and_a_host_that_did_not_join_does_not() {
    let Some(lan) = Lan::up("rl1_", 4, &[]) else {
        return;
    };
    let key = KeyFile::new("members");
    let key_path = key.path();
    let h3 = lan.host(3).v4().expect("h3 v4").to_string();
    for keyed in [false, true] {
        let k: Vec<&str> = if keyed {
            vec!["-k", key_path.as_str()]
        } else {
            vec![]
        };
        let mut member = vec!["--group", "239.1.2.3", "--group", "ff15::1234"];
        member.extend(&k);
        let mut json_member = member.clone();
        json_member.push("--json");
        let h1 = listen(&lan, 1, &json_member);
        let h2 = listen(&lan, 2, &member);
        let mut other = vec!["--json"];
        other.extend(&k);
        let h3l = listen(&lan, 3, &other);

        for (group, text) in [
            ("239.1.2.3:5000", "to the v4 group"),
            ("[ff15::1234]:5000", "to the v6 group"),
        ] {
            let mut send = vec!["send", "--interface", "eth0", group, text];
            send.extend(&k);
            ok(&lan, 4, &send);
            assert_eq!(text_of(&h1.json()), text, "keyed {keyed}");
            let line = h2.line();
            assert!(line.ends_with(&format!(": {text}")), "{line}");
        }
        // Host 3 never joined: the first thing it shows is the marker sent
        // after both group messages.
        let mut marker = vec!["send", &h3, "-p", PORT, "marker"];
        marker.extend(&k);
        ok(&lan, 4, &marker);
        assert_eq!(text_of(&h3l.json()), "marker", "keyed {keyed}");
    }
}

/// The packets counter of the nftables rule of host `k` whose text
/// contains `rule`.
fn nft_count(lan: &Lan, k: usize, rule: &str) -> u64 {
    let out = lan
        .cmd(k, "nft")
        .args(["list", "chain", "inet", "reach", "pre"])
        .output()
        .expect("nft list");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(rule))
        .unwrap_or_else(|| panic!("no rule {rule:?} in:\n{text}"));
    line.split("packets ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {line:?}"))
}

#[test]
fn the_ttl_on_the_wire_is_the_ttl_asked() {
    let Some(lan) = Lan::up("rl2_", 2, &[]) else {
        return;
    };
    let rules = "table inet reach {
        chain pre {
            type filter hook prerouting priority 0;
            ip daddr 239.1.2.3 ip ttl 1 counter
            ip daddr 239.1.2.3 ip ttl 7 counter
            ip daddr 239.1.2.3 ip ttl != { 1, 7 } counter
            ip6 daddr ff15::1234 ip6 hoplimit 1 counter
            ip6 daddr ff15::1234 ip6 hoplimit 9 counter
            ip daddr 10.77.0.2 udp dport 5000 ip ttl 33 counter
        }
    }";
    nft_load(lan.cmd(2, "nft"), rules);
    let h2 = listen(
        &lan,
        2,
        &["--group", "239.1.2.3", "--group", "ff15::1234", "--json"],
    );

    ok(
        &lan,
        1,
        &["send", "--interface", "eth0", "239.1.2.3:5000", "default"],
    );
    assert_eq!(text_of(&h2.json()), "default");
    assert_eq!(nft_count(&lan, 2, "ip ttl 1 counter"), 1);
    assert_eq!(GROUP_TTL, 1, "the README says the default is 1");

    ok(
        &lan,
        1,
        &[
            "send",
            "--ttl",
            "7",
            "--interface",
            "eth0",
            "239.1.2.3:5000",
            "seven",
        ],
    );
    assert_eq!(text_of(&h2.json()), "seven");
    assert_eq!(nft_count(&lan, 2, "ip ttl 7 counter"), 1);
    assert_eq!(nft_count(&lan, 2, "ip ttl != { 1, 7 }"), 0);

    ok(&lan, 1, &["send", "[ff15::1234]:5000", "hop one"]);
    assert_eq!(text_of(&h2.json()), "hop one");
    assert_eq!(nft_count(&lan, 2, "hoplimit 1 counter"), 1);
    ok(
        &lan,
        1,
        &["send", "--ttl", "9", "[ff15::1234]:5000", "hop nine"],
    );
    assert_eq!(text_of(&h2.json()), "hop nine");
    assert_eq!(nft_count(&lan, 2, "hoplimit 9 counter"), 1);

    // To a unicast host --ttl sets the ordinary TTL.
    ok(
        &lan,
        1,
        &["send", "--ttl", "33", "10.77.0.2:5000", "unicast"],
    );
    assert_eq!(text_of(&h2.json()), "unicast");
    assert_eq!(nft_count(&lan, 2, "ip ttl 33 counter"), 1);
}

/// The multicast groups interface `dev` of host `k` is a member of.
fn memberships(lan: &Lan, k: usize, dev: &str) -> String {
    let out = lan
        .cmd(k, "ip")
        .args(["maddr", "show", "dev", dev])
        .output()
        .expect("ip maddr");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_listener_shows_only_the_groups_it_joined() {
    let Some(lan) = Lan::up("rl11_", 2, &[]) else {
        return;
    };
    // Both share the port (and so warn that they do).
    let shared = |args: &[&str]| {
        let mut all = vec!["listen", "-p", PORT, "--share-port", "--json", "-t", "60s"];
        all.extend_from_slice(args);
        Listener::spawn_cmd(udpmsg_cmd(&lan, 2, &all), None, true, "listen --share-port")
    };
    let member = shared(&["--group", "239.1.2.3"]);
    // Started last, so unicast datagrams to the shared port reach it.
    let other = shared(&[]);
    ok(
        &lan,
        1,
        &["send", "--interface", "eth0", "239.1.2.3:5000", "group"],
    );
    assert_eq!(text_of(&member.json()), "group");
    let h2 = lan.host(2).v4().expect("v4").to_string();
    ok(&lan, 1, &["send", &h2, "-p", PORT, "marker"]);
    // The other listener shares the port, not the membership.
    assert_eq!(text_of(&other.json()), "marker");
}

#[test]
fn a_group_datagram_heard_on_two_interfaces_is_shown_once() {
    let Some(lan) = Lan::up("rl3_", 2, &["--two-if", "2"]) else {
        return;
    };
    let h2 = listen(&lan, 2, &["--group", "239.1.2.3", "--json"]);
    for dev in ["eth0", "eth1"] {
        assert!(memberships(&lan, 2, dev).contains("239.1.2.3"), "{dev}");
    }
    let h2_eth0 = lan.host(2).v4().expect("v4").to_string();
    let group = "239.1.2.3:5000";
    ok(&lan, 1, &["send", "--interface", "eth0", group, "a text"]);
    ok(
        &lan,
        1,
        &["send", "--raw", "--interface", "eth0", group, "raw bytes"],
    );
    // The same bytes sent twice are two datagrams, shown twice.
    for _ in 0..2 {
        ok(
            &lan,
            1,
            &["send", "--raw", "--interface", "eth0", group, "again"],
        );
    }
    ok(&lan, 1, &["send", &h2_eth0, "-p", PORT, "marker"]);
    let texts: Vec<String> = (0..5).map(|_| text_of(&h2.json()).to_string()).collect();
    assert_eq!(texts, ["a text", "raw bytes", "again", "again", "marker"]);
}

#[test]
fn this_hosts_copy_of_a_group_message_only_with_loop() {
    let Some(lan) = Lan::up("rl4_", 2, &[]) else {
        return;
    };
    let h1 = listen(&lan, 1, &["--group", "239.1.2.3", "--json"]);
    let h2 = listen(&lan, 2, &["--group", "239.1.2.3", "--json"]);
    let group = "239.1.2.3:5000";
    ok(
        &lan,
        1,
        &["send", "--interface", "eth0", group, "without loop"],
    );
    ok(
        &lan,
        1,
        &["send", "--interface", "eth0", "--loop", group, "with loop"],
    );
    assert_eq!(text_of(&h2.json()), "without loop");
    assert_eq!(text_of(&h2.json()), "with loop");
    assert_eq!(text_of(&h1.json()), "with loop");
    // --loop is for groups only; --ack and ping need one listener.
    let h2_addr = lan.host(2).v4().expect("v4").to_string();
    for (args, what) in [
        (vec!["send", "--loop", &h2_addr, "x"], "--loop"),
        (vec!["send", "--ack", group, "x"], "--ack"),
        (vec!["ping", group], "ping"),
    ] {
        let out = run(&lan, 1, &args, b"");
        let line = out.one_line_error(2, what);
        assert!(line.contains("group"), "{line}");
    }
}

#[test]
fn an_echo_server_answers_a_question_to_its_group() {
    let Some(lan) = Lan::up("rl5_", 2, &[]) else {
        return;
    };
    let _echo = listen(&lan, 1, &["--group", "239.1.2.3", "--echo"]);
    let out = ok(
        &lan,
        2,
        &[
            "send",
            "--raw",
            "--interface",
            "eth0",
            "239.1.2.3:5000",
            "marco",
            "--wait",
            "10s",
            "--count",
            "1",
            "--json",
        ],
    );
    let line: Value = serde_json::from_str(out.stdout.trim_end()).expect("JSON");
    assert_eq!(line["text"], "marco");
    assert_eq!(line["from"], "10.77.0.1:5000");
}

#[test]
fn group_errors_are_clear() {
    let Some(lan) = Lan::up("rl6_", 1, &[]) else {
        return;
    };
    for (args, code, what) in [
        (
            vec!["listen", "--group", "10.1.2.3"],
            2,
            "not a multicast address",
        ),
        (
            vec!["listen", "--group", "239.1.2.3:5000"],
            2,
            "without a port",
        ),
        (
            vec!["listen", "-6", "--group", "239.1.2.3"],
            2,
            "not an IPv6 address",
        ),
        (
            vec!["listen", "--bind", "127.0.0.1", "--group", "239.1.2.3"],
            2,
            "every address",
        ),
        (
            vec!["listen", "--group", "ff15::1%eth0", "--interface", "lo"],
            2,
            "--interface",
        ),
        (vec!["send", "239.1.2.3:5000", "x"], 1, "--interface"),
    ] {
        let out = run(&lan, 1, &args, b"");
        let line = out.one_line_error(code, what);
        assert!(line.contains(what), "{args:?}: {line}");
    }
}

// ---------------------------------------------------------------- --interface

#[test]
fn interface_binds_a_listener_and_chooses_the_way_out() {
    let Some(lan) = Lan::up("rl7_", 2, &["--two-if", "2"]) else {
        return;
    };
    let two = lan.host(2);
    let eth0 = two.iface("eth0").expect("eth0").v4[0].to_string();
    let eth1 = two.iface("eth1").expect("eth1").v4[0].to_string();
    let h2 = listen(
        &lan,
        2,
        &["--interface", "eth1", "--group", "239.1.2.4", "--json"],
    );
    assert!(memberships(&lan, 2, "eth1").contains("239.1.2.4"));
    assert!(!memberships(&lan, 2, "eth0").contains("239.1.2.4"));
    ok(&lan, 1, &["ping", &eth1, "-p", PORT, "-c", "1"]);
    // The listener takes nothing that arrives on eth0: nothing listens there.
    let out = run(&lan, 1, &["ping", &eth0, "-p", PORT, "-c", "1"], b"");
    assert_eq!(out.code, 5, "{}", out.stderr);
    ok(&lan, 1, &["send", &eth1, "-p", PORT, "to eth1"]);
    assert_eq!(text_of(&h2.json()), "to eth1");

    // Out through eth1: the datagram comes from eth1's address.
    let h1 = listen(&lan, 1, &["--json"]);
    let h1_addr = lan.host(1).v4().expect("v4").to_string();
    ok(
        &lan,
        2,
        &[
            "send",
            "--interface",
            "eth1",
            &h1_addr,
            "-p",
            PORT,
            "via eth1",
        ],
    );
    let line = h1.json();
    assert_eq!(text_of(&line), "via eth1");
    assert!(
        line["from"]
            .as_str()
            .is_some_and(|f| f.starts_with(&format!("{eth1}:"))),
        "{line}"
    );
    ok(
        &lan,
        2,
        &[
            "ping",
            "--interface",
            "eth1",
            &h1_addr,
            "-p",
            PORT,
            "-c",
            "1",
        ],
    );
}

// ---------------------------------------------------------------- @name

#[test]
fn a_listener_is_found_by_its_name() {
    let Some(lan) = Lan::up("rl8_", 4, &[]) else {
        return;
    };
    let alice = listen(&lan, 1, &["--name", "alice", "--json"]);
    let _bob = listen(&lan, 2, &["--name", "bob", "--json"]);
    ok(&lan, 3, &["send", "-p", PORT, "@alice", "hi alice"]);
    assert_eq!(text_of(&alice.json()), "hi alice");
    let out = run(
        &lan,
        3,
        &["send", "-p", PORT, "--ack", "@alice", "-"],
        b"one\ntwo\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(text_of(&alice.json()), "one");
    assert_eq!(text_of(&alice.json()), "two");
    let out = ok(
        &lan,
        3,
        &["ping", "-p", PORT, "@alice", "-c", "1", "--json"],
    );
    assert!(out.stdout.contains("10.77.0.1:5000"), "{}", out.stdout);
    // -6: found over IPv6 (the scan probes only the IPv6 group).
    ok(&lan, 3, &["send", "-6", "-p", PORT, "@alice", "over v6"]);
    let line = alice.json();
    assert_eq!(text_of(&line), "over v6");
    assert!(
        line["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("[fe80:")),
        "{line}"
    );

    // Nobody by that name: exit 3, naming those who answered.
    let out = run(&lan, 3, &["send", "-p", PORT, "@dave", "x"], b"");
    let line = out.one_line_error(3, "@dave");
    assert!(line.contains("no listener named 'dave'"), "{line}");
    assert!(line.contains("'alice', 'bob'"), "{line}");

    // Two listeners with one name: exit 2, both listed with their addresses.
    let _alice2 = listen(&lan, 4, &["--name", "alice"]);
    let out = run(&lan, 3, &["send", "-p", PORT, "@alice", "x"], b"");
    let line = out.one_line_error(2, "two alices");
    assert!(line.contains("2 listeners are named 'alice'"), "{line}");
    assert!(
        line.contains("10.77.0.1:5000") && line.contains("10.77.0.4:5000"),
        "{line}"
    );
}

#[test]
fn with_a_key_only_keyed_listeners_answer_to_a_name() {
    let Some(lan) = Lan::up("rl9_", 3, &[]) else {
        return;
    };
    let key = KeyFile::new("names");
    let key = key.path();
    let _open = listen(&lan, 1, &["--name", "alice"]);
    let sealed = listen(&lan, 2, &["--name", "alice", "-k", &key, "--json"]);
    ok(
        &lan,
        3,
        &["send", "-k", &key, "-p", PORT, "@alice", "sealed"],
    );
    assert_eq!(text_of(&sealed.json()), "sealed");
    let out = ok(
        &lan,
        3,
        &["ping", "-k", &key, "-p", PORT, "@alice", "-c", "1"],
    );
    assert!(out.stdout.contains("10.77.0.2:5000"), "{}", out.stdout);
}

// ---------------------------------------------------------------- discover

#[test]
fn discover_with_a_family_flag_lists_only_that_familys_addresses() {
    let Some(lan) = Lan::up("rl10_", 2, &[]) else {
        return;
    };
    let _h1 = listen(&lan, 1, &["--name", "one"]);
    for (flag, v6) in [("-4", false), ("-6", true)] {
        let out = ok(
            &lan,
            2,
            &["discover", flag, "-p", PORT, "--json", "--expect", "1"],
        );
        let line: Value = serde_json::from_str(out.stdout.trim_end()).expect("one JSON line");
        let addrs = line["addrs"].as_array().expect("addrs");
        assert!(!addrs.is_empty(), "{line}");
        for addr in addrs {
            let addr = addr.as_str().expect("addr");
            assert_eq!(addr.starts_with('['), v6, "{flag}: {line}");
        }
    }
}
