//! # hss-image-sync
//!
//! A client for Huawei Cloud HSS (Host Security Service) image synchronization: tell HSS to
//! synchronize the image lists of your registries (SWR, Harbor, ...) so those images get
//! scanned (`CreateImageSynchronizeTask`), list the registries (`ListRegistry`) and follow the
//! task (`ListImageScanTask`, `ListAssociateRegistries`). The deprecated `RunImageSynchronize`
//! is there too.
//!
//! **A Tokio runtime is required** (1.x, with its time and I/O drivers: `#[tokio::main]`,
//! `#[tokio::test]`, or `Runtime::block_on` of a runtime built with `enable_all`): the client's
//! timers and sockets are Tokio's. A call made on another executor (`futures::executor::block_on`,
//! `pollster`) fails with [`Error::Config`] (`runtime: no Tokio runtime is running ...`) instead of
//! panicking; a Tokio runtime built without its time driver cannot be told apart, and panics in
//! Tokio.
//!
//! ```no_run
//! use hss_image_sync::types::{CreateImageSynchronizeTaskRequestInfo, TaskKind};
//! use hss_image_sync::{credentials::DefaultChain, Error, HssClient};
//!
//! # async fn run() -> Result<(), Error> {
//! let client = HssClient::builder()
//!     .region("cn-north-4")
//!     // OIDC, environment, profile file, ECS metadata, CCE pod identity: the official order.
//!     .credentials_provider(DefaultChain::new().with_region("cn-north-4"))
//!     .build()?;
//! let all = CreateImageSynchronizeTaskRequestInfo { sync_all_registries: true, registry_info: vec![] };
//! match client.create_image_synchronize_task(|op| op.body(all)).await {
//!     Ok(done) => println!("started (request {:?})", done.request_id),
//!     Err(e) if e.is_retryable() => eprintln!("try again later: {e}"),
//!     Err(e) => eprintln!("{e} (request id {:?})", e.request_id()),
//! }
//! let tasks = client.list_image_scan_task(|op| op.type_(TaskKind::ImageSync).limit(10)).await?;
//! println!("{} tasks", tasks.value.total_num.unwrap_or(0));
//! # Ok(())
//! # }
//! ```
//!
//! Every operation of the spec is a generated builder ([`HssClient::operations`]) sent by
//! [`HssClient::send`], walked by [`HssClient::pages`], shown by [`HssClient::prepare`]; its
//! models are in [`types`].
//!
//! ## Waiting, and covering an account
//! [`HssClient::start_sync`] starts a synchronization and notes from when its task is looked
//! for (the API returns no task ID); [`HssClient::wait_for_sync`] polls that task and its
//! registries until it ends ([`SyncReport`]), fails ([`WaitError::Failed`], each failure named
//! with its reason) or the time runs out ([`WaitError::GaveUp`]), reporting [`SyncProgress`] as
//! it goes and keeping to HSS's budget of 5 calls a minute per API. [`RateLimiter`] paces every
//! attempt of the clients that share it (one per credential), and slows them all down when HSS
//! throttles; [`HssClient::account_projects`] lists every project of the account by region, and
//! [`HssClient::for_project`] points a client at one of them.
//!
//! ```no_run
//! use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
//! use hss_image_sync::{HssClient, RateLimiter, WaitError};
//! use std::time::Duration;
//!
//! # async fn run(builder: hss_image_sync::HssClientBuilder) -> Result<(), hss_image_sync::Error> {
//! let client = builder.rate_limiter(RateLimiter::documented()).build()?;
//! for project in client.account_projects().await? {
//!     let client = client.for_project(&project.id);
//!     let all = CreateImageSynchronizeTaskRequestInfo { sync_all_registries: true, registry_info: vec![] };
//!     let started = client.start_sync(all).await?;
//!     match client.wait_for_sync(&started).wait(Duration::from_secs(1800)).await {
//!         Ok(report) => println!("{}: {} registries", project.name, report.registries.len()),
//!         Err(WaitError::Failed(report)) => eprintln!("{}: {:?}", project.name, report.failures()),
//!         Err(other) => eprintln!("{}: {other}", project.name),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## What a call does
//! - **Checks** every parameter against the spec before sending anything: lengths and enums
//!   through the generated types, integer ranges through the spec's table
//!   ([`Error::InvalidInput`] names the field and the rule).
//! - **Finds the project**: given on the request or the builder, carried by the credentials,
//!   or looked up once in IAM for the region (as the official SDKs do).
//! - **Signs** each attempt afresh with the configured [`signer::Algorithm`] (SDK-HMAC-SHA256 by
//!   default; SM3, V11 derived keys, ECDSA and SM2 as in the official SDKs), with temporary keys
//!   refreshed before they expire ([`credentials::CredentialsCache`]).
//! - **Retries** connection failures, resets, attempt timeouts and the answers 408, 429, 500,
//!   502, 503 and 504, with full-jitter backoff and `Retry-After` ([`RetryPolicy`]); never a
//!   redirect, never a TLS certificate failure. Retrying is safe: the lists only read, and
//!   synchronizing twice has the effect of synchronizing once.
//! - **Bounds** everything: a total timeout over all attempts and delays (60 s by default),
//!   optional per-attempt and connect timeouts, a response-size cap (1 MiB), clock-skew
//!   correction only within a day.
//! - **Reports** one [`Error`] whose variants keep their cause, and never show a secret.
//!
//! ## Credentials
//! The one default chain is [`credentials::DefaultChain`], as above: OIDC, the environment, the
//! profile file, ECS metadata and CCE pod identity, in the official SDKs' order, asked again
//! before temporary keys expire. Fixed keys: [`HssClientBuilder::credentials`] with
//! [`Credentials::new`]; an IAM token: [`HssClientBuilder::auth_token`].
//!
//! ## Testing your code without a cloud account
//! Enable the emulator for your tests:
//!
//! ```toml
//! [dev-dependencies]
//! hss-image-sync = { version = "0.2", features = ["emulator"] }
//! ```
//!
//! The emulator (module `emulator`, with that feature) runs HSS behind an API-gateway emulator
//! on 127.0.0.1 (optionally over https): it verifies signatures, validates requests against the
//! spec, keeps per-project state, and can be scripted with errors, delays and faults. Give the
//! client under test a fast [`RetryPolicy`] (a base delay of a millisecond), so that scripted
//! failures are retried at once. (Tokio's paused clock, `#[tokio::test(start_paused = true)]`,
//! suits tests that open no real connection: while one waits, it jumps to the next timer.)
//!
//! ```
//! # #[cfg(feature = "emulator")] mod example {
//! use hss_image_sync::emulator::{Action, Emulator};
//! use hss_image_sync::RetryPolicy;
//! use std::time::Duration;
//!
//! #[tokio::test]
//! # async fn _marker() {}
//! async fn retries_what_heals() {
//!     let emulator = Emulator::new().start().await.unwrap(); // 127.0.0.1:<random>, demo keys
//!     let client = emulator
//!         .client_builder()
//!         // 1 ms before the first retry instead of 1 s: the test takes no time.
//!         .retry(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
//!         .build()
//!         .unwrap();
//!     emulator.push(Action::error(503, "APIG.1000", "unavailable"));
//!     emulator.push(Action::error(502, "APIG.1000", "bad gateway"));
//!     let answer = client.list_registry(|op| op.limit(10)).await.unwrap();
//!     assert_eq!(answer.attempts, 3);
//! }
//! # pub fn run() { tokio::runtime::Runtime::new().unwrap().block_on(retries_what_heals()) }
//! # }
//! # fn main() {
//! #     #[cfg(feature = "emulator")]
//! #     example::run();
//! # }
//! ```
//!
//! Code that takes answers or errors can be tested without any server: the answer and error
//! types are `#[non_exhaustive]`, and built with [`Response::new`], [`ServiceError::new`],
//! [`Identity::new`] and [`error_body::ErrorFields::new`]:
//!
//! ```
//! use hss_image_sync::types::ListRegistryResponse;
//! use hss_image_sync::{Error, Response, ServiceError};
//!
//! /// The code under test: what to tell the user.
//! fn describe(outcome: Result<Response<ListRegistryResponse>, Error>) -> String {
//!     match outcome {
//!         Ok(answer) => format!("{} registries", answer.value.data_list.len()),
//!         Err(e) if e.is_retryable() => format!("try again later ({})", e.status().unwrap_or(0)),
//!         Err(e) => format!("failed: {e}"),
//!     }
//! }
//!
//! let empty = Response::new(ListRegistryResponse::default(), Some("r-1".into()), 1);
//! assert_eq!(describe(Ok(empty)), "0 registries");
//! let busy = Error::Service(ServiceError::new(503, "APIG.1000", "unavailable"));
//! assert_eq!(describe(Err(busy)), "try again later (503)");
//! let refused = Error::Service(ServiceError::new(403, "HSS.1005", "no permission"));
//! assert!(describe(Err(refused)).starts_with("failed: HTTP 403"));
//! ```
//!
//! ## Layers
//! From the bottom up; a module uses only the ones above it here, so that nothing below the
//! client reaches up into it:
//! - `http` (the HTTP client that the credential providers and the client share: TLS roots,
//!   connect timeout) and `clock` (moving an instant by an offset): private, and using nothing
//!   of the crate;
//! - [`signer`]: request signing, pure functions usable for any Huawei Cloud API;
//! - [`region`] and [`error_body`]: endpoints, and error answers read as the official SDKs
//!   read them;
//! - [`credentials`]: where keys come from;
//! - [`Error`]: the one error type, which wraps the credentials' and the signer's;
//! - `spec/hss-image-sync.yaml` -> [`generated`]: client, models ([`types`]) and operation
//!   builders ([`builder`]) generated by progenitor, with the spec's parameter rules and the
//!   operations' trait impls (see `build.rs` and `spec/README.md`); public, so a change of the
//!   spec is a version change;
//! - [`HssClient`]: validation, retries and error mapping around the generated client, whose
//!   progenitor hooks put each request in the official SDKs' wire form and sign it (the
//!   generated client holds the hooks' state: the two are one layer);
//! - `emulator`: beside the client, which it uses only through the public API (to make clients
//!   aimed at itself).

#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub(crate) mod client;
mod clock;
pub mod credentials;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
mod error;
pub mod error_body;
mod http;
pub mod region;
pub mod signer;
mod spec;

/// The generated request builders of every operation ([`HssClient::operations`]).
pub use generated::builder;
/// The request and answer models of every operation, generated from the spec.
pub use generated::types;

pub use client::{
    AccountProject, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HssClient, HssClientBuilder,
    Identity, MAX_OFFSET, Operation, PAGE_LIMIT, Paged, PreparedRequest, ProjectSource,
    RateLimiter, Response, RetryPolicy, ServiceAnswer, SyncFailure, SyncProgress, SyncReport,
    SyncStarted, SyncWaiter, WaitError,
};
pub use credentials::{AuthToken, Credentials};
pub use error::{DeadlineExceeded, Error, ServiceError, TlsProblem, TransportKind};
pub use http::DEFAULT_CONNECT_TIMEOUT;
pub use signer::SigningError;

/// Client and models generated from `spec/hss-image-sync.yaml` by progenitor, with the
/// spec's parameter rules and the operations' trait impls (see `build.rs`).
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    clippy::all,
    unused_comparisons
)]
pub mod generated {
    #[cfg(feature = "codegen")]
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
    #[cfg(not(feature = "codegen"))]
    include!("generated/client.rs");

    /// A list that an answer sends as `null` is an empty one (one left out already is): the
    /// `deserialize_with` that `build.rs` gives every list of a model an answer reaches.
    pub(crate) fn null_as_empty<'de, D, T>(decoder: D) -> Result<Vec<T>, D::Error>
    where
        D: serde::Deserializer<'de>,
        T: serde::Deserialize<'de>,
    {
        let list: Option<Vec<T>> = serde::Deserialize::deserialize(decoder)?;
        Ok(list.unwrap_or_default())
    }
}

/// The README's Rust examples, compiled as doc tests (one uses the emulator).
#[cfg(all(doctest, feature = "emulator"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
