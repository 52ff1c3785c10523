//! Signature verification as the API gateway does it, from the raw request as received, for
//! each of the official SDKs' algorithms: SDK-HMAC-SHA256, SDK-HMAC-SM3, V11-HMAC-SHA256 (its
//! credential scope checked against the `X-Sdk-Date` day and the region and service the
//! emulator serves), SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3.
//!
//! Test scaffolding: the emulator's server uses it, and the property tests and the fuzz targets
//! drive it directly; it is not part of the documented API (only [`RawRequest`] is, re-exported
//! as `emulator::RawRequest`).
//!
//! Deliberately its own canonicalization (URI, query, headers, payload hash), written against
//! the protocol and not shared with [`crate::signer`], so that a canonicalization bug cannot
//! hide in both the client and the emulator that tests it. Only the low-level helpers are
//! shared: percent-decoding (`percent_encoding`), percent-encoding ([`signer::encode`]), hex,
//! the `X-Sdk-Date` calendar arithmetic, the masking [`CanonicalRequest`], the hash functions,
//! and (in `super::algorithms`) the key derivations and curves of the algorithms.

use super::algorithms::{self, MAX_DER_SIGNATURE};
use crate::signer::{self, Algorithm, CanonicalRequest, Header, sdk_date};
use percent_encoding::percent_decode_str;
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

/// The region whose V11 credential scope the emulator accepts unless configured otherwise.
pub const DEFAULT_REGION: &str = "cn-north-4";
/// The service whose V11 credential scope the emulator accepts unless configured otherwise.
pub const DEFAULT_SERVICE: &str = "hss";

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

/// The parts of an `Authorization` header:
/// `ALGORITHM Access=AK, SignedHeaders=a;b, Signature=hex`, or for V11-HMAC-SHA256
/// `V11-HMAC-SHA256 Credential=AK/YYYYMMDD/region/service, SignedHeaders=a;b, Signature=hex`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationHeader {
    /// The algorithm named first.
    pub algorithm: Algorithm,
    /// `Access=` (the AK), or the AK of V11's `Credential=`.
    pub access_key: String,
    /// V11 only: the rest of `Credential=`, the derived key's scope.
    pub credential_scope: Option<CredentialScope>,
    /// `SignedHeaders=`, split on `;`.
    pub signed_headers: Vec<String>,
    /// `Signature=`, lowercase hex: 64 digits for the HMAC algorithms, DER for ECDSA and SM2.
    pub signature: String,
}

impl AuthorizationHeader {
    /// SDK-HMAC-SHA256 parts given directly, unchecked (for tests that go past
    /// [`parse_authorization`]); see [`with_algorithm`](Self::with_algorithm) and
    /// [`with_credential_scope`](Self::with_credential_scope) for the others.
    pub fn new(
        access_key: impl Into<String>,
        signed_headers: Vec<String>,
        signature: impl Into<String>,
    ) -> Self {
        AuthorizationHeader {
            algorithm: Algorithm::HmacSha256,
            access_key: access_key.into(),
            credential_scope: None,
            signed_headers,
            signature: signature.into(),
        }
    }

    /// The same parts for another algorithm.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The same parts with a V11 credential scope.
    pub fn with_credential_scope(mut self, scope: CredentialScope) -> Self {
        self.credential_scope = Some(scope);
        self
    }

    /// The header value these parts make, in the SDKs' format.
    pub fn to_header_value(&self) -> String {
        let credential = match &self.credential_scope {
            Some(scope) => format!("Credential={}/{scope}", self.access_key),
            None => format!("Access={}", self.access_key),
        };
        format!(
            "{} {credential}, SignedHeaders={}, Signature={}",
            self.algorithm,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// V11's credential scope, `YYYYMMDD/region/service`: what its derived key is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialScope {
    /// `YYYYMMDD`, which must be the `X-Sdk-Date` day.
    pub date: String,
    /// Region ID, e.g. `cn-north-4`.
    pub region: String,
    /// Service name, e.g. `hss`.
    pub service: String,
}

impl CredentialScope {
    /// A scope given directly, unchecked.
    pub fn new(
        date: impl Into<String>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        CredentialScope {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        }
    }
}

impl fmt::Display for CredentialScope {
    /// `YYYYMMDD/region/service`, as in the header and the string to sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.date, self.region, self.service)
    }
}

/// The region and service whose V11 credential scopes the gateway accepts (the scope's day
/// must be the `X-Sdk-Date` day). Default [`DEFAULT_REGION`] and [`DEFAULT_SERVICE`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedScope {
    /// Region ID.
    pub region: String,
    /// Service name.
    pub service: String,
}

impl AcceptedScope {
    /// Accept V11 scopes for `region` and `service`.
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        AcceptedScope {
            region: region.into(),
            service: service.into(),
        }
    }
}

impl Default for AcceptedScope {
    fn default() -> Self {
        AcceptedScope::new(DEFAULT_REGION, DEFAULT_SERVICE)
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

/// Parses an `Authorization` header of any of the five algorithms: the algorithm's name (exact
/// case), one space, then `Access=AK` (`Credential=AK/YYYYMMDD/region/service` for
/// V11-HMAC-SHA256), `SignedHeaders=` and `Signature=`, each once, separated by commas. The
/// signature is hex: 64 digits for the HMAC algorithms, a DER signature's length at most for
/// ECDSA and SM2. `None` for anything else.
pub fn parse_authorization(value: &str) -> Option<AuthorizationHeader> {
    let (name, rest) = value.split_once(' ')?;
    let algorithm = Algorithm::ALL.into_iter().find(|a| a.name() == name)?;
    let credential_key = match algorithm {
        Algorithm::V11HmacSha256 => "Credential",
        _ => "Access",
    };
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for field in rest.split(',') {
        let (key, val) = field.trim().split_once('=')?;
        let slot = match key {
            _ if key == credential_key => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(val).is_some() {
            return None;
        }
    }
    let signature = signature?;
    let hex_len_ok = match algorithm {
        Algorithm::EcdsaP256Sha256 | Algorithm::Sm2Sm3 => {
            signature.len().is_multiple_of(2)
                && (2..=2 * MAX_DER_SIGNATURE).contains(&signature.len())
        }
        _ => signature.len() == 64,
    };
    if !hex_len_ok || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let credential = credential?;
    let (access_key, credential_scope) = match algorithm {
        Algorithm::V11HmacSha256 => {
            // The AK may hold `/` itself: the scope is the last three parts.
            let mut parts = credential.rsplitn(4, '/');
            let service = parts.next()?;
            let region = parts.next()?;
            let date = parts.next()?;
            let access_key = parts.next()?;
            (
                access_key,
                Some(CredentialScope::new(date, region, service)),
            )
        }
        _ => (credential, None),
    };
    Some(AuthorizationHeader {
        algorithm,
        access_key: access_key.to_owned(),
        credential_scope,
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// [`verify_signature_for`] with the default [`AcceptedScope`] (V11 for `cn-north-4` and `hss`).
pub fn verify_signature(
    request: &RawRequest,
    auth: &AuthorizationHeader,
    secret_key: &[u8],
    now: SystemTime,
) -> Result<CanonicalRequest, Rejection> {
    verify_signature_for(request, auth, secret_key, now, &AcceptedScope::default())
}

/// Checks `request`'s signature with `auth.algorithm`, the AK `auth.access_key` and
/// `secret_key`; its `X-Sdk-Date` against `now`; and for V11 its credential scope against that
/// date and `accepted`. On success returns the canonical request.
///
/// HMAC signatures (SDK-HMAC-SHA256, SDK-HMAC-SM3, V11 with its derived key) are recomputed and
/// compared in constant time; ECDSA and SM2 signatures are verified with the public key of the
/// private key the SDKs derive from the AK/SK (for SM2 with the SDKs' `Z_A`).
pub fn verify_signature_for(
    request: &RawRequest,
    auth: &AuthorizationHeader,
    secret_key: &[u8],
    now: SystemTime,
    accepted: &AcceptedScope,
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

    let scope = check_credential_scope(auth, date, accepted)?;

    let algorithm = auth.algorithm;
    let canonical = canonical_request_with(request, &auth.signed_headers, algorithm)?;
    let hashed = signer::hex(&algorithm.hash().digest(canonical.as_str().as_bytes()));
    let string_to_sign = match &scope {
        Some(scope) => format!("{algorithm}\n{date}\n{scope}\n{hashed}"),
        None => format!("{algorithm}\n{date}\n{hashed}"),
    };
    let signature = from_hex(&auth.signature).unwrap_or_default();
    let matches = algorithms::signature_matches(
        algorithm,
        &auth.access_key,
        secret_key,
        scope.as_deref().unwrap_or_default(),
        &string_to_sign,
        &signature,
    );
    if !matches {
        // Shown masked, one line, as the gateway quotes it, and cut to a bounded length.
        let shown = quoted(canonical.to_string().replace('\n', "|"));
        return Err(Rejection {
            message: format!("verify aksk signature fail, canonicalRequest:{shown}"),
            canonical_request: Some(canonical),
        });
    }
    Ok(canonical)
}

/// V11: the credential scope must be for the `X-Sdk-Date` day and the accepted region and
/// service; returns its text. The other algorithms have none.
fn check_credential_scope(
    auth: &AuthorizationHeader,
    date: &str,
    accepted: &AcceptedScope,
) -> Result<Option<String>, Rejection> {
    let scope = match (auth.algorithm, &auth.credential_scope) {
        (Algorithm::V11HmacSha256, Some(scope)) => scope,
        (Algorithm::V11HmacSha256, None) => {
            return Err(Rejection::new(
                "verify aksk signature fail, V11-HMAC-SHA256 without a credential scope",
            ));
        }
        (_, None) => return Ok(None),
        (algorithm, Some(_)) => {
            return Err(Rejection::new(format!(
                "verify aksk signature fail, {algorithm} takes no credential scope"
            )));
        }
    };
    // Values from the request are quoted cut short: a refusal never grows with the request.
    let shown = |text: &str| text.chars().take(64).collect::<String>();
    let day = date.get(..8).unwrap_or(date);
    if scope.date != day {
        return Err(Rejection::new(format!(
            "verify aksk signature fail, credential scope date {:?} is not the x-sdk-date day {day}",
            shown(&scope.date)
        )));
    }
    if scope.region != accepted.region {
        return Err(Rejection::new(format!(
            "verify aksk signature fail, credential scope region {:?} is not this endpoint's \
             region {}",
            shown(&scope.region),
            accepted.region
        )));
    }
    if scope.service != accepted.service {
        return Err(Rejection::new(format!(
            "verify aksk signature fail, credential scope service {:?} is not this endpoint's \
             service {}",
            shown(&scope.service),
            accepted.service
        )));
    }
    Ok(Some(scope.to_string()))
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

/// The canonical request of what arrived, for the given signed headers, as SDK-HMAC-SHA256
/// (and V11 and ECDSA) compute it.
pub fn canonical_request(
    request: &RawRequest,
    signed: &[String],
) -> Result<CanonicalRequest, Rejection> {
    canonical_request_with(request, signed, Algorithm::HmacSha256)
}

/// The canonical request of what arrived, for the given signed headers, with `algorithm`'s
/// payload hash: SHA-256 and `X-Sdk-Content-Sha256`, or SM3 and `X-Sdk-Content-Sm3` for
/// SDK-HMAC-SM3 and SDK-SM2-SM3.
pub fn canonical_request_with(
    request: &RawRequest,
    signed: &[String],
    algorithm: Algorithm,
) -> Result<CanonicalRequest, Rejection> {
    let hash = algorithm.hash();
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
    // The algorithm's content header, when it is signed, declares the payload hash.
    let content_header = hash.content_header().to_ascii_lowercase();
    let declared = request
        .header(&content_header)
        .filter(|_| signed.contains(&content_header));
    let payload_hash = match declared {
        _ if request.body.is_empty() => signer::hex(&hash.digest(b"")),
        Some(value) if !value.is_empty() => value.to_owned(),
        _ => signer::hex(&hash.digest(&request.body)),
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
        assert_eq!(parsed.algorithm, Algorithm::HmacSha256);
        assert_eq!(parsed.credential_scope, None);
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=AK, Signature=ab").is_none());
        assert!(parse_authorization("AWS4 Access=AK").is_none());
    }

    #[test]
    fn authorization_parsing_of_every_algorithm() {
        let hmac = "A".repeat(64);
        let der = "30440220".to_owned() + &"1".repeat(64) + "0220" + &"2".repeat(64);
        for (algorithm, signature) in [
            (Algorithm::HmacSha256, &hmac),
            (Algorithm::HmacSm3, &hmac),
            (Algorithm::EcdsaP256Sha256, &der),
            (Algorithm::Sm2Sm3, &der),
        ] {
            let value = format!(
                "{algorithm} Access=AK, SignedHeaders=host;x-sdk-date, Signature={signature}"
            );
            let parsed = parse_authorization(&value).unwrap();
            assert_eq!(parsed.algorithm, algorithm);
            assert_eq!(parsed.access_key, "AK");
            assert_eq!(parsed.signature, signature.to_ascii_lowercase());
            assert_eq!(parse_authorization(&parsed.to_header_value()), Some(parsed));
            // V11's credential field is not theirs; a field twice is refused.
            for wrong in [
                value.replace("Access=AK", "Credential=AK/20240315/cn-north-4/hss"),
                value.replace("Access=AK", "Access=AK, Access=AK"),
                value.replace(
                    &algorithm.to_string(),
                    &algorithm.to_string().to_lowercase(),
                ),
                value.replace("Signature=", "Signature=0"),
            ] {
                assert_eq!(parse_authorization(&wrong), None, "{wrong}");
            }
        }
        // An ECDSA or SM2 signature longer than any DER signature of their curves is refused;
        // an HMAC signature must be 64 digits.
        let long = format!(
            "SDK-SM2-SM3 Access=AK, SignedHeaders=host, Signature={}",
            "0".repeat(2 * MAX_DER_SIGNATURE + 2)
        );
        assert_eq!(parse_authorization(&long), None);
        let short = format!("SDK-HMAC-SM3 Access=AK, SignedHeaders=host, Signature={der}");
        assert_eq!(parse_authorization(&short), None);

        // V11: `Credential=AK/YYYYMMDD/region/service`, the AK possibly holding `/`.
        let value = format!(
            "V11-HMAC-SHA256 Credential=A/K/20240315/cn-north-4/hss, SignedHeaders=host, Signature={hmac}"
        );
        let parsed = parse_authorization(&value).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::V11HmacSha256);
        assert_eq!(parsed.access_key, "A/K");
        assert_eq!(
            parsed.credential_scope,
            Some(CredentialScope::new("20240315", "cn-north-4", "hss"))
        );
        assert_eq!(parse_authorization(&parsed.to_header_value()), Some(parsed));
        for wrong in [
            value.replace("Credential=A/K/", "Access=A/K/"),
            value.replace("A/K/20240315/", ""),
            value.replace("Credential=A/K/20240315/cn-north-4/hss", "Credential=AK"),
        ] {
            assert_eq!(parse_authorization(&wrong), None, "{wrong}");
        }
    }

    /// A request signed by the signer with `algorithm`, as the emulator receives it.
    fn signed_raw(
        algorithm: Algorithm,
        sk: &str,
        scope: (&str, &str),
    ) -> (RawRequest, AuthorizationHeader, SystemTime) {
        let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
        let request = signer::SignableRequest {
            method: "POST",
            host: "127.0.0.1:8080",
            path: "/v5/p/image/synchronize",
            query: &[],
            headers: &headers,
            body: br#"{"image_type": "private_image"}"#,
        };
        let at = sdk_date::parse("20240315T235930Z").unwrap();
        let sk = secrecy::SecretString::from(sk);
        let params =
            signer::SigningParams::new(algorithm, "AK", &sk, at).with_scope(scope.0, scope.1);
        let signed = signer::sign_with(&request, &params).unwrap();
        let headers = signed
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.as_bytes().to_vec()))
            .collect();
        let raw = RawRequest::new("POST", signed.uri, headers, request.body);
        (raw, parse_authorization(&signed.authorization).unwrap(), at)
    }

    #[test]
    fn every_algorithm_verifies_and_refuses_another_key() {
        for algorithm in Algorithm::ALL {
            let (raw, auth, at) = signed_raw(algorithm, "SK", ("cn-north-4", "hss"));
            let canonical = verify_signature(&raw, &auth, b"SK", at).unwrap();
            let content = if algorithm.hash() == crate::signer::algorithm::HashFn::Sm3 {
                hex_of_sm3(&raw.body)
            } else {
                hex_of_sha256(&raw.body)
            };
            assert!(canonical.as_str().ends_with(&content), "{algorithm}");
            let refused = verify_signature(&raw, &auth, b"SK2", at).unwrap_err();
            assert!(
                refused
                    .message
                    .starts_with("verify aksk signature fail, canonicalRequest:POST|"),
                "{algorithm}: {}",
                refused.message
            );
            // Another algorithm's name on the same signature.
            for other in Algorithm::ALL.into_iter().filter(|&a| a != algorithm) {
                let mut relabelled = auth.clone().with_algorithm(other);
                relabelled.credential_scope = (other == Algorithm::V11HmacSha256)
                    .then(|| CredentialScope::new("20240315", "cn-north-4", "hss"));
                assert!(
                    verify_signature(&raw, &relabelled, b"SK", at).is_err(),
                    "{algorithm} as {other}"
                );
            }
        }
    }

    fn hex_of_sha256(data: &[u8]) -> String {
        signer::hex(&crate::signer::algorithm::HashFn::Sha256.digest(data))
    }

    fn hex_of_sm3(data: &[u8]) -> String {
        signer::hex(&crate::signer::algorithm::HashFn::Sm3.digest(data))
    }

    #[test]
    fn a_v11_scope_must_be_the_days_and_the_accepted_ones() {
        let accepted = AcceptedScope::new("cn-north-4", "hss");
        let (raw, auth, at) = signed_raw(Algorithm::V11HmacSha256, "SK", ("cn-north-4", "hss"));
        assert!(verify_signature_for(&raw, &auth, b"SK", at, &accepted).is_ok());
        let elsewhere = AcceptedScope::new("eu-west-0", "hss");
        let refused = verify_signature_for(&raw, &auth, b"SK", at, &elsewhere).unwrap_err();
        assert!(
            refused.message.contains("region \"cn-north-4\""),
            "{}",
            refused.message
        );
        for (region, service, word) in [
            ("eu-west-0", "hss", "region"),
            ("cn-north-4", "apic", "service"),
        ] {
            let (raw, auth, at) = signed_raw(Algorithm::V11HmacSha256, "SK", (region, service));
            let refused = verify_signature_for(&raw, &auth, b"SK", at, &accepted).unwrap_err();
            assert!(refused.message.contains(word), "{}", refused.message);
            assert!(refused.canonical_request.is_none());
        }
        // Another day: the scope and the key are for it, the X-Sdk-Date is not.
        let mut other_day = auth.clone();
        other_day.credential_scope = Some(CredentialScope::new("20240316", "cn-north-4", "hss"));
        let refused = verify_signature_for(&raw, &other_day, b"SK", at, &accepted).unwrap_err();
        assert!(
            refused.message.contains("x-sdk-date day 20240315"),
            "{}",
            refused.message
        );
        // A scope on another algorithm, none on V11.
        let mut unscoped = auth.clone();
        unscoped.credential_scope = None;
        assert!(verify_signature_for(&raw, &unscoped, b"SK", at, &accepted).is_err());
        let (raw, auth, at) = signed_raw(Algorithm::HmacSha256, "SK", ("cn-north-4", "hss"));
        let scoped =
            auth.with_credential_scope(CredentialScope::new("20240315", "cn-north-4", "hss"));
        assert!(verify_signature_for(&raw, &scoped, b"SK", at, &accepted).is_err());
    }

    /// SM3 algorithms take their payload hash from `X-Sdk-Content-Sm3`, never from
    /// `X-Sdk-Content-Sha256`, and the SHA-256 ones the other way round.
    #[test]
    fn the_content_header_is_the_algorithms() {
        let raw = RawRequest::new(
            "POST",
            "/",
            vec![
                ("x-sdk-content-sha256".into(), b"UNSIGNED-PAYLOAD".to_vec()),
                ("x-sdk-content-sm3".into(), b"DECLARED-SM3".to_vec()),
            ],
            b"x".to_vec(),
        );
        let signed: Vec<String> = vec!["x-sdk-content-sha256".into(), "x-sdk-content-sm3".into()];
        let sha = canonical_request_with(&raw, &signed, Algorithm::HmacSha256).unwrap();
        assert!(sha.as_str().ends_with("\nUNSIGNED-PAYLOAD"));
        let sm3 = canonical_request_with(&raw, &signed, Algorithm::Sm2Sm3).unwrap();
        assert!(sm3.as_str().ends_with("\nDECLARED-SM3"));
        // Unsigned, a declared hash is not used.
        let sm3 = canonical_request_with(&raw, &signed[..1], Algorithm::HmacSm3).unwrap();
        assert!(sm3.as_str().ends_with(&hex_of_sm3(b"x")));
    }
}
