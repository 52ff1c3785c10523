//! The one error type of the crate.

use crate::credentials::CredentialsError;
use crate::http::SetupError;
use crate::signer::SigningError;
use std::fmt;
use std::time::Duration;

/// Everything a call can fail with. Secrets (SK, security token, IAM token) never appear in
/// any variant's `Display` or `Debug`.
///
/// Causes are kept: [`std::error::Error::source`] leads from a transport failure to the I/O or
/// TLS error underneath.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter or a setting breaks a rule; nothing was sent.
    #[error("invalid input: {field}: {rule}")]
    InvalidInput {
        /// The parameter, named as in the API (`project_id`, `X-Auth-Token`, ...) or as the
        /// builder setting (`timeout`, `max_attempts`).
        field: &'static str,
        /// The rule broken. Never echoes a secret's value.
        rule: String,
    },
    /// The client could not be configured.
    #[error("configuration: {setting}: {problem}")]
    Config {
        /// What is misconfigured: `endpoint`, `region`, `credentials`, `tls`, `http`, or
        /// `runtime` (a call made outside a Tokio runtime).
        setting: &'static str,
        /// What is wrong with it, and what to do.
        problem: String,
    },
    /// Credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The request could not be signed.
    #[error("signing: {0}")]
    Signing(#[from] SigningError),
    /// The gateway or the service answered with an error status (4xx, 5xx).
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// HTTP 200, but the body's `error_code` is not 0: the service did not do what was asked.
    #[error(
        "HTTP 200 with error_code {error_code}: {description} (request id {})",
        request_id.as_deref().unwrap_or("none")
    )]
    NonZeroErrorCode {
        /// The body's `error_code`.
        error_code: i64,
        /// The body's `error_description`.
        description: String,
        /// The response's `X-Request-Id`.
        request_id: Option<String>,
        /// Attempts made, retries included.
        attempts: u32,
    },
    /// The gateway refused the signature's time, and its clock differs from ours by more than
    /// the client corrects on its own (24 hours): the system clock needs fixing.
    #[error(
        "the gateway's clock differs from this machine's by {offset_secs} s (request id {}): \
         signatures are refused; fix the system clock",
        request_id.as_deref().unwrap_or("none")
    )]
    ClockSkew {
        /// How far the gateway's `Date` is ahead of our clock (negative: behind), in seconds.
        offset_secs: i64,
        /// The refusing answer's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// The answer's body is larger than the configured cap; reading stopped there.
    #[error("response body larger than the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The answer could not be read as the API describes it (an undocumented status such as a
    /// redirect, or a 200 whose body is not the documented JSON).
    #[error(
        "unexpected response (HTTP {status}, request id {}): {message}",
        request_id.as_deref().unwrap_or("none")
    )]
    InvalidResponse {
        /// HTTP status of the response.
        status: u16,
        /// The response's `X-Request-Id`, when it could be kept.
        request_id: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// Connecting, TLS, sending or receiving failed, or a timeout expired (after retries). The
    /// source is the failure underneath.
    #[error("transport ({kind}) after {attempts} attempt(s)")]
    Transport {
        /// What kind of failure.
        kind: TransportKind,
        /// Attempts made, retries included.
        attempts: u32,
        /// The failure underneath (from the HTTP stack, or [`DeadlineExceeded`]).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// The TLS handshake failed: the server's certificate was refused (unknown issuer, wrong
    /// name, expired), or the server does not speak TLS. Not retried: it does not heal.
    Tls,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Io => "io",
            TransportKind::Tls => "tls",
        })
    }
}

/// The rustls error in the causes of `error`, if the failure was in the TLS handshake. rustls
/// errors reach reqwest wrapped in `io::Error`s (nested), whose `source()` skips them: looked
/// into.
pub(crate) fn tls_failure<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(tls) = tls_failure(inner)
    {
        return Some(tls);
    }
    error.source().and_then(tls_failure)
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Self {
        Error::Config {
            setting: e.setting,
            problem: e.problem,
        }
    }
}

/// Statuses worth another attempt: 408 and 429 ask the client to come back, 500, 502, 503 and
/// 504 may heal. Here rather than in the client's retry code because [`Error::is_retryable`]
/// answers with it too, and the two must agree.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// What went wrong in a TLS handshake, as [`Error::tls_problem`] tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate is not signed by a trusted CA (add the CA with
    /// `HssClientBuilder::add_root_certificates_pem`, `--ca-bundle` or `SSL_CERT_FILE`).
    UnknownIssuer,
    /// The certificate is for another host name.
    WrongName,
    /// The certificate was refused for another reason (expired, revoked, not for a server).
    BadCertificate,
    /// The server does not speak TLS (for example, plain HTTP on an `https://` endpoint).
    NotTls,
    /// Something else in the handshake.
    Other,
}

/// The source of an [`Error::Transport`] whose call ran out of its total timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the call did not finish within its total timeout of {0:?}")]
pub struct DeadlineExceeded(pub Duration);

impl Error {
    /// A call (or a lookup sharing its deadline) that ran out of its total timeout `total`
    /// after `attempts` attempts.
    pub(crate) fn deadline_exceeded(total: Duration, attempts: u32) -> Self {
        Error::Transport {
            kind: TransportKind::Timeout,
            attempts,
            source: Box::new(DeadlineExceeded(total)),
        }
    }

    /// A transport failure of `attempts` attempts, classified from reqwest's error.
    pub(crate) fn transport(error: reqwest::Error, attempts: u32) -> Self {
        let kind = if error.is_timeout() {
            TransportKind::Timeout
        } else if tls_failure(&error as &(dyn std::error::Error + 'static)).is_some() {
            TransportKind::Tls
        } else if error.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Io
        };
        Error::Transport {
            kind,
            attempts,
            source: Box::new(error),
        }
    }

    /// The `X-Request-Id` of the answer the error is about, if there was one: quote it to
    /// Huawei Cloud support.
    ///
    /// ```
    /// # let error = hss_image_sync::Error::InvalidInput { field: "project_id", rule: "x".into() };
    /// assert_eq!(error.request_id(), None);
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.request_id.as_deref(),
            Error::NonZeroErrorCode { request_id, .. }
            | Error::ClockSkew { request_id, .. }
            | Error::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the answer the error is about, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service(e) => Some(e.status),
            Error::NonZeroErrorCode { .. } => Some(200),
            Error::ClockSkew { .. } => Some(401),
            Error::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What went wrong in the TLS handshake, for a [`TransportKind::Tls`] failure.
    pub fn tls_problem(&self) -> Option<TlsProblem> {
        use rustls::{CertificateError as C, Error as T};
        let Error::Transport { source, .. } = self else {
            return None;
        };
        let source: &(dyn std::error::Error + 'static) = source.as_ref();
        Some(match tls_failure(source)? {
            T::InvalidCertificate(C::UnknownIssuer) => TlsProblem::UnknownIssuer,
            T::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                TlsProblem::WrongName
            }
            T::InvalidCertificate(_) => TlsProblem::BadCertificate,
            T::InvalidMessage(_) => TlsProblem::NotTls,
            _ => TlsProblem::Other,
        })
    }

    /// Whether the same call may succeed later: no answer came (connection failures, resets,
    /// timeouts; not TLS certificate failures), or the answer was one that the client retries
    /// (408, 429, 500, 502, 503, 504). The client has already retried these as its
    /// [`RetryPolicy`](crate::RetryPolicy) allows; this tells a caller whether to try later.
    ///
    /// ```
    /// # let error = hss_image_sync::Error::InvalidInput { field: "project_id", rule: "x".into() };
    /// assert!(!error.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service(e) => is_retryable_status(e.status),
            Error::Transport { kind, .. } => *kind != TransportKind::Tls,
            _ => false,
        }
    }

    /// Sets the attempt count of the variants that report one.
    pub(crate) fn with_attempts(mut self, made: u32) -> Self {
        match &mut self {
            Error::Service(e) => e.attempts = made,
            Error::NonZeroErrorCode { attempts, .. } | Error::Transport { attempts, .. } => {
                *attempts = made
            }
            _ => {}
        }
        self
    }
}

/// An error answer of the API gateway or of HSS, read as the official SDKs read it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The wait the answer asked for with `Retry-After` (429 and 503 answers).
    pub retry_after: Option<Duration>,
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
    /// An error answer with `status`, `error_code` and `error_msg`, made in one attempt, with no
    /// request ID or `Retry-After`: for tests of code that handles [`Error::Service`] (the type
    /// is `#[non_exhaustive]`, so it cannot be written as a struct literal outside this crate).
    /// The other fields are public to set.
    ///
    /// ```
    /// use hss_image_sync::{Error, ServiceError};
    /// use std::time::Duration;
    ///
    /// let mut busy = ServiceError::new(429, "APIG.0308", "too many requests")
    ///     .with_request_id("6b3c5e0f");
    /// busy.retry_after = Some(Duration::from_secs(2));
    /// let error = Error::Service(busy);
    /// assert!(error.is_retryable());
    /// assert_eq!(error.request_id(), Some("6b3c5e0f"));
    /// assert_eq!(error.to_string(), "HTTP 429 (request id 6b3c5e0f): APIG.0308: too many requests");
    /// ```
    pub fn new(status: u16, error_code: impl Into<String>, error_msg: impl Into<String>) -> Self {
        ServiceError {
            status,
            request_id: None,
            error_code: error_code.into(),
            error_msg: error_msg.into(),
            encoded_authorization_message: None,
            retry_after: None,
            attempts: 1,
        }
    }

    /// The same error with the answer's `X-Request-Id`.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// True for 4xx answers (the SDKs' `ClientRequestException`).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_service_error_reads_as_a_received_one() {
        let error = ServiceError::new(503, "APIG.1000", "unavailable").with_request_id("r-1");
        assert_eq!(
            (error.status, error.attempts, error.retry_after),
            (503, 1, None)
        );
        assert!(!error.is_client_error());
        let error = Error::Service(error);
        assert_eq!(
            (error.status(), error.request_id()),
            (Some(503), Some("r-1"))
        );
        assert!(error.is_retryable());
        assert!(!Error::Service(ServiceError::new(401, "APIG.0301", "x")).is_retryable());
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status));
        }
        for status in [200, 400, 401, 403, 404, 413, 501] {
            assert!(!is_retryable_status(status));
        }
    }
}
