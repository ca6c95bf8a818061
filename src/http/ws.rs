//! `GET /ws`: the upgrade, done by hand on hyper so each socket gets our own small,
//! bounded WebSocket configuration (tungstenite's defaults keep a 128 KiB read buffer
//! per connection), after the `Origin` check.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

use super::error::ApiError;
use crate::http::App;

/// Read buffer per socket: enough for the usual small frame; larger ones grow it.
const READ_BUFFER: usize = 1024;

/// Bytes of frames a socket gathers before writing them through: the writer flushes
/// after each batch anyway, so this bounds the buffer a busy socket keeps, not latency.
pub const WRITE_BUFFER: usize = 8 * 1024;

/// The WebSocket limits every socket gets.
pub fn config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max_frame_bytes.max(WRITE_BUFFER) * 4)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

/// Answers an upgrade request: 101 and a spawned session, or a JSON error.
pub fn upgrade(
    mut req: Request<Incoming>,
    app: Arc<App>,
    peer: SocketAddr,
    tracker: &TaskTracker,
    permit: Arc<super::slots::Slot>,
) -> warp::reply::Response {
    let key = match check_handshake(req.headers()) {
        Ok(key) => key,
        Err(why) => return ApiError::bad_request(why).to_response(),
    };
    if !origin_allowed(req.headers(), &app.settings.server.allowed_origins) {
        return ApiError::forbidden("this Origin may not open a WebSocket here").to_response();
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let config = config(app.settings.limits.max_frame_bytes);
    let span =
        info_span!("ws", peer = %peer, user = tracing::field::Empty, role = tracing::field::Empty);
    tracker.spawn(
        async move {
            let _permit = permit;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    super::client::run(ws, app).await;
                }
                Err(e) => debug!(error = %e, "upgrade failed"),
            }
        }
        .instrument(span),
    );
    switching_protocols(&key)
}

/// The `101 Switching Protocols` answer to a WebSocket handshake with `key`.
pub(crate) fn switching_protocols(key: &str) -> warp::reply::Response {
    let mut res = warp::reply::Response::new("".into());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// The `Sec-WebSocket-Key` of a well-formed upgrade request.
pub(crate) fn check_handshake(h: &HeaderMap) -> Result<String, &'static str> {
    let has = |name: header::HeaderName, token: &str| {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return Err("expected a WebSocket upgrade (Upgrade: websocket, Connection: upgrade)");
    }
    if h.get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err("only WebSocket version 13 is spoken here");
    }
    h.get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or("missing Sec-WebSocket-Key")
}

/// Browsers always send `Origin`: it must be this server (same origin) or one of the
/// configured origins, exactly. Clients that are not browsers send none and are let
/// through to authenticate with their token like everyone else.
pub fn origin_allowed(h: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    !host.is_empty() && origin_host == Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_be_same_origin_or_listed_exactly() {
        let listed = vec!["https://console.example".to_string()];
        assert!(origin_allowed(&headers(None, "127.0.0.1:8080"), &[]));
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &[]
        ));
        assert!(!origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            &[]
        ));
        assert!(origin_allowed(
            &headers(Some("https://console.example"), "hub:8080"),
            &listed
        ));
        assert!(!origin_allowed(
            &headers(Some("https://console.example.evil"), "hub:8080"),
            &listed
        ));
    }
}
