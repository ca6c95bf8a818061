//! Handlers of the reference and operations routes: the catalogue, reports, the audit
//! walk of the hash chain, health, readiness and Prometheus metrics.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use warp::Rejection;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::handlers::json_reply;
use crate::http::App;
use crate::hub::metrics::Exported;
use crate::hub::tokens::Session;
use muster_core::domain::assignment::AssignmentStatus;
use muster_core::domain::case::CaseStatus;
use muster_core::domain::contact::ContactStatus;
use muster_core::domain::incident::IncidentStatus;
use muster_core::domain::support::PlanStatus;
use muster_core::engine::{Record, State};
use muster_core::projection::review::{self, GroupBy, Review};
use muster_log::{EventLog, StoreError, StoredEvent};

/// `GET /api/catalogue`: the services the centre offers, with their call scripts and
/// targets (`{name, types: […]}`).
pub async fn catalogue(app: Arc<App>, _session: Session) -> Result<Response, Rejection> {
    Ok(json_reply(
        &app.hub.engine.centre.catalogue(),
        StatusCode::OK,
    ))
}

/// The query of `GET /api/reports/performance`.
#[derive(Debug, Default, Deserialize)]
pub struct PerformanceQuery {
    /// Start of the period (RFC 3339 or a date), echoed back.
    pub from: Option<String>,
    /// End of the period, echoed back.
    pub to: Option<String>,
    /// Grouping: `operator`, `team`, `type` (default), `priority` or `channel`.
    pub by: Option<String>,
}

/// How many records one read of the log returns while building a report.
const REPORT_PAGE: usize = 10_000;

/// `GET /api/reports/performance`: supervisors only. Reads the log page by page into a
/// [`Review`] and answers the KPIs per group as JSON, or as CSV when the client
/// accepts `text/csv`.
pub async fn performance(
    app: Arc<App>,
    session: Session,
    q: PerformanceQuery,
    accept: Option<String>,
) -> Result<Response, Rejection> {
    require_reviewer(&session)?;
    let by = match q.by.as_deref() {
        None => GroupBy::Type,
        Some(b) => GroupBy::parse(b).ok_or_else(|| {
            ApiError::bad_request("by must be operator, team, type, priority or channel")
        })?,
    };
    let from = parse_bound("from", q.from.as_deref(), false)?.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = parse_bound("to", q.to.as_deref(), true)?.unwrap_or(DateTime::<Utc>::MAX_UTC);
    if to <= from {
        return Err(ApiError::bad_request("to must be after from").into());
    }
    let review = read_review(app.hub.log.as_ref(), &app.hub.vault, from, to)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "reading the log for a report");
            ApiError::unavailable(format!("the event log cannot be read now ({e}); try again"))
        })?;
    let report = review.finish(&app.hub.engine.centre, by);
    if accept.is_some_and(|a| a.contains("text/csv")) {
        let reply = warp::reply::with_header(
            review::to_csv(&report),
            header::CONTENT_TYPE,
            "text/csv; charset=utf-8",
        );
        return Ok(reply.into_response());
    }
    Ok(json_reply(&report_json(&report, &q), StatusCode::OK))
}

/// Why a review could not read the log.
#[derive(Debug, thiserror::Error)]
pub enum ReviewReadError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unreadable(#[from] muster_vault::VaultError),
}

/// Reads the whole log, page by page, into a [`Review`] of `[from, to)`: the route's
/// path, shared with `muster bench report`. Events the review has no use for
/// ([`review::needs`]) are not even parsed, and reading stops at the period's end.
pub async fn read_review(
    log: &dyn EventLog,
    vault: &muster_vault::Vault,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Review, ReviewReadError> {
    let mut review = Review::new(from, to);
    let read = |after| log.read_from_skipping(after, REPORT_PAGE, review::SKIPPED_KINDS);
    let mut page = read(0).await?;
    // The next page is read (on the store's thread) while this one is folded.
    while let Some(last) = page.last().map(|s| s.seq) {
        let fold = async {
            for rec in parse_parallel(vault, &page) {
                let rec = rec?;
                if rec.at >= to {
                    return Ok(true);
                }
                review.push(&rec);
            }
            Ok::<_, ReviewReadError>(false)
        };
        let (next, done) = tokio::join!(read(last), fold);
        if done? {
            break;
        }
        page = next?;
    }
    Ok(review)
}

/// Parses a page of events on every core (parsing is most of a report's work); the
/// records come back in log order.
fn parse_parallel(
    vault: &muster_vault::Vault,
    page: &[StoredEvent],
) -> Vec<Result<Record, ReviewReadError>> {
    let parse = |s: &StoredEvent| vault.decode(s).map_err(ReviewReadError::from);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || page.len() < 1_000 {
        return page.iter().map(parse).collect();
    }
    let chunk = page.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = page
            .chunks(chunk)
            .map(|c| scope.spawn(move || c.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("parsing does not panic"))
            .collect()
    })
}

/// The report as JSON, with the period echoed as the caller gave it (open ends null).
fn report_json(report: &review::Report, q: &PerformanceQuery) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("reports serialise");
    v["from"] = json!(q.from);
    v["to"] = json!(q.to);
    v
}

/// A period bound: RFC 3339, or a date (`from`: its start; `to`: the end of that day).
fn parse_bound(
    field: &str,
    value: Option<&str>,
    end_of_day: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!("{field} must be a date (YYYY-MM-DD) or RFC 3339"))
    })?;
    let date = if end_of_day {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(Some(
        date.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc(),
    ))
}

/// `GET /api/audit/verify`: supervisors only; walks the whole hash chain.
pub async fn audit_verify(app: Arc<App>, session: Session) -> Result<Response, Rejection> {
    require_reviewer(&session)?;
    let unavailable = |e: muster_log::StoreError| {
        tracing::warn!(error = %e, "audit verify");
        ApiError::unavailable("the event log cannot be read now; try again")
    };
    let report = app.hub.log.verify().await.map_err(unavailable)?;
    // The head too, so a check before and after can tell the log was not touched.
    let (head_seq, head_hash) = app.hub.log.head().await.map_err(unavailable)?;
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    body["head_seq"] = json!(head_seq);
    body["head_hash"] = json!(head_hash);
    Ok(json_reply(&body, StatusCode::OK))
}

fn require_reviewer(session: &Session) -> Result<(), ApiError> {
    if session.role.can_review() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only a supervisor may do this"))
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Result<Response, Rejection> {
    Ok(json_reply(&json!({"ok": true}), StatusCode::OK))
}

/// `GET /readyz`: 200 when the event log answers (and the server is not stopping),
/// with how durable it is; 503 otherwise. The writer's verdict comes first: a full or
/// read-only disk still answers reads, but the hub cannot accept a command until the
/// writer has seen a write succeed again.
pub async fn readyz(app: Arc<App>) -> Result<Response, Rejection> {
    let seq = app.hub.seq();
    if *app.shutdown.borrow() {
        return Ok(not_ready("shutting down", seq));
    }
    if let Some(reason) = app.hub.metrics.store.reason() {
        return Ok(not_ready(
            &format!("the event log cannot be written: {reason}; the hub is retrying"),
            seq,
        ));
    }
    let store = async {
        app.hub.log.head().await?;
        app.hub.log.durability().await
    };
    Ok(match store.await {
        Ok(durability) => json_reply(
            &json!({"ready": true, "store": durability, "seq": seq}),
            StatusCode::OK,
        ),
        Err(e) => not_ready(&e.to_string(), seq),
    })
}

/// `503 {"ready": false, "reason", "seq"}`.
fn not_ready(reason: &str, seq: u64) -> Response {
    json_reply(
        &json!({"ready": false, "reason": reason, "seq": seq}),
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(app: Arc<App>) -> Result<Response, Rejection> {
    let body = prometheus_text(&app);
    let reply = warp::reply::with_header(
        body,
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    Ok(reply.into_response())
}

/// The hub's metrics in the text exposition format: the gauges of this moment are set
/// first (from the state, the sockets and the sessions), then the registry is written.
pub fn prometheus_text(app: &App) -> String {
    let m = &app.hub.metrics;
    let e = &m.exported;
    e.connections.set(app.registry.len() as i64);
    e.sessions.set(app.tokens.len() as i64);
    e.seq.set(app.hub.seq() as i64);
    for (role, users) in app.registry.users_by_role() {
        e.users_connected
            .with_label_values(&[role.as_str()])
            .set(users as i64);
    }
    let now = app.hub.clock.now();
    app.hub.with_state(|s| duty_gauges(e, s, now));
    e.text(m)
}

/// What a duty manager watches, counted from the state: the queue, open incidents by
/// priority and status, assignments not acknowledged, and targets breached on what is
/// still open. One pass over the contacts and incidents, at scrape time only.
fn duty_gauges(e: &Exported, s: &State, now: DateTime<Utc>) {
    let mut waiting = 0;
    let mut oldest: Option<DateTime<Utc>> = None;
    for c in s.contacts.values() {
        if c.status == ContactStatus::Queued {
            waiting += 1;
            oldest = Some(oldest.map_or(c.received_at, |o| o.min(c.received_at)));
        }
    }
    e.contacts_waiting.set(waiting);
    let wait = oldest.map_or(0.0, |o| (now - o).num_milliseconds().max(0) as f64 / 1000.0);
    e.contact_oldest_wait.set(wait);

    let priorities = ["P1", "P2", "P3", "P4", "none"];
    let open: Vec<IncidentStatus> = IncidentStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.is_open())
        .collect();
    let mut counts = vec![0i64; priorities.len() * open.len()];
    for i in s.incidents.values().filter(|i| i.status.is_open()) {
        let p = i.priority.map_or(4, |p| p as usize);
        if let Some(st) = open.iter().position(|s| *s == i.status) {
            counts[p * open.len() + st] += 1;
        }
    }
    for (pi, p) in priorities.iter().enumerate() {
        for (si, st) in open.iter().enumerate() {
            e.incidents_open
                .with_label_values(&[p, st.name()])
                .set(counts[pi * open.len() + si]);
        }
    }

    let notified = s
        .active_by_resource
        .values()
        .flatten()
        .filter_map(|id| s.assignments.get(id))
        .filter(|a| a.status == AssignmentStatus::Notified)
        .count();
    e.assignments_unacknowledged.set(notified as i64);

    // Every (item, target) pair is always there, 0 when nothing is breached.
    let mut breaches: std::collections::BTreeMap<(&str, &str), i64> = Default::default();
    for t in muster_core::engine::timers::TARGETS {
        breaches.insert(("incident", t), 0);
    }
    for t in muster_core::domain::case::TARGETS {
        breaches.insert(("case", t), 0);
    }
    breaches.insert(("plan", "review"), 0);
    for (id, targets) in &s.breaches {
        if s.incidents.get(id).is_some_and(|i| i.status.is_open()) {
            for t in targets {
                *breaches.entry(("incident", t.as_str())).or_default() += 1;
            }
        }
    }
    for (id, targets) in &s.case_breaches {
        if s.cases
            .get(id)
            .is_some_and(|c| c.status != CaseStatus::Closed)
        {
            for t in targets {
                *breaches.entry(("case", t.as_str())).or_default() += 1;
            }
        }
    }
    for id in &s.plan_breaches {
        if s.plans
            .get(id)
            .is_some_and(|p| p.status != PlanStatus::Reviewed)
        {
            *breaches.entry(("plan", "review")).or_default() += 1;
        }
    }
    for ((item, target), n) in breaches {
        e.target_breaches.with_label_values(&[item, target]).set(n);
    }
}
