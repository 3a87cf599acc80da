//! `udpmsg chat`'s events as JSON Lines (docs/JSON.md): one struct per
//! kind, texts as `text` or, when not UTF-8, `hex`.

use super::{Shown, unconfirmed};
use crate::commands::chat::Event;
use crate::commands::chat::room::Sent;
use crate::output::{Timestamp, fmt_addr};
use crate::util::hex::{Hex, Id};
use serde::Serialize;
use std::time::SystemTime;

/// `ts` of a JSON line.
fn ts(at: SystemTime) -> String {
    Timestamp(at).to_string()
}

/// A message's text, or its bytes as hex when they are not UTF-8.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

impl<'a> Body<'a> {
    fn of(body: &'a [u8]) -> Self {
        match std::str::from_utf8(body) {
            Ok(text) => Body {
                text: Some(text),
                hex: None,
            },
            Err(_) => Body {
                text: None,
                hex: Some(Hex(body).to_string()),
            },
        }
    }
}

#[derive(Serialize)]
struct MessageLine<'a> {
    ts: String,
    kind: &'static str,
    from: String,
    name: String,
    #[serde(flatten)]
    body: Body<'a>,
    sender: String,
    seq: u64,
}

#[derive(Serialize)]
struct GapLine {
    ts: String,
    kind: &'static str,
    from: String,
    sender: String,
    first: u64,
    last: u64,
    missing: u64,
}

#[derive(Serialize)]
struct MemberLine {
    ts: String,
    kind: &'static str,
    name: String,
    instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct RenamedLine<'a> {
    ts: String,
    kind: &'static str,
    name: String,
    previous_name: &'a str,
    instance: String,
}

#[derive(Serialize)]
struct DeliveryLine<'a> {
    ts: String,
    kind: &'static str,
    number: u64,
    #[serde(flatten)]
    body: Body<'a>,
    members: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unconfirmed: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// One event as a JSON line; `None` for what is not one of the chat's
/// kinds (`/who`, hints, this member's own messages and renames).
pub(super) fn json_line(event: &Event<'_>) -> Option<String> {
    let line = match event {
        Event::Message {
            at,
            from,
            who,
            body,
            sender,
            seq,
        } => serde_json::to_string(&MessageLine {
            ts: ts(*at),
            kind: "message",
            from: fmt_addr(*from).to_string(),
            name: Shown(*who).to_string(),
            body: Body::of(body),
            sender: Id(*sender).to_string(),
            seq: *seq,
        }),
        Event::Gap {
            at,
            from,
            sender,
            first,
            last,
            ..
        } => serde_json::to_string(&GapLine {
            ts: ts(*at),
            kind: "gap",
            from: fmt_addr(*from).to_string(),
            sender: Id(*sender).to_string(),
            first: *first,
            last: *last,
            missing: last - first + 1,
        }),
        Event::Joined { at, who, addr } => serde_json::to_string(&MemberLine {
            ts: ts(*at),
            kind: "joined",
            name: Shown(*who).to_string(),
            instance: Id(who.id).to_string(),
            from: Some(fmt_addr(*addr).to_string()),
            reason: None,
        }),
        Event::Left { at, who, expired } => serde_json::to_string(&MemberLine {
            ts: ts(*at),
            kind: "left",
            name: Shown(*who).to_string(),
            instance: Id(who.id).to_string(),
            from: None,
            reason: Some(if *expired { "expired" } else { "goodbye" }),
        }),
        Event::Renamed {
            at,
            old,
            who,
            mine: false,
        } => serde_json::to_string(&RenamedLine {
            ts: ts(*at),
            kind: "renamed",
            name: Shown(*who).to_string(),
            previous_name: old,
            instance: Id(who.id).to_string(),
        }),
        Event::Resolved { at, sent, .. } => serde_json::to_string(&delivery_line(*at, sent)),
        Event::Sent { .. }
        | Event::Renamed { mine: true, .. }
        | Event::Members { .. }
        | Event::Note(_) => {
            return None;
        }
    };
    // Serializing these plain structs cannot fail.
    line.ok()
}

fn delivery_line(at: SystemTime, sent: &Sent) -> DeliveryLine<'_> {
    let members = sent.recipients.iter().map(|r| r.name.as_str()).collect();
    let unconfirmed = unconfirmed(sent);
    let delivered = sent.delivered();
    DeliveryLine {
        ts: ts(at),
        kind: if delivered {
            "delivered"
        } else {
            "not_delivered"
        },
        number: sent.number,
        body: Body::of(&sent.body),
        members,
        unconfirmed: (!delivered).then_some(unconfirmed),
        reason: (!delivered).then_some(if sent.nobody() {
            "nobody"
        } else {
            "unconfirmed"
        }),
    }
}
