//! [`HssClient`]: the generated client, plus signing, validation, retries and error mapping.
//!
//! One call, from the caller to the wire:
//! 1. [`operations`] hands out the generated builder of an operation, in the client's
//!    project; the caller sets the rest with the spec's constrained types;
//! 2. [`call`] runs it in attempts (backoff, `Retry-After`, deadline, clock-skew correction)
//!    and maps every answer and failure to [`Error`](crate::Error); [`pages`] walks a list,
//!    [`prepared`] shows a request without sending it;
//! 3. [`hooks`] is what progenitor runs inside each attempt: `pre` checks what the generated
//!    code does not ([`checks`]), puts the request in the official SDKs' wire form ([`wire`])
//!    and signs it; `exec` sends it once, body capped.
//!
//! `build.rs` implements [`Operation`] (and [`Paged`] for lists) for every operation of the
//! spec, so adding one takes no code here.

mod account;
pub(crate) mod builder;
mod call;
mod checks;
mod context;
pub(crate) mod hooks;
mod iam;
mod identity;
mod operation;
mod operations;
mod pages;
mod prepared;
mod project;
mod rate;
mod retry;
mod skew;
mod validate;
mod waiter;
mod wire;

pub use account::AccountProject;
pub use builder::{DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HssClientBuilder};
pub use identity::Identity;
pub use operation::{Operation, Paged, Response, ServiceAnswer};
pub use pages::{MAX_OFFSET, PAGE_LIMIT};
pub use prepared::PreparedRequest;
pub use project::ProjectSource;
pub use rate::RateLimiter;
pub use retry::RetryPolicy;
pub use waiter::{SyncFailure, SyncProgress, SyncReport, SyncStarted, SyncWaiter, WaitError};

use crate::generated;
use std::time::Duration;

/// A client for HSS image synchronization. Cheap to clone; clones share connections and the
/// learnt clock correction.
///
/// ```no_run
/// use hss_image_sync::{Credentials, HssClient};
/// use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
///
/// # async fn run() -> Result<(), hss_image_sync::Error> {
/// let client = HssClient::builder()
///     .region("cn-north-4")
///     .credentials(Credentials::new("AK", "SK").with_project_id("0a1b2c3d"))
///     .build()?;
/// let body = CreateImageSynchronizeTaskRequestInfo { sync_all_registries: true, registry_info: vec![] };
/// let done = client.create_image_synchronize_task(|op| op.body(body)).await?;
/// println!("started (request {:?})", done.request_id);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HssClient {
    inner: generated::Client,
    retry: RetryPolicy,
    /// Every attempt and every delay of a call.
    total_timeout: Duration,
    /// Set on the builder; else the credentials' or IAM's.
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
    /// The region, for project discovery in IAM.
    region: Option<String>,
    iam_endpoint: Option<String>,
    projects: project::ProjectCache,
    /// Paces every attempt, when set (shared with other clients of the same credentials).
    rate_limiter: Option<RateLimiter>,
}

impl HssClient {
    /// Starts configuring a client.
    pub fn builder() -> HssClientBuilder {
        HssClientBuilder::default()
    }

    /// Runs `work`, calls made with this client, under one total timeout: fetching
    /// credentials, looking up the project and every call in it share the deadline, so the
    /// whole never outlives the client's timeout (each call alone is bounded anyway).
    ///
    /// ```no_run
    /// # async fn run(client: hss_image_sync::HssClient) -> Result<(), hss_image_sync::Error> {
    /// let listed = client
    ///     .within_timeout(async {
    ///         let request = client.in_project(client.operations().list_registry()).await?;
    ///         client.send(request).await
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn within_timeout<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, crate::Error>>,
    ) -> Result<T, crate::Error> {
        project::within_deadline(self.total_timeout, work).await
    }

    /// The client's region, when it was given one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The same client (connections, credentials, limiter and clock correction shared) with
    /// `project_id` as its project: for calls to many projects of one region.
    pub fn for_project(&self, project_id: impl Into<String>) -> HssClient {
        HssClient {
            project_id: Some(project_id.into()),
            ..self.clone()
        }
    }

    /// Where the client's credentials come from: the provider that found the current keys
    /// (`environment`, `profile`, `ecs-metadata`, ...), else the configured provider (`static`,
    /// `default-chain`, ...); `iam-token` for token authentication.
    pub fn credential_source(&self) -> &'static str {
        match &self.hooks().auth {
            hooks::Auth::AkSk(cache) => cache
                .peek()
                .and_then(|c| c.source())
                .unwrap_or(cache.provider_name()),
            hooks::Auth::Token(_) => "iam-token",
        }
    }

    fn hooks(&self) -> &hooks::HookState {
        use progenitor_client::ClientInfo;
        self.inner.inner()
    }
}
