//! Fire-and-forget sending of a stream of messages ([`send_all`]): batched,
//! never waiting on the input while datagrams are queued.

use super::Sender;
use crate::commands::Error;
use crate::commands::source::{Next, Source};
use crate::net;

/// Sends each message of `input` (udpmsg text, or raw bytes with `raw`), in
/// order. A message that cannot go is reported through `skipped` with its
/// 1-based number, and the rest still go: one too large for a datagram
/// ([`Error::TooLarge`]), or one this host refused to send for now
/// ([`Error::Io`] with a [`SendFailure::Local`] error: a firewall rule, no
/// route). Reading the input failing ([`Error::Input`]) or any other send
/// error stops the stream. Returns how many went.
///
/// Messages already at hand go out together, up to [`net::SEND_BATCH`] per
/// system call; the input is never waited on while some are queued, so
/// `tail -f log | udpmsg send host -` sends each line as it comes.
///
/// [`SendFailure::Local`]: net::SendFailure::Local
pub fn send_all(
    sender: &mut Sender,
    input: &mut dyn Source,
    raw: bool,
    mut skipped: impl FnMut(u64, &Error),
) -> Result<u64, Error> {
    let mut number = 0u64;
    let mut sent = 0u64;
    // The message number of each queued datagram, for reporting a loss.
    let mut queued = Vec::with_capacity(net::SEND_BATCH);
    loop {
        let mut ended = false;
        while !sender.queue_full() {
            // With datagrams queued, only what is already in memory.
            let next = if sender.queued() == 0 {
                input.next().map_err(Error::Input)?
            } else {
                match input.next_buffered() {
                    Some(next) => next,
                    None => break,
                }
            };
            let body = match next {
                Next::Message(body) => body,
                // Only pollable sources are pending; this loop reads blocking.
                Next::Pending => continue,
                Next::End => {
                    ended = true;
                    break;
                }
            };
            number += 1;
            let result = if raw {
                sender.queue_raw(body)
            } else {
                sender.queue_text(body)
            };
            match result {
                Ok(()) => queued.push(number),
                Err(e @ Error::TooLarge { .. }) => skipped(number, &e),
                Err(e) => return Err(e),
            }
        }
        sent += sender.flush(&mut |index, e| {
            let number = queued.get(index).copied().unwrap_or(number);
            skipped(number, &Error::Io(e));
        })?;
        queued.clear();
        if ended {
            return Ok(sent);
        }
    }
}
