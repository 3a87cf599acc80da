//! Finding a listener by the name it answers discovery with (`send @alice`,
//! `ping @alice`): a discovery scan that stops at the first answer carrying
//! that name, then listens a little longer for a second listener of the
//! same name, since a name is only a label anyone can choose.
//!
//! With a key the scan's probes are sealed and only sealed answers count
//! ([`super::discover`]), so only key holders can answer to a name.

use super::discover::{self, Collected, Peer, Scanner};
use std::io;
use std::time::Instant;

/// How long a scan goes on after the first answer with the name, for a
/// second listener with it. A little longer than the gap between the
/// first two probe rounds (100 ms), so a listener whose first answer was
/// lost gets the second round.
pub const NAME_SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

/// How long a scan waits for a listener with the name when
/// `--resolve-timeout` does not say.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// What this host already knows of listeners by name, before any probe:
/// the place where presence announcements (#12) plug in. A listener known
/// here counts as heard at once.
pub trait Known {
    /// Every listener known to answer to `name` (different instances).
    fn named(&self, name: &str) -> Vec<Peer>;
}

/// Nothing known: every name is found by a probe.
#[derive(Debug, Clone, Copy, Default)]
pub struct NothingKnown;

impl Known for NothingKnown {
    fn named(&self, _name: &str) -> Vec<Peer> {
        Vec::new()
    }
}

/// The outcome of looking a name up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Exactly one listener answers to it.
    One(Peer),
    /// Several listeners (different instances) answer to it: the name does
    /// not say which one is meant.
    Ambiguous(Vec<Peer>),
    /// Nobody answered to it within the scan's timeout; `heard` are the
    /// names of the listeners that did answer (sorted, without repeats);
    /// `unprobed`: there was no interface to probe at all.
    Nobody { heard: Vec<String>, unprobed: bool },
}

/// Looks up `name`: what `known` knows first (one listener there is the
/// answer, two are ambiguous), else a scan with `config` (its `timeout` is
/// how long to wait for a first answer) that stops at the first answer
/// with the name, then goes on for [`NAME_SETTLE`] for a second one.
pub fn resolve(name: &str, config: &discover::Config, known: &dyn Known) -> io::Result<Resolved> {
    let mut known = known.named(name);
    match known.len() {
        0 => {}
        1 => return Ok(Resolved::One(known.remove(0))),
        _ => return Ok(Resolved::Ambiguous(known)),
    }
    let mut scanner = Scanner::new(config)?;
    let mut named = |peer: &Peer| peer.name == name;
    let first = scanner.collect(None, &mut |_| {}, &mut named)?;
    if first == Collected::Stopped {
        // Another listener with the name stops the settling early: two
        // are enough to refuse.
        let settle = Instant::now() + NAME_SETTLE;
        scanner.collect(Some(settle), &mut |_| {}, &mut named)?;
    }
    let scan = scanner.into_scan();
    let (mut matching, others): (Vec<Peer>, Vec<Peer>) =
        scan.peers.into_iter().partition(|p| p.name == name);
    Ok(match matching.len() {
        0 => {
            let mut heard: Vec<String> = others.into_iter().map(|p| p.name).collect();
            heard.dedup();
            Resolved::Nobody {
                heard,
                unprobed: scan.probed.is_empty(),
            }
        }
        1 => Resolved::One(matching.remove(0)),
        _ => Resolved::Ambiguous(matching),
    })
}
