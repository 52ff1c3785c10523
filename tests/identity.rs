//! Every credential provider and IAM project discovery end to end against the emulator's
//! identity services on 127.0.0.1 (IAM, STS, ECS metadata, CCE pod identity, served next to
//! HSS): the keys they hand out are accepted by the emulator's gateway, the project is looked up
//! in IAM once, short-lived keys are refreshed once for many concurrent calls and refused once
//! expired, the default chain picks providers in the official SDKs' order, `whoami` shows what
//! was found; and the official Python SDK's providers against the same emulator
//! (tests/oracle/sdk_providers_against_emulator.py, skipped without the oracle venv).
//!
//! Providers read variables of the test's own (`EnvVars`), never the process environment; the
//! CLI runs with a cleared environment. Every address is 127.0.0.1: the metadata endpoint always
//! points at loopback, so nothing reaches 169.254.169.254 or the cloud.

mod common;

use common::TempDir;
use common::oracle::{checks_passed, oracle_python};
use hss_image_sync::credentials::{
    CredentialsError, DefaultChain, EcsMetadataProvider, EnvVars, EnvironmentProvider,
    OidcStsProvider, PodIdentityProvider, ProfileProvider, ProvideCredentials,
};
use hss_image_sync::emulator::{
    Action, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, Emulator, IdentityCalls,
    IdentityEndpoint, NO_AGENCY, RunningEmulator, Verdict,
};
use hss_image_sync::signer::{self, SignableRequest};
use hss_image_sync::types::ImageType;
use hss_image_sync::{Error, HssClient, ProjectSource};
use secrecy::SecretString;
use std::path::Path;
use std::time::{Duration, SystemTime};

const REGION: &str = "cn-north-4";
const PROVIDER_URN: &str = "iam::0123456789abcdef:identityprovider:emulator-oidc";
const AGENCY_URN: &str = "iam::0123456789abcdef:agency:hss-image-sync";
const OIDC_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aHNzIn0.c2ln";
const IDP_ID: &str = "emulator-idp";
const FEDERATED_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmZWRlcmF0ZWQifQ.ZmVk";
const POD_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb2QifQ.cG9k";

/// Variable names and values.
type Vars<'a> = Vec<(&'a str, &'a str)>;

/// Variables for one provider; nothing else is set.
fn env(pairs: &[(&str, &str)]) -> EnvVars {
    EnvVars::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// An emulator whose identity services accept every test identity.
fn emulator() -> Emulator {
    Emulator::new()
        .oidc_agency(PROVIDER_URN, AGENCY_URN, OIDC_TOKEN)
        .federated_login(IDP_ID, FEDERATED_TOKEN)
        .ecs_agency(true)
        .pod_identity_token(POD_TOKEN)
}

/// A client for the emulator in cn-north-4, with IAM at the emulator, asking `provider`.
fn client(emulator: &RunningEmulator, provider: impl ProvideCredentials + 'static) -> HssClient {
    HssClient::builder()
        .endpoint(emulator.endpoint())
        .region(REGION)
        .iam_endpoint(emulator.endpoint())
        .credentials_provider(provider)
        .build()
        .unwrap()
}

async fn sync(
    client: &HssClient,
) -> Result<hss_image_sync::Response<hss_image_sync::types::RunImageSynchronizeResponse>, Error> {
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
}

/// Synchronizes `times` times, each accepted, and checks the project was found in IAM.
async fn syncs_accepted(client: &HssClient, emulator: &RunningEmulator, times: u64) {
    let before = synchronized(emulator);
    for _ in 0..times {
        let done = sync(client).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.attempts, 1);
    }
    assert_eq!(synchronized(emulator), before + times);
    let identity = client.identity().await.unwrap();
    assert_eq!(identity.project_id, DEMO_PROJECT_ID);
}

/// How many private-image synchronizations the emulator accepted in its project.
fn synchronized(emulator: &RunningEmulator) -> u64 {
    emulator
        .state()
        .sync_record(emulator.project_id(), ImageType::PrivateImage)
        .map_or(0, |r| r.count)
}

/// The calls since `before`.
fn since(emulator: &RunningEmulator, before: IdentityCalls) -> IdentityCalls {
    let now = emulator.identity_calls();
    let mut diff = IdentityCalls::default();
    let pairs = [
        (
            &mut diff.iam_projects,
            now.iam_projects,
            before.iam_projects,
        ),
        (
            &mut diff.iam_id_token_login,
            now.iam_id_token_login,
            before.iam_id_token_login,
        ),
        (
            &mut diff.iam_security_tokens,
            now.iam_security_tokens,
            before.iam_security_tokens,
        ),
        (
            &mut diff.sts_assume_with_oidc,
            now.sts_assume_with_oidc,
            before.sts_assume_with_oidc,
        ),
        (
            &mut diff.metadata_token,
            now.metadata_token,
            before.metadata_token,
        ),
        (
            &mut diff.metadata_security_key,
            now.metadata_security_key,
            before.metadata_security_key,
        ),
        (
            &mut diff.pod_identity,
            now.pod_identity,
            before.pod_identity,
        ),
        (
            &mut diff.credentials_issued,
            now.credentials_issued,
            before.credentials_issued,
        ),
    ];
    for (slot, now, before) in pairs {
        *slot = now - before;
    }
    diff
}

/// Calls with only the named counters set.
fn calls(pairs: &[(IdentityEndpoint, u64)], issued: u64) -> IdentityCalls {
    let mut calls = IdentityCalls::default();
    for (endpoint, n) in pairs {
        let slot = match endpoint {
            IdentityEndpoint::IamProjects => &mut calls.iam_projects,
            IdentityEndpoint::IamIdTokenLogin => &mut calls.iam_id_token_login,
            IdentityEndpoint::IamSecurityTokens => &mut calls.iam_security_tokens,
            IdentityEndpoint::StsAssumeWithOidc => &mut calls.sts_assume_with_oidc,
            IdentityEndpoint::MetadataToken => &mut calls.metadata_token,
            IdentityEndpoint::MetadataSecurityKey => &mut calls.metadata_security_key,
            IdentityEndpoint::PodIdentity => &mut calls.pod_identity,
            _ => unreachable!(),
        };
        *slot = *n;
    }
    calls.credentials_issued = issued;
    calls
}

/// The HSS calls the emulator accepted were signed with one of the keys it handed out, with
/// its security token; the IAM calls it accepted were signed without `X-Project-Id`.
fn assert_signed_with_issued_keys(emulator: &RunningEmulator) {
    let issued = emulator.issued_access_keys();
    let exchanges = emulator.exchanges();
    for exchange in &exchanges {
        let path = exchange.request.raw_path();
        if exchange.verdict != Verdict::Accepted {
            continue;
        }
        if path.ends_with("/image/synchronize") || path == "/v3/projects" {
            let authorization = exchange.request.header("authorization").unwrap();
            let ak = authorization
                .split("Access=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap();
            assert!(
                issued.iter().any(|k| k == ak) || ak == DEMO_ACCESS_KEY,
                "{ak} was not issued"
            );
            if ak != DEMO_ACCESS_KEY {
                assert!(
                    exchange.request.header("x-security-token").is_some(),
                    "{}",
                    exchange.log_line()
                );
            }
            assert_eq!(exchange.auth, "SDK-HMAC-SHA256", "{}", exchange.log_line());
        }
        if path == "/v3/projects" {
            assert!(exchange.request.header("x-project-id").is_none());
            assert!(exchange.request.raw_query().starts_with("name="));
        }
    }
}

#[tokio::test]
async fn oidc_sts_keys_are_accepted_and_the_project_is_looked_up_once() {
    let emulator = emulator().start().await.unwrap();
    let provider = OidcStsProvider::new().with_env(env(&[
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", PROVIDER_URN),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", AGENCY_URN),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", OIDC_TOKEN),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", &emulator.endpoint()),
    ]));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 3).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::StsAssumeWithOidc, 1),
                (IdentityEndpoint::IamProjects, 1)
            ],
            1
        )
    );
    let identity = client.identity().await.unwrap();
    assert_eq!(identity.credential_source, "oidc-sts");
    assert_eq!(identity.project_source, ProjectSource::Iam);
    // The SDKs' default: an hour (the emulator gives what was asked for).
    let left = identity
        .expiry
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3601));
    assert_signed_with_issued_keys(&emulator);

    // The STS request was logged without the id token.
    let sts = emulator
        .exchanges()
        .into_iter()
        .find(|e| e.request.raw_path() == "/v5/agencies/assume-with-oidc")
        .unwrap();
    let logged = format!(
        "{:?} {}",
        sts.request,
        String::from_utf8_lossy(&sts.request.body)
    );
    assert!(!logged.contains(OIDC_TOKEN), "{logged}");
    assert!(logged.contains(AGENCY_URN), "{logged}");
}

#[tokio::test]
async fn sts_refuses_another_agency_or_token_and_the_error_names_the_provider() {
    let emulator = emulator().start().await.unwrap();
    for (agency, token, status) in [
        ("iam::0123456789abcdef:agency:other", OIDC_TOKEN, "403"),
        (AGENCY_URN, "eyJ.not-the-token.x", "401"),
    ] {
        let provider = OidcStsProvider::new().with_env(env(&[
            ("HUAWEICLOUD_OIDC_PROVIDER_URN", PROVIDER_URN),
            ("HUAWEICLOUD_OIDC_AGENCY_URN", agency),
            ("HUAWEICLOUD_OIDC_ID_TOKEN", token),
            ("HUAWEICLOUD_SDK_STS_ENDPOINT", &emulator.endpoint()),
        ]));
        let err = sync(&client(&emulator, provider)).await.unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, Error::Credentials(_)), "{shown}");
        assert!(
            shown.starts_with("oidc-sts: ") && shown.contains(&format!("answered {status}")),
            "{shown}"
        );
    }
    assert_eq!(emulator.identity_calls().credentials_issued, 0);
    assert_eq!(synchronized(&emulator), 0);
}

#[tokio::test]
async fn environment_keys_look_the_project_up_unless_it_is_given() {
    let emulator = emulator().start().await.unwrap();
    let keys = [
        ("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY),
        ("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY),
    ];
    let provider = EnvironmentProvider::new().with_env(env(&keys));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 3).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(&[(IdentityEndpoint::IamProjects, 1)], 0)
    );
    assert_eq!(client.credential_source(), "environment");

    // With HUAWEICLOUD_SDK_PROJECT_ID, IAM is not asked.
    let mut with_project = keys.to_vec();
    with_project.push(("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID));
    let client = self::client(
        &emulator,
        EnvironmentProvider::new().with_env(env(&with_project)),
    );
    syncs_accepted(&client, &emulator, 1).await;
    assert_eq!(emulator.identity_calls().iam_projects, 1);
    assert_eq!(
        client.identity().await.unwrap().project_source,
        ProjectSource::Credentials
    );

    // Concurrent first calls of a new client ask IAM once between them.
    let client = self::client(&emulator, EnvironmentProvider::new().with_env(env(&keys)));
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { sync(&client).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(emulator.identity_calls().iam_projects, 2);
}

#[tokio::test]
async fn environment_federated_login_through_iam() {
    let emulator = emulator().start().await.unwrap();
    let dir = TempDir::new("federated-env");
    let token_file = dir.write_str("id_token", &format!("  {FEDERATED_TOKEN}\n"));
    let provider = EnvironmentProvider::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_IDP_ID", IDP_ID),
        ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", &token_file),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &emulator.endpoint()),
        // Ignored: the federated login wins, as in the SDKs.
        ("HUAWEICLOUD_SDK_AK", "IGNOREDAK"),
        ("HUAWEICLOUD_SDK_SK", "ignored"),
    ]));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 3).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::IamIdTokenLogin, 1),
                (IdentityEndpoint::IamSecurityTokens, 1),
                (IdentityEndpoint::IamProjects, 1)
            ],
            1
        )
    );
    // The 6 hours the SDKs ask for.
    let identity = client.identity().await.unwrap();
    let left = identity
        .expiry
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(21_500), "{left:?}");
    assert_signed_with_issued_keys(&emulator);
    for exchange in emulator.exchanges() {
        let logged = format!(
            "{:?} {}",
            exchange.request,
            String::from_utf8_lossy(&exchange.request.body)
        );
        assert!(!logged.contains(FEDERATED_TOKEN), "{logged}");
    }

    // Another identity provider, or another token, is refused.
    for (idp, token, status) in [
        ("other-idp", FEDERATED_TOKEN, "404"),
        (IDP_ID, "eyJ.x.y", "401"),
    ] {
        let file = dir.write_str("other_token", token);
        let provider = EnvironmentProvider::new().with_env(env(&[
            ("HUAWEICLOUD_SDK_IDP_ID", idp),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", &file),
            ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &emulator.endpoint()),
        ]));
        let shown = sync(&self::client(&emulator, provider))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            shown.starts_with("environment: federated login: POST ")
                && shown.contains(&format!("answered {status}")),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn profile_keys_and_profile_federated_login() {
    let emulator = emulator().start().await.unwrap();
    let dir = TempDir::new("profile");
    let file = dir.write_str(
        "credentials",
        &format!("[basic]\nak = {DEMO_ACCESS_KEY}\nsk = {DEMO_SECRET_KEY}\n"),
    );
    let provider =
        ProfileProvider::new().with_env(env(&[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &file)]));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 2).await;
    assert_eq!(client.credential_source(), "profile");
    assert_eq!(
        emulator.identity_calls(),
        calls(&[(IdentityEndpoint::IamProjects, 1)], 0)
    );

    // The profile's iam_endpoint serves the federated login.
    let token_file = dir.write_str("id_token", FEDERATED_TOKEN);
    let file = dir.write_str(
        "federated",
        &format!(
            "[basic]\nidp_id = {IDP_ID}\nid_token_file = {token_file}\niam_endpoint = {}\n",
            emulator.endpoint()
        ),
    );
    let provider =
        ProfileProvider::new().with_env(env(&[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &file)]));
    let client = self::client(&emulator, provider);
    syncs_accepted(&client, &emulator, 2).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::IamIdTokenLogin, 1),
                (IdentityEndpoint::IamSecurityTokens, 1),
                (IdentityEndpoint::IamProjects, 2)
            ],
            1
        )
    );
    assert_signed_with_issued_keys(&emulator);
}

#[tokio::test]
async fn ecs_metadata_keys_with_a_session_token() {
    let emulator = emulator().start().await.unwrap();
    let provider = EcsMetadataProvider::new().with_env(env(&[(
        "HUAWEICLOUD_SDK_METADATA_ENDPOINT",
        &emulator.endpoint(),
    )]));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 3).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::MetadataToken, 1),
                (IdentityEndpoint::MetadataSecurityKey, 1),
                (IdentityEndpoint::IamProjects, 1)
            ],
            1
        )
    );
    assert_signed_with_issued_keys(&emulator);
    let key = emulator
        .exchanges()
        .into_iter()
        .find(|e| e.request.raw_path() == "/openstack/latest/securitykey")
        .unwrap();
    // Logged, but masked.
    assert_eq!(key.request.header("x-metadata-token"), Some("******"));
}

#[tokio::test]
async fn ecs_metadata_without_session_tokens_or_without_an_agency() {
    // A service that answers the token request with 404 is asked without a token; the 401
    // that follows gets a token after all, and the keys.
    let emulator = emulator().start().await.unwrap();
    emulator.push_identity(IdentityEndpoint::MetadataToken, Action::status(404));
    let provider = EcsMetadataProvider::new().with_env(env(&[(
        "HUAWEICLOUD_SDK_METADATA_ENDPOINT",
        &emulator.endpoint(),
    )]));
    let creds = provider.provide_credentials().await.unwrap();
    assert!(creds.security_token().is_some());
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::MetadataToken, 2),
                (IdentityEndpoint::MetadataSecurityKey, 2)
            ],
            1
        )
    );
    assert_eq!(emulator.pending_identity_actions(), 0);

    // An instance without an agency: the answer is final, and says so.
    let no_agency = Emulator::new().start().await.unwrap();
    let provider = EcsMetadataProvider::new().with_env(env(&[(
        "HUAWEICLOUD_SDK_METADATA_ENDPOINT",
        &no_agency.endpoint(),
    )]));
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(err.to_string().contains(NO_AGENCY), "{err}");
    assert_eq!(
        no_agency.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::MetadataToken, 1),
                (IdentityEndpoint::MetadataSecurityKey, 1)
            ],
            0
        )
    );
}

#[tokio::test]
async fn pod_identity_keys_for_the_configured_token_only() {
    let emulator = emulator().start().await.unwrap();
    let dir = TempDir::new("pod");
    let token_file = dir.write_str("token", &format!("{POD_TOKEN}\n"));
    let provider = PodIdentityProvider::new().with_env(env(&[
        (
            "HC_CONTAINER_CREDENTIALS_FULL_URI",
            &emulator.pod_identity_uri(),
        ),
        ("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file),
    ]));
    let client = client(&emulator, provider);
    syncs_accepted(&client, &emulator, 3).await;
    assert_eq!(
        emulator.identity_calls(),
        calls(
            &[
                (IdentityEndpoint::PodIdentity, 1),
                (IdentityEndpoint::IamProjects, 1)
            ],
            1
        )
    );
    assert_signed_with_issued_keys(&emulator);
    let pod = emulator
        .exchanges()
        .into_iter()
        .find(|e| e.request.raw_path() == "/pod-identity/credentials")
        .unwrap();
    assert_eq!(pod.request.header("authorization"), Some("******"));

    let wrong = dir.write_str("wrong", "not-the-pod-token");
    let provider = PodIdentityProvider::new().with_env(env(&[
        (
            "HC_CONTAINER_CREDENTIALS_FULL_URI",
            &emulator.pod_identity_uri(),
        ),
        ("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", &wrong),
    ]));
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("pod-identity: POST http://127.0.0.1:")
            && err.to_string().contains("answered 401"),
        "{err}"
    );
}

#[tokio::test]
async fn default_chain_takes_providers_in_the_sdks_order() {
    let emulator = emulator().start().await.unwrap();
    // The metadata service of an instance without an agency: the chain goes past it.
    let no_agency = Emulator::new().start().await.unwrap();
    let dir = TempDir::new("chain");
    let profile = dir.write_str(
        "credentials",
        &format!("[basic]\nak = {DEMO_ACCESS_KEY}\nsk = {DEMO_SECRET_KEY}\n"),
    );
    let pod_token = dir.write_str("pod_token", POD_TOKEN);
    let endpoint = emulator.endpoint();
    let pod_uri = emulator.pod_identity_uri();
    let all: Vec<(&str, &str)> = vec![
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", PROVIDER_URN),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", AGENCY_URN),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", OIDC_TOKEN),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", &endpoint),
        ("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY),
        ("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY),
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &profile),
        ("HUAWEICLOUD_SDK_METADATA_ENDPOINT", &endpoint),
        ("HC_CONTAINER_CREDENTIALS_FULL_URI", &pod_uri),
        ("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", &pod_token),
    ];
    let without = |names: &[&str]| -> Vec<(&str, &str)> {
        all.iter()
            .filter(|(k, _)| !names.iter().any(|n| k.starts_with(n)))
            .copied()
            .collect()
    };
    let no_agency_endpoint = no_agency.endpoint();
    let mut metadata_without_agency = without(&[
        "HUAWEICLOUD_OIDC",
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_SK",
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
        "HUAWEICLOUD_SDK_METADATA_ENDPOINT",
    ]);
    metadata_without_agency.push(("HUAWEICLOUD_SDK_METADATA_ENDPOINT", &no_agency_endpoint));
    let cases: Vec<(&str, Vars, IdentityEndpoint)> = vec![
        ("oidc-sts", all.clone(), IdentityEndpoint::StsAssumeWithOidc),
        (
            "environment",
            without(&["HUAWEICLOUD_OIDC"]),
            IdentityEndpoint::IamProjects,
        ),
        (
            "profile",
            without(&[
                "HUAWEICLOUD_OIDC",
                "HUAWEICLOUD_SDK_AK",
                "HUAWEICLOUD_SDK_SK",
            ]),
            IdentityEndpoint::IamProjects,
        ),
        (
            "ecs-metadata",
            without(&[
                "HUAWEICLOUD_OIDC",
                "HUAWEICLOUD_SDK_AK",
                "HUAWEICLOUD_SDK_SK",
                "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
            ]),
            IdentityEndpoint::MetadataSecurityKey,
        ),
        (
            "pod-identity",
            metadata_without_agency,
            IdentityEndpoint::PodIdentity,
        ),
    ];
    for (expected, vars, endpoint) in cases {
        let before = emulator.identity_calls();
        let chain = DefaultChain::new().with_region(REGION).with_env(env(&vars));
        let client = client(&emulator, chain);
        syncs_accepted(&client, &emulator, 2).await;
        assert_eq!(client.credential_source(), expected);
        let identity = client.identity().await.unwrap();
        assert_eq!(identity.credential_source, expected);
        assert_eq!(identity.project_source, ProjectSource::Iam);
        let used = since(&emulator, before);
        assert_eq!(used.get(endpoint), 1, "{expected}: {used:?}");
        assert_eq!(used.iam_projects, 1, "{expected}: {used:?}");
        // No provider after the winner was asked.
        let asked_later = match expected {
            "oidc-sts" | "environment" | "profile" => {
                used.metadata_security_key + used.pod_identity
            }
            "ecs-metadata" => used.pod_identity,
            _ => 0,
        };
        assert_eq!(asked_later, 0, "{expected}: {used:?}");
    }
    assert_eq!(no_agency.identity_calls().metadata_security_key, 1);
    assert_signed_with_issued_keys(&emulator);

    // Nothing configured (the metadata endpoint still on loopback): every provider is listed.
    let chain = DefaultChain::new().with_env(env(&[(
        "HUAWEICLOUD_SDK_METADATA_ENDPOINT",
        &no_agency_endpoint,
    )]));
    let err = chain.provide_credentials().await.unwrap_err();
    assert!(
        matches!(err, CredentialsError::Chain(ref all) if all.len() == 5),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_lived_keys_are_refreshed_once_and_refused_once_expired() {
    let emulator = emulator()
        .temporary_credentials_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let vars = [
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", PROVIDER_URN),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", AGENCY_URN),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", OIDC_TOKEN),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", &emulator.endpoint()),
        // The project is given: only the keys are fetched here.
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ];
    let client = client(&emulator, OidcStsProvider::new().with_env(env(&vars)));
    let concurrent = |client: HssClient| async move {
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { sync(&client).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        }
    };
    concurrent(client.clone()).await;
    assert_eq!(emulator.identity_calls().sts_assume_with_oidc, 1);
    assert_eq!(synchronized(&emulator), 16);
    let first = client.identity().await.unwrap();

    // Keys from the same STS, kept by the test past their expiry.
    let kept = OidcStsProvider::new()
        .with_env(env(&vars))
        .provide_credentials()
        .await
        .unwrap();
    let kept_client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .credentials(kept.clone())
        .build()
        .unwrap();
    sync(&kept_client).await.unwrap();
    let expiry = kept.expiry().unwrap();
    let wait =
        expiry.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_millis(300);
    assert!(wait <= Duration::from_secs(4), "{wait:?}");
    tokio::time::sleep(wait).await;
    let err = sync(&kept_client).await.unwrap_err();
    assert!(
        matches!(err, Error::Service(ref e) if e.status == 401 && e.error_code == "APIG.0301" && e.attempts == 1),
        "{err}"
    );
    let refused = emulator.exchanges().pop().unwrap();
    assert!(refused.reason.contains("expired"), "{}", refused.log_line());

    // The client's own keys have expired too: one new fetch for 16 concurrent calls.
    let fetched = emulator.identity_calls().sts_assume_with_oidc;
    concurrent(client.clone()).await;
    assert_eq!(emulator.identity_calls().sts_assume_with_oidc, fetched + 1);
    assert_eq!(synchronized(&emulator), 16 + 1 + 16);
    let second = client.identity().await.unwrap();
    assert_ne!(first.access_key, second.access_key);
    assert!(second.expiry > first.expiry);
}

#[tokio::test]
async fn iam_without_a_project_or_with_several_is_a_clear_error() {
    let emulator = Emulator::new()
        .iam_projects(REGION, Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let keys = env(&[
        ("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY),
        ("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY),
    ]);
    let client = client(&emulator, EnvironmentProvider::new().with_env(keys.clone()));
    let err = sync(&client).await.unwrap_err();
    let shown = err.to_string();
    assert!(
        matches!(
            err,
            Error::Config {
                setting: "project_id",
                ..
            }
        ),
        "{shown}"
    );
    assert!(
        shown.contains("region \"cn-north-4\"")
            && shown.contains("IAM lists no project of that name")
            && shown.contains("X-IAM-Trace-Id")
            && shown.contains("HUAWEICLOUD_SDK_PROJECT_ID"),
        "{shown}"
    );

    let several = [
        "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a",
        "0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b0b",
    ];
    emulator.set_iam_projects(REGION, several);
    let client = self::client(&emulator, EnvironmentProvider::new().with_env(keys));
    let shown = sync(&client).await.unwrap_err().to_string();
    assert!(
        shown.contains("IAM lists 2 projects of that name") && shown.contains(&several.join(", ")),
        "{shown}"
    );
    // Failures are not cached: IAM is asked each time; HSS never was.
    assert_eq!(emulator.identity_calls().iam_projects, 2);
    assert_eq!(synchronized(&emulator), 0);
}

/// Sends one HTTP/1.1 request over a raw socket and returns the status and the whole answer.
async fn send_raw(
    emulator: &RunningEmulator,
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
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    (response[9..12].parse().unwrap(), response)
}

/// `GET /v3/projects?name=cn-north-4` signed with the demo keys and `extra` headers.
async fn list_projects(emulator: &RunningEmulator, extra: &[(&str, &str)]) -> (u16, String) {
    let host = emulator.addr().to_string();
    let headers: Vec<(String, String)> = extra
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let query = [("name".to_owned(), REGION.to_owned())];
    let request = SignableRequest {
        method: "GET",
        host: &host,
        path: "/v3/projects",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let sk = SecretString::from(DEMO_SECRET_KEY);
    let signed = signer::sign(&request, DEMO_ACCESS_KEY, &sk, SystemTime::now()).unwrap();
    let pairs: Vec<(String, String)> = signed
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    send_raw(emulator, "GET", &signed.uri, &pairs, b"").await
}

#[tokio::test]
async fn identity_endpoints_check_what_they_are_sent() {
    let emulator = emulator().start().await.unwrap();
    // IAM: a signed listing answers the project and a trace ID; unsigned or with X-Project-Id,
    // it is refused.
    let (status, answer) = list_projects(&emulator, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains(DEMO_PROJECT_ID) && answer.to_ascii_lowercase().contains("x-iam-trace-id:")
    );
    let (status, answer) =
        send_raw(&emulator, "GET", "/v3/projects?name=cn-north-4", &[], b"").await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("APIG.0301"), "{answer}");
    let (status, answer) = list_projects(&emulator, &[("X-Project-Id", DEMO_PROJECT_ID)]).await;
    assert_eq!(status, 400, "{answer}");

    // Metadata: a session token needs a TTL; the keys need a session token.
    let (status, _) = send_raw(&emulator, "PUT", "/meta-data/latest/api/token", &[], b"").await;
    assert_eq!(status, 400);
    let (status, answer) =
        send_raw(&emulator, "GET", "/openstack/latest/securitykey", &[], b"").await;
    assert_eq!(status, 401);
    assert!(!answer.contains(NO_AGENCY), "{answer}");
    let (status, _) = send_raw(&emulator, "GET", "/meta-data/latest/api/token", &[], b"").await;
    assert_eq!(status, 405);

    // STS: not JSON, or a field missing.
    let (status, _) = send_raw(
        &emulator,
        "POST",
        "/v5/agencies/assume-with-oidc",
        &[],
        b"[]",
    )
    .await;
    assert_eq!(status, 400);
    let (status, answer) = send_raw(
        &emulator,
        "POST",
        "/v5/agencies/assume-with-oidc",
        &[],
        format!(r#"{{"provider_urn": "{PROVIDER_URN}", "agency_urn": "{AGENCY_URN}"}}"#).as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(answer.contains("/id_token"), "{answer}");

    // IAM security tokens need a token IAM handed out.
    let (status, _) = send_raw(
        &emulator,
        "POST",
        "/v3.0/OS-CREDENTIAL/securitytokens",
        &[],
        br#"{"auth": {"identity": {"methods": ["token"], "token": {"id": "made-up"}}}}"#,
    )
    .await;
    assert_eq!(status, 401);

    let calls = emulator.identity_calls();
    assert_eq!(calls.iam_projects, 3);
    assert_eq!(calls.metadata_token, 2);
    assert_eq!(calls.credentials_issued, 0);

    // The counts are served as JSON too.
    let (status, answer) = send_raw(&emulator, "GET", "/_emulator/identity", &[], b"").await;
    assert_eq!(status, 200);
    assert!(answer.contains("\"iam_projects\":3"), "{answer}");
}

/// `hss-image-sync whoami` with a cleared environment plus `vars`.
async fn whoami(vars: &[(&str, &str)], emulator: &RunningEmulator) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .args([
            "whoami",
            "--output",
            "text",
            "--region",
            REGION,
            "--endpoint",
            &emulator.endpoint(),
        ])
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    stdout
}

/// `HPUA************4E2X`.
fn masked(ak: &str) -> String {
    format!(
        "{}{}{}",
        &ak[..4],
        "*".repeat(ak.len() - 8),
        &ak[ak.len() - 4..]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_shows_the_provider_the_masked_key_the_expiry_and_the_iam_project() {
    let emulator = emulator().start().await.unwrap();
    let home = TempDir::new("whoami-home");
    let endpoint = emulator.endpoint();
    let common = [
        ("HOME", home.path()),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", endpoint.as_str()),
        ("HUAWEICLOUD_SDK_METADATA_ENDPOINT", endpoint.as_str()),
    ];
    let mut oidc = common.to_vec();
    oidc.extend([
        ("HUAWEICLOUD_OIDC_PROVIDER_URN", PROVIDER_URN),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", AGENCY_URN),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", OIDC_TOKEN),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", endpoint.as_str()),
    ]);
    for (vars, provider) in [(oidc, "oidc-sts"), (common.to_vec(), "ecs-metadata")] {
        let out = whoami(&vars, &emulator).await;
        let ak = emulator.issued_access_keys().pop().unwrap();
        assert!(out.contains(&format!("credentials: {provider}\n")), "{out}");
        assert!(
            out.contains(&format!("access key: {}\n", masked(&ak))),
            "{out}"
        );
        assert!(!out.contains(&ak), "{out}");
        assert!(
            out.contains("expires: ") && out.contains(" GMT (in "),
            "{out}"
        );
        assert!(
            out.contains(&format!("project: {DEMO_PROJECT_ID} (looked up in IAM)")),
            "{out}"
        );
        assert!(out.contains(&format!("endpoint: {endpoint}")), "{out}");
    }
    let calls = emulator.identity_calls();
    assert_eq!(calls.sts_assume_with_oidc, 1);
    assert_eq!(calls.metadata_security_key, 1);
    assert_eq!(calls.iam_projects, 2);
    // whoami sends nothing to HSS.
    assert_eq!(synchronized(&emulator), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_providers_against_the_emulator() {
    let Some(python) = oracle_python() else {
        eprintln!("skipped: no oracle python (run `bash tests/oracle/setup_venv.sh`)");
        return;
    };
    let several = [
        "0c0c0c0c0c0c4c0c8c0c0c0c0c0c0c0c",
        "0d0d0d0d0d0d4d0d8d0d0d0d0d0d0d0d",
    ];
    let emulator = emulator()
        .iam_projects("cn-east-3", several)
        .start()
        .await
        .unwrap();
    let dir = TempDir::new("sdk");
    let config = serde_json::json!({
        "endpoint": emulator.endpoint(),
        "project_id": emulator.project_id(),
        "ak": DEMO_ACCESS_KEY,
        "sk": DEMO_SECRET_KEY,
        "provider_urn": PROVIDER_URN,
        "agency_urn": AGENCY_URN,
        "oidc_token": OIDC_TOKEN,
        "oidc_token_file": dir.write_str("oidc_token", &format!("{OIDC_TOKEN}\n")),
        "idp_id": IDP_ID,
        "federated_token_file": dir.write_str("federated_token", FEDERATED_TOKEN),
        "pod_token_file": dir.write_str("pod_token", POD_TOKEN),
        "profile_file": dir.0.join("profile").to_str().unwrap(),
        "several_region": "cn-east-3",
        "several_ids": several,
        "empty_region": "ap-southeast-3",
    });
    let config_file = dir.write_str("config.json", &config.to_string());
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle/sdk_providers_against_emulator.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&config_file)
        .env_clear()
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run sdk_providers_against_emulator.py");
    let (passed, report) = checks_passed("sdk_providers_against_emulator.py", &out);
    assert_eq!(passed, 14, "{report}");

    // What the SDK sent was judged by the emulator: its IAM listings were signed (never with
    // X-Project-Id), and every synchronization it made was accepted.
    let calls = emulator.identity_calls();
    // (The providers never list every project of the account: `GET /v3/auth/projects`.)
    for endpoint in IdentityEndpoint::ALL
        .into_iter()
        .filter(|e| *e != IdentityEndpoint::IamAuthProjects)
    {
        assert!(
            calls.get(endpoint) >= 1,
            "{endpoint:?} never called: {calls:?}"
        );
    }
    assert!(synchronized(&emulator) >= 8, "{report}");
    assert_signed_with_issued_keys(&emulator);
    let refused: Vec<String> = emulator
        .exchanges()
        .iter()
        .filter(|e| e.verdict != Verdict::Accepted)
        .map(|e| e.log_line())
        .collect();
    assert!(
        refused
            .iter()
            .all(|line| !line.contains("/image/synchronize")),
        "{refused:#?}"
    );
}

/// `whoami --region` alone: the HSS endpoint comes from the region (and is not contacted), the
/// project from IAM (here the emulator, through HUAWEICLOUD_SDK_IAM_ENDPOINT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_works_with_the_region_alone() {
    let emulator = emulator().start().await.unwrap();
    let iam = emulator.endpoint();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .args(["whoami", "--output", "text", "--region", REGION])
        .env_clear()
        .env("HOME", std::env::temp_dir().join("hss-identity-empty-home"))
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam)
        .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("endpoint: https://hss.cn-north-4.myhuaweicloud.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("project: {DEMO_PROJECT_ID} (looked up in IAM)")),
        "{stdout}"
    );
    assert_eq!(emulator.identity_calls().iam_projects, 1);
    assert_eq!(
        emulator
            .exchanges()
            .iter()
            .filter(|e| e.request.target.starts_with("/v5/"))
            .count(),
        0
    );
}

/// An emulator serving another region lists its project in IAM for that region: a client of
/// that region finds it (it was listed for cn-north-4 whatever the emulator's region).
#[tokio::test]
async fn iam_lists_the_project_for_the_emulators_own_region() {
    let emulator = Emulator::new()
        .region("ap-southeast-1")
        .start()
        .await
        .unwrap();
    let client = HssClient::builder()
        .endpoint(emulator.endpoint())
        .region("ap-southeast-1")
        .iam_endpoint(emulator.endpoint())
        .credentials(hss_image_sync::Credentials::new(
            DEMO_ACCESS_KEY,
            DEMO_SECRET_KEY,
        ))
        .build()
        .unwrap();
    let identity = client.identity().await.unwrap();
    assert_eq!(identity.project_id, DEMO_PROJECT_ID);
    assert_eq!(identity.project_source, ProjectSource::Iam);
}
