//! `udpmsg chat`: bind the room's port, join, and run the member with a
//! line editor (stdin and stdout a terminal) or on stdin's lines.
//!
//! In a terminal the line editor (rustyline) runs on a thread of its own:
//! it blocks reading keys and owns the terminal's modes, while the event
//! loop must never block. Typed lines reach the loop through a channel and
//! a `mio::Waker`; the loop's lines reach the screen through the editor's
//! external printer, which prints them above the line being typed and
//! redraws it (docs/DECISIONS.md says why it is a thread).

use super::reach::interface_index;
use super::{Info, load_key, pick_name, pick_port};
use crate::cli::ChatArgs;
use crate::commands::chat::command::{self, Line};
use crate::commands::chat::{self, Chat, Ended, Input, Stop};
use crate::commands::listen::announce;
use crate::commands::listen::is_closed_pipe;
use crate::commands::source::Lines;
use crate::error::{Error, exit};
use crate::net::{
    self,
    addr::{self, Family, Host},
};
use crate::output::chat::{ChatOutput, Screen, Writer};
use crate::output::{Format, fmt_addr};
use crate::reliable::outbox::{MESSAGE_PATIENCE, Patience};
use rustix::termios::{self, OptionalActions, Termios};
use rustyline::error::ReadlineError;
use rustyline::{
    Cmd, ConditionalEventHandler, Event, EventContext, EventHandler, ExternalPrinter, KeyCode,
    KeyEvent, Modifiers, RepeatCount,
};
use std::io::{self, BufWriter, IsTerminal, Write};

use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use unicode_width::UnicodeWidthChar;

/// The prompt of the line editor.
const PROMPT: &str = "> ";
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
    let interface = args
        .iface
        .interface
        .as_deref()
        .map(interface_index)
        .transpose()?;
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

/// The terminal's modes as they were before the line editor changed them,
/// put back when this is dropped. rustyline puts them back itself only
/// when `readline` returns; when a signal (SIGTERM, SIGHUP, SIGINT from
/// another process) ends the chat, its thread is still inside `readline`,
/// and the process would exit leaving the terminal raw (no echo, no line
/// editing) for the shell.
struct TermModes(Option<Termios>);

impl TermModes {
    /// The modes of stdin, the terminal rustyline reads (none if it is
    /// not one after all).
    fn save() -> Self {
        TermModes(termios::tcgetattr(io::stdin()).ok())
    }

    /// Puts the terminal in the raw mode rustyline reads keys in, for the
    /// whole chat, not only while `readline` runs: rustyline takes the
    /// modes it finds as the ones to put back after each line, so between
    /// two lines the terminal stays raw, and keys typed at that moment are
    /// neither echoed by the terminal nor held for a line end; the next
    /// `readline` reads them as typed. Returns the handler of Ctrl-Z, which
    /// must put the shell's modes back while the chat is stopped.
    fn keep_raw(&self) -> Option<Suspend> {
        let saved = self.0.clone()?;
        let raw = raw_modes(&saved);
        termios::tcsetattr(io::stdin(), OptionalActions::Drain, &raw).ok()?;
        Some(Suspend { saved, raw })
    }
}

/// `saved` as rustyline's raw mode changes them: BRKINT, ICRNL, INPCK,
/// ISTRIP, IXON, ECHO, ICANON, IEXTEN and ISIG off, CS8 on, one byte at a
/// time; output processing stays, as in rustyline's.
fn raw_modes(saved: &Termios) -> Termios {
    let mut raw = saved.clone();
    raw.input_modes -= termios::InputModes::BRKINT
        | termios::InputModes::ICRNL
        | termios::InputModes::INPCK
        | termios::InputModes::ISTRIP
        | termios::InputModes::IXON;
    raw.control_modes |= termios::ControlModes::CS8;
    raw.local_modes -= termios::LocalModes::ECHO
        | termios::LocalModes::ICANON
        | termios::LocalModes::IEXTEN
        | termios::LocalModes::ISIG;
    raw.special_codes[termios::SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[termios::SpecialCodeIndex::VTIME] = 0;
    raw
}

impl Drop for TermModes {
    fn drop(&mut self) {
        let Some(modes) = &self.0 else {
            return;
        };
        let _ = termios::tcsetattr(io::stdin(), OptionalActions::Drain, modes);
        // What else readline turned on (bracketed paste), and the prompt
        // line it left: the shell's prompt or our last words go there.
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[?2004l\r\x1b[K");
        let _ = out.flush();
    }
}

/// Ctrl-Z: stops the chat as rustyline would, but with the modes the
/// shell had (rustyline would put back the raw ones it found), and raw
/// again once continued.
struct Suspend {
    saved: Termios,
    raw: Termios,
}

impl ConditionalEventHandler for Suspend {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext) -> Option<Cmd> {
        let _ = termios::tcsetattr(io::stdin(), OptionalActions::Drain, &self.saved);
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[?2004l");
        let _ = out.flush();
        // To this thread itself: it stops before it goes on (a signal to
        // the process may be taken by the loop's thread, and this one
        // would make the terminal raw again before the stop reached it).
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGTSTP);
        // Continued.
        let _ = termios::tcsetattr(io::stdin(), OptionalActions::Drain, &self.raw);
        let _ = out.write_all(b"\x1b[?2004h");
        let _ = out.flush();
        Some(Cmd::Repaint)
    }
}

/// The terminal: a line editor on its own thread, and the screen the
/// chat's lines go to.
struct Editor {
    editor: rustyline::DefaultEditor,
    screen: TermScreen,
}

impl Editor {
    fn new(suspend: Option<Suspend>) -> io::Result<Self> {
        // History gets each line sent, not a pasted block whole.
        let config = rustyline::Config::builder().auto_add_history(false).build();
        let mut editor = rustyline::DefaultEditor::with_config(config).map_err(readline_io)?;
        let printer = editor.create_external_printer().map_err(readline_io)?;
        let screen = TermScreen(Arc::new(Mutex::new(Shared {
            printer: Box::new(printer),
            accepting: false,
            queued: Vec::new(),
        })));
        editor.bind_sequence(
            KeyEvent(KeyCode::Enter, Modifiers::NONE),
            EventHandler::Conditional(Box::new(Accept(screen.0.clone()))),
        );
        if let Some(suspend) = suspend {
            editor.bind_sequence(
                KeyEvent::ctrl('Z'),
                EventHandler::Conditional(Box::new(suspend)),
            );
        }
        Ok(Editor { editor, screen })
    }

    /// Runs the chat with this editor's lines until it ends.
    fn run(self, member: &mut Chat) -> Result<Ended, Error> {
        let waker = member.waker().map_err(|source| Error::Io {
            doing: "starting the line editor",
            source,
        })?;
        let (tx, rx) = mpsc::channel();
        let Editor { editor, screen } = self;
        let shared = screen.0.clone();
        std::thread::Builder::new()
            .name("line editor".into())
            .spawn(move || edit(editor, shared, tx, waker))
            .map_err(|source| Error::Io {
                doing: "starting the line editor",
                source,
            })?;
        let mut out = ChatOutput::new(screen, Format::Text);
        member.run(Input::Typed(rx), &mut out).map_err(chat_error)
    }
}

/// Reads lines until Ctrl-D, Ctrl-C or `/quit`, handing each to the chat.
///
/// Keys typed ahead, or lines pasted, arrive faster than lines are read:
/// rustyline reads what the terminal has in one go, and keeps what is past
/// the first line end for the next `readline` (its `buffer-redux` feature;
/// without it, that was lost: kkawakam/rustyline#690), so each line is
/// sent in turn. A bracketed paste of several lines is one `readline`
/// with line ends in it: each of its lines is a message of its own.
fn edit(
    mut editor: rustyline::DefaultEditor,
    shared: Arc<Mutex<Shared>>,
    tx: Sender<Vec<u8>>,
    waker: Arc<mio::Waker>,
) {
    // Ctrl-C, Ctrl-D (or a terminal error) end the input, as /quit does.
    'editing: while let Ok(typed) = editor.readline(PROMPT) {
        let cols = editor
            .dimensions()
            .map_or(80, |(c, _)| usize::from(c).max(1));
        accepted(&shared, &typed, cols);
        for line in typed.split('\n').filter(|l| !l.is_empty()) {
            let _ = editor.add_history_entry(line);
            let quit = command::parse(line.as_bytes()) == Line::Quit;
            if tx.send(line.as_bytes().to_vec()).is_err() {
                break 'editing;
            }
            let _ = waker.wake();
            if quit {
                break 'editing;
            }
        }
    }
    drop(tx);
    let _ = waker.wake();
}

/// How many rows the prompt and `line` took on a terminal `cols` wide,
/// counted as rustyline lays them out: a line end (a pasted block has
/// them) starts a row, a character that does not fit on the row goes to
/// the next, a tab goes to the next multiple of 8, and a row filled to
/// the last column moves the cursor to the next.
fn rows(line: &str, cols: usize) -> usize {
    const TAB: usize = 8;
    let (mut row, mut col) = (0, 0);
    for c in PROMPT.chars().chain(line.chars()) {
        if c == '\n' {
            row += 1;
            col = 0;
            continue;
        }
        let width = if c == '\t' {
            TAB - col % TAB
        } else {
            c.width().unwrap_or(0)
        };
        col += width;
        if col > cols {
            row += 1;
            col = width;
        }
    }
    if col == cols {
        row += 1;
    }
    row + 1
}

/// After Enter: the typed line is erased (the chat shows it as a message
/// line), and the lines that came meanwhile are printed.
fn accepted(shared: &Mutex<Shared>, line: &str, cols: usize) {
    let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
    // The editor left the prompt and line on screen, then a line break.
    let rows = rows(line, cols);
    let mut out = io::stdout().lock();
    let _ = write!(out, "\x1b[{rows}A\r\x1b[J");
    for queued in std::mem::take(&mut shared.queued) {
        let _ = writeln!(out, "{queued}");
    }
    let _ = out.flush();
    shared.accepting = false;
}

/// What the loop's thread and the editor's thread share.
struct Shared {
    printer: Box<dyn ExternalPrinter + Send>,
    /// Enter was pressed and the editor has not erased the line yet:
    /// lines wait, so they are not printed into the line or erased with it.
    accepting: bool,
    queued: Vec<String>,
}

/// Enter: note that a line is being accepted, then accept it.
struct Accept(Arc<Mutex<Shared>>);

impl ConditionalEventHandler for Accept {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext) -> Option<Cmd> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .accepting = true;
        None
    }
}

/// The chat's lines, printed above the line being typed.
#[derive(Clone)]
struct TermScreen(Arc<Mutex<Shared>>);

impl TermScreen {
    fn say(&self, line: &str) {
        let _ = self.clone().line(line);
    }
}

impl Screen for TermScreen {
    fn line(&mut self, line: &str) -> io::Result<()> {
        let mut shared = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if shared.accepting {
            shared.queued.push(line.to_string());
            return Ok(());
        }
        shared
            .printer
            .print(format!("{line}\n"))
            .map_err(readline_io)
    }
}

fn readline_io(e: ReadlineError) -> io::Error {
    match e {
        ReadlineError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::rows;

    #[test]
    fn rows_count_line_ends_wraps_and_a_full_last_row() {
        // "> " and the line on one row, then the line break.
        assert_eq!(rows("hello", 80), 1);
        // A pasted block: a row per line.
        assert_eq!(rows("b1\nb2\nb3", 80), 3);
        // 2 + 8 columns on a 10-column terminal: the cursor goes below.
        assert_eq!(rows("12345678", 10), 2);
        assert_eq!(rows("1234567", 10), 1);
        // A wide character that does not fit goes to the next row whole.
        assert_eq!(rows("1234567語", 10), 2);
        assert_eq!(rows("123456語", 10), 2);
        assert_eq!(rows("12345語", 10), 1);
        // Wrapped lines and line ends together.
        assert_eq!(rows("123456789012\nab", 10), 3);
        // A tab goes to the next multiple of 8.
        assert_eq!(rows("\tx", 80), 1);
        assert_eq!(rows("\t\t", 10), 2);
    }
}
