//! `GET /api/exercise/debrief`: the exercise's debrief ([`muster_core::projection::debrief`])
//! from the whole exercise log. Supervisors and admins see every trainee (or one, with
//! `?user_id=`); anyone else only their own figures and the incidents they acted on. A
//! live hub answers `404 not_an_exercise`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::handlers::json_reply;
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::domain::ids::UserId;
use muster_core::domain::user::Role;
use muster_core::engine::{Code, Record};
use muster_core::projection::debrief;
use muster_log::EventLog;

/// How many records one read of the log returns.
const PAGE: usize = 10_000;

/// The query of `GET /api/exercise/debrief`.
#[derive(Debug, Default, Deserialize)]
pub struct DebriefQuery {
    /// One trainee (supervisors and admins; anyone else may name only themselves).
    pub user_id: Option<String>,
}

/// `GET /api/exercise/debrief[?user_id=]`.
pub async fn debrief(
    app: Arc<App>,
    session: Session,
    q: DebriefQuery,
) -> Result<Response, Rejection> {
    let Some(exercise) = app.hub.options.exercise.clone() else {
        return Err(ApiError::new(
            Code::NotAnExercise,
            "this hub runs no exercise: the debrief belongs to an exercise's own hub",
        )
        .into());
    };
    let sees_all = session.role.can_review() || session.role == Role::Admin;
    let asked = q.user_id.filter(|u| !u.is_empty()).map(UserId);
    if !sees_all && asked.as_ref().is_some_and(|u| *u != session.user_id) {
        return Err(ApiError::forbidden("you may see only your own debrief").into());
    }
    let records = read_all(app.hub.log.as_ref(), &app.hub.vault)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "reading the log for the debrief");
            ApiError::unavailable(format!("the event log cannot be read now ({e}); try again"))
        })?;
    // Before the exercise made its account nothing is the simulator's.
    let simulator = app
        .hub
        .with_state(crate::hub::exercise::simulator_id)
        .unwrap_or_else(|| UserId(crate::hub::exercise::SIMULATOR_USERNAME.into()));
    let now = app.hub.clock.now();
    let mut d = debrief::compute(
        &exercise.scenario.contacts(),
        &app.hub.engine.centre,
        &simulator,
        &records,
        now,
    );
    if !sees_all {
        d = d.only_for(&session.user_id);
    } else if let Some(user) = &asked {
        d = d.only_for(user);
    }
    Ok(json_reply(
        &json!({
            "scenario": exercise.scenario.name,
            "title": exercise.scenario.title,
            "started_at": exercise.started_at,
            "speed": exercise.speed,
            "generated_at": now,
            "trainees": d.trainees,
            "incidents": d.incidents,
        }),
        StatusCode::OK,
    ))
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Store(#[from] muster_log::StoreError),
    #[error("{0}")]
    Unreadable(#[from] muster_vault::VaultError),
}

/// Every record of the log, in order (an exercise's log is small).
async fn read_all(
    log: &dyn EventLog,
    vault: &muster_vault::Vault,
) -> Result<Vec<Record>, ReadError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = log.read_from(after, PAGE).await?;
        let Some(last) = page.last().map(|s| s.seq) else {
            break;
        };
        for s in &page {
            out.push(vault.decode(s)?);
        }
        after = last;
    }
    Ok(out)
}
