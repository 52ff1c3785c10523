//! Dry runs: any operation prepared, signed and shown without being sent.
//!
//! The operation runs as for a real call, so the generated code builds the request and the
//! `pre` hook puts it in wire form and signs it; the `exec` hook then keeps it in the call's
//! [`context`](super::context) instead of sending it.

use super::HssClient;
use super::context::{self, CallContext};
use super::operation::Operation;
use crate::error::Error;
use std::fmt;

impl HssClient {
    /// The request `operation` would send now, signed, without sending it (the CLI's
    /// `--dry-run`). The same checks run first, and the credentials are fetched as for a call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hss_image_sync::{Credentials, HssClient};
    ///
    /// let client = HssClient::builder()
    ///     .region("cn-north-4")
    ///     .credentials(Credentials::new("MYACCESSKEY", "my-secret-key"))
    ///     .build()
    ///     .unwrap();
    /// let request = client.operations().list_registry().project_id("0a1b2c").limit(50);
    /// let prepared = client.prepare(request).await.unwrap();
    /// assert_eq!(prepared.method, "GET");
    /// assert!(prepared.url.ends_with("/v5/0a1b2c/image/registries?limit=50"));
    /// let shown = prepared.to_string();
    /// assert!(shown.contains("Authorization: SDK-HMAC-SHA256 Access=MYACCESSKEY, SignedHeaders="));
    /// assert!(shown.contains("Signature=******"));
    /// # }
    /// ```
    pub async fn prepare<O: Operation>(&self, operation: O) -> Result<PreparedRequest, Error> {
        // Fetching the credentials is bounded by the total timeout, as for a call.
        let creds = super::project::within_deadline(self.total_timeout, async {
            self.hooks().credentials().await.map_err(Error::Credentials)
        })
        .await?;
        if let Some(creds) = &creds {
            super::call::check_credentials(creds)?;
        }
        let dry_run = CallContext {
            dry_run: true,
            ..CallContext::default()
        };
        let (outcome, context) = context::scope(dry_run, async {
            let outcome = operation.send().await;
            (outcome, context::take())
        })
        .await;
        match (context.captured, outcome) {
            (Some(request), _) => Ok(PreparedRequest::of(request)),
            (None, Err(e)) => Err(self.refused(O::ID, e, context.failure)),
            // `exec` keeps every request of a dry run: an answer means none was made.
            (None, Ok(_)) => Err(Error::InvalidInput {
                field: "request",
                rule: "the operation made no request".into(),
            }),
        }
    }
}

/// A request as it would be sent: what `--dry-run` prints. `Display` and `Debug` show
/// `Authorization` with its algorithm, access key and signed headers but mask its signature,
/// and mask `X-Security-Token` and `X-Auth-Token` whole.
#[derive(Clone)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// The method (`GET`, `POST`).
    pub method: String,
    /// The full URL, query included.
    pub url: String,
    /// The headers, as sent; the HTTP stack adds the unsigned `Content-Length` and
    /// `Accept: */*` when sending.
    pub headers: Vec<crate::signer::Header>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl fmt::Display for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        for header in &self.headers {
            writeln!(f, "{}: {}", header.name, shown_value(header))?;
        }
        writeln!(f)?;
        write!(f, "{}", String::from_utf8_lossy(&self.body))
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A header name as HTTP/1 sends it here (`x-sdk-date` is sent `X-Sdk-Date`).
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

impl PreparedRequest {
    fn of(request: reqwest::Request) -> Self {
        PreparedRequest {
            method: request.method().to_string(),
            url: request.url().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    crate::signer::Header::new(
                        title_case(name.as_str()),
                        String::from_utf8_lossy(value.as_bytes()),
                    )
                })
                .collect(),
            body: request
                .body()
                .and_then(|b| b.as_bytes())
                .unwrap_or_default()
                .to_vec(),
        }
    }
}

/// What a dry run shows of a header's value: a signature masked, the rest of `Authorization`
/// (algorithm, access key, signed headers) kept; other secrets masked whole.
fn shown_value(header: &crate::signer::Header) -> std::borrow::Cow<'_, str> {
    if !header.sensitive {
        return header.value.as_str().into();
    }
    if header.name.eq_ignore_ascii_case("authorization")
        && let Some((signed, _signature)) = header.value.rsplit_once(", Signature=")
        && !signed.contains(['\r', '\n'])
    {
        return format!("{signed}, Signature={}", crate::signer::MASK).into();
    }
    crate::signer::MASK.into()
}
