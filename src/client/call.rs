//! The one call path every operation takes: attempts of the generated operation, retried with
//! backon (full-jitter backoff, `Retry-After`, the total deadline), one clock-skew correction,
//! and the mapping of every answer and failure to [`Error`].
//!
//! Each attempt calls the generated operation again, so progenitor's `pre` hook re-signs it
//! with a fresh `X-Sdk-Date`; nothing here touches the request.

use super::HssClient;
use super::context::{self, CallContext};
use super::hooks::Auth;
use super::operation::{Operation, Response, ServiceAnswer};
use super::retry;
use super::skew::Verdict;
use crate::error::{Error, ServiceError};
use crate::error_body;
use backon::Retryable;
use progenitor_client::{ByteStream, ResponseValue};
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};
use tracing::Instrument;

/// What a generated operation returns: its 200 answer decoded, or an error whose 4xx/5xx body
/// the spec declares as raw bytes (read here the official SDKs' way).
pub(crate) type Generated<T> = Result<ResponseValue<T>, progenitor_client::Error<ByteStream>>;

/// A failed attempt, with what the retry loop needs to know about it.
struct Failure {
    error: Error,
    retryable: bool,
    retry_after: Option<Duration>,
    /// The `Date` of a refused signature (APIG.0301), for clock-skew correction.
    refused_signature_date: Option<SystemTime>,
}

impl Failure {
    fn final_(error: Error) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
            refused_signature_date: None,
        }
    }

    fn transport(error: reqwest::Error) -> Self {
        Failure {
            retryable: retry::is_retryable_transport(&error),
            ..Failure::final_(Error::transport(error, 0))
        }
    }
}

/// Secrets shorter than this are not masked in server text: they would mask ordinary words,
/// and real keys and tokens are long.
const MIN_MASKED_SECRET_LEN: usize = 8;

impl HssClient {
    /// Sends `operation` (built with [`operations`](Self::operations)): each attempt signed
    /// afresh, failures that may heal retried (see [`RetryPolicy`](crate::RetryPolicy)), the
    /// whole bounded by the total timeout; a 200 decoded as the operation's model.
    ///
    /// ```no_run
    /// # async fn run(client: hss_image_sync::HssClient) -> Result<(), hss_image_sync::Error> {
    /// let project = client.default_project_id().await?;
    /// let request = client.operations().list_registry().project_id(project).limit(50);
    /// let answer = client.send(request).await?;
    /// for registry in answer.value.data_list {
    ///     println!("{:?} {:?}", registry.id, registry.registry_type);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send<O: Operation>(&self, operation: O) -> Result<Response<O::Answer>, Error> {
        self.call(O::ID, || operation.clone().send()).await
    }

    /// Runs `send` (one call of a generated operation) until it succeeds, fails for good, runs
    /// out of attempts or out of time.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        send: F,
    ) -> Result<Response<T>, Error>
    where
        T: ServiceAnswer + serde::Serialize + serde::de::DeserializeOwned,
        F: Fn() -> Fut,
        Fut: Future<Output = Generated<T>>,
    {
        require_runtime()?;
        let attempts = AtomicU32::new(0);
        let total = self.total_timeout;
        // Shared with the project lookup and credentials fetch of the same call, if any.
        let deadline = super::project::deadline(total);
        let max_attempts = self.retry.max_attempts();
        let max_delay = self.retry.max_delay();
        let retried = (|| self.attempt(operation, &send, &attempts))
            .retry(self.retry.delays())
            .sleep(tokio::time::sleep)
            .when(|failure: &Failure| failure.retryable)
            .adjust(|failure, backoff| {
                // `None`: no attempts left. `Retry-After` replaces the backoff, up to the cap.
                let delay = failure.retry_after.map_or(backoff?, |d| d.min(max_delay));
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                // Sleeping into the deadline would only trade the real failure for a timeout.
                (delay < left).then_some(delay)
            })
            .notify(|failure, delay| {
                let attempt = attempts.load(Ordering::Relaxed);
                tracing::warn!(
                    "retrying in {:.1} s after {} (attempt {} of {max_attempts})",
                    delay.as_secs_f64(),
                    summary(&failure.error),
                    attempt + 1,
                );
            });
        let span = tracing::info_span!("hss_call", operation);
        let outcome = context::scope(
            CallContext::default(),
            tokio::time::timeout_at(deadline, retried),
        )
        .instrument(span)
        .await;
        let made = attempts.load(Ordering::Relaxed);
        match outcome {
            Ok(Ok(answer)) => match answer.value.error_code() {
                Some((error_code, description)) => Err(Error::NonZeroErrorCode {
                    error_code,
                    description: self.mask(description),
                    request_id: answer.request_id,
                    attempts: made,
                }),
                None => Ok(Response {
                    attempts: made,
                    ..answer
                }),
            },
            Ok(Err(failure)) => Err(failure.error.with_attempts(made)),
            Err(_elapsed) => Err(Error::deadline_exceeded(total, made)),
        }
    }

    /// One attempt, and one more at once if the gateway refused the signature's time and we
    /// could learn its clock.
    async fn attempt<T: serde::Serialize + serde::de::DeserializeOwned, F, Fut>(
        &self,
        operation: &'static str,
        send: &F,
        attempts: &AtomicU32,
    ) -> Result<Response<T>, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Generated<T>>,
    {
        let mut corrected = false;
        loop {
            // Fresh keys for this attempt (from the cache unless they are about to expire);
            // the `pre` hook signs with the same.
            let creds = self
                .hooks()
                .credentials()
                .await
                .map_err(|e| Failure::final_(Error::Credentials(e)))?;
            if let Some(creds) = &creds {
                check_credentials(creds).map_err(Failure::final_)?;
            }
            if let Some(limiter) = &self.rate_limiter {
                limiter.acquire(operation).await;
            }
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let span = tracing::info_span!("attempt", attempt);
            let outcome = async { self.settle(operation, send().await).await }
                .instrument(span.clone())
                .await;
            let Err(failure) = outcome else {
                return outcome;
            };
            let Some(server_date) = failure.refused_signature_date.filter(|_| !corrected) else {
                return Err(failure);
            };
            match self
                .hooks()
                .skew
                .learn(server_date, self.hooks().signing_time())
            {
                Verdict::InTolerance => return Err(failure),
                Verdict::Adopted { offset_secs } => {
                    span.in_scope(|| {
                        tracing::warn!(
                            offset_secs,
                            "signature refused and the gateway's clock differs from ours: \
                             signing with the gateway's time and trying again"
                        )
                    });
                    corrected = true;
                }
                Verdict::TooFar { offset_secs } => {
                    let request_id = match &failure.error {
                        Error::Service(e) => e.request_id.clone(),
                        _ => None,
                    };
                    return Err(Failure::final_(Error::ClockSkew {
                        offset_secs,
                        request_id,
                    }));
                }
            }
        }
    }

    /// What one call of a generated operation amounts to.
    async fn settle<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        result: Generated<T>,
    ) -> Result<Response<T>, Failure> {
        use progenitor_client::Error as E;
        match result {
            Ok(answer) => Ok(self.success(answer)),
            Err(E::ErrorResponse(answer)) => {
                if answer.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                    && let Some(limiter) = &self.rate_limiter
                {
                    limiter.throttled(operation);
                }
                Err(self.service_failure(answer).await)
            }
            Err(E::CommunicationError(e) | E::InvalidUpgrade(e)) => Err(Failure::transport(e)),
            Err(E::ResponseBodyError(e)) => Err(self.body_failure(e)),
            // Only a 200 is decoded, and the generated code drops its headers on the way:
            // its request ID comes from the `post` hook.
            Err(E::InvalidResponsePayload(_, e)) => Err(Failure::final_(Error::InvalidResponse {
                status: 200,
                request_id: context::with(|call| call.request_id.take())
                    .flatten()
                    .map(|id| self.mask(id)),
                message: format!("the body is not the documented JSON: {e}"),
            })),
            Err(E::UnexpectedResponse(response)) => {
                Err(Failure::final_(self.unexpected(&response)))
            }
            Err(refused @ (E::InvalidRequest(_) | E::Custom(_))) => {
                Err(Failure::final_(self.refused(operation, refused, None)))
            }
        }
    }

    /// A 200, decoded by the generated code (under the hook's size cap), with any of our
    /// secrets the server echoed masked in its text.
    fn success<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        answer: ResponseValue<T>,
    ) -> Response<T> {
        // The `post` hook noted it for this answer.
        let request_id = context::with(|call| call.request_id.take())
            .flatten()
            .or_else(|| request_id(answer.headers()));
        let status = answer.status().as_u16();
        let server_date = header(answer.headers(), reqwest::header::DATE)
            .and_then(|date| httpdate::parse_http_date(date.trim()).ok());
        let value = answer.into_inner();
        let json = serde_json::to_string(&value).ok();
        // One look at the secrets for both (the worker threads share their lock).
        let (request_id, echoed) = self.with_secrets(|secrets| {
            let echoed = json.as_deref().is_some_and(|json| {
                secrets
                    .into_iter()
                    .flatten()
                    .any(|secret| holds(json, secret))
            });
            (request_id.map(|id| masked(id, secrets)), echoed)
        });
        tracing::info!(status, request_id, "answer");
        // Decoded again only when its text holds a secret: rare, and then masked.
        let value = match json {
            Some(json) if echoed => serde_json::from_str(&self.mask(json)).unwrap_or(value),
            _ => value,
        };
        Response {
            value,
            request_id,
            attempts: 0,
            server_date,
        }
    }

    /// A 4xx or 5xx: the body read once, under the cap, as the official SDKs read it.
    async fn service_failure(&self, answer: ResponseValue<ByteStream>) -> Failure {
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body = match read_all(answer.into_inner()).await {
            Ok(body) => body,
            Err(e) => return self.body_failure(e),
        };
        let fields = error_body::parse(status, &body);
        let retry_after = header(&headers, reqwest::header::RETRY_AFTER)
            .filter(|_| matches!(status, 429 | 503))
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let refused_signature_date = header(&headers, reqwest::header::DATE)
            .filter(|_| {
                status == 401
                    && fields.error_code.ends_with(".0301")
                    && matches!(self.hooks().auth, Auth::AkSk(_))
            })
            .and_then(|date| httpdate::parse_http_date(date.trim()).ok());
        let error = ServiceError {
            status,
            request_id: request_id(&headers).map(|id| self.mask(id)),
            error_code: self.mask(&fields.error_code),
            error_msg: self.mask(&fields.error_msg),
            encoded_authorization_message: fields
                .encoded_authorization_message
                .map(|m| self.mask(m)),
            retry_after,
            attempts: 0,
        };
        tracing::info!(
            status,
            request_id = error.request_id,
            code = error.error_code,
            "answer"
        );
        Failure {
            retryable: retry::is_retryable_status(status),
            retry_after,
            refused_signature_date,
            error: Error::Service(error),
        }
    }

    /// A body that could not be read: over the cap (the hook's limit), or a broken connection.
    fn body_failure(&self, error: reqwest::Error) -> Failure {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = cause {
            if e.is::<http_body_util::LengthLimitError>() {
                let limit = self.hooks().max_response_bytes;
                tracing::warn!(limit, "answer too large");
                return Failure::final_(Error::ResponseTooLarge { limit });
            }
            cause = e.source();
        }
        Failure::transport(error)
    }

    /// A status the API does not describe; a redirect is refused, not followed, since it
    /// would take the request (and its tokens) elsewhere.
    fn unexpected(&self, response: &reqwest::Response) -> Error {
        let status = response.status();
        let headers = response.headers();
        let message = if status.is_redirection() {
            let location = header(headers, reqwest::header::LOCATION).unwrap_or("(none)");
            format!(
                "redirect to {} refused: requests go only to the configured endpoint",
                self.mask(location)
            )
        } else {
            "status not described by the API".to_owned()
        };
        Error::InvalidResponse {
            status: status.as_u16(),
            request_id: request_id(headers).map(|id| self.mask(id)),
            message,
        }
    }

    /// Why the generated code or a hook refused to build `operation`'s request (`failure`:
    /// what a hook handed over).
    pub(super) fn refused(
        &self,
        operation: &'static str,
        error: progenitor_client::Error<ByteStream>,
        failure: Option<Error>,
    ) -> Error {
        match error {
            progenitor_client::Error::InvalidRequest(message) => {
                invalid_request(operation, message)
            }
            progenitor_client::Error::Custom(text) => hook_failure(text, failure),
            other => Error::InvalidInput {
                field: "request",
                rule: other.to_string(),
            },
        }
    }

    /// `text` from a server with our secrets masked, in case it echoes them. A `String` is
    /// returned as it is when it holds none of them.
    pub(crate) fn mask(&self, text: impl Into<String>) -> String {
        let text = text.into();
        if text.len() < MIN_MASKED_SECRET_LEN {
            return text;
        }
        self.with_secrets(|secrets| masked(text, secrets))
    }

    /// `f` on the secrets an answer could echo: the IAM token, or the SK and security token.
    fn with_secrets<R>(&self, f: impl FnOnce([Option<&str>; 2]) -> R) -> R {
        match &self.hooks().auth {
            Auth::Token(token) => f([Some(token.expose()), None]),
            Auth::AkSk(cache) => cache.with_current(|creds| {
                f([
                    creds.map(|c| c.secret_access_key().expose_secret()),
                    creds.and_then(|c| c.security_token().map(|t| t.expose_secret())),
                ])
            }),
        }
    }
}

/// `text` with each of `secrets` long enough to mask replaced by [`MASK`](crate::signer::MASK).
fn masked(text: String, secrets: [Option<&str>; 2]) -> String {
    let mut masked = text;
    for secret in secrets.into_iter().flatten() {
        if holds(&masked, secret) {
            masked = masked.replace(secret, crate::signer::MASK);
        }
    }
    masked
}

/// Whether `text` holds `secret`, when it is long enough to mask. A byte scan: the texts are
/// short, and `str::contains` prepares a search table for each secret first.
fn holds(text: &str, secret: &str) -> bool {
    let (text, secret) = (text.as_bytes(), secret.as_bytes());
    secret.len() >= MIN_MASKED_SECRET_LEN
        && text
            .windows(secret.len())
            .any(|window| window[0] == secret[0] && window == secret)
}

/// A failure in a few words, for a retry notice: `HTTP 503 (unavailable)`, or the root cause of
/// a transport failure (`Connection refused (os error 111)`).
fn summary(error: &Error) -> String {
    match error {
        Error::Service(e) => {
            let word = match e.status {
                408 => "request timeout",
                429 => "too many requests",
                500 => "server error",
                502 | 503 => "unavailable",
                504 => "gateway timeout",
                _ => "error",
            };
            format!("HTTP {} ({word})", e.status)
        }
        Error::Transport { source, .. } => {
            let mut root: &(dyn std::error::Error + 'static) = source.as_ref();
            while let Some(next) = root.source() {
                root = next;
            }
            root.to_string()
        }
        other => other.to_string(),
    }
}

/// What a hook reported: the error it handed over whole (from `failure`, else the call in
/// progress), or only its text when there was no call to hand it to.
fn hook_failure(text: String, failure: Option<Error>) -> Error {
    failure
        .or_else(|| context::with(|call| call.failure.take()).flatten())
        .unwrap_or(Error::InvalidInput {
            field: "request",
            rule: text,
        })
}

/// A request the generated code refused to build: a setter's value broke the spec's rule
/// (named from the spec's table), or a required parameter was not set.
fn invalid_request(operation: &str, message: String) -> Error {
    if let Some((field, rule)) = crate::spec::refused_setter(operation, &message) {
        return Error::InvalidInput { field, rule };
    }
    // The generated field of a parameter named like a Rust keyword ends in `_` (`type_`).
    if let Some(name) = message.strip_suffix(" was not initialized")
        && let Some(rule) =
            crate::spec::rules(operation).find(|r| r.name == name.trim_end_matches('_'))
    {
        return Error::InvalidInput {
            field: rule.name,
            rule: "is required".into(),
        };
    }
    Error::InvalidInput {
        field: "request",
        rule: message,
    }
}

/// Calls need a Tokio runtime (timers, and the HTTP client's sockets), which would panic deep
/// inside without one: a call made from another executor fails here instead, before anything
/// is fetched or sent.
pub(crate) fn require_runtime() -> Result<(), Error> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::Config {
            setting: "runtime",
            problem: "no Tokio runtime is running on this thread: calls must run inside one \
                      (`#[tokio::main]`, `#[tokio::test]` or `Runtime::block_on`, with its time \
                      and I/O drivers enabled), not on another executor"
                .into(),
        }),
    }
}

/// Keys from a provider are checked as configured ones are: they go into headers.
pub(crate) fn check_credentials(creds: &crate::credentials::Credentials) -> Result<(), Error> {
    use super::validate::{header_value, non_empty};
    non_empty("AK", creds.access_key_id())?;
    non_empty("SK", creds.secret_access_key().expose_secret())?;
    header_value("AK", creds.access_key_id())?;
    if let Some(token) = creds.security_token() {
        header_value("X-Security-Token", token.expose_secret())?;
    }
    if let Some(project_id) = creds.project_id() {
        header_value("X-Project-Id", project_id)?;
    }
    Ok(())
}

/// The response's `X-Request-Id`, read as UTF-8 (lossily: a gateway may send any byte it
/// likes there, and the ID is still worth reporting).
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-request-id")?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A body read to its end (the hook's cap bounds it).
async fn read_all(stream: ByteStream) -> reqwest::Result<Vec<u8>> {
    let mut stream = stream.into_inner();
    let mut body = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx))
        .await
        .transpose()?
    {
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The retry loop on tokio's paused clock: exact delays, no sockets, nothing timing-dependent.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credentials, DeadlineExceeded, RetryPolicy};
    use std::sync::Mutex;
    use tokio::time::Instant;

    /// A body that yields `chunks`, one frame each, as progenitor hands it over.
    fn stream_of(chunks: &[&'static [u8]]) -> ByteStream {
        struct Chunks(std::collections::VecDeque<bytes::Bytes>);
        impl hyper::body::Body for Chunks {
            type Data = bytes::Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>>
            {
                std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(hyper::body::Frame::data(c))))
            }
        }
        let chunks = chunks
            .iter()
            .map(|c| bytes::Bytes::from_static(c))
            .collect();
        let body = reqwest::Body::wrap(Chunks(chunks));
        let response = reqwest::Response::from(http::Response::new(body));
        ByteStream::new(Box::pin(response.bytes_stream()))
    }

    #[tokio::test]
    async fn bodies_are_read_whole_whatever_their_chunks() {
        let body = read_all(stream_of(&[b"ab", b"", b"cd", b"e"]))
            .await
            .unwrap();
        assert_eq!(body, b"abcde");
        assert!(read_all(stream_of(&[])).await.unwrap().is_empty());
    }

    /// A client whose endpoint is never contacted: the tests hand `call` their own answers.
    fn client(retry: RetryPolicy, total: Duration) -> HssClient {
        HssClient::builder()
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("AK", "SECRET-KEY-123").with_project_id("p"))
            .retry(retry)
            .timeout(total)
            .build()
            .unwrap()
    }

    #[allow(clippy::result_large_err)] // progenitor's error type, as the generated code returns it
    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Generated<()> {
        let mut response = http::Response::new(body.to_owned());
        *response.status_mut() = reqwest::StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        let response = reqwest::Response::from(response);
        if status == 200 {
            let (status, headers) = (response.status(), response.headers().clone());
            Ok(ResponseValue::new((), status, headers))
        } else {
            Err(progenitor_client::Error::ErrorResponse(
                ResponseValue::stream(response),
            ))
        }
    }

    /// Runs `call` over scripted answers, returning the outcome and the (paused) time taken.
    async fn run(
        client: &HssClient,
        script: Vec<Generated<()>>,
    ) -> (Result<Response<()>, Error>, Duration) {
        let script = Mutex::new(script.into_iter());
        let started = Instant::now();
        let outcome = client
            .call("test", || {
                let next = script.lock().unwrap().next();
                async move {
                    match next {
                        Some(answer) => answer,
                        None => std::future::pending().await,
                    }
                }
            })
            .await;
        (outcome, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default().with_max_delay(Duration::from_secs(10));
        let client = client(policy, Duration::from_secs(60));
        let (outcome, took) = run(
            &client,
            vec![
                answer(503, &[("retry-after", "7")], ""),
                answer(200, &[], ""),
            ],
        )
        .await;
        assert_eq!(outcome.unwrap().attempts, 2);
        assert_eq!(took, Duration::from_secs(7));

        let (outcome, took) = run(
            &client,
            vec![
                answer(429, &[("retry-after", "3600")], ""),
                answer(200, &[], ""),
            ],
        )
        .await;
        assert_eq!(outcome.unwrap().attempts, 2);
        assert_eq!(took, Duration::from_secs(10), "capped at max_delay");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_is_full_jitter_within_its_bounds() {
        let policy = RetryPolicy::default()
            .with_max_attempts(3)
            .with_base_delay(Duration::from_secs(1));
        let client = client(policy, Duration::from_secs(60));
        let (outcome, took) = run(
            &client,
            vec![
                answer(500, &[], ""),
                answer(408, &[], ""),
                answer(504, &[], ""),
            ],
        )
        .await;
        let Err(Error::Service(e)) = outcome else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!((e.status, e.attempts), (504, 3));
        // Two delays, drawn from 0..=1 s and 0..=2 s.
        assert!(took <= Duration::from_secs(3), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_waits_and_its_waits_spread_over_the_window() {
        // One retry, its delay drawn from 0..=4 s: over many calls the waits are neither all
        // zero (no backoff) nor all the same (no jitter), and reach both ends of the window.
        let policy = RetryPolicy::default()
            .with_max_attempts(2)
            .with_base_delay(Duration::from_secs(4));
        let client = client(policy, Duration::from_secs(60));
        let mut took = Vec::new();
        for _ in 0..200 {
            let (outcome, elapsed) =
                run(&client, vec![answer(503, &[], ""), answer(200, &[], "")]).await;
            assert_eq!(outcome.unwrap().attempts, 2);
            took.push(elapsed);
        }
        assert!(
            took.iter().all(|t| *t <= Duration::from_secs(4)),
            "{took:?}"
        );
        let total: Duration = took.iter().sum();
        // The mean of U(0, 4 s) is 2 s: 200 calls wait about 400 s, far from 0 and from 800.
        assert!(total > Duration::from_secs(200), "{total:?}");
        assert!(total < Duration::from_secs(600), "{total:?}");
        assert!(took.iter().any(|t| *t < Duration::from_secs(1)), "{took:?}");
        assert!(took.iter().any(|t| *t > Duration::from_secs(3)), "{took:?}");
    }

    /// The HTTP client every request goes through (the API's and the credential providers'):
    /// a redirect comes back as the answer, whatever the method and status, and its target is
    /// never contacted (it would receive the request's tokens).
    #[tokio::test]
    async fn the_http_client_never_follows_a_redirect() {
        use std::sync::atomic::AtomicUsize;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        async fn serve(answer: String, hits: std::sync::Arc<AtomicUsize>) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    hits.fetch_add(1, Ordering::Relaxed);
                    let answer = answer.clone();
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut byte = [0u8; 1];
                        while !head.ends_with(b"\r\n\r\n") {
                            match stream.read(&mut byte).await {
                                Ok(1) => head.push(byte[0]),
                                _ => return,
                            }
                        }
                        let _ = stream.write_all(answer.as_bytes()).await;
                    });
                }
            });
            format!("http://{address}")
        }

        let elsewhere_hits = std::sync::Arc::new(AtomicUsize::new(0));
        let elsewhere = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into(),
            elsewhere_hits.clone(),
        )
        .await;
        let http =
            crate::http::http_client(Duration::from_secs(5), Vec::new()).expect("an HTTP client");
        for (status, method) in [
            ("301 Moved Permanently", reqwest::Method::GET),
            ("302 Found", reqwest::Method::POST),
            ("303 See Other", reqwest::Method::POST),
            ("307 Temporary Redirect", reqwest::Method::POST),
            ("308 Permanent Redirect", reqwest::Method::GET),
        ] {
            let hits = std::sync::Arc::new(AtomicUsize::new(0));
            let origin = serve(
                format!(
                    "HTTP/1.1 {status}\r\nLocation: {elsewhere}/stolen\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                ),
                hits.clone(),
            )
            .await;
            let answer = http
                .request(method.clone(), format!("{origin}/v3/projects"))
                .header("X-Auth-Token", "IAM-TOKEN-THAT-MUST-STAY-HOME")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_str(), &status[..3], "{method}");
            assert_eq!(
                answer.headers()["location"].to_str().unwrap(),
                format!("{elsewhere}/stolen")
            );
            assert_eq!(
                hits.load(Ordering::Relaxed),
                1,
                "{status}: one request only"
            );
        }
        assert_eq!(
            elsewhere_hits.load(Ordering::Relaxed),
            0,
            "a redirect was followed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_redirect_is_refused_once_naming_its_location() {
        let client = client(RetryPolicy::default(), Duration::from_secs(60));
        let mut response = http::Response::new(String::new());
        *response.status_mut() = reqwest::StatusCode::TEMPORARY_REDIRECT;
        let headers = response.headers_mut();
        headers.insert(
            "location",
            "https://elsewhere.example/SECRET-KEY-123".parse().unwrap(),
        );
        headers.insert("x-request-id", "r-307".parse().unwrap());
        let redirect: Generated<()> = Err(progenitor_client::Error::UnexpectedResponse(
            reqwest::Response::from(response),
        ));
        let (outcome, took) = run(&client, vec![redirect, answer(200, &[], "")]).await;
        let Err(Error::InvalidResponse {
            status,
            request_id,
            message,
        }) = outcome
        else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!((status, request_id.as_deref()), (307, Some("r-307")));
        assert_eq!(
            message,
            "redirect to https://elsewhere.example/****** refused: requests go only to the \
             configured endpoint"
        );
        assert_eq!(took, Duration::ZERO, "not retried");
    }

    /// Polls `future` to its end on this thread, with no Tokio runtime: what a std-only
    /// executor (`futures::executor::block_on`, `pollster`) does.
    fn block_on_without_tokio<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(output) => return output,
                std::task::Poll::Pending => std::thread::park(),
            }
        }
    }

    #[test]
    fn a_call_without_a_tokio_runtime_is_an_error_not_a_panic() {
        let client = client(RetryPolicy::default(), Duration::from_secs(5));
        let outcome = block_on_without_tokio(client.list_registry(|op| op.limit(10)));
        let Err(Error::Config { setting, problem }) = outcome else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!(setting, "runtime");
        assert!(problem.contains("Tokio runtime"), "{problem}");

        // Finding the project (IAM, over the network) is refused the same way.
        let no_project = HssClient::builder()
            .region("cn-north-4")
            .credentials(Credentials::new("AK", "SECRET-KEY-123"))
            .build()
            .unwrap();
        for outcome in [
            block_on_without_tokio(no_project.default_project_id()).map(drop),
            block_on_without_tokio(no_project.identity()).map(drop),
            block_on_without_tokio(no_project.account_projects()).map(drop),
            block_on_without_tokio(client.prepare(client.operations().list_registry())).map(drop),
            block_on_without_tokio(client.within_timeout(async { Ok(()) })),
        ] {
            assert!(
                matches!(
                    outcome,
                    Err(Error::Config {
                        setting: "runtime",
                        ..
                    })
                ),
                "{outcome:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_a_call_that_never_answers() {
        let client = client(RetryPolicy::default(), Duration::from_secs(5));
        let (outcome, took) = run(&client, vec![]).await;
        let Err(Error::Transport {
            kind,
            attempts,
            source,
        }) = outcome
        else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!((kind, attempts), (crate::TransportKind::Timeout, 1));
        assert_eq!(
            source.downcast_ref::<DeadlineExceeded>(),
            Some(&DeadlineExceeded(Duration::from_secs(5)))
        );
        assert_eq!(took, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_ends_the_call_with_the_real_failure() {
        let client = client(RetryPolicy::default(), Duration::from_secs(5));
        let (outcome, took) = run(
            &client,
            vec![
                answer(503, &[("retry-after", "6")], "busy"),
                answer(200, &[], ""),
            ],
        )
        .await;
        let Err(Error::Service(e)) = outcome else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!(
            (e.status, e.attempts, e.error_msg.as_str()),
            (503, 1, "busy")
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(6)));
        assert_eq!(took, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn final_answers_are_not_retried_and_secrets_are_masked() {
        let client = client(RetryPolicy::default(), Duration::from_secs(60));
        let body = r#"{"error_code":"HSS.0001","error_msg":"bad key SECRET-KEY-123"}"#;
        let (outcome, took) =
            run(&client, vec![answer(400, &[("x-request-id", "r1")], body)]).await;
        let Err(Error::Service(e)) = outcome else {
            panic!("{:?}", outcome.err())
        };
        assert_eq!((e.status, e.attempts, took), (400, 1, Duration::ZERO));
        assert_eq!(e.error_msg, "bad key ******");
        assert_eq!(e.request_id.as_deref(), Some("r1"));
    }
}
