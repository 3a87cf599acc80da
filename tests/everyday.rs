//! Trustworthy everyday behaviour (issue #11), proved on the real binary:
//! `keygen` replaces nothing but a regular file. Every test runs in a
//! private network namespace (`common::isolate`).

mod common;

use common::{isolate, run_ok, udpmsg};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------- helpers

/// A temporary directory, removed when the test ends.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "udpmsg-everyday-{test}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Dir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// Writes `text` to file `name` and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}


// ---------------------------------------------------------------- keygen

/// Asserts `keygen [--force] path` is refused with exit 2 and one line that
/// names the path and what is there.
fn assert_keygen_refuses(path: &str, kind: &str) {
    for force in [None, Some("--force"), Some("-f")] {
        let mut args = vec!["keygen"];
        args.extend(force);
        args.push(path);
        let run = udpmsg(&args, b"");
        let line = run.one_line_error(2, &format!("{args:?} over {kind}"));
        assert!(
            line.contains(path) && line.contains(kind) && line.contains("regular file"),
            "{line}"
        );
    }
}

#[test]
fn keygen_refuses_fifos_sockets_symlinks_and_directories_even_with_force() {
    if !isolate("keygen_refuses_fifos_sockets_symlinks_and_directories_even_with_force") {
        return;
    }
    let dir = Dir::new("special");
    let fifo = dir.path("fifo");
    run_ok("mkfifo", &[&fifo]);
    let socket = dir.path("socket");
    let _bound = std::os::unix::net::UnixListener::bind(&socket).expect("bind unix socket");
    let target = dir.file("target", "not a key\n");
    let link = dir.path("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dangling = dir.path("dangling");
    std::os::unix::fs::symlink(dir.path("nowhere"), &dangling).expect("symlink");
    let subdir = dir.path("subdir");
    std::fs::create_dir(&subdir).expect("mkdir");

    assert_keygen_refuses(&fifo, "FIFO");
    assert_keygen_refuses(&socket, "socket");
    assert_keygen_refuses(&link, "symbolic link");
    assert_keygen_refuses(&dangling, "symbolic link");
    assert_keygen_refuses(&subdir, "directory");

    // All still what they were; nothing written through the link.
    let kind = |p: &str| {
        std::fs::symlink_metadata(p)
            .expect("still there")
            .file_type()
    };
    assert!(kind(&fifo).is_fifo());
    assert!(kind(&socket).is_socket());
    assert!(kind(&link).is_symlink() && kind(&dangling).is_symlink());
    assert!(kind(&subdir).is_dir());
    assert_eq!(
        std::fs::read_link(&link).expect("readlink"),
        Path::new(&target)
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "not a key\n"
    );
    assert!(!Path::new(&dir.path("nowhere")).exists());
    assert_eq!(
        std::fs::read_dir(&dir.0).expect("list").count(),
        6,
        "no temporary file left behind"
    );

    // A regular file is still replaced with --force.
    let run = udpmsg(&["keygen", "--force", &target], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&target).expect("read").len(), 65);
}

#[test]
fn keygen_refuses_a_device_node_even_with_force() {
    if !isolate("keygen_refuses_a_device_node_even_with_force") {
        return;
    }
    // Made by this test in its own temporary directory, never under /dev:
    // a character device 1,7 is what /dev/full is.
    let dir = Dir::new("device");
    let node = dir.path("full");
    let c_node = std::ffi::CString::new(node.clone()).expect("path");
    // SAFETY: a NUL-terminated path and plain mode and device numbers.
    let rc = unsafe { libc::mknod(c_node.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 7)) };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());

    assert_keygen_refuses(&node, "character device");
    let meta = std::fs::symlink_metadata(&node).expect("still there");
    assert!(meta.file_type().is_char_device(), "the node was replaced");
    assert_eq!(meta.rdev(), libc::makedev(1, 7));
}

