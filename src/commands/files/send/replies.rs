//! What comes back to a file sender: acks that move the window, a refusal,
//! and the file statuses that say accepted, in place, or why not.

use super::{Current, FileSend, Phase};
use crate::commands::Error;
use crate::commands::deliver::on_ack;
use crate::commands::files::{FileFailure, Sent};
use crate::commands::send::Reply;
use crate::wire::file::{self, FILE_ACCEPTED, FILE_DONE, HASH_LEN};
use crate::wire::{FileStatus, Message};
use std::time::{Instant, SystemTime};

impl FileSend<'_> {
    /// Reads acks and statuses until the socket would block; returns the
    /// file when the listener said it is in place.
    pub(super) fn read_replies(&mut self, cur: &mut Current) -> Result<Option<Sent>, Error> {
        let id = self.sender.id();
        let mut status: Option<FileStatus> = None;
        // A closed port (an ICMP error) is reported by the socket before
        // the datagrams queued behind it: a listener that stopped said why
        // first, so that is read too.
        let mut closed = std::mem::take(&mut self.flags.closed);
        loop {
            let reply = match self.sender.recv_reply(&mut self.buf) {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                // Each echo is of a send of ours: finitely many.
                Err(Error::NotListening) => {
                    closed = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match reply {
                Reply::Message(Message::Ack(ack)) if ack.sender == id => {
                    let confirmed = on_ack(&mut self.outbox, &mut self.held, &ack, Instant::now());
                    if confirmed > 0 {
                        cur.progress_at = Instant::now();
                    }
                }
                Reply::Message(Message::Refuse(refuse)) if refuse.sender == id => {
                    return Err(Error::Refused {
                        reason: refuse.reason,
                    });
                }
                Reply::Message(Message::FileStatus(s))
                    if s.sender == id && s.seq == cur.offer_seq =>
                {
                    status = Some(s);
                }
                _ => {}
            }
        }
        if cur.phase != Phase::Offered {
            let first_chunk = cur.offer_seq + 1;
            let chunks = self.outbox.base().saturating_sub(first_chunk);
            let confirmed = (chunks.saturating_mul(self.chunk as u64)).min(cur.sent);
            self.progress.advance(confirmed);
        }
        let Some(s) = status else {
            return if closed {
                Err(self.port_closed(cur))
            } else {
                Ok(None)
            };
        };
        cur.progress_at = Instant::now();
        match s.status {
            FILE_ACCEPTED if cur.phase == Phase::Offered => {
                cur.phase = Phase::Streaming;
                cur.ask_at = None;
                Ok(None)
            }
            FILE_ACCEPTED => Ok(None),
            FILE_DONE if cur.phase == Phase::Ended => {
                let sent = Sent {
                    at: SystemTime::now(),
                    path: cur.offer.path.clone(),
                    name: cur.offer.name.clone(),
                    size: cur.offer.size,
                    sender: id,
                    elapsed: cur.started.elapsed(),
                    hash: cur.hash.unwrap_or([0; HASH_LEN]),
                };
                self.progress.advance(cur.offer.size);
                self.progress.done();
                Ok(Some(sent))
            }
            // "Done" before the end was sent cannot be this transfer's.
            FILE_DONE => Ok(None),
            other if file::is_final(other) => Err(Error::File(FileFailure::Status {
                file: cur.offer.name.clone(),
                status: other,
                detail: s.detail,
                size: cur.offer.size,
            })),
            _ => Ok(None),
        }
    }

    /// The port closed without a final status: nothing listens there if
    /// nothing ever answered; else the listener stopped (killed, say) and
    /// the transfer is lost.
    fn port_closed(&self, cur: &Current) -> Error {
        if self.outbox.heard_listener() || cur.phase != Phase::Offered {
            Error::File(FileFailure::ListenerGone {
                file: cur.offer.name.clone(),
            })
        } else {
            Error::NotListening
        }
    }
}
