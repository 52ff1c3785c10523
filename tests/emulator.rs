//! The emulator, driven by the client and by hand-made requests: verification, validation,
//! state, admin path, and the scripted answers and faults the client must map.

use hss_image_sync::emulator::{Action, Emulator, Exchange, RunningEmulator, Verdict};
use hss_image_sync::signer::{self, SignableRequest};
use hss_image_sync::{
    AuthToken, Credentials, Error, HssClient, ImageType, SyncRequest, TransportKind,
};
use secrecy::SecretString;
use std::time::{Duration, SystemTime};

fn private() -> SyncRequest {
    SyncRequest::new(ImageType::PrivateImage)
}

async fn start() -> RunningEmulator {
    Emulator::new().start().await.unwrap()
}

#[tokio::test]
async fn accepts_signed_calls_and_keeps_per_project_state() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    client.run_image_synchronize(&private()).await.unwrap();
    client
        .run_image_synchronize(
            &private()
                .enterprise_project_id("all_granted_eps")
                .region_header("cn-north-4"),
        )
        .await
        .unwrap();
    client
        .run_image_synchronize(
            &SyncRequest::new(ImageType::SharedImage).project_id("other project/é"),
        )
        .await
        .unwrap(); // X-Project-Id names the path's project, not the credentials' one
    let done = client
        .run_image_synchronize(&SyncRequest::new(ImageType::SharedImage))
        .await
        .unwrap();
    assert!(done.request_id.as_deref().is_some_and(|id| id.len() == 32));

    let state = emulator.state();
    let record = state
        .sync_record(emulator.project_id(), "private_image")
        .unwrap();
    assert_eq!(record.count, 2);
    assert_eq!(
        record.last_enterprise_project_id.as_deref(),
        Some("all_granted_eps")
    );
    assert_eq!(
        state
            .sync_record(emulator.project_id(), "shared_image")
            .unwrap()
            .count,
        1
    );

    assert_eq!(
        state
            .sync_record("other project/é", "shared_image")
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
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
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
        .run_image_synchronize(&private())
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
        .run_image_synchronize(&private())
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
    let err = without.run_image_synchronize(&private()).await.unwrap_err();
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
    good.run_image_synchronize(&private()).await.unwrap();
    assert_eq!(emulator.exchanges()[0].auth, "X-Auth-Token");
    let bad = HssClient::builder()
        .endpoint(emulator.endpoint())
        .auth_token(AuthToken::new("another-token"))
        .project_id("p-token")
        .build()
        .unwrap();
    let err = bad.run_image_synchronize(&private()).await.unwrap_err();
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
        .run_image_synchronize(&private())
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
    let err = demo.run_image_synchronize(&private()).await.unwrap_err();
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
    client.run_image_synchronize(&private()).await.unwrap();
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
    client.run_image_synchronize(&private()).await.unwrap();
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
    let err = bad.run_image_synchronize(&private()).await.unwrap_err();
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
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
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

/// Sends a request signed by our signer, then tampered by `tamper`, over a raw socket.
async fn send_tampered(
    emulator: &RunningEmulator,
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
    let sk = SecretString::from(hss_image_sync::emulator::DEMO_SECRET_KEY);
    let signed = signer::sign(
        &signable,
        hss_image_sync::emulator::DEMO_ACCESS_KEY,
        &sk,
        SystemTime::now(),
    )
    .unwrap();
    let mut target = signed.uri.clone();
    let mut headers = pairs(&signed.headers);
    tamper(&mut target, &mut headers, &mut body);
    send_raw(&host, "POST", &target, &headers, &body).await
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
    type Tamper = Box<dyn FnOnce(&mut String, &mut Vec<(String, String)>, &mut Vec<u8>)>;
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
    let client = emulator
        .client_builder()
        .no_retry()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();

    emulator.push(Action::status(503));
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 503 && e.error_code == "APIG.503"),
        "{err:?}"
    );

    emulator.push(Action::too_many_requests_after(7));
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Service(e) if e.status == 429 && e.error_code == "APIG.0308"),
        "{err:?}"
    );

    emulator.push(Action::non_json(
        502,
        "text/html",
        "<html>Bad Gateway</html>",
    ));
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
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
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
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
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
    assert!(matches!(&err, Error::Transport { .. }), "{err:?}");

    emulator.push(Action::TruncatedBody);
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport { .. } | Error::InvalidResponse { .. }
        ),
        "{err:?}"
    );

    emulator.push(Action::Delay(Duration::from_secs(2)));
    let err = client.run_image_synchronize(&private()).await.unwrap_err();
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
    client.run_image_synchronize(&private()).await.unwrap();
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
        tasks.spawn(async move { (i % 10 == 0, client.run_image_synchronize(&private()).await) });
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
            .sync_record(emulator.project_id(), "private_image")
            .unwrap()
            .count as usize,
        accepted
    );
}

/// The README's downstream example, run for real.
mod readme_example {
    use hss_image_sync::emulator::{Action, Emulator, Verdict};
    use hss_image_sync::{Error, HssClient, ImageType, SyncRequest};

    async fn sync_everything(client: &HssClient) -> usize {
        let mut done = 0;
        for image_type in [ImageType::PrivateImage, ImageType::SharedImage] {
            match client
                .run_image_synchronize(&SyncRequest::new(image_type))
                .await
            {
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
                .sync_record(emulator.project_id(), "private_image")
                .unwrap()
                .count,
            1
        );
        assert_eq!(
            state
                .sync_record(emulator.project_id(), "shared_image")
                .unwrap()
                .count,
            2
        );
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
