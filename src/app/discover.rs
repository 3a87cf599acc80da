//! `udpmsg discover`: probe, then print the listeners found (or hints).

use super::{load_key, pick_port, write_stdout};
use crate::cli::DiscoverArgs;
use crate::commands::discover;
use crate::error::{Error, exit};
use crate::net::addr;
use crate::output;

pub(super) fn run(args: DiscoverArgs) -> Result<u8, Error> {
    let port = pick_port(None, args.port.as_deref())?;
    if port == 0 {
        return Err(addr::AddrError::ZeroPort.into());
    }
    let config = discover::Config {
        port,
        timeout: args.timeout,
        expect: args.expect,
        interfaces: args.interfaces.clone(),
        key: load_key(args.key_file.as_deref())?,
    };
    let verbose = args.verbose;
    let scan = discover::discover(&config, &mut |trace| {
        if verbose {
            eprintln!("{}", output::discover::discover_trace(trace));
        }
    })
    .map_err(|source| Error::Io {
        doing: "discovering",
        source,
    })?;
    for name in &args.interfaces {
        if !scan.probed.iter().any(|t| &t.interface == name) {
            eprintln!(
                "udpmsg: interface '{name}' not probed: not found, down, or without a broadcast or IPv6 link-local address"
            );
        }
    }
    write_stdout(&output::discover::discover_peers(&scan, args.json))?;
    if scan.overflow > 0 {
        eprintln!(
            "udpmsg: {} answers from listeners not listed (at most {} are; the first to answer)",
            scan.overflow,
            discover::MAX_PEERS
        );
    }
    if scan.addrs_overflow > 0 {
        eprintln!(
            "udpmsg: {} answers from addresses not listed (at most {} per listener)",
            scan.addrs_overflow,
            discover::MAX_ADDRS
        );
    }
    if scan.peers.is_empty() {
        eprintln!("{}", output::discover::discover_nobody(&scan, port));
    }
    Ok(exit::OK)
}
