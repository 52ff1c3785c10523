//! What the two local sources, the environment and the profile file, hold: keys, or what a
//! federated login needs. Shared by both, and by the synchronous readers that refuse the login.

use super::federated::FederatedParams;
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

/// Keys from a source's strings.
pub(super) fn assemble(
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
