//! Credentials: an AK/SK pair (optionally temporary, with a security token and an expiry) plus
//! the project ID, and the providers that find them, with the official SDKs' variables and
//! order ([`DefaultChain`]):
//!
//! 1. [`OidcStsProvider`], an agency assumed with an OIDC id token (`HUAWEICLOUD_OIDC_*`);
//! 2. [`EnvironmentProvider`], `HUAWEICLOUD_SDK_AK`/`_SK`, or a federated login through IAM
//!    (`HUAWEICLOUD_SDK_IDP_ID`, `HUAWEICLOUD_SDK_ID_TOKEN_FILE`);
//! 3. [`ProfileProvider`], `~/.huaweicloud/credentials`;
//! 4. [`EcsMetadataProvider`], the ECS instance's agency, from the metadata service;
//! 5. [`PodIdentityProvider`], CCE pod identity (`HC_CONTAINER_*`).
//!
//! A [`ProvideCredentials`] is asked for credentials before signed requests; the client keeps
//! what it returns in a [`CredentialsCache`], shared by its clones, and asks again shortly
//! before temporary keys expire, one refresh at a time. Providers read their variables at each
//! fetch, from the process environment or from an [`EnvVars`] of your own.
//!
//! Secrets live in [`SecretString`]s: zeroized on drop, and shown as `[REDACTED]` by `Debug`.
//! Errors name the provider and what failed, never a secret.

// One job a module: the trait and its error (`provider`), where variables come from
// (`env_vars`), one module per provider, and what several of them share: bounded file reads
// (`files`), the profile's INI dialect (`ini`), keys or a federated login (`local`), the
// federated login itself (`federated`), HTTP (`http`) and credential answers (`response`).
mod cache;
mod chain;
mod env_vars;
mod environment;
mod federated;
mod files;
mod http;
mod ini;
mod local;
mod metadata;
mod oidc;
mod pod;
mod profile;
mod provider;
mod response;

pub use cache::CredentialsCache;
#[allow(deprecated)]
pub use chain::default_chain;
pub use chain::{DefaultChain, from_env_or_profile};
pub use env_vars::EnvVars;
pub use environment::{EnvironmentProvider, from_env};
pub use metadata::{EcsMetadataProvider, METADATA_ENDPOINT_VARIABLE};
pub use oidc::OidcStsProvider;
pub use pod::PodIdentityProvider;
pub use profile::{
    MAX_PROFILE_FILE_BYTES, ProfileProvider, default_project_id, from_profile_file, profile_path,
};
pub(crate) use provider::checked as checked_credentials;
pub use provider::{CredentialsError, ProvideCredentials, ProvideFuture};

use secrecy::{ExposeSecret, SecretString};

/// Overrides the IAM endpoint (project lookup, federated login), as in the official SDKs.
pub(crate) const IAM_ENDPOINT_VARIABLE: &str = "HUAWEICLOUD_SDK_IAM_ENDPOINT";
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// An access key pair, the project it acts in, and for temporary keys the security token.
///
/// ```
/// use hss_image_sync::Credentials;
///
/// let creds = Credentials::new("MYAK", "my-secret").with_project_id("0a1b2c");
/// let shown = format!("{creds:?}");
/// assert!(shown.contains("MYAK") && !shown.contains("my-secret"));
/// ```
#[derive(Clone)]
pub struct Credentials(Arc<CredentialsData>);

/// What [`Credentials`] holds, shared by its clones: a clone (the client takes one per attempt)
/// is a reference count, not a copy of every string and secret.
#[derive(Clone)]
struct CredentialsData {
    access_key_id: String,
    secret_access_key: SecretString,
    security_token: Option<SecretString>,
    project_id: Option<String>,
    expiry: Option<SystemTime>,
    source: Option<&'static str>,
}

impl Credentials {
    /// Long-term (permanent) access keys.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self(Arc::new(CredentialsData {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret_access_key.into()),
            security_token: None,
            project_id: None,
            expiry: None,
            source: None,
        }))
    }

    /// Marks the keys as temporary: the token is sent (and signed) as `X-Security-Token`.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).security_token = Some(SecretString::from(token.into()));
        self
    }

    /// The project the requests act in; fills the `{project_id}` path parameter and is sent as
    /// `X-Project-Id`.
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).project_id = Some(project_id.into());
        self
    }

    /// When temporary keys stop working; the client fetches new ones before then.
    pub fn with_expiry(mut self, expiry: SystemTime) -> Self {
        Arc::make_mut(&mut self.0).expiry = Some(expiry);
        self
    }

    /// Which provider of a chain found them (`environment`, `ecs-metadata`, ...).
    pub(crate) fn with_source(mut self, provider: &'static str) -> Self {
        Arc::make_mut(&mut self.0).source = Some(provider);
        self
    }

    /// Which provider of a chain found these keys, when a chain did.
    pub fn source(&self) -> Option<&'static str> {
        self.0.source
    }

    /// When the keys expire (temporary keys from a provider), if known.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.0.expiry
    }

    /// The access key ID (AK). Not a secret: it is sent in every `Authorization` header.
    pub fn access_key_id(&self) -> &str {
        &self.0.access_key_id
    }

    /// The secret access key (SK).
    pub fn secret_access_key(&self) -> &SecretString {
        &self.0.secret_access_key
    }

    /// The security token of temporary keys.
    pub fn security_token(&self) -> Option<&SecretString> {
        self.0.security_token.as_ref()
    }

    /// The project ID, if set.
    pub fn project_id(&self) -> Option<&str> {
        self.0.project_id.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.0.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "security_token",
                &self.0.security_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("project_id", &self.0.project_id)
            .field("expiry", &self.0.expiry)
            .field("source", &self.0.source)
            .finish()
    }
}

/// An IAM token for `X-Auth-Token` authentication (no signing). Redacted in `Debug`.
#[derive(Clone)]
pub struct AuthToken(SecretString);

impl AuthToken {
    /// Wraps a token (the `X-Subject-Token` that IAM returned).
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken([REDACTED])")
    }
}
