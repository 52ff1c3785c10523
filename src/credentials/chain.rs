//! The official SDKs' default chain of providers, asked in order at each fetch, and fixed keys
//! read once from the two local sources.

use super::http::LazyClient;
use super::metadata::{EcsMetadataProvider, MetadataFailure};
use super::{
    Credentials, CredentialsError, EnvVars, EnvironmentProvider, OidcStsProvider,
    PodIdentityProvider, ProfileProvider, ProvideCredentials, ProvideFuture, from_env,
    from_profile_file, profile_path,
};

/// The official SDKs' default chain: at each fetch, the first of these that applies gives the
/// credentials.
///
/// 1. [`OidcStsProvider`] (`oidc-sts`): an agency assumed with an OIDC id token;
/// 2. [`EnvironmentProvider`] (`environment`): `HUAWEICLOUD_SDK_AK`/`_SK`, or a federated login;
/// 3. [`ProfileProvider`] (`profile`): `~/.huaweicloud/credentials`;
/// 4. [`EcsMetadataProvider`] (`ecs-metadata`): the ECS instance's agency;
/// 5. [`PodIdentityProvider`] (`pod-identity`): CCE pod identity.
///
/// A provider that is not configured is skipped. So is the metadata service when it does not
/// answer (nothing listens, or it times out: not on ECS), which is our deliberate difference
/// from the SDKs, where that error escapes the chain and pod identity is never tried; and, as in
/// the SDKs, when it answers with an error status (an instance without an agency). Any other
/// failure of a provider that applies stops the chain with that provider's error: going on
/// would act as another identity. When none applies, [`CredentialsError::Chain`] lists every
/// provider and why it was skipped.
///
/// Give it to the client, which asks it when it first needs keys and again shortly before
/// temporary keys expire:
///
/// ```no_run
/// use hss_image_sync::HssClient;
/// use hss_image_sync::credentials::DefaultChain;
///
/// # fn run() -> Result<(), hss_image_sync::Error> {
/// let client = HssClient::builder()
///     .region("cn-north-4")
///     .credentials_provider(DefaultChain::new().with_region("cn-north-4"))
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DefaultChain {
    oidc: OidcStsProvider,
    environment: EnvironmentProvider,
    profile: ProfileProvider,
    metadata: EcsMetadataProvider,
    pod: PodIdentityProvider,
}

impl DefaultChain {
    /// The chain, reading the process environment.
    pub fn new() -> Self {
        Self::build(EnvVars::process(), None)
    }

    /// Every provider reads `env` instead of the process environment (for tests: point
    /// `HUAWEICLOUD_SDK_METADATA_ENDPOINT` at a local address there).
    pub fn with_env(self, env: EnvVars) -> Self {
        let region = self.region();
        Self::build(env, region)
    }

    /// The region, for OIDC's STS endpoint (see [`OidcStsProvider::with_region`]).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.oidc = self.oidc.with_region(region);
        self
    }

    fn region(&self) -> Option<String> {
        self.oidc.region().map(str::to_owned)
    }

    fn build(env: EnvVars, region: Option<String>) -> Self {
        // One HTTP client for STS, IAM and pod identity; the metadata service has its own,
        // with a short connect timeout.
        let http = LazyClient::for_services();
        DefaultChain {
            oidc: OidcStsProvider::with_parts(env.clone(), region, http.clone()),
            environment: EnvironmentProvider::with_parts(env.clone(), http.clone()),
            profile: ProfileProvider::with_parts(env.clone(), http.clone()),
            metadata: EcsMetadataProvider::with_env_vars(env.clone()),
            pod: PodIdentityProvider::with_parts(env, http),
        }
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let mut skipped = Vec::new();
        for provider in [
            &self.oidc as &dyn ProvideCredentials,
            &self.environment,
            &self.profile,
        ] {
            match provider.provide_credentials().await {
                Ok(credentials) => return Ok(found(provider.name(), credentials)),
                Err(e @ CredentialsError::NotConfigured { .. }) => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        match self.metadata.fetch_classified().await {
            Ok(credentials) => return Ok(found(self.metadata.name(), credentials)),
            Err(MetadataFailure::Unavailable(e)) => {
                tracing::debug!(error = %e, "no credentials from the ECS metadata service");
                skipped.push(e);
            }
            Err(MetadataFailure::Failed(e)) => return Err(e),
        }
        match self.pod.provide_credentials().await {
            Ok(credentials) => return Ok(found(self.pod.name(), credentials)),
            Err(e @ CredentialsError::NotConfigured { .. }) => skipped.push(e),
            Err(e) => return Err(e),
        }
        Err(CredentialsError::Chain(skipped))
    }
}

fn found(provider: &'static str, credentials: Credentials) -> Credentials {
    tracing::debug!(provider, "credentials found");
    credentials.with_source(provider)
}

impl Default for DefaultChain {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for DefaultChain {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> &'static str {
        "default-chain"
    }
}

/// Fixed keys from the two local sources, read once, now: the environment's, then the profile
/// file's, without the network (so no federated login, OIDC, ECS metadata or pod identity,
/// and no refresh). Not the default chain: that is [`DefaultChain`].
pub fn from_env_or_profile() -> Result<Credentials, CredentialsError> {
    let env_error = match from_env() {
        Ok(creds) => return Ok(creds),
        Err(e) => e,
    };
    let file_error = match profile_path() {
        Some(path) => match from_profile_file(&path) {
            Ok(creds) => return Ok(creds),
            Err(e) => e,
        },
        None => CredentialsError::NoProfilePath,
    };
    Err(CredentialsError::Chain(vec![env_error, file_error]))
}

/// The old name of [`from_env_or_profile`], which reads only the environment and the profile
/// file, once: the official default chain is [`DefaultChain`].
#[deprecated(
    note = "not the default chain: use `DefaultChain` (every provider, with refresh), or \
            `from_env_or_profile` for the environment and the profile file read once"
)]
pub fn default_chain() -> Result<Credentials, CredentialsError> {
    from_env_or_profile()
}
