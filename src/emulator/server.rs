//! The HTTP side: accept loop, one hyper connection per client, and the gateway's judgement of
//! each request.

use super::script::{Action, ScriptedReply};
use super::state::{Exchange, State, Verdict};
use super::validate::{self, ValidCall};
use super::verify::{self, RawRequest};
use crate::signer::CanonicalRequest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};

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
    /// Added to the system clock (negative: the emulator's clock is behind).
    pub clock_offset_secs: i64,
    pub on_exchange: Option<ExchangeHook>,
}

pub(crate) struct Shared {
    pub config: Config,
    pub state: Mutex<State>,
    pub script: Mutex<VecDeque<Action>>,
    pub exchanges: Mutex<Vec<Exchange>>,
    next_request: AtomicU64,
    seed: u128,
}

impl Shared {
    pub fn new(config: Config) -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Shared {
            config,
            state: Mutex::default(),
            script: Mutex::default(),
            exchanges: Mutex::default(),
            next_request: AtomicU64::new(0),
            seed,
        }
    }

    pub fn now(&self) -> SystemTime {
        crate::client::skew::shift(SystemTime::now(), self.config.clock_offset_secs)
    }

    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let digest = Sha256::digest(format!("{}/{n}", self.seed).as_bytes());
        crate::signer::hex(&digest[..16])
    }
}

/// Serves until the task is aborted; aborting also ends every open connection.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Returned by the service to make hyper drop the connection (after arming a TCP reset).
#[derive(Debug)]
struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for Abort {}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // A second handle on the socket, to set SO_LINGER=0 (a reset on close) when scripted.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let handle = std_stream.try_clone().ok().map(Arc::new);
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let service = hyper::service::service_fn(move |request| {
        let (shared, handle) = (shared.clone(), handle.clone());
        async move {
            let outcome = handle_request(request, &shared).await;
            if outcome.is_err()
                && let Some(handle) = handle
            {
                let _ = socket2::SockRef::from(handle.as_ref()).set_linger(Some(Duration::ZERO));
            }
            outcome
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// What the gateway and the service would answer, before any script is applied.
struct Judgement {
    status: u16,
    error_code: Option<String>,
    message: String,
    verdict: Verdict,
    auth: &'static str,
    canonical_request: Option<CanonicalRequest>,
    call: Option<ValidCall>,
}

impl Judgement {
    fn reject(status: u16, code: &str, message: impl Into<String>) -> Self {
        Judgement {
            status,
            error_code: Some(code.to_owned()),
            message: message.into(),
            verdict: Verdict::Rejected,
            auth: "",
            canonical_request: None,
            call: None,
        }
    }

    fn unauthorized(message: impl std::fmt::Display) -> Self {
        Judgement::reject(
            401,
            "APIG.0301",
            format!("Incorrect IAM authentication information: {message}"),
        )
    }
}

async fn handle_request(
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
    let body = Limited::new(body, MAX_BODY).collect().await;
    let request_id = shared.request_id();
    let (body, too_large) = match body {
        Ok(collected) => (collected.to_bytes().to_vec(), false),
        Err(_) => (Vec::new(), true),
    };
    let raw = RawRequest::new(parts.method.as_str(), target, headers, body);

    if raw.raw_path().starts_with("/_emulator/") {
        return Ok(admin(&raw, shared, &request_id));
    }

    let mut action = shared
        .script
        .lock()
        .map(|mut q| q.pop_front())
        .unwrap_or(None);
    if let Some(Action::Delay(delay)) = action {
        tokio::time::sleep(delay).await;
        action = None;
    }
    let judgement = if too_large {
        Judgement::reject(413, "APIG.0201", "Request entity too large")
    } else {
        judge(&raw, shared)
    };

    let mut exchange = Exchange {
        request: raw,
        verdict: judgement.verdict,
        status: judgement.status,
        error_code: judgement.error_code.clone(),
        reason: judgement.message.clone(),
        auth: judgement.auth,
        canonical_request: judgement.canonical_request.clone(),
        request_id: request_id.clone(),
    };
    let response = match action {
        None => {
            if let Some(call) = &judgement.call {
                let at = crate::signer::sdk_date::format(shared.now()).unwrap_or_default();
                if let Ok(mut state) = shared.state.lock() {
                    state.record_sync(
                        &call.project_id,
                        &call.image_type,
                        at,
                        call.enterprise_project_id.clone(),
                    );
                }
            }
            Ok(judged_response(&judgement, &request_id, shared))
        }
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
    if let Ok(mut exchanges) = shared.exchanges.lock() {
        exchanges.push(exchange);
    }
    response
}

/// The gateway's checks (route, authentication), then the service's (validation).
fn judge(raw: &RawRequest, shared: &Shared) -> Judgement {
    let Some(project_id) = validate::route(raw.raw_path()).filter(|_| raw.method == "POST") else {
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
    match validate::validate(raw, project_id) {
        Ok(call) => Judgement {
            status: 200,
            error_code: None,
            message: "ok".into(),
            verdict: Verdict::Accepted,
            auth,
            canonical_request,
            call: Some(call),
        },
        Err(invalid) => Judgement {
            auth,
            canonical_request,
            ..Judgement::reject(400, invalid.error_code, invalid.message)
        },
    }
}

fn deny(message: impl std::fmt::Display) -> Box<Judgement> {
    Box::new(Judgement::unauthorized(message))
}

fn authenticate(
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
    if auth.access_key != config.access_key {
        return Err(deny("Get secretKey failed,ak:******,err:ak not exist"));
    }
    let sent_token = raw.header("x-security-token").map(str::trim);
    match (&config.security_token, sent_token) {
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
    let secret = config.secret_key.expose_secret().as_bytes();
    match verify::verify_signature(raw, &auth, secret, shared.now()) {
        Ok(canonical) => Ok(("SDK-HMAC-SHA256", Some(canonical))),
        Err(rejection) => Err(Box::new(Judgement {
            canonical_request: rejection.canonical_request,
            ..Judgement::unauthorized(rejection.message)
        })),
    }
}

fn base_response(status: u16, request_id: &str, shared: &Shared) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("X-Request-Id", request_id)
        .header("Date", httpdate::fmt_http_date(shared.now()))
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
    let body = match &judgement.error_code {
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

/// `GET /_emulator/state`: the per-project state as JSON.
fn admin(raw: &RawRequest, shared: &Shared, request_id: &str) -> Response<ResponseBody> {
    if raw.method == "GET" && raw.raw_path() == "/_emulator/state" {
        let state = shared.state.lock().map(|s| s.clone()).unwrap_or_default();
        let body = serde_json::to_value(&state).unwrap_or_default();
        return json_response(200, body, request_id, shared);
    }
    json_response(
        404,
        serde_json::json!({"error_code": "APIG.0101", "error_msg": "unknown emulator admin path"}),
        request_id,
        shared,
    )
}
