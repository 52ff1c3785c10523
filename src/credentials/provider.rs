//! The provider trait and its error: what every source of credentials implements and returns.

use super::Credentials;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// What a [`ProvideCredentials`] returns.
pub type ProvideFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, CredentialsError>> + Send + 'a>>;

/// A source of credentials. Static keys answer at once; providers of temporary keys fetch them
/// (every call may go to the network), and the client caches what they return until shortly
/// before it expires ([`super::CredentialsCache`]).
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Fetches credentials.
    fn provide_credentials(&self) -> ProvideFuture<'_>;

    /// A short name for errors and diagnostics: `static`, `environment`, `profile`,
    /// `oidc-sts`, `ecs-metadata`, `pod-identity`, `default-chain`.
    fn name(&self) -> &'static str;
}

/// Fixed keys (permanent, or temporary without refresh).
impl ProvideCredentials for Credentials {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(std::future::ready(Ok(self.clone())))
    }

    fn name(&self) -> &'static str {
        "static"
    }
}

/// Why no credentials could be loaded. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The environment does not hold both `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK`.
    #[error("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are not both set")]
    NotInEnvironment,
    /// The profile file is missing or unreadable.
    #[error("credentials file {path}: {source}")]
    FileUnreadable {
        /// The file tried.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The profile path is not a regular file (a directory, a FIFO, a device ...): reading it
    /// could hang or never end.
    #[error("credentials file {0}: not a regular file")]
    NotAFile(PathBuf),
    /// The profile file is larger than [`MAX_PROFILE_FILE_BYTES`](super::MAX_PROFILE_FILE_BYTES).
    #[error("credentials file {path}: larger than {limit} bytes, not a credentials file")]
    FileTooLarge {
        /// The file tried.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The profile file has no `[basic]` (or `[basiccredentials]`) section with both `ak` and
    /// `sk` (or, for the [`ProfileProvider`](super::ProfileProvider), both `idp_id` and
    /// `id_token_file`).
    #[error("credentials file {0}: no [basic] or [basiccredentials] section with both ak and sk")]
    NotInFile(PathBuf),
    /// Neither `HUAWEICLOUD_SDK_CREDENTIALS_FILE` nor a home directory is set.
    #[error("no credentials file: HUAWEICLOUD_SDK_CREDENTIALS_FILE and HOME are both unset")]
    NoProfilePath,
    /// A provider of temporary keys could not get them (its endpoint refused, failed or answered
    /// something unreadable, or its settings are wrong). Names the provider; the source is the
    /// failure underneath.
    #[error("{provider}: {message}")]
    Fetch {
        /// The provider, as [`ProvideCredentials::name`] gives it.
        provider: &'static str,
        /// What went wrong, without secrets.
        message: String,
        /// The failure underneath, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A provider does not apply here (its variables or files are not set); the chain goes on.
    #[error("{provider}: not configured: {reason}")]
    NotConfigured {
        /// The provider, as [`ProvideCredentials::name`] gives it.
        provider: &'static str,
        /// What is missing.
        reason: String,
    },
    /// A value a provider found (a key, a token, a project ID) cannot be used: it breaks a
    /// rule, such as holding a control character, that would let it forge a header or a log
    /// line. Names the provider, the field and the rule, never the value.
    #[error("{provider}: {field}: {rule}")]
    InvalidValue {
        /// The provider, as [`ProvideCredentials::name`] gives it.
        provider: &'static str,
        /// Where the value came from: a variable, a key of the profile file, a member of an
        /// answer.
        field: String,
        /// The rule broken.
        rule: String,
    },
    /// Every provider of the chain failed; each reason is listed.
    #[error("no credentials found: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Chain(Vec<CredentialsError>),
}

/// Refuses a credential value (AK, SK, security token) holding a control character (C0 such as
/// a line break or tab, DEL, C1): it would go into a header, a signed canonical request and
/// perhaps a log line. The error names `field` and the character, never the value.
pub(crate) fn check_value(
    provider: &'static str,
    field: &dyn fmt::Display,
    value: &str,
) -> Result<(), CredentialsError> {
    refuse(provider, field, value.chars().find(|c| c.is_control()))
}

/// Refuses a project ID holding an ASCII control character (C0, DEL): one that would break a
/// header or a log line. Other characters are the client's to judge, as for a project ID
/// given on a request (it is sent percent-encoded in the path and as UTF-8 in `X-Project-Id`).
pub(crate) fn check_project_id(
    provider: &'static str,
    field: &dyn fmt::Display,
    value: &str,
) -> Result<(), CredentialsError> {
    refuse(provider, field, value.chars().find(char::is_ascii_control))
}

/// `credentials` when every value may go into a header and a log line: AK, SK and security
/// token without control characters ([`check_value`]), the project ID without ASCII ones
/// ([`check_project_id`]).
pub(crate) fn checked(
    provider: &'static str,
    credentials: Credentials,
) -> Result<Credentials, CredentialsError> {
    use secrecy::ExposeSecret;
    check_value(provider, &"access key (AK)", credentials.access_key_id())?;
    check_value(
        provider,
        &"secret key (SK)",
        credentials.secret_access_key().expose_secret(),
    )?;
    if let Some(token) = credentials.security_token() {
        check_value(provider, &"security token", token.expose_secret())?;
    }
    if let Some(project_id) = credentials.project_id() {
        check_project_id(provider, &"project ID", project_id)?;
    }
    Ok(credentials)
}

fn refuse(
    provider: &'static str,
    field: &dyn fmt::Display,
    found: Option<char>,
) -> Result<(), CredentialsError> {
    match found {
        None => Ok(()),
        Some(c) => Err(CredentialsError::InvalidValue {
            provider,
            field: field.to_string(),
            rule: format!(
                "must not contain control characters such as line breaks (found U+{:04X})",
                c as u32
            ),
        }),
    }
}
