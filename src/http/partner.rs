//! `GET /ws/eido`: a partner centre follows the incidents shared with it
//! (`incident.share`), NENA-STA-024 style: it connects with its key
//! (`Authorization: Bearer`, `auth.partner_keys`), subscribes, and is notified with the
//! incident's whole EIDO after each change. It sees nothing else: no events, no state,
//! no incident not shared with it, and it may send no command.
//!
//! Frames, client to hub: `{"type":"subscribe"}` (every incident shared with it, now
//! and later) or `{"type":"subscribe","incident_id":…}` (one), `{"type":"unsubscribe",
//! "incident_id"?}`, `{"type":"ping"}`. Hub to client: `{"type":"subscribed",
//! "incident_id"?}`, `{"type":"notify","incident_id","eido"}`, `{"type":"unshared",
//! "incident_id"}` when sharing ends, `{"type":"error","code","message"}`, `pong`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{Request, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

use super::error::ApiError;
use super::handlers::bearer;
use crate::auth::token_hash;
use crate::http::App;
use muster_core::domain::ids::IncidentId;
use muster_core::engine::code::Code;

/// The partner whose key `header` carries.
pub fn partner_of(app: &App, header: Option<&str>) -> Option<String> {
    let hash = token_hash(bearer(header)?);
    app.partners
        .iter()
        .find(|(_, h)| h == &hash)
        .map(|(name, _)| name.clone())
}

/// The incident's EIDO when it is shared with `partner`.
pub fn shared_eido(app: &App, partner: &str, id: &IncidentId) -> Option<Value> {
    let sender = super::interop::eido_sender(app);
    let centre = app.hub.engine.centre.clone();
    app.hub.with_state(|s| {
        let i = s.incidents.get(id)?;
        if !i.shared_with.iter().any(|p| p == partner) {
            return None;
        }
        super::interop::eido_of(s, id, centre.incident_type(&i.incident_type), &sender)
    })
}

/// Answers the upgrade: 101 and a spawned partner session, or a JSON error (401 for a
/// missing or unknown key).
pub fn upgrade(
    mut req: Request<Incoming>,
    app: Arc<App>,
    peer: SocketAddr,
    tracker: &TaskTracker,
    permit: Arc<super::slots::Slot>,
) -> warp::reply::Response {
    let key = match super::ws::check_handshake(req.headers()) {
        Ok(key) => key,
        Err(why) => return ApiError::bad_request(why).to_response(),
    };
    if !super::ws::origin_allowed(req.headers(), &app.settings.server.allowed_origins) {
        return ApiError::forbidden("this Origin may not open a WebSocket here").to_response();
    }
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(partner) = partner_of(&app, auth) else {
        return ApiError::unauthorized("send a partner key as Authorization: Bearer").to_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let config = super::ws::config(app.settings.limits.max_frame_bytes);
    let span = info_span!("ws_eido", peer = %peer, partner = %partner);
    tracker.spawn(
        async move {
            let _permit = permit;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        WsRole::Server,
                        Some(config),
                    )
                    .await;
                    run(ws, app, partner).await;
                }
                Err(e) => debug!(error = %e, "upgrade failed"),
            }
        }
        .instrument(span),
    );
    super::ws::switching_protocols(&key)
}

/// What one partner session follows.
#[derive(Default)]
struct Follow {
    /// Every incident shared with the partner.
    all: bool,
    /// These incidents.
    some: BTreeSet<IncidentId>,
    /// Shared incidents it was sent, so an end of sharing is told.
    sent: BTreeSet<IncidentId>,
}

impl Follow {
    fn wants(&self, id: &IncidentId) -> bool {
        self.all || self.some.contains(id)
    }
}

async fn run<S>(mut ws: WebSocketStream<S>, app: Arc<App>, partner: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Subscribed before anything is read, so no change falls between.
    let mut events = app.hub.subscribe();
    let mut shutdown = app.shutdown.clone();
    let mut follow = Follow::default();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let out = answer(&app, &partner, &mut follow, text.as_str());
                if send_all(&mut ws, out).await.is_err() {
                    break;
                }
            }
            published = events.recv() => {
                let mut changed = BTreeSet::new();
                match published {
                    Ok(p) => changed.extend(p.incident_id.clone()),
                    // Missed some: every followed incident is sent again, whole.
                    Err(RecvError::Lagged(_)) => changed.extend(shared_with(&app, &partner)),
                    Err(RecvError::Closed) => break,
                }
                // One EIDO per incident for everything already written.
                loop {
                    match events.try_recv() {
                        Ok(p) => changed.extend(p.incident_id.clone()),
                        Err(TryRecvError::Lagged(_)) => changed.extend(shared_with(&app, &partner)),
                        Err(_) => break,
                    }
                }
                let out = notices(&app, &partner, &mut follow, changed);
                if send_all(&mut ws, out).await.is_err() {
                    break;
                }
            }
            _ = super::stopping(&mut shutdown) => {
                let _ = ws.close(None).await;
                break;
            }
        }
    }
}

async fn send_all<S>(ws: &mut WebSocketStream<S>, frames: Vec<Value>) -> Result<(), ()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for f in frames {
        ws.feed(Message::text(f.to_string()))
            .await
            .map_err(|_| ())?;
    }
    ws.flush().await.map_err(|_| ())
}

/// The incidents shared with `partner` now.
fn shared_with(app: &App, partner: &str) -> Vec<IncidentId> {
    app.hub.with_state(|s| {
        s.incidents
            .values()
            .filter(|i| i.shared_with.iter().any(|p| p == partner))
            .map(|i| i.id.clone())
            .collect()
    })
}

/// For each changed incident the partner follows: its EIDO while shared, `unshared`
/// once when sharing ended.
fn notices(
    app: &App,
    partner: &str,
    follow: &mut Follow,
    changed: BTreeSet<IncidentId>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for id in changed {
        if !follow.wants(&id) {
            continue;
        }
        match shared_eido(app, partner, &id) {
            Some(eido) => {
                follow.sent.insert(id.clone());
                out.push(json!({"type": "notify", "incident_id": id, "eido": eido}));
            }
            None => {
                if follow.sent.remove(&id) {
                    out.push(json!({"type": "unshared", "incident_id": id}));
                }
            }
        }
    }
    out
}

fn error(code: Code, message: &str) -> Value {
    json!({"type": "error", "code": code.as_str(), "message": message})
}

/// The answer to one frame from the partner.
fn answer(app: &App, partner: &str, follow: &mut Follow, text: &str) -> Vec<Value> {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return vec![error(
            Code::BadRequest,
            "frames are JSON objects with a type",
        )];
    };
    let incident = frame
        .get("incident_id")
        .and_then(Value::as_str)
        .map(|s| IncidentId(s.to_string()));
    match frame.get("type").and_then(Value::as_str) {
        Some("ping") => vec![json!({"type": "pong"})],
        Some("subscribe") => {
            let ids = match &incident {
                Some(id) => {
                    if shared_eido(app, partner, id).is_none() {
                        return vec![error(Code::NotFound, &format!("incident {id} not found"))];
                    }
                    follow.some.insert(id.clone());
                    vec![id.clone()]
                }
                None => {
                    follow.all = true;
                    shared_with(app, partner)
                }
            };
            let mut out = vec![json!({"type": "subscribed", "incident_id": incident})];
            out.extend(notices(app, partner, follow, ids.into_iter().collect()));
            out
        }
        Some("unsubscribe") => {
            match &incident {
                Some(id) => {
                    follow.some.remove(id);
                    follow.sent.remove(id);
                }
                None => *follow = Follow::default(),
            }
            vec![json!({"type": "unsubscribed", "incident_id": incident})]
        }
        Some("command") | Some("hello") => vec![error(
            Code::Forbidden,
            "a partner follows the incidents shared with it, read only: it sends no commands",
        )],
        _ => vec![error(
            Code::BadRequest,
            "expected a subscribe, unsubscribe or ping frame",
        )],
    }
}
