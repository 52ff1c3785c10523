//! Where credentials come from, with the official SDKs' names: the environment
//! (`HUAWEICLOUD_SDK_AK`, `_SK`, `_PROJECT_ID`, `_SECURITY_TOKEN`) and the profile file
//! (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`, section `[basic]`,
//! keys `ak`, `sk`, `project_id`, `security_token`).

use super::Credentials;
use std::path::{Path, PathBuf};

const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
const PROFILE_SECTION: &str = "basic";

/// Why no credentials could be loaded. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
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
    /// The profile file has no `[basic]` section with both `ak` and `sk`.
    #[error("credentials file {0}: no [basic] section with both ak and sk")]
    NotInFile(PathBuf),
    /// Neither `HUAWEICLOUD_SDK_CREDENTIALS_FILE` nor a home directory is set.
    #[error("no credentials file: HUAWEICLOUD_SDK_CREDENTIALS_FILE and HOME are both unset")]
    NoProfilePath,
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
pub fn from_profile_file(path: &Path) -> Result<Credentials, CredentialsError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CredentialsError::FileUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let section = ini_section(&text, PROFILE_SECTION);
    let get = |key: &str| {
        section
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let (Some(ak), Some(sk)) = (get("ak"), get("sk")) else {
        return Err(CredentialsError::NotInFile(path.to_owned()));
    };
    Ok(assemble(ak, sk, get("project_id"), get("security_token")))
}

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
fn ini_section(text: &str, wanted: &str) -> Vec<(String, String)> {
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
                line[at + 1..].trim().to_owned(),
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
    fn ini_reads_only_the_basic_section() {
        let text = "[global]\nak = wrong\nsk = wrong\n\n[basic]\n# comment\nAK = right\nsk: s=k \nproject_id=p\n[other]\nsecurity_token = no\n";
        let section = ini_section(text, "basic");
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
