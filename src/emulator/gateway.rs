//! The gateway: what it decides about a request before the service sees it (route,
//! authentication, then the service's validation and answer), and the bounded log of every
//! exchange with its verdict.

use super::identity;
use super::server::Shared;
use super::service::{self, Answer};
use super::validate::{self, ValidCall};
use super::verify::{self, RawRequest};
use crate::signer::CanonicalRequest;
use secrecy::ExposeSecret;
use serde::Serialize;
use std::collections::VecDeque;

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
    /// The `project_id` of an HSS call's path, once routed.
    pub(super) project_id: Option<String>,
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
            project_id: None,
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

/// The gateway's checks (route, authentication, throttling), then the service's (the project,
/// validation).
pub(super) fn judge(raw: &RawRequest, shared: &Shared) -> Judgement {
    let Some((route, path_params)) = crate::spec::route(&raw.method, raw.raw_path())
        .filter(|(route, _)| service::serves(route.operation))
    else {
        return Judgement::reject(
            404,
            "APIG.0101",
            "The API does not exist or has not been published in the environment",
        );
    };
    let project_id = path_params
        .iter()
        .find(|(name, _)| *name == "project_id")
        .map(|(_, value)| value.clone());
    let mut judgement = judge_route(raw, shared, route, path_params, project_id.as_deref());
    judgement.project_id = project_id;
    judgement
}

fn judge_route(
    raw: &RawRequest,
    shared: &Shared,
    route: &'static crate::spec::OperationPath,
    path_params: Vec<(&'static str, String)>,
    project_id: Option<&str>,
) -> Judgement {
    let (auth, canonical_request) = match authenticate(raw, shared) {
        Ok(ok) => ok,
        Err(rejected) => return *rejected,
    };
    let refused = |(status, code, message): (u16, &str, String)| Judgement {
        auth,
        canonical_request: canonical_request.clone(),
        ..Judgement::reject(status, code, message)
    };
    if let Some(throttle) = &shared.throttle
        && !throttle.admit(&caller(raw), route.operation, shared.now_ms())
    {
        return refused((
            429,
            THROTTLED,
            format!(
                "The throttling threshold has been reached: policy user over ratelimit, {}",
                throttle.describe()
            ),
        ));
    }
    if let Some(refusal) = project_id.and_then(|p| service::refuse_project(p, shared)) {
        return refused(refusal);
    }
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
            project_id: None,
        },
        Err(invalid) => Judgement {
            auth,
            canonical_request,
            ..Judgement::reject(400, invalid.error_code, invalid.message)
        },
    }
}

/// The gateway's throttling `error_code` (with 429).
pub(super) const THROTTLED: &str = "APIG.0308";

/// Who a throttled call is counted for: its access key, or all IAM-token calls together (the
/// emulator accepts one token).
fn caller(raw: &RawRequest) -> String {
    raw.header("authorization")
        .and_then(verify::parse_authorization)
        .map_or_else(|| "X-Auth-Token".to_owned(), |auth| auth.access_key)
}

/// The service's answer to a valid call, into `judgement`.
pub(super) fn serve(
    call: &ValidCall,
    shared: &Shared,
    request_id: &str,
    judgement: &mut Judgement,
) {
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
                project_id: judgement.project_id.take(),
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

/// How the emulator judged a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Authenticated and valid; answered 200.
    Accepted,
    /// Refused (400, 401, 403, 404, 408, 413, 429).
    Rejected,
    /// Answered from the script (faults, queued responses).
    Scripted,
}

/// One request the emulator received, and what it did with it.
///
/// Its `Debug` never shows a token: the request masks the values of `Authorization`,
/// `X-Auth-Token` and `X-Security-Token`, and the canonical request masks signed tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Exchange {
    /// The request as it arrived, except that its body is cut to the first
    /// [`LOGGED_BODY_BYTES`] bytes in the log ([`body_len`](Self::body_len) has the full
    /// length). The verdict was reached on the whole body.
    pub request: RawRequest,
    /// The length of the request body as received.
    pub body_len: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// The status answered (0 when the connection was reset or cut).
    pub status: u16,
    /// The `error_code` answered, if any.
    pub error_code: Option<String>,
    /// Why, in words (the signature check's or validation's message, or "ok").
    pub reason: String,
    /// How the request authenticated, or tried to: the signing algorithm named in its
    /// `Authorization` (`SDK-HMAC-SHA256`, `SDK-HMAC-SM3`, `V11-HMAC-SHA256`,
    /// `SDK-ECDSA-P256-SHA256`, `SDK-SM2-SM3`; see [`Algorithm::name`]) once its signature was
    /// checked, accepted or not; `X-Auth-Token`; or empty (refused before that).
    ///
    /// [`Algorithm::name`]: crate::signer::Algorithm::name
    pub auth: &'static str,
    /// The canonical request the emulator computed, when it checked a signature. Print it
    /// (`Display`) to see it with signed tokens masked; `as_str` gives the exact text.
    pub canonical_request: Option<CanonicalRequest>,
    /// The `X-Request-Id` answered.
    pub request_id: String,
    /// The project of an HSS call (its path's `project_id`, decoded), once routed; `None` for
    /// identity requests and unknown paths.
    pub project_id: Option<String>,
}

impl Exchange {
    /// One log line: `POST /v5/... -> 200 accepted auth=SDK-HMAC-SHA256 code=- project=... request_id=...: ok`
    /// (`project=-` when no project was routed).
    pub fn log_line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Scripted => "scripted",
        };
        let auth = if self.auth.is_empty() { "-" } else { self.auth };
        let code = self.error_code.as_deref().unwrap_or("-");
        let project = self.project_id.as_deref().unwrap_or("-");
        // Pieces pushed in turn: one allocation, none of `format!`'s machinery, for a line
        // written at every request.
        let status = self.status.to_string();
        let pieces = [
            self.request.method.as_str(),
            " ",
            self.request.target.as_str(),
            " -> ",
            status.as_str(),
            " ",
            verdict,
            " auth=",
            auth,
            " code=",
            code,
            " project=",
            project,
            " request_id=",
            self.request_id.as_str(),
            ": ",
            self.reason.as_str(),
        ];
        let mut line = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
        for piece in pieces {
            line.push_str(piece);
        }
        line
    }
}

/// The request body bytes kept per exchange in the log.
pub const LOGGED_BODY_BYTES: usize = 4096;
/// Exchanges kept in the log by default (the latest ones).
pub const DEFAULT_LOGGED_EXCHANGES: usize = 10_000;
/// The log's memory budget: the oldest exchanges go first once their estimated size exceeds it.
pub const LOG_BUDGET_BYTES: usize = 64 << 20;

/// The latest exchanges, bounded in number and in memory.
#[derive(Debug)]
pub(crate) struct ExchangeLog {
    entries: VecDeque<(Exchange, usize)>,
    bytes: usize,
    max_entries: usize,
}

impl ExchangeLog {
    pub fn new(max_entries: usize) -> Self {
        ExchangeLog {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
        }
    }

    /// Adds `exchange` (its body already cut) and returns the oldest ones it pushed out beyond
    /// the limits, for the caller to drop once it has released the log's lock (freeing an
    /// exchange's many small buffers under the lock held up every other request).
    #[must_use = "drop the evicted exchanges after releasing the lock"]
    pub fn push(&mut self, exchange: Exchange) -> Vec<Exchange> {
        let mut evicted = Vec::new();
        if self.max_entries == 0 {
            evicted.push(exchange);
            return evicted;
        }
        let size = estimated_size(&exchange);
        while let Some((_, oldest)) = self.entries.front()
            && (self.entries.len() >= self.max_entries
                || self.bytes.saturating_add(size) > LOG_BUDGET_BYTES)
        {
            self.bytes -= oldest;
            evicted.extend(self.entries.pop_front().map(|(e, _)| e));
        }
        self.bytes += size;
        self.entries.push_back((exchange, size));
        evicted
    }

    pub fn to_vec(&self) -> Vec<Exchange> {
        self.entries.iter().map(|(e, _)| e.clone()).collect()
    }
}

/// Roughly the heap bytes an exchange holds.
fn estimated_size(exchange: &Exchange) -> usize {
    let request = &exchange.request;
    let headers: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 48)
        .sum();
    std::mem::size_of::<Exchange>()
        + request.method.len()
        + request.target.len()
        + headers
        + request.body.len()
        + exchange.error_code.as_ref().map_or(0, String::len)
        + exchange.reason.len()
        + exchange
            .canonical_request
            .as_ref()
            .map_or(0, |c| c.as_str().len())
        + exchange.request_id.len()
        + exchange.project_id.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::verify::RawRequest;

    #[test]
    fn a_log_line_names_the_request_the_verdict_and_why() {
        let mut exchange = Exchange {
            request: RawRequest::new("POST", "/v5/p/image/synchronize?a=1", Vec::new(), ""),
            body_len: 0,
            verdict: Verdict::Rejected,
            status: 401,
            error_code: Some("APIG.0301".into()),
            reason: "Incorrect IAM authentication information: x".into(),
            auth: "SDK-HMAC-SM3",
            canonical_request: None,
            request_id: "0123abcd".into(),
            project_id: None,
        };
        assert_eq!(
            exchange.log_line(),
            "POST /v5/p/image/synchronize?a=1 -> 401 rejected auth=SDK-HMAC-SM3 code=APIG.0301 \
             project=- request_id=0123abcd: Incorrect IAM authentication information: x"
        );
        exchange.verdict = Verdict::Accepted;
        exchange.status = 200;
        exchange.error_code = None;
        exchange.auth = "";
        exchange.reason = "ok".into();
        exchange.project_id = Some("p".into());
        assert_eq!(
            exchange.log_line(),
            "POST /v5/p/image/synchronize?a=1 -> 200 accepted auth=- code=- project=p \
             request_id=0123abcd: ok"
        );
    }
}
