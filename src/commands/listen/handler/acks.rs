//! Texts that ask for an ack: ordered once per sender, their acks (and
//! file statuses) owed and sent after the output is flushed, and repeats
//! answered while the listener lingers. Senders that share an address and
//! set FLAG_BUNDLE get their acks together, in one Acks datagram.

use super::release::{message_of, show_files, show_release};
use super::{Handler, Origin};
use crate::commands::files::receive::Route;
use crate::commands::listen::sink::{Notice, Sink};
use crate::net::{DatagramSocket, Local, PeerAddr, ReplyBatch};
use crate::reliable::order::Verdict;
use crate::seal::Outgoing;
use crate::wire::file::{self as file_wire, FileRecord};
use crate::wire::{self, Ack, Acks, FileStatus, MAX_ACK_RANGES, Message, Refuse, Text};
use std::io;
use std::time::Instant;

/// An acknowledgement owed to a sender, sent after the output is flushed.
#[derive(Debug, Clone)]
pub(super) struct Owed {
    to: PeerAddr,
    local: Option<Local>,
    via: usize,
    /// The seqs that arrived since the last ack (the first few): their held
    /// ranges go into the ack first.
    recent: Vec<u64>,
    /// Bytes of the texts the ack answers (open size): the ack is never
    /// larger, so a forged source cannot make a listener an amplifier.
    budget: usize,
    /// The latest text the ack answers set FLAG_BUNDLE: the ack may go in
    /// an Acks datagram.
    bundle: bool,
}

/// Where an Acks datagram goes: the socket, the address and the local
/// address it leaves from (those of the texts it answers).
pub(super) type BundleKey = (usize, PeerAddr, Option<Local>);

/// The entries of an Acks datagram being gathered for one [`BundleKey`].
#[derive(Debug, Default)]
pub(super) struct Bundle {
    entries: Vec<u8>,
    count: usize,
}

/// Recent arrivals an [`Owed`] remembers (as many as an ack's ranges).
const OWED_RECENT: usize = MAX_ACK_RANGES;

impl Handler {
    /// While closing: answers a repeat of an acknowledged message (its ack
    /// again, and a file record's status) and, for a file record that is
    /// not one, the status of that sender's last transfer (it ended while
    /// the sender kept sending); ignores everything else.
    pub(super) fn repeated(
        &mut self,
        message: Message<'_>,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let Message::Text(text) = message else {
            return Ok(());
        };
        if text.flags & wire::FLAG_ACK == 0 {
            return Ok(());
        }
        if self.streams.is_repeat(text.sender, text.seq, text.base) {
            self.repeats.push(text.sender);
            return self.acked_text(&text, open_len, origin, sink);
        }
        if text.flags & wire::FLAG_FILE == 0 {
            return Ok(());
        }
        let route = Route {
            to: origin.from.clone(),
            local: origin.local,
            via: origin.via,
        };
        if self.files.answer_again(text.sender, route) {
            self.repeats.push(text.sender);
        }
        Ok(())
    }

    /// A message that wants an ack: exactly once, in order, per sender.
    /// The ack is owed, and sent after the output is flushed.
    pub(super) fn acked_text(
        &mut self,
        text: &Text<'_>,
        open_len: usize,
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let now = origin.now;
        let file = text.flags & wire::FLAG_FILE != 0;
        if file {
            let route = Route {
                to: origin.from.clone(),
                local: origin.local,
                via: origin.via,
            };
            self.files.heard(text.sender, route, now);
            // A Cancel is acted on as it arrives, not in its turn.
            if let Ok(FileRecord::Cancel) = file_wire::decode_record(text.body) {
                self.files.cancel(text.sender);
            }
        }
        let (stats, files) = (&mut self.stats, &mut self.files);
        let verdict = self
            .streams
            .accept(message_of(text, origin), now, &mut |release| {
                show_release(release, Some(now), stats, files, sink)
            });
        show_files(&mut self.files, &mut self.stats, sink)?;
        let verdict = verdict?;
        match verdict {
            Verdict::Duplicate if file => {
                self.stats.duplicates += 1;
                self.files.repeat(text.sender);
            }
            Verdict::Duplicate => self.stats.duplicates += 1,
            Verdict::Busy => {
                self.stats.refused += 1;
                let refuse = Message::Refuse(Refuse {
                    instance: self.instance,
                    sender: text.sender,
                    seq: text.seq,
                    reason: wire::REFUSED_BUSY,
                });
                self.reply(&refuse, origin, sink)?;
            }
            _ => {}
        }
        if verdict.acknowledged() && origin.from.is_unnamed() {
            return self.unanswerable("message that asks for an ack", sink);
        }
        if verdict.acknowledged() {
            let owed = self.owed.entry(text.sender).or_insert_with(|| Owed {
                to: origin.from.clone(),
                local: origin.local,
                via: origin.via,
                recent: Vec::new(),
                budget: 0,
                bundle: false,
            });
            owed.budget += open_len;
            owed.bundle = text.flags & wire::FLAG_BUNDLE != 0;
            // The ack goes where the latest datagram came from.
            if owed.to != *origin.from {
                owed.to = origin.from.clone();
            }
            owed.local = origin.local;
            owed.via = origin.via;
            if owed.recent.len() < OWED_RECENT {
                owed.recent.push(text.seq);
            }
        }
        Ok(())
    }

    /// True when some sender is owed an acknowledgement (or a file status).
    pub fn acks_owed(&self) -> bool {
        !self.owed.is_empty() || self.files.statuses_owed()
    }

    /// Sends every owed acknowledgement (call only once the output is
    /// flushed): the sender's stream state, cumulative and selective.
    pub fn send_acks(&mut self, sockets: &[DatagramSocket], sink: &mut dyn Sink) -> io::Result<()> {
        // File content confirmed by these acks is written out first.
        self.files.flush();
        show_files(&mut self.files, &mut self.stats, sink)?;
        self.acks.resize_with(sockets.len(), ReplyBatch::default);
        // Nothing is left from a call that failed half-way.
        self.bundles.clear();
        // The limit holds for the datagram as sent: sealing adds to it.
        let seal = if self.outgoing.is_keyed() {
            wire::SEAL_OVERHEAD
        } else {
            0
        };
        let max_len = wire::ACKS_MAX_LEN - seal;
        for (sender, owed) in self.owed.drain() {
            // Never larger than what it answers: as many ranges as fit.
            let room = owed.budget.saturating_sub(wire::ACK_OVERHEAD) / wire::ACK_RANGE_LEN;
            let max_ranges = room.min(MAX_ACK_RANGES);
            let Some((next, held)) = self.streams.ack_state(sender, max_ranges, &owed.recent)
            else {
                continue;
            };
            let Some(batch) = self.acks.get_mut(owed.via) else {
                continue;
            };
            self.ranges.clear();
            wire::put_ack_ranges(held, &mut self.ranges);
            if owed.bundle {
                // An entry is 18 bytes smaller than its Ack, so an Acks of
                // two or more is smaller than the texts it answers too.
                let key = (owed.via, owed.to, owed.local);
                // Few addresses per batch (at most one per datagram of a
                // receive batch; often one): a scan beats hashing.
                let at = match self.bundles.iter().rposition(|(k, _)| *k == key) {
                    Some(at) => at,
                    None => {
                        self.bundles.push((key, Bundle::default()));
                        self.bundles.len() - 1
                    }
                };
                let (key, bundle) = &mut self.bundles[at];
                let entry = wire::ACKS_ENTRY_OVERHEAD + self.ranges.len();
                if bundle.count == wire::MAX_ACKS_ENTRIES
                    || wire::ACKS_OVERHEAD + bundle.entries.len() + entry > max_len
                {
                    let out = (self.instance, &mut self.reply, &mut self.outgoing);
                    push_bundle(out, bundle, batch, key, &mut self.stats, sink)?;
                }
                wire::put_acks_entry(sender, next, &self.ranges, &mut bundle.entries);
                bundle.count += 1;
                continue;
            }
            let ack = Message::Ack(Ack {
                instance: self.instance,
                sender,
                next,
                ranges: &self.ranges,
            });
            self.reply.clear();
            if wire::encode(&ack, wire::MAX_DATAGRAM_V4, &mut self.reply).is_err() {
                continue;
            }
            let sealed = self.outgoing.seal(&self.reply, &owed.to);
            // Never fails: unnamed senders are owed nothing (acked_text).
            if let Err(error) = batch.push(sealed, &owed.to, owed.local) {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: &owed.to,
                    error: &error,
                })?;
            }
        }
        for (key, mut bundle) in self.bundles.drain(..) {
            if let Some(batch) = self.acks.get_mut(key.0) {
                let out = (self.instance, &mut self.reply, &mut self.outgoing);
                push_bundle(out, &mut bundle, batch, &key, &mut self.stats, sink)?;
            }
        }
        self.queue_statuses();
        // One sendmmsg per socket for every ack of the batch.
        for (batch, socket) in self.acks.iter_mut().zip(sockets) {
            if batch.is_empty() {
                continue;
            }
            let mut failures = Vec::new();
            self.stats.acks +=
                batch.send(socket, |to, error| failures.push((to.clone(), error))) as u64;
            self.last_ack = Some(Instant::now());
            for (to, error) in failures {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: &to,
                    error: &error,
                })?;
            }
        }
        Ok(())
    }

    /// Queues the file statuses owed, after the acks of each socket.
    fn queue_statuses(&mut self) {
        let (acks, reply, outgoing, instance, unanswerable) = (
            &mut self.acks,
            &mut self.reply,
            &mut self.outgoing,
            self.instance,
            &mut self.stats.unanswerable,
        );
        self.files.take_statuses(|status| {
            let Some(batch) = acks.get_mut(status.route.via) else {
                return;
            };
            let message = Message::FileStatus(FileStatus {
                instance,
                sender: status.sender,
                seq: status.seq,
                status: status.status,
                detail: status.detail,
            });
            reply.clear();
            if wire::encode(&message, wire::MAX_DATAGRAM_V4, reply).is_err() {
                return;
            }
            let to = &status.route.to;
            // A Unix socket without a name cannot be told.
            if batch
                .push(outgoing.seal(reply, to), to, status.route.local)
                .is_err()
            {
                *unanswerable += 1;
            }
        });
    }
}

/// Queues the acks gathered in `bundle` (and empties it): one Acks
/// datagram, or an Ack when there is only one.
fn push_bundle(
    (instance, reply, outgoing): (u64, &mut Vec<u8>, &mut Outgoing),
    bundle: &mut Bundle,
    batch: &mut ReplyBatch,
    (_, to, local): &BundleKey,
    stats: &mut super::Stats,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    let acks = Acks {
        instance,
        entries: &bundle.entries,
    };
    let message = match bundle.count {
        0 => return Ok(()),
        1 => match acks.acks().next() {
            Some(ack) => Message::Ack(ack),
            None => return Ok(()),
        },
        _ => Message::Acks(acks),
    };
    reply.clear();
    let encoded = wire::encode(&message, wire::MAX_DATAGRAM_V4, reply);
    bundle.entries.clear();
    bundle.count = 0;
    if encoded.is_err() {
        return Ok(());
    }
    if let Err(error) = batch.push(outgoing.seal(reply, to), to, *local) {
        stats.reply_errors += 1;
        sink.notice(&Notice::ReplyFailed { to, error: &error })?;
    }
    Ok(())
}
