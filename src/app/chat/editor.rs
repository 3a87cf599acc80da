//! The line editor (rustyline) on a thread of its own, and the screen the
//! chat's lines go to.
//!
//! The editor blocks reading keys and owns the terminal's modes, while the
//! event loop must never block. Typed lines reach the loop through a
//! channel and a `mio::Waker`; the loop's lines reach the screen through
//! the editor's external printer, which prints them above the line being
//! typed and redraws it (docs/DECISIONS.md says why it is a thread).

use super::chat_error;
use super::terminal::Suspend;
use crate::commands::chat::command::{self, Line};
use crate::commands::chat::{Chat, Ended, Input};
use crate::error::Error;
use crate::output::Format;
use crate::output::chat::{ChatOutput, Screen};
use rustyline::error::ReadlineError;
use rustyline::{
    Cmd, ConditionalEventHandler, Event, EventContext, EventHandler, ExternalPrinter, KeyCode,
    KeyEvent, Modifiers, RepeatCount,
};
use std::io::{self, Write};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use unicode_width::UnicodeWidthChar;

/// The prompt of the line editor.
const PROMPT: &str = "> ";

/// The terminal: a line editor on its own thread, and the screen the
/// chat's lines go to.
pub(super) struct Editor {
    editor: rustyline::DefaultEditor,
    pub(super) screen: TermScreen,
}

impl Editor {
    pub(super) fn new(suspend: Option<Suspend>) -> io::Result<Self> {
        // History gets each line sent, not a pasted block whole.
        let config = rustyline::Config::builder().auto_add_history(false).build();
        let mut editor = rustyline::DefaultEditor::with_config(config).map_err(readline_io)?;
        let printer = editor.create_external_printer().map_err(readline_io)?;
        let screen = TermScreen {
            shared: Arc::new(Mutex::new(Shared {
                accepting: false,
                queued: Vec::new(),
            })),
            printer: Arc::new(Mutex::new(Box::new(printer))),
        };
        editor.bind_sequence(
            KeyEvent(KeyCode::Enter, Modifiers::NONE),
            EventHandler::Conditional(Box::new(Accept(screen.shared.clone()))),
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
    pub(super) fn run(self, member: &mut Chat) -> Result<Ended, Error> {
        let waker = member.waker().map_err(|source| Error::Io {
            doing: "starting the line editor",
            source,
        })?;
        let (tx, rx) = mpsc::channel();
        let Editor { editor, screen } = self;
        let shared = screen.shared.clone();
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
///
/// The printer is locked apart from the shared state, and never while that
/// is held: rustyline's printer hands each line over a channel of one
/// (`sync_channel(1)`) that only the editor's thread empties, inside
/// `readline`, and that thread takes the shared state's lock on Enter. A
/// line printed with the state locked could wait for an editor waiting
/// for the lock (both then wait forever: seen with pasted lines).
#[derive(Clone)]
pub(super) struct TermScreen {
    shared: Arc<Mutex<Shared>>,
    printer: Arc<Mutex<Box<dyn ExternalPrinter + Send>>>,
}

impl TermScreen {
    pub(super) fn say(&self, line: &str) {
        let _ = self.clone().line(line);
    }
}

impl Screen for TermScreen {
    fn line(&mut self, line: &str) -> io::Result<()> {
        {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            if shared.accepting {
                shared.queued.push(line.to_string());
                return Ok(());
            }
        }
        self.printer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
