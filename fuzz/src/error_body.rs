//! `error_body`: `error_body::parse` over any bytes, checked against serde_json's own reading.

use hss_image_sync::error_body;

/// `error_body::parse` over any body: never panics, `error_code` never empty, what is not a
/// JSON object keeps its lossy text, the codes and messages of an object are its strings, and
/// the status matters only as the fallback code.
pub fn check_error_body(data: &[u8]) {
    let status = 400 + (data.len() % 200) as u16;
    let fields = error_body::parse(status, data);
    assert!(
        !fields.error_code.is_empty(),
        "empty error_code for {data:?}"
    );

    let value = serde_json::from_slice::<serde_json::Value>(data);
    match value.as_ref().ok().and_then(|v| v.as_object()) {
        None => {
            // Not JSON, or JSON but not an object: nothing is taken from it.
            assert_eq!(fields.error_msg, String::from_utf8_lossy(data));
            assert_eq!(fields.error_code, status.to_string());
            assert_eq!(fields.encoded_authorization_message, None);
        }
        Some(members) => {
            let text = |key: &str| members.get(key).and_then(|v| v.as_str());
            if let (Some(code), Some(msg)) = (text("error_code"), text("error_msg"))
                && !code.is_empty()
                && !msg.is_empty()
            {
                assert_eq!(fields.error_code, code);
                assert_eq!(fields.error_msg, msg);
            }
            if let Some(encoded) = text("encoded_authorization_message") {
                assert_eq!(
                    fields.encoded_authorization_message.as_deref(),
                    Some(encoded)
                );
            }
        }
    }

    // Another status changes only a fallback code.
    let other = error_body::parse(0, data);
    assert_eq!(other.error_msg, fields.error_msg);
    assert_eq!(
        other.encoded_authorization_message,
        fields.encoded_authorization_message
    );
    if fields.error_code != status.to_string() {
        assert_eq!(other.error_code, fields.error_code);
    } else {
        assert!(other.error_code == "0" || other.error_code == fields.error_code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deep nesting is refused by serde_json's recursion limit even through the crate's custom
    /// deserializer: no stack overflow, the body is kept as text.
    #[test]
    fn deeply_nested_error_bodies_do_not_overflow() {
        for depth in [127, 128, 129, 10_000, 1_000_000] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                check_error_body(body.as_bytes());
                let fields = error_body::parse(400, body.as_bytes());
                if depth > 128 {
                    assert_eq!(fields.error_msg, body);
                    assert_eq!(fields.error_code, "400");
                }
            }
        }
        // Nested objects searched for the code, just under the limit.
        let body = format!(
            "{}{{\"error_code\":\"E\",\"error_msg\":\"deep\"}}{}",
            "{\"a\":".repeat(126),
            "}".repeat(126)
        );
        let fields = error_body::parse(400, body.as_bytes());
        assert_eq!(
            (fields.error_code.as_str(), fields.error_msg.as_str()),
            ("E", "deep")
        );
    }
}
