//! Single sign-on routes (OpenID Connect, see [`crate::oidc`]):
//!
//! - `GET /api/auth/providers`: `[{id, name}]` for the log-in page's buttons;
//! - `GET /auth/oidc/{id}/login[?next=/path]`: `302` to the provider;
//! - `GET /auth/oidc/{id}/callback?code&state`: checks the answer, finds or creates the
//!   account, starts a session and `302`s to `/#sso=<one-time code>` (a fragment: it
//!   never reaches a server log); a refusal `302`s to `/#sso_error=<code>`;
//! - `POST /api/auth/oidc/exchange {code}`: the session JSON `POST /api/login` answers
//!   (plus `next`), once, within a minute.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::handlers::{json_reply, login_user};
use crate::auth::{new_token, token_hash};
use crate::http::App;
use crate::oidc::{MAX_PENDING_PER_ADDRESS, Person, Provider, SsoError, safe_next, username_from};
use muster_core::domain::user::{Identity, Role, User, identity_key};
use muster_core::engine::command as cmd;
use muster_core::engine::{Actor, Command};

/// Every single sign-on route.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    providers(app.clone())
        .or(login(app.clone()))
        .unify()
        .or(callback(app.clone()))
        .unify()
        .or(exchange(app))
        .unify()
}

fn with_app(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// `GET /api/auth/providers`.
fn providers(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "auth" / "providers")
        .and(warp::get())
        .and(with_app(app))
        .map(|app: Arc<App>| {
            let list: Vec<Value> = app
                .sso
                .providers
                .iter()
                .map(|p| json!({"id": p.settings.id, "name": p.settings.name}))
                .collect();
            json_reply(&list, StatusCode::OK)
        })
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /auth/oidc/{id}/login[?next=/path]`.
fn login(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "oidc" / String / "login")
        .and(warp::get())
        .and(super::api::client_address(&app))
        .and(with_app(app))
        .and(warp::query::<LoginQuery>())
        .and_then(start)
}

async fn start(
    id: String,
    address: String,
    app: Arc<App>,
    q: LoginQuery,
) -> Result<Response, Rejection> {
    let provider = known(&app, &id)?;
    let started = app
        .sso
        .pending
        .count_where(|p| p.address == address, Instant::now());
    if started >= MAX_PENDING_PER_ADDRESS {
        tracing::warn!(%address, "single sign-on: too many unfinished sign-ins from one address");
        return Ok(refused(SsoError::Busy));
    }
    let next = q.next.as_deref().and_then(safe_next);
    match provider.start(next).await {
        Ok((url, state, mut pending)) => {
            pending.address = address;
            app.sso.pending.insert(state, pending, Instant::now());
            Ok(redirect(&url))
        }
        Err(e) => Ok(refused(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /auth/oidc/{id}/callback?code&state` (or `?error=…&state`).
fn callback(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "oidc" / String / "callback")
        .and(warp::get())
        .and(with_app(app))
        .and(warp::query::<CallbackQuery>())
        .and_then(|id: String, app: Arc<App>, q: CallbackQuery| async move {
            let provider = known(&app, &id)?;
            Ok::<_, Rejection>(match finish(&app, provider, q).await {
                Ok(code) => redirect(&format!("/#sso={code}")),
                Err(e) => refused(e),
            })
        })
}

/// The callback's work: the one-time code for the session, or why not.
async fn finish(app: &App, provider: &Provider, q: CallbackQuery) -> Result<String, SsoError> {
    // The state is taken first, whatever the answer: it is single use.
    let pending = q
        .state
        .as_deref()
        .and_then(|s| app.sso.pending.take(s, Instant::now()));
    if let Some(error) = &q.error {
        // The provider's own code only (never its free-text description).
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        tracing::info!(provider = %provider.settings.id, %error, "single sign-on refused by the provider");
        return Err(SsoError::Denied);
    }
    let pending = pending
        .filter(|p| p.provider == provider.settings.id)
        .ok_or(SsoError::State)?;
    let code = q.code.filter(|c| !c.is_empty()).ok_or(SsoError::Failed)?;
    let next = pending.next.clone();
    let person = provider.finish(code, pending).await?;
    let user = account(app, provider, &person).await?;
    let (token, session) = app
        .tokens
        .issue(&user, app.hub.clock.now())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: session store");
            SsoError::Unavailable
        })?;
    let mut body = json!({
        "token": token,
        "user": login_user(&user),
        "expires_at": muster_core::time::rfc3339(session.expires_at),
    });
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    let handoff = new_token();
    app.sso
        .handoffs
        .insert(token_hash(&handoff), body, Instant::now());
    tracing::info!(provider = %provider.settings.id, user_id = %user.id, "signed in through single sign-on");
    Ok(handoff)
}

/// The account for a verified person: the one linked to their identity (disabled at
/// once when their mapped role is gone), or a new one when they have a role.
async fn account(app: &App, provider: &Provider, person: &Person) -> Result<User, SsoError> {
    let key = identity_key(&provider.settings.id, &person.subject);
    let linked = app.hub.with_state(|s| {
        s.identities
            .get(&key)
            .and_then(|id| s.users.get(id))
            .cloned()
    });
    match (linked, person.role) {
        (Some(user), _) if user.disabled => Err(SsoError::Disabled),
        (Some(user), None) => {
            let disable = Command::UserDisable(cmd::UserDisable {
                user_id: user.id.clone(),
            });
            if let Err(e) = app.hub.submit(Actor::system(), None, disable).await {
                tracing::warn!(user_id = %user.id, error = %e, "single sign-on: could not disable");
                return Err(SsoError::Unavailable);
            }
            tracing::info!(user_id = %user.id, "disabled: no mapped role at the provider any more");
            Err(SsoError::Disabled)
        }
        (Some(user), Some(role)) if role != user.role => sync_role(app, user, role).await,
        (Some(user), Some(_)) => Ok(user),
        (None, None) => Err(SsoError::NoRole),
        (None, Some(Role::Field)) => Err(SsoError::Field),
        (None, Some(role)) => create(app, provider, person, role).await,
    }
}

/// A linked account whose mapped role changed at the provider: the role follows the
/// provider (`user.update` as the hub, which also ends the user's other sessions). If
/// that cannot be recorded the sign-in is refused, never let in with the old role.
async fn sync_role(app: &App, user: User, role: Role) -> Result<User, SsoError> {
    let update = Command::UserUpdate(cmd::UserUpdate {
        user_id: user.id.clone(),
        name: None,
        role: Some(role),
        resource_id: None,
    });
    if let Err(e) = app.hub.submit(Actor::system(), None, update).await {
        tracing::warn!(user_id = %user.id, error = %e, "single sign-on: could not change the role");
        return Err(SsoError::RoleChanged);
    }
    tracing::info!(user_id = %user.id, from = user.role.as_str(), to = role.as_str(), "single sign-on: the mapped role changed");
    app.hub
        .with_state(|s| s.users.get(user.id.as_str()).cloned())
        .ok_or(SsoError::Failed)
}

/// Creates the account of a first-time person with `user.create` (no password, linked
/// to the identity), as the hub.
async fn create(
    app: &App,
    provider: &Provider,
    person: &Person,
    role: Role,
) -> Result<User, SsoError> {
    let base = username_from(
        person.preferred_username.as_deref(),
        person.email.as_deref(),
    )
    .unwrap_or_else(|| format!("{}-user", provider.settings.id));
    let username = app.hub.with_state(|s| {
        std::iter::once(base.clone())
            .chain((2..1000).map(|n| format!("{base}-{n}")))
            .find(|u| !s.usernames.contains_key(u))
    });
    let Some(username) = username else {
        return Err(SsoError::Failed);
    };
    let name = person
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.chars().take(100).collect());
    let command = Command::UserCreate(cmd::UserCreate {
        username,
        role,
        password: String::new(),
        name,
        resource_id: None,
        identity: Some(Identity {
            provider: provider.settings.id.clone(),
            subject: person.subject.clone(),
        }),
        password_hash: None,
    });
    let outcome = app
        .hub
        .submit(Actor::system(), None, command)
        .await
        .map_err(|e| {
            tracing::warn!(provider = %provider.settings.id, error = %e, "single sign-on: could not create the account");
            SsoError::Failed
        })?;
    let id = outcome.data.get("user_id").cloned().unwrap_or_default();
    app.hub
        .with_state(|s| s.users.get(id.as_str()).cloned())
        .ok_or(SsoError::Failed)
}

#[derive(Debug, Deserialize)]
pub struct ExchangeRequest {
    pub code: String,
}

/// `POST /api/auth/oidc/exchange {code}`.
fn exchange(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "auth" / "oidc" / "exchange")
        .and(warp::post())
        .and(with_app(app))
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json())
        .and_then(|app: Arc<App>, req: ExchangeRequest| async move {
            let body = app
                .sso
                .handoffs
                .take(&token_hash(&req.code), Instant::now())
                .ok_or_else(|| {
                    Rejection::from(ApiError::unauthorized(
                        "this sign-in code is unknown, used or expired; sign in again",
                    ))
                })?;
            let reply = warp::reply::with_header(
                warp::reply::json(&body),
                header::CACHE_CONTROL,
                "no-store",
            );
            Ok::<_, Rejection>(reply.into_response())
        })
}

fn known<'a>(app: &'a App, id: &str) -> Result<&'a Provider, Rejection> {
    app.sso
        .provider(id)
        .ok_or_else(|| ApiError::not_found(format!("no single sign-on provider {id:?}")).into())
}

/// `302 Found` to `location`, not cached.
fn redirect(location: &str) -> Response {
    let mut res = Response::new("".into());
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(v) = header::HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// Back to the log-in page, which shows the message for `e`.
fn refused(e: SsoError) -> Response {
    redirect(&format!("/#sso_error={}", e.code()))
}
