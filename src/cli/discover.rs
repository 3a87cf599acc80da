//! `udpmsg discover`'s arguments (`--watch` included).

use super::{FamilyArgs, parse_count, parse_duration};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Port the listeners use: a number or a service name [default: 47474]
    /// [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// How long to collect answers [default: 1s]; with --watch, how long
    /// to watch [default: until Ctrl-C]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Stop as soon as N distinct listeners answered; exit 6 if fewer did
    #[arg(short, long, value_name = "N", value_parser = parse_count)]
    pub expect: Option<u64>,

    /// Keep running and print one line per listener that comes (+), goes
    /// (-) or changes (=)
    #[arg(long, conflicts_with = "expect")]
    pub watch: bool,

    /// With --watch: time between probe rounds [default: 10s]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, requires = "watch")]
    pub interval: Option<Duration>,

    /// Probe only this interface (repeatable: each is probed); 'lo' probes
    /// this machine
    #[arg(short = 'I', long = "interface", value_name = "IF")]
    pub interfaces: Vec<String>,

    /// One JSON object per listener, nothing else on stdout (docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Show every probe sent and every answer heard (stderr)
    #[arg(short, long)]
    pub verbose: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    #[command(flatten)]
    pub family: FamilyArgs,
}
