//! `RunImageSynchronize`: its parameters, checked against the spec, and its answer.

use super::HssClient;
use super::call::Answer;
use super::validate;
use crate::error::Error;
use crate::generated::types;
use std::fmt;

/// Which SWR image repositories to synchronize.
///
/// The crate's own type rather than the generated one, so that a spec change is not a
/// breaking change of this crate's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum ImageType {
    /// Private image repositories (`private_image`).
    #[cfg_attr(feature = "cli", value(name = "private_image"))]
    PrivateImage,
    /// Shared image repositories (`shared_image`).
    #[cfg_attr(feature = "cli", value(name = "shared_image"))]
    SharedImage,
}

impl ImageType {
    /// The API's name: `private_image` or `shared_image`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImageType::PrivateImage => "private_image",
            ImageType::SharedImage => "shared_image",
        }
    }
}

impl fmt::Display for ImageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ImageType {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "private_image" => Ok(ImageType::PrivateImage),
            "shared_image" => Ok(ImageType::SharedImage),
            _ => Err(Error::InvalidInput {
                field: "image_type",
                rule: "must be private_image or shared_image".into(),
            }),
        }
    }
}

impl From<ImageType> for types::ImageType {
    fn from(image_type: ImageType) -> Self {
        match image_type {
            ImageType::PrivateImage => types::ImageType::PrivateImage,
            ImageType::SharedImage => types::ImageType::SharedImage,
        }
    }
}

/// One `RunImageSynchronize` call's parameters.
///
/// ```
/// use hss_image_sync::{ImageType, SyncRequest};
///
/// let request = SyncRequest::new(ImageType::SharedImage)
///     .enterprise_project_id("all_granted_eps")
///     .region_header("cn-north-4");
/// assert_eq!(request.image_type(), ImageType::SharedImage);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    image_type: ImageType,
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
    region_header: Option<String>,
}

impl SyncRequest {
    /// Synchronize `image_type` images.
    pub fn new(image_type: ImageType) -> Self {
        Self {
            image_type,
            project_id: None,
            enterprise_project_id: None,
            region_header: None,
        }
    }

    /// The project for this call (1..256 characters); defaults to the client's.
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The enterprise project (1..256 characters; `0` is the default project,
    /// `all_granted_eps` all of them); defaults to the client's, else none is sent.
    pub fn enterprise_project_id(mut self, id: impl Into<String>) -> Self {
        self.enterprise_project_id = Some(id.into());
        self
    }

    /// The API's optional `region` *header* (0..128 characters); not sent unless set, as the
    /// official SDKs do. The endpoint's region is set on the client builder.
    pub fn region_header(mut self, region: impl Into<String>) -> Self {
        self.region_header = Some(region.into());
        self
    }

    /// The image type.
    pub fn image_type(&self) -> ImageType {
        self.image_type
    }
}

/// A successful synchronization.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SyncResponse {
    /// The body's `error_code` (0).
    pub error_code: i64,
    /// The body's `error_description` (e.g. `success`).
    pub error_description: String,
    /// The response's `X-Request-Id`.
    pub request_id: Option<String>,
    /// Attempts made, retries included.
    pub attempts: u32,
}

/// A request as it would be sent: what `sync --dry-run` prints. `Display` and `Debug` mask the
/// values of `Authorization`, `X-Security-Token` and `X-Auth-Token`.
#[derive(Clone)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// `POST`.
    pub method: String,
    /// The full URL, query included.
    pub url: String,
    /// The headers, as sent; the HTTP stack adds the unsigned `Content-Length` and
    /// `Accept: */*` when sending.
    pub headers: Vec<crate::signer::Header>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl fmt::Display for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        for header in &self.headers {
            let value = if header.sensitive {
                crate::signer::MASK
            } else {
                &header.value
            };
            writeln!(f, "{}: {value}", header.name)?;
        }
        writeln!(f)?;
        write!(f, "{}", String::from_utf8_lossy(&self.body))
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A header name as HTTP/1 sends it here (`x-sdk-date` is sent `X-Sdk-Date`).
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// The call's parameters as the generated operation takes them.
struct Parameters {
    project_id: types::RunImageSynchronizeProjectId,
    enterprise_project_id: Option<types::RunImageSynchronizeEnterpriseProjectId>,
    region: Option<types::RunImageSynchronizeRegion>,
    body: types::RunImageSynchronizeRequestInfo,
}

impl HssClient {
    /// Synchronizes the SWR image list. Every parameter is checked against the spec before
    /// anything is sent; failures that may heal are retried (see [`RetryPolicy`](crate::RetryPolicy)).
    pub async fn run_image_synchronize(
        &self,
        request: &SyncRequest,
    ) -> Result<SyncResponse, Error> {
        let (project_id, _) = self.project_id(request.project_id.as_deref()).await?;
        let p = self.image_sync_parameters(request, &project_id)?;
        let answer = self
            .call("run_image_synchronize", || {
                self.inner.run_image_synchronize(
                    &p.project_id,
                    p.enterprise_project_id.as_ref(),
                    // The hooks add `X-Auth-Token` with the other credential headers, so no
                    // generated type (they derive `Debug`) ever holds the token. Its length was
                    // checked against the spec when the client was built.
                    None,
                    p.region.as_ref(),
                    &p.body,
                )
            })
            .await?;
        self.image_sync_response(answer)
    }

    /// The request [`run_image_synchronize`](Self::run_image_synchronize) would send now,
    /// signed, without sending it (the CLI's `sync --dry-run`). The same checks run first, and
    /// the project ID is found the same way (which may ask IAM).
    pub async fn prepare_run_image_synchronize(
        &self,
        request: &SyncRequest,
    ) -> Result<PreparedRequest, Error> {
        use progenitor_client::ClientInfo;
        let (project_id, _) = self.project_id(request.project_id.as_deref()).await?;
        let p = self.image_sync_parameters(request, &project_id)?;
        // What the generated operation builds before its hooks run (src/generated/client.rs);
        // a test compares the result with what the operation sends.
        let url = format!(
            "{}/v5/{}/image/synchronize",
            self.inner.baseurl(),
            progenitor_client::encode_path(&p.project_id.to_string())
        );
        let mut builder = self.inner.client().post(url).json(&p.body);
        if let Some(id) = &p.enterprise_project_id {
            builder = builder.query(&[("enterprise_project_id", id.to_string())]);
        }
        if let Some(region) = &p.region {
            builder = builder.header("region", region.to_string());
        }
        let mut prepared = builder.build().map_err(|e| Error::InvalidInput {
            field: "request",
            rule: e.to_string(),
        })?;
        let state = self.hooks();
        let creds = state.credentials().await.map_err(Error::Credentials)?;
        state.prepare(&mut prepared, creds.as_ref())?;
        Ok(PreparedRequest {
            method: prepared.method().to_string(),
            url: prepared.url().to_string(),
            headers: prepared
                .headers()
                .iter()
                .map(|(name, value)| {
                    crate::signer::Header::new(
                        title_case(name.as_str()),
                        String::from_utf8_lossy(value.as_bytes()),
                    )
                })
                .collect(),
            body: prepared
                .body()
                .and_then(|b| b.as_bytes())
                .unwrap_or_default()
                .to_vec(),
        })
    }

    fn image_sync_parameters(
        &self,
        request: &SyncRequest,
        project_id: &str,
    ) -> Result<Parameters, Error> {
        validate::path_segment("project_id", project_id)?;
        let region = match request.region_header.as_deref() {
            Some(region) => {
                validate::header_value("region", region)?;
                Some(validate::spec_value("region", region)?)
            }
            None => None,
        };
        Ok(Parameters {
            project_id: validate::spec_value("project_id", project_id)?,
            enterprise_project_id: request
                .enterprise_project_id
                .as_deref()
                .or(self.enterprise_project_id.as_deref())
                .map(|id| validate::spec_value("enterprise_project_id", id))
                .transpose()?,
            region,
            body: types::RunImageSynchronizeRequestInfo {
                image_type: request.image_type.into(),
            },
        })
    }

    /// A 200 is a success when its `error_code` is 0 (or absent).
    fn image_sync_response(
        &self,
        answer: Answer<types::RunImageSynchronizeResponse>,
    ) -> Result<SyncResponse, Error> {
        let error_code = answer.value.error_code.unwrap_or(0);
        let description = self.mask(answer.value.error_description.unwrap_or_default());
        if error_code != 0 {
            return Err(Error::NonZeroErrorCode {
                error_code,
                description,
                request_id: answer.request_id,
                attempts: answer.attempts,
            });
        }
        Ok(SyncResponse {
            error_code,
            error_description: description,
            request_id: answer.request_id,
            attempts: answer.attempts,
        })
    }
}
