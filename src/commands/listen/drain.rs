//! Reading the listener's sockets: batches of datagrams opened and handed
//! to the handler, acknowledgements sent once the output is flushed, and
//! the budget that gives signals, timers and output their turn.

use super::handler::{Handler, Origin};
use super::sink::Sink;
use super::{Listener, Stop, output_stop};
use crate::net::{self, DatagramSocket, PeerAddr};
use crate::seal::{Opened, SealDest};
use crate::wire::{self, DecodeError};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Full batches (as many datagrams as `recvmmsg` asked for) read from one
/// socket in a row before signals, timers, output and the other socket get
/// a turn: a flood cannot make Ctrl-C or `--timeout` wait.
const DRAIN_BUDGET: usize = 64;

/// The pause after a batch of several datagrams, but not a full one, before
/// reading again. A listener that keeps up with a fast sender otherwise
/// wakes for every two or three datagrams, and each wake (epoll_wait plus
/// recvmmsg) costs more than handling them; after the pause, a stream of
/// 250,000 datagrams/s comes in batches of 12 or more (the timer slack makes
/// the pause 50–100 µs). A lone datagram (ping, interactive messages,
/// discovery) is handled at once and never waits, and so is a batch that
/// holds [`net::RECV_BATCH`] datagrams or more in coalesced runs (UDP_GRO):
/// the kernel gathered them already, and a pause would only lengthen the
/// sender's round trip (a file transfer's window shrinks with it).
const GATHER: Duration = Duration::from_micros(50);

/// How reading one socket ended.
enum Drained {
    /// The queue is empty.
    Empty,
    /// The budget ran out, or a pause let more gather: more may wait.
    Budget,
    /// A stop condition came up.
    Stop(Stop),
}

impl Listener {
    /// Reads each socket marked in `unread` until it would block, and
    /// unmarks it; returns a stop reason if one came up.
    pub(super) fn drain(
        &mut self,
        unread: &mut u64,
        sink: &mut dyn Sink,
    ) -> io::Result<Option<Stop>> {
        if self.count_reached() {
            return Ok(Some(Stop::Count));
        }
        for via in 0..self.sockets.len() {
            let bit = 1u64 << via;
            if *unread & bit == 0 {
                continue;
            }
            match self.drain_socket(via, sink)? {
                Drained::Empty => *unread &= !bit,
                Drained::Budget => {}
                Drained::Stop(stop) => return Ok(Some(stop)),
            }
        }
        Ok(None)
    }

    /// Reads socket `via` until it is empty, a stop condition comes up, or
    /// [`DRAIN_BUDGET`] batches were read.
    fn drain_socket(&mut self, via: usize, sink: &mut dyn Sink) -> io::Result<Drained> {
        let socket = &self.sockets[via];
        for _ in 0..DRAIN_BUDGET {
            let asked = self.batch.asked();
            let count = match self.batch.recv(socket) {
                Ok(count) => count,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drained::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The ICMP echo of a reply we sent to a port that closed since.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            // One clock read per batch: its datagrams arrived together.
            let at = SystemTime::now();
            let now = Instant::now();
            let mut datagrams = 0;
            for i in 0..count {
                let Some(received) = self.batch.get(i) else {
                    continue;
                };
                let origin = Origin {
                    at,
                    now,
                    from: &received.arrival.from,
                    cred: received.arrival.cred,
                    local: received.arrival.local,
                    socket,
                    via,
                };
                let dest = match (received.arrival.local, &self.locals[via]) {
                    (Some(l), PeerAddr::Inet(bound)) => {
                        Dest::Arrival(SocketAddr::new(l.dest, bound.port()))
                    }
                    _ => Dest::Bound(self.bound[via]),
                };
                // Usually one datagram; a run of them when the kernel
                // coalesced a sender's datagrams (UDP_GRO).
                for (bytes, cut) in received.datagrams() {
                    datagrams += 1;
                    let handled = if cut || bytes.len() > wire::MAX_DATAGRAM {
                        // Cannot happen on UDP (a Unix datagram can be larger),
                        // but a cut read must not pass as whole.
                        let why = crate::seal::Refusal::Malformed(DecodeError::TooLong);
                        self.handler.refused(&why, origin.from, sink)
                    } else {
                        let overhead = self.incoming.overhead();
                        match self.incoming.open(bytes, at, dest) {
                            Ok(Opened::Raw(bytes)) => self.handler.raw(bytes, origin, sink),
                            Ok(Opened::Message(message)) => {
                                let open_len = bytes.len() - overhead;
                                self.handler.message(message, open_len, origin, sink)
                            }
                            Err(why) => self.handler.refused(&why, origin.from, sink),
                        }
                    };
                    if let Err(e) = handled {
                        return Ok(Drained::Stop(output_stop(&mut self.output_error, e)));
                    }
                    if self.count_reached() {
                        let stop = acknowledge(
                            &mut self.handler,
                            &self.sockets,
                            sink,
                            &mut self.output_error,
                        )
                        .err();
                        return Ok(Drained::Stop(stop.unwrap_or(Stop::Count)));
                    }
                }
                // A coalesced run is up to 64 KiB of one sender's stream:
                // acknowledged on its own, as TCP acks each coalesced
                // segment. One ack for a whole batch of them could stand
                // for a sender's whole window, and its loss would leave
                // the sender nothing to go on but its timer.
                if received.segment.is_some()
                    && let Err(stop) = acknowledge(
                        &mut self.handler,
                        &self.sockets,
                        sink,
                        &mut self.output_error,
                    )
                {
                    return Ok(Drained::Stop(stop));
                }
            }
            if let Err(stop) = acknowledge(
                &mut self.handler,
                &self.sockets,
                sink,
                &mut self.output_error,
            ) {
                return Ok(Drained::Stop(stop));
            }
            if count < 2 {
                // A short batch means the queue was empty: new datagrams
                // will raise a new readiness event.
                return Ok(Drained::Empty);
            }
            if count < asked {
                // Several arrived while the last batch was handled: a
                // stream. Let the next ones gather rather than wake for
                // every two (unless the kernel gathered them), then give
                // signals, timers and output a turn.
                if datagrams < net::RECV_BATCH {
                    std::thread::sleep(GATHER);
                }
                return Ok(Drained::Budget);
            }
        }
        Ok(Drained::Budget)
    }
}

/// Where a datagram was sent to, for opening it when sealed: converted
/// only then.
#[derive(Clone, Copy)]
enum Dest {
    /// The address the arrival information gave, with the bound port.
    Arrival(SocketAddr),
    /// What the socket's own address binds to.
    Bound(SealDest),
}

impl From<Dest> for SealDest {
    fn from(dest: Dest) -> SealDest {
        match dest {
            Dest::Arrival(addr) => SealDest::from(addr),
            Dest::Bound(dest) => dest,
        }
    }
}

/// Flushes the output and then sends the acknowledgements owed, so that
/// every message they confirm was written. A failed flush sends none and
/// stops the listener (the error kept in `kept`, as [`output_stop`] does).
fn acknowledge(
    handler: &mut Handler,
    sockets: &[DatagramSocket],
    sink: &mut dyn Sink,
    kept: &mut Option<io::Error>,
) -> Result<(), Stop> {
    if !handler.acks_owed() {
        return Ok(());
    }
    sink.flush().map_err(|e| output_stop(kept, e))?;
    handler
        .send_acks(sockets, sink)
        .map_err(|e| output_stop(kept, e))
}
