//! The progenitor client hooks: where every request is normalised to what the official SDKs
//! send, then signed, and where error answers are read.
//!
//! The generated client is built with `HooksMode::Expected`, so it does not compile without the
//! `ClientHooks` impl below: there is no way to get a client that sends unsigned requests.

mod sdk_json;

use crate::credentials::{AuthToken, Credentials};
use crate::error_body;
use crate::generated::Client;
use crate::signer::{self, SignableRequest};
use percent_encoding::percent_decode_str;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub(crate) enum Auth {
    /// Signed with SDK-HMAC-SHA256.
    AkSk(Credentials),
    /// `X-Auth-Token`, not signed.
    Token(AuthToken),
}

/// A source of the current time, injectable so tests can sign at a fixed instant.
pub(crate) type TimeSource = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// State the hooks need; stored inside the generated client.
#[derive(Clone)]
pub struct HookState {
    pub(crate) auth: Auth,
    /// The endpoint's authority exactly as configured: signed, and sent as `Host`.
    pub(crate) host: String,
    pub(crate) user_agent: String,
    pub(crate) now: TimeSource,
}

impl fmt::Debug for HookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookState")
            .field("auth", &self.auth)
            .field("host", &self.host)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// Headers progenitor adds that the official SDKs never send.
const DROPPED_HEADERS: [&str; 2] = ["api-version", "accept"];

impl HookState {
    /// Rewrites `request` into exactly what goes on the wire: SDK-style JSON body, canonical
    /// query string, SDK-encoded path, SDK header set, and (for AK/SK) the signature over all
    /// of it.
    pub(crate) fn prepare(&self, request: &mut reqwest::Request) -> Result<(), String> {
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(sdk_json::python_style)
            .unwrap_or_default();

        let url = request.url_mut();
        let path = sdk_encoded_path(url.path());
        url.set_path(&path);
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let canonical_query = signer::canonical_query(&query);
        url.set_query((!canonical_query.is_empty()).then_some(canonical_query.as_str()));

        let mut headers: Vec<(String, String)> = Vec::with_capacity(8);
        for (name, value) in request.headers() {
            if DROPPED_HEADERS.contains(&name.as_str()) || name == reqwest::header::CONTENT_TYPE {
                continue;
            }
            let value = String::from_utf8(value.as_bytes().to_vec())
                .map_err(|_| format!("header {name} is not UTF-8"))?;
            headers.push((name.as_str().to_owned(), value));
        }
        if !body.is_empty() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        headers.push(("User-Agent".into(), self.user_agent.clone()));

        let headers = match &self.auth {
            Auth::Token(_) => {
                headers.push(("Host".into(), self.host.clone()));
                headers
            }
            Auth::AkSk(creds) => {
                if let Some(project_id) = creds.project_id() {
                    headers.push(("X-Project-Id".into(), project_id.to_owned()));
                }
                if let Some(token) = creds.security_token() {
                    headers.push(("X-Security-Token".into(), token.expose_secret().to_owned()));
                }
                let signable = SignableRequest {
                    method: request.method().as_str(),
                    host: &self.host,
                    path: &path,
                    query: &query,
                    headers: &headers,
                    body: &body,
                };
                let signed = signer::sign(
                    &signable,
                    creds.access_key_id(),
                    creds.secret_access_key(),
                    (self.now)(),
                )
                .map_err(|e| e.to_string())?;
                debug_assert_eq!(signed.canonical_query, canonical_query);
                signed.headers
            }
        };

        *request.headers_mut() = header_map(&headers)?;
        *request.body_mut() = (!body.is_empty()).then(|| body.into());
        Ok(())
    }
}

/// Each path segment decoded and re-encoded with the signer's encoder: the form the official
/// SDKs send (`quote(project_id, safe='')`), whatever escaping progenitor chose.
fn sdk_encoded_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let decoded = percent_decode_str(segment).decode_utf8_lossy();
            signer::encode(&decoded).to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        // Raw UTF-8 bytes: the text that was signed is the text that is sent.
        let mut header_value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| format!("header {name}: value contains a control character"))?;
        if is_secret_header(&header_name) {
            header_value.set_sensitive(true);
        }
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// Headers whose values must never be logged.
pub(crate) fn is_secret_header(name: &HeaderName) -> bool {
    ["x-auth-token", "x-security-token", "authorization"].contains(&name.as_str())
}

impl ClientHooks<HookState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        self.inner()
            .prepare(request)
            .map_err(progenitor_client::Error::Custom)
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = self.client().execute(request).await?;
        tracing::debug!(
            operation = info.operation_id,
            status = response.status().as_u16(),
            request_id = request_id(response.headers()).unwrap_or("none"),
            "response received"
        );
        if response.status().as_u16() < 400 {
            return Ok(response);
        }
        normalize_error_response(response).await
    }
}

/// The response's `X-Request-Id`.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

/// Replaces an error body by the generated `HuaweiError` shape, filled the way the official SDKs
/// read error bodies (see [`error_body`]), so that decoding cannot fail and the status and
/// headers reach the caller even for an HTML or empty body.
async fn normalize_error_response(
    response: reqwest::Response,
) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let mut headers = response.headers().clone();
    let body = response.bytes().await?;
    let fields = error_body::parse(status.as_u16(), &body);
    let json = serde_json::to_vec(&fields).unwrap_or_default();
    headers.remove(reqwest::header::CONTENT_LENGTH);
    headers.remove(reqwest::header::CONTENT_ENCODING);
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut rebuilt = http::Response::new(json);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}
