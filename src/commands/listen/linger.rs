//! Lingering after a stop, as TCP's TIME_WAIT does: repeats of what was
//! acknowledged are answered until none came for a while.

use super::Listener;
use super::sink::Sink;
use crate::event::Wake;
use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

/// After a stop no signal asked for (`--count`, `--timeout`), a listener
/// that acknowledged something lately lingers, as TCP's TIME_WAIT does: a
/// sender whose last ack or file status was lost asks again (it resends
/// the message, or repeats the file record), and a listener already gone
/// would leave it with a closed port ("nothing is listening") although
/// its message was shown or its file stored. While lingering, only such
/// repeats are answered; nothing new is shown, stored or acknowledged.
/// It ends once no repeat came for this long since the last ack went
/// (longer than a sender's first retry: its retransmission timeout, at
/// most 250 ms plus jitter, or the 50 ms before a file sender asks for
/// its status again)...
pub const LINGER_QUIET: Duration = Duration::from_millis(400);

/// ...or for three times the gap between a sender's last two repeats (a
/// sender that keeps missing the answer waits twice as long each time),
/// and at the latest this long after the stop.
pub const LINGER_MAX: Duration = Duration::from_secs(3);

impl Listener {
    /// After a stop no signal asked for: answers repeats of what was
    /// acknowledged, and takes nothing new, until none came for a while
    /// (see [`LINGER_QUIET`]), [`LINGER_MAX`] passed, or a signal came.
    /// Returns at once when nothing was acknowledged lately.
    pub(super) fn linger(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        let Some(last_ack) = self.handler.last_ack() else {
            return Ok(());
        };
        let start = Instant::now();
        let latest = start + LINGER_MAX;
        let mut quiet_until = last_ack + LINGER_QUIET;
        if quiet_until <= start {
            return Ok(());
        }
        self.handler.close();
        self.lingering = true;
        // When each sender's latest repeat came (its first one: since the
        // last ack went).
        let mut heard: HashMap<u64, Instant> = HashMap::new();
        let all = self.all_sockets();
        let mut unread = all;
        loop {
            if let Some(_stop) = self.drain(&mut unread, sink)? {
                // Output failed (kept in `output_error`): nothing to wait for.
                return Ok(());
            }
            let now = Instant::now();
            for sender in self.handler.take_repeats() {
                let previous = heard.insert(sender, now).unwrap_or(last_ack);
                let gap = now.saturating_duration_since(previous);
                quiet_until = quiet_until.max(now + LINGER_QUIET.max(gap * 3));
            }
            let end = quiet_until.min(latest);
            if now >= end {
                return Ok(());
            }
            let wake = if unread == 0 {
                self.events.wait(Some(end))?
            } else {
                self.events.poll_now()?
            };
            match wake {
                Wake::Ready(ready) => unread |= ready & all,
                Wake::Timeout => {}
                Wake::Signal(_) => return Ok(()),
            }
        }
    }
}
