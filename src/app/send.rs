//! `udpmsg send` and `send --ack`: resolve, build the sender and the
//! source of messages, run, and turn the outcome into an exit code.

use super::{Info, load_key, pick_port};
use crate::cli::SendArgs;
use crate::commands;
use crate::commands::deliver::{self, Delivery};
use crate::commands::send::{self, Sender};
use crate::commands::source::{Fixed, Lines, Source};
use crate::error::{Error, exit, io_words};
use crate::net::{self, addr};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Patience};
use std::io::{self, IsTerminal};
use std::os::fd::AsRawFd;

pub(super) fn run(args: SendArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref())?;
    if args.raw && key.is_some() {
        return Err(Error::Usage(
            "--raw sends bytes as given; it cannot be used with a key".into(),
        ));
    }
    if args.ack && args.raw {
        return Err(Error::Usage(
            "--ack needs udpmsg messages; it cannot be used with --raw".into(),
        ));
    }
    let host = addr::parse_host(&args.host)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let mut dest = addr::resolve_destination(&host.host, port)?;
    dest.broadcast |= args.broadcast;
    if args.ack && dest.broadcast {
        return Err(Error::Usage(
            "--ack needs one listener; it cannot be used with a broadcast address".into(),
        ));
    }
    // The name goes only into udpmsg messages; raw sends skip the syscall.
    let name = match (args.raw, args.name.clone()) {
        (true, _) => String::new(),
        (false, Some(name)) => name,
        (false, None) => net::hostname(),
    };
    let shown = addr::unmapped(dest.addr);
    let from_stdin = args.message.is_empty() || args.message == ["-"];
    if from_stdin && io::stdin().is_terminal() {
        info.line(format_args!(
            "udpmsg: sending each line you type to {shown}; Ctrl-D ends"
        ));
    }
    let sender = Sender::new(dest, name, key.as_ref(), args.ack).map_err(|source| Error::Io {
        doing: "creating a socket",
        source,
    })?;
    let failed = |e| Error::Command {
        dest: shown,
        error: e,
    };
    let stdin = io::stdin();
    let mut source: Box<dyn Source> = match (from_stdin, args.ack) {
        (false, _) => Box::new(Fixed::new(vec![args.message.join(" ").into_bytes()])),
        // Confirmed sends wait for acks and input in one event loop.
        (true, true) => Box::new(Lines::polled(stdin.lock(), stdin.as_raw_fd())),
        // Without --ack there is nothing else to wait for: blocking reads.
        (true, false) => Box::new(Lines::blocking(stdin.lock())),
    };
    if args.ack {
        let config = deliver::Config {
            timeout: args.timeout.unwrap_or(deliver::DEFAULT_TIMEOUT),
            patience: Patience {
                retries: args.retries,
                time: MESSAGE_PATIENCE,
            },
        };
        let report = Delivery::new(sender, source.as_mut(), config)
            .and_then(Delivery::run)
            .map_err(failed)?;
        if report.unconfirmed == 0 && !report.input_left {
            return Ok(exit::OK);
        }
        let left = if report.input_left {
            "; the deadline passed before all input was read"
        } else {
            ""
        };
        eprintln!(
            "udpmsg: {} of {} messages confirmed by {shown}, {} not confirmed{left}",
            report.confirmed, report.sent, report.unconfirmed
        );
        return Ok(exit::UNCONFIRMED);
    }
    let mut sender = sender;
    if !from_stdin {
        let body = args.message.join(" ");
        let result = if args.raw {
            sender.raw(body.as_bytes())
        } else {
            sender.text(body.as_bytes())
        };
        result.map_err(failed)?;
        return Ok(exit::OK);
    }
    let (mut refused, mut failed_lines) = (0u64, 0u64);
    let sent = send::send_all(&mut sender, source.as_mut(), args.raw, |line, e| {
        let why = match e {
            commands::Error::TooLarge { .. } => {
                refused += 1;
                e.to_string()
            }
            commands::Error::Io(e) => {
                failed_lines += 1;
                io_words(e)
            }
            e => e.to_string(),
        };
        eprintln!("udpmsg: line {line} not sent: {why}");
    })
    .map_err(failed)?;
    if failed_lines > 0 {
        return Err(Error::LinesNotSent {
            failed: failed_lines,
            refused,
            sent,
        });
    }
    if refused > 0 {
        return Err(Error::LinesRefused { refused, sent });
    }
    Ok(exit::OK)
}
