//! The sealed envelope: XChaCha20-Poly1305 under a key derived with BLAKE3,
//! the header authenticated, the time checked, replays refused.

use super::key::Key;
use super::replay::Replay;
use crate::wire::{
    HEADER_LEN, MAGIC, MODE_SEALED, SEALED_HEADER_LEN, TAG_LEN, VERSION, field, read_u64,
};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// blake3 context string for the datagram key (never change: it is the protocol).
pub const KEY_CONTEXT: &str = "udpmsg 2026-11-21 datagram key v1";
/// Largest difference between a datagram's time and ours.
pub const MAX_SKEW: Duration = Duration::from_secs(60);

fn cipher(key: &Key) -> XChaCha20Poly1305 {
    let derived = blake3::derive_key(KEY_CONTEXT, &key.0);
    XChaCha20Poly1305::new(&derived.into())
}

pub(super) fn now_micros(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Seals outgoing datagrams: one sender id and counter per process.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    sender: u64,
    counter: u64,
    out: Vec<u8>,
}

impl Sealer {
    pub fn new(key: &Key) -> Self {
        Sealer {
            cipher: cipher(key),
            sender: crate::util::rng::random_id(),
            counter: 0,
            out: Vec::with_capacity(2048),
        }
    }

    /// A sealer with a chosen sender id and first counter (golden vectors).
    pub fn with_ids(key: &Key, sender: u64, counter: u64) -> Self {
        Sealer {
            sender,
            counter,
            ..Sealer::new(key)
        }
    }

    /// Seals an open datagram (as [`crate::wire::encode`] makes it); every
    /// call uses a fresh counter, so a retransmission is a new datagram.
    pub fn seal(&mut self, open: &[u8]) -> &[u8] {
        self.seal_at(open, now_micros(SystemTime::now()))
    }

    /// [`Self::seal`] with a given time (microseconds since the epoch).
    pub fn seal_at(&mut self, open: &[u8], micros: u64) -> &[u8] {
        let body = open.get(HEADER_LEN..).unwrap_or_default();
        self.out.clear();
        self.out.extend_from_slice(&MAGIC);
        self.out.push(VERSION);
        self.out.push(MODE_SEALED);
        self.out.extend_from_slice(&self.sender.to_le_bytes());
        self.out.extend_from_slice(&self.counter.to_le_bytes());
        self.out.extend_from_slice(&micros.to_le_bytes());
        debug_assert_eq!(self.out.len(), SEALED_HEADER_LEN);
        self.counter += 1;
        self.out.extend_from_slice(body);
        let (head, rest) = self.out.split_at_mut(SEALED_HEADER_LEN);
        let nonce = XNonce::from_slice(&head[field::NONCE]);
        // Encryption fails only for plaintexts near 2^38 bytes.
        match self.cipher.encrypt_in_place_detached(nonce, head, rest) {
            Ok(tag) => self.out.extend_from_slice(&tag),
            Err(_) => self.out.clear(),
        }
        &self.out
    }
}

/// Why a sealed datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Shorter than a sealed header and tag.
    Truncated,
    /// The tag does not verify: forged, tampered, or another key.
    Auth,
    /// The counter was seen before, or is below the sender's window.
    Replay,
    /// The time is more than [`MAX_SKEW`] from ours.
    Stale,
}

impl Reject {
    pub fn label(self) -> &'static str {
        match self {
            Reject::Truncated => "truncated",
            Reject::Auth => "failed authentication (forged, tampered or another key)",
            Reject::Replay => "replayed",
            Reject::Stale => "too old or from the future",
        }
    }
}

/// Opens incoming sealed datagrams and keeps the replay state.
pub struct Opener {
    cipher: XChaCha20Poly1305,
    replay: Replay,
}

impl Opener {
    pub fn new(key: &Key) -> Self {
        Opener {
            cipher: cipher(key),
            replay: Replay::default(),
        }
    }

    /// Opens a whole sealed datagram (header included) into `plain`, which
    /// then holds the bincode body. Returns the sealing sender's id.
    ///
    /// Checks, in this order: size and magic; the AEAD tag; only then the
    /// time (within [`MAX_SKEW`] of ours) and the replay state, so nothing
    /// unauthenticated touches the state.
    pub fn open(
        &mut self,
        datagram: &[u8],
        plain: &mut Vec<u8>,
        now: SystemTime,
    ) -> Result<u64, Reject> {
        if datagram.len() < SEALED_HEADER_LEN + TAG_LEN
            || datagram[field::MAGIC] != MAGIC
            || datagram[field::MODE] != MODE_SEALED
        {
            return Err(Reject::Truncated);
        }
        let (head, rest) = datagram.split_at(SEALED_HEADER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        plain.clear();
        plain.extend_from_slice(ciphertext);
        let nonce = XNonce::from_slice(&head[field::NONCE]);
        self.cipher
            .decrypt_in_place_detached(nonce, head, plain, Tag::from_slice(tag))
            .map_err(|_| {
                plain.clear();
                Reject::Auth
            })?;
        // The header is at least SEALED_HEADER_LEN long: these always read.
        let sender = read_u64(head, field::SENDER).unwrap_or_default();
        let counter = read_u64(head, field::COUNTER).unwrap_or_default();
        let micros = read_u64(head, field::TIME).unwrap_or_default();
        if now_micros(now).abs_diff(micros) > MAX_SKEW.as_micros() as u64 {
            plain.clear();
            return Err(Reject::Stale);
        }
        if !self.replay.check_and_mark(sender, counter, micros, now) {
            plain.clear();
            return Err(Reject::Replay);
        }
        Ok(sender)
    }

    /// Senders whose replay windows are kept.
    pub fn senders(&self) -> usize {
        self.replay.senders()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Message, Ping, SEAL_OVERHEAD};

    fn open_datagram() -> Vec<u8> {
        let mut out = Vec::new();
        let msg = Message::Ping(Ping {
            sender: 1,
            seq: 2,
            stamp: 3,
        });
        wire::encode(&msg, wire::MAX_DATAGRAM, &mut out).unwrap();
        out
    }

    /// Computed independently with Python (PyNaCl's
    /// crypto_aead_xchacha20poly1305_ietf_encrypt and the blake3 package's
    /// derive_key) from docs/PROTOCOL.md section 9.
    const GOLDEN_SEALED: &str = "5544504d0101887766554433221107000000000000000080982817650600\
        975838b6b196ddd35c80f89ca6aa2e059f4dfca09e1c7877d5585028b767b565238fa83b2759f6e8f09ec64e";

    #[test]
    fn sealing_matches_an_independent_implementation() {
        let key = Key((0..32).collect::<Vec<u8>>().try_into().unwrap());
        let mut sealer = Sealer::with_ids(&key, 0x1122_3344_5566_7788, 7);
        let sealed = sealer
            .seal_at(&open_datagram(), 1_800_000_000_000_000)
            .to_vec();
        let hex = crate::util::hex::Hex(&sealed).to_string();
        assert_eq!(hex, GOLDEN_SEALED.replace(char::is_whitespace, ""));
        let mut opener = Opener::new(&key);
        let mut plain = Vec::new();
        let then = UNIX_EPOCH + Duration::from_micros(1_800_000_000_000_000);
        assert_eq!(
            opener.open(&sealed, &mut plain, then),
            Ok(0x1122_3344_5566_7788)
        );
        assert_eq!(plain, open_datagram()[HEADER_LEN..]);
    }

    #[test]
    fn seal_then_open_gives_the_body_once() {
        let key = Key::generate().unwrap();
        let open = open_datagram();
        let mut sealer = Sealer::new(&key);
        let sealed = sealer.seal(&open).to_vec();
        assert_eq!(sealed.len(), open.len() + SEAL_OVERHEAD);
        let mut opener = Opener::new(&key);
        let mut plain = Vec::new();
        let now = SystemTime::now();
        opener.open(&sealed, &mut plain, now).unwrap();
        assert_eq!(plain, open[HEADER_LEN..]);
        assert_eq!(opener.open(&sealed, &mut plain, now), Err(Reject::Replay));
    }

    #[test]
    fn tampering_wrong_key_and_old_time_are_refused() {
        let key = Key::generate().unwrap();
        let mut sealer = Sealer::new(&key);
        let sealed = sealer.seal(&open_datagram()).to_vec();
        let mut plain = Vec::new();
        let now = SystemTime::now();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let result = Opener::new(&key).open(&bad, &mut plain, now);
            assert!(result.is_err(), "flip at {i} accepted");
        }
        let other = Key::generate().unwrap();
        assert_eq!(
            Opener::new(&other).open(&sealed, &mut plain, now),
            Err(Reject::Auth)
        );
        let later = now + MAX_SKEW + Duration::from_secs(1);
        assert_eq!(
            Opener::new(&key).open(&sealed, &mut plain, later),
            Err(Reject::Stale)
        );
    }
}
