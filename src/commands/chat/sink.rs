//! What a member hands to its output ([`Event`]s, to a [`Sink`]), what it
//! counts ([`Stats`]), and the adapters the loop shows through: the sink
//! guarded against its first error, and the listener handler's events as
//! the chat's.

use super::members::{Members, Who};
use super::room::Sent;
use crate::commands::listen;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// A member as `/who` shows it.
#[derive(Debug)]
pub struct Present<'a> {
    pub who: Who<'a>,
    pub addrs: &'a [SocketAddr],
    /// Since it was last heard.
    pub ago: Duration,
}

/// Something local to say: hints and refusals.
#[derive(Debug)]
pub enum Note<'a> {
    /// `/something` that is not a command.
    Unknown(&'a [u8]),
    /// A command used wrongly.
    Usage(&'static str),
    /// `/msg NAME`: nobody (or several members) has that name.
    NoSuchMember { name: &'a str, ambiguous: bool },
    /// A line longer than [`room::MAX_MESSAGE`](super::room::MAX_MESSAGE): not sent.
    TooLarge { len: usize, max: usize },
    /// `/name`: too long.
    BadName { len: usize, max: usize },
    /// The room is full: a newcomer is not a member.
    Full { max: usize },
}

/// One thing to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// A message from someone.
    Message {
        at: SystemTime,
        from: SocketAddr,
        who: Who<'a>,
        body: &'a [u8],
        sender: u64,
        seq: u64,
    },
    /// Messages of a sender that never arrived (it gave them up).
    Gap {
        at: SystemTime,
        from: SocketAddr,
        who: Who<'a>,
        sender: u64,
        first: u64,
        last: u64,
    },
    /// This member sent a message (to `to` only, for `/msg`).
    Sent {
        at: SystemTime,
        number: u64,
        me: Who<'a>,
        to: Option<Who<'a>>,
        body: &'a [u8],
    },
    /// A message this member sent was confirmed by every recipient, or
    /// not by all of them, or went to nobody: [`Sent::delivered`].
    Resolved {
        at: SystemTime,
        sent: &'a Sent,
        /// This member, under the name it sent it with.
        me: Who<'a>,
    },
    Joined {
        at: SystemTime,
        who: Who<'a>,
        addr: SocketAddr,
    },
    /// It left: said goodbye, or `expired` (no longer heard).
    Left {
        at: SystemTime,
        who: Who<'a>,
        expired: bool,
    },
    /// A member took a new name (`/name`); `mine`: this member did.
    Renamed {
        at: SystemTime,
        old: &'a str,
        who: Who<'a>,
        mine: bool,
    },
    /// `/who`'s answer.
    Members {
        me: Who<'a>,
        members: &'a [Present<'a>],
    },
    Note(Note<'a>),
}

/// Where a member's events go: the output layer implements it.
pub trait Sink {
    /// Shows one event. An error stops the chat.
    fn event(&mut self, event: &Event<'_>) -> io::Result<()>;
    /// Write out what was shown: acknowledgements follow.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
/// What a member did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent (each once, to however many members).
    pub sent: u64,
    /// Of those, confirmed by every recipient.
    pub delivered: u64,
    /// Of those, not confirmed by some recipient.
    pub not_delivered: u64,
    /// Messages received and shown.
    pub received: u64,
    /// Messages dropped over the per-address rate limit.
    pub rate_limited: u64,
    /// Hellos and goodbyes refused (key rules, malformed, rate limit).
    pub presence_refused: u64,
    /// Sends the system refused (counted as losses).
    pub send_errors: u64,
    /// Input lines refused (too long, an unknown command, a command used
    /// wrongly, `/msg` to nobody): said as a note, nothing sent.
    pub refused: u64,
}
/// The chat's sink, keeping the first error (the loop stops on it) so the
/// code that shows things need not stop halfway.
pub(super) struct Guarded<'a> {
    pub(super) sink: &'a mut dyn Sink,
    pub(super) error: Option<io::Error>,
}

impl Guarded<'_> {
    pub(super) fn event(&mut self, event: &Event<'_>) {
        if self.error.is_none()
            && let Err(e) = self.sink.event(event)
        {
            self.error = Some(e);
        }
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        self.sink.flush()
    }
}

/// What the listener's handler shows, as the chat shows it: messages with
/// their sender's name as the room knows it.
pub(super) struct Shown<'a, 'g> {
    members: &'a Members,
    out: &'a mut Guarded<'g>,
    pub(super) stats: &'a mut Stats,
}

impl<'a, 'g> Shown<'a, 'g> {
    pub(super) fn new(
        members: &'a Members,
        out: &'a mut Guarded<'g>,
        stats: &'a mut Stats,
    ) -> Self {
        Shown {
            members,
            out,
            stats,
        }
    }
}

impl listen::Sink for Shown<'_, '_> {
    fn event(&mut self, event: &listen::Event<'_>) -> io::Result<()> {
        match *event {
            listen::Event::Text {
                at,
                from,
                name,
                body,
                sender,
                seq,
                ..
            } => {
                // The chat sockets are UDP: every sender has an IP address.
                let Some(from) = from.inet() else {
                    return Ok(());
                };
                self.stats.received += 1;
                let who = self.members.sender(sender, name);
                self.out.event(&Event::Message {
                    at,
                    from,
                    who,
                    body,
                    sender,
                    seq,
                });
            }
            listen::Event::Gap {
                at,
                from,
                sender,
                first,
                last,
            } => {
                let Some(from) = from.inet() else {
                    return Ok(());
                };
                let who = self.members.sender(sender, "");
                self.out.event(&Event::Gap {
                    at,
                    from,
                    who,
                    sender,
                    first,
                    last,
                });
            }
            listen::Event::Raw { .. } => {}
        }
        match &self.out.error {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A listener sink that shows nothing (the announcer's notices).
pub(super) struct Quiet;

impl listen::Sink for Quiet {
    fn event(&mut self, _event: &listen::Event<'_>) -> io::Result<()> {
        Ok(())
    }
}
