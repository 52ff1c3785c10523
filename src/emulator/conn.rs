//! Connections: the accept loop with its connection cap, and per connection the timeouts that
//! close a slow or idle client (the request body's timeout is the handler's, in `server`).
//!
//! Each connection has an [`Activity`]: whether a request is being handled, and since when it
//! has been waiting for the next request head. A watchdog per connection closes it when
//!
//! - a request head is not complete `header_read_timeout` after the connection was accepted,
//!   or after the first byte of that head arrived (the TLS handshake counts as part of the first
//!   head), or
//! - it has been idle between requests, with nothing received, for `idle_timeout`.
//!
//! While a request is handled (from its complete head until the answer is handed to hyper), no
//! watchdog deadline runs: a scripted delay is not a slow client.
//!
//! At `max_connections`, and when accepting fails for want of file descriptors (EMFILE, ENFILE),
//! the connection idle the longest is closed to make room (as nginx reuses idle keep-alive
//! connections); when none is idle, the loop waits for one to finish or become idle instead of
//! spinning on the error.

use super::server::{self, Shared};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

/// How long the accept loop pauses after an accept error it cannot make room for.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long it waits at most, after closing an idle connection for want of file descriptors,
/// for that descriptor to be released before the next accept.
const EVICTION_WAIT: Duration = Duration::from_millis(100);
/// How often a full emulator, with every connection busy, looks again for an idle one.
const FULL_RECHECK: Duration = Duration::from_millis(50);

/// The connection limits (see the `Emulator` builder methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// What a connection is doing, shared by its reader, its service and its watchdog.
pub(crate) struct Activity {
    /// When the connection was accepted: the times below are milliseconds since then.
    accepted: Instant,
    /// A request is being handled.
    busy: AtomicBool,
    /// 1 + when the head being read started; 0 while idle between requests or busy.
    head_started: AtomicU64,
    /// When the last request's answer was handed to hyper (0 before the first).
    idle_since: AtomicU64,
    /// Wakes the watchdog when the deadline may have changed.
    changed: Notify,
    /// Close with a TCP reset (SO_LINGER 0) instead of a FIN: a scripted reset.
    reset_on_close: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            accepted: Instant::now(),
            busy: AtomicBool::new(false),
            // The first head's deadline runs from the accept.
            head_started: AtomicU64::new(1),
            idle_since: AtomicU64::new(0),
            changed: Notify::new(),
            reset_on_close: AtomicBool::new(false),
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, millis: u64) -> Instant {
        self.accepted + Duration::from_millis(millis)
    }

    /// Bytes arrived: outside a request, they start the next head.
    fn received(&self) {
        if !self.busy.load(Ordering::Acquire)
            && self
                .head_started
                .compare_exchange(
                    0,
                    self.millis().saturating_add(1),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A complete head reached the service. (The watchdog need not wake: finding the
    /// connection busy when its current deadline comes, it waits for `end_request`.)
    fn begin_request(&self) {
        self.busy.store(true, Ordering::Release);
        self.head_started.store(0, Ordering::Release);
    }

    /// The answer was handed to hyper: idle until the next head starts.
    fn end_request(&self) {
        self.idle_since.store(self.millis(), Ordering::Release);
        self.head_started.store(0, Ordering::Release);
        self.busy.store(false, Ordering::Release);
        self.changed.notify_one();
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Since when it has been waiting, for choosing whom to close first.
    fn waiting_since(&self) -> u64 {
        match self.head_started.load(Ordering::Acquire) {
            0 => self.idle_since.load(Ordering::Acquire),
            started => started - 1,
        }
    }

    /// When the connection is to be closed, unless something changes; `None` while busy (or
    /// when the timeout is too long to be a point in time).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.is_busy() {
            return None;
        }
        match self.head_started.load(Ordering::Acquire) {
            0 => self
                .at(self.idle_since.load(Ordering::Acquire))
                .checked_add(limits.idle_timeout),
            started => self.at(started - 1).checked_add(limits.header_read_timeout),
        }
    }
}

/// Marks a connection busy while a request is handled, until dropped (answered, or the
/// connection ended).
struct Busy<'a>(&'a Activity);

impl<'a> Busy<'a> {
    fn new(activity: &'a Activity) -> Self {
        activity.begin_request();
        Busy(activity)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// Resolves when the connection has been idle, or its head slow, for too long.
async fn watchdog(activity: &Activity, limits: &Limits) {
    loop {
        match activity.deadline(limits) {
            None => activity.changed.notified().await,
            Some(deadline) if deadline <= Instant::now() => return,
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = activity.changed.notified() => {}
                }
            }
        }
    }
}

/// The socket, telling its [`Activity`] when bytes arrive, and closed with a reset when the
/// activity asks for one.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.activity.reset_on_close.load(Ordering::Acquire) {
            let _ = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Open connections, by task.
#[derive(Default)]
struct Registry {
    open: HashMap<Id, (AbortHandle, Arc<Activity>)>,
}

impl Registry {
    fn has_idle(&self) -> bool {
        self.open.values().any(|(_, activity)| !activity.is_busy())
    }

    /// Closes the connection that has been waiting the longest; false when all are busy.
    fn close_longest_idle(&mut self) -> bool {
        let oldest = self
            .open
            .iter()
            .filter(|(_, (_, activity))| !activity.is_busy())
            .min_by_key(|(_, (_, activity))| {
                activity.accepted + Duration::from_millis(activity.waiting_since())
            })
            .map(|(id, _)| *id);
        match oldest.and_then(|id| self.open.remove(&id)) {
            Some((handle, _)) => {
                handle.abort();
                true
            }
            None => false,
        }
    }
}

/// Whether accepting failed for want of file descriptors (EMFILE, ENFILE: the same numbers on
/// Linux, macOS and the BSDs).
fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

/// A failure of one incoming connection, not of the listener: accept the next at once.
fn connection_failed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// The task of a connection that ended (served, closed, or aborted).
fn ended(done: Result<(Id, ()), tokio::task::JoinError>) -> Id {
    match done {
        Ok((id, ())) => id,
        Err(e) => e.id(),
    }
}

/// Serves until the task is aborted; aborting also ends every open connection.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let limits = shared.config.limits;
    let mut connections = JoinSet::new();
    let mut registry = Registry::default();
    loop {
        let full = registry.open.len() >= limits.max_connections;
        let room = !full || registry.has_idle();
        tokio::select! {
            biased;
            Some(done) = connections.join_next_with_id(), if !connections.is_empty() => {
                registry.open.remove(&ended(done));
            }
            accepted = listener.accept(), if room => match accepted {
                Ok((stream, _)) => {
                    if full {
                        registry.close_longest_idle();
                    }
                    let activity = Arc::new(Activity::new());
                    let handle = connections.spawn(serve_connection(
                        stream,
                        shared.clone(),
                        activity.clone(),
                    ));
                    registry.open.insert(handle.id(), (handle, activity));
                }
                Err(e) if connection_failed(&e) => {}
                Err(e) if out_of_descriptors(&e) && registry.close_longest_idle() => {
                    // Wait until a connection task (the closed one, or another) has ended and
                    // so released its descriptor.
                    if let Ok(Some(done)) =
                        tokio::time::timeout(EVICTION_WAIT, connections.join_next_with_id()).await
                    {
                        registry.open.remove(&ended(done));
                    }
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            () = tokio::time::sleep(FULL_RECHECK), if !room => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, activity: Arc<Activity>) {
    let limits = shared.config.limits;
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let serve = async {
        match shared.tls.clone() {
            None => serve_http(TokioIo::new(io), shared.clone(), activity.clone()).await,
            Some(acceptor) => {
                // A stalled handshake is closed by the watchdog (it is the first head's time).
                if let Ok(tls) = acceptor.accept(io).await {
                    serve_http(TokioIo::new(tls), shared.clone(), activity.clone()).await;
                }
            }
        }
    };
    tokio::select! {
        // Bytes already received are served before the watchdog looks at the time.
        biased;
        () = serve => {}
        () = watchdog(&activity, &limits) => {}
    }
}

async fn serve_http<I>(io: I, shared: Arc<Shared>, activity: Arc<Activity>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let (shared, activity) = (shared.clone(), activity.clone());
        async move {
            let _busy = Busy::new(&activity);
            let outcome = server::handle_request(request, &shared).await;
            if outcome.is_err() {
                // hyper drops the connection on the error: with a reset, as scripted.
                activity.reset_on_close.store(true, Ordering::Release);
            }
            outcome
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        // The watchdog keeps the time (hyper's own header timer would also run while idle).
        .header_read_timeout(None)
        .serve_connection(io, service)
        .await;
}
