//! Escaping for text output: which characters are escaped and how
//! (`\n`, `\x1b`, `\u202e`), into a buffer or a new string.

use super::scan::{Shown, first_escape, may_disrupt, printable_ascii, shown};
use super::{Escape, Push, push_escaped, reorders_or_breaks};

/// How text output shows `bytes`: as they are, escaped from some point on
/// ([`push_text_escaped`]), or not at all (not UTF-8). Printable ASCII is
/// skipped a chunk at a time; UTF-8 is checked only from the first other
/// byte on.
pub fn shown_text(bytes: &[u8]) -> Shown<'_> {
    shown(bytes, |b| !printable_ascii(b), first_text_escape)
}

/// The text escape for `c`, or `None` when it is shown as itself. Each
/// class of escaped characters is one arm; a new class is one new line
/// here (and, if its UTF-8 starts with a new lead byte, one in
/// [`may_escape`]).
pub(super) fn escape_of(c: char) -> Option<Escape> {
    match c {
        '\t' => None, // shown as a tab: harmless, and columns stay aligned
        '\n' => Some(Escape::Short("\\n")),
        '\r' => Some(Escape::Short("\\r")),
        '\0'..='\x1f' | '\x7f' => Some(Escape::Byte(c as u8)), // C0 controls, DEL
        '\u{80}'..='\u{9f}' => Some(Escape::CodePoint(c)),     // C1 controls
        c if reorders_or_breaks(c) => Some(Escape::CodePoint(c)), // bidi, separators
        _ => None,
    }
}

/// True for every byte that can start the UTF-8 of a character
/// [`escape_of`] escapes: text without these bytes is shown as it is.
/// These are exactly the [`disruptive`](super::disruptive) characters' lead bytes.
#[inline]
pub(super) fn may_escape(b: u8) -> bool {
    may_disrupt(b)
}

fn first_text_escape(text: &str) -> Option<usize> {
    first_escape(text, may_escape, escape_of)
}

/// Appends `text` with every [`disruptive`](super::disruptive) character but the tab
/// escaped, so a peer cannot break lines, reorder them or drive the
/// terminal: `\n` and `\r` by name, other C0 controls and DEL as `\xNN`
/// (`\x1b`), C1 controls, bidi controls and separators as `\uNNNN`
/// (`\u009b`, `\u202e`); a tab stays a tab.
pub fn push_text_escaped(out: &mut impl Push, text: &str) {
    push_escaped(out, text, may_escape, escape_of);
}

/// As [`push_text_escaped`], into a `String`.
pub fn escape_into(s: &mut String, text: &str) {
    push_text_escaped(s, text);
}

/// `text` escaped as [`escape_into`] does, as a new string.
pub fn escaped(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    escape_into(&mut s, text);
    s
}
