//! Raw datagrams at a listener: shown once (a copy sent to a group and
//! heard on several interfaces is not shown again), echoed with `--echo`.

use super::answer::on_link_if_group;
use super::{Handler, Origin};
use crate::commands::listen::sink::{Event, Notice, Sink};
use crate::net::{self, PeerAddr};
use std::io;
use std::time::Instant;

impl Handler {
    /// A datagram without the magic, at a listener without a key: shown
    /// (once, if sent to a group and heard on several interfaces), and
    /// echoed with `--echo`.
    pub fn raw(&mut self, bytes: &[u8], origin: Origin<'_>, sink: &mut dyn Sink) -> io::Result<()> {
        if self.closing {
            return Ok(());
        }
        if let (Some(local), PeerAddr::Inet(from)) = (origin.local, origin.from)
            && local.sent_to_group()
            && !self
                .group_copies
                .first_copy(*from, local.dest, local.ifindex, bytes, origin.now)
        {
            self.stats.duplicates += 1;
            return Ok(());
        }
        if self.echo.is_some() {
            self.echo_back(bytes, origin, sink)?;
        }
        self.stats.raw += 1;
        sink.event(&Event::Raw {
            at: origin.at,
            from: origin.from,
            cred: origin.cred,
            bytes,
        })
    }

    /// `--echo`: sends `bytes` back to their source, from the address they
    /// came to, unless the echo rules say not to (see [`crate::commands::listen::echo`]).
    fn echo_back(
        &mut self,
        bytes: &[u8],
        origin: Origin<'_>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        if origin.from.is_unnamed() {
            return self.unanswerable("datagram", sink);
        }
        let Some(echo) = self.echo.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        let links = &mut self.links;
        let from = origin.from;
        let allowed = match echo.check(bytes, from, || on_link_if_group(links, origin), now) {
            Ok(allowed) => allowed,
            Err(why) => {
                self.stats.echoes_ignored += 1;
                return sink.notice(&Notice::EchoIgnored { from, why });
            }
        };
        match net::send_from(origin.socket, bytes, from, origin.local) {
            Ok(_) => {
                echo.sent(allowed, now);
                self.stats.echoed += 1;
                Ok(())
            }
            Err(error) => {
                self.stats.reply_errors += 1;
                sink.notice(&Notice::ReplyFailed {
                    to: from,
                    error: &error,
                })
            }
        }
    }
}
