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
    /// offset; a server that answers a page it already gave (the same page again, or pages
    /// coming round in a cycle) ends it with
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
            seen: Repeats::default(),
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
    /// Digests of pages seen, to notice a server that ignores `offset`.
    seen: Repeats,
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
        if !items.is_empty() && walk.seen.repeats(digest(&items)) {
            walk.done = true;
            return Poll::Ready(Some(Err(Error::InvalidResponse {
                status: 200,
                request_id: answer.request_id,
                message: format!(
                    "the page at offset {} repeats an earlier one: the server ignores `offset`",
                    walk.offset
                ),
            })));
        }
        let next = walk.offset.saturating_add(items.len() as i64);
        walk.done =
            items.is_empty() || total.is_some_and(|total| next >= total) || next > MAX_OFFSET;
        walk.offset = next;
        Poll::Ready(Some(Ok(Response::new(
            items,
            answer.request_id,
            answer.attempts,
        ))))
    }
}

/// Notices a server that answers pages it already gave, in a fixed memory however long the
/// walk: a page equal to the one before it, or to the page kept as an anchor. The anchor moves
/// to pages 1, 2, 4, 8, ... (Brent's cycle finding), so pages that come round every `p` pages
/// from page `s` on are caught by page `2·max(s, p) + p`.
#[derive(Debug, Default)]
struct Repeats {
    previous: Option<u64>,
    anchor: Option<u64>,
    /// Pages seen.
    count: u64,
}

impl Repeats {
    /// Notes a page's digest; whether it repeats an earlier page.
    fn repeats(&mut self, digest: u64) -> bool {
        if self.previous == Some(digest) || self.anchor == Some(digest) {
            return true;
        }
        self.count += 1;
        if self.count.is_power_of_two() {
            self.anchor = Some(digest);
        }
        self.previous = Some(digest);
        false
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

#[cfg(test)]
mod tests {
    use super::Repeats;

    /// The page (0-based) at which `pages` is first noticed to repeat, if it is.
    fn caught(pages: impl IntoIterator<Item = u64>) -> Option<usize> {
        let mut seen = Repeats::default();
        pages.into_iter().position(|page| seen.repeats(page))
    }

    #[test]
    fn distinct_pages_never_count_as_repeats() {
        assert_eq!(caught(0..10_000), None);
    }

    #[test]
    fn a_page_again_right_after_is_caught_at_once() {
        assert_eq!(caught([1, 2, 3, 3]), Some(3));
        assert_eq!(caught([7, 7]), Some(1));
    }

    #[test]
    fn pages_coming_round_in_a_cycle_are_caught_soon_after_it_starts() {
        for start in [0u64, 1, 5, 100] {
            for period in [2u64, 3, 7, 50, 333] {
                let pages = (0..start)
                    .map(|i| 1_000_000 + i)
                    .chain((0..).map(|i| i % period));
                let at = caught(pages.take(10_000)).unwrap_or_else(|| panic!("{start} {period}"));
                let bound = (2 * start.max(period) + period) as usize;
                assert!(
                    at <= bound,
                    "start {start}, period {period}: page {at} > {bound}"
                );
            }
        }
    }
}
