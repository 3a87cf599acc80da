//! `udpmsg discover`'s table, JSON lines (kind `peer`, docs/JSON.md),
//! hints and `-v` trace.

use super::escape::{escape_into, harden_json};
use super::{Timestamp, fmt_addr, rtt_ms};
use crate::commands::discover::{MAX_ADDRS, MAX_PEERS, Peer, Scan, Trace};
use crate::net::iface::DISCOVERY_GROUP_V6;
use crate::util::hex::Id;
use crate::util::words::IoWords;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::SystemTime;

/// When each address was first heard during a scan: a peer's `ts` is when
/// its first answer (from its first address) arrived. Fed from the scan's
/// trace; bounded like the scan itself (at most as many addresses as it can
/// list), so forged answers cannot make it grow without end.
#[derive(Debug, Default)]
pub struct FirstHeard {
    at: HashMap<SocketAddr, SystemTime>,
}

impl FirstHeard {
    /// Most addresses remembered: as many as a scan can list.
    const MAX: usize = MAX_PEERS * MAX_ADDRS;

    /// Notes an answer or a hello the trace reports as it arrives.
    pub fn trace(&mut self, trace: &Trace<'_>) {
        if let Trace::Heard { from, .. } | Trace::Hello { from, .. } = trace
            && self.at.len() < Self::MAX
        {
            self.at.entry(*from).or_insert_with(SystemTime::now);
        }
    }

    /// When `peer` was first heard (`end`, the end of the scan, when not
    /// known).
    fn of(&self, peer: &Peer, end: SystemTime) -> SystemTime {
        peer.addrs
            .first()
            .and_then(|a| self.at.get(a))
            .copied()
            .unwrap_or(end)
    }
}

/// `discover --json`'s line per listener.
#[derive(Serialize)]
struct PeerLine<'a> {
    ts: String,
    kind: &'static str,
    name: &'a str,
    addrs: Vec<String>,
    /// None for a peer only heard announcing itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<&'a str>,
    interfaces: &'a [String],
    instance: String,
    version: u8,
}

/// Discovery results: a table, or one JSON object per peer (`heard` says
/// when each was first heard; the scan ended at `end`).
pub fn discover_peers(scan: &Scan, heard: &FirstHeard, end: SystemTime, json: bool) -> String {
    let mut out = String::new();
    if json {
        for peer in &scan.peers {
            let line = PeerLine {
                ts: Timestamp(heard.of(peer, end)).to_string(),
                kind: "peer",
                name: &peer.name,
                addrs: peer
                    .addrs
                    .iter()
                    .map(|a| fmt_addr(*a).to_string())
                    .collect(),
                rtt_ms: peer.rtt.map(rtt_ms),
                interface: peer.interfaces.first().map(String::as_str),
                interfaces: &peer.interfaces,
                instance: Id(peer.instance).to_string(),
                version: peer.version,
            };
            // Serializing this plain struct cannot fail.
            let line = serde_json::to_string(&line).unwrap_or_default();
            // Names are the peer's choice: escaped like listen's JSON.
            let _ = writeln!(out, "{}", harden_json(&line));
        }
        return out;
    }
    if scan.peers.is_empty() {
        return out;
    }
    let rows: Vec<[String; 4]> = scan
        .peers
        .iter()
        .map(|p| {
            let mut name = String::new();
            escape_into(&mut name, &p.name);
            [
                name,
                p.addrs
                    .iter()
                    .map(|a| fmt_addr(*a).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                p.rtt
                    .map_or("-".to_string(), |rtt| format!("{:.3} ms", rtt_ms(rtt))),
                p.interfaces.join(", "),
            ]
        })
        .collect();
    let header = ["NAME", "ADDRESSES", "RTT", "INTERFACE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    out
}

/// Hints when nobody answered a scan.
pub fn discover_nobody(scan: &Scan, port: u16) -> String {
    let probed: Vec<String> = scan
        .probed
        .iter()
        .map(|t| {
            let mut what: Vec<String> = t.broadcasts.iter().map(|b| b.to_string()).collect();
            if t.ipv6 {
                what.push(format!("{}%{}", DISCOVERY_GROUP_V6, t.interface));
            }
            format!("{} ({})", t.interface, what.join(", "))
        })
        .collect();
    if probed.is_empty() {
        return "udpmsg discover: no interface to probe: none is up with an IPv4 broadcast or IPv6 link-local address (use --interface lo for this machine)".to_string();
    }
    format!(
        "udpmsg discover: no listener answered on port {port}.\n  probed: {}\n  hints: is 'udpmsg listen' running there, on this port? A firewall may drop UDP {port};\n  Wi-Fi client isolation blocks traffic between clients; a VPN may capture the route;
  listeners with --key-file answer only probes sealed with the same key.",
        probed.join("; ")
    )
}

/// One `-v` line about a scan.
pub fn discover_trace(trace: &Trace<'_>) -> String {
    match trace {
        Trace::Sent { interface, to } => {
            format!("udpmsg: probe sent to {} on {interface}", fmt_addr(*to))
        }
        Trace::SendFailed {
            interface,
            to,
            error,
        } => format!(
            "udpmsg: probe to {} on {interface} failed: {}",
            fmt_addr(*to),
            IoWords(error)
        ),
        Trace::Heard {
            from,
            name,
            interface,
            rtt,
        } => {
            let mut n = String::new();
            escape_into(&mut n, name);
            format!(
                "udpmsg: answer from {} '{n}' on {interface} after {:.3} ms",
                fmt_addr(*from),
                rtt_ms(*rtt)
            )
        }
        Trace::Hello {
            from,
            name,
            interface,
        } => {
            let mut n = String::new();
            escape_into(&mut n, name);
            format!(
                "udpmsg: hello from {} '{n}' on {interface}",
                fmt_addr(*from)
            )
        }
        Trace::Refused { from, why } => {
            format!("udpmsg: refused datagram from {}: {why}", fmt_addr(*from))
        }
    }
}
