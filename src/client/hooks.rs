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

thread_local! {
    /// The wire form's strings, kept on each thread between requests (see [`wire::Scratch`]);
    /// secret header values are wiped after each request.
    static WIRE_SCRATCH: std::cell::RefCell<wire::Scratch> =
        const { std::cell::RefCell::new(wire::Scratch::new()) };
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
    /// `Host` and `User-Agent` as header values made once (see [`shared_value`]).
    pub(crate) host_value: Option<HeaderValue>,
    pub(crate) user_agent_value: Option<HeaderValue>,
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
    /// The copies of secret header values made on the way are wiped once they are in the
    /// request.
    pub(super) fn prepare(
        &self,
        request: &mut reqwest::Request,
        creds: Option<&Credentials>,
    ) -> Result<(), SigningError> {
        // Taken for the length of this call (which does not await): a nested call, were there
        // one, would start from empty strings.
        let mut wire = WIRE_SCRATCH
            .try_with(|kept| kept.take())
            .unwrap_or_default();
        let result = wire::normalize(self, request, creds, &mut wire).and_then(|()| {
            let body = self.sign_into(request, &wire, creds)?;
            *request.body_mut() = (!body.is_empty()).then(|| body.into());
            Ok(())
        });
        wire.headers.wipe();
        let _ = WIRE_SCRATCH.try_with(|kept| kept.replace(wire));
        result
    }

    /// Signs the wire form (unless there are no credentials), puts the headers to send into
    /// `request` and returns the body to send.
    fn sign_into(
        &self,
        request: &mut reqwest::Request,
        wire: &wire::Scratch,
        creds: Option<&Credentials>,
    ) -> Result<bytes::Bytes, SigningError> {
        let (headers, body) = (wire.headers.as_slice(), wire.body.as_slice());
        let Some(creds) = creds else {
            return self.fill_headers(request.headers_mut(), body, || {
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
            });
        };
        let signable = SignableRequest {
            method: request.method().as_str(),
            host: &self.host,
            path: request.url().path(),
            query: wire.query.as_slice(),
            headers,
            body,
        };
        let time = self.signing_time();
        if tracing::enabled!(tracing::Level::DEBUG) {
            // Every intermediate string, for the debug log.
            let mut signed = self.sign_logged(&signable, creds, time)?;
            return self.fill_signed(request.headers_mut(), body, &mut signed);
        }
        // The per-call path: the canonical request hashed as it is written (from the key's
        // memo of this operation's request shape after the first call), only the added
        // headers made.
        let mut added = self.keys.with(&self.signing, creds, |key| {
            key.sign_headers(&signable, time)
        })?;
        let filled = self.fill_headers(request.headers_mut(), body, || {
            added.merged(headers, &self.host)
        });
        added.authorization.zeroize();
        filled
    }

    /// [`signer::sign_with`], its intermediate strings logged at debug level.
    fn sign_logged(
        &self,
        signable: &SignableRequest<'_>,
        creds: &Credentials,
        time: SystemTime,
    ) -> Result<signer::SignedRequest, SigningError> {
        let mut params = signer::SigningParams::new(
            self.signing.algorithm,
            creds.access_key_id(),
            creds.secret_access_key(),
            time,
        );
        if let Some((region, service)) = &self.signing.scope {
            params = params.with_scope(region, service);
        }
        let signed = signer::sign_with(signable, &params)?;
        // What a 401 can be compared with (the gateway returns its canonical request): the
        // security token masked by `CanonicalRequest`'s `Display`, no key material.
        tracing::debug!(
            algorithm = %self.signing.algorithm,
            signed_headers = %signed.signed_headers,
            "signed; canonical request:\n{}\nstring to sign:\n{}",
            signed.canonical_request,
            signed.string_to_sign
        );
        Ok(signed)
    }
}

/// A header value whose bytes are shared from the start, for values sent with every request:
/// reqwest clones each request's headers (for its redirect handling, even with redirects off),
/// and the first clone of a freshly made value allocates to share its bytes.
pub(crate) fn shared_value(text: &str) -> Option<HeaderValue> {
    let value = HeaderValue::from_str(text).ok()?;
    drop(value.clone());
    Some(value)
}

impl HookState {
    /// Headers as sent: raw UTF-8 bytes (the text that was signed is the text that is sent),
    /// secret ones marked sensitive so that no HTTP-level logging prints them.
    /// They replace the request's headers in place (the map keeps its memory). `Host`,
    /// `User-Agent` and the JSON content type reuse values made once; the body and the other
    /// values (the date, the signature, the project...) are copied into one buffer that they
    /// share, so that what a request adds costs one allocation, and reqwest's clone of it one
    /// more, instead of two for each value and two for the body. Returns the body, from that
    /// buffer. `headers` is called three times (and should give the same headers).
    pub(super) fn fill_headers<'a, I>(
        &self,
        map: &mut HeaderMap,
        body: &[u8],
        headers: impl Fn() -> I,
    ) -> Result<bytes::Bytes, SigningError>
    where
        I: Iterator<Item = (&'a str, &'a str)>,
    {
        let fresh = |(name, value): &(&str, &str)| self.made_once(name, value).is_none();
        let fresh_len: usize = headers().filter(fresh).map(|(_, value)| value.len()).sum();
        let mut buffer = Vec::with_capacity(body.len() + fresh_len);
        buffer.extend_from_slice(body);
        for (_, value) in headers().filter(fresh) {
            buffer.extend_from_slice(value.as_bytes());
        }
        // Exactly full: `Bytes` takes the vector without allocating.
        let buffer = bytes::Bytes::from(buffer);
        let mut at = body.len();
        map.clear();
        for (name, value) in headers() {
            let invalid = || SigningError::InvalidHeaderValue(name.to_ascii_lowercase());
            let header_name = match wire_header_name(name) {
                Some(known) => known,
                None => HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?,
            };
            let header_value = match self.made_once(name, value) {
                Some(value) => value.clone(),
                None => {
                    let end = at + value.len();
                    // The buffer holds this value here unless `headers` changed between calls:
                    // then the value is copied on its own.
                    let bytes = match buffer.get(at..end) {
                        Some(held) if held == value.as_bytes() => buffer.slice(at..end),
                        _ => bytes::Bytes::copy_from_slice(value.as_bytes()),
                    };
                    at = end;
                    let mut fresh = HeaderValue::from_maybe_shared(bytes).map_err(|_| invalid())?;
                    fresh.set_sensitive(signer::is_sensitive_header(name));
                    fresh
                }
            };
            map.append(header_name, header_value);
        }
        Ok(buffer.slice(..body.len()))
    }

    /// The value made once for this header, if `value` is the one it was made for. Borrowed:
    /// only the one put into the map is cloned (its shared count is touched by every thread).
    fn made_once(&self, name: &str, value: &str) -> Option<&HeaderValue> {
        static JSON: HeaderValue = HeaderValue::from_static("application/json");
        match name {
            "Host" if value == self.host => self.host_value.as_ref(),
            "User-Agent" if value == self.user_agent => self.user_agent_value.as_ref(),
            "Content-Type" if value == "application/json" => Some(&JSON),
            _ => None,
        }
    }

    /// [`fill_headers`](Self::fill_headers) with every header of `signed`, whose secret values
    /// are wiped once they are in the map.
    pub(super) fn fill_signed(
        &self,
        map: &mut HeaderMap,
        body: &[u8],
        signed: &mut signer::SignedRequest,
    ) -> Result<bytes::Bytes, SigningError> {
        let filled = self.fill_headers(map, body, || {
            signed
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_str()))
        });
        for header in signed.headers.iter_mut().filter(|h| h.sensitive) {
            header.value.zeroize();
        }
        filled
    }
}

/// The names every signed request carries, spelt as the wire form spells them, made once:
/// parsing a name that is not one of `http`'s standard headers allocates a lowercase copy, and
/// even `from_static` checks its text at every call.
fn wire_header_name(name: &str) -> Option<HeaderName> {
    use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
    static X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
    static X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");
    static X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");
    static X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
    static REGION: HeaderName = HeaderName::from_static("region");
    Some(match name {
        signer::DATE_HEADER => X_SDK_DATE.clone(),
        "X-Project-Id" => X_PROJECT_ID.clone(),
        "Host" => HOST,
        "Authorization" => AUTHORIZATION,
        "Content-Type" => CONTENT_TYPE,
        "User-Agent" => USER_AGENT,
        "X-Security-Token" => X_SECURITY_TOKEN.clone(),
        "X-Auth-Token" => X_AUTH_TOKEN.clone(),
        "region" => REGION.clone(),
        _ => return None,
    })
}

/// Carries a [`SigningError`] through progenitor's `Error::Custom(String)`, the only error a
/// `pre` hook can return; [`signing_error`] reads it back.
fn custom_error<E>(error: SigningError) -> progenitor_client::Error<E> {
    let (code, detail) = match &error {
        SigningError::EmptyAccessKey => ("empty-access-key", ""),
        SigningError::EmptySecretKey => ("empty-secret-key", ""),
        SigningError::EmptyPath => ("empty-path", ""),
        SigningError::BadDateHeader(value) => ("bad-date-header", value.as_str()),
        SigningError::TimeOutOfRange => ("time-out-of-range", ""),
        SigningError::DuplicateHeader(name) => ("duplicate-header", name.as_str()),
        SigningError::InvalidHeaderValue(name) => ("invalid-header-value", name.as_str()),
        SigningError::AuthorizationGiven => ("authorization-given", ""),
        SigningError::MissingScope => ("missing-scope", ""),
        SigningError::NoKey => ("no-key", ""),
        SigningError::Unavailable(algorithm) => ("unavailable", algorithm.name()),
    };
    progenitor_client::Error::Custom(format!("{CUSTOM_PREFIX}{code}:{detail}"))
}

const CUSTOM_PREFIX: &str = "hss-image-sync signing:";
/// Marks a credentials failure in `pre` (normally caught earlier, by the client).
pub(crate) const CREDENTIALS_PREFIX: &str = "hss-image-sync credentials:";

/// The [`SigningError`] a `pre` hook reported; `None` for any other `Custom` text.
pub(crate) fn signing_error(custom: &str) -> Option<SigningError> {
    let (code, detail) = custom.strip_prefix(CUSTOM_PREFIX)?.split_once(':')?;
    Some(match code {
        "empty-access-key" => SigningError::EmptyAccessKey,
        "empty-secret-key" => SigningError::EmptySecretKey,
        "empty-path" => SigningError::EmptyPath,
        "bad-date-header" => SigningError::BadDateHeader(detail.to_owned()),
        "time-out-of-range" => SigningError::TimeOutOfRange,
        "duplicate-header" => SigningError::DuplicateHeader(detail.to_owned()),
        "invalid-header-value" => SigningError::InvalidHeaderValue(detail.to_owned()),
        "authorization-given" => SigningError::AuthorizationGiven,
        "missing-scope" => SigningError::MissingScope,
        "no-key" => SigningError::NoKey,
        "unavailable" => SigningError::Unavailable(detail.parse().ok()?),
        _ => return None,
    })
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
        super::checks::request(request, info.operation_id)
            .map_err(progenitor_client::Error::InvalidRequest)?;
        let state = self.inner();
        // The client fetched them for this attempt just before: this is the cache answering.
        let creds = state
            .credentials()
            .await
            .map_err(|e| progenitor_client::Error::Custom(format!("{CREDENTIALS_PREFIX}{e}")))?;
        state.prepare(request, creds.as_ref()).map_err(custom_error)
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        if let Ok(response) = result {
            super::call::note_answer(response.headers());
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        if super::prepared::in_dry_run() {
            return Ok(super::prepared::capture(request));
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

    #[test]
    fn headers_made_once_are_used_only_for_their_own_values() {
        let client = crate::HssClient::builder()
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("AK", "SK").with_project_id("p"))
            .user_agent("agent/1")
            .build()
            .unwrap();
        let state = client.hooks();
        let sent = |headers: [(&str, &str); 4]| {
            let mut map = HeaderMap::new();
            state
                .fill_headers(&mut map, &[], || headers.into_iter())
                .unwrap();
            map
        };
        // The client's own values (made once), then others, sent as given.
        for (host, agent, content_type, secret) in [
            (
                "127.0.0.1:9",
                "agent/1",
                "application/json",
                "Authorization",
            ),
            ("elsewhere:1", "agent/2", "text/plain", "X-Auth-Token"),
        ] {
            let map = sent([
                ("Host", host),
                ("User-Agent", agent),
                ("Content-Type", content_type),
                (secret, "s"),
            ]);
            assert_eq!(map["host"], host);
            assert_eq!(map["user-agent"], agent);
            assert_eq!(map["content-type"], content_type);
            // The client's own values are the ones made once (their bytes, not copies).
            let same_bytes = |sent: &HeaderValue, made: &Option<HeaderValue>| {
                made.as_ref()
                    .is_some_and(|made| sent.as_bytes().as_ptr() == made.as_bytes().as_ptr())
            };
            assert_eq!(
                same_bytes(&map["host"], &state.host_value),
                host == "127.0.0.1:9"
            );
            assert_eq!(
                same_bytes(&map["user-agent"], &state.user_agent_value),
                agent == "agent/1"
            );
            assert!(map[secret.to_ascii_lowercase().as_str()].is_sensitive());
            assert_eq!(map.len(), 4);
        }
    }

    #[test]
    fn the_body_and_fresh_values_share_one_buffer_and_keep_their_flags() {
        let client = crate::HssClient::builder()
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("AK", "SK"))
            .build()
            .unwrap();
        let headers = [
            ("Host", "127.0.0.1:9"),
            (signer::DATE_HEADER, "20240101T000000Z"),
            ("X-Auth-Token", "token"),
            ("region", ""),
            ("Authorization", "SDK-HMAC-SHA256 Access=AK"),
        ];
        let mut map = HeaderMap::new();
        map.insert("x-stale", HeaderValue::from_static("1"));
        let body = client
            .hooks()
            .fill_headers(&mut map, b"{\"a\": 1}", || headers.into_iter())
            .unwrap();
        assert_eq!(body, &b"{\"a\": 1}"[..]);
        assert_eq!(
            map.len(),
            headers.len(),
            "the map is replaced, not added to"
        );
        for (name, value) in headers {
            let sent = &map[name.to_ascii_lowercase().as_str()];
            assert_eq!(sent, value);
            assert_eq!(sent.is_sensitive(), signer::is_sensitive_header(name));
        }
        // The body, then the fresh values (all but `Host`), one after the other in one buffer.
        let date = map["x-sdk-date"].as_bytes();
        assert_eq!(body.as_ptr().wrapping_add(body.len()), date.as_ptr());
        let token = map["x-auth-token"].as_bytes();
        let authorization = map["authorization"].as_bytes();
        assert_eq!(date.as_ptr().wrapping_add(date.len()), token.as_ptr());
        assert_eq!(
            token.as_ptr().wrapping_add(token.len()),
            authorization.as_ptr()
        );
        // Headers that change between the calls are still sent as the last call gives them.
        let calls = std::cell::Cell::new(0);
        client
            .hooks()
            .fill_headers(&mut map, &[], || {
                calls.set(calls.get() + 1);
                let value = if calls.get() < 3 {
                    "short"
                } else {
                    "a longer value"
                };
                [("X-Changing", value)].into_iter()
            })
            .unwrap();
        assert_eq!(map["x-changing"], "a longer value");
        // A value that is not a valid header value is refused by name.
        let refused = client
            .hooks()
            .fill_headers(&mut map, &[], || [("X-Bad", "a\nb")].into_iter());
        assert_eq!(
            refused,
            Err(SigningError::InvalidHeaderValue("x-bad".into()))
        );
    }

    #[test]
    fn wire_header_names_are_the_lowercase_names() {
        for name in [
            signer::DATE_HEADER,
            "X-Project-Id",
            "Host",
            "Authorization",
            "Content-Type",
            "User-Agent",
            "X-Security-Token",
            "X-Auth-Token",
            "region",
        ] {
            let made = wire_header_name(name).unwrap();
            assert_eq!(made, HeaderName::from_bytes(name.as_bytes()).unwrap());
            assert_eq!(made.as_str(), name.to_ascii_lowercase());
        }
        assert_eq!(wire_header_name("X-Other"), None);
        assert_eq!(
            wire_header_name("host"),
            None,
            "only the wire form's spelling"
        );
    }

    #[test]
    fn signing_errors_survive_the_custom_error() {
        for error in [
            SigningError::EmptyAccessKey,
            SigningError::EmptySecretKey,
            SigningError::EmptyPath,
            SigningError::BadDateHeader("2024:x".into()),
            SigningError::TimeOutOfRange,
            SigningError::DuplicateHeader("x-a".into()),
            SigningError::InvalidHeaderValue("region".into()),
            SigningError::AuthorizationGiven,
            SigningError::MissingScope,
            SigningError::NoKey,
            SigningError::Unavailable(crate::signer::Algorithm::Sm2Sm3),
        ] {
            let progenitor_client::Error::<()>::Custom(text) = custom_error(error.clone()) else {
                panic!("not a Custom error");
            };
            assert_eq!(signing_error(&text), Some(error));
        }
        assert_eq!(signing_error("something else"), None);
    }
}
