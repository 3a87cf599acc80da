//! Runs a parsed command line: arguments become command configs, commands
//! run, results go to the output layer, errors become exit codes. One file
//! per subcommand; this one dispatches and holds what they share.

mod chat;
mod discover;
mod generate;
mod keygen;
mod listen;
mod ping;
mod reach;
mod send;
mod send_files;
mod watch;

use crate::cli::{Cli, Command};
use crate::commands::listen::is_closed_pipe;
use crate::error::Error;
use crate::net::{
    self,
    addr::{self, DEFAULT_PORT},
};
use crate::seal::{self, Key};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The environment variables udpmsg reads (here, and nowhere else).
const PORT_VAR: &str = "UDPMSG_PORT";
const NAME_VAR: &str = "UDPMSG_NAME";
const KEY_VAR: &str = "UDPMSG_KEY_FILE";

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    let info = Info { quiet: cli.quiet };
    match cli.command {
        Command::Listen(args) => listen::run(args, info),
        Command::Send(args) => send::run(args, info),
        Command::Discover(args) => discover::run(args, info),
        Command::Ping(args) => ping::run(args, info),
        Command::Keygen(args) => keygen::run(args, info),
        Command::Chat(args) => chat::run(args, info),
        Command::Completions(args) => generate::completions(args),
        Command::Man => generate::man(),
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

    /// Prints a note (`udpmsg: note: ...`) unless quiet: something the
    /// user may not have meant, done as asked anyway.
    fn note(self, text: fmt::Arguments<'_>) {
        self.line(format_args!("udpmsg: note: {text}"));
    }
}

/// A `UDPMSG_*` variable; empty counts as unset, as `UDPMSG_PORT= udpmsg
/// ...` in a shell means.
fn env_var(var: &'static str) -> Option<OsString> {
    std::env::var_os(var).filter(|v| !v.is_empty())
}

/// `error`, about the value `value` of variable `var` when it came from
/// one (`var` is `Some`).
fn from_env(var: Option<&'static str>, value: impl FnOnce() -> String, error: Error) -> Error {
    match var {
        Some(var) => Error::Env {
            var,
            value: value(),
            error: Box::new(error),
        },
        None => error,
    }
}

/// A `UDPMSG_*` variable that must be text.
fn env_text(var: &'static str) -> Result<Option<String>, Error> {
    env_var(var)
        .map(|v| {
            v.into_string().map_err(|v| Error::Env {
                var,
                value: v.to_string_lossy().into_owned(),
                error: Box::new(Error::Usage("not valid UTF-8".into())),
            })
        })
        .transpose()
}

/// Reads the key file: `--key-file`, else `UDPMSG_KEY_FILE` (none with
/// `--no-key`); warns on stderr when others can read it.
fn load_key(flag: Option<&Path>, no_key: bool) -> Result<Option<Key>, Error> {
    let (path, var) = match flag {
        _ if no_key => return Ok(None),
        Some(path) => (path.to_path_buf(), None),
        None => match env_var(KEY_VAR) {
            Some(value) => (PathBuf::from(value), Some(KEY_VAR)),
            None => return Ok(None),
        },
    };
    let (key, warning) = seal::read_key_file(&path)
        .map_err(|e| from_env(var, || path.display().to_string(), Error::Key(e)))?;
    if let Some(warning) = warning {
        eprintln!("udpmsg: warning: {warning}");
    }
    Ok(Some(key))
}

/// The port: from `host:port`, else `--port`, else `UDPMSG_PORT` (a
/// default, so it never conflicts), else 47474.
fn pick_port(from_host: Option<u16>, flag: Option<&str>) -> Result<u16, Error> {
    let flag = flag.map(addr::parse_port).transpose()?;
    match (from_host, flag) {
        (Some(a), Some(b)) if a != b => Err(Error::Usage(format!(
            "two different ports given: {a} in the host and {b} by --port"
        ))),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => match env_text(PORT_VAR)? {
            Some(value) => addr::parse_port(&value)
                .map_err(|e| from_env(Some(PORT_VAR), || value.clone(), e.into())),
            None => Ok(DEFAULT_PORT),
        },
    }
}

/// Whether any port was given (`host:port`, `--port` or `UDPMSG_PORT`).
fn port_given(from_host: Option<u16>, flag: Option<&str>) -> bool {
    from_host.is_some() || flag.is_some() || env_var(PORT_VAR).is_some()
}

/// The sender name: `--name`, else `UDPMSG_NAME`, else the host name; at
/// most [`crate::wire::MAX_NAME`] bytes, the same limit for every command.
fn pick_name(flag: Option<String>) -> Result<String, Error> {
    let (name, var) = match flag {
        Some(name) => (name, None),
        None => match env_text(NAME_VAR)? {
            Some(name) => (name, Some(NAME_VAR)),
            None => (net::hostname(), None),
        },
    };
    let max = crate::wire::MAX_NAME;
    if name.len() > max {
        let error = Error::NameTooLong {
            len: name.len(),
            max,
        };
        return Err(from_env(var, || name.clone(), error));
    }
    Ok(name)
}

/// Writes to stdout; a closed pipe is not an error (`| head`).
fn write_stdout(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if !is_closed_pipe(&e) => Err(Error::Output(e)),
        _ => Ok(()),
    }
}
