//! The command line: the command tree and its parsing; each subcommand's
//! arguments, the groups they share, the value parsers and the help words
//! live in the modules below.
//!
//! The doc comments of the argument structs are `--help` text, written for
//! a terminal, not rustdoc: `[v6]:PORT` and `'<broadcast>'` are what the
//! user types.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod chat;
mod completions;
mod discover;
mod groups;
mod help;
mod keygen;
mod listen;
mod parse;
mod ping;
mod send;
#[cfg(test)]
mod tests;

pub use chat::ChatArgs;
pub use completions::CompletionsArgs;
pub use discover::DiscoverArgs;
pub use groups::{FamilyArgs, InterfaceArg, ReachArgs};
pub use help::{
    CHAT_ABOUT, COMPLETIONS_ABOUT, DISCOVER_ABOUT, KEYGEN_ABOUT, LISTEN_ABOUT, MAN_ABOUT,
    PING_ABOUT, SEND_ABOUT,
};
pub use keygen::KeygenArgs;
pub use listen::ListenArgs;
pub use parse::{parse_count, parse_duration, parse_mode, parse_size, parse_wait};
pub use ping::PingArgs;
pub use send::SendArgs;

use clap::{Args, FromArgMatches};
use help::*;

/// What the command line asked for.
#[derive(Debug)]
pub struct Cli {
    pub command: Command,
    /// `-q/--quiet` (any subcommand): no informational stderr lines.
    pub quiet: bool,
}

/// `-q/--quiet`, accepted by every subcommand (a global argument).
const QUIET: &str = "quiet";

#[derive(Debug)]
pub enum Command {
    Listen(ListenArgs),
    Send(SendArgs),
    Discover(DiscoverArgs),
    Ping(PingArgs),
    Keygen(KeygenArgs),
    Chat(ChatArgs),
    Completions(CompletionsArgs),
    Man,
}

impl Cli {
    /// The whole command line definition.
    ///
    /// Each subcommand's arguments are built only when that subcommand is
    /// parsed or its help is shown (`Command::defer`): a one-shot
    /// `udpmsg send` is mostly process start-up, and building the other four
    /// subcommands' arguments cost a third of its user-space instructions.
    pub fn command() -> clap::Command {
        // `about` is set twice: before `defer`, for `udpmsg --help`'s list
        // (deferred arguments are not built for it), and after the arguments
        // are added, because the derive sets the `///` comment of every
        // flattened group (`FamilyArgs`, `ReachArgs`...) as the command's
        // about: the last one would be the first line of `--help` and of the
        // subcommand's section in the manual page.
        macro_rules! sub {
            ($name:literal, $args:ty, $about:expr, $after_help:expr) => {
                clap::Command::new($name)
                    .about($about)
                    .after_help($after_help)
                    .defer(|command| {
                        <$args>::augment_args(command)
                            .about($about)
                            .long_about(None)
                    })
            };
        }
        clap::Command::new("udpmsg")
            .version(env!("CARGO_PKG_VERSION"))
            .about("Send, receive and discover UDP messages on your local network")
            .long_about(
                "Send, receive and discover UDP messages on your local network.\n\n\
                 Start a listener on one machine, send to it from another:\n\n  \
                 udpmsg listen\n  \
                 udpmsg send otherhost 'hello there'",
            )
            .after_help(AFTER_HELP)
            .propagate_version(true)
            .subcommand_required(true)
            .arg_required_else_help(true)
            .arg(
                clap::Arg::new(QUIET)
                    .short('q')
                    .long("quiet")
                    .global(true)
                    .action(clap::ArgAction::SetTrue)
                    .help(
                        "No informational lines on stderr (listening on, summaries, hints); \
                         errors, warnings and -v reports still print",
                    ),
            )
            .subcommand(sub!("listen", ListenArgs, LISTEN_ABOUT, LISTEN_HELP))
            .subcommand(sub!("send", SendArgs, SEND_ABOUT, SEND_HELP))
            .subcommand(sub!(
                "discover",
                DiscoverArgs,
                DISCOVER_ABOUT,
                DISCOVER_HELP
            ))
            .subcommand(sub!("ping", PingArgs, PING_ABOUT, PING_HELP))
            .subcommand(sub!("keygen", KeygenArgs, KEYGEN_ABOUT, KEYGEN_HELP))
            .subcommand(sub!("chat", ChatArgs, CHAT_ABOUT, CHAT_HELP))
            .subcommand(sub!(
                "completions",
                CompletionsArgs,
                COMPLETIONS_ABOUT,
                COMPLETIONS_HELP
            ))
            .subcommand(
                clap::Command::new("man")
                    .about(MAN_ABOUT)
                    .after_help(MAN_HELP),
            )
    }

    /// The whole definition with every subcommand's arguments built (not
    /// deferred), for completion scripts and the manual page.
    pub fn full_command() -> clap::Command {
        let mut command = Self::command();
        command.build();
        command
    }

    /// Parses `args` (the program name first); on a usage error, `--help` or
    /// `--version` prints what clap prints and exits (2 for errors, 0 otherwise).
    /// Meant for once per process: clap's command and matches (a few KiB) are
    /// left to the process's end, not freed.
    pub fn parse_from<I, T>(args: I) -> Cli
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Self::command();
        let matches = command
            .try_get_matches_from_mut(args)
            .unwrap_or_else(|e| e.exit());
        let cli = Self::from_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit());
        // Left for the process's end rather than freed one by one: clap's
        // many small allocations took 4% of a one-shot send's instructions.
        std::mem::forget(matches);
        std::mem::forget(command);
        cli
    }

    fn from_matches(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
        let command = match matches.subcommand() {
            Some(("listen", m)) => Command::Listen(ListenArgs::from_arg_matches(m)?),
            Some(("send", m)) => Command::Send(SendArgs::from_arg_matches(m)?),
            Some(("discover", m)) => Command::Discover(DiscoverArgs::from_arg_matches(m)?),
            Some(("ping", m)) => Command::Ping(PingArgs::from_arg_matches(m)?),
            Some(("keygen", m)) => Command::Keygen(KeygenArgs::from_arg_matches(m)?),
            Some(("chat", m)) => Command::Chat(ChatArgs::from_arg_matches(m)?),
            Some(("completions", m)) => Command::Completions(CompletionsArgs::from_arg_matches(m)?),
            Some(("man", _)) => Command::Man,
            _ => return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand)),
        };
        Ok(Cli {
            command,
            quiet: matches.get_flag(QUIET),
        })
    }
}
