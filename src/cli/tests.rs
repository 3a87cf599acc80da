//! Tests of the command-line definition: its consistency, its short
//! letters, its examples, and the value parsers.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

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
    let doc = include_str!("../../docs/DECISIONS.md");
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
    let readme = include_str!("../../README.md");
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
