//! The one-line summary `udpmsg listen` says on stderr when it stops.

use crate::commands::listen::{Stats, Stop};
use crate::util::words::plural;
use std::fmt::Write as _;

/// The one-line summary a listener prints on stderr when it stops.
pub fn listen_summary(stop: Stop, stats: &Stats) -> String {
    let why = match stop {
        Stop::Count => "count reached".to_string(),
        Stop::Timeout => "timeout".to_string(),
        Stop::Signal(n @ (libc::SIGINT | libc::SIGTERM | libc::SIGHUP)) => {
            crate::util::words::signal_words(n).to_string()
        }
        Stop::Signal(n) => format!("signal {n}"),
        Stop::OutputClosed => "output closed".to_string(),
        Stop::OutputFailed => "output failed".to_string(),
    };
    let mut s = format!(
        "udpmsg listen: {why}: {} received, {} raw, {} malformed",
        stats.received, stats.raw, stats.malformed
    );
    for (n, one, many) in [
        (stats.sealed, "sealed (no key)", "sealed (no key)"),
        (stats.unsealed, "unsealed refused", "unsealed refused"),
        (stats.raw_refused, "raw refused", "raw refused"),
        (stats.forged, "forged or wrong key", "forged or wrong key"),
        (stats.replayed, "replayed", "replayed"),
        (stats.stale, "stale", "stale"),
        (stats.pings, "ping answered", "pings answered"),
        (stats.pings_ignored, "ping ignored", "pings ignored"),
        (stats.answers, "probe answered", "probes answered"),
        (stats.probes_ignored, "probe ignored", "probes ignored"),
        (stats.acks, "ack sent", "acks sent"),
        (stats.echoed, "echoed", "echoed"),
        (stats.echoes_ignored, "not echoed", "not echoed"),
        (
            stats.duplicates,
            "duplicate suppressed",
            "duplicates suppressed",
        ),
        (
            stats.missing,
            "message missing (gaps)",
            "messages missing (gaps)",
        ),
        (stats.files, "file stored", "files stored"),
        (stats.files_failed, "file not stored", "files not stored"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {}", plural(n, one, many));
        }
    }
    if stats.reply_errors > 0 {
        let n = stats.reply_errors;
        let _ = write!(s, ", {n} {} failed", plural(n, "reply", "replies"));
    }
    if stats.unanswerable > 0 {
        let _ = write!(
            s,
            ", {} not answered (sender without a name)",
            stats.unanswerable
        );
    }
    match stats.kernel_drops {
        Some(n) => {
            let _ = write!(s, ", {n} dropped by the kernel");
        }
        None => s.push_str(", kernel drops unknown"),
    }
    s
}
