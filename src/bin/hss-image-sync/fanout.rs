//! `sync` over many targets (a target: a project in a region): bounded concurrency, one rate
//! limiter shared by every worker (inside the clients), each target's outcome printed as it
//! ends, a summary at the end, `--journal` to continue an interrupted run, Ctrl-C to stop
//! starting new targets. One target failing never stops the others.

use crate::journal::{Journal, Line};
use crate::progress::Progress;
use crate::render;
use crate::status::{EXIT_FAILED, EXIT_GAVE_UP, EXIT_INTERRUPTED, error_json, exit_status};
use futures_util::{FutureExt, StreamExt};
use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
use hss_image_sync::{Error, HssClient, SyncReport, SyncStarted, WaitError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rounds of a target's start when the service throttles it or does not answer (each round is
/// a call with its own retries, paced by the shared limiter, which a throttled answer slows).
const START_ROUNDS: u32 = 6;

/// A project in a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    pub project_id: String,
    /// IAM's name of the project (the region for a region's own project).
    pub project_name: Option<String>,
}

impl Target {
    /// The target's key in the journal and in the summary.
    pub fn key(&self) -> String {
        format!("{}/{}", self.region, self.project_id)
    }

    fn json(&self) -> serde_json::Map<String, Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("region".into(), self.region.clone().into());
        fields.insert("project_id".into(), self.project_id.clone().into());
        if let Some(name) = &self.project_name {
            fields.insert("project_name".into(), name.clone().into());
        }
        // Named as every other command names it: the generated operation's name.
        fields.insert(
            "operation".into(),
            <hss_image_sync::builder::CreateImageSynchronizeTask<'_> as hss_image_sync::Operation>::ID.into(),
        );
        fields
    }
}

/// How long and how often to poll, with `--wait`.
#[derive(Debug, Clone, Copy)]
pub struct WaitSettings {
    pub max_wait: Duration,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

/// A run over targets.
pub struct FanOut {
    /// A client per region (all sharing one rate limiter).
    pub clients: HashMap<String, HssClient>,
    pub body: CreateImageSynchronizeTaskRequestInfo,
    pub concurrency: usize,
    pub wait: Option<WaitSettings>,
    pub journal: Option<Journal>,
    pub progress: Progress,
}

/// How a target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Synced (without `--wait`).
    Synced,
    /// Its task ended and every registry finished.
    Done,
    /// Its task or a registry failed, or a call failed for good.
    Failed,
    /// Waiting gave up while the task ran.
    GaveUp,
    /// An earlier run (the journal) did it.
    Skipped,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Synced => "synced",
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::GaveUp => "gave_up",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A target's result: its outcome and the line printed for it.
struct Ended {
    target: Target,
    outcome: Outcome,
    fields: serde_json::Map<String, Value>,
    /// The exit status of a failed call, for a run whose targets all failed alike.
    error_status: Option<u8>,
    /// What a failed call's error says on stderr (as a plain call explains it), for a run
    /// whose targets all failed alike.
    explanation: Option<String>,
}

impl FanOut {
    /// Runs every target; prints each outcome as it ends and a summary; returns the exit
    /// status.
    pub async fn run(self, targets: Vec<Target>) -> u8 {
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(watch_ctrl_c(stop.clone()));
        let total = targets.len();
        self.progress.start(total);
        let run = Arc::new(self);
        let started = Instant::now();
        let mut ended: Vec<Ended> = Vec::with_capacity(total);
        let mut pending: Vec<Target> = Vec::new();
        let mut results = futures_util::stream::iter(targets)
            .map(|target| {
                let run = run.clone();
                let stop = stop.clone();
                async move {
                    // Checked as the target's turn comes: after Ctrl-C none starts.
                    if stop.load(Ordering::SeqCst) {
                        return Err(target);
                    }
                    // A task of its own, so that targets in flight use every worker thread.
                    let key = target.clone();
                    match tokio::spawn(async move { run.one(target).await }).await {
                        Ok(ended) => Ok(ended),
                        // Only a panic ends a task early; the target is reported as not done.
                        Err(_) => Err(key),
                    }
                }
            })
            .buffer_unordered(run.concurrency.max(1));
        // Outcomes that end together are written together, in one write: none waits for a
        // later one (the buffer is written before waiting), but a fast fan-out does not pay a
        // write to stdout per target.
        let mut lines = String::new();
        loop {
            let next = match results.next().now_or_never() {
                Some(next) => next,
                None => {
                    write_stdout(&mut lines);
                    results.next().await
                }
            };
            let Some(result) = next else { break };
            match result {
                Ok(done) => {
                    run.progress.target_done(&done.target.key());
                    let mut line = done.target.json();
                    line.extend(done.fields.clone());
                    lines.push_str(&render::line(&Value::Object(line)));
                    lines.push('\n');
                    ended.push(done);
                }
                Err(not_started) => pending.push(not_started),
            }
        }
        write_stdout(&mut lines);
        watcher.abort();
        run.progress.finish();
        // A run of one target stands for a plain call (`sync --wait`, `--journal`), and a run
        // whose every target failed alike (a TLS mismatch, keys refused everywhere) failed as
        // one: its call is explained on stderr as a plain call's, the bars now cleared.
        if let Some(first) = failed_alike(&ended, total)
            && let Some(explanation) = &first.explanation
        {
            eprint!("{explanation}");
        }
        let status = run_status(&ended, pending.len(), total);
        print_summary(&ended, &pending, started.elapsed(), status);
        status
    }

    /// One target, start to end.
    async fn one(&self, target: Target) -> Ended {
        let began = Instant::now();
        let mut ended = self.sync_and_wait(&target).await;
        ended.fields.insert(
            "duration_s".into(),
            json!((began.elapsed().as_secs_f64() * 10.0).round() / 10.0),
        );
        ended
    }

    async fn sync_and_wait(&self, target: &Target) -> Ended {
        let key = target.key();
        let Some(client) = self.clients.get(&target.region) else {
            return failed_call(
                target,
                &Error::InvalidInput {
                    field: "region",
                    rule: format!("no client for region {}", target.region),
                },
                None,
            );
        };
        let client = client.for_project(&target.project_id);
        let prior = self
            .journal
            .as_ref()
            .map(|j| j.prior(&key))
            .unwrap_or_default();
        if let Some(ok) = prior.finished {
            return ended(
                target,
                Outcome::Skipped,
                json!({"outcome": "skipped", "reason": "finished in an earlier run", "earlier_ok": ok}),
            );
        }
        let started = match (prior.synced, self.wait) {
            (Some(_), None) => {
                return ended(
                    target,
                    Outcome::Skipped,
                    json!({"outcome": "skipped", "reason": "synced in an earlier run"}),
                );
            }
            (Some(not_before_ms), Some(_)) => {
                SyncStarted::new(&target.project_id, from_millis(not_before_ms))
            }
            (None, _) => match self.start(&client).await {
                Ok(started) => {
                    if let Some(journal) = &self.journal
                        && let Err(e) = journal.append(&Line::Synced {
                            target: key.clone(),
                            not_before_ms: millis(started.not_before),
                            request_id: started.request_id.clone(),
                        })
                    {
                        eprintln!("warning: {e}");
                    }
                    started
                }
                Err(error) => {
                    return failed_call(target, &error, Some(client.credential_source()));
                }
            },
        };
        let Some(wait) = self.wait else {
            return ended(
                target,
                Outcome::Synced,
                json!({"outcome": "synced", "request_id": started.request_id}),
            );
        };
        let progress = self.progress.clone();
        let progress_key = key.clone();
        let waited = client
            .wait_for_sync(&started)
            .min_delay(wait.min_delay)
            .max_delay(wait.max_delay)
            .on_progress(move |p| progress.update(&progress_key, p))
            .wait(wait.max_wait)
            .await;
        let (outcome, fields) = match &waited {
            Ok(report) => (Outcome::Done, report_fields(report, "done")),
            Err(WaitError::Failed(report)) => (Outcome::Failed, report_fields(report, "failed")),
            Err(WaitError::GaveUp { waited, last }) => (
                Outcome::GaveUp,
                json!({
                    "outcome": "gave_up",
                    "waited_s": waited.as_secs(),
                    "task_id": last.as_ref().and_then(|p| p.task_id.clone()),
                    "percent": last.as_ref().map(|p| p.percent),
                    "registries_done": last.as_ref().map(|p| p.registries_done),
                    "registries_total": last.as_ref().map(|p| p.registries_total),
                }),
            ),
            Err(WaitError::Call(error)) => {
                return failed_call(target, error, Some(client.credential_source()));
            }
            Err(other) => (
                Outcome::Failed,
                json!({"outcome": "failed", "error": {"message": other.to_string()}}),
            ),
        };
        if let (Some(journal), Outcome::Done | Outcome::Failed) = (&self.journal, outcome)
            && let Err(e) = journal.append(&Line::Finished {
                target: key,
                ok: outcome == Outcome::Done,
                task_id: fields["task_id"].as_str().map(str::to_owned),
            })
        {
            eprintln!("warning: {e}");
        }
        ended(target, outcome, fields)
    }

    /// Starts the target's synchronization, again while the service throttles or does not
    /// answer (the shared limiter slows every worker down meanwhile).
    async fn start(&self, client: &HssClient) -> Result<SyncStarted, Error> {
        let mut round = 1;
        loop {
            match client.start_sync(self.body.clone()).await {
                Err(e) if e.is_retryable() && round < START_ROUNDS => {
                    tracing::warn!("starting again after {e}");
                    round += 1;
                }
                other => return other,
            }
        }
    }
}

fn ended(target: &Target, outcome: Outcome, fields: Value) -> Ended {
    Ended {
        target: target.clone(),
        outcome,
        // Every outcome is written as a JSON object.
        fields: fields.as_object().cloned().unwrap_or_default(),
        error_status: None,
        explanation: None,
    }
}

fn failed_call(target: &Target, error: &Error, credential_source: Option<&str>) -> Ended {
    let status = exit_status(error);
    let mut done = ended(
        target,
        Outcome::Failed,
        json!({"outcome": "failed", "error": error_json(error)}),
    );
    done.error_status = Some(status);
    done.explanation = Some(crate::connection::explanation(error, credential_source));
    done
}

fn report_fields(report: &SyncReport, outcome: &str) -> Value {
    let ok = report
        .registries
        .iter()
        .filter(|r| r.sync_status.as_deref() == Some("finished"))
        .count();
    let failures = report.failures();
    json!({
        "outcome": outcome,
        "task_id": report.task.task_id,
        "task_status": report.task.task_status,
        "registries_ok": ok,
        "registries_failed": failures.iter().filter(|f| f.registry_id.is_some()).count(),
        "failures": failures,
    })
}

/// 0 when every target succeeded (or was done before); [`EXIT_FAILED`] if any failed;
/// [`EXIT_GAVE_UP`] if any wait gave up; [`EXIT_INTERRUPTED`] if Ctrl-C left targets not
/// started. A run whose every target's call failed with one status (a run of one target, say)
/// exits as that error does (1, 2 or 3).
fn run_status(ended: &[Ended], pending: usize, total: usize) -> u8 {
    if let Some(status) = failed_alike(ended, total).and_then(|first| first.error_status) {
        return status;
    }
    let failed: Vec<&Ended> = ended
        .iter()
        .filter(|e| e.outcome == Outcome::Failed)
        .collect();
    if !failed.is_empty() {
        EXIT_FAILED
    } else if ended.iter().any(|e| e.outcome == Outcome::GaveUp) {
        EXIT_GAVE_UP
    } else if pending > 0 {
        EXIT_INTERRUPTED
    } else {
        0
    }
}

/// The first target, when every one of the run's `total` targets ended with a failed call of
/// the same exit status: the run then failed as one call (its status, e.g. 2 for a
/// configuration mistake, says more than 4).
fn failed_alike(ended: &[Ended], total: usize) -> Option<&Ended> {
    let first = ended.first()?;
    let status = first.error_status?;
    let alike = ended.len() == total
        && ended
            .iter()
            .all(|e| e.outcome == Outcome::Failed && e.error_status == Some(status));
    alike.then_some(first)
}

/// The summary: a row per target (target, outcome, task, registries ok/failed, duration) and
/// the counts; on stdout in the run's format (JSON: one object).
fn print_summary(ended: &[Ended], pending: &[Target], elapsed: Duration, status: u8) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in ended {
        *counts.entry(e.outcome.name()).or_default() += 1;
    }
    let rows: Vec<Value> = ended
        .iter()
        .map(|e| {
            json!({
                "target": e.target.key(),
                "outcome": e.outcome.name(),
                "task_id": e.fields.get("task_id").cloned().unwrap_or(Value::Null),
                "registries_ok": e.fields.get("registries_ok").cloned().unwrap_or(Value::Null),
                "registries_failed": e.fields.get("registries_failed").cloned().unwrap_or(Value::Null),
                "duration_s": e.fields.get("duration_s").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let pending_keys: Vec<String> = pending.iter().map(Target::key).collect();
    if ended.len() + pending.len() <= 1 {
        // One target: its line is the result.
        return;
    }
    match render::format() {
        render::Format::Json => render::print_line(&json!({
            "summary": {
                "targets": ended.len() + pending.len(),
                "outcomes": counts,
                "pending": pending_keys,
                "duration_s": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                "exit_status": status,
            }
        })),
        _ => {
            render::print(&Value::Array(rows));
            let mut line = format!(
                "{} targets in {} s:",
                ended.len() + pending.len(),
                elapsed.as_secs()
            );
            for name in ["done", "synced", "skipped", "failed", "gave_up"] {
                if let Some(n) = counts.get(name) {
                    line.push_str(&format!(" {n} {name}"));
                }
            }
            if !pending.is_empty() {
                line.push_str(&format!(
                    "; {} not started (interrupted): {}",
                    pending.len(),
                    pending_keys.join(", ")
                ));
            }
            println!("{line}");
        }
    }
}

/// Writes `lines` to stdout and empties it. A failed write (a closed pipe) is not the fan-out's
/// failure: its targets go on, and its journal and exit status still say how they went.
fn write_stdout(lines: &mut String) {
    use std::io::Write;
    if lines.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(lines.as_bytes());
    let _ = stdout.flush();
    lines.clear();
}

/// On the first Ctrl-C no new target starts; on the second the run ends at once.
async fn watch_ctrl_c(stop: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    stop.store(true, Ordering::SeqCst);
    eprintln!(
        "interrupted: no new targets start; those in flight finish (Ctrl-C again to quit now)"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    }
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
