//! `udpmsg listen`: bind, say where, run the listener, print its summary.

use super::{Info, load_key, pick_name, pick_port};
use crate::cli::ListenArgs;
use crate::commands::listen::{self, Ended, Listener, Stop};
use crate::error::{Error, exit};
use crate::net::{self, addr, iface};
use crate::output::{self, Format, ListenOutput};
use crate::util::words::IoWords;
use std::io;

pub(super) fn run(args: ListenArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    let name = pick_name(args.name)?;
    let host = addr::parse_host(&args.bind)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let bind = addr::resolve_bind(&host.host, port)?;
    let options = net::BindOptions {
        reuse_addr: args.share_port,
        ..net::BindOptions::default()
    };
    let sockets = net::bind_listeners(bind, options).map_err(|source| {
        if source.raw_os_error() == Some(libc::EADDRINUSE) {
            Error::PortInUse {
                port: bind.port(),
                shared: args.share_port,
            }
        } else {
            Error::Bind { addr: bind, source }
        }
    })?;
    let mut locals = Vec::new();
    for socket in &sockets {
        let local = socket.local_addr().map_err(|source| Error::Io {
            doing: "reading the bound address",
            source,
        })?;
        // Join the IPv6 discovery group so IPv6-only hosts can find us;
        // per interface, reported with -v.
        if local.ip().is_unspecified() && local.is_ipv6() {
            let interfaces = iface::ipv6_interfaces().unwrap_or_default();
            for (index, e) in net::join_discovery_group(socket, &interfaces) {
                if args.verbose {
                    eprintln!(
                        "udpmsg: cannot join {} on {}: {}",
                        iface::DISCOVERY_GROUP_V6,
                        iface::interface_name(index),
                        IoWords(&e)
                    );
                }
            }
        }
        locals.push(local);
    }
    // IPv6 first: "[::]:47474 and 0.0.0.0:47474".
    locals.sort_by_key(|a| a.is_ipv4());
    if args.share_port
        && let Some(local) = locals.first()
    {
        eprintln!(
            "udpmsg: warning: port {} is shared (--share-port): unicast datagrams reach only one of the listeners sharing it; broadcasts and discovery probes reach all",
            local.port()
        );
    }
    let shown: Vec<String> = locals
        .iter()
        .map(|a| output::fmt_addr(*a).to_string())
        .collect();
    let listening = format!("udpmsg: listening on {} as '{name}'", shown.join(" and "));
    // Made before saying so: SIGINT/SIGTERM are caught from then on.
    let mut listener = Listener::new(
        sockets,
        listen::Config {
            name,
            count: args.count,
            timeout: args.timeout,
            catch_signals: true,
            gap_wait: listen::DEFAULT_GAP_WAIT,
            key,
        },
    )
    .map_err(|source| Error::Io {
        doing: "setting up the event loop",
        source,
    })?;
    info.line(listening);
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let mut out = ListenOutput::new(io::stdout().lock(), format, args.verbose);
    let Ended {
        stop,
        stats,
        output_error,
    } = listener.run(&mut out).map_err(|source| Error::Io {
        doing: "receiving",
        source,
    })?;
    // A closed pipe (`| head`) ends quietly: the summary only with -v.
    if stop != Stop::OutputClosed || args.verbose {
        info.line(output::listen_summary(stop, &stats));
    }
    match output_error {
        Some(e) => Err(Error::Output(e)),
        None => Ok(exit::OK),
    }
}
