//! Runs a parsed command line: arguments become command configs, commands
//! run, results go to the output layer, errors become exit codes. One file
//! per subcommand; this one dispatches and holds what they share.

mod discover;
mod keygen;
mod listen;
mod ping;
mod send;

use crate::cli::{Cli, Command};
use crate::commands::listen::is_closed_pipe;
use crate::error::Error;
use crate::net::addr::{self, DEFAULT_PORT};
use crate::seal::{self, Key};
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    let info = Info { quiet: cli.quiet };
    match cli.command {
        Command::Listen(args) => listen::run(args, info),
        Command::Send(args) => send::run(args, info),
        Command::Discover(args) => discover::run(args, info),
        // ping prints its results on stdout and has no informational lines.
        Command::Ping(args) => ping::run(args),
        Command::Keygen(args) => keygen::run(args, info),
    }
}

/// The informational stderr lines (what a command is doing, summaries,
/// hints), which `--quiet` silences. Errors and warnings do not go through
/// it: they always print.
#[derive(Debug, Clone, Copy)]
struct Info {
    quiet: bool,
}

impl Info {
    /// Prints `text` on stderr unless quiet.
    fn line(self, text: impl fmt::Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
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

/// Writes to stdout; a closed pipe is not an error (`| head`).
fn write_stdout(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if !is_closed_pipe(&e) => Err(Error::Output(e)),
        _ => Ok(()),
    }
}
