//! The shared key: made, parsed, and read from or written to a key file.

use crate::util::hex::{self, Hex};
use crate::util::words::IoWords;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Bytes in a key file's key.
pub const KEY_LEN: usize = 32;
/// Most bytes a key file may hold (64 hex digits and some white space).
const MAX_KEY_FILE: usize = 1024;

/// A shared key, as read from a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub(super) [u8; KEY_LEN]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A new random key.
    pub fn generate() -> io::Result<Key> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Key(key))
    }

    /// A key from its bytes (tests, and peers that derive keys themselves).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key(bytes)
    }

    /// Parses the key file text: 64 hex digits, surrounding white space allowed.
    pub fn parse(text: &str) -> Result<Key, &'static str> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err("wrong length");
        }
        let bytes = hex::parse(text).map_err(|_| "not hex")?;
        bytes.try_into().map(Key).map_err(|_| "wrong length")
    }

    /// The key file text.
    pub fn to_hex(&self) -> String {
        Hex(&self.0).to_string()
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
            KeyError::Read { path, source } => {
                write!(f, "cannot read key file {path}: {}", IoWords(source))
            }
            KeyError::Malformed { path, why } => write!(
                f,
                "malformed key file {path}: {why} (expected 64 hex digits, as 'udpmsg keygen' writes)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

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
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_KEY_FILE as u64 + 1),
        &mut text,
    )
    .map_err(read)?;
    if text.len() > MAX_KEY_FILE {
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

/// What is at a key file's path when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    /// The kind of `meta` (from `symlink_metadata`), `None` for a regular file.
    pub fn of(meta: &std::fs::Metadata) -> Option<FileKind> {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        Some(if t.is_file() {
            return None;
        } else if t.is_dir() {
            FileKind::Directory
        } else if t.is_symlink() {
            FileKind::Symlink
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_socket() {
            FileKind::Socket
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Other
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a new key file was not written.
#[derive(Debug)]
pub enum WriteKeyError {
    /// Something other than a regular file is at the path; it is never
    /// replaced, not even with `force`.
    NotRegular(FileKind),
    /// A regular file is at the path and `force` was not given.
    Exists,
    /// Making the key or writing the file failed.
    Io(io::Error),
}

impl From<io::Error> for WriteKeyError {
    fn from(e: io::Error) -> Self {
        WriteKeyError::Io(e)
    }
}

/// Writes a new random key to `path` with mode 0600. Refuses when anything
/// but a regular file is at `path` (a symlink, FIFO, socket, device or
/// directory), and a regular file unless `force`. With `force` the key is
/// written to a new private file beside it and renamed over it, so the old
/// key stays intact until the new one is complete.
pub fn write_key_file(path: &Path, force: bool) -> Result<(), WriteKeyError> {
    // symlink_metadata: a symlink is refused, never followed.
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if let Some(kind) = FileKind::of(&meta) {
                return Err(WriteKeyError::NotRegular(kind));
            }
            if !force {
                return Err(WriteKeyError::Exists);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(WriteKeyError::Io(e)),
    }
    let key = Key::generate()?;
    let write_new = |target: &Path| -> io::Result<()> {
        // create_new is O_EXCL: it never follows a symlink and never opens
        // what is already there (a FIFO, a device).
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)?;
        writeln!(file, "{}", key.to_hex())?;
        file.sync_all()
    };
    if !force {
        // Something put there since the check makes this fail: Exists.
        return write_new(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => WriteKeyError::Exists,
            _ => WriteKeyError::Io(e),
        });
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{:016x}.tmp", crate::util::rng::random_id()));
    let temp = path.with_file_name(temp_name);
    write_new(&temp)?;
    // Between the check above and this rename, another process could put a
    // FIFO or a device node at `path`, and the rename would replace it. The
    // window is left open on purpose: only someone who can already create
    // and remove names in that directory can use it, and they can replace
    // the name themselves; rename(2) only swaps directory entries (it never
    // writes into a device or through a symlink), so keygen's key still goes
    // only into its own new file. Closing it would take renameat2's
    // RENAME_EXCHANGE, a check of what came out, and a swap back (itself
    // racy). What the check is for, a mistaken path (`--force /dev/full` as
    // root, a FIFO), does not race.
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        WriteKeyError::Io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_rejects_garbage() {
        let key = Key::generate().unwrap();
        assert_eq!(Key::parse(&format!("{}\n", key.to_hex())), Ok(key));
        assert!(Key::parse("abc").is_err());
        assert!(Key::parse(&"zz".repeat(32)).is_err());
        assert!(Key::parse(&"a ".repeat(32)).is_err(), "spaces inside");
    }
}
