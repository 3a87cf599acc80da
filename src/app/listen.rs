//! `udpmsg listen`: bind, say where, run the listener, print its summary.
//!
//! - here: running it, binding (IP or Unix), the "listening on" line;
//! - `files`: `--save-dir` and the file options;
//! - `groups`: `--group`, multicast groups joined;
//! - `announcing`: `--announce`, its period and warnings.

mod announcing;
mod files;
mod groups;

use super::reach::{self, named_interface};
use super::{Info, load_key, pick_name, pick_port};
use crate::cli::ListenArgs;
use crate::commands::listen::memberships::Over;
use crate::commands::listen::{self, Ended, Listener, Stop, announce};
use crate::commands::presence::presence_port;
use crate::error::{Error, exit};
use crate::net::addr::{self, Family};
use crate::net::unix::{SocketFile, UnixBindError};
use crate::net::{self, DatagramSocket, PeerAddr, UnixAddr, iface};
use crate::output::{self, Format, ListenOutput};
use crate::util::words::IoWords;
use announcing::{announce_every, announce_warnings, no_presence_port};
use files::{claim_save_dir, file_config};
use groups::{Group, join, parse_group};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

pub(super) fn run(args: ListenArgs, info: Info) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref(), args.no_key)?;
    if args.echo && key.is_some() {
        return Err(Error::Usage(
            "--echo sends raw datagrams back, and a keyed listener takes none; it cannot be used with a key (--no-key ignores UDPMSG_KEY_FILE)"
                .into(),
        ));
    }
    let files = file_config(&args)?;
    // Held while the listener runs: partial files of its transfers are its
    // own, and those of killed listeners are found (see files::store).
    let _claim = files
        .dir
        .as_deref()
        .and_then(|dir| claim_save_dir(dir, info));
    let name = pick_name(args.name.clone())?;
    let Bound {
        sockets,
        shown,
        groups,
        locals,
        every,
        file,
        warnings,
        keep_joined,
    } = match addr::parse_unix(&args.bind).transpose()? {
        Some(unix) => bind_unix(&args, unix)?,
        None => bind_inet(&args)?,
    };
    let listening = listening_line(&args, &shown, &name, &groups);
    let (listening_name, announce_key) = (name.clone(), key.clone());
    // Made before saying so: SIGINT/SIGTERM/SIGHUP are caught from then on.
    let mut listener = Listener::new(
        sockets,
        listen::Config {
            name,
            count: args.count,
            timeout: args.timeout,
            catch_signals: true,
            gap_wait: listen::DEFAULT_GAP_WAIT,
            key,
            echo: args.echo,
            files,
        },
    )
    .map_err(|source| Error::Io {
        doing: "setting up the event loop",
        source,
    })?;
    listener.keep_joined(keep_joined);
    if let Some(every) = every {
        let port = locals.first().map_or(0, |a| a.port());
        let Some(to_port) = presence_port(port) else {
            return Err(no_presence_port(port));
        };
        let config = announce::Config {
            every,
            to_port,
            ipv4: locals.iter().any(|a| a.is_ipv4()),
            ipv6: locals.iter().any(|a| a.is_ipv6()),
            room: String::new(),
            name: listening_name,
            key: announce_key,
            interface: args.iface.interface.clone(),
        };
        listener.announce(&config).map_err(|source| Error::Io {
            doing: "setting up announcements",
            source,
        })?;
    }
    info.line(listening);
    for warning in warnings {
        eprintln!("udpmsg: warning: {warning}");
    }
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    // Stdout as a file, not through std's line buffer, which would cut the
    // output's 64 KiB blocks at line ends (see output::listen's `Lines`).
    let stdout = std::fs::File::from(io::stdout().as_fd().try_clone_to_owned().map_err(
        |source| Error::Io {
            doing: "opening stdout",
            source,
        },
    )?);
    let mut out = ListenOutput::new(stdout, format, args.verbose);
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
    // The socket file goes when the listener stops, whatever stopped it.
    drop(file);
    match output_error {
        Some(e) => Err(Error::Output(e)),
        None => Ok(exit::OK),
    }
}

/// A listener's bound sockets, and what to say of them.
struct Bound {
    sockets: Vec<DatagramSocket>,
    /// The addresses, as "listening on" shows them.
    shown: String,
    /// The groups joined, as "listening on" adds them.
    groups: String,
    /// The IP addresses bound, IPv6 first (none for a Unix socket).
    locals: Vec<SocketAddr>,
    /// `--announce`: how often.
    every: Option<std::time::Duration>,
    /// A Unix socket's file, removed when this is dropped.
    file: Option<SocketFile>,
    /// What to warn of once the listener is up.
    warnings: Vec<String>,
    /// The groups joined on every interface where they belong, there too
    /// when it comes up later.
    keep_joined: Vec<(IpAddr, Over)>,
}

/// `udpmsg: listening on ADDRS as 'NAME'`, then what narrows or adds to
/// what it takes: `--interface`, the groups, `--save-dir`.
fn listening_line(args: &ListenArgs, shown: &str, name: &str, groups: &str) -> String {
    let mut line = format!("udpmsg: listening on {shown} as '{name}'");
    if let Some(interface) = &args.iface.interface {
        line.push_str(&format!(", on {interface} only"));
    }
    line.push_str(groups);
    if let Some(dir) = &args.save_dir {
        line.push_str(&format!(", saving files in {}", dir.display()));
    }
    line
}

/// Binds a Unix-domain listener (`--bind unix:...`): the options that
/// choose an IP address, port, interface or group, and announcing, are
/// refused.
fn bind_unix(args: &ListenArgs, unix: UnixAddr) -> Result<Bound, Error> {
    let family = Family::from_flags(args.family.ipv4, args.family.ipv6);
    let option = if args.port.is_some() {
        Some("--port")
    } else if family != Family::Any {
        Some(family.flag())
    } else if args.iface.interface.is_some() {
        Some("--interface")
    } else if !args.groups.is_empty() {
        Some("--group")
    } else if args.share_port {
        Some("--share-port")
    } else if args.announce {
        Some("--announce")
    } else {
        None
    };
    if let Some(option) = option {
        return Err(reach::not_for_unix(option, &args.bind));
    }
    if args.mode.is_some() && !matches!(unix, UnixAddr::Path(_)) {
        return Err(Error::Usage(
            "--mode sets a socket file's permissions; an abstract name (unix:@...) has none".into(),
        ));
    }
    let addr = PeerAddr::Unix(unix.clone());
    let bound = net::unix::bind_listener(&unix, args.mode).map_err(|e| match e {
        UnixBindError::InUse => Error::UnixInUse { addr: addr.clone() },
        UnixBindError::NotASocket(kind) => Error::NotASocket {
            addr: addr.clone(),
            kind,
        },
        UnixBindError::Io(source) => Error::Bind {
            addr: addr.clone(),
            source,
        },
    })?;
    Ok(Bound {
        sockets: vec![bound.socket],
        shown: output::fmt_addr(&addr).to_string(),
        groups: String::new(),
        locals: Vec::new(),
        every: None,
        file: bound.file,
        warnings: Vec::new(),
        keep_joined: Vec::new(),
    })
}

/// Binds an IP listener: `--bind`'s address (every interface by default,
/// both families unless `-4`/`-6`), joining the discovery group and the
/// `--group`s.
fn bind_inet(args: &ListenArgs) -> Result<Bound, Error> {
    if args.mode.is_some() {
        return Err(Error::Usage(
            "--mode sets a Unix socket file's permissions (--bind unix:/path)".into(),
        ));
    }
    let family = Family::from_flags(args.family.ipv4, args.family.ipv6);
    let interface = named_interface(args.iface.interface.as_deref())?;
    let groups = args
        .groups
        .iter()
        .map(|arg| parse_group(arg, family, interface))
        .collect::<Result<Vec<Group>, Error>>()?;
    let host = addr::parse_host(&args.bind)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let bind = addr::resolve_bind(&host.host, port, family)?;
    if !groups.is_empty() && !bind.ip().is_unspecified() {
        return Err(Error::Usage(format!(
            "--group needs a listener on every address of this host (--bind '', the default), not {}",
            bind.ip()
        )));
    }
    let every = announce_every(args.announce, args.announce_every, bind)?;
    let options = net::BindOptions {
        reuse_addr: args.share_port,
        family,
        interface,
        ..net::BindOptions::default()
    };
    let sockets = net::bind_listeners(bind, options).map_err(|source| {
        if source.raw_os_error() == Some(libc::EADDRINUSE) {
            Error::PortInUse {
                port: bind.port(),
                shared: args.share_port,
            }
        } else {
            Error::Bind {
                addr: bind.into(),
                source,
            }
        }
    })?;
    let mut locals = Vec::new();
    let mut keep_joined = Vec::new();
    for socket in &sockets {
        let local = socket.local_addr().map_err(|source| Error::Io {
            doing: "reading the bound address",
            source,
        })?;
        // Join the IPv6 discovery group so IPv6-only hosts can find us;
        // per interface, reported with -v.
        if local.ip().is_unspecified() && local.is_ipv6() {
            if interface.is_none() {
                keep_joined.push((IpAddr::V6(iface::DISCOVERY_GROUP_V6), Over::LinkLocal));
            }
            let mut interfaces = iface::ipv6_interfaces().unwrap_or_default();
            if let Some(only) = interface {
                interfaces.retain(|&i| i == only);
            }
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
    let mut joined = Vec::new();
    for group in &groups {
        joined.push(join(group, &sockets, &locals)?);
        if !group.is_fixed() {
            keep_joined.push((group.ip, Over::Addressed));
        }
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
    let mut in_groups = String::new();
    for (group, on) in groups.iter().zip(&joined) {
        let on = if on.is_empty() {
            "no interface yet".to_string()
        } else {
            on.join(", ")
        };
        in_groups.push_str(&format!(", in group {} ({on})", group.ip));
    }
    let warnings = match every {
        Some(_) => announce_warnings(args, bind.port(), &locals, family),
        None => Vec::new(),
    };
    Ok(Bound {
        sockets: sockets.into_iter().map(DatagramSocket::from).collect(),
        shown: shown.join(" and "),
        groups: in_groups,
        locals,
        every,
        file: None,
        warnings,
        keep_joined,
    })
}
