//! The HTTP API's filters, one function a route, all assembled in [`routes`]. Each
//! route matches its path first and its method second, so an unknown path is a 404
//! and a known path with the wrong method a 405. Handlers live in [`super::handlers`]
//! and [`super::ops`]; every refusal becomes JSON in [`super::error::recover`].

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::error::{ApiError, recover};
use super::{handlers, ops, web};
use crate::http::App;
use crate::hub::tokens::Session;

/// Every route but `GET /ws`, with errors recovered into the JSON error shape, the
/// security headers of [`web::secure`] on every response, and a tracing span (with a
/// request id) around each request.
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let api = login(app.clone())
        .or(logout(app.clone()))
        .unify()
        .or(state(app.clone()))
        .unify()
        .or(incident(app.clone()))
        .unify()
        .or(recommendations(app.clone()))
        .unify()
        .or(case(app.clone()))
        .unify()
        .or(command(app.clone()))
        .unify()
        .or(intake(app.clone()))
        .unify()
        .or(catalogue(app.clone()))
        .unify()
        .or(places(app.clone()))
        .unify()
        .or(geocode(app.clone()))
        .unify()
        .or(performance(app.clone()))
        .unify()
        .or(incidents_csv(app.clone()))
        .unify()
        .or(contacts_csv(app.clone()))
        .unify()
        .or(audit(app.clone()))
        .unify()
        .or(push_key(app.clone()))
        .unify()
        .or(push_ack(app.clone()))
        .unify()
        .or(privacy_search(app.clone()))
        .unify()
        .or(privacy_export(app.clone()))
        .unify()
        .or(my_locations(app.clone()))
        .unify()
        .boxed();
    // Boxed in two halves: one chain of every route overflows the compiler's query
    // depth when it lays out the filter's type.
    let api = api
        .or(exercise_debrief(app.clone()))
        .unify()
        .or(super::exercise::routes(app.clone()))
        .unify()
        .or(super::interop::routes(app.clone()))
        .unify()
        .or(api_documents())
        .unify()
        .or(settings(app.clone()))
        .unify()
        .or(logo(app.clone()))
        .unify()
        .or(roster_next(app.clone()))
        .unify()
        .or(super::sso::routes(app.clone()))
        .unify()
        .or(import(app.clone()))
        .unify()
        .boxed();
    let ops = healthz()
        .or(readyz(app.clone()))
        .unify()
        .or(metrics(app.clone()))
        .unify();
    let csp = app.csp.clone();
    let all = api
        .or(ops)
        .unify()
        .or(web::routes(app))
        .unify()
        .recover(recover);
    // The browser-facing security headers go on every answer, refusals included.
    warp::path::full()
        .and(all)
        .map(move |path: warp::path::FullPath, reply| secured(path, &csp, reply))
        .with(warp::trace(request_span()))
}

/// `reply` with the security headers for the path it answers.
fn secured(
    path: warp::path::FullPath,
    csp: &warp::http::HeaderValue,
    reply: impl Reply,
) -> Response {
    web::secure(path.as_str(), csp, reply.into_response())
}

/// A span per request: `request{id, method, path}`. The id is the client's
/// `x-request-id` (when short) or a counter, so logs of one request can be grepped.
fn request_span() -> impl Fn(warp::trace::Info<'_>) -> tracing::Span + Clone {
    let next = Arc::new(AtomicU64::new(1));
    move |info: warp::trace::Info<'_>| {
        let id = info
            .request_headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .map(str::to_string)
            .unwrap_or_else(|| format!("r{}", next.fetch_add(1, Ordering::Relaxed)));
        // An acknowledge link's token is a credential: the path is logged without it.
        let path = match info.path().strip_prefix(super::push::ACK_PREFIX) {
            Some(_) => "/api/push/ack/…",
            None => info.path(),
        };
        tracing::info_span!("request", id = %id, method = %info.method(), path = %path)
    }
}

// ----- shared filters --------------------------------------------------------------

/// Injects the shared state.
fn with_app(app: Arc<App>) -> impl Filter<Extract = (Arc<App>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The caller's session from `Authorization: Bearer <token>`, else `unauthorized`.
fn with_session(app: Arc<App>) -> impl Filter<Extract = (Session,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(with_app(app))
        .and_then(|header: Option<String>, app: Arc<App>| async move {
            handlers::authenticate(&app, header.as_deref())
                .await
                .map_err(Rejection::from)
        })
}

/// Passes only requests carrying one of the centre's intake keys.
fn with_intake_key(app: Arc<App>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(with_app(app))
        .and_then(|header: Option<String>, app: Arc<App>| async move {
            handlers::check_intake_key(&app, header.as_deref()).map_err(Rejection::from)
        })
        .untuple_one()
}

/// A JSON body of at most `max_frame_bytes` (64 KiB), parsed with serde's message
/// as the `bad_request` when it does not fit `T`.
fn json_body<T: DeserializeOwned + Send + 'static>(
    app: &App,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone + use<T> {
    warp::body::content_length_limit(app.settings.limits.max_frame_bytes as u64)
        .and(warp::body::bytes())
        .and_then(|body: Bytes| async move {
            serde_json::from_slice::<T>(&body)
                .map_err(|e| Rejection::from(ApiError::bad_request(e.to_string())))
        })
}

/// The client's IP address (see [`super::peer::client_ip`]: the TCP peer, or what a
/// trusted proxy forwards), `unknown` when the transport does not say.
pub(super) fn client_address(
    app: &App,
) -> impl Filter<Extract = (String,), Error = Infallible> + Clone + use<> {
    let trusted = Arc::new(app.settings.server.trusted_proxies.clone());
    warp::ext::optional::<super::Peer>()
        .and(warp::header::headers_cloned())
        .map(
            move |peer: Option<super::Peer>, headers: warp::http::HeaderMap| {
                let Some(peer) = peer else {
                    return "unknown".to_string();
                };
                let forwarded = headers
                    .get_all(super::peer::FORWARDED_FOR)
                    .iter()
                    .filter_map(|v| v.to_str().ok());
                super::peer::client_ip(peer.0.ip(), forwarded, &trusted).to_string()
            },
        )
}

// ----- routes ----------------------------------------------------------------------

/// `POST /api/login {username, password}`.
fn login(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "login")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(client_address(&app))
        .and(json_body(&app))
        .and_then(handlers::login)
}

/// `POST /api/logout`.
fn logout(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "logout")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(handlers::logout)
}

/// `GET /api/state`.
fn state(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "state")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(handlers::state)
}

/// `GET /api/incidents/{id}`.
fn incident(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "incidents" / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(handlers::incident)
}

/// `GET /api/incidents/{id}/recommendations`.
fn recommendations(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "incidents" / String / "recommendations")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(handlers::recommendations)
}

/// `GET /api/roster/next`.
fn roster_next(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "roster" / "next")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(handlers::roster_next)
}

/// `GET /api/cases/{id}[?format=html]`: the evidence pack, as JSON or printable HTML.
fn case(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "cases" / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<handlers::CaseQuery>())
        .and(warp::header::optional::<String>("accept"))
        .and_then(handlers::case)
}

/// `POST /api/commands {id, command}`.
fn command(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "commands")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(with_session(app.clone()))
        .and(json_body(&app))
        .and_then(handlers::command)
}

/// `POST /api/intake/contacts` with an intake key.
fn intake(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "intake" / "contacts")
        .and(warp::post())
        .and(with_intake_key(app.clone()))
        .and(with_app(app.clone()))
        .and(json_body(&app))
        .and_then(handlers::intake)
}

/// `GET /api/catalogue`.
fn catalogue(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "catalogue")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(ops::catalogue)
}

/// `GET /api/places?q=&limit=`.
fn places(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "places")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::places::SearchQuery>())
        .and_then(super::places::places)
}

/// `GET /api/geocode?q=&limit=`.
fn geocode(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "geocode")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::places::SearchQuery>())
        .and_then(super::places::geocode)
}

/// `GET /api/reports/performance?from&to&by`.
fn performance(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "reports" / "performance")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<ops::PerformanceQuery>())
        .and(warp::header::optional::<String>("accept"))
        .and_then(ops::performance)
}

/// `GET /api/reports/incidents.csv?from&to`.
fn incidents_csv(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "reports" / "incidents.csv")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::export::PeriodQuery>())
        .and_then(super::export::incidents)
}

/// `GET /api/reports/contacts.csv?from&to`.
fn contacts_csv(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "reports" / "contacts.csv")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::export::PeriodQuery>())
        .and_then(super::export::contacts)
}

/// `POST /api/import/{users|resources}[?dry_run=true]` (a CSV body) and `GET` on the
/// same paths (the CSV export).
fn import(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    use super::import::Kind;
    warp::path!("api" / "import" / "users")
        .and(warp::post())
        .and(import_post(&app, Kind::Users))
        .or(warp::path!("api" / "import" / "users")
            .and(warp::get())
            .and(import_get(&app, Kind::Users)))
        .unify()
        .or(warp::path!("api" / "import" / "resources")
            .and(warp::post())
            .and(import_post(&app, Kind::Resources)))
        .unify()
        .or(warp::path!("api" / "import" / "resources")
            .and(warp::get())
            .and(import_get(&app, Kind::Resources)))
        .unify()
        .or(warp::path!("api" / "import" / "shifts")
            .and(warp::post())
            .and(import_post(&app, Kind::Shifts)))
        .unify()
        .or(warp::path!("api" / "import" / "shifts")
            .and(warp::get())
            .and(import_get(&app, Kind::Shifts)))
        .unify()
        .boxed()
}

/// An import's session, `?dry_run` and CSV body (at most 2 MiB).
fn import_post(
    app: &Arc<App>,
    kind: super::import::Kind,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<> {
    use super::import as imp;
    with_app(app.clone())
        .and(with_session(app.clone()))
        .and(warp::query::<imp::ImportQuery>())
        .and(warp::body::content_length_limit(imp::MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and_then(move |app, session, q, body| imp::import(kind, app, session, q, body))
}

fn import_get(
    app: &Arc<App>,
    kind: super::import::Kind,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<> {
    with_app(app.clone())
        .and(with_session(app.clone()))
        .and_then(move |app, session| super::import::export(kind, app, session))
}

/// `GET /api/audit/verify`.
fn audit(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "audit" / "verify")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(ops::audit_verify)
}

/// `GET /api/push/key`: the VAPID public key (no session needed).
fn push_key(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "push" / "key")
        .and(warp::get())
        .and(with_app(app))
        .and_then(super::push::key)
}

/// `POST /api/push/ack/{token}`: a push notification's Acknowledge action.
fn push_ack(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "push" / "ack" / String)
        .and(warp::post())
        .and(with_app(app))
        .and_then(super::push::ack)
}

/// `GET /api/privacy/search?q=TEXT` (admin).
fn privacy_search(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "privacy" / "search")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::privacy::SearchQuery>())
        .and_then(super::privacy::search)
}

/// `GET /api/privacy/subjects/{subject_id}?purpose=TEXT` (admin).
fn privacy_export(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "privacy" / "subjects" / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::privacy::ExportQuery>())
        .and_then(super::privacy::export)
}

/// `GET /api/me/locations` (a field user's own location history).
fn my_locations(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "me" / "locations")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and_then(super::privacy::my_locations)
}

/// `GET /api/exercise/debrief[?user_id=]`.
fn exercise_debrief(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "exercise" / "debrief")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(with_session(app))
        .and(warp::query::<super::debrief::DebriefQuery>())
        .and_then(super::debrief::debrief)
}

/// `GET /api/openapi.json` and `GET /api/asyncapi.json`: the API described (no
/// session: they hold no data).
fn api_documents() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let openapi = warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(|| super::describe::openapi());
    let asyncapi = warp::path!("api" / "asyncapi.json")
        .and(warp::get())
        .map(|| super::describe::asyncapi());
    openapi.or(asyncapi).unify().map(|doc: &'static [u8]| {
        let mut res = Response::new(doc.into());
        res.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("application/json"),
        );
        res
    })
}

/// `GET /api/settings`: what the apps show of the centre and its map (no session: the
/// log-in page shows it).
fn settings(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "settings")
        .and(warp::get())
        .and(with_app(app))
        .map(|app: Arc<App>| {
            let s = &app.settings;
            let body = serde_json::json!({
                "name": s.centre.name,
                "logo_url": app.logo.as_ref().map(|_| crate::config::LOGO_PATH),
                "tile_url": (!s.map.tile_url.is_empty()).then_some(&s.map.tile_url),
                "attribution": s.map.attribution,
                "max_zoom": s.map.max_zoom,
                "local_passwords": s.auth.local_passwords,
            });
            handlers::json_reply(&body, warp::http::StatusCode::OK)
        })
}

/// `GET /api/settings/logo`: the centre's logo; `404` when none is set.
fn logo(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "settings" / "logo")
        .and(warp::get())
        .and(with_app(app))
        .and_then(|app: Arc<App>| async move {
            let (kind, data) = app
                .logo
                .clone()
                .ok_or_else(|| Rejection::from(ApiError::not_found("no logo is set")))?;
            let mut res = Response::new(data.into());
            let headers = res.headers_mut();
            headers.insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static(kind),
            );
            headers.insert(
                warp::http::header::CACHE_CONTROL,
                warp::http::HeaderValue::from_static("max-age=300"),
            );
            Ok::<_, Rejection>(res)
        })
}

/// `GET /healthz`.
fn healthz() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .and_then(ops::healthz)
}

/// `GET /readyz`.
fn readyz(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("readyz")
        .and(warp::get())
        .and(with_app(app))
        .and_then(ops::readyz)
}

/// `GET /metrics`, to the addresses in `server.metrics_from` only.
fn metrics(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let allowed = Arc::new(app.settings.server.metrics_from.clone());
    warp::path!("metrics")
        .and(warp::get())
        .and(client_address(&app))
        .and_then(move |address: String| {
            let allowed = allowed.clone();
            async move {
                let ip = address.parse::<std::net::IpAddr>().ok();
                if ip.is_some_and(|ip| allowed.iter().any(|net| net.contains(&ip))) {
                    Ok(())
                } else {
                    Err(Rejection::from(ApiError::forbidden(
                        "metrics are served only to the addresses in server.metrics_from",
                    )))
                }
            }
        })
        .untuple_one()
        .and(with_app(app))
        .and_then(ops::metrics)
}
