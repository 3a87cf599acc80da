//! The core command line, run as the real binary on real sockets: every host
//! form `send` accepts, stdin streaming, text and JSON output, raw datagrams
//! both ways, the listener's stop conditions, and every error path. Each test
//! runs in a private network namespace (`common::isolate`), so nothing here
//! can reach a real interface.

mod common;

use common::{
    Listener, Output, WAIT, command, isolate, poll, run_captured, run_ok, udp, udpmsg, wait_for,
    wait_until,
};
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};
use udpmsg::wire;

/// The sender name most tests use, so output can be checked exactly.
const NAME: &str = "tester";

/// How long to watch for output that must not come.
const QUIET: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- helpers

/// Asserts a run succeeded silently.
fn assert_ok(run: &Output, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what}: exit {} stderr: {}",
        run.code, run.stderr
    );
    assert!(
        run.stderr.is_empty(),
        "{what}: unexpected stderr: {}",
        run.stderr
    );
}

/// `udpmsg send args...` with no stdin, asserting it succeeded.
fn send_ok(args: &[&str]) {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    assert_ok(&udpmsg(&all, b""), &format!("udpmsg {all:?}"));
}

/// Receives one datagram on a plain socket (deadline-bounded).
fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 70_000];
    let (len, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no datagram within {WAIT:?}: {e}"));
    buf.truncate(len);
    (buf, from)
}

/// Asserts nothing more arrives on `socket` for a short while.
fn assert_no_more(socket: &UdpSocket) {
    socket.set_read_timeout(Some(QUIET)).expect("set timeout");
    let mut buf = [0u8; 2048];
    if let Ok((len, _)) = socket.recv_from(&mut buf) {
        panic!(
            "unexpected extra datagram: {:?}",
            String::from_utf8_lossy(&buf[..len])
        );
    }
    socket.set_read_timeout(Some(WAIT)).expect("set timeout");
}

/// Asserts `ts` is RFC 3339 UTC with milliseconds and close to now.
fn assert_timestamp(ts: &str) {
    assert_eq!(ts.len(), "2026-11-21T23:46:42.518Z".len(), "ts {ts}");
    assert!(ts.ends_with('Z'), "ts not UTC: {ts}");
    assert_eq!(&ts[10..11], "T", "ts {ts}");
    assert_eq!(&ts[19..20], ".", "ts without milliseconds: {ts}");
    let at = humantime::parse_rfc3339(ts).unwrap_or_else(|e| panic!("ts {ts}: {e}"));
    let now = SystemTime::now();
    let skew = now.duration_since(at).unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(60), "ts {ts} is far from now");
}

/// The sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// Checks one JSON text event and returns its text.
fn assert_json_text(v: &Value, name: &str) -> String {
    assert_eq!(
        keys(v),
        ["from", "kind", "name", "sender", "seq", "text", "ts"],
        "{v}"
    );
    assert_timestamp(str_field(v, "ts"));
    assert_eq!(v["kind"], "text", "{v}");
    assert_eq!(v["name"], name, "{v}");
    let sender = str_field(v, "sender");
    assert_eq!(sender.len(), 16, "sender id {sender}");
    assert!(
        sender
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "sender id not lowercase hex: {sender}"
    );
    assert!(v["seq"].is_u64(), "{v}");
    str_field(v, "text").to_string()
}

/// Splits a text-output line into timestamp, sender address and the rest.
fn text_line(line: &str) -> (&str, SocketAddr, &str) {
    let (ts, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad line {line}"));
    let (from, rest) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad line {line}"));
    let from = from
        .parse()
        .unwrap_or_else(|e| panic!("bad sender address in {line}: {e}"));
    (ts, from, rest)
}

/// A veth pair v0/v1 (both ends in this test's namespace) with
/// 192.0.2.1/24 on v0 and a default route through it.
fn veth_with_default_route() {
    run_ok(
        "ip",
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    );
    run_ok(
        "ip",
        &["addr", "add", "192.0.2.1/24", "brd", "+", "dev", "v0"],
    );
    run_ok("ip", &["link", "set", "v0", "up"]);
    run_ok("ip", &["link", "set", "v1", "up"]);
    run_ok("ip", &["route", "add", "default", "dev", "v0"]);
}

/// Sends one udpmsg text with `send args` and returns the text the
/// listener (started with `--json`) shows.
fn sent_text_arrives(listener: &Listener, args: &[&str]) -> String {
    send_ok(args);
    let v = listener.json();
    assert_json_text(&v, NAME)
}

// ---------------------------------------------------------------- host forms

#[test]
fn send_to_host_name_localhost_reaches_listener() {
    if !isolate("send_to_host_name_localhost_reaches_listener") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let port = l.port().to_string();
    let text = sent_text_arrives(&l, &["localhost", "-p", &port, "-n", NAME, "via name"]);
    assert_eq!(text, "via name");
}

#[test]
fn send_to_dotted_quad_reaches_listener() {
    if !isolate("send_to_dotted_quad_reaches_listener") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let port = l.port().to_string();
    let text = sent_text_arrives(&l, &["127.0.0.1", "-p", &port, "-n", NAME, "quad"]);
    assert_eq!(text, "quad");
}

#[test]
fn send_to_ipv6_literal_reaches_listener_from_bracketed_address() {
    if !isolate("send_to_ipv6_literal_reaches_listener_from_bracketed_address") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let port = l.port().to_string();
    send_ok(&["::1", "-p", &port, "-n", NAME, "six"]);
    let v = l.json();
    assert_eq!(assert_json_text(&v, NAME), "six");
    let from = str_field(&v, "from");
    assert!(from.starts_with("[::1]:"), "from {from}");
    let from: SocketAddr = from.parse().expect("from parses");
    assert_ne!(from.port(), 0);
}

#[test]
fn send_to_host_colon_port_reaches_listener() {
    if !isolate("send_to_host_colon_port_reaches_listener") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let text = sent_text_arrives(&l, &[&l.dest(), "-n", NAME, "hostport"]);
    assert_eq!(text, "hostport");
}

#[test]
fn send_to_bracketed_ipv6_with_port_reaches_listener() {
    if !isolate("send_to_bracketed_ipv6_with_port_reaches_listener") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let dest = format!("[::1]:{}", l.port());
    let text = sent_text_arrives(&l, &[&dest, "-n", NAME, "bracketed"]);
    assert_eq!(text, "bracketed");
}

#[test]
fn send_to_empty_host_reaches_listener_bound_to_loopback() {
    if !isolate("send_to_empty_host_reaches_listener_bound_to_loopback") {
        return;
    }
    let l = Listener::start(&["--bind", "127.0.0.1", "--json"]);
    let port = l.port().to_string();
    let text = sent_text_arrives(&l, &["", "-p", &port, "-n", NAME, "this host"]);
    assert_eq!(text, "this host");
    // ':port' is the same empty host with a port.
    let colon = format!(":{port}");
    let text = sent_text_arrives(&l, &[&colon, "-n", NAME, "colon port"]);
    assert_eq!(text, "colon port");
}

#[test]
fn send_to_decimal_integer_host_reaches_ipv4_address() {
    if !isolate("send_to_decimal_integer_host_reaches_ipv4_address") {
        return;
    }
    let l = Listener::start(&["--bind", "127.0.0.1", "--json"]);
    let port = l.port().to_string();
    send_ok(&["2130706433", "-p", &port, "-n", NAME, "number"]);
    let v = l.json();
    assert_eq!(assert_json_text(&v, NAME), "number");
    assert!(str_field(&v, "from").starts_with("127.0.0.1:"), "{v}");
}

#[test]
fn send_to_broadcast_reaches_listener_on_all_interfaces() {
    if !isolate("send_to_broadcast_reaches_listener_on_all_interfaces") {
        return;
    }
    veth_with_default_route();
    let l = Listener::start_raw(&["listen", "--port", "47101", "--json"]);
    assert_eq!(l.port(), 47101);
    let text = sent_text_arrives(&l, &["<broadcast>", "-p", "47101", "-n", NAME, "to all"]);
    assert_eq!(text, "to all");
}

#[test]
fn send_to_link_local_ipv6_with_scope_reaches_listener() {
    if !isolate("send_to_link_local_ipv6_with_scope_reaches_listener") {
        return;
    }
    run_ok(
        "ip",
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    );
    run_ok("ip", &["link", "set", "v0", "up"]);
    run_ok("ip", &["link", "set", "v1", "up"]);
    run_ok(
        "ip",
        &["-6", "addr", "add", "fe80::1/64", "dev", "v0", "nodad"],
    );
    // The veth carrier comes up asynchronously (linkwatch); until then the
    // address may not be usable and a send leaves through v0 to v1 instead
    // of being delivered locally. Wait (bounded) for carrier and address.
    let mut seen = String::new();
    let ready = poll(WAIT, || {
        let link = run_ok("ip", &["-o", "link", "show", "v0"]);
        let addr = run_ok("ip", &["-o", "-6", "addr", "show", "dev", "v0"]);
        // The local route is what makes a send to fe80::1 stay on this host;
        // it appears a moment after the address.
        let local = run_ok("ip", &["-6", "route", "show", "table", "local"]);
        let ready = link.contains("LOWER_UP")
            && local.contains("local fe80::1 dev v0")
            && !addr
                .lines()
                .any(|l| l.contains("fe80::1/64") && l.contains("tentative"));
        seen = format!("{link} {addr}");
        ready.then_some(())
    });
    assert!(ready.is_some(), "v0 never became ready: {seen}");
    // "3: v0@v1: <...>": the interface index, for the numeric scope form.
    let link = run_ok("ip", &["-o", "link", "show", "v0"]);
    let index = link.split(':').next().expect("index").trim().to_string();
    let l = Listener::start(&["--json"]);
    let port = l.port().to_string();
    let text = sent_text_arrives(&l, &["fe80::1%v0", "-p", &port, "-n", NAME, "scoped"]);
    assert_eq!(text, "scoped");
    let dest = format!("[fe80::1%{index}]:{port}");
    let text = sent_text_arrives(&l, &[&dest, "-n", NAME, "numeric scope"]);
    assert_eq!(text, "numeric scope");
}

#[test]
fn port_is_accepted_as_number_and_as_service_name() {
    if !isolate("port_is_accepted_as_number_and_as_service_name") {
        return;
    }
    // discard is 9/udp in /etc/services.
    let l = Listener::start_raw(&["listen", "--port", "discard", "--json"]);
    assert_eq!(l.port(), 9, "listener bound {}", l.addr);
    let text = sent_text_arrives(
        &l,
        &["127.0.0.1", "--port", "discard", "-n", NAME, "by name"],
    );
    assert_eq!(text, "by name");
    let text = sent_text_arrives(&l, &["127.0.0.1", "--port", "9", "-n", NAME, "by number"]);
    assert_eq!(text, "by number");
    let text = sent_text_arrives(&l, &["127.0.0.1:discard", "-n", NAME, "host:service"]);
    assert_eq!(text, "host:service");
}

#[test]
fn udpmsg_port_env_sets_the_port_of_listen_and_send() {
    if !isolate("udpmsg_port_env_sets_the_port_of_listen_and_send") {
        return;
    }
    let env = [("UDPMSG_PORT", "47102"), ("UDPMSG_NAME", "from-env")];
    let mut listen = command(&["listen", "--json"]);
    listen.envs(env);
    let l = Listener::spawn_cmd(listen, None, false, "udpmsg listen with UDPMSG_PORT");
    assert_eq!(l.port(), 47102);
    let mut send = command(&["send", "127.0.0.1", "env port"]);
    send.envs(env);
    assert_ok(
        &run_captured(send, b"", WAIT, "udpmsg send with UDPMSG_PORT"),
        "send with UDPMSG_PORT",
    );
    let v = l.json();
    assert_eq!(assert_json_text(&v, "from-env"), "env port");
}

#[test]
fn send_refuses_two_different_ports() {
    if !isolate("send_refuses_two_different_ports") {
        return;
    }
    let r = udpmsg(&["send", "127.0.0.1:5000", "--port", "5001", "hi"], b"");
    let line = r.one_line_error(2, "two ports");
    assert!(line.contains("5000") && line.contains("5001"), "{line}");
}

// ---------------------------------------------------------------- stdin

/// Sends `lines` numbered lines on stdin with `extra` arguments and checks
/// every one arrives, in order, with consecutive sequence numbers.
fn stdin_lines_arrive_in_order(extra: &[&str], lines: usize) {
    let l = Listener::start(&["--json", "--count", &lines.to_string()]);
    let dest = l.dest();
    let input: String = (0..lines).map(|i| format!("line {i:04}\n")).collect();
    let mut args = vec!["send", dest.as_str(), "-n", NAME];
    args.extend_from_slice(extra);
    assert_ok(&udpmsg(&args, input.as_bytes()), "send from stdin");
    let mut sender = None;
    for i in 0..lines {
        let v = l.json();
        assert_eq!(assert_json_text(&v, NAME), format!("line {i:04}"));
        assert_eq!(v["seq"], i as u64, "{v}");
        let id = str_field(&v, "sender").to_string();
        assert_eq!(*sender.get_or_insert(id.clone()), id, "one sender id");
    }
    let mut l = l;
    let (code, out, err) = l.finish_lines();
    assert_eq!(code, 0, "listener after --count: {:?}", err);
    assert!(out.is_empty(), "extra output {:?}", out);
}

#[test]
fn stdin_dash_sends_500_lines_in_order() {
    if !isolate("stdin_dash_sends_500_lines_in_order") {
        return;
    }
    stdin_lines_arrive_in_order(&["-"], 500);
}

#[test]
fn stdin_without_message_argument_sends_500_lines_in_order() {
    if !isolate("stdin_without_message_argument_sends_500_lines_in_order") {
        return;
    }
    stdin_lines_arrive_in_order(&[], 500);
}

#[test]
fn stdin_lines_are_sent_as_they_arrive_not_at_end_of_input() {
    if !isolate("stdin_lines_are_sent_as_they_arrive_not_at_end_of_input") {
        return;
    }
    // Like `tail -f app.log | udpmsg send loghost -`: the input stays open.
    let l = Listener::start(&["--json"]);
    let mut child = command(&["send", &l.dest(), "-n", NAME, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn udpmsg send");
    let mut input = child.stdin.take().expect("stdin");
    for word in ["first", "second"] {
        input
            .write_all(format!("{word}\n").as_bytes())
            .expect("write stdin");
        input.flush().expect("flush stdin");
        assert_eq!(assert_json_text(&l.json(), NAME), word);
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    drop(input);
    let code = wait_until(&mut child, WAIT, "udpmsg send");
    assert!(still_running, "send exited before its input ended");
    assert_eq!(code, 0);
}

#[test]
fn stdin_empty_and_crlf_lines_become_messages_without_line_endings() {
    if !isolate("stdin_empty_and_crlf_lines_become_messages_without_line_endings") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let input = b"dos line\r\n\r\n\nmid\rdle\r\nlast without newline";
    assert_ok(&udpmsg(&["send", &l.dest(), "-n", NAME], input), "send");
    let got: Vec<String> = (0..5).map(|_| assert_json_text(&l.json(), NAME)).collect();
    assert_eq!(
        got,
        ["dos line", "", "", "mid\rdle", "last without newline"]
    );
    assert_eq!(l.try_line(QUIET), None);
}

#[test]
fn message_words_are_joined_by_single_spaces() {
    if !isolate("message_words_are_joined_by_single_spaces") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let text = sent_text_arrives(&l, &[&l.dest(), "-n", NAME, "hello", "big", "world"]);
    assert_eq!(text, "hello big world");
    // Spaces inside one argument are the user's: kept as given.
    let text = sent_text_arrives(&l, &[&l.dest(), "-n", NAME, "a  b", "c"]);
    assert_eq!(text, "a  b c");
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_text_event_has_the_documented_fields() {
    if !isolate("json_text_event_has_the_documented_fields") {
        return;
    }
    let l = Listener::start(&["--json"]);
    assert_ok(
        &udpmsg(&["send", &l.dest(), "-n", "alice"], b"first\nsecond\n"),
        "send",
    );
    let a = l.json();
    let b = l.json();
    assert_eq!(assert_json_text(&a, "alice"), "first");
    assert_eq!(assert_json_text(&b, "alice"), "second");
    assert_eq!(a["seq"], 0, "{a}");
    assert_eq!(b["seq"], 1, "{b}");
    assert_eq!(a["sender"], b["sender"]);
    let from: SocketAddr = str_field(&a, "from").parse().expect("from is ip:port");
    assert_eq!(from.ip().to_string(), "127.0.0.1", "{a}");
    assert_ne!(from.port(), 0);
}

#[test]
fn json_raw_event_has_null_name_and_text_or_hex() {
    if !isolate("json_raw_event_has_null_name_and_text_or_hex") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let peer = udp("127.0.0.1:0");
    let me = peer.local_addr().expect("local addr").to_string();
    peer.send_to("plain ütf-8".as_bytes(), l.dest())
        .expect("send");
    peer.send_to(b"\x00\xffAB\x80", l.dest()).expect("send");

    let v = l.json();
    assert_eq!(keys(&v), ["from", "kind", "name", "text", "ts"], "{v}");
    assert_timestamp(str_field(&v, "ts"));
    assert_eq!(v["kind"], "raw");
    assert!(v["name"].is_null(), "{v}");
    assert_eq!(v["from"], me.as_str());
    assert_eq!(v["text"], "plain ütf-8");

    let v = l.json();
    assert_eq!(keys(&v), ["from", "hex", "kind", "name", "ts"], "{v}");
    assert_eq!(v["kind"], "raw");
    assert!(v["name"].is_null(), "{v}");
    assert_eq!(v["from"], me.as_str());
    assert_eq!(v["hex"], "00ff414280");
}

#[test]
fn json_from_shows_ipv6_peer_in_brackets() {
    if !isolate("json_from_shows_ipv6_peer_in_brackets") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let peer = udp("[::1]:0");
    let me = peer.local_addr().expect("local addr");
    peer.send_to(b"v6 raw", ("::1", l.port())).expect("send");
    let v = l.json();
    assert_eq!(v["from"], format!("[::1]:{}", me.port()), "{v}");
    assert_eq!(v["text"], "v6 raw");
}

#[test]
fn json_text_event_with_non_utf8_body_uses_hex() {
    if !isolate("json_text_event_with_non_utf8_body_uses_hex") {
        return;
    }
    let l = Listener::start(&["--json"]);
    assert_ok(
        &udpmsg(&["send", &l.dest(), "-n", NAME], b"\xc3\x28bad\xff\n"),
        "send",
    );
    let v = l.json();
    assert_eq!(
        keys(&v),
        ["from", "hex", "kind", "name", "sender", "seq", "ts"],
        "{v}"
    );
    assert_eq!(v["kind"], "text");
    assert_eq!(v["name"], NAME);
    assert_eq!(v["hex"], "c328626164ff");
}

#[test]
fn json_escapes_control_characters_within_one_line() {
    if !isolate("json_escapes_control_characters_within_one_line") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let peer = udp("127.0.0.1:0");
    peer.send_to(b"two\nlines\x1b[2J", l.dest()).expect("send");
    peer.send_to(b"next", l.dest()).expect("send");
    let v = l.json();
    assert_eq!(v["text"], "two\nlines\x1b[2J");
    assert_eq!(l.json()["text"], "next");
}

// ---------------------------------------------------------------- raw

#[test]
fn listen_shows_raw_utf8_as_text_and_other_bytes_as_lowercase_hex() {
    if !isolate("listen_shows_raw_utf8_as_text_and_other_bytes_as_lowercase_hex") {
        return;
    }
    let l = Listener::start(&[]);
    let peer = udp("127.0.0.1:0");
    let me = peer.local_addr().expect("local addr");
    peer.send_to(b"hello from nc", l.dest()).expect("send");
    peer.send_to(b"\xde\xad\xbe\xef\x00\x0a", l.dest())
        .expect("send");

    let line = l.line();
    let (ts, from, rest) = text_line(&line);
    assert_timestamp(ts);
    assert_eq!(from, me);
    assert_eq!(rest, "[raw]: hello from nc");

    let line = l.line();
    let (_, from, rest) = text_line(&line);
    assert_eq!(from, me);
    assert_eq!(rest, "[raw hex]: deadbeef000a");
}

#[test]
fn send_raw_argument_arrives_byte_for_byte() {
    if !isolate("send_raw_argument_arrives_byte_for_byte") {
        return;
    }
    let sink = udp("127.0.0.1:0");
    let dest = sink.local_addr().expect("local addr").to_string();
    send_ok(&[&dest, "--raw", "PING", "exactly", "ünïcode"]);
    let (got, _) = recv(&sink);
    assert_eq!(got, "PING exactly ünïcode".as_bytes());
    assert_no_more(&sink);
}

#[test]
fn send_raw_lines_from_stdin_arrive_byte_for_byte() {
    if !isolate("send_raw_lines_from_stdin_arrive_byte_for_byte") {
        return;
    }
    let sink = udp("127.0.0.1:0");
    let dest = sink.local_addr().expect("local addr").to_string();
    let input = b"\x00\xff\x01bin\r\x7f\n\xc3\x28\r\nUDPM\x01\x00 looks like udpmsg\nPING";
    assert_ok(
        &udpmsg(&["send", &dest, "--raw", "--lines"], input),
        "send --raw --lines",
    );
    let expected: [&[u8]; 4] = [
        b"\x00\xff\x01bin\r\x7f",
        b"\xc3\x28",
        b"UDPM\x01\x00 looks like udpmsg",
        b"PING",
    ];
    for want in expected {
        let (got, _) = recv(&sink);
        assert_eq!(got, want);
    }
    assert_no_more(&sink);
}

#[test]
fn largest_text_and_raw_messages_fit_in_one_datagram() {
    if !isolate("largest_text_and_raw_messages_fit_in_one_datagram") {
        return;
    }
    let sink = udp("127.0.0.1:0");
    let dest = sink.local_addr().expect("local addr").to_string();
    let max_text = wire::max_text_body(NAME, wire::MAX_DATAGRAM_V4);
    let body = "a".repeat(max_text);
    send_ok(&[&dest, "-n", NAME, &body]);
    let (got, _) = recv(&sink);
    assert_eq!(got.len(), wire::MAX_DATAGRAM_V4);
    assert!(got.starts_with(b"UDPM\x02\x00"));
    assert!(got.ends_with(body.as_bytes()));

    let body = "r".repeat(wire::MAX_DATAGRAM_V4);
    send_ok(&[&dest, "--raw", &body]);
    let (got, _) = recv(&sink);
    assert_eq!(got, body.as_bytes());
}

#[test]
fn an_oversized_stdin_line_is_skipped_alike_by_send_ack_and_wait() {
    if !isolate("an_oversized_stdin_line_is_skipped_alike_by_send_ack_and_wait") {
        return;
    }
    let l = Listener::start(&["--echo"]);
    let max_text = wire::max_text_body(NAME, wire::MAX_DATAGRAM_V4);
    let stdin = format!("first\n{}\nlast\n", "b".repeat(max_text + 1));
    let too_large = format!(
        "udpmsg: line 2 not sent: message too large: {} bytes, at most {max_text} fit in one datagram",
        max_text + 1
    );
    for extra in [&[][..], &["--ack"], &["--wait", "200ms"]] {
        let mut args = vec!["send", "-n", NAME];
        args.extend_from_slice(extra);
        let dest = l.dest();
        args.extend([dest.as_str(), "-"]);
        let run = udpmsg(&args, stdin.as_bytes());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let err: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(err.first(), Some(&too_large.as_str()), "{args:?}: {err:?}");
        // Then one summary line, and the line after it went.
        assert_eq!(err.len(), 2, "{args:?}: {err:?}");
        assert!(l.line().ends_with("tester: first"), "{args:?}");
        assert!(l.line().ends_with("tester: last"), "{args:?}");
        if extra == ["--ack"] {
            assert!(
                err[1].starts_with("udpmsg: 2 of 2 messages confirmed by ")
                    && err[1].ends_with("; 1 line too large for one datagram, not sent"),
                "{err:?}"
            );
        } else {
            assert!(err[1].contains("too large for one datagram"), "{err:?}");
            assert!(err[1].contains("(2 sent)"), "{err:?}");
        }
    }
    // --wait --count: the replies counted (echoed raw lines) do not hide
    // the line that was not sent.
    let raw = format!("first\n{}\nlast\n", "r".repeat(wire::MAX_DATAGRAM_V4 + 1));
    let run = udpmsg(
        &[
            "send",
            "--raw",
            "--lines",
            &l.dest(),
            "--wait",
            "5s",
            "--count",
            "2",
        ],
        raw.as_bytes(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(
        run.stderr.starts_with("udpmsg: line 2 not sent: "),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- text output

#[test]
fn text_output_shows_time_sender_address_name_and_text() {
    if !isolate("text_output_shows_time_sender_address_name_and_text") {
        return;
    }
    let l = Listener::start(&[]);
    send_ok(&[&l.dest(), "-n", "alice", "hello", "world"]);
    let line = l.line();
    let (ts, from, rest) = text_line(&line);
    assert_timestamp(ts);
    assert_eq!(from.ip().to_string(), "127.0.0.1", "{line}");
    assert_ne!(from.port(), 0);
    assert_eq!(rest, "alice: hello world");
}

#[test]
fn text_output_escapes_control_characters() {
    if !isolate("text_output_escapes_control_characters") {
        return;
    }
    let l = Listener::start(&[]);
    send_ok(&[&l.dest(), "-n", "ev\x1bil", "a\x1b[2Jb\x07c\td"]);
    let line = l.line();
    let (_, _, rest) = text_line(&line);
    assert_eq!(rest, "ev\\x1bil: a\\x1b[2Jb\\x07c\td");

    let peer = udp("127.0.0.1:0");
    peer.send_to(b"x\ny\rz\x1b]0;title\x07", l.dest())
        .expect("send");
    let line = l.line();
    let (_, _, rest) = text_line(&line);
    assert_eq!(rest, "[raw]: x\\ny\\rz\\x1b]0;title\\x07");

    // C1 controls (U+0080..U+009F; U+009B is a one-character CSI) by code point.
    peer.send_to("c1 \u{9b}31m \u{85}.".as_bytes(), l.dest())
        .expect("send");
    let line = l.line();
    let (_, _, rest) = text_line(&line);
    assert_eq!(rest, "[raw]: c1 \\u009b31m \\u0085.");
    assert!(
        !line.chars().any(|c| c.is_control() && c != '\t'),
        "control character in {line:?}"
    );
}

// ---------------------------------------------------------------- stopping

#[test]
fn count_exits_zero_after_n_datagrams_raw_included() {
    if !isolate("count_exits_zero_after_n_datagrams_raw_included") {
        return;
    }
    let mut l = Listener::start(&["--count", "3"]);
    send_ok(&[&l.dest(), "-n", NAME, "one"]);
    assert!(l.line().ends_with("tester: one"));
    let peer = udp("127.0.0.1:0");
    peer.send_to(b"two", l.dest()).expect("send");
    assert!(l.line().ends_with("[raw]: two"));
    // The third ends the listener; the fourth must not be shown.
    peer.send_to(b"three", l.dest()).expect("send");
    peer.send_to(b"four", l.dest()).expect("send");
    let (code, out, err) = l.finish_lines();
    assert_eq!(code, 0, "stderr: {:?}", err);
    assert_eq!(out.len(), 1, "{:?}", out);
    assert!(out[0].ends_with("[raw]: three"), "{:?}", out);
    assert_eq!(err.len(), 1, "one summary line: {:?}", err);
    assert!(
        err[0].starts_with("udpmsg listen: count reached: 1 received, 2 raw, 0 malformed"),
        "{:?}",
        err
    );
}

#[test]
fn timeout_exits_zero_with_a_summary_line() {
    if !isolate("timeout_exits_zero_with_a_summary_line") {
        return;
    }
    let started = Instant::now();
    let mut l = Listener::start(&["--timeout", "300ms"]);
    let (code, out, err) = l.finish_lines();
    let took = started.elapsed();
    assert_eq!(code, 0, "stderr: {:?}", err);
    assert!(took >= Duration::from_millis(300), "stopped after {took:?}");
    assert!(out.is_empty(), "{:?}", out);
    assert_eq!(err.len(), 1, "one summary line: {:?}", err);
    assert!(
        err[0].starts_with("udpmsg listen: timeout: 0 received, 0 raw, 0 malformed"),
        "{:?}",
        err
    );
}

/// Shows one text, one raw and one malformed datagram, sends `signal`, and
/// checks the exit code and the summary.
fn signal_gives_clean_exit_and_summary(signal: i32, why: &str) {
    let mut l = Listener::start(&[]);
    let peer = udp("127.0.0.1:0");
    // Magic, version, open mode, then half a message tag.
    peer.send_to(b"UDPM\x02\x00\x00\x00", l.dest())
        .expect("send");
    send_ok(&[&l.dest(), "-n", NAME, "text"]);
    peer.send_to(b"raw", l.dest()).expect("send");
    assert!(l.line().ends_with("tester: text"));
    assert!(l.line().ends_with("[raw]: raw"));
    l.signal(signal);
    let (code, _, err) = l.finish_lines();
    assert_eq!(code, 0, "stderr: {:?}", err);
    assert_eq!(err.len(), 1, "one summary line: {:?}", err);
    let want = format!("udpmsg listen: {why}: 1 received, 1 raw, 1 malformed");
    assert!(err[0].starts_with(&want), "{:?}", err);
    assert!(err[0].contains("dropped by the kernel") || err[0].contains("kernel drops"));
}

#[test]
fn sigterm_exits_zero_with_one_line_summary_of_counts() {
    if !isolate("sigterm_exits_zero_with_one_line_summary_of_counts") {
        return;
    }
    signal_gives_clean_exit_and_summary(libc::SIGTERM, "terminated");
}

#[test]
fn sigint_exits_zero_with_one_line_summary_of_counts() {
    if !isolate("sigint_exits_zero_with_one_line_summary_of_counts") {
        return;
    }
    signal_gives_clean_exit_and_summary(libc::SIGINT, "interrupted");
}

#[test]
fn sighup_exits_zero_with_one_line_summary_of_counts() {
    if !isolate("sighup_exits_zero_with_one_line_summary_of_counts") {
        return;
    }
    signal_gives_clean_exit_and_summary(libc::SIGHUP, "hung up");
}

#[test]
fn ping_and_send_ack_end_with_their_summary_on_sighup() {
    if !isolate("ping_and_send_ack_end_with_their_summary_on_sighup") {
        return;
    }
    let l = Listener::start(&[]);
    let hang_up = |child: &std::process::Child| {
        // SAFETY: kill(2) on our own child, not yet reaped.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGHUP) };
        assert_eq!(rc, 0);
    };
    // ping until stopped: after one reply, a hangup ends it with the summary.
    let mut ping = command(&["ping", &l.dest()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ping");
    let out = common::line_reader(ping.stdout.take().expect("stdout"), None);
    out.recv_timeout(WAIT).expect("a reply line");
    hang_up(&ping);
    assert_eq!(wait_until(&mut ping, WAIT, "ping after SIGHUP"), 0);
    let rest = common::rest_of(&out);
    assert!(
        rest.iter().any(|l| l.ends_with(" udpmsg ping ---")),
        "{rest:?}"
    );
    // send --ack following a stdin that has not ended: the summary says
    // what was confirmed and why it stopped.
    let mut send = command(&["send", "--ack", &l.dest(), "-n", NAME, "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send --ack");
    let mut stdin = send.stdin.take().expect("stdin");
    stdin.write_all(b"one\n").expect("write");
    assert!(l.line().ends_with("tester: one"));
    let err = common::line_reader(send.stderr.take().expect("stderr"), None);
    hang_up(&send);
    let code = wait_until(&mut send, WAIT, "send --ack after SIGHUP");
    drop(stdin);
    let said = common::rest_of(&err);
    let summary = said
        .iter()
        .find(|l| l.contains(" messages confirmed by "))
        .unwrap_or_else(|| panic!("no summary: {said:?}"));
    assert!(
        summary.contains("; hung up before the input ended"),
        "{summary}"
    );
    // The ack may still have been on its way: exit 0 only if it was in.
    let confirmed = summary.contains("1 of 1 messages confirmed");
    assert_eq!(code, if confirmed { 0 } else { 4 }, "{said:?}");
}

#[test]
fn a_listener_started_with_sighup_ignored_keeps_ignoring_it() {
    if !isolate("a_listener_started_with_sighup_ignored_keeps_ignoring_it") {
        return;
    }
    // As `nohup udpmsg listen` starts it.
    let mut cmd = command(&["listen", "--port", "0"]);
    // SAFETY: between fork and exec only async-signal-safe signal(2).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut l = Listener::spawn_cmd(cmd, None, false, "listen under nohup");
    l.signal(libc::SIGHUP);
    // Still there: it shows what comes after the SIGHUP.
    send_ok(&[&l.dest(), "-n", NAME, "after the hangup"]);
    assert!(l.line().ends_with("tester: after the hangup"));
    l.assert_alive();
    let (code, _, err) = l.terminate();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.last()
            .is_some_and(|l| l.starts_with("udpmsg listen: terminated: 1 received")),
        "{err:?}"
    );
}

#[test]
fn closed_stdout_pipe_ends_listener_quietly_with_exit_zero() {
    if !isolate("closed_stdout_pipe_ends_listener_quietly_with_exit_zero") {
        return;
    }
    // Like `udpmsg listen | head -n 1`: the reader goes away after one line.
    let mut l = Listener::spawn_cmd(
        command(&["listen", "--port", "0"]),
        Some(1),
        false,
        "udpmsg listen | head -n 1",
    );
    let peer = udp("127.0.0.1:0");
    let mut sent = 0u32;
    let exited = poll(WAIT, || {
        peer.send_to(format!("message {sent}").as_bytes(), l.dest())
            .expect("send");
        sent += 1;
        l.child.try_wait().expect("try_wait")
    });
    assert!(
        exited.is_some(),
        "listener still running {WAIT:?} after its stdout was closed ({sent} datagrams sent)"
    );
    let (code, _, err) = l.finish_lines();
    assert_eq!(code, 0, "stderr: {:?}", err);
    assert!(err.is_empty(), "not quiet: {:?}", err);
}

#[test]
fn closed_stdin_and_stdout_are_reopened_on_dev_null_not_reused_by_sockets() {
    if !isolate("closed_stdin_and_stdout_are_reopened_on_dev_null_not_reused_by_sockets") {
        return;
    }
    // `udpmsg listen <&- >&-`: the binary has its own C main, so it must do
    // what Rust's start-up would: otherwise its socket becomes fd 0 or 1 and
    // output lines are written into the socket.
    let mut cmd = command(&[
        "listen",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--timeout",
        "2s",
    ]);
    cmd.stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::close(0);
            libc::close(1);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn udpmsg listen");
    let fd = |n: u32| std::fs::read_link(format!("/proc/{}/fd/{n}", child.id()));
    let socket_open = || {
        std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .map(|fds| {
                fds.flatten().any(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
            })
            .unwrap_or(false)
    };
    wait_for(WAIT, "the listener opening its socket", || {
        socket_open().then_some(())
    });
    let (stdin, stdout) = (fd(0), fd(1));
    // No signal: one sent this early could beat the handler. --timeout ends it.
    let code = wait_until(&mut child, WAIT, "listen with closed stdin/stdout");
    assert_eq!(stdin.expect("fd 0").to_string_lossy(), "/dev/null");
    assert_eq!(stdout.expect("fd 1").to_string_lossy(), "/dev/null");
    assert_eq!(code, 0);
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_host_forms_exit_2_with_one_line() {
    if !isolate("bad_host_forms_exit_2_with_one_line") {
        return;
    }
    for (host, mention) in [
        ("[::1", "[::1"),
        ("a b", "a b"),
        ("4294967296", "4294967296"),
        ("fe80::1%nosuchif", "nosuchif"),
        ("[::1]x", "[::1]x"),
        ("1.2.3.4:5:6", "1.2.3.4:5:6"),
    ] {
        let r = udpmsg(&["send", host, "-p", "9", "hi"], b"");
        let line = r.one_line_error(2, &format!("send {host:?}"));
        assert!(line.contains(mention), "{host:?}: {line}");
    }
    let r = udpmsg(&["listen", "--bind", "[::1", "--port", "0"], b"");
    r.one_line_error(2, "listen --bind '[::1'");
}

#[test]
fn bad_ports_exit_2_with_one_line() {
    if !isolate("bad_ports_exit_2_with_one_line") {
        return;
    }
    for args in [
        ["send", "127.0.0.1", "-p", "70000", "hi"],
        ["send", "127.0.0.1", "-p", "nosuchservice", "hi"],
        ["send", "127.0.0.1", "-p", "0", "hi"],
        ["send", "127.0.0.1:70000", "-n", NAME, "hi"],
        ["send", "127.0.0.1:0", "-n", NAME, "hi"],
    ] {
        let r = udpmsg(&args, b"");
        let line = r.one_line_error(2, &format!("{args:?}"));
        assert!(line.contains("port"), "{args:?}: {line}");
    }
    for port in ["70000", "nosuchservice"] {
        let r = udpmsg(&["listen", "--port", port], b"");
        let line = r.one_line_error(2, &format!("listen --port {port}"));
        assert!(line.contains(port), "{line}");
    }
}

#[test]
fn message_argument_too_large_exits_2_naming_the_limit() {
    if !isolate("message_argument_too_large_exits_2_naming_the_limit") {
        return;
    }
    let sink = udp("127.0.0.1:0");
    let dest = sink.local_addr().expect("local addr").to_string();
    let body = "x".repeat(70_000);

    let r = udpmsg(&["send", &dest, "-n", NAME, &body], b"");
    let line = r.one_line_error(2, "70000-byte text");
    let max = wire::max_text_body(NAME, wire::MAX_DATAGRAM_V4);
    assert!(
        line.contains("70000") && line.contains(&max.to_string()),
        "{line}"
    );

    let r = udpmsg(&["send", &dest, "--raw", &body], b"");
    let line = r.one_line_error(2, "70000-byte raw");
    assert!(
        line.contains("70000") && line.contains(&wire::MAX_DATAGRAM_V4.to_string()),
        "{line}"
    );
    assert_no_more(&sink);
}

#[test]
fn too_large_stdin_line_is_refused_and_good_lines_still_delivered() {
    if !isolate("too_large_stdin_line_is_refused_and_good_lines_still_delivered") {
        return;
    }
    let l = Listener::start(&["--json"]);
    let mut input = b"good 1\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 70_000));
    input.extend_from_slice(b"\ngood 2\n");
    let r = udpmsg(&["send", &l.dest(), "-n", NAME], &input);
    assert_eq!(r.code, 2, "stderr: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let max = wire::max_text_body(NAME, wire::MAX_DATAGRAM_V4).to_string();
    let lines: Vec<&str> = r.stderr.lines().collect();
    // One line for the refused line, as it happens, and one that ends the run.
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(lines.iter().all(|l| l.starts_with("udpmsg: ")), "{lines:?}");
    assert!(
        lines[0].contains("line 2") && lines[0].contains("70000") && lines[0].contains(&max),
        "{lines:?}"
    );
    assert!(lines[1].contains("1 line"), "{lines:?}");

    let a = l.json();
    let b = l.json();
    assert_eq!(assert_json_text(&a, NAME), "good 1");
    assert_eq!(assert_json_text(&b, NAME), "good 2");
    assert_eq!((a["seq"].as_u64(), b["seq"].as_u64()), (Some(0), Some(1)));
    assert_eq!(l.try_line(QUIET), None);
}

#[test]
fn directed_broadcast_without_flag_is_permission_denied_with_hint() {
    if !isolate("directed_broadcast_without_flag_is_permission_denied_with_hint") {
        return;
    }
    veth_with_default_route();
    let l = Listener::start_raw(&["listen", "--port", "47103", "--json"]);
    let r = udpmsg(&["send", "192.0.2.255", "-p", "47103", "hi"], b"");
    let line = r.one_line_error(1, "directed broadcast");
    assert!(line.contains("192.0.2.255"), "{line}");
    assert!(line.contains("permission denied"), "{line}");
    assert!(line.contains("--broadcast"), "no hint: {line}");
    // The hint is right: with --broadcast the same send works.
    let text = sent_text_arrives(
        &l,
        &[
            "192.0.2.255",
            "-p",
            "47103",
            "--broadcast",
            "-n",
            NAME,
            "hint works",
        ],
    );
    assert_eq!(text, "hint works");
}

#[test]
fn port_in_use_by_an_unshared_socket_exits_1_with_one_clear_line() {
    if !isolate("port_in_use_by_an_unshared_socket_exits_1_with_one_clear_line") {
        return;
    }
    // std binds without SO_REUSEADDR: the port cannot be shared.
    let holder = UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = holder.local_addr().expect("local addr").port().to_string();
    let r = udpmsg(&["listen", "--port", &port], b"");
    let line = r.one_line_error(1, "port in use (all interfaces)");
    assert!(line.contains(&port) && line.contains("in use"), "{line}");

    let holder = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("local addr").port().to_string();
    let r = udpmsg(&["listen", "--bind", "127.0.0.1", "--port", &port], b"");
    let line = r.one_line_error(1, "port in use (loopback)");
    assert!(line.contains(&port) && line.contains("in use"), "{line}");
}

#[test]
fn two_listeners_share_a_port_and_both_get_a_broadcast() {
    if !isolate("two_listeners_share_a_port_and_both_get_a_broadcast") {
        return;
    }
    // Sharing is asked for (it prints a warning before it starts).
    let start = || {
        let args = ["listen", "--port", "47104", "--json", "--share-port"];
        Listener::spawn_cmd(command(&args), None, true, "listen --share-port")
    };
    let a = start();
    let b = start();
    assert_eq!((a.port(), b.port()), (47104, 47104));
    send_ok(&[
        "127.255.255.255",
        "-p",
        "47104",
        "--broadcast",
        "-n",
        NAME,
        "to both",
    ]);
    assert_eq!(assert_json_text(&a.json(), NAME), "to both");
    assert_eq!(assert_json_text(&b.json(), NAME), "to both");
}

// ---------------------------------------------------------------- help

#[test]
fn send_help_lists_host_forms_and_examples() {
    if !isolate("send_help_lists_host_forms_and_examples") {
        return;
    }
    let r = udpmsg(&["send", "--help"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = &r.stdout;
    for needle in [
        "host:port",
        "[v6]:port",
        "'<broadcast>'",
        "''",
        "Examples:",
        "udpmsg send '[::1]:9000' hi",
        "udpmsg send 127.0.0.1:9999 --raw",
        "--port",
        "service name",
    ] {
        assert!(
            help.contains(needle),
            "send --help lacks {needle:?}:\n{help}"
        );
    }
    let r = udpmsg(&["--help"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = &r.stdout;
    for needle in ["2130706433", "[::1]:port", "fe80::1%eth0", "<broadcast>"] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

/// The usage line of `send`'s usage errors shows the message as optional,
/// as `--help` does, whatever was given: clap's own would show a message
/// that was given as `<MESSAGE>...`, as if `send` needed one.
#[test]
fn send_usage_errors_show_the_message_as_optional() {
    if !isolate("send_usage_errors_show_the_message_as_optional") {
        return;
    }
    let usage = "Usage: udpmsg send [OPTIONS] <HOST> [MESSAGE]...";
    let help = udpmsg(&["send", "--help"], b"");
    assert!(help.stdout.lines().any(|l| l == usage), "{}", help.stdout);
    for args in [
        &["send", "--ack", "--wait", "1s", "127.0.0.1", "hi"][..],
        &["send", "--ack", "--wait", "1s", "127.0.0.1"],
        &["send", "--retries", "3", "127.0.0.1", "hi", "there"],
        &["send"],
    ] {
        let run = udpmsg(args, b"");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("Usage:"))
            .collect();
        assert_eq!(lines, [usage], "{args:?}: {}", run.stderr);
    }
}

#[test]
fn listen_help_shows_bind_forms_and_examples() {
    if !isolate("listen_help_shows_bind_forms_and_examples") {
        return;
    }
    let r = udpmsg(&["listen", "--help"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = &r.stdout;
    for needle in [
        "--bind",
        "''",
        "--json",
        "--count",
        "--timeout",
        "Examples:",
        "udpmsg listen --bind 127.0.0.1",
    ] {
        assert!(
            help.contains(needle),
            "listen --help lacks {needle:?}:\n{help}"
        );
    }
}

#[test]
fn version_prints_name_and_version() {
    if !isolate("version_prints_name_and_version") {
        return;
    }
    let version = env!("CARGO_PKG_VERSION");
    let r = udpmsg(&["--version"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), format!("udpmsg {version}"));
    // Subcommands answer too (clap names them `udpmsg-send` and so on).
    for args in [["send", "--version"], ["listen", "-V"]] {
        let r = udpmsg(&args, b"");
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let out = r.stdout.trim();
        assert!(
            out.starts_with("udpmsg") && out.ends_with(&format!(" {version}")),
            "{args:?}: {out}"
        );
    }
}
