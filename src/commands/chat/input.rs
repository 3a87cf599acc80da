//! Input lines: read while the room has room for them, and done
//! (a message to the room or to one member, `/who`, `/name`, `/quit`, or a
//! note saying why not).

use super::command::{self, Line};
use super::members::{Lookup, Member};
use super::sink::{Event, Guarded, Note, Present};
use super::transmit::Net;
use super::{Chat, INPUT, Input, MAX_NAME, room};
use crate::commands::Error;
use crate::commands::listen::announce::Announcer;
use crate::commands::listen::truncate_name;
use crate::commands::source::Next;
use std::net::SocketAddr;
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant, SystemTime};

impl Chat {
    /// Reads input lines while there is room to send them; false once the
    /// input has nothing more for now (or ended).
    pub(super) fn input(
        &mut self,
        input: &mut Input<'_>,
        out: &mut Guarded<'_>,
    ) -> Result<bool, Error> {
        self.paced = None;
        loop {
            if self.leave_by.is_some() {
                return Ok(false);
            }
            let now = Instant::now();
            if !self.room.has_room(now) {
                // A line may be waiting (unread): look again when the
                // pacing allows, or when acks open the window.
                self.paced = self.room.paced_until(now);
                return Ok(false);
            }
            match input {
                Input::Typed(lines) => match lines.try_recv() {
                    Ok(line) => self.line(&line, out),
                    Err(TryRecvError::Empty) => return Ok(false),
                    Err(TryRecvError::Disconnected) => self.leave(),
                },
                Input::Piped(source) => match source.next().map_err(Error::Input)? {
                    Next::Message(line) => {
                        let line = line.to_vec();
                        self.line(&line, out);
                    }
                    Next::Pending => {
                        let registry = self.events.registry();
                        if source.arm(registry, INPUT).map_err(Error::Input)? {
                            return Ok(false);
                        }
                    }
                    Next::End => self.leave(),
                },
            }
        }
    }

    /// Leaves once every message in flight is resolved (at most a
    /// message's patience from now, and a second for the last acks).
    fn leave(&mut self) {
        self.leave_by = Some(Instant::now() + self.patience.time + Duration::from_secs(1));
    }

    /// Does what one input line asks.
    fn line(&mut self, line: &[u8], out: &mut Guarded<'_>) {
        match command::parse(line) {
            Line::Say(body) => self.say(body, None, out),
            Line::Msg { to, text } => match self.members.find(to) {
                Ok(member) => {
                    let instance = member.instance;
                    self.say(text, Some(instance), out);
                }
                Err(why) => self.refuse(
                    Note::NoSuchMember {
                        name: to,
                        ambiguous: why == Lookup::Ambiguous,
                    },
                    out,
                ),
            },
            Line::Who => self.who(out),
            Line::Name(name) => self.rename(name, out),
            Line::Quit => self.leave(),
            Line::Empty => {}
            Line::Usage(usage) => self.refuse(Note::Usage(usage), out),
            Line::Unknown(word) => self.refuse(Note::Unknown(word), out),
        }
    }

    /// An input line that asks for nothing this member can do: said, and
    /// counted ([`Stats::refused`]).
    fn refuse(&mut self, note: Note<'_>, out: &mut Guarded<'_>) {
        self.stats.refused += 1;
        out.event(&Event::Note(note));
    }

    /// Sends `body` to the room, or to member `to` alone.
    fn say(&mut self, body: &[u8], to: Option<u64>, out: &mut Guarded<'_>) {
        if body.len() > room::MAX_MESSAGE {
            let note = Note::TooLarge {
                len: body.len(),
                max: room::MAX_MESSAGE,
            };
            self.refuse(note, out);
            return;
        }
        let recipients: Vec<(u64, &str, SocketAddr)> = self
            .members
            .iter()
            .filter(|m| to.is_none_or(|t| t == m.instance))
            .map(|m: &Member| (m.instance, m.name.as_str(), m.addr))
            .collect();
        let mut net = Net {
            sockets: &self.sockets,
            locals: &self.locals,
            outgoing: &mut self.outgoing,
            errors: &mut self.stats.send_errors,
        };
        let number = self.room.send(
            body,
            self.members.my_name(),
            &recipients,
            to.is_some(),
            Instant::now(),
            &mut net,
        );
        self.stats.sent += 1;
        out.event(&Event::Sent {
            at: SystemTime::now(),
            number,
            me: self.members.me(),
            to: to.and_then(|t| self.members.who(t)),
            body,
        });
    }

    /// `/who`.
    fn who(&mut self, out: &mut Guarded<'_>) {
        let now = Instant::now();
        let present: Vec<Present<'_>> = self
            .members
            .iter()
            .filter_map(|m| {
                Some(Present {
                    who: self.members.who(m.instance)?,
                    addrs: &m.addrs,
                    ago: now.saturating_duration_since(m.heard),
                })
            })
            .collect();
        out.event(&Event::Members {
            me: self.members.me(),
            members: &present,
        });
    }

    /// `/name NEW`: answers probes and announces itself with it from now
    /// on (a new burst of hellos, so the room hears it at once).
    fn rename(&mut self, name: &str, out: &mut Guarded<'_>) {
        if name.len() > MAX_NAME {
            let note = Note::BadName {
                len: name.len(),
                max: MAX_NAME,
            };
            self.refuse(note, out);
            return;
        }
        let old = self.members.my_name().to_string();
        self.members.rename_me(name.to_string());
        self.handler.set_name(name.to_string());
        self.announce.name = truncate_name(name).to_string();
        if let Ok(announcer) = Announcer::new(&self.announce, self.instance(), self.port) {
            self.announcer = announcer;
        }
        out.event(&Event::Renamed {
            at: SystemTime::now(),
            old: &old,
            who: self.members.me(),
            mine: true,
        });
    }
}
