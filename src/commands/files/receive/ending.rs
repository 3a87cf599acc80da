//! Transfers that end without a file: a failed write, a broken stream, a
//! silent sender, the listener stopping.

use super::{Failed, Outcome, Receiver, STATUS_MEMORY, Transfer, write_status};
use crate::wire::file::{FILE_BROKEN, FILE_STOPPED};
use std::io;
use std::time::Instant;

impl Receiver {
    pub(super) fn fail_io(&mut self, sender: u64, e: io::Error) {
        self.fail(sender, write_status(&e), 0, Some(e), false);
    }

    /// Ends `sender`'s running transfer, if any, with `status`: its partial
    /// file is removed and the sender told (unless it cancelled).
    pub(super) fn fail(
        &mut self,
        sender: u64,
        status: u8,
        detail: u64,
        error: Option<io::Error>,
        cancelled: bool,
    ) {
        let Some(peer) = self.peers.get_mut(&sender) else {
            return;
        };
        let Some(t) = peer.transfer.take() else {
            return;
        };
        self.active.retain(|&s| s != sender);
        peer.last = Some((t.offer_seq, status, detail));
        // Dropping the transfer removes its partial file.
        let Transfer { from, offered, .. } = t;
        if !cancelled {
            self.owe(sender);
        }
        self.outcomes.push(Outcome::Failed(Failed {
            from,
            sender,
            offered,
            status,
            detail,
            cancelled,
            error,
        }));
    }

    /// Abandons the transfers of senders silent for the configured wait
    /// and forgets statuses older than `STATUS_MEMORY`.
    pub fn expire(&mut self, now: Instant) {
        let wait = self.config.wait;
        let silent: Vec<u64> = self
            .active
            .iter()
            .copied()
            .filter(|s| {
                self.peers
                    .get(s)
                    .is_some_and(|p| now.saturating_duration_since(p.heard) >= wait)
            })
            .collect();
        for sender in silent {
            self.fail(sender, FILE_BROKEN, 0, None, false);
        }
        while let Some((&sender, peer)) = self.peers.front() {
            if peer.transfer.is_some()
                || peer.owed
                || now.saturating_duration_since(peer.heard) < STATUS_MEMORY
            {
                break;
            }
            self.peers.remove(&sender);
        }
    }

    /// The listener stops: every running transfer ends ([`FILE_STOPPED`]).
    pub fn stop(&mut self) {
        for sender in self.active.clone() {
            self.fail(sender, FILE_STOPPED, 0, None, false);
        }
    }
}
