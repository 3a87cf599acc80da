//! Tests of parsing host, port and Unix-socket arguments.

use super::*;
use crate::net::peer::{MAX_UNIX_NAME, UnixAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn host(arg: &str) -> HostPort {
    parse_host(arg).unwrap()
}

#[test]
fn parses_every_host_form() {
    assert_eq!(host("").host, Host::Any);
    assert_eq!(host("<broadcast>").host, Host::Broadcast);
    assert_eq!(
        host("2130706433").host,
        Host::Ip(Ipv4Addr::LOCALHOST.into(), 0)
    );
    assert_eq!(
        host("127.0.0.1").host,
        Host::Ip(Ipv4Addr::LOCALHOST.into(), 0)
    );
    assert_eq!(host("::1").host, Host::Ip(Ipv6Addr::LOCALHOST.into(), 0));
    assert_eq!(
        host("[::1]:99"),
        HostPort {
            host: Host::Ip(Ipv6Addr::LOCALHOST.into(), 0),
            port: Some(99)
        }
    );
    assert_eq!(
        host("fe80::1%7").host,
        Host::Ip("fe80::1".parse::<IpAddr>().unwrap(), 7)
    );
    assert_eq!(
        host("localhost:echo"),
        HostPort {
            host: Host::Name("localhost".into()),
            port: Some(7)
        }
    );
    assert_eq!(host(":5").port, Some(5));
}

#[test]
fn rejects_bad_host_forms() {
    for arg in [
        "4294967296",
        "[::1",
        "[::1]x",
        "[1.2.3.4]",
        "a b",
        "fe80::1%nosuchif0",
        "host:",
        "host:99999",
        ":::x",
        "256.1.1.1",
        "256.1.1.1:80",
        "10.1",
        "010.0.0.1",
        "1.2.3.4.",
    ] {
        assert!(parse_host(arg).is_err(), "{arg} accepted");
    }
}

#[test]
fn parses_unix_socket_arguments() {
    let unix = |arg: &str| parse_target(arg);
    assert_eq!(
        unix("unix:/run/x.sock"),
        Ok(Target::Unix(UnixAddr::path(b"/run/x.sock")))
    );
    assert_eq!(
        unix("unix:rel.sock"),
        Ok(Target::Unix(UnixAddr::path(b"rel.sock")))
    );
    assert_eq!(
        unix("unix:@name"),
        Ok(Target::Unix(UnixAddr::abstract_name(b"name")))
    );
    let longest = format!("unix:/{}", "x".repeat(MAX_UNIX_NAME - 1));
    assert!(unix(&longest).is_ok());
    let too_long = format!("unix:/{}", "x".repeat(MAX_UNIX_NAME));
    for arg in ["unix:", "unix:@", too_long.as_str(), "unix:/a\0b"] {
        assert!(unix(arg).is_err(), "{arg:?} accepted");
    }
    assert_eq!(parse_unix("unixhost:1"), None);
}

#[test]
fn parses_ports_and_services() {
    assert_eq!(parse_port("7"), Ok(7));
    assert_eq!(parse_port("echo"), Ok(7));
    assert!(parse_port("65536").is_err());
    assert!(parse_port("no-such-service-x").is_err());
    assert!(parse_port("").is_err());
}
