//! `udpmsg ping`: resolve, ping, print each reply and the summary.

use super::{load_key, pick_port, write_stdout};
use crate::cli::PingArgs;
use crate::commands::listen::is_closed_pipe;
use crate::commands::ping::{self, Event, Pinger};
use crate::commands::send::Sender;
use crate::error::{Error, Sending, exit};
use crate::net::addr;
use crate::output;
use crate::util::words::IoWords;
use std::io::{self, Write};
use std::time::SystemTime;

pub(super) fn run(args: PingArgs) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    let host = addr::parse_host(&args.host)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let dest = addr::resolve_destination(&host.host, port)?;
    if matches!(host.host, addr::Host::Broadcast) {
        return Err(Error::Usage(
            "ping needs one listener, not a broadcast address".into(),
        ));
    }
    let shown = addr::unmapped(dest.addr);
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
        Sender::new(dest, String::new(), key.as_ref(), true).map_err(|e| Error::Command {
            dest: shown,
            by: Sending::Ping,
            error: e.into(),
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
        output::ping::ping_summary(shown, &summary, SystemTime::now(), json)
    ))?;
    Ok(if summary.received > 0 {
        exit::OK
    } else {
        exit::UNCONFIRMED
    })
}
