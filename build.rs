//! Links GCC's unwinder (`libgcc_eh.a`) into udpmsg on Linux with glibc, so
//! the binary needs no `libgcc_s.so.1` at run time.
//!
//! Rust's standard library asks for `libgcc_s` for unwinding and
//! backtraces, which a `panic = "abort"` build hardly uses, yet every start
//! of the process pays for loading it: a file opened and mapped, its symbols
//! relocated and its constructor run (`cpuid`, slow in a VM). For a one-shot
//! `udpmsg send` that was 14 of 89 page faults and about 8% of the wall time
//! (docs/DECISIONS.md). Named here, the static archive comes before
//! `-lgcc_s` on the link line and satisfies the unwinder symbols, and the
//! linker's `--as-needed` then drops `libgcc_s`. This is how `+crt-static`
//! builds link the unwinder anyway.
//!
//! Skipped, leaving the usual `libgcc_s`, anywhere else: other targets,
//! `+crt-static` builds, or a C toolchain without `libgcc_eh.a`.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let cfg = |key: &str| env::var(key).unwrap_or_default();
    let linux_gnu = cfg("CARGO_CFG_TARGET_OS") == "linux" && cfg("CARGO_CFG_TARGET_ENV") == "gnu";
    let crt_static = cfg("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "crt-static");
    if !linux_gnu || crt_static {
        return;
    }
    // The C compiler that links the binary: the configured linker, if any.
    let cc = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let archive = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    // Without the archive, cc prints the bare name back.
    if archive.is_some_and(|path| Path::new(&path).is_absolute() && Path::new(&path).exists()) {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
