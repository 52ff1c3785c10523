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

/// Checks a secret against its spec type `T` without keeping a copy: the parsed value is turned
/// back into its `String` and wiped.
pub(crate) fn secret_spec_value<T>(field: &'static str, value: &str) -> Result<(), Error>
where
    T: FromStr + Into<String>,
    T::Err: std::fmt::Display,
{
    let checked: T = spec_value(field, value)?;
    zeroize::Zeroize::zeroize(&mut checked.into());
    Ok(())
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

/// A path parameter must reach the wire as itself: the generated code encodes it with
/// progenitor's `encode_path` and the URL parser reads the result, which turns `\` into `/` and
/// resolves `.` and `..` as dot segments. The official SDKs encode with `quote(safe='')`, which
/// keeps all of these; rather than send a different path than the SDK (or than asked), such
/// values are refused.
pub(crate) fn path_segment(field: &'static str, value: &str) -> Result<(), Error> {
    if value == "." || value == ".." {
        return Err(Error::InvalidInput {
            field,
            rule: "\".\" and \"..\" cannot be sent as a URL path segment".into(),
        });
    }
    if survives_url_encoding(value) {
        return Ok(());
    }
    let culprit = value
        .chars()
        .find(|c| !survives_url_encoding(c.encode_utf8(&mut [0; 4])));
    Err(Error::InvalidInput {
        field,
        rule: match culprit {
            Some(c) => format!(
                "the character {c:?} cannot be sent in a URL path segment as the official SDKs \
                 send it"
            ),
            None => "cannot be sent as a URL path segment as the official SDKs send it".into(),
        },
    })
}

/// Whether `value`, encoded and parsed as the generated code does, decodes back to itself.
fn survives_url_encoding(value: &str) -> bool {
    // Letters, digits, `-` and `_` (every project ID) are left alone by every encoder and
    // parser: no need to build and parse a URL at each call.
    if plain_segment(value) {
        return true;
    }
    round_trips(value)
}

fn plain_segment(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn round_trips(value: &str) -> bool {
    let url = format!("http://h/{}/end", progenitor_client::encode_path(value));
    let Ok(parsed) = reqwest::Url::parse(&url) else {
        return false;
    };
    let mut segments = parsed.path_segments().into_iter().flatten();
    match (segments.next(), segments.next(), segments.next()) {
        (Some(segment), Some("end"), None) => {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()
                .as_deref()
                == Some(value)
        }
        _ => false,
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

    #[test]
    fn path_segments_that_would_change_on_the_way_are_refused() {
        for ok in ["0a1b2c", "a/b", "a%2Fb", "a b", "é", "a?b#c", "%", "..."] {
            assert!(path_segment("project_id", ok).is_ok(), "{ok}");
        }
        let err = path_segment("project_id", "a\\b").unwrap_err().to_string();
        assert!(
            err.contains("project_id") && err.contains("'\\\\'"),
            "{err}"
        );
        for bad in [".", ".."] {
            assert!(path_segment("project_id", bad).is_err());
        }
    }

    #[test]
    fn the_plain_shortcut_agrees_with_the_round_trip() {
        let mut plain = 0;
        for a in 0..=127u8 {
            for b in [b'a', b'0', b'-', b'.', b'%', b'\\', b'/'] {
                let value = String::from_utf8(vec![a, b]).unwrap();
                if plain_segment(&value) {
                    plain += 1;
                    assert!(round_trips(&value), "{value:?}");
                }
            }
        }
        assert!(plain > 100, "{plain}");
        assert!(!plain_segment("") && !plain_segment(".") && !plain_segment("a.b"));
    }
}
