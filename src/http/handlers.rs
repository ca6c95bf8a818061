//! Handlers of the API's working routes (sessions, views, commands, intake): plain
//! async functions of the shared state and the parsed request, returning a response
//! or an [`ApiError`] rejection.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use warp::Rejection;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::commands;
use super::error::{ApiError, status_for};
use crate::auth::{hash_password, token_hash, verify_password};
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::domain::ids::{CaseId, IncidentId, UserId};
use muster_core::domain::recommend;
use muster_core::domain::user::{Role, User};
use muster_core::engine::state::CommandOutcome;
use muster_core::engine::{Actor, CommandKind, Error, Record};
use muster_core::projection::view;

/// The same answer for an unknown user, a disabled one and a wrong password, so the
/// API does not say which usernames exist.
const BAD_CREDENTIALS: &str = "wrong username or password";

/// `POST /api/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/commands` body.
#[derive(Debug, Deserialize)]
pub struct CommandRequest {
    /// The client's id for the command; a retry with the same id is answered with the
    /// first result and appends nothing.
    pub id: String,
    /// Parsed by [`commands::parse`] rather than serde here, so an unknown kind is
    /// answered with a result object like any refused command.
    pub command: Value,
}

/// JSON with a status.
pub fn json_reply(value: &impl serde::Serialize, status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// The token from `Authorization: Bearer <token>`.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The live session a request's `Authorization` header opens. A session store that
/// cannot answer is `unavailable` (503), never `unauthorized`: that would log the user
/// out of every app for a blip.
pub async fn authenticate(app: &App, header: Option<&str>) -> Result<Session, ApiError> {
    let token = bearer(header).ok_or_else(|| {
        ApiError::unauthorized("log in first: send Authorization: Bearer <token>")
    })?;
    app.tokens
        .authenticate(token, &app.hub)
        .await
        .map_err(|_| ApiError::unavailable("the session store cannot answer now; try again"))?
        .ok_or_else(|| ApiError::unauthorized("your session has ended; log in again"))
}

/// Ok when the request carries one of the centre's intake keys (only SHA-256 hashes
/// of the keys are kept).
pub fn check_intake_key(app: &App, header: Option<&str>) -> Result<(), ApiError> {
    let key = bearer(header)
        .ok_or_else(|| ApiError::unauthorized("send the intake key as Authorization: Bearer"))?;
    let hash = token_hash(key);
    if app.intake_keys.iter().any(|k| k == &hash) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("unknown intake key"))
    }
}

/// How long a log-in waits for a password-check place before it is answered 503.
const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(2);

/// `POST /api/login`: the throttle (failures per address, per account and address,
/// per account; see [`super::throttle`]) is asked before any password is checked,
/// and the check runs off the async runtime in one of `auth.password_checks` places.
pub async fn login(
    app: Arc<App>,
    address: String,
    req: LoginRequest,
) -> Result<Response, Rejection> {
    let account = req.username.trim().to_lowercase();
    let auth = &app.settings.auth;
    if !auth.local_passwords && !auth.break_glass.contains(&account) {
        return Err(ApiError::new(
            muster_core::engine::Code::LocalLoginDisabled,
            "log-in with a password is switched off: sign in with your organisation's account",
        )
        .into());
    }
    // Never more checks at once than places: each holds 19 MiB and a blocking thread.
    // The place is taken first so that at most that many attempts hold throttle
    // tokens in flight: a burst of right passwords from one address is never refused
    // for tokens that attempts still waiting would have handed back.
    // A shift change brings hundreds of log-ins at once: each waits a moment for a
    // place (waiting costs no Argon2 memory) before it is asked to come back.
    let place = tokio::time::timeout(
        PASSWORD_CHECK_WAIT,
        app.password_checks.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(place)) = place else {
        let e = ApiError::unavailable("the hub is busy checking other log-ins; try again");
        return Ok(with_retry_after(e, Duration::from_secs(1)));
    };
    let attempt = match app.logins.begin(&account, &address, Instant::now()) {
        Ok(a) => a,
        Err(wait) => {
            let e = ApiError::rate_limited("too many failed log-in attempts; wait and try again");
            return Ok(with_retry_after(e, wait));
        }
    };
    let user = app.hub.with_state(|s| {
        s.usernames
            .get(&account)
            .and_then(|id| s.users.get(id))
            .cloned()
    });
    // Read after the user: a password set meanwhile is stored before the state shows
    // it, so at worst the session begins under the old seq and is ended just below.
    let stored = match &user {
        Some(u) => app
            .hub
            .options
            .credentials
            .0
            .get(u.id.as_str())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "log-in: credential store");
                ApiError::unavailable("log-in is not possible now; try again")
            })?,
        None => None,
    };
    let Some(user) = check_password(user, stored, req.password, place).await? else {
        attempt.failed();
        return Err(ApiError::unauthorized(BAD_CREDENTIALS).into());
    };
    drop(attempt);
    let (token, session) = app
        .tokens
        .issue(&user, app.hub.clock.now())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "log-in");
            ApiError::unavailable("sessions cannot be started now; try again")
        })?;
    // The user may have been disabled (or given a new password) while the password was
    // checked; the revoker may already have ended their sessions, before this one began.
    let still = app
        .hub
        .with_state(|s| session.is_current_for(s.users.get(&user.id)));
    if !still {
        app.tokens.revoke(&session.token_hash).await;
        return Err(ApiError::unauthorized(BAD_CREDENTIALS).into());
    }
    let body = json!({
        "token": token,
        "user": login_user(&user),
        "expires_at": muster_core::time::rfc3339(session.expires_at),
    });
    let reply =
        warp::reply::with_header(warp::reply::json(&body), header::CACHE_CONTROL, "no-store");
    Ok(reply.into_response())
}

/// The error with `Retry-After` in whole seconds (at least one).
fn with_retry_after(e: ApiError, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let reply = warp::reply::with_header(e.to_response(), header::RETRY_AFTER, secs.max(1));
    reply.into_response()
}

/// The user when the password matches their `stored` hash and the account is enabled,
/// `None` otherwise. An unknown user (or one without a password) is checked against a
/// dummy hash so every refusal takes as long.
/// `place` is held until the check itself ends, even if the request is abandoned.
async fn check_password(
    user: Option<User>,
    stored: Option<String>,
    password: String,
    place: tokio::sync::OwnedSemaphorePermit,
) -> Result<Option<User>, ApiError> {
    let matches = tokio::task::spawn_blocking(move || {
        let _place = place;
        let hash: &str = match &stored {
            Some(h) => h,
            None => dummy_hash(),
        };
        verify_password(&password, hash)
    })
    .await
    .map_err(|_| ApiError::unavailable("could not check the password; try again"))?;
    Ok(user.filter(|u| matches && !u.disabled))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password, only for timing"))
}

/// `{id, name, role, resource_id?, username}` for the log-in answer.
pub fn login_user(user: &User) -> Value {
    let mut v = json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
    });
    if let Some(r) = &user.resource_id {
        v["resource_id"] = json!(r);
    }
    v
}

/// `POST /api/logout`: ends this session (its sockets are told).
pub async fn logout(app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    app.tokens.revoke(&session.token_hash).await;
    // This session's browsers are no longer theirs to be pushed to.
    crate::notify::push::forget_session(&app.hub, &session.user_id, &session.token_hash).await;
    Ok(json_reply(&json!({"ok": true}), StatusCode::OK))
}

/// `GET /api/state`: the caller's view.
pub async fn state(app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    let viewer = session.viewer();
    let since = app.hub.closed_since();
    let view = app.hub.with_state(|s| view::state_for(s, &viewer, since));
    Ok(json_reply(&view, StatusCode::OK))
}

/// `GET /api/incidents/{id}`: the incident with its timeline (read from the log) and
/// conformance; `not_found` when the caller may not see it.
pub async fn incident(key: String, app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    let viewer = session.viewer();
    let not_found = || ApiError::not_found(format!("incident {key} not found"));
    let id = app
        .hub
        .with_state(|s| incident_by_key(s, &key))
        .ok_or_else(not_found)?;
    let seqs = app
        .hub
        .with_state(|s| {
            view::may_see_incident(s, &viewer, &id)
                .then(|| s.timelines.get(&id).cloned().unwrap_or_default())
        })
        .ok_or_else(not_found)?;
    let events = read_records(&app.hub, &seqs).await?;
    let detail = app
        .hub
        .with_state(|s| view::incident_detail(s, &viewer, &id, &events))
        .ok_or_else(not_found)?;
    Ok(json_reply(&detail, StatusCode::OK))
}

/// An incident by its id or by its human reference (`INC-2026-000123`, as a caller
/// quotes it, perhaps long after it left the snapshot).
pub(crate) fn incident_by_key(
    s: &muster_core::engine::state::State,
    key: &str,
) -> Option<IncidentId> {
    let id = IncidentId(key.to_string());
    if s.incidents.contains_key(&id) {
        return Some(id);
    }
    // Only what looks like a reference is looked for among every incident.
    if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("INC-")) {
        return None;
    }
    s.incidents
        .values()
        .find(|i| i.reference.eq_ignore_ascii_case(key))
        .map(|i| i.id.clone())
}

/// `GET /api/cases/{id}`: the case's evidence pack (the case, each linked incident's
/// timeline, conformance and messages); operators and supervisors only, `not_found`
/// otherwise so a case's existence does not leak.
pub async fn case(
    id: String,
    app: Arc<App>,
    session: Session,
    q: CaseQuery,
    accept: Option<String>,
) -> Result<Response, Rejection> {
    let viewer = session.viewer();
    let id = CaseId(id);
    let not_found = || ApiError::not_found(format!("case {id} not found"));
    let seqs = app
        .hub
        .with_state(|s| {
            (view::may_see_cases(&viewer) && s.cases.contains_key(&id))
                .then(|| view::case_timeline_seqs(s, &id))
        })
        .ok_or_else(not_found)?;
    let events = read_records(&app.hub, &seqs).await?;
    let (pack, names) = app
        .hub
        .with_state(|s| {
            let pack = view::case_evidence(s, &viewer, &id, &events)?;
            let names: BTreeMap<String, String> = s
                .users
                .values()
                .map(|u| (u.id.to_string(), u.name.clone()))
                .collect();
            Some((pack, names))
        })
        .ok_or_else(not_found)?;
    if !q.wants_html(accept.as_deref()) {
        return Ok(json_reply(&pack, StatusCode::OK));
    }
    let now = muster_core::time::rfc3339(app.hub.clock.now());
    let html = super::evidence::render(&pack, &names, &now);
    let reply = warp::reply::with_header(html, header::CONTENT_TYPE, "text/html; charset=utf-8");
    let reply = warp::reply::with_header(
        reply,
        header::CONTENT_DISPOSITION,
        format!("inline; filename=\"case-{id}.html\""),
    );
    Ok(reply.into_response())
}

/// The query of `GET /api/cases/{id}`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CaseQuery {
    /// `html` for the printable page; JSON otherwise.
    pub format: Option<String>,
}

impl CaseQuery {
    /// HTML when asked by `?format=html`, or by an `Accept` that prefers it to JSON
    /// (a browser opening the link); `?format=json` always gets JSON.
    fn wants_html(&self, accept: Option<&str>) -> bool {
        match self.format.as_deref() {
            Some(f) => f.eq_ignore_ascii_case("html"),
            None => accept.is_some_and(|a| a.contains("text/html")),
        }
    }
}

/// The records at `seqs` (ascending), read in contiguous runs.
/// The records at `seqs` from the log, with the personal data erased since blanked.
async fn read_records(hub: &crate::hub::Hub, seqs: &[u64]) -> Result<Vec<Record>, ApiError> {
    let log = hub.log.as_ref();
    let vault = &hub.vault;
    let unavailable = |e: String| {
        tracing::warn!(error = %e, "reading a timeline");
        ApiError::unavailable("the event log cannot be read now; try again")
    };
    let mut out = Vec::with_capacity(seqs.len());
    for run in seqs.chunk_by(|a, b| b == &(a + 1)) {
        let stored = log
            .read_from(run[0] - 1, run.len())
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        for s in &stored {
            out.push(vault.decode(s).map_err(|e| unavailable(e.to_string()))?);
        }
    }
    hub.with_state(|s| {
        for r in &mut out {
            muster_core::privacy::erase::redact(r, &s.privacy);
        }
    });
    Ok(out)
}

/// `GET /api/incidents/{id}/recommendations`: operators and supervisors only.
pub async fn recommendations(
    id: String,
    app: Arc<App>,
    session: Session,
) -> Result<Response, Rejection> {
    if !session.role.can_dispatch() {
        return Err(ApiError::forbidden("only the desk may ask for recommendations").into());
    }
    let id = IncidentId(id);
    let centre = app.hub.engine.centre.clone();
    let ranked = app.hub.with_state(|s| {
        let incident = s.incidents.get(&id)?;
        let ranked = centre
            .incident_type(&incident.incident_type)
            .map(|kind| {
                let now = app.hub.clock.now();
                recommend::rank_on_roster(
                    kind,
                    &incident.location,
                    s.resources.values(),
                    &centre.speeds_kmh,
                    &s.jobs_today(now),
                    &muster_core::engine::timers::roster_for(s, &centre, incident, now),
                )
            })
            .unwrap_or_default();
        Some(ranked)
    });
    let ranked = ranked.ok_or_else(|| ApiError::not_found(format!("incident {id} not found")))?;
    let body = json!({ "incident_id": id, "recommendations": ranked });
    Ok(json_reply(&body, StatusCode::OK))
}

/// `GET /api/roster/next`: the next shift change (desk roles), `{next: null}` when
/// no shift starts or ends later.
pub async fn roster_next(app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    if !session.role.sees_everything() {
        return Err(ApiError::forbidden("the roster is the desk's").into());
    }
    let now = app.hub.clock.now();
    let next = app
        .hub
        .with_state(|s| muster_core::domain::roster::next_change(s.shifts.values(), now));
    Ok(json_reply(&json!({ "next": next }), StatusCode::OK))
}

/// `POST /api/commands`: the WebSocket's result object; HTTP 200 when accepted, the
/// error's status when refused.
pub async fn command(
    app: Arc<App>,
    session: Session,
    req: CommandRequest,
) -> Result<Response, Rejection> {
    let result = run_command(&app, &session, &req.id, req.command).await;
    Ok(result_reply(Some(&req.id), &result))
}

async fn run_command(
    app: &App,
    session: &Session,
    id: &str,
    command: Value,
) -> Result<CommandOutcome, Error> {
    let actor = session.actor();
    commands::check_id(id)?;
    let command = commands::parse(command)?;
    let command = commands::for_session(command, &session.token_hash, app.push.as_deref())?;
    let command = commands::prepare_for(&actor, command).await?;
    app.hub.submit(actor, Some(id.to_string()), command).await
}

pub(crate) fn result_reply(id: Option<&str>, result: &Result<CommandOutcome, Error>) -> Response {
    let status = match result {
        Ok(_) => StatusCode::OK,
        Err(e) => status_for(e.code()),
    };
    let body = commands::result_json_for(id, result);
    let reply = warp::reply::with_header(body, header::CONTENT_TYPE, "application/json");
    warp::reply::with_status(reply, status).into_response()
}

/// The actor every intake gateway submits as.
pub fn intake_actor() -> Actor {
    Actor {
        user_id: UserId("intake".into()),
        role: Role::Intake,
        resource_id: None,
    }
}

/// `POST /api/intake/contacts`: a `contact.receive` from a gateway, `kind` optional,
/// `id` (optional) de-duplicating retries.
pub async fn intake(app: Arc<App>, body: Value) -> Result<Response, Rejection> {
    let (id, command) = match intake_command(body) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(result_reply(None, &Err(e))),
    };
    let result = app.hub.submit(intake_actor(), id.clone(), command).await;
    Ok(result_reply(id.as_deref(), &result))
}

/// Splits an intake body into its id and its `contact.receive` command.
pub fn intake_command(
    body: Value,
) -> Result<(Option<String>, muster_core::engine::Command), Error> {
    let Value::Object(mut fields) = body else {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    };
    let id = match fields.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            commands::check_id(&s)?;
            Some(s)
        }
        Some(_) => return Err(Error::BadRequest("id must be a string".into())),
    };
    let intake = CommandKind::ContactReceive;
    match fields.get("kind") {
        None => {
            fields.insert("kind".into(), json!(intake));
        }
        Some(k) if k == intake.as_str() => {}
        Some(_) => {
            return Err(Error::BadRequest(format!("intake only takes {intake}")));
        }
    }
    Ok((id, commands::parse(Value::Object(fields))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn intake_bodies_become_contact_receive() {
        let (id, cmd) = intake_command(json!({
            "id": "gw-1", "channel": "sms", "summary": "Tree down", "caller": {"phone": "+44"}
        }))
        .unwrap();
        assert_eq!(id.as_deref(), Some("gw-1"));
        assert_eq!(cmd.kind(), "contact.receive");
        let e = intake_command(json!({"kind": "incident.open"})).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        let e = intake_command(json!({"channel": "pigeon", "summary": "x"})).unwrap_err();
        assert!(e.to_string().contains("pigeon"), "{e}");
    }
}
