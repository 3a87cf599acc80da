//! `udpmsg send` and `send --ack`: resolve, build the sender and the
//! source of messages, run, and turn the outcome into an exit code.

mod message;
mod modes;

use super::reach::{self, Reach};
use super::{Info, load_key, pick_name};
use crate::cli::SendArgs;
use crate::commands;
use crate::commands::send::Sender;
use crate::commands::source::{Fixed, Lines, Source};
use crate::error::{Error, Sending, exit};
use crate::net::{PeerAddr, SendOptions, SetupError};
use crate::output::{escape::escaped, fmt_addr};
use message::{hexed, message_bytes, stdin_datagram};
use modes::{send_confirmed, send_lines, send_waiting};
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
        let one = !from_stdin || whole;
        return send_waiting(&args, wait, sender, source.as_mut(), one, failed);
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
