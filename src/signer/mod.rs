//! AK/SK request signing, `SDK-HMAC-SHA256`, as Huawei Cloud's API gateway verifies it.
//!
//! [`sign`] is a pure function: request parts, keys and the time go in; the headers to send and
//! every intermediate string come out. It has no I/O, so it can sign a request for any Huawei
//! Cloud API and be tested against recorded vectors.
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

mod canonical;
mod redacted;
pub mod sdk_date;

// The canonicalization steps, public for the property tests and the fuzzer, not as API.
#[doc(hidden)]
pub use canonical::{canonical_query, canonical_uri, encode, trim_header_value};
pub use redacted::{CanonicalRequest, Header, MASK, is_sensitive_header};

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::SystemTime;

/// The algorithm name written in the string to sign and in `Authorization`.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// Header whose value, when present and the body is not empty, replaces the body hash.
pub const CONTENT_HASH_HEADER: &str = "X-Sdk-Content-Sha256";
/// `hex(SHA-256(""))`, the payload hash of an empty body.
pub const EMPTY_BODY_HASH: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the signer needs of a request, as it will be sent. Built with a struct literal; new
/// fields, if any, will come with a constructor.
#[derive(Clone, Copy)]
pub struct SignableRequest<'a> {
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
    pub headers: &'a [(String, String)],
    /// The exact body bytes sent.
    pub body: &'a [u8],
}

impl fmt::Debug for SignableRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<Header> = self
            .headers
            .iter()
            .map(|(name, value)| Header::new(name, value))
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
    /// A header value cannot be sent as it was signed (it holds a control character or is not
    /// UTF-8). Names the header, never the value.
    #[error("header {0}: the value cannot be sent as signed (control character or not UTF-8)")]
    InvalidHeaderValue(String),
}

/// Signs `request` with SDK-HMAC-SHA256.
///
/// `time` is used unless the request already carries an `X-Sdk-Date` header (any case), whose
/// value is then used as is.
pub fn sign(
    request: &SignableRequest<'_>,
    access_key_id: &str,
    secret_key: &SecretString,
    time: SystemTime,
) -> Result<SignedRequest, SigningError> {
    if access_key_id.is_empty() {
        return Err(SigningError::EmptyAccessKey);
    }
    if secret_key.expose_secret().is_empty() {
        return Err(SigningError::EmptySecretKey);
    }
    if request.path.is_empty() {
        return Err(SigningError::EmptyPath);
    }

    // Checked without allocating: this is on every request's path.
    for (i, (name, _)) in request.headers.iter().enumerate() {
        if name.eq_ignore_ascii_case("Authorization") {
            return Err(SigningError::AuthorizationGiven);
        }
        if request.headers[..i]
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Err(SigningError::DuplicateHeader(name.to_ascii_lowercase()));
        }
    }
    let mut headers = HeaderList(request.headers.to_vec());
    headers.add_signer_headers(request.host, time)?;
    let date = headers
        .get_ignore_case(DATE_HEADER)
        .map(str::to_owned)
        .unwrap_or_default();

    // Names with `_` are sent but never signed (gateways in the nginx family drop them).
    // Names are distinct (checked above), so each signed line has its one value.
    let mut signed: Vec<String> = headers
        .0
        .iter()
        .filter(|(name, _)| !name.contains('_'))
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    signed.sort_unstable();
    let signed_headers = signed.join(";");

    headers.trim_values();
    let canonical_query = canonical_query(request.query);
    let payload_hash = payload_hash(&headers, request.body);

    let mut canonical_request = String::with_capacity(512);
    canonical_request.push_str(&request.method.to_uppercase());
    canonical_request.push('\n');
    canonical_request.push_str(&canonical_uri(request.path));
    canonical_request.push('\n');
    canonical_request.push_str(&canonical_query);
    canonical_request.push('\n');
    for name in &signed {
        canonical_request.push_str(name);
        canonical_request.push(':');
        canonical_request.push_str(headers.get_ignore_case(name).unwrap_or_default());
        canonical_request.push('\n');
    }
    canonical_request.push('\n');
    canonical_request.push_str(&signed_headers);
    canonical_request.push('\n');
    canonical_request.push_str(&payload_hash);

    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = hex(&hmac_sha256(
        secret_key.expose_secret().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!(
        "{ALGORITHM} Access={access_key_id}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    headers.set("Authorization", authorization.clone());
    let headers = headers
        .0
        .into_iter()
        .map(|(name, value)| Header::new(name, value))
        .collect();

    let uri = if canonical_query.is_empty() {
        request.path.to_owned()
    } else {
        format!("{}?{canonical_query}", request.path)
    };
    Ok(SignedRequest {
        headers,
        uri,
        canonical_query,
        canonical_request: CanonicalRequest::new(canonical_request),
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    })
}

/// Lowercase hexadecimal: the one hex encoder of the crate (signatures, hashes, request IDs).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn payload_hash(headers: &HeaderList, body: &[u8]) -> String {
    if body.is_empty() {
        // Even with an UNSIGNED-PAYLOAD header, as the official Python SDK does.
        return EMPTY_BODY_HASH.to_owned();
    }
    match headers.get_ignore_case(CONTENT_HASH_HEADER) {
        Some(given) if !given.is_empty() => given.to_owned(),
        _ => hex(&Sha256::digest(body)),
    }
}

/// Headers as an ordered list with the official SDK's dictionary semantics: setting an existing
/// name (exact match) replaces its value in place, a new name goes last.
struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    fn get_exact(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn get_ignore_case(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds, in the official SDK's order, the content-hash, date and host headers.
    fn add_signer_headers(&mut self, host: &str, time: SystemTime) -> Result<(), SigningError> {
        let content_type = self.get_exact("Content-Type").unwrap_or_default();
        // The SDK sets the exact name; a caller's header of another spelling is left alone
        // (the SDK would add a second one, which no gateway can verify).
        let other_spelling = self.get_exact(CONTENT_HASH_HEADER).is_none()
            && self.get_ignore_case(CONTENT_HASH_HEADER).is_some();
        if !content_type.is_empty()
            && !content_type.starts_with("application/json")
            && !content_type.starts_with("application/bson")
            && !other_spelling
        {
            self.set(CONTENT_HASH_HEADER, "UNSIGNED-PAYLOAD".to_owned());
        }
        match self.get_ignore_case(DATE_HEADER) {
            Some(given) => {
                if sdk_date::parse(given).is_none() {
                    return Err(SigningError::BadDateHeader(given.to_owned()));
                }
            }
            None => {
                let date = sdk_date::format(time).ok_or(SigningError::TimeOutOfRange)?;
                self.set(DATE_HEADER, date);
            }
        }
        if self.get_ignore_case("Host").is_none() {
            self.set("Host", host.to_owned());
        }
        Ok(())
    }

    fn trim_values(&mut self) {
        for (_, value) in &mut self.0 {
            let trimmed = trim_header_value(value);
            if trimmed.len() != value.len() {
                *value = trimmed.to_owned();
            }
        }
    }
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
