//! [`HssClient`]: the generated client plus validation, defaults and error mapping.

mod builder;
mod validate;

pub use crate::hooks::retry::RetryPolicy;
pub use builder::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HssClientBuilder};

use crate::error::{Error, ServiceError, TransportKind};
use crate::generated::{self, types};
use crate::hooks::{self, Auth};

pub use types::ImageType;

/// One `RunImageSynchronize` call's parameters.
///
/// ```
/// use hss_image_sync::{ImageType, SyncRequest};
///
/// let request = SyncRequest::new(ImageType::SharedImage)
///     .enterprise_project_id("all_granted_eps")
///     .region("cn-north-4");
/// assert_eq!(request.image_type(), ImageType::SharedImage);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    image_type: ImageType,
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
    region: Option<String>,
}

impl SyncRequest {
    /// Synchronize `image_type` images.
    pub fn new(image_type: ImageType) -> Self {
        Self {
            image_type,
            project_id: None,
            enterprise_project_id: None,
            region: None,
        }
    }

    /// The project for this call; defaults to the client's.
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

    /// The `region` header (0..128 characters); not sent unless set, as the official SDKs do.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The image type.
    pub fn image_type(&self) -> ImageType {
        self.image_type
    }
}

/// A successful synchronization.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncResponse {
    /// The body's `error_code` (0).
    pub error_code: i64,
    /// The body's `error_description` (e.g. `success`).
    pub error_description: String,
    /// The response's `X-Request-Id`.
    #[serde(skip)]
    pub request_id: Option<String>,
    /// Attempts made, retries included.
    #[serde(skip)]
    pub attempts: u32,
}

/// A client for HSS `RunImageSynchronize`. Cheap to clone; clones share connections.
///
/// ```no_run
/// use hss_image_sync::{Credentials, HssClient, ImageType, SyncRequest};
///
/// # async fn run() -> Result<(), hss_image_sync::Error> {
/// let client = HssClient::builder()
///     .region("cn-north-4")
///     .credentials(Credentials::new("AK", "SK").with_project_id("0a1b2c3d"))
///     .build()?;
/// let done = client
///     .run_image_synchronize(&SyncRequest::new(ImageType::PrivateImage))
///     .await?;
/// println!("{} (request {:?})", done.error_description, done.request_id);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HssClient {
    inner: generated::Client,
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
}

impl HssClient {
    /// Starts configuring a client.
    pub fn builder() -> HssClientBuilder {
        HssClientBuilder::default()
    }

    /// The generated client, for direct use of the spec-level API (requests still go through
    /// the signing hooks).
    pub fn generated(&self) -> &generated::Client {
        &self.inner
    }

    /// Synchronizes the SWR image list. Every parameter is checked against the spec before
    /// anything is sent; retries, timeouts and signing happen in the client hooks.
    pub async fn run_image_synchronize(
        &self,
        request: &SyncRequest,
    ) -> Result<SyncResponse, Error> {
        let params = self.parameters(request)?;
        let call = self.inner.run_image_synchronize(
            &params.project_id,
            params.enterprise_project_id.as_ref(),
            params.token.as_ref(),
            params.region.as_ref(),
            &params.body,
        );
        // The hooks bound every attempt and delay by the total timeout; this outer bound only
        // guards against anything they do not cover.
        let total = self.inner_state().total_timeout;
        let record = hooks::call::CallRecord::with_path(params.path);
        let (result, record) = hooks::call::scoped(
            record,
            tokio::time::timeout(total.saturating_add(OUTER_TIMEOUT_GRACE), call),
        )
        .await;
        let attempts = record.attempts();
        if let Some(failure) = record.take_failure() {
            return Err(failure);
        }
        match result {
            Ok(Ok(value)) => success(value, attempts),
            Ok(Err(e)) => Err(map_error(e, attempts)),
            Err(_) => Err(Error::Transport {
                kind: TransportKind::Timeout,
                message: format!("the call did not finish within {total:?}"),
                attempts,
            }),
        }
    }

    /// The call's parameters, each checked against the spec (through the generated types).
    fn parameters(&self, request: &SyncRequest) -> Result<Parameters, Error> {
        let project_id = request
            .project_id
            .as_deref()
            .or(self.project_id.as_deref())
            .ok_or_else(|| Error::InvalidInput {
                field: "project_id",
                rule: "required: set it in the credentials (HUAWEICLOUD_SDK_PROJECT_ID), on the \
                       client builder or on the request"
                    .into(),
            })?;
        if project_id == "." || project_id == ".." {
            // URL parsers resolve these as dot segments (encoded or not); the official SDKs
            // cannot send them either.
            return Err(Error::InvalidInput {
                field: "project_id",
                rule: "\".\" and \"..\" cannot be sent as a URL path segment".into(),
            });
        }
        let region = match request.region.as_deref() {
            Some(region) => {
                validate::header_value("region", region)?;
                Some(validate::spec_value("region", region)?)
            }
            None => None,
        };
        let token = match &self.inner_state().auth {
            Auth::Token(token) => Some(validate::spec_value("X-Auth-Token", token.expose())?),
            Auth::AkSk(_) => None,
        };
        Ok(Parameters {
            // The path as the official SDKs send it: `quote(project_id, safe='')`.
            path: format!(
                "/v5/{}/image/synchronize",
                crate::signer::encode(project_id)
            ),
            project_id: validate::spec_value("project_id", project_id)?,
            enterprise_project_id: request
                .enterprise_project_id
                .as_deref()
                .or(self.enterprise_project_id.as_deref())
                .map(|id| validate::spec_value("enterprise_project_id", id))
                .transpose()?,
            token,
            region,
            body: types::RunImageSynchronizeRequestInfo {
                image_type: request.image_type,
            },
        })
    }

    fn inner_state(&self) -> &hooks::HookState {
        use progenitor_client::ClientInfo;
        self.inner.inner()
    }
}

/// Validated parameters of one call.
struct Parameters {
    path: String,
    project_id: types::RunImageSynchronizeProjectId,
    enterprise_project_id: Option<types::RunImageSynchronizeEnterpriseProjectId>,
    token: Option<types::RunImageSynchronizeXAuthToken>,
    region: Option<types::RunImageSynchronizeRegion>,
    body: types::RunImageSynchronizeRequestInfo,
}

/// A 200: success when its `error_code` is 0 (or absent), else [`Error::Failed`].
fn success(
    value: progenitor_client::ResponseValue<types::RunImageSynchronizeResponse>,
    attempts: u32,
) -> Result<SyncResponse, Error> {
    let request_id = hooks::request_id(value.headers()).map(str::to_owned);
    let body = value.into_inner();
    let error_code = body.error_code.unwrap_or(0);
    let description = body.error_description.unwrap_or_default();
    if error_code != 0 {
        return Err(Error::Failed {
            error_code,
            description,
            request_id,
        });
    }
    Ok(SyncResponse {
        error_code,
        error_description: description,
        request_id,
        attempts,
    })
}

/// Slack for the outer timeout around a call, beyond the configured total.
const OUTER_TIMEOUT_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

fn map_error(error: progenitor_client::Error<types::HuaweiError>, attempts: u32) -> Error {
    use progenitor_client::Error as E;
    match error {
        E::ErrorResponse(value) => {
            let status = value.status().as_u16();
            let request_id = hooks::request_id(value.headers()).map(str::to_owned);
            let body = value.into_inner();
            Error::Service(ServiceError {
                status,
                request_id,
                error_code: body.error_code.unwrap_or_else(|| status.to_string()),
                error_msg: body.error_msg.unwrap_or_default(),
                encoded_authorization_message: body.encoded_authorization_message,
                attempts,
            })
        }
        E::InvalidResponsePayload(_, e) => Error::InvalidResponse {
            status: 200,
            message: format!("body is not a RunImageSynchronize response: {e}"),
        },
        E::UnexpectedResponse(response) => Error::InvalidResponse {
            status: response.status().as_u16(),
            message: "status not described by the API".into(),
        },
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            match Error::from(e) {
                Error::Transport { kind, message, .. } => Error::Transport {
                    kind,
                    message,
                    attempts,
                },
                other => other,
            }
        }
        E::InvalidRequest(message) => Error::InvalidInput {
            field: "request",
            rule: message,
        },
        E::Custom(message) => Error::Signing(message),
    }
}
