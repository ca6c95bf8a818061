//! The Web Push routes: `GET /api/push/key` (the VAPID public key the field app
//! subscribes with) and `POST /api/push/ack/{token}` (a notification's Acknowledge
//! action). Neither needs a session: the key is public, and the token is itself the
//! credential for exactly one assignment until its escalation window ends.

use std::sync::Arc;

use serde_json::json;
use warp::Rejection;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::error::ApiError;
use crate::http::App;
use crate::notify::push::AckRefusal;
use muster_core::domain::assignment::Via;
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Code, Command};

/// The path prefix of acknowledge links: request logs show it without the token.
pub const ACK_PREFIX: &str = "/api/push/ack/";

fn no_store(value: &serde_json::Value, status: StatusCode) -> Response {
    let reply = warp::reply::with_status(warp::reply::json(value), status);
    warp::reply::with_header(reply, header::CACHE_CONTROL, "no-store").into_response()
}

fn push_off() -> ApiError {
    ApiError::unavailable("Web Push is off on this hub (no VAPID key; see its log)")
}

/// `GET /api/push/key` → `{"public_key": "<base64url 65-byte point>"}`.
pub async fn key(app: Arc<App>) -> Result<Response, Rejection> {
    let pusher = app.push.as_ref().ok_or_else(push_off)?;
    let body = json!({ "public_key": pusher.vapid.public_key() });
    Ok(warp::reply::json(&body).into_response())
}

/// `POST /api/push/ack/{token}`: acknowledges the token's assignment as its resource's
/// user, `via: push`. A second time is the engine's `invalid_transition` (409); after
/// the window `ack_link_expired` (410); a token this hub did not make `not_found`.
pub async fn ack(token: String, app: Arc<App>) -> Result<Response, Rejection> {
    let pusher = app.push.as_ref().ok_or_else(push_off)?;
    let now = app.hub.clock.now();
    let unknown = || ApiError::not_found("this acknowledge link is not one of ours");
    let assignment_id = match pusher.vapid.open_ack_token(&token, now) {
        Ok(id) => id,
        Err(AckRefusal::Unknown) => return Err(unknown().into()),
        Err(AckRefusal::Expired) => {
            return Err(ApiError::new(
                Code::AckLinkExpired,
                "this acknowledge link has expired; open the app to acknowledge",
            )
            .into());
        }
    };
    // The user who carries the assignment's resource now, if still enabled.
    let actor = app
        .hub
        .with_state(|s| {
            let a = s.assignments.get(&assignment_id)?;
            let user_id = s.resources.get(&a.resource_id)?.user_id.as_ref()?;
            s.users.get(user_id).filter(|u| !u.disabled).map(Actor::of)
        })
        .ok_or_else(unknown)?;
    let command = Command::AssignmentAcknowledge(cmd::AssignmentAcknowledge {
        assignment_id: assignment_id.clone(),
        via: Some(Via::Push),
    });
    // No command id: a second POST is decided again (and refused), not replayed.
    match app.hub.submit(actor, None, command).await {
        Ok(_) => Ok(no_store(
            &json!({"assignment_id": assignment_id, "status": "acknowledged"}),
            StatusCode::OK,
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}
