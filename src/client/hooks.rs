//! The progenitor hooks, run by the generated code for every attempt:
//!
//! - `pre` rewrites the request progenitor built into the official SDKs' wire form and signs
//!   it, with a fresh `X-Sdk-Date` each time it runs;
//! - `exec` sends it once, with the attempt's timeout, and caps the answer's body: reading past
//!   the cap fails like any body-read error, with [`http_body_util::LengthLimitError`] as its
//!   cause.
//!
//! The generated client is built with `HooksMode::Expected`, so it does not compile without the
//! `ClientHooks` impl below: there is no way to get a client that sends unsigned requests.
//! Retries, deadlines and error mapping are not here but in [`super::call`].

use super::context;
use super::skew::ClockSkew;
use super::wire;
use crate::credentials::{AuthToken, Credentials, CredentialsCache};
use crate::generated::Client;
use crate::signer::{self, SignableRequest, SigningError};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::Instrument;
use zeroize::Zeroize;

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub(crate) enum Auth {
    /// Signed with AK/SK credentials from a (cached) provider.
    AkSk(CredentialsCache),
    /// `X-Auth-Token`, not signed.
    Token(AuthToken),
}

/// The signing algorithm, and for V11 the scope of its derived key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signing {
    pub algorithm: signer::Algorithm,
    /// Region and service, for V11-HMAC-SHA256.
    pub scope: Option<(String, String)>,
}

/// The [`signer::SigningKey`] of the current credentials (HMAC key state computed once per
/// credential, not at every request); shared by clones of the client. Made again when the
/// credentials change (a refresh of temporary keys).
#[derive(Clone, Default)]
pub(crate) struct SigningKeyCache(Arc<std::sync::RwLock<Option<Arc<signer::SigningKey>>>>);

impl SigningKeyCache {
    /// Runs `sign` with the key of these credentials, made first if the cached one is for
    /// others. Concurrent calls share it under the read lock, without cloning its `Arc`.
    fn with<R>(
        &self,
        signing: &Signing,
        creds: &Credentials,
        sign: impl FnOnce(&signer::SigningKey) -> R,
    ) -> R {
        let (ak, sk) = (creds.access_key_id(), creds.secret_access_key());
        let scope = signing
            .scope
            .as_ref()
            .map(|(region, service)| (region.as_str(), service.as_str()));
        {
            // A lock poisoned by a panic still holds a whole key.
            let current = self
                .0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(key) = current
                .as_ref()
                .filter(|key| key.is_for(signing.algorithm, ak, sk, scope))
            {
                return sign(key);
            }
        }
        let mut key = signer::SigningKey::new(signing.algorithm, ak, sk);
        if let Some((region, service)) = scope {
            key = key.with_scope(region, service);
        }
        let key = Arc::new(key);
        let signed = sign(&key);
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(key);
        signed
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKeyCache")
    }
}

/// A source of the current time, injectable so tests can sign at a fixed instant.
pub(crate) type TimeSource = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What the hooks need; stored inside the generated client, shared by clones.
#[derive(Clone)]
pub struct HookState {
    pub(crate) auth: Auth,
    /// How AK/SK requests are signed.
    pub(crate) signing: Signing,
    pub(crate) keys: SigningKeyCache,
    /// The endpoint's authority, as the parsed URL writes it: signed, and sent as `Host`.
    pub(crate) host: String,
    pub(crate) user_agent: String,
    pub(crate) now: TimeSource,
    /// Correction of `now` learnt from the gateway; shared by clones of the client.
    pub(crate) skew: ClockSkew,
    /// Timeout of one attempt (connect, send, receive); `None`: only the call's deadline.
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) max_response_bytes: usize,
}

impl fmt::Debug for HookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookState")
            .field("auth", &self.auth)
            .field("signing", &self.signing)
            .field("host", &self.host)
            .field("user_agent", &self.user_agent)
            .field("skew", &self.skew)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HookState {
    /// The time to sign with: the configured clock, corrected by what the gateway taught us.
    pub(crate) fn signing_time(&self) -> SystemTime {
        self.skew.correct((self.now)())
    }

    /// The AK/SK credentials to sign with (cached; fetched when stale), or `None` for token
    /// authentication.
    pub(crate) async fn credentials(
        &self,
    ) -> Result<Option<Credentials>, crate::credentials::CredentialsError> {
        match &self.auth {
            Auth::AkSk(cache) => cache.get().await.map(Some),
            Auth::Token(_) => Ok(None),
        }
    }

    /// Wire form, then `X-Sdk-Date`, `Host` and `Authorization` over exactly what is sent.
    pub(super) fn prepare(
        &self,
        request: &mut reqwest::Request,
        creds: Option<&Credentials>,
    ) -> Result<(), SigningError> {
        let token = match &self.auth {
            Auth::Token(token) => Some(token),
            Auth::AkSk(_) => None,
        };
        let body = wire::body(request);
        let query = wire::rewrite_url(request.url_mut());
        let project_id = creds.and_then(|creds| wire::project_id(request.url().path(), creds));
        let headers = wire::headers(
            request.headers(),
            token,
            creds,
            project_id.as_deref(),
            &self.user_agent,
            &self.host,
        )?;
        let sent = match creds {
            None => header_map(headers.iter().copied())?,
            Some(creds) => {
                let signable = SignableRequest {
                    method: request.method().as_str(),
                    host: &self.host,
                    path: request.url().path(),
                    query: &query,
                    headers: &headers,
                    body: &body,
                };
                let mut added = self.sign(&signable, creds)?;
                let sent = header_map(added.merged(&headers, &self.host));
                added.authorization.zeroize();
                sent?
            }
        };
        // What the list borrowed from the request is replaced now.
        drop(headers);
        *request.headers_mut() = sent;
        *request.body_mut() = (!body.is_empty()).then(|| body.into());
        Ok(())
    }

    /// Signs with the key of `creds`. The same signing runs whatever the log level; at debug
    /// level it also keeps the intermediate strings, for the log.
    fn sign(
        &self,
        request: &SignableRequest<'_, &str>,
        creds: &Credentials,
    ) -> Result<signer::SignedHeaders, SigningError> {
        let time = self.signing_time();
        let debug = tracing::enabled!(tracing::Level::DEBUG);
        let (added, captured) = self.keys.with(&self.signing, creds, |key| {
            if debug {
                let (added, captured) = key.sign_headers_captured(request, time)?;
                Ok((added, Some(captured)))
            } else {
                key.sign_headers(request, time).map(|added| (added, None))
            }
        })?;
        if let Some(captured) = captured {
            // What a 401 can be compared with (the gateway returns its canonical request): the
            // security token masked by `CanonicalRequest`'s `Display`, no key material.
            tracing::debug!(
                algorithm = %self.signing.algorithm,
                signed_headers = %captured.signed_headers,
                "signed; canonical request:\n{}\nstring to sign:\n{}",
                captured.canonical_request,
                captured.string_to_sign
            );
        }
        Ok(added)
    }
}

/// The names outside the HTTP standard that the wire form and the signer write, lowercase:
/// made with [`HeaderName::from_static`], which neither copies them nor makes reqwest's
/// per-request clone of the headers copy them again (a name parsed from text is a fresh
/// buffer, copied at that clone). Any other name is parsed.
const OWN_NAMES: [&str; 5] = [
    "x-sdk-date",
    "x-project-id",
    "x-security-token",
    "x-auth-token",
    "x-sdk-content-sha256",
];

/// The header map of `headers` as they are sent: raw UTF-8 bytes (the text that was signed is
/// the text that is sent), secret ones marked sensitive so that no HTTP-level logging prints
/// them. Sized for them and the `Accept` reqwest adds, so that it is not grown on the way.
pub(super) fn header_map<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, SigningError> {
    let mut map = HeaderMap::with_capacity(headers.size_hint().0 + 1);
    for (name, value) in headers {
        let invalid = || SigningError::InvalidHeaderValue(name.to_ascii_lowercase());
        let header_name = match OWN_NAMES.iter().find(|own| own.eq_ignore_ascii_case(name)) {
            Some(own) => HeaderName::from_static(own),
            None => HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?,
        };
        let mut header_value =
            HeaderValue::from_maybe_shared(value_bytes(value.as_bytes())).map_err(|_| invalid())?;
        header_value.set_sensitive(signer::is_sensitive_header(name));
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// A header value's bytes, for a `HeaderValue` that reqwest's clone of every request's headers
/// (before sending) shares instead of copying: a value of up to 256 bytes (every value this
/// crate sends but a long IAM token) lies in one allocation with its reference count
/// ([`bytes::Bytes::from_owner`]), where a plain copy is copied again into a shared buffer at
/// its first clone. Wiped when the last reference goes, since it may be a secret.
fn value_bytes(value: &[u8]) -> bytes::Bytes {
    struct Inline<const N: usize> {
        len: usize,
        bytes: [u8; N],
    }
    impl<const N: usize> AsRef<[u8]> for Inline<N> {
        fn as_ref(&self) -> &[u8] {
            &self.bytes[..self.len]
        }
    }
    impl<const N: usize> Drop for Inline<N> {
        fn drop(&mut self) {
            self.bytes[..self.len].zeroize();
        }
    }
    fn inline<const N: usize>(value: &[u8]) -> bytes::Bytes {
        let mut inline = Inline {
            len: value.len(),
            bytes: [0; N],
        };
        inline.bytes[..value.len()].copy_from_slice(value);
        bytes::Bytes::from_owner(inline)
    }
    match value.len() {
        0..=64 => inline::<64>(value),
        65..=256 => inline::<256>(value),
        _ => bytes::Bytes::copy_from_slice(value),
    }
}

/// The answer of one attempt, its body capped.
async fn send_once(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    attempt_timeout: Option<Duration>,
    max_response_bytes: usize,
) -> reqwest::Result<reqwest::Response> {
    if attempt_timeout.is_some() {
        *request.timeout_mut() = attempt_timeout;
    }
    tracing::debug!(method = %request.method(), path = request.url().path(), "sending");
    let response = client.execute(request).await?;
    let status = response.status().as_u16();
    tracing::debug!(status, "answered");
    // A body framed by a Content-Length within the cap cannot grow past it (hyper reads exactly
    // that many bytes): no need to wrap it.
    if response
        .content_length()
        .is_some_and(|length| length <= max_response_bytes as u64)
    {
        return Ok(response);
    }
    let response: http::Response<reqwest::Body> = response.into();
    let (parts, body) = response.into_parts();
    let capped = http_body_util::Limited::new(body, max_response_bytes);
    Ok(http::Response::from_parts(parts, reqwest::Body::wrap(capped)).into())
}

impl ClientHooks<HookState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        super::checks::request(request, info.operation_id).map_err(context::hook_failure)?;
        let state = self.inner();
        // The client fetched them for this attempt just before: this is the cache answering.
        let creds = state
            .credentials()
            .await
            .map_err(|e| context::hook_failure(crate::Error::Credentials(e)))?;
        state
            .prepare(request, creds.as_ref())
            .map_err(|e| context::hook_failure(crate::Error::Signing(e)))
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        if let Ok(response) = result {
            let request_id = super::call::request_id(response.headers());
            context::with(|call| call.request_id = request_id);
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        if context::with(|call| call.dry_run) == Some(true) {
            context::with(|call| call.captured = Some(request));
            // Whatever the generated code makes of this answer, the dry run ignores it.
            let mut answer = http::Response::new(reqwest::Body::from(""));
            *answer.status_mut() = http::StatusCode::IM_A_TEAPOT;
            return Ok(answer.into());
        }
        let state = self.inner();
        let span = tracing::debug_span!("exec", operation = info.operation_id);
        send_once(
            self.client(),
            request,
            state.attempt_timeout,
            state.max_response_bytes,
        )
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_are_made_once_per_credential() {
        let cache = SigningKeyCache::default();
        let hmac = Signing {
            algorithm: signer::Algorithm::HmacSha256,
            scope: None,
        };
        // The key `with` signs with, as the cache holds it.
        let get = |signing: &Signing, creds: &Credentials| {
            cache.with(signing, creds, |_| ());
            cache.0.read().unwrap().clone().unwrap()
        };
        let creds = Credentials::new("AK1", "SK1");
        let first = get(&hmac, &creds);
        assert!(Arc::ptr_eq(&first, &get(&hmac, &creds.clone())));
        // Another secret key, access key, algorithm or scope: another key.
        let mut previous = first;
        for (signing, creds) in [
            (hmac.clone(), Credentials::new("AK1", "SK2")),
            (hmac.clone(), Credentials::new("AK2", "SK2")),
            (
                Signing {
                    algorithm: signer::Algorithm::HmacSm3,
                    scope: None,
                },
                Credentials::new("AK2", "SK2"),
            ),
            (
                Signing {
                    algorithm: signer::Algorithm::V11HmacSha256,
                    scope: Some(("cn-north-4".into(), "hss".into())),
                },
                Credentials::new("AK2", "SK2"),
            ),
        ] {
            let key = get(&signing, &creds);
            assert!(!Arc::ptr_eq(&key, &previous));
            assert_eq!(key.access_key_id(), creds.access_key_id());
            assert_eq!(key.algorithm(), signing.algorithm);
            assert!(Arc::ptr_eq(&key, &get(&signing, &creds)));
            // The key `with` hands over is the cached one.
            cache.with(&signing, &creds, |used| assert!(std::ptr::eq(used, &*key)));
            previous = key;
        }
    }

    /// Debug logging keeps the intermediate strings for the log and changes nothing sent.
    #[test]
    fn debug_logging_signs_the_same_way() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        let client = crate::HssClient::builder()
            .endpoint("http://127.0.0.1:9")
            .credentials(
                Credentials::new("AK", "SK")
                    .with_project_id("p")
                    .with_security_token("token-value"),
            )
            .time_source(|| std::time::UNIX_EPOCH + Duration::from_secs(1_710_491_730))
            .build()
            .unwrap();
        let creds = Credentials::new("AK", "SK").with_security_token("token-value");
        let prepared = || {
            let url = "http://127.0.0.1:9/v5/p/image/synchronize?enterprise_project_id=0";
            let mut request =
                reqwest::Request::new(reqwest::Method::POST, reqwest::Url::parse(url).unwrap());
            *request.body_mut() = Some(r#"{"image_type":"private_image"}"#.into());
            client.hooks().prepare(&mut request, Some(&creds)).unwrap();
            request.headers().clone()
        };
        let quiet = prepared();
        let logs = Buffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        let logged = tracing::subscriber::with_default(subscriber, prepared);
        assert_eq!(logged, quiet);
        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("canonical request:\nPOST\n/v5/p/image/synchronize/\n"),
            "{logs}"
        );
        assert!(logs.contains("x-security-token:******"), "{logs}");
        assert!(!logs.contains("token-value"), "{logs}");
    }

    /// Values of every length, across the inline sizes, are sent as given.
    #[test]
    fn values_are_their_bytes_at_every_size() {
        for len in [0, 1, 63, 64, 65, 255, 256, 257, 40_000] {
            let value: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let bytes = value_bytes(value.as_bytes());
            assert_eq!(&bytes[..], value.as_bytes(), "{len}");
            let map = header_map([("X-Long", value.as_str())].into_iter()).unwrap();
            let cloned = map.clone();
            assert_eq!(cloned["x-long"].as_bytes(), value.as_bytes(), "{len}");
        }
    }

    /// The names made without parsing are the names parsing makes, whatever the case given.
    #[test]
    fn own_names_are_the_parsed_names() {
        for own in OWN_NAMES {
            let given = own.to_ascii_uppercase();
            let map = header_map([(given.as_str(), "v")].into_iter()).unwrap();
            let (name, _) = map.iter().next().unwrap();
            assert_eq!(*name, HeaderName::from_bytes(given.as_bytes()).unwrap());
            assert_eq!(name.as_str(), own);
        }
        for name in [
            signer::DATE_HEADER,
            signer::CONTENT_HASH_HEADER,
            "X-Project-Id",
        ] {
            assert!(OWN_NAMES.contains(&name.to_ascii_lowercase().as_str()));
        }
    }

    #[test]
    fn headers_are_filled_as_given_with_their_flags() {
        let headers = [
            ("Host", "127.0.0.1:9"),
            (signer::DATE_HEADER, "20240101T000000Z"),
            ("X-Auth-Token", "token"),
            ("region", "é"),
            ("Authorization", "SDK-HMAC-SHA256 Access=AK"),
        ];
        let map = header_map(headers.into_iter()).unwrap();
        assert_eq!(map.len(), headers.len());
        // Room for them and reqwest's `Accept`: not grown on the way.
        assert!(map.capacity() > headers.len(), "{}", map.capacity());
        for (name, value) in headers {
            let sent = &map[name.to_ascii_lowercase().as_str()];
            assert_eq!(sent.as_bytes(), value.as_bytes(), "raw UTF-8");
            assert_eq!(sent.is_sensitive(), signer::is_sensitive_header(name));
        }
        // A value that is not a valid header value is refused by name.
        let refused = header_map([("X-Bad", "a\nb")].into_iter());
        assert_eq!(
            refused,
            Err(SigningError::InvalidHeaderValue("x-bad".into()))
        );
    }
}
