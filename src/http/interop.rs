//! The standards routes (docs/INTEROP.md): an incident or a message as an OASIS CAP
//! 1.2 alert, an incident as a NENA EIDO, and an alarm gateway's CAP alert in as a
//! contact on the `alarm` channel.

use std::sync::Arc;

use bytes::Bytes;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::handlers::{self, incident_by_key, intake_actor, json_reply, result_reply};
use crate::http::App;
use crate::hub::tokens::Session;
use crate::interop::{cap, eido};
use muster_core::domain::ids::MessageId;
use muster_core::domain::message::Audience;
use muster_core::engine::Error;

/// The four routes.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    incident_cap(app.clone())
        .or(message_cap(app.clone()))
        .unify()
        .or(incident_eido(app.clone()))
        .unify()
        .or(intake_cap(app))
        .unify()
}

fn with_app(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

fn with_session(app: Arc<App>) -> impl Filter<Extract = (Session,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(with_app(app))
        .and_then(|header: Option<String>, app: Arc<App>| async move {
            handlers::authenticate(&app, header.as_deref())
                .await
                .map_err(Rejection::from)
        })
}

/// `GET /api/incidents/{id}/cap`.
fn incident_cap(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "incidents" / String / "cap")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(get_incident_cap)
}

/// `GET /api/messages/{id}/cap`.
fn message_cap(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "messages" / String / "cap")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(get_message_cap)
}

/// `GET /api/incidents/{id}/eido`, with a session or a partner key.
fn incident_eido(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "incidents" / String / "eido")
        .and(warp::get())
        .and(with_app(app))
        .and(warp::header::optional::<String>("authorization"))
        .and_then(get_incident_eido)
}

/// The EIDO of an incident in `state` (see [`eido::incident`]).
pub fn eido_of(
    state: &muster_core::engine::State,
    id: &muster_core::domain::ids::IncidentId,
    kind: Option<&muster_core::domain::procedure::IncidentType>,
    sender: &eido::Sender,
) -> Option<serde_json::Value> {
    eido::incident(state, id, kind, sender)
}

/// `POST /api/intake/cap` with an intake key: a CAP 1.2 alert, at most
/// `limits.max_frame_bytes` (64 KiB).
fn intake_cap(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let app2 = app.clone();
    warp::path!("api" / "intake" / "cap")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and_then(move |header: Option<String>| {
            let app = app2.clone();
            async move { handlers::check_intake_key(&app, header.as_deref()).map_err(Rejection::from) }
        })
        .untuple_one()
        .and(with_app(app.clone()))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(app.settings.limits.max_frame_bytes as u64))
        .and(warp::body::bytes())
        .and_then(post_intake_cap)
}

/// The CAP alerts' origin: the centre as sender, `Exercise` on an exercise hub.
pub fn origin(app: &App) -> cap::Origin {
    let name = app.hub.engine.centre.name.clone();
    cap::Origin {
        sender: cap::Origin::sender_id(&name),
        sender_name: name,
        exercise: app.hub.options.exercise.is_some(),
        location_decimals: app.hub.options.location_decimals,
    }
}

/// The EIDO's sender: the same id as the CAP sender.
pub fn eido_sender(app: &App) -> eido::Sender {
    let name = app.hub.engine.centre.name.clone();
    eido::Sender {
        system: cap::Origin::sender_id(&name),
        agency_name: name,
    }
}

fn desk_only(session: &Session) -> Result<(), ApiError> {
    if session.role.sees_everything() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only operators, supervisors and admins may export alerts",
        ))
    }
}

fn cap_reply(alert: &cap::Alert) -> Response {
    let reply = warp::reply::with_header(cap::write(alert), header::CONTENT_TYPE, cap::MEDIA_TYPE);
    warp::reply::with_status(reply, StatusCode::OK).into_response()
}

async fn get_incident_cap(
    key: String,
    app: Arc<App>,
    session: Session,
) -> Result<Response, Rejection> {
    desk_only(&session)?;
    let origin = origin(&app);
    let centre = app.hub.engine.centre.clone();
    let alert = app.hub.with_state(|s| {
        let id = incident_by_key(s, &key)?;
        let i = s.incidents.get(&id)?;
        Some(cap::incident_alert(
            i,
            centre.incident_type(&i.incident_type),
            &origin,
        ))
    });
    let alert = alert.ok_or_else(|| ApiError::not_found(format!("incident {key} not found")))?;
    Ok(cap_reply(&alert))
}

async fn get_message_cap(
    key: String,
    app: Arc<App>,
    session: Session,
) -> Result<Response, Rejection> {
    desk_only(&session)?;
    let origin = origin(&app);
    let id = MessageId(key.clone());
    let alert = app.hub.with_state(|s| {
        let m = s.messages.get(&id)?;
        // A direct message is its two parties' alone.
        if let Audience::User(to) = &m.audience
            && to != &session.user_id
            && m.sent_by != session.user_id
        {
            return None;
        }
        let incident = match &m.audience {
            Audience::Incident(i) => s.incidents.get(i),
            _ => None,
        };
        Some(cap::message_alert(m, incident, &origin))
    });
    let alert = alert.ok_or_else(|| ApiError::not_found(format!("message {key} not found")))?;
    Ok(cap_reply(&alert))
}

async fn get_incident_eido(
    key: String,
    app: Arc<App>,
    authorization: Option<String>,
) -> Result<Response, Rejection> {
    let not_found = || ApiError::not_found(format!("incident {key} not found"));
    // A partner centre: the incidents shared with it, and nothing else exists.
    if let Some(partner) = super::partner::partner_of(&app, authorization.as_deref()) {
        let id = muster_core::domain::ids::IncidentId(key.clone());
        let eido = super::partner::shared_eido(&app, &partner, &id).ok_or_else(not_found)?;
        return Ok(json_reply(&eido, StatusCode::OK));
    }
    let session = handlers::authenticate(&app, authorization.as_deref()).await?;
    let sender = eido_sender(&app);
    let centre = app.hub.engine.centre.clone();
    if !session.role.sees_everything() {
        return Err(ApiError::forbidden(
            "only operators, supervisors and admins may export incidents",
        )
        .into());
    }
    let eido = app
        .hub
        .with_state(|s| {
            let id = incident_by_key(s, &key)?;
            let kind = s
                .incidents
                .get(&id)
                .and_then(|i| centre.incident_type(&i.incident_type));
            eido::incident(s, &id, kind, &sender)
        })
        .ok_or_else(not_found)?;
    Ok(json_reply(&eido, StatusCode::OK))
}

/// The body as a CAP alert and its `contact.receive`, or the refusal.
pub fn intake_cap_command(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(String, muster_core::engine::Command), Error> {
    if let Some(ct) = content_type {
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            media.as_str(),
            "application/cap+xml" | "application/xml" | "text/xml"
        ) {
            return Err(Error::BadRequest(format!(
                "send the alert as {}, not {media}",
                cap::MEDIA_TYPE
            )));
        }
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::validation("alert", "the document is not UTF-8"))?;
    let alert = cap::parse(text).map_err(|e| Error::validation(&e.path, e.reason))?;
    let (id, command) = cap::contact_receive(&alert);
    Ok((id, super::commands::parse(command)?))
}

async fn post_intake_cap(
    app: Arc<App>,
    content_type: Option<String>,
    body: Bytes,
) -> Result<Response, Rejection> {
    let (id, command) = match intake_cap_command(content_type.as_deref(), &body) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(result_reply(None, &Err(e))),
    };
    let result = app
        .hub
        .submit(intake_actor(), Some(id.clone()), command)
        .await;
    Ok(result_reply(Some(&id), &result))
}
