//! Builds an [`HssClient`]: endpoint, credentials, defaults, and our own HTTP client.

use super::HssClient;
use super::hooks::{Auth, HookState, Signing, TimeSource};
use super::retry::RetryPolicy;
use crate::credentials::{AuthToken, Credentials, CredentialsCache, ProvideCredentials};
use crate::error::Error;
use crate::generated;
use crate::http::{DEFAULT_CONNECT_TIMEOUT, ExtraRoots, extra_roots, http_client};
use crate::region;
use crate::signer::{self, Algorithm};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Default timeout of a whole call: every attempt and every delay between them.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The service name in V11 derived-key scopes.
const DERIVED_SERVICE: &str = "hss";
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Configures an [`HssClient`]. Created by [`HssClient::builder`].
#[derive(Clone, Default)]
pub struct HssClientBuilder {
    region: Option<String>,
    algorithm: Option<Algorithm>,
    derived_signing: bool,
    derived_scope: Option<(String, String)>,
    iam_endpoint: Option<String>,
    endpoint: Option<String>,
    credentials: Option<Credentials>,
    provider: Option<Arc<dyn ProvideCredentials>>,
    auth_token: Option<AuthToken>,
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
    user_agent: Option<String>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    max_response_bytes: Option<usize>,
    time_source: Option<TimeSource>,
    extra_roots: Vec<ExtraRoots>,
    rate_limiter: Option<super::RateLimiter>,
    /// Another client's HTTP client (its connection pool and TLS setup), to reuse.
    connections: Option<reqwest::Client>,
}

impl std::fmt::Debug for HssClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HssClientBuilder")
            .field("region", &self.region)
            .field("algorithm", &self.algorithm)
            .field("derived_signing", &self.derived_signing)
            .field("derived_scope", &self.derived_scope)
            .field(
                "iam_endpoint",
                &self.iam_endpoint.as_deref().map(shown_endpoint),
            )
            .field("endpoint", &self.endpoint.as_deref().map(shown_endpoint))
            .field("credentials", &self.credentials)
            .field("provider", &self.provider)
            .field("auth_token", &self.auth_token)
            .field("project_id", &self.project_id)
            .field("enterprise_project_id", &self.enterprise_project_id)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("extra_roots", &self.extra_roots)
            .field("rate_limiter", &self.rate_limiter)
            .finish_non_exhaustive()
    }
}

impl HssClientBuilder {
    /// The region, e.g. `cn-north-4` (see [`region::REGIONS`]). Its endpoint is
    /// `https://hss.{region}.myhuaweicloud.com` unless `HUAWEICLOUD_SDK_REGION_HSS_<REGION>`
    /// overrides it.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// An explicit endpoint, `https://host[:port]` (or `http://` for local testing); wins over
    /// [`region`](Self::region). Without a scheme, `https://` is assumed. The host as the URL
    /// parser reads it (lowercase), with the port when one is written (`:443` included, as the
    /// official SDKs keep it), is signed and sent as `Host`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// AK/SK credentials: requests are signed with SDK-HMAC-SHA256.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A provider of AK/SK credentials, asked before signed requests: for temporary keys that
    /// must be refreshed (OIDC, ECS metadata, CCE pod identity, or your own). The client caches
    /// what it returns (see [`CredentialsCache`]). Wins over [`credentials`](Self::credentials).
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// An IAM token: requests carry `X-Auth-Token` and are not signed. Wins over credentials.
    pub fn auth_token(mut self, token: AuthToken) -> Self {
        self.auth_token = Some(token);
        self
    }

    /// The IAM endpoint for project discovery (default: `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else the
    /// region's IAM endpoint as the official SDKs list them).
    pub fn iam_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.iam_endpoint = Some(endpoint.into());
        self
    }

    /// The project ID for the path; defaults to the credentials' project ID, else the project
    /// IAM lists for the region (looked up once, with the same credentials).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The enterprise project sent with every call unless the call sets its own.
    pub fn enterprise_project_id(mut self, id: impl Into<String>) -> Self {
        self.enterprise_project_id = Some(id.into());
        self
    }

    /// The signing algorithm for AK/SK credentials (default SDK-HMAC-SHA256). ECDSA and SM2 need
    /// the crate features `ecdsa` and `sm2`; V11-HMAC-SHA256 needs a region (its derived key's
    /// scope, with the service `hss` unless [`derived_scope`](Self::derived_scope) says
    /// otherwise).
    pub fn signing_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// Sign with V11-HMAC-SHA256 (derived keys) where the official SDKs' default predicate asks
    /// for it: on every endpoint that is not a standard `*.myhuaweicloud.com`-style host (see
    /// [`signer::uses_derived_key`](crate::signer::uses_derived_key)); elsewhere the configured
    /// algorithm. Like the SDKs' `with_derived_predicate(get_default_derived_predicate())`.
    pub fn derived_signing(mut self) -> Self {
        self.derived_signing = true;
        self
    }

    /// The region and service of V11 derived keys (default: the client's region and `hss`).
    pub fn derived_scope(mut self, region: impl Into<String>, service: impl Into<String>) -> Self {
        self.derived_scope = Some((region.into(), service.into()));
        self
    }

    /// The `User-Agent` header (signed); defaults to `hss-image-sync/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Timeout for establishing a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Timeout of a whole call, every attempt and every delay between them included
    /// (default 60 s). A call never outlives it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Timeout of one attempt (connect, send, receive); by default only the total applies.
    /// An attempt that times out is retried while attempts and time are left.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// How to retry (default: 3 attempts, full-jitter backoff from 1 s, delays capped at
    /// 20 s). See [`RetryPolicy`] for what is retried and why that is safe.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// One attempt per call.
    pub fn no_retry(self) -> Self {
        self.retry(RetryPolicy::disabled())
    }

    /// Largest response body read (default 1 MiB); a larger one is an error.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Also trust the CA certificates in `pem` (one or more `CERTIFICATE` blocks), besides the
    /// platform's roots (and `SSL_CERT_FILE`): for a gateway behind a private CA, or the
    /// emulator serving https.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(ExtraRoots::Pem(pem.into()));
        self
    }

    /// Like [`add_root_certificates_pem`](Self::add_root_certificates_pem), from a PEM file
    /// read when the client is built (CLI `--ca-bundle FILE`).
    pub fn ca_bundle_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_roots.push(ExtraRoots::File(path.into()));
        self
    }

    /// Paces every attempt of every call with `limiter` (see [`RateLimiter`](super::RateLimiter)):
    /// hand clones of one limiter to every client that uses the same credentials, so that
    /// together they keep to the budget. A throttled answer (429) slows every holder down.
    /// By default calls are not paced.
    pub fn rate_limiter(mut self, limiter: super::RateLimiter) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Reuses `client`'s connections (its HTTP client: pool, TLS setup, connect timeout and
    /// extra roots) instead of making new ones: for clients of several regions whose calls go
    /// to one endpoint (a proxy), which would otherwise each open their own.
    pub fn connections_of(mut self, client: &HssClient) -> Self {
        use progenitor_client::ClientInfo as _;
        self.connections = Some(client.inner.client().clone());
        self
    }

    /// The clock used for `X-Sdk-Date` (default: the system clock). For tests and replays.
    pub fn time_source(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.time_source = Some(Arc::new(now));
        self
    }

    /// Checks the configuration and builds the client. Fails, without panicking, on an unknown
    /// region, a malformed endpoint, missing or malformed credentials, or a TLS setup error.
    pub fn build(mut self) -> Result<HssClient, Error> {
        // `CN-North-4` is `cn-north-4`, for the endpoint, V11 scopes and IAM alike.
        self.region = self
            .region
            .map(|r| region::known(&r).map_or(r.trim().to_owned(), str::to_owned));
        let endpoint = self.resolve_endpoint()?;
        let (base_url, host) = split_endpoint(&endpoint)?;
        let iam_endpoint = match &self.iam_endpoint {
            Some(iam) => Some(super::project::checked_iam_endpoint("iam_endpoint", iam)?),
            None => None,
        };
        let signing = self.signing(&host)?;
        let auth = match (self.auth_token, self.credentials.clone(), self.provider) {
            (Some(token), _, _) => {
                // What is sent is the trimmed value: a blank token would go out empty.
                let sent = crate::signer::trim_header_value(token.expose());
                super::validate::non_empty("X-Auth-Token", sent)?;
                super::validate::header_value("X-Auth-Token", sent)?;
                crate::spec::check(&crate::spec::AUTH_TOKEN, sent).map_err(|rule| {
                    Error::InvalidInput {
                        field: "X-Auth-Token",
                        rule,
                    }
                })?;
                Auth::Token(token)
            }
            (None, _, Some(provider)) => Auth::AkSk(CredentialsCache::from_arc(provider)),
            (None, Some(creds), None) => {
                super::call::check_credentials(&creds)?;
                // As the cache checks what any provider gives, so that building fails instead.
                let creds = crate::credentials::checked_credentials("static", creds)
                    .map_err(Error::Credentials)?;
                Auth::AkSk(CredentialsCache::new(creds))
            }
            (None, None, None) => {
                return Err(Error::Config {
                    setting: "credentials",
                    problem: "none given: set AK/SK credentials or an IAM auth token".into(),
                });
            }
        };
        let project_id = self.project_id;
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| format!("hss-image-sync/{}", env!("CARGO_PKG_VERSION")));
        super::validate::header_value("User-Agent", &user_agent)?;

        let retry = self.retry.unwrap_or_default();
        if retry.max_attempts() == 0 {
            return Err(Error::InvalidInput {
                field: "max_attempts",
                rule: "must be at least 1".into(),
            });
        }
        for (field, value) in [
            ("timeout", self.timeout),
            ("attempt_timeout", self.attempt_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_some_and(|t| t.is_zero()) {
                return Err(Error::InvalidInput {
                    field,
                    rule: "must be longer than zero".into(),
                });
            }
        }
        let http = match self.connections {
            Some(shared) => shared,
            None => http_client(
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
                extra_roots(&self.extra_roots)?,
            )?,
        };
        let state = HookState {
            auth,
            signing,
            keys: Default::default(),
            host,
            user_agent,
            now: self
                .time_source
                .unwrap_or_else(|| Arc::new(SystemTime::now)),
            skew: Default::default(),
            attempt_timeout: self.attempt_timeout,
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        };
        Ok(HssClient {
            inner: generated::Client::new_with_client(&base_url, http, state),
            retry,
            total_timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            project_id,
            enterprise_project_id: self.enterprise_project_id,
            region: self.region,
            iam_endpoint,
            projects: Default::default(),
            rate_limiter: self.rate_limiter,
        })
    }

    /// The algorithm for this host, and V11's scope when it applies.
    fn signing(&self, host: &str) -> Result<Signing, Error> {
        let configured = self.algorithm.unwrap_or_default();
        let algorithm = if self.derived_signing && signer::uses_derived_key(host) {
            Algorithm::V11HmacSha256
        } else {
            configured
        };
        if !algorithm.is_available() {
            return Err(Error::Config {
                setting: "signing algorithm",
                problem: signer::SigningError::Unavailable(algorithm).to_string(),
            });
        }
        if algorithm != Algorithm::V11HmacSha256 {
            return Ok(Signing {
                algorithm,
                scope: None,
            });
        }
        let scope = match (&self.derived_scope, &self.region) {
            (Some(scope), _) => scope.clone(),
            (None, Some(region)) => (region.clone(), DERIVED_SERVICE.to_owned()),
            (None, None) => {
                return Err(Error::Config {
                    setting: "signing algorithm",
                    problem: "V11-HMAC-SHA256 signs for a region: set the region (or the \
                              derived scope) as well as the endpoint"
                        .into(),
                });
            }
        };
        Ok(Signing {
            algorithm,
            scope: Some(scope),
        })
    }

    fn resolve_endpoint(&self) -> Result<String, Error> {
        if let Some(endpoint) = &self.endpoint {
            return Ok(endpoint.clone());
        }
        let Some(region) = &self.region else {
            return Err(Error::Config {
                setting: "endpoint",
                problem: "none given: set a region (e.g. cn-north-4) or an explicit endpoint"
                    .into(),
            });
        };
        // `build` has already turned a listed region in another case into that region; a name
        // the environment overrides is taken as written (the SDKs allow regions they do not
        // list there).
        let name = region.as_str();
        region::endpoint(name).ok_or_else(|| Error::Config {
            setting: "region",
            problem: region::unknown_region_problem(name),
        })
    }
}

/// An endpoint for `Debug`: its origin when it passes the endpoint check, else only that it
/// does not (it may hold a password).
fn shown_endpoint(endpoint: &str) -> String {
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    };
    match crate::http::check_endpoint(&with_scheme) {
        Ok(url) => format!("{}{}", url.origin().ascii_serialization(), url.path()),
        Err(problem) => format!("(invalid: {problem})"),
    }
}

/// Splits an endpoint into the base URL for requests and the authority sent (and signed) as
/// `Host`: the parsed URL's host (lowercase, IDNA, brackets for IPv6) with the port when the
/// endpoint writes one, even the default one, as the official SDKs keep `:443`. Whitespace and
/// control characters are refused here, not silently dropped by the URL parser.
fn split_endpoint(endpoint: &str) -> Result<(String, String), Error> {
    let endpoint = endpoint.trim();
    // Not echoed in errors: it may hold a password.
    let bad = |why: &str| Error::Config {
        setting: "endpoint",
        problem: why.to_owned(),
    };
    // Without a scheme, https: the rest is the crate's one endpoint check.
    let with_scheme = if endpoint.contains("://") {
        std::borrow::Cow::Borrowed(endpoint)
    } else {
        std::borrow::Cow::Owned(format!("https://{endpoint}"))
    };
    crate::http::check_endpoint(&with_scheme).map_err(|problem| bad(&problem))?;
    let (scheme, rest) = match with_scheme.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return Err(bad("no host")),
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len()));
    if !path.is_empty() && path != "/" {
        return Err(bad("must not have a path, query or fragment"));
    }
    let base_url = format!("{scheme}://{authority}");
    let url = reqwest::Url::parse(&base_url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    let port = url.port_or_known_default().unwrap_or_default();
    let writes_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host = if writes_port {
        format!("{host}:{port}")
    } else {
        host.to_owned()
    };
    Ok((base_url, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_comes_from_the_parsed_url() {
        for (endpoint, host) in [
            ("https://HSS.Example.COM", "hss.example.com"),
            ("https://HSS.Example.COM:443", "hss.example.com:443"),
            ("http://[::1]:8080/", "[::1]:8080"),
            ("https://[::1]", "[::1]"),
            ("https://bücher.example", "xn--bcher-kva.example"),
            ("http://127.0.0.1:080", "127.0.0.1:80"),
        ] {
            assert_eq!(split_endpoint(endpoint).unwrap().1, host, "{endpoint}");
        }
        for endpoint in [
            "https://hss.exa\tmple.com",
            "https://hss.example\n.com",
            "http://h\r\n:1",
        ] {
            let err = split_endpoint(endpoint).unwrap_err();
            assert!(
                matches!(&err, Error::Config { setting: "endpoint", problem } if problem.contains("control")),
                "{endpoint:?}: {err}"
            );
        }
    }

    #[test]
    fn endpoints_keep_the_authority_as_written() {
        let (base, host) = split_endpoint("https://hss.cn-north-4.myhuaweicloud.com:443").unwrap();
        assert_eq!(base, "https://hss.cn-north-4.myhuaweicloud.com:443");
        assert_eq!(host, "hss.cn-north-4.myhuaweicloud.com:443");
        let (base, host) = split_endpoint("hss.example.com/").unwrap();
        assert_eq!(
            (base.as_str(), host.as_str()),
            ("https://hss.example.com", "hss.example.com")
        );
        let (_, host) = split_endpoint("http://127.0.0.1:8080").unwrap();
        assert_eq!(host, "127.0.0.1:8080");
    }

    #[test]
    fn rejects_bad_endpoints_with_reasons() {
        for (endpoint, why) in [
            ("ftp://x", "scheme"),
            ("https://", "no host"),
            ("https://u:p@h", "user info"),
            ("https://h/v5", "path"),
            ("https://h?x=1", "path"),
            ("https://bad host", "endpoint"),
        ] {
            let err = split_endpoint(endpoint).unwrap_err().to_string();
            assert!(err.contains(why), "{endpoint}: {err}");
            assert!(!err.contains("u:p"), "{err}");
        }
    }

    #[test]
    fn keys_with_control_characters_are_refused_at_build() {
        for creds in [
            crate::Credentials::new("AK", "SK").with_security_token("TOKEN\tSECOND-PART"),
            crate::Credentials::new("AK", "SECRET\u{85}SECOND-PART"),
            crate::Credentials::new("AK\nSECOND-PART", "SK"),
        ] {
            let err = crate::HssClient::builder()
                .endpoint("http://127.0.0.1:9")
                .credentials(creds)
                .build()
                .unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("control characters"), "{shown}");
            assert!(!shown.contains("SECOND-PART"), "{shown}");
        }
    }
}
