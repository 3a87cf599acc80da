//! The terminal's modes while the line editor runs: kept raw for the
//! whole chat, put back on every way out (a panic too), and the shell's
//! while Ctrl-Z has the chat stopped.

use rustix::termios::{self, OptionalActions, Termios};
use rustyline::{Cmd, ConditionalEventHandler, Event, EventContext, RepeatCount};
use std::io::{self, Write};
use std::os::fd::AsFd;

/// The terminal's modes as they were before the line editor changed them,
/// put back when this is dropped. rustyline puts them back itself only
/// when `readline` returns; when a signal (SIGTERM, SIGHUP, SIGINT from
/// another process) ends the chat, its thread is still inside `readline`,
/// and the process would exit leaving the terminal raw (no echo, no line
/// editing) for the shell.
pub(super) struct TermModes(Option<Termios>);

impl TermModes {
    /// The modes of stdin, the terminal rustyline reads (none if it is
    /// not one after all).
    pub(super) fn save() -> Self {
        let modes = termios::tcgetattr(io::stdin()).ok();
        if let Some(modes) = &modes {
            restore_on_panic(io::stdin(), io::stdout(), modes.clone());
        }
        TermModes(modes)
    }

    /// Puts the terminal in the raw mode rustyline reads keys in, for the
    /// whole chat, not only while `readline` runs: rustyline takes the
    /// modes it finds as the ones to put back after each line, so between
    /// two lines the terminal stays raw, and keys typed at that moment are
    /// neither echoed by the terminal nor held for a line end; the next
    /// `readline` reads them as typed. Returns the handler of Ctrl-Z, which
    /// must put the shell's modes back while the chat is stopped.
    pub(super) fn keep_raw(&self) -> Option<Suspend> {
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
        // Whatever is buffered goes first, then the words below.
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let _ = out.flush();
        put_back(io::stdin(), &stdout, modes, OptionalActions::Drain);
    }
}

/// What the bytes below end: bracketed paste, which readline turned on,
/// and the prompt line it left (the shell's prompt or our last words go
/// there).
const LEAVE: &[u8] = b"\x1b[?2004l\r\x1b[K";

/// Puts `modes` back on the terminal `term` and writes [`LEAVE`] to `out`
/// with write(2), past Rust's stdout (whose lock a panic may hold).
fn put_back(term: impl AsFd, out: impl AsFd, modes: &Termios, when: OptionalActions) {
    let _ = termios::tcsetattr(term, when, modes);
    let _ = rustix::io::write(out, LEAVE);
}

/// With `panic = "abort"` nothing is dropped on a panic, [`TermModes`]
/// included: the panic hook puts the modes back first (at once, not after
/// the output drains: it may never), then says what the panic says.
fn restore_on_panic(
    term: impl AsFd + Send + Sync + 'static,
    out: impl AsFd + Send + Sync + 'static,
    modes: Termios,
) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        put_back(&term, &out, &modes, OptionalActions::Now);
        previous(info);
    }));
}

/// Ctrl-Z: stops the chat as rustyline would, but with the modes the
/// shell had (rustyline would put back the raw ones it found), and raw
/// again once continued.
pub(super) struct Suspend {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::pty::{OpenptFlags, grantpt, ioctl_tiocgptpeer, openpt, unlockpt};
    use std::sync::Arc;

    #[test]
    fn a_panic_puts_the_terminals_modes_back() {
        // A terminal of our own: a pty, its other end opened from it.
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY;
        let master = openpt(flags).expect("a pty");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let term = Arc::new(ioctl_tiocgptpeer(&master, flags).expect("its terminal end"));
        let saved = termios::tcgetattr(&*term).expect("modes");
        assert!(saved.local_modes.contains(termios::LocalModes::ECHO));
        termios::tcsetattr(&*term, OptionalActions::Now, &raw_modes(&saved)).expect("raw");

        restore_on_panic(Arc::clone(&term), Arc::clone(&term), saved.clone());
        let panicked = std::panic::catch_unwind(|| panic!("on purpose"));
        // The hook stays process-wide: back to the default one.
        let _ = std::panic::take_hook();
        assert!(panicked.is_err());

        let now = termios::tcgetattr(&*term).expect("modes");
        assert_eq!(now.local_modes, saved.local_modes);
        assert_eq!(now.input_modes, saved.input_modes);
        // And the words that end bracketed paste reached the terminal.
        let mut seen = vec![0u8; 64];
        let n = rustix::io::read(&master, &mut seen).expect("read");
        assert!(
            seen[..n].windows(LEAVE.len()).any(|w| w == LEAVE),
            "{:?}",
            &seen[..n]
        );
    }
}
