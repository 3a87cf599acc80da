//! The command line: what each subcommand accepts, and the help that teaches it.

use clap::{Args, FromArgMatches};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Hosts: a name, 192.0.2.7, 2130706433 (a 32-bit IPv4 number), ::1, fe80::1%eth0,
host:port, [::1]:port, a multicast group (239.1.2.3, ff15::1234),
'<broadcast>' (255.255.255.255), '' (this host / all interfaces), for
send and ping @NAME (the listener discover lists with that name), and a
Unix-domain socket: unix:/path/to/sock or unix:@name (abstract).
Ports: a number or a UDP service name (echo = 7).
Durations: 500ms, 2s, 1m, or a bare number of seconds.

Exit codes: 0 ok, 1 system error (also: name resolver unreachable), 2 bad
usage or input, 3 unknown host (or no listener named @NAME), 4 not all
messages confirmed (ping, send --wait: no reply; send --file: timeout),
5 nothing listening, 6 discover found fewer than --expect, 7 refused by the
listener, 8 no space on the listener's disk (send --file), 9 hash mismatch.

Environment: UDPMSG_PORT (default port, 47474), UDPMSG_NAME (sender name),
UDPMSG_KEY_FILE (shared key file; --no-key ignores it). Options win over
them, and an empty variable counts as unset.

Shell completions and a manual page: udpmsg completions bash|zsh|fish|...,
udpmsg man (see the README for where to put them).";

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

/// Each subcommand's one-line description: the first line of its
/// `--help`, its line in `udpmsg --help` and in the manual page.
pub const LISTEN_ABOUT: &str = "Print every datagram that arrives; answer pings";
pub const SEND_ABOUT: &str = "Send one message, or stdin: a message a line (--raw: one datagram)";
pub const DISCOVER_ABOUT: &str = "Find udpmsg listeners on the local network";
pub const PING_ABOUT: &str = "Measure round-trip times to a listener";
pub const KEYGEN_ABOUT: &str = "Write a new random shared key (mode 0600) for --key-file";
pub const CHAT_ABOUT: &str = "Chat with the room on the local network (serverless, confirmed)";
pub const COMPLETIONS_ABOUT: &str =
    "Print a shell completion script (bash, zsh, fish, elvish, powershell)";
pub const MAN_ABOUT: &str = "Print the manual page (roff), for man -l - or a man1 directory";

const LISTEN_HELP: &str = "Examples:
  udpmsg listen
  udpmsg listen --port 9000 --json --count 10
  udpmsg listen --bind 127.0.0.1 --timeout 30s
  udpmsg listen --group 239.1.2.3 --interface eth0   # a multicast group, on eth0
  udpmsg listen --echo -p 7000           # a test server: raw datagrams go back
  udpmsg listen --announce               # 'discover --watch' sees it come and go
  udpmsg listen --save-dir ~/incoming --max-file-size 2G   # accept send --file
  udpmsg listen --bind unix:/run/app.sock --mode 0660   # a Unix socket

--echo never echoes to a source on its own port, nor the same bytes to the
same source twice within 2 s, so two echo servers cannot bounce a datagram.

With --announce the listener says hello on every interface (broadcast and
the IPv6 group ff02::7564:706d, to port+1) three times at start, then every
--announce-every, and goodbye when it stops; each hello is trusted for three
periods. Without a key anyone on the LAN can announce or remove a fake peer.

Files are written to a hidden partial file in the save directory and put in
place under the offered name's last component (made safe) only once their
BLAKE3 hash matched; an existing file is kept and the new one saved as
'name (1).ext' (--overwrite replaces it).";

const SEND_HELP: &str = "Examples:
  udpmsg send 192.0.2.7 hello world
  udpmsg send '[::1]:9000' hi
  tail -f app.log | udpmsg send loghost -
  printf 'PING' | udpmsg send 127.0.0.1:9999 --raw       # stdin is one datagram
  udpmsg send 127.0.0.1:9999 --raw --hex 'de ad be ef'   # bytes given as hex
  printf 'a\\nb\\n' | udpmsg send 127.0.0.1:9999 --raw --lines   # one per line
  udpmsg send 239.1.2.3 hi --interface eth0 --ttl 2     # a multicast group
  udpmsg send --raw device:9000 'STATUS?' --wait 1s --json   # print the replies
  udpmsg send --from :5000 device:5000 hi                # from a fixed port
  udpmsg send @alice hi                                  # by listener name
  udpmsg send --file report.pdf --file data.csv 192.0.2.7 # to listen --save-dir

Without --raw every stdin line is one message. With --raw, stdin is sent as
one datagram holding every byte (as nc and socat do; more than fits is an
error); --lines sends one datagram per line instead. --hex reads every message
(argument, stdin, or each stdin line) as hex digits, spaces allowed: with
--raw those are the datagram's bytes, without it a udpmsg message's.";

const DISCOVER_HELP: &str = "Examples:
  udpmsg discover
  udpmsg discover --expect 3 --json     # exit 6 if fewer than 3 answer
  udpmsg discover -I lo                 # this machine only (127.255.255.255)
  udpmsg discover --watch               # a line whenever a listener comes or goes

Probes go to the broadcast address of every up IPv4 interface and to the
IPv6 link-local group ff02::7564:706d on every IPv6 interface, at 0, 100 and
500 ms, then every 100 ms until 3 s, then backing off, until --timeout: a
longer timeout finds listeners on a lossy network. Each listener is listed
once, with every address it answered from; listeners started with
'listen --announce' are listed too when their hello is heard meanwhile.

--watch keeps running: it probes at start and every --interval, hears the
hellos and goodbyes of announcing listeners (on port+1), and prints one line
per change: '+' up, '-' down (goodbye, or expired: not heard for the
lifetime its hellos gave, or for 3 intervals), '=' changed (addresses, name,
restarted), as ';'-separated fields:
  EVENT;TIME;REASON;NAME;INSTANCE;ADDRESSES;INTERFACES;ROOM";

const CHAT_HELP: &str = "Examples:
  udpmsg chat --name alice                 # the room of port 47474
  udpmsg chat --room team -k team.key      # a room of its own, sealed
  printf 'hello\\n/quit\\n' | udpmsg chat --json   # a bot is a shell loop

Members find each other by presence (hellos to port+1, as 'listen
--announce'); each message goes to every member present and is shown once
each, in order. After your message: a check mark once every member
present confirmed it, or 'not delivered to: NAME'. Commands: /who, /msg NAME text,
/me action, /name NEW, /quit; a line starting with // sends a literal /.
Names another member also uses are shown with '#' and the first digits of
their id. Without a key anyone on the LAN can join or pose as a newcomer.";

const PING_HELP: &str = "Examples:
  udpmsg ping 192.0.2.7 -c 5
  udpmsg ping ::1 --interval 0 -c 1000 --json
  udpmsg ping 192.0.2.7 -i 200ms -W 2s -I eth1   # as ping(8): interval, wait, interface
  udpmsg ping @alice --from 192.0.2.10   # by listener name, from one address

Exit codes: 0 when at least one reply came, 4 when none did, 5 when nothing
listens on that port.";

const COMPLETIONS_HELP: &str = "Examples:
  udpmsg completions bash > ~/.local/share/bash-completion/completions/udpmsg
  udpmsg completions zsh > ~/.zfunc/_udpmsg      # with fpath+=~/.zfunc in ~/.zshrc
  udpmsg completions fish > ~/.config/fish/completions/udpmsg.fish";

const MAN_HELP: &str = "Examples:
  udpmsg man | man -l -
  udpmsg man > ~/.local/share/man/man1/udpmsg.1      # then: man udpmsg";

const KEYGEN_HELP: &str = "Example:
  udpmsg keygen ~/.config/udpmsg.key
  udpmsg listen --key-file ~/.config/udpmsg.key
  udpmsg send otherhost --key-file ~/.config/udpmsg.key hello

Copy the file to every machine that should talk (scp, a config manager).
With a key every datagram is encrypted and authenticated (XChaCha20-Poly1305)
and replays are refused. Every key holder can impersonate every other.";

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

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Replace an existing regular file (never a symlink, FIFO, device or
    /// directory)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Your name in the room, at most 255 bytes (default: the host name)
    /// [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// The room: members of other rooms on the port are not heard
    /// [default: the port's room]
    #[arg(
        short,
        long,
        value_name = "ROOM",
        default_value = "",
        hide_default_value = true
    )]
    pub room: String,

    /// UDP port of the room (presence on the next one; a member whose host
    /// has it taken uses a port of its own) [default: 47474] [env:
    /// UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Shared key file (from 'udpmsg keygen'): a sealed room
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// JSON Lines on stdout, one per event (kinds: docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Time between hellos, 100ms to 20m; a member is given up three of
    /// them after it was last heard [default: 5s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub announce_every: Option<Duration>,

    /// How long each message is retried to each member before it is 'not
    /// delivered', 100ms to 4s [default: 4s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub patience: Option<Duration>,

    #[command(flatten)]
    pub iface: InterfaceArg,

    #[command(flatten)]
    pub family: FamilyArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// UDP port to bind: a number (0 picks a free one) or a service name
    /// [default: 47474] [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Address to bind; default '' is every interface (IPv4 and IPv6);
    /// unix:/path/to/sock or unix:@name for a Unix-domain socket
    #[arg(long, value_name = "HOST", default_value = "")]
    pub bind: String,

    /// With --bind unix:/path: the socket file's permissions, in octal
    /// (0660) [default: from the umask]
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<u32>,

    /// Name to answer discovery with, at most 255 bytes (default: the host
    /// name) [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// Print JSON Lines, one object per datagram (fields: docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Exit 0 after N datagrams were shown (raw ones included)
    #[arg(short, long, value_name = "N")]
    pub count: Option<u64>,

    /// Share the port with other listeners that share it too (SO_REUSEADDR);
    /// unicast datagrams then reach only one of them
    #[arg(long)]
    pub share_port: bool,

    /// Stop after DUR (500ms, 2s, 1m)
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Accept files (send --file) into DIR; without it, offers are refused
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,

    /// Largest file accepted: a number of bytes, or with K, M, G or T
    /// (powers of 1024) [default: 4G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "save_dir")]
    pub max_file_size: Option<u64>,

    /// Replace an existing file of the same name (default: save the new one
    /// as 'name (1).ext')
    #[arg(long, requires = "save_dir")]
    pub overwrite: bool,

    /// Abandon a transfer (removing its partial file) when its sender has
    /// sent nothing for DUR, 1s to 24h [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "save_dir")]
    pub file_wait: Option<Duration>,

    /// Report dropped and malformed datagrams on stderr
    #[arg(short, long)]
    pub verbose: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// Join multicast GROUP (repeatable): 239.1.2.3, ff15::1234, or
    /// ff02::1%eth0 for one interface; on every interface unless --interface
    #[arg(short, long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,

    #[command(flatten)]
    pub iface: InterfaceArg,

    /// Send every raw datagram back to its sender, byte for byte (a test
    /// server; rate limited, never to a group, never bouncing between two
    /// echo servers)
    #[arg(long)]
    pub echo: bool,

    #[command(flatten)]
    pub family: FamilyArgs,

    /// Announce this listener on every interface (hellos to port+1, a
    /// goodbye on exit) for 'discover --watch'
    #[arg(long)]
    pub announce: bool,

    /// With --announce: time between hellos, 100ms to 20m [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "announce")]
    pub announce_every: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("confirmed").multiple(true).args(["ack", "files"]))]
pub struct SendArgs {
    /// Destination: name, IP, host:port, [v6]:port, a multicast group,
    /// '<broadcast>', '', @NAME (the listener discover lists with that
    /// name), unix:/path or unix:@name
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Words of the message, joined by spaces; none or '-' reads stdin (one
    /// message a line; with --raw, all of it one datagram)
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<String>,

    /// Destination port: a number or a service name [default: 47474]
    /// [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Sender name shown by the listener, at most 255 bytes (default: the
    /// host name) [env: UDPMSG_NAME]
    #[arg(short, long)]
    pub name: Option<String>,

    /// Send the bytes exactly as given, no udpmsg header (for nc, socat...);
    /// stdin is one datagram
    #[arg(long)]
    pub raw: bool,

    /// Read stdin one message a line (the default without --raw)
    #[arg(long)]
    pub lines: bool,

    /// Messages are hex digits, spaces allowed ('de ad be ef'): binary protocols
    #[arg(long)]
    pub hex: bool,

    /// Allow sending to a broadcast address (implied by '<broadcast>')
    #[arg(short, long)]
    pub broadcast: bool,

    /// Confirmed delivery: retransmit until acknowledged; the listener shows
    /// each message exactly once, in order. Exit 4 if some are not confirmed.
    /// Without --key-file this protects against loss, not against attackers:
    /// anyone on the path can forge the acks
    #[arg(short, long)]
    pub ack: bool,

    /// Send the file at PATH (repeatable): its name, size and content;
    /// done when the listener (listen --save-dir) wrote it and its BLAKE3
    /// hash matched. Exit 7 refused, 8 no space, 9 hash mismatch, 4 timeout
    #[arg(short, long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// With --ack: how long to wait for confirmations once the input has
    /// ended [default: 5s]. With --file: the longest time without progress
    /// [default: 10s]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, requires = "confirmed")]
    pub timeout: Option<Duration>,

    /// With --ack: retransmissions per message [default: as many as fit in 4s]
    #[arg(long, value_name = "N", requires = "ack")]
    pub retries: Option<u32>,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    /// After the last message, keep the socket open for DUR and print every
    /// datagram that comes back, udpmsg or raw, as listen does; exit 4 if
    /// none (or fewer than --count) came
    #[arg(short = 'W', long, value_name = "DUR", value_parser = parse_duration, conflicts_with = "ack")]
    pub wait: Option<Duration>,

    /// With --wait: stop after N replies
    #[arg(short, long, value_name = "N", value_parser = parse_count, requires = "wait")]
    pub count: Option<u64>,

    /// With --wait: print the replies as JSON Lines, as listen --json does
    /// (fields: docs/JSON.md)
    #[arg(long, requires = "wait")]
    pub json: bool,

    /// IP TTL (IPv6 hop limit) of every datagram; to a multicast group 1
    /// unless given
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=255))]
    pub ttl: Option<u32>,

    /// To a multicast group: this host's own members get a copy too
    #[arg(long = "loop")]
    pub multicast_loop: bool,

    #[command(flatten)]
    pub reach: ReachArgs,

    #[command(flatten)]
    pub family: FamilyArgs,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Port the listeners use: a number or a service name [default: 47474]
    /// [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// How long to collect answers [default: 1s]; with --watch, how long
    /// to watch [default: until Ctrl-C]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Stop as soon as N distinct listeners answered; exit 6 if fewer did
    #[arg(short, long, value_name = "N", value_parser = parse_count)]
    pub expect: Option<u64>,

    /// Keep running and print one line per listener that comes (+), goes
    /// (-) or changes (=)
    #[arg(long, conflicts_with = "expect")]
    pub watch: bool,

    /// With --watch: time between probe rounds [default: 10s]
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, requires = "watch")]
    pub interval: Option<Duration>,

    /// Probe only this interface (repeatable: each is probed); 'lo' probes
    /// this machine
    #[arg(short = 'I', long = "interface", value_name = "IF")]
    pub interfaces: Vec<String>,

    /// One JSON object per listener, nothing else on stdout (docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Show every probe sent and every answer heard (stderr)
    #[arg(short, long)]
    pub verbose: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    #[command(flatten)]
    pub family: FamilyArgs,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The listener: name, IP, host:port, [v6]:port, @NAME (the listener
    /// discover lists with that name), unix:/path or unix:@name
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Port: a number or a service name [default: 47474] [env: UDPMSG_PORT]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<String>,

    /// Stop after N pings (default: until Ctrl-C)
    #[arg(short, long, value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,

    /// Time between pings; 0 sends the next as soon as a reply arrives
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,

    /// How long to wait for each reply
    #[arg(short = 'W', long, value_name = "DUR", value_parser = parse_duration, default_value = "1s")]
    pub wait: Duration,

    /// JSON Lines: a "pong" object per reply, then a "summary" (docs/JSON.md)
    #[arg(long)]
    pub json: bool,

    /// Shared key file (from 'udpmsg keygen'): seal every datagram
    /// [env: UDPMSG_KEY_FILE]
    #[arg(short = 'k', long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// No key, even if UDPMSG_KEY_FILE names one
    #[arg(long, conflicts_with = "key_file")]
    pub no_key: bool,

    #[command(flatten)]
    pub reach: ReachArgs,

    #[command(flatten)]
    pub family: FamilyArgs,
}

/// `--interface IF` of the commands that listen on every address (`listen`,
/// `chat`): their sockets bound to one interface.
#[derive(Debug, Clone, Args)]
pub struct InterfaceArg {
    /// Only this interface (one: the socket is bound to it): datagrams that
    /// arrived on it are taken, what is sent leaves through it, multicast
    /// groups are joined on it
    #[arg(short = 'I', long, value_name = "IF")]
    pub interface: Option<String>,
}

/// `-4` / `-6`: one address family, for names, binding and sending.
#[derive(Debug, Clone, Copy, Args)]
pub struct FamilyArgs {
    /// IPv4 only: names resolve to IPv4 addresses, sockets are IPv4
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only: names resolve to IPv6 addresses, sockets are IPv6
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
}

/// Where `send` and `ping` send from, and how a `@NAME` is found.
#[derive(Debug, Clone, Args)]
pub struct ReachArgs {
    /// Send from this address and port: ADDR, ADDR:PORT, :PORT, [v6]:PORT
    /// (fixed-port devices, firewall rules)
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub from: Option<String>,

    /// Send through this interface only (one: the socket is bound to it),
    /// and take replies only from it
    #[arg(short = 'I', long, value_name = "IF")]
    pub interface: Option<String>,

    /// With @NAME: how long to wait for that listener to answer discovery
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "1s")]
    pub resolve_timeout: Duration,
}

/// Parses a count of at least 1 (`ping -c`, `discover --expect`): 0 is
/// refused, as `ping -c 0` is.
pub fn parse_count(arg: &str) -> Result<u64, String> {
    match arg.trim().parse::<u64>() {
        Ok(0) => Err("the count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number".into()),
    }
}

/// Parses a size: a number of bytes, or one with a suffix K, M, G or T
/// (powers of 1024; `KiB`, `k`, `KB` mean the same), `1.5G` too.
pub fn parse_size(arg: &str) -> Result<u64, String> {
    let text = arg.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{arg}' is not a size like 100, 64K, 10M or 2G")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{arg}' is not a size like 100, 64K, 10M or 2G"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("'{arg}' is too large"));
    }
    Ok(bytes as u64)
}

/// Parses a file mode in octal, as chmod takes it (`0660`, `600`): the
/// permission bits only.
pub fn parse_mode(arg: &str) -> Result<u32, String> {
    let digits = arg.trim();
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err("not an octal mode like 0660".into());
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err("only the permission bits (at most 0777)".into()),
    }
}

/// Parses `500ms`, `2s`, `1m`, `1h 30m`, or a bare number of seconds (`0`, `2.5`).
pub fn parse_duration(arg: &str) -> Result<Duration, String> {
    let arg = arg.trim();
    if let Ok(secs) = arg.parse::<f64>() {
        if (0.0..1e12).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("'{arg}' is not a valid duration"));
    }
    // humantime's own words ("expected number at 0") point into a string
    // the user did not see; what matters is the form wanted.
    humantime::parse_duration(arg).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => format!("'{arg}' is too long a duration"),
        _ => format!("'{arg}' is not a duration like 500ms, 2s or 1m"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every short letter of the command line: (letter, long option,
    /// command), for the top level and each subcommand but clap's `help`.
    fn short_letters() -> Vec<(char, String, String)> {
        fn walk(command: &clap::Command, out: &mut Vec<(char, String, String)>) {
            for arg in command.get_arguments() {
                for letter in arg.get_short_and_visible_aliases().unwrap_or_default() {
                    let long = arg
                        .get_long()
                        .unwrap_or_else(|| panic!("-{letter} has no long form"));
                    out.push((letter, format!("--{long}"), command.get_name().into()));
                }
            }
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, out);
            }
        }
        let mut out = Vec::new();
        walk(&Cli::full_command(), &mut out);
        out
    }

    #[test]
    fn a_short_letter_means_one_long_option_in_every_subcommand() {
        let letters = short_letters();
        assert!(letters.len() > 30, "{letters:?}");
        let mut by_letter: BTreeMap<char, BTreeSet<&str>> = BTreeMap::new();
        let mut by_long: BTreeMap<&str, BTreeSet<char>> = BTreeMap::new();
        for (letter, long, _) in &letters {
            by_letter.entry(*letter).or_default().insert(long);
            by_long.entry(long).or_default().insert(*letter);
        }
        let ambiguous: Vec<_> = by_letter.iter().filter(|(_, l)| l.len() > 1).collect();
        assert!(
            ambiguous.is_empty(),
            "one letter, several options: {ambiguous:?}"
        );
        let spelt_twice: Vec<_> = by_long.iter().filter(|(_, l)| l.len() > 1).collect();
        assert!(
            spelt_twice.is_empty(),
            "one option, several letters: {spelt_twice:?}"
        );
    }

    /// The table of short letters in docs/DECISIONS.md is the command line's.
    #[test]
    fn the_letter_table_in_decisions_is_the_command_line() {
        let doc = include_str!("../docs/DECISIONS.md");
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("Short options"))
            .expect("a section on short options in docs/DECISIONS.md");
        let mut documented: BTreeMap<(char, String), BTreeSet<String>> = BTreeMap::new();
        for row in section.lines().filter(|l| l.starts_with("| `-")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let letter = cells[1].trim_matches('`').trim_start_matches('-');
            let long = cells[2].trim_matches('`').to_string();
            let mut chars = letter.chars();
            let (Some(letter), None) = (chars.next(), chars.next()) else {
                panic!("not one letter: {row}");
            };
            let commands = cells[3].split(", ").map(String::from).collect();
            assert!(
                documented.insert((letter, long), commands).is_none(),
                "{row}"
            );
        }
        let mut actual: BTreeMap<(char, String), BTreeSet<String>> = BTreeMap::new();
        let every: BTreeSet<String> = Cli::full_command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .filter(|n| n != "help")
            .chain(["udpmsg".to_string()])
            .collect();
        for (letter, long, command) in short_letters() {
            actual.entry((letter, long)).or_default().insert(command);
        }
        for commands in actual.values_mut() {
            if *commands == every {
                *commands = BTreeSet::from(["every command".to_string()]);
            }
        }
        assert_eq!(documented, actual);
    }

    /// The words of a shell command line after `udpmsg`, up to a comment,
    /// pipe or redirection; single and double quotes as the shell takes
    /// them (no escapes: the examples need none).
    fn example_words(line: &str) -> Option<Vec<String>> {
        let (_, rest) = line.split_once("udpmsg ")?;
        let mut words = vec!["udpmsg".to_string()];
        let mut word: Option<String> = None;
        let mut quote: Option<char> = None;
        for c in rest.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.get_or_insert_default().push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    word.get_or_insert_default();
                }
                (None, '#' | '|' | '>' | ';' | '&') if word.is_none() => break,
                (None, c) if c.is_whitespace() => words.extend(word.take()),
                (None, c) => word.get_or_insert_default().push(c),
            }
        }
        words.extend(word);
        Some(words)
    }

    /// Every example in the README and in each `--help` is a command line
    /// clap accepts: no option letter or name the examples use is stale.
    #[test]
    fn every_example_parses() {
        let helps = [
            LISTEN_HELP,
            SEND_HELP,
            DISCOVER_HELP,
            PING_HELP,
            KEYGEN_HELP,
            CHAT_HELP,
            COMPLETIONS_HELP,
            MAN_HELP,
        ];
        let readme = include_str!("../README.md");
        let lines = helps
            .iter()
            .flat_map(|h| h.lines())
            .chain(readme.lines().filter(|l| l.starts_with("    ")))
            .filter(|l| l.trim_start().starts_with("udpmsg ") || l.contains("| udpmsg "));
        let mut checked = 0;
        for line in lines {
            let Some(words) = example_words(line) else {
                continue;
            };
            if let Err(e) = Cli::command().try_get_matches_from(&words) {
                panic!("{line}\n{words:?}\n{e}");
            }
            checked += 1;
        }
        assert!(checked > 60, "{checked} examples");
    }

    #[test]
    fn only_discover_takes_several_interfaces() {
        let parse = |args: &[&str]| Cli::command().try_get_matches_from(args);
        assert!(parse(&["udpmsg", "discover", "-I", "lo", "-I", "lo"]).is_ok());
        // The others bind their socket to one device (SO_BINDTODEVICE).
        for line in [
            &["udpmsg", "listen", "-I", "lo", "--interface", "lo"][..],
            &["udpmsg", "chat", "-I", "lo", "-I", "lo"],
            &["udpmsg", "send", "-I", "lo", "-I", "lo", "::1", "x"],
            &["udpmsg", "ping", "-I", "lo", "-I", "lo", "::1"],
        ] {
            let e = parse(line).expect_err(line[1]);
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{line:?}"
            );
        }
    }

    #[test]
    fn counts_start_at_one() {
        assert_eq!(parse_count("1"), Ok(1));
        assert_eq!(parse_count("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_count("0").is_err());
        assert!(parse_count("-1").is_err());
        assert!(parse_count("x").is_err());
    }

    #[test]
    fn sizes_are_powers_of_1024() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2gib"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("5X").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("99999999T").is_err());
    }

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0"), Ok(0));
        for bad in ["", "0668", "rw", "01777", "-1", "0x1ff"] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("-1").is_err());
        assert_eq!(
            parse_duration("abc"),
            Err("'abc' is not a duration like 500ms, 2s or 1m".into())
        );
        assert_eq!(
            parse_duration("9999999999999999y"),
            Err("'9999999999999999y' is too long a duration".into())
        );
    }
}
