//! The listener's output buffer: whole lines, written out once 64 KiB have
//! gathered, and a big body that needs no escaping written from where it
//! is (the receive buffer) in the same system call as the lines before it.

use std::io::{self, IoSlice, Write};

/// Lines are written out once this much has gathered: a flood costs one
/// write per 64 KiB.
pub const OUT_BUFFER: usize = 64 * 1024;

/// A body shown as it is and at least this long is not copied into the
/// buffer: it goes out from where it is, between the buffered bytes and
/// the rest of its line, in one `writev`. Below it a copy costs less than
/// the system call it would take.
pub const IN_PLACE: usize = 16 * 1024;

/// Lines composed in place ([`Lines::buf`]) and written out whole, so the
/// writer (stdout's line buffer among them) always gets complete lines.
pub struct Lines<W: Write> {
    /// Complete lines not yet written, then the line being composed.
    buf: Vec<u8>,
    /// The rest of a line whose body goes out in place.
    tail: Vec<u8>,
    out: W,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Self {
        Lines {
            // Room for a full buffer and a line that fills it (longer
            // ones, escaped bodies, grow it).
            buf: Vec::with_capacity(OUT_BUFFER + IN_PLACE),
            tail: Vec::with_capacity(256),
            out,
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
    /// least [`IN_PLACE`] bytes is not copied: the buffer, the body and the
    /// tail go out in one vectored write, ending with a complete line. If
    /// that fails, the line and the lines before it are dropped (the
    /// listener stops at any output error).
    pub fn end_with(&mut self, body: &[u8], tail: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if body.len() < IN_PLACE {
            self.buf.extend_from_slice(body);
            tail(&mut self.buf);
            return self.end_line();
        }
        self.tail.clear();
        tail(&mut self.tail);
        let mut parts = [
            IoSlice::new(&self.buf),
            IoSlice::new(body),
            IoSlice::new(&self.tail),
        ];
        let written = write_all_vectored(&mut self.out, &mut parts);
        self.buf.clear();
        written
    }

    /// Writes out every complete line (and the writer's own buffer).
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
