//! Pagination over `offset` and `limit`, for every list operation of the spec.

use super::HssClient;
use super::operation::{Paged, Response};
use crate::error::Error;
use futures_util::Stream;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Items asked for per page: the spec's maximum, since HSS allows a user 5 calls a minute.
pub const PAGE_LIMIT: i32 = 200;
/// The largest `offset` the spec allows.
pub const MAX_OFFSET: i64 = 2_000_000;

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
    pub fn pages<'a, O>(
        &'a self,
        operation: O,
    ) -> impl Stream<Item = Result<Response<Vec<O::Item>>, Error>> + Send + use<'a, O>
    where
        O: Paged + 'a,
        O::Item: serde::Serialize,
    {
        Pages {
            client: self,
            operation,
            offset: 0,
            previous: None,
            pending: None,
            done: false,
        }
    }
}

type PageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<Response<T>, Error>> + Send + 'a>>;

/// A walk over the pages of `operation`.
struct Pages<'a, O: Paged> {
    client: &'a HssClient,
    operation: O,
    /// The offset of the page asked for next (or now).
    offset: i64,
    /// A digest of the previous page, to notice a server that ignores `offset`.
    previous: Option<u64>,
    pending: Option<PageFuture<'a, O::Answer>>,
    done: bool,
}

impl<'a, O> Stream for Pages<'a, O>
where
    O: Paged + 'a,
    O::Item: serde::Serialize,
{
    type Item = Result<Response<Vec<O::Item>>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let walk = self.get_mut();
        if walk.done {
            return Poll::Ready(None);
        }
        let client = walk.client;
        let pending = walk.pending.get_or_insert_with(|| {
            // `offset` never exceeds MAX_OFFSET, which fits an i32.
            let page = walk.operation.clone().page(walk.offset as i32, PAGE_LIMIT);
            Box::pin(client.send(page))
        });
        let answer = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(answer) => answer,
        };
        walk.pending = None;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                walk.done = true;
                return Poll::Ready(Some(Err(e)));
            }
        };
        let (items, total) = O::items(answer.value);
        let digest = digest(&items);
        if !items.is_empty() && walk.previous == Some(digest) {
            walk.done = true;
            return Poll::Ready(Some(Err(Error::InvalidResponse {
                status: 200,
                request_id: answer.request_id,
                message: format!(
                    "the page at offset {} repeats the previous one",
                    walk.offset
                ),
            })));
        }
        let next = walk.offset.saturating_add(items.len() as i64);
        walk.done =
            items.is_empty() || total.is_some_and(|total| next >= total) || next > MAX_OFFSET;
        walk.offset = next;
        walk.previous = Some(digest);
        Poll::Ready(Some(Ok(Response::new(
            items,
            answer.request_id,
            answer.attempts,
        ))))
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
