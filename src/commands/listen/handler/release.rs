//! What ordering releases (messages, gaps, file records) shown or handed
//! to the file receiver, and what became of files handed to the sink.

use super::{Handler, Origin};
use crate::commands::files::receive::{Outcome, Receiver};
use crate::commands::listen::sink::{Event, Sink, Stats};
use crate::net::DatagramSocket;
use crate::reliable::order::{Arrived, Release};
use crate::wire::{self, Text};
use std::io;
use std::time::{Instant, SystemTime};

impl Handler {
    /// Gives up gaps that waited long enough (all of them with `force`),
    /// reporting each and showing what followed it; abandons the file
    /// transfers of senders silent too long.
    pub fn release_gaps(
        &mut self,
        now: Instant,
        force: bool,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let (stats, files) = (&mut self.stats, &mut self.files);
        let released = self.streams.expire(now, force, &mut |release| {
            show_release(release, Some(now), stats, files, sink)
        });
        self.files.expire(now);
        show_files(&mut self.files, &mut self.stats, sink)?;
        released
    }

    /// The listener stops: every file transfer still running ends, its
    /// partial file removed, its sender told.
    pub fn stop_files(
        &mut self,
        sockets: &[DatagramSocket],
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if self.files.running() == 0 {
            return Ok(());
        }
        self.files.stop();
        show_files(&mut self.files, &mut self.stats, sink)?;
        self.send_acks(sockets, sink)
    }
}

pub(super) fn message_of<'a>(text: &Text<'a>, origin: Origin<'a>) -> Arrived<'a> {
    Arrived {
        sender: text.sender,
        seq: text.seq,
        base: text.base,
        flags: text.flags,
        name: text.name,
        body: text.body,
        from: origin.from,
        cred: origin.cred,
        at: origin.at,
    }
}

/// Shows what ordering released: a message (counted) or a gap; a file
/// record goes to the file receiver instead (at `now`, read when `None`:
/// the caller's reading saves one per datagram).
pub(super) fn show_release(
    release: Release<'_>,
    now: Option<Instant>,
    stats: &mut Stats,
    files: &mut Receiver,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    match release {
        Release::Message(m) if m.flags & wire::FLAG_FILE != 0 => {
            files.record(&m, now.unwrap_or_else(Instant::now));
            Ok(())
        }
        // A gap in a file's content ends that transfer (shown as a failed
        // file, not as missing messages).
        Release::Gap(gap) if files.gap(gap.sender) => Ok(()),
        Release::Message(m) => {
            stats.received += 1;
            sink.event(&Event::Text {
                at: m.at,
                from: m.from,
                cred: m.cred,
                name: m.name,
                body: m.body,
                sender: m.sender,
                seq: m.seq,
            })
        }
        Release::Gap(gap) => {
            stats.missing = stats
                .missing
                .saturating_add(gap.last - gap.first)
                .saturating_add(1);
            sink.event(&Event::Gap {
                at: SystemTime::now(),
                from: gap.from,
                sender: gap.sender,
                first: gap.first,
                last: gap.last,
            })
        }
    }
}

/// Hands what became of files to the sink, counted.
pub(super) fn show_files(
    files: &mut Receiver,
    stats: &mut Stats,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    for outcome in files.take_outcomes() {
        match &outcome {
            Outcome::Saved(_) => stats.files += 1,
            Outcome::Failed(_) => stats.files_failed += 1,
        }
        sink.file(&outcome)?;
    }
    Ok(())
}
