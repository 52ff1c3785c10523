//! The emulator, driven by the client and by hand-made requests: verification, validation,
//! state, admin path, and the scripted answers and faults the client must map.

use hss_image_sync::emulator::{Action, Emulator, Exchange, RunningEmulator, Verdict};
use hss_image_sync::signer::{self, SignableRequest};
use hss_image_sync::types::{self, ImageType};
use hss_image_sync::{AuthToken, Credentials, Error, HssClient, TransportKind};
use secrecy::SecretString;
use std::time::{Duration, SystemTime};

async fn start() -> RunningEmulator {
    Emulator::new().start().await.unwrap()
}

#[tokio::test]
async fn accepts_signed_calls_and_keeps_per_project_state() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| {
            op.enterprise_project_id("all_granted_eps")
                .region("cn-north-4")
        })
        .await
        .unwrap();
    client
        .run_image_synchronize(ImageType::SharedImage, |op| {
            op.project_id("other project/é")
        })
        .await
        .unwrap(); // X-Project-Id names the path's project, not the credentials' one
    let done = client
        .run_image_synchronize(ImageType::SharedImage, |op| op)
        .await
        .unwrap();
    assert!(done.request_id.as_deref().is_some_and(|id| id.len() == 32));

    let state = emulator.state();
    let record = state
        .sync_record(emulator.project_id(), ImageType::PrivateImage)
        .unwrap();
    assert_eq!(record.count, 2);
    assert_eq!(
        record.last_enterprise_project_id.as_deref(),
        Some("all_granted_eps")
    );
    assert_eq!(
        state
            .sync_record(emulator.project_id(), ImageType::SharedImage)
            .unwrap()
            .count,
        1
    );

    assert_eq!(
        state
            .sync_record("other project/é", ImageType::SharedImage)
            .unwrap()
            .count,
        1
    );
    assert!(
        emulator
            .exchanges()
            .iter()
            .all(|e| e.verdict == Verdict::Accepted)
    );

    // The admin path serves the same state as JSON.
    let body = raw_get(&format!("{}/_emulator/state", emulator.endpoint())).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["projects"][emulator.project_id()]["private_image"]["count"],
        2
    );
}

async fn raw_get(url: &str) -> String {
    // A raw HTTP/1.1 GET: no client configuration involved.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[tokio::test]
async fn wrong_key_is_a_real_apig_0301_with_the_canonical_request() {
    let emulator = start().await;
    let client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            Credentials::new(hss_image_sync::emulator::DEMO_ACCESS_KEY, "wrong-secret")
                .with_project_id("p1"),
        )
        .build()
        .unwrap();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::Service(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.error_code.as_str()), (401, "APIG.0301"));
    assert!(
        e.error_msg.contains(
            "verify aksk signature fail, canonicalRequest:POST|/v5/p1/image/synchronize/|"
        ),
        "{}",
        e.error_msg
    );
    assert_eq!(
        e.request_id.as_deref(),
        Some(emulator.exchanges()[0].request_id.as_str())
    );

    let unknown_ak = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new("UNKNOWNAK", "x").with_project_id("p1"))
        .build()
        .unwrap();
    let err = unknown_ak
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ak not exist"), "{err}");
    assert!(
        !err.to_string().contains("UNKNOWNAK"),
        "the AK is masked like the gateway does"
    );
}

#[tokio::test]
async fn signatures_older_or_newer_than_15_minutes_are_refused() {
    let emulator = start().await;
    let path = format!("/v5/{}/image/synchronize", emulator.project_id());
    let body = r#"{"image_type": "private_image"}"#;
    for minutes in [-16i64, 16] {
        let at = shifted(SystemTime::now(), minutes * 60);
        let (status, response) = send_signed_at(&emulator, "POST", &path, body, at).await;
        assert_eq!(status, 401, "{minutes} min: {response}");
        assert!(response.contains("signature expired"), "{response}");
    }
    for minutes in [-14i64, 14] {
        let at = shifted(SystemTime::now(), minutes * 60);
        let (status, response) = send_signed_at(&emulator, "POST", &path, body, at).await;
        assert_eq!(status, 200, "{minutes} min: {response}");
    }
}

fn shifted(time: SystemTime, secs: i64) -> SystemTime {
    if secs >= 0 {
        time + Duration::from_secs(secs as u64)
    } else {
        time - Duration::from_secs(secs.unsigned_abs())
    }
}

#[tokio::test]
async fn temporary_keys_need_their_security_token() {
    let emulator = Emulator::new()
        .security_token("session-token-1")
        .start()
        .await
        .unwrap();
    emulator
        .client_builder()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert!(
        emulator.exchanges()[0]
            .request
            .header("x-security-token")
            .is_some()
    );
    let without = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            Credentials::new(
                hss_image_sync::emulator::DEMO_ACCESS_KEY,
                hss_image_sync::emulator::DEMO_SECRET_KEY,
            )
            .with_project_id("p"),
        )
        .build()
        .unwrap();
    let err = without
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("security token"), "{err}");
}

#[tokio::test]
async fn token_auth() {
    let emulator = Emulator::new()
        .auth_token("iam-token-value")
        .start()
        .await
        .unwrap();
    let good = HssClient::builder()
        .endpoint(emulator.endpoint())
        .auth_token(emulator.auth_token().unwrap())
        .project_id("p-token")
        .build()
        .unwrap();
    good.run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(emulator.exchanges()[0].auth, "X-Auth-Token");
    let bad = HssClient::builder()
        .endpoint(emulator.endpoint())
        .auth_token(AuthToken::new("another-token"))
        .project_id("p-token")
        .build()
        .unwrap();
    let err = bad
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("decrypt token fail"), "{err}");
}

#[tokio::test]
async fn a_key_pair_replaces_the_demo_keys() {
    let emulator = Emulator::new()
        .key_pair("MYACCESSKEY01", "my-secret-key")
        .start()
        .await
        .unwrap();
    assert_eq!(emulator.credentials().access_key_id(), "MYACCESSKEY01");
    emulator
        .client_builder()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let demo = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            Credentials::new(
                hss_image_sync::emulator::DEMO_ACCESS_KEY,
                hss_image_sync::emulator::DEMO_SECRET_KEY,
            )
            .with_project_id("p"),
        )
        .build()
        .unwrap();
    let err = demo
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ak not exist"), "{err}");
}

const SECURITY_TOKEN: &str = "session-token-SECRET-4711";
const IAM_TOKEN: &str = "iam-token-SECRET-4711";

/// The `Signature=` of the `Authorization` header the exchange's request carried.
fn signature_of(exchange: &Exchange) -> String {
    let authorization = exchange.request.header("authorization").unwrap();
    let signature = authorization.rsplit_once("Signature=").unwrap().1;
    assert_eq!(signature.len(), 64, "{authorization}");
    signature.to_owned()
}

#[tokio::test]
async fn exchanges_never_show_a_security_token_or_a_signature() {
    let emulator = Emulator::new()
        .security_token(SECURITY_TOKEN)
        .start()
        .await
        .unwrap();
    let client = emulator.client_builder().build().unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let exchange = &emulator.exchanges()[0];
    assert_eq!(exchange.verdict, Verdict::Accepted);
    assert_eq!(
        exchange.request.header("x-security-token"),
        Some(SECURITY_TOKEN)
    );
    let signature = signature_of(exchange);
    // The exact canonical request holds the signed token; what is shown masks it.
    let canonical = exchange.canonical_request.as_ref().unwrap();
    assert!(
        canonical
            .as_str()
            .contains(&format!("\nx-security-token:{SECURITY_TOKEN}\n"))
    );
    assert!(
        canonical
            .to_string()
            .contains(&format!("\nx-security-token:{}\n", signer::MASK)),
        "{canonical}"
    );
    for shown in [
        format!("{exchange:?}"),
        format!("{exchange:#?}"),
        format!("{:?}", exchange.request),
        format!("{canonical}"),
        format!("{canonical:?}"),
        exchange.log_line(),
    ] {
        assert!(!shown.contains(SECURITY_TOKEN), "{shown}");
        assert!(!shown.contains(&signature), "{shown}");
    }
    let shown = format!("{:?}", exchange.request);
    assert!(
        shown.contains(&format!("x-security-token: \"{}\"", signer::MASK)),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("authorization: \"{}\"", signer::MASK)),
        "{shown}"
    );
}

#[tokio::test]
async fn exchanges_never_show_an_iam_token() {
    let emulator = Emulator::new().auth_token(IAM_TOKEN).start().await.unwrap();
    let client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .auth_token(AuthToken::new(IAM_TOKEN))
        .project_id("p-token")
        .build()
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let exchange = &emulator.exchanges()[0];
    assert_eq!(
        (exchange.verdict, exchange.auth),
        (Verdict::Accepted, "X-Auth-Token")
    );
    assert_eq!(exchange.request.header("x-auth-token"), Some(IAM_TOKEN));
    assert!(exchange.request.header("authorization").is_none());
    for shown in [
        format!("{exchange:?}"),
        format!("{exchange:#?}"),
        format!("{:?}", exchange.request),
        exchange.log_line(),
    ] {
        assert!(!shown.contains(IAM_TOKEN), "{shown}");
    }
    assert!(
        format!("{:?}", exchange.request).contains(&format!("x-auth-token: \"{}\"", signer::MASK))
    );

    // A refused token is not shown either.
    let wrong = "iam-token-WRONG-0815";
    let bad = HssClient::builder()
        .endpoint(emulator.endpoint())
        .auth_token(AuthToken::new(wrong))
        .project_id("p-token")
        .build()
        .unwrap();
    let err = bad
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(!format!("{err:?}").contains(wrong), "{err:?}");
    let exchange = &emulator.exchanges()[1];
    assert_eq!(exchange.verdict, Verdict::Rejected);
    assert!(!format!("{exchange:?}").contains(wrong), "{exchange:?}");
}

#[tokio::test]
async fn the_401_canonical_request_masks_the_security_token() {
    let emulator = Emulator::new()
        .security_token(SECURITY_TOKEN)
        .start()
        .await
        .unwrap();
    let client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            Credentials::new(hss_image_sync::emulator::DEMO_ACCESS_KEY, "wrong-secret")
                .with_security_token(SECURITY_TOKEN)
                .with_project_id("p1"),
        )
        .build()
        .unwrap();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::Service(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.error_code.as_str()), (401, "APIG.0301"));
    assert!(
        e.error_msg
            .contains(&format!("|x-security-token:{}|", signer::MASK)),
        "{}",
        e.error_msg
    );
    assert!(!e.error_msg.contains(SECURITY_TOKEN), "{}", e.error_msg);

    let exchange = &emulator.exchanges()[0];
    assert_eq!(exchange.verdict, Verdict::Rejected);
    let canonical = exchange.canonical_request.as_ref().unwrap();
    assert!(canonical.as_str().contains(SECURITY_TOKEN));
    let signature = signature_of(exchange);
    for shown in [
        format!("{exchange:?}"),
        format!("{canonical}"),
        exchange.reason.clone(),
        exchange.log_line(),
    ] {
        assert!(!shown.contains(SECURITY_TOKEN), "{shown}");
        assert!(!shown.contains(&signature), "{shown}");
    }
}

/// Sends a request signed by our signer (SDK-HMAC-SHA256, the demo keys), then tampered by
/// `tamper`, over a raw socket.
async fn send_tampered(
    emulator: &RunningEmulator,
    tamper: impl FnOnce(&mut String, &mut Vec<(String, String)>, &mut Vec<u8>),
) -> (u16, String) {
    let demo = (DEMO_ACCESS_KEY, DEMO_SECRET_KEY);
    send_tampered_with(emulator, Algorithm::HmacSha256, demo, tamper).await
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .unwrap()
        .1 = value.to_owned();
}

#[tokio::test]
async fn tampering_after_signing_is_refused() {
    let emulator = start().await;
    let (status, _) = send_tampered(&emulator, |_, _, _| {}).await;
    assert_eq!(status, 200, "the untampered request must pass");
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "body",
            Box::new(|_, _, b| *b = br#"{"image_type": "shared_image"}"#.to_vec()),
        ),
        (
            "query",
            Box::new(|t, _, _| {
                *t = t.replace("enterprise_project_id=0", "enterprise_project_id=1")
            }),
        ),
        (
            "path",
            Box::new(|t, h, _| {
                *t = t.replace("/v5/", "/v5/x");
                let p = h
                    .iter()
                    .find(|(n, _)| n == "X-Project-Id")
                    .unwrap()
                    .1
                    .clone();
                set(h, "X-Project-Id", &format!("x{p}"));
            }),
        ),
        (
            "signed header",
            Box::new(|_, h, _| set(h, "Content-Type", "application/json; charset=utf-8")),
        ),
        (
            "date",
            Box::new(|_, h, _| {
                let d = h.iter().find(|(n, _)| n == "X-Sdk-Date").unwrap().1.clone();
                let t = signer::sdk_date::parse(&d).unwrap() + Duration::from_secs(1);
                set(h, "X-Sdk-Date", &signer::sdk_date::format(t).unwrap());
            }),
        ),
        (
            "missing authorization",
            Box::new(|_, h, _| h.retain(|(n, _)| n != "Authorization")),
        ),
        (
            "unsigned x-sdk-date",
            Box::new(|_, h, _| {
                let a = h
                    .iter()
                    .find(|(n, _)| n == "Authorization")
                    .unwrap()
                    .1
                    .replace(";x-sdk-date", "");
                set(h, "Authorization", &a);
            }),
        ),
    ];
    for (name, tamper) in cases {
        let (status, response) = send_tampered(&emulator, tamper).await;
        assert_eq!(status, 401, "{name}: {response}");
        assert!(response.contains("APIG.0301"), "{name}: {response}");
        assert!(
            response.to_ascii_lowercase().contains("x-request-id:"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn invalid_requests_get_400_and_unknown_paths_404() {
    let emulator = start().await;
    for (body, code) in [
        (r#"{"image_type": "public_image"}"#, "HSS.0001"),
        ("not json", "HSS.0002"),
        ("[1]", "HSS.0002"),
    ] {
        let (status, response) = send_signed(
            &emulator,
            "POST",
            &format!("/v5/{}/image/synchronize", emulator.project_id()),
            body,
        )
        .await;
        assert_eq!(status, 400, "{body}: {response}");
        assert!(response.contains(code), "{body}: {response}");
    }
    for (method, path) in [
        ("POST", "/v5/p/image/other"),
        ("GET", "/v5/p/image/synchronize"),
        ("POST", "/"),
    ] {
        let (status, response) = send_signed(
            &emulator,
            method,
            path,
            r#"{"image_type": "private_image"}"#,
        )
        .await;
        assert_eq!(status, 404, "{method} {path}: {response}");
        assert!(response.contains("APIG.0101"));
    }
}

/// The seed call (a private-image sync of the emulator's project), signed now, over a raw
/// socket.
async fn send_sync(emulator: &RunningEmulator) -> (u16, String) {
    let path = format!("/v5/{}/image/synchronize", emulator.project_id());
    send_signed(
        emulator,
        "POST",
        &path,
        r#"{"image_type": "private_image"}"#,
    )
    .await
}

async fn send_signed(
    emulator: &RunningEmulator,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    send_signed_at(emulator, method, path, body, SystemTime::now()).await
}

async fn send_signed_at(
    emulator: &RunningEmulator,
    method: &str,
    path: &str,
    body: &str,
    at: SystemTime,
) -> (u16, String) {
    let host = emulator.addr().to_string();
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let signable = SignableRequest {
        method,
        host: &host,
        path,
        query: &[],
        headers: &headers,
        body: body.as_bytes(),
    };
    let sk = SecretString::from(hss_image_sync::emulator::DEMO_SECRET_KEY);
    let signed = signer::sign(
        &signable,
        hss_image_sync::emulator::DEMO_ACCESS_KEY,
        &sk,
        at,
    )
    .unwrap();
    send_raw(
        &host,
        method,
        &signed.uri,
        &pairs(&signed.headers),
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn scripted_answers_and_faults_reach_the_caller_as_the_right_errors() {
    let emulator = start().await;
    // Wide slack for a loaded machine: only the timeout case uses a short timeout, against a
    // delay far longer than it.
    let client = emulator
        .client_builder()
        .no_retry()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let impatient = emulator
        .client_builder()
        .no_retry()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();

    emulator.push(Action::status(503));
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 503 && e.error_code == "APIG.503"),
        "{err:?}"
    );

    emulator.push(Action::too_many_requests_after(7));
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 429 && e.error_code == "APIG.0308"),
        "{err:?}"
    );

    emulator.push(Action::non_json(
        502,
        "text/html",
        "<html>Bad Gateway</html>",
    ));
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::Service(e) = &err else {
        panic!("{err:?}")
    };
    // The status, request ID and raw body survive a non-JSON answer, as in the official SDKs.
    assert_eq!(
        (e.status, e.error_code.as_str(), e.error_msg.as_str()),
        (502, "502", "<html>Bad Gateway</html>")
    );
    assert_eq!(
        e.request_id.as_deref(),
        Some(emulator.exchanges()[2].request_id.as_str())
    );
    assert!(!e.is_client_error());

    emulator.push(Action::json(
        200,
        r#"{"error_code":1,"error_description":"busy"}"#,
    ));
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::NonZeroErrorCode {
        error_code,
        description,
        request_id,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*error_code, description.as_str()), (1, "busy"));
    assert_eq!(
        request_id.as_deref(),
        Some(emulator.exchanges()[3].request_id.as_str())
    );

    emulator.push(Action::Reset);
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Transport { .. }), "{err:?}");

    emulator.push(Action::TruncatedBody);
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport { .. } | Error::InvalidResponse { .. }
        ),
        "{err:?}"
    );

    emulator.push(Action::Delay(Duration::from_secs(3600)));
    let err = impatient
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );

    // Nothing scripted is left, and none of it counted as a synchronization.
    assert_eq!(emulator.pending_actions(), 0);
    assert!(emulator.state().projects.is_empty());
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let verdicts: Vec<Verdict> = emulator.exchanges().iter().map(|e| e.verdict).collect();
    assert_eq!(
        verdicts.iter().filter(|v| **v == Verdict::Scripted).count(),
        6
    );
    assert_eq!(verdicts.last(), Some(&Verdict::Accepted));
}

/// Many concurrent clients: every good request accepted, every bad one refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_load_keeps_every_verdict_right() {
    const REQUESTS: usize = 600;
    let emulator = start().await;
    let good = emulator.client_builder().build().unwrap();
    let bad = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(
            Credentials::new(hss_image_sync::emulator::DEMO_ACCESS_KEY, "wrong")
                .with_project_id(emulator.project_id()),
        )
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let client = if i % 10 == 0 {
            bad.clone()
        } else {
            good.clone()
        };
        tasks.spawn(async move {
            (
                i % 10 == 0,
                client
                    .run_image_synchronize(ImageType::PrivateImage, |op| op)
                    .await,
            )
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (is_bad, result) = joined.unwrap();
        match (is_bad, result) {
            (false, Ok(_)) => {}
            (true, Err(Error::Service(e))) if e.status == 401 => {}
            (is_bad, other) => panic!("bad={is_bad}: {other:?}"),
        }
    }
    let exchanges = emulator.exchanges();
    assert_eq!(exchanges.len(), REQUESTS);
    let accepted = exchanges
        .iter()
        .filter(|e| e.verdict == Verdict::Accepted)
        .count();
    assert_eq!(accepted, REQUESTS - REQUESTS / 10);
    let state = emulator.state();
    assert_eq!(
        state
            .sync_record(emulator.project_id(), ImageType::PrivateImage)
            .unwrap()
            .count as usize,
        accepted
    );
}

/// The README's downstream example, run for real.
mod readme_example {
    use hss_image_sync::emulator::{Action, Emulator, Verdict};
    use hss_image_sync::types::ImageType;
    use hss_image_sync::{Error, HssClient};

    async fn sync_everything(client: &HssClient) -> usize {
        let mut done = 0;
        for image_type in [ImageType::PrivateImage, ImageType::SharedImage] {
            match client.run_image_synchronize(image_type, |op| op).await {
                Ok(_) => done += 1,
                Err(Error::Service(e)) => eprintln!("HSS said {} {}", e.status, e.error_code),
                Err(other) => eprintln!("{other}"),
            }
        }
        done
    }

    #[tokio::test]
    async fn survives_throttling_and_reports_server_errors() {
        let emulator = Emulator::new().start().await.unwrap();
        let client = emulator.client_builder().build().unwrap();
        emulator.push(Action::too_many_requests_after(1));
        assert_eq!(sync_everything(&client).await, 2);
        emulator.push(Action::error(403, "HSS.1005", "no permission")); // not retried
        assert_eq!(sync_everything(&client).await, 1);

        use Verdict::*;
        let verdicts: Vec<Verdict> = emulator.exchanges().iter().map(|e| e.verdict).collect();
        assert_eq!(verdicts, [Scripted, Accepted, Accepted, Scripted, Accepted]);
        let state = emulator.state();
        assert_eq!(
            state
                .sync_record(emulator.project_id(), ImageType::PrivateImage)
                .unwrap()
                .count,
            1
        );
        assert_eq!(
            state
                .sync_record(emulator.project_id(), ImageType::SharedImage)
                .unwrap()
                .count,
            2
        );
    }
}

/// An accepted call's answer, as bytes: the documented success body, `Content-Type`, a `Date`
/// of now and a fresh 32-hex-digit `X-Request-Id` each time.
#[tokio::test]
async fn an_accepted_call_is_answered_with_the_success_body_date_and_a_new_request_id() {
    let emulator = start().await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..50 {
        let before = SystemTime::now() - Duration::from_secs(1);
        let (status, response) = send_sync(&emulator).await;
        assert_eq!(status, 200, "{response}");
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, r#"{"error_code":0,"error_description":"success"}"#);
        let header = |name: &str| {
            head.lines()
                .find_map(|line| {
                    let (n, v) = line.split_once(": ")?;
                    n.eq_ignore_ascii_case(name).then(|| v.to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} in {head}"))
        };
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("content-length"), body.len().to_string());
        let date = httpdate::parse_http_date(&header("date")).unwrap();
        assert!(date >= before && date <= SystemTime::now(), "{head}");
        let id = header("x-request-id");
        assert!(
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{id}"
        );
        assert!(ids.insert(id.clone()), "request ID {id} repeated");
    }
}

/// Sends one HTTP/1.1 request over a raw socket (headers exactly as given) and returns the
/// status and the whole response text.
async fn send_raw(
    host: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    (response[9..12].parse().unwrap(), response)
}

/// The signed headers as name/value pairs.
fn pairs(headers: &[signer::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

/// Sends raw bytes on a new connection and reads until the emulator closes it or `wait` runs
/// out: `Some(what it sent back)` if it closed (or reset) the connection, `None` if still open.
async fn answer_then_close(addr: &str, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_until_closed(&mut stream, wait).await
}

async fn read_until_closed(stream: &mut tokio::net::TcpStream, wait: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| answer)
}

/// Every error in `error`'s source chain, as text.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(" <- ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Item 12: a `SignedHeaders` naming one big header 2,000 times made a canonical request (and
/// a 401 quoting it) of 40 MB from a 33 KB request. It is refused before any canonical request
/// is built, as are more names than a request can carry.
#[tokio::test]
async fn a_header_signed_two_thousand_times_is_refused_without_amplification() {
    let emulator = start().await;
    let big = "a".repeat(20_000);
    let (status, response) = send_tampered(&emulator, move |_, h, _| {
        h.push(("X-Big".into(), big));
        let a = h
            .iter()
            .find(|(n, _)| n == "Authorization")
            .unwrap()
            .1
            .clone();
        let a = a.replace(
            "SignedHeaders=",
            &format!("SignedHeaders={}", "x-big;".repeat(2000)),
        );
        set(h, "Authorization", &a);
    })
    .await;
    assert_eq!(status, 401, "{}", &response[..response.len().min(2000)]);
    assert!(response.len() < 4096, "a {} byte answer", response.len());
    assert!(response.contains("APIG.0301"), "{response}");
    assert!(
        response.contains("SignedHeaders lists 2004 names, more than 100"),
        "{response}"
    );
    let exchange = emulator.exchanges().pop().unwrap();
    assert!(exchange.canonical_request.is_none());
    assert!(exchange.reason.len() < 512, "{}", exchange.reason);

    // A name given twice, even among few, is refused too.
    let big = "a".repeat(20_000);
    let (status, response) = send_tampered(&emulator, move |_, h, _| {
        h.push(("X-Big".into(), big));
        let a = h
            .iter()
            .find(|(n, _)| n == "Authorization")
            .unwrap()
            .1
            .clone();
        let a = a.replace("SignedHeaders=", "SignedHeaders=x-big;x-big;");
        set(h, "Authorization", &a);
    })
    .await;
    assert_eq!(status, 401, "{}", &response[..response.len().min(2000)]);
    assert!(response.len() < 4096, "a {} byte answer", response.len());
    assert!(response.contains(r#"\"x-big\" twice"#), "{response}");
    assert!(
        emulator
            .exchanges()
            .pop()
            .unwrap()
            .canonical_request
            .is_none()
    );
}

/// Item 12: a refusal quotes at most 8 KiB of the canonical request, and says it cut it.
#[tokio::test]
async fn a_refusal_quotes_at_most_8_kib_of_the_canonical_request() {
    let emulator = start().await;
    let host = emulator.addr().to_string();
    let path = format!("/v5/{}/image/synchronize", emulator.project_id());
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-Big".to_owned(), "b".repeat(20_000)),
    ];
    let body = br#"{"image_type": "private_image"}"#;
    let signable = SignableRequest {
        method: "POST",
        host: &host,
        path: &path,
        query: &[],
        headers: &headers,
        body,
    };
    let wrong = SecretString::from("wrong-secret");
    let signed = signer::sign(
        &signable,
        hss_image_sync::emulator::DEMO_ACCESS_KEY,
        &wrong,
        SystemTime::now(),
    )
    .unwrap();
    let (status, response) =
        send_raw(&host, "POST", &signed.uri, &pairs(&signed.headers), body).await;
    assert_eq!(status, 401, "{}", &response[..response.len().min(2000)]);
    assert!(
        response.len() < 12 * 1024,
        "a {} byte answer",
        response.len()
    );
    assert!(
        response.contains(&format!(
            "verify aksk signature fail, canonicalRequest:POST|{path}/|"
        )),
        "{response}"
    );
    assert!(response.contains("...(cut: 8192 of "), "{response}");
    // The exchange keeps the whole canonical request.
    let exchange = emulator.exchanges().pop().unwrap();
    let canonical = exchange.canonical_request.unwrap();
    assert!(canonical.as_str().contains(&"b".repeat(20_000)));
}

/// Item 16: a malformed chunked body was answered 413 "too large". It is a 400; 413 is for a
/// body over the limit (refused at once when its declared length is).
#[tokio::test]
async fn a_malformed_body_is_a_400_and_only_an_oversized_one_a_413() {
    let emulator = start().await;
    let addr = emulator.addr().to_string();
    let head = |extra: &str| {
        format!(
            "POST /v5/{}/image/synchronize HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n",
            emulator.project_id()
        )
    };
    let wait = Duration::from_secs(30);
    for (name, request) in [
        (
            "bad chunk size",
            format!(
                "{}ZZ\r\nxx\r\n0\r\n\r\n",
                head("Transfer-Encoding: chunked\r\n")
            ),
        ),
        (
            "chunk longer than its size",
            format!(
                "{}2\r\nxxxxxxxx\r\n0\r\n\r\n",
                head("Transfer-Encoding: chunked\r\n")
            ),
        ),
    ] {
        let answer = answer_then_close(&addr, request.as_bytes(), wait)
            .await
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{name}: {answer}");
        assert!(answer.contains("APIG.0201"), "{name}: {answer}");
    }
    let oversized = head("Content-Length: 2000000\r\n");
    let answer = answer_then_close(&addr, oversized.as_bytes(), wait)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let statuses: Vec<u16> = emulator.exchanges().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [400, 400, 413]);
}

/// Item 16: any clock offset, however absurd, answers (the clock stops at 1970 or 9999) instead
/// of panicking in the `Date` header. (Offsets beyond `SystemTime` leave the clock unshifted:
/// `tests/faults.rs`, `extreme_settings_do_not_panic`.)
#[tokio::test]
async fn any_clock_offset_answers_without_panicking() {
    for offset in [
        300_000_000_000,
        -2_000_000_000,
        253_402_300_799,
        -253_402_300_799,
    ] {
        let emulator = Emulator::new()
            .clock_offset_secs(offset)
            .start()
            .await
            .unwrap();
        let (status, response) = send_sync(&emulator).await;
        assert_eq!(status, 401, "offset {offset}: {response}");
        assert!(response.contains("signature expired"), "{response}");
        let year = if offset > 0 { "9999" } else { "1970" };
        assert!(
            response.contains(&format!("server time:{year}")),
            "offset {offset}: {response}"
        );
        assert!(response.to_ascii_lowercase().contains("\r\ndate: "));
    }
}

/// The limits take any value without panicking: timeouts too long to be a point in time
/// simply never expire.
#[tokio::test]
async fn extreme_limits_do_not_panic() {
    let emulator = Emulator::new()
        .header_read_timeout(Duration::MAX)
        .body_read_timeout(Duration::MAX)
        .idle_timeout(Duration::MAX)
        .max_connections(usize::MAX)
        .exchange_log_limit(usize::MAX)
        .start()
        .await
        .unwrap();
    let client = emulator.client_builder().build().unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let tiny = Emulator::new()
        .header_read_timeout(Duration::ZERO)
        .max_connections(0)
        .start()
        .await
        .unwrap();
    let addr = tiny.addr().to_string();
    let answer = answer_then_close(&addr, b"", Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref(), Some(&b""[..]), "closed at once");
    assert_eq!(emulator.exchanges().len(), 2);
}

/// Item 13: the log keeps the latest exchanges only, each request body cut to 4 KiB.
#[tokio::test]
async fn the_exchange_log_is_bounded_and_cuts_bodies() {
    use hss_image_sync::emulator::{DEFAULT_LOGGED_EXCHANGES, LOGGED_BODY_BYTES};
    assert_eq!(DEFAULT_LOGGED_EXCHANGES, 10_000);
    let emulator = Emulator::new().exchange_log_limit(3).start().await.unwrap();
    let path = format!("/v5/{}/image/synchronize", emulator.project_id());
    for i in 0..5 {
        let body = format!("{i}{}", "x".repeat(99_999));
        let (status, response) = send_signed(&emulator, "POST", &path, &body).await;
        assert_eq!(status, 400, "{response}"); // not JSON
    }
    let exchanges = emulator.exchanges();
    assert_eq!(exchanges.len(), 3);
    for (exchange, i) in exchanges.iter().zip(2..) {
        assert_eq!(exchange.body_len, 100_000);
        assert_eq!(exchange.request.body.len(), LOGGED_BODY_BYTES);
        assert_eq!(exchange.request.body[0], b'0' + i);
        assert_eq!(exchange.verdict, Verdict::Rejected);
    }
    // Verified on the whole body all the same: a signed 100 KB body passes the signature check.
    assert_eq!(exchanges[2].error_code.as_deref(), Some("HSS.0002"));

    let none = Emulator::new().exchange_log_limit(0).start().await.unwrap();
    none.client_builder()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert!(none.exchanges().is_empty());
    assert_eq!(
        none.state()
            .sync_record(none.project_id(), ImageType::PrivateImage)
            .unwrap()
            .count,
        1
    );
}

/// Item 14: a request head sent in part, or not at all, or a byte at a time, kept a
/// connection open forever. It is closed once the header timeout has passed.
#[tokio::test]
async fn a_slow_or_missing_request_head_is_closed_after_the_header_timeout() {
    let emulator = Emulator::new()
        .header_read_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let addr = emulator.addr().to_string();
    let wait = Duration::from_secs(10);
    let half = format!(
        "POST /v5/{}/image/synchronize HTTP/1.1\r\nHost: {addr}\r\nContent-Ty",
        emulator.project_id()
    );
    let answer = answer_then_close(&addr, half.as_bytes(), wait).await;
    assert_eq!(answer.as_deref(), Some(&b""[..]), "half a head: {answer:?}");
    let answer = answer_then_close(&addr, b"", wait).await;
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "nothing sent: {answer:?}"
    );

    // One byte every 100 ms: the head's time counts from its first byte, not from the last.
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in half.bytes().cycle().take(100) {
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        if read_until_closed(&mut stream, Duration::from_millis(100))
            .await
            .is_some()
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a trickled head still open after {:?}",
        started.elapsed()
    );
    assert!(emulator.exchanges().is_empty());
}

/// Item 14: an idle keep-alive connection is closed after the idle timeout, which is separate
/// from the header timeout.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let addr_of = |e: &RunningEmulator| e.addr().to_string();
    let request =
        |addr: &str| format!("GET /_emulator/state HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    let emulator = Emulator::new()
        .idle_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let addr = addr_of(&emulator);
    let started = std::time::Instant::now();
    let answer = answer_then_close(&addr, &request(&addr), Duration::from_secs(10))
        .await
        .expect("an idle connection still open after 10 s");
    assert!(answer.starts_with(b"HTTP/1.1 200 "));
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A short header timeout does not cut an idle connection short.
    let emulator = Emulator::new()
        .header_read_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let addr = addr_of(&emulator);
    let answer = answer_then_close(&addr, &request(&addr), Duration::from_secs(3)).await;
    assert_eq!(
        answer, None,
        "closed while idle for less than the idle timeout"
    );
}

/// Item 14: a body that stops coming is answered 408 once the body timeout has passed, and the
/// connection closed.
#[tokio::test]
async fn a_body_that_stops_coming_gets_a_408() {
    let emulator = Emulator::new()
        .body_read_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let addr = emulator.addr().to_string();
    let request = format!(
        "POST /v5/{}/image/synchronize HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\n\
         {{\"image_ty",
        emulator.project_id()
    );
    let answer = answer_then_close(&addr, request.as_bytes(), Duration::from_secs(10))
        .await
        .expect("still open after 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("APIG.0201"), "{answer}");
    let exchange = emulator.exchanges().pop().unwrap();
    assert_eq!(
        (exchange.status, exchange.verdict),
        (408, Verdict::Rejected)
    );
}

/// Item 14: at the connection cap, the connection idle the longest makes room: 100 silent
/// connections against a cap of 20 do not lock out a signed call, and most are closed.
#[tokio::test]
async fn beyond_max_connections_the_longest_idle_connection_makes_room() {
    let emulator = Emulator::new().max_connections(20).start().await.unwrap();
    let addr = emulator.addr().to_string();
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let client = emulator
        .client_builder()
        .no_retry()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();

    let mut reads = tokio::task::JoinSet::new();
    for mut stream in silent {
        reads.spawn(async move {
            read_until_closed(&mut stream, Duration::from_secs(5))
                .await
                .is_some()
        });
    }
    let closed = reads.join_all().await.into_iter().filter(|c| *c).count();
    assert!(closed >= 80, "{closed} of 100 silent connections closed");

    // With every connection busy (a scripted delay), the next one waits for room.
    let emulator = Emulator::new().max_connections(1).start().await.unwrap();
    let client = emulator
        .client_builder()
        .no_retry()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    emulator.push(Action::Delay(Duration::from_millis(500)));
    let first = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .run_image_synchronize(ImageType::PrivateImage, |op| op)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(emulator.exchanges().len(), 2);
}

/// Item 17: a signed call over https, trusting the CA the emulator made at start.
#[tokio::test]
async fn https_with_the_ca_the_emulator_made() {
    let emulator = Emulator::new().tls(true).start().await.unwrap();
    let endpoint = emulator.endpoint();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let pem = emulator.ca_certificate_pem().unwrap().to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));

    emulator
        .client_builder()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    // The same with a client configured by hand.
    HssClient::builder()
        .endpoint(&endpoint)
        .credentials(emulator.credentials())
        .add_root_certificates_pem(pem.clone())
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::SharedImage, |op| op)
        .await
        .unwrap();
    let exchanges = emulator.exchanges();
    assert_eq!(exchanges.len(), 2);
    assert!(exchanges.iter().all(|e| e.verdict == Verdict::Accepted));

    // Each start makes another CA.
    let other = Emulator::new().tls(true).start().await.unwrap();
    assert_ne!(other.ca_certificate_pem(), Some(pem.as_str()));
    // Plain http to the https port gets no HTTP answer.
    let addr = emulator.addr().to_string();
    let plain = format!("GET /_emulator/state HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let answer = answer_then_close(&addr, plain.as_bytes(), Duration::from_secs(10))
        .await
        .expect("still open after 10 s");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert_eq!(emulator.exchanges().len(), 2);
}

/// Item 17: a client that does not trust the emulator's CA refuses its certificate: a
/// connect error naming the certificate problem, after a bounded number of attempts.
#[tokio::test]
async fn https_refuses_a_certificate_from_an_unknown_ca() {
    let emulator = Emulator::new().tls(true).start().await.unwrap();
    let client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(emulator.credentials())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    // A transport error (of the connect or TLS kind), not retried beyond the policy's 3
    // attempts.
    let Error::Transport { kind, attempts, .. } = &err else {
        panic!("{err:?}")
    };
    assert_ne!(*kind, TransportKind::Timeout, "{err:?}");
    assert!((1..=3).contains(attempts), "{attempts} attempts");
    eprintln!("refused after {attempts} attempt(s): {err}");
    let text = chain(&err);
    assert!(
        text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
        "{text}"
    );
    assert!(emulator.exchanges().is_empty());
}

/// Item 17: a certificate that does not name the host connected to is refused, even from a
/// trusted CA.
#[tokio::test]
async fn https_refuses_a_certificate_for_another_name() {
    let emulator = Emulator::new()
        .tls_server_names(["localhost"])
        .start()
        .await
        .unwrap();
    assert!(emulator.endpoint().starts_with("https://127.0.0.1:"));
    let err = emulator
        .client_builder()
        .no_retry()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport { kind, .. } if *kind != TransportKind::Timeout),
        "{err:?}"
    );
    let text = chain(&err);
    assert!(
        text.contains("invalid peer certificate") && text.contains("not valid for name"),
        "{text}"
    );
    assert!(emulator.exchanges().is_empty());

    // The same CA setup, for the name connected to, is accepted.
    let emulator = Emulator::new()
        .tls_server_names(["127.0.0.1"])
        .start()
        .await
        .unwrap();
    emulator
        .client_builder()
        .no_retry()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
}

/// Item 14 over https: a TLS handshake that never comes is closed after the header timeout.
#[tokio::test]
async fn https_a_stalled_handshake_is_closed_after_the_header_timeout() {
    let emulator = Emulator::new()
        .tls(true)
        .header_read_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let addr = emulator.addr().to_string();
    for start in [&b""[..], &b"\x16\x03\x01\x02\x00\x01"[..]] {
        let answer = answer_then_close(&addr, start, Duration::from_secs(10)).await;
        assert!(answer.is_some(), "{start:?}: still open after 10 s");
    }
}

// ================================================================================================
// Every signing algorithm of the official SDKs: SDK-HMAC-SHA256, SDK-HMAC-SM3, V11-HMAC-SHA256,
// SDK-ECDSA-P256-SHA256 and SDK-SM2-SM3, verified by the emulator as the gateway would.
// ================================================================================================

use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_SECRET_KEY};
use hss_image_sync::signer::{Algorithm, SigningParams};

/// A client of `emulator` signing with `algorithm`, with the emulator's region (V11's scope).
fn client_with(emulator: &RunningEmulator, algorithm: Algorithm) -> HssClient {
    HssClient::builder()
        .endpoint(emulator.endpoint())
        .region(emulator.region())
        .credentials(emulator.credentials())
        .signing_algorithm(algorithm)
        .no_retry()
        .build()
        .unwrap()
}

/// The last exchange's verdict and the algorithm it recorded.
fn last_auth(emulator: &RunningEmulator) -> (Verdict, &'static str) {
    let exchange = emulator.exchanges().pop().unwrap();
    (exchange.verdict, exchange.auth)
}

#[tokio::test]
async fn every_algorithm_the_client_signs_with_is_accepted_and_recorded() {
    for token in [None, Some(SECURITY_TOKEN)] {
        let mut emulator = Emulator::new();
        if let Some(token) = token {
            emulator = emulator.security_token(token);
        }
        let emulator = emulator.start().await.unwrap();
        for algorithm in Algorithm::ALL {
            let done = client_with(&emulator, algorithm)
                .run_image_synchronize(ImageType::PrivateImage, |op| op.enterprise_project_id("0"))
                .await
                .unwrap_or_else(|e| panic!("{algorithm}, token {token:?}: {e}"));
            assert_eq!(done.attempts, 1);
            let exchange = emulator.exchanges().pop().unwrap();
            assert_eq!(
                (exchange.verdict, exchange.auth),
                (Verdict::Accepted, algorithm.name()),
                "{}",
                exchange.log_line()
            );
            assert!(
                exchange
                    .log_line()
                    .contains(&format!(" accepted auth={algorithm} "))
            );
            let authorization = exchange.request.header("authorization").unwrap();
            assert!(
                authorization.starts_with(&format!("{algorithm} ")),
                "{authorization}"
            );
            if algorithm == Algorithm::V11HmacSha256 {
                assert!(
                    authorization.contains("/cn-north-4/hss, SignedHeaders="),
                    "{authorization}"
                );
            }
        }
        let record = emulator.state();
        let record = record
            .sync_record(emulator.project_id(), ImageType::PrivateImage)
            .unwrap();
        assert_eq!(record.count, 5);
    }
}

/// `.derived_signing()`: 127.0.0.1 is not a standard cloud host, so the SDKs' default predicate
/// (and the client's) signs with V11-HMAC-SHA256 whatever algorithm is configured; the scope is
/// the client's region and `hss`, which the emulator accepts by default.
#[tokio::test]
async fn derived_signing_against_the_emulator_uses_v11_and_is_accepted() {
    let emulator = start().await;
    for configured in [None, Some(Algorithm::Sm2Sm3), Some(Algorithm::HmacSm3)] {
        let mut builder = HssClient::builder()
            .endpoint(emulator.endpoint())
            .region("cn-north-4")
            .credentials(emulator.credentials())
            .derived_signing();
        if let Some(algorithm) = configured {
            builder = builder.signing_algorithm(algorithm);
        }
        builder
            .build()
            .unwrap()
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_or_else(|e| panic!("{configured:?}: {e}"));
        assert_eq!(
            last_auth(&emulator),
            (Verdict::Accepted, "V11-HMAC-SHA256"),
            "{configured:?}"
        );
    }
}

#[tokio::test]
async fn every_algorithm_refuses_a_wrong_secret_key() {
    let emulator = start().await;
    for algorithm in Algorithm::ALL {
        let client = HssClient::builder()
            .endpoint(emulator.endpoint())
            .region(emulator.region())
            .credentials(Credentials::new(DEMO_ACCESS_KEY, "wrong-secret").with_project_id("p1"))
            .signing_algorithm(algorithm)
            .no_retry()
            .build()
            .unwrap();
        let err = client
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_err();
        let Error::Service(e) = &err else {
            panic!("{algorithm}: {err:?}")
        };
        assert_eq!(
            (e.status, e.error_code.as_str()),
            (401, "APIG.0301"),
            "{algorithm}"
        );
        assert!(
            e.error_msg.contains(
                "verify aksk signature fail, canonicalRequest:POST|/v5/p1/image/synchronize/|"
            ),
            "{algorithm}: {}",
            e.error_msg
        );
        // The rejection records the algorithm tried.
        assert_eq!(
            last_auth(&emulator),
            (Verdict::Rejected, algorithm.name()),
            "{algorithm}"
        );
    }
}

/// Like `send_tampered`, signed with `algorithm` (V11 for the emulator's scope) and with the AK
/// and SK given.
async fn send_tampered_with(
    emulator: &RunningEmulator,
    algorithm: Algorithm,
    (ak, sk): (&str, &str),
    tamper: impl FnOnce(&mut String, &mut Vec<(String, String)>, &mut Vec<u8>),
) -> (u16, String) {
    let host = emulator.addr().to_string();
    let project = emulator.project_id().to_owned();
    let path = format!("/v5/{project}/image/synchronize");
    let query = vec![("enterprise_project_id".to_owned(), "0".to_owned())];
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-Project-Id".to_owned(), project.clone()),
    ];
    let mut body = br#"{"image_type": "private_image"}"#.to_vec();
    let signable = SignableRequest {
        method: "POST",
        host: &host,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let sk = SecretString::from(sk);
    let params = SigningParams::new(algorithm, ak, &sk, SystemTime::now())
        .with_scope(emulator.region(), emulator.service());
    let signed = signer::sign_with(&signable, &params).unwrap();
    let mut target = signed.uri.clone();
    let mut headers = pairs(&signed.headers);
    tamper(&mut target, &mut headers, &mut body);
    send_raw(&host, "POST", &target, &headers, &body).await
}

type Tamper = Box<dyn FnOnce(&mut String, &mut Vec<(String, String)>, &mut Vec<u8>)>;

#[tokio::test]
async fn every_algorithm_refuses_a_tampered_body_header_query_or_date() {
    let emulator = start().await;
    let demo = (DEMO_ACCESS_KEY, DEMO_SECRET_KEY);
    for algorithm in Algorithm::ALL {
        let (status, response) = send_tampered_with(&emulator, algorithm, demo, |_, _, _| {}).await;
        assert_eq!(status, 200, "{algorithm}, untampered: {response}");
        let cases: Vec<(&str, Tamper)> = vec![
            (
                "body",
                Box::new(|_, _, b| *b = br#"{"image_type": "shared_image"}"#.to_vec()),
            ),
            (
                "body, one byte",
                Box::new(|_, _, b| *b = br#"{"image_type": "private_image" }"#.to_vec()),
            ),
            (
                "signed header",
                Box::new(|_, h, _| set(h, "Content-Type", "application/json; charset=utf-8")),
            ),
            (
                "X-Project-Id",
                Box::new(|_, h, _| set(h, "X-Project-Id", "0e5d1c2b3a4f45e6a7b8c9d0e1f2a3b5")),
            ),
            (
                "query",
                Box::new(|t, _, _| {
                    *t = t.replace("enterprise_project_id=0", "enterprise_project_id=1")
                }),
            ),
            (
                "date",
                Box::new(|_, h, _| {
                    let d = h.iter().find(|(n, _)| n == "X-Sdk-Date").unwrap().1.clone();
                    let t = signer::sdk_date::parse(&d).unwrap() + Duration::from_secs(1);
                    set(h, "X-Sdk-Date", &signer::sdk_date::format(t).unwrap());
                }),
            ),
            (
                "signature",
                Box::new(|_, h, _| {
                    let a = h.iter().find(|(n, _)| n == "Authorization").unwrap();
                    let mut a = a.1.clone();
                    let last = if a.ends_with('0') { "1" } else { "0" };
                    a.pop();
                    a.push_str(last);
                    set(h, "Authorization", &a);
                }),
            ),
            (
                // The signature's algorithm relabelled as another one.
                "algorithm name",
                Box::new(move |_, h, _| {
                    let a = h.iter().find(|(n, _)| n == "Authorization").unwrap();
                    let other = if algorithm == Algorithm::HmacSha256 {
                        Algorithm::HmacSm3
                    } else {
                        Algorithm::HmacSha256
                    };
                    let a = a.1.replacen(algorithm.name(), other.name(), 1).replacen(
                        "Credential=",
                        "Access=",
                        1,
                    );
                    set(h, "Authorization", &a);
                }),
            ),
        ];
        for (name, tamper) in cases {
            let (status, response) = send_tampered_with(&emulator, algorithm, demo, tamper).await;
            assert_eq!(status, 401, "{algorithm}, {name}: {response}");
            assert!(
                response.contains("APIG.0301"),
                "{algorithm}, {name}: {response}"
            );
        }
    }
}

#[tokio::test]
async fn a_v11_scope_for_another_region_or_service_is_refused() {
    // The client's region is not the emulator's.
    let emulator = Emulator::new().region("eu-west-0").start().await.unwrap();
    assert_eq!(emulator.region(), "eu-west-0");
    let err = HssClient::builder()
        .endpoint(emulator.endpoint())
        .region("cn-north-4")
        .credentials(emulator.credentials())
        .derived_signing()
        .build()
        .unwrap()
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let Error::Service(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.error_code.as_str()), (401, "APIG.0301"));
    assert!(
        e.error_msg.contains(
            "credential scope region \"cn-north-4\" is not this endpoint's region eu-west-0"
        ),
        "{}",
        e.error_msg
    );
    assert_eq!(last_auth(&emulator), (Verdict::Rejected, "V11-HMAC-SHA256"));
    // With its region, accepted.
    client_with(&emulator, Algorithm::V11HmacSha256)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();

    // Another service: refused by default, accepted by an emulator serving that service.
    let apic = |emulator: &RunningEmulator| {
        HssClient::builder()
            .endpoint(emulator.endpoint())
            .region("cn-north-4")
            .derived_scope("cn-north-4", "apic")
            .credentials(emulator.credentials())
            .signing_algorithm(Algorithm::V11HmacSha256)
            .build()
            .unwrap()
    };
    let emulator = start().await;
    let err = apic(&emulator)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("credential scope service \"apic\" is not this endpoint's service hss"),
        "{err}"
    );
    let emulator = Emulator::new().service("apic").start().await.unwrap();
    apic(&emulator)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(last_auth(&emulator), (Verdict::Accepted, "V11-HMAC-SHA256"));
}

/// A V11 signature made with the key of another day's scope (correctly, for that scope) does not
/// pass for a request dated today.
#[tokio::test]
async fn a_v11_scope_for_another_day_is_refused() {
    use hmac::{KeyInit, Mac};
    use sha2::{Digest, Sha256};
    let emulator = start().await;
    let host = emulator.addr().to_string();
    let path = format!("/v5/{}/image/synchronize", emulator.project_id());
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let body = br#"{"image_type": "private_image"}"#;
    let signable = SignableRequest {
        method: "POST",
        host: &host,
        path: &path,
        query: &[],
        headers: &headers,
        body,
    };
    let sk = SecretString::from(DEMO_SECRET_KEY);
    let now = SystemTime::now();
    // The canonical request is V11's too (SHA-256, X-Sdk-Content-Sha256).
    let signed = signer::sign(&signable, DEMO_ACCESS_KEY, &sk, now).unwrap();
    let date = signer::sdk_date::format(now).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // V11 by hand (SIGNING.md 3.3), for the scope of the day `days` after the X-Sdk-Date's.
    let v11_for = |days: u64| {
        let day = signer::sdk_date::format(now + Duration::from_secs(days * 86_400)).unwrap();
        let info = format!("{}/cn-north-4/hss", &day[..8]);
        let string_to_sign = format!(
            "V11-HMAC-SHA256\n{date}\n{info}\n{}",
            hex(&Sha256::digest(
                signed.canonical_request.as_str().as_bytes()
            ))
        );
        let hkdf =
            hkdf::Hkdf::<Sha256>::new(Some(DEMO_ACCESS_KEY.as_bytes()), DEMO_SECRET_KEY.as_bytes());
        let mut okm = [0u8; 32];
        hkdf.expand(info.as_bytes(), &mut okm).unwrap();
        let mut mac =
            <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(hex(&okm).as_bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        let authorization = format!(
            "V11-HMAC-SHA256 Credential={DEMO_ACCESS_KEY}/{info}, SignedHeaders={}, Signature={}",
            signed.signed_headers,
            hex(&mac.finalize().into_bytes())
        );
        let mut headers = pairs(&signed.headers);
        set(&mut headers, "Authorization", &authorization);
        headers
    };
    // The hand-made signature is right for the X-Sdk-Date day's scope...
    let (status, response) = send_raw(&host, "POST", &signed.uri, &v11_for(0), body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(last_auth(&emulator), (Verdict::Accepted, "V11-HMAC-SHA256"));
    // ...and refused for the next day's.
    let (status, response) = send_raw(&host, "POST", &signed.uri, &v11_for(1), body).await;
    assert_eq!(status, 401, "{response}");
    assert!(
        response.contains(&format!("is not the x-sdk-date day {}", &date[..8])),
        "{response}"
    );
}

#[tokio::test]
async fn ecdsa_and_sm2_signatures_made_with_another_key_are_refused() {
    let emulator = start().await;
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Sm2Sm3] {
        // Signed with the key another AK derives (same SK), presented under the emulator's AK.
        let (status, response) = send_tampered_with(
            &emulator,
            algorithm,
            ("ANOTHERACCESSKEY0001", DEMO_SECRET_KEY),
            |_, h, _| {
                let a = h.iter().find(|(n, _)| n == "Authorization").unwrap();
                let a = a.1.replace(
                    "Access=ANOTHERACCESSKEY0001,",
                    &format!("Access={DEMO_ACCESS_KEY},"),
                );
                set(h, "Authorization", &a);
            },
        )
        .await;
        assert_eq!(status, 401, "{algorithm}: {response}");
        assert!(response.contains("verify aksk signature fail, canonicalRequest:"));
        // Signed with the key another SK derives (same AK).
        let (status, response) = send_tampered_with(
            &emulator,
            algorithm,
            (DEMO_ACCESS_KEY, "another-secret-key"),
            |_, _, _| {},
        )
        .await;
        assert_eq!(status, 401, "{algorithm}: {response}");
        assert_eq!(last_auth(&emulator), (Verdict::Rejected, algorithm.name()));
    }
    // An ECDSA signature presented as SM2, and the other way round: each curve refuses it.
    for (signed_with, presented_as) in [
        (Algorithm::EcdsaP256Sha256, Algorithm::Sm2Sm3),
        (Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256),
    ] {
        let (status, response) = send_tampered_with(
            &emulator,
            signed_with,
            (DEMO_ACCESS_KEY, DEMO_SECRET_KEY),
            move |_, h, _| {
                let a = h.iter().find(|(n, _)| n == "Authorization").unwrap();
                let a = a.1.replacen(signed_with.name(), presented_as.name(), 1);
                set(h, "Authorization", &a);
            },
        )
        .await;
        assert_eq!(status, 401, "{signed_with} as {presented_as}: {response}");
    }
}

/// SM2 keys whose public x or y is below 2^248 hash into `Z_A` unpadded in the official SDKs
/// (SIGNING.md 3.5); the emulator verifies with the SDKs' `Z_A`, so their signatures pass. The
/// keys are those of the recorded vectors `za-quirk-short-x` / `za-quirk-short-y`.
#[tokio::test]
async fn sm2_keys_hitting_the_sdks_z_a_quirk_are_accepted() {
    for ak in ["QUIRKAK0540", "QUIRKAK0863"] {
        let emulator = Emulator::new()
            .key_pair(ak, "QUIRKSK-sm2-za-search")
            .start()
            .await
            .unwrap();
        client_with(&emulator, Algorithm::Sm2Sm3)
            .run_image_synchronize(ImageType::PrivateImage, |op| op)
            .await
            .unwrap_or_else(|e| panic!("{ak}: {e}"));
        assert_eq!(last_auth(&emulator), (Verdict::Accepted, "SDK-SM2-SM3"));
    }
}

// The successor operations: registries, synchronization tasks and their registries.

mod tasks {
    use super::*;
    use futures_util::TryStreamExt;
    use hss_image_sync::types::{
        CreateImageSynchronizeTaskRequestInfo, RegistryInfo, RegistryRef, RegistryType, SyncStatus,
        TaskKind, TaskStatusFilter, TaskType,
    };

    fn every_registry() -> CreateImageSynchronizeTaskRequestInfo {
        CreateImageSynchronizeTaskRequestInfo {
            sync_all_registries: true,
            registry_info: vec![],
        }
    }

    fn listed(registries: &[(&str, RegistryType)]) -> CreateImageSynchronizeTaskRequestInfo {
        CreateImageSynchronizeTaskRequestInfo {
            sync_all_registries: false,
            registry_info: registries
                .iter()
                .map(|(id, kind)| RegistryRef {
                    registry_id: (*id).try_into().unwrap(),
                    registry_type: *kind,
                })
                .collect(),
        }
    }

    async fn tasks(client: &HssClient) -> Vec<types::ImageScanTaskInfo> {
        client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync))
            .await
            .unwrap()
            .value
            .data_list
    }

    async fn registries_of(client: &HssClient, task_id: &str) -> Vec<types::AssociateRegistry> {
        client
            .list_associate_registries(|op| op.task_id(task_id))
            .await
            .unwrap()
            .value
            .data_list
    }

    fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    #[tokio::test]
    async fn list_registry_gives_the_default_registries_and_filters_them() {
        let emulator = start().await;
        let client = emulator.client_builder().build().unwrap();
        let all = client.list_registry(|op| op).await.unwrap().value;
        assert_eq!(all.total_num, Some(3));
        let types: Vec<_> = all
            .data_list
            .iter()
            .map(|r| r.registry_type.as_deref().unwrap())
            .collect();
        assert_eq!(types, ["SwrPrivate", "SwrShared", "Harbor"]);
        for r in &all.data_list {
            assert!(r.id.is_some() && r.registry_name.is_some() && r.images_num.is_some());
            assert_eq!(r.status.as_deref(), Some("success"));
        }

        let harbor = client
            .list_registry(|op| op.registry_type("Harbor,Jfrog"))
            .await
            .unwrap()
            .value;
        assert_eq!(harbor.total_num, Some(1));
        assert_eq!(
            harbor.data_list[0].registry_name.as_deref(),
            Some("harbor-ci")
        );
        let swr = client
            .list_registry(|op| op.registry_name("swr"))
            .await
            .unwrap()
            .value;
        assert_eq!(swr.total_num, Some(2), "a fuzzy name match");
        let failing = client
            .list_registry(|op| op.status(types::RegistryStatus::Fail))
            .await
            .unwrap()
            .value;
        assert_eq!((failing.total_num, failing.data_list.len()), (Some(0), 0));
        let page = client
            .list_registry(|op| op.offset(2).limit(10))
            .await
            .unwrap()
            .value;
        assert_eq!((page.total_num, page.data_list.len()), (Some(3), 1));
    }

    #[tokio::test]
    async fn a_task_of_every_registry_runs_to_100_and_reports_each_registry() {
        let emulator = Emulator::new().task_seconds(1).start().await.unwrap();
        let client = emulator.client_builder().build().unwrap();
        let before = now_ms();
        let done = client
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
        assert!(done.request_id.is_some());

        let listed = tasks(&client).await;
        assert_eq!(listed.len(), 1);
        let task = &listed[0];
        assert_eq!(task.task_type.as_deref(), Some("manualSync"));
        assert!(
            task.begin_time.unwrap() >= before - 1000,
            "the emulator's clock, in ms"
        );
        assert!((0..100).contains(&task.task_status.unwrap()), "{task:?}");
        assert_eq!(task.end_time, None);
        assert_eq!(task.is_all, Some(true));
        let task_id = task.task_id.clone().unwrap();
        let running = registries_of(&client, &task_id).await;
        assert_eq!(running.len(), 3);
        assert!(
            running
                .iter()
                .all(|r| r.sync_status.as_deref() == Some("running"))
        );
        let scanning = client
            .list_image_scan_task(|op| {
                op.type_(TaskKind::ImageSync)
                    .task_status(TaskStatusFilter::Scanning)
            })
            .await
            .unwrap()
            .value;
        assert_eq!(scanning.total_num, Some(1));

        tokio::time::sleep(Duration::from_millis(1100)).await;
        let task = tasks(&client).await.remove(0);
        assert_eq!(task.task_status, Some(100));
        assert_eq!(task.end_time, Some(task.begin_time.unwrap() + 1000));
        assert_eq!(
            (task.success_num, task.failed_num, task.total_num),
            (Some(3), Some(0), Some(3))
        );
        let finished = registries_of(&client, &task_id).await;
        assert!(
            finished
                .iter()
                .all(|r| r.sync_status.as_deref() == Some("finished") && r.failed_reason.is_none())
        );
        // ListRegistry shows when each was last synchronized.
        let registries = client.list_registry(|op| op).await.unwrap().value;
        assert!(
            registries
                .data_list
                .iter()
                .all(|r| r.latest_sync_time == task.end_time)
        );
        let state = emulator.state();
        assert_eq!(state.tasks(emulator.project_id()).count(), 1);
    }

    #[tokio::test]
    async fn a_task_of_listed_registries_synchronizes_only_those() {
        let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
        let client = emulator.client_builder().build().unwrap();
        let registries = client.list_registry(|op| op).await.unwrap().value.data_list;
        let harbor = registries
            .iter()
            .find(|r| r.registry_type.as_deref() == Some("Harbor"))
            .and_then(|r| r.id.clone())
            .unwrap();
        client
            .create_image_synchronize_task(|op| {
                op.body(listed(&[
                    (&harbor, RegistryType::Harbor),
                    (&harbor, RegistryType::Harbor),
                ]))
            })
            .await
            .unwrap();
        let task = tasks(&client).await.remove(0);
        assert_eq!(
            task.task_status,
            Some(100),
            "task_seconds(0) ends it at once"
        );
        assert_eq!((task.total_num, task.is_all), (Some(1), Some(false)));
        let synced = registries_of(&client, task.task_id.as_deref().unwrap()).await;
        assert_eq!(synced.len(), 1);
        assert_eq!(synced[0].registry_id.as_deref(), Some(harbor.as_str()));
        assert_eq!(synced[0].sync_status.as_deref(), Some("finished"));
    }

    #[tokio::test]
    async fn a_failing_registry_fails_its_part_and_a_task_of_only_it_fails() {
        let registries = hss_image_sync::emulator::default_registries();
        let shared = registries[1].id.clone().unwrap();
        let emulator = Emulator::new()
            .task_seconds(0)
            .fail_registry(&shared)
            .start()
            .await
            .unwrap();
        let client = emulator.client_builder().build().unwrap();
        client
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
        let task = tasks(&client).await.remove(0);
        assert_eq!(task.task_status, Some(100));
        assert_eq!(
            (task.success_num, task.failed_num, task.total_num),
            (Some(2), Some(1), Some(3))
        );
        let task_id = task.task_id.unwrap();
        let failed = client
            .list_associate_registries(|op| op.task_id(&*task_id).sync_status(SyncStatus::Failed))
            .await
            .unwrap()
            .value;
        assert_eq!(failed.total_num, Some(1));
        assert_eq!(
            failed.data_list[0].registry_id.as_deref(),
            Some(shared.as_str())
        );
        assert!(
            failed.data_list[0]
                .failed_reason
                .as_deref()
                .is_some_and(|r| !r.is_empty())
        );

        client
            .create_image_synchronize_task(|op| {
                op.body(listed(&[(&shared, RegistryType::SwrShared)]))
            })
            .await
            .unwrap();
        let newest = tasks(&client).await.remove(0);
        assert_ne!(
            newest.task_id.as_deref(),
            Some(task_id.as_str()),
            "newest first"
        );
        assert_eq!(newest.task_status, Some(-3), "every registry failed");
        assert_eq!((newest.success_num, newest.failed_num), (Some(0), Some(1)));
    }

    #[tokio::test]
    async fn an_unknown_registry_or_task_is_an_invalid_parameter() {
        let emulator = start().await;
        let client = emulator.client_builder().build().unwrap();
        let err = client
            .create_image_synchronize_task(|op| {
                op.body(listed(&[("no-such-registry", RegistryType::Harbor)]))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Service(e) if e.status == 400 && e.error_code == "HSS.0001"
                && e.error_msg.contains("registry_id") && e.error_msg.contains("no-such-registry")),
            "{err:?}"
        );
        let err = client
            .create_image_synchronize_task(|op| op.body(listed(&[])))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Service(e) if e.status == 400 && e.error_msg.contains("registry_info")),
            "{err:?}"
        );
        let err = client
            .list_associate_registries(|op| op.task_id("no-such-task"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Service(e) if e.status == 400 && e.error_msg.contains("task_id")),
            "{err:?}"
        );
        assert_eq!(emulator.state().tasks(emulator.project_id()).count(), 0);
    }

    #[tokio::test]
    async fn task_listings_filter_and_page() {
        let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
        let client = &emulator.client_builder().build().unwrap();
        for _ in 0..12 {
            client
                .create_image_synchronize_task(|op| op.body(every_registry()))
                .await
                .unwrap();
        }
        let first = client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync).limit(10))
            .await
            .unwrap()
            .value;
        assert_eq!((first.total_num, first.data_list.len()), (Some(12), 10));
        let rest = client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync).offset(10).limit(10))
            .await
            .unwrap()
            .value;
        assert_eq!((rest.total_num, rest.data_list.len()), (Some(12), 2));
        let all = client
            .in_project(
                client
                    .operations()
                    .list_image_scan_task()
                    .type_(TaskKind::ImageSync),
            )
            .await
            .unwrap();
        let walked: Vec<_> = client.pages(all).try_collect().await.unwrap();
        let ids: std::collections::BTreeSet<_> = walked
            .into_iter()
            .flat_map(|p| p.value)
            .map(|t| t.task_id.unwrap())
            .collect();
        assert_eq!(ids.len(), 12, "twelve distinct tasks");

        let one = ids.iter().next().unwrap();
        let by_id = client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageSync).task_id(one.as_str()))
            .await
            .unwrap()
            .value;
        assert_eq!(by_id.total_num, Some(1));
        for (filter, expected) in [
            (None, 12),
            (Some(TaskType::ManualSync), 12),
            (Some(TaskType::Cycle), 0),
        ] {
            let listed = client
                .list_image_scan_task(|op| {
                    let op = op.type_(TaskKind::ImageSync);
                    match filter {
                        Some(t) => op.task_type(t),
                        None => op,
                    }
                })
                .await
                .unwrap()
                .value;
            assert_eq!(listed.total_num, Some(expected), "{filter:?}");
        }
        let finished = client
            .list_image_scan_task(|op| {
                op.type_(TaskKind::ImageSync)
                    .task_status(TaskStatusFilter::Finished)
            })
            .await
            .unwrap()
            .value;
        assert_eq!(finished.total_num, Some(12));
        let scans = client
            .list_image_scan_task(|op| op.type_(TaskKind::ImageScan))
            .await
            .unwrap()
            .value;
        assert_eq!(scans.total_num, Some(0), "the emulator runs no scans");
    }

    #[tokio::test]
    async fn pages_walk_registries_over_more_than_one_page() {
        let many: Vec<RegistryInfo> = (0..250)
            .map(|i| RegistryInfo {
                id: Some(format!("registry-{i:03}")),
                registry_name: Some(format!("harbor-{i:03}")),
                registry_type: Some("Harbor".into()),
                status: Some("success".into()),
                ..Default::default()
            })
            .collect();
        let emulator = Emulator::new()
            .registries(many)
            .task_seconds(0)
            .start()
            .await
            .unwrap();
        let client = &emulator.client_builder().build().unwrap();
        let all = client
            .in_project(client.operations().list_registry())
            .await
            .unwrap();
        let pages: Vec<_> = client.pages(all).try_collect().await.unwrap();
        assert_eq!(pages.len(), 2, "200 then 50");
        let ids: Vec<_> = pages
            .into_iter()
            .flat_map(|p| p.value)
            .map(|r| r.id.unwrap())
            .collect();
        assert_eq!(ids.len(), 250);
        assert_eq!(
            ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
            250
        );

        client
            .create_image_synchronize_task(|op| op.body(every_registry()))
            .await
            .unwrap();
        let task_id = tasks(client).await.remove(0).task_id.unwrap();
        let of_task = client
            .in_project(
                client
                    .operations()
                    .list_associate_registries()
                    .task_id(&*task_id),
            )
            .await
            .unwrap();
        let pages: Vec<_> = client.pages(of_task).try_collect().await.unwrap();
        assert_eq!(
            pages.iter().map(|p| p.value.len()).collect::<Vec<_>>(),
            [200, 50]
        );
        assert!(
            pages
                .iter()
                .flat_map(|p| &p.value)
                .all(|r| r.sync_status.as_deref() == Some("finished"))
        );
        let named = client
            .list_associate_registries(|op| op.task_id(&*task_id).registry_name("harbor-24"))
            .await
            .unwrap()
            .value;
        assert_eq!(named.total_num, Some(10), "harbor-240..=249");
    }

    #[tokio::test]
    async fn a_limit_out_of_range_is_refused_by_the_client_and_by_the_emulator() {
        let emulator = start().await;
        let client = emulator.client_builder().build().unwrap();
        let err = client.list_registry(|op| op.limit(5)).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: "limit", rule } if rule.contains("10..=200")),
            "{err:?}"
        );
        assert!(emulator.exchanges().is_empty(), "refused before sending");

        let project = emulator.project_id();
        for (path, query, named) in [
            (
                format!("/v5/{project}/image/registries"),
                vec![("limit", "5")],
                "limit",
            ),
            (
                format!("/v5/{project}/image/tasks"),
                vec![("type", "image_sync"), ("offset", "-1")],
                "offset",
            ),
            (format!("/v5/{project}/image/tasks"), vec![], "type"),
            (
                format!("/v5/{project}/image/tasks"),
                vec![("type", "images")],
                "type",
            ),
            (
                format!("/v5/{project}/image/registries"),
                vec![("status", "failed")],
                "status",
            ),
            (
                format!(
                    "/v5/{project}/image/image-sync/tasks/{}/registries",
                    "t".repeat(65)
                ),
                vec![],
                "task_id",
            ),
        ] {
            let (status, response) = send_signed_query(&emulator, "GET", &path, &query, "").await;
            assert_eq!(status, 400, "{path} {query:?}: {response}");
            assert!(response.contains("HSS.0001"), "{response}");
            assert!(
                response.contains(&format!("Invalid parameter: {named}: ")),
                "{path} {query:?}: {response}"
            );
        }
        let (status, response) = send_signed_query(
            &emulator,
            "GET",
            &format!("/v5/{project}/image/registries"),
            &[("limit", "200"), ("offset", "0"), ("unknown", "x")],
            "",
        )
        .await;
        assert_eq!(status, 200, "{response}");
        assert!(response.contains(r#""total_num":3"#), "{response}");
    }

    #[tokio::test]
    async fn an_unparsable_create_body_is_hss_0002_and_a_wrong_one_hss_0001() {
        let emulator = start().await;
        let path = format!("/v5/{}/image/image-sync/tasks", emulator.project_id());
        for (body, code) in [
            ("not json", "HSS.0002"),
            ("[true]", "HSS.0002"),
            ("{}", "HSS.0001"),
            (r#"{"sync_all_registries": "yes"}"#, "HSS.0001"),
            (
                r#"{"sync_all_registries": false, "registry_info": [{"registry_id": "x", "registry_type": "Quay"}]}"#,
                "HSS.0001",
            ),
        ] {
            let (status, response) = send_signed(&emulator, "POST", &path, body).await;
            assert_eq!(status, 400, "{body}: {response}");
            assert!(response.contains(code), "{body}: {response}");
        }
        let (status, response) =
            send_signed(&emulator, "POST", &path, r#"{"sync_all_registries": true}"#).await;
        assert_eq!(status, 200, "{response}");
        assert!(response.ends_with("\r\n\r\n"), "no body: {response}");
        // A GET of the POST-only path is not an API.
        let (status, _) = send_signed(&emulator, "GET", &path, "").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn tasks_are_capped_per_project_dropping_the_oldest() {
        use hss_image_sync::emulator::MAX_TASKS_PER_PROJECT;
        let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
        let path = format!("/v5/{}/image/image-sync/tasks", emulator.project_id());
        let mut first = None;
        for i in 0..=MAX_TASKS_PER_PROJECT {
            let (status, _) =
                send_signed(&emulator, "POST", &path, r#"{"sync_all_registries": true}"#).await;
            assert_eq!(status, 200);
            if i == 0 {
                first = emulator
                    .state()
                    .tasks(emulator.project_id())
                    .next()
                    .map(|t| t.task_id.clone());
            }
        }
        let state = emulator.state();
        let kept: Vec<_> = state.tasks(emulator.project_id()).collect();
        assert_eq!(kept.len(), MAX_TASKS_PER_PROJECT);
        assert_ne!(kept[0].task_id, first.unwrap(), "the oldest went");
    }

    async fn send_signed_query(
        emulator: &RunningEmulator,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let host = emulator.addr().to_string();
        let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let signable = SignableRequest {
            method,
            host: &host,
            path,
            query: &query,
            headers: &headers,
            body: body.as_bytes(),
        };
        let sk = SecretString::from(hss_image_sync::emulator::DEMO_SECRET_KEY);
        let signed = signer::sign(
            &signable,
            hss_image_sync::emulator::DEMO_ACCESS_KEY,
            &sk,
            SystemTime::now(),
        )
        .unwrap();
        send_raw(
            &host,
            method,
            &signed.uri,
            &pairs(&signed.headers),
            body.as_bytes(),
        )
        .await
    }
}
