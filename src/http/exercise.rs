//! Exercise controls: `GET /api/exercise` (what is being played, to anyone: the log-in
//! page shows the banner before anyone signs in) and `POST /api/exercise/stop`
//! (supervisor, admin). On a live hub every exercise route answers 404
//! `not_an_exercise`, before looking at the session. `GET /api/mode` answers on every
//! hub: `{mode: "live"}` or `{mode: "exercise", exercise: {…}}`.

use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::App;
use super::error::ApiError;
use super::handlers::{authenticate, json_reply};
use crate::hub::exercise::Exercise;
use muster_core::domain::user::Role;
use muster_core::engine::Code;

/// The exercise this hub runs, or the refusal every exercise route gives on a live hub.
pub fn exercise_of(app: &App) -> Result<Arc<Exercise>, ApiError> {
    app.hub.options.exercise.clone().ok_or_else(|| {
        ApiError::new(
            Code::NotAnExercise,
            "this hub is live: exercise controls only work under `muster exercise`",
        )
    })
}

/// `{scenario, title, status, started_at, speed}`.
pub fn describe(exercise: &Exercise) -> serde_json::Value {
    json!({
        "scenario": exercise.scenario.name,
        "title": exercise.scenario.title,
        "status": exercise.status(),
        "started_at": muster_core::time::rfc3339(exercise.started_at),
        "speed": exercise.speed,
    })
}

/// `GET /api/exercise`, `POST /api/exercise/stop`, and `GET /api/mode` (which every
/// hub answers, so the apps learn whether to show the banner without a 404 in the
/// browser's console on a live hub).
pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let get_app = app.clone();
    let status = warp::path!("api" / "exercise")
        .and(warp::get())
        .and_then(move || {
            let app = get_app.clone();
            async move {
                let exercise = exercise_of(&app).map_err(Rejection::from)?;
                Ok::<_, Rejection>(json_reply(&describe(&exercise), StatusCode::OK))
            }
        });
    let stop_app = app.clone();
    let stop = warp::path!("api" / "exercise" / "stop")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and_then(move |header: Option<String>| {
            let app = app.clone();
            async move { stop(&app, header.as_deref()).await.map_err(Rejection::from) }
        });
    let mode_app = stop_app.clone();
    let mode = warp::path!("api" / "mode").and(warp::get()).map(move || {
        let body = match &mode_app.hub.options.exercise {
            Some(exercise) => json!({"mode": "exercise", "exercise": describe(exercise)}),
            None => json!({"mode": "live"}),
        };
        json_reply(&body, StatusCode::OK)
    });
    status.or(stop).unify().or(mode).unify()
}

async fn stop(app: &App, header: Option<&str>) -> Result<Response, ApiError> {
    let exercise = exercise_of(app)?;
    let session = authenticate(app, header).await?;
    if !matches!(session.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::forbidden(
            "only a supervisor or an admin may stop an exercise",
        ));
    }
    exercise.end();
    tracing::info!(user = %session.user_id, "exercise stopped");
    Ok(json_reply(&describe(&exercise), StatusCode::OK))
}
