//! The provider trait and its error, where providers read their variables ([`EnvVars`]), and
//! the two local sources, with the official SDKs' names:
//!
//! - the environment: `HUAWEICLOUD_SDK_AK`, `_SK`, `_SECURITY_TOKEN`, `_PROJECT_ID`, or
//!   `HUAWEICLOUD_SDK_IDP_ID` with `HUAWEICLOUD_SDK_ID_TOKEN_FILE` for a federated login through
//!   IAM (which wins when both are set);
//! - the profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`,
//!   section `[basic]` (else `[basiccredentials]`, the section the SDKs' client builder reads),
//!   keys `ak`, `sk`, `security_token`, `project_id`, `idp_id`, `id_token_file`, `iam_endpoint`.
//!
//! The profile is read as Python's `configparser` reads it for the SDKs (key case ignored,
//! `key = value` and `key: value`, `#`/`;` comment lines, `[DEFAULT]` values inherited,
//! indented continuation lines), with two deliberate differences, each with a warning where the
//! SDKs would fail: `%` is taken literally (the SDKs interpolate it), and a UTF-8 byte order mark
//! is skipped (the SDKs reject the file). Lines the SDKs would reject (no `=`, before any
//! section, repeated keys) are skipped or the last one used, also with a warning.

use super::Credentials;
use super::federated::{self, FederatedParams};
use super::http::LazyClient;
use secrecy::SecretString;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
pub(crate) const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
const ENV_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
const ENV_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";
const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// The sections read, in order: the SDKs' `CredentialProviderChain.get_basic()` reads `[basic]`,
/// their client builder's implicit chain `[basiccredentials]`.
const PROFILE_SECTIONS: [&str; 2] = ["basic", "basiccredentials"];
/// A profile file is a few lines; anything larger is not one (`/dev/zero`, a log file ...).
pub const MAX_PROFILE_FILE_BYTES: u64 = 64 * 1024;
/// An id token or authorization token file holds one token of a few KiB.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

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
    /// The profile file is larger than [`MAX_PROFILE_FILE_BYTES`].
    #[error("credentials file {path}: larger than {limit} bytes, not a credentials file")]
    FileTooLarge {
        /// The file tried.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The profile file has no `[basic]` (or `[basiccredentials]`) section with both `ak` and
    /// `sk` (or, for the [`ProfileProvider`], both `idp_id` and `id_token_file`).
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
    /// Every provider of the chain failed; each reason is listed.
    #[error("no credentials found: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Chain(Vec<CredentialsError>),
}

/// Where providers read their variables: the process environment (the default), or a lookup of
/// your own, so that tests, or several clients in one process, do not share process-wide state.
///
/// A variable that is set but empty counts as unset, as in the official SDKs.
///
/// ```
/// use hss_image_sync::credentials::{EnvVars, EnvironmentProvider};
///
/// let env = EnvVars::from_pairs([("HUAWEICLOUD_SDK_AK", "AK"), ("HUAWEICLOUD_SDK_SK", "SK")]);
/// assert_eq!(env.get("HUAWEICLOUD_SDK_AK").as_deref(), Some("AK"));
/// let provider = EnvironmentProvider::new().with_env(env);
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct EnvVars(Arc<Lookup>);

/// How [`EnvVars`] finds a variable's value.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl EnvVars {
    /// The process environment, read at each lookup.
    pub fn process() -> Self {
        EnvVars(Arc::new(|name| std::env::var(name).ok()))
    }

    /// Variables from a lookup function.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        EnvVars(Arc::new(lookup))
    }

    /// Fixed variables; every other one is unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        EnvVars(Arc::new(move |name| map.get(name).cloned()))
    }

    /// The value of `name`, if it is set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }
}

impl Default for EnvVars {
    fn default() -> Self {
        EnvVars::process()
    }
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvVars(..)")
    }
}

/// What a local source holds: keys, or what a federated login needs.
pub(crate) enum Source {
    Keys(Credentials),
    Federated(FederatedParams),
}

/// Credentials from the environment variables: `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK`,
/// with `HUAWEICLOUD_SDK_SECURITY_TOKEN` and `HUAWEICLOUD_SDK_PROJECT_ID` when set.
///
/// A federated login (`HUAWEICLOUD_SDK_IDP_ID` and `HUAWEICLOUD_SDK_ID_TOKEN_FILE`) needs the
/// network: this synchronous reader refuses it; use [`EnvironmentProvider`].
pub fn from_env() -> Result<Credentials, CredentialsError> {
    keys_only("environment", env_source(&EnvVars::process())?)
}

fn keys_only(provider: &'static str, source: Source) -> Result<Credentials, CredentialsError> {
    match source {
        Source::Keys(credentials) => Ok(credentials),
        Source::Federated(_) => Err(CredentialsError::NotConfigured {
            provider,
            reason: "idp_id and id_token_file ask for a federated login, which needs the \
                     network: use the asynchronous providers (DefaultChain)"
                .into(),
        }),
    }
}

/// The environment's credentials, or what a federated login needs (which wins, as in the SDKs).
pub(crate) fn env_source(env: &EnvVars) -> Result<Source, CredentialsError> {
    if let (Some(idp_id), Some(file)) = (env.get(ENV_IDP_ID), env.get(ENV_ID_TOKEN_FILE)) {
        return Ok(Source::Federated(FederatedParams {
            idp_id,
            id_token_file: PathBuf::from(file),
            iam_endpoint: None,
            project_id: env.get(ENV_PROJECT_ID),
        }));
    }
    let (Some(ak), Some(sk)) = (env.get(ENV_AK), env.get(ENV_SK)) else {
        return Err(CredentialsError::NotInEnvironment);
    };
    Ok(Source::Keys(assemble(
        ak,
        sk,
        env.get(ENV_PROJECT_ID),
        env.get(ENV_SECURITY_TOKEN),
    )))
}

/// The profile file the official SDKs read: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `$HOME/.huaweicloud/credentials`.
pub fn profile_path() -> Option<PathBuf> {
    profile_path_in(&EnvVars::process())
}

pub(crate) fn profile_path_in(env: &EnvVars) -> Option<PathBuf> {
    if let Some(file) = env.get(ENV_CREDENTIALS_FILE) {
        return Some(PathBuf::from(file));
    }
    let home = env.get("HOME").or_else(|| env.get("USERPROFILE"))?;
    Some(Path::new(&home).join(".huaweicloud").join("credentials"))
}

/// Credentials from an INI profile file's `[basic]` (else `[basiccredentials]`) section.
///
/// Only a regular file of at most [`MAX_PROFILE_FILE_BYTES`] is read; its text is wiped from
/// memory after parsing. On Unix, a file that others than its owner may read gets a warning
/// (once per process), as ssh and gcloud give. A federated login (`idp_id`, `id_token_file`)
/// needs the network: this synchronous reader refuses it; use [`ProfileProvider`].
pub fn from_profile_file(path: &Path) -> Result<Credentials, CredentialsError> {
    keys_only("profile", profile_source(path)?)
}

/// The profile's credentials, or what a federated login needs (which wins, as in the SDKs).
pub(crate) fn profile_source(path: &Path) -> Result<Source, CredentialsError> {
    let text = read_profile(path)?;
    let ini = Ini::parse(&text, path);
    let Some(section) = PROFILE_SECTIONS.into_iter().find(|s| ini.has_section(s)) else {
        return Err(CredentialsError::NotInFile(path.to_owned()));
    };
    let get = |key: &str| ini.get(section, key, path).map(str::to_owned);
    if let (Some(idp_id), Some(file)) = (get("idp_id"), get("id_token_file")) {
        return Ok(Source::Federated(FederatedParams {
            idp_id,
            id_token_file: PathBuf::from(file),
            iam_endpoint: get("iam_endpoint"),
            project_id: get("project_id"),
        }));
    }
    let (Some(ak), Some(sk)) = (get("ak"), get("sk")) else {
        return Err(CredentialsError::NotInFile(path.to_owned()));
    };
    Ok(Source::Keys(assemble(
        ak,
        sk,
        get("project_id"),
        get("security_token"),
    )))
}

/// The project ID configured for the official SDKs without keys: `HUAWEICLOUD_SDK_PROJECT_ID`,
/// else `project_id` in the profile file's `[basic]` (else `[basiccredentials]`) section. For
/// IAM-token authentication, which has no credentials to carry it.
pub fn default_project_id() -> Option<String> {
    let env = EnvVars::process();
    if let Some(id) = env.get(ENV_PROJECT_ID) {
        return Some(id);
    }
    let path = profile_path_in(&env)?;
    let text = read_profile(&path).ok()?;
    let ini = Ini::parse(&text, &path);
    let section = PROFILE_SECTIONS.into_iter().find(|s| ini.has_section(s))?;
    ini.get(section, "project_id", &path).map(str::to_owned)
}

/// The chain the CLI used before [`DefaultChain`](super::DefaultChain): the environment's keys,
/// then the profile file's, read now, without the network (so no federated login, OIDC, ECS
/// metadata or pod identity).
pub fn default_chain() -> Result<Credentials, CredentialsError> {
    let env_error = match from_env() {
        Ok(creds) => return Ok(creds),
        Err(e) => e,
    };
    let file_error = match profile_path() {
        Some(path) => match from_profile_file(&path) {
            Ok(creds) => return Ok(creds),
            Err(e) => e,
        },
        None => CredentialsError::NoProfilePath,
    };
    Err(CredentialsError::Chain(vec![env_error, file_error]))
}

/// The environment's credentials, read at each fetch: `HUAWEICLOUD_SDK_AK` and
/// `HUAWEICLOUD_SDK_SK` (with `HUAWEICLOUD_SDK_SECURITY_TOKEN` and `HUAWEICLOUD_SDK_PROJECT_ID`),
/// or a federated login through IAM with `HUAWEICLOUD_SDK_IDP_ID` and
/// `HUAWEICLOUD_SDK_ID_TOKEN_FILE` (which wins when both are set, as in the official SDKs).
///
/// The federated login posts the id token (the file's content, read again at each fetch) to
/// `{iam}/v3.0/OS-AUTH/id-token/tokens`, then trades the token IAM answers for 6-hour
/// temporary keys at `{iam}/v3.0/OS-CREDENTIAL/securitytokens`; `{iam}` is
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else `https://iam.myhuaweicloud.com`.
///
/// Not configured (the chain goes on) when neither pair is set.
#[derive(Debug, Clone)]
pub struct EnvironmentProvider {
    env: EnvVars,
    http: LazyClient,
}

impl EnvironmentProvider {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::with_parts(EnvVars::process(), LazyClient::for_services())
    }

    /// Reads `env` instead of the process environment.
    pub fn with_env(mut self, env: EnvVars) -> Self {
        self.env = env;
        self
    }

    pub(crate) fn with_parts(env: EnvVars, http: LazyClient) -> Self {
        EnvironmentProvider { env, http }
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        match env_source(&self.env) {
            Ok(Source::Keys(credentials)) => Ok(credentials),
            Ok(Source::Federated(params)) => {
                federated::login(self.name(), &self.http, &self.env, &params).await
            }
            Err(CredentialsError::NotInEnvironment) => Err(CredentialsError::NotConfigured {
                provider: self.name(),
                reason: format!(
                    "neither {ENV_AK} and {ENV_SK} nor {ENV_IDP_ID} and {ENV_ID_TOKEN_FILE} \
                     are set"
                ),
            }),
            Err(other) => Err(other),
        }
    }
}

impl Default for EnvironmentProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> &'static str {
        "environment"
    }
}

/// The profile file's credentials, read at each fetch: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `$HOME/.huaweicloud/credentials`, section `[basic]` (else `[basiccredentials]`): `ak` and
/// `sk` (with `security_token` and `project_id`), or a federated login with `idp_id` and
/// `id_token_file` (which wins, as in the official SDKs; see [`EnvironmentProvider`]) through
/// `iam_endpoint`, else `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else `https://iam.myhuaweicloud.com`.
///
/// Not configured (the chain goes on) when there is no such file, section or keys. A file that
/// exists but cannot be read (not a regular file, too large, not UTF-8, no permission) is an
/// error that stops the chain: the SDKs go on for some of these, but using other keys than the
/// ones the file was meant to give would hide the mistake.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: EnvVars,
    http: LazyClient,
}

impl ProfileProvider {
    /// Finds the file with the process environment.
    pub fn new() -> Self {
        Self::with_parts(EnvVars::process(), LazyClient::for_services())
    }

    /// Finds the file (and reads `HUAWEICLOUD_SDK_IAM_ENDPOINT`) with `env` instead of the
    /// process environment.
    pub fn with_env(mut self, env: EnvVars) -> Self {
        self.env = env;
        self
    }

    pub(crate) fn with_parts(env: EnvVars, http: LazyClient) -> Self {
        ProfileProvider { env, http }
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let provider = self.name();
        let not_configured = |reason: String| CredentialsError::NotConfigured { provider, reason };
        let Some(path) = profile_path_in(&self.env) else {
            return Err(not_configured(format!(
                "{ENV_CREDENTIALS_FILE} and HOME are both unset"
            )));
        };
        match profile_source(&path) {
            Ok(Source::Keys(credentials)) => Ok(credentials),
            Ok(Source::Federated(params)) => {
                federated::login(provider, &self.http, &self.env, &params).await
            }
            Err(CredentialsError::FileUnreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(not_configured(format!("no file {}", path.display())))
            }
            Err(CredentialsError::NotInFile(path)) => Err(not_configured(format!(
                "{} has no [basic] or [basiccredentials] section with ak and sk, or idp_id and \
                 id_token_file",
                path.display()
            ))),
            Err(other) => Err(other),
        }
    }
}

impl Default for ProfileProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProvideCredentials for ProfileProvider {
    fn provide_credentials(&self) -> ProvideFuture<'_> {
        Box::pin(self.fetch())
    }

    fn name(&self) -> &'static str {
        "profile"
    }
}

/// Why a small file could not be read.
enum ReadFailure {
    Io(std::io::Error),
    NotAFile,
    TooLarge,
}

/// A regular file of at most `limit` bytes, wiped from memory on drop. With `private`, a
/// warning if others may read it (not for token files: Kubernetes mounts those world-readable).
fn read_small_file(
    path: &Path,
    limit: u64,
    private: bool,
) -> Result<Zeroizing<Vec<u8>>, ReadFailure> {
    // Checked before opening: opening a FIFO for reading blocks until someone writes to it.
    let metadata = std::fs::metadata(path).map_err(ReadFailure::Io)?;
    if !metadata.is_file() {
        return Err(ReadFailure::NotAFile);
    }
    if private {
        warn_if_readable_by_others(path, &metadata);
    }
    let file = std::fs::File::open(path).map_err(ReadFailure::Io)?;
    // Reserved once: growing the buffer would leave copies of its secrets behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(metadata.len().min(limit) + 1).unwrap_or(0),
    ));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadFailure::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFailure::TooLarge);
    }
    Ok(bytes)
}

fn read_profile(path: &Path) -> Result<Zeroizing<String>, CredentialsError> {
    let unreadable = |source| CredentialsError::FileUnreadable {
        path: path.to_owned(),
        source,
    };
    let bytes = read_small_file(path, MAX_PROFILE_FILE_BYTES, true).map_err(|e| match e {
        ReadFailure::Io(e) => unreadable(e),
        ReadFailure::NotAFile => CredentialsError::NotAFile(path.to_owned()),
        ReadFailure::TooLarge => CredentialsError::FileTooLarge {
            path: path.to_owned(),
            limit: MAX_PROFILE_FILE_BYTES,
        },
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// A token file's content, trimmed, read now (Kubernetes rotates projected tokens in place).
/// `what` names the file in errors, e.g. `HUAWEICLOUD_OIDC_TOKEN_FILE`.
pub(crate) fn read_token_file(
    provider: &'static str,
    what: &str,
    path: &Path,
) -> Result<SecretString, CredentialsError> {
    let failed = |why: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        CredentialsError::Fetch {
            provider,
            message: format!("{what} {}: {why}", path.display()),
            source,
        }
    };
    let bytes = read_small_file(path, MAX_TOKEN_FILE_BYTES, false).map_err(|e| match e {
        ReadFailure::Io(e) => failed("cannot be read".into(), Some(Box::new(e))),
        ReadFailure::NotAFile => failed("not a regular file".into(), None),
        ReadFailure::TooLarge => failed(
            format!("larger than {MAX_TOKEN_FILE_BYTES} bytes, not a token"),
            None,
        ),
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| failed("not UTF-8 text".into(), Some(Box::new(e))))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(failed("empty".into(), None));
    }
    Ok(SecretString::from(token))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, metadata: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the credentials file can be read by other users; restrict it with chmod 600"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &std::fs::Metadata) {}

fn assemble(
    ak: String,
    sk: String,
    project_id: Option<String>,
    token: Option<String>,
) -> Credentials {
    let mut creds = Credentials::new(ak, sk);
    if let Some(p) = project_id {
        creds = creds.with_project_id(p);
    }
    if let Some(t) = token {
        creds = creds.with_security_token(t);
    }
    creds
}

/// One `key = value` of an INI section; the key lower-cased, the value trimmed (continuation
/// lines joined with `\n`).
struct Entry {
    key: String,
    value: Zeroizing<String>,
}

/// An INI file as Python's `configparser` reads the official SDKs' profile with its default
/// settings, except that nothing is fatal and `%` is literal.
#[derive(Default)]
struct Ini {
    defaults: Vec<Entry>,
    sections: Vec<(String, Vec<Entry>)>,
}

impl Ini {
    fn parse(text: &str, path: &Path) -> Ini {
        let warn = |line: usize, problem: &str| {
            tracing::warn!(path = %path.display(), line, "credentials file: {problem}");
        };
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => {
                warn(
                    1,
                    "starts with a UTF-8 byte order mark, skipped (the official SDKs reject \
                     such a file)",
                );
                rest
            }
            None => text,
        };
        let mut ini = Ini::default();
        // Where `key = value` lines go: nowhere yet, `[DEFAULT]`, or a section (by index).
        let mut target: Option<Option<usize>> = None;
        // Whether the last option line can take continuation lines, and its indentation.
        let mut open_value = false;
        let mut indent_level = usize::MAX;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let stripped = raw.trim();
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if stripped.is_empty() {
                // An empty line inside a value is kept if a continuation line follows.
                if open_value && let Some(entry) = ini.last_entry(target) {
                    entry.value.push('\n');
                }
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if open_value && indent > indent_level {
                if let Some(entry) = ini.last_entry(target) {
                    entry.value.push('\n');
                    entry.value.push_str(stripped);
                }
                continue;
            }
            indent_level = indent;
            open_value = false;
            if let Some(header) = stripped
                .strip_prefix('[')
                .and_then(|rest| rest.rfind(']').map(|end| &rest[..end]))
                .filter(|header| !header.is_empty())
            {
                target = Some(if header == "DEFAULT" {
                    None
                } else {
                    Some(ini.section_index(header))
                });
                continue;
            }
            let Some(current) = target else {
                warn(line_no, "a line before any [section], skipped");
                continue;
            };
            let Some(at) = stripped.find(['=', ':']) else {
                warn(line_no, "a line without = or :, skipped");
                continue;
            };
            let key = stripped[..at].trim_end().to_lowercase();
            if key.is_empty() {
                warn(line_no, "a line without a key, skipped");
                continue;
            }
            let entries = ini.entries(current);
            if entries.iter().any(|e| e.key == key) {
                warn(
                    line_no,
                    "a key given twice in one section; the last one is used (the official \
                     SDKs reject such a file)",
                );
            }
            entries.push(Entry {
                key,
                value: Zeroizing::new(stripped[at + 1..].trim().to_owned()),
            });
            open_value = true;
        }
        for entry in ini
            .defaults
            .iter_mut()
            .chain(ini.sections.iter_mut().flat_map(|(_, e)| e.iter_mut()))
        {
            let trimmed = entry.value.trim_end().len();
            entry.value.truncate(trimmed);
        }
        ini
    }

    fn section_index(&mut self, name: &str) -> usize {
        match self.sections.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.sections.push((name.to_owned(), Vec::new()));
                self.sections.len() - 1
            }
        }
    }

    fn entries(&mut self, target: Option<usize>) -> &mut Vec<Entry> {
        match target {
            None => &mut self.defaults,
            Some(at) => &mut self.sections[at].1,
        }
    }

    fn last_entry(&mut self, target: Option<Option<usize>>) -> Option<&mut Entry> {
        self.entries(target?).last_mut()
    }

    /// Whether the file has `[name]` (section names are case-sensitive; `[DEFAULT]` alone is
    /// not a section).
    fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }

    /// The non-empty value of `key` in `[section]`, else in `[DEFAULT]`; the last one given wins.
    fn get(&self, section: &str, key: &str, path: &Path) -> Option<&str> {
        let in_section = self
            .sections
            .iter()
            .filter(|(name, _)| name == section)
            .flat_map(|(_, entries)| entries.iter().rev());
        let value = in_section
            .chain(self.defaults.iter().rev())
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
            .filter(|v| !v.is_empty())?;
        if value.contains('%') {
            tracing::warn!(
                path = %path.display(),
                key,
                "credentials file: a value with %, taken literally (the official SDKs \
                 interpolate it, and fail on a lone %)"
            );
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hss-credentials-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn keys(source: Source) -> Credentials {
        match source {
            Source::Keys(c) => c,
            Source::Federated(_) => panic!("a federated login, not keys"),
        }
    }

    #[test]
    fn credentials_env_needs_both_keys_and_reads_optional_fields() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            EnvVars::from_pairs(pairs.iter().copied())
        };
        assert!(matches!(
            env_source(&env(&[(ENV_AK, "ak")])),
            Err(CredentialsError::NotInEnvironment)
        ));
        assert!(env_source(&env(&[(ENV_AK, "ak"), (ENV_SK, "")])).is_err());
        let creds = keys(
            env_source(&env(&[
                (ENV_AK, "ak"),
                (ENV_SK, "sk"),
                (ENV_PROJECT_ID, "p1"),
                (ENV_SECURITY_TOKEN, "tok"),
            ]))
            .unwrap(),
        );
        assert_eq!(creds.access_key_id(), "ak");
        assert_eq!(creds.secret_access_key().expose_secret(), "sk");
        assert_eq!(creds.project_id(), Some("p1"));
        assert_eq!(creds.security_token().unwrap().expose_secret(), "tok");
    }

    #[test]
    fn credentials_env_federated_login_wins_over_keys() {
        let env = EnvVars::from_pairs([
            (ENV_AK, "ak"),
            (ENV_SK, "sk"),
            (ENV_IDP_ID, "idp"),
            (ENV_ID_TOKEN_FILE, "/token"),
            (ENV_PROJECT_ID, "p1"),
        ]);
        let Ok(Source::Federated(params)) = env_source(&env) else {
            panic!("keys, not a federated login");
        };
        assert_eq!(params.idp_id, "idp");
        assert_eq!(params.id_token_file, Path::new("/token"));
        assert_eq!(params.project_id.as_deref(), Some("p1"));
        assert!(params.iam_endpoint.is_none());
        // Only one of the pair: the keys.
        let env = EnvVars::from_pairs([(ENV_AK, "ak"), (ENV_SK, "sk"), (ENV_IDP_ID, "idp")]);
        assert_eq!(keys(env_source(&env).unwrap()).access_key_id(), "ak");
        // The synchronous reader refuses what needs the network.
        let err = keys_only(
            "environment",
            Source::Federated(FederatedParams {
                idp_id: "idp".into(),
                id_token_file: "/t".into(),
                iam_endpoint: None,
                project_id: None,
            }),
        )
        .unwrap_err();
        assert!(err.to_string().contains("federated login"), "{err}");
    }

    #[test]
    fn credentials_profile_path_comes_from_the_variable_else_home() {
        let env = EnvVars::from_pairs([(ENV_CREDENTIALS_FILE, "/x/creds"), ("HOME", "/home/u")]);
        assert_eq!(profile_path_in(&env), Some(PathBuf::from("/x/creds")));
        let env = EnvVars::from_pairs([(ENV_CREDENTIALS_FILE, ""), ("HOME", "/home/u")]);
        assert_eq!(
            profile_path_in(&env),
            Some(
                Path::new("/home/u")
                    .join(".huaweicloud")
                    .join("credentials")
            )
        );
        assert_eq!(
            profile_path_in(&EnvVars::from_pairs::<&str, &str>([])),
            None
        );
    }

    #[test]
    fn credentials_profile_files_are_read_only_when_regular_and_small() {
        let dir = temp_dir("profile");
        assert!(matches!(
            from_profile_file(&dir),
            Err(CredentialsError::NotAFile(_))
        ));
        #[cfg(unix)]
        assert!(matches!(
            from_profile_file(Path::new("/dev/zero")),
            Err(CredentialsError::NotAFile(_))
        ));
        let big = dir.join("big");
        std::fs::write(&big, "#".repeat(MAX_PROFILE_FILE_BYTES as usize + 1)).unwrap();
        let err = from_profile_file(&big).unwrap_err();
        assert!(
            matches!(err, CredentialsError::FileTooLarge { .. }),
            "{err}"
        );
        let latin1 = dir.join("latin1");
        std::fs::write(&latin1, b"[basic]\nak = \xe9\nsk = S\n").unwrap();
        assert!(matches!(
            from_profile_file(&latin1),
            Err(CredentialsError::FileUnreadable { .. })
        ));
        let good = dir.join("good");
        std::fs::write(&good, "[basic]\nak = A\nsk = S\n").unwrap();
        assert_eq!(from_profile_file(&good).unwrap().access_key_id(), "A");
        let federated = dir.join("federated");
        std::fs::write(
            &federated,
            "[basic]\nidp_id = i\nid_token_file = /t\nak = A\nsk = S\n",
        )
        .unwrap();
        assert!(matches!(
            from_profile_file(&federated),
            Err(CredentialsError::NotConfigured { .. })
        ));
        let Source::Federated(params) = profile_source(&federated).unwrap() else {
            panic!("keys, not a federated login");
        };
        assert_eq!(params.idp_id, "i");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn credentials_token_files_are_trimmed_and_must_not_be_empty() {
        let dir = temp_dir("token");
        let file = dir.join("token");
        std::fs::write(&file, "\n  tok.en \r\n").unwrap();
        let token = read_token_file("test", "TOKEN_FILE", &file).unwrap();
        assert_eq!(token.expose_secret(), "tok.en");
        std::fs::write(&file, " \n\t").unwrap();
        let err = read_token_file("test", "TOKEN_FILE", &file).unwrap_err();
        assert!(err.to_string().ends_with(": empty"), "{err}");
        let err = read_token_file("test", "TOKEN_FILE", &dir.join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
        let err = read_token_file("test", "TOKEN_FILE", &dir).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn pairs(ini: &Ini, section: &str) -> Vec<(String, String)> {
        ini.sections
            .iter()
            .filter(|(n, _)| n == section)
            .flat_map(|(_, e)| e.iter())
            .map(|e| (e.key.clone(), e.value.to_string()))
            .collect()
    }

    #[test]
    fn credentials_ini_reads_like_configparser() {
        let path = Path::new("test.ini");
        let text = "[global]\nak = wrong\nsk = wrong\n\n[basic]\n# comment\n  ; indented comment\nAK = right\nsk: s=k \nproject_id=p\n[other]\nsecurity_token = no\n";
        assert_eq!(
            pairs(&Ini::parse(text, path), "basic"),
            vec![
                ("ak".into(), "right".into()),
                ("sk".into(), "s=k".into()),
                ("project_id".into(), "p".into())
            ]
        );
        // CRLF, `key: value`, inline `;` kept, quotes kept, continuation lines (with an empty
        // line inside), `%` literal, keys case-insensitive.
        let text = "[basic]\r\nAk: A ; not a comment\r\nSK = \"q\"\r\nsecurity_token = first\r\n   second\r\n\r\n   third\r\n\r\nproject_ID = 50%\r\n";
        let ini = Ini::parse(text, path);
        assert_eq!(ini.get("basic", "ak", path), Some("A ; not a comment"));
        assert_eq!(ini.get("basic", "sk", path), Some("\"q\""));
        assert_eq!(
            ini.get("basic", "security_token", path),
            Some("first\nsecond\n\nthird")
        );
        assert_eq!(ini.get("basic", "project_id", path), Some("50%"));
        // Section names are case-sensitive; `[DEFAULT]` is inherited but not a section.
        let ini = Ini::parse(
            "[DEFAULT]\nproject_id = d\nsk = dsk\n[Basic]\nak = no\n[basic]\nak = A\nproject_id =\n",
            path,
        );
        assert!(ini.has_section("basic") && ini.has_section("Basic"));
        assert!(!ini.has_section("DEFAULT"));
        assert_eq!(ini.get("basic", "ak", path), Some("A"));
        assert_eq!(ini.get("basic", "sk", path), Some("dsk"));
        // An empty value in the section is unset, not inherited (configparser: '' is a value).
        assert_eq!(ini.get("basic", "project_id", path), None);
        assert!(!Ini::parse("[DEFAULT]\nak = A\n", path).has_section("basic"));
    }

    #[test]
    fn credentials_ini_skips_what_configparser_rejects() {
        let path = Path::new("test.ini");
        // A byte order mark, a line before any section, a line without `=`, a repeated key.
        let text = "\u{feff}ak = outside\n[basic]\nno equals sign\nak = first\nak = second\n[basic]\nsk = S\n";
        let ini = Ini::parse(text, path);
        assert_eq!(ini.get("basic", "ak", path), Some("second"));
        assert_eq!(ini.get("basic", "sk", path), Some("S"));
        assert!(Ini::parse("", path).sections.is_empty());
    }
}
