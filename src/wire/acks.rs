//! Acks for several senders in one datagram (tag 10): what a listener sends
//! instead of one [`Ack`] per sender when the senders share an address and
//! asked for it ([`super::FLAG_BUNDLE`]).
//!
//! ```text
//! +--------+-----+----------+--------------+-----------------------------+
//! | header | tag | instance | entries len  | entry, entry, ...           |
//! | 6      | 4   | 8        | 8 (u64 LE)   | entries len bytes           |
//! +--------+-----+----------+--------------+-----------------------------+
//! entry: sender (8), next (8), ranges len (8), ranges: an Ack from its `sender` on
//! ```

use super::message::{ACK_RANGE_LEN, Ack, MAX_ACK_RANGES};
use super::{HEADER_LEN, read_u64};
use serde::{Deserialize, Serialize};

/// Several senders' acks, from one listener, to one address.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acks<'a> {
    /// Random id of the acknowledging listener process, as in an [`Ack`].
    pub instance: u64,
    /// One or more entries back to back, each laid out as an [`Ack`] from
    /// its `sender` on: sender, next, ranges length, ranges.
    #[serde(borrow, with = "serde_bytes")]
    pub entries: &'a [u8],
}

/// Most entries an [`Acks`] carries.
pub const MAX_ACKS_ENTRIES: usize = 64;
/// Bytes of an [`Acks`] around its entries: header, tag, instance and the
/// entries' length prefix.
pub const ACKS_OVERHEAD: usize = HEADER_LEN + 4 + 8 + 8;
/// Bytes of one entry without ranges: sender, next and the ranges' length.
pub const ACKS_ENTRY_OVERHEAD: usize = 8 + 8 + 8;
/// udpmsg keeps each [`Acks`] datagram within this many bytes as sent
/// (sealed ones included), so it is not fragmented on any path that
/// carries IPv6.
pub const ACKS_MAX_LEN: usize = 1200;

impl<'a> Acks<'a> {
    /// The entries, as the [`Ack`]s they stand for. Stops at the first
    /// malformed entry (a decoded [`Acks`] has none).
    pub fn acks(&self) -> impl Iterator<Item = Ack<'a>> + 'a {
        let instance = self.instance;
        let mut rest = self.entries;
        std::iter::from_fn(move || {
            let (ack, after) = split_entry(instance, rest)?;
            rest = after;
            Some(ack)
        })
    }

    /// Whether `entries` is well-formed: one to [`MAX_ACKS_ENTRIES`]
    /// entries, each with ranges that would be valid in an [`Ack`], and
    /// nothing left over.
    pub(super) fn entries_valid(&self) -> bool {
        let mut rest = self.entries;
        let mut count = 0;
        while !rest.is_empty() {
            let Some((ack, after)) = split_entry(self.instance, rest) else {
                return false;
            };
            count += 1;
            if count > MAX_ACKS_ENTRIES || !ack.ranges_valid() {
                return false;
            }
            rest = after;
        }
        count > 0
    }
}

/// The first entry of `bytes` as an [`Ack`], and the bytes after it.
fn split_entry(instance: u64, bytes: &[u8]) -> Option<(Ack<'_>, &[u8])> {
    let sender = read_u64(bytes, 0..8)?;
    let next = read_u64(bytes, 8..16)?;
    let len = read_u64(bytes, 16..24)?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= MAX_ACK_RANGES * ACK_RANGE_LEN)?;
    let ranges = bytes.get(ACKS_ENTRY_OVERHEAD..ACKS_ENTRY_OVERHEAD + len)?;
    let ack = Ack {
        instance,
        sender,
        next,
        ranges,
    };
    Some((ack, &bytes[ACKS_ENTRY_OVERHEAD + len..]))
}

/// Appends one entry (a sender's `next` and held ranges, as
/// [`super::put_ack_ranges`] writes them) to the entries of an [`Acks`].
pub fn put_acks_entry(sender: u64, next: u64, ranges: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&sender.to_le_bytes());
    out.extend_from_slice(&next.to_le_bytes());
    out.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
    out.extend_from_slice(ranges);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Datagram, MAX_DATAGRAM, Message, classify, encode, put_ack_ranges};

    fn acks(entries: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let message = Message::Acks(Acks {
            instance: 1,
            entries,
        });
        encode(&message, MAX_DATAGRAM, &mut out).unwrap();
        out
    }

    #[test]
    fn entries_come_back_as_the_acks_they_stand_for() {
        let mut held = Vec::new();
        put_ack_ranges([(5, 6)], &mut held);
        let mut entries = Vec::new();
        put_acks_entry(7, 3, &held, &mut entries);
        put_acks_entry(8, 0, &[], &mut entries);
        let bytes = acks(&entries);
        assert_eq!(
            bytes.len(),
            ACKS_OVERHEAD + 2 * ACKS_ENTRY_OVERHEAD + held.len()
        );
        let Ok(Datagram::Message(Message::Acks(decoded))) = classify(&bytes) else {
            panic!("{:?}", classify(&bytes));
        };
        let got: Vec<_> = decoded
            .acks()
            .map(|a| (a.instance, a.sender, a.next, a.ranges().collect::<Vec<_>>()))
            .collect();
        assert_eq!(got, vec![(1, 7, 3, vec![(5, 6)]), (1, 8, 0, vec![])]);
    }

    #[test]
    fn malformed_entries_are_invalid() {
        let mut bad_range = Vec::new();
        put_ack_ranges([(2, 3)], &mut bad_range);
        let mut too_many = Vec::new();
        for sender in 0..=MAX_ACKS_ENTRIES as u64 {
            put_acks_entry(sender, 0, &[], &mut too_many);
        }
        let mut short = Vec::new();
        put_acks_entry(1, 0, &[], &mut short);
        short.pop();
        let mut overlong = Vec::new();
        put_acks_entry(1, 0, &[], &mut overlong);
        overlong[16..24].copy_from_slice(&16u64.to_le_bytes());
        let mut at_next = Vec::new();
        put_acks_entry(1, 4, &bad_range, &mut at_next); // range 2-3 below next 4
        for (why, entries) in [
            ("none", Vec::new()),
            ("65 entries", too_many),
            ("cut short", short),
            ("ranges past the end", overlong),
            ("range below next", at_next),
        ] {
            assert!(
                matches!(
                    classify(&acks(&entries)),
                    Err(crate::wire::DecodeError::Invalid(_))
                ),
                "{why}: {:?}",
                classify(&acks(&entries))
            );
        }
    }
}
