//! What one call of the hand-written client learns from the hooks: how many attempts were
//! made, and failures the generated code has no words for. Carried in a task-local, because
//! progenitor's `exec` hook can only return a `reqwest::Result`.

use crate::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

tokio::task_local! {
    static CALL: std::sync::Arc<CallRecord>;
}

/// The record of one call.
#[derive(Debug, Default)]
pub struct CallRecord {
    /// The request path as the official SDKs encode it, when the caller knows it.
    path: Option<String>,
    attempts: AtomicU32,
    failure: Mutex<Option<Error>>,
}

impl CallRecord {
    /// A record for a call whose request path, encoded as the official SDKs do, is `path`.
    ///
    /// Needed because progenitor's path encoding leaves `\` to the URL parser, which turns it
    /// into `/`; the hand-written client knows the parameters and supplies the real path.
    pub fn with_path(path: String) -> Self {
        CallRecord {
            path: Some(path),
            ..CallRecord::default()
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok()?.take()
    }
}

/// Runs `future` with `record`, returned with its output.
pub async fn scoped<F: Future>(
    record: CallRecord,
    future: F,
) -> (F::Output, std::sync::Arc<CallRecord>) {
    let record = std::sync::Arc::new(record);
    let output = CALL.scope(record.clone(), future).await;
    (output, record)
}

/// The current call's request path, if its caller supplied one.
pub fn path() -> Option<String> {
    CALL.try_with(|record| record.path.clone()).ok().flatten()
}

/// Counts one attempt of the current call (no-op outside [`scoped`]).
pub fn count_attempt() {
    let _ = CALL.try_with(|record| record.attempts.fetch_add(1, Ordering::Relaxed));
}

/// Records why the current call failed (no-op outside [`scoped`]).
pub fn fail(error: Error) {
    let _ = CALL.try_with(|record| {
        if let Ok(mut slot) = record.failure.lock() {
            *slot = Some(error);
        }
    });
}
