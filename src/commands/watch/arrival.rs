//! What one datagram means to the watcher: an answer, a hello or a goodbye,
//! checked (key rules, lengths, rate limit) and handed to the table.

use super::table::{self, Change, Sighting, Via};
use super::{Sink, Stats, Trace, Watcher};
use crate::commands::discover::hello_refused;
use crate::commands::listen::limit::RateLimiter;
use crate::commands::presence::{self, presence_port};
use crate::seal::{Opened, Refusal};
use crate::wire::{self, Message};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

impl Watcher {
    /// Acts on one datagram of `len` bytes in the buffer.
    pub(super) fn arrived(
        &mut self,
        len: usize,
        from: SocketAddr,
        ifindex: u32,
        dest: SocketAddr,
        presence: bool,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let now = Instant::now();
        let interface = presence::cached_interface_name(&mut self.interface_names, ifindex);
        let opened = self
            .envelope
            .incoming
            .open(&self.buf[..len], SystemTime::now(), dest);
        let message = match opened {
            Ok(Opened::Message(message)) => message,
            // Another program's datagram at a keyless watcher.
            Ok(Opened::Raw(_)) => return Ok(()),
            Err(why) => {
                self.stats.refused += 1;
                return sink.trace(&Trace::Refused {
                    from,
                    why: refusal_words(&why),
                });
            }
        };
        let port = self.config.port;
        let (sighting, goodbye) = match message {
            Message::Answer(a) if !presence => {
                // A listener on the presence port itself is not one of the
                // port's (it answered a probe sent there for chat members).
                if a.token & !0xff != self.token_base || Some(from.port()) == presence_port(port) {
                    return Ok(());
                }
                if a.name.len() > wire::MAX_NAME {
                    self.stats.ignored += 1;
                    return sink.trace(&Trace::Refused {
                        from,
                        why: "answer with a name longer than 255 bytes",
                    });
                }
                self.stats.answers += 1;
                let sighting = Sighting {
                    instance: a.instance,
                    name: a.name,
                    port: a.port,
                    version: a.version,
                    addr: from,
                    interface,
                    via: Via::Answer,
                };
                (Some(sighting), None)
            }
            Message::Hello(h) if presence => {
                if let Some(why) = hello_refused(&h) {
                    self.stats.ignored += 1;
                    return sink.trace(&Trace::Refused { from, why });
                }
                if over_limit(&mut self.limiter, &mut self.stats, from, now, sink)? {
                    return Ok(());
                }
                self.stats.hellos += 1;
                let sighting = Sighting {
                    instance: h.instance,
                    name: h.name,
                    port: h.port,
                    version: h.version,
                    addr: presence::with_scope_of(SocketAddr::new(from.ip(), h.port), from),
                    interface,
                    via: Via::Hello {
                        lifetime: Duration::from_millis(u64::from(h.lifetime_ms)),
                        room: h.room,
                    },
                };
                (Some(sighting), None)
            }
            Message::Goodbye(g) if presence => {
                if over_limit(&mut self.limiter, &mut self.stats, from, now, sink)? {
                    return Ok(());
                }
                self.stats.goodbyes += 1;
                (None, Some(g.instance))
            }
            // Probes, texts and the rest are not for a watcher.
            _ => return Ok(()),
        };
        let mut failed = None;
        let stats = &mut self.stats;
        let mut emit = |change: Change<'_>| {
            if failed.is_none() {
                failed = report(change, stats, sink).err();
            }
        };
        if let Some(sighting) = sighting {
            self.table.heard(&sighting, now, &mut emit);
        }
        if let Some(instance) = goodbye {
            self.table.goodbye(instance, now, &mut emit);
        }
        failed.map_or(Ok(()), Err)
    }
}

/// Counts a change and hands it to the sink.
pub(super) fn report(change: Change<'_>, stats: &mut Stats, sink: &mut dyn Sink) -> io::Result<()> {
    match change.kind {
        table::Kind::Up => stats.ups += 1,
        table::Kind::Down => stats.downs += 1,
        table::Kind::Changed => stats.changes += 1,
    }
    sink.change(&change, SystemTime::now())
}

/// Whether a hello or goodbye from `from` is over the rate limit they
/// share (counted and traced if so). Takes the fields, not the watcher:
/// the interface name borrowed from it is still in use.
fn over_limit(
    limiter: &mut RateLimiter,
    stats: &mut Stats,
    from: SocketAddr,
    now: Instant,
    sink: &mut dyn Sink,
) -> io::Result<bool> {
    if limiter.allow(from.ip(), now) {
        return Ok(false);
    }
    stats.rate_limited += 1;
    sink.trace(&Trace::Refused {
        from,
        why: "over the hello rate limit",
    })?;
    Ok(true)
}

/// The words for a refused datagram.
fn refusal_words(why: &Refusal) -> &'static str {
    match why {
        Refusal::RawWithKey => "not sealed (raw)",
        Refusal::Unsealed => "not sealed with a key",
        Refusal::NoKey => "sealed, and this watcher has no key",
        Refusal::Malformed(e) => e.label(),
        Refusal::Rejected(r) => r.label(),
    }
}
