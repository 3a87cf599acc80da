//! Argument groups several subcommands flatten in: address family,
//! interface, and where a send leaves from.

use super::parse_duration;
use clap::Args;
use std::time::Duration;

/// `--interface IF` of the commands that listen on every address (`listen`,
/// `chat`): their sockets bound to one interface.
#[derive(Debug, Clone, Args)]
pub struct InterfaceArg {
    /// Only this interface (one: the socket is bound to it): datagrams that
    /// arrived on it are taken, what is sent leaves through it, multicast
    /// groups are joined on it
    #[arg(short = 'I', long, value_name = "IF")]
    pub interface: Option<String>,
}

/// `-4` / `-6`: one address family, for names, binding and sending.
#[derive(Debug, Clone, Copy, Args)]
pub struct FamilyArgs {
    /// IPv4 only: names resolve to IPv4 addresses, sockets are IPv4
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only: names resolve to IPv6 addresses, sockets are IPv6
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
}

/// Where `send` and `ping` send from, and how a `@NAME` is found.
#[derive(Debug, Clone, Args)]
pub struct ReachArgs {
    /// Send from this address and port: ADDR, ADDR:PORT, :PORT, [v6]:PORT
    /// (fixed-port devices, firewall rules)
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub from: Option<String>,

    /// Send through this interface only (one: the socket is bound to it),
    /// and take replies only from it
    #[arg(short = 'I', long, value_name = "IF")]
    pub interface: Option<String>,

    /// With @NAME: how long to wait for that listener to answer discovery
    /// [default: 1s]
    // No clap default: given with another destination, it is an error.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub resolve_timeout: Option<Duration>,
}
