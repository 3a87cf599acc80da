//! Runs a parsed command line: arguments become command configs, commands
//! run, results go to the output layer. Returns the exit code.

use crate::addr::{self, DEFAULT_PORT};
use crate::cli::{Cli, Command, ListenArgs, SendArgs};
use crate::error::{Error, exit};
use crate::listen::{self, Listener, Stop};
use crate::net;
use crate::output::{self, Format, ListenOutput};
use crate::send::{self, SendError, Sender};
use std::io;

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Listen(args) => run_listen(args),
        Command::Send(args) => run_send(args),
    }
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
    let host = addr::parse_host(&args.bind)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let bind = addr::resolve_bind(&host.host, port)?;
    let socket = net::bind_listener(bind, net::BindOptions::default())
        .map_err(|source| Error::Bind { addr: bind, source })?;
    let name = args.name.unwrap_or_else(net::hostname);
    let local = socket.local_addr().map_err(|source| Error::Io {
        doing: "reading the bound address",
        source,
    })?;
    eprintln!("udpmsg: listening on {local} as '{name}'");
    let mut listener = Listener::new(
        socket,
        listen::Config {
            name,
            count: args.count,
            timeout: args.timeout,
            catch_signals: true,
        },
    );
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
    let host = addr::parse_host(&args.host)?;
    let port = pick_port(host.port, args.port.as_deref())?;
    let mut dest = addr::resolve_destination(&host.host, port)?;
    dest.broadcast |= args.broadcast;
    // The name goes only into udpmsg messages; raw sends skip the syscall.
    let name = match (args.raw, args.name) {
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
    let mut sender = Sender::new(dest, name).map_err(|source| Error::Io {
        doing: "creating a socket",
        source,
    })?;
    let from_stdin = args.message.is_empty() || args.message == ["-"];
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
    let sent = send::send_lines(&mut sender, io::stdin().lock(), args.raw, |line, e| {
        refused += 1;
        eprintln!("udpmsg: line {line} not sent: {e}");
    })
    .map_err(send_error)?;
    if refused > 0 {
        return Err(Error::LinesRefused { refused, sent });
    }
    Ok(exit::OK)
}
