//! The HTTP side: the gateway's judgement of each request, and the answers (connections are
//! `conn`'s).

use super::conn::Limits;
use super::identity::{self, IdentityEndpoint};
use super::script::{Action, ScriptedReply};
use super::service::{self, Answer};
use super::state::{Exchange, ExchangeLog, LOGGED_BODY_BYTES, State, Verdict};
use super::validate::{self, ValidCall};
use super::verify::{self, RawRequest};
use crate::signer::CanonicalRequest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response};
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

/// Largest request body the emulator reads (the gateway answers 413 beyond its limit).
const MAX_BODY: usize = 1 << 20;

type ResponseBody = BoxBody<Bytes, std::io::Error>;

/// Called with every exchange, e.g. to print a log line.
pub type ExchangeHook = Arc<dyn Fn(&Exchange) + Send + Sync>;

pub(crate) struct Config {
    pub access_key: String,
    pub secret_key: SecretString,
    pub security_token: Option<SecretString>,
    pub auth_token: Option<SecretString>,
    /// The region and service V11 credential scopes must name.
    pub scope: verify::AcceptedScope,
    /// Added to the system clock (negative: the emulator's clock is behind).
    pub clock_offset_secs: i64,
    pub on_exchange: Option<ExchangeHook>,
    pub limits: Limits,
    pub logged_exchanges: usize,
    /// The identity services (IAM, STS, ECS metadata, pod identity): see `identity`.
    pub identity: identity::Settings,
    /// The HSS service's registries and tasks: see `service`.
    pub hss: service::Settings,
}

pub(crate) struct Shared {
    pub config: Config,
    pub state: Mutex<State>,
    pub script: Mutex<VecDeque<Action>>,
    pub exchanges: Mutex<ExchangeLog>,
    /// Set when serving https.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The identity services' keys, tokens, projects, counters and scripts.
    pub identity: identity::Identity,
    next_request: AtomicU64,
    seed: u128,
}

/// The latest instant an HTTP `Date`, an `X-Sdk-Date` and an expiry can show:
/// 9999-12-31T23:59:59Z.
pub(crate) const LAST_WRITABLE_SECS: u64 = 253_402_300_799;

impl Shared {
    pub fn new(config: Config, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Shared {
            exchanges: Mutex::new(ExchangeLog::new(config.logged_exchanges)),
            identity: identity::Identity::new(config.identity.clone()),
            config,
            state: Mutex::default(),
            script: Mutex::default(),
            tls,
            next_request: AtomicU64::new(0),
            seed,
        }
    }

    /// The emulator's clock: the system clock shifted by the configured offset (unshifted when
    /// the offset leaves `SystemTime`'s range), held within 1970..=9999, the dates an answer's
    /// `Date` can carry (httpdate panics outside them).
    pub fn now(&self) -> SystemTime {
        // `shift` saturates: past `SystemTime`'s range it leaves the clock unshifted.
        let shifted = crate::clock::shift(SystemTime::now(), self.config.clock_offset_secs);
        let last = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_WRITABLE_SECS);
        shifted.clamp(SystemTime::UNIX_EPOCH, last)
    }

    /// 32 hex digits that look random and never repeat within a run: the request counter
    /// through two bijective mixes keyed by the start time.
    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let seed = self.seed as u64;
        let high = mix(n ^ mix(seed ^ 0x9e37_79b9_7f4a_7c15));
        let low = mix(n ^ seed);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high.to_be_bytes());
        bytes[8..].copy_from_slice(&low.to_be_bytes());
        crate::signer::hex(&bytes)
    }
}

/// SplitMix64's finalizer: a bijection of `u64` whose outputs look random.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Returned by the service to make hyper drop the connection (after arming a TCP reset).
#[derive(Debug)]
pub(crate) struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for Abort {}

/// What the gateway and the service would answer, before any script is applied.
pub(super) struct Judgement {
    pub(super) status: u16,
    pub(super) error_code: Option<String>,
    pub(super) message: String,
    pub(super) verdict: Verdict,
    pub(super) auth: &'static str,
    pub(super) canonical_request: Option<CanonicalRequest>,
    pub(super) call: Option<ValidCall>,
    /// The answer of an accepted identity request (else the gateway's JSON).
    pub(super) reply: Option<identity::Reply>,
}

impl Judgement {
    pub(super) fn reject(status: u16, code: &str, message: impl Into<String>) -> Self {
        Judgement {
            status,
            error_code: Some(code.to_owned()),
            message: message.into(),
            verdict: Verdict::Rejected,
            auth: "",
            canonical_request: None,
            call: None,
            reply: None,
        }
    }

    pub(super) fn unauthorized(message: impl std::fmt::Display) -> Self {
        Judgement::reject(
            401,
            "APIG.0301",
            format!("Incorrect IAM authentication information: {message}"),
        )
    }
}

/// What became of the request body.
enum BodyRead {
    Complete(Vec<u8>),
    /// Longer than [`MAX_BODY`].
    TooLarge,
    /// Not received in full within the body timeout.
    TimedOut,
    /// Malformed (chunked encoding) or cut short by the client.
    Malformed,
}

async fn read_body(body: Incoming, timeout: Duration) -> BodyRead {
    // A declared length over the limit is refused at once, unread.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return BodyRead::TooLarge;
    }
    match tokio::time::timeout(timeout, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => BodyRead::TimedOut,
        Ok(Ok(collected)) => BodyRead::Complete(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => BodyRead::TooLarge,
        Ok(Err(_)) => BodyRead::Malformed,
    }
}

pub(crate) async fn handle_request(
    request: Request<Incoming>,
    shared: &Shared,
) -> Result<Response<ResponseBody>, Abort> {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = read_body(body, shared.config.limits.body_read_timeout).await;
    let request_id = shared.request_id();
    let (body, refusal) = match body {
        BodyRead::Complete(body) => (body, None),
        BodyRead::TooLarge => (
            Vec::new(),
            Some(Judgement::reject(
                413,
                "APIG.0201",
                "Request entity too large",
            )),
        ),
        BodyRead::TimedOut => (
            Vec::new(),
            Some(Judgement::reject(
                408,
                "APIG.0201",
                "Request timeout: the body did not arrive in time",
            )),
        ),
        BodyRead::Malformed => (
            Vec::new(),
            Some(Judgement::reject(
                400,
                "APIG.0201",
                "Bad request: malformed or incomplete body",
            )),
        ),
    };
    // The connection cannot carry another request after a body that was not read in full.
    let close = refusal.is_some();
    let raw = RawRequest::new(parts.method.as_str(), target, headers, body);

    if raw.raw_path().starts_with("/_emulator/") {
        return Ok(admin(&raw, shared, &request_id));
    }

    // IAM, STS, ECS metadata and pod identity: counted, and scripted on their own queues.
    let endpoint = IdentityEndpoint::route(raw.raw_path());
    let mut action = match endpoint {
        Some(endpoint) => {
            shared.identity.count(endpoint);
            shared.identity.pop_action(endpoint)
        }
        None => shared
            .script
            .lock()
            .map(|mut q| q.pop_front())
            .unwrap_or(None),
    };
    if let Some(Action::Delay(delay)) = action {
        tokio::time::sleep(delay).await;
        action = None;
    }
    let mut judgement = match (refusal, endpoint) {
        (Some(refusal), _) => refusal,
        (None, None) => judge(&raw, shared),
        (None, Some(_)) if action.is_some() => identity::not_judged(),
        (None, Some(endpoint)) => identity::judge(endpoint, &raw, shared, &request_id),
    };

    // The service acts only on the answer it gives: a scripted answer leaves the state alone.
    if action.is_none()
        && let Some(call) = judgement.call.take()
    {
        serve(&call, shared, &request_id, &mut judgement);
    }

    let mut raw = raw;
    let body_len = raw.body.len();
    if let Some(endpoint) = endpoint {
        identity::redact(endpoint, &mut raw);
    }
    if raw.body.len() > LOGGED_BODY_BYTES {
        raw.body.truncate(LOGGED_BODY_BYTES);
        raw.body.shrink_to_fit();
    }
    let mut exchange = Exchange {
        body_len,
        request: raw,
        verdict: judgement.verdict,
        status: judgement.status,
        error_code: judgement.error_code.clone(),
        reason: judgement.message.clone(),
        auth: judgement.auth,
        // Only the log needs it.
        canonical_request: judgement.canonical_request.take(),
        request_id: request_id.clone(),
    };
    let response = match action {
        None => Ok(judged_response(&judgement, &request_id, shared)),
        Some(action) => {
            exchange.verdict = Verdict::Scripted;
            exchange.reason = format!(
                "scripted {action:?} (would have been {}: {})",
                judgement.status, judgement.message
            );
            scripted_response(action, &request_id, shared, &mut exchange).await
        }
    };
    if let Some(hook) = &shared.config.on_exchange {
        hook(&exchange);
    }
    let evicted = shared
        .exchanges
        .lock()
        .map(|mut exchanges| exchanges.push(exchange));
    drop(evicted);
    match response {
        Ok(mut response) if close => {
            response.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            Ok(response)
        }
        other => other,
    }
}

/// The gateway's checks (route, authentication), then the service's (validation).
fn judge(raw: &RawRequest, shared: &Shared) -> Judgement {
    let Some((route, path_params)) = crate::spec::route(&raw.method, raw.raw_path())
        .filter(|(route, _)| service::serves(route.operation))
    else {
        return Judgement::reject(
            404,
            "APIG.0101",
            "The API does not exist or has not been published in the environment",
        );
    };
    let (auth, canonical_request) = match authenticate(raw, shared) {
        Ok(ok) => ok,
        Err(rejected) => return *rejected,
    };
    match validate::validate(raw, route, path_params) {
        Ok(call) => Judgement {
            status: 200,
            error_code: None,
            message: "ok".into(),
            verdict: Verdict::Accepted,
            auth,
            canonical_request,
            call: Some(call),
            reply: None,
        },
        Err(invalid) => Judgement {
            auth,
            canonical_request,
            ..Judgement::reject(400, invalid.error_code, invalid.message)
        },
    }
}

/// The service's answer to a valid call, into `judgement`.
fn serve(call: &ValidCall, shared: &Shared, request_id: &str, judgement: &mut Judgement) {
    let context = service::Context {
        settings: &shared.config.hss,
        now: shared.now(),
        request_id,
    };
    let answer = match shared.state.lock() {
        Ok(mut state) => service::handle(call, &mut state, &context),
        Err(_) => Err(validate::Invalid {
            error_code: "HSS.0004",
            message: "internal error: the state is unavailable".into(),
        }),
    };
    let reply = |body| identity::Reply {
        content_type: "application/json",
        headers: Vec::new(),
        body,
    };
    match answer {
        Ok(Answer::Success) => {}
        Ok(Answer::Empty) => judgement.reply = Some(reply(Vec::new())),
        Ok(Answer::Json(body)) => judgement.reply = Some(reply(body)),
        Err(invalid) => {
            let status = if invalid.error_code == "HSS.0004" {
                500
            } else {
                400
            };
            *judgement = Judgement {
                auth: judgement.auth,
                canonical_request: judgement.canonical_request.take(),
                ..Judgement::reject(status, invalid.error_code, invalid.message)
            };
        }
    }
}

fn deny(message: impl std::fmt::Display) -> Box<Judgement> {
    Box::new(Judgement::unauthorized(message))
}

pub(super) fn authenticate(
    raw: &RawRequest,
    shared: &Shared,
) -> Result<(&'static str, Option<CanonicalRequest>), Box<Judgement>> {
    let config = &shared.config;
    let Some(authorization) = raw.header("authorization") else {
        let Some(token) = raw.header("x-auth-token") else {
            return Err(deny("x-auth-token not found"));
        };
        return match &config.auth_token {
            Some(expected) if expected.expose_secret() == token.trim() => {
                Ok(("X-Auth-Token", None))
            }
            _ => Err(deny("decrypt token fail")),
        };
    };
    let auth = verify::parse_authorization(authorization)
        .ok_or_else(|| deny("verify aksk signature fail, malformed Authorization header"))?;
    // The configured key (borrowed: no copy of its secrets per request), or a temporary one
    // the identity services handed out.
    let temporary;
    let (secret, security_token) = if auth.access_key == config.access_key {
        (&config.secret_key, config.security_token.as_ref())
    } else {
        temporary = shared
            .identity
            .temporary_key(&auth.access_key)
            .ok_or_else(|| deny("Get secretKey failed,ak:******,err:ak not exist"))?;
        if temporary
            .expiry
            .is_some_and(|expiry| expiry <= shared.now())
        {
            return Err(deny(
                "the security token has expired: the temporary access key is no longer valid",
            ));
        }
        (&temporary.secret, temporary.security_token.as_ref())
    };
    let sent_token = raw.header("x-security-token").map(str::trim);
    match (security_token, sent_token) {
        (Some(expected), Some(sent)) if expected.expose_secret() == sent => {
            if !auth.signed_headers.iter().any(|h| h == "x-security-token") {
                return Err(deny(
                    "verify aksk signature fail, x-security-token is not signed",
                ));
            }
        }
        (Some(_), _) => {
            return Err(deny(
                "security token missing or invalid for a temporary access key",
            ));
        }
        (None, Some(_)) => {
            return Err(deny("x-security-token sent with a permanent access key"));
        }
        (None, None) => {}
    }
    let secret = secret.expose_secret().as_bytes();
    match verify::verify_signature_for(raw, &auth, secret, shared.now(), &config.scope) {
        Ok(canonical) => Ok((auth.algorithm.name(), Some(canonical))),
        Err(rejection) => Err(Box::new(Judgement {
            auth: auth.algorithm.name(),
            canonical_request: rejection.canonical_request,
            ..Judgement::unauthorized(rejection.message)
        })),
    }
}

fn base_response(status: u16, request_id: &str, shared: &Shared) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("X-Request-Id", request_id)
        .header("Date", date_header(shared.now()))
}

/// The answer to an accepted call, built directly: the same head and body as
/// [`json_response`] writes for it, without a JSON value or a response builder.
fn accepted_response(request_id: &str, shared: &Shared) -> Response<ResponseBody> {
    const BODY: &str = r#"{"error_code":0,"error_description":"success"}"#;
    let mut response = Response::new(full(BODY));
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    headers.insert(hyper::header::DATE, date_header(shared.now()));
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The HTTP `Date` of `now`, formatted once per second and thread.
fn date_header(now: SystemTime) -> HeaderValue {
    thread_local! {
        static LAST: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
    }
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((at, value)) = &*last
            && *at == secs
        {
            return value.clone();
        }
        let value = HeaderValue::from_str(&httpdate::fmt_http_date(now))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        *last = Some((secs, value.clone()));
        value
    })
}

fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn json_response(
    status: u16,
    body: serde_json::Value,
    request_id: &str,
    shared: &Shared,
) -> Response<ResponseBody> {
    base_response(status, request_id, shared)
        .header("Content-Type", "application/json")
        .body(full(body.to_string()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn judged_response(
    judgement: &Judgement,
    request_id: &str,
    shared: &Shared,
) -> Response<ResponseBody> {
    if let Some(reply) = &judgement.reply {
        let mut builder = base_response(judgement.status, request_id, shared)
            .header("Content-Type", reply.content_type);
        for (name, value) in &reply.headers {
            builder = builder.header(name, value);
        }
        return builder
            .body(full(reply.body.clone()))
            .unwrap_or_else(|_| Response::new(full("")));
    }
    let body = match &judgement.error_code {
        None if judgement.status == 200 => return accepted_response(request_id, shared),
        None => serde_json::json!({"error_code": 0, "error_description": "success"}),
        Some(code) => serde_json::json!({
            "error_code": code,
            "error_msg": judgement.message,
            "request_id": request_id,
        }),
    };
    json_response(judgement.status, body, request_id, shared)
}

async fn scripted_response(
    action: Action,
    request_id: &str,
    shared: &Shared,
    exchange: &mut Exchange,
) -> Result<Response<ResponseBody>, Abort> {
    match action {
        Action::Reply(ScriptedReply {
            status,
            headers,
            body,
            delay,
        }) => {
            tokio::time::sleep(delay).await;
            exchange.status = status;
            let mut builder = base_response(status, request_id, shared);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            Ok(builder
                .body(full(body))
                .unwrap_or_else(|_| Response::new(full(""))))
        }
        Action::Reset => {
            exchange.status = 0;
            Err(Abort)
        }
        Action::TruncatedBody => {
            exchange.status = 200;
            let body = br#"{"error_code":0,"error_descr"#;
            Ok(base_response(200, request_id, shared)
                .header("Content-Type", "application/json")
                .header("Content-Length", (body.len() * 2).to_string())
                .body(BoxBody::new(Truncated::new(Bytes::from_static(body))))
                .unwrap_or_else(|_| Response::new(full(""))))
        }
        // Handled before judging.
        Action::Delay(_) => Ok(judged_response(
            &Judgement::reject(500, "EMULATOR.0001", "delay action reached the responder"),
            request_id,
            shared,
        )),
    }
}

/// A body that yields one chunk, pauses so hyper flushes the head and that chunk, then fails,
/// so hyper cuts the connection short of the declared Content-Length.
struct Truncated {
    chunk: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl Truncated {
    fn new(chunk: Bytes) -> Self {
        Truncated {
            chunk: Some(chunk),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        }
    }
}

impl Body for Truncated {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::other("scripted truncation")))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `GET /_emulator/state`: the per-project state as JSON; `GET /_emulator/identity`: the
/// identity endpoints' call counts.
fn admin(raw: &RawRequest, shared: &Shared, request_id: &str) -> Response<ResponseBody> {
    if raw.method == "GET" && raw.raw_path() == "/_emulator/state" {
        let state = shared.state.lock().map(|s| s.clone()).unwrap_or_default();
        let body = serde_json::to_value(&state).unwrap_or_default();
        return json_response(200, body, request_id, shared);
    }
    if raw.method == "GET" && raw.raw_path() == "/_emulator/identity" {
        let body = serde_json::to_value(shared.identity.calls()).unwrap_or_default();
        return json_response(200, body, request_id, shared);
    }
    json_response(
        404,
        serde_json::json!({"error_code": "APIG.0101", "error_msg": "unknown emulator admin path"}),
        request_id,
        shared,
    )
}
