//! What a call would use: credential source, algorithm, endpoint and project, nothing secret.

use super::HssClient;
use super::hooks::Auth;
use super::project::ProjectSource;
use crate::error::Error;
use crate::signer::Algorithm;
use std::fmt;
use std::time::SystemTime;

/// Who and where a call goes as, as [`HssClient::identity`] finds out. Holds no secret: the
/// access key is masked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// Where the credentials come from (`static`, `environment`, `profile`, `oidc-sts`,
    /// `ecs-metadata`, `pod-identity`, `default-chain`), or `iam-token`.
    pub credential_source: &'static str,
    /// The signing algorithm; `None` with an IAM token (no signature).
    pub algorithm: Option<Algorithm>,
    /// The endpoint requests go to.
    pub endpoint: String,
    /// The access key, masked but for its first and last four characters.
    pub access_key: Option<String>,
    /// When temporary keys expire.
    pub expiry: Option<SystemTime>,
    /// The project calls are for.
    pub project_id: String,
    /// How the project was found.
    pub project_source: ProjectSource,
}

impl Identity {
    /// An identity for tests of code that takes one (the type is `#[non_exhaustive]`): fixed
    /// keys (`static`) signing with SDK-HMAC-SHA256, no access key shown, no expiry; the public
    /// fields are there to change.
    ///
    /// ```
    /// use hss_image_sync::{Identity, ProjectSource};
    ///
    /// let mut identity = Identity::new("https://hss.cn-north-4.myhuaweicloud.com", "0a1b", ProjectSource::Iam);
    /// identity.access_key = Some("HPUA****4E2X".into());
    /// assert_eq!(identity.credential_source, "static");
    /// ```
    pub fn new(
        endpoint: impl Into<String>,
        project_id: impl Into<String>,
        project_source: ProjectSource,
    ) -> Self {
        Identity {
            credential_source: "static",
            algorithm: Some(Algorithm::HmacSha256),
            endpoint: endpoint.into(),
            access_key: None,
            expiry: None,
            project_id: project_id.into(),
            project_source,
        }
    }
}

impl HssClient {
    /// What a call would use, found the way a call finds it (credentials fetched, project
    /// looked up in IAM if need be), within the total timeout as a call is. Sends nothing to
    /// HSS.
    pub async fn identity(&self) -> Result<Identity, Error> {
        super::project::within_deadline(self.total_timeout, self.find_identity()).await
    }

    async fn find_identity(&self) -> Result<Identity, Error> {
        use progenitor_client::ClientInfo;
        let state = self.hooks();
        let creds = state.credentials().await.map_err(Error::Credentials)?;
        let (project_id, project_source) = self.project_id(None).await?;
        let algorithm = match &state.auth {
            Auth::AkSk(_) => Some(state.signing.algorithm),
            Auth::Token(_) => None,
        };
        let credential_source = self.credential_source();
        Ok(Identity {
            credential_source,
            algorithm,
            endpoint: self.inner.baseurl().to_owned(),
            access_key: creds.as_ref().map(|c| mask_access_key(c.access_key_id())),
            expiry: creds.as_ref().and_then(|c| c.expiry()),
            project_id,
            project_source,
        })
    }
}

/// `HPUA************4E2X`: enough to tell keys apart, not to use one.
fn mask_access_key(ak: &str) -> String {
    let chars: Vec<char> = ak.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

impl fmt::Display for ProjectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProjectSource::Request => "given on the request",
            ProjectSource::Client => "given on the client",
            ProjectSource::Credentials => "carried by the credentials",
            ProjectSource::Iam => "looked up in IAM",
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn access_keys_are_masked() {
        assert_eq!(
            super::mask_access_key("HPUAL8FWGBJPNSCL4E2X"),
            "HPUA************4E2X"
        );
        assert_eq!(super::mask_access_key("SHORT"), "*****");
    }
}
