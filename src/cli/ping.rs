//! `udpmsg ping`'s arguments.

use super::{FamilyArgs, ReachArgs, parse_count, parse_duration, parse_wait};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The listener: name, IP, host:port, [v6]:port, @NAME (the listener
    /// discover lists with that name), unix:/path or unix:@name
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Port: a number or a service name [default: 47474] [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Stop after N pings (default: until Ctrl-C)
    #[arg(short, long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,

    /// Time between pings; 0 sends the next as soon as a reply arrives
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,

    /// How long to wait for each reply
    #[arg(short = 'W', long, value_name = "DUR", value_parser = parse_wait, default_value = "1s")]
    pub wait: Duration,

    /// JSON Lines: a "pong" object per reply, then a "summary" (docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    #[command(flatten)]
    pub reach: ReachArgs,

    #[command(flatten)]
    pub family: FamilyArgs,
}
