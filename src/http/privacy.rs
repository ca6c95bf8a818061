//! The subject-rights routes (docs/PRIVACY.md): an admin finds data subjects and
//! exports what is held about one, each read logged first (`privacy.search`,
//! `privacy.access`: who in the envelope, the purpose, never the search text); a field
//! user sees their own location history and when each point will be erased.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::handlers::json_reply;
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::engine::command as cmd;
use muster_core::engine::{Command, Event, EventKind};
use muster_core::privacy::subject::{self, SubjectId};
use muster_core::privacy::{Category, RecordRef, RecordType};
use muster_log::EventLog;

/// Most points `GET /api/me/locations` returns (the newest are kept).
pub const MAX_LOCATIONS: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    pub purpose: String,
}

fn require_admin(session: &Session) -> Result<(), ApiError> {
    if session.role.can_administer() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only an admin may search and export personal data",
        ))
    }
}

/// `GET /api/privacy/search?q=TEXT` (admin): the search is logged, then answered.
pub async fn search(
    app: Arc<App>,
    session: Session,
    q: SearchQuery,
) -> Result<Response, Rejection> {
    require_admin(&session)?;
    let command = Command::PrivacySearch(cmd::PrivacySearch { q: q.q.clone() });
    app.hub
        .submit(session.actor(), None, command)
        .await
        .map_err(ApiError::from)?;
    let subjects = app.hub.with_state(|s| subject::search(s, &q.q));
    Ok(json_reply(&json!({ "subjects": subjects }), StatusCode::OK))
}

/// `GET /api/privacy/subjects/{subject_id}?purpose=TEXT` (admin): the subject access
/// export, everything held in clear, once the read is logged with its purpose.
pub async fn export(
    subject_id: String,
    app: Arc<App>,
    session: Session,
    q: ExportQuery,
) -> Result<Response, Rejection> {
    require_admin(&session)?;
    let command = Command::PrivacyAccess(cmd::PrivacyAccess {
        subject_id: subject_id.clone(),
        purpose: q.purpose,
    });
    app.hub
        .submit(session.actor(), None, command)
        .await
        .map_err(ApiError::from)?;
    let parsed: SubjectId = subject_id
        .parse()
        .map_err(|e: subject::BadSubjectId| ApiError::bad_request(e.to_string()))?;
    let doc = app
        .hub
        .with_state(|s| subject::export(s, &parsed))
        .ok_or_else(|| ApiError::not_found(format!("subject {subject_id} not found")))?;
    Ok(json_reply(&doc, StatusCode::OK))
}

/// One point of a field user's location history.
#[derive(Debug, Serialize)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
    #[serde(with = "muster_core::time::serde_millis")]
    pub at: DateTime<Utc>,
    /// When the sweep erases it: the midnight after its day plus the retention;
    /// `null` when staff locations are kept until erased on request.
    pub erase_after: Option<String>,
}

/// When a point of `day` is erased under `days` of retention (0: never by time).
pub fn erase_after(day: NaiveDate, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| {
        (day + Duration::days(i64::from(days) + 1))
            .and_time(NaiveTime::MIN)
            .and_utc()
    })
}

/// Every kind but `resource.located`: what the location read skips unparsed.
static NOT_LOCATED: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    EventKind::ALL
        .iter()
        .filter(|k| **k != EventKind::ResourceLocated)
        .map(|k| k.as_str())
        .collect()
});

/// The first seq whose event is at or after `at` (the log's times never go back).
async fn first_seq_at(log: &dyn EventLog, head: u64, at: DateTime<Utc>) -> Result<u64, ApiError> {
    let (mut lo, mut hi) = (1u64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let e = log.read_from(mid - 1, 1).await.map_err(unreadable)?;
        match e.first() {
            Some(e) if e.at < at => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

fn unreadable(e: muster_log::StoreError) -> ApiError {
    tracing::warn!(error = %e, "location history");
    ApiError::unavailable("the event log cannot be read now; try again")
}

/// `GET /api/me/locations` (a field user): their resource's `resource.located` events
/// still held, each with when it will be erased.
pub async fn my_locations(app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    let Some(resource_id) = session.resource_id.clone() else {
        return Err(
            ApiError::not_found("you carry no resource, so no location is kept about you").into(),
        );
    };
    let days = app.hub.engine.centre.privacy.retention.staff_locations;
    let record = RecordRef::new(RecordType::Resource, resource_id.as_str());
    let (first_day, head) = app.hub.with_state(|s| {
        (
            s.privacy
                .location_days
                .get(&resource_id)
                .and_then(|d| d.first().copied()),
            s.seq,
        )
    });
    let mut locations: Vec<Point> = Vec::new();
    if let Some(first_day) = first_day {
        let log = app.hub.log.as_ref();
        let from = first_day.and_time(NaiveTime::MIN).and_utc();
        let mut after = first_seq_at(log, head, from).await?.saturating_sub(1);
        while after < head {
            let page = log
                .read_from_skipping(after, 1_000, &NOT_LOCATED[..])
                .await
                .map_err(unreadable)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for stored in page.iter().filter(|e| e.seq <= head) {
                let Ok(rec) = app.hub.decode(stored) else {
                    continue;
                };
                // Opened with the resource's keys: an erased day reads `null`.
                if let Event::ResourceLocated {
                    resource_id: r,
                    lat: Some(lat),
                    lon: Some(lon),
                } = rec.event
                    && r == resource_id
                {
                    locations.push(Point {
                        lat,
                        lon,
                        at: rec.at,
                        erase_after: erase_after(rec.at.date_naive(), days)
                            .map(muster_core::time::rfc3339),
                    });
                }
            }
        }
        // Days already swept or erased are not held any more.
        app.hub.with_state(|s| {
            locations.retain(|p| {
                !s.privacy
                    .is_day_erased(&record, Category::StaffLocations, p.at.date_naive())
            })
        });
        if locations.len() > MAX_LOCATIONS {
            locations.drain(..locations.len() - MAX_LOCATIONS);
        }
    }
    Ok(json_reply(
        &json!({
            "resource_id": resource_id,
            "retention_days": days,
            "locations": locations,
        }),
        StatusCode::OK,
    ))
}
