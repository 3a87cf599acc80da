//! `send --ack`: confirmed delivery. A window of messages is in flight at
//! once; each is retransmitted with exponential backoff and jitter (CoAP,
//! RFC 7252, tuned for a LAN: the first retry after a few round trips) until
//! the listener acknowledges it, the retries run out, or the deadline passes.
//! A message is also resent at once when a message sent after it has been
//! acknowledged (loss detection by acknowledgement, as TCP's RACK does), so
//! random loss costs about one round trip, not a timeout.

use crate::event::{EventLoop, Wake};
use crate::net;
use crate::seal::{Envelope, Key, Opened};
use crate::source::{Next, Source};
use crate::wire::{self, FLAG_ACK, Message, Text};
use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Interest, Token};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SOCKET: Token = Token(0);
const INPUT: Token = Token(1);

/// Messages in flight at once (below the listener's look-ahead window).
pub const WINDOW: u64 = 512;
/// Retransmission timeout before any round trip was measured.
pub const INITIAL_RTO: Duration = Duration::from_millis(30);
/// Bounds of the retransmission timeout (before backoff).
pub const MIN_RTO: Duration = Duration::from_millis(4);
pub const MAX_RTO: Duration = Duration::from_millis(250);
/// Largest backed-off wait between two tries of one message: on a LAN, loss
/// is rarely congestion, and a long wait on the oldest message stalls the
/// whole window.
pub const MAX_BACKOFF: Duration = Duration::from_millis(50);
/// Default deadline for a whole `send --ack`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one message is retransmitted before it is given up on (unless
/// `--retries` or the deadline stops it sooner). Shorter than the listener's
/// gap wait (6 s), so a listener never skips a message its sender is still
/// trying to deliver.
pub const MESSAGE_PATIENCE: Duration = Duration::from_secs(4);

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Deadline for the whole send.
    pub timeout: Duration,
    /// Retransmissions per message after the first try; `None`: as many as
    /// fit in [`MESSAGE_PATIENCE`].
    pub retries: Option<u32>,
}

/// How a confirmed send went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages put on the wire at least once.
    pub sent: u64,
    /// Messages the listener acknowledged.
    pub confirmed: u64,
    /// Messages given up on (retries or deadline).
    pub unconfirmed: u64,
    /// The deadline passed before the input was all read.
    pub input_left: bool,
}

/// Why a confirmed send stopped early.
#[derive(Debug)]
pub enum Error {
    /// ICMP port unreachable: nothing listens at the destination.
    NotListening,
    /// A message is larger than one datagram (`len` bytes, at most `max`).
    TooLarge { len: usize, max: usize },
    /// A socket or input error.
    Io(io::Error),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            Error::NotListening
        } else {
            Error::Io(e)
        }
    }
}

struct Flight {
    seq: u64,
    bytes: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    due: Instant,
    tries: u32,
    done: bool,
}

/// Round-trip estimate (RFC 6298), fed only by messages acknowledged on
/// their first try (Karn's rule).
#[derive(Debug, Default)]
struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
}

impl Rtt {
    fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    fn rto(&self) -> Duration {
        match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => (srtt + self.rttvar * 4).clamp(MIN_RTO, MAX_RTO),
        }
    }
}

/// Sends every message of `source` to `dest` with confirmation.
pub fn send_acked(
    dest: SocketAddr,
    name: &str,
    source: &mut dyn Source,
    config: Config,
    key: Option<&Key>,
) -> Result<Report, Error> {
    let mut envelope = Envelope::new(key);
    let mut socket = net::sender_socket(dest, false)?;
    // Connected, so an ICMP port unreachable comes back as ECONNREFUSED
    // within a round trip instead of waiting out the deadline.
    socket.connect(dest)?;
    let mut events = EventLoop::new(false)?;
    events
        .registry()
        .register(&mut socket, SOCKET, Interest::READABLE)?;
    if let Some(fd) = source.fd() {
        // Regular files cannot be polled (EPERM); they are always ready.
        let _ = events
            .registry()
            .register(&mut SourceFd(&fd), INPUT, Interest::READABLE);
    }
    let max_body = wire::max_text_body(
        name,
        wire::max_datagram(dest.is_ipv6()) - envelope.overhead(),
    );
    let id = crate::id::random();
    let start = Instant::now();
    let deadline = start + config.timeout;
    let mut report = Report::default();
    let mut flights: VecDeque<Flight> = VecDeque::new();
    let mut next_seq = 0u64;
    let mut input_done = false;
    let mut rtt = Rtt::default();
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let mut plain = Vec::new();
    let mut jitter = Jitter(id | 1);
    // Send time of the latest-sent message that was acknowledged: anything
    // sent clearly before it and still unacknowledged was lost.
    let mut latest_acked_sent: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Fill the window from the source.
        let mut input_pending = false;
        while !input_done && flights.front().map_or(0, |f| next_seq - f.seq) < WINDOW {
            match source.next()? {
                Next::Message(body) => {
                    if body.len() > max_body {
                        return Err(Error::TooLarge {
                            len: body.len(),
                            max: max_body,
                        });
                    }
                    let mut bytes =
                        Vec::with_capacity(wire::TEXT_OVERHEAD + name.len() + body.len());
                    let text = Message::Text(Text {
                        sender: id,
                        seq: next_seq,
                        flags: FLAG_ACK,
                        name,
                        body,
                    });
                    wire::encode(&text, usize::MAX, &mut bytes).map_err(|_| Error::TooLarge {
                        len: body.len(),
                        max: max_body,
                    })?;
                    let now = Instant::now();
                    let mut flight = Flight {
                        seq: next_seq,
                        bytes,
                        first_sent: now,
                        last_sent: now,
                        due: now,
                        tries: 0,
                        done: false,
                    };
                    transmit(&socket, &mut envelope, &mut flight, &rtt, &mut jitter, now)?;
                    report.sent += 1;
                    flights.push_back(flight);
                    next_seq += 1;
                }
                Next::Pending => {
                    input_pending = true;
                    break;
                }
                Next::End => input_done = true,
            }
        }
        if input_done && flights.is_empty() {
            break;
        }
        // Retransmit what is due; give up on what ran out of retries.
        let now = Instant::now();
        let out_of_tries = |f: &Flight| {
            config.retries.is_some_and(|r| f.tries > r)
                || now.saturating_duration_since(f.first_sent) >= MESSAGE_PATIENCE
        };
        let reorder = rtt.srtt.map_or(Duration::from_millis(1), |s| s / 4);
        let lost = |f: &Flight| latest_acked_sent.is_some_and(|t| f.last_sent + reorder < t);
        for flight in flights
            .iter_mut()
            .filter(|f| !f.done && (f.due <= now || lost(f)))
        {
            if out_of_tries(flight) {
                flight.done = true;
                report.unconfirmed += 1;
                continue;
            }
            transmit(&socket, &mut envelope, flight, &rtt, &mut jitter, now)?;
        }
        pop_done(&mut flights);
        if input_done && flights.is_empty() {
            break;
        }
        // Giving up may have made room in the window: fill it now rather
        // than sleep (nothing else may come to wake us).
        let room = flights.front().map_or(0, |f| next_seq - f.seq) < WINDOW;
        if !input_done && !input_pending && room {
            continue;
        }
        let next_due = flights.iter().filter(|f| !f.done).map(|f| f.due).min();
        let wake_at = next_due.map_or(deadline, |d| d.min(deadline));
        // Readiness is edge-triggered: a readable stdin wakes the loop once
        // per arrival, so a full window does not spin on it.
        match events.wait(Some(wake_at))? {
            Wake::Ready(_) | Wake::Timeout | Wake::Signal(_) => {}
        }
        // Read acknowledgements until the socket would block.
        loop {
            let len = match socket.recv(&mut buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let now = std::time::SystemTime::now();
            let Ok(Opened::Message(Message::Ack(ack))) =
                envelope.incoming(&buf[..len], &mut plain, now)
            else {
                continue;
            };
            if ack.sender != id {
                continue;
            }
            let Some(base) = flights.front().map(|f| f.seq) else {
                continue;
            };
            let Some(index) = ack.seq.checked_sub(base) else {
                continue;
            };
            let Some(flight) = flights.get_mut(index as usize) else {
                continue;
            };
            if flight.done {
                continue;
            }
            flight.done = true;
            report.confirmed += 1;
            // Only an ack of a message sent once says for sure which copy
            // arrived (Karn's rule); others could make sound ones look lost.
            if flight.tries == 1 {
                latest_acked_sent =
                    Some(latest_acked_sent.map_or(flight.last_sent, |t| t.max(flight.last_sent)));
                rtt.sample(flight.first_sent.elapsed());
            }
        }
        pop_done(&mut flights);
    }
    let left = flights.iter().filter(|f| !f.done).count() as u64;
    report.unconfirmed += left;
    report.input_left = !input_done;
    Ok(report)
}

fn pop_done(flights: &mut VecDeque<Flight>) {
    while flights.front().is_some_and(|f| f.done) {
        flights.pop_front();
    }
}

/// Sends (or resends) one message and schedules its next try.
fn transmit(
    socket: &UdpSocket,
    envelope: &mut Envelope,
    flight: &mut Flight,
    rtt: &Rtt,
    jitter: &mut Jitter,
    now: Instant,
) -> Result<(), Error> {
    // Sealed afresh each time: a retransmission has a new counter, so the
    // listener's replay window does not refuse it.
    match socket.send(envelope.outgoing(&flight.bytes)) {
        Ok(_) => {}
        // A full queue: try again shortly, without counting a try.
        Err(e) if net::is_transient_send_error(&e) => {
            flight.due = now + Duration::from_millis(1);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    flight.tries += 1;
    flight.last_sent = now;
    // Doubling stops at MAX_BACKOFF, or at the timeout itself on a path
    // slower than a LAN.
    let rto = rtt.rto();
    let backoff = rto
        .saturating_mul(1 << (flight.tries - 1).min(16))
        .min(MAX_BACKOFF.max(rto));
    // Up to +25% jitter, so senders that lost the same datagrams do not
    // retransmit in lockstep.
    let extra = backoff.mul_f64(jitter.next_fraction() * 0.25);
    flight.due = now + backoff + extra;
    Ok(())
}

/// A tiny xorshift generator for retransmission jitter (not for secrets).
struct Jitter(u64);

impl Jitter {
    fn next_fraction(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
