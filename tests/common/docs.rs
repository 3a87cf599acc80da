//! Reading the project's documents in tests that pin the numbers they
//! quote to the code's constants.

/// The document at `path` (from the crate root), its whitespace squeezed
/// to single spaces, so a phrase matches across line breaks.
pub fn doc(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"));
    squeeze(&text)
}

/// `text` with every run of whitespace one space.
pub fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `n` with a comma between thousands, as the documents write numbers.
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fails unless document `name` (squeezed) says `phrase`.
pub fn assert_says(doc: &str, name: &str, phrase: &str) {
    assert!(doc.contains(phrase), "{name} should say {phrase:?}");
}
