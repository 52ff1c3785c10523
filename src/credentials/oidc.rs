//! OIDC STS: an agency assumed with an OpenID Connect id token (a Kubernetes service-account
//! token, a CI job's token ...), `POST {sts}/v5/agencies/assume-with-oidc`, unsigned.

use super::environment::ENV_PROJECT_ID;
use super::files::read_token_file;
use super::http::{self, JSON_UTF8, LazyClient, PyJson, USER_AGENT};
use super::response::parse_credentials;
use super::{Credentials, CredentialsError, EnvVars, ProvideCredentials, ProvideFuture};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, USER_AGENT as USER_AGENT_HEADER};
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::Duration;

const NAME: &str = "oidc-sts";
const ENV_PROVIDER_URN: &str = "HUAWEICLOUD_OIDC_PROVIDER_URN";
const ENV_AGENCY_URN: &str = "HUAWEICLOUD_OIDC_AGENCY_URN";
const ENV_ID_TOKEN: &str = "HUAWEICLOUD_OIDC_ID_TOKEN";
const ENV_TOKEN_FILE: &str = "HUAWEICLOUD_OIDC_TOKEN_FILE";
const ENV_SESSION_NAME: &str = "HUAWEICLOUD_OIDC_SESSION_NAME";
const ENV_DURATION: &str = "HUAWEICLOUD_OIDC_DURATION_SECONDS";
const ENV_POLICY: &str = "HUAWEICLOUD_OIDC_POLICY";
const ENV_POLICY_IDS: &str = "HUAWEICLOUD_OIDC_POLICY_IDS";
const ENV_STS_ENDPOINT: &str = "HUAWEICLOUD_SDK_STS_ENDPOINT";
/// The official SDKs' STS endpoint, whatever the region.
const DEFAULT_STS_ENDPOINT: &str = "https://sts.cn-north-4.myhuaweicloud.com";
const DEFAULT_SESSION_NAME: &str = "oidc-sts-session";
const DEFAULT_DURATION_SECONDS: i64 = 3600;
/// The longest the STS request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Temporary keys for an agency, assumed with an OIDC id token through STS, as the official
/// SDKs' `OidcCredentialProvider` gets them. Variables, read at each fetch:
///
/// | variable | |
/// |---|---|
/// | `HUAWEICLOUD_OIDC_PROVIDER_URN`, `HUAWEICLOUD_OIDC_AGENCY_URN` | required |
/// | `HUAWEICLOUD_OIDC_ID_TOKEN`, else `HUAWEICLOUD_OIDC_TOKEN_FILE` | the token, or a file holding it (trimmed) |
/// | `HUAWEICLOUD_OIDC_SESSION_NAME` | default `oidc-sts-session` |
/// | `HUAWEICLOUD_OIDC_DURATION_SECONDS` | an integer; default (and for `0`) 3600 |
/// | `HUAWEICLOUD_OIDC_POLICY` | a policy document, sent as a string |
/// | `HUAWEICLOUD_OIDC_POLICY_IDS` | comma-separated policy IDs |
/// | `HUAWEICLOUD_SDK_PROJECT_ID` | put on the credentials |
/// | `HUAWEICLOUD_SDK_STS_ENDPOINT` | STS; only its scheme, host and port are used |
///
/// Without `HUAWEICLOUD_SDK_STS_ENDPOINT`, STS is the region's
/// `https://sts.{region}.myhuaweicloud.com` when the provider was given a region (our choice:
/// the SDKs always use cn-north-4's), else `https://sts.cn-north-4.myhuaweicloud.com`.
///
/// Differences from the SDKs, deliberate: the token file is read again at each fetch (the SDKs
/// read it once, so a rotated Kubernetes token stops working); a set but empty session name or
/// duration counts as unset (the SDKs send `""` and fail on `int("")`); a missing or empty token
/// file is an error that stops the chain (the SDKs go on to the next provider, which would act
/// as another identity). The request is the SDKs' byte for byte but for `User-Agent`.
///
/// Not configured (the chain goes on) unless both URNs and a token or token file are set.
#[derive(Debug, Clone)]
pub struct OidcStsProvider {
    env: EnvVars,
    region: Option<String>,
    http: LazyClient,
}

/// Where the id token comes from.
enum IdToken {
    Value(SecretString),
    File(PathBuf),
}

/// The settings read from the variables.
struct Settings {
    provider_urn: String,
    agency_urn: String,
    id_token: IdToken,
    session_name: String,
    duration_seconds: i64,
    policy: Option<String>,
    policy_ids: Vec<String>,
}

impl OidcStsProvider {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::with_parts(EnvVars::process(), None, LazyClient::for_services())
    }

    /// Reads `env` instead of the process environment.
    pub fn with_env(mut self, env: EnvVars) -> Self {
        self.env = env;
        self
    }

    /// Uses the region's STS (`https://sts.{region}.myhuaweicloud.com`) unless
    /// `HUAWEICLOUD_SDK_STS_ENDPOINT` is set.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub(crate) fn with_parts(env: EnvVars, region: Option<String>, http: LazyClient) -> Self {
        OidcStsProvider { env, region, http }
    }

    pub(crate) fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The STS origin to call.
    fn sts_endpoint(&self) -> Result<String, CredentialsError> {
        if let Some(endpoint) = self.env.get(ENV_STS_ENDPOINT) {
            return http::endpoint_origin(NAME, ENV_STS_ENDPOINT, &endpoint);
        }
        match &self.region {
            None => Ok(DEFAULT_STS_ENDPOINT.to_owned()),
            Some(region)
                if !region.is_empty()
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                Ok(format!("https://sts.{region}.myhuaweicloud.com"))
            }
            Some(region) => Err(http::fetch_error(
                NAME,
                format!("the region {region:?} is not a region name"),
                None,
            )),
        }
    }

    fn settings(&self) -> Result<Settings, CredentialsError> {
        let env = &self.env;
        let id_token = env
            .get(ENV_ID_TOKEN)
            .map(|t| IdToken::Value(SecretString::from(t)))
            .or_else(|| env.get(ENV_TOKEN_FILE).map(|f| IdToken::File(f.into())));
        let (provider_urn, agency_urn) = (env.get(ENV_PROVIDER_URN), env.get(ENV_AGENCY_URN));
        let (Some(provider_urn), Some(agency_urn), Some(id_token)) =
            (provider_urn.clone(), agency_urn.clone(), id_token)
        else {
            let mut missing = Vec::new();
            if provider_urn.is_none() {
                missing.push(ENV_PROVIDER_URN.to_owned());
            }
            if agency_urn.is_none() {
                missing.push(ENV_AGENCY_URN.to_owned());
            }
            if env.get(ENV_ID_TOKEN).is_none() && env.get(ENV_TOKEN_FILE).is_none() {
                missing.push(format!("{ENV_ID_TOKEN} or {ENV_TOKEN_FILE}"));
            }
            return Err(CredentialsError::NotConfigured {
                provider: NAME,
                reason: format!("{} not set", missing.join(", ")),
            });
        };
        let duration_seconds = match env.get(ENV_DURATION) {
            None => DEFAULT_DURATION_SECONDS,
            Some(text) => match parse_python_int(&text) {
                Some(0) => DEFAULT_DURATION_SECONDS,
                Some(n) => n,
                None => {
                    return Err(http::fetch_error(
                        NAME,
                        format!("{ENV_DURATION} {text:?} is not an integer"),
                        None,
                    ));
                }
            },
        };
        Ok(Settings {
            provider_urn,
            agency_urn,
            id_token,
            session_name: env
                .get(ENV_SESSION_NAME)
                .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
            duration_seconds,
            policy: env.get(ENV_POLICY),
            policy_ids: env
                .get(ENV_POLICY_IDS)
                .map(|ids| {
                    ids.split(',')
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let settings = self.settings()?;
        let id_token = match &settings.id_token {
            IdToken::Value(token) => token.clone(),
            IdToken::File(path) => read_token_file(NAME, ENV_TOKEN_FILE, path)?,
        };
        let url = Url::parse(&format!(
            "{}/v5/agencies/assume-with-oidc",
            self.sts_endpoint()?
        ))
        .map_err(|e| http::fetch_error(NAME, "bad STS endpoint", Some(Box::new(e))))?;
        let what = http::describe("POST", &url);
        let mut members = vec![
            ("provider_urn", PyJson::Str(&settings.provider_urn)),
            ("agency_urn", PyJson::Str(&settings.agency_urn)),
            ("agency_session_name", PyJson::Str(&settings.session_name)),
            ("id_token", PyJson::Str(id_token.expose_secret())),
            ("duration_seconds", PyJson::Int(settings.duration_seconds)),
        ];
        if let Some(policy) = &settings.policy {
            members.push(("policy", PyJson::Str(policy)));
        }
        if !settings.policy_ids.is_empty() {
            members.push((
                "policy_ids",
                PyJson::List(
                    settings
                        .policy_ids
                        .iter()
                        .map(|id| PyJson::Str(id))
                        .collect(),
                ),
            ));
        }
        let body = PyJson::Object(members).to_zeroizing_string();
        let request = self
            .http
            .get(NAME)?
            .post(url)
            .header(CONTENT_TYPE, JSON_UTF8)
            .header(USER_AGENT_HEADER, USER_AGENT)
            .body(body.as_bytes().to_vec())
            .timeout(REQUEST_TIMEOUT);
        let answer = http::send_ok(NAME, &what, request, &[id_token.expose_secret()]).await?;
        if answer.body.is_empty() {
            return Err(http::fetch_error(
                NAME,
                format!("{what} answered {} with an empty body", answer.status),
                None,
            ));
        }
        let mut credentials = parse_credentials(NAME, &answer.body)?;
        if let Some(project_id) = self.env.get(ENV_PROJECT_ID) {
            super::provider::check_project_id(NAME, &ENV_PROJECT_ID, &project_id)?;
            credentials = credentials.with_project_id(project_id);
        }
        Ok(credentials)
    }
}

impl Default for OidcStsProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for OidcStsProvider {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

/// Python's `int(text)` for the values it takes here: surrounding whitespace, an optional sign,
/// ASCII digits with single `_` between them. `None` for anything else or beyond `i64`.
fn parse_python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let magnitude: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_oidc_duration_is_read_like_python_int() {
        assert_eq!(parse_python_int(" 900 "), Some(900));
        assert_eq!(parse_python_int("+7"), Some(7));
        assert_eq!(parse_python_int("-5"), Some(-5));
        assert_eq!(parse_python_int("1_800"), Some(1800));
        assert_eq!(parse_python_int("0"), Some(0));
        for bad in [
            "",
            " ",
            "1.5",
            "abc",
            "1__0",
            "_1",
            "1_",
            "--1",
            "9223372036854775808",
        ] {
            assert_eq!(parse_python_int(bad), None, "{bad:?}");
        }
    }

    fn provider(pairs: &[(&str, &str)]) -> OidcStsProvider {
        OidcStsProvider::new().with_env(EnvVars::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn credentials_oidc_is_not_configured_without_both_urns_and_a_token() {
        let err = provider(&[(ENV_PROVIDER_URN, "p")])
            .settings()
            .err()
            .unwrap();
        let shown = err.to_string();
        assert!(
            matches!(err, CredentialsError::NotConfigured { .. }),
            "{shown}"
        );
        assert!(
            shown.contains(ENV_AGENCY_URN) && shown.contains(ENV_TOKEN_FILE),
            "{shown}"
        );
        let err = provider(&[
            (ENV_PROVIDER_URN, "p"),
            (ENV_AGENCY_URN, "a"),
            (ENV_ID_TOKEN, "t"),
            (ENV_DURATION, "1h"),
        ])
        .settings()
        .err()
        .unwrap();
        assert!(matches!(err, CredentialsError::Fetch { .. }), "{err}");
        let settings = provider(&[
            (ENV_PROVIDER_URN, "p"),
            (ENV_AGENCY_URN, "a"),
            (ENV_TOKEN_FILE, "/f"),
            (ENV_SESSION_NAME, ""),
            (ENV_DURATION, "0"),
            (ENV_POLICY_IDS, " a, ,b ,"),
        ])
        .settings()
        .unwrap();
        assert_eq!(settings.session_name, DEFAULT_SESSION_NAME);
        assert_eq!(settings.duration_seconds, 3600);
        assert_eq!(settings.policy_ids, ["a", "b"]);
        assert!(matches!(settings.id_token, IdToken::File(_)));
    }

    #[test]
    fn credentials_oidc_sts_endpoint_is_the_variable_else_the_region_else_cn_north_4() {
        let p = provider(&[]);
        assert_eq!(p.sts_endpoint().unwrap(), DEFAULT_STS_ENDPOINT);
        let p = p.with_region("ap-southeast-3");
        assert_eq!(
            p.sts_endpoint().unwrap(),
            "https://sts.ap-southeast-3.myhuaweicloud.com"
        );
        let p = p.with_env(EnvVars::from_pairs([(
            ENV_STS_ENDPOINT,
            "http://127.0.0.1:9/x/y",
        )]));
        assert_eq!(p.sts_endpoint().unwrap(), "http://127.0.0.1:9");
        let p = p.with_env(EnvVars::from_pairs([(ENV_STS_ENDPOINT, "sts.example.com")]));
        assert!(p.sts_endpoint().is_err());
        assert!(
            provider(&[])
                .with_region("evil.com/")
                .sts_endpoint()
                .is_err()
        );
    }
}
