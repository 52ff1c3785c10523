//! Reading answers: with a size cap, and error bodies turned into the generated `HuaweiError`
//! shape the way the official SDKs read them.

use crate::error_body;
use reqwest::header::{HeaderMap, HeaderValue};

/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Secrets shorter than this are not masked in error messages.
const MIN_MASKED_SECRET_LEN: usize = 8;

/// A response read to the end, within the cap.
pub struct Buffered {
    pub status: reqwest::StatusCode,
    pub version: reqwest::Version,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a response could not be buffered.
pub enum ReadError {
    /// The body is longer than the cap (declared or as streamed).
    TooLarge,
    /// The connection failed while reading the body.
    Transport(reqwest::Error),
}

/// Reads `response`'s body, never holding more than `cap` bytes.
pub async fn read_bounded(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Buffered, ReadError> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Buffered {
        status,
        version,
        headers,
        body,
    })
}

impl Buffered {
    /// Back into a `reqwest::Response` for the generated code. Error answers get the
    /// `HuaweiError` body the official SDKs would read from them (so decoding cannot fail and
    /// the status reaches the caller even for HTML or empty bodies), with `secrets` masked in
    /// case a gateway echoes them.
    pub fn into_response(mut self, secrets: &[&str]) -> reqwest::Response {
        if self.status.as_u16() >= 400 {
            let mut fields = error_body::parse(self.status.as_u16(), &self.body);
            // Very short values would mask ordinary words; real keys and tokens are long.
            for secret in secrets.iter().filter(|s| s.len() >= MIN_MASKED_SECRET_LEN) {
                fields.error_msg = fields.error_msg.replace(secret, "******");
            }
            self.body = serde_json::to_vec(&fields).unwrap_or_default();
            self.headers.remove(reqwest::header::CONTENT_ENCODING);
            self.headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        self.headers.remove(reqwest::header::CONTENT_LENGTH);
        let mut rebuilt = http::Response::new(self.body);
        *rebuilt.status_mut() = self.status;
        *rebuilt.version_mut() = self.version;
        *rebuilt.headers_mut() = self.headers;
        reqwest::Response::from(rebuilt)
    }

    /// The `error_code` of an error answer, as the official SDKs read it.
    pub fn error_code(&self) -> String {
        error_body::parse(self.status.as_u16(), &self.body).error_code
    }
}
