//! The listener's output buffer: lines written out once 64 KiB have
//! gathered, and a big body that needs no escaping written from where it
//! is (the receive buffer) in the same system call as the lines before it,
//! up to a 64 KiB boundary of the output.

use std::io::{self, IoSlice, Write};

/// Lines are written out once this much has gathered: a flood costs one
/// write per 64 KiB.
pub const OUT_BUFFER: usize = 64 * 1024;

/// A body shown as it is and at least this long is not copied into the
/// buffer: it goes out from where it is, after the buffered bytes, in one
/// `writev`. Below it a copy costs less than the system call it would take.
pub const IN_PLACE: usize = 16 * 1024;

/// Writes of a big body end on a multiple of this many bytes of output, as
/// stdio's 64 KiB blocks do: a file takes whole aligned blocks for less.
/// 60 KB datagrams written as they come (one unaligned `writev` each) cost
/// a C receiver 362–414 ns/KB, in 64 KiB-aligned pieces 300–316.
pub const BLOCK: u64 = 64 * 1024;

/// Lines composed in place ([`Lines::buf`]) and written out in big
/// pieces. The writer is not line-buffered (stdout as a file): a piece
/// that ends on a [`BLOCK`] boundary may end inside a line, whose rest
/// follows with the next write or [`Lines::flush`].
pub struct Lines<W: Write> {
    /// Lines not yet written (the first may be the rest of one), then the
    /// line being composed.
    buf: Vec<u8>,
    out: W,
    /// Bytes written so far: where the buffer starts in the output.
    written: u64,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Self {
        Lines {
            // Room for a full buffer and a line that fills it (longer
            // ones, escaped bodies, grow it).
            buf: Vec::with_capacity(OUT_BUFFER + IN_PLACE),
            out,
            written: 0,
        }
    }

    /// Where a line is composed, after the complete ones.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// True when nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Ends the line composed in [`Lines::buf`] (it ends with a newline):
    /// writes out every line once [`OUT_BUFFER`] bytes have gathered.
    pub fn end_line(&mut self) -> io::Result<()> {
        if self.buf.len() >= OUT_BUFFER {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Ends the line composed in [`Lines::buf`] with `body`, shown as it
    /// is, and what `tail` writes (ending with a newline). A body of at
    /// least [`IN_PLACE`] bytes that reaches a [`BLOCK`] boundary of the
    /// output is not copied up to there: the buffer and that much of the
    /// body go out in one vectored write; the rest is buffered. If that
    /// fails, the line and the lines before it are dropped (the listener
    /// stops at any output error).
    pub fn end_with(&mut self, body: &[u8], tail: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let start = self.written + self.buf.len() as u64;
        let boundary = (start + body.len() as u64) / BLOCK * BLOCK;
        if body.len() < IN_PLACE || boundary <= start {
            self.buf.extend_from_slice(body);
            tail(&mut self.buf);
            return self.end_line();
        }
        let (now, rest) = body.split_at((boundary - start) as usize);
        let mut parts = [IoSlice::new(&self.buf), IoSlice::new(now)];
        let written = write_all_vectored(&mut self.out, &mut parts);
        self.written = boundary;
        self.buf.clear();
        self.buf.extend_from_slice(rest);
        tail(&mut self.buf);
        written
    }

    /// Writes out everything buffered (and the writer's own buffer).
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.out.flush()
    }

    /// The writer, for tests that read what was written.
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes out the buffer; on an error, what was not written stays
    /// (as `io::BufWriter` does).
    fn flush_buf(&mut self) -> io::Result<()> {
        let mut written = 0;
        let result = loop {
            if written == self.buf.len() {
                break Ok(());
            }
            match self.out.write(&self.buf[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.written += written as u64;
        self.buf.drain(..written);
        result
    }
}

impl<W: Write> Drop for Lines<W> {
    /// Writes out what is left, as `io::BufWriter` does (errors ignored:
    /// there is no one left to tell).
    fn drop(&mut self) {
        let _ = self.flush_buf();
    }
}

/// Writes every byte of `parts`, retrying short writes and interruptions
/// (`Write::write_all_vectored` is not stable).
fn write_all_vectored(out: &mut impl Write, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        match out.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that keeps what it got and where each write ended.
    #[derive(Default)]
    struct Recorder {
        written: Vec<u8>,
        ends: Vec<usize>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            self.ends.push(self.written.len());
            Ok(buf.len())
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let n = bufs.iter().map(|b| b.len()).sum();
            for buf in bufs {
                self.written.extend_from_slice(buf);
            }
            self.ends.push(self.written.len());
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn big_bodies_go_out_in_pieces_that_end_on_block_boundaries() {
        let mut lines = Lines::new(Recorder::default());
        let mut want = Vec::new();
        for i in 0..40u8 {
            let prefix = format!("line {i}: ");
            let body = vec![b'a' + i % 26; 60_000 + usize::from(i) * 37];
            lines.buf().extend_from_slice(prefix.as_bytes());
            lines.end_with(&body, |tail| tail.push(b'\n')).unwrap();
            want.extend_from_slice(prefix.as_bytes());
            want.extend_from_slice(&body);
            want.push(b'\n');
        }
        lines.flush().unwrap();
        let out = lines.get_ref();
        assert_eq!(out.written, want);
        let (last, pieces) = out.ends.split_last().unwrap();
        assert_eq!(*last, want.len());
        assert!(pieces.len() >= 30, "{pieces:?}");
        for end in pieces {
            assert_eq!(*end as u64 % BLOCK, 0, "{:?}", out.ends);
        }
    }
}
