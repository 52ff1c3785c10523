//! Signed calls to IAM (project lookup, the account's projects): signed like the SDKs sign
//! them (`User-Agent`, `X-Sdk-Date`, `Host`, `X-Security-Token` for temporary keys; never V11),
//! sent with the client's HTTP client, their answers read under a cap.

use super::HssClient;
use crate::credentials::Credentials;
use crate::error::Error;
use crate::signer::{self, Algorithm, SignableRequest, SigningParams};
use std::time::Duration;

/// An IAM answer: status, body (under the cap) and `X-IAM-Trace-Id` (masked, or `none`).
pub(super) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub trace_id: String,
}

impl HssClient {
    /// `GET {endpoint}{path}?{query}` to IAM, signed with `creds`; a body larger than
    /// `max_bytes` is [`Error::ResponseTooLarge`]. A malformed endpoint is [`Error::Config`].
    pub(super) async fn iam_get(
        &self,
        endpoint: &str,
        creds: &Credentials,
        path: &str,
        query: &[(String, String)],
        max_bytes: usize,
    ) -> Result<Answer, Error> {
        use secrecy::ExposeSecret;
        let bad = |problem: String| Error::Config {
            setting: "iam_endpoint",
            problem,
        };
        let url =
            reqwest::Url::parse(&format!("{endpoint}{path}")).map_err(|e| bad(e.to_string()))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(bad("the endpoint has no host".into())),
        };
        let state = self.hooks();
        let mut headers = vec![("User-Agent", state.user_agent.as_str())];
        if let Some(token) = creds.security_token() {
            headers.push(("X-Security-Token", token.expose_secret()));
        }
        let request = SignableRequest {
            method: "GET",
            host: &host,
            path: url.path(),
            query,
            headers: &headers,
            body: b"",
        };
        // IAM calls are never V11, as in the SDKs.
        let algorithm = match state.signing.algorithm {
            Algorithm::V11HmacSha256 => Algorithm::HmacSha256,
            other => other,
        };
        let params = SigningParams::new(
            algorithm,
            creds.access_key_id(),
            creds.secret_access_key(),
            state.signing_time(),
        );
        let mut signed = signer::sign_with(&request, &params)?;
        use progenitor_client::ClientInfo as _;
        let mut http = self
            .inner
            .client()
            .get(format!("{endpoint}{}", signed.uri))
            .timeout(self.total_timeout.min(Duration::from_secs(60)))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        // As for the API call: secret values marked sensitive, and our copies wiped.
        // A GET: no body.
        let sent = super::hooks::header_map(
            signed
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_str())),
        );
        for header in signed.headers.iter_mut().filter(|h| h.sensitive) {
            zeroize::Zeroize::zeroize(&mut header.value);
        }
        *http.headers_mut() = sent?;
        let response = self
            .inner
            .client()
            .execute(http)
            .await
            .map_err(|e| Error::transport(e, 1))?;
        let status = response.status().as_u16();
        let trace_id = response
            .headers()
            .get("x-iam-trace-id")
            .map(|v| self.mask(String::from_utf8_lossy(v.as_bytes())))
            .unwrap_or_else(|| "none".into());
        let body = read_capped(response, max_bytes).await?;
        Ok(Answer {
            status,
            body,
            trace_id,
        })
    }
}

async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::transport(e, 1))? {
        if body.len() + chunk.len() > limit {
            return Err(Error::ResponseTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
