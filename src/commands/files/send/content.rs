//! A file's content on the way out: read and hashed in blocks, sent in
//! chunks while the window has room, then the end with the hash.

use super::{Current, FIRST_ASK, FileSend, Phase, READ_BLOCK};
use crate::commands::Error;
use crate::commands::files::FileFailure;
use crate::wire::file::{FileRecord, encode_chunk_text, encode_record};
use crate::wire::{FLAG_ACK, FLAG_FILE};
use std::io::{self, Read};
use std::time::Instant;

impl FileSend<'_> {
    /// Sends chunks while the window has room; after the last, the end.
    pub(super) fn fill(&mut self, cur: &mut Current) -> Result<(), Error> {
        while self.outbox.has_room(self.chunk) {
            // Read for each: a full window takes milliseconds to go out,
            // and a send time read too early makes the round trip look
            // long (a queue, to the congestion window).
            let now = Instant::now();
            if cur.pos == cur.block.len() {
                if cur.read == cur.offer.size {
                    return self.end(cur, now);
                }
                self.read_block(cur)?;
            }
            let end = (cur.pos + self.chunk).min(cur.block.len());
            // Straight from the block into the datagram the outbox keeps:
            // the content's one copy on this side.
            let seq = self.outbox.next_seq();
            let mut open = Vec::new();
            encode_chunk_text(
                self.sender.id(),
                seq,
                seq,
                FLAG_ACK | FLAG_FILE,
                cur.sent,
                &cur.block[cur.pos..end],
                &mut open,
            );
            cur.sent += (end - cur.pos) as u64;
            cur.pos = end;
            self.push_open(open, now)?;
        }
        Ok(())
    }

    /// Reads the next block of the file, hashing it; the file must hold
    /// exactly the size offered.
    fn read_block(&mut self, cur: &mut Current) -> Result<(), Error> {
        let want = (cur.offer.size - cur.read).min(READ_BLOCK as u64) as usize;
        cur.block.resize(want, 0);
        cur.pos = 0;
        let changed = || {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file changed size while it was being sent",
            )
        };
        let mut filled = 0;
        while filled < want {
            match cur.offer.file.read(&mut cur.block[filled..]) {
                Ok(0) => return Err(self.read_failed(cur, changed())),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_failed(cur, e)),
            }
        }
        cur.read += want as u64;
        cur.hasher.update(&cur.block);
        if cur.read == cur.offer.size {
            // Longer than offered: it changed too.
            let mut probe = [0u8; 1];
            if matches!(cur.offer.file.read(&mut probe), Ok(n) if n > 0) {
                return Err(self.read_failed(cur, changed()));
            }
        }
        Ok(())
    }

    fn read_failed(&mut self, cur: &Current, error: io::Error) -> Error {
        self.cancel();
        Error::File(FileFailure::Read {
            path: cur.offer.path.clone(),
            error,
        })
    }

    /// All content is out: sends the end with the hash.
    fn end(&mut self, cur: &mut Current, now: Instant) -> Result<(), Error> {
        let hash = *cur.hasher.finalize().as_bytes();
        cur.hash = Some(hash);
        self.record.clear();
        encode_record(&FileRecord::End { hash }, &mut self.record);
        cur.end_seq = Some(self.outbox.next_seq());
        cur.asking = self.push_record("", now)?;
        cur.phase = Phase::Ended;
        cur.ask_at = None;
        cur.ask_wait = FIRST_ASK;
        Ok(())
    }
}
