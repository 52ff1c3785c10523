//! Waiting until HSS has synchronized: [`HssClient::start_sync`] starts a synchronization and
//! notes when, [`HssClient::wait_for_sync`] finds the task it started and polls it until it
//! ends, in the manner of aws-sdk-rust's `wait_until_…` waiters.
//!
//! `CreateImageSynchronizeTask` answers with no task ID. The task it started is the newest
//! `manualSync` task of `ListImageScanTask` whose `begin_time` is at or after the call, read on
//! the server's clock: the answer's `Date`, less the call's duration, so a local clock that is
//! off does not matter (without a `Date`, the local clock less an allowance).
//!
//! Each poll asks `ListImageScanTask` for the task and `ListAssociateRegistries` for its
//! registries: two APIs, each at most once per poll. Polls start at the minimum delay and back
//! off to the maximum with jitter, never past the time left; by default no more often than HSS's
//! budget of 5 calls a minute per API allows. Every call also goes through the client's
//! [`RateLimiter`](super::RateLimiter) when it has one (shared by a fan-out), else through the
//! waiter's own at the documented budget. A throttled poll (429) or one that may heal (5xx, no
//! answer) doubles the delay and the waiting goes on.

use super::HssClient;
use super::rate::RateLimiter;
use crate::error::Error;
use crate::generated::types::{
    AssociateRegistry, CreateImageSynchronizeTaskRequestInfo, ImageScanTaskInfo, TaskKind, TaskType,
};
use futures_util::TryStreamExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// How far before the local clock's start of the call a task may begin and still count as the
/// one started, when the answer had no `Date`.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(60);

/// A longer wait is taken as this long (and an instant that far ahead always exists).
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);
/// `task_status` of a task that ended well.
const TASK_DONE: i64 = 100;

/// A synchronization started by [`HssClient::start_sync`]: where, and from when its task is
/// looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncStarted {
    /// The project the task runs in.
    pub project_id: String,
    /// The earliest `begin_time` the task can have (on the server's clock when known).
    pub not_before: SystemTime,
    /// The `X-Request-Id` of `CreateImageSynchronizeTask`'s answer.
    pub request_id: Option<String>,
}

impl SyncStarted {
    /// A started synchronization, for waiting on a task started elsewhere, or for tests.
    pub fn new(project_id: impl Into<String>, not_before: SystemTime) -> Self {
        SyncStarted {
            project_id: project_id.into(),
            not_before,
            request_id: None,
        }
    }
}

/// Where a synchronization is, reported after every poll.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SyncProgress {
    /// The task, once found.
    pub task_id: Option<String>,
    /// `task_status` while it runs: 0 to 99 percent (100 when done).
    pub percent: u8,
    /// Registries that ended, finished or failed.
    pub registries_done: u64,
    /// Registries of the task (0 until HSS lists them).
    pub registries_total: u64,
    /// Registries that failed so far.
    pub registries_failed: u64,
    /// Since the wait began.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Polls made, this one included.
    pub polls: u32,
}

/// A task that ended, with its registries.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// The project of the task.
    pub project_id: String,
    /// The task as `ListImageScanTask` last listed it.
    pub task: ImageScanTaskInfo,
    /// Its registries and how each went.
    pub registries: Vec<AssociateRegistry>,
    /// Since the wait began.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Polls made.
    pub polls: u32,
}

/// Something that failed in a synchronization: a registry, or the task itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SyncFailure {
    /// The registry's ID; `None` for the task itself.
    pub registry_id: Option<String>,
    /// The registry's name, or the task's state (`terminated`, `timed out`, `error`).
    pub name: String,
    /// The reason HSS gave, if any.
    pub reason: Option<String>,
}

impl SyncReport {
    /// A report, for tests of code that takes one.
    pub fn new(
        project_id: impl Into<String>,
        task: ImageScanTaskInfo,
        registries: Vec<AssociateRegistry>,
    ) -> Self {
        SyncReport {
            project_id: project_id.into(),
            task,
            registries,
            elapsed: Duration::ZERO,
            polls: 0,
        }
    }

    /// What failed: the task if it ended in −1 (terminated), −2 (timed out) or −3 (error),
    /// then each registry whose `sync_status` is `failed`, each with its reason.
    pub fn failures(&self) -> Vec<SyncFailure> {
        let task_state = match self.task.task_status {
            Some(-1) => Some("terminated"),
            Some(-2) => Some("timed out"),
            Some(status) if status < 0 => Some("error"),
            _ => None,
        };
        let task = task_state.map(|state| SyncFailure {
            registry_id: None,
            name: format!("task {state}"),
            reason: self.task.failed_reason.clone(),
        });
        let registries = self
            .registries
            .iter()
            .filter(|r| r.sync_status.as_deref() == Some("failed"))
            .map(|r| SyncFailure {
                registry_id: r.registry_id.clone(),
                name: r
                    .registry_name
                    .clone()
                    .or_else(|| r.registry_id.clone())
                    .unwrap_or_default(),
                reason: r.failed_reason.clone(),
            });
        task.into_iter().chain(registries).collect()
    }

    /// Whether the task and every registry ended well.
    pub fn succeeded(&self) -> bool {
        self.task.task_status == Some(TASK_DONE) && self.failures().is_empty()
    }
}

/// Why [`SyncWaiter::wait`] did not end in success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The task, or one of its registries, failed; each failure is named in the report.
    #[error("the synchronization failed: {}", describe(.0))]
    Failed(Box<SyncReport>),
    /// The time to wait ran out while the task still ran (or before it appeared).
    #[error("gave up after {:.0} s: {}", .waited.as_secs_f64(), gave_up(.last))]
    GaveUp {
        /// How long was waited.
        waited: Duration,
        /// The last progress seen, if any poll answered.
        last: Option<SyncProgress>,
    },
    /// A poll failed for good (refused, or invalid): retrying would not help.
    #[error(transparent)]
    Call(#[from] Error),
}

fn describe(report: &SyncReport) -> String {
    let failures = report.failures();
    let shown: Vec<String> = failures
        .iter()
        .take(5)
        .map(|f| match &f.reason {
            Some(reason) => format!("{}: {reason}", f.name),
            None => f.name.clone(),
        })
        .collect();
    let more = failures.len().saturating_sub(shown.len());
    let mut text = shown.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

fn gave_up(last: &Option<SyncProgress>) -> String {
    match last {
        None => "no answer yet".into(),
        Some(p) if p.task_id.is_none() => "the task has not appeared".into(),
        Some(p) => format!(
            "the task still runs ({}%, {} of {} registries done)",
            p.percent, p.registries_done, p.registries_total
        ),
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

impl HssClient {
    /// Starts synchronizing the image lists of `registries` (`CreateImageSynchronizeTask`, in
    /// the client's project), and notes from when its task is to be looked for; hand the
    /// result to [`wait_for_sync`](Self::wait_for_sync).
    pub async fn start_sync(
        &self,
        registries: CreateImageSynchronizeTaskRequestInfo,
    ) -> Result<SyncStarted, Error> {
        let project_id = self.default_project_id().await?;
        let local_start = self.hooks().signing_time();
        let started = Instant::now();
        let request = self
            .operations()
            .create_image_synchronize_task()
            .body(registries);
        let request = super::Operation::in_project(
            request,
            &project_id,
            self.enterprise_project_id.as_deref(),
        );
        let answer = self.send(request).await?;
        // The task began after the request arrived: no earlier than the answer's `Date`
        // (whole seconds) less the call's duration.
        let not_before = match answer.server_date {
            Some(date) => date - (started.elapsed() + Duration::from_secs(1)),
            None => local_start - CLOCK_ALLOWANCE,
        };
        Ok(SyncStarted {
            project_id,
            not_before,
            request_id: answer.request_id,
        })
    }

    /// A waiter for the task `started` began; [`SyncWaiter::wait`] runs it.
    ///
    /// ```no_run
    /// use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
    /// use std::time::Duration;
    ///
    /// # async fn run(client: hss_image_sync::HssClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let every_registry = CreateImageSynchronizeTaskRequestInfo {
    ///     sync_all_registries: true,
    ///     registry_info: vec![],
    /// };
    /// let started = client.start_sync(every_registry).await?;
    /// let report = client
    ///     .wait_for_sync(&started)
    ///     .on_progress(|p| eprintln!("{}% ({} of {} registries)", p.percent, p.registries_done, p.registries_total))
    ///     .wait(Duration::from_secs(15 * 60))
    ///     .await?;
    /// println!("task {:?} done", report.task.task_id);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_for_sync<'a>(&'a self, started: &SyncStarted) -> SyncWaiter<'a> {
        SyncWaiter {
            client: self,
            started: started.clone(),
            min_delay: SyncWaiter::DEFAULT_MIN_DELAY,
            max_delay: SyncWaiter::DEFAULT_MAX_DELAY,
            on_progress: None,
        }
    }
}

type ProgressHook<'a> = Box<dyn FnMut(&SyncProgress) + Send + 'a>;

/// Polls a synchronization task until it ends; made by [`HssClient::wait_for_sync`].
#[must_use = "a waiter does nothing until `wait` is awaited"]
pub struct SyncWaiter<'a> {
    client: &'a HssClient,
    started: SyncStarted,
    min_delay: Duration,
    max_delay: Duration,
    on_progress: Option<ProgressHook<'a>>,
}

impl std::fmt::Debug for SyncWaiter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncWaiter")
            .field("started", &self.started)
            .field("min_delay", &self.min_delay)
            .field("max_delay", &self.max_delay)
            .finish_non_exhaustive()
    }
}

impl<'a> SyncWaiter<'a> {
    /// The shortest delay between two polls by default: HSS's budget of 5 calls a minute per
    /// API.
    pub const DEFAULT_MIN_DELAY: Duration =
        Duration::from_secs(60 / RateLimiter::DOCUMENTED_CALLS_PER_MINUTE as u64);
    /// The longest delay between two polls by default.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(120);

    /// The shortest delay between polls (default [`DEFAULT_MIN_DELAY`](Self::DEFAULT_MIN_DELAY), 12 s). A shorter one
    /// spends more of HSS's budget, shared by everything the user calls.
    pub fn min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// The longest delay between polls (default [`DEFAULT_MAX_DELAY`](Self::DEFAULT_MAX_DELAY)).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Called after every poll with where the synchronization is.
    pub fn on_progress(mut self, hook: impl FnMut(&SyncProgress) + Send + 'a) -> Self {
        self.on_progress = Some(Box::new(hook));
        self
    }

    /// Polls until the task ends or `max_wait` (at most a year) runs out: `Ok` when the task and every
    /// registry finished, else a [`WaitError`] saying which failed, or that waiting gave up.
    pub async fn wait(self, max_wait: Duration) -> Result<SyncReport, WaitError> {
        // Taken apart, so that the future holds no shared borrow of the progress hook (it need
        // not be `Sync` for the wait to run on any thread).
        let SyncWaiter {
            client: own_client,
            started,
            min_delay,
            max_delay,
            mut on_progress,
        } = self;
        let begun = Instant::now();
        // A deadline of its own, `max_wait` from now, whatever call scope the wait runs in.
        let deadline = begun + max_wait.min(LONGEST_WAIT);
        // Every attempt keeps to a budget: the client's limiter (shared, say, by a fan-out),
        // else the documented one, for this wait alone.
        let paced;
        let client = match own_client.rate_limiter {
            Some(_) => own_client,
            None => {
                paced = HssClient {
                    rate_limiter: Some(RateLimiter::documented()),
                    ..own_client.clone()
                };
                &paced
            }
        };
        let min_delay = min_delay.min(max_delay);
        let mut delay = min_delay;
        let mut polls = 0u32;
        let mut task_id: Option<String> = None;
        let mut last: Option<SyncProgress> = None;
        loop {
            polls += 1;
            let poll = poll(client, &started, task_id.as_deref());
            let outcome = tokio::time::timeout_at(deadline, poll).await;
            let elapsed = begun.elapsed();
            let gave_up = |last| WaitError::GaveUp {
                waited: elapsed,
                last,
            };
            match outcome {
                Err(_elapsed) => return Err(gave_up(last)),
                Ok(Ok(Poll { task, registries })) => {
                    let progress = progress(task.as_ref(), &registries, elapsed, polls);
                    task_id = progress.task_id.clone();
                    if let Some(hook) = &mut on_progress {
                        hook(&progress);
                    }
                    last = Some(progress);
                    if let Some(task) = task.filter(ended) {
                        let report = SyncReport {
                            project_id: started.project_id.clone(),
                            task,
                            registries,
                            elapsed,
                            polls,
                        };
                        return if report.succeeded() {
                            Ok(report)
                        } else {
                            Err(WaitError::Failed(Box::new(report)))
                        };
                    }
                    delay = next_delay(delay, min_delay, max_delay);
                }
                Ok(Err(error)) if error.is_retryable() => {
                    tracing::warn!("poll failed, waiting longer: {error}");
                    delay = (delay * 2).min(max_delay.max(min_delay));
                }
                Ok(Err(error)) => return Err(WaitError::Call(error)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WaitError::GaveUp {
                    waited: begun.elapsed(),
                    last,
                });
            }
            tokio::time::sleep(pause(delay, min_delay, left)).await;
        }
    }
}

/// One poll: the task (found among the project's `manualSync` tasks while its ID is not
/// known) and, once found, its registries.
async fn poll(
    client: &HssClient,
    started: &SyncStarted,
    task_id: Option<&str>,
) -> Result<Poll, Error> {
    let list = in_project(
        client,
        started,
        client
            .operations()
            .list_image_scan_task()
            .type_(TaskKind::ImageSync)
            .task_type(TaskType::ManualSync),
    );
    let task = match task_id {
        Some(id) => {
            let answer = client.send(list.task_id(id)).await?;
            answer
                .value
                .data_list
                .into_iter()
                .find(|t| t.task_id.as_deref() == Some(id))
        }
        None => {
            let not_before = millis(started.not_before);
            let mut newest: Option<ImageScanTaskInfo> = None;
            let mut pages = std::pin::pin!(client.pages(list));
            while let Some(page) = pages.try_next().await? {
                for task in page.value {
                    let begin = task.begin_time.unwrap_or(i64::MIN);
                    if task.task_id.is_some()
                        && begin >= not_before
                        && newest
                            .as_ref()
                            .is_none_or(|n| begin >= n.begin_time.unwrap_or(i64::MIN))
                    {
                        newest = Some(task);
                    }
                }
            }
            newest
        }
    };
    let Some(id) = task.as_ref().and_then(|t| t.task_id.clone()) else {
        return Ok(Poll {
            task,
            registries: Vec::new(),
        });
    };
    let registries = in_project(
        client,
        started,
        client.operations().list_associate_registries().task_id(id),
    );
    let mut all = Vec::new();
    let mut pages = std::pin::pin!(client.pages(registries));
    while let Some(page) = pages.try_next().await? {
        all.extend(page.value);
    }
    Ok(Poll {
        task,
        registries: all,
    })
}

/// `operation` in the started task's project.
fn in_project<O: super::Operation>(client: &HssClient, started: &SyncStarted, operation: O) -> O {
    operation.in_project(&started.project_id, client.enterprise_project_id.as_deref())
}

/// What one poll saw.
struct Poll {
    task: Option<ImageScanTaskInfo>,
    registries: Vec<AssociateRegistry>,
}

/// Whether `task` ended: done (100) or failed (negative).
fn ended(task: &ImageScanTaskInfo) -> bool {
    task.task_status
        .is_some_and(|status| !(0..TASK_DONE).contains(&status))
}

fn progress(
    task: Option<&ImageScanTaskInfo>,
    registries: &[AssociateRegistry],
    elapsed: Duration,
    polls: u32,
) -> SyncProgress {
    let status = |s: &str| {
        registries
            .iter()
            .filter(|r| r.sync_status.as_deref() == Some(s))
            .count() as u64
    };
    let failed = status("failed");
    SyncProgress {
        task_id: task.and_then(|t| t.task_id.clone()),
        percent: task
            .and_then(|t| t.task_status)
            .map_or(0, |s| s.clamp(0, TASK_DONE) as u8),
        registries_done: status("finished") + failed,
        registries_total: registries.len() as u64,
        registries_failed: failed,
        elapsed,
        polls,
    }
}

/// The delay after `previous`: doubled, within `min..=max`.
fn next_delay(previous: Duration, min: Duration, max: Duration) -> Duration {
    previous.saturating_mul(2).clamp(min, max.max(min))
}

/// The pause before the next poll: `delay` with jitter, never past the time `left`.
fn pause(delay: Duration, min: Duration, left: Duration) -> Duration {
    jitter(delay, min).min(left)
}

/// A delay drawn evenly from `min..=delay`, as aws-sdk-rust's waiters draw theirs.
fn jitter(delay: Duration, min: Duration) -> Duration {
    if delay <= min {
        return delay;
    }
    min + (delay - min).mul_f64(fastrand::f64())
}

/// Milliseconds since the epoch (negative before it), as `begin_time` counts.
fn millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_delay_doubles_from_the_minimum_up_to_the_maximum() {
        let mut delay = S(12);
        let mut seen = vec![delay];
        for _ in 0..5 {
            delay = next_delay(delay, S(12), S(120));
            seen.push(delay);
        }
        assert_eq!(seen, [S(12), S(24), S(48), S(96), S(120), S(120)]);
        // Never below the minimum, even from a shorter delay, nor above it when the maximum
        // is set below the minimum.
        assert_eq!(next_delay(S(1), S(12), S(120)), S(12));
        assert_eq!(next_delay(S(12), S(12), S(5)), S(12));
        assert_eq!(next_delay(Duration::MAX, S(1), S(60)), S(60));
    }

    #[test]
    fn jitter_draws_between_the_minimum_and_the_delay() {
        let draws: Vec<Duration> = (0..200).map(|_| jitter(S(48), S(12))).collect();
        assert!(
            draws.iter().all(|d| (S(12)..=S(48)).contains(d)),
            "{draws:?}"
        );
        let (low, high) = (draws.iter().min().unwrap(), draws.iter().max().unwrap());
        assert!(
            high.saturating_sub(*low) > S(10),
            "spread out: {low:?}..{high:?}"
        );
        // At the minimum there is nothing to spread.
        assert_eq!(jitter(S(12), S(12)), S(12));
        assert_eq!(jitter(S(3), S(12)), S(3));
    }

    #[test]
    fn a_pause_never_runs_past_the_time_left() {
        for _ in 0..50 {
            assert_eq!(
                pause(S(120), S(12), Duration::from_millis(300)),
                Duration::from_millis(300)
            );
            let pause = pause(S(120), S(12), S(600));
            assert!((S(12)..=S(120)).contains(&pause), "{pause:?}");
        }
        assert_eq!(pause(S(12), S(12), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn only_done_and_negative_states_end_a_task() {
        let task = |status| ImageScanTaskInfo {
            task_status: status,
            ..Default::default()
        };
        for status in [100, -1, -2, -3] {
            assert!(ended(&task(Some(status))), "{status}");
        }
        for status in [None, Some(0), Some(42), Some(99)] {
            assert!(!ended(&task(status)), "{status:?}");
        }
    }

    #[test]
    fn milliseconds_count_from_the_epoch_either_way() {
        assert_eq!(millis(UNIX_EPOCH + Duration::from_millis(1_500)), 1_500);
        assert_eq!(millis(UNIX_EPOCH - Duration::from_millis(2_000)), -2_000);
    }
}
