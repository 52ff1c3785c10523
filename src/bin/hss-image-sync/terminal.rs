//! Text from elsewhere (a server's answer, a client's request) made safe to print.

use std::borrow::Cow;

/// At most this many characters of one piece of text from elsewhere are printed: a server's
/// error message of a megabyte would bury everything else.
pub const MAX_SHOWN_CHARS: usize = 4096;

/// Server-provided text made safe for a terminal: every control character (C0 including
/// ESC, BEL and CR, DEL, and C1 such as CSI) is written as a `\u{..}` escape, so an answer
/// cannot move the cursor, retitle the window or hide what came before it; and text longer
/// than [`MAX_SHOWN_CHARS`] is cut there, saying so.
pub fn printable(text: &str) -> Cow<'_, str> {
    let long = text.len() > MAX_SHOWN_CHARS && text.chars().nth(MAX_SHOWN_CHARS).is_some();
    // Printable ASCII, the common case, checked a byte at a time rather than a char.
    if !long
        && (text.bytes().all(|b| (b' '..=b'~').contains(&b)) || !text.chars().any(char::is_control))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN_CHARS * 4));
    for c in text.chars().take(MAX_SHOWN_CHARS) {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    if long {
        out.push_str(&format!(
            "… [cut: the first {MAX_SHOWN_CHARS} of {} characters shown]",
            text.chars().count()
        ));
    }
    Cow::Owned(out)
}

/// JSON as serde_json writes it escapes C0 controls but leaves C1 controls raw: escaped too,
/// and the JSON stays valid.
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(
            printable("a\u{1b}[2Jb\r\u{9b}c\u{7f}é"),
            "a\\u{1b}[2Jb\\u{d}\\u{9b}c\\u{7f}é"
        );
        let json = "{\n  \"k\": \"\u{9b}x\"\n}";
        let safe = json_for_terminal(json);
        assert_eq!(safe, "{\n  \"k\": \"\\u009bx\"\n}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["k"], "\u{9b}x");
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let exact = "é".repeat(MAX_SHOWN_CHARS);
        assert_eq!(printable(&exact), exact.as_str());
        let long = format!("{}\u{1b}tail", "x".repeat(1 << 20));
        let shown = printable(&long);
        assert!(
            shown.starts_with(&"x".repeat(MAX_SHOWN_CHARS)),
            "{}",
            &shown[..10]
        );
        assert!(!shown.contains("tail") && !shown.contains('\u{1b}'));
        assert!(
            shown.ends_with(&format!(
                "… [cut: the first {MAX_SHOWN_CHARS} of {} characters shown]",
                (1 << 20) + 5
            )),
            "{}",
            &shown[shown.len() - 80..]
        );
        assert!(shown.chars().count() < MAX_SHOWN_CHARS + 100);
    }
}
