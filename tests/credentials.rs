//! The credential providers against fake STS, IAM, ECS metadata and pod-identity servers on
//! 127.0.0.1: the exact requests, the answers read, the default chain's order and errors, and
//! refresh through the client's cache.
//!
//! Every provider reads an `EnvVars` of the test's own, never the process environment, and every
//! chain's metadata endpoint points at loopback: no test reaches 169.254.169.254 or the cloud.

mod common;

use common::{CaptureServer, Captured, Reply, TempDir, path_str};
use hss_image_sync::credentials::{
    CredentialsCache, CredentialsError, DefaultChain, EcsMetadataProvider, EnvVars,
    EnvironmentProvider, METADATA_ENDPOINT_VARIABLE, OidcStsProvider, PodIdentityProvider,
    ProfileProvider, ProvideCredentials,
};
use hss_image_sync::signer::sdk_date;
use secrecy::ExposeSecret;
use std::time::{Duration, Instant, SystemTime};

const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
const SECRET: &str = "temporary-secret-key-c2VjcmV0";
const SECURITY_TOKEN: &str = "temporary-security-token-dG9rZW4=";

/// Variables for one test; nothing else is set.
fn env(pairs: &[(&str, &str)]) -> EnvVars {
    EnvVars::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// `now + secs` as STS writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
fn expiry_in(secs: u64) -> String {
    let t = sdk_date::format(SystemTime::now() + Duration::from_secs(secs)).unwrap();
    format!(
        "{}-{}-{}T{}:{}:{}.000000Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[9..11],
        &t[11..13],
        &t[13..15]
    )
}

/// A credentials answer in STS's shape.
fn keys_answer(ak: &str, expires_at: &str) -> Reply {
    Reply::json(
        200,
        &format!(
            r#"{{"credential": {{"access": "{ak}", "secret": "{SECRET}", "securitytoken": "{SECURITY_TOKEN}", "expires_at": "{expires_at}"}}}}"#
        ),
    )
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// The header names of a request, lower-cased and sorted.
fn header_names(request: &Captured) -> Vec<String> {
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_temporary(creds: &hss_image_sync::Credentials, ak: &str) {
    assert_eq!(creds.access_key_id(), ak);
    assert_eq!(creds.secret_access_key().expose_secret(), SECRET);
    assert_eq!(
        creds.security_token().unwrap().expose_secret(),
        SECURITY_TOKEN
    );
    assert!(creds.expiry().unwrap() > SystemTime::now());
}

// --- OIDC STS ------------------------------------------------------------------------------

#[tokio::test]
async fn oidc_sts_request_is_the_sdks_byte_for_byte() {
    let sts = CaptureServer::start(0).await;
    sts.reply_with(keys_answer("OIDCAK", &expiry_in(3600)));
    let endpoint = format!("{}/ignored/path?also=ignored", sts.endpoint());
    let provider = OidcStsProvider::new()
        .with_region("ap-southeast-3")
        .with_env(env(&[
            (
                "HUAWEICLOUD_OIDC_PROVIDER_URN",
                "iam::0a1b:identity_provider:k8s",
            ),
            ("HUAWEICLOUD_OIDC_AGENCY_URN", "iam::0a1b:agency:reader"),
            ("HUAWEICLOUD_OIDC_ID_TOKEN", ID_TOKEN),
            (
                "HUAWEICLOUD_OIDC_TOKEN_FILE",
                "/not/read/when/the/token/is/set",
            ),
            ("HUAWEICLOUD_OIDC_SESSION_NAME", "sessión"),
            ("HUAWEICLOUD_OIDC_DURATION_SECONDS", " 900 "),
            ("HUAWEICLOUD_OIDC_POLICY", r#"{"Version": "5.0"}"#),
            ("HUAWEICLOUD_OIDC_POLICY_IDS", "id1, ,id2,"),
            ("HUAWEICLOUD_SDK_STS_ENDPOINT", &endpoint),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "proj-1"),
        ]));
    let creds = provider.provide_credentials().await.unwrap();
    assert_temporary(&creds, "OIDCAK");
    assert_eq!(creds.project_id(), Some("proj-1"));
    assert_eq!(provider.name(), "oidc-sts");

    let requests = sts.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v5/agencies/assume-with-oidc");
    assert_eq!(
        header_names(request),
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "user-agent"
        ]
    );
    assert_eq!(
        request.header("Content-Type"),
        Some("application/json;charset=UTF-8")
    );
    assert!(
        request
            .header("User-Agent")
            .unwrap()
            .starts_with("hss-image-sync/")
    );
    let expected = concat!(
        r#"{"provider_urn": "iam::0a1b:identity_provider:k8s", "agency_urn": "iam::0a1b:agency:reader", "#,
        r#""agency_session_name": "sessi\u00f3n", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl", "#,
        r#""duration_seconds": 900, "policy": "{\"Version\": \"5.0\"}", "policy_ids": ["id1", "id2"]}"#
    );
    assert_eq!(String::from_utf8(request.body.clone()).unwrap(), expected);
}

#[tokio::test]
async fn oidc_token_file_is_read_again_at_each_fetch() {
    let dir = TempDir::new("oidc");
    let token_file = dir.write("token", "  first-token\n");
    let sts = CaptureServer::start(0).await;
    sts.reply_with(keys_answer("AK1", &expiry_in(3600)));
    sts.reply_with(keys_answer("AK2", &expiry_in(3600)));
    let provider = OidcStsProvider::new().with_env(env(&[
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", "p"),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", "a"),
        ("HUAWEICLOUD_OIDC_TOKEN_FILE", path_str(&token_file)),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", &sts.endpoint()),
    ]));
    assert_eq!(
        provider
            .provide_credentials()
            .await
            .unwrap()
            .access_key_id(),
        "AK1"
    );
    std::fs::write(&token_file, "second-token").unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "AK2");
    assert_eq!(creds.project_id(), None);
    let bodies: Vec<String> = sts
        .requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    // Defaults: session name, 3600 s, no policy keys.
    assert_eq!(
        bodies,
        [
            r#"{"provider_urn": "p", "agency_urn": "a", "agency_session_name": "oidc-sts-session", "id_token": "first-token", "duration_seconds": 3600}"#,
            r#"{"provider_urn": "p", "agency_urn": "a", "agency_session_name": "oidc-sts-session", "id_token": "second-token", "duration_seconds": 3600}"#,
        ]
    );

    // An emptied or removed token file is an error, and nothing is sent.
    std::fs::write(&token_file, " \n").unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(err, CredentialsError::Fetch { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("oidc-sts: HUAWEICLOUD_OIDC_TOKEN_FILE"),
        "{err}"
    );
    std::fs::remove_file(&token_file).unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(err.to_string().contains("cannot be read"), "{err}");
    assert_eq!(sts.requests().len(), 2);
}

#[tokio::test]
async fn oidc_errors_name_the_provider_and_mask_the_token() {
    let sts = CaptureServer::start(0).await;
    sts.reply_with(Reply::json(
        400,
        &format!(r#"{{"error_code": "STS.0401", "error_msg": "invalid id token {ID_TOKEN}"}}"#),
    ));
    sts.reply_with(text(200, ""));
    sts.reply_with(Reply::json(
        200,
        r#"{"credential": {"access": "AK", "secret": "S"}}"#,
    ));
    let provider = OidcStsProvider::new().with_env(env(&[
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", "p"),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", "a"),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", ID_TOKEN),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", &sts.endpoint()),
    ]));
    let err = provider.provide_credentials().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.starts_with(&format!(
            "oidc-sts: POST {}/v5/agencies/assume-with-oidc answered 400 Bad Request: STS.0401 invalid id token [REDACTED]",
            sts.endpoint()
        )),
        "{shown}"
    );
    assert!(!shown.contains(ID_TOKEN), "{shown}");
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(err.to_string().ends_with("with an empty body"), "{err}");
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(err.to_string().contains("has no expiry"), "{err}");
    assert!(!format!("{provider:?}").contains(ID_TOKEN));
}

// --- Environment and profile ----------------------------------------------------------------

/// A fake IAM for the federated login: an unscoped token, then keys.
async fn fake_iam(ak: &str) -> CaptureServer {
    let iam = CaptureServer::start(0).await;
    let mut created = text(201, r#"{"token": {}}"#);
    created
        .headers
        .push(("X-Subject-Token".into(), "unscoped-token-MIIxyz".into()));
    iam.reply_with(created);
    iam.reply_with(keys_answer(ak, &expiry_in(21_600)));
    iam
}

fn assert_federated_requests(iam: &CaptureServer, idp: &str, id_token: &str) {
    let requests = iam.requests();
    assert_eq!(requests.len(), 2);
    let (login, keys) = (&requests[0], &requests[1]);
    assert_eq!(login.method, "POST");
    assert_eq!(login.target, "/v3.0/OS-AUTH/id-token/tokens");
    assert_eq!(login.header("X-Idp-Id"), Some(idp));
    assert_eq!(
        login.header("Content-Type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(
        header_names(login),
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "user-agent",
            "x-idp-id"
        ]
    );
    assert_eq!(
        String::from_utf8(login.body.clone()).unwrap(),
        format!(r#"{{"auth": {{"id_token": {{"id": "{id_token}"}}}}}}"#)
    );
    assert_eq!(keys.method, "POST");
    assert_eq!(keys.target, "/v3.0/OS-CREDENTIAL/securitytokens");
    assert_eq!(
        header_names(keys),
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "user-agent"
        ]
    );
    assert_eq!(
        String::from_utf8(keys.body.clone()).unwrap(),
        r#"{"auth": {"identity": {"methods": ["token"], "token": {"id": "unscoped-token-MIIxyz", "duration_seconds": 21600}}}}"#
    );
}

#[tokio::test]
async fn environment_keys_and_the_federated_login_that_wins_over_them() {
    let keys = EnvironmentProvider::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_AK", "ENVAK"),
        ("HUAWEICLOUD_SDK_SK", "ENVSK"),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "ENVTOKEN"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "proj-env"),
    ]));
    let creds = keys.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "ENVAK");
    assert_eq!(creds.security_token().unwrap().expose_secret(), "ENVTOKEN");
    assert_eq!(creds.project_id(), Some("proj-env"));
    assert_eq!(creds.expiry(), None);

    let dir = TempDir::new("env-federated");
    let token_file = dir.write("id-token", &format!("{ID_TOKEN}\n"));
    let iam = fake_iam("FEDAK").await;
    let federated = EnvironmentProvider::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_AK", "ENVAK"),
        ("HUAWEICLOUD_SDK_SK", "ENVSK"),
        ("HUAWEICLOUD_SDK_IDP_ID", "my-idp"),
        ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(&token_file)),
        (
            "HUAWEICLOUD_SDK_IAM_ENDPOINT",
            &format!("{}/v3", iam.endpoint()),
        ),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "proj-env"),
    ]));
    let creds = federated.provide_credentials().await.unwrap();
    assert_temporary(&creds, "FEDAK");
    assert_eq!(creds.project_id(), Some("proj-env"));
    assert_federated_requests(&iam, "my-idp", ID_TOKEN);

    let err = EnvironmentProvider::new()
        .with_env(env(&[("HUAWEICLOUD_SDK_AK", "ENVAK")]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CredentialsError::NotConfigured {
                provider: "environment",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn federated_login_errors_mask_the_tokens() {
    let dir = TempDir::new("federated-errors");
    let token_file = dir.write("id-token", ID_TOKEN);
    let iam = CaptureServer::start(0).await;
    iam.reply_with(text(201, "{}")); // no X-Subject-Token
    iam.reply_with(Reply::json(
        401,
        &format!(r#"{{"error": {{"code": "IAM.0001", "message": "bad {ID_TOKEN}"}}}}"#),
    ));
    let provider = EnvironmentProvider::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_IDP_ID", "my-idp"),
        ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(&token_file)),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam.endpoint()),
    ]));
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("answered without an X-Subject-Token header"),
        "{err}"
    );
    let err = provider.provide_credentials().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.starts_with("environment: federated login: POST"),
        "{shown}"
    );
    assert!(shown.contains("401 Unauthorized"), "{shown}");
    assert!(!shown.contains(ID_TOKEN), "{shown}");
}

#[tokio::test]
async fn profile_accepts_what_the_sdks_read_and_a_federated_login() {
    let dir = TempDir::new("profile");
    // [basiccredentials], `key: value`, CRLF, comments, [DEFAULT] inheritance, a BOM, `%`.
    let file = dir.write(
        "credentials",
        "\u{feff}[DEFAULT]\r\nproject_id = proj-default\r\n; comment\r\n[basiccredentials]\r\n# comment\r\nAK: PROFAK\r\nSk = 100%secret\r\n",
    );
    let provider = ProfileProvider::new().with_env(env(&[(
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
        path_str(&file),
    )]));
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "PROFAK");
    assert_eq!(creds.secret_access_key().expose_secret(), "100%secret");
    assert_eq!(creds.project_id(), Some("proj-default"));

    // The file under $HOME, a federated login through the profile's iam_endpoint (which wins
    // over the variable, here a closed port).
    let token_file = dir.write("id-token", "profile-id-token");
    let home = dir.0.join("home");
    std::fs::create_dir_all(home.join(".huaweicloud")).unwrap();
    let iam = fake_iam("PROFFEDAK").await;
    std::fs::write(
        home.join(".huaweicloud").join("credentials"),
        format!(
            "[basic]\nak = IGNORED\nsk = IGNORED\nidp_id = profile-idp\nid_token_file = {}\niam_endpoint = {}\nproject_id = proj-profile\n",
            path_str(&token_file),
            iam.endpoint()
        ),
    )
    .unwrap();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let provider = ProfileProvider::new().with_env(env(&[
        ("HOME", path_str(&home)),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &closed),
    ]));
    let creds = provider.provide_credentials().await.unwrap();
    assert_temporary(&creds, "PROFFEDAK");
    assert_eq!(creds.project_id(), Some("proj-profile"));
    assert_federated_requests(&iam, "profile-idp", "profile-id-token");

    // Not configured: no file, no section, no keys. Not readable: an error.
    for (content, reason) in [
        (None, "no file"),
        (
            Some("[Basic]\nak = A\nsk = S\n"),
            "no [basic] or [basiccredentials]",
        ),
        (
            Some("[basic]\nak = A\n"),
            "no [basic] or [basiccredentials]",
        ),
    ] {
        let path = dir.0.join("maybe");
        let _ = std::fs::remove_file(&path);
        if let Some(content) = content {
            std::fs::write(&path, content).unwrap();
        }
        let err = ProfileProvider::new()
            .with_env(env(&[(
                "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
                path_str(&path),
            )]))
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CredentialsError::NotConfigured {
                    provider: "profile",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(reason), "{err}");
    }
    let err = ProfileProvider::new()
        .with_env(env(&[(
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
            path_str(&dir.0),
        )]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialsError::NotAFile(_)), "{err}");
}

// --- ECS metadata ---------------------------------------------------------------------------

fn metadata_provider(server: &CaptureServer) -> EcsMetadataProvider {
    EcsMetadataProvider::new().with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &server.endpoint())]))
}

fn summary(requests: &[Captured]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.target,
                r.header("X-Metadata-Token").unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test]
async fn metadata_gets_a_session_token_then_the_keys_and_keeps_the_token() {
    let server = CaptureServer::start(0).await;
    server.reply_with(text(200, "session-token-1"));
    server.reply_with(keys_answer("ECSAK1", &expiry_in(3600)));
    server.reply_with(keys_answer("ECSAK2", &expiry_in(3600)));
    let provider = metadata_provider(&server);
    let creds = provider.provide_credentials().await.unwrap();
    assert_temporary(&creds, "ECSAK1");
    assert_eq!(creds.project_id(), None);
    assert_eq!(
        provider
            .provide_credentials()
            .await
            .unwrap()
            .access_key_id(),
        "ECSAK2"
    );
    let requests = server.requests();
    assert_eq!(
        summary(&requests),
        [
            "PUT /meta-data/latest/api/token -",
            "GET /openstack/latest/securitykey session-token-1",
            "GET /openstack/latest/securitykey session-token-1",
        ]
    );
    let put = &requests[0];
    assert_eq!(put.header("X-Metadata-Token-Ttl-Seconds"), Some("21600"));
    assert!(put.body.is_empty());
    assert!(put.header("Authorization").is_none());
    assert_eq!(provider.name(), "ecs-metadata");
    assert!(!format!("{provider:?}").contains("session-token-1"));
}

#[tokio::test]
async fn metadata_401_gets_a_new_session_token_and_tries_once_more() {
    let server = CaptureServer::start(0).await;
    server.reply_with(text(200, "session-token-1"));
    server.reply_with(text(401, "token expired"));
    server.reply_with(text(200, "session-token-2"));
    server.reply_with(keys_answer("ECSAK", &expiry_in(3600)));
    let creds = metadata_provider(&server)
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(creds.access_key_id(), "ECSAK");
    assert_eq!(
        summary(&server.requests()),
        [
            "PUT /meta-data/latest/api/token -",
            "GET /openstack/latest/securitykey session-token-1",
            "PUT /meta-data/latest/api/token -",
            "GET /openstack/latest/securitykey session-token-2",
        ]
    );

    // "Please configure Cloud Service Agency first" is final.
    let server = CaptureServer::start(0).await;
    server.reply_with(text(200, "session-token-1"));
    server.reply_with(text(401, "Please configure Cloud Service Agency first"));
    let err = metadata_provider(&server)
        .provide_credentials()
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("ecs-metadata: GET http://127.0.0.1:")
            && shown.contains("/openstack/latest/securitykey answered 401 Unauthorized"),
        "{shown}"
    );
    assert_eq!(server.requests().len(), 2);

    // A second 401 is an error, the session token masked if echoed.
    let server = CaptureServer::start(0).await;
    server.reply_with(text(200, "session-token-1"));
    server.reply_with(text(401, "no"));
    server.reply_with(text(200, "session-token-2"));
    server.reply_with(text(401, "still not session-token-2"));
    let err = metadata_provider(&server)
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("401 Unauthorized: still not [REDACTED]"),
        "{err}"
    );
}

#[tokio::test]
async fn metadata_without_session_tokens_asks_without_one() {
    for status in [404, 405, 503] {
        let server = CaptureServer::start(0).await;
        server.reply_with(text(status, "no tokens here"));
        server.reply_with(keys_answer("V1AK", &expiry_in(3600)));
        server.reply_with(keys_answer("V1AK", &expiry_in(3600)));
        let provider = metadata_provider(&server);
        assert_eq!(
            provider
                .provide_credentials()
                .await
                .unwrap()
                .access_key_id(),
            "V1AK"
        );
        // No new token request for a day.
        provider.provide_credentials().await.unwrap();
        assert_eq!(
            summary(&server.requests()),
            [
                "PUT /meta-data/latest/api/token -",
                "GET /openstack/latest/securitykey -",
                "GET /openstack/latest/securitykey -",
            ],
            "{status}"
        );
    }
    // Any other status of the token request is an error.
    let server = CaptureServer::start(0).await;
    server.reply_with(text(500, "broken"));
    let err = metadata_provider(&server)
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("answered 500 Internal Server Error: broken"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn metadata_gives_up_quickly_where_nothing_answers() {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let provider =
        EcsMetadataProvider::new().with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &closed)]));
    let started = Instant::now();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("cannot connect"), "{err}");

    let (silent, task) = common::silent_server().await;
    let provider =
        EcsMetadataProvider::new().with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &silent)]));
    let started = Instant::now();
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("no answer in time"), "{err}");
    task.abort();
}

// --- Pod identity ---------------------------------------------------------------------------

#[tokio::test]
async fn pod_identity_posts_the_token_file_read_again_at_each_fetch() {
    let dir = TempDir::new("pod");
    let token_file = dir.write("token", "  pod-token-a \n");
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        200,
        &format!(
            r#"{{"access_key_id": "PODAK1", "secret_access_key": "{SECRET}", "security_token": "{SECURITY_TOKEN}", "expiration": "{}"}}"#,
            expiry_in(3600)
        ),
    ));
    server.reply_with(keys_answer("PODAK2", &expiry_in(3600)));
    let uri = format!("{}/v1/credentials?cluster=c1", server.endpoint());
    let provider = PodIdentityProvider::new().with_env(env(&[
        ("HC_CONTAINER_CREDENTIALS_FULL_URI", &uri),
        (
            "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            path_str(&token_file),
        ),
    ]));
    let creds = provider.provide_credentials().await.unwrap();
    assert_temporary(&creds, "PODAK1");
    assert_eq!(creds.project_id(), None);
    std::fs::write(&token_file, "pod-token-b").unwrap();
    assert_eq!(
        provider
            .provide_credentials()
            .await
            .unwrap()
            .access_key_id(),
        "PODAK2"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for (request, token) in requests.iter().zip(["pod-token-a", "pod-token-b"]) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/v1/credentials?cluster=c1");
        assert_eq!(request.header("Authorization"), Some(token));
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(request.body, b"{}");
        assert_eq!(
            header_names(request),
            [
                "accept",
                "authorization",
                "content-length",
                "content-type",
                "host",
                "user-agent"
            ]
        );
    }
    assert_eq!(provider.name(), "pod-identity");
}

#[tokio::test]
async fn pod_identity_refuses_an_empty_token_and_masks_it_in_errors() {
    let dir = TempDir::new("pod-errors");
    let token_file = dir.write("token", " \n\t");
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        403,
        r#"{"error_code": "CCE.403", "error_msg": "token pod-token-x refused"}"#,
    ));
    let provider = PodIdentityProvider::new().with_env(env(&[
        ("HC_CONTAINER_CREDENTIALS_FULL_URI", &server.endpoint()),
        (
            "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            path_str(&token_file),
        ),
    ]));
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(err.to_string().ends_with(": empty"), "{err}");
    assert!(server.requests().is_empty());

    std::fs::write(&token_file, "pod-token-x").unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("403 Forbidden: CCE.403 token [REDACTED] refused"),
        "{shown}"
    );
    assert!(!shown.contains("pod-token-x"), "{shown}");

    // Answers are bounded.
    server.reply_with(text(200, &" ".repeat(70 * 1024)));
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the answer is larger than 65536 bytes"),
        "{err}"
    );

    let err = PodIdentityProvider::new()
        .with_env(env(&[(
            "HC_CONTAINER_CREDENTIALS_FULL_URI",
            &server.endpoint(),
        )]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CredentialsError::NotConfigured {
                provider: "pod-identity",
                ..
            }
        ),
        "{err}"
    );
}

// --- The default chain ----------------------------------------------------------------------

/// Fakes for every network provider, and a profile file.
struct Everything {
    sts: CaptureServer,
    metadata: CaptureServer,
    pod: CaptureServer,
    dir: TempDir,
}

impl Everything {
    async fn new() -> Self {
        let dir = TempDir::new("chain");
        dir.write("profile", "[basic]\nak = PROFILEAK\nsk = PROFILESK\n");
        dir.write("id-token", ID_TOKEN);
        dir.write("pod-token", "pod-token");
        Everything {
            sts: CaptureServer::start(0).await,
            metadata: CaptureServer::start(0).await,
            pod: CaptureServer::start(0).await,
            dir,
        }
    }

    /// The chain with the variables of the providers named in `configured` (the metadata
    /// endpoint always points at its fake).
    fn chain(&self, configured: &[&str]) -> DefaultChain {
        let file = |name: &str| path_str(&self.dir.0.join(name)).to_owned();
        let mut vars: Vec<(String, String)> =
            vec![(METADATA_ENDPOINT_VARIABLE.into(), self.metadata.endpoint())];
        let mut set = |k: &str, v: String| vars.push((k.into(), v));
        for provider in configured {
            match *provider {
                "oidc-sts" => {
                    set("HUAWEICLOUD_OIDC_PROVIDER_URN", "p".into());
                    set("HUAWEICLOUD_OIDC_AGENCY_URN", "a".into());
                    set("HUAWEICLOUD_OIDC_TOKEN_FILE", file("id-token"));
                    set("HUAWEICLOUD_SDK_STS_ENDPOINT", self.sts.endpoint());
                }
                "environment" => {
                    set("HUAWEICLOUD_SDK_AK", "ENVAK".into());
                    set("HUAWEICLOUD_SDK_SK", "ENVSK".into());
                }
                "profile" => set("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file("profile")),
                "pod-identity" => {
                    set("HC_CONTAINER_CREDENTIALS_FULL_URI", self.pod.endpoint());
                    set("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", file("pod-token"));
                }
                other => panic!("{other}"),
            }
        }
        DefaultChain::new().with_env(EnvVars::from_pairs(vars))
    }
}

#[tokio::test]
async fn chain_takes_the_first_provider_that_applies_in_the_sdks_order() {
    let all = ["oidc-sts", "environment", "profile", "pod-identity"];
    let fakes = Everything::new().await;
    fakes.sts.reply_with(keys_answer("STSAK", &expiry_in(3600)));
    let creds = fakes.chain(&all).provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "STSAK");
    assert_eq!(fakes.sts.requests().len(), 1);

    let creds = fakes.chain(&all[1..]).provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "ENVAK");
    let creds = fakes.chain(&all[2..]).provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "PROFILEAK");
    assert!(fakes.metadata.requests().is_empty());

    fakes.metadata.reply_with(text(200, "session-token"));
    fakes
        .metadata
        .reply_with(keys_answer("ECSAK", &expiry_in(3600)));
    let creds = fakes.chain(&all[3..]).provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "ECSAK");
    assert!(fakes.pod.requests().is_empty());

    // The metadata service answers with an error status (no agency): on to pod identity, as
    // in the SDKs.
    fakes.metadata.reply_with(text(404, "not found"));
    fakes.metadata.reply_with(text(404, "no agency"));
    fakes.pod.reply_with(keys_answer("PODAK", &expiry_in(3600)));
    let creds = fakes.chain(&all[3..]).provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "PODAK");
    assert_eq!(fakes.pod.requests().len(), 1);
    assert_eq!(fakes.sts.requests().len(), 1);
}

#[tokio::test]
async fn chain_goes_on_past_a_silent_metadata_service_and_lists_every_provider() {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let chain = DefaultChain::new().with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &closed)]));
    assert_eq!(chain.name(), "default-chain");
    let started = Instant::now();
    let err = chain.provide_credentials().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let CredentialsError::Chain(errors) = &err else {
        panic!("not a chain error: {err}");
    };
    let names: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            CredentialsError::NotConfigured { provider, .. }
            | CredentialsError::Fetch { provider, .. } => *provider,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "oidc-sts",
            "environment",
            "profile",
            "ecs-metadata",
            "pod-identity"
        ]
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with("no credentials found: oidc-sts: not configured: "),
        "{shown}"
    );
    assert!(
        shown.contains("; ecs-metadata: PUT http://127.0.0.1:"),
        "{shown}"
    );
    assert!(shown.contains("cannot connect"), "{shown}");

    // Pod identity is still tried after the metadata service did not answer.
    let fakes = Everything::new().await;
    fakes.pod.reply_with(keys_answer("PODAK", &expiry_in(3600)));
    let chain = fakes.chain(&["pod-identity"]).with_env(env(&[
        (METADATA_ENDPOINT_VARIABLE, &closed),
        ("HC_CONTAINER_CREDENTIALS_FULL_URI", &fakes.pod.endpoint()),
        (
            "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            path_str(&fakes.dir.0.join("pod-token")),
        ),
    ]));
    assert_eq!(
        chain.provide_credentials().await.unwrap().access_key_id(),
        "PODAK"
    );
}

#[tokio::test]
async fn chain_stops_at_a_real_failure() {
    // STS refuses: the environment's keys are not used instead.
    let fakes = Everything::new().await;
    fakes.sts.reply_with(Reply::json(
        500,
        r#"{"error_code": "STS.500", "error_msg": "down"}"#,
    ));
    let err = fakes
        .chain(&["oidc-sts", "environment"])
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("oidc-sts: POST"), "{err}");
    assert!(
        err.to_string()
            .contains("500 Internal Server Error: STS.500 down"),
        "{err}"
    );

    // The metadata service answers something unreadable: pod identity is not tried.
    fakes.metadata.reply_with(text(200, "session-token"));
    fakes
        .metadata
        .reply_with(text(200, "<html>not keys</html>"));
    let err = fakes
        .chain(&["pod-identity"])
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("ecs-metadata: the credentials answer is not JSON"),
        "{err}"
    );
    assert!(fakes.pod.requests().is_empty());

    // A profile file that cannot be read.
    let err = DefaultChain::new()
        .with_env(env(&[
            ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path_str(&fakes.dir.0)),
            (METADATA_ENDPOINT_VARIABLE, &fakes.metadata.endpoint()),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialsError::NotAFile(_)), "{err}");
}

#[tokio::test]
async fn chain_debug_shows_no_secret() {
    let chain = DefaultChain::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_AK", "ENVAK"),
        ("HUAWEICLOUD_SDK_SK", SECRET),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", ID_TOKEN),
        (METADATA_ENDPOINT_VARIABLE, "http://127.0.0.1:9"),
    ]));
    let shown = format!("{chain:?}");
    assert!(
        !shown.contains(SECRET) && !shown.contains(ID_TOKEN),
        "{shown}"
    );
    let creds = chain.provide_credentials().await.unwrap();
    assert!(!format!("{creds:?}").contains(SECRET));
}

// --- Refresh through the client's cache -----------------------------------------------------

#[tokio::test]
async fn cache_fetches_once_for_concurrent_callers_and_again_when_keys_expire() {
    let fakes = Everything::new().await;
    fakes.sts.reply_with(keys_answer("LONG", &expiry_in(3600)));
    let cache = CredentialsCache::new(fakes.chain(&["oidc-sts"]));
    assert_eq!(cache.provider_name(), "default-chain");
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().access_key_id(), "LONG");
    }
    assert_eq!(fakes.sts.requests().len(), 1);

    // Keys that live about 2 s are fetched again once half their life has passed.
    fakes.sts.reply_with(keys_answer("SHORT1", &expiry_in(2)));
    fakes
        .sts
        .reply_with(keys_answer("SHORT2", &expiry_in(3600)));
    let cache = CredentialsCache::new(fakes.chain(&["oidc-sts"]));
    assert_eq!(cache.get().await.unwrap().access_key_id(), "SHORT1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cache.get().await.unwrap().access_key_id(), "SHORT2");
    assert_eq!(cache.get().await.unwrap().access_key_id(), "SHORT2");
    assert_eq!(fakes.sts.requests().len(), 3);
}

// --- Values and endpoints refused ----------------------------------------------------------

/// A value with a line break in every place a provider reads one.
const BROKEN_TOKEN: &str = "TOKEN-FIRST\r\nTOKEN-SECOND";

/// Asserts that `err` is the refusal of a value of `field` holding a control character, and
/// shows no part of the value.
fn assert_refused_value(err: &CredentialsError, provider: &str, field: &str) {
    let shown = format!("{err} {err:?}");
    assert!(
        matches!(err, CredentialsError::InvalidValue { provider: p, field: f, rule }
            if *p == provider && f.contains(field) && rule.contains("control characters")),
        "{shown}"
    );
    assert!(
        !shown.contains("TOKEN-FIRST") && !shown.contains("TOKEN-SECOND"),
        "{shown}"
    );
}

/// A credentials answer whose security token holds CRLF.
fn broken_keys_answer(shape: &str) -> Reply {
    let token = BROKEN_TOKEN.replace("\r\n", "\\r\\n");
    let expiry = expiry_in(3600);
    Reply::json(
        200,
        &match shape {
            "metadata" => format!(
                r#"{{"credential": {{"access": "AK", "secret": "{SECRET}", "securitytoken": "{token}", "expires_at": "{expiry}"}}}}"#
            ),
            _ => format!(
                r#"{{"access_key_id": "AK", "secret_access_key": "{SECRET}", "security_token": "{token}", "expiration": "{expiry}"}}"#
            ),
        },
    )
}

#[tokio::test]
async fn values_with_control_characters_are_refused_on_every_path() {
    // The environment: a token, an AK, an SK, a project ID.
    for (variable, value) in [
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", BROKEN_TOKEN),
        (
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
            "TOKEN-FIRST\nTOKEN-SECOND",
        ),
        (
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
            "TOKEN-FIRST\tTOKEN-SECOND",
        ),
        ("HUAWEICLOUD_SDK_AK", "TOKEN-FIRST\u{7f}"),
        ("HUAWEICLOUD_SDK_SK", "TOKEN-FIRST\u{85}TOKEN-SECOND"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "TOKEN-FIRST\nTOKEN-SECOND"),
    ] {
        let mut pairs = vec![
            ("HUAWEICLOUD_SDK_AK", "ENVAK"),
            ("HUAWEICLOUD_SDK_SK", "ENVSK"),
        ];
        pairs.retain(|(k, _)| *k != variable);
        pairs.push((variable, value));
        let err = EnvironmentProvider::new()
            .with_env(env(&pairs))
            .provide_credentials()
            .await
            .unwrap_err();
        assert_refused_value(&err, "environment", variable);
        // The chain stops there: no other identity is used instead.
        let err = DefaultChain::new()
            .with_env(env(&pairs))
            .provide_credentials()
            .await
            .unwrap_err();
        assert_refused_value(&err, "environment", variable);
    }

    // The profile file: a security token continued on an indented line.
    let dir = TempDir::new("broken-values");
    let file = dir.write(
        "credentials",
        "[basic]\nak = PROFILEAK\nsk = PROFILESK\nsecurity_token = TOKEN-FIRST\n  TOKEN-SECOND\n",
    );
    let err = ProfileProvider::new()
        .with_env(env(&[(
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
            path_str(&file),
        )]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert_refused_value(&err, "profile", "security_token");
    let err = hss_image_sync::credentials::from_profile_file(&file).unwrap_err();
    assert_refused_value(&err, "profile", "security_token");

    // ECS metadata: `securitytoken` with CRLF.
    let server = CaptureServer::start(0).await;
    server.reply_with(text(200, "session-token"));
    server.reply_with(broken_keys_answer("metadata"));
    let err = metadata_provider(&server)
        .provide_credentials()
        .await
        .unwrap_err();
    assert_refused_value(&err, "ecs-metadata", "securitytoken");

    // OIDC STS.
    let sts = CaptureServer::start(0).await;
    sts.reply_with(broken_keys_answer("metadata"));
    let err = OidcStsProvider::new()
        .with_env(env(&[
            (
                "HUAWEICLOUD_OIDC_PROVIDER_URN",
                "iam::0a1b:identity_provider:k8s",
            ),
            ("HUAWEICLOUD_OIDC_AGENCY_URN", "iam::0a1b:agency:reader"),
            ("HUAWEICLOUD_OIDC_ID_TOKEN", ID_TOKEN),
            ("HUAWEICLOUD_SDK_STS_ENDPOINT", &sts.endpoint()),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert_refused_value(&err, "oidc-sts", "securitytoken");

    // The federated login through IAM.
    let iam = CaptureServer::start(0).await;
    let mut created = text(201, r#"{"token": {}}"#);
    created
        .headers
        .push(("X-Subject-Token".into(), "unscoped-token-MIIxyz".into()));
    iam.reply_with(created);
    iam.reply_with(broken_keys_answer("metadata"));
    let token_file = dir.write("id-token", ID_TOKEN);
    let err = EnvironmentProvider::new()
        .with_env(env(&[
            ("HUAWEICLOUD_SDK_IDP_ID", "my-idp"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(&token_file)),
            ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam.endpoint()),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert_refused_value(&err, "environment", "securitytoken");

    // CCE pod identity.
    let pod = CaptureServer::start(0).await;
    pod.reply_with(broken_keys_answer("pod"));
    let pod_token = dir.write("pod-token", "pod-token-a");
    let err = PodIdentityProvider::new()
        .with_env(env(&[
            (
                "HC_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/v1/credentials", pod.endpoint()),
            ),
            (
                "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                path_str(&pod_token),
            ),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
    assert_refused_value(&err, "pod-identity", "security_token");
}

#[tokio::test]
async fn endpoints_with_white_space_control_characters_or_user_info_are_refused_unquoted() {
    let server = CaptureServer::start(0).await;
    let port = server.port;
    let dir = TempDir::new("bad-endpoints");
    let id_token = dir.write("id-token", ID_TOKEN);
    let pod_token = dir.write("pod-token", "pod-token-a");
    for endpoint in [
        // The URL parser would drop the tab and connect to port {port}.
        format!(
            "http://127.0.0.1:{}\t{}",
            &port.to_string()[..1],
            &port.to_string()[1..]
        ),
        format!(
            "http://127.0.0.1:{}\n{}",
            &port.to_string()[..1],
            &port.to_string()[1..]
        ),
        format!("http://admin:S3CRET-PASSWORD@127.0.0.1:{port}"),
        format!("http://S3CRET-PASSWORD@127.0.0.1:{port}/path"),
    ] {
        let expected = if endpoint.contains('@') {
            "user info"
        } else {
            "white space or control characters"
        };
        let providers: Vec<(Box<dyn ProvideCredentials>, &str)> = vec![
            (
                Box::new(OidcStsProvider::new().with_env(env(&[
                    (
                        "HUAWEICLOUD_OIDC_PROVIDER_URN",
                        "iam::0a1b:identity_provider:k8s",
                    ),
                    ("HUAWEICLOUD_OIDC_AGENCY_URN", "iam::0a1b:agency:reader"),
                    ("HUAWEICLOUD_OIDC_ID_TOKEN", ID_TOKEN),
                    ("HUAWEICLOUD_SDK_STS_ENDPOINT", &endpoint),
                ]))),
                "HUAWEICLOUD_SDK_STS_ENDPOINT",
            ),
            (
                Box::new(EnvironmentProvider::new().with_env(env(&[
                    ("HUAWEICLOUD_SDK_IDP_ID", "my-idp"),
                    ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(&id_token)),
                    ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &endpoint),
                ]))),
                "HUAWEICLOUD_SDK_IAM_ENDPOINT",
            ),
            (
                Box::new(
                    EcsMetadataProvider::new()
                        .with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &endpoint)])),
                ),
                METADATA_ENDPOINT_VARIABLE,
            ),
            (
                Box::new(PodIdentityProvider::new().with_env(env(&[
                    ("HC_CONTAINER_CREDENTIALS_FULL_URI", &endpoint),
                    (
                        "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                        path_str(&pod_token),
                    ),
                ]))),
                "HC_CONTAINER_CREDENTIALS_FULL_URI",
            ),
        ];
        for (provider, setting) in providers {
            let err = provider.provide_credentials().await.unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                shown.contains(setting) && shown.contains(expected),
                "{endpoint:?}: {shown}"
            );
            assert!(
                !shown.contains("S3CRET-PASSWORD") && !shown.contains("127.0.0.1"),
                "{shown}"
            );
        }
    }
    // Nothing was sent: not to the port left once the tab is dropped, not with user info (a
    // pod-identity URI's would go out as a second `Authorization` header).
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}
