//! A file's content: chunks buffered, written out before their acks go,
//! hashed, and at the end checked and put in place.

use super::{Failed, Outcome, Receiver, Saved, Transfer, WRITE_BUFFER, write_status};
use crate::commands::files::name::safe_name;
use crate::wire::file::{FILE_BROKEN, FILE_DONE, FILE_HASH_MISMATCH, HASH_LEN};
use std::io::{self, Write};
use std::time::{Instant, SystemTime};

impl Receiver {
    pub(super) fn chunk(&mut self, sender: u64, offset: u64, data: &[u8]) {
        let Some(t) = self
            .peers
            .get_mut(&sender)
            .and_then(|p| p.transfer.as_mut())
        else {
            // Content of a transfer that ended: its sender may not know.
            self.owe(sender);
            return;
        };
        if offset != t.received || data.len() as u64 > t.size - t.received {
            self.fail(sender, FILE_BROKEN, 0, None, false);
            return;
        }
        t.buf.extend_from_slice(data);
        t.received += data.len() as u64;
        if t.buf.len() >= WRITE_BUFFER
            && let Err(e) = write_out(t)
        {
            self.fail_io(sender, e);
        }
    }

    pub(super) fn end(&mut self, sender: u64, hash: [u8; HASH_LEN], now: Instant) {
        let Some(peer) = self.peers.get_mut(&sender) else {
            return;
        };
        let Some(mut t) = peer.transfer.take() else {
            self.owe(sender);
            return;
        };
        self.active.retain(|&s| s != sender);
        if let Err(e) = write_out(&mut t) {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail_io(sender, e);
            return;
        }
        if t.received != t.size {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail(sender, FILE_BROKEN, 0, None, false);
            return;
        }
        t.hasher.update(&t.buf);
        t.buf.clear();
        let got = *t.hasher.finalize().as_bytes();
        if got != hash {
            peer.transfer = Some(t);
            self.active.push(sender);
            self.fail(sender, FILE_HASH_MISMATCH, 0, None, false);
            return;
        }
        let Some(dir) = self.config.dir.as_deref() else {
            return;
        };
        let name = safe_name(&t.offered);
        match t.part.place(dir, &name, self.config.overwrite) {
            Ok(path) => {
                peer.last = Some((t.offer_seq, FILE_DONE, t.size));
                self.owe(sender);
                self.outcomes.push(Outcome::Saved(Saved {
                    at: SystemTime::now(),
                    from: t.from,
                    cred: t.cred,
                    sender,
                    name: t.sender_name,
                    offered: t.offered,
                    path,
                    size: t.size,
                    hash: got,
                    elapsed: now.saturating_duration_since(t.started),
                }));
            }
            Err(e) => {
                let status = write_status(&e);
                peer.last = Some((t.offer_seq, status, 0));
                self.owe(sender);
                self.outcomes.push(Outcome::Failed(Failed {
                    from: t.from,
                    sender,
                    offered: t.offered,
                    status,
                    detail: 0,
                    cancelled: false,
                    error: Some(e),
                }));
            }
        }
    }

    /// Writes out what every transfer has buffered: call before the acks
    /// that confirm it go out.
    pub fn flush(&mut self) {
        for i in (0..self.active.len()).rev() {
            let Some(&sender) = self.active.get(i) else {
                continue;
            };
            let Some(t) = self
                .peers
                .get_mut(&sender)
                .and_then(|p| p.transfer.as_mut())
            else {
                continue;
            };
            if let Err(e) = write_out(t) {
                self.fail_io(sender, e);
            }
        }
    }
}

/// Writes what a transfer buffered and did not write yet to its partial
/// file. The buffer is hashed (and emptied) only once it holds
/// [`WRITE_BUFFER`] bytes, not at every write: BLAKE3 hashes large pieces
/// several chunks at a time, and a piece ending mid-chunk costs extra.
fn write_out(t: &mut Transfer) -> io::Result<()> {
    if t.written < t.buf.len() {
        t.part.file.write_all(&t.buf[t.written..])?;
        t.written = t.buf.len();
    }
    if t.buf.len() >= WRITE_BUFFER {
        t.hasher.update(&t.buf);
        t.buf.clear();
        t.written = 0;
    }
    Ok(())
}
