//! The network edge: an accept loop of our own (TCP_NODELAY, a connection cap,
//! graceful shutdown) serving HTTP/1.1 through hyper, with `/ws` upgraded by hand so
//! each socket gets a small, bounded WebSocket configuration, and every other path
//! answered by the warp filters.

pub mod api;
pub mod client;
pub mod commands;
pub mod error;
pub mod evidence;
pub mod frame;
pub mod handlers;
pub mod ops;
pub mod throttle;
pub mod web;
pub mod ws;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::{info, warn};
use warp::{Filter, Reply};

use crate::server::App;

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
    let limit = Arc::new(Semaphore::new(app.settings.limits.max_connections));
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
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            warn!(%peer, "connection limit reached; refusing");
            continue;
        };
        tracker.spawn(connection(
            stream,
            peer,
            permit,
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
    permit: OwnedSemaphorePermit,
    app: Arc<App>,
    routes: S,
    tracker: TaskTracker,
) where
    S: Service<http::Request<Incoming>, Response = warp::reply::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    // Small pushes must not wait for Nagle's 40 ms.
    let _ = stream.set_nodelay(true);
    let mut shutdown = app.shutdown.clone();
    // A socket upgraded from this connection keeps holding its place under the cap.
    let permit = Arc::new(permit);
    let service = service_fn(move |mut req: http::Request<Incoming>| {
        let mut routes = routes.clone();
        let app = app.clone();
        let tracker = tracker.clone();
        let permit = permit.clone();
        // warp learns the peer only from its own server, which we do not use.
        req.extensions_mut().insert(Peer(peer));
        async move {
            if req.uri().path() == "/ws" {
                Ok::<_, Infallible>(ws::upgrade(req, app, peer, &tracker, permit))
            } else {
                routes.call(req).await
            }
        }
    });
    let conn = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopping(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
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
