//! The one error type of the crate.

use crate::credentials::CredentialsError;
use std::fmt;

/// Everything a call can fail with. Secrets (SK, security token, IAM token) never appear in
/// any variant's `Display` or `Debug`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter breaks a rule of the spec; nothing was sent.
    #[error("invalid input: {field}: {rule}")]
    InvalidInput {
        /// The parameter, named as in the API (`project_id`, `X-Auth-Token`, ...).
        field: &'static str,
        /// The rule broken. Never echoes a secret's value.
        rule: String,
    },
    /// The client could not be configured (endpoint, region, credentials, TLS).
    #[error("configuration: {0}")]
    Config(String),
    /// Credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The request could not be signed.
    #[error("signing: {0}")]
    Signing(String),
    /// The gateway or the service answered with an error status.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// HTTP 200, but the body's `error_code` is not 0.
    #[error(
        "synchronization failed: error_code {error_code}: {description} (request id {})",
        request_id.as_deref().unwrap_or("none")
    )]
    Failed {
        /// The body's `error_code`.
        error_code: i64,
        /// The body's `error_description`.
        description: String,
        /// The response's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The answer's body is larger than the configured cap; reading stopped there.
    #[error("response body larger than the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The response could not be read as the API describes it.
    #[error("unexpected response (HTTP {status}): {message}")]
    InvalidResponse {
        /// HTTP status of the response.
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// Connecting, TLS, sending or receiving failed, or a timeout expired (after retries).
    #[error("transport ({kind}, {attempts} attempt(s)): {message}")]
    Transport {
        /// What kind of failure.
        kind: TransportKind,
        /// Details from the HTTP stack.
        message: String,
        /// Attempts made, retries included.
        attempts: u32,
    },
}

/// The kind of a [`Error::Transport`] failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The TCP connection (or the TLS handshake) could not be established.
    Connect,
    /// A timeout expired.
    Timeout,
    /// The connection failed while sending the request or reading the response.
    Io,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Io => "io",
        })
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            TransportKind::Timeout
        } else if e.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Io
        };
        // The source chain says *why* (refused, reset, certificate ...); reqwest's own Display
        // only says "error sending request".
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Transport {
            kind,
            message,
            attempts: 1,
        }
    }
}

/// An error answer of the API gateway or of HSS, read as the official SDKs read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// The response's `X-Request-Id` header (the body's `request_id` is ignored, as the SDKs do).
    pub request_id: Option<String>,
    /// `error_code`, e.g. `APIG.0301` or `HSS.0001`; the HTTP status when the body has none.
    pub error_code: String,
    /// `error_msg`; the raw body when the body has none.
    pub error_msg: String,
    /// `encoded_authorization_message`, when present.
    pub encoded_authorization_message: Option<String>,
    /// Attempts made, retries included.
    pub attempts: u32,
}

impl std::error::Error for ServiceError {}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} (request id {}): {}: {}",
            self.status,
            self.request_id.as_deref().unwrap_or("none"),
            self.error_code,
            self.error_msg
        )?;
        if let Some(encoded) = &self.encoded_authorization_message {
            write!(f, " (encoded authorization message: {encoded})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl ServiceError {
    /// True for 4xx answers (the SDKs' `ClientRequestException`).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }
}
