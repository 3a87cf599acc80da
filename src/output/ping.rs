//! `udpmsg ping`'s reply lines and summary, as text or JSON Lines (kinds
//! `pong` and `summary`, docs/JSON.md).

use super::{Timestamp, fmt_addr, rtt_ms, us_as_ms};
use crate::commands::ping::{Pong, Summary};
use crate::net::PeerAddr;
use serde::Serialize;
use std::time::SystemTime;

/// One line per ping reply, which arrived at `at`.
pub fn ping_reply(reply: &Pong, at: SystemTime, json: bool) -> String {
    if json {
        return to_json(&PongLine {
            ts: Timestamp(at).to_string(),
            kind: "pong",
            from: fmt_addr(&reply.from).to_string(),
            seq: reply.seq,
            rtt_ms: rtt_ms(reply.rtt),
        });
    }
    format!(
        "reply from {}: seq={} rtt={:.3} ms",
        fmt_addr(&reply.from),
        reply.seq,
        rtt_ms(reply.rtt)
    )
}

/// The summary after pinging `dest`, made at `at`: text lines, or one
/// JSON object.
pub fn ping_summary(dest: &PeerAddr, summary: &Summary, at: SystemTime, json: bool) -> String {
    let p50 = summary.percentile_us(50.0);
    let p99 = summary.percentile_us(99.0);
    if json {
        return to_json(&SummaryLine {
            ts: Timestamp(at).to_string(),
            kind: "summary",
            to: fmt_addr(dest).to_string(),
            sent: summary.sent,
            received: summary.received,
            local_errors: summary.local_errors,
            loss_pct: (summary.loss_pct() * 100.0).round() / 100.0,
            min_ms: summary.min_us.map(us_as_ms),
            p50_ms: p50.map(us_as_ms),
            p99_ms: p99.map(us_as_ms),
            max_ms: summary.max_us.map(us_as_ms),
        });
    }
    let ms = |us: Option<u64>| us.map_or("-".to_string(), |u| format!("{:.3}", us_as_ms(u)));
    // Shown only when some occurred: the usual summary stays as ping's.
    let local = match summary.local_errors {
        0 => String::new(),
        n => format!(", {n} not sent (local errors)"),
    };
    format!(
        "--- {} udpmsg ping ---\n{} sent, {} received, {:.1}% loss{local}\nrtt min/p50/p99/max = {}/{}/{}/{} ms",
        fmt_addr(dest),
        summary.sent,
        summary.received,
        summary.loss_pct(),
        ms(summary.min_us),
        ms(p50),
        ms(p99),
        ms(summary.max_us)
    )
}

/// `ping --json`'s line per reply.
#[derive(Serialize)]
struct PongLine {
    ts: String,
    kind: &'static str,
    from: String,
    seq: u64,
    rtt_ms: f64,
}

/// `ping --json`'s last line. The round-trip figures are absent when no
/// reply came.
#[derive(Serialize)]
struct SummaryLine {
    ts: String,
    kind: &'static str,
    to: String,
    sent: u64,
    received: u64,
    local_errors: u64,
    loss_pct: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ms: Option<f64>,
}

/// Serializing these plain structs cannot fail.
fn to_json(line: &impl Serialize) -> String {
    serde_json::to_string(line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trips_are_milliseconds_to_the_microsecond() {
        let pong = Pong {
            seq: 3,
            rtt: Duration::from_nanos(1_234_567),
            from: PeerAddr::Inet("[::1]:9".parse().unwrap()),
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        assert_eq!(
            ping_reply(&pong, at, true),
            r#"{"ts":"2027-01-15T08:00:00.123Z","kind":"pong","from":"[::1]:9","seq":3,"rtt_ms":1.234}"#
        );
        assert_eq!(
            ping_reply(&pong, at, false),
            "reply from [::1]:9: seq=3 rtt=1.234 ms"
        );
    }

    #[test]
    fn a_summary_without_replies_has_no_round_trip_fields() {
        let at = SystemTime::UNIX_EPOCH;
        let summary = Summary {
            sent: 2,
            ..Summary::default()
        };
        let dest = PeerAddr::Inet("127.0.0.1:9".parse().unwrap());
        assert_eq!(
            ping_summary(&dest, &summary, at, true),
            r#"{"ts":"1970-01-01T00:00:00.000Z","kind":"summary","to":"127.0.0.1:9","sent":2,"received":0,"local_errors":0,"loss_pct":100.0}"#
        );
    }
}
