//! A file system with no space left, for pointing a command's stdout at: a
//! tiny tmpfs, filled to the last page, mounted in a private mount namespace
//! of the test thread (never the machine's, never a device under /dev).

use super::run_ok;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// tmpfs size: a few pages, filled in a moment.
const SIZE: &str = "64k";

/// A full tmpfs at a fresh temporary directory, seen only by the calling
/// test thread and the processes it starts; unmounted and removed on drop.
pub struct FullDisk {
    dir: PathBuf,
}

impl FullDisk {
    /// Moves the calling test thread into a private mount namespace (call
    /// after `isolate()`, which ensures root), mounts the tmpfs and fills it.
    pub fn new(tag: &str) -> FullDisk {
        // SAFETY: unshare with CLONE_NEWNS (which implies CLONE_FS) moves
        // only this thread into a copy of the mount namespace; the harness
        // gives every test its own thread, which ends with the test.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNS): {}",
            io::Error::last_os_error()
        );
        // The copy still propagates mounts to the machine's namespace where
        // `/` is shared: make every mount in it private first.
        run_ok("mount", &["--make-rprivate", "/"]);
        let dir = std::env::temp_dir().join(format!("udpmsg-full-{}-{tag}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the mount point");
        let path = dir.to_str().expect("utf-8 temp path");
        run_ok(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={SIZE}"), "tmpfs", path],
        );
        let disk = FullDisk { dir };
        let mut fill = File::create(disk.dir.join("fill")).expect("create fill");
        let page = [0u8; 4096];
        let full = loop {
            if let Err(e) = fill.write_all(&page) {
                break e;
            }
        };
        assert_eq!(full.raw_os_error(), Some(libc::ENOSPC), "filling: {full}");
        // Proof that the next write to any file fails the same way.
        let mut probe = disk.file("probe");
        let e = probe.write_all(b"x").expect_err("a write to the full disk");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
        disk
    }

    /// A new empty file on the full disk: it opens, and every write to it
    /// fails with ENOSPC.
    pub fn file(&self, name: &str) -> File {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.dir.join(name))
            .expect("create a file on the full disk")
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
        let _ = fs::remove_dir(&self.dir);
    }
}
