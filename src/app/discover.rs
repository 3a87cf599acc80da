//! `udpmsg discover`: probe, then print the listeners found (or hints).

use super::{Info, load_key, pick_port, write_stdout};
use crate::cli::DiscoverArgs;
use crate::commands::discover;
use crate::error::{Error, exit};
use crate::net::{addr, iface};
use crate::output;
use crate::util::words::plural;
use std::time::SystemTime;

pub(super) fn run(args: DiscoverArgs, info: Info) -> Result<u8, Error> {
    if args.watch {
        return super::watch::run(args, info);
    }
    let port = pick_port(None, args.port.as_deref())?;
    if port == 0 {
        return Err(addr::AddrError::ZeroPort.into());
    }
    check_interfaces(&args.interfaces)?;
    let config = discover::Config {
        port,
        timeout: args.timeout.unwrap_or(discover::DEFAULT_TIMEOUT),
        expect: args
            .expect
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        interfaces: args.interfaces.clone(),
        key: load_key(args.key_file.as_deref(), args.no_key)?,
        family: addr::Family::from_flags(args.family.ipv4, args.family.ipv6),
    };
    let verbose = args.verbose;
    let mut heard = output::discover::FirstHeard::default();
    let scan = discover::discover(&config, &mut |trace| {
        heard.trace(trace);
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
    let end = SystemTime::now();
    write_stdout(&output::discover::discover_peers(
        &scan, &heard, end, args.json,
    ))?;
    if scan.overflow > 0 {
        eprintln!(
            "udpmsg: {} {} from listeners not listed (at most {} are; the first to answer)",
            scan.overflow,
            plural(scan.overflow, "answer", "answers"),
            discover::MAX_PEERS
        );
    }
    if scan.addrs_overflow > 0 {
        eprintln!(
            "udpmsg: {} {} from addresses not listed (at most {} per listener)",
            scan.addrs_overflow,
            plural(scan.addrs_overflow, "answer", "answers"),
            discover::MAX_ADDRS
        );
    }
    if scan.peers.is_empty() {
        info.line(output::discover::discover_nobody(&scan, port));
    }
    let found = scan.peers.len() as u64 + scan.overflow;
    if let Some(expected) = args.expect
        && found < expected
    {
        eprintln!("udpmsg: found {found} of {expected} expected listeners");
        return Ok(exit::NOT_ALL_FOUND);
    }
    Ok(exit::OK)
}

/// Refuses an `--interface` this host does not have, naming those it has.
pub(super) fn check_interfaces(asked: &[String]) -> Result<(), Error> {
    if asked.is_empty() {
        return Ok(());
    }
    let existing = iface::interface_names().map_err(|source| Error::Io {
        doing: "listing the network interfaces",
        source,
    })?;
    match asked.iter().find(|name| !existing.contains(name)) {
        Some(name) => Err(Error::UnknownInterface {
            name: name.clone(),
            existing,
        }),
        None => Ok(()),
    }
}
