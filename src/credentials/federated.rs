//! The federated login through IAM v3 that the environment and profile providers use when they
//! hold an identity provider ID and an id token file: an OIDC id token is traded for an
//! unscoped IAM token, and that for 6-hour temporary keys. Both requests are unsigned.

use super::files::read_token_file;
use super::http::{self, JSON_UTF8, LazyClient, PyJson, USER_AGENT};
use super::response::parse_credentials;
use super::{Credentials, CredentialsError, EnvVars};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, USER_AGENT as USER_AGENT_HEADER};
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::Duration;

/// Overrides the IAM endpoint, as in the official SDKs.
use super::IAM_ENDPOINT_VARIABLE;
/// The official SDKs' IAM endpoint for the federated login when none is configured (no region
/// table is used there).
const DEFAULT_IAM_ENDPOINT: &str = "https://iam.myhuaweicloud.com";
/// The lifetime the SDKs ask for, fixed at 6 hours.
const DURATION_SECONDS: i64 = 21_600;
/// The longest each of the two requests may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a federated login needs, from the environment or the profile file.
#[derive(Debug)]
pub(crate) struct FederatedParams {
    pub(crate) idp_id: String,
    /// Read again at each login.
    pub(crate) id_token_file: PathBuf,
    /// The profile's `iam_endpoint`, which wins over `HUAWEICLOUD_SDK_IAM_ENDPOINT`.
    pub(crate) iam_endpoint: Option<String>,
    /// Put on the credentials as they are.
    pub(crate) project_id: Option<String>,
}

/// Logs in: `POST {iam}/v3.0/OS-AUTH/id-token/tokens` with the id token (header `X-Idp-Id`),
/// then `POST {iam}/v3.0/OS-CREDENTIAL/securitytokens` with the unscoped token IAM answered in
/// `X-Subject-Token`. Errors name `provider`.
pub(crate) async fn login(
    provider: &'static str,
    http: &LazyClient,
    env: &EnvVars,
    params: &FederatedParams,
) -> Result<Credentials, CredentialsError> {
    let id_token = read_token_file(provider, "id_token_file", &params.id_token_file)?;
    let iam = match &params.iam_endpoint {
        Some(endpoint) => http::endpoint_origin(provider, "iam_endpoint", endpoint)?,
        None => match env.get(IAM_ENDPOINT_VARIABLE) {
            Some(endpoint) => http::endpoint_origin(provider, IAM_ENDPOINT_VARIABLE, &endpoint)?,
            None => DEFAULT_IAM_ENDPOINT.to_owned(),
        },
    };
    let client = http.get(provider)?;
    let url = |path: &str| {
        Url::parse(&format!("{iam}{path}"))
            .map_err(|e| http::fetch_error(provider, "bad IAM endpoint", Some(Box::new(e))))
    };

    let token_url = url("/v3.0/OS-AUTH/id-token/tokens")?;
    let what = format!("federated login: {}", http::describe("POST", &token_url));
    let body = PyJson::Object(vec![(
        "auth",
        PyJson::Object(vec![(
            "id_token",
            PyJson::Object(vec![("id", PyJson::Str(id_token.expose_secret()))]),
        )]),
    )])
    .to_zeroizing_string();
    let request = client
        .post(token_url)
        .header("X-Idp-Id", &params.idp_id)
        .header(CONTENT_TYPE, JSON_UTF8)
        .header(USER_AGENT_HEADER, USER_AGENT)
        .body(body.as_bytes().to_vec())
        .timeout(REQUEST_TIMEOUT);
    let answer = http::send_ok(provider, &what, request, &[id_token.expose_secret()]).await?;
    let Some(unscoped) = answer
        .headers
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
    else {
        return Err(http::fetch_error(
            provider,
            format!("{what} answered without an X-Subject-Token header"),
            None,
        ));
    };

    let keys_url = url("/v3.0/OS-CREDENTIAL/securitytokens")?;
    let what = format!("federated login: {}", http::describe("POST", &keys_url));
    let body = PyJson::Object(vec![(
        "auth",
        PyJson::Object(vec![(
            "identity",
            PyJson::Object(vec![
                ("methods", PyJson::List(vec![PyJson::Str("token")])),
                (
                    "token",
                    PyJson::Object(vec![
                        ("id", PyJson::Str(unscoped.expose_secret())),
                        ("duration_seconds", PyJson::Int(DURATION_SECONDS)),
                    ]),
                ),
            ]),
        )]),
    )])
    .to_zeroizing_string();
    let request = client
        .post(keys_url)
        .header(CONTENT_TYPE, JSON_UTF8)
        .header(USER_AGENT_HEADER, USER_AGENT)
        .body(body.as_bytes().to_vec())
        .timeout(REQUEST_TIMEOUT);
    let answer = http::send_ok(
        provider,
        &what,
        request,
        &[unscoped.expose_secret(), id_token.expose_secret()],
    )
    .await?;
    let mut credentials = parse_credentials(provider, &answer.body)?;
    if let Some(project_id) = &params.project_id {
        super::provider::check_project_id(provider, &"project_id", project_id)?;
        credentials = credentials.with_project_id(project_id);
    }
    Ok(credentials)
}
