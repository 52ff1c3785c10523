//! What the emulator remembers: per-project synchronizations and synchronization tasks, and the
//! latest requests with their verdicts (a bounded log).

use super::verify::RawRequest;
use crate::signer::CanonicalRequest;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

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

/// The most projects the state keeps (each of [`State::projects`] and [`State::tasks`]): any
/// project ID a client signs for makes one, so a new project beyond them replaces another.
pub const MAX_PROJECTS: usize = 1000;
/// The most synchronization tasks kept per project; a new one beyond them drops the oldest.
pub const MAX_TASKS_PER_PROJECT: usize = 1000;

/// Per project: the deprecated call's records per image type (`private_image`,
/// `shared_image`), and the tasks of `CreateImageSynchronizeTask`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct State {
    /// Project ID -> image type -> record.
    pub projects: BTreeMap<String, BTreeMap<String, SyncRecord>>,
    /// Project ID -> its synchronization tasks, oldest first (at most
    /// [`MAX_TASKS_PER_PROJECT`]).
    pub tasks: BTreeMap<String, VecDeque<SyncTask>>,
}

/// A task of `CreateImageSynchronizeTask`. Its progress follows from the emulator's clock:
/// it runs from `begin_time` to `end_time`, then each registry ends finished, or failed with
/// its `failed_reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncTask {
    /// The task's ID (`task_id` of `ListImageScanTask`, path of `ListAssociateRegistries`).
    pub task_id: String,
    /// When it was created, milliseconds since the epoch (emulator clock).
    pub begin_time: i64,
    /// When it ends (or ended), milliseconds since the epoch (emulator clock).
    pub end_time: i64,
    /// Whether it was asked for every registry (`sync_all_registries`).
    pub is_all: bool,
    /// The registries it synchronizes.
    pub registries: Vec<TaskRegistry>,
}

impl SyncTask {
    /// Whether it has ended at `now` (milliseconds since the epoch).
    pub fn finished_at(&self, now: i64) -> bool {
        now >= self.end_time
    }

    /// Its `task_status` at `now`: the percentage done while it runs (0..=99), then 100, or
    /// -3 (error) when every registry failed.
    pub fn status_at(&self, now: i64) -> i64 {
        if !self.finished_at(now) {
            let span = (self.end_time - self.begin_time).max(1);
            return ((now - self.begin_time).max(0).saturating_mul(100) / span).clamp(0, 99);
        }
        let all_failed = !self.registries.is_empty()
            && self.registries.iter().all(|r| r.failed_reason.is_some());
        if all_failed { -3 } else { 100 }
    }
}

/// A registry of a [`SyncTask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskRegistry {
    /// The registry's `id` in `ListRegistry`.
    pub registry_id: String,
    /// Its name.
    pub registry_name: String,
    /// Its type (`SwrPrivate`, `Harbor`, ...).
    pub registry_type: String,
    /// Why it will fail (or failed), when it does.
    pub failed_reason: Option<String>,
}

impl State {
    /// The record of `image_type` in `project_id`, if it was ever synchronized.
    pub fn sync_record(
        &self,
        project_id: &str,
        image_type: crate::types::ImageType,
    ) -> Option<&SyncRecord> {
        self.projects
            .get(project_id)?
            .get(image_type.to_string().as_str())
    }

    /// The tasks of `project_id`, oldest first.
    pub fn tasks(&self, project_id: &str) -> impl DoubleEndedIterator<Item = &SyncTask> {
        self.tasks.get(project_id).into_iter().flatten()
    }

    pub(crate) fn record_sync(
        &mut self,
        project_id: &str,
        image_type: &str,
        at: String,
        enterprise_project_id: Option<String>,
    ) {
        let record = bounded_entry(&mut self.projects, project_id)
            .entry(image_type.to_owned())
            .or_default();
        record.count += 1;
        record.last_synchronized_at = at;
        record.last_enterprise_project_id = enterprise_project_id;
    }

    /// Adds `task` to `project_id`'s tasks, dropping its oldest beyond
    /// [`MAX_TASKS_PER_PROJECT`].
    pub(crate) fn add_task(&mut self, project_id: &str, task: SyncTask) {
        let tasks = bounded_entry(&mut self.tasks, project_id);
        if tasks.len() >= MAX_TASKS_PER_PROJECT {
            tasks.pop_front();
        }
        tasks.push_back(task);
    }
}

/// `map`'s entry for `project_id`; a new project beyond [`MAX_PROJECTS`] first removes the
/// first one in order (which one goes matters less than that the map stays bounded).
fn bounded_entry<'a, V: Default>(map: &'a mut BTreeMap<String, V>, project_id: &str) -> &'a mut V {
    if !map.contains_key(project_id) && map.len() >= MAX_PROJECTS {
        map.pop_first();
    }
    map.entry(project_id.to_owned()).or_default()
}

/// How the emulator judged a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Authenticated and valid; answered 200.
    Accepted,
    /// Refused (401, 400, 404, 408, 413).
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
}

impl Exchange {
    /// One log line: `POST /v5/... -> 200 accepted auth=SDK-HMAC-SHA256 code=- request_id=...: ok`.
    pub fn log_line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Scripted => "scripted",
        };
        let auth = if self.auth.is_empty() { "-" } else { self.auth };
        let code = self.error_code.as_deref().unwrap_or("-");
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
        };
        assert_eq!(
            exchange.log_line(),
            "POST /v5/p/image/synchronize?a=1 -> 401 rejected auth=SDK-HMAC-SM3 code=APIG.0301 \
             request_id=0123abcd: Incorrect IAM authentication information: x"
        );
        exchange.verdict = Verdict::Accepted;
        exchange.status = 200;
        exchange.error_code = None;
        exchange.auth = "";
        exchange.reason = "ok".into();
        assert_eq!(
            exchange.log_line(),
            "POST /v5/p/image/synchronize?a=1 -> 200 accepted auth=- code=- request_id=0123abcd: ok"
        );
    }
}
