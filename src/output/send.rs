//! `udpmsg send`'s words on stderr: a stdin line that did not go, and
//! `send --ack`'s closing summary.

use super::fmt_addr;
use crate::commands;
use crate::commands::deliver::Report;
use crate::net::PeerAddr;
use crate::util::words::plural;
use std::fmt::Write as _;
use std::time::Duration;

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
    // A listener that went away is said on a line of its own (`gone_line`).
    if report.port_closed > 0 && report.listener_gone().is_none() {
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

/// The line saying the listener went away: its port was closed (after it
/// had answered) for `closed_for` when the send ended, nothing answering
/// since (without the `udpmsg: ` prefix).
pub fn gone_line(dest: &PeerAddr, closed_for: Duration) -> String {
    format!(
        "the listener at {} went away: its port has been closed for {:.1} s and nothing answered",
        fmt_addr(dest),
        closed_for.as_secs_f64()
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn dest() -> PeerAddr {
        "127.0.0.1:9".parse::<SocketAddr>().expect("addr").into()
    }

    #[test]
    fn a_closed_port_is_a_while_in_the_summary_unless_the_listener_went_away() {
        let restarted = Report {
            sent: 3,
            confirmed: 3,
            port_closed: 2,
            restarts: 1,
            ..Report::default()
        };
        assert_eq!(
            ack_summary(&dest(), &restarted),
            "3 of 3 messages confirmed by 127.0.0.1:9, 0 not confirmed; the port was closed \
             for a while (2 datagrams refused), retried; the listener changed 1 time \
             (restarted?), unconfirmed messages were sent again"
        );
        let gone = Report {
            sent: 3,
            confirmed: 1,
            unconfirmed: 2,
            port_closed: 40,
            closed_for: Some(Duration::from_secs(4)),
            input_left: true,
            ..Report::default()
        };
        assert_eq!(gone.listener_gone(), Some(Duration::from_secs(4)));
        assert_eq!(
            ack_summary(&dest(), &gone),
            "1 of 3 messages confirmed by 127.0.0.1:9, 2 not confirmed; the input did not end"
        );
        assert_eq!(
            gone_line(&dest(), Duration::from_millis(4003)),
            "the listener at 127.0.0.1:9 went away: its port has been closed for 4.0 s and \
             nothing answered"
        );
        // Closed, but every message confirmed: nothing went away.
        let confirmed = Report {
            unconfirmed: 0,
            ..gone
        };
        assert_eq!(confirmed.listener_gone(), None);
    }
}
