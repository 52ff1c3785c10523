//! Checks of values the spec does not constrain but HTTP does: header values (credentials go
//! into headers) and values that must not be empty.

use crate::error::Error;

/// A header value may not hold control characters other than tab (RFC 9110 field-value); the
/// value itself is never echoed, as it may be a secret.
pub(crate) fn header_value(field: &'static str, value: &str) -> Result<(), Error> {
    match value
        .chars()
        .find(|c| c.is_control() && *c != '\t' && (*c as u32) < 0x80)
    {
        Some(c) => Err(Error::InvalidInput {
            field,
            rule: format!(
                "must not contain control characters (found U+{:04X}); it is sent as an HTTP header",
                c as u32
            ),
        }),
        None => Ok(()),
    }
}

/// A value that must not be empty.
pub(crate) fn non_empty(field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::InvalidInput {
            field,
            rule: "must not be empty".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rule_names_the_character_not_the_value() {
        let err = header_value("X-Auth-Token", "secret\r\nvalue").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("X-Auth-Token") && text.contains("U+000D"),
            "{text}"
        );
        assert!(!text.contains("secret"));
        assert!(header_value("region", "cn-north-4\tx").is_ok());
        assert!(header_value("region", "中国").is_ok());
        assert!(header_value("region", "a\u{7f}").is_err());
    }
}
