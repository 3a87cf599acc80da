//! The sealed envelope: XChaCha20-Poly1305 under a key derived with BLAKE3,
//! the header authenticated, the time checked, replays refused.

use super::dest::SealDest;
use super::key::Key;
use super::replay::Replay;
use crate::wire::{
    HEADER_LEN, MAGIC, MODE_SEALED, SEALED_HEADER_LEN, TAG_LEN, VERSION, field, read_u64, sealed_ad,
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

    /// Seals an open datagram (as [`crate::wire::encode`] makes it) bound
    /// to `dest`, the destination it is sent to; every call uses a fresh
    /// counter, so a retransmission is a new datagram.
    pub fn seal(&mut self, open: &[u8], dest: impl Into<SealDest>) -> &[u8] {
        self.seal_at(open, dest, now_micros(SystemTime::now()))
    }

    /// [`Self::seal`] with a given time (microseconds since the epoch).
    pub fn seal_at(&mut self, open: &[u8], dest: impl Into<SealDest>, micros: u64) -> &[u8] {
        let dest = dest.into();
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
        let ad = sealed_ad(head, dest.bytes());
        // Encryption fails only for plaintexts near 2^38 bytes.
        match self.cipher.encrypt_in_place_detached(nonce, &ad, rest) {
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
    /// The tag does not verify: forged, tampered, another key, or sealed
    /// for another destination.
    Auth,
    /// The counter was seen before, or is below the sender's window, or the
    /// sender is unknown and the datagram older than what can be checked
    /// (sealed before this receiver started).
    Replay,
    /// The time is more than [`MAX_SKEW`] from ours.
    Stale,
}

impl Reject {
    pub fn label(self) -> &'static str {
        match self {
            Reject::Truncated => "too short to be sealed (forged)",
            Reject::Auth => {
                "failed authentication (forged, tampered, another key, or sealed for another destination)"
            }
            Reject::Replay => "replayed (or sealed before this receiver started)",
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
    /// An opener for a receiver that keeps no state across runs. With
    /// `started` (a listener), a datagram from a sender it has not heard in
    /// this run must have been sealed after that time: what a previous run
    /// accepted is refused. Without (a client, whose replies come from a
    /// listener after its request), only the time window applies to new
    /// senders.
    pub fn new(key: &Key, started: Option<SystemTime>) -> Self {
        Opener {
            cipher: cipher(key),
            replay: Replay::new(started.map(now_micros)),
        }
    }

    /// Opens a whole sealed datagram (header included), which arrived at
    /// `dest` (the destination it was sent to: for IP, as the arrival
    /// information says), into `plain`, which then holds the bincode body.
    /// Returns the sealing sender's id.
    ///
    /// Checks, in this order: size and magic; the AEAD tag; only then the
    /// time (within [`MAX_SKEW`] of ours) and the replay state, so nothing
    /// unauthenticated touches the state.
    pub fn open(
        &mut self,
        datagram: &[u8],
        plain: &mut Vec<u8>,
        now: SystemTime,
        dest: impl Into<SealDest>,
    ) -> Result<u64, Reject> {
        let dest = dest.into();
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
        let ad = sealed_ad(head, dest.bytes());
        self.cipher
            .decrypt_in_place_detached(nonce, &ad, plain, Tag::from_slice(tag))
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
        if !self
            .replay
            .check_and_mark(sender, counter, micros, now_micros(now))
        {
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
    use std::net::SocketAddr;

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
    /// derive_key) from docs/PROTOCOL.md section 9, for destination
    /// 192.0.2.7:47474.
    const GOLDEN_SEALED: &str = "5544504d0201887766554433221107000000000000000080982817650600\
        975838b6b196ddd35c80f89ca6aa2e059f4dfca09e1c7877d5585028fc0bd2804185ccefb69268d5c9fa9107";

    fn dest() -> SocketAddr {
        "192.0.2.7:47474".parse().unwrap()
    }

    #[test]
    fn sealing_matches_an_independent_implementation() {
        let key = Key((0..32).collect::<Vec<u8>>().try_into().unwrap());
        let mut sealer = Sealer::with_ids(&key, 0x1122_3344_5566_7788, 7);
        let sealed = sealer
            .seal_at(&open_datagram(), dest(), 1_800_000_000_000_000)
            .to_vec();
        let hex = crate::util::hex::Hex(&sealed).to_string();
        assert_eq!(hex, GOLDEN_SEALED.replace(char::is_whitespace, ""));
        let mut opener = Opener::new(&key, None);
        let mut plain = Vec::new();
        let then = UNIX_EPOCH + Duration::from_micros(1_800_000_000_000_000);
        assert_eq!(
            opener.open(&sealed, &mut plain, then, dest()),
            Ok(0x1122_3344_5566_7788)
        );
        assert_eq!(plain, open_datagram()[HEADER_LEN..]);
    }

    /// The same, sealed for the Unix-domain socket `/run/udpmsg.sock`
    /// (docs/PROTOCOL.md section 9's second vector): only the tag differs.
    const GOLDEN_SEALED_UNIX: &str = "5544504d0201887766554433221107000000000000000080982817650600\
        975838b6b196ddd35c80f89ca6aa2e059f4dfca09e1c7877d55850289d609a6154ead6cbf766dba7b25dfbe8";

    #[test]
    fn sealing_for_a_unix_socket_matches_an_independent_implementation() {
        let key = Key((0..32).collect::<Vec<u8>>().try_into().unwrap());
        let unix = SealDest::unix_path(b"/run/udpmsg.sock");
        let mut sealer = Sealer::with_ids(&key, 0x1122_3344_5566_7788, 7);
        let sealed = sealer
            .seal_at(&open_datagram(), unix, 1_800_000_000_000_000)
            .to_vec();
        let hex = crate::util::hex::Hex(&sealed).to_string();
        assert_eq!(hex, GOLDEN_SEALED_UNIX.replace(char::is_whitespace, ""));
        let then = UNIX_EPOCH + Duration::from_micros(1_800_000_000_000_000);
        let mut plain = Vec::new();
        assert!(
            Opener::new(&key, None)
                .open(&sealed, &mut plain, then, unix)
                .is_ok()
        );
        for other in [
            SealDest::unix_path(b"/run/udpmsg2.sock"),
            SealDest::unix_abstract(b"/run/udpmsg.sock"),
            SealDest::from(dest()),
        ] {
            assert_eq!(
                Opener::new(&key, None).open(&sealed, &mut plain, then, other),
                Err(Reject::Auth)
            );
        }
    }

    #[test]
    fn a_datagram_sealed_for_one_destination_does_not_open_at_another() {
        let key = Key::generate().unwrap();
        let sealed = Sealer::new(&key).seal(&open_datagram(), dest()).to_vec();
        let mut plain = Vec::new();
        let now = SystemTime::now();
        for other in [
            "192.0.2.8:47474",
            "192.0.2.7:47475",
            "[::1]:47474",
            "255.255.255.255:47474",
        ] {
            assert_eq!(
                Opener::new(&key, None).open(
                    &sealed,
                    &mut plain,
                    now,
                    other.parse::<SocketAddr>().unwrap()
                ),
                Err(Reject::Auth),
                "{other}"
            );
        }
        // The same address as IPv4 or IPv4-mapped IPv6 is the same destination.
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:47474".parse().unwrap();
        assert!(
            Opener::new(&key, None)
                .open(&sealed, &mut plain, now, mapped)
                .is_ok()
        );
    }

    #[test]
    fn seal_then_open_gives_the_body_once() {
        let key = Key::generate().unwrap();
        let open = open_datagram();
        let mut sealer = Sealer::new(&key);
        let sealed = sealer.seal(&open, dest()).to_vec();
        assert_eq!(sealed.len(), open.len() + SEAL_OVERHEAD);
        let mut opener = Opener::new(&key, Some(SystemTime::now() - Duration::from_secs(1)));
        let mut plain = Vec::new();
        let now = SystemTime::now();
        opener.open(&sealed, &mut plain, now, dest()).unwrap();
        assert_eq!(plain, open[HEADER_LEN..]);
        assert_eq!(
            opener.open(&sealed, &mut plain, now, dest()),
            Err(Reject::Replay)
        );
        // A listener started after it was sealed refuses it too.
        let restarted = Some(SystemTime::now());
        assert_eq!(
            Opener::new(&key, restarted).open(&sealed, &mut plain, now, dest()),
            Err(Reject::Replay)
        );
    }

    #[test]
    fn tampering_wrong_key_and_old_time_are_refused() {
        let key = Key::generate().unwrap();
        let mut sealer = Sealer::new(&key);
        let sealed = sealer.seal(&open_datagram(), dest()).to_vec();
        let mut plain = Vec::new();
        let now = SystemTime::now();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let result = Opener::new(&key, None).open(&bad, &mut plain, now, dest());
            assert!(result.is_err(), "flip at {i} accepted");
        }
        let other = Key::generate().unwrap();
        assert_eq!(
            Opener::new(&other, None).open(&sealed, &mut plain, now, dest()),
            Err(Reject::Auth)
        );
        let later = now + MAX_SKEW + Duration::from_secs(1);
        assert_eq!(
            Opener::new(&key, None).open(&sealed, &mut plain, later, dest()),
            Err(Reject::Stale)
        );
    }
}
