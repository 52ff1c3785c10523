//! Where credentials come from, with the official SDKs' names: the environment
//! (`HUAWEICLOUD_SDK_AK`, `_SK`, `_PROJECT_ID`, `_SECURITY_TOKEN`) and the profile file
//! (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`, section `[basic]`,
//! keys `ak`, `sk`, `project_id`, `security_token`).

use super::Credentials;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
const PROFILE_SECTION: &str = "basic";
/// A profile file is a few lines; anything larger is not one (`/dev/zero`, a log file ...).
pub const MAX_PROFILE_FILE_BYTES: u64 = 64 * 1024;

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
    /// The profile file has no `[basic]` section with both `ak` and `sk`.
    #[error("credentials file {0}: no [basic] section with both ak and sk")]
    NotInFile(PathBuf),
    /// Neither `HUAWEICLOUD_SDK_CREDENTIALS_FILE` nor a home directory is set.
    #[error("no credentials file: HUAWEICLOUD_SDK_CREDENTIALS_FILE and HOME are both unset")]
    NoProfilePath,
    /// A provider of temporary keys could not get them (its endpoint refused, failed or answered
    /// something unreadable). Names the provider; the source is the failure underneath.
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

/// Credentials from the environment variables.
pub fn from_env() -> Result<Credentials, CredentialsError> {
    from_lookup(|name| std::env::var(name).ok())
}

fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, CredentialsError> {
    let non_empty = |name| get(name).filter(|v| !v.is_empty());
    let (Some(ak), Some(sk)) = (non_empty(ENV_AK), non_empty(ENV_SK)) else {
        return Err(CredentialsError::NotInEnvironment);
    };
    Ok(assemble(
        ak,
        sk,
        non_empty(ENV_PROJECT_ID),
        non_empty(ENV_SECURITY_TOKEN),
    ))
}

/// The profile file the official SDKs read: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `$HOME/.huaweicloud/credentials`.
pub fn profile_path() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os(ENV_CREDENTIALS_FILE).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(file));
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|v| !v.is_empty())?;
    Some(Path::new(&home).join(".huaweicloud").join("credentials"))
}

/// Credentials from an INI profile file's `[basic]` section.
///
/// Only a regular file of at most [`MAX_PROFILE_FILE_BYTES`] is read; its text is wiped from
/// memory after parsing. On Unix, a file that others than its owner may read gets a warning
/// (once per process), as ssh and gcloud give.
pub fn from_profile_file(path: &Path) -> Result<Credentials, CredentialsError> {
    let text = read_profile(path)?;
    let section = ini_section(&text, PROFILE_SECTION);
    let get = |key: &str| {
        section
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (Some(ak), Some(sk)) = (get("ak"), get("sk")) else {
        return Err(CredentialsError::NotInFile(path.to_owned()));
    };
    Ok(assemble(
        ak.to_owned(),
        sk.to_owned(),
        get("project_id").map(str::to_owned),
        get("security_token").map(str::to_owned),
    ))
}

/// The project ID configured for the official SDKs without keys: `HUAWEICLOUD_SDK_PROJECT_ID`,
/// else `project_id` in the profile file's `[basic]` section. For IAM-token authentication,
/// which has no credentials to carry it.
pub fn default_project_id() -> Option<String> {
    if let Some(id) = std::env::var(ENV_PROJECT_ID).ok().filter(|v| !v.is_empty()) {
        return Some(id);
    }
    let text = read_profile(&profile_path()?).ok()?;
    ini_section(&text, PROFILE_SECTION)
        .into_iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("project_id"))
        .map(|(_, v)| v.as_str().to_owned())
        .filter(|v| !v.is_empty())
}

fn read_profile(path: &Path) -> Result<Zeroizing<String>, CredentialsError> {
    let unreadable = |source| CredentialsError::FileUnreadable {
        path: path.to_owned(),
        source,
    };
    // Checked before opening: opening a FIFO for reading blocks until someone writes to it.
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(CredentialsError::NotAFile(path.to_owned()));
    }
    warn_if_readable_by_others(path, &metadata);
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PROFILE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PROFILE_FILE_BYTES {
        return Err(CredentialsError::FileTooLarge {
            path: path.to_owned(),
            limit: MAX_PROFILE_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    Ok(Zeroizing::new(text.to_owned()))
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

/// The chain the CLI uses: environment first, then the profile file.
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

/// The `key = value` (or `key: value`) lines of one INI section, as Python's configparser reads
/// them for simple files: section names are case-sensitive, keys are not, `#`/`;` start comment
/// lines, values are trimmed.
fn ini_section(text: &str, wanted: &str) -> Vec<(String, Zeroizing<String>)> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == wanted;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(at) = line.find(['=', ':']) {
            out.push((
                line[..at].trim().to_owned(),
                Zeroizing::new(line[at + 1..].trim().to_owned()),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn env_needs_both_keys_and_reads_optional_fields() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(matches!(
            from_lookup(env(&[(ENV_AK, "ak")])),
            Err(CredentialsError::NotInEnvironment)
        ));
        assert!(from_lookup(env(&[(ENV_AK, "ak"), (ENV_SK, "")])).is_err());
        let creds = from_lookup(env(&[
            (ENV_AK, "ak"),
            (ENV_SK, "sk"),
            (ENV_PROJECT_ID, "p1"),
            (ENV_SECURITY_TOKEN, "tok"),
        ]))
        .unwrap();
        assert_eq!(creds.access_key_id(), "ak");
        assert_eq!(creds.secret_access_key().expose_secret(), "sk");
        assert_eq!(creds.project_id(), Some("p1"));
        assert_eq!(creds.security_token().unwrap().expose_secret(), "tok");
    }

    #[test]
    fn profile_files_are_read_only_when_regular_and_small() {
        let dir = std::env::temp_dir().join(format!("hss-profile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        let good = dir.join("good");
        std::fs::write(&good, "[basic]\nak = A\nsk = S\n").unwrap();
        assert_eq!(from_profile_file(&good).unwrap().access_key_id(), "A");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ini_reads_only_the_basic_section() {
        let text = "[global]\nak = wrong\nsk = wrong\n\n[basic]\n# comment\nAK = right\nsk: s=k \nproject_id=p\n[other]\nsecurity_token = no\n";
        let section: Vec<(String, String)> = ini_section(text, "basic")
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        assert_eq!(
            section,
            vec![
                ("AK".into(), "right".into()),
                ("sk".into(), "s=k".into()),
                ("project_id".into(), "p".into())
            ]
        );
    }
}
