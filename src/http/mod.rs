//! The network edge: an accept loop of our own (TCP_NODELAY, a connection cap in
//! total and per address, timeouts, graceful shutdown) serving HTTP/1.1 through
//! hyper, with `/ws` upgraded by hand so each socket gets a small, bounded WebSocket
//! configuration, and every other path answered by the warp filters.
//!
//! Timeouts, so a socket that dawdles cannot hold a place for long:
//! - headers: hyper's `header_read_timeout` (with a timer) starts when hyper begins
//!   reading a request head: at accept, and again as soon as each response is
//!   written. A new socket that sends nothing, half a request line or half its
//!   headers is closed after `server.header_timeout_secs`; so is a kept-alive
//!   connection that sends no next request in that time.
//! - body: hyper has none, so a request whose body has not all arrived
//!   `server.body_timeout_secs` after its headers is answered 408 and closed.
//! - keep-alive idle: a connection with no request in flight and no byte moving
//!   either way for `server.keepalive_idle_secs` is closed (a client reading a
//!   response very slowly counts as moving).
//!
//! An upgraded WebSocket leaves all three behind: it has its own hello and idle
//! timeouts.

pub mod api;
pub mod app;
pub mod client;
pub mod commands;
pub mod debrief;
pub mod describe;
pub mod error;
pub mod evidence;
pub mod exercise;
pub mod export;
pub mod frame;
pub mod handlers;
pub mod import;
pub mod interop;
pub mod ops;
pub mod partner;
pub mod peer;
pub mod places;
pub mod privacy;
pub mod push;
pub mod slots;
pub mod sso;
pub mod throttle;
pub mod web;
pub mod ws;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::{info, warn};
use warp::{Filter, Reply};

pub use app::App;

/// How long shutdown waits for open connections to finish before giving up on them.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `filter` (and `/ws`) on `listener` until `app.shutdown` turns true, then
/// stops accepting, closes every WebSocket with 1001 and waits for them to finish.
pub async fn serve<F>(listener: TcpListener, app: Arc<App>, filter: F)
where
    F: Filter<Error = Infallible> + Clone + Send + Sync + 'static,
    F::Extract: Reply,
    F::Future: Send,
{
    let routes = warp::service(filter);
    let limits = &app.settings.limits;
    let slots = slots::Slots::new(
        limits.max_connections,
        limits.max_connections_per_address,
        app.settings.server.trusted_proxies.clone(),
    );
    let tracker = TaskTracker::new();
    let mut shutdown = app.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopping(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Refused sockets are closed at once (dropped); `take` logs them in bulk.
        let Ok(slot) = slots.take(peer.ip()) else {
            continue;
        };
        tracker.spawn(connection(
            stream,
            peer,
            slot,
            app.clone(),
            routes.clone(),
            tracker.clone(),
        ));
    }
    info!(open = tracker.len(), "shutting down: no new connections");
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        warn!("some connections did not finish in time");
    }
}

/// One TCP connection: HTTP/1.1 with upgrades, `/ws` by hand, the rest by warp.
async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    slot: slots::Slot,
    app: Arc<App>,
    routes: S,
    tracker: TaskTracker,
) where
    S: Service<http::Request<TimedBody>, Response = warp::reply::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    // Small pushes must not wait for Nagle's 40 ms.
    let _ = stream.set_nodelay(true);
    let mut shutdown = app.shutdown.clone();
    let server = &app.settings.server;
    let header_timeout = Duration::from_secs(server.header_timeout_secs);
    let body_timeout = Duration::from_secs(server.body_timeout_secs);
    let idle_timeout = Duration::from_secs(server.keepalive_idle_secs);
    let activity = Arc::new(Activity::new());
    // A socket upgraded from this connection keeps holding its place under the cap.
    let slot = Arc::new(slot);
    let watched = activity.clone();
    let service = service_fn(move |mut req: http::Request<Incoming>| {
        let mut routes = routes.clone();
        let app = app.clone();
        let tracker = tracker.clone();
        let slot = slot.clone();
        let in_flight = InFlight::new(watched.clone());
        // warp learns the peer only from its own server, which we do not use.
        req.extensions_mut().insert(Peer(peer));
        async move {
            let _in_flight = in_flight;
            if req.uri().path() == "/ws" {
                return Ok::<_, Infallible>(ws::upgrade(req, app, peer, &tracker, slot));
            }
            if req.uri().path() == "/ws/eido" {
                return Ok::<_, Infallible>(partner::upgrade(req, app, peer, &tracker, slot));
            }
            let (req, body_done) = timed(req);
            let deadline = tokio::time::Instant::now() + body_timeout;
            tokio::select! {
                res = routes.call(req) => res,
                _ = body_late(deadline, &body_done) => Ok(request_timeout(body_timeout)),
            }
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(
            TokioIo::new(Watched {
                inner: stream,
                activity: activity.clone(),
            }),
            service,
        )
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = idle(&activity, idle_timeout) => {}
        _ = stopping(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

/// When bytes last moved on a connection, and how many of its requests are being
/// handled: what the keep-alive idle timeout looks at.
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write that moved a byte.
    last_io_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    fn last_io(&self) -> Instant {
        self.start + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed))
    }
}

/// A request being handled; the connection is not idle while one is.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Resolves once the connection has had no request in flight and no byte moving for
/// `limit`.
async fn idle(activity: &Activity, limit: Duration) {
    loop {
        let deadline = activity.last_io() + limit;
        let now = Instant::now();
        if now >= deadline {
            if activity.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            // A request is being handled: look again one period later.
            tokio::time::sleep(limit).await;
        } else {
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// The TCP stream, noting in [`Activity`] each read or write that moved a byte.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_written(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_written(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Watched {
    fn note_written(&self, polled: &Poll<std::io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.touch();
        }
    }
}

/// A request body that says when it has all arrived, so the body timeout can tell
/// a handler waiting for its body from one working on it.
pub struct TimedBody {
    inner: Incoming,
    done: Arc<AtomicBool>,
}

/// The request with its body watched, and the flag that turns true once the body
/// has all arrived (at once for a request without one).
fn timed(req: http::Request<Incoming>) -> (http::Request<TimedBody>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(req.body().is_end_stream()));
    let flag = done.clone();
    (req.map(|inner| TimedBody { inner, done: flag }), done)
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let finished = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if finished {
            self.done.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Resolves at `deadline` if the body has not all arrived by then; never otherwise
/// (a handler with its whole body may take as long as it needs).
async fn body_late(deadline: tokio::time::Instant, done: &AtomicBool) {
    if done.load(Ordering::Relaxed) {
        return std::future::pending().await;
    }
    tokio::time::sleep_until(deadline).await;
    if done.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// 408 for a body that did not arrive in time; the connection is closed after it
/// (the rest of the body may still be on its way).
fn request_timeout(limit: Duration) -> warp::reply::Response {
    let message = format!(
        "the request body did not arrive within {} s of its headers; send it at once",
        limit.as_secs()
    );
    let mut res = error::ApiError::bad_request(message)
        .with_status(http::StatusCode::REQUEST_TIMEOUT)
        .to_response();
    res.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    res
}

/// The TCP peer of the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Resolves once shutdown has been asked for.
pub async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Every HTTP route but `/ws`.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    api::routes(app)
}
