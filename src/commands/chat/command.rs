//! What a line of input asks for: a message to the room, or one of the
//! `/` commands. The same in a terminal and from a pipe.

/// One line of input, understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A message to the room: the line itself (`/me waves` included: an
    /// action is a message whose text starts with `/me `, shown as one by
    /// every member), or the line without its first `/` when it started
    /// with `//`.
    Say(&'a [u8]),
    /// `/msg NAME text`: to one member only.
    Msg { to: &'a str, text: &'a [u8] },
    /// `/who`: the members, their addresses, when last heard.
    Who,
    /// `/name NEW`: take a new name.
    Name(&'a str),
    /// `/quit`: leave (after the messages in flight are resolved).
    Quit,
    /// An empty line: nothing to do.
    Empty,
    /// A known command used wrongly: how to use it.
    Usage(&'static str),
    /// `/something` that is not a command (the word, as typed).
    Unknown(&'a [u8]),
}

/// The commands, for the hint an unknown one gets.
pub const COMMANDS: &str =
    "/who, /msg NAME text, /me action, /name NEW, /quit (// sends a line starting with /)";

/// Understands one line (without its line ending).
pub fn parse(line: &[u8]) -> Line<'_> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Empty;
    }
    if line.starts_with(b"//") {
        return Line::Say(&line[1..]);
    }
    let Some(command) = line.strip_prefix(b"/") else {
        return Line::Say(line);
    };
    let (word, rest) = match command.iter().position(|b| *b == b' ') {
        Some(i) => (&command[..i], trim(&command[i + 1..])),
        None => (command, &[][..]),
    };
    match word {
        b"who" if rest.is_empty() => Line::Who,
        b"who" => Line::Usage("/who takes no arguments"),
        b"quit" => Line::Quit,
        b"me" if rest.is_empty() => Line::Usage("/me action: say what you do"),
        b"me" => Line::Say(line),
        b"msg" => {
            let (to, text) = match rest.iter().position(|b| *b == b' ') {
                Some(i) => (&rest[..i], trim(&rest[i + 1..])),
                None => (rest, &[][..]),
            };
            match std::str::from_utf8(to) {
                Ok(to) if !to.is_empty() && !text.is_empty() => Line::Msg { to, text },
                _ => Line::Usage("/msg NAME text: to one member only"),
            }
        }
        b"name" => match std::str::from_utf8(rest) {
            Ok(name) if !name.is_empty() => Line::Name(name),
            _ => Line::Usage("/name NEW: a new name (UTF-8)"),
        },
        _ => Line::Unknown(word),
    }
}

/// `bytes` without leading and trailing spaces.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_messages_or_commands() {
        assert_eq!(parse(b"hello"), Line::Say(b"hello"));
        assert_eq!(parse(b"  "), Line::Empty);
        assert_eq!(parse(b""), Line::Empty);
        assert_eq!(parse(b"//etc/passwd"), Line::Say(b"/etc/passwd"));
        assert_eq!(parse(b"/me waves"), Line::Say(b"/me waves"));
        assert_eq!(parse(b"/me"), Line::Usage("/me action: say what you do"));
        assert_eq!(parse(b"/who"), Line::Who);
        assert_eq!(parse(b"/quit"), Line::Quit);
        assert_eq!(parse(b"/name  bob "), Line::Name("bob"));
        assert_eq!(
            parse(b"/msg carol  see you "),
            Line::Msg {
                to: "carol",
                text: b"see you"
            }
        );
        assert!(matches!(parse(b"/msg carol"), Line::Usage(_)));
        assert!(matches!(parse(b"/name"), Line::Usage(_)));
        assert_eq!(parse(b"/shrug x"), Line::Unknown(b"shrug"));
        assert_eq!(parse(b"/"), Line::Unknown(b""));
    }
}
