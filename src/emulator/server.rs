//! The HTTP side: each request read, judged (`gateway`), answered or scripted (`script`), and
//! logged; the answers' heads and bodies. Connections are `conn`'s.

use super::conn::Limits;
use super::gateway::{self, Exchange, ExchangeLog, Judgement, LOGGED_BODY_BYTES, Verdict};
use super::identity::{self, IdentityEndpoint};
use super::script::Action;
use super::script::scripted_response;
use super::state::State;
use super::verify::{self, RawRequest};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, combinators::BoxBody};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response};
use secrecy::SecretString;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Largest request body the emulator reads (the gateway answers 413 beyond its limit).
const MAX_BODY: usize = 1 << 20;

pub(super) type ResponseBody = BoxBody<Bytes, std::io::Error>;

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
    pub hss: super::service::Settings,
    /// The account's projects, when [`Emulator::projects`](super::Emulator::projects) made one:
    /// then HSS serves those only.
    pub account: Option<super::account::Account>,
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
    /// The gateway's throttling, when [`Emulator::rate_limit`](super::Emulator::rate_limit) set
    /// one.
    pub throttle: Option<super::throttle::Throttle>,
    /// How far [`RunningEmulator::advance_clock`](super::RunningEmulator::advance_clock) moved
    /// the clock, in milliseconds.
    clock_advance_ms: AtomicU64,
    next_request: AtomicU64,
    seed: u128,
}

/// The latest instant an HTTP `Date`, an `X-Sdk-Date` and an expiry can show:
/// 9999-12-31T23:59:59Z.
pub(crate) const LAST_WRITABLE_SECS: u64 = 253_402_300_799;

impl Shared {
    pub fn new(
        config: Config,
        throttle: Option<super::throttle::Throttle>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
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
            throttle,
            clock_advance_ms: AtomicU64::new(0),
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
        let advance = Duration::from_millis(self.clock_advance_ms.load(Ordering::Relaxed));
        let shifted = shifted.checked_add(advance).unwrap_or(shifted);
        let last = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_WRITABLE_SECS);
        shifted.clamp(SystemTime::UNIX_EPOCH, last)
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance_clock(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .clock_advance_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(ms))
            });
    }

    /// The clock in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
        (None, None) => gateway::judge(&raw, shared),
        (None, Some(_)) if action.is_some() => identity::not_judged(),
        (None, Some(endpoint)) => identity::judge(endpoint, &raw, shared, &request_id),
    };

    // The service acts only on the answer it gives: a scripted answer leaves the state alone.
    if action.is_none()
        && let Some(call) = judgement.call.take()
    {
        gateway::serve(&call, shared, &request_id, &mut judgement);
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
        project_id: judgement.project_id.take(),
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

pub(super) fn base_response(
    status: u16,
    request_id: &str,
    shared: &Shared,
) -> hyper::http::response::Builder {
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

pub(super) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
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

pub(super) fn judged_response(
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

/// `GET /_emulator/state`: the per-project state as JSON; `GET /_emulator/calls`: each
/// project's accepted synchronizations (`{"ID": {"create": N, "run": N}}`);
/// `GET /_emulator/identity`: the identity endpoints' call counts.
fn admin(raw: &RawRequest, shared: &Shared, request_id: &str) -> Response<ResponseBody> {
    if raw.method == "GET" && raw.raw_path() == "/_emulator/state" {
        let state = shared.state.lock().map(|s| s.clone()).unwrap_or_default();
        let body = serde_json::to_value(&state).unwrap_or_default();
        return json_response(200, body, request_id, shared);
    }
    if raw.method == "GET" && raw.raw_path() == "/_emulator/calls" {
        let calls = shared
            .state
            .lock()
            .map(|s| s.calls.clone())
            .unwrap_or_default();
        let body = serde_json::to_value(&calls).unwrap_or_default();
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
