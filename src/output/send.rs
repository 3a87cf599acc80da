//! `udpmsg send --ack`'s closing summary.

use super::fmt_addr;
use crate::commands::deliver::Report;
use crate::net::PeerAddr;
use std::fmt::Write as _;

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
        let lines = if report.too_large == 1 {
            "line"
        } else {
            "lines"
        };
        let _ = write!(
            s,
            "; {} {lines} too large for one datagram, not sent",
            report.too_large
        );
    }
    if report.local_errors > 0 {
        let _ = write!(
            s,
            "; {} sends refused by this system (firewall or route), retried",
            report.local_errors
        );
    }
    if report.port_closed > 0 {
        let _ = write!(
            s,
            "; the port was closed for a while ({} datagrams refused), retried",
            report.port_closed
        );
    }
    if report.restarts > 0 {
        let _ = write!(
            s,
            "; the listener changed {} time(s) (restarted?), unconfirmed messages were sent again",
            report.restarts
        );
    }
    s
}
