//! `udpmsg ping`'s reply lines and summary.

use crate::commands::ping::{Pong, Summary};
use std::net::SocketAddr;

/// One line per ping reply.
pub fn ping_reply(reply: &Pong, json: bool) -> String {
    let us = reply.rtt.as_micros() as u64;
    if json {
        serde_json::json!({
            "from": reply.from.to_string(),
            "seq": reply.seq,
            "rtt_us": us,
        })
        .to_string()
    } else {
        format!(
            "reply from {}: seq={} rtt={:.3} ms",
            reply.from,
            reply.seq,
            us as f64 / 1000.0
        )
    }
}

/// The summary after pinging: text lines, or one JSON object.
pub fn ping_summary(dest: SocketAddr, summary: &Summary, json: bool) -> String {
    let p50 = summary.percentile_us(50.0);
    let p99 = summary.percentile_us(99.0);
    if json {
        return serde_json::json!({
            "summary": true,
            "to": dest.to_string(),
            "sent": summary.sent,
            "received": summary.received,
            "local_errors": summary.local_errors,
            "loss_pct": (summary.loss_pct() * 100.0).round() / 100.0,
            "min_us": summary.min_us,
            "p50_us": p50,
            "p99_us": p99,
            "max_us": summary.max_us,
        })
        .to_string();
    }
    let ms = |us: Option<u64>| us.map_or("-".to_string(), |u| format!("{:.3}", u as f64 / 1000.0));
    // Shown only when some occurred: the usual summary stays as ping's.
    let local = match summary.local_errors {
        0 => String::new(),
        n => format!(", {n} not sent (local errors)"),
    };
    format!(
        "--- {dest} udpmsg ping ---\n{} sent, {} received, {:.1}% loss{local}\nrtt min/p50/p99/max = {}/{}/{}/{} ms",
        summary.sent,
        summary.received,
        summary.loss_pct(),
        ms(summary.min_us),
        ms(p50),
        ms(p99),
        ms(summary.max_us)
    )
}
