//! `send --wait`: the request/response use of `nc -u`. Each message goes
//! out as `send` sends it, the socket stays open, and every datagram that
//! comes back to it (a udpmsg text, or raw bytes from any other program)
//! goes to a listener's [`Sink`], so it is shown as `listen` shows it. The
//! wait ends a while after the last message was sent, after a number of
//! replies, or on a signal.
//!
//! Replies are taken from anyone, not only from the destination: a
//! question to a group or a broadcast address is answered by many, and
//! some services answer from another port (TFTP). Each is shown with the
//! address it came from. With a key only sealed udpmsg texts count.
//!
//! The socket is not connected, so a closed port is learnt from the ICMP
//! errors it asked for ([`crate::net::SendOptions::icmp_errors`]): when the
//! destination refused before anything came back, the run ends at once
//! with [`Error::NotListening`].

use super::Error;
use super::listen::{Event, Sink};
use super::send::{Came, Sender};
use super::source::{Next, Source};
use crate::event::{EventLoop, Wake, token};
use crate::net::{self, SendFailure};
use crate::reliable::dedup::Recent;
use crate::seal::Opened;
use crate::wire::{self, Message};
use mio::Token;
use std::time::{Duration, Instant, SystemTime};

const SOCKET: Token = token(0);
const INPUT: Token = token(1);

/// How long to wait and what to send.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How long to keep waiting for replies after the last message went.
    pub wait: Duration,
    /// Stop as soon as this many replies were shown.
    pub count: Option<u64>,
    /// Send the messages as raw datagrams, not udpmsg texts.
    pub raw: bool,
    /// Stop cleanly on SIGINT/SIGTERM/SIGHUP.
    pub catch_signals: bool,
}

/// How a `send --wait` went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// Messages sent.
    pub sent: u64,
    /// Replies shown.
    pub replies: u64,
    /// The input had ended when the wait stopped (else `--count` or a
    /// signal stopped it first).
    pub input_done: bool,
    /// A signal stopped it (the signal number).
    pub interrupted: Option<i32>,
}

/// Sends every message of `source` through `sender` (unconnected, with
/// arrival information: see [`net::SendOptions::arrival_info`]; for a
/// unicast destination with [`net::SendOptions::icmp_errors`] too) and
/// shows every reply through `sink` until `config` says stop, or until the
/// destination refused before any reply came ([`Error::NotListening`]). A message that
/// cannot go (too large, or refused by this host for now) is handed to
/// `skipped` with its 1-based number, and the rest still go; when none
/// went at all, the run ends as soon as the input has (nothing sent,
/// nothing to wait for). An error the sink returns ends the run as
/// [`Error::Output`].
pub fn ask(
    mut sender: Sender,
    source: &mut dyn Source,
    config: Config,
    sink: &mut dyn Sink,
    skipped: &mut dyn FnMut(u64, Error),
) -> Result<Asked, Error> {
    let mut events = EventLoop::new(config.catch_signals)?;
    sender.register(events.registry(), SOCKET)?;
    let mut asking = Asking {
        sender,
        config,
        asked: Asked::default(),
        number: 0,
        recent: Recent::default(),
        buf: vec![0; wire::MAX_DATAGRAM + 1],
    };
    let mut deadline: Option<Instant> = None;
    let mut input_waits = false;
    let mut refused = false;
    loop {
        if !asking.asked.input_done && !input_waits {
            input_waits = asking.send_available(source, &events, skipped)?;
            if asking.asked.input_done {
                if asking.asked.sent == 0 {
                    break;
                }
                deadline = Some(Instant::now() + config.wait);
            }
        }
        asking.read_replies(sink)?;
        // Nothing listens there, and nobody else answered: no use waiting.
        if asking.sender.refused()? && asking.asked.replies == 0 {
            refused = true;
            break;
        }
        if asking.count_reached() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let flush_at = sink.idle(Instant::now()).map_err(Error::Output)?;
        let wake_at = [deadline, flush_at].into_iter().flatten().min();
        match events.wait(wake_at)? {
            Wake::Signal(signal) => {
                asking.asked.interrupted = Some(signal);
                break;
            }
            wake if wake.is_ready(INPUT) => {
                source.readable();
                input_waits = false;
            }
            _ => {}
        }
    }
    sink.finish().map_err(Error::Output)?;
    if refused {
        return Err(Error::NotListening);
    }
    Ok(asking.asked)
}

/// A `send --wait` in progress.
struct Asking {
    sender: Sender,
    config: Config,
    asked: Asked,
    /// Messages read so far (for reporting one that cannot go).
    number: u64,
    /// Texts shown lately: a copy arriving twice is shown once.
    recent: Recent,
    buf: Vec<u8>,
}

impl Asking {
    fn count_reached(&self) -> bool {
        self.config.count.is_some_and(|n| self.asked.replies >= n)
    }

    /// Sends every message the source has without waiting; true when it
    /// has nothing now and was armed with the event loop.
    fn send_available(
        &mut self,
        source: &mut dyn Source,
        events: &EventLoop,
        skipped: &mut dyn FnMut(u64, Error),
    ) -> Result<bool, Error> {
        loop {
            let body = match source.next().map_err(Error::Input)? {
                Next::Message(body) => body,
                Next::Pending => {
                    if source.arm(events.registry(), INPUT).map_err(Error::Input)? {
                        return Ok(true);
                    }
                    continue;
                }
                Next::End => {
                    self.asked.input_done = true;
                    return Ok(false);
                }
            };
            self.number += 1;
            let sent = if self.config.raw {
                self.sender.raw(body)
            } else {
                self.sender.text(body)
            };
            match sent {
                Ok(()) => self.asked.sent += 1,
                Err(e @ Error::TooLarge { .. }) => skipped(self.number, e),
                Err(Error::Io(e)) if net::classify_send_error(&e) == SendFailure::Local => {
                    skipped(self.number, Error::Io(e));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Shows every datagram waiting on the socket (until `--count`).
    fn read_replies(&mut self, sink: &mut dyn Sink) -> Result<(), Error> {
        while !self.count_reached() {
            let Some(Came { from, cred, opened }) = self.sender.recv_any(&mut self.buf)? else {
                return Ok(());
            };
            let at = SystemTime::now();
            let from = &from;
            let event = match opened {
                Ok(Opened::Raw(bytes)) => Event::Raw {
                    at,
                    from,
                    cred,
                    bytes,
                },
                Ok(Opened::Message(Message::Text(text))) => {
                    if !self
                        .recent
                        .first_time(text.sender, text.seq, Instant::now())
                    {
                        continue;
                    }
                    Event::Text {
                        at,
                        from,
                        cred,
                        name: text.name,
                        body: text.body,
                        sender: text.sender,
                        seq: text.seq,
                    }
                }
                // Other udpmsg kinds (a pong, an ack, an answer) are
                // answers to what this command did not ask; malformed,
                // forged and unkeyed datagrams are refused as a listener
                // refuses them.
                Ok(Opened::Message(_)) | Err(_) => continue,
            };
            sink.event(&event).map_err(Error::Output)?;
            self.asked.replies += 1;
        }
        Ok(())
    }
}
