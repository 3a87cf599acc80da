//! The words of `--help`: each subcommand's one-line description, its
//! examples and notes, and the top level's notes on hosts, ports and exit codes.

pub(super) const AFTER_HELP: &str = "\
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

pub(super) const LISTEN_HELP: &str = "Examples:
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

pub(super) const SEND_HELP: &str = "Examples:
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

pub(super) const DISCOVER_HELP: &str = "Examples:
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
lifetime its hellos gave, or for 3 intervals), '=' changed (addrs, name,
port, room, restarted), as ';'-separated fields:
  EVENT;TIME;REASON;NAME;INSTANCE;ADDRESSES;INTERFACES;ROOM";

pub(super) const CHAT_HELP: &str = "Examples:
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

pub(super) const PING_HELP: &str = "Examples:
  udpmsg ping 192.0.2.7 -c 5
  udpmsg ping ::1 --interval 0 -c 1000 --json
  udpmsg ping 192.0.2.7 -i 200ms -W 2s -I eth1   # as ping(8): interval, wait, interface
  udpmsg ping @alice --from 192.0.2.10   # by listener name, from one address

Exit codes: 0 when at least one reply came, 4 when none did, 5 when nothing
listens on that port.";

pub(super) const COMPLETIONS_HELP: &str = "Examples:
  udpmsg completions bash > ~/.local/share/bash-completion/completions/udpmsg
  udpmsg completions zsh > ~/.zfunc/_udpmsg      # with fpath+=~/.zfunc in ~/.zshrc
  udpmsg completions fish > ~/.config/fish/completions/udpmsg.fish";

pub(super) const MAN_HELP: &str = "Examples:
  udpmsg man | man -l -
  udpmsg man > ~/.local/share/man/man1/udpmsg.1      # then: man udpmsg";

pub(super) const KEYGEN_HELP: &str = "Example:
  udpmsg keygen ~/.config/udpmsg.key
  udpmsg listen --key-file ~/.config/udpmsg.key
  udpmsg send otherhost --key-file ~/.config/udpmsg.key hello

Copy the file to every machine that should talk (scp, a config manager).
With a key every datagram is encrypted and authenticated (XChaCha20-Poly1305)
and replays are refused. Every key holder can impersonate every other.";
