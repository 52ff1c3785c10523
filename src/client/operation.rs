//! What every generated operation is to the call path. `build.rs` implements these traits for
//! each operation of the spec, so an operation added to the spec needs no code here.

use progenitor_client::{ByteStream, ResponseValue};
use std::future::Future;

/// A request built with one of the generated operation builders
/// ([`HssClient::operations`](crate::HssClient::operations)), ready to be sent by
/// [`HssClient::send`](crate::HssClient::send). Implemented for every operation of the spec.
pub trait Operation: Clone + Send + Sync {
    /// The model of the operation's 200 answer (`()` when it has no body).
    type Answer: ServiceAnswer + serde::Serialize + serde::de::DeserializeOwned + Send;
    /// The operation's name (`list_registry`).
    const ID: &'static str;
    /// Sends the request once, through the client's signing hooks.
    #[doc(hidden)]
    fn send(
        self,
    ) -> impl Future<
        Output = Result<ResponseValue<Self::Answer>, progenitor_client::Error<ByteStream>>,
    > + Send;
    /// The same request in `project_id`, and in `enterprise_project_id` when given and the
    /// operation has one.
    #[doc(hidden)]
    fn in_project(self, project_id: &str, enterprise_project_id: Option<&str>) -> Self;
}

/// A 200 answer. Where the answer's schema has an `error_code` (the deprecated
/// `RunImageSynchronize`), a non-zero one makes the call fail with
/// [`Error::NonZeroErrorCode`](crate::Error::NonZeroErrorCode); elsewhere a 200 is a success.
pub trait ServiceAnswer {
    /// The answer's non-zero `error_code` and `error_description`, if its schema has them.
    fn error_code(&self) -> Option<(i64, &str)> {
        None
    }
}

impl ServiceAnswer for () {}

/// A list operation that pages with `offset` and `limit` and answers `data_list` and
/// `total_num`; [`HssClient::pages`](crate::HssClient::pages) walks it.
pub trait Paged: Operation + Unpin {
    /// One element of `data_list`.
    type Item;
    /// The same request for the page at `offset` of `limit` items.
    fn page(self, offset: i32, limit: i32) -> Self;
    /// An answer's `data_list` and `total_num`.
    fn items(answer: Self::Answer) -> (Vec<Self::Item>, Option<i64>);
}

/// A successful answer: the model, and what it took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Response<T> {
    /// The decoded 200 answer.
    pub value: T,
    /// The answer's `X-Request-Id`.
    pub request_id: Option<String>,
    /// Attempts made, retries included.
    pub attempts: u32,
    /// The answer's `Date`: the server's clock when it answered (whole seconds).
    pub server_date: Option<std::time::SystemTime>,
}

impl<T> Response<T> {
    /// A response, for tests of code that takes one.
    pub fn new(value: T, request_id: Option<String>, attempts: u32) -> Self {
        Response {
            value,
            request_id,
            attempts,
            server_date: None,
        }
    }

    /// The same response with the answer's `Date`.
    pub fn with_server_date(mut self, date: std::time::SystemTime) -> Self {
        self.server_date = Some(date);
        self
    }

    /// The model, without what it took.
    pub fn into_inner(self) -> T {
        self.value
    }
}
