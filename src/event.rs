//! The event loop: one `mio::Poll` on one thread, deadlines as its timeout,
//! SIGINT/SIGTERM/SIGHUP (and any other signal asked for) as an event.
//! Knows nothing of messages or the CLI.

use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::time::{Duration, Instant};

/// Token of the signal pipe.
const SIGNALS: Token = Token(usize::MAX - 1);

/// Sources a loop tells apart: [`Wake::Ready`] is a 64-bit set.
pub const MAX_TOKENS: usize = 64;

/// The token for source number `i`, below [`MAX_TOKENS`] (checked when
/// the program is compiled for constants, and at run time otherwise):
/// every token a caller registers comes from here, so none is dropped.
pub const fn token(i: usize) -> Token {
    assert!(i < MAX_TOKENS, "event tokens are 0..64");
    Token(i)
}

/// Why [`EventLoop::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Some sources are ready: bit `i` is set for `Token(i)`.
    Ready(u64),
    /// The deadline passed.
    Timeout,
    /// A caught signal arrived (its number): one of [`TERMINATION`], or
    /// another one [`EventLoop::catching`] was given.
    Signal(i32),
}

impl Wake {
    /// True when `token` is among the ready sources.
    pub fn is_ready(self, token: Token) -> bool {
        matches!(self, Wake::Ready(bits) if token.0 < MAX_TOKENS && bits & (1 << token.0) != 0)
    }
}

/// Asks the kernel to wake this thread's sleeps and timeouts on time
/// (timer slack 1 µs instead of the default 50 µs): a listener's short
/// pauses then cost what they say, and replies wait less behind them.
/// Best effort (`prctl` cannot fail here for a valid value).
pub fn precise_timers() {
    crate::net::process::precise_timers();
}

/// The signals [`EventLoop::new`] catches: Ctrl-C, `kill`, and SIGHUP
/// (the terminal closed, an ssh session dropped), after which a command
/// ends as cleanly as after the other two (goodbye said, summary printed,
/// partial and socket files removed).
pub const TERMINATION: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Whether the process started with SIGHUP ignored (`nohup`, a daemon
/// manager): then it stays ignored, as `nohup` promises, rather than
/// caught and turned into a clean exit.
fn hangup_ignored() -> bool {
    crate::net::process::signal_ignored(libc::SIGHUP)
}

/// A poll with its event buffer and (optionally) the termination signals.
pub struct EventLoop {
    poll: Poll,
    events: Events,
    signals: Option<Signals>,
}

impl EventLoop {
    /// A new loop; with `catch_signals`, the [`TERMINATION`] signals become
    /// [`Wake::Signal`] instead of killing the process.
    pub fn new(catch_signals: bool) -> io::Result<Self> {
        Self::catching(if catch_signals { &TERMINATION } else { &[] })
    }

    /// A new loop on which each of `signals` becomes [`Wake::Signal`]
    /// instead of doing what it does by default (none: nothing is caught).
    /// SIGHUP is left alone when the process started with it ignored.
    pub fn catching(signals: &[libc::c_int]) -> io::Result<Self> {
        let poll = Poll::new()?;
        let keep_ignored = signals.contains(&libc::SIGHUP) && hangup_ignored();
        let signals: Vec<libc::c_int> = signals
            .iter()
            .copied()
            .filter(|&s| !(keep_ignored && s == libc::SIGHUP))
            .collect();
        let signals = if !signals.is_empty() {
            let mut signals = Signals::new(signals)?;
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)?;
            Some(signals)
        } else {
            None
        };
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(64),
            signals,
        })
    }

    /// Where sources are registered.
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Blocks until a source is ready, a signal arrives or `deadline` passes.
    /// `EINTR` is retried; spurious wake-ups come back as an empty `Ready`.
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<Wake> {
        loop {
            let timeout = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(Wake::Timeout);
                    }
                    // Round up so we never wake just before the deadline.
                    Some(d - now + Duration::from_micros(50))
                }
                None => None,
            };
            let Some(wake) = self.poll_once(timeout)? else {
                continue;
            };
            return Ok(match wake {
                Wake::Ready(0) if deadline.is_some_and(|d| Instant::now() >= d) => Wake::Timeout,
                wake => wake,
            });
        }
    }

    /// Looks, without blocking, for ready sources and signals: for a caller
    /// that stopped reading a busy source to do other work in between.
    /// Nothing ready is [`Wake::Timeout`], not an empty `Ready`.
    pub fn poll_now(&mut self) -> io::Result<Wake> {
        loop {
            if let Some(wake) = self.poll_once(Some(Duration::ZERO))? {
                return Ok(match wake {
                    Wake::Ready(0) => Wake::Timeout,
                    wake => wake,
                });
            }
        }
    }

    /// One poll: the ready sources, or a signal; `None` when interrupted.
    fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<Option<Wake>> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut ready = 0u64;
        let mut signalled = false;
        for event in self.events.iter() {
            match event.token() {
                SIGNALS => signalled = true,
                Token(i) if i < MAX_TOKENS => ready |= 1 << i,
                // No caller can make such a token (see `token`).
                Token(_) => {}
            }
        }
        if signalled
            && let Some(signals) = self.signals.as_mut()
            && let Some(signal) = signals.pending().next()
        {
            return Ok(Some(Wake::Signal(signal)));
        }
        Ok(Some(Wake::Ready(ready)))
    }
}
