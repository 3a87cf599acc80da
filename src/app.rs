//! Runs a parsed command line: arguments become command configs, commands
//! run, results go to the output layer. Returns the exit code.

use crate::addr::{self, DEFAULT_PORT};
use crate::cli::{Cli, Command, DiscoverArgs, KeygenArgs, ListenArgs, PingArgs, SendArgs};
use crate::error::{Error, exit};
use crate::listen::{self, Listener, Stop};
use crate::net;
use crate::output::{self, Format, ListenOutput};
use crate::seal::{self, Key};
use crate::send::{self, SendError, Sender};
use crate::{deliver, discover, iface, ping, source};
use std::io;
use std::path::Path;

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Listen(args) => run_listen(args),
        Command::Send(args) => run_send(args),
        Command::Discover(args) => run_discover(args),
        Command::Ping(args) => run_ping(args),
        Command::Keygen(args) => run_keygen(args),
    }
}

/// Reads `--key-file`, warning on stderr when others can read it.
fn load_key(path: Option<&Path>) -> Result<Option<Key>, Error> {
    let Some(path) = path else { return Ok(None) };
    let (key, warning) = seal::read_key_file(path).map_err(Error::Key)?;
    if let Some(warning) = warning {
        eprintln!("udpmsg: warning: {warning}");
    }
    Ok(Some(key))
}

fn run_keygen(args: KeygenArgs) -> Result<u8, Error> {
    seal::write_key_file(&args.path, args.force).map_err(|source| Error::Keygen {
        path: args.path.display().to_string(),
        source,
    })?;
    eprintln!(
        "udpmsg: wrote a new key to {} (mode 600)",
        args.path.display()
    );
    Ok(exit::OK)
}

/// The port from `host:port`, else `--port`/`UDPMSG_PORT`, else the default.
fn pick_port(from_host: Option<u16>, flag: Option<&str>) -> Result<u16, Error> {
    let flag = flag.map(addr::parse_port).transpose()?;
    match (from_host, flag) {
        (Some(a), Some(b)) if a != b => Err(Error::Usage(format!(
            "two different ports given: {a} in the host and {b} by --port or UDPMSG_PORT"
        ))),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => Ok(DEFAULT_PORT),
    }
}

fn run_listen(args: ListenArgs) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref())?;
    let host = addr::parse_host(&args.bind)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let bind = addr::resolve_bind(&host.host, port)?;
    let sockets = net::bind_listeners(bind, net::BindOptions::default())
        .map_err(|source| Error::Bind { addr: bind, source })?;
    let name = args.name.unwrap_or_else(net::hostname);
    if name.len() > listen::MAX_NAME {
        return Err(Error::Usage(format!(
            "name too long: {} bytes, at most {}",
            name.len(),
            listen::MAX_NAME
        )));
    }
    let mut locals = Vec::new();
    for socket in &sockets {
        let local = socket.local_addr().map_err(|source| Error::Io {
            doing: "reading the bound address",
            source,
        })?;
        // Join the IPv6 discovery group so IPv6-only hosts can find us;
        // best effort, per interface.
        if local.ip().is_unspecified() && local.is_ipv6() {
            for index in iface::ipv6_interfaces().unwrap_or_default() {
                if let Err(e) = socket.join_multicast_v6(&iface::DISCOVERY_GROUP_V6, index)
                    && args.verbose
                {
                    eprintln!(
                        "udpmsg: cannot join {} on {}: {e}",
                        iface::DISCOVERY_GROUP_V6,
                        iface::interface_name(index)
                    );
                }
            }
        }
        locals.push(local);
    }
    // IPv6 first: "[::]:47474 and 0.0.0.0:47474".
    locals.sort_by_key(|a| a.is_ipv4());
    let shown: Vec<String> = locals.iter().map(|a| a.to_string()).collect();
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
    eprintln!("{listening}");
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let mut out = ListenOutput::new(io::stdout().lock(), format, args.verbose);
    let (stop, stats) = listener.run(&mut out).map_err(|source| Error::Io {
        doing: "receiving",
        source,
    })?;
    let report = matches!(stop, Stop::Signal(_) | Stop::Timeout) || args.verbose;
    if report {
        eprintln!("{}", output::listen_summary(stop, &stats));
    }
    Ok(exit::OK)
}

fn run_send(args: SendArgs) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref())?;
    if args.raw && key.is_some() {
        return Err(Error::Usage(
            "--raw sends bytes as given; it cannot be used with a key".into(),
        ));
    }
    let host = addr::parse_host(&args.host)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let mut dest = addr::resolve_destination(&host.host, port)?;
    dest.broadcast |= args.broadcast;
    // The name goes only into udpmsg messages; raw sends skip the syscall.
    let name = match (args.raw, args.name.clone()) {
        (true, _) => String::new(),
        (false, Some(name)) => name,
        (false, None) => net::hostname(),
    };
    let shown = addr::display_addr(dest.addr);
    let send_error = |e: SendError| match e {
        SendError::TooLarge { len, max } => Error::TooLarge { len, max },
        SendError::Io(source) => Error::Send {
            dest: shown,
            source,
        },
    };
    let from_stdin = args.message.is_empty() || args.message == ["-"];
    if from_stdin && std::io::IsTerminal::is_terminal(&io::stdin()) {
        eprintln!("udpmsg: sending each line you type to {shown}; Ctrl-D ends");
    }
    if args.ack {
        return run_send_acked(&args, dest, &name, from_stdin, key.as_ref());
    }
    let mut sender = Sender::new(dest, name, key.as_ref()).map_err(|source| Error::Io {
        doing: "creating a socket",
        source,
    })?;
    if !from_stdin {
        let body = args.message.join(" ");
        let result = if args.raw {
            sender.raw(body.as_bytes())
        } else {
            sender.text(body.as_bytes())
        };
        result.map_err(send_error)?;
        return Ok(exit::OK);
    }
    let mut refused = 0u64;
    // Blocking reads: without --ack there is nothing else to wait for.
    let mut lines = source::Lines::new(io::stdin().lock(), None);
    let sent = send::send_all(&mut sender, &mut lines, args.raw, |line, e| {
        refused += 1;
        eprintln!("udpmsg: line {line} not sent: {e}");
    })
    .map_err(send_error)?;
    if refused > 0 {
        return Err(Error::LinesRefused { refused, sent });
    }
    Ok(exit::OK)
}

fn run_send_acked(
    args: &SendArgs,
    dest: addr::Destination,
    name: &str,
    from_stdin: bool,
    key: Option<&Key>,
) -> Result<u8, Error> {
    if args.raw {
        return Err(Error::Usage(
            "--ack needs udpmsg messages; it cannot be used with --raw".into(),
        ));
    }
    if dest.broadcast {
        return Err(Error::Usage(
            "--ack needs one listener; it cannot be used with a broadcast address".into(),
        ));
    }
    let config = deliver::Config {
        timeout: args.timeout.unwrap_or(deliver::DEFAULT_TIMEOUT),
        retries: args.retries,
    };
    let shown = addr::display_addr(dest.addr);
    let result = if from_stdin {
        let stdin = io::stdin();
        let mut lines = source::Lines::new(stdin.lock(), Some(0));
        deliver::send_acked(dest.addr, name, &mut lines, config, key)
    } else {
        let body = args.message.join(" ").into_bytes();
        let mut fixed = source::Fixed::new(vec![body]);
        deliver::send_acked(dest.addr, name, &mut fixed, config, key)
    };
    let report = match result {
        Ok(report) => report,
        Err(deliver::Error::NotListening) => return Err(Error::NotListening { dest: shown }),
        Err(deliver::Error::TooLarge { len, max }) => return Err(Error::TooLarge { len, max }),
        Err(deliver::Error::Io(source)) => {
            return Err(Error::Send {
                dest: shown,
                source,
            });
        }
    };
    if report.unconfirmed == 0 && !report.input_left {
        return Ok(exit::OK);
    }
    let left = if report.input_left {
        "; the deadline passed before all input was read"
    } else {
        ""
    };
    eprintln!(
        "udpmsg: {} of {} messages confirmed by {shown}, {} not confirmed{left}",
        report.confirmed, report.sent, report.unconfirmed
    );
    Ok(exit::UNCONFIRMED)
}

fn run_discover(args: DiscoverArgs) -> Result<u8, Error> {
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
            eprintln!("{}", output::discover_trace(trace));
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
    write_stdout(&output::discover_peers(&scan, args.json))?;
    if scan.overflow > 0 {
        eprintln!(
            "udpmsg: {} more listeners answered than are listed (limit {})",
            scan.overflow,
            discover::MAX_PEERS
        );
    }
    if scan.peers.is_empty() {
        eprintln!("{}", output::discover_nobody(&scan, port));
    }
    Ok(exit::OK)
}

fn run_ping(args: PingArgs) -> Result<u8, Error> {
    let key = load_key(args.key_file.as_deref())?;
    let host = addr::parse_host(&args.host)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let dest = addr::resolve_destination(&host.host, port)?;
    if matches!(host.host, addr::Host::Broadcast) {
        return Err(Error::Usage(
            "ping needs one listener, not a broadcast address".into(),
        ));
    }
    let shown = addr::display_addr(dest.addr);
    let config = ping::Config {
        count: args.count,
        interval: args.interval,
        wait: args.wait,
        catch_signals: true,
    };
    let json = args.json;
    let mut out = io::stdout().lock();
    let result = ping::ping(dest.addr, config, key.as_ref(), &mut |reply| {
        use std::io::Write;
        writeln!(out, "{}", output::ping_reply(reply, json))?;
        out.flush()
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(ping::Error::NotListening) => return Err(Error::NotListening { dest: shown }),
        Err(ping::Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Err(ping::Error::Io(source)) => {
            return Err(Error::Send {
                dest: shown,
                source,
            });
        }
    };
    write_stdout(&format!(
        "{}\n",
        output::ping_summary(shown, &summary, json)
    ))?;
    Ok(if summary.received > 0 {
        exit::OK
    } else {
        exit::UNCONFIRMED
    })
}

/// Writes to stdout; a closed pipe is not an error (`| head`).
fn write_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Io {
            doing: "writing output",
            source: e,
        }),
        _ => Ok(()),
    }
}
