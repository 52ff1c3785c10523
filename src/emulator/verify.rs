//! Signature verification as the API gateway does it, from the raw request as received.
//!
//! Test scaffolding: the emulator's server uses it, and the property tests and the fuzz targets
//! drive it directly; it is not part of the documented API (only [`RawRequest`] is, re-exported
//! as `emulator::RawRequest`).
//!
//! Deliberately its own canonicalization (URI, query, headers, payload hash), written against
//! the protocol and not shared with [`crate::signer`], so that a canonicalization bug cannot
//! hide in both the client and the emulator that tests it. Only the low-level helpers are
//! shared: percent-decoding (`percent_encoding`), percent-encoding ([`signer::encode`]), hex,
//! the `X-Sdk-Date` calendar arithmetic, and the masking [`CanonicalRequest`].

use crate::signer::{self, CanonicalRequest, Header, sdk_date};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use std::fmt::{self, Write};
use std::time::{Duration, SystemTime};

/// The largest difference between `X-Sdk-Date` and the gateway's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The most header names `SignedHeaders` may list: as many headers as a request can carry
/// (hyper's limit), so no request that signs what it sends is refused for it.
pub const MAX_SIGNED_HEADERS: usize = 100;

/// The most bytes of the canonical request quoted in a refusal's message; the rest is cut,
/// with a note of the full length.
pub const MAX_QUOTED_CANONICAL: usize = 8 * 1024;

/// A request as it arrived: method, raw target (path and query, still percent-encoded), headers
/// with their raw value bytes, body bytes.
///
/// Its `Debug` masks the values of `Authorization`, `X-Auth-Token` and `X-Security-Token`
/// (see [`signer::is_sensitive_header`]) and shows the other values and the body as lossy
/// UTF-8.
#[derive(Clone)]
#[non_exhaustive]
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

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<Header> = self
            .headers
            .iter()
            .map(|(name, value)| Header::new(name, String::from_utf8_lossy(value)))
            .collect();
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl RawRequest {
    /// A request as it arrived; header names should be lowercase, as hyper delivers them.
    pub fn new(
        method: impl Into<String>,
        target: impl Into<String>,
        headers: Vec<(String, Vec<u8>)>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        RawRequest {
            method: method.into(),
            target: target.into(),
            headers,
            body: body.into(),
        }
    }

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
#[non_exhaustive]
pub struct AuthorizationHeader {
    /// `Access=` (the AK).
    pub access_key: String,
    /// `SignedHeaders=`, split on `;`.
    pub signed_headers: Vec<String>,
    /// `Signature=`, lowercase hex.
    pub signature: String,
}

impl AuthorizationHeader {
    /// Parts given directly, unchecked (for tests that go past [`parse_authorization`]).
    pub fn new(
        access_key: impl Into<String>,
        signed_headers: Vec<String>,
        signature: impl Into<String>,
    ) -> Self {
        AuthorizationHeader {
            access_key: access_key.into(),
            signed_headers,
            signature: signature.into(),
        }
    }
}

/// Why a signature was refused. The text is what the gateway puts after
/// "Incorrect IAM authentication information: ".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The reason, gateway style (a canonical request in it is masked).
    pub message: String,
    /// The canonical request the emulator computed, when it got that far (its `Display` and
    /// `Debug` mask signed tokens).
    pub canonical_request: Option<CanonicalRequest>,
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
) -> Result<CanonicalRequest, Rejection> {
    check_signed_header_list(&auth.signed_headers)?;
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
        signer::hex(&Sha256::digest(canonical.as_str().as_bytes()))
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret_key)
        .map_err(|_| Rejection::new("verify aksk signature fail"))?;
    mac.update(string_to_sign.as_bytes());
    let expected = from_hex(&auth.signature).unwrap_or_default();
    // Constant-time comparison.
    if mac.verify_slice(&expected).is_err() {
        // Shown masked, one line, as the gateway quotes it, and cut to a bounded length.
        let shown = quoted(canonical.to_string().replace('\n', "|"));
        return Err(Rejection {
            message: format!("verify aksk signature fail, canonicalRequest:{shown}"),
            canonical_request: Some(canonical),
        });
    }
    Ok(canonical)
}

/// Refuses a `SignedHeaders` list that names a header twice or names more than
/// [`MAX_SIGNED_HEADERS`], before any canonical request is built: the canonical request repeats
/// a header's values once per mention, so such a list would make it (and a refusal quoting it)
/// many times larger than the request.
pub fn check_signed_header_list(signed: &[String]) -> Result<(), Rejection> {
    if signed.len() > MAX_SIGNED_HEADERS {
        return Err(Rejection::new(format!(
            "verify aksk signature fail, SignedHeaders lists {} names, more than {MAX_SIGNED_HEADERS}",
            signed.len()
        )));
    }
    for (i, name) in signed.iter().enumerate() {
        if signed[..i].contains(name) {
            let shown: String = name.chars().take(64).collect();
            return Err(Rejection::new(format!(
                "verify aksk signature fail, SignedHeaders names {shown:?} twice"
            )));
        }
    }
    Ok(())
}

/// `text`, or its first [`MAX_QUOTED_CANONICAL`] bytes (on a character boundary) and a note.
fn quoted(mut text: String) -> String {
    if text.len() <= MAX_QUOTED_CANONICAL {
        return text;
    }
    let mut cut = MAX_QUOTED_CANONICAL;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let len = text.len();
    text.truncate(cut);
    text.push_str(&format!("...(cut: {cut} of {len} bytes shown)"));
    text
}

/// The canonical request of what arrived, for the given signed headers.
pub fn canonical_request(
    request: &RawRequest,
    signed: &[String],
) -> Result<CanonicalRequest, Rejection> {
    let mut out = String::with_capacity(512);
    out.push_str(&request.method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_path(request.raw_path()));
    out.push('\n');
    out.push_str(&canonical_query(request.raw_query()));
    out.push('\n');
    for name in signed {
        let mut values = request.header_values(name).peekable();
        if values.peek().is_none() {
            return Err(Rejection::new(format!(
                "verify aksk signature fail, signed header {name} is missing"
            )));
        }
        out.push_str(name);
        out.push(':');
        // Every received value, trimmed, joined with `,`.
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(String::from_utf8_lossy(value).trim());
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    let declared = request
        .header("x-sdk-content-sha256")
        .filter(|_| signed.iter().any(|h| h == "x-sdk-content-sha256"));
    let payload_hash = match declared {
        _ if request.body.is_empty() => signer::hex(&Sha256::digest(b"")),
        Some(value) if !value.is_empty() => value.to_owned(),
        _ => signer::hex(&Sha256::digest(&request.body)),
    };
    out.push_str(&payload_hash);
    Ok(CanonicalRequest::new(out))
}

/// Percent-decoded (`%` and two hex digits only; anything else, `+` included, is literal),
/// invalid UTF-8 replaced by U+FFFD as Python's `unquote` does.
fn decode(text: &str) -> std::borrow::Cow<'_, str> {
    percent_decode_str(text).decode_utf8_lossy()
}

/// Decoded, split on `/`, each segment re-encoded, always ending in `/`.
fn canonical_path(raw: &str) -> String {
    let decoded = decode(raw);
    let mut out = String::with_capacity(decoded.len() + 1);
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let _ = write!(out, "{}", signer::encode(segment));
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
            (decode(k).into_owned(), decode(v).into_owned())
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(out, "{}={}", signer::encode(k), signer::encode(v));
    }
    out
}

/// Bytes of even-length hex text (either case); `None` for anything else.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    let nibble = |b: u8| char::from(b).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match *pair {
            [high, low] => u8::try_from(nibble(high)? * 16 + nibble(low)?).ok(),
            _ => None,
        })
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
        // Invalid UTF-8 after decoding becomes U+FFFD, as in the SDKs' unquote.
        assert_eq!(canonical_path("/%FF%C3"), "/%EF%BF%BD%EF%BF%BD/");
        assert_eq!(canonical_path("/%C3%A9 x"), "/%C3%A9%20x/");
        assert_eq!(
            canonical_query("b=2&a=10&a=1&k&s=a+b"),
            "a=1&a=10&b=2&k=&s=a%2Bb"
        );
    }

    /// Found by fuzzing (finding 2): a sign is not a hex digit, so `%+X` and `%-X` stay
    /// literal, in the path and in the query.
    #[test]
    fn a_percent_sign_needs_two_hex_digits() {
        assert_eq!(canonical_path("/%+A%-1"), "/%25%2BA%25-1/");
        assert_eq!(canonical_path("/%+F"), "/%25%2BF/");
        assert_eq!(canonical_query("a=%+1&b=%4"), "a=%25%2B1&b=%254");
        assert_eq!(decode("%+1%-1%1+%g0%"), "%+1%-1%1+%g0%");
        assert_eq!(decode("%41%7a%7E"), "Az~");
    }

    #[test]
    fn hex_decoding_is_strict() {
        assert_eq!(from_hex("00ffA0"), Some(vec![0, 255, 160]));
        assert_eq!(from_hex("+f"), None);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("é1"), None);
        assert_eq!(from_hex(""), Some(vec![]));
    }

    #[test]
    fn the_refusal_masks_a_signed_security_token() {
        let raw = RawRequest::new(
            "POST",
            "/v5/p/image/synchronize",
            vec![
                ("host".into(), b"h".to_vec()),
                ("x-security-token".into(), b"TOKEN-VALUE".to_vec()),
                ("x-sdk-date".into(), b"20240315T083530Z".to_vec()),
            ],
            b"{}".to_vec(),
        );
        let auth = AuthorizationHeader::new(
            "AK",
            vec![
                "host".into(),
                "x-security-token".into(),
                "x-sdk-date".into(),
            ],
            "0".repeat(64),
        );
        let now = sdk_date::parse("20240315T083530Z").unwrap();
        let refused = verify_signature(&raw, &auth, b"SK", now).unwrap_err();
        assert!(
            refused
                .message
                .contains("|host:h|x-security-token:******|x-sdk-date:20240315T083530Z|"),
            "{}",
            refused.message
        );
        let canonical = refused.canonical_request.unwrap();
        assert!(canonical.as_str().contains("x-security-token:TOKEN-VALUE"));
        for shown in [
            refused.message,
            canonical.to_string(),
            format!("{canonical:?}"),
            format!("{raw:?}"),
        ] {
            assert!(!shown.contains("TOKEN-VALUE"), "{shown}");
        }
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
