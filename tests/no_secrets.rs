//! No secret (SK, security token, IAM token) in `Debug` output, error text or logs.
//!
//! A test binary of its own: it installs a tracing subscriber, and tracing's per-callsite
//! interest cache makes that unreliable while other tests run in parallel threads.

mod common;

use common::{CaptureServer, Reply};
use hss_image_sync::types::ImageType;
use hss_image_sync::{AuthToken, Credentials, HssClient};

const AK: &str = "HPUAL8FWGBJPNSCL4E2X";
const SK: &str = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo";
const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECURITY_TOKEN: &str = "temporary-security-token-ZXhhbXBsZQ==";
const IAM_TOKEN: &str = "MIIEXAMPLEIAMTOKENvalue+/=";

/// At TRACE level, with the HTTP stack's own events included.
#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_logs() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        401,
        r#"{"error_code":"APIG.0301","error_msg":"denied"}"#,
    ));
    let creds = Credentials::new(AK, SK)
        .with_project_id(PROJECT)
        .with_security_token(SECURITY_TOKEN);
    let signed = HssClient::builder()
        .endpoint(server.endpoint())
        .credentials(creds.clone())
        .build()
        .unwrap();
    let err = signed
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap_err();
    let token_client = HssClient::builder()
        .endpoint(server.endpoint())
        .auth_token(AuthToken::new(IAM_TOKEN))
        .project_id(PROJECT)
        .build()
        .unwrap();
    token_client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .unwrap();
    let bad_token = HssClient::builder()
        .endpoint(server.endpoint())
        .auth_token(AuthToken::new(format!("{IAM_TOKEN}\nX-Injected: 1")))
        .build()
        .unwrap_err();

    let shown = [
        format!("{creds:?}"),
        format!("{signed:?}"),
        format!("{token_client:?}"),
        format!(
            "{:?}",
            HssClient::builder()
                .credentials(creds.clone())
                .auth_token(AuthToken::new(IAM_TOKEN))
        ),
        format!("{err:?} {err}"),
        format!("{bad_token:?} {bad_token}"),
        String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned(),
    ];
    assert!(!shown[6].is_empty(), "no log output was captured");
    for text in shown {
        for secret in [SK, SECURITY_TOKEN, IAM_TOKEN] {
            assert!(!text.contains(secret), "secret leaked in: {text}");
        }
    }
    // The secrets did go on the wire where they belong.
    assert_eq!(
        server.requests()[0].header("X-Security-Token"),
        Some(SECURITY_TOKEN)
    );
    assert_eq!(server.requests()[1].header("X-Auth-Token"), Some(IAM_TOKEN));
}

/// The signer's output masks the security token (in its headers and canonical request) and the
/// signature, whatever prints it; the exact text stays available to whoever asks for it.
#[test]
fn signed_requests_mask_tokens_by_type() {
    use hss_image_sync::signer::{SignableRequest, sign};
    use secrecy::SecretString;
    let headers = [
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-Security-Token".to_owned(), SECURITY_TOKEN.to_owned()),
        ("X-Auth-Token".to_owned(), IAM_TOKEN.to_owned()),
    ];
    let request = SignableRequest {
        method: "POST",
        host: "hss.cn-north-4.myhuaweicloud.com",
        path: "/v5/p/image/synchronize",
        query: &[],
        headers: &headers,
        body: b"{}",
    };
    let signed = sign(
        &request,
        AK,
        &SecretString::from(SK),
        std::time::SystemTime::now(),
    )
    .unwrap();
    let shown = [
        format!("{signed:?}"),
        format!("{request:?}"),
        signed.canonical_request.to_string(),
        format!("{:?}", signed.headers),
    ];
    for text in &shown {
        for secret in [SK, SECURITY_TOKEN, IAM_TOKEN, signed.signature.as_str()] {
            assert!(!text.contains(secret), "secret leaked in: {text}");
        }
    }
    assert!(shown[2].contains("x-security-token:******"), "{}", shown[2]);
    assert!(signed.canonical_request.as_str().contains(SECURITY_TOKEN));
    let sensitive: Vec<&str> = signed
        .headers
        .iter()
        .filter(|h| h.sensitive)
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(
        sensitive,
        ["X-Security-Token", "X-Auth-Token", "Authorization"]
    );
}

/// A password in a configured endpoint (HSS or IAM) shows neither in the builder's `Debug` nor
/// in the error that refuses it.
#[test]
fn endpoint_passwords_never_appear_in_debug_or_errors() {
    for (endpoint, iam) in [
        ("https://admin:ENDPOINT-PASSWORD@hss.example.com", None),
        (
            "https://hss.example.com",
            Some("https://admin:ENDPOINT-PASSWORD@iam.example.com"),
        ),
        (
            "https://hss.example.com",
            Some("https://iam.example.com/?password=ENDPOINT-PASSWORD"),
        ),
    ] {
        let mut builder = HssClient::builder()
            .endpoint(endpoint)
            .credentials(Credentials::new(AK, SK).with_project_id(PROJECT));
        if let Some(iam) = iam {
            builder = builder.iam_endpoint(iam);
        }
        let shown = format!("{builder:?}");
        assert!(!shown.contains("ENDPOINT-PASSWORD"), "{shown}");
        let err = builder.build().unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("ENDPOINT-PASSWORD"), "{shown}");
    }
}
