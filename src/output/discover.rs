//! `udpmsg discover`'s table, JSON lines, hints and `-v` trace.

use super::escape::{escape_into, harden_json};
use crate::commands::discover::{Scan, Trace};
use crate::net::iface::DISCOVERY_GROUP_V6;
use crate::util::hex::Id;
use crate::util::words::IoWords;
use std::fmt::Write as _;

/// Discovery results: a table, or one JSON object per peer.
pub fn discover_peers(scan: &Scan, json: bool) -> String {
    let mut out = String::new();
    if json {
        for peer in &scan.peers {
            let line = serde_json::json!({
                "name": peer.name,
                "addrs": peer.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "rtt_ms": (peer.rtt.as_secs_f64() * 1e6).round() / 1e3,
                "interface": peer.interfaces.first(),
                "interfaces": peer.interfaces,
                "instance": Id(peer.instance).to_string(),
                "version": peer.version,
            });
            // Names are the peer's choice: escaped like listen's JSON.
            let _ = writeln!(out, "{}", harden_json(&line.to_string()));
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
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{:.3} ms", p.rtt.as_secs_f64() * 1e3),
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
            format!("udpmsg: probe sent to {to} on {interface}")
        }
        Trace::SendFailed {
            interface,
            to,
            error,
        } => format!(
            "udpmsg: probe to {to} on {interface} failed: {}",
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
                "udpmsg: answer from {from} '{n}' on {interface} after {:.3} ms",
                rtt.as_secs_f64() * 1e3
            )
        }
        Trace::Refused { from, why } => format!("udpmsg: refused answer from {from}: {why}"),
    }
}
