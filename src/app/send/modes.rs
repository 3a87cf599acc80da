//! The three ways `send` runs once its sender and source are ready
//! (fire-and-forget, `--ack`, `--wait`), each ending in an exit code.

use super::Info;
use crate::cli::SendArgs;
use crate::commands;
use crate::commands::ask;
use crate::commands::deliver::{self, Delivery};
use crate::commands::listen::is_closed_pipe;
use crate::commands::send::{self, Sender};
use crate::commands::source::Source;
use crate::error::{Error, exit};
use crate::net::PeerAddr;
use crate::output::{self, Format, ListenOutput};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Patience};
use std::io;

/// `send --ack`: every message confirmed, or exit 4 with a summary.
/// Ctrl-C, SIGTERM or SIGHUP ends it with the same summary (exit 0 only when every
/// message read so far was confirmed). A listener whose port stayed closed
/// for [`deliver::GONE_AFTER`] ends it too: a line saying it went away,
/// the summary, exit 4. A stdin line too large for one
/// datagram is reported and skipped, the others still go, and the end is
/// the summary and exit 2 (as `send` without `--ack` ends).
pub(super) fn send_confirmed(
    args: &SendArgs,
    sender: Sender,
    source: &mut dyn Source,
    shown: &PeerAddr,
    keyed: bool,
    info: Info,
) -> Result<u8, crate::commands::Error> {
    let config = deliver::Config {
        timeout: args.timeout.unwrap_or(deliver::DEFAULT_TIMEOUT),
        patience: Patience {
            retries: args.retries,
            time: MESSAGE_PATIENCE,
        },
        catch_signals: true,
    };
    let mut skipped = |line: u64, e: &commands::Error| {
        eprintln!("{}", output::send::line_not_sent(line, e));
    };
    let report = Delivery::new(sender, source, config, &mut skipped).and_then(Delivery::run)?;
    let summary = format!("udpmsg: {}", output::send::ack_summary(shown, &report));
    // Not informational: it says why messages were not confirmed.
    if let Some(closed_for) = report.listener_gone() {
        eprintln!("udpmsg: {}", output::send::gone_line(shown, closed_for));
    }
    if report.too_large > 0 {
        // Not informational: it says why the exit code is 2.
        eprintln!("{summary}");
        return Ok(exit::USAGE);
    }
    let complete = report.unconfirmed == 0 && !report.input_left;
    let eventful = report.interrupted.is_some()
        || report.local_errors > 0
        || report.restarts > 0
        || report.port_closed > 0;
    if complete && !eventful {
        return Ok(exit::OK);
    }
    if report.unconfirmed == 0 {
        // Everything confirmed: what happened on the way is information.
        info.line(summary);
        Ok(exit::OK)
    } else {
        // Not informational: it says what was not confirmed.
        eprintln!("{summary}");
        // Nothing at all came back (and the wait was not cut short): a
        // keyed listener is silent to what is not sealed with its key.
        // (A listener that went away had answered: the key is not why.)
        if report.confirmed == 0 && report.interrupted.is_none() && report.listener_gone().is_none()
        {
            info.line(output::send::key_hint(keyed));
        }
        Ok(exit::UNCONFIRMED)
    }
}

/// `send --wait`: every message of `source` sent, every reply shown on
/// stdout as `listen` shows it; exit 4 when none came (or fewer than
/// `--count`). Stdin lines that cannot go are reported and skipped, as
/// without `--wait`; when `source` is one message (the arguments, or all
/// of stdin as one datagram: `one`) that cannot go, the send fails as
/// without `--wait`, at once.
pub(super) fn send_waiting(
    args: &SendArgs,
    wait: std::time::Duration,
    sender: Sender,
    source: &mut dyn Source,
    one: bool,
    failed: impl FnOnce(crate::commands::Error) -> Error,
) -> Result<u8, Error> {
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let mut out = ListenOutput::new(io::stdout().lock(), format, false);
    let config = ask::Config {
        wait,
        count: args.count,
        raw: args.raw,
        catch_signals: true,
    };
    let mut unsent = Unsent::default();
    // The one message's error: it has no line number to be reported by.
    let mut lost = None;
    let result = ask::ask(sender, source, config, &mut out, &mut |line, e| {
        if one {
            lost = Some(e);
            return;
        }
        match e {
            commands::Error::Io(_) => unsent.failed += 1,
            _ => unsent.refused += 1,
        };
        eprintln!("{}", output::send::line_not_sent(line, &e));
    });
    let asked = match result {
        Ok(asked) => asked,
        Err(commands::Error::Output(e)) if is_closed_pipe(&e) => return Ok(exit::OK),
        Err(commands::Error::Output(e)) => return Err(Error::Output(e)),
        Err(e) => return Err(failed(e)),
    };
    if let Some(e) = lost {
        return Err(failed(e));
    }
    unsent.end(asked.sent)?;
    if asked.sent == 0 {
        // Not informational: it says why the exit code is 4.
        eprintln!("udpmsg: the input was empty: nothing was sent, so no reply came");
        return Ok(exit::UNCONFIRMED);
    }
    let wanted = args.count.unwrap_or(1);
    if asked.replies >= wanted {
        return Ok(exit::OK);
    }
    // Not informational: it says why the exit code is 4.
    let waited = match asked.interrupted {
        Some(_) => "before the interrupt".to_string(),
        None => format!(
            "within {} of the last message",
            humantime::format_duration(wait)
        ),
    };
    match args.count {
        Some(n) => eprintln!("udpmsg: {} of {n} replies came {waited}", asked.replies),
        None => eprintln!("udpmsg: no reply came {waited}"),
    }
    Ok(exit::UNCONFIRMED)
}

/// Fire-and-forget: each message of `source` as one datagram; lines too
/// large (exit 2 at the end) or refused by this host (exit 1 at the end)
/// are reported and skipped.
pub(super) fn send_lines(
    sender: &mut Sender,
    source: &mut dyn Source,
    raw: bool,
    failed: impl FnOnce(crate::commands::Error) -> Error,
) -> Result<u8, Error> {
    let mut unsent = Unsent::default();
    let sent = send::send_all(sender, source, raw, |line, e| {
        match e {
            commands::Error::TooLarge { .. } => unsent.refused += 1,
            commands::Error::Io(_) => unsent.failed += 1,
            _ => {}
        };
        eprintln!("{}", output::send::line_not_sent(line, e));
    })
    .map_err(failed)?;
    unsent.end(sent)?;
    Ok(exit::OK)
}

/// Stdin lines that did not go, counted as each is reported.
#[derive(Default)]
struct Unsent {
    /// Too large for one datagram.
    refused: u64,
    /// Refused by this host (a firewall rule, no route).
    failed: u64,
}

impl Unsent {
    /// The error a send ends with when some lines did not go (`sent` did).
    fn end(self, sent: u64) -> Result<(), Error> {
        if self.failed > 0 {
            return Err(Error::LinesNotSent {
                failed: self.failed,
                refused: self.refused,
                sent,
            });
        }
        if self.refused > 0 {
            return Err(Error::LinesRefused {
                refused: self.refused,
                sent,
            });
        }
        Ok(())
    }
}
