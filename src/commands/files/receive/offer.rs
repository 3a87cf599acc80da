//! Checking an offer before any content flows: a save directory, the size
//! limit, the number of transfers, the free space; then its partial file.

use super::{
    Failed, MAX_TRANSFERS, MAX_TRANSFERS_PER_SOURCE, Outcome, Receiver, Transfer, write_status,
};
use crate::commands::files::store::{self, Part};
use crate::net::PeerAddr;
use crate::reliable::order::Arrived;
use crate::wire::file::{
    FILE_ACCEPTED, FILE_BROKEN, FILE_BUSY, FILE_NO_SAVE_DIR, FILE_NO_SPACE, FILE_TOO_LARGE,
    FILE_WRITE_FAILED,
};
use std::io;
use std::time::Instant;

impl Receiver {
    pub(super) fn offer(&mut self, msg: &Arrived<'_>, size: u64, name: &str, now: Instant) {
        // A new offer while one runs: the sender gave the old one up.
        self.fail(msg.sender, FILE_BROKEN, 0, None, false);
        let refuse = |status: u8, detail: u64, error: Option<io::Error>| (status, detail, error);
        let decision = match &self.config.dir {
            None => Err(refuse(FILE_NO_SAVE_DIR, 0, None)),
            Some(_) if size > self.config.max_size => {
                Err(refuse(FILE_TOO_LARGE, self.config.max_size, None))
            }
            Some(_) if self.busy(msg.from) => Err(refuse(FILE_BUSY, 0, None)),
            Some(dir) => match store::free_space(dir) {
                Err(e) => Err(refuse(FILE_WRITE_FAILED, 0, Some(e))),
                Ok(free) => {
                    let free = free.saturating_sub(self.reserved());
                    if size > free {
                        Err(refuse(FILE_NO_SPACE, free, None))
                    } else {
                        Part::create(dir, msg.sender)
                            .map_err(|e| refuse(write_status(&e), 0, Some(e)))
                    }
                }
            },
        };
        let Some(peer) = self.peers.get_mut(&msg.sender) else {
            return;
        };
        match decision {
            Ok(part) => {
                peer.transfer = Some(Transfer {
                    offer_seq: msg.seq,
                    offered: name.to_string(),
                    sender_name: msg.name.to_string(),
                    size,
                    received: 0,
                    part,
                    buf: Vec::new(),
                    written: 0,
                    hasher: blake3::Hasher::new(),
                    started: now,
                    from: msg.from.clone(),
                    cred: msg.cred,
                });
                peer.last = Some((msg.seq, FILE_ACCEPTED, 0));
                self.active.push(msg.sender);
                self.owe(msg.sender);
            }
            Err((status, detail, error)) => {
                peer.last = Some((msg.seq, status, detail));
                self.owe(msg.sender);
                self.outcomes.push(Outcome::Failed(Failed {
                    from: msg.from.clone(),
                    sender: msg.sender,
                    offered: name.to_string(),
                    status,
                    detail,
                    cancelled: false,
                    error,
                }));
            }
        }
    }

    /// Whether another transfer from `from` would be one too many (all
    /// Unix-domain senders are this host: one source).
    fn busy(&self, from: &PeerAddr) -> bool {
        if self.active.len() >= MAX_TRANSFERS {
            return true;
        }
        let same = self
            .active
            .iter()
            .filter_map(|s| self.peers.get(s))
            .filter_map(|p| p.transfer.as_ref())
            .filter(|t| t.from.inet().map(|a| a.ip()) == from.inet().map(|a| a.ip()))
            .count();
        same >= MAX_TRANSFERS_PER_SOURCE
    }

    /// What the running transfers still need of the disk.
    fn reserved(&self) -> u64 {
        self.active
            .iter()
            .filter_map(|s| self.peers.get(s))
            .filter_map(|p| p.transfer.as_ref())
            .map(|t| t.size - t.received)
            .sum()
    }
}
