//! `udpmsg send`'s words on stderr: a stdin line that did not go, and
//! `send --ack`'s closing summary.

use super::fmt_addr;
use crate::commands;
use crate::commands::deliver::Report;
use crate::net::PeerAddr;
use crate::util::words::plural;
use std::fmt::Write as _;

/// The line for stdin line `line` (from 1) that did not go, and why
/// (a message given as arguments fails the send instead: it has no number).
pub fn line_not_sent(line: u64, e: &commands::Error) -> String {
    format!("udpmsg: line {line} not sent: {e}")
}

/// One line: how many messages the listener confirmed, how many not, and
/// what else happened on the way (without the `udpmsg: ` prefix).
pub fn ack_summary(dest: &PeerAddr, report: &Report) -> String {
    let mut s = format!(
        "{} of {} messages confirmed by {}, {} not confirmed",
        report.confirmed,
        report.sent,
        fmt_addr(dest),
        report.unconfirmed
    );
    if let Some(signal) = report.interrupted {
        let what = crate::util::words::signal_words(signal);
        let _ = write!(s, "; {what}");
        if report.input_left {
            s.push_str(" before the input ended");
        }
    } else if report.input_left {
        s.push_str("; the input did not end");
    }
    if report.too_large > 0 {
        let lines = plural(report.too_large, "line", "lines");
        let _ = write!(
            s,
            "; {} {lines} too large for one datagram, not sent",
            report.too_large
        );
    }
    if report.local_errors > 0 {
        let _ = write!(
            s,
            "; {} {} refused by this system (firewall or route), retried",
            report.local_errors,
            plural(report.local_errors, "send", "sends")
        );
    }
    if report.port_closed > 0 {
        let _ = write!(
            s,
            "; the port was closed for a while ({} {} refused), retried",
            report.port_closed,
            plural(report.port_closed, "datagram", "datagrams")
        );
    }
    if report.restarts > 0 {
        let _ = write!(
            s,
            "; the listener changed {} {} (restarted?), unconfirmed messages were sent again",
            report.restarts,
            plural(report.restarts, "time", "times")
        );
    }
    s
}

/// The hint after a `send --ack` or `ping` that nothing answered, as
/// `discover` hints when nobody answered: a listener with a key is silent
/// to what is not sealed with that same key (`keyed`: whether this sender
/// has a key).
pub fn key_hint(keyed: bool) -> &'static str {
    if keyed {
        "udpmsg: hint: a listener answers sealed datagrams only when its --key-file holds the same key"
    } else {
        "udpmsg: hint: a listener started with --key-file answers only datagrams sealed with its key: give the same --key-file here"
    }
}
