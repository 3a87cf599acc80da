//! The numbers README.md, docs/PROTOCOL.md and docs/DECISIONS.md quote
//! about `udpmsg chat` are the code's.

mod common;

use common::docs::doc;
use udpmsg::commands::chat::{self, members, room};
use udpmsg::commands::watch::table::REFRESH_AT;
use udpmsg::reliable::outbox::MESSAGE_PATIENCE;

#[test]
fn docs_quote_the_chats_numbers() {
    let readme = doc("README.md");
    for phrase in [
        format!("(`--patience`, {} s)", MESSAGE_PATIENCE.as_secs()),
        format!("{} s by default", chat::DEFAULT_EVERY.as_secs()),
        format!("longer than {} bytes", room::MAX_MESSAGE),
        format!(
            "{} messages a second taken from one address",
            chat::TEXTS_PER_SOURCE
        ),
        format!(
            "sends each member at most {} datagrams a second",
            room::PACE
        ),
        format!(
            "reads no line for its first {} ms",
            chat::start_wait(chat::DEFAULT_EVERY).as_millis()
        ),
        format!(
            "and {} ms for the last answers",
            chat::START_GRACE.as_millis()
        ),
        format!("{} members", members::MAX_MEMBERS),
        format!("{} messages of one's own", room::MAX_PENDING),
        format!(
            "first {} digits of its id",
            ["", "one", "two", "three", "four"][members::TAG_DIGITS]
        ),
    ] {
        assert!(readme.contains(&phrase), "README.md should say {phrase:?}");
    }
    assert_eq!(chat::DEFAULT_EVERY.as_secs(), 5);
    let protocol = doc("docs/PROTOCOL.md");
    for phrase in [
        format!(
            "first heard less than {} s before",
            members::WELCOME_WINDOW.as_secs()
        ),
        format!(
            "at most {} a second per address, {} in all",
            chat::WELCOMES_PER_SOURCE,
            chat::WELCOMES_TOTAL
        ),
        format!("for {}% of their lifetime", REFRESH_AT[0]),
    ] {
        assert!(
            protocol.contains(&phrase),
            "PROTOCOL.md should say {phrase:?}"
        );
    }
    let decisions = doc("docs/DECISIONS.md");
    for phrase in [
        format!(
            "first hellos (within {} s)",
            members::WELCOME_WINDOW.as_secs()
        ),
        format!(
            "takes at most {} messages a second from one address",
            chat::TEXTS_PER_SOURCE
        ),
        format!("({} datagrams a second, as many saved up)", room::PACE),
        format!(
            ": {} ms with the default period",
            chat::start_wait(chat::DEFAULT_EVERY).as_millis()
        ),
    ] {
        assert!(
            decisions.contains(&phrase),
            "DECISIONS.md should say {phrase:?}"
        );
    }
}
