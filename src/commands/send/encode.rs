//! Encoding a sender's text messages (open, unsealed), within the largest
//! datagram to its destination.

use crate::commands::Error;
use crate::wire::{self, Message, Text};

/// Encodes text messages of one sender.
pub(super) struct Encoder {
    /// This process's sender id (text messages and pings carry it).
    pub(super) id: u64,
    pub(super) name: String,
    /// Largest open datagram to the destination (sealing adds to it).
    pub(super) max: usize,
    pub(super) buf: Vec<u8>,
}

impl Encoder {
    pub(super) fn max_body(&self) -> usize {
        wire::max_text_body(&self.name, self.max)
    }

    /// Encodes text message `seq` with `flags` into `out` (open, unsealed).
    pub(super) fn text_into(
        &self,
        body: &[u8],
        seq: u64,
        flags: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        encode_text(self.id, &self.name, self.max, body, seq, flags, out)
    }

    /// Encodes text message `seq` into the encoder's own buffer.
    pub(super) fn text(&mut self, body: &[u8], seq: u64, flags: u8) -> Result<&[u8], Error> {
        let Encoder { id, name, max, buf } = self;
        buf.clear();
        encode_text(*id, name, *max, body, seq, flags, buf)?;
        Ok(buf)
    }
}

/// Encodes one text message of at most `max` bytes into `out` (its base is
/// its own seq: a caller that retransmits updates it in place).
pub(super) fn encode_text(
    sender: u64,
    name: &str,
    max: usize,
    body: &[u8],
    seq: u64,
    flags: u8,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let max_body = wire::max_text_body(name, max);
    let too_large = || Error::TooLarge {
        len: body.len(),
        max: max_body,
    };
    if body.len() > max_body {
        return Err(too_large());
    }
    let message = Message::Text(Text {
        sender,
        seq,
        base: seq,
        flags,
        name,
        body,
    });
    wire::encode(&message, max, out).map_err(|_| too_large())
}
