//! The fault matrix: each fault the emulator can inject, and what one call makes of it: the
//! result, the attempts made, and the time taken. Delays are scaled down (50 ms backoff base)
//! except where `Retry-After` is the point.
//!
//! Lower time bounds are exact (a wait is never cut short); upper bounds have wide slack
//! ([`SLACK`]), so a loaded machine cannot fail them, yet they still tell a honoured 2 s cap
//! from an ignored 100 s `Retry-After`.

use hss_image_sync::emulator::{Action, Emulator, RunningEmulator, Verdict};
use hss_image_sync::types::ImageType;
use hss_image_sync::{Error, HssClient, RetryPolicy, TransportKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_base_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(2))
}

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

/// Added to every upper time bound.
const SLACK: Duration = Duration::from_secs(8);

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
        elapsed: (ms(elapsed.0), ms(elapsed.1) + SLACK),
    }
}

fn html(status: u16) -> Action {
    Action::non_json(status, "text/html", "<html><body>Bad Gateway</body></html>")
}

async fn client(emulator: &RunningEmulator) -> HssClient {
    emulator
        .client_builder()
        .retry(fast())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn check(
    row: &Row,
    result: &Result<
        hss_image_sync::Response<hss_image_sync::types::RunImageSynchronizeResponse>,
        Error,
    >,
    elapsed: Duration,
) {
    let attempts = match (result, &row.expect) {
        (Ok(done), Expect::Ok) => done.attempts,
        (Err(Error::Service(e)), Expect::Service(status)) if e.status == *status => e.attempts,
        (Err(Error::Transport { kind, attempts, .. }), Expect::Transport(want)) if kind == want => {
            *attempts
        }
        // An answer that could not be read still has its request ID.
        (Err(e @ Error::InvalidResponse { .. }), Expect::InvalidResponse) => {
            assert!(e.request_id().is_some(), "{}: {e:?}", row.name);
            row.attempts
        }
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
            "500 then success",
            || vec![Action::status(500)],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "500 until attempts run out",
            || vec![Action::status(500); 3],
            Expect::Service(500),
            3,
            (0, 1500),
        ),
        row(
            "408 then success",
            || vec![Action::status(408)],
            Expect::Ok,
            2,
            (0, 1000),
        ),
        row(
            "501 is not retried",
            || vec![Action::status(501)],
            Expect::Service(501),
            1,
            (0, 1000),
        ),
        row(
            "503 Retry-After: 1 is honoured",
            || vec![Action::status(503).with_header("Retry-After", "1")],
            Expect::Ok,
            2,
            (1000, 2500),
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
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
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
        .retry(fast())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::Transport { kind, attempts, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!((kind, attempts), (TransportKind::Connect, 3));
    assert!(started.elapsed() < SLACK);
}

#[tokio::test]
async fn a_slow_gateway_never_makes_a_call_outlive_its_total_timeout() {
    let emulator = Emulator::new().start().await.unwrap();
    for _ in 0..3 {
        emulator.push(Action::Delay(Duration::from_secs(5)));
    }
    let client = emulator
        .client_builder()
        .retry(fast())
        .attempt_timeout(ms(600))
        .timeout(ms(1500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let Error::Transport { kind, attempts, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(kind, TransportKind::Timeout);
    assert!((2..=3).contains(&attempts), "attempts {attempts}");
    assert!(
        // Not before the deadline, and nowhere near the 15 s the slow answers would take.
        elapsed >= ms(1400) && elapsed <= ms(1500) + Duration::from_secs(3),
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
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 429 && e.attempts == 1),
        "{err:?}"
    );
    // Not the 30 s asked for (and not the deadline either: that would be a timeout error).
    assert!(started.elapsed() < SLACK);
}

#[tokio::test]
async fn no_retry_means_one_attempt() {
    let emulator = Emulator::new().start().await.unwrap();
    emulator.push(Action::status(503));
    let client = emulator.client_builder().no_retry().build().unwrap();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
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
        .retry(fast())
        .time_source(move || {
            SystemTime::now() + Duration::from_secs(tick.fetch_add(1, Ordering::Relaxed))
        })
        .build()
        .unwrap();
    let done = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
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
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
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
            .run_image_synchronize(ImageType::SharedImage, |op| op)
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
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
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
        .retry(
            RetryPolicy::default()
                .with_max_attempts(u32::MAX)
                .with_base_delay(Duration::MAX)
                .with_max_delay(Duration::MAX),
        )
        .build()
        .unwrap();
    // The emulator's clock offset does not fit: it keeps the system clock, and the call works.
    let done = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(done.attempts, 1);
}

/// A server that answers every request with the same raw bytes and counts the requests: for
/// answers the emulator does not make (chunked bodies, redirects).
async fn raw_server(response: Vec<u8>) -> (String, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU64::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let response = response.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                // Read the head and the declared body, then answer and close.
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                seen.fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (endpoint, requests)
}

/// A successful answer's JSON, `len` bytes long (its description is `len - 39` bytes).
fn success_body(len: usize) -> String {
    let prefix = r#"{"error_code":0,"error_description":""#;
    let suffix = r#""}"#;
    format!(
        "{prefix}{}{suffix}",
        "x".repeat(len - prefix.len() - suffix.len())
    )
}

/// A 200 whose JSON body is `len` bytes long, sent in chunks of 500 bytes without a
/// `Content-Length`.
fn chunked_answer(len: usize) -> Vec<u8> {
    let body = success_body(len);
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for chunk in body.as_bytes().chunks(500) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The same 200 with a `Content-Length` of `len`, followed by `extra` bytes the length does
/// not cover.
fn sized_answer(len: usize, extra: usize) -> Vec<u8> {
    let body = success_body(len);
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n{body}"
    )
    .into_bytes();
    out.resize(out.len() + extra, b'y');
    out
}

fn raw_client(endpoint: &str, max_response_bytes: usize) -> HssClient {
    HssClient::builder()
        .endpoint(endpoint)
        .credentials(hss_image_sync::Credentials::new("AK", "SK").with_project_id("p"))
        .retry(fast())
        .max_response_bytes(max_response_bytes)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_chunked_body_over_a_custom_cap_is_refused() {
    let (endpoint, requests) = raw_server(chunked_answer(2_000)).await;
    let err = raw_client(&endpoint, 1_500)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 1_500 }),
        "{err:?}"
    );
    assert_eq!(requests.load(Ordering::Relaxed), 1, "not retried");

    // The same body under a larger cap is read whole.
    let done = raw_client(&endpoint, 2_000)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(done.value.error_description.unwrap().len(), 2_000 - 39);
}

/// A body framed by its Content-Length is read without the limiting wrapper when the length
/// is within the cap: the cap still holds at its exact value, and bytes past the declared
/// length are never part of the body.
#[tokio::test]
async fn a_sized_body_is_capped_at_its_declared_length() {
    let (endpoint, _) = raw_server(sized_answer(2_000, 100_000)).await;
    let done = raw_client(&endpoint, 2_000)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(done.value.error_description.unwrap().len(), 2_000 - 39);
    let err = raw_client(&endpoint, 1_999)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 1_999 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_error_body_with_many_fields_is_read_quickly() {
    // Nearly 1 MiB of members before the code: quadratic parsing took over a minute.
    let mut body = String::from("{");
    for i in 0..65_000 {
        body.push_str(&format!("\"f{i}\":{i},"));
    }
    body.push_str(r#""error_code":"HSS.0001","error_msg":"many fields"}"#);
    assert!(body.len() < 1 << 20);
    let emulator = Emulator::new().start().await.unwrap();
    emulator.push(Action::json(400, body));
    let client = emulator
        .client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.error_code == "HSS.0001" && e.error_msg == "many fields"),
        "{err:?}"
    );
    // Milliseconds when linear; the quadratic reader took about 40 s here.
    assert!(started.elapsed() < SLACK, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn redirects_are_refused_not_followed() {
    let (elsewhere, followed) =
        raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec()).await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
    ] {
        let answer = format!(
            "HTTP/1.1 {status}\r\nLocation: {elsewhere}/v5/p/image/synchronize\r\n\
             X-Request-Id: r-3xx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let (endpoint, _) = raw_server(answer.into_bytes()).await;
        let client = HssClient::builder()
            .endpoint(endpoint)
            .auth_token(hss_image_sync::AuthToken::new(
                "IAM-TOKEN-THAT-MUST-STAY-HOME",
            ))
            .project_id("p")
            .build()
            .unwrap();
        let err = client
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_err();
        let code: u16 = status[..3].parse().unwrap();
        let Error::InvalidResponse {
            status: got,
            request_id,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*got, code);
        assert_eq!(request_id.as_deref(), Some("r-3xx"));
        assert!(
            message.contains(&elsewhere) && message.contains("refused"),
            "{message}"
        );
    }
    assert_eq!(
        followed.load(Ordering::Relaxed),
        0,
        "a redirect was followed"
    );
}

#[tokio::test]
async fn a_gateway_clock_beyond_a_day_is_reported_not_adopted() {
    for offset in [3 * 86_400, -40 * 365 * 86_400] {
        let emulator = Emulator::new()
            .clock_offset_secs(offset)
            .start()
            .await
            .unwrap();
        let client = emulator.client_builder().build().unwrap();
        let err = client
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_err();
        let Error::ClockSkew {
            offset_secs,
            request_id,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            (offset_secs - offset).abs() < 60,
            "{offset_secs} vs {offset}"
        );
        assert!(request_id.is_some());
        assert!(err.to_string().contains("fix the system clock"), "{err}");
        assert_eq!(
            emulator.exchanges().len(),
            1,
            "no retry with an absurd clock"
        );
    }
    // Within a day (a time-zone mix-up) the offset is still adopted.
    let emulator = Emulator::new()
        .clock_offset_secs(-14 * 3600)
        .start()
        .await
        .unwrap();
    let done = emulator
        .client_builder()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(done.attempts, 2);
}
