//! What a listener hands to its output: events to show, notices of what it
//! refused, and the counts it reports when it stops.

use crate::commands::files::receive::Outcome;
use crate::net::{Cred, PeerAddr};
use crate::seal::Refusal;
use crate::wire::DecodeError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime};

/// One thing the listener shows.
#[derive(Debug)]
pub enum Event<'a> {
    /// A udpmsg text message.
    Text {
        at: SystemTime,
        from: &'a PeerAddr,
        /// The sender's credentials, when the kernel reports them (a
        /// Unix-domain sender).
        cred: Option<Cred>,
        name: &'a str,
        body: &'a [u8],
        sender: u64,
        seq: u64,
    },
    /// A datagram without the udpmsg magic.
    Raw {
        at: SystemTime,
        from: &'a PeerAddr,
        /// As for [`Event::Text`].
        cred: Option<Cred>,
        bytes: &'a [u8],
    },
    /// Acknowledged messages `first..=last` of a sender never arrived; the
    /// listener stopped waiting for them and shows the later ones.
    Gap {
        at: SystemTime,
        from: &'a PeerAddr,
        sender: u64,
        first: u64,
        last: u64,
    },
}

/// Something the listener refused or could not do; shown only with `-v`.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A datagram with the magic that did not decode.
    Malformed {
        from: &'a PeerAddr,
        error: &'a DecodeError,
    },
    /// A datagram refused by the key rules: sealed without a key, open or
    /// raw with a key, or a sealed one that failed to open or was replayed.
    Refused {
        from: &'a PeerAddr,
        why: &'a Refusal,
    },
    /// A reply (pong, answer, ack) could not be sent.
    ReplyFailed {
        to: &'a PeerAddr,
        error: &'a io::Error,
    },
    /// A discovery probe was answered.
    Answered { to: &'a PeerAddr },
    /// A discovery probe was not answered: over the rate limit, too small
    /// to answer without amplifying, broadcast from off-link, or to a Unix
    /// socket.
    ProbeIgnored {
        from: &'a PeerAddr,
        why: &'static str,
    },
    /// A ping was not answered (over the pong rate limit).
    PingIgnored {
        from: &'a PeerAddr,
        why: &'static str,
    },
    /// `--echo`: a raw datagram was not echoed (see `listen::echo`).
    EchoIgnored {
        from: &'a PeerAddr,
        why: &'static str,
    },
    /// A reply (to a `what`: a ping, a message that asks for an ack, a
    /// datagram to echo) cannot go: the sender's Unix socket has no name.
    Unanswerable { what: &'static str },
    /// `--announce`: a hello or goodbye went out.
    Announced {
        what: &'static str,
        to: SocketAddr,
        interface: &'a str,
    },
    /// `--announce`: a hello or goodbye could not be sent.
    AnnounceFailed {
        what: &'static str,
        to: SocketAddr,
        interface: &'a str,
        error: &'a io::Error,
    },
    /// A group (`--group`, or the discovery group) was joined on an
    /// interface that came up while the listener ran.
    GroupJoined { group: IpAddr, interface: &'a str },
    /// A group was left on an interface that went down or away.
    GroupLeft { group: IpAddr, interface: &'a str },
    /// A group could not be joined on an interface that came up.
    GroupJoinFailed {
        group: IpAddr,
        interface: &'a str,
        error: &'a io::Error,
    },
}

/// Where the listener puts what it receives: the output layer implements it.
pub trait Sink {
    /// Shows one event. An error (a closed stdout) stops the listener.
    fn event(&mut self, event: &Event<'_>) -> io::Result<()>;
    /// Shows what became of a file (`--save-dir`): stored, or not.
    fn file(&mut self, _outcome: &Outcome) -> io::Result<()> {
        Ok(())
    }
    /// Reports a refused datagram (the default ignores it).
    fn notice(&mut self, _notice: &Notice<'_>) -> io::Result<()> {
        Ok(())
    }
    /// The socket is drained and the loop is about to sleep: flush, or
    /// return when to be woken to flush (output is batched during floods).
    fn idle(&mut self, _now: Instant) -> io::Result<Option<Instant>> {
        Ok(None)
    }
    /// Write out everything shown so far, now: acknowledgements follow,
    /// and they must only confirm what was written.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The listener stops: write out everything.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the listener saw, reported when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// udpmsg text messages shown.
    pub received: u64,
    /// Raw (non-udpmsg) datagrams shown.
    pub raw: u64,
    /// Datagrams with the magic that failed to decode.
    pub malformed: u64,
    /// Sealed datagrams at a listener without a key.
    pub sealed: u64,
    /// Keyed listener: open udpmsg datagrams refused.
    pub unsealed: u64,
    /// Keyed listener: raw datagrams refused (never shown).
    pub raw_refused: u64,
    /// Keyed listener: sealed datagrams that failed authentication
    /// (forged, tampered, another key) or were truncated.
    pub forged: u64,
    /// Keyed listener: replayed datagrams.
    pub replayed: u64,
    /// Keyed listener: datagrams whose time is too far from ours.
    pub stale: u64,
    /// Pings answered.
    pub pings: u64,
    /// Pings not answered (pong rate limit).
    pub pings_ignored: u64,
    /// Discovery probes answered.
    pub answers: u64,
    /// Discovery probes not answered (rate limit, too small, off-link).
    pub probes_ignored: u64,
    /// Datagrams of acknowledgement sent: Ack and Acks messages (an Acks
    /// answers several senders at once) and file statuses.
    pub acks: u64,
    /// Copies of messages already shown (or held), and of raw datagrams
    /// sent to a group heard on another interface, not shown again.
    pub duplicates: u64,
    /// `--echo`: raw datagrams echoed.
    pub echoed: u64,
    /// `--echo`: raw datagrams not echoed (rate limit, own port, an echo
    /// coming back, a group datagram from off-link).
    pub echoes_ignored: u64,
    /// Acknowledged-mode senders refused because the table of senders was
    /// full of active ones (each told so).
    pub refused: u64,
    /// Acknowledged-mode messages given up on (gaps reported).
    pub missing: u64,
    /// Replies that could not be sent.
    pub reply_errors: u64,
    /// Replies (pongs, acks, echoes) not sent because the sender's Unix
    /// socket has no name to send them to (it never bound one).
    pub unanswerable: u64,
    /// Datagrams the kernel dropped (full receive queue), where known.
    pub kernel_drops: Option<u64>,
    /// Files stored (`--save-dir`).
    pub files: u64,
    /// Files offered but refused, or not stored.
    pub files_failed: u64,
}

impl Stats {
    /// Datagrams shown (what `--count` counts), stored files included.
    pub fn shown(&self) -> u64 {
        self.received + self.raw + self.files
    }
}
