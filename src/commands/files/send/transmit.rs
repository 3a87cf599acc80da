//! Putting a file sender's records on the wire: through the outbox, queued
//! to go out in runs, resent when due, and the Cancel; what sending found
//! out on the way (losses, a closed port).

use super::{CANCEL_COPIES, FileSend};
use crate::commands::Error;
use crate::commands::send::{Sender, Unsent};
use crate::net;
use crate::wire::file::{FileRecord, encode_record};
use crate::wire::{self, FLAG_ACK, FLAG_FILE};
use std::io;
use std::time::Instant;

impl FileSend<'_> {
    /// Encodes `self.record` as the next acknowledged file Text (carrying
    /// `name`), sends it (queued: see [`Self::flush`]), and returns its
    /// open datagram.
    pub(super) fn push_record(&mut self, name: &str, now: Instant) -> Result<Vec<u8>, Error> {
        self.open.clear();
        self.sender.encode_text_named(
            &self.record,
            self.outbox.next_seq(),
            FLAG_ACK | FLAG_FILE,
            name,
            &mut self.open,
        )?;
        self.push_open(self.open.clone(), now)?;
        Ok(self.open.clone())
    }

    /// Hands the open datagram of message [`Outbox::next_seq`] to the
    /// outbox, which sends it (queued: see [`Self::flush`]).
    ///
    /// [`Outbox::next_seq`]: crate::reliable::outbox::Outbox::next_seq
    pub(super) fn push_open(&mut self, open: Vec<u8>, now: Instant) -> Result<(), Error> {
        let (sender, flags) = (&mut self.sender, &mut self.flags);
        self.outbox.push(open, now, &mut |bytes, base| {
            wire::set_text_base(bytes, base);
            transmit(sender, flags, bytes)
        })
    }

    /// Sends what is queued (datagrams go out in runs: [`transmit`]).
    pub(super) fn flush(&mut self) -> Result<(), Error> {
        self.sender
            .flush_open()
            .or_else(|unsent| lost(&mut self.flags, unsent))
    }

    /// Tells the listener to drop the transfer (best effort, not waited for).
    pub(super) fn cancel(&mut self) {
        // What is queued goes first (best effort too): the Cancel is last.
        let _ = self.sender.flush_open();
        self.record.clear();
        encode_record(&FileRecord::Cancel, &mut self.record);
        self.open.clear();
        let seq = self.outbox.next_seq();
        if self
            .sender
            .encode_text_named(&self.record, seq, FLAG_ACK | FLAG_FILE, "", &mut self.open)
            .is_err()
        {
            return;
        }
        wire::set_text_base(&mut self.open, self.outbox.base());
        for _ in 0..CANCEL_COPIES {
            let _ = self.sender.send_open(&self.open);
        }
    }

    pub(super) fn resend_due(&mut self) -> Result<(), Error> {
        let (sender, flags) = (&mut self.sender, &mut self.flags);
        self.outbox.resend_due(Instant::now(), &mut |bytes, base| {
            wire::set_text_base(bytes, base);
            transmit(sender, flags, bytes)
        })
    }
}

/// What sending found out on the way.
#[derive(Debug, Default)]
pub(super) struct SendFlags {
    /// Sends refused by this host (a firewall rule): losses.
    pub(super) local_errors: u64,
    /// A send reported the port closed (ICMP): nothing listens any more.
    pub(super) closed: bool,
}

/// Sends one datagram: queued, to go out with the next ones of its size in
/// one system call (see [`Sender::queue_open`]; [`FileSend::flush`] sends
/// the rest before any wait). A send the local system refuses is a loss
/// (the outbox retries it), not the end.
pub(super) fn transmit(
    sender: &mut Sender,
    flags: &mut SendFlags,
    bytes: &[u8],
) -> Result<(), Error> {
    sender
        .queue_open(bytes)
        .or_else(|unsent| lost(flags, unsent))
}

/// Datagrams that did not go: a loss, unless nothing can go any more.
fn lost(flags: &mut SendFlags, unsent: Unsent) -> Result<(), Error> {
    match unsent.error {
        // A closed port: the replies tell whether the listener said why
        // before it went (read them first, see `read_replies`).
        e if e.kind() == io::ErrorKind::ConnectionRefused => {
            flags.closed = true;
            Ok(())
        }
        e if net::classify_send_error(&e) == net::SendFailure::Local => {
            flags.local_errors += unsent.datagrams as u64;
            Ok(())
        }
        e => Err(e.into()),
    }
}
