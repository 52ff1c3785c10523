//! Request validation before anything is sent. Length rules come from the spec, through the
//! generated types; this module adds the field name, and the HTTP rule for header values.

use crate::error::Error;
use std::str::FromStr;

/// Parses `value` into the generated, spec-constrained type `T`, naming `field` on failure.
pub(crate) fn spec_value<T>(field: &'static str, value: &str) -> Result<T, Error>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| Error::InvalidInput {
        field,
        rule: e.to_string(),
    })
}

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
