//! `udpmsg chat`'s arguments.

use super::{FamilyArgs, InterfaceArg, parse_duration};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Your name in the room, at most 255 bytes (default: the host name)
    /// [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// The room: members of other rooms on the port are not heard
    /// [default: the port's room]
    #[arg(
        short,
        long,
        value_name = "ROOM",
        default_value = "",
        hide_default_value = true
    )]
    pub room: String,

    /// UDP port of the room (presence on the next one; a member whose host
    /// has it taken uses a port of its own) [default: 47474] [env:
    /// UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Shared key file (from 'udpmsg keygen'): a sealed room
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// JSON Lines on stdout, one per event (kinds: docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Time between hellos, 100ms to 20m; a member is given up three of
    /// them after it was last heard [default: 5s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub announce_every: Option<Duration>,

    /// How long each message is retried to each member before it is 'not
    /// delivered', 100ms to 4s [default: 4s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub patience: Option<Duration>,

    #[command(flatten)]
    pub iface: InterfaceArg,

    #[command(flatten)]
    pub family: FamilyArgs,
}
