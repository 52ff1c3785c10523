//! Text from elsewhere (a server's answer, a client's request) made safe to print.

use std::borrow::Cow;

/// Server-provided text made safe for a terminal: every control character (C0 including
/// ESC, BEL and CR, DEL, and C1 such as CSI) is written as a `\u{..}` escape, so an answer
/// cannot move the cursor, retitle the window or hide what came before it.
pub fn printable(text: &str) -> Cow<'_, str> {
    // Printable ASCII, the common case, checked a byte at a time rather than a char.
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) || !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
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
}
