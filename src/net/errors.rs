//! What an error on a non-blocking socket means: wait for readiness, try
//! again, lose one datagram, or stop (see the policy in [`super`]).

use std::io;

/// What a failed send means for the datagram and for the command; see
/// [`classify_send_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The queue is full right now (`EAGAIN`/`EWOULDBLOCK`, `ENOBUFS`), or a
    /// signal interrupted the call (`EINTR`): nothing was lost. Send the
    /// same datagram again, after waiting for room (a full socket buffer
    /// raises a writable event; `ENOBUFS` raises none, so back off briefly).
    QueueFull,
    /// This host refused this one datagram, for now: a firewall rule on
    /// output (`EPERM`), or no route while an interface flaps
    /// (`ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN`, `EHOSTDOWN`). The datagram
    /// is lost, as if the network had dropped it, and the next one may
    /// well go: count it as lost and go on (a retransmitting sender
    /// retries it as it would any loss; a fire-and-forget sender reports
    /// it and sends the next; `ping` counts it as a lost ping).
    Local,
    /// Anything else, e.g. `EACCES` (a broadcast address without
    /// SO_BROADCAST: every later send would fail the same way),
    /// `EMSGSIZE`, `ECONNREFUSED` (the ICMP echo of an earlier send: nothing
    /// listens), `EBADF`: retrying cannot help; end the command with it.
    Fatal,
}

/// Sorts a send error (`send`, `send_to`, `sendmmsg`) into what to do about
/// it: the one place the sending commands (`send`, `send --ack`, `ping`)
/// take this decision from.
///
/// `EPERM` counts as [`SendFailure::Local`] because netfilter's `drop` (and
/// `reject`) on the output path is reported to the sender as `EPERM`; it may
/// apply to some datagrams only (a rate limit, `numgen`), and a command
/// that stopped at the first one would lose all the others. A rule that
/// drops everything then shows as 100% loss, with every error counted.
pub fn classify_send_error(e: &io::Error) -> SendFailure {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) {
        return SendFailure::QueueFull;
    }
    match e.raw_os_error() {
        Some(libc::ENOBUFS) => SendFailure::QueueFull,
        Some(
            libc::EPERM | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN,
        ) => SendFailure::Local,
        _ => SendFailure::Fatal,
    }
}

/// True for send errors that only mean "the queue is full right now"
/// ([`SendFailure::QueueFull`]).
pub fn is_transient_send_error(e: &io::Error) -> bool {
    classify_send_error(e) == SendFailure::QueueFull
}

/// Runs a non-blocking socket operation: `Ok(None)` when it would block,
/// retried when a signal interrupted it, any other error returned. The one
/// home of the read-until-`WouldBlock` policy (`while let Some(..)`).
pub fn nonblocking<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<Option<T>> {
    loop {
        match op() {
            Ok(value) => return Ok(Some(value)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_errors_are_sorted_into_wait_lose_or_stop() {
        let class = |errno| classify_send_error(&io::Error::from_raw_os_error(errno));
        for errno in [libc::EAGAIN, libc::ENOBUFS, libc::EINTR] {
            assert_eq!(class(errno), SendFailure::QueueFull, "{errno}");
        }
        for errno in [
            libc::EPERM,
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::ENETDOWN,
            libc::EHOSTDOWN,
        ] {
            assert_eq!(class(errno), SendFailure::Local, "{errno}");
        }
        for errno in [
            libc::EACCES,
            libc::EMSGSIZE,
            libc::ECONNREFUSED,
            libc::EBADF,
        ] {
            assert_eq!(class(errno), SendFailure::Fatal, "{errno}");
        }
        assert!(is_transient_send_error(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        )));
        assert!(!is_transient_send_error(&io::Error::from_raw_os_error(
            libc::EPERM
        )));
    }
}
