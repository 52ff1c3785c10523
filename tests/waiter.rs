//! The sync waiter against the emulator (127.0.0.1): waits that end done, failed and given up,
//! the task found by its start, progress as it goes, and the documented budget kept.
#![cfg(feature = "emulator")]

use hss_image_sync::emulator::{Emulator, RunningEmulator, TaskEnd, default_registries};
use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
use hss_image_sync::{HssClient, RateLimiter, SyncProgress, SyncReport, SyncStarted, WaitError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

fn every_registry() -> CreateImageSynchronizeTaskRequestInfo {
    CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: true,
        registry_info: vec![],
    }
}

/// A client that keeps to no budget (the emulator has none), so tests poll fast.
fn unpaced(emulator: &RunningEmulator) -> HssClient {
    emulator
        .client_builder()
        .rate_limiter(RateLimiter::unlimited())
        .build()
        .unwrap()
}

const FAST: Duration = Duration::from_millis(20);

/// Syncs every registry of the emulator's project and waits for the task, polling every
/// [`FAST`], for at most `max`.
async fn sync_and_wait(emulator: &RunningEmulator, max: Duration) -> Result<SyncReport, WaitError> {
    let client = unpaced(emulator);
    let started = client.start_sync(every_registry()).await.unwrap();
    client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .wait(max)
        .await
}

#[tokio::test]
async fn a_wait_follows_the_task_to_done_reporting_progress() {
    let emulator = Emulator::new()
        .task_duration(Duration::from_millis(600))
        .start()
        .await
        .unwrap();
    let client = unpaced(&emulator);
    let started = client.start_sync(every_registry()).await.unwrap();
    assert_eq!(started.project_id, emulator.project_id());
    let seen = Arc::new(Mutex::new(Vec::<SyncProgress>::new()));
    let log = seen.clone();
    let report = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .max_delay(FAST * 4)
        .on_progress(move |p| log.lock().unwrap().push(p.clone()))
        .wait(Duration::from_secs(20))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(report.task.task_status, Some(100));
    assert_eq!(report.registries.len(), default_registries().len());
    assert!(report.failures().is_empty());

    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2, "at least one poll while it ran: {seen:?}");
    let percents: Vec<u8> = seen.iter().map(|p| p.percent).collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert!(percents[0] < 100, "{percents:?}");
    let last = seen.last().unwrap();
    assert_eq!(last.percent, 100);
    assert_eq!(last.registries_done, 3);
    assert_eq!(last.registries_total, 3);
    assert_eq!(last.polls as usize, seen.len());
    assert_eq!(last.task_id, report.task.task_id);
}

#[tokio::test]
async fn a_failed_registry_ends_the_wait_failed_naming_it_with_its_reason() {
    let failing = default_registries()[2].clone();
    let emulator = Emulator::new()
        .task_seconds(0)
        .fail_registry(failing.id.clone().unwrap())
        .start()
        .await
        .unwrap();
    let err = sync_and_wait(&emulator, Duration::from_secs(20))
        .await
        .unwrap_err();
    let WaitError::Failed(report) = &err else {
        panic!("{err:?}");
    };
    let failures = report.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].registry_id, failing.id);
    assert_eq!(Some(&failures[0].name), failing.registry_name.as_ref());
    let reason = failures[0].reason.clone().unwrap();
    assert!(!reason.is_empty());
    let text = err.to_string();
    assert!(
        text.contains(&failures[0].name) && text.contains(&reason),
        "{text}"
    );
}

#[tokio::test]
async fn a_task_whose_every_registry_failed_ends_in_error() {
    let only = default_registries()[0].clone();
    let emulator = Emulator::new()
        .task_seconds(0)
        .fail_registry(only.id.clone().unwrap())
        .start()
        .await
        .unwrap();
    let client = unpaced(&emulator);
    let one = CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: false,
        registry_info: vec![hss_image_sync::types::RegistryRef {
            registry_id: only.id.clone().unwrap().parse().unwrap(),
            registry_type: only.registry_type.clone().unwrap().parse().unwrap(),
        }],
    };
    let started = client.start_sync(one).await.unwrap();
    let err = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .wait(Duration::from_secs(20))
        .await
        .unwrap_err();
    let WaitError::Failed(report) = err else {
        panic!("{err:?}");
    };
    assert_eq!(report.task.task_status, Some(-3));
    let failures = report.failures();
    assert_eq!(
        failures[0].registry_id, None,
        "the task first: {failures:?}"
    );
    assert_eq!(failures[0].name, "task error");
    assert_eq!(failures[1].registry_id, only.id);
    assert!(!report.succeeded());
}

#[tokio::test]
async fn a_terminated_or_timed_out_task_ends_the_wait_failed_naming_its_state() {
    for (end, status, name) in [
        (TaskEnd::Terminated, -1, "task terminated"),
        (TaskEnd::TimedOut, -2, "task timed out"),
    ] {
        let emulator = Emulator::new()
            .task_seconds(0)
            .end_tasks(end)
            .start()
            .await
            .unwrap();
        let err = sync_and_wait(&emulator, Duration::from_secs(20))
            .await
            .unwrap_err();
        let WaitError::Failed(report) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(report.task.task_status, Some(status));
        let failures = report.failures();
        assert_eq!(failures.len(), 1, "the task alone: {failures:?}");
        assert_eq!(failures[0].registry_id, None);
        assert_eq!(failures[0].name, name);
        let reason = failures[0].reason.clone().expect("HSS's reason");
        assert_eq!(reason, end.reason());
        assert!(!report.succeeded());
        let text = err.to_string();
        assert!(text.contains(name) && text.contains(&reason), "{text}");
    }
}

#[tokio::test]
async fn under_clock_skew_the_task_is_found_on_the_servers_clock() {
    // Ten minutes either way: within what the gateway accepts, far beyond the allowance for
    // a local clock. A server behind us begins the task "before" our local start.
    for offset in [-600i64, 600] {
        let emulator = Emulator::new()
            .clock_offset_secs(offset)
            .task_duration(Duration::from_millis(300))
            .start()
            .await
            .unwrap();
        let client = unpaced(&emulator);
        let local = SystemTime::now();
        let started = client.start_sync(every_registry()).await.unwrap();
        let server = if offset < 0 {
            local - Duration::from_secs(offset.unsigned_abs())
        } else {
            local + Duration::from_secs(offset.unsigned_abs())
        };
        let off_by =
            |a: SystemTime, b: SystemTime| a.duration_since(b).unwrap_or_else(|e| e.duration());
        assert!(
            off_by(started.not_before, server) < Duration::from_secs(5),
            "{offset}: noted on the server's clock: {:?} vs {server:?}",
            started.not_before
        );
        let report = client
            .wait_for_sync(&started)
            .min_delay(FAST)
            .max_delay(FAST * 4)
            .wait(Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("{offset}: {e:?}"));
        assert!(report.succeeded(), "{offset}");
        let listed = emulator
            .state()
            .tasks(emulator.project_id())
            .last()
            .cloned()
            .unwrap();
        assert_eq!(
            report.task.task_id.as_ref(),
            Some(&listed.task_id),
            "{offset}"
        );
    }
}

#[tokio::test]
async fn a_wait_never_sleeps_past_its_time_left() {
    let emulator = Emulator::new().task_seconds(3600).start().await.unwrap();
    let client = unpaced(&emulator);
    let started = client.start_sync(every_registry()).await.unwrap();
    let begun = std::time::Instant::now();
    // A minute between polls, 300 ms to wait: the one pause is cut to the time left.
    let err = client
        .wait_for_sync(&started)
        .min_delay(Duration::from_secs(60))
        .wait(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, WaitError::GaveUp { .. }), "{err:?}");
    assert!(
        begun.elapsed() < Duration::from_secs(30),
        "{:?}",
        begun.elapsed()
    );
}

#[tokio::test]
async fn a_wait_gives_up_while_the_task_runs() {
    let emulator = Emulator::new().task_seconds(3600).start().await.unwrap();
    let err = sync_and_wait(&emulator, Duration::from_millis(400))
        .await
        .unwrap_err();
    let WaitError::GaveUp { waited, last } = &err else {
        panic!("{err:?}");
    };
    assert!(*waited >= Duration::from_millis(400), "{waited:?}");
    let last = last.as_ref().unwrap();
    assert!(last.task_id.is_some());
    assert!(last.percent < 100);
    assert_eq!(last.registries_total, 3);
    assert!(err.to_string().contains("still runs"), "{err}");
}

#[tokio::test]
async fn a_task_that_began_before_the_call_is_not_taken_for_it() {
    let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
    let client = unpaced(&emulator);
    client
        .create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap();
    // A start noted after that task began: it must not be mistaken for this one.
    let later = SyncStarted::new(
        emulator.project_id(),
        SystemTime::now() + Duration::from_secs(600),
    );
    let err = client
        .wait_for_sync(&later)
        .min_delay(FAST)
        .wait(Duration::from_millis(300))
        .await
        .unwrap_err();
    let WaitError::GaveUp { last, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(last.as_ref().unwrap().task_id, None);
    assert!(err.to_string().contains("has not appeared"), "{err}");
}

#[tokio::test]
async fn the_newest_task_since_the_start_is_the_one_waited_for() {
    let emulator = Emulator::new().task_seconds(3600).start().await.unwrap();
    let client = unpaced(&emulator);
    let started = client.start_sync(every_registry()).await.unwrap();
    // Another sync of the same project, a moment later: the newest is followed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    client
        .create_image_synchronize_task(|op| op.body(every_registry()))
        .await
        .unwrap();
    let tasks = emulator.state().tasks(emulator.project_id()).count();
    assert_eq!(tasks, 2);
    let err = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .wait(Duration::from_millis(200))
        .await
        .unwrap_err();
    let WaitError::GaveUp {
        last: Some(last), ..
    } = err
    else {
        panic!("{err:?}");
    };
    let listed = client
        .list_image_scan_task(|op| op.type_(hss_image_sync::types::TaskKind::ImageSync))
        .await
        .unwrap()
        .value
        .data_list;
    let newest = listed
        .iter()
        .max_by_key(|t| t.begin_time)
        .and_then(|t| t.task_id.clone());
    assert_eq!(last.task_id, newest);
}

#[tokio::test]
async fn without_a_shared_limiter_a_wait_keeps_to_five_calls_a_minute_per_api() {
    let emulator = Emulator::new().task_seconds(3600).start().await.unwrap();
    // No limiter on the client: the waiter paces itself at the documented budget.
    let client = emulator.client_builder().build().unwrap();
    let started = client.start_sync(every_registry()).await.unwrap();
    let before = emulator.exchanges().len();
    let err = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .wait(Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert!(matches!(err, WaitError::GaveUp { .. }), "{err:?}");
    let exchanges = emulator.exchanges();
    let calls = |path_end: &str| {
        exchanges[before..]
            .iter()
            .filter(|e| {
                e.request
                    .target
                    .split('?')
                    .next()
                    .unwrap()
                    .ends_with(path_end)
            })
            .count()
    };
    // Polls every 20 ms would have made ~75 calls of each; the budget allows one turn per
    // 12 s and API.
    assert_eq!(calls("/image/tasks"), 1);
    assert_eq!(calls("/registries"), 1);
}

#[tokio::test]
async fn a_refused_poll_ends_the_wait_with_the_error() {
    // An account of two projects: any other project is refused (403), for good.
    let emulator = Emulator::new()
        .projects(2)
        .task_seconds(3600)
        .start()
        .await
        .unwrap();
    let client = unpaced(&emulator);
    let started = SyncStarted::new("0000000000000000000000000000dead", SystemTime::UNIX_EPOCH);
    let err = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .wait(Duration::from_secs(3))
        .await
        .unwrap_err();
    let WaitError::Call(error) = &err else {
        panic!("{err:?}");
    };
    assert!(!error.is_retryable(), "{error:?}");
    assert_eq!(error.status(), Some(403));
}

#[tokio::test]
async fn a_throttled_poll_slows_every_holder_of_the_limiter_and_the_wait_goes_on() {
    // Two calls of an operation per 300 ms: polling every 20 ms is throttled at once.
    let emulator = Emulator::new()
        .task_duration(Duration::from_millis(800))
        .rate_limit_per(2, Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let limiter = RateLimiter::unlimited();
    let client = emulator
        .client_builder()
        .rate_limiter(limiter.clone())
        .retry(
            hss_image_sync::RetryPolicy::default()
                .with_base_delay(Duration::from_millis(50))
                .with_max_attempts(5),
        )
        .build()
        .unwrap();
    let started = client.start_sync(every_registry()).await.unwrap();
    let report = client
        .wait_for_sync(&started)
        .min_delay(FAST)
        .max_delay(FAST)
        .wait(Duration::from_secs(30))
        .await
        .unwrap();
    assert!(report.succeeded());
    let throttled = emulator
        .exchanges()
        .iter()
        .filter(|e| e.status == 429 && e.error_code.as_deref() == Some("APIG.0308"))
        .count();
    assert!(throttled >= 1, "the emulator throttled some poll");
    // Every holder of the limiter now spaces those calls apart.
    let worker = limiter.clone();
    assert!(
        worker.spacing("list_image_scan_task") >= Duration::from_millis(500),
        "{:?}",
        worker.spacing("list_image_scan_task")
    );
}
