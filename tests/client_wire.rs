//! The client against a raw local capture server: the complete request on the wire (header
//! names and bytes as sent), the signature recomputed from what arrived, token auth, error-body
//! mapping, input validation. Error statuses and faults are also covered against the emulator
//! (tests/emulator.rs).

mod common;

use common::{CaptureServer, Captured, Reply};
use hss_image_sync::signer::{self, SignableRequest};
use hss_image_sync::types::ImageType;
use hss_image_sync::{AuthToken, Credentials, Error, HssClient};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;

const AK: &str = "HPUAL8FWGBJPNSCL4E2X";
const SK: &str = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo";
const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECURITY_TOKEN: &str = "temporary-security-token-ZXhhbXBsZQ==";
const IAM_TOKEN: &str = "MIIEXAMPLEIAMTOKENvalue+/=";

fn client(server: &CaptureServer) -> HssClient {
    HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(Credentials::new(AK, SK).with_project_id(PROJECT))
        .build()
        .unwrap()
}

/// Verifies `request`'s signature from what arrived: the signed headers named in
/// `Authorization`, the raw path, the query decoded from the target, the body bytes.
fn recompute_authorization(request: &Captured, sk: &str) -> String {
    let authorization = request.header("Authorization").expect("Authorization sent");
    let access = authorization
        .split("Access=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    let signed_names = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    let headers: Vec<(String, String)> = signed_names
        .split(';')
        .map(|name| {
            (
                name.to_owned(),
                request.header(name).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let query: Vec<(String, String)> = request
        .query()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect();
    let signable = SignableRequest {
        method: &request.method,
        host: request.header("Host").unwrap(),
        path: request.path(),
        query: &query,
        headers: &headers,
        body: &request.body,
    };
    let sk = SecretString::from(sk.to_owned());
    signer::sign(&signable, access, &sk, std::time::SystemTime::now())
        .unwrap()
        .authorization
}

#[tokio::test]
async fn complete_signed_request_on_the_wire() {
    let server = CaptureServer::start(0).await;
    let done = client(&server)
        .run_image_synchronize(ImageType::SharedImage, |op| {
            op.enterprise_project_id("ep id/1+é").region("中国-北京四")
        })
        .await
        .unwrap();
    assert_eq!(done.value.error_code, Some(0));
    assert_eq!(done.request_id.as_deref(), Some("req-200"));

    let got = &server.requests()[0];
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.target,
        format!("/v5/{PROJECT}/image/synchronize?enterprise_project_id=ep%20id%2F1%2B%C3%A9")
    );
    assert_eq!(got.body, br#"{"image_type": "shared_image"}"#);
    let mut names: Vec<String> = got
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accept",
            "authorization",
            "content-length",
            "content-type",
            "host",
            "region",
            "user-agent",
            "x-project-id",
            "x-sdk-date"
        ]
    );
    assert_eq!(got.header("Accept"), Some("*/*"));
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    assert_eq!(got.header("Content-Length"), Some("30"));
    assert_eq!(
        got.header("Host"),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    assert_eq!(got.header("region"), Some("中国-北京四"));
    assert_eq!(got.header("X-Project-Id"), Some(PROJECT));
    assert!(
        got.header("User-Agent")
            .unwrap()
            .starts_with("hss-image-sync/")
    );
    let date = got.header("X-Sdk-Date").unwrap();
    let skew = signer::sdk_date::parse(date)
        .unwrap()
        .duration_since(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    assert!(skew.is_ok(), "X-Sdk-Date {date} is not the current time");
    let authorization = got.header("Authorization").unwrap();
    assert!(authorization.starts_with(&format!(
        "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;region;user-agent;x-project-id;x-sdk-date, Signature="
    )));
    assert_eq!(recompute_authorization(got, SK), authorization);
    assert_ne!(
        recompute_authorization(got, "another-secret"),
        authorization
    );
}

#[tokio::test]
async fn temporary_keys_send_and_sign_the_security_token() {
    let server = CaptureServer::start(0).await;
    let client = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(
            Credentials::new(AK, SK)
                .with_project_id(PROJECT)
                .with_security_token(SECURITY_TOKEN),
        )
        .build()
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!(got.target, format!("/v5/{PROJECT}/image/synchronize"));
    assert_eq!(got.header("X-Security-Token"), Some(SECURITY_TOKEN));
    let authorization = got.header("Authorization").unwrap();
    assert!(authorization.contains("x-project-id;x-sdk-date;x-security-token,"));
    assert_eq!(recompute_authorization(got, SK), authorization);
}

#[tokio::test]
async fn token_auth_sends_the_token_and_does_not_sign() {
    let server = CaptureServer::start(0).await;
    let client = HssClient::builder()
        .endpoint(server.endpoint())
        .auth_token(AuthToken::new(IAM_TOKEN))
        .project_id(PROJECT)
        .build()
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op.enterprise_project_id("0"))
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!(
        got.target,
        format!("/v5/{PROJECT}/image/synchronize?enterprise_project_id=0")
    );
    assert_eq!(got.header("X-Auth-Token"), Some(IAM_TOKEN));
    for absent in ["Authorization", "X-Sdk-Date", "X-Project-Id", "api-version"] {
        assert_eq!(
            got.header(absent),
            None,
            "{absent} must not be sent with token auth"
        );
    }
    assert_eq!(got.body, br#"{"image_type": "private_image"}"#);
}

async fn call_with_reply(reply: Reply) -> Error {
    let server = CaptureServer::start(0).await;
    server.reply_with(reply);
    client(&server)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn service_400_keeps_code_message_and_encoded_authorization_message() {
    let err = call_with_reply(Reply::json(
        400,
        r#"{"error_code":"HSS.0001","error_msg":"Invalid parameter.","encoded_authorization_message":"enc-msg"}"#,
    ))
    .await;
    let Error::Service(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (e.status, e.error_code.as_str(), e.error_msg.as_str()),
        (400, "HSS.0001", "Invalid parameter.")
    );
    assert_eq!(e.encoded_authorization_message.as_deref(), Some("enc-msg"));
}

#[tokio::test]
async fn lenient_on_what_we_receive() {
    // Longer than the documented 128 characters, and error_code beyond the documented 0..10.
    let long = "x".repeat(600);
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        200,
        &format!(r#"{{"error_code":0,"error_description":"{long}","extra":true}}"#),
    ));
    let done = client(&server)
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    assert_eq!(done.value.error_description.as_deref(), Some(long.as_str()));
    let err = call_with_reply(Reply::json(
        200,
        r#"{"error_code":42,"error_description":"d"}"#,
    ))
    .await;
    assert!(
        matches!(err, Error::NonZeroErrorCode { error_code: 42, .. }),
        "{err:?}"
    );
    let err = call_with_reply(Reply::json(200, "not json")).await;
    assert!(
        matches!(err, Error::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );

    // A successor answer, whose schema has no `error_code`: one in the body is an extra field,
    // not a failure; a longer string, a registry type HSS has added since and other extra
    // fields are taken as they are.
    server.reply_with(Reply::json(
        200,
        &format!(
            r#"{{"error_code":7,"total_num":1,"data_list":[{{"id":"r1","registry_name":"{long}","registry_type":"NewRegistryKind","new_field":[1]}}]}}"#
        ),
    ));
    let page = client(&server).list_registry(|op| op).await.unwrap();
    assert_eq!(page.value.total_num, Some(1));
    assert_eq!(
        page.value.data_list[0].registry_name.as_deref(),
        Some(long.as_str())
    );
    assert_eq!(
        page.value.data_list[0].registry_type.as_deref(),
        Some("NewRegistryKind")
    );
}

/// Every request constraint of the spec is checked before anything is sent, and the error
/// names the parameter and the rule.
#[tokio::test]
async fn bad_input_never_reaches_the_network() {
    let server = CaptureServer::start(0).await;
    type Op<'a> = hss_image_sync::builder::RunImageSynchronize<'a>;
    type Case = (fn(Op<'_>) -> Op<'_>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            |op| op.project_id(""),
            "project_id",
            "must be 1..256 characters",
        ),
        (
            |op| op.project_id("p".repeat(257)),
            "project_id",
            "must be 1..256",
        ),
        (
            |op| op.enterprise_project_id(""),
            "enterprise_project_id",
            "must be 1..256",
        ),
        (
            |op| op.enterprise_project_id("e".repeat(257)),
            "enterprise_project_id",
            "must be 1..256",
        ),
        (
            |op| op.region("r".repeat(129)),
            "region",
            "at most 128 characters",
        ),
        (|op| op.region("cn\r\nX-Injected: 1"), "request", "header"),
    ];
    for (request, field, rule) in cases {
        let err = client(&server)
            .run_image_synchronize(ImageType::PrivateImage, request)
            .await
            .unwrap_err();
        match &err {
            Error::InvalidInput { field: f, rule: r } => {
                assert_eq!(*f, field);
                assert!(r.contains(rule), "{field}: {r}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    // Boundaries that are allowed.
    let allowed: [fn(Op<'_>) -> Op<'_>; 4] = [
        |op| op.project_id("p".repeat(256)),
        |op| op.enterprise_project_id("e".repeat(256)),
        |op| op.region(""),
        |op| op.region("é".repeat(128)),
    ];
    for request in allowed {
        client(&server)
            .run_image_synchronize(ImageType::PrivateImage, request)
            .await
            .unwrap();
    }
    assert_eq!(server.requests().len(), 4);

    // No project ID anywhere.
    let no_project = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(Credentials::new(AK, SK))
        .build()
        .unwrap();
    let err = no_project
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "project_id",
                ..
            }
        ),
        "{err:?}"
    );

    // Token constraints: 1..32768 characters, no control characters.
    for (token, rule) in [
        ("", "empty"),
        ("t\nx", "control"),
        (&*"t".repeat(32769), "1..32768 characters"),
    ] {
        let result = HssClient::builder()
            .endpoint(server.endpoint())
            .auth_token(AuthToken::new(token))
            .project_id(PROJECT)
            .build();
        let err = match result {
            Ok(client) => client
                .run_image_synchronize(ImageType::PrivateImage, |op| op)
                .await
                .unwrap_err(),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            text.contains("X-Auth-Token") && text.contains(rule),
            "{text}"
        );
    }
    assert_eq!(
        server.requests().len(),
        4,
        "a rejected request reached the server"
    );
}

#[test]
fn configuration_errors_are_clear() {
    let creds = || Credentials::new(AK, SK).with_project_id(PROJECT);
    let err = HssClient::builder()
        .region("xx-nowhere-9")
        .credentials(creds())
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("xx-nowhere-9")
            && text.contains("endpoint")
            && text.contains("HUAWEICLOUD_SDK_REGION_HSS_XX_NOWHERE_9"),
        "{text}"
    );
    let err = HssClient::builder()
        .credentials(creds())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
    let err = HssClient::builder()
        .region("cn-north-4")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Config {
                setting: "credentials",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("AK/SK"), "{err}");
    let err = HssClient::builder()
        .region("cn-north-4")
        .credentials(Credentials::new("", SK))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "AK", .. }),
        "{err:?}"
    );
    let err = HssClient::builder()
        .region("cn-north-4")
        .credentials(Credentials::new(AK, ""))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "SK", .. }),
        "{err:?}"
    );
    assert!(
        HssClient::builder()
            .region("eu-west-101")
            .credentials(creds())
            .build()
            .is_ok()
    );
    // A blank IAM token would be sent empty (header values are trimmed): refused.
    let err = HssClient::builder()
        .region("cn-north-4")
        .auth_token(hss_image_sync::AuthToken::new(" \t "))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: "X-Auth-Token", rule } if rule.contains("empty")),
        "{err:?}"
    );
    // An endpoint with a tab or newline is refused when configured, not when sending.
    for endpoint in [
        "https://hss.cn-north-4.my\thuaweicloud.com",
        "http://127.0.0.1\n:80",
    ] {
        let err = HssClient::builder()
            .endpoint(endpoint)
            .credentials(creds())
            .build()
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Config {
                    setting: "endpoint",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

/// Awkward project IDs are sent as the official SDKs send them (and `X-Project-Id` names the
/// same project as the path), or refused, with nothing sent, when the generated code's URL
/// would differ from the SDK's.
#[tokio::test]
async fn awkward_project_ids() {
    let server = CaptureServer::start(0).await;
    let client = client(&server);
    for (project, target) in [
        ("a/b", "/v5/a%2Fb/image/synchronize"),
        ("...", "/v5/.../image/synchronize"),
        ("%2e%2e", "/v5/%252e%252e/image/synchronize"),
        ("p q|^[]", "/v5/p%20q%7C%5E%5B%5D/image/synchronize"),
    ] {
        client
            .run_image_synchronize(ImageType::PrivateImage, |op| op.project_id(project))
            .await
            .unwrap();
        let got = server.requests().pop().unwrap();
        assert_eq!(got.target, target, "{project}");
        assert_eq!(got.header("X-Project-Id"), Some(project), "{project}");
        assert_eq!(
            recompute_authorization(&got, SK),
            got.header("Authorization").unwrap()
        );
    }
    for project in [".", "..", "a\\b"] {
        let err = client
            .run_image_synchronize(ImageType::PrivateImage, |op| op.project_id(project))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: "project_id", rule } if rule.contains("path segment")),
            "{err:?}"
        );
    }
    assert_eq!(server.requests().len(), 4);
}

/// `prepare` shows exactly what `send` sends (same
/// clock): target, every header but the unsigned `Content-Length` and `Accept: */*` that the
/// HTTP stack adds when sending, body.
#[tokio::test]
async fn the_prepared_request_is_what_is_sent() {
    let server = CaptureServer::start(0).await;
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    let client = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(
            Credentials::new(AK, SK)
                .with_project_id(PROJECT)
                .with_security_token("temporary-token"),
        )
        .time_source(move || at)
        .build()
        .unwrap();
    let body = hss_image_sync::types::RunImageSynchronizeRequestInfo {
        image_type: ImageType::SharedImage,
    };
    let request = client
        .operations()
        .run_image_synchronize()
        .project_id(PROJECT)
        .enterprise_project_id("ep id/1+é")
        .region("cn-north-4")
        .body(body);
    let prepared = client.prepare(request.clone()).await.unwrap();
    client.send(request).await.unwrap();
    let sent = server.requests().pop().unwrap();
    assert_eq!(prepared.method, sent.method);
    assert_eq!(
        prepared.url,
        format!("{}{}", server.endpoint(), sent.target)
    );
    assert_eq!(prepared.body, sent.body);
    let sent_headers: Vec<(String, String)> = sent
        .headers
        .iter()
        .filter(|(n, _)| !["content-length", "accept"].contains(&n.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    let prepared_headers: Vec<(String, String)> = prepared
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    assert_eq!(prepared_headers, sent_headers);
    // Printing it masks the secrets.
    let shown = prepared.to_string();
    assert!(!shown.contains("temporary-token") && shown.contains("X-Security-Token: ******"));
    // The signature is masked; what it covers is shown.
    let authorization = prepared
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .unwrap();
    let (covered, signature) = authorization.value.rsplit_once(", Signature=").unwrap();
    assert!(shown.contains(&format!("Authorization: {covered}, Signature=******")));
    assert!(!shown.contains(signature));
    assert!(covered.contains(&format!("Access={AK}, SignedHeaders=")));
}

/// A signing failure inside the `pre` hook (here: a clock past the year 9999, which
/// `X-Sdk-Date` cannot write) comes back through progenitor as `Error::Signing` with its
/// cause, is not retried, and nothing reaches the network.
#[tokio::test]
async fn a_signing_failure_in_the_hook_is_a_typed_error() {
    let server = CaptureServer::start(0).await;
    let client = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(Credentials::new(AK, SK).with_project_id("p"))
        .time_source(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(260_000_000_000))
        .build()
        .unwrap();
    let err = client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Signing(signer::SigningError::TimeOutOfRange)),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(server.requests().is_empty());
}

/// The port tests/oracle/record_vectors.py recorded `tests/vectors/hss-client/operations/` on,
/// so that our client signs the same `Host`.
const CLIENT_OPERATION_PORT: u16 = 28519;

#[derive(serde::Deserialize)]
struct OperationVector {
    name: String,
    operation: String,
    inputs: OperationInputs,
    wire: VectorWire,
}

#[derive(serde::Deserialize)]
struct OperationInputs {
    ak: String,
    sk: String,
    project_id: String,
    security_token: Option<String>,
    params: serde_json::Map<String, serde_json::Value>,
    body: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct VectorWire {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn vector_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Sends the vector's operation with its parameters (named as the SDK's request models name
/// them) through `client`.
async fn send_vector(client: &HssClient, v: &OperationVector) -> Result<(), Error> {
    let ops = client.operations();
    let project = v.inputs.project_id.as_str();
    let text = |value: &serde_json::Value| value.as_str().unwrap().to_owned();
    let int = |value: &serde_json::Value| value.as_i64().unwrap();
    let unknown = |name: &str| -> ! { panic!("{}: unknown parameter {name}", v.name) };
    let params = &v.inputs.params;
    match v.operation.as_str() {
        "create_image_synchronize_task" => {
            let mut op = ops.create_image_synchronize_task().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "region" => op.region(text(value)),
                    _ => unknown(name),
                };
            }
            let body: hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo =
                serde_json::from_value(v.inputs.body.clone().expect("a body")).unwrap();
            client.send(op.body(body)).await.map(drop)
        }
        "list_image_scan_task" => {
            let mut op = ops.list_image_scan_task().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "type" => op.type_(text(value)),
                    "task_type" => op.task_type(text(value)),
                    "task_name" => op.task_name(text(value)),
                    "task_status" => op.task_status(text(value)),
                    "offset" => op.offset(int(value)),
                    "limit" => op.limit(int(value)),
                    _ => unknown(name),
                };
            }
            client.send(op).await.map(drop)
        }
        "list_registry" => {
            let mut op = ops.list_registry().project_id(project);
            for (name, value) in params {
                op = match name.as_str() {
                    "enterprise_project_id" => op.enterprise_project_id(text(value)),
                    "registry_name" => op.registry_name(text(value)),
                    "registry_type" => op.registry_type(text(value)),
                    "status" => op.status(text(value)),
                    "offset" => op.offset(int(value)),
                    "limit" => op.limit(int(value)),
                    _ => unknown(name),
                };
            }
            client.send(op).await.map(drop)
        }
        other => panic!("{}: unknown operation {other}", v.name),
    }
}

/// The SDK's wire captures of operations with several query parameters (given out of order) and
/// header values to trim: our client, given the same inputs and clock, sends the same request
/// target (the canonical query, in its order), body, signed headers with their values, and
/// Authorization, and no header the SDK does not send.
#[tokio::test]
async fn several_query_parameters_and_trimmed_values_as_the_sdk_sends_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/hss-client/operations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "only {} operation vectors", files.len());
    let server = CaptureServer::start(CLIENT_OPERATION_PORT).await;
    let (mut several_parameters, mut trimmed) = (false, false);
    for (sent, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let v: OperationVector =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let date = vector_header(&v.wire.headers, "X-Sdk-Date").unwrap();
        let time = signer::sdk_date::parse(date).unwrap();
        let mut creds =
            Credentials::new(&v.inputs.ak, &v.inputs.sk).with_project_id(&v.inputs.project_id);
        if let Some(token) = &v.inputs.security_token {
            creds = creds.with_security_token(token);
        }
        let client = HssClient::builder()
            .endpoint(server.endpoint())
            .credentials(creds)
            .user_agent(vector_header(&v.wire.headers, "User-Agent").unwrap())
            .time_source(move || time)
            .build()
            .unwrap();
        send_vector(&client, &v)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));

        let ours = &server.requests()[sent];
        assert_eq!(ours.method, v.wire.method, "{}", v.name);
        assert_eq!(ours.target, v.wire.target, "{}: the query as sent", v.name);
        assert_eq!(
            String::from_utf8_lossy(&ours.body),
            v.wire.body,
            "{}",
            v.name
        );
        let authorization = vector_header(&v.wire.headers, "Authorization").unwrap();
        let signed = authorization
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap();
        for name in signed.split(';').chain(["authorization", "content-length"]) {
            assert_eq!(
                ours.header(name),
                vector_header(&v.wire.headers, name),
                "{}: header {name}",
                v.name
            );
        }
        for (name, _) in &ours.headers {
            let lower = name.to_ascii_lowercase();
            assert!(
                signed.split(';').any(|s| s == lower)
                    || [
                        "authorization",
                        "content-length",
                        "accept-encoding",
                        "accept",
                        "connection"
                    ]
                    .contains(&lower.as_str()),
                "{}: we sent {name}, which the SDK does not",
                v.name
            );
        }
        several_parameters |= v.wire.target.matches('&').count() >= 2;
        trimmed |= v.inputs.params.values().any(|value| {
            value.as_str().is_some_and(|s| {
                s.trim() != s && vector_header(&v.wire.headers, "region") == Some(s.trim())
            })
        });
    }
    assert!(
        several_parameters && trimmed,
        "the cases lost what they are for"
    );
}
