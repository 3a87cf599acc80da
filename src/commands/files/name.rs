//! The name a received file is stored under: made from the name its sender
//! offered, safe to create in the save directory, never another file's.
//!
//! Only the offered name's last component is used (after `/` or `\`), so
//! no offer names a directory, `..` or an absolute path; leading dots are
//! dropped (no hidden files, no `.` or `..`); control characters, Unicode
//! bidi controls and line separators become `_`; the result is at most
//! [`MAX_NAME`] bytes (cut before the extension, at a character boundary);
//! an empty result becomes [`FALLBACK`]. Another file of that name is never
//! replaced (unless asked): `name (1).ext`, `name (2).ext`... instead.

/// Longest stored name, in bytes: below the usual 255-byte limit of a
/// file name, with room for a ` (NNNN)` suffix.
pub const MAX_NAME: usize = 200;
/// The name of a file whose offered name has nothing usable.
pub const FALLBACK: &str = "file";
/// Longest extension kept whole when a long name is cut.
const MAX_EXTENSION: usize = 16;

/// The safe name for an offered `name`.
pub fn safe_name(offered: &str) -> String {
    let last = offered
        .rsplit(['/', '\\'])
        .find(|part| !part.is_empty())
        .unwrap_or("");
    let mut name: String = last
        .trim_start_matches('.')
        .chars()
        .map(|c| if unsafe_char(c) { '_' } else { c })
        .collect();
    if name.trim().is_empty() {
        name = FALLBACK.to_string();
    }
    if name.len() > MAX_NAME {
        name = shorten(&name, MAX_NAME);
    }
    name
}

/// Characters never put in a stored name: C0 and C1 controls, DEL, the
/// bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) and the
/// line and paragraph separators (they reorder or break how a listing
/// shows), and the replacement character of an undecodable offer.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{fffd}'
        )
}

/// `name` cut to at most `max` bytes, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    let (stem, ext) = match split_extension(name) {
        (stem, ext) if ext.len() <= MAX_EXTENSION => (stem, ext),
        _ => (name, ""),
    };
    let room = max - ext.len();
    let mut end = room.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}

/// `("report", ".pdf")`; a name without a dot after its first character has
/// no extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// The `n`th alternative to `name`: `name (n).ext` (n from 1), within
/// [`MAX_NAME`] + the suffix.
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = split_extension(name);
    format!("{stem} ({n}){ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_component_without_leading_dots() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("/abs/path"), "path");
        assert_eq!(safe_name("C:\\Users\\me\\a.txt"), "a.txt");
        assert_eq!(safe_name("dir/"), "dir");
        assert_eq!(safe_name(".hidden"), "hidden");
        assert_eq!(safe_name("..."), FALLBACK);
        assert_eq!(safe_name(".."), FALLBACK);
        assert_eq!(safe_name(""), FALLBACK);
        assert_eq!(safe_name("/"), FALLBACK);
        assert_eq!(safe_name("  "), FALLBACK);
        assert_eq!(safe_name("a.b.c"), "a.b.c");
    }

    #[test]
    fn control_and_bidi_characters_become_underscores() {
        assert_eq!(safe_name("a\x1bb"), "a_b");
        assert_eq!(safe_name("a\nb\0c\u{7f}d\u{85}"), "a_b_c_d_");
        assert_eq!(safe_name("evil\u{202e}fdp.exe"), "evil_fdp.exe");
        assert_eq!(safe_name("x\u{2028}y"), "x_y");
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.tar.gz", "n".repeat(300));
        let safe = safe_name(&long);
        assert_eq!(safe.len(), MAX_NAME);
        assert!(safe.ends_with("n.gz"), "{safe}");
        let wide = "é".repeat(150); // 300 bytes, 2 each
        let safe = safe_name(&wide);
        assert!(safe.len() <= MAX_NAME && safe.len() >= MAX_NAME - 1);
        assert!(safe.chars().all(|c| c == 'é'));
        let odd_ext = format!("a.{}", "x".repeat(250));
        assert_eq!(safe_name(&odd_ext).len(), MAX_NAME);
    }

    #[test]
    fn numbered_names_go_before_the_extension() {
        assert_eq!(numbered("a.txt", 1), "a (1).txt");
        assert_eq!(numbered("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(numbered("README", 3), "README (3)");
    }
}
