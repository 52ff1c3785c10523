//! Pagination over `offset` and `limit`, for every list operation of the spec.

use super::HssClient;
use super::operation::{Paged, Response};
use crate::error::Error;
use futures_util::Stream;
use std::hash::{Hash, Hasher};

/// Items asked for per page: the spec's maximum, since HSS allows a user 5 calls a minute.
pub const PAGE_LIMIT: i32 = 200;
/// The largest `offset` the spec allows.
pub const MAX_OFFSET: i64 = 2_000_000;

/// Where a walk is.
enum Walk<O> {
    Next {
        operation: O,
        offset: i64,
        /// A digest of the previous page, to notice a server that ignores `offset`.
        previous: Option<u64>,
    },
    Done,
}

impl HssClient {
    /// Every page of a list operation, from offset 0, [`PAGE_LIMIT`] items at a time; each
    /// page is sent like any call (signed, retried, under the total timeout each). The stream
    /// ends after the page that reaches `total_num`, at an empty page, or at the spec's largest
    /// offset; a server that answers the same page again ends it with
    /// [`Error::InvalidResponse`] rather than a loop; any error ends it after that error.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    ///
    /// # async fn run(client: hss_image_sync::HssClient) -> Result<(), hss_image_sync::Error> {
    /// let all = client.in_project(client.operations().list_registry()).await?;
    /// let pages: Vec<_> = client.pages(all).try_collect().await?;
    /// let registries = pages.into_iter().flat_map(|page| page.value);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pages<O>(
        &self,
        operation: O,
    ) -> impl Stream<Item = Result<Response<Vec<O::Item>>, Error>> + '_
    where
        O: Paged + 'static,
        O::Item: serde::Serialize,
    {
        let start = Walk::Next {
            operation,
            offset: 0,
            previous: None,
        };
        futures_util::stream::unfold(start, move |walk| async move {
            let Walk::Next {
                operation,
                offset,
                previous,
            } = walk
            else {
                return None;
            };
            // `offset` never exceeds MAX_OFFSET, which fits an i32.
            let page = operation.clone().page(offset as i32, PAGE_LIMIT);
            let answer = match self.send(page).await {
                Ok(answer) => answer,
                Err(e) => return Some((Err(e), Walk::Done)),
            };
            let request_id = answer.request_id.clone();
            let (items, total) = O::items(answer.value);
            let digest = digest(&items);
            if !items.is_empty() && previous == Some(digest) {
                let repeated = Error::InvalidResponse {
                    status: 200,
                    request_id,
                    message: format!("the page at offset {offset} repeats the previous one"),
                };
                return Some((Err(repeated), Walk::Done));
            }
            let next = offset.saturating_add(items.len() as i64);
            let more =
                !items.is_empty() && total.is_none_or(|total| next < total) && next <= MAX_OFFSET;
            let walk = if more {
                Walk::Next {
                    operation,
                    offset: next,
                    previous: Some(digest),
                }
            } else {
                Walk::Done
            };
            let page = Response::new(items, answer.request_id, answer.attempts);
            Some((Ok(page), walk))
        })
    }
}

/// A digest of a page's items, as JSON.
fn digest<T: serde::Serialize>(items: &[T]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(items)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}
