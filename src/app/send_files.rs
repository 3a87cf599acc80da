//! `udpmsg send --file`: open every file first, then send them one by one
//! with a progress bar (on a terminal) and one closing line per file (on
//! stderr, or with `--json` a JSON line on stdout).

use super::reach::{self, Reach};
use super::{Info, pick_name};
use crate::cli::SendArgs;
use crate::commands::files::send::{self, FileSend, Offer};
use crate::commands::listen::is_closed_pipe;
use crate::commands::send::Sender;
use crate::error::{Error, Sending, exit};
use crate::net::SetupError;
use crate::output::Format;
use crate::output::files::{SendProgress, SentReport};
use crate::seal::{FileKind, Key};
use std::io::{self, IsTerminal};
use std::path::Path;

pub(super) fn run(args: &SendArgs, key: Option<Key>, info: Info) -> Result<u8, Error> {
    check_flags(args)?;
    let Reach {
        dest,
        shown,
        options,
        ..
    } = reach::reach(
        &args.host,
        args.port.as_deref(),
        &args.reach,
        args.family,
        key.as_ref(),
    )?;
    if dest.broadcast || dest.addr.inet().is_some_and(|a| a.ip().is_multicast()) {
        return Err(Error::Usage(
            "--file needs one listener; it cannot be used with a broadcast or group address".into(),
        ));
    }
    let name = pick_name(args.name.clone())?;
    let failed = |error| Error::Command {
        dest: shown.clone(),
        by: Sending::SendAck,
        error,
    };
    // Every file is opened before anything is sent: a typo fails at once.
    for path in &args.files {
        check_regular(path)?;
    }
    let offers = args
        .files
        .iter()
        .map(|path| Offer::open(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(crate::commands::Error::File(e)))?;
    let sender = Sender::new(dest, &options, name, key.as_ref(), true).map_err(|e| match e {
        SetupError::Source { addr, error } => Error::Source {
            addr,
            source: error,
        },
        SetupError::Socket(e) => failed(e.into()),
    })?;
    let config = send::Config {
        timeout: args.timeout.unwrap_or(send::DEFAULT_TIMEOUT),
        catch_signals: true,
    };
    let bar = io::stderr().is_terminal() && !info.quiet;
    let mut progress = SendProgress::new(bar);
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let report = SentReport::new(shown.clone(), format);
    let mut files = FileSend::new(sender, config, &mut progress).map_err(failed)?;
    for offer in offers {
        let sent = files.send(offer).map_err(failed)?;
        match report.sent(&sent) {
            Ok(()) => {}
            // Whoever read the lines wants no more (`| head -1`): the files
            // sent so far are whole, the rest are not offered.
            Err(e) if is_closed_pipe(&e) => return Ok(exit::OK),
            Err(e) => return Err(Error::Output(e)),
        }
    }
    Ok(exit::OK)
}

/// Refuses a path that is not a regular file (after symlinks) as a bad
/// argument, before it is opened: a FIFO (`<(cmd)`, a named pipe) has no
/// size to offer, and opening one nobody writes to would wait forever. A
/// path that cannot be looked up is left to the open, which says why.
fn check_regular(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path).as_ref().map(FileKind::of) {
        Ok(Some(kind)) => Err(Error::Usage(format!(
            "--file {}: {kind}, not a regular file; --file sends files of a known size (save the output to a file first)",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Refuses what cannot go with `--file`.
fn check_flags(args: &SendArgs) -> Result<(), Error> {
    let clash = [
        (!args.message.is_empty(), "a message"),
        (args.raw, "--raw"),
        (args.hex, "--hex"),
        (args.lines, "--lines"),
        (args.broadcast, "--broadcast"),
        (args.retries.is_some(), "--retries"),
        (args.wait.is_some(), "--wait"),
        (args.ttl.is_some(), "--ttl"),
        (args.multicast_loop, "--loop"),
    ];
    match clash.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(Error::Usage(format!(
            "--file sends files; it cannot be used with {what}"
        ))),
        None => Ok(()),
    }
}
