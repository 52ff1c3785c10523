//! The environment: `HUAWEICLOUD_SDK_AK`, `_SK`, `_SECURITY_TOKEN`, `_PROJECT_ID`, or
//! `HUAWEICLOUD_SDK_IDP_ID` with `HUAWEICLOUD_SDK_ID_TOKEN_FILE` for a federated login through
//! IAM (which wins when both are set), with the official SDKs' names.

use super::federated::{self, FederatedParams};
use super::http::LazyClient;
use super::local::{Source, assemble, keys_only};
use super::{Credentials, CredentialsError, EnvVars, ProvideCredentials, ProvideFuture};
use std::path::PathBuf;

const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
pub(crate) const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
const ENV_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
const ENV_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";

/// Credentials from the environment variables: `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK`,
/// with `HUAWEICLOUD_SDK_SECURITY_TOKEN` and `HUAWEICLOUD_SDK_PROJECT_ID` when set.
///
/// A federated login (`HUAWEICLOUD_SDK_IDP_ID` and `HUAWEICLOUD_SDK_ID_TOKEN_FILE`) needs the
/// network: this synchronous reader refuses it; use [`EnvironmentProvider`].
pub fn from_env() -> Result<Credentials, CredentialsError> {
    keys_only("environment", env_source(&EnvVars::process())?)
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
        "environment",
        [&ENV_AK, &ENV_SK, &ENV_PROJECT_ID, &ENV_SECURITY_TOKEN],
        ak,
        sk,
        env.get(ENV_PROJECT_ID),
        env.get(ENV_SECURITY_TOKEN),
    )?))
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
                reason: match (self.env.get(ENV_AK), self.env.get(ENV_SK)) {
                    (Some(_), None) => format!("{ENV_SK} is missing ({ENV_AK} is set)"),
                    (None, Some(_)) => format!("{ENV_AK} is missing ({ENV_SK} is set)"),
                    _ => format!(
                        "neither {ENV_AK} and {ENV_SK} nor {ENV_IDP_ID} and {ENV_ID_TOKEN_FILE} \
                         are set"
                    ),
                },
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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::path::Path;

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

    #[tokio::test]
    async fn half_a_key_pair_is_named() {
        for (set, missing) in [(ENV_AK, ENV_SK), (ENV_SK, ENV_AK)] {
            let env = EnvVars::from_pairs([(set, "value")]);
            let provider = EnvironmentProvider::new().with_env(env);
            let err = provider.provide_credentials().await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("environment: not configured: {missing} is missing ({set} is set)")
            );
        }
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
}
