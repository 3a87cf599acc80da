//! `udpmsg ping`: resolve, ping, print each reply and the summary.

use super::reach::{self, Reach};
use super::{Info, load_key, write_stdout};
use crate::cli::PingArgs;
use crate::commands::listen::is_closed_pipe;
use crate::commands::ping::{self, Event, Pinger};
use crate::commands::send::Sender;
use crate::error::{Error, Sending, exit};
use crate::net::SetupError;
use crate::output;
use crate::util::words::IoWords;
use std::io::{self, Write};
use std::time::SystemTime;

/// Pings, prints each reply and the summary on stdout; its one
/// informational line (stderr, silenced by `--quiet`) is the key hint when
/// no reply came.
pub(super) fn run(args: PingArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    let Reach {
        dest,
        shown,
        options,
        ..
    } = reach::reach(
        &args.host,
        args.port.as_deref(),
        &args.reach,
        args.family,
        key.as_ref(),
    )?;
    if dest.broadcast {
        return Err(Error::Usage(
            "ping needs one listener, not a broadcast address".into(),
        ));
    }
    if dest.addr.inet().is_some_and(|a| a.ip().is_multicast()) {
        return Err(Error::Usage(
            "ping needs one listener, not a multicast group".into(),
        ));
    }
    let config = ping::Config {
        count: args.count,
        interval: args.interval,
        wait: args.wait,
        catch_signals: true,
    };
    let json = args.json;
    let mut out = io::stdout().lock();
    let sender =
        // Connecting can fail (a broadcast address: EACCES): said as a send.
        Sender::new(dest.clone(), &options, String::new(), key.as_ref(), true).map_err(|e| match e {
            SetupError::Source { addr, error } => Error::Source {
                addr,
                source: error,
            },
            SetupError::Socket(e) => Error::Command {
                dest: shown.clone(),
                by: Sending::Ping,
                error: e.into(),
            },
        })?;
    let result = Pinger::new(sender, dest.addr, config).and_then(|pinger| {
        pinger.run(&mut |event| match event {
            Event::Reply(reply) => {
                let line = output::ping::ping_reply(reply, SystemTime::now(), json);
                writeln!(out, "{line}")?;
                out.flush()
            }
            // An error, not a result: on stderr, and never silenced.
            Event::NotSent { seq, error } => {
                eprintln!("udpmsg: ping seq={seq} not sent: {}", IoWords(error));
                Ok(())
            }
        })
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(crate::commands::Error::Output(e)) if is_closed_pipe(&e) => {
            return Ok(exit::OK);
        }
        Err(error) => {
            return Err(Error::Command {
                dest: shown,
                by: Sending::Ping,
                error,
            });
        }
    };
    drop(out);
    write_stdout(&format!(
        "{}\n",
        output::ping::ping_summary(&shown, &summary, SystemTime::now(), json)
    ))?;
    if summary.received > 0 {
        return Ok(exit::OK);
    }
    if summary.sent > summary.local_errors {
        info.line(output::send::key_hint(key.is_some()));
    }
    Ok(exit::UNCONFIRMED)
}
