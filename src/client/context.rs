//! What the hooks hand back to the call in progress, beyond what progenitor's types carry: a
//! `pre` hook can fail only with `Error::Custom(String)`, the generated code drops an answer's
//! headers when its body does not decode, and a dry run's request must leave `exec` unsent.
//!
//! [`HssClient::send`](crate::HssClient::send) and [`HssClient::prepare`](crate::HssClient::prepare)
//! set one context on their task for the length of the call; the hooks fill it. Without one
//! (a generated operation sent on its own) the hooks work as well, their failures as text.

use crate::error::Error;
use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static CALL: RefCell<CallContext>;
}

/// One call's context.
#[derive(Default)]
pub(super) struct CallContext {
    /// A dry run: `exec` keeps the request here instead of sending it.
    pub dry_run: bool,
    pub captured: Option<reqwest::Request>,
    /// The `X-Request-Id` of the latest answer.
    pub request_id: Option<String>,
    /// Why a hook failed, whole (its cause kept).
    pub failure: Option<Error>,
}

/// `call` with `context` set on its task.
pub(super) fn scope<F: Future>(context: CallContext, call: F) -> impl Future<Output = F::Output> {
    CALL.scope(RefCell::new(context), call)
}

/// The context of the call in progress, taken (an empty one outside a call).
pub(super) fn take() -> CallContext {
    with(std::mem::take).unwrap_or_default()
}

/// `f` on the context of the call in progress on this task, if there is one.
pub(super) fn with<R>(f: impl FnOnce(&mut CallContext) -> R) -> Option<R> {
    CALL.try_with(|context| f(&mut context.borrow_mut())).ok()
}

/// Hands `error` whole to the call in progress, and progenitor its text.
pub(super) fn hook_failure<E>(error: Error) -> progenitor_client::Error<E> {
    let text = error.to_string();
    with(|context| context.failure = Some(error));
    progenitor_client::Error::Custom(text)
}
