//! The client's total timeout covers the whole call: fetching credentials (OIDC STS, a
//! federated login, ECS metadata, pod identity) and the IAM project lookup included. Every
//! server here is on 127.0.0.1 and accepts connections without ever answering.
//!
//! The bounds asserted are generous (a 3 s deadline must end the call well before the
//! providers' own 10 to 30 s limits); they are bounds, not timing benchmarks.

mod common;

use common::TempDir;
use hss_image_sync::credentials::{
    EcsMetadataProvider, EnvVars, EnvironmentProvider, METADATA_ENDPOINT_VARIABLE, OidcStsProvider,
    PodIdentityProvider, ProvideCredentials,
};
use hss_image_sync::{Credentials, DeadlineExceeded, Error, HssClient, TransportKind};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(3);
/// Well before the providers' own limits (30 s for STS and IAM, 58 s for both steps of a
/// federated login).
const BOUND: Duration = Duration::from_secs(10);

fn env(pairs: &[(&str, &str)]) -> EnvVars {
    EnvVars::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// A client of `provider` with a total timeout of [`DEADLINE`], its HSS and IAM endpoints on
/// `hanging`.
fn client(provider: impl ProvideCredentials + 'static, hanging: &str) -> HssClient {
    HssClient::builder()
        .region("cn-north-4")
        .endpoint(hanging)
        .iam_endpoint(hanging)
        .credentials_provider(provider)
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

/// Asserts that `outcome` is the client's timeout and came before [`BOUND`].
fn assert_timed_out<T: std::fmt::Debug>(what: &str, outcome: Result<T, Error>, started: Instant) {
    let took = started.elapsed();
    let Err(Error::Transport { kind, source, .. }) = &outcome else {
        panic!("{what}: not a timeout: {outcome:?}");
    };
    assert_eq!(*kind, TransportKind::Timeout, "{what}");
    assert_eq!(
        source.downcast_ref::<DeadlineExceeded>(),
        Some(&DeadlineExceeded(DEADLINE)),
        "{what}: {source}"
    );
    assert!(took >= DEADLINE && took < BOUND, "{what}: took {took:?}");
}

fn oidc(sts: &str) -> OidcStsProvider {
    OidcStsProvider::new().with_env(env(&[
        (
            "HUAWEICLOUD_OIDC_PROVIDER_URN",
            "iam::0a1b:identity_provider:k8s",
        ),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", "iam::0a1b:agency:reader"),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", sts),
    ]))
}

#[tokio::test]
async fn a_hanging_sts_ends_the_identity_and_the_call_at_the_deadline() {
    let (hanging, _server) = common::silent_server().await;
    let client = client(oidc(&hanging), &hanging);

    let started = Instant::now();
    assert_timed_out("identity", client.identity().await, started);

    // A convenience call looks the project up first: one deadline for both.
    let started = Instant::now();
    let outcome = client.list_registry(|op| op.limit(10)).await;
    assert_timed_out("list_registry", outcome, started);

    let started = Instant::now();
    assert_timed_out(
        "default_project_id",
        client.default_project_id().await,
        started,
    );

    // A dry run fetches the credentials as a call does.
    let started = Instant::now();
    let request = client.operations().list_registry().project_id("p1");
    assert_timed_out("prepare", client.prepare(request).await, started);
}

#[tokio::test]
async fn a_hanging_federated_login_ends_at_the_deadline() {
    let (hanging, _server) = common::silent_server().await;
    let dir = TempDir::new("deadline-federated");
    let token_file = dir.write("id-token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    let provider = EnvironmentProvider::new().with_env(env(&[
        ("HUAWEICLOUD_SDK_IDP_ID", "my-idp"),
        (
            "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &hanging),
    ]));
    let client = client(provider, &hanging);
    let started = Instant::now();
    assert_timed_out("identity", client.identity().await, started);
}

#[tokio::test]
async fn a_hanging_pod_identity_agent_or_metadata_service_ends_at_the_deadline() {
    let (hanging, _server) = common::silent_server().await;
    let dir = TempDir::new("deadline-pod");
    let token_file = dir.write("pod-token", "pod-token-a");
    let pod = PodIdentityProvider::new().with_env(env(&[
        (
            "HC_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{hanging}/v1/credentials"),
        ),
        (
            "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ]));
    let started = Instant::now();
    let outcome = client(pod, &hanging).identity().await;
    assert_timed_out("pod identity", outcome, started);

    let metadata =
        EcsMetadataProvider::new().with_env(env(&[(METADATA_ENDPOINT_VARIABLE, &hanging)]));
    let client = HssClient::builder()
        .region("cn-north-4")
        .endpoint(&hanging)
        .credentials_provider(metadata)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let outcome = client.identity().await;
    let took = started.elapsed();
    let Err(Error::Transport { source, .. }) = &outcome else {
        panic!("not a timeout: {outcome:?}");
    };
    assert_eq!(
        source.downcast_ref::<DeadlineExceeded>(),
        Some(&DeadlineExceeded(Duration::from_secs(1))),
        "{source}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_hanging_iam_lookup_ends_at_the_deadline() {
    let (hanging, _server) = common::silent_server().await;
    let client = client(Credentials::new("AKAKAKAK", "SKSKSKSKSK"), &hanging);
    let started = Instant::now();
    let outcome = client.create_image_synchronize_task(|op| op).await;
    let took = started.elapsed();
    // IAM's own request timeout is the total at most: either way, the call ends by then.
    let Err(Error::Transport { kind, .. }) = &outcome else {
        panic!("not a timeout: {outcome:?}");
    };
    assert_eq!(*kind, TransportKind::Timeout);
    assert!(took < BOUND, "took {took:?}");
}
