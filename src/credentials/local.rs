//! What the two local sources, the environment and the profile file, hold: keys, or what a
//! federated login needs. Shared by both, and by the synchronous readers that refuse the login.

use super::federated::FederatedParams;
use super::provider::{check_project_id, check_value};
use super::{Credentials, CredentialsError};

/// What a local source holds: keys, or what a federated login needs.
pub(crate) enum Source {
    Keys(Credentials),
    Federated(FederatedParams),
}

/// The keys, or an error for `provider` when a federated login (which needs the network) is
/// asked for.
pub(super) fn keys_only(
    provider: &'static str,
    source: Source,
) -> Result<Credentials, CredentialsError> {
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

/// Keys from a source's strings, each checked ([`check_value`]); `names` are the fields they
/// came from (AK, SK, project ID, security token), for errors.
pub(super) fn assemble(
    provider: &'static str,
    names: [&dyn std::fmt::Display; 4],
    ak: String,
    sk: String,
    project_id: Option<String>,
    token: Option<String>,
) -> Result<Credentials, CredentialsError> {
    let [ak_name, sk_name, project_name, token_name] = names;
    check_value(provider, ak_name, &ak)?;
    check_value(provider, sk_name, &sk)?;
    if let Some(p) = &project_id {
        check_project_id(provider, project_name, p)?;
    }
    if let Some(t) = &token {
        check_value(provider, token_name, t)?;
    }
    let mut creds = Credentials::new(ak, sk);
    if let Some(p) = project_id {
        creds = creds.with_project_id(p);
    }
    if let Some(t) = token {
        creds = creds.with_security_token(t);
    }
    Ok(creds)
}
