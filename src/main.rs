//! The `udpmsg` binary: parse arguments, run the command, exit with its code.
//!
//! The binary has its own C `main` (`#![no_main]`) instead of Rust's. A
//! one-shot `udpmsg send host hi` is mostly process start-up, and Rust's
//! start-up code locates the main thread's stack guard page: glibc's
//! `pthread_getattr_np` opens and parses `/proc/self/maps`, and a signal
//! stack is mapped for the stack-overflow message. That was a fifth of the
//! whole process's instructions (callgrind: 448k → 347k). The two things
//! Rust's start-up does that matter here are done below: file descriptors
//! 0–2 are made valid, and SIGPIPE is ignored, so a closed pipe is an error
//! (`listen | head` exits 0) rather than a kill. What is lost is the
//! "has overflowed its stack" message (a stack overflow is a plain SIGSEGV)
//! and the thread name in panic messages ('<unnamed>', not 'main').
//!
//! Under `cfg(test)` (`cargo test --bins`, `--all-targets`) the test
//! harness's own `main` is used, so the binary's tests can still run.

#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{CStr, OsString, c_char, c_int};
#[cfg(not(test))]
use std::os::unix::ffi::OsStringExt;
#[cfg(not(test))]
use udpmsg::{app, cli::Cli};

/// # Safety
///
/// Called by the C runtime only, with `argc` valid strings in `argv`.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    standard_fds_open();
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    let argc = usize::try_from(argc).unwrap_or(0);
    let args: Vec<OsString> = (0..argc)
        .map(|i| {
            // SAFETY: the C runtime passes `argc` pointers to NUL-terminated
            // strings in `argv`, valid for the life of the process.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect();
    // A panic must not unwind into C (that aborts): exit 101 as Rust's own
    // `main` would. (Release builds abort on panic anyway.)
    let code = std::panic::catch_unwind(|| {
        let cli = Cli::parse_from(args);
        match app::run(cli) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("udpmsg: {e}");
                e.exit_code()
            }
        }
    })
    .unwrap_or(101);
    // `exit` flushes stdout, as returning from Rust's `main` would.
    std::process::exit(i32::from(code))
}

/// Opens /dev/null on any of stdin, stdout and stderr that is closed, as
/// Rust's own start-up does: otherwise the first socket would get fd 1 and
/// `println!` would write into it.
#[cfg(not(test))]
fn standard_fds_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd; timeout 0 never blocks.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0;
    for pfd in fds {
        let closed = if polled {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD on any integer is harmless; -1 means not open.
            (unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) }) == -1
        };
        // open() returns the lowest free descriptor, which is this one.
        // SAFETY: a NUL-terminated path and plain flags.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            // Nothing sensible to print to (stderr may be the closed one).
            std::process::exit(1);
        }
    }
}
