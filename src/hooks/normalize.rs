//! `pre`: rewrites the request progenitor built into exactly what the official SDKs send,
//! except the signature, which is added per attempt.

use super::{Auth, HookState, header_map, sdk_json};
use crate::signer;
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;

/// Headers progenitor adds that the official SDKs never send.
const DROPPED_HEADERS: [&str; 2] = ["api-version", "accept"];

/// SDK-style JSON body, SDK-encoded path, canonical query string, and the SDK's header set
/// (`Content-Type`, `User-Agent`, `Host`, `X-Project-Id`, `X-Security-Token` or `X-Auth-Token`,
/// and the operation's own headers).
pub(super) fn prepare(state: &HookState, request: &mut reqwest::Request) -> Result<(), String> {
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .map(sdk_json::python_style)
        .unwrap_or_default();

    let url = request.url_mut();
    let path = super::call::path().unwrap_or_else(|| sdk_encoded_path(url.path()));
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
    headers.push(("User-Agent".into(), state.user_agent.clone()));
    if let Auth::AkSk(creds) = &state.auth {
        if let Some(project_id) = creds.project_id() {
            headers.push(("X-Project-Id".into(), project_id.to_owned()));
        }
        if let Some(token) = creds.security_token() {
            headers.push(("X-Security-Token".into(), token.expose_secret().to_owned()));
        }
    }
    headers.push(("Host".into(), state.host.clone()));

    // Values are trimmed as the signer trims them, so what is signed is what is sent.
    for (_, value) in &mut headers {
        *value = signer::trim_header_value(value).to_owned();
    }
    *request.headers_mut() = header_map(&headers)?;
    *request.body_mut() = (!body.is_empty()).then(|| body.into());
    Ok(())
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
