//! The profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`,
//! section `[basic]` (else `[basiccredentials]`, the section the SDKs' client builder reads),
//! keys `ak`, `sk`, `security_token`, `project_id`, `idp_id`, `id_token_file`, `iam_endpoint`,
//! with the official SDKs' names. The file is read as the SDKs read it (see `ini`).

use super::environment::ENV_PROJECT_ID;
use super::federated::{self, FederatedParams};
use super::files::{ReadFailure, read_small_file};
use super::http::LazyClient;
use super::ini::Ini;
use super::local::{Source, assemble, keys_only};
use super::{Credentials, CredentialsError, EnvVars, ProvideCredentials, ProvideFuture};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// The sections read, in order: the SDKs' `CredentialProviderChain.get_basic()` reads `[basic]`,
/// their client builder's implicit chain `[basiccredentials]`.
const PROFILE_SECTIONS: [&str; 2] = ["basic", "basiccredentials"];
/// A profile file is a few lines; anything larger is not one (`/dev/zero`, a log file ...).
pub const MAX_PROFILE_FILE_BYTES: u64 = 64 * 1024;

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
    keys_only("profile", profile_source(path, None)?)
}

/// The profile's credentials, or what a federated login needs (which wins, as in the SDKs):
/// from the section `named`, else `[basic]` (else `[basiccredentials]`).
pub(crate) fn profile_source(path: &Path, named: Option<&str>) -> Result<Source, CredentialsError> {
    let text = read_profile(path)?;
    let ini = Ini::parse(&text, path);
    let section = match named {
        Some(name) => ini.has_section(name).then_some(name),
        None => PROFILE_SECTIONS.into_iter().find(|s| ini.has_section(s)),
    };
    let Some(section) = section else {
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
    let shown = path.display();
    let named = |key: &'static str| format!("{shown}: {key}");
    let names = [
        named("ak"),
        named("sk"),
        named("project_id"),
        named("security_token"),
    ];
    Ok(Source::Keys(assemble(
        "profile",
        [&names[0], &names[1], &names[2], &names[3]],
        ak,
        sk,
        get("project_id"),
        get("security_token"),
    )?))
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

/// The profile file's credentials, read at each fetch: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `$HOME/.huaweicloud/credentials`, section `[basic]` (else `[basiccredentials]`): `ak` and
/// `sk` (with `security_token` and `project_id`), or a federated login with `idp_id` and
/// `id_token_file` (which wins, as in the official SDKs; see
/// [`EnvironmentProvider`](super::EnvironmentProvider)) through `iam_endpoint`, else
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else `https://iam.myhuaweicloud.com`.
///
/// Not configured (the chain goes on) when there is no such file, section or keys. A file that
/// exists but cannot be read (not a regular file, too large, not UTF-8, no permission) is an
/// error that stops the chain: the SDKs go on for some of these, but using other keys than the
/// ones the file was meant to give would hide the mistake.
#[derive(Debug, Clone)]
pub struct ProfileProvider {
    env: EnvVars,
    http: LazyClient,
    /// A section other than `[basic]`, as [`with_profile`](Self::with_profile) names it.
    profile: Option<String>,
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

    /// Reads the section `[name]` instead of `[basic]`, so that one file holds the keys of
    /// several accounts (as KooCLI and aws-cli profiles do; same keys as `[basic]`).
    pub fn with_profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    pub(crate) fn with_parts(env: EnvVars, http: LazyClient) -> Self {
        ProfileProvider {
            env,
            http,
            profile: None,
        }
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let provider = self.name();
        let not_configured = |reason: String| CredentialsError::NotConfigured { provider, reason };
        let Some(path) = profile_path_in(&self.env) else {
            return Err(not_configured(format!(
                "{ENV_CREDENTIALS_FILE} and HOME are both unset"
            )));
        };
        match profile_source(&path, self.profile.as_deref()) {
            Ok(Source::Keys(credentials)) => Ok(credentials),
            Ok(Source::Federated(params)) => {
                federated::login(provider, &self.http, &self.env, &params).await
            }
            Err(CredentialsError::FileUnreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(not_configured(format!("no file {}", path.display())))
            }
            Err(CredentialsError::NotInFile(path)) => {
                let sections = match &self.profile {
                    Some(name) => format!("[{name}]"),
                    None => "[basic] or [basiccredentials]".to_owned(),
                };
                Err(not_configured(format!(
                    "{} has no {sections} section with ak and sk, or idp_id and id_token_file",
                    path.display()
                )))
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::files::temp_dir;

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
        let Source::Federated(params) = profile_source(&federated, None).unwrap() else {
            panic!("keys, not a federated login");
        };
        assert_eq!(params.idp_id, "i");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
