//! Re-spaces compact JSON the way the official Python SDK writes bodies (`simplejson.dumps`
//! defaults: `", "` and `": "` separators, non-ASCII as `\uXXXX`), so our requests carry the
//! same bytes as the SDK's. The signature covers whatever bytes are sent, so this is about
//! wire-compatibility, not about correctness of the signature.

/// Rewrites `compact` (valid JSON as serde_json writes it). Input that is not UTF-8 is returned
/// unchanged.
pub fn python_style(compact: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(compact) else {
        return compact.to_vec();
    };
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            if c.is_ascii() && c != '\u{7f}' {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            continue;
        }
        out.push(c);
        match c {
            '"' => in_string = true,
            ',' | ':' => out.push(' '),
            _ => {}
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::python_style;

    fn py(s: &str) -> String {
        String::from_utf8(python_style(s.as_bytes())).unwrap()
    }

    #[test]
    fn spaces_separators_outside_strings_only() {
        assert_eq!(
            py(r#"{"image_type":"private_image"}"#),
            r#"{"image_type": "private_image"}"#
        );
        assert_eq!(
            py(r#"{"a":[1,2],"b":"x,y:z"}"#),
            r#"{"a": [1, 2], "b": "x,y:z"}"#
        );
        assert_eq!(
            py(r#"{"a":"q\"u,o:te\\","b":1}"#),
            r#"{"a": "q\"u,o:te\\", "b": 1}"#
        );
    }

    #[test]
    fn escapes_non_ascii_like_ensure_ascii() {
        assert_eq!(py(r#"{"k":"é😀"}"#), r#"{"k": "\u00e9\ud83d\ude00"}"#);
        assert_eq!(py("[\"\u{7f}\"]"), r#"["\u007f"]"#);
    }
}
