//! `udpmsg send` and `send --ack`: resolve, build the sender and the
//! source of messages, run, and turn the outcome into an exit code.

use super::reach::{self, Reach};
use super::{Info, load_key, pick_name};
use crate::cli::SendArgs;
use crate::commands;
use crate::commands::ask;
use crate::commands::deliver::{self, Delivery};
use crate::commands::listen::is_closed_pipe;
use crate::commands::send::{self, Sender};
use crate::commands::source::{self, Fixed, HexLines, Lines, Source, WholeError};
use crate::error::{Error, Sending, exit};
use crate::net::{PeerAddr, SendOptions, SetupError};
use crate::output::{self, Format, ListenOutput, escape::escaped, fmt_addr};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Patience};
use crate::util::hex;
use crate::util::words::IoWords;
use std::io::{self, IsTerminal};
use std::os::fd::AsRawFd;

pub(super) fn run(args: SendArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    if !args.files.is_empty() {
        return super::send_files::run(&args, key, info);
    }
    check_flags(&args, key.is_some())?;
    let from_stdin = args.message.is_empty() || args.message == ["-"];
    if args.lines && !from_stdin {
        return Err(Error::Usage(
            "--lines reads stdin; give no message, or '-'".into(),
        ));
    }
    // The message first: a bad --hex message is refused before any lookup.
    let message = if from_stdin {
        None
    } else {
        Some(message_bytes(&args)?)
    };
    let reach = reach::reach(
        &args.host,
        args.port.as_deref(),
        &args.reach,
        args.family,
        key.as_ref(),
    )?;
    let Reach {
        mut dest,
        shown,
        options,
        port_named,
    } = reach;
    dest.broadcast |= args.broadcast;
    check_destination(&args, &dest.addr, dest.broadcast)?;
    // The name goes only into udpmsg messages; raw sends skip the syscall.
    let name = if args.raw {
        String::new()
    } else {
        pick_name(args.name.clone())?
    };
    let by = if args.ack {
        Sending::SendAck
    } else {
        Sending::Send
    };
    let failed = |error| Error::Command {
        dest: shown.clone(),
        by,
        error,
    };
    let options = SendOptions {
        ttl: args.ttl,
        multicast_loop: args.multicast_loop,
        // Replies to an unconnected socket are sealed for the address
        // they came to, which only the arrival information tells.
        arrival_info: args.wait.is_some(),
        // And only the ICMP errors it asks for tell it that nothing
        // listens at a unicast destination.
        icmp_errors: args.wait.is_some()
            && !dest.broadcast
            && dest.addr.inet().is_some_and(|a| !a.ip().is_multicast()),
        ..options
    };
    // Connecting (--ack) can fail (a broadcast address: EACCES): said as a send.
    let sender =
        Sender::new(dest.clone(), &options, name, key.as_ref(), args.ack).map_err(|e| match e {
            SetupError::Source { addr, error } => Error::Source {
                addr,
                source: error,
            },
            SetupError::Socket(e) => failed(e.into()),
        })?;
    if !from_stdin
        && !args.hex
        && !port_named
        && let Some(dest) = dest.addr.inet()
    {
        note_port_word(&args, dest.port(), info);
    }
    let whole = args.raw && !args.lines;
    if from_stdin && io::stdin().is_terminal() {
        let what = if whole {
            format!("what you type to {} as one datagram", fmt_addr(&shown))
        } else {
            format!("each line you type to {}", fmt_addr(&shown))
        };
        info.line(format_args!("udpmsg: sending {what}; Ctrl-D ends"));
    }
    if let Some(wait) = args.wait {
        let max = if args.raw {
            sender.max_raw()
        } else {
            sender.max_body()
        };
        let mut source: Box<dyn Source> = match message {
            Some(body) if body.len() > max => {
                return Err(failed(commands::Error::TooLarge {
                    len: body.len(),
                    max,
                }));
            }
            Some(body) => Box::new(Fixed::new(vec![body])),
            None if whole => Box::new(Fixed::new(vec![stdin_datagram(max, args.hex, failed)?])),
            // Replies are shown while stdin is read: one event loop.
            None => {
                let stdin = io::stdin();
                let fd = stdin.as_raw_fd();
                hexed(Lines::polled(stdin.lock(), fd), args.hex)
            }
        };
        return send_waiting(&args, wait, sender, source.as_mut(), failed);
    }
    if args.ack {
        let mut source: Box<dyn Source> = match message {
            // Refused before anything is sent, as without --ack.
            Some(body) if body.len() > sender.max_body() => {
                return Err(failed(commands::Error::TooLarge {
                    len: body.len(),
                    max: sender.max_body(),
                }));
            }
            Some(body) => Box::new(Fixed::new(vec![body])),
            // Confirmed sends wait for acks and input in one event loop.
            None => {
                let stdin = io::stdin();
                let fd = stdin.as_raw_fd();
                hexed(Lines::polled(stdin.lock(), fd), args.hex)
            }
        };
        let keyed = key.is_some();
        return send_confirmed(&args, sender, source.as_mut(), &shown, keyed, info).map_err(failed);
    }
    let mut sender = sender;
    let body = match message {
        Some(body) => body,
        None if whole => stdin_datagram(sender.max_raw(), args.hex, failed)?,
        // Without --ack there is nothing else to wait for: blocking reads.
        None => {
            let mut source = hexed(Lines::blocking(io::stdin().lock()), args.hex);
            return send_lines(&mut sender, source.as_mut(), args.raw, failed);
        }
    };
    let result = if args.raw {
        sender.raw(&body)
    } else {
        sender.text(&body)
    };
    result.map_err(failed)?;
    Ok(exit::OK)
}

/// Refuses what cannot be done to this destination: `--ack` needs one
/// listener (not a broadcast address nor a group), `--loop` a group; a
/// Unix socket has no TTL, broadcast nor group.
fn check_destination(args: &SendArgs, dest: &PeerAddr, broadcast: bool) -> Result<(), Error> {
    let ip = match dest {
        PeerAddr::Inet(addr) => addr.ip(),
        PeerAddr::Unix(_) => {
            let option = if args.broadcast {
                Some("--broadcast")
            } else if args.ttl.is_some() {
                Some("--ttl")
            } else if args.multicast_loop {
                Some("--loop")
            } else {
                None
            };
            return match option {
                Some(option) => Err(reach::not_for_unix(option, &args.host)),
                None => Ok(()),
            };
        }
    };
    if args.ack && broadcast {
        return Err(Error::Usage(
            "--ack needs one listener; it cannot be used with a broadcast address".into(),
        ));
    }
    if args.ack && ip.is_multicast() {
        return Err(Error::Usage(
            "--ack needs one listener; it cannot be used with a multicast group".into(),
        ));
    }
    if args.multicast_loop && !ip.is_multicast() {
        return Err(Error::Usage(format!(
            "--loop is for multicast groups, and {ip} is not one"
        )));
    }
    Ok(())
}

/// All of stdin as one raw datagram of at most `max` bytes (`--raw`).
fn stdin_datagram(
    max: usize,
    hex: bool,
    failed: impl FnOnce(crate::commands::Error) -> Error,
) -> Result<Vec<u8>, Error> {
    source::read_whole(io::stdin().lock(), max, hex).map_err(|e| match e {
        WholeError::TooLarge { max } => Error::StdinTooLarge { max },
        WholeError::Hex(error) => Error::BadHex {
            what: "stdin",
            error,
        },
        WholeError::Io(e) => failed(crate::commands::Error::Input(e)),
    })
}

/// Refuses flags that cannot go together.
fn check_flags(args: &SendArgs, keyed: bool) -> Result<(), Error> {
    if args.raw && keyed {
        return Err(Error::Usage(
            "--raw sends bytes as given; it cannot be used with a key (--no-key ignores UDPMSG_KEY_FILE)"
                .into(),
        ));
    }
    if args.ack && args.raw {
        return Err(Error::Usage(
            "--ack needs udpmsg messages; it cannot be used with --raw".into(),
        ));
    }
    Ok(())
}

/// The message the arguments give: the words joined by spaces, or with
/// `--hex` the bytes those hex digits stand for.
fn message_bytes(args: &SendArgs) -> Result<Vec<u8>, Error> {
    let text = args.message.join(" ");
    if !args.hex {
        return Ok(text.into_bytes());
    }
    hex::parse(&text).map_err(|error| Error::BadHex {
        what: "the message",
        error,
    })
}

/// Stdin lines, decoded from hex with `--hex`.
fn hexed<S: Source + 'static>(lines: S, hex: bool) -> Box<dyn Source> {
    if hex {
        Box::new(HexLines::new(lines))
    } else {
        Box::new(lines)
    }
}

/// The nc habit, `udpmsg send host 9000 hello`: when no port was given and
/// the message starts with a bare port number, says where it goes (and
/// sends it as asked).
fn note_port_word(args: &SendArgs, port: u16, info: Info) {
    let Some(word) = args.message.first() else {
        return;
    };
    let asked = match word.parse::<u16>() {
        Ok(port) if port != 0 && word.bytes().all(|b| b.is_ascii_digit()) => port,
        _ => return,
    };
    let host = if args.host.contains(':') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    let mut message = escaped(&args.message.join(" "));
    if let Some((cut, _)) = message.char_indices().nth(40) {
        message.truncate(cut);
        message.push('…');
    }
    info.note(format_args!(
        "sending \"{message}\" to port {port}; for port {asked} write {host}:{asked} or -p {asked}"
    ));
}

/// `send --ack`: every message confirmed, or exit 4 with a summary.
/// Ctrl-C, SIGTERM or SIGHUP ends it with the same summary (exit 0 only when every
/// message read so far was confirmed). A stdin line too large for one
/// datagram is reported and skipped, the others still go, and the end is
/// the summary and exit 2 (as `send` without `--ack` ends).
fn send_confirmed(
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
        eprintln!("udpmsg: line {line} not sent: {e}");
    };
    let report = Delivery::new(sender, source, config, &mut skipped).and_then(Delivery::run)?;
    let summary = format!("udpmsg: {}", output::send::ack_summary(shown, &report));
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
        if report.confirmed == 0 && report.interrupted.is_none() {
            info.line(output::send::key_hint(keyed));
        }
        Ok(exit::UNCONFIRMED)
    }
}

/// `send --wait`: every message of `source` sent, every reply shown on
/// stdout as `listen` shows it; exit 4 when none came (or fewer than
/// `--count`). Lines that cannot go are reported and skipped, as without
/// `--wait`.
fn send_waiting(
    args: &SendArgs,
    wait: std::time::Duration,
    sender: Sender,
    source: &mut dyn Source,
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
    let (mut refused, mut failed_lines) = (0u64, 0u64);
    let result = ask::ask(sender, source, config, &mut out, &mut |line, e| {
        match e {
            commands::Error::Io(e) => {
                failed_lines += 1;
                eprintln!("udpmsg: line {line} not sent: {}", IoWords(e));
            }
            e => {
                refused += 1;
                eprintln!("udpmsg: line {line} not sent: {e}");
            }
        };
    });
    let asked = match result {
        Ok(asked) => asked,
        Err(commands::Error::Output(e)) if is_closed_pipe(&e) => return Ok(exit::OK),
        Err(commands::Error::Output(e)) => return Err(Error::Output(e)),
        Err(e) => return Err(failed(e)),
    };
    if failed_lines > 0 {
        return Err(Error::LinesNotSent {
            failed: failed_lines,
            refused,
            sent: asked.sent,
        });
    }
    if refused > 0 {
        return Err(Error::LinesRefused {
            refused,
            sent: asked.sent,
        });
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
fn send_lines(
    sender: &mut Sender,
    source: &mut dyn Source,
    raw: bool,
    failed: impl FnOnce(crate::commands::Error) -> Error,
) -> Result<u8, Error> {
    let (mut refused, mut failed_lines) = (0u64, 0u64);
    let sent = send::send_all(sender, source, raw, |line, e| {
        match e {
            commands::Error::TooLarge { .. } => {
                refused += 1;
                eprintln!("udpmsg: line {line} not sent: {e}");
            }
            commands::Error::Io(e) => {
                failed_lines += 1;
                eprintln!("udpmsg: line {line} not sent: {}", IoWords(e));
            }
            e => eprintln!("udpmsg: line {line} not sent: {e}"),
        };
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
