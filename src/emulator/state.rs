//! What the emulator remembers: per-project synchronizations and every request with its verdict.

use super::verify::RawRequest;
use crate::signer::CanonicalRequest;
use serde::Serialize;
use std::collections::BTreeMap;

/// Synchronizations of one image type in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncRecord {
    /// How many times it was synchronized.
    pub count: u64,
    /// When it was last synchronized, `YYYYMMDDTHHMMSSZ` (emulator clock).
    pub last_synchronized_at: String,
    /// The enterprise project of the last synchronization, if one was sent.
    pub last_enterprise_project_id: Option<String>,
}

/// Per project, per image type (`private_image`, `shared_image`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct State {
    /// Project ID -> image type -> record.
    pub projects: BTreeMap<String, BTreeMap<String, SyncRecord>>,
}

impl State {
    /// The record of `image_type` in `project_id`, if it was ever synchronized.
    pub fn sync_record(&self, project_id: &str, image_type: &str) -> Option<&SyncRecord> {
        self.projects.get(project_id)?.get(image_type)
    }

    pub(crate) fn record_sync(
        &mut self,
        project_id: &str,
        image_type: &str,
        at: String,
        enterprise_project_id: Option<String>,
    ) {
        let record = self
            .projects
            .entry(project_id.to_owned())
            .or_default()
            .entry(image_type.to_owned())
            .or_default();
        record.count += 1;
        record.last_synchronized_at = at;
        record.last_enterprise_project_id = enterprise_project_id;
    }
}

/// How the emulator judged a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Authenticated and valid; answered 200.
    Accepted,
    /// Refused (401, 400, 404, 413).
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
    /// The request as it arrived.
    pub request: RawRequest,
    /// The verdict.
    pub verdict: Verdict,
    /// The status answered (0 when the connection was reset or cut).
    pub status: u16,
    /// The `error_code` answered, if any.
    pub error_code: Option<String>,
    /// Why, in words (the signature check's or validation's message, or "ok").
    pub reason: String,
    /// How the request authenticated: `SDK-HMAC-SHA256`, `X-Auth-Token`, or empty.
    pub auth: &'static str,
    /// The canonical request the emulator computed, when it checked a signature. Print it
    /// (`Display`) to see it with signed tokens masked; `as_str` gives the exact text.
    pub canonical_request: Option<CanonicalRequest>,
    /// The `X-Request-Id` answered.
    pub request_id: String,
}

impl Exchange {
    /// One log line: `POST /v5/... -> 200 accepted (SDK-HMAC-SHA256) ok`.
    pub fn log_line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Scripted => "scripted",
        };
        let auth = if self.auth.is_empty() { "-" } else { self.auth };
        let code = self.error_code.as_deref().unwrap_or("-");
        format!(
            "{} {} -> {} {verdict} auth={auth} code={code} request_id={}: {}",
            self.request.method, self.request.target, self.status, self.request_id, self.reason
        )
    }
}
