//! `listen --group` joins its groups on interfaces that come up after it
//! started (the IPv6 discovery group too), and again on one that went
//! away and came back: the real
//! binary in a namespace of the test's own, whose link to the sender
//! (a veth pair to a second namespace) is made only once the listener runs.

mod common;

use common::docs::{assert_says, doc};
use common::veth::Veth;
use common::{BIN, Listener, WAIT, command, isolate, poll, run_ok, wait_for};
use serde_json::Value;
use std::time::Duration;

/// The port the listener uses.
const PORT: &str = "5000";

/// A link of this namespace that has nothing at its other end: the
/// listener has an interface to join its groups on at start (the test
/// after starts one with none), and no group datagram ever arrives on it.
fn lonely_link() {
    run_ok(
        "sh",
        &[
            "-c",
            "ip link add udpg0 type veth peer name udpg1 && \
             ip addr add 10.78.0.1/24 dev udpg0 && \
             ip link set udpg1 up && ip link set udpg0 up",
        ],
    );
}

/// `listen -p PORT --timeout 120s` with `args`, once it reports its address
/// (no warning before).
fn listen(args: &[&str]) -> Listener {
    let mut all = vec!["listen", "-p", PORT, "--timeout", "120s"];
    all.extend_from_slice(args);
    Listener::spawn_cmd(command(&all), None, false, "listen --group")
}

/// Waits until the listener says (with `-v`, on stderr) a line holding
/// `needle`; the lines before it are passed over.
fn wait_for_notice(listener: &Listener, needle: &str) {
    wait_for(WAIT, &format!("the listener saying '{needle}'"), || {
        listener
            .try_err_line(Duration::from_millis(50))
            .filter(|line| line.contains(needle))
    });
}

/// Waits until interface `dev` is a member of every one of `groups`, as
/// the kernel lists them (`ip maddr`).
fn wait_for_members(dev: &str, groups: &[&str]) {
    wait_for(WAIT, &format!("{dev} a member of {groups:?}"), || {
        let out = std::process::Command::new("ip")
            .args(["maddr", "show", "dev", dev])
            .output()
            .expect("ip maddr");
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        groups.iter().all(|g| listed.contains(g)).then_some(())
    });
}

/// The groups the listener joins: its two `--group`s and the discovery group.
const GROUPS: [&str; 3] = ["239.1.2.3", "ff15::1234", "ff02::7564:706d"];

/// Sends to `group` from the other end of `veth` (numbered texts) until
/// the listener shows one: the group is joined on this end and datagrams
/// get through. Then sends `text` once and a unicast marker after it, and
/// returns how many times `text` was shown before the marker.
fn times_shown(listener: &Listener, veth: &Veth, group: &str, text: &str) -> usize {
    let out = format!("{}b", veth.dev);
    let send = |to: &str, what: &str| {
        // A send may fail while the far end's IPv6 address is tentative:
        // the next try goes.
        let _ = veth
            .command(&[BIN, "send", "--interface", &out, to, what])
            .output()
            .expect("run udpmsg send");
    };
    let mut tries = 0;
    let through = poll(WAIT * 3, || {
        tries += 1;
        send(group, &format!("try {tries}"));
        listener.try_line(Duration::from_millis(200))
    });
    assert!(
        through.is_some(),
        "nothing sent to {group} reached the listener in {tries} tries"
    );
    send(group, text);
    send(&format!("10.77.0.1:{PORT}"), "marker");
    let mut shown = 0;
    loop {
        let line: Value = serde_json::from_str(&listener.line()).expect("a JSON line");
        match line["text"].as_str() {
            Some("marker") => return shown,
            Some(t) if t == text => shown += 1,
            // A late try.
            Some(t) if t.starts_with("try ") => {}
            _ => panic!("unexpected line: {line}"),
        }
    }
}

#[test]
fn a_group_is_joined_on_an_interface_that_comes_up_later_and_again_when_it_comes_back() {
    if !isolate("a_group_is_joined_on_an_interface_that_comes_up_later") {
        return;
    }
    lonely_link();
    let mut listener = listen(&[
        "--group",
        "239.1.2.3",
        "--group",
        "ff15::1234",
        "--json",
        "-v",
    ]);
    // The link to the sender comes now, after the listener joined.
    let veth = Veth::new();
    wait_for_notice(
        &listener,
        &format!("joined group 239.1.2.3 on {}", veth.dev),
    );
    wait_for_members(&veth.dev, &GROUPS);
    assert_eq!(
        times_shown(&listener, &veth, "239.1.2.3:5000", "v4 once"),
        1
    );
    assert_eq!(
        times_shown(&listener, &veth, "[ff15::1234]:5000", "v6 once"),
        1
    );

    // It goes away (the membership is let go) and comes back, a new
    // interface: joined again.
    let gone = veth.dev.clone();
    drop(veth);
    wait_for_notice(&listener, &format!("left group 239.1.2.3 on {gone}"));
    let veth = Veth::new();
    wait_for_notice(
        &listener,
        &format!("joined group 239.1.2.3 on {}", veth.dev),
    );
    wait_for_members(&veth.dev, &GROUPS);
    assert_eq!(times_shown(&listener, &veth, "239.1.2.3:5000", "back"), 1);
    listener.assert_alive();
}

#[test]
fn a_listener_started_before_the_network_joins_its_group_when_a_link_comes() {
    if !isolate("a_listener_started_before_the_network_joins_its_group") {
        return;
    }
    // Only loopback: a warning, not an error, and the listener runs.
    let mut cmd = command(&[
        "listen",
        "-p",
        PORT,
        "--timeout",
        "120s",
        "--group",
        "239.1.2.3",
        "--json",
        "-v",
    ]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn listen");
    let err = common::line_reader(child.stderr.take().expect("stderr"), None);
    let out = common::line_reader(child.stdout.take().expect("stdout"), None);
    let warning = err.recv_timeout(WAIT).expect("a first stderr line");
    assert_eq!(
        warning,
        "udpmsg: warning: no interface but loopback is up with an IPv4 address: 239.1.2.3 is joined on each as it comes up"
    );
    let bound = err.recv_timeout(WAIT).expect("the listening line");
    assert!(
        bound.contains(", in group 239.1.2.3 (no interface yet)"),
        "{bound}"
    );
    let mut listener = Listener {
        child,
        addr: ([127, 0, 0, 1], 5000).into(),
        out,
        err,
    };
    let veth = Veth::new();
    wait_for_notice(
        &listener,
        &format!("joined group 239.1.2.3 on {}", veth.dev),
    );
    assert_eq!(
        times_shown(&listener, &veth, "239.1.2.3:5000", "at last"),
        1
    );
    listener.assert_alive();
}

#[test]
fn a_group_that_cannot_be_joined_on_a_new_interface_is_a_warning() {
    if !isolate("a_group_that_cannot_be_joined_on_a_new_interface_is_a_warning") {
        return;
    }
    // This namespace's sockets may join one IPv4 group each: the one on
    // the lonely link at start.
    run_ok("sysctl", &["-qw", "net.ipv4.igmp_max_memberships=1"]);
    lonely_link();
    let listener = listen(&["--group", "239.1.2.3"]);
    // A link comes, where the join is refused: said without -v.
    let veth = Veth::new();
    wait_for_notice(
        &listener,
        &format!(
            "udpmsg: warning: cannot join group 239.1.2.3 on {}: ",
            veth.dev
        ),
    );
}

#[test]
fn decisions_quote_the_kernels_membership_limit() {
    if !isolate("decisions_quote_the_kernels_membership_limit") {
        return;
    }
    // A new namespace has the kernel's default.
    let limit = std::fs::read_to_string("/proc/sys/net/ipv4/igmp_max_memberships")
        .expect("read igmp_max_memberships");
    assert_says(
        &doc("docs/DECISIONS.md"),
        "docs/DECISIONS.md",
        &format!(
            "IPv4 allows it {} by default (`igmp_max_memberships`)",
            limit.trim()
        ),
    );
}
