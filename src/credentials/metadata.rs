//! ECS metadata: the temporary keys of the agency bound to the ECS instance this runs on, from
//! the instance metadata service, with its session-token handshake.

use super::http::{self, LazyClient, SendError};
use super::response::parse_credentials;
use super::{Credentials, CredentialsError, EnvVars, ProvideCredentials, ProvideFuture};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const NAME: &str = "ecs-metadata";
/// Where the metadata service answers on ECS; the official SDKs hard-code it.
const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// Overrides the metadata service's base address. This crate's own variable: the official SDKs
/// have none.
pub const METADATA_ENDPOINT_VARIABLE: &str = "HUAWEICLOUD_SDK_METADATA_ENDPOINT";
const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const KEY_PATH: &str = "/openstack/latest/securitykey";
const TOKEN_TTL_HEADER: &str = "X-Metadata-Token-Ttl-Seconds";
const TOKEN_HEADER: &str = "X-Metadata-Token";
/// The session token's lifetime asked for, as the SDKs ask.
const TOKEN_TTL: Duration = Duration::from_secs(21_600);
/// A session token is asked for again this long before its lifetime ends.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// After the service said it has no session tokens, how long until asking again (as the SDKs).
const TOKEN_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A 401 with this text is final: the instance has no agency, a new session token won't help.
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";
/// The metadata service is on the instance's link: it connects at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest each request may take; the SDKs wait 3 s to connect and 3 s to read.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Temporary keys of the ECS instance's agency, from the metadata service, as the official
/// SDKs' `MetadataAccessor` gets them: a session token from
/// `PUT /meta-data/latest/api/token` (`X-Metadata-Token-Ttl-Seconds: 21600`), then
/// `GET /openstack/latest/securitykey` with `X-Metadata-Token`.
///
/// The session token is kept between fetches (and asked for again shortly before its 6 hours
/// end, which the SDKs do not track). A 401 (except "Please configure Cloud Service Agency
/// first") gets a new one and one more try; a service that answers the token request with 404,
/// 405 or 503 has no session tokens, and the key is asked for without one (for 24 hours before
/// trying a token again, as the SDKs).
///
/// The base address is `HUAWEICLOUD_SDK_METADATA_ENDPOINT` (this crate's variable, for tests
/// and proxies; the SDKs hard-code it), else `http://169.254.169.254`. Connecting may take 1 s
/// and each request 2 s, so that where nothing answers this gives up quickly. The credentials
/// carry no project ID: the client looks it up in IAM.
#[derive(Debug)]
pub struct EcsMetadataProvider {
    env: EnvVars,
    http: LazyClient,
    session: Mutex<Session>,
}

/// The session-token state kept between fetches, for one base address.
#[derive(Debug, Default)]
struct Session {
    base: String,
    token: Option<(SecretString, Instant)>,
    /// When a token was last asked for.
    last_try: Option<Instant>,
}

/// How a fetch failed, for the chain: it goes on after the first.
#[derive(Debug)]
pub(crate) enum MetadataFailure {
    /// Nothing answered (connection refused or timed out: not on ECS, most likely), or the
    /// service answered with an error status (no agency bound, ...).
    Unavailable(CredentialsError),
    /// Anything else: settings, an unreadable answer.
    Failed(CredentialsError),
}

impl From<MetadataFailure> for CredentialsError {
    fn from(failure: MetadataFailure) -> Self {
        match failure {
            MetadataFailure::Unavailable(e) | MetadataFailure::Failed(e) => e,
        }
    }
}

impl From<SendError> for MetadataFailure {
    fn from(e: SendError) -> Self {
        if e.no_answer {
            MetadataFailure::Unavailable(e.error)
        } else {
            MetadataFailure::Failed(e.error)
        }
    }
}

impl From<CredentialsError> for MetadataFailure {
    fn from(e: CredentialsError) -> Self {
        MetadataFailure::Failed(e)
    }
}

impl EcsMetadataProvider {
    /// Reads `HUAWEICLOUD_SDK_METADATA_ENDPOINT` in the process environment.
    pub fn new() -> Self {
        Self::with_env_vars(EnvVars::process())
    }

    /// Reads `HUAWEICLOUD_SDK_METADATA_ENDPOINT` in `env` instead.
    pub fn with_env(mut self, env: EnvVars) -> Self {
        self.env = env;
        self
    }

    pub(crate) fn with_env_vars(env: EnvVars) -> Self {
        EcsMetadataProvider {
            env,
            http: LazyClient::new(CONNECT_TIMEOUT),
            session: Mutex::default(),
        }
    }

    fn base(&self) -> Result<String, CredentialsError> {
        match self.env.get(METADATA_ENDPOINT_VARIABLE) {
            None => Ok(DEFAULT_METADATA_ENDPOINT.to_owned()),
            Some(endpoint) => http::endpoint_origin(NAME, METADATA_ENDPOINT_VARIABLE, &endpoint),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        // The state is a cache; a panic while holding it leaves nothing half-written.
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session token to send, and whether to ask for one first.
    fn current_token(&self, base: &str) -> (Option<SecretString>, bool) {
        let mut session = self.session();
        if session.base != base {
            *session = Session {
                base: base.to_owned(),
                ..Session::default()
            };
        }
        if let Some((_, got)) = &session.token
            && got.elapsed() + TOKEN_MARGIN >= TOKEN_TTL
        {
            session.token = None;
            session.last_try = None;
        }
        let token = session.token.as_ref().map(|(t, _)| t.clone());
        let ask = token.is_none()
            && session
                .last_try
                .is_none_or(|at| at.elapsed() >= TOKEN_RETRY_AFTER);
        (token, ask)
    }

    /// Fetches, telling the chain how it failed.
    pub(crate) async fn fetch_classified(&self) -> Result<Credentials, MetadataFailure> {
        let base = self.base()?;
        let client = self.http.get(NAME)?;
        let (mut token, ask) = self.current_token(&base);
        if ask {
            token = self.update_token(&client, &base, false).await?;
        }
        let mut answer = self.get_key(&client, &base, token.as_ref()).await?;
        if answer.0.status == StatusCode::UNAUTHORIZED
            && !String::from_utf8_lossy(&answer.0.body).contains(NO_AGENCY)
        {
            token = self.update_token(&client, &base, true).await?;
            answer = self.get_key(&client, &base, token.as_ref()).await?;
        }
        let (answer, what) = answer;
        if !answer.status.is_success() {
            let sent: Vec<&str> = token.iter().map(|t| t.expose_secret()).collect();
            return Err(MetadataFailure::Unavailable(http::status_error(
                NAME, &what, &answer, &sent,
            )));
        }
        Ok(parse_credentials(NAME, &answer.body)?)
    }

    /// `PUT /meta-data/latest/api/token`: the new token, or none when the service has no
    /// session tokens (404, 405, 503) and `must` is false.
    async fn update_token(
        &self,
        client: &reqwest::Client,
        base: &str,
        must: bool,
    ) -> Result<Option<SecretString>, MetadataFailure> {
        self.session().last_try = Some(Instant::now());
        let url = url(base, TOKEN_PATH)?;
        let what = http::describe("PUT", &url);
        let request = client
            .put(url)
            .header(TOKEN_TTL_HEADER, TOKEN_TTL.as_secs())
            .timeout(REQUEST_TIMEOUT);
        let answer = http::send(NAME, &what, request).await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::SERVICE_UNAVAILABLE
                if !must =>
            {
                tracing::debug!(
                    status = %answer.status,
                    "the ECS metadata service gives no session tokens; asking without one"
                );
                self.session().token = None;
                return Ok(None);
            }
            _ => {
                return Err(MetadataFailure::Unavailable(http::status_error(
                    NAME,
                    &what,
                    &answer,
                    &[],
                )));
            }
        }
        let token = std::str::from_utf8(&answer.body)
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty() && reqwest::header::HeaderValue::from_str(t).is_ok())
            .ok_or_else(|| {
                http::fetch_error(
                    NAME,
                    format!("{what} answered a session token that is empty or not a header value"),
                    None,
                )
            })?;
        let token = SecretString::from(token);
        let mut session = self.session();
        if session.base == base {
            session.token = Some((token.clone(), Instant::now()));
        }
        Ok(Some(token))
    }

    /// `GET /openstack/latest/securitykey`, with the session token if there is one.
    async fn get_key(
        &self,
        client: &reqwest::Client,
        base: &str,
        token: Option<&SecretString>,
    ) -> Result<(http::Answer, String), MetadataFailure> {
        let url = url(base, KEY_PATH)?;
        let what = http::describe("GET", &url);
        let mut request = client.get(url).timeout(REQUEST_TIMEOUT);
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(token.expose_secret())
                .map_err(|e| http::fetch_error(NAME, "bad session token", Some(Box::new(e))))?;
            value.set_sensitive(true);
            request = request.header(TOKEN_HEADER, value);
        }
        Ok((http::send(NAME, &what, request).await?, what))
    }
}

fn url(base: &str, path: &str) -> Result<Url, CredentialsError> {
    Url::parse(&format!("{base}{path}"))
        .map_err(|e| http::fetch_error(NAME, "bad metadata endpoint", Some(Box::new(e))))
}

impl Default for EcsMetadataProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for EcsMetadataProvider {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(async move { self.fetch_classified().await.map_err(Into::into) })
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
