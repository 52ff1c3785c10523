//! The fault matrix: each fault the emulator can inject, and what one call makes of it: the
//! result, the attempts made, and the time taken. Delays are scaled down (50 ms backoff base)
//! except where `Retry-After` is the point.

use hss_image_sync::emulator::{Action, Emulator, RunningEmulator, Verdict};
use hss_image_sync::{Error, HssClient, ImageType, RetryPolicy, SyncRequest, TransportKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(2),
};

/// What a row expects.
#[derive(Debug)]
enum Expect {
    Ok,
    Service(u16),
    Transport(TransportKind),
    InvalidResponse,
    TooLarge,
}

struct Row {
    name: &'static str,
    /// Built when the row runs, so that dates in it are relative to that moment.
    script: Box<dyn Fn() -> Vec<Action>>,
    expect: Expect,
    attempts: u32,
    /// Inclusive bounds on the call's duration.
    elapsed: (Duration, Duration),
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn row(
    name: &'static str,
    script: impl Fn() -> Vec<Action> + 'static,
    expect: Expect,
    attempts: u32,
    elapsed: (u64, u64),
) -> Row {
    Row {
        name,
        script: Box::new(script),
        expect,
        attempts,
        elapsed: (ms(elapsed.0), ms(elapsed.1)),
    }
}

fn html(status: u16) -> Action {
    Action::non_json(status, "text/html", "<html><body>Bad Gateway</body></html>")
}

async fn client(emulator: &RunningEmulator) -> HssClient {
    emulator
        .client_builder()
        .retry(FAST)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn check(row: &Row, result: &Result<hss_image_sync::SyncResponse, Error>, elapsed: Duration) {
    let attempts = match (result, &row.expect) {
        (Ok(done), Expect::Ok) => done.attempts,
        (Err(Error::Service(e)), Expect::Service(status)) if e.status == *status => e.attempts,
        (Err(Error::Transport { kind, attempts, .. }), Expect::Transport(want)) if kind == want => {
            *attempts
        }
        (Err(Error::InvalidResponse { .. }), Expect::InvalidResponse) => row.attempts,
        (Err(Error::ResponseTooLarge { limit }), Expect::TooLarge) if *limit == 1 << 20 => {
            row.attempts
        }
        (other, expect) => panic!("{}: expected {expect:?}, got {other:?}", row.name),
    };
    assert_eq!(attempts, row.attempts, "{}: attempts", row.name);
    assert!(
        elapsed >= row.elapsed.0 && elapsed <= row.elapsed.1,
        "{}: took {elapsed:?}, expected {:?}..={:?}",
        row.name,
        row.elapsed.0,
        row.elapsed.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let in_2s = || Action::too_many_requests_until(SystemTime::now() + Duration::from_secs(2));
    let rows = vec![
        row(
            "500 is not retried",
            || vec![Action::status(500)],
            Expect::Service(500),
            1,
            (0, 1000),
        ),
        row(
            "502 then success",
            || vec![Action::status(502)],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "503 until attempts run out",
            || vec![Action::status(503); 3],
            Expect::Service(503),
            3,
            (0, 1500),
        ),
        row(
            "504 then success",
            || vec![Action::status(504)],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "429 Retry-After: 1 is honoured",
            || vec![Action::too_many_requests_after(1)],
            Expect::Ok,
            2,
            (1000, 2500),
        ),
        row(
            "429 Retry-After as a date is honoured",
            move || vec![in_2s()],
            Expect::Ok,
            2,
            (900, 3000),
        ),
        row(
            "429 Retry-After: 100 is capped at 2 s",
            || vec![Action::too_many_requests_after(100)],
            Expect::Ok,
            2,
            (2000, 3500),
        ),
        row(
            "connection reset then success",
            || vec![Action::Reset],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "resets until attempts run out",
            || vec![Action::Reset; 3],
            Expect::Transport(TransportKind::Io),
            3,
            (0, 1500),
        ),
        row(
            "truncated body is not retried",
            || vec![Action::TruncatedBody],
            Expect::Transport(TransportKind::Io),
            1,
            (0, 1000),
        ),
        row(
            "HTML 502 until attempts run out",
            || vec![html(502); 3],
            Expect::Service(502),
            3,
            (0, 1500),
        ),
        row(
            "HTML 200 is an invalid response",
            || vec![html(200)],
            Expect::InvalidResponse,
            1,
            (0, 1000),
        ),
        row(
            "non-JSON text 200",
            || vec![Action::non_json(200, "text/plain", "ok")],
            Expect::InvalidResponse,
            1,
            (0, 1000),
        ),
        row(
            "empty 200 body",
            || vec![Action::non_json(200, "application/json", "")],
            Expect::InvalidResponse,
            1,
            (0, 1000),
        ),
        row(
            "empty 503 body then success",
            || vec![Action::non_json(503, "text/plain", "")],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "oversized body",
            || vec![Action::json(200, format!("\"{}\"", "x".repeat(2 << 20)))],
            Expect::TooLarge,
            1,
            (0, 2000),
        ),
        row(
            "401 is not retried",
            || vec![Action::error(401, "APIG.0301", "denied")],
            Expect::Service(401),
            1,
            (0, 1000),
        ),
        row(
            "400 is not retried",
            || vec![Action::error(400, "HSS.0001", "Invalid parameter.")],
            Expect::Service(400),
            1,
            (0, 1000),
        ),
        row(
            "403 is not retried",
            || vec![Action::error(403, "APIG.0302", "forbidden")],
            Expect::Service(403),
            1,
            (0, 1000),
        ),
    ];
    for row in rows {
        let emulator = Emulator::new().start().await.unwrap();
        for action in (row.script)() {
            emulator.push(action);
        }
        let client = client(&emulator).await;
        let started = Instant::now();
        let result = client
            .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
            .await;
        check(&row, &result, started.elapsed());
        // Every attempt that reached the emulator was signed correctly.
        let exchanges = emulator.exchanges();
        assert_eq!(
            exchanges.len() as u32,
            row.attempts,
            "{}: requests seen",
            row.name
        );
        assert!(
            exchanges.iter().all(|e| e.verdict != Verdict::Rejected),
            "{}",
            row.name
        );
    }
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = HssClient::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .credentials(hss_image_sync::Credentials::new("AK", "SK").with_project_id("p"))
        .retry(FAST)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap_err();
    let Error::Transport { kind, attempts, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!((kind, attempts), (TransportKind::Connect, 3));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_slow_gateway_never_makes_a_call_outlive_its_total_timeout() {
    let emulator = Emulator::new().start().await.unwrap();
    for _ in 0..3 {
        emulator.push(Action::Delay(Duration::from_secs(5)));
    }
    let client = emulator
        .client_builder()
        .retry(FAST)
        .attempt_timeout(ms(600))
        .timeout(ms(1500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let Error::Transport { kind, attempts, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(kind, TransportKind::Timeout);
    assert!((2..=3).contains(&attempts), "attempts {attempts}");
    assert!(
        elapsed >= ms(1400) && elapsed <= ms(2000),
        "took {elapsed:?}"
    );

    // A Retry-After longer than the time left is not waited for.
    emulator.push(Action::too_many_requests_after(30));
    let patient = emulator
        .client_builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = patient
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 429 && e.attempts == 1),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn no_retry_means_one_attempt() {
    let emulator = Emulator::new().start().await.unwrap();
    emulator.push(Action::status(503));
    let client = emulator.client_builder().no_retry().build().unwrap();
    let err = client
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 503 && e.attempts == 1),
        "{err:?}"
    );
    assert_eq!(emulator.exchanges().len(), 1);
}

#[tokio::test]
async fn every_attempt_is_signed_afresh() {
    let emulator = Emulator::new().start().await.unwrap();
    emulator.push(Action::status(502));
    emulator.push(Action::status(503));
    // A clock that advances one second per reading, so each signature has its own date.
    let tick = Arc::new(AtomicU64::new(0));
    let client = emulator
        .client_builder()
        .retry(FAST)
        .time_source(move || {
            SystemTime::now() + Duration::from_secs(tick.fetch_add(1, Ordering::Relaxed))
        })
        .build()
        .unwrap();
    let done = client
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
    let dates: Vec<String> = emulator
        .exchanges()
        .iter()
        .map(|e| e.request.header("x-sdk-date").unwrap().to_owned())
        .collect();
    assert_eq!(dates.len(), 3);
    assert!(dates[0] < dates[1] && dates[1] < dates[2], "{dates:?}");
    assert_eq!(emulator.exchanges()[2].verdict, Verdict::Accepted);
}

#[tokio::test]
async fn clock_skew_is_measured_corrected_and_remembered() {
    for offset in [20 * 60, -20 * 60] {
        let emulator = Emulator::new()
            .clock_offset_secs(offset)
            .start()
            .await
            .unwrap();
        let client = emulator.client_builder().no_retry().build().unwrap();
        let done = client
            .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
            .await
            .unwrap();
        assert_eq!(
            done.attempts, 2,
            "offset {offset}: one refusal, one corrected retry"
        );
        let exchanges = emulator.exchanges();
        assert!(
            exchanges[0].reason.contains("signature expired"),
            "{}",
            exchanges[0].reason
        );
        assert_eq!(exchanges[1].verdict, Verdict::Accepted);
        // The correction is kept (and shared by clones) for later calls.
        let again = client
            .clone()
            .run_image_synchronize(&SyncRequest::new(ImageType::SharedImage))
            .await
            .unwrap();
        assert_eq!(again.attempts, 1);
    }
    // A genuinely bad signature is not "corrected": the clocks agree, so no extra attempt.
    let emulator = Emulator::new().start().await.unwrap();
    let wrong = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            hss_image_sync::Credentials::new(hss_image_sync::emulator::DEMO_ACCESS_KEY, "wrong")
                .with_project_id("p"),
        )
        .build()
        .unwrap();
    let err = wrong
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 401 && e.attempts == 1),
        "{err:?}"
    );
}

#[tokio::test]
async fn extreme_settings_do_not_panic() {
    let emulator = Emulator::new()
        .clock_offset_secs(i64::MAX)
        .start()
        .await
        .unwrap();
    let client = emulator
        .client_builder()
        .timeout(Duration::MAX)
        .attempt_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .retry(RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
        })
        .build()
        .unwrap();
    // The emulator's clock offset does not fit: it keeps the system clock, and the call works.
    let done = client
        .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
        .await
        .unwrap();
    assert_eq!(done.attempts, 1);
}
