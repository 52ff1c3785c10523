//! The per-call signing path of the client: a [`SigningKey`] made once per credential (the HMAC
//! key's inner and outer state computed once), and [`SigningKey::sign_headers`], which hashes
//! the canonical request as it writes it instead of building it as a string, and returns only
//! the headers the signer adds. Same rules and same bytes as [`sign_with`](super::sign_with)
//! (a unit test checks it on every recorded vector); no intermediate string comes out.

use super::algorithm::{Algorithm, HashFn};
use super::canonical::trim_header_value;
use super::{DATE_HEADER, SignableRequest, SigningError, SigningParams, sdk_date};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sm3::Sm3;
use std::fmt;
use std::time::SystemTime;

/// An access key pair ready to sign with one algorithm: for the HMAC algorithms the key's
/// inner and outer hash states are computed here, once, instead of at every request.
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
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    access_key_id: String,
    secret_key: SecretString,
    scope: Option<(String, String)>,
    mac: MacState,
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
        for &i in signed.iter() {
            canonical.put(lower(i));
            canonical.byte(b':');
            canonical.put(headers[usize::from(i)].1.as_bytes());
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
        match given_hash {
            Some(given) => canonical.put(given.as_bytes()),
            None => canonical.put(&hex32(&hash.digest(request.body))),
        }
        let hashed = hex32(&canonical.finalize());

        let ak = &self.access_key_id;
        let name = algorithm.name();
        let mut credential_info = None;
        let signature = match &self.mac {
            MacState::Sha256(mac) => {
                let mut mac = mac.clone();
                string_to_sign(|part| mac.update(part), name, date, &hashed);
                Signature::from_hex_of(&mac.finalize().into_bytes().into())
            }
            MacState::Sm3(mac) => {
                let mut mac = mac.clone();
                string_to_sign(|part| mac.update(part), name, date, &hashed);
                Signature::from_hex_of(&mac.finalize().into_bytes().into())
            }
            MacState::None => {
                let (signature, info) = self.other_signature(date, &hashed)?;
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
            content_hash: (unsigned_payload).then_some(content_header),
            date: date_given.is_none().then(|| date.to_owned()),
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
}

const CANONICAL_BUFFER: usize = 1024;

enum Hasher {
    Sha256(Sha256),
    Sm3(Sm3),
}

impl Hasher {
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
        let hasher = match hash {
            HashFn::Sha256 => Hasher::Sha256(Sha256::new()),
            HashFn::Sm3 => Hasher::Sm3(Sm3::new()),
        };
        Canonical {
            hasher,
            buf: [0; CANONICAL_BUFFER],
            len: 0,
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
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
        match self.hasher {
            Hasher::Sha256(h) => h.finalize().into(),
            Hasher::Sm3(h) => h.finalize().into(),
        }
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
