//! The progenitor client hooks: `pre` normalises every request to what the official SDKs send;
//! `exec` signs and sends it, once per attempt, with retries, timeouts, clock-skew correction
//! and a size cap on answers.
//!
//! The generated client is built with `HooksMode::Expected`, so it does not compile without the
//! `ClientHooks` impl below: there is no way to get a client that sends unsigned requests.

pub(crate) mod call;
mod normalize;
pub(crate) mod response;
pub(crate) mod retry;
mod sdk_json;

use crate::credentials::{AuthToken, Credentials};
use crate::error::Error;
use crate::generated::Client;
use crate::signer::{self, SignableRequest};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use response::ReadError;
use retry::RetryPolicy;
use secrecy::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub(crate) enum Auth {
    /// Signed with SDK-HMAC-SHA256.
    AkSk(Credentials),
    /// `X-Auth-Token`, not signed.
    Token(AuthToken),
}

/// A source of the current time, injectable so tests can sign at a fixed instant.
pub(crate) type TimeSource = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A gateway `Date` further than this from our clock, on a refused signature, makes the client
/// correct its signing clock and retry once.
const SKEW_THRESHOLD_SECS: i64 = 5 * 60;

/// State the hooks need; stored inside the generated client.
#[derive(Clone)]
pub struct HookState {
    pub(crate) auth: Auth,
    /// The endpoint's authority exactly as configured: signed, and sent as `Host`.
    pub(crate) host: String,
    pub(crate) user_agent: String,
    pub(crate) now: TimeSource,
    /// Correction added to `now` for signing, learnt from the gateway's `Date` (seconds).
    /// Shared by clones of the client.
    pub(crate) clock_offset_secs: Arc<AtomicI64>,
    pub(crate) retry: RetryPolicy,
    /// Timeout of one attempt (connect, send, receive); `None`: only the total applies.
    pub(crate) attempt_timeout: Option<Duration>,
    /// Timeout of the whole call, every attempt and delay included.
    pub(crate) total_timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

impl fmt::Debug for HookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookState")
            .field("auth", &self.auth)
            .field("host", &self.host)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HookState {
    /// The time to sign with: the configured clock plus the learnt correction.
    fn signing_time(&self) -> SystemTime {
        shift((self.now)(), self.clock_offset_secs.load(Ordering::Relaxed))
    }

    /// Adds `X-Sdk-Date`, `Host` (kept) and `Authorization` to a normalised request.
    fn sign(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        let Auth::AkSk(creds) = &self.auth else {
            return Ok(());
        };
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), value)
            })
            .collect();
        let query: Vec<(String, String)> = request.url().query_pairs().into_owned().collect();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default();
        let signable = SignableRequest {
            method: request.method().as_str(),
            host: &self.host,
            path: request.url().path(),
            query: &query,
            headers: &headers,
            body,
        };
        let signed = signer::sign(
            &signable,
            creds.access_key_id(),
            creds.secret_access_key(),
            self.signing_time(),
        )
        .map_err(|e| Error::Signing(e.to_string()))?;
        *request.headers_mut() = header_map(&signed.headers).map_err(Error::Signing)?;
        Ok(())
    }

    /// Secret values to mask if an answer echoes them.
    fn secrets(&self) -> Vec<&str> {
        match &self.auth {
            Auth::AkSk(creds) => {
                let mut secrets = vec![creds.secret_access_key().expose_secret()];
                if let Some(token) = creds.security_token() {
                    secrets.push(token.expose_secret());
                }
                secrets
            }
            Auth::Token(token) => vec![token.expose()],
        }
    }

    /// One call: attempts until success, a final answer, no attempts left or no time left.
    async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        // A timeout too large to add to the clock means "no deadline" in practice.
        let started = Instant::now();
        let deadline = started
            .checked_add(self.total_timeout)
            .unwrap_or(started + Duration::from_secs(100 * 365 * 86_400));
        let mut attempt = 0;
        let mut skew_corrected = false;
        loop {
            attempt += 1;
            call::count_attempt();
            let span = tracing::info_span!(
                "attempt",
                attempt,
                status = tracing::field::Empty,
                request_id = tracing::field::Empty
            );
            let Some(mut this_try) = request.try_clone() else {
                call::fail(Error::Signing("request body cannot be replayed".into()));
                return Ok(failed_response());
            };
            if let Err(e) = self.sign(&mut this_try) {
                call::fail(e);
                return Ok(failed_response());
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            *this_try.timeout_mut() =
                Some(self.attempt_timeout.map_or(remaining, |t| t.min(remaining)));

            let outcome = async {
                tracing::debug!("sending");
                let sent = client.execute(this_try).await;
                match sent {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        tracing::Span::current().record("status", status);
                        if let Some(id) = request_id(response.headers()) {
                            tracing::Span::current().record("request_id", id);
                        }
                        match response::read_bounded(response, self.max_response_bytes).await {
                            Ok(buffered) => Ok(buffered),
                            Err(ReadError::TooLarge) => Err(None),
                            Err(ReadError::Transport(e)) => Err(Some(e)),
                        }
                    }
                    Err(e) => Err(Some(e)),
                }
            }
            .instrument(span.clone())
            .await;

            let retries_left = attempt < self.retry.max_attempts.max(1);
            let delay = match outcome {
                Ok(buffered) => {
                    let status = buffered.status.as_u16();
                    if status == 401 && !skew_corrected && self.correct_skew(&buffered) {
                        skew_corrected = true;
                        continue;
                    }
                    if !(retry::is_retryable_status(status) && retries_left) {
                        span.in_scope(|| tracing::info!(status, "answer"));
                        return Ok(buffered.into_response(&self.secrets()));
                    }
                    let delay = self.delay_for(attempt, &buffered);
                    if delay >= deadline.saturating_duration_since(Instant::now()) {
                        span.in_scope(|| tracing::info!(status, ?delay, "no time left to retry"));
                        return Ok(buffered.into_response(&self.secrets()));
                    }
                    span.in_scope(|| tracing::warn!(status, ?delay, "retrying"));
                    delay
                }
                Err(None) => {
                    span.in_scope(|| {
                        tracing::warn!(limit = self.max_response_bytes, "answer too large")
                    });
                    call::fail(Error::ResponseTooLarge {
                        limit: self.max_response_bytes,
                    });
                    return Ok(failed_response());
                }
                Err(Some(error)) => {
                    let retryable = retry::is_retryable_error(&error);
                    let delay = self.retry.backoff(attempt, fastrand::f64());
                    if !(retryable && retries_left)
                        || delay >= deadline.saturating_duration_since(Instant::now())
                    {
                        span.in_scope(|| tracing::info!(error = %error, "giving up"));
                        return Err(error);
                    }
                    span.in_scope(|| tracing::warn!(error = %error, ?delay, "retrying"));
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// `Retry-After` on a 429 (capped), else full-jitter backoff.
    fn delay_for(&self, attempt: u32, buffered: &response::Buffered) -> Duration {
        let retry_after = buffered
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .filter(|_| buffered.status.as_u16() == 429)
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        match retry_after {
            Some(wait) => wait.min(self.retry.max_delay),
            None => self.retry.backoff(attempt, fastrand::f64()),
        }
    }

    /// On a refused signature whose answer's `Date` is more than 5 minutes from our signing
    /// clock, adopts the gateway's clock. True if it did (the caller retries once).
    fn correct_skew(&self, buffered: &response::Buffered) -> bool {
        if !matches!(self.auth, Auth::AkSk(_)) || !buffered.error_code().ends_with(".0301") {
            return false;
        }
        let Some(date) = buffered
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(offset) = retry::clock_offset_secs(date, self.signing_time()) else {
            return false;
        };
        if offset.abs() <= SKEW_THRESHOLD_SECS {
            return false;
        }
        self.clock_offset_secs.fetch_add(offset, Ordering::Relaxed);
        tracing::warn!(
            offset_secs = offset,
            "signature refused and the gateway's clock differs from ours: signing with the gateway's time and retrying once"
        );
        true
    }
}

fn shift(time: SystemTime, offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        time.checked_add(by).unwrap_or(time)
    } else {
        time.checked_sub(by).unwrap_or(time)
    }
}

/// Stands in for an answer when the call failed in a way recorded through [`call::fail`]; the
/// hand-written client reports the recorded error instead.
fn failed_response() -> reqwest::Response {
    let body = br#"{"error_code":"CLIENT.0001","error_msg":"the request failed before an answer could be read; see the client's error"}"#;
    let mut response = http::Response::new(body.to_vec());
    *response.status_mut() = reqwest::StatusCode::INTERNAL_SERVER_ERROR;
    reqwest::Response::from(response)
}

pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        // Raw UTF-8 bytes: the text that was signed is the text that is sent.
        let mut header_value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| format!("header {name}: value contains a control character"))?;
        if is_secret_header(&header_name) {
            header_value.set_sensitive(true);
        }
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// Headers whose values must never be logged.
fn is_secret_header(name: &HeaderName) -> bool {
    ["x-auth-token", "x-security-token", "authorization"].contains(&name.as_str())
}

/// The response's `X-Request-Id`.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

impl ClientHooks<HookState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        normalize::prepare(self.inner(), request).map_err(progenitor_client::Error::Custom)
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let span = tracing::info_span!("hss_call", operation = info.operation_id);
        self.inner()
            .execute(self.client(), request)
            .instrument(span)
            .await
    }
}
