//! The spec's operations as methods of [`HssClient`]: the generated builder of each, in the
//! client's project, handed to a closure that sets the rest, then sent by the one call path.
//! An operation added to the spec can be sent with [`HssClient::send`] at once; a method here
//! is a convenience of four lines.

use super::HssClient;
use super::operation::{Operation, Response};
use crate::error::Error;
use crate::generated::{self, builder, types};

impl HssClient {
    /// Builders of every operation of the spec, to send with [`send`](Self::send), walk with
    /// [`pages`](Self::pages) or show with [`prepare`](Self::prepare). Each setter takes the
    /// spec's constrained type (or anything that converts to it); a value the spec refuses
    /// makes the call fail with [`Error::InvalidInput`] naming the parameter and the rule.
    pub fn operations(&self) -> &generated::Client {
        &self.inner
    }

    /// The project a call uses when the request names none: the builder's, else the
    /// credentials', else the one IAM lists for the region (asked once, then remembered).
    pub async fn default_project_id(&self) -> Result<String, Error> {
        Ok(self.project_id(None).await?.0)
    }

    /// `operation` in the client's project (see
    /// [`default_project_id`](Self::default_project_id)) and enterprise project, both of which
    /// a later setter may replace.
    pub async fn in_project<O: Operation>(&self, operation: O) -> Result<O, Error> {
        let project_id = self.default_project_id().await?;
        Ok(operation.in_project(&project_id, self.enterprise_project_id.as_deref()))
    }

    /// `CreateImageSynchronizeTask`: synchronize the image lists of every registry, or of
    /// those named. The answer has no body: see `ListImageScanTask` to follow the task.
    ///
    /// ```no_run
    /// # async fn run(client: hss_image_sync::HssClient) -> Result<(), hss_image_sync::Error> {
    /// use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
    ///
    /// let every_registry = CreateImageSynchronizeTaskRequestInfo {
    ///     sync_all_registries: true,
    ///     registry_info: vec![],
    /// };
    /// client.create_image_synchronize_task(|op| op.body(every_registry)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_image_synchronize_task(
        &self,
        request: impl FnOnce(
            builder::CreateImageSynchronizeTask<'_>,
        ) -> builder::CreateImageSynchronizeTask<'_>,
    ) -> Result<Response<()>, Error> {
        self.send_in_project(self.inner.create_image_synchronize_task(), request)
            .await
    }

    /// `ListImageScanTask`: one page of image scan or synchronization tasks (`type_` is
    /// required). [`pages`](Self::pages) walks them all.
    pub async fn list_image_scan_task(
        &self,
        request: impl FnOnce(builder::ListImageScanTask<'_>) -> builder::ListImageScanTask<'_>,
    ) -> Result<Response<types::ListImageScanTaskResponse>, Error> {
        self.send_in_project(self.inner.list_image_scan_task(), request)
            .await
    }

    /// `ListAssociateRegistries`: one page of a synchronization task's registries and how
    /// each went (`task_id` is required).
    pub async fn list_associate_registries(
        &self,
        request: impl FnOnce(
            builder::ListAssociateRegistries<'_>,
        ) -> builder::ListAssociateRegistries<'_>,
    ) -> Result<Response<types::ListAssociateRegistriesResponse>, Error> {
        self.send_in_project(self.inner.list_associate_registries(), request)
            .await
    }

    /// `ListRegistry`: one page of the registries connected to HSS, where the IDs and types
    /// of `CreateImageSynchronizeTask`'s `registry_info` come from.
    pub async fn list_registry(
        &self,
        request: impl FnOnce(builder::ListRegistry<'_>) -> builder::ListRegistry<'_>,
    ) -> Result<Response<types::ListRegistryResponse>, Error> {
        self.send_in_project(self.inner.list_registry(), request)
            .await
    }

    /// `RunImageSynchronize` (deprecated by Huawei: use
    /// [`create_image_synchronize_task`](Self::create_image_synchronize_task)): synchronize the
    /// SWR private or shared image list. A 200 whose `error_code` is not 0 is
    /// [`Error::NonZeroErrorCode`].
    pub async fn run_image_synchronize(
        &self,
        image_type: types::ImageType,
        request: impl FnOnce(builder::RunImageSynchronize<'_>) -> builder::RunImageSynchronize<'_>,
    ) -> Result<Response<types::RunImageSynchronizeResponse>, Error> {
        let body = types::RunImageSynchronizeRequestInfo { image_type };
        let operation = self.inner.run_image_synchronize().body(body);
        self.send_in_project(operation, request).await
    }

    /// `operation` in the client's project, set further by `request`, then sent.
    async fn send_in_project<O: Operation>(
        &self,
        operation: O,
        request: impl FnOnce(O) -> O,
    ) -> Result<Response<O::Answer>, Error> {
        // The project lookup and the call share one deadline.
        super::project::sharing_deadline(self.total_timeout, async {
            self.send(request(self.in_project(operation).await?)).await
        })
        .await
    }
}
