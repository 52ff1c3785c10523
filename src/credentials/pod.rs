//! CCE pod identity: the temporary keys of the pod's service account, from the agent the CCE
//! cluster runs for it.

use super::files::read_token_file;
use super::http::{self, LazyClient};
use super::response::parse_credentials;
use super::{Credentials, CredentialsError, EnvVars, ProvideCredentials, ProvideFuture};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::time::Duration;

const NAME: &str = "pod-identity";
const ENV_FULL_URI: &str = "HC_CONTAINER_CREDENTIALS_FULL_URI";
const ENV_TOKEN_FILE: &str = "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE";
/// The longest the request may take (the SDKs wait 5 s to connect and 5 s to read).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Temporary keys from CCE pod identity, as the official SDKs' `PodIdentityCredentialProvider`
/// gets them: `POST $HC_CONTAINER_CREDENTIALS_FULL_URI` with body `{}` and
/// `Authorization: <the content of $HC_CONTAINER_AUTHORIZATION_TOKEN_FILE, trimmed>` (no
/// `Bearer`). The token file is read again at each fetch (Kubernetes rotates it).
///
/// Differences from the SDKs, deliberate: a token file of only whitespace is an error (the SDKs
/// send an empty `Authorization`); a redirect is not followed (the SDKs follow it, and send the
/// token to wherever it points). The credentials carry no project ID: the client looks it up.
///
/// Not configured (the chain goes on) unless both variables are set.
#[derive(Debug, Clone)]
pub struct PodIdentityProvider {
    env: EnvVars,
    http: LazyClient,
}

impl PodIdentityProvider {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::with_parts(EnvVars::process(), LazyClient::for_services())
    }

    /// Reads `env` instead of the process environment.
    pub fn with_env(mut self, env: EnvVars) -> Self {
        self.env = env;
        self
    }

    pub(crate) fn with_parts(env: EnvVars, http: LazyClient) -> Self {
        PodIdentityProvider { env, http }
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let (Some(uri), Some(token_file)) =
            (self.env.get(ENV_FULL_URI), self.env.get(ENV_TOKEN_FILE))
        else {
            return Err(CredentialsError::NotConfigured {
                provider: NAME,
                reason: format!("{ENV_FULL_URI} and {ENV_TOKEN_FILE} are not both set"),
            });
        };
        // User info is refused with the rest: reqwest would send it as a second
        // `Authorization` header beside the token.
        let url = crate::http::check_endpoint(&uri).map_err(|problem| {
            http::fetch_error(NAME, format!("{ENV_FULL_URI}: {problem}"), None)
        })?;
        let what = http::describe("POST", &url);
        let token = read_token_file(NAME, ENV_TOKEN_FILE, &PathBuf::from(token_file))?;
        let mut authorization = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
            http::fetch_error(
                NAME,
                format!("{ENV_TOKEN_FILE}: the token is not a valid header value"),
                None,
            )
        })?;
        authorization.set_sensitive(true);
        let request = self
            .http
            .get(NAME)?
            .post(url)
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, http::USER_AGENT)
            .body("{}")
            .timeout(REQUEST_TIMEOUT);
        let answer = http::send_ok(NAME, &what, request, &[token.expose_secret()]).await?;
        parse_credentials(NAME, &answer.body)
    }
}

impl Default for PodIdentityProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for PodIdentityProvider {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
