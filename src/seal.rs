//! Sealed datagrams: a shared key, XChaCha20-Poly1305, and replay protection.
//! Bytes in, bytes out; knows no sockets.
//!
//! A sealed datagram is
//!
//! ```text
//! "UDPM" | version 1 | mode 1 | sender u64 LE | counter u64 LE | time u64 LE | ciphertext | tag (16)
//! ```
//!
//! The 24 bytes sender, counter and time (microseconds since the Unix epoch)
//! are the XChaCha20 nonce; the first 30 bytes are the associated data; the
//! plaintext is the bincode body of an open datagram. The datagram key is
//! `blake3::derive_key(KEY_CONTEXT, file_key)`.
//!
//! Opening checks, in this order: size and magic; the AEAD tag; only then the
//! replay state — a per-sender sliding window over the counter (RFC 6479
//! style, in a bounded table) and the time, which must be within
//! [`MAX_SKEW`] of ours, so a restarted sender's old datagrams are refused too.
//! When the table of senders is full, the least recently heard is evicted
//! and its newest datagram time becomes a horizon: datagrams of unknown
//! senders must be newer than it, so evicting a sender does not reopen its
//! replays.

use crate::wire::{HEADER_LEN, MAGIC, MODE_SEALED, VERSION};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes in a key file's key.
pub const KEY_LEN: usize = 32;
/// blake3 context string for the datagram key (never change: it is the protocol).
pub const KEY_CONTEXT: &str = "udpmsg 2026-11-21 datagram key v1";
/// Sender, counter and time after the 6-byte header.
pub const NONCE_LEN: usize = 24;
/// The Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Header of a sealed datagram: magic, version, mode and the nonce fields.
pub const SEALED_HEADER_LEN: usize = HEADER_LEN + NONCE_LEN;
/// Bytes a sealed datagram has beyond the open one.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Largest difference between a datagram's time and ours.
pub const MAX_SKEW: Duration = Duration::from_secs(60);
/// Counters remembered per sender below the highest seen.
pub const REPLAY_WINDOW: u64 = 1024;
/// Senders whose replay windows are kept; the least recently heard is evicted.
pub const MAX_SENDERS: usize = 4096;

/// A shared key, as read from a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key file was refused.
#[derive(Debug)]
pub enum KeyError {
    Read { path: String, source: io::Error },
    Malformed { path: String, why: &'static str },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { path, source } => write!(f, "cannot read key file {path}: {source}"),
            KeyError::Malformed { path, why } => write!(
                f,
                "malformed key file {path}: {why} (expected 64 hex digits, as 'udpmsg keygen' writes)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl Key {
    /// A new random key.
    pub fn generate() -> io::Result<Key> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Key(key))
    }

    /// Parses the key file text: 64 hex digits, surrounding white space allowed.
    pub fn parse(text: &str) -> Result<Key, &'static str> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err("wrong length");
        }
        let mut key = [0u8; KEY_LEN];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hex = |c: u8| (c as char).to_digit(16).ok_or("not hex");
            key[i] = (hex(pair[0])? * 16 + hex(pair[1])?) as u8;
        }
        Ok(Key(key))
    }

    /// The key file text.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let derived = blake3::derive_key(KEY_CONTEXT, &self.0);
        XChaCha20Poly1305::new(&derived.into())
    }
}

/// Reads a key file. The second value is a warning when others can read it.
pub fn read_key_file(path: &Path) -> Result<(Key, Option<String>), KeyError> {
    let shown = path.display().to_string();
    let read = |source| KeyError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    if meta.is_dir() {
        return Err(KeyError::Malformed {
            path: shown,
            why: "a directory",
        });
    }
    // Read at most a little more than any key file: /dev/zero or a FIFO
    // report no size, so the limit is on the read itself.
    let mut text = Vec::with_capacity(128);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 1025), &mut text).map_err(read)?;
    if text.len() > 1024 {
        return Err(KeyError::Malformed {
            path: shown,
            why: "too large",
        });
    }
    let text = std::str::from_utf8(&text).map_err(|_| KeyError::Malformed {
        path: shown.clone(),
        why: "not text",
    })?;
    let key = Key::parse(text).map_err(|why| KeyError::Malformed {
        path: shown.clone(),
        why,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    let warning = (mode & 0o077 != 0).then(|| {
        format!("key file {shown} is readable by others (mode {mode:03o}); run: chmod 600 {shown}")
    });
    Ok((key, warning))
}

/// Writes a new random key to `path` with mode 0600; refuses to replace an
/// existing file unless `force`. With `force` the key is written to a new
/// private file beside it and renamed over it, so a symlink at `path` is
/// replaced (never written through) and the old key stays intact until the
/// new one is complete.
pub fn write_key_file(path: &Path, force: bool) -> io::Result<()> {
    let key = Key::generate()?;
    let write_new = |target: &Path| -> io::Result<()> {
        // create_new is O_EXCL: it never follows a symlink.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)?;
        writeln!(file, "{}", key.to_hex())?;
        file.sync_all()
    };
    if !force {
        return write_new(path);
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{:016x}.tmp", crate::id::random()));
    let temp = path.with_file_name(temp_name);
    write_new(&temp)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

fn now_micros(now: SystemTime) -> u64 {
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
            cipher: key.cipher(),
            sender: crate::id::random(),
            counter: 0,
            out: Vec::with_capacity(2048),
        }
    }

    /// Seals an open datagram (as [`crate::wire::encode`] makes it); every
    /// call uses a fresh counter, so a retransmission is a new datagram.
    pub fn seal(&mut self, open: &[u8]) -> &[u8] {
        self.seal_at(open, now_micros(SystemTime::now()))
    }

    /// [`Self::seal`] with a given time (microseconds since the epoch).
    fn seal_at(&mut self, open: &[u8], micros: u64) -> &[u8] {
        let body = open.get(HEADER_LEN..).unwrap_or_default();
        self.out.clear();
        self.out.extend_from_slice(&MAGIC);
        self.out.push(VERSION);
        self.out.push(MODE_SEALED);
        self.out.extend_from_slice(&self.sender.to_le_bytes());
        self.out.extend_from_slice(&self.counter.to_le_bytes());
        self.out.extend_from_slice(&micros.to_le_bytes());
        self.counter += 1;
        self.out.extend_from_slice(body);
        let (head, rest) = self.out.split_at_mut(SEALED_HEADER_LEN);
        let nonce = XNonce::from_slice(&head[HEADER_LEN..]);
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

#[derive(Debug, Clone)]
struct Window {
    /// Newest datagram time (microseconds) accepted from this sender.
    newest: u64,
    highest: u64,
    /// Bit i: counter `highest - i` was seen.
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
    last: SystemTime,
}

impl Window {
    fn new(counter: u64, micros: u64, now: SystemTime) -> Self {
        let mut seen = [0u64; (REPLAY_WINDOW / 64) as usize];
        seen[0] = 1;
        Window {
            newest: micros,
            highest: counter,
            seen,
            last: now,
        }
    }

    fn bit(&self, back: u64) -> bool {
        self.seen[(back / 64) as usize] & (1 << (back % 64)) != 0
    }

    /// Checks `counter` and, if new, records it.
    fn check_and_mark(&mut self, counter: u64) -> bool {
        if counter > self.highest {
            let shift = counter - self.highest;
            self.shift(shift);
            self.highest = counter;
            self.seen[0] |= 1;
            return true;
        }
        let back = self.highest - counter;
        if back >= REPLAY_WINDOW || self.bit(back) {
            return false;
        }
        self.seen[(back / 64) as usize] |= 1 << (back % 64);
        true
    }

    /// Moves the window up by `n` counters (older bits fall off).
    fn shift(&mut self, n: u64) {
        if n >= REPLAY_WINDOW {
            self.seen = [0; (REPLAY_WINDOW / 64) as usize];
            return;
        }
        let words = (n / 64) as usize;
        let bits = (n % 64) as u32;
        let len = self.seen.len();
        for i in (0..len).rev() {
            let src = i.checked_sub(words);
            let hi = src.map_or(0, |s| self.seen[s]);
            let lo = src
                .and_then(|s| s.checked_sub(1))
                .map_or(0, |s| self.seen[s]);
            self.seen[i] = if bits == 0 {
                hi
            } else {
                (hi << bits) | (lo >> (64 - bits))
            };
        }
    }
}

/// Opens incoming sealed datagrams and keeps the replay state.
pub struct Opener {
    cipher: XChaCha20Poly1305,
    windows: HashMap<u64, Window>,
    /// The newest datagram time of any sender whose window was evicted: an
    /// unknown sender's datagram must be newer, or it may be a replay of a
    /// forgotten sender's.
    evicted_horizon: u64,
}

impl Opener {
    pub fn new(key: &Key) -> Self {
        Opener {
            cipher: key.cipher(),
            windows: HashMap::new(),
            evicted_horizon: 0,
        }
    }

    /// Opens a whole sealed datagram (header included) into `plain`, which
    /// then holds the bincode body. Returns the sealing sender's id.
    pub fn open(
        &mut self,
        datagram: &[u8],
        plain: &mut Vec<u8>,
        now: SystemTime,
    ) -> Result<u64, Reject> {
        if datagram.len() < SEALED_HEADER_LEN + TAG_LEN
            || datagram[..4] != MAGIC
            || datagram[5] != MODE_SEALED
        {
            return Err(Reject::Truncated);
        }
        let (head, rest) = datagram.split_at(SEALED_HEADER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        plain.clear();
        plain.extend_from_slice(ciphertext);
        let nonce = XNonce::from_slice(&head[HEADER_LEN..]);
        self.cipher
            .decrypt_in_place_detached(nonce, head, plain, Tag::from_slice(tag))
            .map_err(|_| {
                plain.clear();
                Reject::Auth
            })?;
        let field = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let (sender, counter, micros) = (field(6), field(14), field(22));
        let ours = now_micros(now);
        if ours.abs_diff(micros) > MAX_SKEW.as_micros() as u64 {
            plain.clear();
            return Err(Reject::Stale);
        }
        let fresh = match self.windows.get_mut(&sender) {
            Some(window) => {
                let fresh = window.check_and_mark(counter);
                if fresh {
                    window.last = now;
                    window.newest = window.newest.max(micros);
                }
                fresh
            }
            None if micros <= self.evicted_horizon => false,
            None => {
                if self.windows.len() >= MAX_SENDERS {
                    self.evict_oldest();
                }
                self.windows
                    .insert(sender, Window::new(counter, micros, now));
                true
            }
        };
        if !fresh {
            plain.clear();
            return Err(Reject::Replay);
        }
        Ok(sender)
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.last)
            .map(|(s, _)| *s);
        if let Some(window) = oldest.and_then(|s| self.windows.remove(&s)) {
            self.evicted_horizon = self.evicted_horizon.max(window.newest);
        }
    }

    /// Senders whose replay windows are kept.
    pub fn senders(&self) -> usize {
        self.windows.len()
    }
}

/// Why a received datagram is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A datagram without the magic, at a keyed receiver (never shown).
    RawWithKey,
    /// An open udpmsg datagram at a keyed receiver.
    Unsealed,
    /// A sealed datagram at a receiver without a key.
    NoKey,
    /// The magic, but the message does not decode.
    Malformed(crate::wire::DecodeError),
    /// A sealed datagram that did not open.
    Rejected(Reject),
}

/// What a received datagram turned out to be.
#[derive(Debug)]
pub enum Opened<'a> {
    /// A udpmsg message (opened and replay-checked, when keyed).
    Message(crate::wire::Message<'a>),
    /// Not udpmsg (keyless receivers only).
    Raw(&'a [u8]),
}

/// Both directions of a socket's datagrams, with or without a key.
pub struct Envelope {
    keys: Option<(Sealer, Opener)>,
}

impl Envelope {
    /// Open datagrams when `key` is `None`, sealed ones otherwise.
    pub fn new(key: Option<&Key>) -> Self {
        Envelope {
            keys: key.map(|k| (Sealer::new(k), Opener::new(k))),
        }
    }

    /// True when datagrams are sealed.
    pub fn is_keyed(&self) -> bool {
        self.keys.is_some()
    }

    /// Bytes sealing adds to a datagram.
    pub fn overhead(&self) -> usize {
        if self.is_keyed() { SEAL_OVERHEAD } else { 0 }
    }

    /// The bytes to send for an open datagram: itself, or sealed.
    pub fn outgoing<'a>(&'a mut self, open: &'a [u8]) -> &'a [u8] {
        match self.keys.as_mut() {
            Some((sealer, _)) => sealer.seal(open),
            None => open,
        }
    }

    /// Classifies, opens (when keyed) and decodes a received datagram.
    /// `plain` holds the opened body the message borrows from.
    pub fn incoming<'a>(
        &mut self,
        datagram: &'a [u8],
        plain: &'a mut Vec<u8>,
        now: SystemTime,
    ) -> Result<Opened<'a>, Refusal> {
        use crate::wire::{Datagram, classify, decode_body};
        let kind = classify(datagram).map_err(Refusal::Malformed)?;
        match (kind, self.keys.as_mut()) {
            (Datagram::Raw(bytes), None) => Ok(Opened::Raw(bytes)),
            (Datagram::Raw(_), Some(_)) => Err(Refusal::RawWithKey),
            (Datagram::Message(m), None) => Ok(Opened::Message(m)),
            (Datagram::Message(_), Some(_)) => Err(Refusal::Unsealed),
            (Datagram::Sealed(_), None) => Err(Refusal::NoKey),
            (Datagram::Sealed(_), Some((_, opener))) => {
                opener
                    .open(datagram, plain, now)
                    .map_err(Refusal::Rejected)?;
                decode_body(plain)
                    .map(Opened::Message)
                    .map_err(Refusal::Malformed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Message, Ping};

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
        let mut sealer = Sealer::new(&key);
        sealer.sender = 0x1122_3344_5566_7788;
        sealer.counter = 7;
        let sealed = sealer
            .seal_at(&open_datagram(), 1_800_000_000_000_000)
            .to_vec();
        let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
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

    #[test]
    fn replay_window_accepts_reordering_and_refuses_repeats() {
        let now = SystemTime::now();
        let mut w = Window::new(100, 0, now);
        assert!(w.check_and_mark(99));
        assert!(!w.check_and_mark(99));
        assert!(w.check_and_mark(300));
        assert!(w.check_and_mark(101));
        assert!(!w.check_and_mark(100));
        assert!(w.check_and_mark(300 + REPLAY_WINDOW - 1));
        assert!(!w.check_and_mark(300 - 1), "below the window");
        assert!(!w.check_and_mark(300 + REPLAY_WINDOW - 1));
        assert!(w.check_and_mark(5000));
        assert!(!w.check_and_mark(300 + REPLAY_WINDOW - 1));
    }

    #[test]
    fn key_text_round_trips_and_rejects_garbage() {
        let key = Key::generate().unwrap();
        assert_eq!(Key::parse(&format!("{}\n", key.to_hex())), Ok(key));
        assert!(Key::parse("abc").is_err());
        assert!(Key::parse(&"zz".repeat(32)).is_err());
    }
}
