//! [`HssClient`]: the generated client, plus validation, retries and error mapping.
//!
//! One call, from the caller to the wire, in three files:
//! 1. [`image_sync`] maps the operation's parameters, checked against the spec, onto the
//!    generated operation, and its answer onto [`SyncResponse`];
//! 2. [`call`] runs the generated operation in attempts (backoff, `Retry-After`, deadline,
//!    clock-skew correction) and maps every answer and failure to [`Error`](crate::Error);
//! 3. [`hooks`] is what progenitor runs inside each attempt: `pre` puts the request in the
//!    official SDKs' wire form ([`wire`]) and signs it; `exec` sends it once, body capped.
//!
//! Adding an operation from the spec takes a file like [`image_sync`]: its parameters and the
//! closure that calls the generated method.

pub(crate) mod builder;
mod call;
pub(crate) mod hooks;
mod identity;
mod image_sync;
mod project;
mod retry;
mod skew;
mod validate;
mod wire;

pub use builder::{DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HssClientBuilder};
pub use identity::Identity;
pub use image_sync::{ImageType, PreparedRequest, SyncRequest, SyncResponse};
pub use project::ProjectSource;
pub use retry::RetryPolicy;

use crate::generated;
use std::time::Duration;

/// A client for HSS `RunImageSynchronize`. Cheap to clone; clones share connections and the
/// learnt clock correction.
///
/// ```no_run
/// use hss_image_sync::{Credentials, HssClient, ImageType, SyncRequest};
///
/// # async fn run() -> Result<(), hss_image_sync::Error> {
/// let client = HssClient::builder()
///     .region("cn-north-4")
///     .credentials(Credentials::new("AK", "SK").with_project_id("0a1b2c3d"))
///     .build()?;
/// let done = client
///     .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
///     .await?;
/// println!("{} (request {:?})", done.error_description, done.request_id);
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
}

impl HssClient {
    /// Starts configuring a client.
    pub fn builder() -> HssClientBuilder {
        HssClientBuilder::default()
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
