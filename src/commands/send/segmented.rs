//! Datagrams queued to go out together: one segmented send (UDP GSO) when
//! the kernel and the path take it, else one by one.

use super::Unsent;
use super::link::Link;
use crate::net::{self, SendFailure};
use std::io;

/// Datagrams to go out together: as one segmented send (UDP GSO) when the
/// kernel and the path take it, else one by one.
#[derive(Debug, Default)]
pub(super) struct Segmented {
    pub(super) segments: net::gso::Segments,
    /// Sends may be segmented: asked for, the kernel has it, and no
    /// segmented send was refused yet.
    pub(super) gso: bool,
}

impl Segmented {
    /// Queues `datagram`, sending what is queued first when it cannot
    /// join it, and everything once nothing more can join. An error is
    /// about datagrams queued before (this one is queued either way).
    pub(super) fn queue(&mut self, link: &mut Link, datagram: &[u8]) -> Result<(), Unsent> {
        let mut result = Ok(());
        if !self.segments.push(datagram) {
            result = self.flush(link);
            // An empty queue takes any datagram.
            self.segments.push(datagram);
        }
        if self.segments.is_full() {
            result = match (result, self.flush(link)) {
                (Err(mut first), Err(second)) => {
                    first.datagrams += second.datagrams;
                    Err(first)
                }
                (first, second) => first.and(second),
            };
        }
        result
    }

    /// Sends everything queued; the queue is empty afterwards.
    pub(super) fn flush(&mut self, link: &mut Link) -> Result<(), Unsent> {
        if self.segments.is_empty() {
            return Ok(());
        }
        let result = self.send(link);
        self.segments.clear();
        result
    }

    fn send(&mut self, link: &mut Link) -> Result<(), Unsent> {
        let count = self.segments.len();
        if self.gso && count > 1 {
            loop {
                let to = (!link.connected).then_some(&link.to);
                match self.segments.send(&link.socket, to) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if net::is_transient_send_error(&e) => {
                        link.wait_for_room(&e).map_err(|error| Unsent {
                            error,
                            datagrams: count,
                        })?;
                    }
                    // This device or path does not take them (or no
                    // longer, after an MTU change): one by one from now on.
                    Err(e) if net::gso::is_refusal(&e) => {
                        self.gso = false;
                        break;
                    }
                    Err(error) => {
                        return Err(Unsent {
                            error,
                            datagrams: count,
                        });
                    }
                }
            }
        }
        let mut lost = None;
        for (i, datagram) in self.segments.each().enumerate() {
            match link.send(datagram) {
                Ok(()) => {}
                Err(e) if net::classify_send_error(&e) == SendFailure::Local => {
                    lost.get_or_insert(Unsent {
                        error: e,
                        datagrams: 0,
                    })
                    .datagrams += 1;
                }
                Err(error) => {
                    return Err(Unsent {
                        error,
                        datagrams: count - i,
                    });
                }
            }
        }
        lost.map_or(Ok(()), Err)
    }
}
