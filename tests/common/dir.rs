//! A temporary directory for one test, removed when the test ends.

use super::udpmsg;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh directory under the system's temp dir, named after the test,
/// the process and the moment; removed (with what is in it) on drop.
pub struct Dir(PathBuf);

impl Dir {
    /// `udpmsg-TEST-PID-NANOS`.
    pub fn new(test: &str) -> Dir {
        Dir::named(&format!("udpmsg-{test}"))
    }

    /// `um-TEST-PID-NANOS`: short, for Unix socket paths (at most 107 bytes).
    pub fn short(test: &str) -> Dir {
        Dir::named(&format!("um-{test}"))
    }

    fn named(prefix: &str) -> Dir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Dir(dir)
    }

    /// The directory itself.
    pub fn root(&self) -> &std::path::Path {
        &self.0
    }

    /// The path of `name` in this directory.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// The same as a `PathBuf`.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `unix:` and the path of `name` in this directory.
    pub fn unix(&self, name: &str) -> String {
        format!("unix:{}", self.path(name))
    }

    /// Writes `text` to file `name` and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }

    /// A new key file `key` made by `udpmsg keygen`.
    pub fn key(&self) -> String {
        self.key_named("key")
    }

    /// A new key file `name` made by `udpmsg keygen`.
    pub fn key_named(&self, name: &str) -> String {
        let path = self.path(name);
        let run = udpmsg(&["keygen", &path, "-q"], b"");
        assert_eq!(run.code, 0, "keygen {path}: {}", run.stderr);
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
