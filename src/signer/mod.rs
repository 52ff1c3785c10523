//! AK/SK request signing as Huawei Cloud's API gateway verifies it, with each of the official
//! SDKs' algorithms: SDK-HMAC-SHA256 (the default), SDK-HMAC-SM3, V11-HMAC-SHA256 (derived
//! keys), SDK-ECDSA-P256-SHA256 (feature `ecdsa`) and SDK-SM2-SM3 (feature `sm2`).
//!
//! [`sign`] and [`sign_with`] are pure functions: request parts, keys and the time go in; the
//! headers to send and every intermediate string come out. They have no I/O, so they can sign
//! a request for any Huawei Cloud API and be tested against recorded vectors.
//!
//! The quirks that matter on the wire: the canonical URI always ends in `/` (the path sent does
//! not); the query string sent *is* the canonical one; every header present is signed unless its
//! name contains `_`; values are trimmed; `Host` keeps any port written in the endpoint.
//!
//! ```
//! use hss_image_sync::signer::{sign, SignableRequest};
//! use secrecy::SecretString;
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let headers = [("Content-Type".to_string(), "application/json".to_string())];
//! let request = SignableRequest {
//!     method: "POST",
//!     host: "hss.cn-north-4.myhuaweicloud.com",
//!     path: "/v5/0a1b/image/synchronize",
//!     query: &[("enterprise_project_id".to_string(), "0".to_string())],
//!     headers: &headers,
//!     body: br#"{"image_type": "private_image"}"#,
//! };
//! let sk = SecretString::from("my-secret-key");
//! let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
//! let signed = sign(&request, "MYACCESSKEY", &sk, time).unwrap();
//!
//! assert_eq!(signed.uri, "/v5/0a1b/image/synchronize?enterprise_project_id=0");
//! assert_eq!(signed.signed_headers, "content-type;host;x-sdk-date");
//! assert!(signed.authorization.starts_with("SDK-HMAC-SHA256 Access=MYACCESSKEY, SignedHeaders="));
//! ```

// `pub(crate)` for the emulator, which verifies with the same key derivations and curves.
pub(crate) mod algorithm;
mod canonical;
#[cfg(feature = "ecdsa")]
pub(crate) mod ecdsa;
mod key;
mod redacted;
pub mod sdk_date;
#[cfg(feature = "sm2")]
pub(crate) mod sm2;
#[cfg(test)]
mod test_vectors;
pub(crate) mod v11;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use key::{Captured, SignedHeaders, SigningKey};
pub use v11::uses_derived_key;

// The canonicalization steps, public for the property tests and the fuzzer, not as API.
#[doc(hidden)]
pub use canonical::{canonical_query, canonical_uri, encode, trim_header_value};
// For the client's wire form, which keeps what is already canonical as it is.
pub(crate) use canonical::is_unreserved;
pub use redacted::{CanonicalRequest, Header, MASK, is_sensitive_header};

use secrecy::SecretString;
use std::fmt;
use std::time::SystemTime;

/// The default algorithm's name, written in the string to sign and in `Authorization`.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// Header whose value, when present and the body is not empty, replaces the body hash (the
/// SHA-256 algorithms; the SM3 ones use `X-Sdk-Content-Sm3`).
pub const CONTENT_HASH_HEADER: &str = "X-Sdk-Content-Sha256";
/// `hex(SHA-256(""))`, the payload hash of an empty body.
pub const EMPTY_BODY_HASH: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the signer needs of a request, as it will be sent. Built with a struct literal; new
/// fields, if any, will come with a constructor.
///
/// The headers are `(String, String)` pairs or, for a caller that already holds them as text
/// (the client signs the headers it is about to send without copying them), `(&str, &str)`.
pub struct SignableRequest<'a, H = String> {
    /// HTTP method; uppercased in the canonical request.
    pub method: &'a str,
    /// The endpoint's authority exactly as written (`host[:port]`); becomes `Host` unless
    /// `headers` already has one.
    pub host: &'a str,
    /// The path as sent, percent-encoded, without the query.
    pub path: &'a str,
    /// Query parameters, decoded (raw) key/value pairs in any order.
    pub query: &'a [(String, String)],
    /// Headers present at signing time, in order. Names are kept as given: the
    /// `UNSIGNED-PAYLOAD` rule looks at the exact name `Content-Type`, as the official SDK does.
    pub headers: &'a [(H, H)],
    /// The exact body bytes sent.
    pub body: &'a [u8],
}

// Written out: derived, they would ask `H: Copy`, which `String` is not.
impl<H> Clone for SignableRequest<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H> Copy for SignableRequest<'_, H> {}

impl<H: AsRef<str>> fmt::Debug for SignableRequest<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<Header> = self
            .headers
            .iter()
            .map(|(name, value)| Header::new(name.as_ref(), value.as_ref()))
            .collect();
        f.debug_struct("SignableRequest")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The result of [`sign`]. Its `Debug` masks tokens and the signature.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedRequest {
    /// Every header to send, in order: the input's (values trimmed) plus `X-Sdk-Content-Sha256`
    /// when the rule applies, `X-Sdk-Date`, `Host` and `Authorization`. `Authorization`,
    /// `X-Security-Token` and `X-Auth-Token` are marked sensitive.
    pub headers: Vec<Header>,
    /// Path plus `?` and the canonical query string (omitted when empty): the request target
    /// to send.
    pub uri: String,
    /// The canonical query string, also the query string to send.
    pub canonical_query: String,
    /// The canonical request, useful for debugging a gateway's APIG.0301 answer (its
    /// `Display` masks a signed security token).
    pub canonical_request: CanonicalRequest,
    /// `SDK-HMAC-SHA256\n<date>\n<hex(sha256(canonical request))>`.
    pub string_to_sign: String,
    /// `;`-joined lowercase names of the signed headers.
    pub signed_headers: String,
    /// Lowercase hex HMAC-SHA256 of the string to sign.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("signed_headers", &self.signed_headers)
            .field("canonical_request", &self.canonical_request)
            .field("string_to_sign", &self.string_to_sign)
            .finish_non_exhaustive()
    }
}

/// Why a request could not be signed. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The access key ID is empty.
    #[error("credentials: the access key ID (AK) must not be empty")]
    EmptyAccessKey,
    /// The secret access key is empty.
    #[error("credentials: the secret access key (SK) must not be empty")]
    EmptySecretKey,
    /// The path is empty; it must start with `/`.
    #[error("request path must not be empty")]
    EmptyPath,
    /// An `X-Sdk-Date` header was given but is not `YYYYMMDDTHHMMSSZ`.
    #[error("header X-Sdk-Date: {0:?} is not a valid YYYYMMDDTHHMMSSZ timestamp")]
    BadDateHeader(String),
    /// The signing time cannot be written as `YYYYMMDDTHHMMSSZ` (before 1970 or after 9999).
    #[error("signing time is outside the years 1970..=9999")]
    TimeOutOfRange,
    /// Two headers have the same name (ignoring case). The official SDK would sign the last
    /// value for both and send both, which no gateway can verify; refused instead.
    #[error("header {0} is given more than once (names are case-insensitive)")]
    DuplicateHeader(String),
    /// The request already has an `Authorization` header. The official SDK would sign it and
    /// then overwrite it (or, spelt differently, send two), which no gateway can verify.
    #[error("the request already has an Authorization header; the signer sets it")]
    AuthorizationGiven,
    /// V11-HMAC-SHA256 needs the region and service of its derived key's scope.
    #[error("V11-HMAC-SHA256 needs a scope: the region and service of the derived key")]
    MissingScope,
    /// The AK/SK yield no ECDSA or SM2 private key (the SDK's derivation fails as well; a
    /// chance of about 2^-8000).
    #[error("no signing key can be derived from this AK/SK")]
    NoKey,
    /// This build cannot sign with the algorithm: its crate feature is off.
    #[error("signing with {0} needs the crate feature `{feature}`", feature = feature_of(*.0))]
    Unavailable(Algorithm),
    /// A header value cannot be sent as it was signed (it holds a control character or is not
    /// UTF-8). Names the header, never the value.
    #[error("header {0}: the value cannot be sent as signed (control character or not UTF-8)")]
    InvalidHeaderValue(String),
}

fn feature_of(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EcdsaP256Sha256 => "ecdsa",
        Algorithm::Sm2Sm3 => "sm2",
        _ => "none",
    }
}

/// Everything besides the request that a signature depends on.
///
/// ```
/// use hss_image_sync::signer::{Algorithm, SigningParams};
/// use secrecy::SecretString;
/// use std::time::SystemTime;
///
/// let sk = SecretString::from("my-secret-key");
/// let params = SigningParams::new(Algorithm::V11HmacSha256, "MYACCESSKEY", &sk, SystemTime::now())
///     .with_scope("cn-north-4", "hss");
/// assert!(format!("{params:?}").contains("MYACCESSKEY"));
/// assert!(!format!("{params:?}").contains("my-secret-key"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct SigningParams<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The access key ID (AK).
    pub access_key_id: &'a str,
    /// The secret access key (SK).
    pub secret_key: &'a SecretString,
    /// The signing time, used unless the request carries an `X-Sdk-Date` header.
    pub time: SystemTime,
    /// V11 only: the region and service of the derived key.
    pub scope: Option<Scope<'a>>,
}

/// The region and service a V11 derived key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scope<'a> {
    /// Region ID, e.g. `cn-north-4`.
    pub region: &'a str,
    /// Service name, e.g. `hss`.
    pub service: &'a str,
}

impl<'a> SigningParams<'a> {
    /// Parameters without a V11 scope.
    pub fn new(
        algorithm: Algorithm,
        access_key_id: &'a str,
        secret_key: &'a SecretString,
        time: SystemTime,
    ) -> Self {
        SigningParams {
            algorithm,
            access_key_id,
            secret_key,
            time,
            scope: None,
        }
    }

    /// The V11 scope: region and service of the derived key.
    pub fn with_scope(mut self, region: &'a str, service: &'a str) -> Self {
        self.scope = Some(Scope { region, service });
        self
    }
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("algorithm", &self.algorithm)
            .field("access_key_id", &self.access_key_id)
            .field("secret_key", &MASK)
            .field("time", &self.time)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Signs `request` with SDK-HMAC-SHA256 (see [`sign_with`] for the other algorithms).
///
/// `time` is used unless the request already carries an `X-Sdk-Date` header (any case), whose
/// value is then used as is.
pub fn sign<H: AsRef<str>>(
    request: &SignableRequest<'_, H>,
    access_key_id: &str,
    secret_key: &SecretString,
    time: SystemTime,
) -> Result<SignedRequest, SigningError> {
    sign_with(
        request,
        &SigningParams::new(Algorithm::HmacSha256, access_key_id, secret_key, time),
    )
}

/// Signs `request` with `params.algorithm`: through a [`SigningKey`] made for the call, which
/// also hands back the intermediate strings.
pub fn sign_with<H: AsRef<str>>(
    request: &SignableRequest<'_, H>,
    params: &SigningParams<'_>,
) -> Result<SignedRequest, SigningError> {
    let mut key = SigningKey::new(params.algorithm, params.access_key_id, params.secret_key);
    if let Some(scope) = params.scope {
        key = key.with_scope(scope.region, scope.service);
    }
    let (added, captured) = key.sign_headers_captured(request, params.time)?;
    let headers = added
        .merged(request.headers, request.host)
        .map(|(name, value)| Header::new(name, value))
        .collect();
    let canonical_query = canonical_query(request.query);
    let uri = if canonical_query.is_empty() {
        request.path.to_owned()
    } else {
        format!("{}?{canonical_query}", request.path)
    };
    Ok(SignedRequest {
        headers,
        uri,
        canonical_query,
        canonical_request: captured.canonical_request,
        string_to_sign: captured.string_to_sign,
        signed_headers: captured.signed_headers,
        signature: captured.signature,
        authorization: added.authorization,
    })
}

/// Lowercase hexadecimal of `bytes` into `out` (at least twice as long), returned as text: the
/// one hex encoder of the crate (signatures, hashes, request IDs).
pub(crate) fn hex_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let out = &mut out[..2 * bytes.len()];
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    std::str::from_utf8(out).expect("hex digits")
}

/// [`hex_into`] a new string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0; 2 * bytes.len()];
    hex_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_header_name_given_twice() {
        let headers = [
            ("X-Custom".to_owned(), "a".to_owned()),
            ("x-custom".to_owned(), "b".to_owned()),
        ];
        let request = SignableRequest {
            method: "GET",
            host: "h",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"",
        };
        let err = sign(&request, "AK", &SecretString::from("SK"), SystemTime::now()).unwrap_err();
        assert_eq!(err, SigningError::DuplicateHeader("x-custom".into()));
    }

    /// Found by fuzzing: a caller's `AuthorizaTion` was signed, then sent next to ours.
    #[test]
    fn refuses_a_callers_authorization_header() {
        for name in ["Authorization", "AuthorizaTion", "authorization"] {
            let headers = [(name.to_owned(), "x".to_owned())];
            let request = SignableRequest {
                method: "GET",
                host: "h",
                path: "/",
                query: &[],
                headers: &headers,
                body: b"",
            };
            let err =
                sign(&request, "AK", &SecretString::from("SK"), SystemTime::now()).unwrap_err();
            assert_eq!(err, SigningError::AuthorizationGiven);
        }
    }

    /// Found by fuzzing: the content-hash header must not be added a second time.
    #[test]
    fn a_callers_content_hash_header_of_another_spelling_is_kept_once() {
        let headers = [
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("x-sdk-content-sha256".to_owned(), "abc".to_owned()),
        ];
        let request = SignableRequest {
            method: "POST",
            host: "h",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"x",
        };
        let signed = sign(&request, "AK", &SecretString::from("SK"), SystemTime::now()).unwrap();
        assert_eq!(
            signed.signed_headers,
            "content-type;host;x-sdk-content-sha256;x-sdk-date"
        );
        assert!(signed.canonical_request.as_str().ends_with("\nabc"));
    }
}
