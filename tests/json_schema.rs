//! docs/JSON.md is the schema of every `--json` line, and this file holds
//! the code to it: each subcommand runs for real (in a private network
//! namespace) and every line it prints is parsed and checked against the
//! document's tables (`ts` and `kind` first, every field documented for its
//! kind with its type and unit, the fields marked `always` present); the
//! output functions, driven through every case, emit exactly the fields
//! the document lists for each kind; and the document's examples follow it.
//! Link-local scopes are shown by interface name in text and JSON alike.

mod common;

use common::{
    Dir, Listener, WAIT, command, encoded, isolate, parse_shown_addr, poll, run_captured, run_ok,
    udpmsg, udpmsg_within,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime};
use udpmsg::commands::discover::{MAX_ADDRS, Peer, Scan, Trace};
use udpmsg::commands::files::Sent;
use udpmsg::commands::files::receive::{Outcome, Saved};
use udpmsg::commands::listen::{Event, Sink};
use udpmsg::commands::ping::{Pong, Summary};
use udpmsg::net::{Cred, PeerAddr, UnixAddr};
use udpmsg::output::discover::{FirstHeard, discover_peers};
use udpmsg::output::escape::disruptive;
use udpmsg::output::ping::{ping_reply, ping_summary};
use udpmsg::output::{Format, ListenOutput};
use udpmsg::wire::{self, FLAG_ACK, Message, Text};

// ---------------------------------------------------------------- the schema

/// One documented field of a kind.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// A word of the document's Types table, or a literal `"kind"`.
    ty: String,
    always: bool,
}

/// One documented kind of line: its `###` section.
#[derive(Debug, Clone)]
struct Kind {
    /// The `##` section it is in (`` `listen --json` ``).
    subcommand: String,
    fields: Vec<Field>,
    example: Option<String>,
}

fn doc(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"))
}

/// The kinds docs/JSON.md documents, by name: every `` ### `kind` ``
/// section's table (`| field | type | present | meaning |`) and example.
fn schema() -> BTreeMap<String, Kind> {
    let text = doc("docs/JSON.md");
    let mut kinds = BTreeMap::new();
    let mut subcommand = String::new();
    let mut current: Option<(String, Kind)> = None;
    let mut in_example = false;
    for line in text.lines() {
        if (line.starts_with("## ") || line.starts_with("### "))
            && let Some((name, kind)) = current.take()
        {
            assert!(kinds.insert(name.clone(), kind).is_none(), "{name} twice");
        }
        if let Some(heading) = line.strip_prefix("## ") {
            subcommand = heading.to_string();
        } else if let Some(heading) = line.strip_prefix("### ") {
            let name = heading
                .strip_prefix('`')
                .and_then(|h| h.strip_suffix('`'))
                .unwrap_or_else(|| panic!("a kind's heading is `kind`: {line}"));
            let kind = Kind {
                subcommand: subcommand.clone(),
                fields: Vec::new(),
                example: None,
            };
            current = Some((name.to_string(), kind));
        } else if let Some((_, kind)) = current.as_mut() {
            if line == "```json" {
                in_example = true;
            } else if line == "```" {
                in_example = false;
            } else if in_example {
                assert!(kind.example.is_none(), "one example per kind: {line}");
                kind.example = Some(line.to_string());
            } else if line.starts_with("| `") {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                assert_eq!(cells.len(), 6, "field | type | present | meaning: {line}");
                kind.fields.push(Field {
                    name: cells[1].trim_matches('`').to_string(),
                    ty: cells[2].trim_matches('`').to_string(),
                    always: cells[3] == "always",
                });
            }
        }
    }
    if let Some((name, kind)) = current.take() {
        assert!(kinds.insert(name.clone(), kind).is_none(), "{name} twice");
    }
    assert!(
        kinds.len() >= 6,
        "too few kinds found in docs/JSON.md: {kinds:?}"
    );
    kinds
}

impl Kind {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn names(&self) -> BTreeSet<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }
}

/// Whether `n` has at most `decimals` decimals (as far as a double can say).
fn decimals_at_most(n: f64, decimals: i32) -> bool {
    let scaled = n * 10f64.powi(decimals);
    (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks `v` against a type of the document's Types table.
fn check_type(ty: &str, v: &Value) -> Result<(), String> {
    let string = || v.as_str().ok_or("not a string".to_string());
    let number = || v.as_f64().ok_or("not a number".to_string());
    let ok = |fine: bool, why: &str| if fine { Ok(()) } else { Err(why.to_string()) };
    match ty {
        "time" => {
            let s = string()?;
            ok(
                s.len() == "2026-11-21T23:46:42.518Z".len()
                    && s.ends_with('Z')
                    && &s[10..11] == "T"
                    && &s[19..20] == "."
                    && humantime::parse_rfc3339(s).is_ok(),
                "not RFC 3339 UTC with milliseconds",
            )
        }
        "address" => {
            let s = string()?;
            if let Some(unix) = s.strip_prefix("unix:") {
                // A path, @ and an abstract name, or nothing (no name).
                return ok(unix != "@", "unix:@ without a name");
            }
            let (addr, scope) = parse_shown_addr(s).ok_or("not ip:port nor unix:...")?;
            if let SocketAddr::V6(v6) = addr {
                ok(v6.ip().to_ipv4_mapped().is_none(), "IPv4-mapped")?;
            }
            match scope {
                Some(scope) if scope.bytes().all(|b| b.is_ascii_digit()) => {
                    Err("a scope by number, not by interface name".into())
                }
                _ => Ok(()),
            }
        }
        "addresses" | "strings" => {
            let each = if ty == "addresses" {
                "address"
            } else {
                "string"
            };
            let items = v.as_array().ok_or("not an array")?;
            items.iter().try_for_each(|item| check_type(each, item))
        }
        "id" => {
            let s = string()?;
            ok(
                s.len() == 16 && is_lower_hex(s),
                "not 16 lowercase hex digits",
            )
        }
        "hex" => {
            let s = string()?;
            ok(
                s.len().is_multiple_of(2) && is_lower_hex(s),
                "not lowercase hex, two digits per byte",
            )
        }
        "string" => string().map(drop),
        "null" => ok(v.is_null(), "not null"),
        "integer" => ok(v.is_u64(), "not an integer of 0 or more"),
        "ms" => {
            let n = number()?;
            ok(
                n >= 0.0 && decimals_at_most(n, 3),
                "not milliseconds to the µs",
            )
        }
        "percent" => {
            let n = number()?;
            ok(
                (0.0..=100.0).contains(&n) && decimals_at_most(n, 2),
                "not a percentage with at most 2 decimals",
            )
        }
        literal if literal.starts_with('"') => ok(
            v.as_str() == Some(literal.trim_matches('"')),
            "another value",
        ),
        other => Err(format!("docs/JSON.md uses an unknown type {other:?}")),
    }
}

/// Checks one line against the schema and returns it parsed: an object
/// that starts with `ts` and `kind`, of a documented kind, with no field
/// the document does not list for it, every field of the documented type,
/// the `always` ones present, and no raw character that could drive a
/// terminal.
fn check_line(schema: &BTreeMap<String, Kind>, line: &str) -> Value {
    let v: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let object = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {line}"));
    let ts_first = line.starts_with("{\"ts\":\"")
        && line
            .get(31..)
            .is_some_and(|rest| rest.starts_with("\",\"kind\":\""));
    assert!(ts_first, "a line starts with ts, then kind: {line}");
    assert!(
        !line.chars().any(disruptive),
        "a raw control or bidi character: {line:?}"
    );
    let name = v["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("kind is not a string: {line}"));
    let kind = schema
        .get(name)
        .unwrap_or_else(|| panic!("kind {name:?} is not in docs/JSON.md: {line}"));
    for (key, value) in object {
        let field = kind
            .field(key)
            .unwrap_or_else(|| panic!("field {key:?} is not documented for {name:?}: {line}"));
        if let Err(why) = check_type(&field.ty, value) {
            panic!("{key} ({}): {why}: {line}", field.ty);
        }
    }
    for field in kind.fields.iter().filter(|f| f.always) {
        assert!(
            object.contains_key(&field.name),
            "{name} without {}: {line}",
            field.name
        );
    }
    // listen's message is text or hex, never both.
    if kind.field("hex").is_some() && kind.field("text").is_some() {
        assert!(
            object.contains_key("text") != object.contains_key("hex"),
            "one of text and hex: {line}"
        );
    }
    v
}

/// Asserts `ts` (a checked `time`) is within a minute of now.
fn assert_recent(v: &Value) {
    let ts = v["ts"].as_str().expect("ts");
    let at = humantime::parse_rfc3339(ts).expect("ts");
    let skew = SystemTime::now()
        .duration_since(at)
        .unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(60), "ts {ts} is far from now");
}

/// Checks every line of `stdout`, returning them parsed.
fn check_lines(schema: &BTreeMap<String, Kind>, stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let v = check_line(schema, line);
            assert_recent(&v);
            v
        })
        .collect()
}

// ---------------------------------------------------------------- the document

#[test]
fn json_doc_examples_follow_its_schema() {
    let schema = schema();
    for (name, kind) in &schema {
        let example = kind
            .example
            .as_deref()
            .unwrap_or_else(|| panic!("{name} has no example line"));
        let v = check_line(&schema, example);
        assert_eq!(v["kind"], name.as_str(), "the example of {name}: {example}");
        assert!(
            kind.fields
                .first()
                .is_some_and(|f| f.name == "ts" && f.always),
            "{name}: ts first"
        );
        assert_eq!(
            kind.field("kind").map(|f| f.ty.clone()),
            Some(format!("\"{name}\"")),
            "{name}: its kind field"
        );
    }
}

#[test]
fn json_doc_quotes_the_numbers_the_code_uses() {
    let text = doc("docs/JSON.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for phrase in [
        format!("in the order heard (at most {MAX_ADDRS})"),
        format!("its protocol version ({})", wire::VERSION),
    ] {
        assert!(text.contains(&phrase), "docs/JSON.md should say {phrase:?}");
    }
}

#[test]
fn readme_points_to_the_json_doc_and_names_every_kind() {
    let readme = doc("README.md");
    let section = readme
        .split("## JSON output")
        .nth(1)
        .expect("a JSON output section in README.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    assert!(section.contains("docs/JSON.md"), "{section}");
    for (name, kind) in schema() {
        assert!(
            section.contains(&format!("`{name}`")),
            "README's JSON section should name {name} ({})",
            kind.subcommand
        );
    }
}

/// Every kind's lines, made by the output functions through every case:
/// text and raw, UTF-8 or not, gaps, link-local addresses; replies and
/// summaries with and without round trips; peers with and without an
/// interface.
fn lines_from_the_output_functions() -> Vec<String> {
    let at = SystemTime::now();
    let v4: SocketAddr = "192.0.2.7:48012".parse().unwrap();
    let scoped: SocketAddr = "[fe80::1%1]:40873".parse().unwrap();
    let (from_v4, from_scoped) = (PeerAddr::Inet(v4), PeerAddr::Inet(scoped));
    let unix = PeerAddr::Unix(UnixAddr::abstract_name(b"0001f"));
    let unnamed = PeerAddr::Unix(UnixAddr::Unnamed);
    let cred = Some(Cred { pid: 4242, uid: 0 });
    let mut listen = Vec::new();
    {
        let mut out = ListenOutput::new(&mut listen, Format::Json, false);
        let events = [
            Event::Text {
                at,
                from: &from_v4,
                cred: None,
                name: "laptop",
                body: b"hello",
                sender: 1,
                seq: 0,
            },
            Event::Text {
                at,
                from: &from_scoped,
                cred: None,
                name: "\u{1b}[2J",
                body: &[0xff],
                sender: 1,
                seq: 1,
            },
            Event::Text {
                at,
                from: &unix,
                cred,
                name: "app",
                body: b"over a Unix socket",
                sender: 2,
                seq: 0,
            },
            Event::Raw {
                at,
                from: &from_v4,
                cred: None,
                bytes: b"PING",
            },
            Event::Raw {
                at,
                from: &from_scoped,
                cred: None,
                bytes: &[0xff, 0x00],
            },
            Event::Raw {
                at,
                from: &unnamed,
                cred,
                bytes: b"from socat",
            },
            Event::Gap {
                at,
                from: &from_v4,
                sender: 1,
                first: 2,
                last: 5,
            },
        ];
        for event in &events {
            out.event(event).expect("write");
        }
        for (from, cred) in [(from_scoped.clone(), None), (unix.clone(), cred)] {
            let saved = Saved {
                at,
                from,
                cred,
                sender: 2,
                name: "laptop".into(),
                offered: "../\u{1b}report.pdf".into(),
                path: "/srv/in/report.pdf".into(),
                size: 1 << 20,
                hash: [0xaf; 32],
                elapsed: Duration::from_micros(412_337),
            };
            out.file(&Outcome::Saved(saved)).expect("write");
        }
        out.finish().expect("flush");
    }
    let mut lines: Vec<String> = String::from_utf8(listen)
        .expect("UTF-8")
        .lines()
        .map(String::from)
        .collect();
    for to in [from_scoped.clone(), unix.clone()] {
        let sent = Sent {
            at,
            path: "docs/\u{1b}report.pdf".into(),
            name: "\u{1b}report.pdf".into(),
            size: 1 << 20,
            sender: 2,
            elapsed: Duration::from_micros(413_020),
            hash: [0xaf; 32],
        };
        let mut line = Vec::new();
        udpmsg::output::files::write_sent_json(&mut line, &sent, &to).expect("write");
        lines.push(
            String::from_utf8(line)
                .expect("UTF-8")
                .trim_end()
                .to_string(),
        );
    }
    for from in [from_scoped, unix.clone()] {
        let pong = Pong {
            seq: 0,
            rtt: Duration::from_micros(141),
            from,
        };
        lines.push(ping_reply(&pong, at, true));
    }
    let none = Summary {
        sent: 1,
        ..Summary::default()
    };
    let some = Summary {
        sent: 2,
        received: 1,
        local_errors: 1,
        rtts_us: vec![141],
        min_us: Some(141),
        max_us: Some(141),
    };
    for summary in [none, some] {
        lines.push(ping_summary(&from_v4, &summary, at, true));
        lines.push(ping_summary(&unix, &summary, at, true));
    }
    let peer = |name: &str, interfaces: &[&str]| Peer {
        instance: 0x11ba_22d9_159b_6336,
        name: name.to_string(),
        addrs: vec![v4, scoped],
        rtt: Some(Duration::from_micros(143)),
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        version: wire::VERSION,
    };
    // One only heard announcing itself: no round trip.
    let announced = Peer {
        rtt: None,
        ..peer("loud", &["lo"])
    };
    let scan = Scan {
        peers: vec![peer("box", &["lo"]), peer("\u{202e}x", &[]), announced],
        ..Scan::default()
    };
    let mut heard = FirstHeard::default();
    heard.trace(&Trace::Heard {
        from: v4,
        name: "box",
        interface: "lo",
        rtt: Duration::from_micros(143),
    });
    lines.extend(
        discover_peers(&scan, &heard, at, true)
            .lines()
            .map(String::from),
    );
    lines.extend(watch_lines(at));
    lines.extend(chat_lines(at, v4));
    lines
}

/// `discover --watch`'s lines for every kind and reason, from its table
/// driven through them: up by hello (with a room) and by answer (a
/// link-local address, no interface known), an address added, a restart,
/// a goodbye and an expiry.
fn watch_lines(at: SystemTime) -> Vec<String> {
    use udpmsg::commands::watch::table::{Change, MAX_PEERS, SETTLE, Sighting, Table, Via};
    use udpmsg::output::watch::json_line;
    let t0 = std::time::Instant::now();
    let v4: SocketAddr = "192.0.2.7:47474".parse().unwrap();
    let scoped: SocketAddr = "[fe80::1%1]:47474".parse().unwrap();
    let sighting = |instance, name, addr, interface, via| Sighting {
        instance,
        name,
        port: 47474,
        version: wire::VERSION,
        addr,
        interface,
        via,
    };
    let hello = Via::Hello {
        lifetime: Duration::from_secs(9),
        room: "lab",
    };
    let mut lines = Vec::new();
    let mut emit = |c: Change<'_>| {
        let mut line = String::new();
        json_line(&mut line, &c, at);
        lines.push(line);
    };
    let mut table = Table::new(Duration::from_secs(1), MAX_PEERS);
    table.heard(&sighting(1, "ann", v4, "eth0", hello), t0, &mut emit);
    let answer = sighting(2, "\u{202e}x", scoped, "", Via::Answer);
    table.heard(&answer, t0, &mut emit);
    table.tick(t0 + SETTLE, &mut emit);
    let later = t0 + SETTLE * 2;
    let second = sighting(1, "ann", scoped, "eth0", Via::Answer);
    table.heard(&second, later, &mut emit);
    table.heard(&sighting(3, "ann", v4, "eth0", hello), later, &mut emit);
    table.goodbye(3, later, &mut emit);
    table.tick(later + Duration::from_secs(10), &mut emit);
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                v["kind"].as_str().unwrap(),
                v["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "up hello",
            "up answer",
            "changed addrs",
            "changed restarted",
            "down goodbye",
            "down expired"
        ],
        "{lines:#?}"
    );
    lines
}

/// Every chat kind through the chat's output: messages in text and not,
/// from a tagged name, joins, both reasons to leave, a rename (another
/// member's; this member's own has none), deliveries to members, one not
/// delivered, one to nobody (not delivered either).
fn chat_lines(at: SystemTime, from: SocketAddr) -> Vec<String> {
    use udpmsg::commands::chat::members::Who;
    use udpmsg::commands::chat::room::{Recipient, Sent, State};
    use udpmsg::commands::chat::{Event as Chat, Sink};
    use udpmsg::output::chat::{ChatOutput, Writer};
    let who = |name| Who {
        name,
        id: 0x59a2_b61d_0093_4c53,
        tagged: false,
    };
    let tagged = Who {
        tagged: true,
        ..who("bob")
    };
    let recipient = |name: &str, state| Recipient {
        instance: 7,
        name: name.to_string(),
        state,
    };
    let sent = |recipients: Vec<Recipient>, body: &[u8]| Sent {
        number: 1,
        at,
        name: "alice".to_string(),
        body: body.to_vec(),
        private: false,
        recipients,
    };
    let delivered = sent(vec![recipient("bob", State::Confirmed)], b"hello");
    let delivered_hex = sent(vec![recipient("bob", State::Confirmed)], b"\xff");
    let nobody = sent(vec![], b"anyone?");
    let missed = sent(
        vec![
            recipient("bob", State::Confirmed),
            recipient("carol", State::Missed),
        ],
        b"are you there",
    );
    let missed_hex = sent(vec![recipient("carol", State::Missed)], b"\xfe");
    let events = [
        Chat::Message {
            at,
            from,
            who: who("bob"),
            body: b"hello",
            sender: 1,
            seq: 0,
        },
        Chat::Message {
            at,
            from,
            who: tagged,
            body: b"\xff",
            sender: 2,
            seq: 1,
        },
        Chat::Gap {
            at,
            from,
            who: tagged,
            sender: 2,
            first: 3,
            last: 4,
        },
        Chat::Joined {
            at,
            who: who("carol"),
            addr: from,
        },
        Chat::Left {
            at,
            who: who("carol"),
            expired: true,
        },
        Chat::Left {
            at,
            who: tagged,
            expired: false,
        },
        Chat::Renamed {
            at,
            old: "bob",
            who: tagged,
            mine: false,
        },
        // This member's own: no line (said on stderr).
        Chat::Renamed {
            at,
            old: "carol",
            who: who("caroline"),
            mine: true,
        },
        Chat::Resolved {
            at,
            sent: &delivered,
            me: who("alice"),
        },
        Chat::Resolved {
            at,
            sent: &delivered_hex,
            me: who("alice"),
        },
        Chat::Resolved {
            at,
            sent: &nobody,
            me: who("alice"),
        },
        Chat::Resolved {
            at,
            sent: &missed,
            me: who("alice"),
        },
        Chat::Resolved {
            at,
            sent: &missed_hex,
            me: who("alice"),
        },
    ];
    let mut bytes = Vec::new();
    {
        let mut out = ChatOutput::new(Writer(&mut bytes), Format::Json);
        for event in &events {
            out.event(event).expect("write");
        }
    }
    String::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn json_doc_lists_exactly_the_fields_the_code_emits() {
    let schema = schema();
    let mut emitted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in lines_from_the_output_functions() {
        let v = check_line(&schema, &line);
        let kind = v["kind"].as_str().expect("kind").to_string();
        let keys = v.as_object().expect("object").keys().cloned();
        emitted.entry(kind).or_default().extend(keys);
    }
    let documented: BTreeMap<String, BTreeSet<String>> = schema
        .iter()
        .map(|(name, kind)| (name.clone(), kind.names()))
        .collect();
    assert_eq!(
        emitted, documented,
        "the fields each kind has in docs/JSON.md and in the output"
    );
}

// ---------------------------------------------------------------- real runs

/// A udpmsg Text as `send --ack` sends it, from sender `sender`.
fn acked_text(sender: u64, seq: u64, base: u64, name: &str, body: &[u8]) -> Vec<u8> {
    encoded(&Message::Text(Text {
        sender,
        seq,
        base,
        flags: FLAG_ACK,
        name,
        body,
    }))
}

#[test]
fn listen_json_lines_follow_the_schema() {
    if !isolate("listen_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    let l = Listener::start(&["--json"]);
    let dest = l.dest();
    let port = l.port().to_string();
    let mut lines = Vec::new();
    let mut next = || {
        let line = l.line();
        lines.push(line.clone());
        check_line(&schema, &line)
    };

    let run = udpmsg(&["send", &dest, "-n", "laptop", "hello", "world"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = next();
    assert_eq!(
        (&v["kind"], &v["text"]),
        (&"text".into(), &"hello world".into())
    );
    let run = udpmsg(
        &["send", "::1", "-p", &port, "-n", "six", "--hex", "ff 00"],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = next();
    assert_eq!((&v["kind"], &v["hex"]), (&"text".into(), &"ff00".into()));
    assert!(
        v["from"].as_str().expect("from").starts_with("[::1]:"),
        "{v}"
    );

    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.send_to(b"PING", dest.as_str()).expect("send");
    let v = next();
    assert_eq!((&v["kind"], &v["text"]), (&"raw".into(), &"PING".into()));
    assert_eq!(v["from"], peer.local_addr().expect("addr").to_string());
    peer.send_to(&[0xde, 0xad, 0xbe, 0xef], dest.as_str())
        .expect("send");
    let v = next();
    assert_eq!((&v["kind"], &v["hex"]), (&"raw".into(), &"deadbeef".into()));

    // A peer's name and text that would drive a terminal: escaped.
    let evil = acked_text(7, 0, 0, "\u{1b}[2J\u{202e}", "a\u{2028}b\u{9b}".as_bytes());
    peer.send_to(&evil, dest.as_str()).expect("send");
    let v = next();
    assert_eq!(v["name"], "\u{1b}[2J\u{202e}", "{v}");
    // The sender gave up on 1 and 2 (its base is 3): a gap, then 3.
    let after = acked_text(7, 3, 3, "x", b"after the gap");
    peer.send_to(&after, dest.as_str()).expect("send");
    let v = next();
    assert_eq!(
        (&v["kind"], &v["first"], &v["last"]),
        (&"gap".into(), &1.into(), &2.into())
    );
    assert_eq!(v["missing"], 2);
    let v = next();
    assert_eq!((&v["kind"], &v["seq"]), (&"text".into(), &3.into()));

    for line in &lines {
        assert_recent(&serde_json::from_str(line).expect("JSON"));
    }
}

#[test]
fn send_wait_json_lines_follow_the_schema() {
    if !isolate("send_wait_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    // A service that answers the question three ways: raw UTF-8, raw
    // bytes, and a udpmsg message.
    let service = UdpSocket::bind("127.0.0.1:0").expect("bind");
    service.set_read_timeout(Some(WAIT)).expect("timeout");
    let dest = service.local_addr().expect("addr").to_string();
    let answering = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (_, asker) = service.recv_from(&mut buf).expect("the question");
        for reply in [
            b"plain".to_vec(),
            vec![0xff, 0x00],
            acked_text(9, 0, 0, "server", b"an answer"),
        ] {
            service.send_to(&reply, asker).expect("reply");
        }
    });
    let run = udpmsg(
        &[
            "send", "--raw", &dest, "question", "--wait", "20s", "--count", "3", "--json",
        ],
        b"",
    );
    answering.join().expect("service");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    let kinds: Vec<&Value> = lines.iter().map(|v| &v["kind"]).collect();
    assert_eq!(kinds, ["raw", "raw", "text"]);
    assert_eq!(lines[1]["hex"], "ff00");
    assert_eq!(lines[2]["name"], "server");
    for line in &lines {
        assert_eq!(line["from"], dest.as_str());
        assert_recent(line);
    }
}

/// `send --file --json`: a `sent` line per file on stdout (nothing on
/// stderr: the line replaces the text one), each telling what the
/// listener's `file` line tells of the same file; `--json` goes with
/// `--wait` or `--file`, not alone.
#[test]
fn send_file_json_lines_follow_the_schema() {
    if !isolate("send_file_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    let src = Dir::new("json-sent-src");
    let dst = Dir::new("json-sent-dst");
    let files = [
        (src.path("a.txt"), b"hello\n".to_vec()),
        (src.path("b\u{1b}\u{202e}.bin"), vec![0x5a; 100_000]),
    ];
    for (path, bytes) in &files {
        std::fs::write(path, bytes).expect("write a file to send");
    }
    let listener = Listener::start(&["--save-dir", &dst.path(""), "--json"]);
    let dest = listener.dest();
    let run = udpmsg(
        &[
            "send",
            "--json",
            "--file",
            &files[0].0,
            "--file",
            &files[1].0,
            &dest,
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "the JSON lines replace the text ones");
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    for (v, (path, bytes)) in lines.iter().zip(&files) {
        assert_eq!(v["kind"], "sent", "{v}");
        assert_eq!(v["to"], dest.as_str(), "{v}");
        assert_eq!(v["path"], path.as_str(), "{v}");
        assert_eq!(v["size"], bytes.len() as u64, "{v}");
        assert_eq!(v["blake3"], blake3::hash(bytes).to_hex().as_str(), "{v}");
        let stored = check_line(&schema, &listener.line());
        assert_eq!(stored["kind"], "file", "{stored}");
        for field in ["file", "size", "blake3", "sender"] {
            assert_eq!(v[field], stored[field], "{field}: {v} {stored}");
        }
    }
    assert_eq!(lines[1]["file"], "b\u{1b}\u{202e}.bin");
    assert!(
        run.stdout.contains(r"b\u001b\u202e.bin"),
        "escaped: {}",
        run.stdout
    );

    let run = udpmsg(&["send", "--json", &dest, "hi"], b"");
    assert_eq!(run.code, 2, "--json alone: {}", run.stderr);
    assert!(
        run.stderr.contains("--wait <DUR>|--file <PATH>"),
        "{}",
        run.stderr
    );
}

#[test]
fn ping_json_lines_follow_the_schema() {
    if !isolate("ping_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    let l = Listener::start(&["--bind", "127.0.0.1"]);
    let run = udpmsg_within(
        &["ping", &l.dest(), "-c", "3", "-i", "0", "--json"],
        b"",
        WAIT,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    let kinds: Vec<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["pong", "pong", "pong", "summary"], "{}", run.stdout);
    let summary = &lines[3];
    assert_eq!(summary["to"], l.dest().as_str());
    assert_eq!(
        (&summary["sent"], &summary["received"]),
        (&3.into(), &3.into())
    );
    // The summary's figures are the replies' round trips.
    let rtts: Vec<f64> = lines[..3]
        .iter()
        .map(|v| v["rtt_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(
        Some(summary["min_ms"].as_f64().unwrap()),
        rtts.iter().copied().reduce(f64::min)
    );
    assert_eq!(
        Some(summary["max_ms"].as_f64().unwrap()),
        rtts.iter().copied().reduce(f64::max)
    );

    // Nobody answers (a socket that never replies): a summary without
    // round trips, and exit 4.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = silent.local_addr().expect("addr").to_string();
    let run = udpmsg_within(
        &["ping", &to, "-c", "1", "-W", "100ms", "--json"],
        b"",
        WAIT,
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert_eq!(lines[0]["kind"], "summary");
    assert_eq!(lines[0]["loss_pct"], 100.0);
    assert!(lines[0].get("min_ms").is_none(), "{}", lines[0]);
}

#[test]
fn discover_json_lines_follow_the_schema() {
    if !isolate("discover_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    let l = Listener::start(&["-n", "box"]);
    let port = l.port().to_string();
    let before = SystemTime::now();
    let args = [
        "discover",
        "--interface",
        "lo",
        "-p",
        &port,
        "--expect",
        "1",
        "--json",
    ];
    let run = udpmsg(&args, b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    let peer = &lines[0];
    assert_eq!(
        (&peer["kind"], &peer["name"]),
        (&"peer".into(), &"box".into())
    );
    assert_eq!(peer["addrs"][0], format!("127.0.0.1:{port}"));
    assert_eq!(peer["interface"], "lo");
    // ts is when it was heard: not before the scan began (to the ms).
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let ts = humantime::parse_rfc3339(peer["ts"].as_str().unwrap()).unwrap();
    assert!(
        ms(ts) >= ms(before),
        "ts {} before the scan began",
        peer["ts"]
    );
}

#[test]
fn watch_json_lines_follow_the_schema() {
    if !isolate("watch_json_lines_follow_the_schema") {
        return;
    }
    let schema = schema();
    let l = Listener::start(&["-n", "box"]);
    let port = l.port();
    let presence = (port + 1).to_string();
    // Probes go to lo (the listener answers); a hello comes to the
    // presence port from "ann", and her goodbye.
    let mut watcher = command(&[
        "discover",
        "--watch",
        "--json",
        "--interface",
        "lo",
        "-p",
        &port.to_string(),
        "--timeout",
        "20s",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn the watcher");
    let out = common::line_reader(watcher.stdout.take().expect("stdout"), None);
    let err = common::line_reader(watcher.stderr.take().expect("stderr"), None);
    let started = err.recv_timeout(WAIT).expect("the watcher's first line");
    assert!(started.starts_with("udpmsg: watching"), "{started}");
    let line = |what: &str| {
        let line = out
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        check_line(&schema, &line)
    };
    let up = line("box up");
    assert_eq!((&up["kind"], &up["name"]), (&"up".into(), &"box".into()));
    assert_eq!(up["addrs"][0], format!("127.0.0.1:{port}"));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let hello = encoded(&Message::Hello(wire::Hello {
        instance: 9,
        port,
        version: wire::VERSION,
        lifetime_ms: 60_000,
        name: "ann",
        room: "lab",
    }));
    socket
        .send_to(&hello, format!("127.0.0.1:{presence}"))
        .expect("send hello");
    let up = line("ann up");
    assert_eq!(
        (&up["reason"], &up["room"]),
        (&"hello".into(), &"lab".into())
    );
    let goodbye = encoded(&Message::Goodbye(wire::Goodbye { instance: 9 }));
    socket
        .send_to(&goodbye, format!("127.0.0.1:{presence}"))
        .expect("send goodbye");
    let down = line("ann down");
    assert_eq!(
        (&down["kind"], &down["reason"]),
        (&"down".into(), &"goodbye".into())
    );
    let _ = watcher.kill();
    let _ = watcher.wait();
}

// ---------------------------------------------------------------- link-local

/// Gives interface `v0` (a veth whose peer is `v1`) the link-local address
/// fe80::1 and waits (bounded) until it can be used; returns v0's index.
fn link_local_v0() -> String {
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
    let mut seen = String::new();
    let ready = poll(WAIT, || {
        let link = run_ok("ip", &["-o", "link", "show", "v0"]);
        let local = run_ok("ip", &["-6", "route", "show", "table", "local"]);
        seen = format!("{link} {local}");
        (link.contains("LOWER_UP") && local.contains("local fe80::1 dev v0")).then_some(())
    });
    assert!(ready.is_some(), "v0 never became ready: {seen}");
    let link = run_ok("ip", &["-o", "link", "show", "v0"]);
    link.split(':').next().expect("index").trim().to_string()
}

#[test]
fn link_local_scopes_are_shown_by_interface_name_in_text_and_json() {
    if !isolate("link_local_scopes_are_shown_by_interface_name_in_text_and_json") {
        return;
    }
    let index = link_local_v0();
    let schema = schema();
    let json = Listener::start(&["--json", "-n", "box"]);
    let port = json.port().to_string();
    // By number, as a user may write it: shown by name all the same.
    let numeric = format!("[fe80::1%{index}]:{port}");
    let by_name = format!("[fe80::1%v0]:{port}");

    let run = udpmsg(&["send", &numeric, "-n", "me", "hi"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = check_line(&schema, &json.line());
    let from = v["from"].as_str().expect("from");
    assert!(from.starts_with("[fe80::1%v0]:"), "{v}");

    let run = udpmsg(&["ping", &numeric, "-c", "1", "--json"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines[0]["from"], by_name.as_str(), "{}", run.stdout);
    assert_eq!(lines[1]["to"], by_name.as_str(), "{}", run.stdout);

    let run = udpmsg(&["ping", &numeric, "-c", "1"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("reply from {by_name}: seq=0 rtt=")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("--- {by_name} udpmsg ping ---")),
        "{}",
        run.stdout
    );

    // Text output, and its -v notices.
    drop(json);
    let text = Listener::start_raw(&["listen", "--port", &port, "-v"]);
    let run = udpmsg(&["send", &numeric, "-n", "me", "hi"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = text.line();
    assert!(line.contains(" [fe80::1%v0]:"), "{line}");
    let peer = UdpSocket::bind(format!("[fe80::1%{index}]:0")).expect("bind");
    peer.send_to(b"UDPM\x09\x00", format!("[fe80::1%{index}]:{port}"))
        .expect("send");
    let notice = text
        .try_err_line(WAIT)
        .expect("a -v line for the malformed datagram");
    assert!(
        notice.contains("dropped malformed datagram from [fe80::1%v0]:"),
        "{notice}"
    );

    // And an error about the destination.
    drop(text);
    let run = run_captured(command(&["ping", &numeric, "-c", "1"]), b"", WAIT, "ping");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("nothing is listening on {by_name}")),
        "{}",
        run.stderr
    );
}

/// Over a Unix-domain socket: listen's lines (from a udpmsg sender, with
/// its autobound name, and from socat, unnamed; both with `pid` and
/// `uid`), ping's pongs and summary, and `send --wait` to an echoing one.
#[test]
fn unix_socket_json_lines_follow_the_schema() {
    if !isolate("unix_socket_json_lines_follow_the_schema") {
        return;
    }
    /// The listener, killed, and its directory removed, however the test ends.
    struct Cleanup(std::process::Child, std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let schema = schema();
    let dir = std::env::temp_dir().join(format!("um-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("l.sock").display().to_string();
    let target = format!("unix:{path}");
    let child = command(&["listen", "--bind", &target, "--json", "--echo"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn listen");
    let mut listener = Cleanup(child, dir);
    let out = common::line_reader(listener.0.stdout.take().expect("stdout"), None);
    let err = common::line_reader(listener.0.stderr.take().expect("stderr"), None);
    let said = err.recv_timeout(WAIT).expect("listening line");
    assert!(said.contains("listening on unix:"), "{said}");
    let next = || {
        let line = out.recv_timeout(WAIT).expect("a line");
        let v = check_line(&schema, &line);
        assert_recent(&v);
        v
    };

    let run = udpmsg(&["send", &target, "-n", "app", "hello"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = next();
    assert_eq!((&v["kind"], &v["text"]), (&"text".into(), &"hello".into()));
    assert!(
        v["from"].as_str().is_some_and(|f| f.starts_with("unix:@")),
        "{v}"
    );
    assert!(v["pid"].is_u64() && v["uid"].is_u64(), "{v}");

    let socat = run_captured(
        {
            let mut c = std::process::Command::new("socat");
            c.args(["-", &format!("UNIX-SENDTO:{path}")]);
            c
        },
        &[0xff, 0x00],
        WAIT,
        "socat",
    );
    assert_eq!(socat.code, 0, "{}", socat.stderr);
    let v = next();
    assert_eq!(
        (&v["kind"], &v["hex"]),
        (&"raw".into(), &"ff00".into()),
        "{v}"
    );
    assert_eq!(v["from"], "unix:");
    assert!(v["pid"].is_u64() && v["uid"].is_u64(), "{v}");

    let run = udpmsg(&["ping", &target, "-c", "2", "-i", "0.01", "--json"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert_eq!(lines[0]["from"], target.as_str());
    assert_eq!(lines[2]["to"], target.as_str());

    let run = udpmsg(
        &[
            "send", "--raw", &target, "echo me", "--wait", "5s", "-c", "1", "--json",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = check_lines(&schema, &run.stdout);
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert_eq!(lines[0]["from"], target.as_str());
    assert!(lines[0]["pid"].is_u64(), "{}", lines[0]);
    let v = next();
    assert_eq!(v["text"], "echo me");
}
