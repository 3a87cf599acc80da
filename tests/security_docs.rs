//! The numbers README.md's Security and Discovery sections and
//! docs/PROTOCOL.md quote about limits are the code's: each phrase is
//! built from the constant it quotes, so changing one without the other
//! fails here. And `send --ack`'s help says what an ack without a key is
//! worth.

mod common;

use common::docs::{assert_says, doc, thousands};

use udpmsg::commands::discover::{MAX_ADDRS, MAX_ANSWER, MAX_PEERS};
use udpmsg::commands::listen::handler::{
    ANSWERS_PER_SOURCE, ANSWERS_TOTAL, PONGS_PER_SOURCE, PONGS_TOTAL,
};
use udpmsg::commands::listen::limit::{IDLE, RATE_TABLE};
use udpmsg::net::iface::DISCOVERY_GROUP_V6;
use udpmsg::wire::MAX_NAME;

#[test]
fn readme_quotes_the_limits_the_code_applies() {
    let readme = doc("README.md");
    let says = |phrase: String| assert_says(&readme, "README.md", &phrase);
    says(format!(
        "({ANSWERS_PER_SOURCE}/s per source, {ANSWERS_TOTAL}/s in all;"
    ));
    says(format!(
        "at most {ANSWERS_PER_SOURCE} a second from each listener"
    ));
    says(format!(
        "({ANSWERS_TOTAL} a second from one listener over all sources)"
    ));
    says(format!(
        "pongs are limited to {} a second per source address and {} a second in all",
        thousands(PONGS_PER_SOURCE),
        thousands(PONGS_TOTAL)
    ));
    says(format!(
        "gets its first {0} pongs at full speed and then {0} a second",
        thousands(PONGS_PER_SOURCE)
    ));
    assert_eq!(IDLE.as_secs(), 1, "the README says a second");
    says(format!(
        "Each limit remembers {RATE_TABLE} source addresses, and forgets one only after it has been idle for a second"
    ));
    says(format!("refuses answers with names over {MAX_NAME} bytes"));
    says(format!(
        "keeps at most {MAX_ADDRS} addresses per listener (in a set"
    ));
    says(format!(
        "and at most {MAX_PEERS} listeners, first come first listed"
    ));
    says(format!("answered from, at most {MAX_ADDRS})"));
    says(format!(
        "At most {MAX_PEERS} listeners are listed, the first to answer"
    ));
}

#[test]
fn readme_quotes_the_probe_size_and_group_the_code_uses() {
    let readme = doc("README.md");
    let says = |phrase: String| assert_says(&readme, "README.md", &phrase);
    says(format!("(probes are padded to {MAX_ANSWER} bytes)"));
    says(format!("the link-local group `{DISCOVERY_GROUP_V6}`"));
}

#[test]
fn protocol_quotes_the_limits_the_code_applies() {
    let protocol = doc("docs/PROTOCOL.md");
    let says = |phrase: String| assert_says(&protocol, "docs/PROTOCOL.md", &phrase);
    says(format!(
        "(udpmsg: {ANSWERS_PER_SOURCE} a second per source address and {ANSWERS_TOTAL} a second in all)"
    ));
    says(format!(
        "(udpmsg: {} a second per source address and {} a second in all, except to a loopback source",
        thousands(PONGS_PER_SOURCE),
        thousands(PONGS_TOTAL)
    ));
    says(format!("whose name is longer than {MAX_NAME} bytes"));
    says(format!(
        "at most {MAX_ADDRS} addresses per `instance` and {MAX_PEERS} instances, the first to answer"
    ));
}

#[test]
fn ack_help_says_it_does_not_protect_against_attackers_without_a_key() {
    if !common::isolate("ack_help_says_it_does_not_protect_against_attackers_without_a_key") {
        return;
    }
    let run = common::udpmsg(&["send", "--help"], b"");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let help = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("Without --key-file this protects against loss, not against attackers"),
        "{help}"
    );
}
