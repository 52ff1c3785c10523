//! Signature verification as the API gateway does it, from the raw request as received.
//!
//! Deliberately its own canonicalization (percent-coding, URI, query, headers, payload hash),
//! written against the protocol and not shared with [`crate::signer`], so that a
//! canonicalization bug cannot hide in both the client and the emulator that tests it. Only the
//! `X-Sdk-Date` calendar arithmetic is shared.

use crate::signer::sdk_date;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// The largest difference between `X-Sdk-Date` and the gateway's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// A request as it arrived: method, raw target (path and query, still percent-encoded), headers
/// with their raw value bytes, body bytes.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Request method as received.
    pub method: String,
    /// Request target as received, e.g. `/v5/p/image/synchronize?enterprise_project_id=0`.
    pub target: String,
    /// Header names (lowercase) and raw values, in arrival order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Every value of header `name` (lowercase), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // `name` is lowercase; hyper delivers lowercase names.
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of header `name` (lowercase) as UTF-8 text.
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name)
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The path part of the target.
    pub fn raw_path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The query part of the target, without `?`.
    pub fn raw_query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// The parts of an `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// `Access=` (the AK).
    pub access_key: String,
    /// `SignedHeaders=`, split on `;`.
    pub signed_headers: Vec<String>,
    /// `Signature=`, lowercase hex.
    pub signature: String,
}

/// Why a signature was refused. The text is what the gateway puts after
/// "Incorrect IAM authentication information: ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The reason, gateway style.
    pub message: String,
    /// The canonical request the emulator computed, when it got that far (security token
    /// masked).
    pub canonical_request: Option<String>,
}

impl Rejection {
    fn new(message: impl Into<String>) -> Self {
        Rejection {
            message: message.into(),
            canonical_request: None,
        }
    }
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Option<AuthorizationHeader> {
    let rest = value.strip_prefix("SDK-HMAC-SHA256 ")?;
    let mut access = None;
    let mut signed = None;
    let mut signature = None;
    for field in rest.split(',') {
        let (key, val) = field.trim().split_once('=')?;
        match key {
            "Access" => access = Some(val),
            "SignedHeaders" => signed = Some(val),
            "Signature" => signature = Some(val),
            _ => return None,
        }
    }
    let signature = signature?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(AuthorizationHeader {
        access_key: access?.to_owned(),
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Checks `request`'s SDK-HMAC-SHA256 signature with `secret_key`, and its `X-Sdk-Date` against
/// `now`. On success returns the canonical request.
pub fn verify_signature(
    request: &RawRequest,
    auth: &AuthorizationHeader,
    secret_key: &[u8],
    now: SystemTime,
) -> Result<String, Rejection> {
    if !auth.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err(Rejection::new(
            "verify aksk signature fail, x-sdk-date is not a signed header",
        ));
    }
    let date = request
        .header("x-sdk-date")
        .ok_or_else(|| Rejection::new("verify aksk signature fail, x-sdk-date header missing"))?;
    let signed_at = sdk_date::parse(date).ok_or_else(|| {
        Rejection::new(format!(
            "verify aksk signature fail, invalid x-sdk-date {date:?}"
        ))
    })?;
    let skew = match now.duration_since(signed_at) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(Rejection::new(format!(
            "signature expired, signature time:{date},server time:{}",
            sdk_date::format(now).unwrap_or_default()
        )));
    }

    let canonical = canonical_request(request, &auth.signed_headers)?;
    let string_to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        to_hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret_key)
        .map_err(|_| Rejection::new("verify aksk signature fail"))?;
    mac.update(string_to_sign.as_bytes());
    let expected = from_hex(&auth.signature).unwrap_or_default();
    // Constant-time comparison.
    let shown = redact_security_token(&canonical);
    mac.verify_slice(&expected).map_err(|_| Rejection {
        message: format!(
            "verify aksk signature fail, canonicalRequest:{}",
            shown.replace('\n', "|")
        ),
        canonical_request: Some(shown.clone()),
    })?;
    Ok(shown)
}

/// The canonical request as shown in answers and logs: the signed `x-security-token` value is
/// a secret, so it is masked.
pub fn redact_security_token(canonical: &str) -> String {
    canonical
        .split('\n')
        .map(|line| match line.strip_prefix("x-security-token:") {
            Some(_) => "x-security-token:******",
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The canonical request of what arrived, for the given signed headers.
pub fn canonical_request(request: &RawRequest, signed: &[String]) -> Result<String, Rejection> {
    let mut out = String::with_capacity(512);
    out.push_str(&request.method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_path(request.raw_path()));
    out.push('\n');
    out.push_str(&canonical_query(request.raw_query()));
    out.push('\n');
    for name in signed {
        let values: Vec<&[u8]> = request.header_values(name).collect();
        if values.is_empty() {
            return Err(Rejection::new(format!(
                "verify aksk signature fail, signed header {name} is missing"
            )));
        }
        let joined = values
            .iter()
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(name);
        out.push(':');
        out.push_str(&joined);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    let declared = request
        .header("x-sdk-content-sha256")
        .filter(|_| signed.iter().any(|h| h == "x-sdk-content-sha256"));
    let payload_hash = match declared {
        _ if request.body.is_empty() => to_hex(&Sha256::digest(b"")),
        Some(value) if !value.is_empty() => value.to_owned(),
        _ => to_hex(&Sha256::digest(&request.body)),
    };
    out.push_str(&payload_hash);
    Ok(out)
}

/// Unreserved bytes stay, everything else becomes `%XX` (uppercase).
fn uri_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Exactly two hex digits (`u8::from_str_radix` alone would also take "+A").
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or_default();
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decoded, split on `/`, each segment re-encoded, always ending in `/`.
fn canonical_path(raw: &str) -> String {
    let decoded = String::from_utf8_lossy(&percent_decode(raw)).into_owned();
    let mut out = String::with_capacity(decoded.len() + 1);
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        uri_encode(segment.as_bytes(), &mut out);
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Pairs decoded (`%XX` only; `+` is a literal plus), sorted by decoded key then value,
/// re-encoded.
fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let text = |s: &str| String::from_utf8_lossy(&percent_decode(s)).into_owned();
            (text(k), text(v))
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        uri_encode(k.as_bytes(), &mut out);
        out.push('=');
        uri_encode(v.as_bytes(), &mut out);
    }
    out
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_parts() {
        assert_eq!(canonical_path("/v5/a%2Fb/x"), "/v5/a/b/x/");
        assert_eq!(canonical_path("/a:b%7e"), "/a%3Ab~/");
        assert_eq!(canonical_path("/%zz%4"), "/%25zz%254/");
        // Found by fuzzing: a sign is not a hex digit.
        assert_eq!(canonical_path("/%+A%-1"), "/%25%2BA%25-1/");
        assert_eq!(
            canonical_query("b=2&a=10&a=1&k&s=a+b"),
            "a=1&a=10&b=2&k=&s=a%2Bb"
        );
    }

    #[test]
    fn security_token_is_masked_in_shown_canonical_requests() {
        let shown = redact_security_token(
            "POST\n/\n\nhost:h\nx-security-token:secret\n\nhost;x-security-token\nabc",
        );
        assert_eq!(
            shown,
            "POST\n/\n\nhost:h\nx-security-token:******\n\nhost;x-security-token\nabc"
        );
    }

    #[test]
    fn authorization_parsing() {
        let sig = "a".repeat(64);
        let parsed = parse_authorization(&format!(
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature={sig}"
        ))
        .unwrap();
        assert_eq!(parsed.access_key, "AK");
        assert_eq!(parsed.signed_headers, ["host", "x-sdk-date"]);
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=AK, Signature=ab").is_none());
        assert!(parse_authorization("AWS4 Access=AK").is_none());
    }
}
