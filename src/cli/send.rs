//! `udpmsg send`'s arguments (`--ack`, `--wait`, `--file` included).

use super::{FamilyArgs, ReachArgs, parse_count, parse_duration};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The usage line of `--help` and of every usage error. Written out: in an
/// error's usage clap shows each argument given as if it were required
/// (`<MESSAGE>...`), which reads as if `send` needed a message.
const USAGE: &str = "udpmsg send [OPTIONS] <HOST> [MESSAGE]...";

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("confirmed").multiple(true).args(["ack", "files"]))]
#[command(group = clap::ArgGroup::new("reported").multiple(true).args(["wait", "files"]))]
#[command(override_usage = USAGE)]
pub struct SendArgs {
    /// Destination: name, IP, host:port, [v6]:port, a multicast group,
    /// '<broadcast>', '', @NAME (the listener discover lists with that
    /// name), unix:/path or unix:@name
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Words of the message, joined by spaces; none or '-' reads stdin (one
    /// message a line; with --raw, all of it one datagram)
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<String>,

    /// Destination port: a number or a service name [default: 47474]
    /// [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Sender name shown by the listener, at most 255 bytes (default: the
    /// host name) [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// Send the bytes exactly as given, no udpmsg header (for nc, socat...);
    /// stdin is one datagram
    #[arg(long)]
    pub raw: bool,

    /// Read stdin one message a line (the default without --raw)
    #[arg(long)]
    pub lines: bool,

    /// Messages are hex digits, spaces allowed ('de ad be ef'): binary protocols
    #[arg(long)]
    pub hex: bool,

    /// Allow sending to a broadcast address (implied by '<broadcast>')
    #[arg(short, long)]
    pub broadcast: bool,

    /// Confirmed delivery: retransmit until acknowledged; the listener shows
    /// each message exactly once, in order. Exit 4 if some are not confirmed,
    /// or once the listener went away (its port closed for 4s, no ack).
    /// Without --key-file this protects against loss, not against attackers:
    /// anyone on the path can forge the acks
    #[arg(short, long)]
    pub ack: bool,

    /// Send the file at PATH (repeatable): its name, size and content;
    /// done when the listener (listen --save-dir) wrote it and its BLAKE3
    /// hash matched. Exit 7 refused, 8 no space, 9 hash mismatch, 4 timeout
    #[arg(short, long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// With --ack: how long to wait for confirmations once the input has
    /// ended [default: 5s]. With --file: the longest time without progress
    /// [default: 10s]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, requires = "confirmed")]
    pub timeout: Option<Duration>,

    /// With --ack: retransmissions per message [default: as many as fit in 4s]
    #[arg(long, value_name = "N", requires = "ack")]
    pub retries: Option<u32>,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// After the last message, keep the socket open for DUR and print every
    /// datagram that comes back, udpmsg or raw, as listen does; exit 4 if
    /// none (or fewer than --count) came
    #[arg(short = 'W', long, value_name = "DUR", value_parser = parse_duration, conflicts_with = "ack")]
    pub wait: Option<Duration>,

    /// With --wait: stop after N replies
    #[arg(short, long, value_name = "N", value_parser = parse_count, requires = "wait")]
    pub count: Option<u64>,

    /// JSON Lines on stdout. With --wait: the replies, as listen --json
    /// prints them; with --file: a "sent" object per file (fields:
    /// docs/JSON.md)
    #[arg(long, requires = "reported")]
    pub json: bool,

    /// IP TTL (IPv6 hop limit) of every datagram; to a multicast group 1
    /// unless given
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=255))]
    pub ttl: Option<u32>,

    /// To a multicast group: this host's own members get a copy too
    #[arg(long = "loop")]
    pub multicast_loop: bool,

    #[command(flatten)]
    pub reach: ReachArgs,

    #[command(flatten)]
    pub family: FamilyArgs,
}
