//! How a confirmed send meets the network: a (re)transmission through the
//! sender, with what the kernel refuses counted, and an ack handed to the
//! outbox.

use super::super::Error;
use super::super::send::Sender;
use crate::net;
use crate::reliable::outbox::{AckInfo, Outbox};
use crate::wire::{self, Ack};
use std::time::Instant;

/// What sending counts besides the outbox's own tally.
pub(super) struct Counts<'a> {
    pub(super) local_errors: &'a mut u64,
    pub(super) port_closed: &'a mut u64,
    /// When the port was first refused since the last ack.
    pub(super) closed_since: &'a mut Option<Instant>,
    /// Refused before any ack was read (see [`Delivery::refusal_read`]).
    pub(super) refused_unheard: &'a mut bool,
    /// A listener answered before: a closed port may be a restart, not the
    /// end (for [`GONE_AFTER`]).
    pub(super) heard: bool,
}

/// Sends one (re)transmission with its current base. A send the local
/// system refuses is a lost datagram (counted; the outbox retries it), not
/// the end of the stream; so is a closed port once a listener answered.
pub(super) fn transmit(
    sender: &mut Sender,
    counts: &mut Counts<'_>,
    bytes: &mut [u8],
    base: u64,
) -> Result<(), Error> {
    wire::set_text_base(bytes, base);
    match sender.send_open(bytes) {
        Ok(()) => Ok(()),
        Err(e) if net::classify_send_error(&e) == net::SendFailure::Local => {
            *counts.local_errors += 1;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && counts.heard => {
            *counts.port_closed += 1;
            counts.closed_since.get_or_insert_with(Instant::now);
            Ok(())
        }
        // Nothing listens, or a listener's ack waits unread behind the
        // error: the replies decide (the message counts as lost).
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            *counts.refused_unheard = true;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Hands `ack` to `outbox`, its held ranges decoded into `held` (kept by
/// the caller to reuse its room); returns how many messages it confirmed.
pub(in crate::commands) fn on_ack(
    outbox: &mut Outbox,
    held: &mut Vec<(u64, u64)>,
    ack: &Ack<'_>,
    now: Instant,
) -> u64 {
    held.clear();
    held.extend(ack.ranges());
    let info = AckInfo {
        instance: ack.instance,
        next: ack.next,
        held,
    };
    outbox.on_ack(info, now)
}
