//! `udpmsg chat`: bind the room's port, join, and run the member with a
//! line editor (stdin and stdout a terminal) or on stdin's lines.
//!
//! - here: the arguments checked, the sockets bound, the member run, its
//!   exit code;
//! - `editor`: the line editor on its own thread, and the screen the
//!   chat's lines go to;
//! - `terminal`: the terminal's modes, kept raw for the chat and put back
//!   on every way out (and on Ctrl-Z).

mod editor;
mod terminal;

use super::reach::named_interface;
use super::{Info, load_key, pick_name, pick_port};
use crate::cli::ChatArgs;
use crate::commands::chat::{self, Chat, Ended, Input, Stop};
use crate::commands::listen::announce;
use crate::commands::listen::is_closed_pipe;
use crate::commands::source::Lines;
use crate::error::{Error, exit};
use crate::net::{
    self,
    addr::{self, Family, Host},
};
use crate::output::chat::{ChatOutput, Writer};
use crate::output::{Format, fmt_addr};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Patience};
use editor::Editor;
use std::io::{self, BufWriter, IsTerminal};
use std::os::fd::AsRawFd;
use std::time::Duration;
use terminal::TermModes;

/// Shortest `--patience`.
const MIN_PATIENCE: Duration = Duration::from_millis(100);

pub(super) fn run(args: ChatArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    let name = pick_name(args.name)?;
    let port = pick_port(None, args.port.as_deref())?;
    let every = args.announce_every.unwrap_or(chat::DEFAULT_EVERY);
    if !(announce::MIN_EVERY..=announce::MAX_EVERY).contains(&every) {
        return Err(Error::Usage(format!(
            "--announce-every must be between {} and {}",
            humantime::format_duration(announce::MIN_EVERY),
            humantime::format_duration(announce::MAX_EVERY)
        )));
    }
    let patience = args.patience.unwrap_or(MESSAGE_PATIENCE);
    if !(MIN_PATIENCE..=MESSAGE_PATIENCE).contains(&patience) {
        return Err(Error::Usage(format!(
            "--patience must be between {} and {}",
            humantime::format_duration(MIN_PATIENCE),
            humantime::format_duration(MESSAGE_PATIENCE)
        )));
    }
    if port == 0 || port == u16::MAX {
        return Err(Error::Usage(format!(
            "a room needs a port with a presence port after it (1 to 65534), not {port}"
        )));
    }
    if args.room.len() > crate::wire::MAX_ROOM {
        return Err(Error::Usage(format!(
            "--room is {} bytes, at most {}",
            args.room.len(),
            crate::wire::MAX_ROOM
        )));
    }
    let family = Family::from_flags(args.family.ipv4, args.family.ipv6);
    let interface = named_interface(args.iface.interface.as_deref())?;
    let bind = addr::resolve_bind(&Host::Any, port, family)?;
    let options = net::BindOptions {
        family,
        interface,
        ..net::BindOptions::default()
    };
    let bind_error = |addr: std::net::SocketAddr| {
        move |source| Error::Bind {
            addr: addr.into(),
            source,
        }
    };
    // Another member of this host (or another program) has the room's
    // port: this one takes a port of its own, which its hellos announce.
    let (sockets, own_port) = match net::bind_listeners(bind, options) {
        Ok(sockets) => (sockets, false),
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
            let mut own = bind;
            own.set_port(0);
            let sockets = net::bind_listeners(own, options).map_err(bind_error(own))?;
            (sockets, true)
        }
        Err(source) => return Err(bind_error(bind)(source)),
    };
    let room = args.room.clone();
    let mut member = Chat::new(
        sockets,
        chat::Config {
            name: name.clone(),
            port,
            room: args.room,
            key,
            every,
            patience: Patience {
                retries: None,
                time: patience,
            },
            gap_wait: crate::commands::listen::DEFAULT_GAP_WAIT,
            catch_signals: true,
            interface: args.iface.interface.clone(),
        },
    )
    .map_err(|source| Error::Io {
        doing: "joining the room",
        source,
    })?;
    let mut shown = member
        .local_addrs()
        .iter()
        .map(|a| fmt_addr(*a).to_string())
        .collect::<Vec<String>>()
        .join(" and ");
    if let Some(name) = &args.iface.interface {
        shown.push_str(&format!(" (interface {name})"));
    }
    if own_port {
        shown.push_str(&format!(", as port {port} is taken on this host"));
    }
    let in_room = if room.is_empty() {
        format!("the room of port {port}")
    } else {
        format!("room '{}'", crate::output::escape::escaped(&room))
    };
    let terminal = io::stdin().is_terminal() && io::stdout().is_terminal() && !args.json;
    let ended = if terminal {
        // Put back on every way out, before anything more is printed.
        let modes = TermModes::save();
        let suspend = modes.keep_raw();
        let editor = Editor::new(suspend).map_err(|source| Error::Io {
            doing: "starting the line editor",
            source,
        })?;
        editor.screen.say(&format!(
            "* you are '{}' in {in_room} ({}); /who, /msg NAME text, /me, /name, /quit",
            crate::output::escape::escaped(&name),
            shown
        ));
        let ended = editor.run(&mut member);
        drop(modes);
        ended?
    } else {
        info.line(format_args!(
            "udpmsg: chatting as '{}' in {in_room} on {}",
            crate::output::escape::escaped(&name),
            shown
        ));
        let format = if args.json {
            Format::Json
        } else {
            Format::Text
        };
        let stdin = io::stdin();
        let fd = stdin.as_raw_fd();
        let mut lines = Lines::polled(stdin, fd);
        let mut out = ChatOutput::new(Writer(BufWriter::new(io::stdout().lock())), format);
        member
            .run(Input::Piped(&mut lines), &mut out)
            .map_err(chat_error)?
    };
    finish(ended, !terminal, info)
}

/// The exit code of a chat that ended: 4 when some message was not
/// delivered to every member present when it was sent (or went to
/// nobody); from a pipe, 2 when some line was refused (nobody saw the
/// note, so the code says it).
fn finish(ended: Ended, piped: bool, info: Info) -> Result<u8, Error> {
    let Ended {
        stop,
        stats,
        output_error,
    } = ended;
    if let Some(e) = output_error {
        if is_closed_pipe(&e) {
            return Ok(exit::OK);
        }
        return Err(Error::Output(e));
    }
    if let Stop::Signal(_) | Stop::Quit = stop {
        let refused = match stats.refused {
            0 => String::new(),
            1 => ", 1 line refused".to_string(),
            n => format!(", {n} lines refused"),
        };
        info.line(format_args!(
            "udpmsg: left the room: {} sent, {} delivered, {} not delivered, {} received{refused}",
            stats.sent, stats.delivered, stats.not_delivered, stats.received
        ));
    }
    Ok(if piped && stats.refused > 0 {
        exit::USAGE
    } else if stats.not_delivered > 0 {
        exit::UNCONFIRMED
    } else {
        exit::OK
    })
}

fn chat_error(e: crate::commands::Error) -> Error {
    match e {
        crate::commands::Error::Input(source) => Error::Io {
            doing: "reading stdin",
            source,
        },
        crate::commands::Error::Output(e) => Error::Output(e),
        other => Error::Io {
            doing: "chatting",
            source: io::Error::other(other.to_string()),
        },
    }
}
