//! Sockets and their options: moves bytes, knows no message types.
//!
//! - `bind`: listening sockets ([`bind_listeners`], [`BindOptions`]),
//!   their options, multicast joins;
//! - `sender`: sending sockets ([`sender_socket`], [`SendOptions`]);
//! - `sockopt`: raw socket options and counters (receive buffer, path
//!   MTU, kernel drops);
//! - `errors`: what a socket error means ([`classify_send_error`],
//!   [`nonblocking`]);
//! - `host`: this host's name ([`hostname`]);
//! - [`process`]: the timer slack and signal dispositions the event loop
//!   needs;
//! - [`batch`]: many datagrams per system call (`recvmmsg`, `sendmmsg`);
//! - [`cmsg`]: arrival addresses and reply source addresses (pktinfo);
//! - [`errqueue`]: ICMP errors for an unconnected socket (IP_RECVERR);
//! - [`gso`]: many equal-sized datagrams per send (`UDP_SEGMENT`), and
//!   coalesced arrivals (`UDP_GRO`);
//! - [`iface`]: interfaces; [`addr`]: host and port arguments;
//! - [`peer`]: a peer's address, IP or Unix-domain ([`PeerAddr`]);
//! - [`socket`]: a datagram socket of either kind ([`DatagramSocket`]);
//! - [`unix`]: Unix-domain sockets: binding, socket files, autobind.
//!
//! Every system call that needs `unsafe` lives in this folder.
//!
//! UDP error policy: `WouldBlock` means "wait for readiness"; `Interrupted`
//! means "try again"; `ConnectionRefused` on a receive is the ICMP echo of an
//! earlier send and is reported to the caller, which decides whether it
//! matters (a listener ignores it, a connected sender reports the closed port).
//! Send errors are sorted by [`classify_send_error`]: a full queue is waited
//! out, a transient local refusal (firewall, no route for now) loses that one
//! datagram, anything else ends the command.

pub mod addr;
pub mod batch;
mod bind;
pub mod cmsg;
mod errors;
pub mod errqueue;
pub mod gso;
mod host;
pub mod iface;
pub mod peer;
pub mod process;
mod sender;
pub mod socket;
mod sockopt;
pub mod unix;

pub use batch::{Datagrams, RECV_BATCH, Received, RecvBatch, ReplyBatch, SEND_BATCH, SendBatch};
pub use bind::{
    BindOptions, LISTEN_RCVBUF, bind, bind_listeners, join_discovery_group, join_group, leave_group,
};
pub use cmsg::{Arrival, Local, enable_pktinfo, recv_with_local, send_from};
pub use errors::{SendFailure, classify_send_error, is_transient_send_error, nonblocking};
pub use host::hostname;
pub use peer::{Cred, PeerAddr, UnixAddr};
pub use sender::{GROUP_TTL, SendOptions, SetupError, sender_socket};
pub use socket::DatagramSocket;
pub(crate) use sockopt::set_int_option;
pub use sockopt::{LOOPBACK_MTU, kernel_drops, path_mtu, set_recv_buffer};
