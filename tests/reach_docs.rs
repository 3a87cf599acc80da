//! The numbers README.md, docs/PROTOCOL.md, docs/DECISIONS.md and `--help`
//! quote about groups, echoes and names (issue #14) are the code's: each
//! phrase is built from the constant it quotes, so changing one without
//! the other fails here.

mod common;

use common::docs::{assert_says, doc, squeeze, thousands};
use std::time::Duration;
use udpmsg::cli::Cli;
use udpmsg::commands::listen::echo::{BOUNCE_WINDOW, ECHOES_PER_SOURCE, ECHOES_TOTAL};
use udpmsg::commands::presence::IFACE_POLL;
use udpmsg::commands::resolve::{DEFAULT_TIMEOUT as RESOLVE_TIMEOUT, NAME_SETTLE};
use udpmsg::net::GROUP_TTL;
use udpmsg::reliable::dedup::GROUP_COPIES_FOR;

/// Whole seconds as the documents write them (`2 s`).
fn secs(d: Duration) -> String {
    assert_eq!(d.subsec_nanos(), 0, "{d:?} is not whole seconds");
    format!("{} s", d.as_secs())
}

#[test]
fn readme_quotes_the_group_echo_and_name_numbers() {
    let readme = doc("README.md");
    let says = |phrase: String| assert_says(&readme, "README.md", &phrase);
    says(format!(
        "with TTL (IPv6 hop limit) {GROUP_TTL}, this link only"
    ));
    says(format!(
        "(the same bytes on another interface within {} are a copy",
        secs(GROUP_COPIES_FOR)
    ));
    says(format!(
        "Echoes are limited to {} a second per source address and {} a second in all",
        thousands(ECHOES_PER_SOURCE),
        thousands(ECHOES_TOTAL)
    ));
    says(format!(
        "({} echoes a second per source address, {} in all)",
        thousands(ECHOES_PER_SOURCE),
        thousands(ECHOES_TOTAL)
    ));
    says(format!(
        "same address and port twice within {}",
        secs(BOUNCE_WINDOW)
    ));
    says(format!("gets one echo per {}", secs(BOUNCE_WINDOW)));
    says(format!(
        "then listens {} ms more for a second listener with it",
        NAME_SETTLE.as_millis()
    ));
    says(format!(
        "None within `--resolve-timeout` (default {})",
        secs(RESOLVE_TIMEOUT)
    ));
}

#[test]
fn protocol_quotes_the_same_numbers() {
    let protocol = doc("docs/PROTOCOL.md");
    let says = |phrase: String| assert_says(&protocol, "docs/PROTOCOL.md", &phrase);
    says(format!("IP TTL (IPv6 hop limit) of **{GROUP_TTL}**"));
    says(format!(
        "arriving on another interface within {}, are the same datagram",
        secs(GROUP_COPIES_FOR)
    ));
    says(format!(
        "same address and port twice within {}",
        secs(BOUNCE_WINDOW)
    ));
    says(format!("listens {} ms more", NAME_SETTLE.as_millis()));
}

#[test]
fn decisions_quote_the_same_numbers() {
    let decisions = doc("docs/DECISIONS.md");
    let says = |phrase: String| assert_says(&decisions, "docs/DECISIONS.md", &phrase);
    says(format!(
        "a loop stays under {} a second for ever",
        thousands(ECHOES_PER_SOURCE)
    ));
    says(format!(
        "same address and port twice within {}",
        secs(BOUNCE_WINDOW)
    ));
    says(format!(
        "whatever the round trip (up to {})",
        secs(BOUNCE_WINDOW)
    ));
    says(format!(
        "from one port within {}: they get one echo",
        secs(BOUNCE_WINDOW)
    ));
}

#[test]
fn groups_follow_the_interfaces_as_often_as_they_are_read() {
    // "a second" below is IFACE_POLL.
    assert_eq!(IFACE_POLL, Duration::from_secs(1));
    assert_says(
        &doc("README.md"),
        "README.md",
        "is joined within a second (the listener reads the interface list once a second)",
    );
    assert_says(
        &doc("docs/DECISIONS.md"),
        "docs/DECISIONS.md",
        "hears the group there within a second",
    );
    assert_says(
        &doc("docs/PROTOCOL.md"),
        "docs/PROTOCOL.md",
        "on an interface that comes up later within a second of it",
    );
}

#[test]
fn help_quotes_the_same_numbers() {
    let mut command = Cli::full_command();
    let mut help = |name: &str| {
        let sub = command
            .find_subcommand_mut(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"));
        squeeze(&sub.render_long_help().to_string())
    };
    let listen = help("listen");
    assert_says(
        &listen,
        "listen --help",
        &format!("same source twice within {}", secs(BOUNCE_WINDOW)),
    );
    let send = help("send");
    assert_says(
        &send,
        "send --help",
        &format!("to a multicast group {GROUP_TTL} unless given"),
    );
    // --resolve-timeout has no clap default (given without @NAME it is an
    // error), so its help says the default in words.
    let resolve = format!(
        "how long to wait for that listener to answer discovery [default: {}]",
        humantime::format_duration(RESOLVE_TIMEOUT)
    );
    assert_says(&send, "send --help", &resolve);
    assert_says(&help("ping"), "ping --help", &resolve);
}

/// Every reason a `discover --watch` change line can give is in README,
/// docs/JSON.md and `discover --help` (the three listed different sets).
#[test]
fn every_changed_reason_is_named_in_the_readme_json_md_and_help() {
    use udpmsg::commands::watch::table::Reason;
    let readme = doc("README.md");
    let json = doc("docs/JSON.md");
    let mut command = Cli::full_command();
    let help = squeeze(
        &command
            .find_subcommand_mut("discover")
            .expect("discover")
            .render_long_help()
            .to_string(),
    );
    // Where each lists them.
    let from = |text: &str, start: &str, len: usize| -> String {
        let at = text.find(start).unwrap_or_else(|| panic!("no {start:?}"));
        text[at..].chars().take(len).collect()
    };
    let readme = from(&readme, "`=` **changed**", 300);
    let json = from(&json, "### `changed`", 300);
    let help = from(&help, "'=' changed", 60);
    for reason in [
        Reason::Addrs,
        Reason::Name,
        Reason::Port,
        Reason::Room,
        Reason::Restarted,
    ] {
        let word = reason.word();
        assert_says(&readme, "README.md", &format!("`{word}`"));
        assert_says(&json, "docs/JSON.md", &format!("`{word}`"));
        assert!(help.contains(word), "discover --help does not name {word}");
    }
}
