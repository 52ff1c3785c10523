//! Reading a temporary-credentials answer (STS, IAM, ECS metadata, CCE pod identity), as the
//! official SDKs read it, and its expiry time.
//!
//! The object used is `credential` if present, else `credentials`, else the top level. In it
//! the first non-empty string wins: `access`, `accessKeyId`, `access_key_id` (AK); `secret`,
//! `secretAccessKey`, `secret_access_key` (SK); `securitytoken`, `securityToken`,
//! `security_token` (optional); `expires_at`, `expiration` (required).
//!
//! The SDKs take the expiry only as `YYYY-MM-DDTHH:MM:SS.ffffffZ` with a fraction of 1 to 6
//! digits; this reader takes RFC 3339 with or without a fraction (of any length) and with `Z` or
//! an offset, a deliberate superset. Like the SDKs, it drops the fraction.

use super::Credentials;
use super::CredentialsError;
use super::http::fetch_error;
use super::provider::check_value;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// Credentials from an answer's body. Errors never quote the body (it may hold secrets).
pub(crate) fn parse_credentials(
    provider: &'static str,
    body: &[u8],
) -> Result<Credentials, CredentialsError> {
    let bad = |what: String| fetch_error(provider, format!("the credentials answer {what}"), None);
    let top = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(members)) => members,
        Ok(_) => return Err(bad("is not a JSON object".into())),
        Err(e) => {
            return Err(fetch_error(
                provider,
                "the credentials answer is not JSON",
                Some(Box::new(e)),
            ));
        }
    };
    let mut object = match ["credential", "credentials"]
        .into_iter()
        .find(|key| top.contains_key(*key))
    {
        None => top,
        Some(key) => {
            let mut top = top;
            match top.remove(key) {
                Some(Value::Object(inner)) => inner,
                _ => return Err(bad(format!("has a `{key}` that is not an object"))),
            }
        }
    };
    let access = take_first(&mut object, &["access", "accessKeyId", "access_key_id"])
        .ok_or_else(|| bad("has no access key (access, accessKeyId, access_key_id)".into()))?;
    let secret = take_first(
        &mut object,
        &["secret", "secretAccessKey", "secret_access_key"],
    )
    .ok_or_else(|| bad("has no secret key (secret, secretAccessKey, secret_access_key)".into()))?;
    let token = take_first(
        &mut object,
        &["securitytoken", "securityToken", "security_token"],
    );
    let expiry_text = take_first(&mut object, &["expires_at", "expiration"])
        .ok_or_else(|| bad("has no expiry (expires_at, expiration)".into()))?;
    let expiry_text = expiry_text.1;
    let expiry = parse_rfc3339(&expiry_text).ok_or_else(|| {
        let shown: String = expiry_text.chars().take(40).collect();
        bad(format!(
            "has an unreadable expiry {shown:?} (not an RFC 3339 time)"
        ))
    })?;
    if expiry <= SystemTime::now() {
        tracing::warn!(
            provider,
            expires_at = %expiry_text,
            "the credentials answered have already expired (is the clock right?)"
        );
    }
    // Checked before anything is signed or logged with them: a line break in a token would
    // forge a header or a log line.
    for (key, value) in [Some(&access), Some(&secret), token.as_ref()]
        .into_iter()
        .flatten()
    {
        check_value(
            provider,
            &format_args!("the credentials answer's `{key}`"),
            value,
        )?;
    }
    let mut credentials = Credentials::new(access.1, secret.1).with_expiry(expiry);
    if let Some((_, token)) = token {
        credentials = credentials.with_security_token(token);
    }
    Ok(credentials)
}

/// Removes and returns the first of `keys` whose value is a non-empty string, with its key.
fn take_first(
    object: &mut Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, String)> {
    keys.iter().find_map(|key| match object.get(*key) {
        Some(Value::String(s)) if !s.is_empty() => match object.remove(*key) {
            Some(Value::String(s)) => Some((*key, s)),
            _ => None,
        },
        _ => None,
    })
}

/// An RFC 3339 time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM` (`T`
/// and `Z` in either case). The fraction is dropped. `None` for anything else, impossible dates
/// and times before 1970 included.
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<&str> {
        let part = text.get(range)?;
        part.bytes().all(|d| d.is_ascii_digit()).then_some(part)
    };
    // The signer's `X-Sdk-Date` parser checks the calendar (month lengths, leap years, ranges).
    let utc = crate::signer::sdk_date::parse(&format!(
        "{}{}{}T{}{}{}Z",
        digits(0..4)?,
        digits(5..7)?,
        digits(8..10)?,
        digits(11..13)?,
        digits(14..16)?,
        digits(17..19)?
    ))?;
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        rest = &fraction[len..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => Some(utc),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<u64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| u64::from(a - b'0') * 10 + u64::from(b - b'0'))
            };
            let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = Duration::from_secs(hours * 3600 + minutes * 60);
            // Local time = UTC + offset, so UTC = local time - offset.
            if *sign == b'+' {
                utc.checked_sub(offset)
                    .filter(|t| *t >= SystemTime::UNIX_EPOCH)
            } else {
                utc.checked_add(offset)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn credentials_expiry_accepts_rfc3339_with_or_without_fraction_and_offsets() {
        // 2030-01-02T03:04:05Z
        let t = 1_893_553_445;
        assert_eq!(parse_rfc3339("2030-01-02T03:04:05.123456Z"), at(t));
        assert_eq!(parse_rfc3339("2030-01-02T03:04:05.1z"), at(t));
        assert_eq!(parse_rfc3339("2030-01-02t03:04:05Z"), at(t));
        assert_eq!(parse_rfc3339("2030-01-02T03:04:05.123456789Z"), at(t));
        assert_eq!(parse_rfc3339("2030-01-02T11:04:05+08:00"), at(t));
        assert_eq!(parse_rfc3339("2030-01-01T22:34:05.5-04:30"), at(t));
        assert_eq!(parse_rfc3339("2030-01-02T03:04:05+00:00"), at(t));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), at(1_709_164_800));
    }

    #[test]
    fn credentials_expiry_rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "2030-01-02",
            "2030-01-02 03:04:05Z",
            "2030-01-02T03:04:05",
            "2030-01-02T03:04:05.Z",
            "2030-01-02T03:04:05+0800",
            "2030-01-02T03:04:05+24:00",
            "2030-01-02T03:04:05+08:60",
            "2030-01-02T03:04:05ZZ",
            "2030-13-02T03:04:05Z",
            "2023-02-29T03:04:05Z",
            "2030-01-02T24:04:05Z",
            "2030-01-02T03:04:60Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:30:00+01:00",
            "+030-01-02T03:04:05Z",
            "2030-01-02T03:04:05.1é",
            "1893553445",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn credentials_answers_are_read_in_every_shape_the_sdks_read() {
        let expiry = "2030-01-02T03:04:05.000000Z";
        for body in [
            format!(
                r#"{{"credential": {{"access": "AK", "secret": "SK", "securitytoken": "T", "expires_at": "{expiry}"}}}}"#
            ),
            format!(
                r#"{{"credentials": {{"accessKeyId": "AK", "secretAccessKey": "SK", "securityToken": "T", "expiration": "{expiry}"}}}}"#
            ),
            format!(
                r#"{{"access_key_id": "AK", "secret_access_key": "SK", "security_token": "T", "expires_at": "{expiry}"}}"#
            ),
            // `credential` wins over `credentials`; empty values fall through to the next name.
            format!(
                r#"{{"credentials": {{"access": "NO"}}, "credential": {{"access": "", "accessKeyId": "AK", "secret": "SK", "securitytoken": "T", "expires_at": "{expiry}"}}}}"#
            ),
        ] {
            let creds = parse_credentials("test", body.as_bytes()).unwrap();
            assert_eq!(creds.access_key_id(), "AK", "{body}");
            assert_eq!(creds.secret_access_key().expose_secret(), "SK");
            assert_eq!(creds.security_token().unwrap().expose_secret(), "T");
            assert_eq!(creds.expiry(), at(1_893_553_445));
        }
        let no_token = parse_credentials(
            "test",
            br#"{"access": "AK", "secret": "SK", "expires_at": "2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert!(no_token.security_token().is_none());
    }

    #[test]
    fn credentials_answers_missing_fields_are_errors_that_never_quote_secrets() {
        for (body, expected) in [
            (&b"not json SECRET"[..], "is not JSON"),
            (b"[\"SECRET\"]", "is not a JSON object"),
            (
                b"{\"credential\": null}",
                "`credential` that is not an object",
            ),
            (
                b"{\"secret\": \"SECRET\", \"expires_at\": \"2030-01-02T03:04:05Z\"}",
                "no access key",
            ),
            (
                b"{\"access\": \"AK\", \"expires_at\": \"2030-01-02T03:04:05Z\"}",
                "no secret key",
            ),
            (b"{\"access\": \"AK\", \"secret\": \"SECRET\"}", "no expiry"),
            (
                b"{\"access\": \"AK\", \"secret\": \"SECRET\", \"expires_at\": 1893553445}",
                "no expiry",
            ),
            (
                b"{\"access\": \"AK\", \"secret\": \"SECRET\", \"expires_at\": \"tomorrow\"}",
                "unreadable expiry \"tomorrow\"",
            ),
        ] {
            let err = parse_credentials("test", body).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(expected), "{shown}");
            assert!(shown.starts_with("test: "), "{shown}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }
}
