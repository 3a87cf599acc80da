//! Links GCC's unwinder (`libgcc_eh.a`) into udpmsg on Linux with glibc, so
//! the binary needs no `libgcc_s.so.1` at run time.
//!
//! Rust's standard library asks for `libgcc_s` for unwinding and
//! backtraces, which a `panic = "abort"` build hardly uses, yet every start
//! of the process pays for loading it: a file opened and mapped, its symbols
//! relocated and its constructor run (`cpuid`, slow in a VM). For a one-shot
//! `udpmsg send` that was 14 of 89 page faults and about 8% of the wall time
//! (docs/DECISIONS.md). Named here, the static archive satisfies the
//! unwinder symbols, and the linker's `--as-needed` then drops `libgcc_s`.
//! This is how `+crt-static` builds link the unwinder anyway. Every final
//! link that uses the udpmsg library gets the archive: the binary, the
//! tests, and any program that links the library.
//!
//! Skipped, leaving the usual `libgcc_s`: other targets, `+crt-static`
//! builds, cross builds without a configured linker (the host's `cc` says
//! nothing about the target's), a C toolchain without `libgcc_eh.a`, and
//! whenever `UDPMSG_DYNAMIC_UNWIND` is set (for a toolchain where linking
//! the archive fails).

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=UDPMSG_DYNAMIC_UNWIND");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let cfg = |key: &str| env::var(key).unwrap_or_default();
    let linux_gnu = cfg("CARGO_CFG_TARGET_OS") == "linux" && cfg("CARGO_CFG_TARGET_ENV") == "gnu";
    let crt_static = cfg("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "crt-static");
    if !linux_gnu || crt_static || env::var_os("UDPMSG_DYNAMIC_UNWIND").is_some() {
        return;
    }
    // The C compiler that links the binary: the configured linker, or for a
    // native build the default `cc`.
    let cc = match env::var("RUSTC_LINKER") {
        Ok(linker) => linker,
        Err(_) if cfg("HOST") == cfg("TARGET") => "cc".to_string(),
        Err(_) => return,
    };
    let archive = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    // Without the archive, cc prints the bare name back.
    if let Some(path) =
        archive.filter(|path| Path::new(path).is_absolute() && Path::new(path).exists())
    {
        // Look again if the toolchain changes.
        println!("cargo:rerun-if-changed={path}");
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
        // For tests/unwind.rs: the binary should not load libgcc_s.
        println!("cargo:rustc-env=UDPMSG_STATIC_UNWIND=1");
    }
}
