//! File records: what the body of an acknowledged Text with
//! [`FLAG_FILE`](super::FLAG_FILE) holds (docs/PROTOCOL.md section 4.10),
//! and the status codes of a [`FileStatus`](super::FileStatus).
//!
//! A file goes as one sender's acknowledged stream: an offer (name, size),
//! then, once the listener accepted it, the content in chunks, then the
//! end (the BLAKE3 hash of the content). The stream's ordering and
//! acknowledgement are those of every acknowledged Text; a record is
//! encoded in the same bincode `legacy()` layout as a message.

use super::{CONFIG, DecodeError, map_decode_error};
use serde::{Deserialize, Serialize};

/// One record of a file transfer. Tags (u32 LE): Offer 0, Chunk 1, End 2,
/// Cancel 3.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum FileRecord<'a> {
    /// A file of `size` bytes called `name` (the sender's last path
    /// component; the listener makes its own safe name of it).
    Offer {
        size: u64,
        #[serde(borrow)]
        name: &'a str,
    },
    /// Content bytes `offset..offset + data.len()`: every chunk starts where
    /// the previous one ended.
    Chunk {
        offset: u64,
        #[serde(borrow, with = "serde_bytes")]
        data: &'a [u8],
    },
    /// The content is complete; `hash` is its BLAKE3 hash.
    End { hash: [u8; HASH_LEN] },
    /// The sender gives the transfer up (Ctrl-C): remove what was written.
    Cancel,
}

/// Bytes of a BLAKE3 hash.
pub const HASH_LEN: usize = 32;

/// Tag of the last [`FileRecord`] kind (Cancel).
const LAST_RECORD: u32 = 3;

/// Bytes a chunk record adds around its data: tag, offset, data length.
pub const CHUNK_OVERHEAD: usize = 4 + 8 + 8;

/// Bytes a chunk's Text adds around its data: the Text (with an empty
/// name: chunks carry none) and the chunk record.
pub const CHUNK_TEXT_OVERHEAD: usize = super::TEXT_OVERHEAD + CHUNK_OVERHEAD;

/// [`FileStatus::status`](super::FileStatus): the listener took the offer;
/// the content may come.
pub const FILE_ACCEPTED: u8 = 0;
/// The file was written and its hash matched; it is in place.
pub const FILE_DONE: u8 = 1;
/// Refused: the listener takes no files (no `--save-dir`).
pub const FILE_NO_SAVE_DIR: u8 = 2;
/// Refused: larger than the listener takes (`detail`: its limit).
pub const FILE_TOO_LARGE: u8 = 3;
/// Refused or ended: no space for it (`detail`: the free bytes).
pub const FILE_NO_SPACE: u8 = 4;
/// Ended: the content written does not have the hash the sender sent.
pub const FILE_HASH_MISMATCH: u8 = 5;
/// Refused: the listener has as many transfers as it takes.
pub const FILE_BUSY: u8 = 6;
/// Ended: writing failed otherwise (an I/O error).
pub const FILE_WRITE_FAILED: u8 = 7;
/// Ended: the stream broke (content missing, out of place or malformed,
/// or the sender was silent too long).
pub const FILE_BROKEN: u8 = 8;
/// Ended: the listener stopped (Ctrl-C) before the file was complete.
pub const FILE_STOPPED: u8 = 9;

/// Whether a status ends the transfer (every status but "accepted").
pub fn is_final(status: u8) -> bool {
    status != FILE_ACCEPTED
}

/// Appends the encoding of `record` to `out`.
pub fn encode_record(record: &FileRecord<'_>, out: &mut Vec<u8>) {
    // Encoding to a Vec cannot fail (see `super::encode_body`).
    let _ = bincode::serde::encode_into_std_write(record, out, bincode::config::legacy());
}

/// Appends a chunk record (as [`encode_record`] would) without building
/// the record first.
pub fn encode_chunk(offset: u64, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(data);
}

/// Appends a whole open datagram: the acknowledged file Text (flags
/// `flags`, no name) of `sender`'s message `seq` with base `base`, whose
/// body is the chunk record of `data` at `offset`. The same bytes as
/// [`encode_chunk`] into a body and [`super::encode`] of that Text, written
/// in one pass (a file's content is copied once on its way to the socket).
pub fn encode_chunk_text(
    sender: u64,
    seq: u64,
    base: u64,
    flags: u8,
    offset: u64,
    data: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(CHUNK_TEXT_OVERHEAD + data.len());
    out.extend_from_slice(&super::MAGIC);
    out.push(super::VERSION);
    out.push(super::MODE_OPEN);
    // Message::Text is tag 0; its fields in order; an empty name.
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&sender.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    out.push(flags);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&((CHUNK_OVERHEAD + data.len()) as u64).to_le_bytes());
    encode_chunk(offset, data, out);
}

/// Decodes exactly one record from a Text's body, with the guarantees of
/// [`super::classify`] (no panic, nothing allocated, trailing bytes refused).
pub fn decode_record(body: &[u8]) -> Result<FileRecord<'_>, DecodeError> {
    let Some(tag) = body.get(..4) else {
        return Err(DecodeError::Truncated);
    };
    let tag = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
    if tag > LAST_RECORD {
        return Err(DecodeError::UnknownKind(tag));
    }
    let (record, used): (FileRecord<'_>, usize) =
        bincode::serde::borrow_decode_from_slice(body, CONFIG).map_err(map_decode_error)?;
    if used != body.len() {
        return Err(DecodeError::TrailingBytes {
            extra: body.len() - used,
        });
    }
    Ok(record)
}

/// Largest chunk data that keeps a chunk's datagram within a path MTU of
/// `mtu` bytes (`ipv6`: a 40-byte IP header, else 20; UDP adds 8), sealing
/// adding `seal` bytes, and within the largest datagram `max`. At least 1.
pub fn chunk_len(mtu: usize, ipv6: bool, seal: usize, max: usize) -> usize {
    let ip = if ipv6 { 40 } else { 20 };
    let datagram = mtu.saturating_sub(ip + 8).min(max);
    datagram.saturating_sub(CHUNK_TEXT_OVERHEAD + seal).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_text_in_one_pass_is_the_generic_encoding() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in [0usize, 1, 7, 1401, 1402, 8000] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let data: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
            let (sender, seq, base, offset) = (x, x >> 3, x >> 5, x >> 9);
            let flags = super::super::FLAG_ACK | super::super::FLAG_FILE;
            let mut body = Vec::new();
            encode_chunk(offset, &data, &mut body);
            let text = super::super::Message::Text(super::super::Text {
                sender,
                seq,
                base,
                flags,
                name: "",
                body: &body,
            });
            let mut generic = Vec::new();
            super::super::encode(&text, usize::MAX, &mut generic).unwrap();
            let mut fast = vec![0xaa];
            encode_chunk_text(sender, seq, base, flags, offset, &data, &mut fast);
            assert_eq!(&fast[1..], &generic[..], "{len} bytes");
            assert_eq!(generic.len(), CHUNK_TEXT_OVERHEAD + len);
        }
    }

    #[test]
    fn records_round_trip_and_chunks_encode_like_records() {
        let records = [
            FileRecord::Offer {
                size: 5,
                name: "a.txt",
            },
            FileRecord::Chunk {
                offset: 7,
                data: b"hello",
            },
            FileRecord::End { hash: [9; 32] },
            FileRecord::Cancel,
        ];
        for record in &records {
            let mut out = Vec::new();
            encode_record(record, &mut out);
            assert_eq!(&decode_record(&out).unwrap(), record);
            for cut in 0..out.len() {
                assert!(
                    decode_record(&out[..cut]).is_err(),
                    "{record:?} cut at {cut}"
                );
            }
            out.push(0);
            assert_eq!(
                decode_record(&out),
                Err(DecodeError::TrailingBytes { extra: 1 })
            );
        }
        let mut fast = Vec::new();
        encode_chunk(7, b"hello", &mut fast);
        let mut slow = Vec::new();
        encode_record(&records[1], &mut slow);
        assert_eq!(fast, slow);
        assert_eq!(fast.len(), CHUNK_OVERHEAD + 5);
        assert_eq!(
            decode_record(&[4, 0, 0, 0]),
            Err(DecodeError::UnknownKind(4))
        );
    }

    #[test]
    fn a_chunk_fills_the_path_mtu_exactly() {
        // Ethernet, IPv4, open: 1500 - 20 - 8 - 71.
        assert_eq!(chunk_len(1500, false, 0, 65_507), 1401);
        assert_eq!(chunk_len(1500, true, 40, 65_527), 1500 - 48 - 71 - 40);
        // Loopback's 64 KiB MTU: bounded by the largest datagram.
        assert_eq!(chunk_len(65_536, false, 0, 65_507), 65_507 - 71);
        assert_eq!(chunk_len(10, false, 0, 65_507), 1);
    }
}
