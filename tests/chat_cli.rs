//! `udpmsg chat` alone on one host (a namespace with only `lo`, where
//! presence finds no one: hellos are not sent on loopback): its help, the
//! input lines it refuses, a message to nobody, and members made up from
//! hellos sent to its presence port.

mod common;

use common::{BIN, WAIT, encoded, isolate, line_reader, udp, udpmsg, udpmsg_within, wait_status};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use udpmsg::commands::chat::room::MAX_MESSAGE;
use udpmsg::wire::{self, Goodbye, Hello, Message};

#[test]
fn chat_help_gives_one_default_for_the_room() {
    let out = udpmsg_within(&["chat", "--help"], b"", WAIT);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let room = out
        .stdout
        .split_once("--room")
        .and_then(|(_, rest)| rest.split_once("--port"))
        .map(|(room, _)| room)
        .unwrap_or_else(|| panic!("no --room then --port: {}", out.stdout));
    assert_eq!(room.matches("[default:").count(), 1, "{room}");
    assert!(room.contains("[default: the port's room]"), "{room}");
}

#[test]
fn a_line_refused_from_a_pipe_ends_the_chat_with_exit_2() {
    if !isolate("a_line_refused_from_a_pipe_ends_the_chat_with_exit_2") {
        return;
    }
    let long = "x".repeat(MAX_MESSAGE + 1);
    for (input, note) in [
        (format!("{long}\n"), "* message too long"),
        ("/frobnicate\n".to_string(), "* unknown command /frobnicate"),
        (
            "/msg nobody hi\n".to_string(),
            "* no member is called nobody",
        ),
    ] {
        let out = udpmsg(&["chat", "--name", "solo"], input.as_bytes());
        assert_eq!(out.code, 2, "{input:.20}: {}", out.stderr);
        // Said where the chat's lines go (stdout, as text).
        assert!(out.stdout.contains(note), "{}", out.stdout);
        assert!(out.stderr.contains(", 1 line refused"), "{}", out.stderr);
    }
    // Nothing refused, nothing sent: exit 0.
    let out = udpmsg(&["chat", "--name", "solo"], b"/who\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_message_to_nobody_is_not_delivered() {
    if !isolate("a_message_to_nobody_is_not_delivered") {
        return;
    }
    let out = udpmsg(&["chat", "--json", "--name", "solo"], b"anyone?\n");
    assert_eq!(out.code, 4, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(v["kind"], "not_delivered", "{v}");
    assert_eq!(v["reason"], "nobody", "{v}");
    assert_eq!(v["members"], serde_json::json!([]), "{v}");
    assert_eq!(v["unconfirmed"], serde_json::json!([]), "{v}");
    assert!(
        out.stderr.contains("1 sent, 0 delivered, 1 not delivered"),
        "{}",
        out.stderr
    );
    // As text; an action is quoted as it was shown.
    let out = udpmsg(&["chat", "--name", "solo"], b"/me waves\n");
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.contains("] * solo waves\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("] not delivered: nobody else is here (* solo waves)\n"),
        "{}",
        out.stdout
    );
}

fn hello(instance: u64, name: &str) -> Vec<u8> {
    encoded(&Message::Hello(Hello {
        instance,
        port: 47474,
        version: wire::VERSION,
        lifetime_ms: 60_000,
        name,
        room: "",
    }))
}

#[test]
fn a_member_that_comes_and_goes_at_once_has_one_name() {
    if !isolate("a_member_that_comes_and_goes_at_once_has_one_name") {
        return;
    }
    let mut chat = Command::new(BIN)
        .args(["chat", "--json", "--name", "solo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chat");
    let mut err = BufReader::new(chat.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("stderr");
    assert!(first.starts_with("udpmsg: chatting as"), "{first}");
    let lines = line_reader(chat.stdout.take().expect("stdout"), None);
    // A member's hello and its goodbye back to back: it joins and leaves
    // before its join is reported, and both are reported together. Three
    // of them, so that at least one pair is read in one turn.
    let socket = udp("127.0.0.1:0");
    for instance in [
        0x87b0_0000_0000_0001_u64,
        0x87b0_0000_0000_0002,
        0x87b0_0000_0000_0003,
    ] {
        let goodbye = encoded(&Message::Goodbye(Goodbye { instance }));
        socket
            .send_to(&hello(instance, "bot2"), "127.0.0.1:47475")
            .expect("send");
        socket.send_to(&goodbye, "127.0.0.1:47475").expect("send");
        let mut names = Vec::new();
        for kind in ["joined", "left"] {
            let line = lines.recv_timeout(WAIT).expect(kind);
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            assert_eq!(v["kind"], kind, "{v}");
            names.push(v["name"].as_str().expect("name").to_string());
        }
        assert_eq!(names, ["bot2", "bot2"], "the same member, one name");
    }
    drop(chat.stdin.take());
    let status = wait_status(&mut chat, WAIT, "the chat at EOF");
    assert_eq!(status.code(), Some(0));
}
