//! The calling thread's and process's kernel settings the event loop
//! needs: the timer slack, and whether a signal is ignored.

/// Asks the kernel to wake this thread's sleeps and timeouts on time
/// (timer slack 1 µs instead of the default 50 µs). Best effort
/// (`prctl` cannot fail here for a valid value).
pub fn precise_timers() {
    // SAFETY: PR_SET_TIMERSLACK takes an unsigned long value; the other
    // arguments are unused. It affects only the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0) };
}

/// Whether `signal` is ignored (SIG_IGN) in this process now.
pub fn signal_ignored(signal: libc::c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the current
    // disposition of `signal` into `old`, a zeroed sigaction we own; an
    // invalid signal number makes it fail (false).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
