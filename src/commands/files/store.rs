//! The save directory: a partial file per transfer, the free space, and
//! putting a finished file in place without replacing another.

use super::name::numbered;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of partial files: a dot (stored names never start with one, so
/// a partial file is never mistaken for a finished one) and the program.
pub const PART_PREFIX: &str = ".udpmsg-";
/// Suffix of partial files.
pub const PART_SUFFIX: &str = ".part";
/// Numbered alternatives tried before giving up on a name.
const MAX_NUMBERED: u32 = 10_000;

/// A partial file in the save directory, removed on drop unless placed.
#[derive(Debug)]
pub struct Part {
    pub file: File,
    path: Option<PathBuf>,
}

impl Part {
    /// A new, empty partial file for `sender` in `dir`; never an existing
    /// path (O_EXCL: not even a symlink someone left there).
    pub fn create(dir: &Path, sender: u64) -> io::Result<Part> {
        loop {
            let tag = crate::util::rng::random_id();
            let path = dir.join(format!(
                "{PART_PREFIX}{sender:016x}-{tag:016x}{PART_SUFFIX}"
            ));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
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
