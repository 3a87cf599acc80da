//! The save directory: a partial file per transfer, the free space,
//! putting a finished file in place without replacing another, and the
//! partial files a killed listener left behind.
//!
//! Partial files a listener left when it was killed (SIGKILL, a crash,
//! a power cut) are found by locks, not by guessing from their age. A
//! listener holds a shared `flock` on the save directory itself while it
//! runs ([`claim`]), and an exclusive one on each partial file while it
//! writes it ([`Part`]); the kernel drops both when the process dies, however
//! it dies. So a partial file nobody holds a lock on belongs to no running
//! transfer. A listener that starts while no other one uses the directory
//! (it gets the directory's lock exclusively) removes such files: no
//! listener can be creating one at that moment. One that starts beside
//! others only names them (a file another listener is just creating is
//! not locked yet for a moment).

use super::name::numbered;
use rustix::fs::{FlockOperation, flock};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of partial files: a dot (stored names never start with one, so
/// a partial file is never mistaken for a finished one) and the program.
pub const PART_PREFIX: &str = ".udpmsg-";
/// Suffix of partial files.
pub const PART_SUFFIX: &str = ".part";
/// Numbered alternatives tried before giving up on a name.
const MAX_NUMBERED: u32 = 10_000;

/// A partial file in the save directory, removed on drop unless placed.
/// Its writer holds an exclusive `flock` on it while it exists (see the
/// module's documentation).
#[derive(Debug)]
pub struct Part {
    pub file: File,
    path: Option<PathBuf>,
}

impl Part {
    /// A new, empty partial file for `sender` in `dir`, locked; never an
    /// existing path (O_EXCL: not even a symlink someone left there).
    pub fn create(dir: &Path, sender: u64) -> io::Result<Part> {
        loop {
            let tag = crate::util::rng::random_id();
            let path = dir.join(format!(
                "{PART_PREFIX}{sender:016x}-{tag:016x}{PART_SUFFIX}"
            ));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    // Blocking: only a listener looking for leftovers holds
                    // it (for a moment) besides us. Best effort: a file
                    // system without locks has no cleaning up either.
                    let _ = flock(&file, FlockOperation::LockExclusive);
                    return Ok(Part {
                        file,
                        path: Some(path),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves the complete file to `dir/name`, or (when that exists and
    /// `overwrite` is off, or it is not a file) to the first free
    /// `name (n).ext`; returns where it went.
    pub fn place(mut self, dir: &Path, name: &str, overwrite: bool) -> io::Result<PathBuf> {
        let Some(part) = self.path.take() else {
            return Err(io::Error::other("partial file already placed"));
        };
        let result = place(&part, dir, name, overwrite);
        if result.is_err() {
            let _ = fs::remove_file(&part);
        }
        result
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

fn place(part: &Path, dir: &Path, name: &str, overwrite: bool) -> io::Result<PathBuf> {
    if overwrite {
        let target = dir.join(name);
        // Only a regular file (or a symlink, itself replaced) is overwritten.
        let replaceable = match fs::symlink_metadata(&target) {
            Ok(meta) => !meta.is_dir(),
            Err(_) => true,
        };
        if replaceable && fs::rename(part, &target).is_ok() {
            return Ok(target);
        }
    }
    for n in 0..MAX_NUMBERED {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            numbered(name, n)
        };
        let target = dir.join(&candidate);
        // A hard link never replaces anything: it fails if the name exists.
        match fs::hard_link(part, &target) {
            Ok(()) => {
                fs::remove_file(part)?;
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: look, then rename (a race
            // with another writer of the same name is possible there).
            Err(_) => {
                if fs::symlink_metadata(&target).is_ok() {
                    continue;
                }
                fs::rename(part, &target)?;
                return Ok(target);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_NUMBERED} files named like '{name}' exist already"),
    ))
}

/// A partial file in the save directory that no running transfer holds
/// must be at least this old to be named in a warning while another
/// listener uses the directory (one being created is unlocked for a
/// moment).
pub const STALE_AGE: Duration = Duration::from_secs(60);
/// How long [`claim`] tries for the directory's shared lock while another
/// listener holds it exclusively (it is removing leftovers: moments).
const CLAIM_PATIENCE: Duration = Duration::from_secs(2);

/// A listener's hold on its save directory: a shared `flock` on the
/// directory, held until dropped (see the module's documentation).
#[derive(Debug)]
pub struct Claim {
    _dir: File,
}

/// The partial files [`claim`] found that no running transfer holds.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Removed: no other listener used the directory.
    pub removed: Vec<PathBuf>,
    /// Left where they are, as another listener uses the directory (only
    /// those older than [`STALE_AGE`]).
    pub kept: Vec<PathBuf>,
    /// Could not be removed, and why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Claims `dir` for a listener, and deals with the partial files killed
/// listeners left there: removed when no other listener uses `dir`,
/// otherwise reported. An error means `dir` cannot be locked (a file
/// system without `flock`): nothing was looked at.
pub fn claim(dir: &Path) -> io::Result<(Claim, Leftovers)> {
    let handle = File::open(dir)?;
    let alone = match flock(&handle, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => true,
        Err(rustix::io::Errno::WOULDBLOCK) => false,
        Err(e) => return Err(e.into()),
    };
    let leftovers = leftovers(dir, alone)?;
    // From exclusive to shared, or shared at last; another listener's
    // exclusive hold lasts while it removes leftovers.
    let start = std::time::Instant::now();
    loop {
        match flock(&handle, FlockOperation::NonBlockingLockShared) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < CLAIM_PATIENCE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((Claim { _dir: handle }, leftovers))
}

/// The partial files in `dir` nobody holds a lock on: removed when
/// `alone`, else listed when older than [`STALE_AGE`].
fn leftovers(dir: &Path, alone: bool) -> io::Result<Leftovers> {
    let mut found = Leftovers::default();
    let now = SystemTime::now();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else {
            continue;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !(name.starts_with(PART_PREFIX) && name.ends_with(PART_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        // Never through a symlink, and never blocking on a FIFO.
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        // Only a regular file can be ours; one being written is locked.
        if !meta.is_file() || flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        if alone {
            match fs::remove_file(&path) {
                Ok(()) => found.removed.push(path),
                Err(e) => found.failed.push((path, e)),
            }
        } else {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok());
            if age.is_some_and(|a| a >= STALE_AGE) {
                found.kept.push(path);
            }
        }
    }
    found.removed.sort();
    found.kept.sort();
    Ok(found)
}

/// Bytes an unprivileged writer may still put in `dir`'s file system.
pub fn free_space(dir: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(dir).map_err(io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// True when `e` means the disk (or the quota) is full.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "udpmsg-store-{tag}-{}-{:x}",
            std::process::id(),
            crate::util::rng::random_id()
        ));
        fs::create_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn placing_never_replaces_and_numbers_instead() {
        let dir = temp_dir("place");
        fs::write(dir.join("a.txt"), b"old").unwrap();
        std::os::unix::fs::symlink("/nonexistent", dir.join("a (1).txt")).unwrap();
        let mut part = Part::create(&dir, 1).unwrap();
        part.file.write_all(b"new").unwrap();
        let placed = part.place(&dir, "a.txt", false).unwrap();
        assert_eq!(placed, dir.join("a (2).txt"));
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read(&placed).unwrap(), b"new");
        // With overwrite, the file itself is replaced; a directory never.
        let mut part = Part::create(&dir, 1).unwrap();
        part.file.write_all(b"newer").unwrap();
        assert_eq!(part.place(&dir, "a.txt", true).unwrap(), dir.join("a.txt"));
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"newer");
        fs::create_dir(dir.join("d")).unwrap();
        let part = Part::create(&dir, 1).unwrap();
        assert_eq!(part.place(&dir, "d", true).unwrap(), dir.join("d (1)"));
        // Nothing partial is left.
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(PART_PREFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_part_is_removed() {
        let dir = temp_dir("drop");
        let part = Part::create(&dir, 7).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        drop(part);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        assert!(free_space(&dir).unwrap() > 0);
        fs::remove_dir(&dir).unwrap();
    }
}
