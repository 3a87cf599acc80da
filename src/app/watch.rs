//! `udpmsg discover --watch`: watch, print each change, and a summary at
//! the end.

use super::discover::check_interfaces;
use super::{Info, load_key, pick_port};
use crate::cli::DiscoverArgs;
use crate::commands::listen::is_closed_pipe;
use crate::commands::presence::presence_port;
use crate::commands::watch::{self, Stop, Watcher};
use crate::error::{Error, exit};
use crate::net::addr;
use crate::output::watch::{WatchOutput, watch_summary};
use crate::util::words::IoWords;
use std::io;

pub(super) fn run(args: DiscoverArgs, info: Info) -> Result<u8, Error> {
    let port = pick_port(None, args.port.as_deref())?;
    if port == 0 {
        return Err(addr::AddrError::ZeroPort.into());
    }
    let Some(presence) = presence_port(port) else {
        return Err(Error::Usage(format!(
            "--watch: port {port} has no next port for announcements to come to"
        )));
    };
    check_interfaces(&args.interfaces)?;
    let interval = args.interval.unwrap_or(watch::DEFAULT_INTERVAL);
    if interval < watch::MIN_INTERVAL {
        return Err(Error::Usage(format!(
            "--interval must be at least {}",
            humantime::format_duration(watch::MIN_INTERVAL)
        )));
    }
    let config = watch::Config {
        port,
        interval,
        timeout: args.timeout,
        interfaces: args.interfaces.clone(),
        family: addr::Family::from_flags(args.family.ipv4, args.family.ipv6),
        key: load_key(args.key_file.as_deref(), args.no_key)?,
        catch_signals: true,
    };
    let (mut watcher, deaf) = Watcher::new(config).map_err(|source| Error::Io {
        doing: "setting up the watch",
        source,
    })?;
    for (addr, e) in deaf {
        eprintln!(
            "udpmsg: warning: cannot bind {addr} ({}): announcements to it are not heard; listeners are tracked by probes alone",
            IoWords(&e)
        );
    }
    // Said once the sockets are bound: from now on nothing is missed.
    info.line(format_args!(
        "udpmsg: watching for listeners on port {port} (announcements to {presence}), probing every {}",
        humantime::format_duration(interval)
    ));
    let mut out = WatchOutput::new(io::stdout().lock(), args.json, args.verbose);
    let ended = watcher.run(&mut out).map_err(|source| Error::Io {
        doing: "watching",
        source,
    })?;
    let closed = ended.output_error.as_ref().is_some_and(is_closed_pipe);
    if !closed || args.verbose {
        info.line(watch_summary(&ended.stats));
    }
    match ended.output_error {
        Some(e) if !is_closed_pipe(&e) => Err(Error::Output(e)),
        _ => {
            debug_assert!(ended.stop != Stop::Output || closed);
            Ok(exit::OK)
        }
    }
}
