//! `udpmsg listen`'s arguments.

use super::{FamilyArgs, InterfaceArg, parse_count, parse_duration, parse_mode, parse_size};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// UDP port to bind: a number (0 picks a free one) or a service name
    /// [default: 47474] [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Address to bind; default '' is every interface (IPv4 and IPv6);
    /// unix:/path/to/sock or unix:@name for a Unix-domain socket
    #[arg(long, value_name = "HOST", default_value = "")]
    pub bind: String,

    /// With --bind unix:/path: the socket file's permissions, in octal
    /// (0660) [default: from the umask]
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<u32>,

    /// Name to answer discovery with, at most 255 bytes (default: the host
    /// name) [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// Print JSON Lines, one object per datagram (fields: docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Exit 0 after N datagrams were shown (raw ones included)
    #[arg(short, long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,

    /// Share the port with other listeners that share it too (SO_REUSEADDR);
    /// unicast datagrams then reach only one of them
    #[arg(long)]
    pub share_port: bool,

    /// Stop after DUR (500ms, 2s, 1m)
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Accept files (send --file) into DIR; without it, offers are refused
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,

    /// Largest file accepted: a number of bytes, or with K, M, G or T
    /// (powers of 1024) [default: 4G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "save_dir")]
    pub max_file_size: Option<u64>,

    /// Replace an existing file of the same name (default: save the new one
    /// as 'name (1).ext')
    #[arg(long, requires = "save_dir")]
    pub overwrite: bool,

    /// Abandon a transfer (removing its partial file) when its sender has
    /// sent nothing for DUR, 1s to 24h [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "save_dir")]
    pub file_wait: Option<Duration>,

    /// Report dropped and malformed datagrams on stderr, and groups
    /// joined or left as interfaces come and go
    #[arg(short, long)]
    pub verbose: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// Join multicast GROUP (repeatable): 239.1.2.3, ff15::1234, or
    /// ff02::1%eth0 for one interface; on every interface unless
    /// --interface, also those that come up later
    #[arg(short, long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,

    #[command(flatten)]
    pub iface: InterfaceArg,

    /// Send every raw datagram back to its sender, byte for byte (a test
    /// server; rate limited, never to a group, never bouncing between two
    /// echo servers)
    #[arg(long)]
    pub echo: bool,

    #[command(flatten)]
    pub family: FamilyArgs,

    /// Announce this listener on every interface (hellos to port+1, a
    /// goodbye on exit) for 'discover --watch'
    #[arg(long)]
    pub announce: bool,

    /// With --announce: time between hellos, 100ms to 20m [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "announce")]
    pub announce_every: Option<Duration>,
}
