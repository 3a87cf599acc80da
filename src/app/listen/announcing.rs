//! `listen --announce`: its period checked, and what it warns of at start.

use crate::cli::ListenArgs;
use crate::commands::listen::announce;
use crate::commands::presence::{self, presence_port};
use crate::error::Error;
use crate::net::addr::Family;
use std::net::SocketAddr;

/// What an announcing listener warns of at start: hellos to a port no
/// watcher uses by default (`-p 0`), or no interface to send them on
/// (loopback is one only when named). Once: the interfaces that come up
/// later are announced on without a word.
pub(super) fn announce_warnings(
    args: &ListenArgs,
    asked: u16,
    locals: &[SocketAddr],
    family: Family,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let port = locals.first().map_or(0, |a| a.port());
    if asked == 0
        && let Some(to) = presence_port(port)
    {
        warnings.push(format!(
            "--announce on a port picked at random (-p 0): hellos go to port {to}, which only 'discover --watch -p {port}' hears"
        ));
    }
    let only: Vec<String> = args.iface.interface.iter().cloned().collect();
    if presence::targets(&only, family).is_ok_and(|t| t.is_empty()) {
        warnings.push(match &args.iface.interface {
            Some(i) => format!("--announce: {i} has no address to announce on now; hellos go out once it has one"),
            None => "--announce: no interface to announce on now (loopback only with --interface lo); hellos go out once one is up".to_string(),
        });
    }
    warnings
}

/// `--announce`'s period, checked: only a listener on every address
/// announces (a hello says "here" for every interface), every 100 ms to 20
/// minutes.
pub(super) fn announce_every(
    announce: bool,
    every: Option<std::time::Duration>,
    bind: std::net::SocketAddr,
) -> Result<Option<std::time::Duration>, Error> {
    if !announce {
        return Ok(None);
    }
    if !bind.ip().is_unspecified() {
        return Err(Error::Usage(format!(
            "--announce needs a listener on every address (--bind '', 0.0.0.0 or ::), not {}",
            bind.ip()
        )));
    }
    if bind.port() != 0 && presence_port(bind.port()).is_none() {
        return Err(no_presence_port(bind.port()));
    }
    let every = every.unwrap_or(announce::DEFAULT_EVERY);
    if !(announce::MIN_EVERY..=announce::MAX_EVERY).contains(&every) {
        return Err(Error::Usage(format!(
            "--announce-every must be between {} and {}",
            humantime::format_duration(announce::MIN_EVERY),
            humantime::format_duration(announce::MAX_EVERY)
        )));
    }
    Ok(Some(every))
}

/// Announcements go to the next port: the last port has none.
pub(super) fn no_presence_port(port: u16) -> Error {
    Error::Usage(format!(
        "--announce: announcements go to the next port, and port {port} has none"
    ))
}
