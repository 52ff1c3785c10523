//! The per-call signing path of the client: a [`SigningKey`] made once per credential (the HMAC
//! key's inner and outer state computed once), and [`SigningKey::sign_headers`], which hashes
//! the canonical request as it writes it instead of building it as a string, and returns only
//! the headers the signer adds. Same rules and same bytes as [`sign_with`](super::sign_with)
//! (a unit test checks it on every recorded vector); no intermediate string comes out.
//!
//! A key also keeps what the canonical request of the last request it signed makes before
//! and after the date (a [`Memo`]): the client signs every call of an operation with the same
//! method, path, query and headers, so a call of that shape hashes only its date, the lines
//! after it and its body's hash.

use super::algorithm::{Algorithm, HashFn};
use super::canonical::trim_header_value;
use super::{DATE_HEADER, SignableRequest, SigningError, SigningParams, sdk_date};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sm3::Sm3;
use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;
use zeroize::Zeroize;

/// An access key pair ready to sign with one algorithm: for the HMAC algorithms the key's
/// inner and outer hash states are computed here, once, instead of at every request.
///
/// It also keeps a memo of the last request shape it signed (method, host, path, query and
/// headers; see the module docs): the next request of that shape, at any time and with any
/// body, hashes only what changes. Requests of alternating shapes pay for making the memo
/// each time (about a third more than without it); a clone starts without one.
///
/// ```
/// use hss_image_sync::signer::{Algorithm, SignableRequest, SigningKey};
/// use secrecy::SecretString;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let key = SigningKey::new(Algorithm::HmacSha256, "MYACCESSKEY", &SecretString::from("sk"));
/// let headers = [("Content-Type".to_string(), "application/json".to_string())];
/// let request = SignableRequest {
///     method: "POST",
///     host: "hss.cn-north-4.myhuaweicloud.com",
///     path: "/v5/0a1b/image/synchronize",
///     query: &[],
///     headers: &headers,
///     body: b"{}",
/// };
/// let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
/// let added = key.sign_headers(&request, time).unwrap();
/// assert_eq!(added.date.as_deref(), Some("20240315T083530Z"));
/// assert!(added.authorization.starts_with("SDK-HMAC-SHA256 Access=MYACCESSKEY, "));
/// ```
pub struct SigningKey {
    algorithm: Algorithm,
    access_key_id: String,
    secret_key: SecretString,
    scope: Option<(String, String)>,
    mac: MacState,
    /// The last request shape signed on the fast path (see [`Memo`]). Only tried, never waited
    /// for: a thread that finds it taken signs without it.
    memo: Mutex<Option<Box<Memo>>>,
}

impl Clone for SigningKey {
    /// The same key, without the memo.
    fn clone(&self) -> Self {
        SigningKey {
            algorithm: self.algorithm,
            access_key_id: self.access_key_id.clone(),
            secret_key: self.secret_key.clone(),
            scope: self.scope.clone(),
            mac: self.mac.clone(),
            memo: Mutex::new(None),
        }
    }
}

/// What the canonical request of one request shape (everything of the request but the time
/// and the body) makes around the date: the hash state after the bytes before the date's
/// value, and the bytes from the end of that value to the payload hash. A request is signed
/// from it only when it equals the memo's inputs field by field. Kept only when no secret
/// header value comes before the date (the hash state would hold it where it cannot be
/// wiped); the secret values it holds otherwise are wiped when it is dropped.
struct Memo {
    method: String,
    host: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body_empty: bool,
    /// The hash state after the canonical request's bytes before the date's value.
    before_date: Hasher,
    /// From the end of the date's value to the payload hash: the canonical headers after the
    /// date, the blank line, the signed header list and its newline; then the payload hash
    /// when the request gives it (`payload_given`) instead of the body's.
    after_date: Vec<u8>,
    /// The signed header list (for `Authorization`).
    signed_list: String,
    /// The last body hashed with this shape, and its hash (hex), when it was no longer than
    /// [`MEMO_BODY`]: the client sends the same body with every call of an operation.
    body: Option<(Vec<u8>, [u8; 64])>,
    payload_given: bool,
    unsigned_payload: bool,
    host_given: bool,
}

impl Memo {
    fn matches(&self, request: &SignableRequest<'_>) -> bool {
        self.body_empty == request.body.is_empty()
            && self.method == request.method
            && self.path == request.path
            && self.host == request.host
            && self.headers == request.headers
            && self.query == request.query
    }

    /// The hash (hex) of `body`, from the memo when it is the body last hashed; kept for the
    /// next call otherwise.
    fn body_hash(&mut self, hash: HashFn, body: &[u8]) -> [u8; 64] {
        match &mut self.body {
            Some((kept, hashed)) if kept.as_slice() == body => *hashed,
            kept => {
                let hashed = hex32(&hash.digest(body));
                if let Some((mut old, _)) = kept.take() {
                    old.zeroize();
                }
                if body.len() <= MEMO_BODY {
                    *kept = Some((body.to_vec(), hashed));
                }
                hashed
            }
        }
    }

    /// Wipes the secret header values and the body it holds (here and in `after_date`).
    fn wipe(&mut self) {
        for (name, value) in &mut self.headers {
            if super::is_sensitive_header(name) {
                value.zeroize();
            }
        }
        self.after_date.zeroize();
        if let Some((body, _)) = &mut self.body {
            body.zeroize();
        }
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// What the fast path made of one request, for [`SigningKey::remember`]: the hash state
/// before the date's value, the bytes after it up to the payload hash (and with it, when the
/// request gives it), the signed header list, and the rules' outcomes.
struct Shape<'a> {
    before_date: Hasher,
    after_date: &'a [u8],
    signed_list: &'a str,
    /// The body's hash (hex), unless the request gives its payload hash.
    body_hash: Option<[u8; 64]>,
    payload_given: bool,
    unsigned_payload: bool,
    host_given: bool,
}

/// The HMAC key's state after absorbing the padded key, for the algorithms whose key is the SK.
#[derive(Clone)]
enum MacState {
    Sha256(Hmac<Sha256>),
    Sm3(Hmac<Sm3>),
    /// V11 (the key depends on the date), ECDSA and SM2.
    None,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What [`SigningKey::sign_headers`] adds to a request's headers (whose values are sent
/// trimmed, as they were signed), in this order:
///
/// 1. `content_hash` set to `UNSIGNED-PAYLOAD` when the content-type rule applies (replacing a
///    header of exactly that name, else added);
/// 2. `X-Sdk-Date: date` unless the request had a date header;
/// 3. `Host: <request.host>` when `host` is true (the request had none);
/// 4. `Authorization: authorization`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedHeaders {
    /// The content-hash header to set to `UNSIGNED-PAYLOAD` (`X-Sdk-Content-Sha256` or
    /// `X-Sdk-Content-Sm3`), when the rule applies.
    pub content_hash: Option<&'static str>,
    /// The `X-Sdk-Date` value to add; `None` when the request carried one.
    pub date: Option<String>,
    /// Whether `Host` must be added (with the request's `host`).
    pub host: bool,
    /// The `Authorization` value.
    pub authorization: String,
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("content_hash", &self.content_hash)
            .field("date", &self.date)
            .field("host", &self.host)
            .field("authorization", &super::MASK)
            .finish()
    }
}

impl SignedHeaders {
    /// The headers to send: `headers` (the request's, values trimmed) with the additions, in the
    /// order of [`SignedRequest::headers`](super::SignedRequest::headers): the content-hash
    /// header set in place or added, then `X-Sdk-Date`, `Host` (trimmed, as `sign_with` trims
    /// every value it signs) and `Authorization`. Borrows; allocates nothing.
    pub fn merged<'a>(
        &'a self,
        headers: &'a [(String, String)],
        host: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
        let replaced = self
            .content_hash
            .filter(|name| headers.iter().any(|(n, _)| n == name));
        let appended = self.content_hash.filter(|_| replaced.is_none());
        headers
            .iter()
            .map(move |(n, v)| match replaced {
                Some(name) if n == name => (n.as_str(), UNSIGNED),
                _ => (n.as_str(), v.as_str()),
            })
            .chain(appended.map(|name| (name, UNSIGNED)))
            .chain(self.date.as_deref().map(|d| (DATE_HEADER, d)))
            .chain(self.host.then(|| ("Host", trim_header_value(host))))
            .chain(std::iter::once((
                "Authorization",
                self.authorization.as_str(),
            )))
    }
}

/// A header the fast path handles: a name of visible ASCII without `;` or `:`, and a value of
/// printable ASCII (space and tab included). Anything else (control or non-ASCII characters,
/// Unicode white space to trim) takes the general path, which is `sign_with` itself.
/// Found by fuzzing the two against each other.
fn plain_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b':')
        && plain_value(value.as_bytes())
}

/// Every byte printable ASCII or a tab, eight bytes at a time (values are most of the bytes
/// a request's headers hold).
fn plain_value(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let plain = |b: &u8| *b == b'\t' || (b' '..=b'~').contains(b);
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        // Some byte below 0x20, or above 0x7e (exact as "any byte", the classic tests).
        let below_space = w.wrapping_sub(0x20 * ONES) & !w & HIGH_BITS;
        let above_tilde = (w.wrapping_add(ONES) | w) & HIGH_BITS;
        if below_space | above_tilde != 0 && !word.iter().all(plain) {
            return false;
        }
    }
    words.remainder().iter().all(plain)
}

/// Headers signed on the fast path without allocating; more take the general path.
const MAX_HEADERS: usize = 24;
/// Query parameters sorted on the stack; more take the general path.
const MAX_QUERY: usize = 16;
/// Bytes of lowercase header names kept on the stack; longer names take the general path.
const LOWERCASE_NAMES: usize = 512;
/// The longest names the signer may add: `X-Sdk-Content-Sha256`, `X-Sdk-Date` and `Host`.
const ADDED_NAMES: usize = 20 + 10 + 4;
/// The longest body a [`Memo`] keeps (with its hash) to compare with the next one's.
const MEMO_BODY: usize = 4096;

impl SigningKey {
    /// Keys for `algorithm`. For V11-HMAC-SHA256 add the scope with
    /// [`with_scope`](Self::with_scope).
    pub fn new(algorithm: Algorithm, access_key_id: &str, secret_key: &SecretString) -> Self {
        let sk = secret_key.expose_secret().as_bytes();
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let mac = match algorithm {
            Algorithm::HmacSha256 => MacState::Sha256(
                <Hmac<Sha256> as KeyInit>::new_from_slice(sk).expect("HMAC takes any key length"),
            ),
            Algorithm::HmacSm3 => MacState::Sm3(
                <Hmac<Sm3> as KeyInit>::new_from_slice(sk).expect("HMAC takes any key length"),
            ),
            _ => MacState::None,
        };
        SigningKey {
            algorithm,
            access_key_id: access_key_id.to_owned(),
            secret_key: secret_key.clone(),
            scope: None,
            mac,
            memo: Mutex::new(None),
        }
    }

    /// The V11 scope: region and service of the derived key.
    pub fn with_scope(mut self, region: &str, service: &str) -> Self {
        self.scope = Some((region.to_owned(), service.to_owned()));
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The access key ID.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Whether this key was made from these inputs (so a cache can keep it).
    pub fn is_for(
        &self,
        algorithm: Algorithm,
        access_key_id: &str,
        secret_key: &SecretString,
        scope: Option<(&str, &str)>,
    ) -> bool {
        self.algorithm == algorithm
            && self.access_key_id == access_key_id
            && self.scope.as_ref().map(|(r, s)| (r.as_str(), s.as_str())) == scope
            && self.secret_key.expose_secret() == secret_key.expose_secret()
    }

    fn params(&self, time: SystemTime) -> SigningParams<'_> {
        let params =
            SigningParams::new(self.algorithm, &self.access_key_id, &self.secret_key, time);
        match &self.scope {
            Some((region, service)) => params.with_scope(region, service),
            None => params,
        }
    }

    /// Signs `request` as [`sign_with`](super::sign_with) does and returns only the headers
    /// it adds. `time` is used unless the request carries an `X-Sdk-Date` header.
    pub fn sign_headers(
        &self,
        request: &SignableRequest<'_>,
        time: SystemTime,
    ) -> Result<SignedHeaders, SigningError> {
        let algorithm = self.algorithm;
        if !algorithm.is_available() {
            return Err(SigningError::Unavailable(algorithm));
        }
        if algorithm == Algorithm::V11HmacSha256 && self.scope.is_none() {
            return Err(SigningError::MissingScope);
        }
        if self.access_key_id.is_empty() {
            return Err(SigningError::EmptyAccessKey);
        }
        if self.secret_key.expose_secret().is_empty() {
            return Err(SigningError::EmptySecretKey);
        }
        if request.path.is_empty() {
            return Err(SigningError::EmptyPath);
        }
        if let Some(signed) = self.sign_by_memo(request, time) {
            return signed;
        }
        if request.headers.len() + 3 > MAX_HEADERS
            || request.query.len() > MAX_QUERY
            || request.headers.iter().map(|(n, _)| n.len()).sum::<usize>() + ADDED_NAMES
                > LOWERCASE_NAMES
            || !request.method.is_ascii()
            || !request.headers.iter().all(|(n, v)| plain_header(n, v))
        {
            return self.sign_headers_general(request, time);
        }
        let hash = algorithm.hash();
        let content_header = hash.content_header();

        // The header checks of `sign_with`, then its header list: the request's (values
        // trimmed), with the signer's additions.
        let mut headers: [(&str, &str); MAX_HEADERS] = [("", ""); MAX_HEADERS];
        let mut count = 0;
        let mut date_given = None;
        let mut host_given = false;
        let (mut exact_content_type, mut exact_content_header) = (None, None);
        let mut other_spelling = false;
        for (i, (name, value)) in request.headers.iter().enumerate() {
            if name.eq_ignore_ascii_case("Authorization") {
                return Err(SigningError::AuthorizationGiven);
            }
            if request.headers[..i]
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(SigningError::DuplicateHeader(name.to_ascii_lowercase()));
            }
            if name == "Content-Type" {
                exact_content_type = Some(value.as_str());
            }
            if name == content_header {
                exact_content_header = Some(i);
            } else if name.eq_ignore_ascii_case(content_header) {
                other_spelling = true;
            }
            if date_given.is_none() && name.eq_ignore_ascii_case(DATE_HEADER) {
                date_given = Some(value.as_str());
            }
            host_given |= name.eq_ignore_ascii_case("Host");
            headers[count] = (name.as_str(), trim(value));
            count += 1;
        }
        let content_type = exact_content_type.unwrap_or_default();
        // The SDK's rule; a caller's content-hash header of another spelling is left alone.
        let keeps_other_spelling = exact_content_header.is_none() && other_spelling;
        let unsigned_payload = !content_type.is_empty()
            && !content_type.starts_with("application/json")
            && !content_type.starts_with("application/bson")
            && !keeps_other_spelling;
        if unsigned_payload {
            match exact_content_header {
                Some(i) => headers[i].1 = "UNSIGNED-PAYLOAD",
                None => {
                    headers[count] = (content_header, "UNSIGNED-PAYLOAD");
                    count += 1;
                }
            }
        }
        let date_buf: [u8; 16];
        let date: &str = match date_given {
            Some(given) => {
                if sdk_date::parse(given).is_none() {
                    return Err(SigningError::BadDateHeader(given.to_owned()));
                }
                given
            }
            None => {
                date_buf = sdk_date::format_bytes(time).ok_or(SigningError::TimeOutOfRange)?;
                // Digits, `T` and `Z`: ASCII.
                std::str::from_utf8(&date_buf).expect("ASCII")
            }
        };
        let date_index = date_given.is_none().then_some(count);
        if date_given.is_none() {
            headers[count] = (DATE_HEADER, date);
            count += 1;
        }
        if !host_given {
            headers[count] = ("Host", trim_header_value(request.host));
            count += 1;
        }
        let headers = &headers[..count];

        // Signed: names without `_`, sorted by their lowercase form, which is written once
        // here and then copied where it appears (canonical headers, signed headers, twice).
        let mut lowercase = [0u8; LOWERCASE_NAMES];
        let mut spans = [(0usize, 0usize); MAX_HEADERS];
        let mut used = 0;
        let mut signed: [u8; MAX_HEADERS] = [0; MAX_HEADERS];
        let mut signed_count = 0;
        for (i, (name, _)) in headers.iter().enumerate() {
            if !name.contains('_') {
                let span = (used, used + name.len());
                lowercase[span.0..span.1].copy_from_slice(name.as_bytes());
                ascii_lowercase(&mut lowercase[span.0..span.1]);
                spans[i] = span;
                used = span.1;
                signed[signed_count] = i as u8;
                signed_count += 1;
            }
        }
        let lower = |i: u8| {
            let (start, end) = spans[usize::from(i)];
            &lowercase[start..end]
        };
        let signed = &mut signed[..signed_count];
        signed.sort_unstable_by(|&a, &b| lower(a).cmp(lower(b)));

        let mut canonical = Canonical::new(hash);
        // Method, canonical URI, canonical query.
        canonical.uppercase(request.method);
        canonical.byte(b'\n');
        canonical.uri(request.path);
        canonical.byte(b'\n');
        canonical.query(request.query);
        canonical.byte(b'\n');
        // Where the date's value starts, and whether a secret value comes before it (for the
        // memo).
        let mut date_at = None;
        let mut secret_before_date = false;
        for &i in signed.iter() {
            canonical.put(lower(i));
            canonical.byte(b':');
            let (name, value) = headers[usize::from(i)];
            if date_index == Some(usize::from(i)) {
                date_at = Some(canonical.len);
            } else if date_at.is_none() {
                secret_before_date |= super::is_sensitive_header(name);
            }
            canonical.put(value.as_bytes());
            canonical.byte(b'\n');
        }
        canonical.byte(b'\n');
        // `a;b;c`, for the canonical request and `Authorization`.
        let mut list = [0u8; LOWERCASE_NAMES + MAX_HEADERS];
        let mut list_len = 0;
        for (n, &i) in signed.iter().enumerate() {
            if n > 0 {
                list[list_len] = b';';
                list_len += 1;
            }
            let name = lower(i);
            list[list_len..list_len + name.len()].copy_from_slice(name);
            list_len += name.len();
        }
        // Names on this path are visible ASCII (`plain_header`).
        let signed_list = std::str::from_utf8(&list[..list_len]).expect("ASCII");
        canonical.put(signed_list.as_bytes());
        canonical.byte(b'\n');
        // The payload hash.
        let given_hash = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(content_header))
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty() && !request.body.is_empty());
        let list_end = canonical.len - 1;
        let body_hash = match given_hash {
            Some(given) => {
                canonical.put(given.as_bytes());
                None
            }
            None => {
                let hashed = hex32(&hash.digest(request.body));
                canonical.put(&hashed);
                Some(hashed)
            }
        };
        let hashed = match (date_at, canonical.flushed, secret_before_date) {
            (Some(at), false, false) => {
                // All written is in the buffer: hashed from the state before the date, which
                // the memo keeps, with the bytes after it (and the payload hash when it is
                // given, not the body's).
                let written = &canonical.buf[..canonical.len];
                let mut before_date = Hasher::new(hash);
                before_date.update(&written[..at]);
                let mut whole = before_date.clone();
                whole.update(&written[at..]);
                let shape = Shape {
                    before_date,
                    after_date: if given_hash.is_some() {
                        &written[at + date.len()..]
                    } else {
                        &written[at + date.len()..=list_end]
                    },
                    signed_list,
                    body_hash,
                    payload_given: given_hash.is_some(),
                    unsigned_payload,
                    host_given,
                };
                self.remember(request, shape);
                hex32(&whole.finalize())
            }
            _ => hex32(&canonical.finalize()),
        };
        self.finish(
            date,
            date_given.is_none(),
            &hashed,
            signed_list,
            unsigned_payload,
            host_given,
        )
    }

    /// [`sign_headers`](Self::sign_headers) of a request of the shape the memo holds; `None`
    /// when it holds another (or none, or another thread holds it).
    fn sign_by_memo(
        &self,
        request: &SignableRequest<'_>,
        time: SystemTime,
    ) -> Option<Result<SignedHeaders, SigningError>> {
        let mut slot = self.memo.try_lock().ok()?;
        let memo = slot.as_deref_mut().filter(|memo| memo.matches(request))?;
        let Some(date_buf) = sdk_date::format_bytes(time) else {
            return Some(Err(SigningError::TimeOutOfRange));
        };
        let mut canonical = memo.before_date.clone();
        canonical.update(&date_buf);
        canonical.update(&memo.after_date);
        if !memo.payload_given {
            canonical.update(&memo.body_hash(self.algorithm.hash(), request.body));
        }
        let hashed = hex32(&canonical.finalize());
        // Digits, `T` and `Z`: ASCII.
        let date = std::str::from_utf8(&date_buf).expect("ASCII");
        Some(self.finish(
            date,
            true,
            &hashed,
            &memo.signed_list,
            memo.unsigned_payload,
            memo.host_given,
        ))
    }

    /// Keeps `shape` as the memo of `request`'s shape, unless another thread holds the memo
    /// or it already is this shape's.
    fn remember(&self, request: &SignableRequest<'_>, shape: Shape<'_>) {
        let Ok(mut slot) = self.memo.try_lock() else {
            return;
        };
        if slot.as_deref().is_some_and(|memo| memo.matches(request)) {
            return;
        }
        let body = match shape.body_hash {
            Some(hash) if request.body.len() <= MEMO_BODY => Some((request.body.to_vec(), hash)),
            _ => None,
        };
        *slot = Some(Box::new(Memo {
            method: request.method.to_owned(),
            host: request.host.to_owned(),
            path: request.path.to_owned(),
            query: request.query.to_vec(),
            headers: request.headers.to_vec(),
            body_empty: request.body.is_empty(),
            before_date: shape.before_date,
            after_date: shape.after_date.to_vec(),
            signed_list: shape.signed_list.to_owned(),
            body,
            payload_given: shape.payload_given,
            unsigned_payload: shape.unsigned_payload,
            host_given: shape.host_given,
        }));
    }

    /// The signature of the canonical request's hash `hashed`, and the headers to add.
    fn finish(
        &self,
        date: &str,
        date_added: bool,
        hashed: &[u8; 64],
        signed_list: &str,
        unsigned_payload: bool,
        host_given: bool,
    ) -> Result<SignedHeaders, SigningError> {
        let algorithm = self.algorithm;
        let ak = &self.access_key_id;
        let name = algorithm.name();
        let mut credential_info = None;
        let signature = match &self.mac {
            MacState::Sha256(mac) => {
                let mut mac = mac.clone();
                string_to_sign(|part| mac.update(part), name, date, hashed);
                Signature::from_hex_of(&mac.finalize().into_bytes().into())
            }
            MacState::Sm3(mac) => {
                let mut mac = mac.clone();
                string_to_sign(|part| mac.update(part), name, date, hashed);
                Signature::from_hex_of(&mac.finalize().into_bytes().into())
            }
            MacState::None => {
                let (signature, info) = self.other_signature(date, hashed)?;
                credential_info = info;
                signature
            }
        };

        // `{name} Access={ak}, SignedHeaders={signed}, Signature={signature}` (V11:
        // `Credential={ak}/{info}`).
        let info_len = credential_info.as_ref().map_or(0, |i: &String| i.len() + 1);
        let mut authorization = String::with_capacity(
            name.len() + ak.len() + info_len + signed_list.len() + signature.len() + 48,
        );
        authorization.push_str(name);
        match &credential_info {
            Some(info) => {
                authorization.push_str(" Credential=");
                authorization.push_str(ak);
                authorization.push('/');
                authorization.push_str(info);
            }
            None => {
                authorization.push_str(" Access=");
                authorization.push_str(ak);
            }
        }
        authorization.push_str(", SignedHeaders=");
        authorization.push_str(signed_list);
        authorization.push_str(", Signature=");
        authorization.push_str(std::str::from_utf8(&signature).expect("ASCII hex"));
        // DER signatures (ECDSA, SM2) are longer than 32 bytes: `signature` holds them whole.

        Ok(SignedHeaders {
            content_hash: unsigned_payload.then_some(algorithm.hash().content_header()),
            date: date_added.then(|| date.to_owned()),
            host: !host_given,
            authorization,
        })
    }

    /// The signature (hex) of the algorithms without a cached HMAC state, and V11's scope info.
    fn other_signature(
        &self,
        date: &str,
        hashed: &[u8; 64],
    ) -> Result<(Signature, Option<String>), SigningError> {
        let hashed = std::str::from_utf8(hashed).expect("ASCII hex");
        let name = self.algorithm.name();
        match self.algorithm {
            Algorithm::V11HmacSha256 => {
                let (region, service) = self.scope.as_ref().ok_or(SigningError::MissingScope)?;
                let info = super::v11::info(date, region, service);
                let sts = format!("{name}\n{date}\n{info}\n{hashed}");
                let key = super::v11::signing_key(&self.access_key_id, &self.secret_key, &info);
                let mac = HashFn::Sha256.hmac(key.as_bytes(), sts.as_bytes());
                Ok((Signature::from_hex_of(&mac), Some(info)))
            }
            _ => {
                // ECDSA and SM2: the general signer's own code, on the same string to sign.
                let sts = format!("{name}\n{date}\n{hashed}");
                let signature = asymmetric_signature(self, &sts)?;
                Ok((Signature::from_text(signature), None))
            }
        }
    }

    /// More headers or query parameters than the fast path holds, or a non-ASCII method:
    /// the general signer, whose output is then reduced to the additions.
    fn sign_headers_general(
        &self,
        request: &SignableRequest<'_>,
        time: SystemTime,
    ) -> Result<SignedHeaders, SigningError> {
        let signed = super::sign_with(request, &self.params(time))?;
        let content_header = self.algorithm.hash().content_header();
        let given_ignore_case = |name: &str| {
            request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let value = |name: &str| {
            signed
                .headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| h.value.clone())
        };
        let content_hash = unsigned_rule_applies(request, content_header).then_some(content_header);
        Ok(SignedHeaders {
            content_hash,
            date: (!given_ignore_case(DATE_HEADER))
                .then(|| value(DATE_HEADER))
                .flatten(),
            host: !given_ignore_case("Host"),
            authorization: signed.authorization,
        })
    }
}

/// Whether `sign_with` sets the content-hash header to `UNSIGNED-PAYLOAD` for this request.
fn unsigned_rule_applies(request: &SignableRequest<'_>, content_header: &str) -> bool {
    let content_type = request
        .headers
        .iter()
        .find(|(n, _)| n == "Content-Type")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let exact = request.headers.iter().any(|(n, _)| n == content_header);
    let other = !exact
        && request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(content_header));
    !content_type.is_empty()
        && !content_type.starts_with("application/json")
        && !content_type.starts_with("application/bson")
        && !other
}

#[cfg(any(feature = "ecdsa", feature = "sm2"))]
fn asymmetric_signature(key: &SigningKey, sts: &str) -> Result<String, SigningError> {
    match key.algorithm {
        #[cfg(feature = "ecdsa")]
        Algorithm::EcdsaP256Sha256 => super::ecdsa::sign(&key.access_key_id, &key.secret_key, sts),
        #[cfg(feature = "sm2")]
        Algorithm::Sm2Sm3 => super::sm2::sign(&key.access_key_id, &key.secret_key, sts),
        other => Err(SigningError::Unavailable(other)),
    }
}

#[cfg(not(any(feature = "ecdsa", feature = "sm2")))]
fn asymmetric_signature(key: &SigningKey, _: &str) -> Result<String, SigningError> {
    Err(SigningError::Unavailable(key.algorithm))
}

/// A signature as hex text: 64 bytes on the stack for the HMACs, or the DER hex of ECDSA/SM2.
enum Signature {
    Hex32([u8; 64]),
    Text(String),
}

impl Signature {
    fn from_hex_of(bytes: &[u8; 32]) -> Self {
        Signature::Hex32(hex32(bytes))
    }

    fn from_text(text: String) -> Self {
        Signature::Text(text)
    }
}

impl std::ops::Deref for Signature {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Signature::Hex32(bytes) => bytes,
            Signature::Text(text) => text.as_bytes(),
        }
    }
}

/// `{name}\n{date}\n{hashed}` fed to `update` piece by piece (V11 has its own form).
fn string_to_sign(mut update: impl FnMut(&[u8]), name: &str, date: &str, hashed: &[u8; 64]) {
    update(name.as_bytes());
    update(b"\n");
    update(date.as_bytes());
    update(b"\n");
    update(hashed);
}

/// `bytes.make_ascii_lowercase()`, eight bytes at a time.
fn ascii_lowercase(bytes: &mut [u8]) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut words = bytes.chunks_exact_mut(8);
    for word in &mut words {
        let w = u64::from_le_bytes((&*word).try_into().expect("8 bytes"));
        // The high bit of each byte that is in `A..=Z` (no carry crosses a byte: the low seven
        // bits plus at most 0x3f stay below 0x100).
        let low = w & (0x7f * ONES);
        let at_least_a = low + (0x80 - u64::from(b'A')) * ONES;
        let above_z = low + (0x7f - u64::from(b'Z')) * ONES;
        let upper = at_least_a & !above_z & !w & (0x80 * ONES);
        word.copy_from_slice(&(w | (upper >> 2)).to_le_bytes());
    }
    words.into_remainder().make_ascii_lowercase();
}

/// Lowercase hex of a 32-byte digest, on the stack.
fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// The canonical request's hash, fed as it is written through a buffer on the stack (one
/// call of the hash function for a typical request, none of the allocator).
struct Canonical {
    hasher: Hasher,
    buf: [u8; CANONICAL_BUFFER],
    len: usize,
    /// Whether bytes already went to the hasher (`buf` no longer holds all that was written).
    flushed: bool,
}

const CANONICAL_BUFFER: usize = 1024;

#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Sm3(Sm3),
}

impl Hasher {
    fn new(hash: HashFn) -> Self {
        match hash {
            HashFn::Sha256 => Hasher::Sha256(Sha256::new()),
            HashFn::Sm3 => Hasher::Sm3(Sm3::new()),
        }
    }

    fn finalize(self) -> [u8; 32] {
        match self {
            Hasher::Sha256(h) => h.finalize().into(),
            Hasher::Sm3(h) => h.finalize().into(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sm3(h) => h.update(data),
        }
    }
}

/// [`trim_header_value`], without looking further when both ends are visible ASCII.
fn trim(value: &str) -> &str {
    match (value.as_bytes().first(), value.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => trim_header_value(value),
    }
}

/// RFC 3986's unreserved bytes, the only ones [`encode`](super::encode) leaves as they are.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    table
};

impl Canonical {
    fn new(hash: HashFn) -> Self {
        Canonical {
            hasher: Hasher::new(hash),
            buf: [0; CANONICAL_BUFFER],
            len: 0,
            flushed: false,
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
        self.flushed = true;
    }

    #[inline]
    fn put(&mut self, data: &[u8]) {
        if self.len + data.len() > CANONICAL_BUFFER {
            self.flush();
            if data.len() > CANONICAL_BUFFER {
                self.hasher.update(data);
                return;
            }
        }
        self.buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if self.len == CANONICAL_BUFFER {
            self.flush();
        }
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `text` (ASCII) uppercased.
    fn uppercase(&mut self, text: &str) {
        for b in text.bytes() {
            self.byte(b.to_ascii_uppercase());
        }
    }

    /// `text` percent-encoded as [`encode`](super::encode) writes it: every byte of its UTF-8
    /// but the unreserved ones as `%XX`, uppercase hex.
    fn encoded(&mut self, text: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = text.as_bytes();
        let mut run = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !UNRESERVED[usize::from(b)] {
                self.put(&bytes[run..i]);
                self.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
                run = i + 1;
            }
        }
        self.put(&bytes[run..]);
    }

    /// [`canonical_uri`](super::canonical_uri): decoded, split on `/`, each segment
    /// re-encoded, always ending in `/`.
    fn uri(&mut self, path: &str) {
        // Unreserved characters and `/` only: decoding and re-encoding leave it as it is.
        if path
            .bytes()
            .all(|b| UNRESERVED[usize::from(b)] || b == b'/')
        {
            self.put(path.as_bytes());
            if !path.ends_with('/') {
                self.byte(b'/');
            }
            return;
        }
        let decoded = if path.contains('%') {
            percent_decode_str(path).decode_utf8_lossy()
        } else {
            std::borrow::Cow::Borrowed(path)
        };
        for (i, segment) in decoded.split('/').enumerate() {
            if i > 0 {
                self.byte(b'/');
            }
            self.encoded(segment);
        }
        if !decoded.ends_with('/') {
            self.byte(b'/');
        }
    }

    /// [`canonical_query`](super::canonical_query), at most [`MAX_QUERY`] pairs.
    fn query(&mut self, pairs: &[(String, String)]) {
        let mut sorted: [(&str, &str); MAX_QUERY] = [("", ""); MAX_QUERY];
        for (slot, (k, v)) in sorted.iter_mut().zip(pairs) {
            *slot = (k.as_str(), v.as_str());
        }
        let sorted = &mut sorted[..pairs.len()];
        sorted.sort_unstable();
        for (i, (key, value)) in sorted.iter().enumerate() {
            if i > 0 {
                self.byte(b'&');
            }
            self.encoded(key);
            self.byte(b'=');
            self.encoded(value);
        }
    }

    fn finalize(mut self) -> [u8; 32] {
        self.flush();
        self.hasher.finalize()
    }
}

#[cfg(test)]
impl SigningKey {
    /// Whether the memo holds `request`'s shape.
    fn holds_memo_for(&self, request: &SignableRequest<'_>) -> bool {
        let slot = self.memo.lock().unwrap();
        slot.as_deref().is_some_and(|memo| memo.matches(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::sign_with;
    use std::time::{Duration, UNIX_EPOCH};

    /// The additions applied to the request's (trimmed) headers must be exactly what
    /// `sign_with` returns, with the same `Authorization`, for every recorded vector of every
    /// algorithm and for the corner cases of the content-hash, date and host rules.
    #[test]
    fn sign_headers_adds_exactly_what_sign_with_returns() {
        let mut cases = 0;
        for (dir, algorithm) in [
            ("sdk-hmac-sha256", Algorithm::HmacSha256),
            ("sdk-hmac-sm3", Algorithm::HmacSm3),
            ("v11-hmac-sha256", Algorithm::V11HmacSha256),
            ("sdk-ecdsa-p256-sha256", Algorithm::EcdsaP256Sha256),
            ("sdk-sm2-sm3", Algorithm::Sm2Sm3),
        ] {
            if !algorithm.is_available() {
                continue;
            }
            for v in vectors(dir) {
                check(algorithm, &v);
                cases += 1;
            }
        }
        for v in corner_cases() {
            for algorithm in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
                check(algorithm, &v);
                cases += 1;
            }
        }
        assert!(cases >= 60, "only {cases} cases");
        // Most cases sign from a memo the second and third time (those with a date header of
        // their own, a given payload hash or a secret before the date do not keep one).
        let memoized = MEMOIZED.with(|count| count.get());
        assert!(
            memoized * 2 >= cases,
            "{memoized} of {cases} cases kept a memo"
        );
    }

    fn seed_request<'a>(
        headers: &'a [(String, String)],
        query: &'a [(String, String)],
    ) -> SignableRequest<'a> {
        SignableRequest {
            method: "POST",
            host: "hss.cn-north-4.myhuaweicloud.com",
            path: "/v5/0a1b/image/synchronize",
            query,
            headers,
            body: b"{\"image_type\": \"private_image\"}",
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A key signing requests that differ from the memo's in any one part signs each as
    /// `sign_with` does: the memo is used for its own shape only.
    #[test]
    fn the_memo_serves_only_its_own_shape() {
        let sk = SecretString::from("secret-key");
        let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
        let headers = pairs(&[
            ("Content-Type", "application/json"),
            ("X-Project-Id", "0a1b"),
        ]);
        let query = pairs(&[("enterprise_project_id", "all")]);
        let base = seed_request(&headers, &query);
        let other_headers = [
            pairs(&[
                ("Content-Type", "application/json"),
                ("X-Project-Id", "0a1c"),
            ]),
            pairs(&[
                ("Content-Type", "application/json"),
                ("X-Project-ID", "0a1b"),
            ]),
            pairs(&[
                ("X-Project-Id", "0a1b"),
                ("Content-Type", "application/json"),
            ]),
            pairs(&[("Content-Type", "application/json")]),
            pairs(&[
                ("Content-Type", "application/json"),
                ("X-Project-Id", "0a1b"),
                ("Region", "cn-north-4"),
            ]),
            pairs(&[("Content-Type", "text/plain"), ("X-Project-Id", "0a1b")]),
        ];
        let other_queries = [
            pairs(&[]),
            pairs(&[("enterprise_project_id", "al")]),
            pairs(&[("enterprise_project_id", "all"), ("limit", "10")]),
        ];
        let mut variants = Vec::new();
        for h in &other_headers {
            variants.push(seed_request(h, &query));
        }
        for q in &other_queries {
            variants.push(seed_request(&headers, q));
        }
        variants.push(SignableRequest {
            method: "PUT",
            ..base
        });
        variants.push(SignableRequest {
            host: "hss.example.com",
            ..base
        });
        variants.push(SignableRequest {
            path: "/v5/0a1b/image/synchronize/",
            ..base
        });
        variants.push(SignableRequest { body: b"", ..base });
        variants.push(SignableRequest {
            body: b"{}",
            ..base
        });
        let long = vec![b'x'; MEMO_BODY + 1];
        variants.push(SignableRequest {
            body: &long,
            ..base
        });
        for algorithm in [Algorithm::HmacSha256, Algorithm::HmacSm3] {
            let key = SigningKey::new(algorithm, "AK", &sk);
            let params = SigningParams::new(algorithm, "AK", &sk, time);
            for variant in &variants {
                for request in [&base, variant, variant, &base] {
                    let want = sign_with(request, &params).unwrap();
                    let got = key.sign_headers(request, time).unwrap();
                    assert_eq!(got.authorization, want.authorization, "{request:?}");
                    assert!(key.holds_memo_for(request), "{request:?}");
                }
            }
        }
    }

    /// No memo holds a secret value where it cannot be wiped (in the hash state before the
    /// date); one after the date is kept in bytes the memo wipes.
    #[test]
    fn memo_and_secret_header_values() {
        let sk = SecretString::from("secret-key");
        let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
        let key = SigningKey::new(Algorithm::HmacSha256, "AK", &sk);
        let before = pairs(&[("X-Auth-Token", "token-value-0123456789")]);
        key.sign_headers(&seed_request(&before, &[]), time).unwrap();
        assert!(!key.holds_memo_for(&seed_request(&before, &[])));

        let after = pairs(&[("X-Security-Token", "security-token-value-0123")]);
        let request = seed_request(&after, &[]);
        key.sign_headers(&request, time).unwrap();
        assert!(key.holds_memo_for(&request));
        let mut slot = key.memo.lock().unwrap();
        let memo = slot.as_deref_mut().unwrap();
        let text = String::from_utf8_lossy(&memo.after_date).into_owned();
        assert!(text.contains("security-token-value-0123"), "{text}");
        assert!(
            memo.body
                .as_ref()
                .is_some_and(|(body, _)| body == request.body)
        );
        memo.wipe();
        assert!(memo.after_date.iter().all(|&b| b == 0));
        assert_eq!(memo.headers[0].1, "");
        assert!(memo.body.as_ref().is_some_and(|(body, _)| body.is_empty()));
        drop(slot);
        assert!(
            !key.holds_memo_for(&request),
            "a wiped memo matches nothing it held"
        );
    }

    #[test]
    fn a_clone_starts_without_the_memo() {
        let sk = SecretString::from("secret-key");
        let key = SigningKey::new(Algorithm::HmacSha256, "AK", &sk);
        let request = seed_request(&[], &[]);
        key.sign_headers(&request, UNIX_EPOCH).unwrap();
        assert!(key.holds_memo_for(&request));
        assert!(!key.clone().holds_memo_for(&request));
    }

    /// Threads signing two shapes with one key at once (the memo taken, replaced, or busy)
    /// each get `sign_with`'s signature.
    #[test]
    fn threads_sharing_a_key_sign_as_sign_with() {
        let sk = SecretString::from("secret-key");
        let key = SigningKey::new(Algorithm::HmacSha256, "AK", &sk);
        let one = pairs(&[("X-Project-Id", "0a1b")]);
        let two = pairs(&[("X-Project-Id", "0a1c")]);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (key, sk, one, two) = (&key, &sk, &one, &two);
                scope.spawn(move || {
                    for i in 0..300u64 {
                        let headers = if (i / (t + 1)) % 2 == 0 { one } else { two };
                        let request = seed_request(headers, &[]);
                        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i * 7 + t);
                        let params = SigningParams::new(Algorithm::HmacSha256, "AK", sk, time);
                        let want = sign_with(&request, &params).unwrap();
                        let got = key.sign_headers(&request, time).unwrap();
                        assert_eq!(got.authorization, want.authorization);
                    }
                });
            }
        });
    }

    #[test]
    fn plain_value_is_the_bytewise_rule() {
        let plain = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 16, 17] {
                for at in 0..len {
                    let mut value = vec![b'a'; len];
                    value[at] = b;
                    assert_eq!(plain_value(&value), plain(b), "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(plain_value(b"\t~ 0123456789abcdefghij\t"));
    }

    #[test]
    fn ascii_lowercase_is_str_to_ascii_lowercase() {
        let all: Vec<u8> = (0..=255u8)
            .chain(b"X-Sdk-Date-HOST@[`{".iter().copied())
            .collect();
        for start in 0..9 {
            let mut bytes = all[start..].to_vec();
            let mut expected = bytes.clone();
            expected.make_ascii_lowercase();
            ascii_lowercase(&mut bytes);
            assert_eq!(bytes, expected);
        }
    }

    fn check(algorithm: Algorithm, v: &Vector) {
        let sk = SecretString::from(v.sk.clone());
        let mut key = SigningKey::new(algorithm, &v.ak, &sk);
        let mut params = SigningParams::new(algorithm, &v.ak, &sk, v.time);
        if algorithm == Algorithm::V11HmacSha256 {
            key = key.with_scope("cn-north-4", "hss");
            params = params.with_scope("cn-north-4", "hss");
        }
        let request = SignableRequest {
            method: &v.method,
            host: &v.host,
            path: &v.path,
            query: &v.query,
            headers: &v.headers,
            body: v.body.as_bytes(),
        };
        let expected = sign_with(&request, &params);
        let got = key.sign_headers(&request, v.time);
        let (expected, got) = match (expected, got) {
            (Ok(e), Ok(g)) => (e, g),
            (Err(e), Err(g)) => {
                assert_eq!(e, g, "{}", v.name);
                return;
            }
            (e, g) => panic!("{}: {e:?} vs {g:?}", v.name),
        };
        let headers: Vec<(String, String)> = v
            .headers
            .iter()
            .map(|(n, value)| (n.clone(), trim_header_value(value).to_owned()))
            .collect();
        let headers: Vec<(String, String)> = got
            .merged(&headers, &v.host)
            .map(|(n, value)| (n.to_owned(), value.to_owned()))
            .collect();
        let want: Vec<(String, String)> = expected
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        assert_eq!(headers, want, "{} ({algorithm})", v.name);
        assert_eq!(got.authorization, expected.authorization, "{}", v.name);
        // The general path (many headers) gives the same.
        let general = key.sign_headers_general(&request, v.time).unwrap();
        assert_eq!(general, got, "{} ({algorithm}), general path", v.name);
        // Again, without a date header of its own (so that the key may keep a memo of it),
        // then from the memo at the same time and at another (the date is the one part of the
        // canonical request the memo does not hold).
        let undated: Vec<(String, String)> = v
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(DATE_HEADER))
            .cloned()
            .collect();
        let request = SignableRequest {
            headers: &undated,
            ..request
        };
        let later = v.time + Duration::from_secs(86_400 + 3_661);
        for (round, time) in [v.time, v.time, later].into_iter().enumerate() {
            let mut params = SigningParams::new(algorithm, &v.ak, &sk, time);
            if algorithm == Algorithm::V11HmacSha256 {
                params = params.with_scope("cn-north-4", "hss");
            }
            let got = key.sign_headers(&request, time);
            match (sign_with(&request, &params), got) {
                (Ok(want), Ok(got)) => {
                    assert_eq!(got.authorization, want.authorization, "{} {round}", v.name);
                    let date = want.headers.iter().find(|h| h.name == DATE_HEADER);
                    assert_eq!(got.date.as_deref(), date.map(|h| h.value.as_str()));
                }
                (Err(want), Err(got)) => assert_eq!(got, want, "{} {round}", v.name),
                (want, got) => panic!("{} {round}: {want:?} vs {got:?}", v.name),
            }
        }
        MEMOIZED.with(|count| count.set(count.get() + usize::from(key.holds_memo_for(&request))));
    }

    thread_local! {
        /// How many of the cases `check` saw left a memo of their request.
        static MEMOIZED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    struct Vector {
        name: String,
        ak: String,
        sk: String,
        time: SystemTime,
        method: String,
        host: String,
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: String,
    }

    fn vectors(dir: &str) -> Vec<Vector> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|file| {
                let text = std::fs::read_to_string(file).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let request = v.get("request")?;
                let pairs = |value: &serde_json::Value| -> Vec<(String, String)> {
                    value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    (
                                        p[0].as_str().unwrap().to_owned(),
                                        p[1].as_str().unwrap().to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let time = v["time"].as_str()?;
                Some(Vector {
                    name: v["name"].as_str().unwrap_or_default().to_owned(),
                    ak: v["credentials"]["ak"].as_str()?.to_owned(),
                    sk: v["credentials"]["sk"].as_str()?.to_owned(),
                    time: sdk_date::parse(time).unwrap_or(UNIX_EPOCH),
                    method: request["method"].as_str()?.to_owned(),
                    host: request["host"].as_str()?.to_owned(),
                    path: request["path"].as_str()?.to_owned(),
                    query: pairs(&request["query"]),
                    headers: pairs(&request["headers"]),
                    body: request["body"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }

    fn corner_cases() -> Vec<Vector> {
        let base = |name: &str, headers: &[(&str, &str)], body: &str| Vector {
            name: name.to_owned(),
            ak: "AK".into(),
            sk: "SK".into(),
            time: UNIX_EPOCH + Duration::from_secs(1_710_491_730),
            method: "post".into(),
            host: "h:8443".into(),
            path: "/v5/a%2Fb/é x/".into(),
            query: vec![
                ("b".into(), "2".into()),
                ("a".into(), "x y".into()),
                ("a".into(), "1".into()),
            ],
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_owned(),
        };
        let many: Vec<(String, String)> = (0..30)
            .map(|i| (format!("X-H{i}"), format!(" v{i} ")))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let mut cases = vec![
            base("plain", &[("Content-Type", "application/json")], "{}"),
            base("text body", &[("Content-Type", "text/plain")], "x"),
            base(
                "text body, own hash",
                &[
                    ("Content-Type", "text/plain"),
                    ("X-Sdk-Content-Sha256", "abc"),
                    ("X-Sdk-Content-Sm3", "abc"),
                ],
                "x",
            ),
            base(
                "text body, own hash spelt otherwise",
                &[
                    ("Content-Type", "text/plain"),
                    ("x-sdk-content-sha256", "abc"),
                    ("x-sdk-content-sm3", "abc"),
                ],
                "x",
            ),
            base(
                "json, own hash",
                &[
                    ("Content-Type", "application/json"),
                    ("X-SDK-Content-Sha256", " given "),
                    ("X-SDK-Content-Sm3", " given "),
                ],
                "{}",
            ),
            base("empty body, text", &[("content-type", "text/plain")], ""),
            base(
                "own date and host",
                &[("x-sdk-date", "20240101T000000Z"), ("HOST", "other")],
                "",
            ),
            base("bad date", &[("X-Sdk-Date", "2024")], ""),
            base("underscore", &[("x_unsigned", "1"), ("Region", " r ")], "b"),
            base("authorization", &[("authorization", "x")], ""),
            base("duplicate", &[("A", "1"), ("a", "2")], ""),
            base("many headers", &many, "b"),
        ];
        let mut long_name = base("long header name", &[], "");
        long_name.headers.push(("X-".repeat(700), "v".into()));
        cases.push(long_name);
        // Header names that just fit the stack buffer of lowercase names, and one byte more.
        for total in [
            LOWERCASE_NAMES - ADDED_NAMES,
            LOWERCASE_NAMES - ADDED_NAMES + 1,
        ] {
            let mut edge = base(
                "names at the buffer's edge",
                &[("Content-Type", "text/x")],
                "b",
            );
            let name: String = "X-Ab".repeat(total).chars().take(total - 12).collect();
            edge.headers.push((name, "v".into()));
            cases.push(edge);
        }
        let mut many_query = base("many query parameters", &[], "");
        many_query.query = (0..20)
            .map(|i| (format!("k{}", 20 - i), "v".into()))
            .collect();
        cases.push(many_query);
        let mut unicode_method = base("unicode method", &[], "");
        unicode_method.method = "pöst".into();
        cases.push(unicode_method);
        cases
    }
}
