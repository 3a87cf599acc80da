//! The numbers README.md quotes about confirmed delivery and discovery are
//! the code's: each phrase is built from the constant it quotes, so changing
//! one without the other fails here.

use std::net::SocketAddr;
use std::time::Duration;
use udpmsg::cli::Cli;
use udpmsg::commands::deliver::{DEFAULT_TIMEOUT, GONE_AFTER};
use udpmsg::commands::discover::{MAX_ROUND_GAP, STEADY_EVERY, STEADY_UNTIL, round_at};
use udpmsg::commands::listen::DEFAULT_GAP_WAIT;
use udpmsg::reliable::order::{FORGET_AFTER, MAX_HELD_BYTES, MAX_ORDER_SENDERS};
use udpmsg::reliable::outbox::{INITIAL_CWND, MAX_CWND, MESSAGE_PATIENCE, MIN_CWND, WINDOW};
use udpmsg::reliable::rtt::{MAX_RTO, MIN_RTO};
use udpmsg::seal::{MAX_REPLAY_SENDERS, MAX_SKEW, REPLAY_WINDOW};

/// README.md with every run of white space made one space.
fn readme() -> String {
    doc("README.md")
}

/// The document at `path` (from the crate root), white space squeezed.
fn doc(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    squeeze(&text)
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn s(d: Duration) -> u64 {
    d.as_secs()
}

fn kib(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[test]
fn readme_quotes_the_delivery_numbers_the_code_uses() {
    let readme = readme();
    for phrase in [
        format!("RFC 6298 estimate, {}–{} ms", ms(MIN_RTO), ms(MAX_RTO)),
        format!("Up to {WINDOW} messages are in flight"),
        format!(
            "({} at the start, {} to {})",
            kib(INITIAL_CWND),
            kib(MIN_CWND),
            kib(MAX_CWND)
        ),
        format!("`--timeout` (default {} s)", s(DEFAULT_TIMEOUT)),
        format!("retried for at most {} s", s(MESSAGE_PATIENCE)),
        format!("instead of waiting {} s", s(DEFAULT_GAP_WAIT)),
        format!("it tracks {MAX_ORDER_SENDERS} senders at most"),
        format!("one silent for {} s is forgotten", s(FORGET_AFTER)),
        format!("at most {MAX_ORDER_SENDERS} senders (a compact entry each"),
        format!(
            "at most {} MiB of held out-of-order messages",
            MAX_HELD_BYTES >> 20
        ),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
    // What the README promises of these numbers.
    assert!(MESSAGE_PATIENCE < DEFAULT_GAP_WAIT && MESSAGE_PATIENCE < FORGET_AFTER);
}

#[test]
fn readme_quotes_the_discovery_schedule_the_code_follows() {
    let readme = readme();
    let rounds = |within: Duration| (0..1000).take_while(|&r| round_at(r) < within).count();
    for phrase in [
        format!(
            "at 0, 100 and 500 ms, then every {} ms until {} s, then at doubling gaps (at most {} s apart)",
            ms(STEADY_EVERY),
            s(STEADY_UNTIL),
            s(MAX_ROUND_GAP)
        ),
        format!(
            "(1 s by default: {} rounds; `-t 3s` gives a listener {} chances",
            rounds(Duration::from_secs(1)),
            rounds(Duration::from_secs(3))
        ),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
}

#[test]
fn readme_quotes_the_replay_limits_the_code_applies() {
    let readme = readme();
    for phrase in [
        format!(
            "a per-sender window of {REPLAY_WINDOW} counters and a ±{} s timestamp window",
            s(MAX_SKEW)
        ),
        format!("the replay table keeps {MAX_REPLAY_SENDERS} senders"),
        format!("clocks must agree within {} s", s(MAX_SKEW)),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
}

#[test]
fn the_docs_quote_how_long_a_listener_that_went_away_is_waited_for() {
    let readme = readme();
    // The line the sender prints, as the README quotes it.
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let line =
        udpmsg::output::send::gone_line(&addr.into(), GONE_AFTER).replace("127.0.0.1:9", "ADDR");
    for phrase in [
        format!(
            "once its port has refused for {} s with no ack",
            s(GONE_AFTER)
        ),
        format!("`{line}`"),
        format!(
            "also when the listener went away, its port closed for {} s after it had answered",
            s(GONE_AFTER)
        ),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
    let protocol = doc("docs/PROTOCOL.md");
    let phrase = format!(
        "once the port has refused for {} s with no Ack since the first refusal",
        s(GONE_AFTER)
    );
    assert!(
        protocol.contains(&phrase),
        "docs/PROTOCOL.md should say {phrase:?}"
    );
    let mut command = Cli::full_command();
    let send = command.find_subcommand_mut("send").expect("send");
    let help = squeeze(&send.render_long_help().to_string());
    for phrase in [
        format!(
            "once the listener went away (its port closed for {}s, no ack)",
            s(GONE_AFTER)
        ),
        format!("[default: as many as fit in {}s]", s(MESSAGE_PATIENCE)),
    ] {
        assert!(help.contains(&phrase), "send --help should say {phrase:?}");
    }
    // What the README promises: a listener is waited for as long as a
    // message is retried.
    assert_eq!(GONE_AFTER, MESSAGE_PATIENCE);
}
