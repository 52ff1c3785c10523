//! Fault injection: scripted answers and faults, queued by tests (each request to the API pops
//! one action), and how they are answered.

use super::gateway::Exchange;
use super::gateway::Judgement;
use super::server::{Abort, ResponseBody, Shared, base_response, full, judged_response};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::Response;
use hyper::body::{Body, Frame};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

/// What the emulator does with the next API request instead of (or before) answering normally.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Answer with this response, after `delay`. The request is still verified and recorded, but
    /// changes no state.
    Reply(ScriptedReply),
    /// Wait, then handle the request normally (a slow gateway).
    Delay(Duration),
    /// Close the connection with a TCP reset instead of answering.
    Reset,
    /// Send the status line, headers and the first part of the body, then close the connection
    /// before the declared `Content-Length` is reached.
    TruncatedBody,
}

/// A complete scripted response, made by the [`Action`] constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScriptedReply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (an `X-Request-Id` is always added).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Action {
    /// A JSON answer with `status`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Action::Reply(ScriptedReply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        })
    }

    /// A gateway-style error, e.g. `error(503, "APIG.0202", "Backend unavailable")`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Action::json(
            status,
            serde_json::json!({"error_code": code, "error_msg": message}).to_string(),
        )
    }

    /// A 5xx (or any status) with a generic gateway error body.
    pub fn status(status: u16) -> Self {
        Action::error(status, &format!("APIG.{status}"), "scripted failure")
    }

    /// 429 with `Retry-After` in seconds.
    pub fn too_many_requests_after(seconds: u64) -> Self {
        Action::error(
            429,
            "APIG.0308",
            "The throttling threshold has been reached",
        )
        .with_header("Retry-After", seconds.to_string())
    }

    /// 429 with `Retry-After` as an HTTP date.
    pub fn too_many_requests_until(when: SystemTime) -> Self {
        Action::error(
            429,
            "APIG.0308",
            "The throttling threshold has been reached",
        )
        .with_header("Retry-After", httpdate::fmt_http_date(when))
    }

    /// A body that is not JSON, e.g. a proxy's HTML error page.
    pub fn non_json(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Action::Reply(ScriptedReply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        })
    }

    /// Adds a header to a [`Action::Reply`]; other actions are returned unchanged.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Action::Reply(reply) = &mut self {
            reply.headers.push((name.to_owned(), value.into()));
        }
        self
    }

    /// Delays a [`Action::Reply`]; other actions are returned unchanged.
    pub fn after(mut self, delay: Duration) -> Self {
        if let Action::Reply(reply) = &mut self {
            reply.delay = delay;
        }
        self
    }
}

pub(super) async fn scripted_response(
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
